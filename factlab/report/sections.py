"""The sections of a report: each protected table with its layout, notes and chart, the key
figures and the note on linkage coverage, all in the report's language.

Titles, headers, notes and labels are words of :mod:`factlab.report.messages`; the values of a
dimension come in the order and under the labels of :mod:`factlab.report.labels` (and the round
configuration); period columns are named as CBS names them (``2013 1e halfjaar``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

import polars as pl

from factlab import schema
from factlab.analysis.counts import CountResult
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.report import i18n
from factlab.report.config import RoundConfig
from factlab.report.labels import value_labels, value_order
from factlab.report.levels import level_order
from factlab.report.model import Figure, InternalTable, Layout, ReportTable, TableSource
from factlab.report.tables import PART, PROVIDERS_TOP, Timing
from factlab.report.text import dimension_notes, overlap_notes, phrase

__all__ = ["PublishedTables", "coverage_note", "key_figures", "quality_rules", "sections"]

_CELLS: Final = "sum_of_cells"


@dataclass(frozen=True)
class PublishedTables:
    """Every table of a report, protected (or internal), with the exact counts of the main one.

    ``main`` is the cross table, else the first dimension's table, else the total alone; the
    exact ``main_counts`` stay in this module (the corrections start from them), and so do the
    exact tables behind every published one (``exact``), for the check of free text.
    """

    main_dims: tuple[str, ...]
    main_counts: CountResult
    main: TableSource
    by_dim: Mapping[str, TableSource]
    distribution: TableSource
    quality: TableSource
    shared: TableSource | None
    exact: tuple[pl.DataFrame, ...] = ()


def _time_name(language: str, timing: Timing) -> str:
    if timing.period is None and timing.on is None:
        return i18n.text(language, "all_rows")
    return i18n.period_name(language, timing.label)


def _zero_is_nil(rules: DisclosureRules, internal: bool) -> bool:
    """Whether a published 0 is an exact zero: the rules publish zeros and no count that
    rounds down to 0 (a count below half the base is secret)."""
    if internal:
        return True
    return not rules.zero_is_secret and rules.secret_max >= (rules.rounding_base - 1) // 2


def quality_rules(config: RoundConfig) -> DisclosureRules:
    """The rule of the data-quality table: rows, whose zeros are published (a provider with no
    valid BSN must show), rounded like counts (``data_quality.rounding``, at least the rules'
    base) and secret from 1 to ``secret_max``: a provider's rows bound its youths, so exact or
    small row counts would narrow a suppressed client count."""
    base = config.rules.rounding_base
    return replace(
        config.rules,
        name=f"{config.rules.name}/rows",
        zero_is_secret=False,
        rounding_base=max(config.data_quality_rounding or base, base),
        structural_empty=(),
        measures=(MeasureRule("rows", "additive"),),
        dimensions=(schema.PROVIDER, schema.STATUS),
    )


def _present(source: TableSource, column: str) -> list[str]:
    return [str(v) for v in source.frame.get_column(column).drop_nulls().unique().to_list()]


def sections(
    tables: PublishedTables,
    config: RoundConfig,
    timing: Timing,
    cross: tuple[str, str] | None,
    dims: Sequence[str],
    labels: tuple[str, ...],
) -> tuple[ReportTable, ...]:
    """The report's tables in order, each with its layout, notes and chart, in its language."""
    language = config.language
    is_internal = isinstance(tables.main, InternalTable)

    def word(key: str, **values: object) -> str:
        return i18n.text(language, key, **values)

    total = word("total")
    nil = _zero_is_nil(config.rules, is_internal)
    counted = phrase(language, timing)
    when = _time_name(language, timing)
    parts = {label: i18n.period_name(language, label) for label in timing.column_order}

    def table(
        table_id: str,
        title: str,
        source: TableSource,
        layout: Layout,
        notes: tuple[str, ...],
        chart: str | None = None,
    ) -> ReportTable:
        return ReportTable(
            id=table_id,
            title=title,
            source=source,
            layout=layout,
            notes=notes,
            chart=chart,
            language=language,
            sheet=i18n.sheet_name(language, table_id),
            caption=f"{title} ({config.time_text(language)})",
        )

    def order(dim: str, source: TableSource) -> tuple[str, ...]:
        given = (*config.order.get(dim, ()), *level_order(dim, config.reference))
        return value_order(dim, _present(source, dim), given)

    def names(dim: str) -> dict[str, str]:
        return value_labels(language, dim, config.labels.get(dim))

    found: list[ReportTable] = []
    if cross is not None:
        found.append(
            table(
                "cross",
                word(
                    "title_cross",
                    a=i18n.dimension_name(language, cross[0]),
                    b=i18n.dimension_name(language, cross[1]),
                ),
                tables.main,
                Layout(
                    rows=cross[0],
                    columns=cross[1],
                    part=timing.label if config.parts else None,
                    footer=_CELLS,
                    footer_label=word("sum_of_cells"),
                    row_order=order(cross[0], tables.main),
                    column_order=order(cross[1], tables.main),
                    row_title=i18n.dimension_name(language, cross[0]),
                    row_labels=names(cross[0]),
                    column_labels=names(cross[1]),
                    total_label=total,
                    zero_nil=nil,
                ),
                notes=(word("note_cross", phrase=counted),),
            )
        )
    for dim in dims:
        source = tables.by_dim[dim]
        found.append(
            table(
                f"by-{dim}",
                word("title_by", dimension=i18n.dimension_name(language, dim)),
                source,
                Layout(
                    rows=dim,
                    columns=PART if config.parts else None,
                    column_order=timing.column_order if config.parts else None,
                    total_column=False,
                    row_order=order(dim, source),
                    row_title=i18n.dimension_name(language, dim),
                    value_title=word("value_title_unique", period=when),
                    row_labels=names(dim),
                    column_labels=parts,
                    total_label=total,
                    zero_nil=nil,
                ),
                notes=dimension_notes(dim, timing, language, config.reference),
                chart="periods" if dim == "financing" else None,
            )
        )
    top = word("providers_or_more", number=PROVIDERS_TOP)
    found += [
        table(
            "providers-per-client",
            word("title_distribution"),
            tables.distribution,
            Layout(
                rows="providers",
                row_title=word("row_title_providers"),
                value_title=word("value_title_clients"),
                row_labels={f"{PROVIDERS_TOP} or more": top},
                total_label=total,
                zero_nil=nil,
            ),
            notes=(word("note_distribution", phrase=counted),),
            chart="bars",
        ),
        table(
            "data-quality",
            word("title_quality"),
            tables.quality,
            Layout(
                rows=schema.PROVIDER,
                columns=schema.STATUS,
                measure="rows",
                row_order=labels,
                column_order=schema.STATUSES,
                percent_of_total="valid",
                row_title=word("row_title_provider"),
                column_labels={
                    **{status: word(f"status_{status}") for status in schema.STATUSES},
                    "valid (%)": word("percent_valid"),
                },
                total_label=total,
                zero_nil=_zero_is_nil(quality_rules(config), is_internal),
            ),
            notes=(word("note_quality"),),
        ),
    ]
    if tables.shared is not None:
        # Left out of a report that tabulates provider groups ([providers] overlap = false).
        found.insert(
            -1,
            table(
                "overlap",
                word("title_overlap"),
                tables.shared,
                Layout(
                    rows="provider_a",
                    columns="provider_b",
                    measure="shared_clients",
                    row_order=labels,
                    column_order=labels,
                    total_row=False,
                    total_column=False,
                    row_title=word("row_title_provider"),
                    total_label=total,
                    zero_nil=nil,
                ),
                notes=overlap_notes(config, timing),
                chart="heatmap",
            ),
        )
    return tuple(found)


