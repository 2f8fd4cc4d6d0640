"""How the further tables of a monitor report are laid out: cost per client and its change per
provider and municipality, re-entry, and durations per period started.

The numbers come protected from :mod:`factlab.report.monitor_sections`; this module gives them
their titles, labels, notes and charts, in the report's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from factlab.disclosure.protect import ProtectedTable
from factlab.errors import ConfigError
from factlab.monitor._source import MonitorSource
from factlab.monitor.cost_change import CostChangeResult
from factlab.monitor.durations import durations
from factlab.monitor.transitions import reentry
from factlab.periods import Period
from factlab.report import i18n
from factlab.report.config import RoundConfig
from factlab.report.labels import value_labels, value_order
from factlab.report.model import Layout, ReportTable
from factlab.report.monitor_config import DEFAULT_COST_BY, MonitorConfig
from factlab.report.monitor_sections import (
    CHANGE_FIGURES,
    REENTRY_FIGURES,
    durations_by_period,
    protect_cost_change_by,
    protect_costs_by,
    protect_reentry,
    published_clients,
)
from factlab.report.monitor_tables import PublishedSeries

__all__ = [
    "Context",
    "cohort_table",
    "cost_change_table",
    "cost_dimensions",
    "cost_table",
    "further_tables",
    "reentry_table",
]

_WORDS = {
    "cost_before": "mon_fig_cost_before",
    "cost_after": "mon_fig_cost_after",
    "change": "mon_fig_change",
    "volume": "mon_fig_volume",
    "intensity": "mon_fig_intensity",
    "spells_ended": "mon_fig_spells_ended",
    "reentered": "mon_fig_reentered",
    "window_open": "mon_fig_window_open",
    "share_reentered": "mon_fig_share_reentered",
}


@dataclass(frozen=True)
class Context:
    """What every table of one report shares: its round settings and periods."""

    settings: RoundConfig
    periods: tuple[Period, ...]

    @property
    def language(self) -> str:
        return self.settings.language

    def word(self, key: str, **values: object) -> str:
        return i18n.text(self.language, key, **values)

    def name(self, label: str) -> str:
        return i18n.period_name(self.language, label)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(period.label for period in self.periods)

    @property
    def period_names(self) -> dict[str, str]:
        return {label: self.name(label) for label in self.labels}

    def values(self, table: ProtectedTable, dimension: str) -> tuple[str, ...]:
        present = table.frame.get_column(dimension).drop_nulls().unique().to_list()
        return value_order(dimension, present, self.settings.order.get(dimension))

    def value_labels(self, dimension: str) -> Mapping[str, str]:
        return value_labels(self.language, dimension, self.settings.labels.get(dimension))


def _figure_labels(context: Context, figures: Sequence[str], **values: object) -> dict[str, str]:
    return {figure: context.word(_WORDS[figure], **values) for figure in figures}


def _period_lines(
    context: Context, dimension: str, table: ProtectedTable, row_title: str, value_title: str
) -> Layout:
    """A period per row and a value of ``dimension`` per column (drawn as a line each)."""
    return Layout(
        rows="period",
        columns=dimension,
        measure="value",
        row_order=context.labels,
        column_order=context.values(table, dimension),
        total_row=False,
        total_column=False,
        row_title=context.word(row_title),
        value_title=context.word(value_title),
        row_labels=context.period_names,
        column_labels=context.value_labels(dimension),
    )


def cost_table(context: Context, dimension: str, table: ProtectedTable) -> ReportTable:
    """Cost per client per period, a line per value of ``dimension``."""
    dim_name = i18n.dimension_name(context.language, dimension)
    return ReportTable(
        f"cost-{dimension}",
        context.word("mon_costs_by_title", dimension=dim_name),
        table,
        _period_lines(context, dimension, table, "mon_period", "mon_chart_euro"),
        notes=(context.word("mon_note_costs_by", dimension=dim_name),),
        chart="lines",
        language=context.language,
    )


def cost_change_table(
    context: Context, dimension: str, table: ProtectedTable, pair: tuple[Period, Period]
) -> ReportTable:
    """The change of the cost of each value of ``dimension`` between the two periods."""
    dim_name = i18n.dimension_name(context.language, dimension)
    first, second = (context.name(period.label) for period in pair)
    return ReportTable(
        f"cost-change-{dimension}",
        context.word("mon_change_by_title", dimension=dim_name, first=first, second=second),
        table,
        Layout(
            rows=dimension,
            columns="figure",
            measure="value",
            row_order=context.values(table, dimension),
            column_order=CHANGE_FIGURES,
            total_row=False,
            total_column=False,
            row_title=dim_name,
            row_labels=context.value_labels(dimension),
            column_labels=_figure_labels(context, CHANGE_FIGURES, first=first, second=second),
        ),
        notes=(context.word("mon_note_change_by", first=first, second=second),),
        language=context.language,
    )


def reentry_table(context: Context, table: ProtectedTable, months: int, until: str) -> ReportTable:
    """Spells of care ended per period and how many re-entered within ``months`` months."""
    return ReportTable(
        "reentry",
        context.word("mon_reentry_title", months=months),
        table,
        Layout(
            rows="period",
            columns="figure",
            measure="value",
            row_order=context.labels,
            column_order=REENTRY_FIGURES,
            total_row=False,
            total_column=False,
            row_title=context.word("mon_period"),
            value_title=context.word("mon_chart_spells"),
            row_labels=context.period_names,
            column_labels=_figure_labels(context, REENTRY_FIGURES, months=months),
        ),
        notes=(context.word("mon_note_reentry", months=months, until=until),),
        chart="lines",
        language=context.language,
        sheet=context.word("mon_sheet_reentry"),
    )


def cohort_table(
    context: Context, dimension: str, table: ProtectedTable, until: str, threshold: int
) -> ReportTable:
    """The median duration of trajectories per period started, a line per value."""
    dim_name = i18n.dimension_name(context.language, dimension)
    return ReportTable(
        f"durations-started-{dimension}",
        context.word("mon_cohort_title", dimension=dim_name),
        table,
        _period_lines(context, dimension, table, "mon_period_started", "mon_chart_days"),
        notes=(context.word("mon_note_cohort", until=until, threshold=threshold),),
        chart="lines",
        language=context.language,
        sheet=context.word("mon_sheet_cohorts"),
    )


def cost_dimensions(config: MonitorConfig, columns: Sequence[str]) -> tuple[str, ...]:
    """The dimensions of the cost tables per value: as configured, or provider and municipality
    (those the data hold).

    Raises:
        ConfigError: a configured dimension is not a column of the data.
    """
    if config.costs_by is None:
        return tuple(name for name in DEFAULT_COST_BY if name in columns)
    missing = [name for name in config.costs_by if name not in columns]
    if missing:
        raise ConfigError(
            "monitor config",
            [f"monitor.costs.by: {name}: not a column of the data" for name in missing],
        )
    return config.costs_by


def further_tables(
    source: MonitorSource,
    config: MonitorConfig,
    columns: Sequence[str],
    published: PublishedSeries,
    *,
    costs: CostChangeResult | None,
) -> tuple[list[ReportTable], list[pl.DataFrame]]:
    """The costs per value, re-entry and durations per period started, protected and laid
    out; and the exact count frames behind them (for the free-text check).

    ``published`` is the protected series, whose dimensions include those of ``costs`` (exact
    costs per value, or None: no cost tables): the clients each cost is divided by.
    """
    context = Context(config.round, config.periods)
    rules = config.round.rules
    tables: list[ReportTable] = []
    exact: list[pl.DataFrame] = []
    if costs is not None and costs.by:
        base = next(iter(published.clients.values()))[costs.by[0]]
        for dimension in costs.by:
            clients = published_clients(published, dimension)
            per_client = protect_costs_by(costs, dimension, clients, base)
            tables.append(cost_table(context, dimension, per_client))
            changed = protect_cost_change_by(
                costs, dimension, clients, config.transition_periods, base
            )
            tables.append(cost_change_table(context, dimension, changed, config.transition_periods))
        exact.append(costs.table.select(pl.col("unique_clients").cast(pl.Int64)))
    if config.reentry:
        result = reentry(source, context.periods, months=config.reentry_months, until=config.until)
        table, counts = protect_reentry(result, rules, config.threshold)
        exact.append(counts.select("spells"))
        until = i18n.day(context.language, result.until)
        tables.append(reentry_table(context, table, config.reentry_months, until))
    if "care_form" in columns:
        dimension = config.durations_by
        cohorts = [
            (period.label, durations(source, [period], until=config.until, by=(dimension,)))
            for period in context.periods
        ]
        table, counts_list = durations_by_period(cohorts, rules, config.threshold)
        exact += counts_list
        until = i18n.day(context.language, cohorts[0][1].until)
        tables.append(cohort_table(context, dimension, table, until, config.threshold))
    return tables, exact
