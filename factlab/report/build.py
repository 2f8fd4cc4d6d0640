"""Publication reports of a round: count, protect, describe; the renderers only format.

:func:`build_report` reads a linked file once, counts the round's tables, puts every table through
disclosure control (:func:`factlab.disclosure.protect.protect`), and describes the result as a
:class:`~factlab.report.model.Report`. :func:`write_report` renders it as one self-contained HTML
file, an Excel workbook or Markdown. In internal mode (``internal=True``) the tables hold the exact
counts instead, and every page and sheet says "internal — not for publication".

What a public report publishes, and how each part is protected (see ``docs/reports.md``):

- unique clients by each configured dimension and period, and a cross table (care form ×
  financing by default) with the sum of its cells beside the unique total: protected together
  (:func:`factlab.disclosure.linked.protect_together`: one lattice, a margin they share has one
  status), with the union relation for unique clients and sums of cells for the sum of cells,
  the period's parts protected together with them (by municipality, where a client who moved
  counts in the most recent municipality of each period, a year is only at most the sum of
  its parts: see the rules' ``period_valued``);
- clients by number of providers: in the one lattice of the one-dimension tables (its rows add
  up to the grand total: every client has one number, so a total hidden there must not be their
  sum); ``protect`` on its own when the report has no such table;
- the provider overlap matrix under anonymised labels: ``protect`` with the symmetry of the
  matrix added to the audit (:func:`factlab.report.protect.protect_symmetric`), unless the
  round leaves it out (``[providers] overlap = false``), which a table by ``provider_group``
  requires: a group is the union of its providers, and a group of two beside the matrix is
  a + b - shared(a, b);
- rows delivered per provider and BSN status (data quality): rows are not persons, so they are
  published, but a provider's rows bound its youths (a youth has at least one row), so they are
  rounded by the rules' base (or ``data_quality.rounding``) and 1 to ``secret_max`` rows are
  secret, like a count; a zero shows as nihil ("–"), so a provider that delivered no BSN is
  visible;
- corrected totals: model estimates, rounded, an adjustment of a suppressed value not shown;
- provenance: manifests' hashes, key fingerprint, versions and rules, no counts.

The grand total of unique clients recurs in several tables; it is hidden in all of them if any
table suppresses it (:func:`factlab.report.protect.align_totals`).

Free text (titles, the source line, the corrections' notes) is checked before the report is made
(:mod:`factlab.report.freetext`): a number in it that equals an exact count the report does not
publish stops it. Open episodes end on the delivery date, and a counted time after the delivery
or before the data's first start is warned about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Final

import polars as pl

from factlab import schema
from factlab.analysis.counts import count
from factlab.analysis.overlap import LinkedSource, overlap, scan_linked
from factlab.disclosure.linked import LinkedTable, protect_together
from factlab.disclosure.protect import ProtectedTable
from factlab.disclosure.rules import MeasureRule
from factlab.errors import ConfigError, DataError
from factlab.estimation.estimate import Estimate, estimate
from factlab.manifest import now_iso, read_manifest
from factlab.reference.config import PROVIDER_GROUP
from factlab.reference.dimensions import prepare, tree_of
from factlab.report import i18n
from factlab.report.config import RoundConfig
from factlab.report.delivery import cap_open_episodes, delivery_date, period_warnings, refuse_empty
from factlab.report.freetext import refuse_bsn, refuse_exact, refuse_unlisted
from factlab.report.levels import (
    hierarchy_problems,
    leaf_columns,
    members,
    split,
    split_counts,
    used_hierarchies,
)
from factlab.report.model import (
    EstimateView,
    InternalTable,
    Report,
    ReportTable,
    TableSource,
    UnseenView,
)
from factlab.report.protect import align_totals, protect_symmetric
from factlab.report.render import render_file
from factlab.report.sections import (
    PublishedTables,
    coverage_note,
    key_figures,
    quality_rules,
    sections,
)
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
    legend,
    provenance,
    reading_notes,
    warnings,
)
from factlab.report.views import estimate_view, published_value, unseen_view

__all__ = [
    "REPORT_FORMATS",
    "build_report",
    "write_report",
]

#: Output formats by file extension.
REPORT_FORMATS: Final = (".html", ".xlsx", ".md")
_UNIQUE: Final = "unique_clients"
_CELLS: Final = "sum_of_cells"
_DISTRIBUTION: Final = "providers"


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
        config: the round configuration (default: :class:`RoundConfig` defaults, in Dutch).
        internal: show exact counts without disclosure control; every page and sheet of the
            rendered report then says "internal — not for publication".
        generated: the creation time shown (default: now, UTC).

    Returns:
        The report, ready for :func:`write_report`.

    Raises:
        InputError: the file is not a linked factlab file or lacks a column.
        ConfigError: a dimension is not in the data, the corrections do not fit the counts, or
            a free text of a public report holds an exact count it does not publish.
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
        >>> report.tables[0].title
        'Unieke jeugdigen naar zorgvorm'
    """
    config = config or RoundConfig()
    language = config.language
    timed = config.period is not None or config.reference_date is not None
    source = scan_linked(linked, dates=timed)
    from factlab.analysis.coverage import check_coverage  # (local: one edit in a shared file)

    # Days some provider's deliveries do not cover would count its ongoing episodes as in care
    # (and publish what count refuses): refused, the period and each part.
    asked = [] if config.period is None else [config.period, *config.parts]
    check_coverage(linked, asked, on=config.reference_date, where="report")
    manifest = None if isinstance(linked, pl.DataFrame | pl.LazyFrame) else read_manifest(linked)
    columns = source.frame.collect_schema().names()
    dims = config.chosen_dimensions(columns)
    leaves = leaf_columns(config.reference)
    check_dimensions(dims, columns, leaves)
    cross = config.chosen_cross(dims)
    if cross is not None:
        check_dimensions(cross, columns)
        dims = tuple(dict.fromkeys((*dims, *cross)))
    problems = hierarchy_problems(dims, cross or (), config.reference)
    if problems:
        raise ConfigError(config.source, problems)
    # The one read of the rows; every count below works on this frame in memory.
    rows = source.frame.select(needed_columns(dims, columns, leaves)).collect()
    if config.reference is not None:
        # Every value the reference cannot place, at once and with the linked file's name
        # (the counts below see the rows in memory, without it).
        prepare(rows.lazy(), config.reference, dims, source=source.name)
    delivered = delivery_date(manifest, config)
    warned = period_warnings(rows, config, delivered)
    rows = cap_open_episodes(rows, delivered)
    refuse_empty(rows, config, warned)
    capped = rows  # with provider codes, for the capture-recapture lists
    labels = provider_labels(rows, anonymise=config.anonymise_providers)
    rows = rows.with_columns(
        pl.col(schema.PROVIDER).cast(pl.String).fill_null("unknown").replace_strict(labels)
    )
    timing = Timing(config.period, config.parts, config.reference_date, config.reference)
    # Without a cross table the first dimension is the main table, protected on its own: never
    # a hierarchy's leaf or level, which are protected together (factlab.report.levels).
    stacked = {name for h in used_hierarchies(dims, config.reference) for name in members(h, dims)}
    first = [dim for dim in dims if dim not in stacked][:1]
    tables = _publish(rows, capped, config, timing, dims, cross or tuple(first), internal)
    whole = timing.label if config.parts else None
    view = None
    result = None
    if config.corrections is not None:
        result = estimate(tables.main_counts.table, config.corrections)
        view = estimate_view(
            result,
            tables.main,
            rounding=config.corrections_rounding,
            part=whole,
            language=language,
            title=config.corrections_title,
            texts=config.adjustment_text,
        )
    # The youths seen by capture-recapture are (nearly) the grand total: hidden with it.
    grand = published_value(tables.main, {}, _UNIQUE, whole)
    unseen, unseen_note = _unseen(
        capped, config, labels, internal, total_published=grand is not None
    )
    laid_out = sections(tables, config, timing, cross, dims, tuple(labels.values()))
    _check_free_text(config, tables, result, view, unseen, laid_out, internal)
    stamp = generated or now_iso()
    notes = reading_notes(config, internal, view is not None)
    published = i18n.day(language, config.publication_date or _day_of(stamp))
    status = i18n.text(language, f"status_{config.status}")
    status_line = (
        i18n.text(language, "internal_mark")
        if internal
        else i18n.text(language, "status_protected", status=status, rules=config.rules.name)
    )
    providers = len(labels)
    source_text = config.source_text or (
        i18n.text(language, "source_default_region", providers=providers, region=config.region)
        if config.region
        else i18n.text(language, "source_default", providers=providers)
    )
    meta = [i18n.text(language, "region", region=config.region)] if config.region else []
    meta += [
        i18n.text(language, "counted", what=config.time_text(language)),
        i18n.text(language, "published_on", date=published),
    ]
    if config.contact:
        meta.append(i18n.text(language, "contact", contact=config.contact))
    return Report(
        title=config.report_title(),
        region=config.region,
        time_label=config.time_text(language),
        internal=internal,
        rules=config.rules,
        key_figures=key_figures(tables, whole, language),
        tables=laid_out,
        estimate=view,
        provenance=provenance(
            source.provenance, manifest, labels, config, dims, internal, stamp, delivered
        ),
        warnings=(*warnings(manifest, language), *warned),
        notes=(*notes, *coverage_note(tables.quality, language), *unseen_note),
        generated=stamp,
        unseen=unseen,
        language=language,
        legend=legend(config, internal),
        source_line=i18n.text(language, "source_line", source=source_text),
        status_line=status_line,
        published=published,
        contact=config.contact,
        meta=tuple(meta),
        reading_guide=i18n.text(language, "reading_guide"),
    )


