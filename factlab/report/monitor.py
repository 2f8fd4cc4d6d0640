"""The monitor report: a programme's figures over its years, protected, in Dutch, with charts.

:func:`build_monitor_report` reads a monitor store (:func:`factlab.monitor.store.open_store`)
or a linked file, computes the monitor's figures (:mod:`factlab.monitor`: series, one
transition matrix, durations, cost per client), puts every count through disclosure control
under the round's rules (:mod:`factlab.report.monitor_tables` says how each is protected), and
describes the result as a :class:`~factlab.report.model.Report`. The report's own renderers
write it (:func:`write_monitor_report`: ``.html``, ``.xlsx`` or ``.md``), with a line chart of
each series (:mod:`factlab.report.monitor_charts`).

What a monitor report publishes, in order:

1. key figures: unique clients, clients at several providers and new clients in the last
   period;
2. clients in care per period: unique clients, registrations, clients at several providers;
3. unique clients per period by each series dimension (financing and care form by default);
4. the transition matrix of one dimension between two periods, with new, ended and turned-18
   rows and columns, protected with its margins;
5. durations of trajectories (median, quartiles, share still open; Kaplan-Meier, open
   trajectories censored) by care form;
6. total cost (in thousands of euro) and cost per unique client per period, and the change
   split into volume and intensity (when the data have a cost), all computed from the
   published client counts and the rounded total cost, never from exact counts;
7. cost per client per period by provider and by municipality, and the change of each value's
   cost between the transition matrix's periods split into volume and intensity;
8. re-entry: spells of care ended per period, and how many re-entered within N months;
9. the median duration of trajectories per period started, by care form
   (:mod:`factlab.report.monitor_sections` says how 7–9 are protected).

A public report only: exact monitor figures are the ``factlab monitor`` commands' outputs,
internal to the trusted party. Free text (title, region, source, contact, labels) is checked as
in a round's report (:mod:`factlab.report.freetext`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab._version import __version__
from factlab.analysis.overlap import scan_linked
from factlab.errors import ConfigError
from factlab.manifest import now_iso
from factlab.monitor._source import MonitorSource
from factlab.monitor.cost_change import CostChangeResult, cost_change
from factlab.monitor.durations import durations
from factlab.monitor.series import series
from factlab.monitor.store import Store, scan_store
from factlab.monitor.transitions import ENDED, ENDED_AT_18, NEW, transitions
from factlab.report import i18n
from factlab.report.freetext import refuse_bsn, refuse_exact
from factlab.report.labels import value_labels, value_order
from factlab.report.model import Figure, Layout, Report, ReportTable
from factlab.report.monitor_config import DEFAULT_SERIES_BY, MonitorConfig
from factlab.report.monitor_layouts import cost_dimensions, further_tables
from factlab.report.monitor_tables import (
    COST_FIGURES,
    DURATION_FIGURES,
    IN_CARE,
    SERIES_FIGURES,
    hide_matrix_total,
    hide_period_total,
    period_total_published,
    protect_costs,
    protect_durations,
    protect_series,
    protect_transitions,
    series_by,
    series_overview,
)
from factlab.report.render import render_file

__all__ = ["build_monitor_report", "write_monitor_report"]

_FILE_KINDS: Final = {
    "monitor config": "file_monitor_config",
    "round config": "file_round_config",
    "disclosure rules": "file_disclosure_rules",
    "corrections": "file_corrections",
}
_FIGURE_WORDS: Final = {
    "unique_clients": "mon_fig_unique",
    "registrations": "mon_fig_registrations",
    "clients_several_providers": "mon_fig_several",
    "trajectories": "mon_fig_trajectories",
    "still_open": "mon_fig_still_open",
    "share_open": "mon_fig_share_open",
    "q1": "mon_fig_q1",
    "median": "mon_fig_median",
    "q3": "mon_fig_q3",
    "cost": "mon_fig_cost",
    "cost_per_client": "mon_fig_cost_per_client",
    "change": "mon_fig_change",
    "volume": "mon_fig_volume",
    "intensity": "mon_fig_intensity",
}


def _columns(source: MonitorSource) -> tuple[list[str], dict[str, Any]]:
    """The columns of the source's rows and its provenance, with the number of providers."""
    if isinstance(source, Store) or (isinstance(source, str | Path) and Path(source).is_dir()):
        rows = scan_store(source)
        frame, provenance = rows.frame, dict(rows.provenance)
    else:
        linked = scan_linked(source, dates=True)
        frame, provenance = linked.frame, dict(linked.provenance)
    columns = frame.collect_schema().names()
    if "provider" in columns:
        provenance["provider_count"] = frame.select(pl.col("provider").n_unique()).collect().item()
    return columns, provenance


