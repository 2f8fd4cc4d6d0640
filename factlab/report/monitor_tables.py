"""The protected tables of a monitor report: series, one transition matrix, durations, costs.

Every count a monitor report shows goes through disclosure control
(:func:`factlab.disclosure.protect.protect`) under the round's rules; this module says how each
figure is protected, and builds the long tables the report lays out. It only ever publishes
values of protected tables, or values derived from them, and it only ever *hides* more.

- **Series.** Each period is protected on its own, exactly as a report of that period alone
  would protect it: per dimension, unique clients (union margins) and registrations (additive)
  together, and clients at several providers (union) apart. Periods are disjoint, and no figure
  of the report relates two periods' counts but the transition matrix (below). A period's grand
  total recurs in every dimension's table: it is hidden in all when one table hides it.
- **Transition matrix.** Every client in either period is in exactly one cell, so the matrix is
  additive. Its rows are the first period's values, then *in care in the first period* (a
  declared hierarchy group: the sum of those rows) and ``(new)``; its columns the second
  period's values, *in care in the second period*, ``(ended)`` and ``(ended at 18)``. So the row
  and column totals that equal the periods' clients are cells of its lattice, protected with
  the rest; ``(new) × (ended)`` is a structural empty (no client is both). Those two period
  totals are also the series' totals: hidden in both when either hides them.
- **Durations.** Trajectories and those still open per value are protected (additive);
  quartiles and the share still open are shown only where the trajectories are published and
  every exact count that rounds to the published one is at least ``threshold`` (so whether
  they are shown says nothing the published count does not), the share only where the open
  ones are published (it is computed from the published, rounded values).
- **Costs.** Computed from published numbers only, never from exact counts: a figure computed
  with the exact clients n gives n back (total cost / cost per client; volume / mean cost per
  client = Δn). The total cost is published rounded to :data:`COST_UNIT` euro (shown in
  thousands), and cost per client = rounded total / *published* clients n̂, the change =
  difference of the rounded totals, and its volume and intensity parts the midpoint split
  (:func:`factlab.monitor.cost_change.change_split`) of those. n̂ is public already, so these
  tell nothing about n beyond it: every n that rounds to n̂ gives the same figures. A period
  whose clients are suppressed shows no cost figure; the change and its parts only where both
  periods' clients are published.

The long tables (:class:`Long`) have a row key, a ``figure`` key and one measure ``value`` with
its status; they are :class:`~factlab.disclosure.protect.ProtectedTable` objects derived from a
protected one (as :meth:`~factlab.disclosure.protect.ProtectedTable.with_percentages` derives
percentages), so the report's model and renderers take them as they take any protected table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

import polars as pl

from factlab.disclosure.protect import STATUS_DTYPE, ProtectedTable, protect
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.errors import DataError
from factlab.monitor.cost_change import CostChangeResult, change_split
from factlab.monitor.durations import DurationResult
from factlab.monitor.series import SeriesResult
from factlab.monitor.transitions import ENDED, ENDED_AT_18, NEW, TransitionResult
from factlab.report.labels import UNKNOWN
from factlab.report.protect import hide

__all__ = [
    "COST_UNIT",
    "IN_CARE",
    "PublishedSeries",
    "long_table",
    "protect_costs",
    "protect_durations",
    "protect_series",
    "protect_transitions",
    "transition_counts",
]

#: The code of the group "in care in the period" in both axes of the transition matrix.
IN_CARE: Final = "(in care)"
_UNIQUE: Final = "unique_clients"
_REGISTRATIONS: Final = "registrations"
_SEVERAL: Final = "clients_several_providers"
#: The figures of the series overview, in order.
SERIES_FIGURES: Final = (_UNIQUE, _REGISTRATIONS, _SEVERAL)
#: The figures of the durations table, in order.
DURATION_FIGURES: Final = ("trajectories", "still_open", "share_open", "q1", "median", "q3")
#: The figures of the costs table, in order.
COST_FIGURES: Final = ("cost", "cost_per_client", "change", "volume", "intensity")
#: The total cost of a period is published in units of this many euro (rounded half up).
COST_UNIT: Final = 1000


@dataclass(frozen=True)
class PublishedSeries:
    """The protected series: per period, per dimension, the clients table and the several table.

    Attributes:
        clients: period label -> dimension -> unique clients and registrations.
        several: period label -> dimension -> clients at several providers.
        exact: the exact count frames behind them (for the free-text check).
    """

    clients: Mapping[str, Mapping[str, ProtectedTable]]
    several: Mapping[str, Mapping[str, ProtectedTable]]
    exact: tuple[pl.DataFrame, ...]

    def total_published(self, period: str) -> bool:
        """Whether the period's grand total of unique clients is published."""
        table = next(iter(self.clients[period].values()))
        return bool(_total_row(table).get_column(f"{_UNIQUE}_status").eq("published").all())