def _day_of(stamp: str) -> date:
    """The day of an ISO timestamp (today when ``stamp`` is not one)."""
    try:
        return date.fromisoformat(stamp[:10])
    except ValueError:
        return date.today()


def _unseen(
    linked: LinkedSource,
    config: RoundConfig,
    labels: Mapping[str, str],
    internal: bool,
    *,
    total_published: bool = True,
) -> tuple[UnseenView | None, tuple[str, ...]]:
    """The capture-recapture estimate the configuration asks for, and a note when there is none.

    ``linked`` is the report's rows (open episodes already ended on the delivery date), with
    the providers' own codes, which the configured lists name.
    """
    wanted = config.capture_recapture
    if wanted is None:
        return None, ()
    from factlab.estimation.histories import histories_from_linked
    from factlab.estimation.unseen import estimate_unseen

    language = config.language
    groups = {name: list(members) for name, members in wanted.sources} or None
    try:
        (histories,) = histories_from_linked(
            linked, groups=groups, period=config.period, on=config.reference_date
        )
        result = estimate_unseen(histories, model=wanted.model, criterion=wanted.criterion)
    except DataError as exc:
        # The reasons name no client and no value: the lists, the overlap, the model. They are
        # English, so a report in another language says it in general words.
        if language == "en":
            return None, (i18n.text(language, "no_unseen", reason=exc),)
        return None, (i18n.text(language, "no_unseen_model"),)
    view = unseen_view(
        result,
        rounding=wanted.rounding,
        rules=config.rules,
        internal=internal,
        labels=None if groups else labels,
        language=language,
        total_published=total_published,
    )
    if view is None:
        return None, (i18n.text(language, "no_unseen_few"),)
    return view, ()