def _chosen_by(config: MonitorConfig, columns: Sequence[str]) -> tuple[str, ...]:
    if config.by is not None:
        missing = [name for name in config.by if name not in columns]
        if missing:
            raise ConfigError(
                "monitor config",
                [f"monitor.by: {name}: not a column of the data" for name in missing],
            )
        return config.by
    chosen = tuple(name for name in DEFAULT_SERIES_BY if name in columns)
    if not chosen:
        raise ConfigError(
            "monitor config",
            ["monitor.by: the data have neither financing nor care_form; name a dimension"],
        )
    return chosen


def build_monitor_report(
    source: MonitorSource, config: MonitorConfig | None = None, *, generated: str | None = None
) -> Report:
    """Compute, protect and describe a programme's monitor figures for publication.

    Args:
        source: a monitor store (its folder or :class:`~factlab.monitor.store.Store`), or a
            linked file (or its rows).
        config: the monitor configuration (see
            :func:`factlab.report.monitor_config.load_monitor_config`);
            default: 2021 to 2024 by year, the CBS rules, in Dutch.
        generated: the creation time shown (default: now, UTC).

    Raises:
        InputError: not a store or linked file, or a needed column missing.
        ConfigError: a dimension not in the data; a free text that holds a BSN or an exact
            count the report does not publish.
        DataError: counts or protection fail.

    Example:
        >>> from factlab.report.monitor_config import MonitorConfig
        >>> MonitorConfig(first=2023, last=2024).transition_periods[1].label
        '2024'
    """
    config = config or MonitorConfig()
    settings = config.round
    language = settings.language
    rules = settings.rules
    columns, provenance = _columns(source)
    by = _chosen_by(config, columns)
    show_costs = config.costs if config.costs is not None else "cost" in columns
    cost_by = cost_dimensions(config, columns) if show_costs else ()
    periods = config.periods
    labels = [period.label for period in periods]

    def word(key: str, **values: object) -> str:
        return i18n.text(language, key, **values)

    def name(label: str) -> str:
        return i18n.period_name(language, label)

    period_names = {label: name(label) for label in labels}
    # the cost dimensions are protected with the series: their published clients divide costs
    exact_series = series(source, periods, by=tuple(dict.fromkeys((*by, *cost_by))))
    published = protect_series(exact_series, rules)
    first, second = config.transition_periods
    moved = transitions(source, first, second, by=config.transitions_by, rule=config.rule)
    matrix, matrix_counts = protect_transitions(moved, rules)
    # The matrix's period totals are the series' totals: hidden in both when either hides one.
    for axis, period in (("from", first.label), ("to", second.label)):
        if not period_total_published(matrix, axis) or not published.total_published(period):
            matrix = hide_matrix_total(matrix, axis)
            published = hide_period_total(published, period)
    tables: list[ReportTable] = []
    overview = series_overview(published, by[0])
    figure_labels = {key: word(value) for key, value in _FIGURE_WORDS.items()}
    tables.append(
        ReportTable(
            "series",
            word("mon_series_title"),
            overview,
            Layout(
                rows="period",
                columns="figure",
                measure="value",
                row_order=tuple(labels),
                column_order=SERIES_FIGURES,
                total_row=False,
                total_column=False,
                row_title=word("mon_period"),
                value_title=word("mon_chart_clients"),
                row_labels=period_names,
                column_labels=figure_labels,
            ),
            notes=(word("mon_note_series"),),
            chart="lines",
            language=language,
            sheet=word("mon_sheet_series"),
        )
    )
    for dimension in by:
        table = series_by(published, dimension)
        present = table.frame.get_column(dimension).drop_nulls().unique().to_list()
        dim_name = i18n.dimension_name(language, dimension)
        tables.append(
            ReportTable(
                f"by-{dimension}",
                word("mon_by_title", dimension=dim_name),
                table,
                Layout(
                    rows="period",
                    columns=dimension,
                    measure="value",
                    row_order=tuple(labels),
                    column_order=value_order(dimension, present, settings.order.get(dimension)),
                    total_row=False,
                    row_title=word("mon_period"),
                    value_title=word("mon_chart_clients"),
                    row_labels=period_names,
                    column_labels=value_labels(language, dimension, settings.labels.get(dimension)),
                    total_label=word("total"),
                ),
                notes=(word("mon_note_several", dimension=dim_name),),
                chart="lines",
                language=language,
            )
        )
    tables.append(_matrix_table(matrix, config, word, name))
    exact: list[pl.DataFrame] = [*published.exact, matrix_counts]
    if "care_form" in columns:
        measured = durations(source, periods, until=config.until, by=(config.durations_by,))
        lengths, length_counts = protect_durations(measured, rules, config.threshold)
        exact += [length_counts, measured.table.select(pl.col(pl.UInt32, pl.Int64, pl.Int32))]
        dimension = config.durations_by
        present = lengths.frame.get_column(dimension).drop_nulls().unique().to_list()
        dim_name = i18n.dimension_name(language, dimension)
        tables.append(
            ReportTable(
                "durations",
                word(
                    "mon_durations_title",
                    dimension=dim_name,
                    first=name(labels[0]),
                    last=name(labels[-1]),
                ),
                lengths,
                Layout(
                    rows=dimension,
                    columns="figure",
                    measure="value",
                    row_order=value_order(dimension, present, settings.order.get(dimension)),
                    column_order=DURATION_FIGURES,
                    total_column=False,
                    row_title=dim_name,
                    row_labels=value_labels(language, dimension, settings.labels.get(dimension)),
                    column_labels=figure_labels,
                    total_label=word("total"),
                ),
                notes=(
                    word(
                        "mon_note_durations",
                        until=i18n.day(language, measured.until),
                        threshold=config.threshold,
                    ),
                ),
                language=language,
                sheet=word("mon_sheet_durations"),
            )
        )
    costs: CostChangeResult | None = None
    if show_costs:
        costs = cost_change(source, periods, by=cost_by, until=config.until)
        # the published (rounded) clients per period, None where hidden: the cost figures are
        # computed from these, never from the exact counts (monitor_tables.protect_costs)
        clients = overview.frame.filter(pl.col("figure") == "unique_clients")
        shown = {
            label: value if status == "published" else None
            for label, value, status in clients.select(
                "period", "value", pl.col("value_status").cast(pl.String)
            ).iter_rows()
        }
        tables.append(
            ReportTable(
                "costs",
                word("mon_costs_title"),
                protect_costs(costs, shown, overview),
                Layout(
                    rows="period",
                    columns="figure",
                    measure="value",
                    row_order=tuple(labels),
                    column_order=COST_FIGURES,
                    total_row=False,
                    total_column=False,
                    row_title=word("mon_period"),
                    value_title=word("mon_chart_euro"),
                    row_labels=period_names,
                    column_labels=figure_labels,
                ),
                notes=(word("mon_note_costs"),),
                chart="lines",
                language=language,
                sheet=word("mon_sheet_costs"),
            )
        )
        exact.append(costs.table.select(pl.col("unique_clients").cast(pl.Int64)))
    more, more_exact = further_tables(source, config, columns, published, costs=costs)
    tables += more
    exact += more_exact
    exact.append(exact_series.table.select(pl.col(pl.UInt32)))
    _check_free_text(config, exact, tables)
    last = labels[-1]
    key_figures = (
        Figure(word("mon_key_unique", period=name(last)), overview,
               (("period", last), ("figure", "unique_clients")), measure="value"),
        Figure(word("mon_key_several", period=name(last)), overview,
               (("period", last), ("figure", "clients_several_providers")), measure="value"),
        Figure(word("mon_key_new", period=name(second.label)), matrix,
               (("from", NEW),), measure="clients"),
    )  # fmt: skip
    return _report(config, tables, key_figures, provenance, generated or now_iso())


