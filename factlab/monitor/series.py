"""Series over a programme: per period, unique clients, registrations, trajectories, and clients
at several providers, overall and by any dimension.

A client counts in a period when one of their rows is in care at any moment in it (the rule of
:func:`factlab.periods.active_in`), so a year is the union of its halves, not their sum, and a
client counts once per value of a dimension and once in the total (values add up to more than
the total). The figures of one period are those :func:`factlab.analysis.counts.count` gives for
that period alone; a series computes all periods in one pass over the rows.

- ``unique_clients``: distinct clients (rows with a valid BSN) in care in the period;
- ``registrations``: rows in care in the period, those without a valid BSN included (the rows
  of an episode delivered in several periods are kept once by link and the store);
- ``rows_without_valid_bsn``: of those, the rows that cannot be linked to a client;
- ``trajectories``: trajectories (one care form at one provider, overlapping episodes merged;
  :func:`factlab.analysis.flows.trajectories`) in care in the period, by their first episode's
  value;
- ``clients_several_providers``: clients of the cell who were at two or more providers in the
  period (at any provider, not only the cell's), and ``share_several_providers`` of the cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import polars as pl

from factlab import schema
from factlab._checks import as_period, require_names
from factlab.analysis.flows import trajectories
from factlab.analysis.overlap import INTERNAL_NOTICE, check_dimension
from factlab.errors import ConfigError
from factlab.monitor._source import (
    HIGH,
    LOW,
    PERIOD,
    MonitorRows,
    MonitorSource,
    check_series_periods,
    in_periods,
    open_partitions,
    period_columns,
    require_source,
    with_client,
)
from factlab.periods import Period, parse_period

__all__ = ["SERIES_COLUMNS", "SeriesResult", "programme_periods", "series"]

#: The columns of a series table, in order.
SERIES_COLUMNS: Final = (
    "period",
    "period_start",
    "period_end",
    "dimension",
    "value",
    "unique_clients",
    "registrations",
    "rows_without_valid_bsn",
    "trajectories",
    "clients_several_providers",
    "share_several_providers",
)
_VALUE: Final = "_value"
_PROVIDERS: Final = "_providers"


def programme_periods(
    first: str | int, last: str | int, every: Literal["year", "half"] = "year"
) -> list[Period]:
    """The years (or half-years) from ``first`` to ``last`` inclusive.

    Raises:
        ConfigError: a year is not four digits, ``last`` is before ``first``, or ``every`` is
            neither ``year`` nor ``half``.

    Example:
        >>> [period.label for period in programme_periods(2021, 2022, "half")]
        ['2021H1', '2021H2', '2022H1', '2022H2']
    """
    years = [parse_period(str(year)).start.year for year in (first, last)]
    if years[1] < years[0]:
        raise ConfigError("periods", [f"the last year {last} is before the first {first}"])
    if every not in ("year", "half"):
        raise ConfigError("every", [f"every: {every!r} is neither 'year' nor 'half'"])
    labels = [
        f"{year}{suffix}"
        for year in range(years[0], years[1] + 1)
        for suffix in (("",) if every == "year" else ("H1", "H2"))
    ]
    return [parse_period(label) for label in labels]


@dataclass(frozen=True)
class SeriesResult:
    """A series: one row per period and cell (see :data:`SERIES_COLUMNS`).

    Attributes:
        periods: the periods, in order.
        by: the dimensions of the per-value rows.
        table: the figures; ``dimension`` is ``total`` (``value`` null) or a dimension's name.
        source: non-secret facts about the input.
    """

    periods: tuple[Period, ...]
    by: tuple[str, ...]
    table: pl.DataFrame
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-monitor-series",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {
                "periods": [period.label for period in self.periods],
                "by": list(self.by),
            },
            "source": dict(self.source),
        }


def series(
    source: MonitorSource,
    periods: Sequence[Period | str],
    *,
    by: Iterable[str] = (),
    partitions: int | None = None,
) -> SeriesResult:
    """Unique clients, registrations, trajectories and clients at several providers per period.

    Args:
        source: a linked file, its rows, or a monitor store (its folder).
        periods: the periods, in order and not overlapping (e.g. :func:`programme_periods`).
        by: dimensions for per-value rows (provider, care form, financing, municipality, …).
        partitions: read the input in this many partitions by client, one after the other,
            to bound memory (default: one per 5 million rows of a store or linked file); the
            figures do not depend on it.

    Raises:
        InputError: the source is not a linked file or store, or lacks a needed column.
        ConfigError: periods overlap or are out of order, a ``by`` is not a dimension, or
            ``partitions`` is not a whole number from 1 to 4096.

    Example:
        >>> from datetime import date
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32],
        ...     "bsn_status": ["valid"] * 3, "provider": ["P1", "P2", "P1"],
        ...     "care_form": ["ambulant"] * 3,
        ...     "start_date": [date(2024, 2, 1), date(2024, 9, 1), date(2025, 1, 1)],
        ...     "end_date": [date(2024, 3, 31), None, None]})
        >>> result = series(rows, ["2024H1", "2024H2"])
        >>> result.table.select("period", "unique_clients", "clients_several_providers").rows()
        [('2024H1', 1, 0), ('2024H2', 1, 0)]
        >>> yearly = series(rows, ["2024", "2025"]).table
        >>> yearly.select("unique_clients", "clients_several_providers").rows()
        [(1, 1), (2, 0)]
    """
    require_source(source, where="series")
    chosen = tuple(as_period(period, where="series", name="periods") for period in periods)
    check_series_periods(chosen)
    dimensions = tuple(dict.fromkeys(require_names(by, where="series", name="by")))
    for dimension in dimensions:
        check_dimension(dimension)
    parts = open_partitions(source, partitions, columns=dimensions, dates=True, where="series")
    rows = parts[0]
    rows.check_covered(chosen, where="series")
    has_forms = "care_form" in rows.frame.collect_schema().names()
    counted_parts, trajectory_parts = [], []
    for part in parts:
        counted, counted_trajectories = _partition_cells(part, chosen, dimensions, has_forms)
        counted_parts.append(counted)
        trajectory_parts.extend(counted_trajectories)
    # a client is in one partition: the partitions' counts add up to the whole input's
    counted = _added(counted_parts)
    if has_forms:
        counted = counted.join(
            _added(trajectory_parts),
            on=[PERIOD, "dimension", "value"],
            how="left",
            nulls_equal=True,
        )
    else:
        counted = counted.with_columns(pl.lit(None, dtype=pl.UInt32).alias("trajectories"))
    order = {name: index for index, name in enumerate(("total", *dimensions))}
    table = (
        _complete(counted, len(chosen), trajectories=has_forms)
        .join(period_columns(chosen), on=PERIOD)
        .with_columns(
            pl.when(pl.col("unique_clients") > 0)
            .then(pl.col("clients_several_providers") / pl.col("unique_clients"))
            .alias("share_several_providers"),
            pl.col("dimension").replace_strict(order, return_dtype=pl.UInt32).alias("_order"),
        )
        .sort(PERIOD, "_order", "value", nulls_last=True)
        .select(SERIES_COLUMNS)
    )
    return SeriesResult(chosen, dimensions, table, rows.provenance)


def _partition_cells(
    rows: MonitorRows, chosen: Sequence[Period], dimensions: Sequence[str], has_forms: bool
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """The counts of one partition: per period and cell, the counts but trajectories, and
    (with care forms) the trajectories."""
    # read once: the counts and the trajectories would otherwise each read the input again
    needed = dict.fromkeys(
        (schema.STATUS, schema.PSEUDONYM, schema.PROVIDER, "start_date", "end_date"),
    ) | dict.fromkeys(("care_form", *dimensions))
    present = rows.frame.collect_schema().names()
    frame = rows.frame.select(name for name in needed if name in present).collect().lazy()
    spread = in_periods(
        with_client(frame, validated=rows.validated).select(
            schema.STATUS,
            schema.PROVIDER,
            HIGH,
            LOW,
            "start_date",
            "end_date",
            *(name for name in dimensions if name != schema.PROVIDER),
        ),
        chosen,
    )
    several = (
        spread.filter(linkable_key())
        .group_by(PERIOD, HIGH, LOW)
        .agg(pl.col(schema.PROVIDER).n_unique().alias(_PROVIDERS))
    )
    cells = [
        _cells(spread, several, None),
        *(_cells(spread, several, dimension) for dimension in dimensions),
    ]
    cells_trajectories = []
    if has_forms:
        merged = trajectories(frame, keep=[d for d in dimensions if d != "care_form"])
        cells_trajectories = [
            _trajectory_cells(in_periods(merged.lazy(), chosen), dimension)
            for dimension in (None, *dimensions)
        ]
    tables = pl.collect_all([*cells, *cells_trajectories])
    return pl.concat(tables[: len(cells)], how="vertical"), tables[len(cells) :]


def _added(tables: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Counts per (period, dimension, value) of several partitions added up (one partition's
    as they are)."""
    if len(tables) == 1:
        return tables[0]
    table = pl.concat(tables, how="vertical")
    counts = [name for name in table.columns if name not in (PERIOD, "dimension", "value")]
    return (
        table.group_by(PERIOD, "dimension", "value", maintain_order=True)
        .agg(pl.col(name).sum() for name in counts)
        .with_columns(pl.col(name).cast(table.schema[name]) for name in counts)
    )