def _total_row(table: ProtectedTable) -> pl.DataFrame:
    return table.frame.filter(pl.all_horizontal(pl.col(d).is_null() for d in table.dimensions))


def _is_total(table: ProtectedTable) -> pl.Series:
    return table.frame.select(
        pl.all_horizontal(pl.col(d).is_null() for d in table.dimensions)
    ).to_series()


def _hidden_total(table: ProtectedTable) -> bool:
    total = _total_row(table)
    return any((total.get_column(f"{m}_status") == "suppressed").any() for m in table.measures)


def _align(tables: Sequence[ProtectedTable]) -> list[ProtectedTable]:
    """Hide the grand total row of every table when any of them hides a value of its own."""
    if any(_hidden_total(table) for table in tables):
        return [hide(table, _is_total(table)) for table in tables]
    return list(tables)


def period_counts(series: SeriesResult, period: str, dimension: str) -> pl.DataFrame:
    """The exact count table of one period and dimension, as ``factlab count`` makes it:
    the dimension's values (a missing value as ``unknown``) and the total (null)."""
    rows = series.table.filter(pl.col("period") == period)
    values = rows.filter(pl.col("dimension") == dimension).with_columns(
        pl.col("value").fill_null(UNKNOWN)
    )
    total = rows.filter(pl.col("dimension") == "total")
    return pl.concat([values, total]).select(
        pl.col("value").alias(dimension),
        pl.col(_UNIQUE).cast(pl.Int64),
        pl.col(_REGISTRATIONS).cast(pl.Int64),
        pl.col(_SEVERAL).cast(pl.Int64),
    )


def protect_series(series: SeriesResult, rules: DisclosureRules) -> PublishedSeries:
    """Protect each period of ``series`` on its own, per dimension (see the module)."""
    if not series.by:
        raise DataError("monitor report: the series needs at least one dimension")
    clients: dict[str, dict[str, ProtectedTable]] = {}
    several: dict[str, dict[str, ProtectedTable]] = {}
    exact: list[pl.DataFrame] = []
    for period in series.periods:
        mine: dict[str, ProtectedTable] = {}
        shared: dict[str, ProtectedTable] = {}
        for dimension in series.by:
            counts = period_counts(series, period.label, dimension)
            exact.append(counts)
            both = replace(
                rules,
                measures=(MeasureRule(_UNIQUE, "union"), MeasureRule(_REGISTRATIONS, "additive")),
                dimensions=(dimension,),
            )
            mine[dimension] = protect(counts.drop(_SEVERAL), both).table
            alone = replace(
                rules, measures=(MeasureRule(_SEVERAL, "union"),), dimensions=(dimension,)
            )
            shared[dimension] = protect(counts.select(dimension, _SEVERAL), alone).table
        clients[period.label] = dict(zip(mine, _align(list(mine.values())), strict=True))
        several[period.label] = dict(zip(shared, _align(list(shared.values())), strict=True))
    return PublishedSeries(clients, several, tuple(exact))