def key_figures(tables: PublishedTables, part: str | None, language: str) -> tuple[Figure, ...]:
    main, distribution, quality = tables.main, tables.distribution, tables.quality

    def word(key: str, **values: object) -> str:
        return i18n.text(language, key, **values)

    figures = [Figure(word("fig_unique"), main, part=part)]
    if tables.main_dims:
        names = " × ".join(i18n.dimension_name(language, d) for d in tables.main_dims)
        figures.append(
            Figure(word("fig_sum_of_cells", names=names), main, measure=_CELLS, part=part)
        )
    delivered = Figure(word("fig_rows"), quality, measure="rows")
    figures += [
        Figure(
            word("fig_multi"),
            distribution,
            minus=Figure(word("fig_single"), distribution, (("providers", "1"),)),
            percent_of=Figure(word("fig_unique"), distribution),
        ),
        delivered,
        Figure(
            word("fig_valid"),
            quality,
            ((schema.STATUS, "valid"),),
            measure="rows",
            percent_of=delivered,
        ),
    ]
    return tuple(figures)


def coverage_note(quality: TableSource, language: str) -> tuple[str, ...]:
    """The share of rows with a valid BSN per provider, from the published rows."""
    frame = quality.frame.filter(pl.col(schema.PROVIDER).is_not_null())
    valid = frame.filter(pl.col(schema.STATUS) == "valid").select(
        schema.PROVIDER, pl.col("rows").alias("valid")
    )
    shares = (
        frame.filter(pl.col(schema.STATUS).is_null())
        .join(valid, on=schema.PROVIDER)
        .filter(pl.col("rows") > 0, pl.col("valid").is_not_null())
        .sort(schema.PROVIDER)
    )
    if shares.is_empty():
        return ()
    written = "; ".join(
        f"{provider} {i18n.percent(language, round(100.0 * good / rows, 1))}"
        for provider, rows, good in shares.select(schema.PROVIDER, "rows", "valid").iter_rows()
    )
    return (i18n.text(language, "note_coverage", shares=written),)
