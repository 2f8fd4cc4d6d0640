"""Dutch municipalities by year: CBS codes, names, provinces, and the changes between years.

Providers deliver a municipality as they have it: a CBS code (``GM0106``, ``0106``, ``106``), the
current name in any spelling (``Aa En Hunze``, ``gemeente Assen``), or the name of a municipality
that has since been merged into another (``Gieten``). :func:`municipality_lookup` turns every
name and code the table knows into the municipality of a chosen *reference year*: the division
of 1 January of that year, as CBS publishes regional figures. A value the table does not know,
or cannot place in that year, is reported, never guessed.

The table has three parts, each a CSV file (``docs/reference.md`` gives the layouts):

- *municipalities*: one row per name period of a municipality: ``code`` (empty for a former
  municipality whose code the table does not hold), ``name``, ``province``, ``valid_from`` and
  ``valid_until`` (first day no longer valid; empty = open);
- *changes*: ``date``, ``from`` (a code, or the name of a former municipality), ``to`` (the code
  it went into on that date): mergers and absorptions;
- *aliases*: ``alias``, ``code``: other spellings and former names without a known date.

factlab ships the twelve municipalities of Drenthe and the 1998 reorganisation that made them
(``factlab/data/municipalities_drenthe.csv`` and its siblings; what was left out and why is in
``docs/reference.md``). A user supplies the national table in the same layout.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab._checks import require_frame, require_text, require_type
from factlab._export_checks import read_regular
from factlab.errors import ConfigError, DataError, InputError
from factlab.escape import looks_like_code, may_identify, plain_text

__all__ = [
    "MunicipalityTable",
    "drenthe_municipalities",
    "load_municipalities",
    "map_municipalities",
    "municipality_key",
    "municipality_lookup",
    "municipality_mapping",
]

MUNICIPALITY_COLUMNS: Final = ("code", "name", "province", "valid_from", "valid_until")
CHANGE_COLUMNS: Final = ("date", "from", "to")
ALIAS_COLUMNS: Final = ("alias", "code")
# A CBS municipality code: GM and four digits; delivered forms may drop GM or leading zeros.
_CODE: Final = r"^(?:gm)?\s*0*(\d{1,4})$"
_CANONICAL_CODE: Final = r"^GM\d{4}$"
# How many unknown values an error names before it says "and N more".
_SHOWN: Final = 20


def municipality_key(value: pl.Expr) -> pl.Expr:
    """The matching key of a municipality name or code, as a Polars expression.

    Case, accents, punctuation, repeated spaces and a leading ``gemeente`` do not matter; a code
    with or without ``GM`` and leading zeros becomes ``gm`` and four digits.

    Example:
        >>> import polars as pl
        >>> names = pl.Series(["Aa En Hunze", " gemeente  Borger-Odoorn", "GM0106", "106", "Ré"])
        >>> pl.select(municipality_key(pl.lit(names))).to_series().to_list()
        ['aa en hunze', 'borger odoorn', 'gm0106', 'gm0106', 're']
    """
    text = (
        value.cast(pl.String)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]+", " ")
        .str.strip_chars()
        .str.replace(r"^gemeente ", "")
    )
    digits = text.str.extract(_CODE, 1)
    return pl.when(digits.is_not_null()).then(pl.lit("gm") + digits.str.zfill(4)).otherwise(text)


@dataclass(frozen=True)
class MunicipalityTable:
    """Municipalities over time: name periods, changes between them, aliases.

    Built by :func:`load_municipalities` (checked), or :func:`drenthe_municipalities`.

    Attributes:
        periods: ``code`` (null for a former municipality without a known code), ``name``,
            ``province``, ``valid_from``, ``valid_until`` (Date; null = open).
        changes: ``date``, ``from`` (a code or a former municipality's name), ``to`` (a code).
        aliases: ``alias``, ``code``.
        sources: the files read (names), for provenance.
    """

    periods: pl.DataFrame
    changes: pl.DataFrame
    aliases: pl.DataFrame
    sources: tuple[str, ...] = field(default=(), compare=False)

    def codes(self, year: int) -> pl.DataFrame:
        """The municipalities of 1 January ``year``: ``code``, ``name``, ``province``.

        Example:
            >>> table = drenthe_municipalities()
            >>> table.codes(2024).height, table.codes(2024).row(0)
            (12, ('GM0106', 'Assen', 'Drenthe'))
        """
        cut = date(year, 1, 1)
        return (
            self.periods.filter(pl.col("code").is_not_null() & _valid_on(cut))
            .select("code", "name", "province")
            .sort("code")
        )


def _valid_on(day: date) -> pl.Expr:
    starts = pl.col("valid_from").is_null() | (pl.col("valid_from") <= day)
    ends = pl.col("valid_until").is_null() | (pl.col("valid_until") > day)
    return starts & ends


def _read_csv(
    path: str | Path | None, resource: str | None, columns: tuple[str, ...]
) -> pl.DataFrame:
    if path is None and resource is None:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    if path is None:
        assert resource is not None
        data = resources.files("factlab.data").joinpath(resource).read_bytes()
        source = f"factlab/data/{resource}"
    else:
        data = read_regular(path, what="reference table")
        source = str(path)
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(f"{source}: not a readable CSV file ({type(exc).__name__})") from None
    frame = frame.rename({name: name.strip().lower() for name in frame.columns})
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ConfigError(source, [f"columns: lacks {', '.join(missing)}"])
    return frame.select(
        pl.col(name).str.strip_chars().replace("", None).alias(name) for name in columns
    )


def _dates(frame: pl.DataFrame, names: tuple[str, ...], source: str) -> list[str]:
    problems = []
    for name in names:
        parsed = frame.get_column(name).str.to_date("%Y-%m-%d", strict=False)
        bad = frame.get_column(name).is_not_null() & parsed.is_null()
        for row in bad.arg_true().to_list():
            problems.append(f"{source}: row {row + 2}, column {name}: not a date (YYYY-MM-DD)")
    return problems


def load_municipalities(
    table: str | Path | None = None,
    changes: str | Path | None = None,
    aliases: str | Path | None = None,
) -> MunicipalityTable:
    """Read and check a municipality table (default: the packaged Drenthe table).

    Without ``table``, all three parts are the packaged Drenthe ones. With ``table`` (a national
    table), ``changes`` and ``aliases`` are its own, and none when not given.

    Raises:
        InputError: a file is missing or not CSV.
        ConfigError: every problem of every file at once, each with file, row and column: a
            missing column, a bad code or date, a period that ends before it starts, two
            periods of one code that overlap, a change from or to a municipality the table
            lacks, an alias of an unknown code.

    Example:
        >>> load_municipalities().codes(2024).height
        12
    """
    packaged = table is None
    if packaged and (changes is not None or aliases is not None):
        raise ConfigError(
            "municipalities", ["changes, aliases: give them with the table they belong to"]
        )
    names = [
        "municipalities_drenthe.csv",
        "municipality_changes_drenthe.csv",
        "municipality_aliases_drenthe.csv",
    ]
    parts = (table, changes, aliases)
    sources = [
        str(path) if path else f"factlab/data/{name}" if packaged else "(none)"
        for path, name in zip(parts, names, strict=True)
    ]
    resources_used = [name if packaged else None for name in names]
    periods = _read_csv(table, resources_used[0], MUNICIPALITY_COLUMNS)
    moves = _read_csv(changes, resources_used[1], CHANGE_COLUMNS)
    others = _read_csv(aliases, resources_used[2], ALIAS_COLUMNS)
    problems = _dates(periods, ("valid_from", "valid_until"), sources[0])
    problems += _dates(moves, ("date",), sources[1])
    if problems:
        raise ConfigError("municipalities", problems)
    periods = periods.with_columns(
        pl.col("code").str.to_uppercase(),
        pl.col("valid_from", "valid_until").str.to_date("%Y-%m-%d"),
    )
    moves = moves.with_columns(
        pl.col("date").str.to_date("%Y-%m-%d"), pl.col("to").str.to_uppercase()
    )
    others = others.with_columns(pl.col("code").str.to_uppercase())
    problems = _table_problems(periods, moves, others, sources)
    if problems:
        raise ConfigError("municipalities", problems)
    return MunicipalityTable(periods, moves, others, tuple(sources))


def _table_problems(
    periods: pl.DataFrame, moves: pl.DataFrame, others: pl.DataFrame, sources: list[str]
) -> list[str]:
    table, changes, aliases = sources
    problems: list[str] = []
    codes = set(periods.get_column("code").drop_nulls().to_list())
    for index, row in enumerate(periods.iter_rows(named=True)):
        where = f"{table}: row {index + 2}"
        if row["name"] is None:
            problems.append(f"{where}, column name: empty")
        if row["code"] is not None and not _is_code(row["code"]):
            problems.append(f"{where}, column code: not a CBS code (GM and four digits)")
        if row["code"] is None and row["valid_until"] is None:
            problems.append(
                f"{where}, column valid_until: a municipality without a code must be a former "
                "one (give the date it ended)"
            )
        start, end = row["valid_from"], row["valid_until"]
        if start is not None and end is not None and end <= start:
            problems.append(f"{where}, column valid_until: not after valid_from")
    # Two name periods of one code may not overlap: a code has one name on any day.
    ordered = (
        periods.filter(pl.col("code").is_not_null())
        .with_row_index("row")
        .sort("code", "valid_from", nulls_last=False)
    )
    previous: dict[str, Any] | None = None
    for row in ordered.iter_rows(named=True):
        if (
            previous is not None
            and previous["code"] == row["code"]
            and (
                previous["valid_until"] is None
                or (row["valid_from"] is not None and previous["valid_until"] > row["valid_from"])
                or row["valid_from"] is None
            )
        ):
            problems.append(
                f"{table}: row {row['row'] + 2}: the periods of {row['code']} overlap "
                f"(row {previous['row'] + 2})"
            )
        previous = row
    former = {
        (row["name"], row["valid_until"])
        for row in periods.filter(pl.col("code").is_null()).iter_rows(named=True)
    }
    ends = {
        (row["code"], row["valid_until"])
        for row in periods.filter(pl.col("code").is_not_null()).iter_rows(named=True)
    }
    listed: dict[tuple[object, ...], int] = {}
    for index, row in enumerate(moves.iter_rows(named=True)):
        where = f"{changes}: row {index + 2}"
        for column in CHANGE_COLUMNS:
            if row[column] is None:
                problems.append(f"{where}, column {column}: empty")
        if None in row.values():
            continue
        # one change may have several rows (a split: one per successor), but not the same twice
        move = (row["from"].upper() if _is_code(row["from"].upper()) else row["from"], row["date"])
        first = listed.setdefault((*move, row["to"]), index + 2)
        if first != index + 2:
            problems.append(f"{where}: the same change as row {first}")
        source = row["from"]
        if _is_code(source.upper()):
            if (source.upper(), row["date"]) not in ends:
                problems.append(
                    f"{where}, column from: no period of {source.upper()} ends on {row['date']}"
                )
        elif (source, row["date"]) not in former:
            problems.append(
                f"{where}, column from: no former municipality {source!r} ends on {row['date']}"
            )
        if row["to"] not in codes:
            problems.append(f"{where}, column to: {row['to']} is not a code of the table")
    for index, row in enumerate(others.iter_rows(named=True)):
        where = f"{aliases}: row {index + 2}"
        if row["alias"] is None:
            problems.append(f"{where}, column alias: empty")
        if row["code"] not in codes:
            problems.append(f"{where}, column code: {row['code']} is not a code of the table")
    return problems


def _is_code(text: str) -> bool:
    return re.fullmatch(_CANONICAL_CODE, text) is not None


def drenthe_municipalities() -> MunicipalityTable:
    """The packaged table: Drenthe's twelve municipalities and the 1998 reorganisation.

    Example:
        >>> drenthe_municipalities().codes(2024).get_column("name").to_list()[:3]
        ['Assen', 'Coevorden', 'Emmen']
    """
    return load_municipalities()


def municipality_lookup(table: MunicipalityTable, year: int) -> pl.DataFrame:
    """Every key the table knows, resolved to the municipality of 1 January ``year``.

    Returns:
        ``key`` (see :func:`municipality_key`), ``code``, ``name`` and ``province`` of the
        municipality of that year (null when the key cannot be placed in it), and ``reason``
        (why not; null when it can).

    Example:
        >>> lookup = municipality_lookup(drenthe_municipalities(), 2024)
        >>> lookup.filter(pl.col("key") == "gieten").select("code", "name").row(0)
        ('GM1680', 'Aa en Hunze')
        >>> lookup.filter(pl.col("key") == "nijeveen").get_column("reason").item()
        'ceased on 1998-01-01; the reference table does not say where it went'
    """
    cut = date(year, 1, 1)
    periods = table.periods
    current = {
        row["code"]: row
        for row in periods.filter(pl.col("code").is_not_null() & _valid_on(cut)).iter_rows(
            named=True
        )
    }
    # (from, date) -> every successor: a municipality split up has several, and then none of
    # them is where a client of it lived (never the last one listed, as a dict would keep)
    moves: dict[tuple[str, date], list[str]] = {}
    for row in table.changes.iter_rows(named=True):
        source = row["from"].upper() if _is_code(row["from"].upper()) else row["from"]
        targets = moves.setdefault((source, row["date"]), [])
        if row["to"] not in targets:
            targets.append(row["to"])

    spans: dict[str, list[tuple[date | None, date | None]]] = {}
    for row in periods.filter(pl.col("code").is_not_null()).iter_rows(named=True):
        spans.setdefault(row["code"], []).append((row["valid_from"], row["valid_until"]))

    def follow(code: str, seen: frozenset[str]) -> tuple[str | None, str | None]:
        """The code ``code`` became by the cut, or None and why not."""
        if code in current:
            return code, None
        if all(start is not None and start > cut for start, _ in spans[code]):
            return None, f"did not exist yet on {cut.isoformat()}"
        ended = max(end for _, end in spans[code] if end is not None)
        return successor(moves.get((code, ended), []), ended, seen | {code})

    def successor(
        targets: list[str], ended: date, seen: frozenset[str]
    ) -> tuple[str | None, str | None]:
        """Where a municipality that ceased on ``ended`` went: one code, or None and why not."""
        if not targets or any(target in seen for target in targets):
            return (
                None,
                f"ceased on {ended.isoformat()}; the reference table does not say where it went",
            )
        outcomes = [follow(target, seen) for target in targets]
        found = {code for code, _ in outcomes}
        if len(found) == 1 and None not in found:
            return outcomes[0]  # split, then joined again by the cut: one municipality
        if len(targets) == 1:
            return outcomes[0]
        parts = sorted(targets)
        return (
            None,
            f"split on {ended.isoformat()} into {', '.join(parts)}; cannot be placed in one "
            "municipality (deliver the municipality of the new division)",
        )

    results: dict[str, set[tuple[str | None, str | None]]] = {}
    entries: list[tuple[str, str | None, str | None, date | None, date | None]] = [
        (row["name"], row["code"], row["name"], row["valid_from"], row["valid_until"])
        for row in periods.iter_rows(named=True)
    ]
    entries += [
        (row["code"], row["code"], None, None, None)
        for row in periods.filter(pl.col("code").is_not_null()).unique("code").iter_rows(named=True)
    ]
    entries += [
        (row["alias"], row["code"], None, None, None) for row in table.aliases.iter_rows(named=True)
    ]
    for label, code, name, start, end in entries:
        if code is not None:
            outcome = follow(code, frozenset())
        elif end is not None and end <= cut:
            outcome = successor(moves.get((str(name), end), []), end, frozenset())
        elif start is not None and start > cut:
            outcome = (None, f"did not exist yet on {cut.isoformat()}")
        else:
            outcome = (
                None,
                f"existed on {cut.isoformat()} but the reference table holds no CBS code for it",
            )
        results.setdefault(label, set()).add(outcome)
    rows: list[tuple[str, str | None, str | None, str | None, str | None]] = []
    keys = pl.select(
        municipality_key(pl.lit(pl.Series(list(results), dtype=pl.String)))
    ).to_series()
    merged: dict[str, set[tuple[str | None, str | None]]] = {}
    for label, key in zip(results, keys.to_list(), strict=True):
        merged.setdefault(key, set()).update(results[label])
    for key, outcomes in merged.items():
        found = {code for code, _ in outcomes if code is not None}
        if len(found) == 1:
            code = found.pop()
            rows.append((key, code, current[code]["name"], current[code]["province"], None))
        elif found:
            rows.append((key, None, None, None, f"ambiguous: {', '.join(sorted(found))} in {year}"))
        else:
            reasons = sorted({reason for _, reason in outcomes if reason is not None})
            rows.append((key, None, None, None, "; ".join(reasons)))
    return pl.DataFrame(
        rows,
        schema={
            "key": pl.String,
            "code": pl.String,
            "name": pl.String,
            "province": pl.String,
            "reason": pl.String,
        },
        orient="row",
    ).sort("key")


def map_municipalities(
    values: pl.DataFrame | pl.LazyFrame,
    column: str,
    table: MunicipalityTable,
    year: int,
    *,
    source: str = "data",
) -> pl.DataFrame:
    """How each distinct value of ``column`` maps to the municipality of ``year``.

    Args:
        values: the rows (a frame or a plan; only ``column`` is read).
        column: the column of municipality names or codes as delivered.
        table: the municipality table.
        year: the reference year (the division of 1 January).
        source: what the rows are, for messages (a file name).

    Returns:
        ``value`` (as delivered, text), ``code``, ``name``: one row per distinct non-null value.

    Raises:
        DataError: every value that cannot be mapped, at once: its first row (counted from 1),
            the rows it is on, and why. Values that look like a BSN are not shown.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({"municipality": ["Gieten", "GM0106", "gieten", None]})
        >>> mapped = map_municipalities(rows, "municipality", drenthe_municipalities(), 2024)
        >>> mapped.rows()[:2]
        [('GM0106', 'GM0106', 'Assen'), ('Gieten', 'GM1680', 'Aa en Hunze')]
    """
    mapped, problem = municipality_mapping(values, column, table, year, source=source)
    if problem is not None:
        raise DataError(problem)
    return mapped


def municipality_mapping(
    values: pl.DataFrame | pl.LazyFrame,
    column: str,
    table: MunicipalityTable,
    year: int,
    *,
    source: str = "data",
) -> tuple[pl.DataFrame, str | None]:
    """As :func:`map_municipalities`, but the values that cannot be placed are returned as one
    problem line (None when there are none), not raised, so a caller can report them together
    with problems of its own; their ``code`` and ``name`` are null.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({"municipality": ["Gieten", "Xyzzy"]})
        >>> mapped, problem = municipality_mapping(
        ...     rows, "municipality", drenthe_municipalities(), 2024)
        >>> mapped.rows()
        [('Gieten', 'GM1680', 'Aa en Hunze'), ('Xyzzy', None, None)]
        >>> problem[:46]
        'data: 1 municipality value(s) cannot be placed'
    """
    require_frame(values, where="map_municipalities", name="values")
    require_text(column, where="map_municipalities", name="column")
    require_type(
        table,
        MunicipalityTable,
        where="map_municipalities",
        name="table",
        hint="a MunicipalityTable (load one with load_municipalities)",
    )
    distinct = (
        values.lazy()
        .select(pl.col(column).cast(pl.String).alias("value"))
        .with_row_index("row")
        .filter(pl.col("value").is_not_null())
        .group_by("value")
        .agg(pl.col("row").min().alias("first"), pl.len().alias("rows"))
        .collect()
        .with_columns(municipality_key(pl.col("value")).alias("key"))
    )
    joined = distinct.join(municipality_lookup(table, year), on="key", how="left").sort("value")
    bad = joined.filter(pl.col("code").is_null()).sort("first")
    if not bad.is_empty():
        problems = [
            f"{source}: row {row['first'] + 1}, column {column}: "
            # a name of the table (known, but not placeable) is public: shown on one row too
            f"{shown_value(row['value'], None if row['reason'] else row['rows'])} "
            f"({row['rows']} row(s)): "
            + (row["reason"] or "not a municipality of the reference table")
            for row in bad.head(_SHOWN).iter_rows(named=True)
        ]
        if bad.height > _SHOWN:
            problems.append(
                f"{source}: column {column}: and {bad.height - _SHOWN} more unknown value(s)"
            )
        problem = (
            f"{source}: {bad.height} municipality value(s) cannot be placed in the division of "
            f"1 January {year}: " + "; ".join(problems)
        )
        return joined.select("value", "code", "name"), problem
    return joined.select("value", "code", "name"), None


def shown_value(value: str, rows: int | None = None) -> str:
    """A delivered value for a message: quoted, or hidden by the rule the steward's step uses.

    Hidden (:func:`factlab.escape.may_identify`): six digits or more, or a postcode. Hidden too:
    a value with a digit that is not a short code (``GM0106``, ``45A01`` are shown, ``Assen 12``
    is not), and a value on one row (``rows`` 1) that is not a code — a misspelt municipality
    recurs, a client's name or note that a wrong column brought in is on its own.

    Example:
        >>> shown_value("Asen", 3), shown_value("9999.93.653"), shown_value("9401 AB")
        ("'Asen'", 'a value like a number or postcode (not shown)', \
'a value like a number or postcode (not shown)')
        >>> shown_value("GM9999", 1), shown_value("Jan de Vries, Assen", 1)
        ("'GM9999'", 'a value on one row (not shown)')
    """
    if may_identify(value):
        return "a value like a number or postcode (not shown)"
    code = looks_like_code(value)
    if any(char.isdigit() for char in value) and not code:
        return "a value with digits that is no code (not shown)"
    if rows == 1 and not code:
        return "a value on one row (not shown)"
    return repr(plain_text(value[:60]))


def label_map(table: MunicipalityTable, year: int, label: str) -> Mapping[str, str]:
    """Code -> label (``name`` or ``code``) of the municipalities of ``year``."""
    codes = table.codes(year)
    return dict(
        zip(codes.get_column("code").to_list(), codes.get_column(label).to_list(), strict=True)
    )