def hide_period_total(published: PublishedSeries, period: str) -> PublishedSeries:
    """``published`` with the grand totals of ``period`` hidden in every clients table."""
    clients = {label: dict(tables) for label, tables in published.clients.items()}
    clients[period] = {
        dimension: hide(table, _is_total(table)) for dimension, table in clients[period].items()
    }
    return replace(published, clients=clients)


def long_table(
    base: ProtectedTable, frame: pl.DataFrame, row: str, *, figure: str = "figure"
) -> ProtectedTable:
    """A protected table in long form: ``row``, ``figure``, ``value`` and ``value_status``.

    Every value of ``frame`` is a published value of a protected table (or one derived from
    published values), with its status; ``base`` gives the rules it was protected under.
    """
    shaped = frame.select(
        pl.col(row).cast(pl.String),
        pl.col(figure).cast(pl.String),
        pl.when(pl.col("value_status") == "suppressed")
        .then(None)
        .otherwise(pl.col("value"))
        .cast(pl.Int64)
        .alias("value"),
        pl.col("value_status").cast(pl.String).cast(STATUS_DTYPE),
    )
    return replace(
        base, frame=shaped, dimensions=(row, figure), measures=("value",), part_column=None
    )


def _cell(table: ProtectedTable, measure: str, figure: str, **where: str | None) -> pl.DataFrame:
    conditions = [
        pl.col(name).is_null() if value is None else pl.col(name) == value
        for name, value in where.items()
    ]
    return table.frame.filter(*conditions).select(
        pl.lit(figure).alias("figure"),
        pl.col(measure).alias("value"),
        pl.col(f"{measure}_status").cast(pl.String).alias("value_status"),
    )


def series_overview(published: PublishedSeries, dimension: str) -> ProtectedTable:
    """Per period: unique clients, registrations, clients at several providers (the totals)."""
    pieces = []
    for period, tables in published.clients.items():
        table, shared = tables[dimension], published.several[period][dimension]
        total: dict[str, str | None] = {dimension: None}
        pieces += [
            _cell(table, _UNIQUE, _UNIQUE, **total),
            _cell(table, _REGISTRATIONS, _REGISTRATIONS, **total),
            _cell(shared, _SEVERAL, _SEVERAL, **total),
        ]
        pieces[-3:] = [piece.with_columns(pl.lit(period).alias("period")) for piece in pieces[-3:]]
    base = next(iter(published.clients.values()))[dimension]
    return long_table(base, pl.concat(pieces), "period")


def series_by(published: PublishedSeries, dimension: str) -> ProtectedTable:
    """Per period and value of ``dimension`` (and its total, null): unique clients."""
    pieces = [
        tables[dimension].frame.select(
            pl.lit(period).alias("period"),
            pl.col(dimension).alias("figure"),
            pl.col(_UNIQUE).alias("value"),
            pl.col(f"{_UNIQUE}_status").cast(pl.String).alias("value_status"),
        )
        for period, tables in published.clients.items()
    ]
    base = next(iter(published.clients.values()))[dimension]
    frame = pl.concat(pieces)
    table = long_table(base, frame, "period")
    return replace(
        table, frame=table.frame.rename({"figure": dimension}), dimensions=("period", dimension)
    )


