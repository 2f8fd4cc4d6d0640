"""Cost per unique client per period, and its change split into volume and intensity.

**Cost of a period.** A linked file with deliveries per period keeps each delivery's cost of a
row with the days it is of (``cost_pieces``: :mod:`factlab.analysis.deliveries`); each piece is
spread evenly over its own days, so a period's cost is what the deliveries for it say, whatever
periods are asked. A row without pieces (a file linked without periods, or a frame) has one
amount: it is spread evenly over its days in care from the first period's start (days before it
were not delivered) to its end, or to ``until`` when it is ongoing. Each period gets the cost of
its days. This is exact when cost accrues evenly by day within what was delivered, and otherwise
the best one amount allows. A cost without a day to place it (no start date) is left out and
counted (``rows_cost_unplaced``).

**Clients.** The unique clients of a cell in a period are those in care in it (as in
:func:`factlab.monitor.series.series`), with a valid BSN; ``cost_per_client`` divides the cell's
cost of those clients by them. The cost of rows without a valid BSN is reported apart.

**Change.** From one period to the next, total cost C = N × I (N clients, I cost per client)
changes by ΔC = C₁ − C₀ = volume + intensity, with

    volume    = (N₁ − N₀) × (I₀ + I₁) / 2    (more or fewer clients, at the average intensity)
    intensity = (I₁ − I₀) × (N₀ + N₁) / 2    (more or less cost per client, at the average volume)

which add up to ΔC exactly (the symmetric, midpoint split: neither period is the base).

**Given counts.** :func:`cost_change` is exact and internal. :func:`change_split` applies the
same split to costs and client counts the caller supplies, e.g. a report's published (rounded)
counts, so that every figure it gives is a function of those numbers only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import polars as pl

from factlab._checks import as_date, as_period, require_names
from factlab.analysis.deliveries import COST_PIECES
from factlab.analysis.overlap import INTERNAL_NOTICE, check_dimension
from factlab.errors import DataError, InputError
from factlab.monitor._source import (
    HIGH,
    LOW,
    PERIOD,
    MonitorSource,
    check_series_periods,
    in_periods,
    open_rows,
    period_columns,
    require_source,
    with_client,
)
from factlab.periods import Period

__all__ = ["COST_CHANGE_COLUMNS", "CostChangeResult", "change_split", "cost_change"]

#: The columns of a cost-change table, in order.
COST_CHANGE_COLUMNS: Final = (
    "period",
    "period_start",
    "period_end",
    "dimension",
    "value",
    "cost",
    "unique_clients",
    "cost_per_client",
    "change",
    "volume_effect",
    "intensity_effect",
    "cost_without_valid_bsn",
)
_VALUE: Final = "_value"


@dataclass(frozen=True)
class CostChangeResult:
    """Cost per unique client per period and cell, with the change from the previous period.

    Attributes:
        periods: the periods, in order.
        by: the dimensions of the per-value rows.
        until: the day ongoing rows' cost is spread to.
        table: :data:`COST_CHANGE_COLUMNS`; the change columns are empty in the first period.
        rows_cost_unplaced: rows with a cost but no start date, left out.
        source: non-secret facts about the input.
    """

    periods: tuple[Period, ...]
    by: tuple[str, ...]
    until: date
    table: pl.DataFrame
    rows_cost_unplaced: int
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-monitor-cost-change",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {
                "periods": [period.label for period in self.periods],
                "by": list(self.by),
                "until": self.until.isoformat(),
                "spread": "each delivery's cost evenly over its own days (cost_pieces); else "
                "evenly over the days in care from the first period's start",
                "split": "midpoint: volume = dN * mean(I), intensity = dI * mean(N)",
            },
            "rows_cost_unplaced": self.rows_cost_unplaced,
            "source": dict(self.source),
        }


def cost_change(
    source: MonitorSource,
    periods: Sequence[Period | str],
    *,
    by: Iterable[str] = ("provider", "municipality"),
    until: date | str | None = None,
) -> CostChangeResult:
    """Cost, unique clients and cost per client per period and cell; change into volume and
    intensity.

    Args:
        source: a linked file, its rows, or a monitor store; needs ``cost`` and dates.
        periods: the periods, in order and not overlapping (years, usually).
        by: the dimensions of the per-value rows (provider and municipality by default).
        until: the day an ongoing row without cost pieces is spread to (default: the last day
            every provider's deliveries cover; for rows without a manifest, the last period's
            end).

    Raises:
        InputError: the source lacks ``cost`` or a ``by`` column.
        DataError: a cost is negative or not finite.
        ConfigError: periods overlap, a ``by`` is not a dimension, or a period (or ``until``)
            is not covered by every provider's deliveries.

    Example:
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "b" * 32, "c" * 32], "bsn_status": ["valid"] * 3,
        ...     "provider": ["P1"] * 3, "cost": [730.0, 365.0, 800.0],
        ...     "start_date": [date(2023, 1, 1), date(2023, 1, 1), date(2024, 1, 1)],
        ...     "end_date": [date(2024, 12, 30), date(2023, 12, 31), date(2024, 12, 30)]})
        >>> table = cost_change(rows, ["2023", "2024"], by=[]).table
        >>> table.select("period", "cost", "unique_clients", "change").rows()
        [('2023', 730.0, 2, None), ('2024', 1165.0, 2, 435.0)]
        >>> table.select("volume_effect", "intensity_effect").row(1)
        (0.0, 435.0)
    """
    require_source(source, where="cost_change")
    chosen = tuple(as_period(period, where="cost_change", name="periods") for period in periods)
    check_series_periods(chosen)
    given = None if until is None else as_date(until, where="cost_change", name="until")
    dimensions = tuple(dict.fromkeys(require_names(by, where="cost_change", name="by")))
    for dimension in dimensions:
        check_dimension(dimension)
    rows = open_rows(source, columns=dimensions, dates=True)
    rows.check_covered(chosen, until=given, where="cost_change")
    horizon = given or rows.last_covered() or chosen[-1].end
    present = rows.frame.collect_schema()
    if "cost" not in present:
        raise InputError(f"{rows.name}: lacks column cost, which cost per client needs")
    if not present["cost"].is_numeric():
        raise DataError(f"{rows.name}: column cost must be numeric")
    frame = with_client(rows.frame, validated=rows.validated).with_columns(
        pl.col("cost").cast(pl.Float64)
    )
    keep = [HIGH, LOW, *dimensions]
    in_care = in_periods(frame.select(*keep, "start_date", "end_date"), chosen).select(
        PERIOD, *keep
    )
    if COST_PIECES in present:
        # each delivery's cost with the days it is of (:mod:`factlab.analysis.deliveries`)
        piece = pl.col(COST_PIECES).struct
        pieces = (
            frame.select(*keep, COST_PIECES)
            .explode(COST_PIECES)
            .select(
                *keep,
                piece.field("from").alias("_from"),
                piece.field("to").alias("_to"),
                piece.field("cost").alias("cost"),
            )
        )
    else:
        # one amount for the row's days in care from the first period's start to its end
        pieces = frame.select(
            *keep,
            pl.when(pl.col("start_date").is_not_null())
            .then(pl.max_horizontal(pl.col("start_date"), pl.lit(chosen[0].start)))
            .alias("_from"),
            pl.min_horizontal(pl.col("end_date").fill_null(pl.lit(horizon)), pl.lit(horizon)).alias(
                "_to"
            ),
            "cost",
        )
    placed = pieces.filter(pl.col("_from").is_not_null() & pl.col("_to").is_not_null())
    unplaced = pieces.filter(
        (pl.col("_from").is_null() | pl.col("_to").is_null()) & pl.col("cost").is_not_null()
    ).select(pl.len())
    bad = frame.filter(
        pl.col("cost").is_not_null() & ((pl.col("cost") < 0) | ~pl.col("cost").is_finite())
    ).select(pl.len())
    span = _days(pl.col("_from"), pl.col("_to"))
    periods_frame = period_columns(chosen).lazy()
    spread = (
        in_periods(placed, chosen, start="_from", end="_to")
        .join(periods_frame.select(PERIOD, "period_start", "period_end"), on=PERIOD)
        .with_columns(
            (
                pl.col("cost")
                * _days(
                    pl.max_horizontal(pl.col("_from"), pl.col("period_start")),
                    pl.min_horizontal(pl.col("_to"), pl.col("period_end")),
                ).clip(lower_bound=0)
                / span.clip(lower_bound=1)
            )
            .fill_null(0.0)
            .alias("_cost")
        )
        .select(PERIOD, *keep, "_cost")
    )
    plans = [_cells(in_care, spread, name, len(chosen)) for name in (None, *dimensions)]
    *tables, unplaced_count, bad_count = pl.collect_all([*plans, unplaced, bad])
    if bad_count.item():
        raise DataError(
            f"{rows.name}: {bad_count.item()} rows have a negative or non-finite cost; correct "
            "them at the source, or leave the cost empty"
        )
    order = {name: index for index, name in enumerate(("total", *dimensions))}
    table = (
        pl.concat(tables, how="vertical")
        .sort("dimension", "value", PERIOD, nulls_last=True)
        .with_columns(_change(PERIOD))
        .join(period_columns(chosen), on=PERIOD)
        .with_columns(
            pl.col("dimension").replace_strict(order, return_dtype=pl.UInt32).alias("_order")
        )
        .sort(PERIOD, "_order", "value", nulls_last=True)
        .select(COST_CHANGE_COLUMNS)
    )
    return CostChangeResult(
        chosen, dimensions, horizon, table, int(unplaced_count.item()), rows.provenance
    )


def _days(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    return (last - first).dt.total_days() + 1


def _cells(
    in_care: pl.LazyFrame, spread: pl.LazyFrame, dimension: str | None, count: int
) -> pl.LazyFrame:
    """Per period and value: the cost (of valid clients, and apart of the rest) and the unique
    clients in care; every chosen period of every value, so that a change is always against the
    previous period, also when a period has no rows."""
    value = (
        pl.lit(None, dtype=pl.String) if dimension is None else pl.col(dimension).cast(pl.String)
    )
    valid = pl.col(HIGH).is_not_null()
    costs = (
        spread.with_columns(value.alias(_VALUE))
        .group_by(PERIOD, _VALUE)
        .agg(
            pl.col("_cost").filter(valid).sum().alias("cost"),
            pl.col("_cost").filter(~valid).sum().alias("cost_without_valid_bsn"),
        )
    )
    keyed = in_care.with_columns(value.alias(_VALUE))
    clients = (
        keyed.filter(valid)
        .select(PERIOD, _VALUE, HIGH, LOW)
        .unique()
        .group_by(PERIOD, _VALUE)
        .agg(pl.len().cast(pl.UInt32).alias("unique_clients"))
    )
    values = pl.concat(
        [keyed.select(_VALUE), spread.select(value.alias(_VALUE))], how="vertical"
    ).unique()
    every_period = pl.LazyFrame({PERIOD: pl.Series(range(count), dtype=pl.UInt32)})
    grid = values.join(every_period, how="cross")
    return (
        grid.join(costs, on=[PERIOD, _VALUE], how="left", nulls_equal=True)
        .join(clients, on=[PERIOD, _VALUE], how="left", nulls_equal=True)
        .select(
            PERIOD,
            pl.lit("total" if dimension is None else dimension).alias("dimension"),
            pl.col(_VALUE).alias("value"),
            pl.col("cost").fill_null(0.0),
            pl.col("unique_clients").fill_null(0),
            pl.col("cost_without_valid_bsn").fill_null(0.0),
        )
        .with_columns(
            pl.when(pl.col("unique_clients") > 0)
            .then(pl.col("cost") / pl.col("unique_clients"))
            .alias("cost_per_client")
        )
    )


def _change(period: str) -> list[pl.Expr]:
    """ΔC and its volume and intensity parts against the previous period of the same cell
    (rows sorted by cell, then period). A cell without clients in one of the two periods has
    no intensity there: its whole change is volume."""
    cell = ["dimension", "value"]
    previous_cost = pl.col("cost").shift(1).over(cell)
    previous_clients = pl.col("unique_clients").shift(1).over(cell).cast(pl.Float64)
    previous_intensity = pl.col("cost_per_client").shift(1).over(cell)
    clients = pl.col("unique_clients").cast(pl.Float64)
    intensity = pl.col("cost_per_client")
    change = pl.col("cost") - previous_cost
    both = intensity.is_not_null() & previous_intensity.is_not_null()
    intensity_effect = (
        pl.when(both)
        .then((intensity - previous_intensity) * (clients + previous_clients) / 2)
        .otherwise(0.0)
    )
    first = pl.col(period) == pl.col(period).min().over(cell)
    return [
        pl.when(first).then(None).otherwise(change).alias("change"),
        pl.when(first).then(None).otherwise(change - intensity_effect).alias("volume_effect"),
        pl.when(first).then(None).otherwise(intensity_effect).alias("intensity_effect"),
    ]


def change_split(cost: Sequence[float | None], clients: Sequence[int | None]) -> pl.DataFrame:
    """Cost per client and the change split into volume and intensity, from given figures.

    The same midpoint split as :func:`cost_change`, on the costs and client counts of
    consecutive periods as given (for a public report: the published, rounded ones), so that
    nothing in the result depends on anything else. A null cost or count is unknown: the
    figures that need it are null (a period with a known zero count has no cost per client,
    and its change against a neighbour is all volume, as in :func:`cost_change`).

    Args:
        cost: the cost of each period, in order.
        clients: the unique clients of each period, in order.

    Returns:
        One row per period: ``cost``, ``unique_clients``, ``cost_per_client``, ``change``,
        ``volume_effect``, ``intensity_effect`` (the last three null in the first period).

    Raises:
        DataError: the two have different lengths, or a count is negative.

    Example:
        >>> split = change_split([8_000.0, 9_900.0], [400, 450])
        >>> split.select("cost_per_client", "change").rows()
        [(20.0, None), (22.0, 1900.0)]
        >>> split.select("volume_effect", "intensity_effect").row(1)
        (1050.0, 850.0)
    """
    if len(cost) != len(clients):
        raise DataError(
            f"change_split: {len(cost)} costs for {len(clients)} client counts; give one each"
        )
    if any(n is not None and n < 0 for n in clients):
        raise DataError("change_split: a client count is negative")
    frame = pl.DataFrame(
        {"cost": list(cost), "unique_clients": list(clients)},
        schema={"cost": pl.Float64, "unique_clients": pl.Int64},
    ).with_row_index("_order")
    known = pl.col("unique_clients").is_not_null() & pl.col("cost").is_not_null()
    both_known = known & known.shift(1)
    return (
        frame.with_columns(
            pl.when(known & (pl.col("unique_clients") > 0))
            .then(pl.col("cost") / pl.col("unique_clients"))
            .alias("cost_per_client"),
            pl.lit("total").alias("dimension"),
            pl.lit(None, dtype=pl.String).alias("value"),
        )
        .with_columns(_change("_order"))
        .select(
            "cost",
            "unique_clients",
            "cost_per_client",
            *(
                pl.when(both_known).then(pl.col(name)).alias(name)
                for name in ("change", "volume_effect", "intensity_effect")
            ),
        )
    )