def _publish(
    rows: pl.DataFrame,
    coded: pl.DataFrame,
    config: RoundConfig,
    timing: Timing,
    dims: tuple[str, ...],
    main_dims: tuple[str, ...],
    internal: bool,
) -> PublishedTables:
    """Count every table exactly and protect it (or wrap it as internal).

    ``rows`` carry the providers' labels, ``coded`` (the same rows) their codes, from which the
    registry's ``provider_group`` is derived; both count the same clients.
    """
    # The tables protected apart share their grand totals (per part): none hides its total as
    # a complement unless no other pattern is safe (a half with a few clients), since another
    # table may give it away (align_totals hides a total everywhere, but a table whose one
    # category equals the total would still show it).
    kept = replace(config.rules, keep_total=True)
    publish = Publisher(kept, internal, timing.label)
    union, cells = MeasureRule(_UNIQUE, "union"), MeasureRule(_CELLS, "sum_of_cells")

    def source(by: Sequence[str]) -> pl.DataFrame:
        return coded if PROVIDER_GROUP in by else rows

    main_counts, main_parts = timing.count(source(main_dims), main_dims)
    others = [dim for dim in dims if dim not in main_dims]
    # A hierarchy's tabulated leaf and levels are counted once, stacked in the leaf's column
    # (factlab.report.levels), under the leaf's name; every other dimension on its own.
    hierarchies = used_hierarchies(others, config.reference)
    stacked = {h.dimension: h for h in hierarchies}
    in_stack = {name for h in hierarchies for name in members(h, others)}
    counted = {
        **{dim: timing.count(source((dim,)), (dim,)) for dim in others if dim not in in_stack},
        **{h.dimension: timing.count(rows, (h.name,)) for h in hierarchies},
    }
    exact = [main_counts.table, *main_parts.values()]
    exact += [
        frame for whole, parts in counted.values() for frame in (whole.table, *parts.values())
    ]
    main: TableSource = publish.table(
        main_counts.table, main_dims, (union, cells) if main_dims else (union,), main_parts
    )
    by_dim: dict[str, TableSource] = {}
    providers = rows.get_column(schema.PROVIDER).unique().sort()
    distribution_exact = distribution_counts(main_counts, providers.len())
    distribution: TableSource | None = None
    if not internal and counted:
        # One-dimension tables share their margins (the grand total, per part): one lattice,
        # one pattern, so no table's audit leans on a total another one gives away. (The main
        # table keeps its own lattice: its sum of cells has a grand total of its own.) A
        # hierarchy is one table in it, declared as such: its groups are unions of its leaves.
        # The tree of the hierarchy counted (not another over the same leaf), with `unknown`
        # when the whole or any part holds it.
        declared = {
            leaf: tree_of(h, [counted[leaf][0].table, *counted[leaf][1].values()])
            for leaf, h in stacked.items()
        }
        rules = replace(kept, measures=(union,), hierarchy={**kept.hierarchy, **declared})

        def unique(frame: pl.DataFrame, dim: str) -> pl.DataFrame:
            return frame.select(dim, _UNIQUE)

        linked = {
            dim: LinkedTable(
                unique(whole.table, dim),
                (dim,),
                {label: unique(frame, dim) for label, frame in parts.items()} or None,
            )
            for dim, (whole, parts) in counted.items()
        }
        # Clients by number of providers add up to the grand total (each client has one
        # number): in the same lattice, or a total hidden there is their sum. Its parts are in
        # the lattice only (audited as if published, which is stricter); the report shows the
        # whole.
        linked[_DISTRIBUTION] = LinkedTable(
            distribution_exact,
            (_DISTRIBUTION,),
            _distribution_parts(rows, timing, providers.len()) or None,
        )
        together = protect_together(linked, rules, label=timing.label, part_column=PART)
        distribution = _whole_only(_protected(together[_DISTRIBUTION].table), timing.label)
        for dim in counted:
            if dim in stacked:
                by_dim.update(split(together[dim].table, stacked[dim], others))
            else:
                by_dim[dim] = together[dim].table
    else:
        for dim, (whole, parts) in counted.items():
            if dim not in stacked:
                by_dim[dim] = publish.table(whole.table, (dim,), (union,), parts)
                continue
            hierarchy = stacked[dim]
            tables = split_counts(whole.table, hierarchy, others)
            part_tables = {
                label: split_counts(frame, hierarchy, others) for label, frame in parts.items()
            }
            by_dim.update(
                {
                    name: publish.table(
                        frame,
                        (name,),
                        (union,),
                        {label: pieces[name] for label, pieces in part_tables.items()},
                    )
                    for name, frame in tables.items()
                }
            )
    by_dim.update(dict.fromkeys(main_dims, main))
    if distribution is None:
        distribution = publish.table(
            distribution_exact, (_DISTRIBUTION,), (MeasureRule(_UNIQUE, "additive"),)
        )
    quality_exact = quality_counts(rows, providers.to_list())
    quality = (
        publish.table(
            quality_exact, (schema.PROVIDER, schema.STATUS), (MeasureRule("rows", "additive"),)
        )
        if internal
        else replace(publish, rules=quality_rules(config)).table(
            quality_exact, (schema.PROVIDER, schema.STATUS), (MeasureRule("rows", "additive"),)
        )
    )
    exact += [distribution_exact, quality_exact]
    shared: TableSource | None = None
    if config.publish_overlap:
        # count() made the provider overlap of the same rows in its pass (not with the
        # fallback key); with provider labels, as no provider_group is counted beside it.
        shared_result = main_counts.overlap or overlap(
            rows, period=config.period, on=config.reference_date
        )
        shared_counts = overlap_counts(shared_result.matrix, main_counts.unique_clients)
        exact.append(shared_counts)
        pair = ("provider_a", "provider_b")
        if internal:
            shared = InternalTable.from_counts(
                shared_counts, dimensions=pair, measures=("shared_clients",)
            )
        else:
            shared_rules = replace(
                kept, measures=(MeasureRule("shared_clients", "union"),), dimensions=pair
            )
            shared = protect_symmetric(shared_counts, shared_rules, a=pair[0], b=pair[1])
    if internal:
        return PublishedTables(
            main_dims, main_counts, main, by_dim, distribution, quality, shared, tuple(exact)
        )
    # These tables count the same clients, so they must agree on their grand totals.
    group = [main, *(by_dim[dim] for dim in others), distribution]
    group += [shared] if shared is not None else []
    aligned = align_totals(
        [(_protected(table), None if table.part_column else timing.label) for table in group]
    )
    by_dim = dict.fromkeys(main_dims, aligned[0])
    by_dim.update(zip(others, aligned[1 : 1 + len(others)], strict=True))
    return PublishedTables(
        main_dims,
        main_counts,
        aligned[0],
        by_dim,
        aligned[1 + len(others)],
        quality,
        aligned[2 + len(others)] if shared is not None else None,
        tuple(exact),
    )