def transition_counts(result: TransitionResult) -> tuple[pl.DataFrame, DisclosureRules]:
    """The exact count table of a transition matrix with its margins, and the rules' additions.

    Returns:
        The counts (``from``, ``to``, ``clients``; null = total; :data:`IN_CARE` = the group of
        the period's values), and the rules for them given the round's rules (see
        :func:`protect_transitions`): one additive measure, the two groups as a declared
        hierarchy, ``(new) × (ended)`` as structural empties.
    """
    leaves = result.matrix.select("from", "to", pl.col("clients").cast(pl.Int64))
    firsts = sorted(v for v in leaves.get_column("from").unique().to_list() if v != NEW)
    seconds = sorted(
        v for v in leaves.get_column("to").unique().to_list() if v not in (ENDED, ENDED_AT_18)
    )
    if not firsts or not seconds:
        raise DataError(
            f"monitor report: no client in care in {result.from_period.label} or in "
            f"{result.to_period.label}; a transition matrix needs both"
        )
    rows = [*firsts, NEW]
    columns = [*seconds, ENDED, ENDED_AT_18]
    grid = pl.DataFrame({"from": rows}).join(pl.DataFrame({"to": columns}), how="cross")
    full = grid.join(leaves, on=["from", "to"], how="left").with_columns(
        pl.col("clients").fill_null(0)
    )

    def levels(axis: str, values: list[str], members: list[str]) -> pl.DataFrame:
        codes = (
            [(v, v) for v in values] + [(v, IN_CARE) for v in members] + [(v, None) for v in values]
        )
        return pl.DataFrame(
            {axis: [c[0] for c in codes], f"{axis}_code": [c[1] for c in codes]},
            schema={axis: pl.String, f"{axis}_code": pl.String},
        )

    counts = (
        full.join(levels("from", rows, firsts), on="from")
        .join(levels("to", columns, seconds), on="to")
        .group_by("from_code", "to_code")
        .agg(pl.col("clients").sum())
        .select(pl.col("from_code").alias("from"), pl.col("to_code").alias("to"), "clients")
        .sort("from", "to", nulls_last=True)
    )
    hierarchy = {
        "from": {IN_CARE: firsts, NEW: []},
        "to": {IN_CARE: seconds, ENDED: [], ENDED_AT_18: []},
    }
    empties = ({"from": NEW, "to": ENDED}, {"from": NEW, "to": ENDED_AT_18})
    rules = DisclosureRules(
        measures=(MeasureRule("clients", "additive"),),
        dimensions=("from", "to"),
        hierarchy=hierarchy,
        structural_empty=empties,
    )
    return counts, rules


def protect_transitions(
    result: TransitionResult, rules: DisclosureRules
) -> tuple[ProtectedTable, pl.DataFrame]:
    """The protected transition matrix (with its margins) and its exact counts."""
    counts, shape = transition_counts(result)
    matrix_rules = replace(
        rules,
        measures=shape.measures,
        dimensions=shape.dimensions,
        hierarchy={**rules.hierarchy, **shape.hierarchy},
        structural_empty=(*rules.structural_empty, *shape.structural_empty),
    )
    return protect(counts, matrix_rules).table, counts


def period_total_published(matrix: ProtectedTable, axis: str) -> bool:
    """Whether the matrix publishes the clients of the period on ``axis`` (``from``/``to``)."""
    other = "to" if axis == "from" else "from"
    cell = matrix.frame.filter(pl.col(axis) == IN_CARE, pl.col(other).is_null())
    return bool(cell.get_column("clients_status").eq("published").all())


def hide_matrix_total(matrix: ProtectedTable, axis: str) -> ProtectedTable:
    """The matrix with the clients of the period on ``axis`` hidden."""
    other = "to" if axis == "from" else "from"
    mask = matrix.frame.select((pl.col(axis) == IN_CARE) & pl.col(other).is_null()).to_series()
    return hide(matrix, mask.fill_null(False))