def linkable_key() -> pl.Expr:
    """Rows with a client key (a valid BSN)."""
    return pl.col(HIGH).is_not_null()


def _value(dimension: str | None) -> pl.Expr:
    if dimension is None:
        return pl.lit(None, dtype=pl.String).alias(_VALUE)
    return pl.col(dimension).cast(pl.String).alias(_VALUE)


def _cells(spread: pl.LazyFrame, several: pl.LazyFrame, dimension: str | None) -> pl.LazyFrame:
    """Per period and value: the counts of :data:`SERIES_COLUMNS` but trajectories."""
    keyed = spread.with_columns(_value(dimension))
    rows = keyed.group_by(PERIOD, _VALUE).agg(
        pl.len().alias("registrations"),
        (~linkable_key()).sum().alias("rows_without_valid_bsn"),
    )
    clients = (
        keyed.filter(linkable_key())
        .select(PERIOD, _VALUE, HIGH, LOW)
        .unique()
        .join(several, on=[PERIOD, HIGH, LOW])
        .group_by(PERIOD, _VALUE)
        .agg(
            pl.len().alias("unique_clients"),
            (pl.col(_PROVIDERS) >= 2).sum().alias("clients_several_providers"),
        )
    )
    return rows.join(clients, on=[PERIOD, _VALUE], how="left", nulls_equal=True).select(
        PERIOD,
        pl.lit("total" if dimension is None else dimension).alias("dimension"),
        pl.col(_VALUE).alias("value"),
        pl.col("unique_clients").fill_null(0).cast(pl.UInt32),
        pl.col("registrations").cast(pl.UInt32),
        pl.col("rows_without_valid_bsn").cast(pl.UInt32),
        pl.col("clients_several_providers").fill_null(0).cast(pl.UInt32),
    )