def _distribution_parts(
    rows: pl.DataFrame, timing: Timing, providers: int
) -> dict[str, pl.DataFrame]:
    """Clients by number of providers in each part of the period."""
    return {
        part.label: distribution_counts(count(rows, period=part), providers)
        for part in timing.parts
    }


def _whole_only(table: ProtectedTable, label: str) -> ProtectedTable:
    """``table`` without its parts' rows and part column (the whole, as the report shows it)."""
    if table.part_column is None:
        return table
    frame = table.frame.filter(pl.col(table.part_column) == label).drop(table.part_column)
    return replace(table, frame=frame, part_column=None)


def _protected(table: TableSource) -> ProtectedTable:
    assert isinstance(table, ProtectedTable)  # only called outside internal mode
    return table


def _whole_numbers(frames: Sequence[pl.DataFrame]) -> set[int]:
    found: set[int] = set()
    for frame in frames:
        for name, dtype in frame.schema.items():
            if dtype.is_integer():
                found.update(int(v) for v in frame.get_column(name).drop_nulls().unique())
    return found


def _group_names(config: RoundConfig, tables: PublishedTables) -> list[tuple[str, str]]:
    """The names of the reference's groups that the report's tables show: free text the user
    wrote, as a label is (``Zuid 30`` is refused where 30 is an exact count not published).
    A group with a label is shown by its label, which is checked as a label."""
    reference = config.reference
    if reference is None:
        return []
    shown = tuple(tables.by_dim)

    def named(level: str, group: str) -> tuple[str, str]:
        hint = f" (or give it a label under [labels.{level}])"
        return (f"reference: group {group!r} of {level}{hint}", group)

    found = [
        named(level, group)
        for hierarchy in used_hierarchies(shown, reference)
        for level, groups in zip(hierarchy.levels, hierarchy.groups, strict=True)
        if level in shown
        for group in groups
        if group not in config.labels.get(level, {})
    ]
    if PROVIDER_GROUP in shown and reference.providers is not None:
        names = dict.fromkeys(reference.providers.groups().values())
        labelled = config.labels.get(PROVIDER_GROUP, {})
        found += [named(PROVIDER_GROUP, name) for name in names if name not in labelled]
    return found