def protect_durations(
    result: DurationResult, rules: DisclosureRules, threshold: int
) -> tuple[ProtectedTable, pl.DataFrame]:
    """The durations table in long form (rows: the dimension's values and total), its counts."""
    (dimension,) = result.by
    table = result.table.with_columns(pl.col(dimension).replace("(unknown)", UNKNOWN))
    counts = table.select(
        dimension,
        pl.col("trajectories").cast(pl.Int64),
        pl.col("still_open").cast(pl.Int64),
    )
    shape = replace(
        rules,
        measures=(MeasureRule("trajectories", "additive"), MeasureRule("still_open", "additive")),
        dimensions=(dimension,),
    )
    protected = protect(counts, shape).table
    joined = protected.frame.join(
        table.select(dimension, "q1_days", "median_days", "q3_days"),
        on=dimension,
        how="left",
        nulls_equal=True,
    )
    # Whether quartiles are shown must not tell more about the exact count than its published
    # value does: show them where every exact count that rounds to the published one reaches
    # the threshold (half up to a multiple of b: at least published - b // 2).
    least = pl.col("trajectories") - rules.rounding_base // 2
    shown = (pl.col("trajectories_status") == "published") & (least >= threshold)
    share_shown = (
        shown & (pl.col("still_open_status") == "published") & (pl.col("trajectories") > 0)
    )

    def figure(name: str, value: pl.Expr, published: pl.Expr) -> pl.DataFrame:
        return joined.select(
            pl.col(dimension),
            pl.lit(name).alias("figure"),
            value.cast(pl.Int64).alias("value"),
            pl.when(published & value.is_not_null())
            .then(pl.lit("published"))
            .otherwise(pl.lit("suppressed"))
            .alias("value_status"),
        )

    share = (pl.col("still_open") * 100.0 / pl.col("trajectories")).round(0)
    pieces = [
        figure(
            "trajectories", pl.col("trajectories"), pl.col("trajectories_status") == "published"
        ),
        figure("still_open", pl.col("still_open"), pl.col("still_open_status") == "published"),
        figure("share_open", share, share_shown),
        figure("q1", pl.col("q1_days"), shown),
        figure("median", pl.col("median_days"), shown),
        figure("q3", pl.col("q3_days"), shown),
    ]
    return long_table(protected, pl.concat(pieces), dimension), counts


def _half_up(value: pl.Expr, unit: int = 1) -> pl.Expr:
    """``value`` rounded to a multiple of ``unit``, halves away from zero (as the reader would)."""
    return (value.abs() / unit + 0.5).floor() * unit * value.sign()


def protect_costs(
    result: CostChangeResult, counts: Mapping[str, int | None], base: ProtectedTable
) -> ProtectedTable:
    """The costs table: total cost, cost per client and the change's split, per period.

    ``counts`` gives per period label its *published* unique clients (``None``: suppressed).
    Every figure is computed from published numbers only (see the module): the total cost
    rounded to :data:`COST_UNIT` euro, and the published counts; the exact counts of
    ``result`` are never read, so no figure gives them back. A period whose clients are
    suppressed shows no cost figure; a change only where both periods' clients are published.
    """
    total = result.table.filter(pl.col("dimension") == "total").sort("period_start")
    labels = total.get_column("period").to_list()
    shown = [counts.get(label) for label in labels]
    rounded = total.select(
        pl.Series("_shown", [n is not None for n in shown], dtype=pl.Boolean),
        _half_up(pl.col("cost"), COST_UNIT).alias("cost"),
    ).select(pl.when(pl.col("_shown")).then(pl.col("cost")).alias("cost"))
    split = change_split(rounded.get_column("cost").to_list(), shown).with_columns(
        (pl.col("cost") / COST_UNIT).alias("cost"),
        pl.Series("period", labels, dtype=pl.String),
        pl.Series("_first", [i == 0 for i in range(len(labels))], dtype=pl.Boolean),
    )
    pieces = [
        split.select(
            "period",
            pl.lit(figure).alias("figure"),
            pl.when(pl.col("_first") & structural)
            .then(pl.lit(0.0))
            .otherwise(_half_up(pl.col(column)))
            .alias("value"),
            pl.when(pl.col("_first") & structural)
            .then(pl.lit("structural"))
            .when(pl.col(column).is_not_null())
            .then(pl.lit("published"))
            .otherwise(pl.lit("suppressed"))
            .alias("value_status"),
        )
        for figure, column, structural in (
            ("cost", "cost", pl.lit(False)),
            ("cost_per_client", "cost_per_client", pl.lit(False)),
            ("change", "change", pl.lit(True)),
            ("volume", "volume_effect", pl.lit(True)),
            ("intensity", "intensity_effect", pl.lit(True)),
        )
    ]
    return long_table(base, pl.concat(pieces), "period")