def _matrix_table(matrix: Any, config: MonitorConfig, word: Any, name: Any) -> ReportTable:
    """The transition matrix laid out: the first period's values down, the second's across."""
    settings = config.round
    language = settings.language
    first, second = config.transition_periods
    dimension = config.transitions_by
    dim_name = i18n.dimension_name(language, dimension)
    given = value_labels(language, dimension, settings.labels.get(dimension))
    rows = [v for v in matrix.frame.get_column("from").drop_nulls().unique().to_list()
            if v not in (IN_CARE, NEW)]  # fmt: skip
    columns = [v for v in matrix.frame.get_column("to").drop_nulls().unique().to_list()
               if v not in (IN_CARE, ENDED, ENDED_AT_18)]  # fmt: skip
    order = settings.order.get(dimension)
    row_labels = {
        **given,
        IN_CARE: word("mon_in_care", period=name(first.label)),
        NEW: word("mon_new"),
    }
    column_labels = {
        **given,
        IN_CARE: word("mon_in_care", period=name(second.label)),
        ENDED: word("mon_ended"),
        ENDED_AT_18: word("mon_ended_18"),
    }
    rule_note = word("mon_note_combined" if config.rule == "combined" else "mon_note_latest")
    return ReportTable(
        "transitions",
        word(
            "mon_transitions_title",
            dimension=dim_name,
            first=name(first.label),
            second=name(second.label),
        ),
        matrix,
        Layout(
            rows="from",
            columns="to",
            measure="clients",
            row_order=(*value_order(dimension, rows, order), IN_CARE, NEW),
            column_order=(*value_order(dimension, columns, order), IN_CARE, ENDED, ENDED_AT_18),
            row_title=word("mon_transitions_rows", dimension=dim_name, period=name(first.label)),
            row_labels=row_labels,
            column_labels=column_labels,
            total_label=word("total"),
            zero_nil=not settings.rules.zero_is_secret,
        ),
        notes=(
            word("mon_note_transitions", first=name(first.label), second=name(second.label)),
            rule_note,
        ),
        language=language,
        sheet=word("mon_sheet_transitions"),
    )