def _check_free_text(
    config: RoundConfig,
    tables: PublishedTables,
    result: Estimate | None,
    view: EstimateView | None,
    unseen: UnseenView | None,
    laid_out: Sequence[ReportTable],
    internal: bool,
) -> None:
    """Refuse free text that holds a BSN, or (in a public report) writes an exact count the
    report does not publish, or (in the source line and the corrections' texts, which tell
    about the figures) any number not on the allow-list of
    :func:`factlab.report.freetext.refuse_unlisted`. Titles, names, labels and the contact line
    may hold other numbers (an age group, a phone number), but never an exact count."""
    exact = _whole_numbers(tables.exact)
    published = _whole_numbers([section.source.frame for section in laid_out])
    texts = [("title", config.report_title())]
    texts += [
        (key, text)
        for key, text in (
            ("region", config.region),
            ("publication.source", config.source_text),
            ("publication.contact", config.contact),
        )
        if text
    ]
    texts += [
        (f"labels.{dim}.{value}", label)
        for dim, given in config.labels.items()
        for value, label in given.items()
    ]
    texts += _group_names(config, tables)
    if result is not None and view is not None:
        for adjustment in result.adjustments:
            exact.update(
                round(value)
                for value in (
                    adjustment.value,
                    adjustment.low,
                    adjustment.high,
                    adjustment.observed,
                )
                if value is not None
            )
        exact.update(round(v) for v in (result.total, result.low, result.high) if v is not None)
        published.update(
            v for v in (view.counted, view.total, view.low, view.high) if v is not None
        )
        texts.append(("corrections.title", view.title))
        for line in view.lines:
            published.update(
                v for v in (line.value, line.low, line.high, line.observed) if v is not None
            )
            where = f"corrections.adjustment.{line.name}"
            texts += [(f"{where}.label", line.label), (f"{where}.note", line.note)]
            texts.append((f"{where}.source", line.source))
    if unseen is not None:
        published.update(
            v
            for v in (unseen.observed, unseen.estimate, unseen.lower, unseen.upper)
            if v is not None
        )
        texts.append(("capture_recapture.sources", unseen.model))
    refuse_bsn(texts)
    if not internal:
        refuse_exact(texts, exact, published)
        # The texts that tell about the figures; a title or a name may hold other numbers.
        narrative = ("publication.source", "corrections.")
        parameters = [
            tuple(v for v in (a.parameter, a.low, a.high) if v is not None)
            for a in (config.corrections.adjustments if config.corrections else ())
        ]
        refuse_unlisted(
            [(what, text) for what, text in texts if what.startswith(narrative)],
            published,
            parameters,
        )


def write_report(report: Report, path: str | Path) -> Path:
    """Render ``report`` to ``path`` atomically; the extension picks the format.

    ``.html``: one self-contained page (inline CSS and SVG charts, no network request);
    ``.xlsx``: one sheet per table, numbers as numbers, suppressed values as "."; ``.md``: text.

    Raises:
        ConfigError: the extension is not .html, .xlsx or .md.
        InputError: the output folder does not exist.
    """
    return render_file(report, Path(path))
