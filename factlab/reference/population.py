"""Population denominators: residents per municipality and year, from a CBS StatLine CSV.

StatLine's CSV download of a table such as *Bevolking; geslacht, leeftijd, regio* has one row
per combination of the table's dimensions, a column per dimension (``RegioS`` holding codes
such as ``GM0106``, ``Perioden`` such as ``2024JJ00``, ``Leeftijd``, ``Geslacht``, ...) and a
column per topic (``BevolkingOp1Januari_1``). Values are separated by ``;`` and quoted; codes
may carry trailing spaces. :func:`load_population` reads that layout (``,`` works too):

- rows whose ``RegioS`` is not a municipality code (``NL01``, ``PV22``) are left out;
- with an age band, ``Leeftijd`` must be a single age (``5``, ``5 jaar``); rows with other ages
  (totals, bands) are left out and counted in :attr:`Population.rows_left_out`;
- other dimension columns are narrowed by ``select`` (``Geslacht = "Totaal mannen en
  vrouwen"``); a municipality, year and age on two rows after that is refused, since summing
  them would count residents twice;
- codes are mapped to the municipalities of the reference year (a merged municipality's
  residents are added to the one it went into).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab._export_checks import read_regular
from factlab.errors import ConfigError, InputError
from factlab.reference.municipalities import MunicipalityTable, municipality_lookup

__all__ = ["Population", "load_population"]

REGION: Final = "RegioS"
PERIOD: Final = "Perioden"
AGE: Final = "Leeftijd"


@dataclass(frozen=True)
class Population:
    """Residents per municipality of the reference year, for one year and age band.

    Attributes:
        frame: ``municipality`` (the reference year's name), ``code``, ``population``.
        year: the year of the figures (``Perioden``).
        ages: the age band (lowest, highest), or None for every age.
        source: the file read.
        rows_left_out: rows not used, by reason (not a municipality, another year, an age
            that is not a single year or outside the band).
    """

    frame: pl.DataFrame
    year: int
    ages: tuple[int, int] | None
    source: str
    rows_left_out: Mapping[str, int] = field(default_factory=dict)

    def by_name(self) -> dict[str, int]:
        """Municipality name -> residents."""
        return dict(self.frame.select("municipality", "population").iter_rows())


def load_population(
    path: str | Path,
    *,
    year: int,
    municipalities: MunicipalityTable,
    reference_year: int | None = None,
    ages: tuple[int, int] | None = None,
    value_column: str | None = None,
    select: Mapping[str, str] | None = None,
) -> Population:
    """Read the residents of ``year`` per municipality from a StatLine-layout CSV.

    Args:
        path: the CSV file.
        year: the year of the figures to use (``Perioden`` ``2024JJ00`` or ``2024``).
        municipalities: the municipality table, to map codes to the reference year.
        reference_year: the division to map to (default ``year``).
        ages: the age band, both ends included (``(0, 17)``); needs a ``Leeftijd`` column.
        value_column: the column of the figures (default: the one column that is neither
            ``ID`` nor a dimension named in the file's header as StatLine names them).
        select: other dimension columns and the one value of each to keep.

    Raises:
        InputError: the file is missing or not CSV.
        ConfigError: every problem at once, with row and column: a missing column, a value
            that is not a whole number, rows that would be added twice, unknown codes.

    Example:
        >>> import tempfile, os
        >>> from factlab.reference.municipalities import drenthe_municipalities
        >>> folder = tempfile.mkdtemp()
        >>> csv = os.path.join(folder, "bevolking.csv")
        >>> _ = open(csv, "w").write(
        ...     '"ID";"Leeftijd";"Perioden";"RegioS";"BevolkingOp1Januari_1"\\n'
        ...     '"1";"5 jaar";"2024JJ00";"GM0106  ";"700"\\n'
        ...     '"2";"12 jaar";"2024JJ00";"GM0106  ";"650"\\n'
        ...     '"3";"30 jaar";"2024JJ00";"GM0106  ";"900"\\n')
        >>> people = load_population(csv, year=2024, municipalities=drenthe_municipalities(),
        ...                          ages=(0, 17))
        >>> people.by_name(), dict(people.rows_left_out)
        ({'Assen': 1350}, {'age outside the band': 1})
    """
    source = str(path)
    data = read_regular(path, what="population file", limit=512 * 1024 * 1024)
    first = data.split(b"\n", 1)[0]
    separator = ";" if first.count(b";") >= first.count(b",") else ","
    try:
        frame = pl.read_csv(io.BytesIO(data), separator=separator, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(f"{source}: not a readable CSV file ({type(exc).__name__})") from None
    frame = frame.rename({name: name.strip() for name in frame.columns})
    problems: list[str] = []
    needed = [REGION, PERIOD, *([AGE] if ages is not None else [])]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        problems.append(f"{source}: columns: lacks {', '.join(missing)}")
    select = dict(select or {})
    for name in select:
        if name not in frame.columns:
            problems.append(f"{source}: select.{name}: no such column")
    value = value_column or _value_column(frame.columns, problems, source, select)
    if value is not None and value not in frame.columns:
        problems.append(f"{source}: value_column: no column {value!r}")
    if problems:
        raise ConfigError("population", problems)
    assert value is not None
    rows = frame.with_row_index("_row", offset=2)
    left_out: dict[str, int] = {}

    def keep(condition: pl.Expr, reason: str) -> None:
        nonlocal rows
        # A value that cannot be read (null) is left out too, and counted, never lost silently.
        condition = condition.fill_null(False)
        dropped = rows.filter(~condition).height
        if dropped:
            left_out[reason] = left_out.get(reason, 0) + dropped
        rows = rows.filter(condition)

    region = pl.col(REGION).str.strip_chars().str.to_uppercase()
    keep(region.str.contains(r"^GM\d{4}$").fill_null(False), "not a municipality")
    period = pl.col(PERIOD).str.strip_chars().str.extract(r"^(\d{4})(?:JJ00)?$", 1)
    keep(period.cast(pl.Int64, strict=False) == year, "another year")
    for name, wanted in select.items():
        keep(pl.col(name).str.strip_chars() == wanted, f"{name} not {wanted}")
    age = pl.col(AGE).str.strip_chars().str.extract(r"^(\d{1,3})(?: jaar)?$", 1)
    age = age.cast(pl.Int64, strict=False)
    if ages is not None:
        keep(age.is_not_null(), "age not a single year")
        keep(age.is_between(ages[0], ages[1]), "age outside the band")
    rows = rows.with_columns(
        region.alias("code"),
        pl.col(value).str.strip_chars().cast(pl.Int64, strict=False).alias("population"),
        (age if ages is not None else pl.lit(None, dtype=pl.Int64)).alias("_age"),
    )
    for row in (
        rows.filter(pl.col("population").is_null() | (pl.col("population") < 0))
        .head(20)
        .iter_rows(named=True)
    ):
        problems.append(f"{source}: row {row['_row']}, column {value}: not a whole number >= 0")
    doubled = rows.filter(pl.len().over("code", "_age") > 1)
    first_of_each = doubled.unique(["code", "_age"], keep="first", maintain_order=True)
    for row in first_of_each.head(20).iter_rows(named=True):
        problems.append(
            f"{source}: row {row['_row']}: {row['code']} has several rows for {year}"
            + (f", age {row['_age']}" if ages is not None else "")
            + "; narrow the other columns with select"
        )
    lookup = municipality_lookup(municipalities, reference_year or year)
    mapped = rows.with_columns(pl.col("code").str.to_lowercase().alias("key")).join(
        lookup.rename({"code": "to"}), on="key", how="left"
    )
    for row in mapped.filter(pl.col("to").is_null()).unique("code").head(20).iter_rows(named=True):
        problems.append(
            f"{source}: row {row['_row']}, column {REGION}: {row['code']} "
            + (row["reason"] or "is not a municipality of the reference table")
        )
    if problems:
        raise ConfigError("population", problems)
    if mapped.is_empty():
        raise ConfigError("population", [f"{source}: no rows for {year}"])
    totals = (
        mapped.group_by("to", "name")
        .agg(pl.col("population").sum())
        .rename({"to": "code", "name": "municipality"})
        .select("municipality", "code", "population")
        .sort("code")
    )
    return Population(totals, year, ages, source, left_out)


def _value_column(
    columns: list[str], problems: list[str], source: str, select: Mapping[str, Any]
) -> str | None:
    # StatLine names topics with a trailing _<number> (BevolkingOp1Januari_1); dimensions
    # have no such suffix.
    known = {"ID", REGION, PERIOD, AGE, *select}
    candidates = [
        name for name in columns if name not in known and name.rsplit("_", 1)[-1].isdigit()
    ]
    if len(candidates) != 1:
        problems.append(
            f"{source}: value_column: give the column of the figures "
            f"({'none' if not candidates else ', '.join(candidates)} found)"
        )
        return None
    return candidates[0]
