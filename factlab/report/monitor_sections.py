"""The further protected tables of a monitor report: costs per provider and municipality,
re-entry after care ended, and durations per period started.

As in :mod:`factlab.report.monitor_tables`, every value shown is a value of a protected table,
or computed from published values only, and this module only ever *hides* more.

- **Cost per client by a dimension** (provider, municipality). The unique clients of each value
  in each period are those the series publishes for that dimension (protected per period with
  the other series dimensions, :func:`~factlab.report.monitor_tables.protect_series`). The cost
  of a value in a period is published rounded to
  :data:`~factlab.report.monitor_tables.COST_UNIT` euro, and only where its clients are
  published: the cost per client is that rounded cost divided by the *published* clients n̂
  (so it gives back n̂, never the exact n). Where a period hides some values' clients, the costs
  of those values are hidden, and so is the cost of the value with the fewest published
  clients: the region's total cost is published, so the hidden costs add up to a known sum,
  and that sum must never be the cost of small groups alone. The choice reads published
  numbers only, so whether a cost is hidden says nothing the published counts do not.
- **Change of the cost by a dimension** between two periods: the change of the rounded costs
  and its midpoint split into volume and intensity
  (:func:`~factlab.monitor.cost_change.change_split`) from the published clients, only where
  both periods show the value's cost.
- **Re-entry.** Per period, the spells of care that ended in it, split into *re-entered within
  the window*, *not re-entered* and *window still open*: an additive table with the spells
  ended as its total, protected per period on its own (periods are disjoint sets of spells).
  The share re-entered is computed from the published values (re-entered / (ended − open)),
  only where all three are published and the spells whose window closed (ended − open) are at
  least the threshold for every exact count that rounds to the published ones (two counts each
  rounded to a multiple of b make a difference up to b − 1 off), and where every set of exact
  counts that round to the published ones gives a share within :data:`SHARE_MARGIN` points of
  the one shown: a share of a few dozen spells computed from rounded counts can be far from the
  truth (shown 67 % where it is 100 %). Both tests read published values and the rules only.
- **Durations per period started.** Per period, the trajectories that started in it (a cohort)
  are protected as the durations table protects them
  (:func:`~factlab.report.monitor_tables.protect_durations`); their median is shown where that
  table would show it (published trajectories, at least the threshold for every exact count
  that rounds to the published one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

import polars as pl

from factlab.disclosure.protect import ProtectedTable, protect
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.monitor.cost_change import CostChangeResult, change_split
from factlab.monitor.durations import DurationResult
from factlab.monitor.transitions import ReentryResult
from factlab.periods import Period
from factlab.report.labels import UNKNOWN
from factlab.report.monitor_tables import COST_UNIT, PublishedSeries, long_table, protect_durations

__all__ = [
    "CHANGE_FIGURES",
    "REENTRY_FIGURES",
    "SHARE_MARGIN",
    "durations_by_period",
    "protect_cost_change_by",
    "protect_costs_by",
    "protect_reentry",
    "published_clients",
]

#: The figures of a change-by-dimension table, in order.
CHANGE_FIGURES: Final = ("cost_before", "cost_after", "change", "volume", "intensity")
#: The figures of the re-entry table, in order.
REENTRY_FIGURES: Final = ("spells_ended", "reentered", "window_open", "share_reentered")
_OUTCOMES: Final = ("reentered", "not_reentered", "window_open")
#: The share re-entered is shown only where the exact share is within this many percentage
#: points of it, whatever exact counts lie behind the published (rounded) ones.
SHARE_MARGIN: Final = 5


def _half_up(value: float, unit: int = 1) -> int:
    """``value`` rounded to a multiple of ``unit``, halves away from zero (as a reader would)."""
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) / unit + 0.5) * unit


def published_clients(
    published: PublishedSeries, dimension: str
) -> dict[str, dict[str, int | None]]:
    """Per period label, per value of ``dimension`` (a missing one as ``unknown``), its
    published unique clients (None: hidden). The total is left out."""
    found: dict[str, dict[str, int | None]] = {}
    for period, tables in published.clients.items():
        frame = tables[dimension].frame.filter(pl.col(dimension).is_not_null())
        found[period] = {
            str(value): count if status == "published" else None
            for value, count, status in frame.select(
                dimension, "unique_clients", pl.col("unique_clients_status").cast(pl.String)
            ).iter_rows()
        }
    return found


def _exact_costs(result: CostChangeResult, dimension: str) -> dict[str, dict[str, float]]:
    rows = result.table.filter(pl.col("dimension") == dimension).with_columns(
        pl.col("value").cast(pl.String).fill_null(UNKNOWN)
    )
    found: dict[str, dict[str, float]] = {}
    for period, value, cost in rows.select("period", "value", "cost").iter_rows():
        found.setdefault(str(period), {})[str(value)] = float(cost or 0.0)
    return found


def _shown_costs(
    result: CostChangeResult, dimension: str, clients: Mapping[str, Mapping[str, int | None]]
) -> dict[str, dict[str, int | None]]:
    """Per period and value: the cost rounded to COST_UNIT euro, or None where hidden."""
    costs = _exact_costs(result, dimension)
    shown: dict[str, dict[str, int | None]] = {}
    for period, counts in clients.items():
        values = sorted(set(counts) | set(costs.get(period, {})))
        visible = {value: counts.get(value) for value in values}
        if any(count is None for count in visible.values()):
            # the hidden costs add up to (total − shown): never the cost of small groups alone
            published = [(count, value) for value, count in visible.items() if count is not None]
            if published:
                visible[min(published)[1]] = None
        shown[period] = {
            value: None
            if count is None
            else _half_up(costs.get(period, {}).get(value, 0.0), COST_UNIT)
            for value, count in visible.items()
        }
    return shown


def _status(value: int | None) -> str:
    return "suppressed" if value is None else "published"


def protect_costs_by(
    result: CostChangeResult,
    dimension: str,
    clients: Mapping[str, Mapping[str, int | None]],
    base: ProtectedTable,
) -> ProtectedTable:
    """Cost per client per period and value of ``dimension`` (see the module), in euro.

    Args:
        result: exact costs with per-value rows for ``dimension``; only its costs are read.
        dimension: the dimension.
        clients: :func:`published_clients` of the dimension.
        base: a protected table whose rules the result carries.
    """
    costs = _shown_costs(result, dimension, clients)
    periods, values, shown = [], [], []
    for period, by_value in costs.items():
        for value, cost in by_value.items():
            count = clients[period].get(value)
            periods.append(period)
            values.append(value)
            shown.append(None if cost is None or not count else _half_up(cost / count))
    frame = pl.DataFrame(
        {
            "period": periods,
            "figure": values,
            "value": pl.Series(shown, dtype=pl.Int64),
            "value_status": [_status(value) for value in shown],
        }
    )
    table = long_table(base, frame, "period")
    return replace(
        table, frame=table.frame.rename({"figure": dimension}), dimensions=("period", dimension)
    )


def protect_cost_change_by(
    result: CostChangeResult,
    dimension: str,
    clients: Mapping[str, Mapping[str, int | None]],
    pair: tuple[Period, Period],
    base: ProtectedTable,
) -> ProtectedTable:
    """The change of each value's cost from ``pair[0]`` to ``pair[1]``, split into volume and
    intensity, from the shown (rounded) costs and published clients only; the costs of both
    periods in thousands of euro (figures :data:`CHANGE_FIGURES`)."""
    costs = _shown_costs(result, dimension, clients)
    before, after = (period.label for period in pair)
    values = sorted(set(costs.get(before, {})) | set(costs.get(after, {})))
    rows: list[tuple[str, str, int | None]] = []
    for value in values:
        cost = [costs.get(label, {}).get(value) for label in (before, after)]
        count = [clients.get(label, {}).get(value) for label in (before, after)]
        split: dict[str, float | None] = {}
        if all(item is not None for item in (*cost, *count)):
            split = change_split([float(c or 0) for c in cost], count).row(1, named=True)
        figures = {
            "cost_before": None if cost[0] is None else cost[0] / COST_UNIT,
            "cost_after": None if cost[1] is None else cost[1] / COST_UNIT,
            "change": split.get("change"),
            "volume": split.get("volume_effect"),
            "intensity": split.get("intensity_effect"),
        }
        rows += [
            (value, figure, None if amount is None else _half_up(float(amount)))
            for figure, amount in figures.items()
        ]
    frame = pl.DataFrame(
        {
            dimension: [row[0] for row in rows],
            "figure": [row[1] for row in rows],
            "value": pl.Series([row[2] for row in rows], dtype=pl.Int64),
            "value_status": [_status(row[2]) for row in rows],
        },
        schema_overrides={dimension: pl.String},
    )
    return long_table(base, frame, dimension)


def reentry_counts(result: ReentryResult) -> pl.DataFrame:
    """The exact counts of the re-entry table: per period, spells per outcome and their total.

    Example:
        >>> from datetime import date
        >>> from factlab.monitor.transitions import ReentryResult
        >>> from factlab.periods import parse_period
        >>> result = ReentryResult((parse_period("2023"),), 12, date(2024, 12, 31), pl.DataFrame(
        ...     {"period": ["2023"], "spells_ended": [30], "reentered": [4], "window_open": [6]}))
        >>> reentry_counts(result).rows()
        [('2023', 'reentered', 4), ('2023', 'not_reentered', 20), ('2023', 'window_open', 6), \
('2023', None, 30)]
    """
    pieces = []
    for period, ended, back, still in result.table.select(
        "period", "spells_ended", "reentered", "window_open"
    ).iter_rows():
        pieces.append(
            pl.DataFrame(
                {
                    "period": [period] * 4,
                    "outcome": [*_OUTCOMES, None],
                    "spells": [back, ended - back - still, still, ended],
                },
                schema={"period": pl.String, "outcome": pl.String, "spells": pl.Int64},
            )
        )
    return pl.concat(pieces)


def protect_reentry(
    result: ReentryResult, rules: DisclosureRules, threshold: int | None = None
) -> tuple[ProtectedTable, pl.DataFrame]:
    """The re-entry table in long form (rows: periods; :data:`REENTRY_FIGURES`) and its counts.

    Each period's outcomes are protected on their own with the spells ended as their total.
    The share re-entered is shown only where its denominator (ended − open, from the published
    values) is at least ``threshold`` however the exact counts were rounded, and the share is
    within :data:`SHARE_MARGIN` points of the truth whatever exact counts lie behind them.

    Args:
        result: from :func:`factlab.monitor.transitions.reentry`.
        rules: the disclosure rules.
        threshold: the least number of spells (window closed) a share is computed of (None:
            as the monitor's quartiles, the rules' ``secret_max + 1`` and at least 10).

    Example:
        >>> from datetime import date
        >>> from factlab.disclosure.rules import preset
        >>> from factlab.monitor.transitions import ReentryResult
        >>> from factlab.periods import parse_period
        >>> def share(ended: int, back: int, still: int) -> int | None:
        ...     result = ReentryResult((parse_period("2023"),), 12, date(2024, 12, 31),
        ...         pl.DataFrame({"period": ["2023"], "spells_ended": [ended],
        ...                       "reentered": [back], "window_open": [still]}))
        ...     table, _ = protect_reentry(result, preset("cbs"))
        ...     return table.frame.filter(pl.col("figure") == "share_reentered")["value"].item()
        >>> share(400, 100, 60)  # 100 of 340 spells whose window closed
        29
        >>> share(102, 12, 90) is None  # published 100 - 90: 10 spells, perhaps only 6
        True
        >>> share(114, 12, 102) is None  # published 10 of 115 - 100: 67 %, truly 100 %
        True
    """
    least = max(10, rules.secret_max + 1) if threshold is None else threshold
    counts = reentry_counts(result)
    shape = replace(rules, measures=(MeasureRule("spells", "additive"),), dimensions=("outcome",))
    rows: list[tuple[str, str, int | None]] = []
    base: ProtectedTable | None = None
    for period in [p.label for p in result.periods]:
        table = protect(counts.filter(pl.col("period") == period).drop("period"), shape).table
        base = base or table
        shown = {
            outcome: value if status == "published" else None
            for outcome, value, status in table.frame.select(
                "outcome", "spells", pl.col("spells_status").cast(pl.String)
            ).iter_rows()
        }
        ended, back, still = shown.get(None), shown.get("reentered"), shown.get("window_open")
        share = None
        if back is not None and ended is not None and still is not None:
            share = _reentry_share(back, ended, still, rules.rounding_base, least)
        rows += [
            (period, "spells_ended", ended),
            (period, "reentered", back),
            (period, "window_open", still),
            (period, "share_reentered", share),
        ]
    assert base is not None  # a result has at least one period
    frame = pl.DataFrame(
        {
            "period": [row[0] for row in rows],
            "figure": [row[1] for row in rows],
            "value": pl.Series([row[2] for row in rows], dtype=pl.Int64),
            "value_status": [_status(row[2]) for row in rows],
        }
    )
    return long_table(base, frame, "period"), counts


def _reentry_share(back: int, ended: int, still: int, base: int, least: int) -> int | None:
    """The share re-entered (whole percent) of published counts, or None where the counts
    that round to them (half up to a multiple of ``base``) leave fewer than ``least`` spells
    whose window closed, or a share more than :data:`SHARE_MARGIN` points from it."""
    below, above = base // 2, (base - 1) // 2  # an exact count lies in [shown - below, + above]
    known = ended - still
    fewest = max(ended - below - (still + above), 0)
    most = ended + above - max(still - below, 0)
    if known <= 0 or fewest < max(least, 1):
        return None
    share = _half_up(back * 100 / known)
    if share > 100:  # published values that disagree within their rounding
        return None
    highest = min(1.0, (back + above) / fewest)  # re-entered never exceeds the window closed
    lowest = max(back - below, 0) / most
    if highest * 100 - share > SHARE_MARGIN or share - lowest * 100 > SHARE_MARGIN:
        return None
    return share


def durations_by_period(
    cohorts: Sequence[tuple[str, DurationResult]], rules: DisclosureRules, threshold: int
) -> tuple[ProtectedTable, list[pl.DataFrame]]:
    """The median duration per period started and value, as each cohort's protected durations
    table shows it; and the exact counts behind them."""
    pieces = []
    exact = []
    base: ProtectedTable | None = None
    for period, measured in cohorts:
        (dimension,) = measured.by
        table, counts = protect_durations(measured, rules, threshold)
        base = base or table
        exact.append(counts)
        pieces.append(
            table.frame.filter(
                pl.col("figure") == "median", pl.col(dimension).is_not_null()
            ).select(
                pl.lit(period).alias("period"),
                pl.col(dimension).alias("figure"),
                "value",
                pl.col("value_status").cast(pl.String),
            )
        )
    assert base is not None
    assert cohorts
    (dimension,) = cohorts[0][1].by
    table = long_table(base, pl.concat(pieces), "period")
    return (
        replace(
            table,
            frame=table.frame.rename({"figure": dimension}),
            dimensions=("period", dimension),
        ),
        exact,
    )
