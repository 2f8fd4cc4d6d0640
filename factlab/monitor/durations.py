"""Durations of trajectories per care form and provider, with open trajectories censored.

A trajectory is one care form at one provider, overlapping episodes merged
(:func:`factlab.analysis.flows.trajectories`). Its duration is counted in days, first and last
day included. The trajectories measured are those that *started* in the chosen periods (a
cohort: a trajectory that began before the data did would enter with only its later part, and
make durations look longer than they are). A trajectory still open at ``until`` (the last day
the data can tell about: ongoing, or ending after it) has not ended: its duration is at least
its days up to ``until``. Treating it as ended there would make durations look shorter, so it is
*censored*, and the quartiles come from the Kaplan–Meier estimate of the share still in care
after each number of days:

    S(t) = product over the durations u ≤ t at which trajectories ended of (1 − d_u / n_u)

with d_u the trajectories that ended after u days and n_u those still in care (not ended, not
censored) just before. The median is the first duration at which S falls to one half or below,
the first quartile where it falls to 3/4, the third where it falls to 1/4; a quartile that S
never reaches (too many open trajectories) is empty, not guessed. The estimate is computed for
all groups at once, with one sort and running sums: no loop per group or trajectory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import polars as pl

from factlab._checks import as_date, as_period, require_names
from factlab.analysis.flows import trajectories
from factlab.analysis.overlap import INTERNAL_NOTICE, check_dimension
from factlab.errors import ConfigError
from factlab.monitor._source import (
    MonitorRows,
    MonitorSource,
    check_series_periods,
    open_partitions,
    require_source,
)
from factlab.periods import Period

__all__ = ["DURATION_COLUMNS", "DurationResult", "durations", "kaplan_meier_quartiles"]

#: The figures of each row of a durations table, after its dimension columns.
DURATION_COLUMNS: Final = (
    "trajectories",
    "ended",
    "still_open",
    "share_still_open",
    "q1_days",
    "median_days",
    "q3_days",
)
_GROUP: Final = "_group"
_UNKNOWN: Final = "(unknown)"


@dataclass(frozen=True)
class DurationResult:
    """Durations of trajectories per cell.

    Attributes:
        periods: the periods in which the trajectories started.
        until: the last day the data can tell about; later ends are censored here.
        by: the dimensions (care form and provider by default).
        table: one row per cell: the ``by`` columns (null: all values; the total row has all
            null, then each dimension alone, then every combination), then
            :data:`DURATION_COLUMNS`.
        unknown_start: trajectories left out because their start is unknown.
        source: non-secret facts about the input.
    """

    periods: tuple[Period, ...]
    until: date
    by: tuple[str, ...]
    table: pl.DataFrame
    unknown_start: int
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-monitor-durations",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {
                "started_in": [period.label for period in self.periods],
                "until": self.until.isoformat(),
                "by": list(self.by),
                "estimator": "kaplan-meier, open trajectories censored at until",
            },
            "unknown_start": self.unknown_start,
            "source": dict(self.source),
        }


def kaplan_meier_quartiles(measured: pl.LazyFrame, groups: Sequence[str]) -> pl.LazyFrame:
    """Per group: trajectories, ended, still open, and the Kaplan–Meier quartiles of duration.

    ``measured`` has the ``groups`` columns, ``days`` (the duration, or the days up to the
    censoring) and ``ended`` (Boolean).

    Example:
        >>> measured = pl.LazyFrame({"g": ["a"] * 4, "days": [10, 20, 30, 40],
        ...                          "ended": [True, False, True, True]})
        >>> kaplan_meier_quartiles(measured, ["g"]).collect().select(
        ...     "q1_days", "median_days", "q3_days").rows()
        [(10, 30, 40)]
    """
    return _quartiles(_at_times(measured, groups), groups)


def _at_times(measured: pl.LazyFrame, groups: Sequence[str]) -> pl.LazyFrame:
    """Per group and duration: the trajectories of that duration (``_leaving``) and of them
    the ended ones (``_ended``). Counts: those of partitions by client add up."""
    if not groups:
        measured = measured.with_columns(pl.lit(0).alias(_GROUP))
    names = list(groups) or [_GROUP]
    return measured.group_by(*names, "days").agg(
        pl.len().alias("_leaving"), pl.col("ended").sum().alias("_ended")
    )


def _quartiles(counted: pl.LazyFrame, groups: Sequence[str]) -> pl.LazyFrame:
    """:func:`kaplan_meier_quartiles` of the counts of :func:`_at_times`."""
    names = list(groups) or [_GROUP]
    at_times = counted.sort(*names, "days")
    # At risk at a duration: the trajectories of the group with that duration or a longer one.
    at_risk = pl.col("_leaving").cum_sum(reverse=True).over(names)
    survival = (1.0 - pl.col("_ended") / at_risk).cum_prod().over(names)
    curve = at_times.with_columns(survival.alias("_survival"))

    def quantile(level: float, name: str) -> pl.Expr:
        return pl.col("days").filter(pl.col("_survival") <= level + 1e-12).min().alias(name)

    summary = curve.group_by(names).agg(
        pl.col("_leaving").sum().cast(pl.UInt32).alias("trajectories"),
        pl.col("_ended").sum().cast(pl.UInt32).alias("ended"),
        quantile(0.75, "q1_days"),
        quantile(0.5, "median_days"),
        quantile(0.25, "q3_days"),
    )
    return summary.with_columns(
        (pl.col("trajectories") - pl.col("ended")).alias("still_open"),
    ).with_columns((pl.col("still_open") / pl.col("trajectories")).alias("share_still_open"))


def durations(
    source: MonitorSource,
    started_in: Sequence[Period | str],
    *,
    until: date | str | None = None,
    by: Iterable[str] = ("care_form", "provider"),
    partitions: int | None = None,
) -> DurationResult:
    """Duration of trajectories started in ``started_in``: median, quartiles, share still open.

    Args:
        source: a linked file, its rows, or a monitor store; needs ``care_form`` and dates.
        started_in: the periods in which the trajectories measured started (in order).
        until: the last day the data tells about (default: the last day every provider's
            deliveries cover, from the linked file's or store's manifest; for rows without
            one, the last day of the last period); a trajectory open then is censored there.
        by: the dimensions of the cells (a trajectory's first episode's value).
        partitions: read the input in this many partitions by client (default: one per 5
            million rows of a store or linked file); the figures do not depend on it: the
            partitions' counts per duration are added before the estimate is made.

    Raises:
        ConfigError: a period (or ``until``) the deliveries do not cover for every provider;
            periods overlapping or ``until`` before the last period's start, a ``by`` that is
            not a dimension, or ``partitions`` not from 1 to 4096.

    Example:
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "b" * 32, "c" * 32], "bsn_status": ["valid"] * 3,
        ...     "provider": ["P1"] * 3, "care_form": ["ambulant"] * 3,
        ...     "start_date": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)],
        ...     "end_date": [date(2024, 1, 10), None, date(2024, 3, 30)]})
        >>> result = durations(rows, ["2024"], by=["care_form"])
        >>> result.table.select("care_form", "trajectories", "still_open", "median_days").rows()
        [(None, 3, 1, 30), ('ambulant', 3, 1, 30)]
    """
    require_source(source, where="durations")
    periods = tuple(
        as_period(period, where="durations", name="started_in") for period in started_in
    )
    check_series_periods(periods)
    given = None if until is None else as_date(until, where="durations", name="until")
    if given is not None and given < periods[-1].start:
        raise ConfigError("until", ["until: before the start of the last period"])
    dimensions = tuple(dict.fromkeys(require_names(by, where="durations", name="by")))
    for dimension in dimensions:
        check_dimension(dimension)
    parts = open_partitions(
        source, partitions, columns=("care_form", *dimensions), dates=True, where="durations"
    )
    rows = parts[0]
    rows.check_covered(periods, until=given, where="durations")
    # open trajectories are censored where the deliveries end, not where the periods asked end
    horizon = given or rows.last_covered() or periods[-1].end
    sets: list[tuple[str, ...]] = [(), *((name,) for name in dimensions)]
    if len(dimensions) > 1:
        sets.append(dimensions)
    # per partition (one at a time) the counts per group and duration; a trajectory is one
    # client's, so they add up to the whole input's
    counted: list[list[pl.DataFrame]] = [[] for _ in sets]
    unknown_count = 0
    for part in parts:
        *found, unknown = pl.collect_all(
            _partition_counts(part, periods, horizon, dimensions, sets)
        )
        unknown_count += int(unknown.item())
        for each, table in zip(counted, found, strict=True):
            each.append(table)
    plans = [
        _quartiles(_added(tables, grouping), list(grouping))
        .with_columns(
            pl.lit(None, dtype=pl.String).alias(name) for name in dimensions if name not in grouping
        )
        .select(*dimensions, *DURATION_COLUMNS)
        for tables, grouping in zip(counted, sets, strict=True)
    ]
    tables = pl.collect_all(plans)
    table = pl.concat(
        [
            (frame.sort(dimensions, nulls_last=True) if dimensions else frame).with_columns(
                pl.col(name).cast(pl.String) for name in dimensions
            )
            for frame in tables
        ],
        how="vertical_relaxed",
    )
    return DurationResult(periods, horizon, dimensions, table, unknown_count, rows.provenance)


def _partition_counts(
    rows: MonitorRows,
    periods: Sequence[Period],
    horizon: date,
    dimensions: Sequence[str],
    sets: Sequence[Sequence[str]],
) -> list[pl.LazyFrame]:
    """Of one partition: per grouping the counts per duration (:func:`_at_times`), then the
    trajectories of unknown start."""
    keep = [name for name in dimensions if name not in ("provider", "care_form")]
    merged = trajectories(rows.frame, keep=keep).lazy()
    unknown = merged.filter(pl.col("start_date").is_null()).select(pl.len())
    started = pl.lit(False)
    for period in periods:
        started = started | pl.col("start_date").is_between(period.start, min(period.end, horizon))
    ended = pl.col("end_date").is_not_null() & (pl.col("end_date") <= horizon)
    last = pl.when(ended).then(pl.col("end_date")).otherwise(pl.lit(horizon))
    measured = merged.filter(started).select(
        *(pl.col(name).cast(pl.String).fill_null(_UNKNOWN) for name in dimensions),
        ((last - pl.col("start_date")).dt.total_days() + 1).alias("days"),
        ended.alias("ended"),
    )
    return [*(_at_times(measured, list(grouping)) for grouping in sets), unknown]


def _added(tables: Sequence[pl.DataFrame], grouping: Sequence[str]) -> pl.LazyFrame:
    """The counts per group and duration of several partitions, added up."""
    if len(tables) == 1:
        return tables[0].lazy()
    names = list(grouping) or [_GROUP]
    table = pl.concat(tables, how="vertical")
    return (
        table.lazy()
        .group_by(*names, "days")
        .agg(pl.col("_leaving", "_ended").sum())
        .with_columns(
            pl.col("_leaving").cast(table.schema["_leaving"]),
            pl.col("_ended").cast(table.schema["_ended"]),
        )
    )
