"""The steward's step: canonicalise, validate, pseudonymise and minimise a provider export.

The pseudonym of a valid BSN is ``HMAC-SHA-256(key, bsn)`` truncated to 128 bits, as 32 lowercase
hex characters, where ``bsn`` is the nine ASCII digits of the canonical BSN and ``key`` is the ASCII
hex form (64 characters) of the round's BSN pseudonym subkey (see :mod:`factlab.keys.round_keys` and
docs/scheme.md). The computation runs inside Polars (the polars-hash plugin), never row by row in
Python.

Every input row becomes one output row (rows in = rows out): rows without a valid BSN keep a null
pseudonym and their status, so later counts can report them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, overload

import polars as pl

from factlab import schema
from factlab._checks import (
    require_frame,
    require_names,
    require_path,
    require_text,
    type_name,
)
from factlab.errors import InputError
from factlab.io import load_export, write_parquet
from factlab.keys.pseudonym import hmac_pseudonym
from factlab.keys.round_keys import Key, require_key
from factlab.manifest import Manifest
from factlab.steward._distinct import TEXT_FIELDS, Derived, by_distinct, few_distinct
from factlab.steward.bsn import looks_like_bsn, normalise_bsn_column
from factlab.steward.fields import (
    DEFAULT_DATE_FORMATS,
    apply_value_map,
    is_plain_amount,
    read_birth_year,
    read_cost,
    read_cost_text,
    read_date,
    read_sex,
    read_text,
    sex_is_unknown_code,
)
from factlab.steward.mapping import ColumnMapping, resolve_columns

__all__ = [
    "Pseudonymised",
    "Quality",
    "pseudonymise",
    "pseudonymise_file",
    "pseudonymise_with_quality",
]

_EXAMPLE_ROWS: Final = 5
_CANONICAL: Final = "_bsn_canonical"
_ROW: Final = "_row"
_NUMBER: Final = "_bsn_number"
#: zstd level of the written file: level 1 takes about two thirds of the CPU time of the default
#: level 3, for a file about 2 % larger (docs/performance.md).
_ZSTD_LEVEL: Final = 1


@dataclass(frozen=True)
class Quality:
    """What the steward's step saw in the export: the short quality summary.

    Attributes:
        rows: rows read (= rows written).
        rows_by_status: rows per BSN status, every status present.
        field_issues: per output column, values that could not be read, by reason.
        example_rows: per column and reason, the first few data rows (1 = first data row) — row
            numbers only, never values.
        distinct_pseudonyms: distinct valid pseudonyms in the file.
        duplicate_pseudonym_rows: rows whose pseudonym occurs on more than one row (several
            registrations of one client are normal; this is for the steward's eye).
    """

    rows: int
    rows_by_status: dict[str, int]
    field_issues: dict[str, dict[str, int]] = field(default_factory=dict)
    example_rows: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    distinct_pseudonyms: int = 0
    duplicate_pseudonym_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and manifests."""
        return {
            "rows": self.rows,
            "rows_by_status": dict(self.rows_by_status),
            "field_issues": {k: dict(v) for k, v in self.field_issues.items()},
            "example_rows": {
                k: {r: list(x) for r, x in v.items()} for k, v in self.example_rows.items()
            },
            "distinct_pseudonyms": self.distinct_pseudonyms,
            "duplicate_pseudonym_rows": self.duplicate_pseudonym_rows,
        }


@dataclass(frozen=True)
class Pseudonymised:
    """A pseudonymised, minimised frame with its quality summary (and manifest once written).

    Attributes:
        input_sha256: SHA-256 of the raw export that was read, for the steward's audit log only.
            It is never written into the output or its manifest: the digest of a small export
            can be reversed by trying every BSN (issue 14, #5).
    """

    frame: pl.DataFrame
    quality: Quality
    manifest: Manifest | None = None
    input_sha256: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Plan:
    frame: pl.LazyFrame
    columns: list[str]
    issues: list[tuple[str, str, str]]  # (output column, reason, flag column)
    bsn_column: str
    bsn_like: list[tuple[str, str]]  # (output text column, flag column): values like a BSN


def _check_provider(provider: str) -> str:
    # fullmatch: with re.match and "$", "P01\n" would pass as a second provider
    if not re.fullmatch(schema.PROVIDER_CODE_PATTERN, provider):
        raise InputError(
            "provider code must be 1-64 characters: letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    return provider


def _check_arguments(where: str, key: object, provider: object, mapping: object) -> None:
    """One clear TypeError for a wrong argument of a public function (see factlab._checks)."""
    require_key(key, where=where)
    require_text(provider, where=where, name="provider")
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        raise TypeError(
            f"{where}: mapping must be a ColumnMapping (load one with factlab.load_mapping(path)) "
            f"or None; got {type_name(mapping)}"
        )


def _postcode(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A Dutch postcode as ``1234AB``; anything else becomes null."""
    text = read_text(expr, dtype).str.to_uppercase().str.replace_all(r"\s", "")
    return pl.when(text.str.contains(r"^[1-9][0-9]{3}[A-Z]{2}$")).then(text)


def _fallback_message(pieces: dict[str, pl.Expr]) -> pl.Expr:
    """``birth_date=2010-02-01|sex=V|postcode=9401AB``; null when any piece is missing."""
    parts: list[pl.Expr] = []
    for index, (name, expr) in enumerate(pieces.items()):
        text = expr.dt.to_string("%Y-%m-%d") if name == "birth_date" else expr.cast(pl.String)
        if name == "municipality":
            text = text.str.to_lowercase()
        parts += [pl.lit(("|" if index else "") + f"{name}="), text]
    return pl.concat_str(parts, ignore_nulls=False)


def _plan(
    source_frame: pl.DataFrame | pl.LazyFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping,
    source: str,
    decimal_comma: bool | None,
    fallback: tuple[str, ...] | None = None,
) -> _Plan:
    _check_provider(provider)
    source_schema = source_frame.collect_schema()
    found = resolve_columns(source_schema.names(), mapping, source=source)
    derived = Derived()
    outputs: dict[str, pl.Expr] = {}
    issues: list[tuple[str, str, pl.Expr]] = []
    # Columns computed from several columns, after the derived ones, row by row (cheap).
    combined: dict[str, pl.Expr] = {}

    def text_of(name: str) -> pl.Expr:
        src = found[name]
        return read_text(pl.col(src), source_schema[src])

    def unreadable(
        name: str, value: pl.Expr, extra_ok: pl.Expr | None = None, text: pl.Expr | None = None
    ) -> None:
        """Flag rows whose ``name`` column holds a value that could not be read."""
        src = found[name]
        text = text_of(name) if text is None else text
        present = derived.add(src, f"_present_{name}", text.is_not_null())
        flag = present & value.is_null()
        if extra_ok is not None:
            flag = flag & ~extra_ok
        issues.append((name, "unreadable", derived.add(src, f"_unreadable_{name}", flag)))

    dates: dict[str, pl.Expr] = {}
    for name in ("birth_date", "start_date", "end_date"):
        if name in found:
            src = found[name]
            formats = (mapping.date_formats[name],) if name in mapping.date_formats else None
            parsed = read_date(pl.col(src), source_schema[src], formats or DEFAULT_DATE_FORMATS)
            dates[name] = derived.add(src, f"_parsed_{name}", parsed)
            unreadable(name, dates[name])

    if "birth_year" in found or "birth_date" in found:
        year_number = None
        if "birth_year" in found:
            # the birth year's text as a number, as read_birth_year would cast it
            year_text = text_of("birth_year").cast(pl.Int32, strict=False)
            year_number = derived.add(found["birth_year"], "_year_number", year_text)
        latest = datetime.now(UTC).year + 1
        combined["_parsed_birth_year"] = read_birth_year(
            year_number, dates.get("birth_date"), latest_year=latest
        )
        birth_year = pl.col("_parsed_birth_year")
        outputs["birth_year"] = birth_year
        if "birth_year" in found:
            present = text_of("birth_year").is_not_null()
            present = derived.add(found["birth_year"], "_present_birth_year", present)
            issues.append(("birth_year", "unreadable", present & birth_year.is_null()))
        elif "birth_date" in dates:
            flag = dates["birth_date"].is_not_null() & birth_year.is_null()
            issues.append(("birth_year", "out_of_range", flag))

    if "sex" in found:
        src = found["sex"]
        sex_values = mapping.values.get("sex", {})
        text = derived.add(src, "_text_sex", apply_value_map(text_of("sex"), sex_values))
        outputs["sex"] = derived.add(src, "_parsed_sex", read_sex(text, pl.String()))
        unknown = derived.add(src, "_unknown_sex", sex_is_unknown_code(text, pl.String()))
        unreadable("sex", outputs["sex"], unknown)

    clashes = sorted(set(mapping.constants) & set(found))
    if clashes:
        raise InputError(
            f"{source}: "
            + "; ".join(
                f"constants.{name} is given, but the file has a {name} column "
                f"({found[name]!r}); remove one of them"
                for name in clashes
            )
        )
    texts: dict[str, pl.Expr] = {}
    for name in ("municipality", "domain", "financing", "care_form", "product_category"):
        if name in found:
            values = mapping.values.get(name, {})
            texts[name] = derived.add(
                found[name], f"_parsed_{name}", apply_value_map(text_of(name), values)
            )
        elif name in mapping.constants:
            texts[name] = pl.lit(mapping.constants[name], dtype=pl.String)
    for name, derivation in mapping.derive.items():
        origin = texts.get(derivation.source)
        if origin is None:
            raise InputError(
                f"{source}: derive.{name} needs the field {derivation.source}, which the file lacks"
            )
        mapped = origin.replace_strict(
            dict(derivation.values), default=None, return_dtype=pl.String
        )
        unmapped = origin.is_not_null() & mapped.is_null()
        origin_src = derived.source_of(origin)
        if origin_src is not None:  # read from a column, not a constant
            mapped = derived.add(origin_src, f"_derived_{name}", mapped)
            unmapped = derived.add(origin_src, f"_unmapped_{name}", unmapped)
        issues.append((name, "unmapped", unmapped))
        if name in texts:  # either may be a Categorical column (see by_distinct)
            mapped = pl.coalesce([texts[name].cast(pl.String), mapped.cast(pl.String)])
        texts[name] = mapped
    outputs |= texts
    # A text field must never hold a BSN (a field mapped onto the BSN column would publish them):
    # flagged on the distinct values where the field has few, refused once counted.
    bsn_like: list[tuple[str, pl.Expr]] = []
    for name, text in texts.items():
        origin_src = derived.source_of(text)
        flag = looks_like_bsn(text)
        if origin_src is not None:
            flag = derived.add(origin_src, f"_bsn_like_{name}", flag)
        bsn_like.append((name, flag))

    for name in ("start_date", "end_date"):
        if name in dates:
            outputs[name] = dates[name]
    if "start_date" in dates and "end_date" in dates:
        issues.append(("end_date", "before_start_date", dates["end_date"] < dates["start_date"]))

    if "cost" in found:
        src = found["cost"]
        if source_schema[src] == pl.String():
            # Amounts are mostly distinct, so read row by row: the text and whether it is a
            # plain amount are columns of their own, each computed once per row.
            text = derived.add(src, "_text_cost", text_of("cost"))
            plain = derived.add(
                src, "_plain_cost", is_plain_amount(text, decimal_comma=decimal_comma)
            )
            cost = read_cost_text(text, decimal_comma=decimal_comma, plain=plain)
            outputs["cost"] = derived.add(src, "_parsed_cost", cost)
            unreadable("cost", outputs["cost"], text=text)
        else:
            cost = read_cost(pl.col(src), source_schema[src], decimal_comma=decimal_comma)
            outputs["cost"] = derived.add(src, "_parsed_cost", cost)
            unreadable("cost", outputs["cost"])

    fallback_fields = mapping.fallback_fields if fallback is None else fallback
    if fallback_fields:
        postcode = None
        if "postcode" in found:
            src = found["postcode"]
            postcode = derived.add(src, "_postcode", _postcode(pl.col(src), source_schema[src]))
        pieces = {
            "birth_date": dates.get("birth_date"),
            "sex": outputs.get("sex"),
            "postcode": postcode,
            "birth_year": outputs.get("birth_year"),
            "municipality": texts.get("municipality"),
        }
        lacking = [name for name in fallback_fields if pieces.get(name) is None]
        if lacking:
            raise InputError(
                f"{source}: the fallback pseudonym needs {', '.join(lacking)}, "
                "which the file lacks (name the column in the mapping's [columns])"
            )
        message = _fallback_message({name: pieces[name] for name in fallback_fields})  # type: ignore[misc]
        outputs[schema.FALLBACK_PSEUDONYM] = hmac_pseudonym(message, key.pseudonym_key("fallback"))
        issues.append((schema.FALLBACK_PSEUDONYM, "incomplete", message.is_null()))

    # Rows in memory: text columns with few distinct values are read on those values.
    frame = source_frame
    shortcuts: dict[str, pl.Expr] = {}
    done: set[str] = set()
    if isinstance(source_frame, pl.DataFrame):
        used = [*outputs.values(), *combined.values(), *(flag for _, _, flag in issues)]
        used += [flag for _, flag in bsn_like]
        needed = {root for expr in used for root in expr.meta.root_names()}
        read = {src for src, _, _ in derived.entries.values()}
        candidates = sorted(src for src in read if source_schema[src] == pl.String())
        # text fields that are one derived column each: spread as Categoricals
        categorical = {
            outputs[name].meta.output_name()
            for name in TEXT_FIELDS & set(outputs)
            if outputs[name].meta.is_column()
        }
        frame, shortcuts, done = by_distinct(
            source_frame,
            derived,
            few_distinct(source_frame, candidates),
            needed,
            categorical & set(derived.entries),
        )
    row_by_row = {src for src, _, _ in derived.entries.values()} - done

    bsn_column = found["bsn"]
    planned = normalise_bsn_column(frame.lazy(), bsn_column, canonical_name=_CANONICAL)
    valid = pl.col(schema.STATUS) == "valid"
    pseudonym = hmac_pseudonym(pl.when(valid).then(pl.col(_CANONICAL)), key.pseudonym_key("bsn"))
    # The valid BSN as a number: the quality summary counts distinct clients on it.
    number = pl.when(valid).then(pl.col(_CANONICAL).cast(pl.UInt32, strict=False))
    planned = planned.with_row_index(_ROW, offset=1)
    for stage in derived.stages(row_by_row):
        planned = planned.with_columns(expr.alias(name) for name, expr in stage.items())
    if shortcuts:
        planned = planned.with_columns(expr.alias(name) for name, expr in shortcuts.items())
    if combined:
        planned = planned.with_columns(expr.alias(name) for name, expr in combined.items())

    ordered = [name for name in schema.FIELD_DTYPES if name in outputs]
    selected = [
        pseudonym.alias(schema.PSEUDONYM),
        pl.col(schema.STATUS),
        pl.lit(provider, dtype=schema.TEXT_DTYPE).alias(schema.PROVIDER),
        # a text field spread from distinct values is Categorical already: its cast costs nothing
        *[outputs[name].cast(schema.FIELD_DTYPES[name]).alias(name) for name in ordered],
    ]
    if schema.FALLBACK_PSEUDONYM in outputs:
        selected.insert(1, outputs[schema.FALLBACK_PSEUDONYM].alias(schema.FALLBACK_PSEUDONYM))
        ordered_all = [schema.PSEUDONYM, schema.FALLBACK_PSEUDONYM, schema.STATUS, schema.PROVIDER]
    else:
        ordered_all = [schema.PSEUDONYM, schema.STATUS, schema.PROVIDER]
    flags = [flag.fill_null(False).alias(f"_issue_{i}") for i, (_, _, flag) in enumerate(issues)]
    flags += [flag.fill_null(False).alias(f"_bsn_like_{name}") for name, flag in bsn_like]
    planned = planned.select(pl.col(_ROW), number.alias(_NUMBER), *selected, *flags)
    columns = [*ordered_all, *ordered]
    issue_list = [(name, reason, f"_issue_{i}") for i, (name, reason, _) in enumerate(issues)]
    bsn_like_list = [(name, f"_bsn_like_{name}") for name, _ in bsn_like]
    return _Plan(planned, columns, issue_list, bsn_column, bsn_like_list)


def _refuse(frame: pl.DataFrame, plan: _Plan, *, source: str, allow_no_valid_bsn: bool) -> None:
    """Refuse a result that would publish BSNs, or that holds no client at all.

    Raises:
        InputError: a text field holds values that look like a BSN (column, row count and first
            row numbers, never a value); or no row has a valid BSN while ``allow_no_valid_bsn``
            is false (a wrong column taken for the BSN, or a BSN column spoilt on export).
    """
    if plan.bsn_like:
        sums = frame.select(pl.col(flag).sum() for _, flag in plan.bsn_like).row(0)
        found = [
            f"column {name}: {int(total)} row(s){_row_list(_first_rows(frame, pl.col(flag)))}"
            for (name, flag), total in zip(plan.bsn_like, sums, strict=True)
            if total
        ]
        if found:
            raise InputError(
                f"{source}: {'; '.join(found)} hold a value that looks like a BSN (eight or nine "
                "digits passing the elfproef); a text field must never hold one. Is a field "
                "mapped onto the BSN column (the mapping's [columns])?"
            )
    valid = int(frame.select((pl.col(schema.STATUS) == "valid").sum()).item())
    if frame.height and not valid and not allow_no_valid_bsn:
        by_status = frame.get_column(schema.STATUS).value_counts(sort=True).iter_rows()
        counts = ", ".join(f"{status} {count}" for status, count in by_status)
        raise InputError(
            f"{source}: none of the {frame.height} row(s) has a valid BSN in column "
            f"{plan.bsn_column!r} ({counts}); is it the BSN column (the mapping's [columns] "
            "bsn)? To write the file anyway: allow_no_valid_bsn=True (--allow-no-valid-bsn)"
        )


def _row_list(rows: list[int]) -> str:
    return f" (first rows: {', '.join(map(str, rows))})" if rows else ""


def _first_rows(frame: pl.DataFrame, condition: pl.Expr) -> list[int]:
    """Row numbers of the first rows meeting ``condition`` (only the row column is filtered)."""
    rows = frame.select(pl.col(_ROW).filter(condition).head(_EXAMPLE_ROWS)).to_series()
    return [int(row) for row in rows]


def _distinct_clients(frame: pl.DataFrame) -> tuple[int, int]:
    """Distinct valid BSNs, and rows whose valid BSN occurs on more than one row.

    Counted on the BSNs as numbers, sorted (much cheaper than hashing 32-character pseudonyms):
    distinct BSNs have distinct pseudonyms, so these are the counts of the pseudonyms too.
    """
    numbers = frame.get_column(_NUMBER).drop_nulls().sort()
    first = numbers.ne_missing(numbers.shift(1))  # the first row of a run of equal numbers
    last = numbers.ne_missing(numbers.shift(-1))
    distinct, alone, rows = first.sum(), (first & last).sum(), numbers.len()
    return int(distinct), int(rows) - int(alone)


def _quality(frame: pl.DataFrame, plan: _Plan) -> Quality:
    status = frame[schema.STATUS]
    by_status = dict.fromkeys(schema.STATUSES, 0)
    for row in status.value_counts().iter_rows():
        by_status[str(row[0])] = int(row[1])
    field_issues: dict[str, dict[str, int]] = {}
    example_rows: dict[str, dict[str, list[int]]] = {}
    if plan.issues:
        sums = frame.select(pl.col(flag).sum() for _, _, flag in plan.issues).row(0)
        for (name, reason, flag), total in zip(plan.issues, sums, strict=True):
            if total:
                field_issues.setdefault(name, {})[reason] = int(total)
                rows = _first_rows(frame, pl.col(flag))
                example_rows.setdefault(name, {})[reason] = rows
    for name in schema.STATUSES:
        if name != "valid" and by_status[name]:
            rows = _first_rows(frame, pl.col(schema.STATUS) == name)
            example_rows.setdefault("bsn", {})[name] = rows
    distinct, duplicate_rows = _distinct_clients(frame)
    return Quality(
        rows=frame.height,
        rows_by_status=by_status,
        field_issues=field_issues,
        example_rows=example_rows,
        distinct_pseudonyms=distinct,
        duplicate_pseudonym_rows=duplicate_rows,
    )


@overload
def pseudonymise(
    frame: pl.DataFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    allow_no_valid_bsn: bool = False,
) -> pl.DataFrame: ...
@overload
def pseudonymise(
    frame: pl.LazyFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    allow_no_valid_bsn: bool = False,
) -> pl.LazyFrame: ...
def pseudonymise(
    frame: pl.DataFrame | pl.LazyFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    allow_no_valid_bsn: bool = False,
) -> pl.DataFrame | pl.LazyFrame:
    """Pseudonymise and minimise an export held in memory; a LazyFrame stays lazy.

    Columns are recognised by name (or named in ``mapping``); the result holds only the
    pseudonym, the BSN status, the provider and the canonical fields found.

    Raises:
        InputError: as :func:`pseudonymise_file`; for a LazyFrame, the checks on the rows (BSNs
            in text fields, no valid BSN) are made when the result is collected.

    Example:
        >>> from factlab.keys.round_keys import new_round_key
        >>> key = new_round_key("doc")
        >>> export = pl.DataFrame({"BSN": ["9999.93.653", "999993653", ""], "Naam": list("abc")})
        >>> out = pseudonymise(export, key, provider="P01")
        >>> out.columns
        ['pseudonym', 'bsn_status', 'provider']
        >>> out["bsn_status"].to_list()
        ['valid', 'valid', 'missing']
        >>> out["pseudonym"][0] == out["pseudonym"][1]
        True
    """
    require_frame(frame, where="pseudonymise", name="frame")
    _check_arguments("pseudonymise", key, provider, mapping)
    plan = _plan(
        frame,
        key,
        provider=provider,
        mapping=mapping or ColumnMapping(),
        source="input",
        decimal_comma=mapping.decimal_comma if mapping else None,
    )
    checked = [*plan.columns, schema.STATUS, _ROW, *(flag for _, flag in plan.bsn_like)]
    checked = list(dict.fromkeys(checked))

    def refused(result: pl.DataFrame) -> pl.DataFrame:
        _refuse(result, plan, source="input", allow_no_valid_bsn=allow_no_valid_bsn)
        return result.select(plan.columns)

    if isinstance(frame, pl.DataFrame):
        return refused(plan.frame.select(checked).collect(engine="streaming"))
    result_schema = plan.frame.select(plan.columns).collect_schema()
    return plan.frame.select(checked).map_batches(refused, schema=result_schema)


def pseudonymise_with_quality(
    frame: pl.DataFrame | pl.LazyFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    source: str = "input",
    decimal_comma: bool | None = None,
    fallback: tuple[str, ...] | None = None,
    allow_no_valid_bsn: bool = False,
) -> Pseudonymised:
    """Like :func:`pseudonymise`, collected, with the quality summary.

    Raises:
        InputError: as :func:`pseudonymise_file`.

    Example:
        >>> from factlab.keys.round_keys import new_round_key
        >>> export = pl.DataFrame({"bsn": ["999993653", "999993654", None]})
        >>> result = pseudonymise_with_quality(export, new_round_key("doc"), provider="P01")
        >>> result.quality.rows_by_status["checksum"], result.quality.example_rows["bsn"]
        (1, {'missing': [3], 'checksum': [2]})
    """
    mapping = mapping or ColumnMapping()
    if decimal_comma is None:
        decimal_comma = mapping.decimal_comma
    plan = _plan(
        frame,
        key,
        provider=provider,
        mapping=mapping,
        source=source,
        decimal_comma=decimal_comma,
        fallback=fallback,
    )
    collected = plan.frame.collect(engine="streaming")
    _refuse(collected, plan, source=source, allow_no_valid_bsn=allow_no_valid_bsn)
    quality = _quality(collected, plan)
    # Indexing keeps the columns as they are; a select would copy them into one chunk each.
    return Pseudonymised(frame=collected[plan.columns], quality=quality)


def pseudonymise_file(
    input_path: str | Path,
    key: Key,
    *,
    provider: str,
    out: str | Path,
    mapping: ColumnMapping | None = None,
    fallback: tuple[str, ...] | None = None,
    allow_no_valid_bsn: bool = False,
) -> Pseudonymised:
    """The steward's whole step: read an export, pseudonymise, write Parquet with its manifest.

    The output is written atomically: on any error no file is left at ``out``. The manifest holds
    no digest of the export (a small export's could be reversed by trying every BSN); the
    export's SHA-256 is returned in :attr:`Pseudonymised.input_sha256`, for the steward's audit
    log.

    Raises:
        InputError: the export cannot be read, has no BSN column, or the provider code is bad;
            the BSN column is of a type that cannot hold a BSN exactly (Float32); a text field
            holds values that look like a BSN; or no row has a valid BSN and
            ``allow_no_valid_bsn`` is false.
        ConfigError: the mapping is invalid.

    Example:
        >>> import tempfile, pathlib
        >>> from factlab.keys.round_keys import new_round_key
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "export.csv").write_text("BSN;Gemeente\\n999993653;Assen\\n")
        >>> key = new_round_key("doc")
        >>> result = pseudonymise_file(
        ...     folder / "export.csv", key, provider="P01", out=folder / "p01.parquet"
        ... )
        >>> result.manifest.rows, result.manifest.rows_by_status["valid"]
        (1, 1)
    """
    require_path(input_path, where="pseudonymise_file", name="input_path")
    require_path(out, where="pseudonymise_file", name="out")
    _check_arguments("pseudonymise_file", key, provider, mapping)
    if fallback is not None:
        fallback = require_names(fallback, where="pseudonymise_file", name="fallback")
    mapping = mapping or ColumnMapping()
    input_path = Path(input_path)
    _check_provider(provider)
    export = load_export(
        input_path, delimiter=mapping.delimiter, encoding=mapping.encoding, sheet=mapping.sheet
    )
    if export.dropped_columns:  # Parquet columns no field can be read from: refused if used
        dropped = export.dropped_columns
        fed = resolve_columns([*export.frame.columns, *dropped], mapping, source=str(input_path))
        for name, column in fed.items():
            if column in dropped:
                raise InputError(
                    f"{input_path}: column {column!r} for {name} is of type {dropped[column]}; "
                    "fields are read from text, numbers, booleans or dates"
                )
    facts = export.facts
    decimal_comma = mapping.decimal_comma
    if decimal_comma is None and facts.get("delimiter") == ";":
        decimal_comma = True  # the Dutch CSV convention: ';' between fields, ',' in numbers
    result = pseudonymise_with_quality(
        export.frame,
        key,
        provider=provider,
        mapping=mapping,
        source=str(input_path),
        decimal_comma=decimal_comma,
        fallback=fallback,
        allow_no_valid_bsn=allow_no_valid_bsn,
    )
    quality = result.quality
    manifest = Manifest(
        format=schema.FORMAT_PSEUDONYMISED,
        scheme=key.scheme,
        round=key.round,
        key_id=key.key_id,
        key_fingerprint=key.fingerprint,
        rows=quality.rows,
        rows_by_status=quality.rows_by_status,
        provider=provider,
        stage=1,
        input_format=facts["format"],
        field_issues=quality.field_issues,
        extra={
            "read_as": {k: v for k, v in facts.items() if k not in ("format", "blank_rows")},
            "blank_rows_skipped": export.blank_rows,
            "decimal_comma": decimal_comma,
            "mapping": mapping.source,
            "distinct_pseudonyms": quality.distinct_pseudonyms,
            "duplicate_pseudonym_rows": quality.duplicate_pseudonym_rows,
        },
    )
    # the export is never replaced by its own pseudonymised rows, whatever the caller asks
    write_parquet(result.frame, out, manifest, compression_level=_ZSTD_LEVEL, inputs=[input_path])
    return Pseudonymised(
        frame=result.frame, quality=quality, manifest=manifest, input_sha256=export.sha256
    )