def _trajectory_cells(spread: pl.LazyFrame, dimension: str | None) -> pl.LazyFrame:
    return (
        spread.with_columns(_value(dimension))
        .group_by(PERIOD, _VALUE)
        .agg(pl.len().cast(pl.UInt32).alias("trajectories"))
        .select(
            PERIOD,
            pl.lit("total" if dimension is None else dimension).alias("dimension"),
            pl.col(_VALUE).alias("value"),
            "trajectories",
        )
    )


def _complete(counted: pl.DataFrame, periods: int, *, trajectories: bool) -> pl.DataFrame:
    """Every (dimension, value) in every period, zero where a period has none, so a series has no
    holes; a period without any row still has its total row. Without care forms there are no
    trajectories to count: that column stays empty."""
    cells = counted.select("dimension", "value").unique()
    totals = pl.DataFrame({"dimension": ["total"], "value": pl.Series([None], dtype=pl.String)})
    cells = pl.concat([cells, totals], how="vertical").unique()
    grid = pl.DataFrame({PERIOD: pl.Series(range(periods), dtype=pl.UInt32)}).join(
        cells, how="cross"
    )
    counts = [
        name
        for name in counted.columns
        if name not in (PERIOD, "dimension", "value") and (trajectories or name != "trajectories")
    ]
    joined = grid.join(counted, on=[PERIOD, "dimension", "value"], how="left", nulls_equal=True)
    return joined.with_columns(pl.col(name).fill_null(0) for name in counts)