def _whole_numbers(frames: Sequence[pl.DataFrame]) -> set[int]:
    found: set[int] = set()
    for frame in frames:
        for column, dtype in frame.schema.items():
            if dtype.is_integer():
                found.update(int(v) for v in frame.get_column(column).drop_nulls().unique())
    return found


def _check_free_text(
    config: MonitorConfig, exact: Sequence[pl.DataFrame], tables: Sequence[ReportTable]
) -> None:
    """Refuse free text with a BSN, or with a number equal to an exact count not published."""
    settings = config.round
    texts = [
        (key, text)
        for key, text in (
            ("title", settings.title),
            ("region", settings.region),
            ("publication.source", settings.source_text),
            ("publication.contact", settings.contact),
        )
        if text
    ]
    texts += [
        (f"labels.{dim}.{value}", label)
        for dim, given in settings.labels.items()
        for value, label in given.items()
    ]
    refuse_bsn(texts)
    published = _whole_numbers([table.source.frame for table in tables])
    refuse_exact(texts, _whole_numbers(exact), published)


def _report(
    config: MonitorConfig,
    tables: Sequence[ReportTable],
    key_figures: tuple[Figure, ...],
    provenance: dict[str, Any],
    stamp: str,
) -> Report:
    settings = config.round
    language = settings.language
    rules = settings.rules

    def word(key: str, **values: object) -> str:
        return i18n.text(language, key, **values)

    first = i18n.period_name(language, config.periods[0].label)
    last = i18n.period_name(language, config.periods[-1].label)
    counted = word("mon_counted", first=first, last=last)
    title = settings.title or (
        word("mon_title_region", region=settings.region) if settings.region else word("mon_title")
    )
    published = i18n.day(language, settings.publication_date or _day_of(stamp))
    status = word("status_protected", status=word(f"status_{settings.status}"), rules=rules.name)
    providers = provenance.get("provider_count")
    source_text = settings.source_text or (
        word("source_default", providers=providers) if providers else "factlab"
    )
    meta = [word("region", region=settings.region)] if settings.region else []
    meta += [word("counted", what=counted), word("published_on", date=published)]
    if settings.contact:
        meta.append(word("contact", contact=settings.contact))
    legend = (
        word("legend_suppressed"),
        word("legend_nil"),
        word("legend_structural"),
        word("legend_rounded", base=rules.rounding_base),
    )
    warnings = (word("warn_single_stage"),) if provenance.get("stage") == 1 else ()
    notes = (
        word(
            "note_disclosure",
            **_disclosure_values(config),
        ),
    )
    return Report(
        title=title,
        region=settings.region,
        time_label=counted,
        internal=False,
        rules=rules,
        key_figures=key_figures,
        tables=tuple(tables),
        estimate=None,
        provenance=_provenance(config, provenance, stamp),
        warnings=warnings,
        notes=notes,
        generated=stamp,
        language=language,
        legend=legend,
        source_line=word("source_line", source=source_text),
        status_line=status,
        published=published,
        contact=settings.contact,
        meta=tuple(meta),
    )


