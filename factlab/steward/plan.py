"""How an export becomes the steward's file: one Polars plan of every field, flag and check.

:func:`make_plan` reads the export's columns (named by the mapping or recognised), builds an
expression for every output field, a flag column for every kind of value that could not be read
or mapped (and, with the round's contract, that the round does not accept), and the pseudonym;
columns with few distinct values are read on those values (:mod:`factlab.steward._distinct`).
Nothing is collected here: :mod:`factlab.steward.pseudonymise` collects the plan once and checks
and describes the result (:mod:`factlab.steward.quality`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import polars as pl

from factlab import schema
from factlab.errors import InputError
from factlab.keys.pseudonym import hmac_pseudonym
from factlab.keys.round_keys import Key
from factlab.steward._distinct import TEXT_FIELDS, Derived, by_distinct, few_distinct
from factlab.steward.blind import BlindService
from factlab.steward.bsn import looks_like_bsn, normalise_bsn_column
from factlab.steward.columns import CODE_FIELDS, ColumnUse, column_report
from factlab.steward.contract import Contract
from factlab.steward.fields import (
    DEFAULT_DATE_FORMATS,
    apply_value_map,
    cost_issues,
    is_plain_amount,
    plausible_cost,
    read_birth_year,
    read_cost,
    read_cost_text,
    read_date,
    read_sex,
    read_text,
    sex_is_unknown_code,
)
from factlab.steward.mapping import ColumnMapping, resolve_columns
from factlab.steward.quality import NUMBER, ROW

__all__ = ["Plan", "check_provider", "make_plan"]

_CANONICAL: Final = "_bsn_canonical"
#: Reasons of a code field's issues that mark a value as not mapped (listed for the steward).
_NOT_MAPPED: Final = {"sex": ("unreadable",)}
_NOT_MAPPED_DEFAULT: Final = ("unmapped", "not_mapped", "not_accepted")


@dataclass(frozen=True)
class Plan:
    frame: pl.LazyFrame
    columns: list[str]
    issues: list[tuple[str, str, str]]  # (output column, reason, flag column)
    bsn_column: str
    bsn_like: list[tuple[str, str]]  # (output text column, flag column): values like a BSN
    #: every source column and what it fed (names only)
    report: tuple[ColumnUse, ...] = ()
    #: code field -> the source column whose values are listed when not mapped (None: constant)
    code_sources: dict[str, str | None] = field(default_factory=dict)
    #: why the round's contract refuses the file before any row is read
    contract_problems: tuple[str, ...] = ()

    def not_mapped_flags(self) -> list[tuple[str, str | None, list[str]]]:
        """(code field, source column, flag columns of its values that were not mapped)."""
        return [
            (
                name,
                source,
                [
                    flag
                    for column, reason, flag in self.issues
                    if column == name and reason in _NOT_MAPPED.get(name, _NOT_MAPPED_DEFAULT)
                ],
            )
            for name, source in self.code_sources.items()
        ]


def check_provider(provider: str) -> str:
    # fullmatch: with re.match and "$", "P01\n" would pass as a second provider
    if not re.fullmatch(schema.PROVIDER_CODE_PATTERN, provider):
        raise InputError(
            "provider code must be 1-64 characters: letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    # The code goes into the sealed file's clear header, the linked file and the reports'
    # labels; link and the report refuse a BSN in it by the same rule (the value is not shown).
    if pl.select(looks_like_bsn(pl.lit(provider, dtype=pl.String))).item():
        raise InputError(
            "provider code holds digits that read as a BSN (8 or 9 digits passing the "
            "elfproef, 8 as a BSN that lost its leading zero); use another code, such as the "
            "round's own P01: a letter before the digits does not change them"
        )
    return provider


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


def make_plan(
    source_frame: pl.DataFrame | pl.LazyFrame,
    key: Key | BlindService,
    *,
    provider: str,
    mapping: ColumnMapping,
    source: str,
    decimal_comma: bool | None,
    fallback: tuple[str, ...] | None = None,
    contract: Contract | None = None,
    dropped_types: dict[str, str] | None = None,
) -> Plan:
    check_provider(provider)
    source_schema = source_frame.collect_schema()
    found = resolve_columns(source_schema.names(), mapping, source=source)
    code_sources: dict[str, str | None] = {}
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
        code_sources["sex"] = src

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
            src = found[name]
            values = mapping.values.get(name, {})
            texts[name] = derived.add(
                src, f"_parsed_{name}", apply_value_map(text_of(name), values)
            )
            code_sources[name] = src
            if values:
                # A value the map neither maps nor produces (one already canonical is fine).
                text = text_of(name)
                only_mapped = apply_value_map(text, values, keep_unmapped=False)
                missed = text.is_not_null() & only_mapped.is_null()
                missed = missed & ~text.is_in(sorted(set(values.values())))
                issues.append((name, "not_mapped", derived.add(src, f"_not_mapped_{name}", missed)))
        elif name in mapping.constants:
            texts[name] = pl.lit(mapping.constants[name], dtype=pl.String)
            code_sources[name] = None
    for name, derivation in mapping.derive.items():
        origin = texts.get(derivation.source)
        if origin is None:
            raise InputError(
                f"{source}: derive.{name} needs the field {derivation.source}, which the file lacks"
            )
        mapped = apply_value_map(origin, derivation.values, keep_unmapped=False)
        unmapped = origin.is_not_null() & mapped.is_null()
        origin_src = derived.source_of(origin)
        if origin_src is not None:  # read from a column, not a constant
            mapped = derived.add(origin_src, f"_derived_{name}", mapped)
            unmapped = derived.add(origin_src, f"_unmapped_{name}", unmapped)
        issues.append((name, "unmapped", unmapped))
        code_sources.setdefault(name, origin_src)
        if name in texts:  # either may be a Categorical column (see by_distinct)
            mapped = pl.coalesce([texts[name].cast(pl.String), mapped.cast(pl.String)])
        texts[name] = mapped
    if contract is not None:
        for name, text in texts.items():
            accepted = contract.accepted(name, text)
            if accepted is None:
                continue
            flag = text.is_not_null() & ~accepted
            origin_src = derived.source_of(text)
            if origin_src is not None:
                flag = derived.add(origin_src, f"_not_accepted_{name}", flag)
            issues.append((name, "not_accepted", flag))
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
            amount = read_cost_text(text, decimal_comma=decimal_comma, plain=plain, checked=False)
            amount = derived.add(src, "_amount_cost", amount)
            unreadable("cost", amount, text=text)
        else:
            amount = read_cost(
                pl.col(src), source_schema[src], decimal_comma=decimal_comma, checked=False
            )
            amount = derived.add(src, "_amount_cost", amount)
            unreadable("cost", amount)
        # read, but no row's cost (negative, too large, NaN or infinite): null, by its reason
        outputs["cost"] = derived.add(src, "_parsed_cost", plausible_cost(amount))
        for reason, flag in cost_issues(amount).items():
            issues.append(("cost", reason, derived.add(src, f"_{reason}_cost", flag)))

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
        # In a blind round the message itself is planned here and replaced by its pseudonym from
        # the key services as soon as the rows are collected (pseudonymise._fill_blind), before
        # any check, summary or write sees the column.
        outputs[schema.FALLBACK_PSEUDONYM] = (
            hmac_pseudonym(message, key.pseudonym_key("fallback"))
            if isinstance(key, Key)
            else message
        )
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
    if isinstance(key, Key):
        pseudonym = hmac_pseudonym(
            pl.when(valid).then(pl.col(_CANONICAL)), key.pseudonym_key("bsn")
        )
    else:  # filled from the key services on the distinct valid BSNs (pseudonymise._fill_blind)
        pseudonym = pl.lit(None, dtype=pl.String)
    # The valid BSN as a number: the quality summary counts distinct clients on it.
    number = pl.when(valid).then(pl.col(_CANONICAL).cast(pl.UInt32, strict=False))
    planned = planned.with_row_index(ROW, offset=1)
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
    planned = planned.select(pl.col(ROW), number.alias(NUMBER), *selected, *flags)
    columns = [*ordered_all, *ordered]
    issue_list = [(name, reason, f"_issue_{i}") for i, (name, reason, _) in enumerate(issues)]
    bsn_like_list = [(name, f"_bsn_like_{name}") for name, _ in bsn_like]
    report = column_report(
        source_schema.names(),
        found,
        mapping,
        fallback_fields=fallback_fields or (),
        dropped_types=dropped_types,
    )
    problems = () if contract is None else _contract_problems(contract, found, mapping, report)
    return Plan(
        planned,
        columns,
        issue_list,
        bsn_column,
        bsn_like_list,
        report=report,
        code_sources={name: code_sources[name] for name in CODE_FIELDS if name in code_sources},
        contract_problems=problems,
    )


def _contract_problems(
    contract: Contract,
    found: dict[str, str],
    mapping: ColumnMapping,
    report: tuple[ColumnUse, ...],
) -> tuple[str, ...]:
    """What the contract refuses before any row is read: required fields that nothing feeds,
    and constants of the mapping that are not values the round accepts."""
    fed = {*found, *mapping.constants}
    if "birth_date" in found:
        fed.add("birth_year")
    fed |= {name for name, rule in mapping.derive.items() if rule.source in fed}
    problems: list[str] = []
    missing = [name for name in contract.required if name not in fed]
    if missing:
        unused = [use.column for use in report if use.column is not None and not use.fields]
        problems.append(
            f"the round requires {', '.join(missing)}, which no column of the file feeds: name "
            f"the column{'s' if len(missing) > 1 else ''} in a mapping's [columns] "
            f'({missing[0]} = "…"; `factlab mapping propose` writes one)'
            + (f"; columns not used: {', '.join(map(str, unused))}" if unused else "")
        )
    for name, value in mapping.constants.items():
        if not contract.accepts(name, value):
            problems.append(
                f"constants.{name} of the mapping is not a value the round accepts for {name} "
                f"({', '.join(contract.values[name][:12])})"
            )
    return tuple(problems)
