"""Publication reports of a round: count, protect, describe; the renderers only format.

:func:`build_report` reads a linked file once, counts the round's tables, puts every table through
disclosure control (:func:`factlab.disclosure.protect.protect`), and describes the result as a
:class:`~factlab.report.model.Report`. :func:`write_report` renders it as one self-contained HTML
file, an Excel workbook or Markdown. In internal mode (``internal=True``) the tables hold the exact
counts instead, and every page and sheet says "internal — not for publication".

What a public report publishes, and how each part is protected (see ``docs/reports.md``):

- unique clients by each configured dimension and period, and a cross table (care form ×
  financing by default) with the sum of its cells beside the unique total: ``protect`` with the
  union relation for unique clients and sums of cells for the sum of cells, the period's parts
  protected together with it;
- clients by number of providers: ``protect`` (additive: every client has one number);
- the provider overlap matrix under anonymised labels: ``protect`` with the symmetry of the
  matrix added to the audit (:func:`factlab.report.protect.protect_symmetric`);
- rows delivered per provider and BSN status (data quality): ``protect`` (additive);
- corrected totals: model estimates, rounded, an adjustment of a suppressed value not shown;
- provenance: manifests' hashes, key fingerprint, versions and rules, no counts.

The grand total of unique clients recurs in several tables; it is hidden in all of them if any
table suppresses it (:func:`factlab.report.protect.align_totals`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import polars as pl

from factlab import schema
from factlab.analysis.counts import CountResult
from factlab.analysis.overlap import LinkedSource, overlap, scan_linked
from factlab.disclosure.protect import ProtectedTable
from factlab.disclosure.rules import MeasureRule
from factlab.errors import DataError
from factlab.estimation.estimate import estimate
from factlab.manifest import now_iso, read_manifest
from factlab.report.config import RoundConfig
from factlab.report.model import (
    Figure,
    InternalTable,
    Layout,
    Report,
    ReportTable,
    TableSource,
    UnseenView,
    estimate_view,
    unseen_view,
)
from factlab.report.protect import align_totals, protect_symmetric
from factlab.report.render import render_file
from factlab.report.tables import (
    PART,
    Publisher,
    Timing,
    check_dimensions,
    distribution_counts,
    needed_columns,
    overlap_counts,
    provider_labels,
    quality_counts,
)
from factlab.report.text import (
    dimension_name,
    dimension_notes,
    overlap_notes,
    provenance,
    reading_notes,
    warnings,
)

__all__ = [
    "REPORT_FORMATS",
    "build_report",
    "write_report",
]

#: Output formats by file extension.
REPORT_FORMATS: Final = (".html", ".xlsx", ".md")
_UNIQUE: Final = "unique_clients"
_CELLS: Final = "sum_of_cells"


def build_report(
    linked: LinkedSource,
    config: RoundConfig | None = None,
    *,
    internal: bool = False,
    generated: str | None = None,
) -> Report:
    """Count, protect and describe a round for publication (or, explicitly, for internal use).

    Args:
        linked: a linked factlab file (its manifest gives the provenance) or its rows.
        config: the round configuration (default: :class:`RoundConfig` defaults).
        internal: show exact counts without disclosure control; every page and sheet of the
            rendered report then says "internal — not for publication".
        generated: the creation time shown (default: now, UTC).

    Returns:
        The report, ready for :func:`write_report`.

    Raises:
        InputError: the file is not a linked factlab file or lacks a column.
        ConfigError: a dimension is not in the data, or the corrections do not fit the counts.
        DataError: counts or protection fail.

    Example:
        >>> import hashlib, polars as pl
        >>> from factlab import schema
        >>> ids = [i % 40 for i in range(60)]
        >>> rows = pl.DataFrame({
        ...     "pseudonym": [hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in ids],
        ...     "bsn_status": pl.Series(["valid"] * 60, dtype=schema.STATUS_DTYPE),
        ...     "provider": ["P1" if i < 30 else "P2" for i in range(60)],
        ...     "care_form": ["ambulant" if i % 3 else "verblijf" for i in range(60)]})
        >>> report = build_report(rows, RoundConfig(dimensions=("care_form",)))
        >>> [table.id for table in report.tables]
        ['by-care_form', 'providers-per-client', 'overlap', 'data-quality']
    """
    config = config or RoundConfig()
    timed = config.period is not None or config.reference_date is not None
    source = scan_linked(linked, dates=timed)
    manifest = None if isinstance(linked, pl.DataFrame | pl.LazyFrame) else read_manifest(linked)
    columns = source.frame.collect_schema().names()
    dims = config.chosen_dimensions(columns)
    check_dimensions(dims, columns)
    cross = config.chosen_cross(dims)
    if cross is not None:
        check_dimensions(cross, columns)
        dims = tuple(dict.fromkeys((*dims, *cross)))
    # The one read of the rows; every count below works on this frame in memory.
    rows = source.frame.select(needed_columns(dims, columns)).collect()
    labels = provider_labels(rows, anonymise=config.anonymise_providers)
    rows = rows.with_columns(
        pl.col(schema.PROVIDER).cast(pl.String).fill_null("unknown").replace_strict(labels)
    )
    timing = Timing(config.period, config.parts, config.reference_date)
    tables = _publish(rows, config, timing, dims, cross or dims[:1], internal)
    whole = timing.label if config.parts else None
    view = None
    if config.corrections is not None:
        result = estimate(tables.main_counts.table, config.corrections)
        view = estimate_view(
            result,
            tables.main,
            rounding=config.corrections_rounding,
            secret_max=config.rules.secret_max,
            part=whole,
        )
    unseen, unseen_note = _unseen(linked, config, labels, internal)
    stamp = generated or now_iso()
    notes = reading_notes(config, internal, view is not None)
    return Report(
        title=config.title,
        region=config.region,
        time_label=config.time_label,
        internal=internal,
        rules=config.rules,
        key_figures=_key_figures(tables, whole),
        tables=_sections(tables, config, timing, cross, dims, tuple(labels.values())),
        estimate=view,
        provenance=provenance(source.provenance, manifest, labels, config, dims, internal, stamp),
        warnings=warnings(manifest),
        notes=(*notes, *unseen_note),
        generated=stamp,
        unseen=unseen,
    )


def _unseen(
    linked: LinkedSource, config: RoundConfig, labels: Mapping[str, str], internal: bool
) -> tuple[UnseenView | None, tuple[str, ...]]:
    """The capture-recapture estimate the configuration asks for, and a note when there is none."""
    wanted = config.capture_recapture
    if wanted is None:
        return None, ()
    from factlab.estimation.histories import histories_from_linked
    from factlab.estimation.unseen import estimate_unseen

    groups = {name: list(members) for name, members in wanted.sources} or None
    try:
        (histories,) = histories_from_linked(
            linked, groups=groups, period=config.period, on=config.reference_date
        )
        result = estimate_unseen(histories, model=wanted.model, criterion=wanted.criterion)
    except DataError as exc:
        # The reasons name no client and no value: the lists, the overlap, the model.
        return None, (f"No capture-recapture estimate: {exc}",)
    view = unseen_view(
        result,
        rounding=wanted.rounding,
        rules=config.rules,
        internal=internal,
        labels=None if groups else labels,
    )
    if view is None:
        return None, ("No capture-recapture estimate: too few youths were seen to publish it.",)
    return view, ()


@dataclass(frozen=True)
class _Published:
    """Every table of a report, protected (or internal), with the exact counts of the main one.

    ``main`` is the cross table, else the first dimension's table, else the total alone; the
    exact ``main_counts`` stay in this module (the corrections start from them).
    """

    main_dims: tuple[str, ...]
    main_counts: CountResult
    main: TableSource
    by_dim: Mapping[str, TableSource]
    distribution: TableSource
    quality: TableSource
    shared: TableSource


def _publish(
    rows: pl.DataFrame,
    config: RoundConfig,
    timing: Timing,
    dims: tuple[str, ...],
    main_dims: tuple[str, ...],
    internal: bool,
) -> _Published:
    """Count every table exactly and protect it (or wrap it as internal)."""
    publish = Publisher(config.rules, internal, timing.label)
    union, cells = MeasureRule(_UNIQUE, "union"), MeasureRule(_CELLS, "sum_of_cells")
    main_counts, main_parts = timing.count(rows, main_dims)
    main = publish.table(
        main_counts.table, main_dims, (union, cells) if main_dims else (union,), main_parts
    )
    others = [dim for dim in dims if dim not in main_dims]
    by_dim: dict[str, TableSource] = dict.fromkeys(main_dims, main)
    for dim in others:
        whole, parts = timing.count(rows, (dim,))
        by_dim[dim] = publish.table(whole.table, (dim,), (union,), parts)
    providers = rows.get_column(schema.PROVIDER).unique().sort()
    distribution = publish.table(
        distribution_counts(main_counts, providers.len()),
        ("providers",),
        (MeasureRule(_UNIQUE, "additive"),),
    )
    quality = publish.table(
        quality_counts(rows, providers.to_list()),
        (schema.PROVIDER, schema.STATUS),
        (MeasureRule("rows", "additive"),),
    )
    # count() made the provider overlap of the same rows in its pass (not with the fallback key).
    shared_result = main_counts.overlap or overlap(
        rows, period=config.period, on=config.reference_date
    )
    matrix = shared_result.matrix
    shared_counts = overlap_counts(matrix, main_counts.unique_clients)
    pair = ("provider_a", "provider_b")
    if internal:
        shared: TableSource = InternalTable.from_counts(
            shared_counts, dimensions=pair, measures=("shared_clients",)
        )
        return _Published(main_dims, main_counts, main, by_dim, distribution, quality, shared)
    shared_rules = replace(
        config.rules, measures=(MeasureRule("shared_clients", "union"),), dimensions=pair
    )
    shared = protect_symmetric(shared_counts, shared_rules, a=pair[0], b=pair[1])
    # These tables count the same clients, so they must agree on their grand totals.
    group = [main, *(by_dim[dim] for dim in others), distribution, shared]
    aligned = align_totals(
        [(_protected(table), None if table.part_column else timing.label) for table in group]
    )
    by_dim = dict.fromkeys(main_dims, aligned[0])
    by_dim.update(zip(others, aligned[1:-2], strict=True))
    return _Published(main_dims, main_counts, aligned[0], by_dim, aligned[-2], quality, aligned[-1])


def _sections(
    tables: _Published,
    config: RoundConfig,
    timing: Timing,
    cross: tuple[str, str] | None,
    dims: Sequence[str],
    labels: tuple[str, ...],
) -> tuple[ReportTable, ...]:
    """The report's tables in order, each with its layout, notes and chart."""
    sections: list[ReportTable] = []
    if cross is not None:
        sections.append(
            ReportTable(
                id="cross",
                title=f"Unique clients by {' and '.join(map(dimension_name, cross))}",
                source=tables.main,
                layout=Layout(
                    rows=cross[0],
                    columns=cross[1],
                    part=timing.label if config.parts else None,
                    footer=_CELLS,
                    footer_label="sum of cells",
                ),
                notes=(
                    f"Clients {timing.phrase}. The total row and column count persons; "
                    "the sum of cells counts a client once in every cell they are in.",
                ),
            )
        )
    sections += [
        ReportTable(
            id=f"by-{dim}",
            title=f"Unique clients by {dimension_name(dim)}",
            source=tables.by_dim[dim],
            layout=Layout(
                rows=dim,
                columns=PART if config.parts else None,
                column_order=timing.column_order if config.parts else None,
                total_column=False,
                value_title=f"unique clients {timing.label}",
            ),
            notes=dimension_notes(dim, timing),
            chart="periods" if dim == "financing" else None,
        )
        for dim in dims
    ]
    sections += [
        ReportTable(
            id="providers-per-client",
            title="Clients by number of providers",
            source=tables.distribution,
            layout=Layout(rows="providers", row_title="providers", value_title="clients"),
            notes=(
                f"Clients {timing.phrase} by the number of providers that delivered "
                "a row for them.",
            ),
            chart="bars",
        ),
        ReportTable(
            id="overlap",
            title="Clients shared by providers",
            source=tables.shared,
            layout=Layout(
                rows="provider_a",
                columns="provider_b",
                measure="shared_clients",
                row_order=labels,
                column_order=labels,
                total_row=False,
                total_column=False,
                row_title="provider",
            ),
            notes=overlap_notes(config, timing),
            chart="heatmap",
        ),
        ReportTable(
            id="data-quality",
            title="Data quality: rows delivered per provider by BSN status",
            source=tables.quality,
            layout=Layout(
                rows=schema.PROVIDER,
                columns=schema.STATUS,
                measure="rows",
                row_order=labels,
                column_order=schema.STATUSES,
                percent_of_total="valid",
            ),
            notes=(
                "All rows of the linked file, not only those in the counted period. valid: a "
                "usable BSN; missing: none given; sentinel: a code for 'unknown' or 'unborn'; "
                "bad_length, non_digit, checksum: a value that is not a BSN (wrong length, not "
                "digits, failed elfproef).",
            ),
        ),
    ]
    return tuple(sections)


