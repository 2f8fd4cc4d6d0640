"""Proposing a mapping file for an export: what factlab recognises in it, guesses, and finds.

:func:`propose_mapping` reads an export as ``factlab pseudonymise`` reads it
(:func:`factlab.io.load_export`) and looks at

- **its columns**: names factlab recognises (:data:`factlab.steward.mapping.ALIASES`, compared
  as :func:`~factlab.steward.mapping.resolve_columns` compares them), and for the other columns
  the best guess per field. A guess is the similarity (difflib's ``ratio``, 0 to 1) of the
  column's name to the closest known name of a field, also with the name's words reversed or
  sorted (``Datum aanvang`` is like ``aanvangsdatum``); a word of the name that is a known name
  (``Woonplaats gemeente``) counts as 0.9. From 0.85 a guess is written as a setting, from 0.7
  as a comment, and only when the column's values fit the field (dates that read, amounts that
  read, few distinct values for a code field, valid BSNs for the BSN and no BSN for any other
  field). The standard library's difflib is enough for some twenty column names against sixty
  known names, and needs no dependency (docs/dependencies.md);
- **a sample**, the first :data:`SAMPLE_ROWS` rows: the date format of each date column with an
  example value, whether amounts are written with a decimal comma, and how well each column fits;
- **every row** for the codes of each code column (municipality, care form, financing, domain,
  product category, sex) with their row counts, at most :data:`MAX_CODES` per column.

The proposal (:class:`~factlab.steward.proposal.MappingProposal`) is written as a commented
mapping file by :func:`write_proposal`. Run unedited, ``factlab pseudonymise`` reads the export
at least as well as by its own recognition: recognised columns are named, guesses are only used
when sure, and no value map or code list is switched on that changes a value beyond its capitals.

No BSN ever reaches the proposal: the BSN column's values are only counted, and a code that looks
like a BSN (eight or nine digits passing the elfproef) is counted and not shown.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import polars as pl

from factlab import schema
from factlab._checks import require_path
from factlab._version import __version__
from factlab.io import atomic_path, load_export
from factlab.steward.bsn import looks_like_bsn
from factlab.steward.fields import (
    DEFAULT_DATE_FORMATS,
    apply_value_map,
    read_birth_year,
    read_cost,
    read_date,
    read_sex,
    read_text,
    sex_is_unknown_code,
)
from factlab.steward.mapping import ALIASES, is_digit_name, simplify
from factlab.steward.proposal import (
    Code,
    CodeList,
    ColumnChoice,
    DateFormat,
    Derivation,
    MappingProposal,
    Suggestion,
)
from factlab.steward.value_maps import WHOLE_NUMBER, ValueMap

__all__ = [
    "CODE_FIELDS",
    "KNOWN_VALUES",
    "MAX_CODES",
    "SAMPLE_ROWS",
    "propose_mapping",
    "write_proposal",
]

#: Rows on which columns, date formats and amounts are judged.
SAMPLE_ROWS: Final = 10_000
#: Distinct values listed per code column; the rest is counted.
MAX_CODES: Final = 200
#: Similarity from which a guess is written as a setting, and from which it is written at all.
SURE: Final = 0.85
UNSURE: Final = 0.7
#: A known name found as a whole word of a column's name (``Woonplaats gemeente``).
WORD_SCORE: Final = 0.9
#: Share of a column's sample values that must read as a field for a guess.
FIT: Final = 0.5
#: Fields whose values are codes: their distinct values are listed.
CODE_FIELDS: Final = ("municipality", "care_form", "financing", "domain", "product_category", "sex")
_DATE_FIELDS: Final = ("birth_date", "start_date", "end_date")
_DATE_CANDIDATES: Final = (*DEFAULT_DATE_FORMATS, "%Y/%m/%d")
#: Values of the code fields used in DOMAIN.md; a code written in other capitals is mapped to
#: them (``Ambulant`` → ``ambulant``). The round's contract, once it names the values it accepts,
#: comes in their place.
KNOWN_VALUES: Final[Mapping[str, tuple[str, ...]]] = {
    "care_form": ("ambulant", "dagbehandeling", "verblijf", "JB/JR"),
    "financing": ("ZIN", "PGB", "Begroting", "ZVW", "AWBZ"),
    "domain": ("jeugdhulp", "jeugdbescherming", "jeugdreclassering", "ggz", "lvb"),
}
#: iJw product categories (code list JZ020, DOMAIN.md §4): name, a care form and a domain to
#: suggest. Not standardised: only ever written as comments.
_PRODUCT_CATEGORIES: Final[Mapping[str, tuple[str, str | None, str | None]]] = {
    "40": ("persoonlijke verzorging", "ambulant", "jeugdhulp"),
    "41": ("dagbehandeling", "dagbehandeling", "jeugdhulp"),
    "42": ("vervoer", None, "jeugdhulp"),
    "43": ("verblijf incl. behandeling", "verblijf", "jeugdhulp"),
    "44": ("verblijf excl. behandeling", "verblijf", "jeugdhulp"),
    "45": ("ambulant", "ambulant", "jeugdhulp"),
    "46": ("crisis", None, "jeugdhulp"),
    "47": ("jeugdreclassering", "JB/JR", "jeugdreclassering"),
    "48": ("jeugdbescherming", "JB/JR", "jeugdbescherming"),
    "49": ("preventief justitieel", "JB/JR", None),
    "50": ("maatwerk", None, None),
    "51": ("generalistische basis-ggz", "ambulant", "ggz"),
    "52": ("specialistische ggz", "ambulant", "ggz"),
    "53": ("kindergeneeskunde", "ambulant", "jeugdhulp"),
    "54": ("jeugd-ggz", "ambulant", "ggz"),
    "55": ("landelijk ingekocht", None, None),
}
#: The 2015 product categories: without residence (31-34) and with residence (35-38).
_RANGES_2015: Final = (
    ("31-34", "2015: zonder verblijf", "ambulant"),
    ("35-38", "2015: met verblijf", "verblijf"),
)
#: An iJw product code: its two-digit category and three more characters (``45A01``).
_PRODUCT_CODE: Final = re.compile(r"([0-9]{2})[0-9A-Za-z]{3}")
_WORDS: Final = re.compile(r"[^0-9A-Za-zÀ-ɏ]+|(?<=[a-zà-ÿ])(?=[A-Z])")
_POSTCODE: Final = r"^[1-9][0-9]{3}\s?[A-Za-z]{2}$"


# --- names ---------------------------------------------------------------------------------


def name_similarity(column: str, known: str) -> float:
    """How like a known (simplified) name ``column`` is, 0 to 1 (see the module docstring).

    Example:
        >>> round(name_similarity("Datum aanvang", "aanvangsdatum"), 2)
        0.96
        >>> name_similarity("Woonplaats gemeente", "gemeente")
        0.9
    """
    words = [simplify(word) for word in _WORDS.split(column)]
    words = [word for word in words if word]
    forms = {simplify(column), "".join(reversed(words)), "".join(sorted(words))}
    score = max(difflib.SequenceMatcher(None, form, known).ratio() for form in forms)
    if len(words) > 1 and len(known) >= 4 and known in words:
        score = max(score, WORD_SCORE)
    return score


def _closest_name(column: str, field: str) -> tuple[float, str]:
    return max((name_similarity(column, known), known) for known in ALIASES[field])


# --- how well a column's values fit a field (on the sample) -------------------------------


def _date_format(sample: pl.DataFrame, field: str, column: str) -> tuple[DateFormat, float | None]:
    """The date format of a column, and the share of its values read as dates."""
    dtype = sample.schema[column]
    text = read_text(pl.col(column), dtype)
    present = int(sample.select(text.is_not_null().sum()).item())
    if dtype == pl.Date() or isinstance(dtype, pl.Datetime):
        first = sample.select(read_date(pl.col(column), dtype).drop_nulls().first()).item()
        example = None if first is None else str(first)
        return DateFormat(field, column, None, present, present, example, native=True), 1.0
    counts = sample.select(
        *(
            read_date(pl.col(column), dtype, (fmt,)).is_not_null().sum().alias(str(index))
            for index, fmt in enumerate(_DATE_CANDIDATES)
        ),
        read_date(pl.col(column), dtype).is_not_null().sum().alias("default"),
    ).row(0, named=True)
    default = int(counts.pop("default"))
    best_index = max(range(len(_DATE_CANDIDATES)), key=lambda i: (counts[str(i)], -i))
    best = int(counts[str(best_index)])
    fmt = _DATE_CANDIDATES[best_index] if best and best >= default else None
    read = best if fmt is not None else default
    example = None
    if fmt is not None:
        # a value as written; one that could be read as a BSN (20130105 padded) is never shown
        readable = read_date(pl.col(column), dtype, (fmt,)).is_not_null()
        candidates = text.filter(readable & ~looks_like_bsn(text)).first()
        example = sample.select(candidates).item()
    fit = read / present if present else None
    return DateFormat(field, column, fmt, read, present, example), fit


def _share(sample: pl.DataFrame, column: str, ok: pl.Expr) -> float | None:
    text = read_text(pl.col(column), sample.schema[column])
    present, good = sample.select(
        text.is_not_null().sum().alias("present"), (text.is_not_null() & ok).sum().alias("good")
    ).row(0)
    return int(good) / int(present) if present else None


def _fit(sample: pl.DataFrame, field: str, column: str, bsn_share: float | None) -> float | None:
    """Share of the sample's values of ``column`` that read as ``field`` (None: all empty)."""
    dtype = sample.schema[column]
    source = pl.col(column)
    if field == "bsn":
        return bsn_share
    if bsn_share is not None and bsn_share >= FIT:
        return 0.0  # a column of BSNs is no other field (a date, 01-02-2013, may pass the proef)
    if field in _DATE_FIELDS:
        return _date_format(sample, field, column)[1]
    if field == "birth_year":
        latest = datetime.now(UTC).year + 1
        year = read_text(source, dtype).cast(pl.Int32, strict=False)
        return _share(sample, column, read_birth_year(year, None, latest_year=latest).is_not_null())
    if field == "sex":
        read = read_sex(source, dtype).is_not_null() | sex_is_unknown_code(source, dtype)
        return _share(sample, column, read)
    if field == "cost":
        return _share(sample, column, read_cost(source, dtype, decimal_comma=None).is_not_null())
    text = read_text(source, dtype)
    if field == "postcode":
        return _share(sample, column, text.str.contains(_POSTCODE))
    if bsn_share:
        return 0.0  # a BSN in a text field is refused when pseudonymising
    # a code field: few distinct values (a free-text column of notes or names is none)
    present, distinct = sample.select(
        text.is_not_null().sum().alias("present"), text.drop_nulls().n_unique().alias("distinct")
    ).row(0)
    if not present:
        return None
    return 1.0 if distinct <= max(50, present // 2) else 0.0


def _bsn_shares(sample: pl.DataFrame, columns: Sequence[str]) -> dict[str, float | None]:
    """Per column, the share of its sample values that are valid BSNs (None: all empty)."""
    if not columns:
        return {}
    texts = {column: read_text(pl.col(column), sample.schema[column]) for column in columns}
    present = sample.select(text.is_not_null().sum().alias(c) for c, text in texts.items())
    valid = sample.select(looks_like_bsn(text).sum().alias(c) for c, text in texts.items())
    return {
        column: (int(valid[column][0]) / int(present[column][0]) if present[column][0] else None)
        for column in columns
    }


# --- columns ---------------------------------------------------------------------------------


def _choose_columns(
    sample: pl.DataFrame, columns: Sequence[str], bsn_shares: Mapping[str, float | None]
) -> list[ColumnChoice]:
    """Recognised columns, then the best guesses for the fields still open."""
    by_simple: dict[str, list[str]] = {}
    for column in columns:
        by_simple.setdefault(simplify(column), []).append(column)
    chosen: dict[str, ColumnChoice] = {}
    for field, aliases in ALIASES.items():
        found = [column for alias in aliases for column in by_simple.get(alias, [])]
        if not found:
            continue
        fits = {column: _fit(sample, field, column, bsn_shares[column]) for column in found}
        # recognised twice: the column whose values fit best (the mapping then settles it)
        best = max(found, key=lambda column: fits[column] or 0.0)
        others = tuple(column for column in found if column != best)
        chosen[field] = ColumnChoice(
            field, best, "recognised", 1.0, simplify(best), fits[best], others
        )
    taken = {column for choice in chosen.values() for column in (choice.column, *choice.others)}
    scored = [
        (*_closest_name(column, field), field, column)
        for field in ALIASES
        if field not in chosen
        for column in columns
        if column not in taken
    ]
    for score, like, field, column in sorted(scored, key=lambda item: -item[0]):
        if score < UNSURE:
            break
        if field in chosen or column in taken:
            continue
        fit = _fit(sample, field, column, bsn_shares[column])
        if (fit is None and field == "bsn") or (fit is not None and fit < FIT):
            continue
        how: Literal["guessed", "unsure"] = "guessed" if score >= SURE else "unsure"
        chosen[field] = ColumnChoice(field, column, how, round(score, 2), like, fit)
        taken.add(column)
    return [chosen[field] for field in schema.INPUT_FIELDS if field in chosen]


def _decimal_comma(sample: pl.DataFrame, column: str) -> bool | None:
    """True when the amounts are written with a decimal comma only, False with a point only."""
    text = read_text(pl.col(column), sample.schema[column])
    comma, point = sample.select(
        text.str.contains(r",[0-9]{1,2}$").sum().alias("comma"),
        text.str.contains(r"\.[0-9]{1,2}$").sum().alias("point"),
    ).row(0)
    if comma and not point:
        return True
    if point and not comma:
        return False
    return None


# --- codes -----------------------------------------------------------------------------------


def _sex_reads(values: pl.Series) -> list[str | None]:
    """What factlab reads each sex code as without a value map (``unknown``: said to be)."""
    read = values.to_frame("v").select(
        pl.when(sex_is_unknown_code(pl.col("v"), pl.String()))
        .then(pl.lit("unknown"))
        .otherwise(read_sex(pl.col("v"), pl.String()))
    )
    return read.to_series().to_list()


def _accepted(values: pl.Series, accepted: Sequence[str], field: str) -> list[bool]:
    """Whether each value is one the round accepts (exact, prefix or range, as a value map)."""
    table = ValueMap.of({value: value for value in accepted}, path=f"values.{field}")
    mapped = apply_value_map(pl.col("v"), table, keep_unmapped=False).is_not_null()
    return values.to_frame("v").select(mapped).to_series().to_list()


def _code_list(
    frame: pl.DataFrame,
    field: str,
    column: str,
    limit: int,
    *,
    known: Sequence[str],
    accepted: Sequence[str] | None,
) -> CodeList:
    """The distinct values of a code column over every row, most frequent first."""
    text = read_text(pl.col(column), frame.schema[column]).alias("value")
    counts = frame.select(text).group_by("value").len("rows")
    empty = counts.filter(pl.col("value").is_null())["rows"].sum()
    # looks_like_bsn on the distinct values: a code that could be a BSN is counted, never shown
    counts = counts.drop_nulls("value").with_columns(hidden=looks_like_bsn(pl.col("value")))
    hidden = counts.filter(pl.col("hidden"))
    shown = counts.filter(~pl.col("hidden")).sort(["rows", "value"], descending=[True, False])
    listed = shown.head(limit)
    values: list[str] = listed["value"].to_list()
    if field == "sex":
        reads = _sex_reads(listed["value"])
    else:
        reads = [value if value in known else None for value in values]
    fits: list[bool | None] = [None] * len(values)
    if accepted is not None:
        fits = list(_accepted(listed["value"], accepted, field))
    # written in other capitals than a known (or accepted) value: mapped to it, obviously
    lower = {value.lower(): value for value in known}
    codes = []
    for value, rows, read, fit in zip(values, listed["rows"], reads, fits, strict=True):
        canonical = lower.get(value.lower())
        obvious = canonical if canonical is not None and canonical != value and not fit else None
        codes.append(Code(value, int(rows), read, obvious, fit))
    rest = shown.slice(limit)
    return CodeList(
        field=field,
        column=column,
        codes=tuple(codes),
        more_values=rest.height,
        more_rows=int(rest["rows"].sum()),
        empty_rows=int(empty),
        hidden_values=hidden.height,
        hidden_rows=int(hidden["rows"].sum()),
        accepted=None if accepted is None else tuple(accepted),
    )


def _derivation(codes: CodeList, field: str) -> Derivation:
    """Suggested code list of ``field`` from the product categories found (comments only)."""
    index = 1 if field == "care_form" else 2
    keys: dict[str, tuple[str, str, int]] = {}
    without: list[tuple[str, int]] = []
    for code in codes.codes:
        whole = _PRODUCT_CODE.fullmatch(code.value)
        category = whole[1] if whole else code.value
        known = _PRODUCT_CATEGORIES.get(category)
        suggestion = known[index] if known else None
        if known and suggestion:
            key = f"{category}*" if whole else category
            _, _, rows = keys.get(key, ("", "", 0))
            keys[key] = (suggestion, known[0], rows + code.rows)
            continue
        in_2015 = re.fullmatch(WHOLE_NUMBER, code.value) and 31 <= int(code.value) <= 38
        if in_2015 and field == "care_form":
            key, note, value = _RANGES_2015[0 if int(code.value) <= 34 else 1]
            _, _, rows = keys.get(key, ("", "", 0))
            keys[key] = (value, note, rows + code.rows)
            continue
        without.append((code.value, code.rows))
    entries = tuple(Suggestion(key, value, note, rows) for key, (value, note, rows) in keys.items())
    return Derivation(field, "product_category", entries, tuple(without))


# --- the proposal ----------------------------------------------------------------------------


def propose_mapping(
    path: str | Path,
    *,
    sample_rows: int = SAMPLE_ROWS,
    sheet: str | None = None,
    required: Iterable[str] = (),
    accepted: Mapping[str, Sequence[str]] | None = None,
    max_codes: int = MAX_CODES,
) -> MappingProposal:
    """Propose a mapping for an export (see the module docstring).

    Args:
        path: the export (CSV, Excel or Parquet), read as ``factlab pseudonymise`` reads it.
        sample_rows: the first rows on which columns, date formats and amounts are judged.
        sheet: the Excel sheet (default: the first).
        required: fields the round requires, marked in the proposal.
        accepted: per code field, the values the round accepts (default: :data:`KNOWN_VALUES`).
        max_codes: distinct values listed per code column.

    Raises:
        InputError: the export cannot be read (as :func:`factlab.io.load_export`).

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "e.csv").write_text(
        ...     "Burgerservicenummer;Datum aanvang;Gemeente\\n999993653;01-02-2025;Assen\\n"
        ... )
        >>> proposal = propose_mapping(folder / "e.csv")
        >>> proposal.fields
        {'bsn': 'Burgerservicenummer', 'municipality': 'Gemeente', 'start_date': 'Datum aanvang'}
        >>> proposal.dates[0].format, proposal.codes[0].codes[0].value
        ('%d-%m-%Y', 'Assen')
    """
    path = require_path(path, where="propose_mapping", name="path")
    if sample_rows < 1 or max_codes < 1:
        raise ValueError("propose_mapping: sample_rows and max_codes must be at least 1")
    export = load_export(path, sheet=sheet)
    frame = export.frame
    sample = frame.head(sample_rows)
    columns = [column for column in frame.columns if not is_digit_name(column)]
    bsn_shares = _bsn_shares(sample, columns)
    choices = _choose_columns(sample, columns, bsn_shares)
    used = {column for choice in choices for column in (choice.column, *choice.others)}
    dates = tuple(
        _date_format(sample, choice.field, choice.column)[0]
        for choice in choices
        if choice.field in _DATE_FIELDS
    )
    fields = {choice.field: choice.column for choice in choices if choice.active}
    # codes are listed for guesses written as comments too: the steward may take them over
    listed = {choice.field: choice.column for choice in choices}
    decimal_comma = None
    if "cost" in fields and export.facts["format"] == "csv":
        decimal_comma = _decimal_comma(sample, fields["cost"])
    # the values a round accepts, exact ones only, replace the known ones of DOMAIN.md
    known = {
        **KNOWN_VALUES,
        **{
            name: ValueMap.of({v: v for v in values}).exact
            for name, values in (accepted or {}).items()
        },
    }
    codes = tuple(
        _code_list(
            frame,
            field,
            listed[field],
            max_codes,
            known=tuple(known.get(field, ())),
            accepted=None if accepted is None or field not in accepted else accepted[field],
        )
        for field in CODE_FIELDS
        if field in listed
    )
    derive: list[Derivation] = []
    categories = next((c for c in codes if c.field == "product_category"), None)
    if categories is not None:
        derive += [_derivation(categories, f) for f in ("care_form", "domain") if f not in listed]
    return MappingProposal(
        export=path.name,
        format=export.facts["format"],
        encoding=export.facts.get("encoding"),
        delimiter=export.facts.get("delimiter"),
        rows=frame.height,
        sample_rows=sample_rows,
        columns=tuple(choices),
        unused=tuple(column for column in columns if column not in used),
        digit_names=len(frame.columns) - len(columns),
        dates=dates,
        decimal_comma=decimal_comma,
        codes=codes,
        derive=tuple(derivation for derivation in derive if derivation.entries),
        required=tuple(dict.fromkeys(required)),
        factlab_version=__version__,
        sheet=sheet,
    )


def write_proposal(
    proposal: MappingProposal,
    out: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
) -> None:
    """Write a proposal as a mapping file (UTF-8), atomically, never over one of ``inputs``.

    Raises:
        InputError: ``out`` exists (without ``overwrite``), is an input, or cannot be written.
    """
    text = proposal.to_toml(Path(out).name)
    with atomic_path(out, inputs=inputs, overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