def _disclosure_values(config: MonitorConfig) -> dict[str, object]:
    rules = config.round.rules
    language = config.round.language
    return {
        "rules": rules.name,
        "zero": i18n.text(language, "zero_and") if rules.zero_is_secret else "",
        "secret_max": rules.secret_max,
        "base": rules.rounding_base,
    }


def _day_of(stamp: str) -> date:
    try:
        return date.fromisoformat(stamp[:10])
    except ValueError:
        return date.today()


def _provenance(
    config: MonitorConfig, source: dict[str, Any], stamp: str
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Where the numbers come from: the store and its parts' digests, or the linked file; the
    configuration, the rules and the version. No count."""
    settings = config.round
    language = settings.language

    def word(key: str, **values: object) -> str:
        return i18n.text(language, key, **values)

    lines: list[tuple[str, str]] = []
    if "parts" in source:
        heading = word("mon_prov_store")
        lines.append((word("prov_file"), Path(str(source.get("store", ""))).name))
        lines += [
            (word("mon_prov_part", n=number), f"{part['file']} (sha256 {part['sha256']})")
            for number, part in enumerate(source["parts"], start=1)
        ]
    else:
        heading = word("prov_linked_file")
        lines.append((word("prov_file"), Path(str(source.get("path", ""))).name))
        if source.get("sha256") and source.get("stage") == 2:
            lines.append((word("prov_sha256"), str(source["sha256"])))
    for key, label in (
        ("scheme", "prov_scheme"),
        ("round", "prov_round"),
        ("key_id", "prov_key_id"),
        ("key_fingerprint", "prov_key_fingerprint"),
    ):
        if source.get(key) is not None:
            lines.append((word(label), str(source[key])))
    rules = settings.rules
    this = [
        (word("prov_version"), __version__),
        (word("prov_generated"), stamp),
        (word("mon_prov_periods"), ", ".join(p.label for p in config.periods)),
        (
            word("prov_disclosure"),
            word(
                "disclosure_rules",
                width=i18n.parameter(language, rules.min_width),
                percent=i18n.parameter(language, rules.protection_percent),
                **_disclosure_values(config),
            ),
        ),
        *(
            (
                word("prov_configuration"),
                f"{word(_FILE_KINDS.get(what, 'prov_configuration'))}: {entry}",
            )
            for what, entry in settings.files
        ),
    ]
    return ((heading, tuple(lines)), (word("prov_this_report"), tuple(this)))


def write_monitor_report(report: Report, path: str | Path) -> Path:
    """Render a monitor report to ``path`` (``.html``, ``.xlsx`` or ``.md``), atomically.

    Raises:
        ConfigError: another extension. InputError: the folder does not exist.
    """
    return render_file(report, Path(path))