def _protected(table: TableSource) -> ProtectedTable:
    assert isinstance(table, ProtectedTable)  # only called outside internal mode
    return table


def _key_figures(tables: _Published, part: str | None) -> tuple[Figure, ...]:
    main, distribution, quality = tables.main, tables.distribution, tables.quality
    figures = [Figure("Unique clients", main, part=part)]
    if tables.main_dims:
        names = " × ".join(dimension_name(d) for d in tables.main_dims)
        figures.append(Figure(f"Sum of cells ({names})", main, measure=_CELLS, part=part))
    delivered = Figure("Rows delivered", quality, measure="rows")
    figures += [
        Figure(
            "Clients at two or more providers",
            distribution,
            minus=Figure("at one provider", distribution, (("providers", "1"),)),
            percent_of=Figure("Unique clients", distribution),
        ),
        delivered,
        Figure(
            "Rows with a valid BSN",
            quality,
            ((schema.STATUS, "valid"),),
            measure="rows",
            percent_of=delivered,
        ),
    ]
    return tuple(figures)


def write_report(report: Report, path: str | Path) -> Path:
    """Render ``report`` to ``path`` atomically; the extension picks the format.

    ``.html``: one self-contained page (inline CSS and SVG charts, no network request);
    ``.xlsx``: one sheet per table, numbers as numbers, suppressed values as "."; ``.md``: text.

    Raises:
        ConfigError: the extension is not .html, .xlsx or .md.
        InputError: the output folder does not exist.
    """
    return render_file(report, Path(path))
