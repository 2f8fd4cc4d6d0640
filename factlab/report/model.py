"""What a report is made of: protected tables laid out, key figures, a rounded estimate, provenance.

Describe, then render: :func:`factlab.report.build.build_report` describes a round in these types
and :mod:`factlab.report.render` only formats them. Every number a report shows is read from a
:class:`~factlab.disclosure.protect.ProtectedTable` (which only disclosure control can make) or, in
the explicit internal mode, from an :class:`InternalTable`. A raw frame is refused wherever a table
is expected, and a :class:`Report` refuses internal tables unless it is itself internal, in which
case every page and sheet says :data:`INTERNAL_MARK`.

A :class:`ReportTable` also refuses labels that look like a BSN (:func:`check_labels`): a text
field filled from the BSN column would otherwise publish clients' numbers as row labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from factlab.disclosure.protect import STATUS_DTYPE, ProtectedTable
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import DataError
from factlab.steward.bsn import looks_like_bsn

__all__ = [
    "INTERNAL_MARK",
    "EstimateLine",
    "EstimateView",
    "Figure",
    "InternalTable",
    "Layout",
    "Report",
    "ReportTable",
    "TableSource",
    "UnseenView",
    "check_labels",
    "check_source",
]

#: Shown on every page and sheet of an internal report.
INTERNAL_MARK: Final = "internal — not for publication"
_SEAL: Final = object()


@dataclass(frozen=True)
class InternalTable:
    """Exact, unprotected counts, explicitly marked internal to the trusted party.

    It has the shape of a protected table (a ``<measure>_status`` column per measure, always
    ``published``) so that it renders the same way, but only an internal :class:`Report` takes it.
    Make one with :meth:`from_counts`.

    Attributes:
        frame: key columns (part column first, if any; null = total), then per measure the exact
            value and its status.
        dimensions: the dimension columns.
        measures: the measure columns.
        part_column: the column naming the table's parts (e.g. a year and its halves), or None.
    """

    frame: pl.DataFrame
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    part_column: str | None = None

    @classmethod
    def from_counts(
        cls,
        counts: pl.DataFrame,
        *,
        dimensions: Sequence[str],
        measures: Sequence[str],
        parts: Mapping[str, pl.DataFrame] | None = None,
        label: str = "whole",
        part_column: str = "period",
    ) -> InternalTable:
        """Wrap exact count tables (the whole and, optionally, its parts by label).

        Example:
            >>> import polars as pl
            >>> counts = pl.DataFrame({"care_form": ["a", None], "unique_clients": [3, 3]})
            >>> InternalTable.from_counts(counts, dimensions=["care_form"],
            ...     measures=["unique_clients"]).frame["unique_clients"].to_list()
            [3, 3]
        """
        keys = [pl.col(name).cast(pl.String) for name in dimensions]
        values = [
            expression
            for m in measures
            for expression in (
                pl.col(m).cast(pl.Int64),
                pl.lit("published").cast(STATUS_DTYPE).alias(f"{m}_status"),
            )
        ]
        if not parts:
            return cls(counts.select(*keys, *values), tuple(dimensions), tuple(measures))
        pieces = [
            frame.select(pl.lit(name).alias(part_column), *keys, *values)
            for name, frame in {label: counts, **parts}.items()
        ]
        return cls(pl.concat(pieces), tuple(dimensions), tuple(measures), part_column)

    @property
    def keys(self) -> tuple[str, ...]:
        """Key columns: the part column (if any) and the dimensions."""
        return ((self.part_column,) if self.part_column else ()) + self.dimensions


#: What a report reads its numbers from.
TableSource = ProtectedTable | InternalTable


def check_source(source: object, *, internal: bool, what: str) -> TableSource:
    """Return ``source`` if a report may show it; refuse raw counts.

    Raises:
        TypeError: ``source`` is neither a ProtectedTable nor an InternalTable (e.g. a frame).
        DataError: ``source`` is an InternalTable and the report is not internal.

    Example:
        >>> import polars as pl
        >>> check_source(pl.DataFrame({"unique_clients": [3]}), internal=True, what="t")
        Traceback (most recent call last):
        TypeError: t: a report shows only protected tables (factlab.disclosure.protect.protect) or, in internal mode, an InternalTable; got DataFrame
    """  # noqa: E501
    if isinstance(source, ProtectedTable):
        return source
    if isinstance(source, InternalTable):
        if not internal:
            raise DataError(
                f"{what}: exact counts are internal to the trusted party; protect them first "
                "or make an internal report"
            )
        return source
    raise TypeError(
        f"{what}: a report shows only protected tables (factlab.disclosure.protect.protect) or, in "
        f"internal mode, an InternalTable; got {type(source).__name__}"
    )


def check_labels(source: TableSource, *, what: str) -> None:
    """Refuse a table whose labels hold a value that looks like a BSN.

    A label looks like a BSN when it is one, or holds one anywhere in its text: eight or nine
    digits passing the elfproef, written with at most one separator between two digits
    (:func:`factlab.steward.bsn.looks_like_bsn`). Such a value in a dimension means a field was
    filled from the BSN column (a mapping that names the BSN column twice, or two columns
    swapped); a report would publish it as a row or column. ``protect`` refuses such a label
    already (:mod:`factlab.disclosure.labels`); this check covers exact (internal) tables and
    tables read back from a file.

    Raises:
        DataError: naming the table and each such dimension, with the number of such values
            (never a value).

    Example:
        >>> import polars as pl
        >>> counts = pl.DataFrame({"municipality": ["999993653", None],
        ...                        "unique_clients": [40, 40]})
        >>> exact = InternalTable.from_counts(
        ...     counts, dimensions=["municipality"], measures=["unique_clients"])
        >>> check_labels(exact, what="table by-municipality")
        Traceback (most recent call last):
        factlab.errors.DataError: table by-municipality: dimension municipality: 1 label value looks like a BSN (8 or 9 digits passing the elfproef); a report never shows one: check the column mapping of this field
    """  # noqa: E501
    names = [name for name in source.dimensions if name in source.frame.columns]
    if not names:
        return
    # The distinct values that look like one are counted. (Not looks_like_bsn(col.unique()):
    # the expression reads its input several times, and unique() need not keep one order.)
    found = source.frame.select(
        pl.col(name).filter(looks_like_bsn(pl.col(name).cast(pl.String))).n_unique()
        for name in names
    ).row(0, named=True)
    problems = [
        f"dimension {name}: {number} label {'value looks' if number == 1 else 'values look'} "
        "like a BSN (8 or 9 digits passing the elfproef)"
        for name, number in found.items()
        if number
    ]
    if problems:
        raise DataError(
            f"{what}: {'; '.join(problems)}; a report never shows one: check the column "
            "mapping of this field"
        )


@dataclass(frozen=True)
class Layout:
    """How a table is laid out: which key goes down, which across, what is shown.

    Every dimension of the source that is neither ``rows`` nor ``columns`` is taken at its total;
    a part column that is neither is taken at ``part``.

    Attributes:
        rows: the key column down the side.
        columns: the key column across (None: one column, ``measure``).
        measure: the measure shown.
        part: the part shown when the part column is not laid out.
        row_order: row values in display order (None: as in the source).
        column_order: column values in display order (None: as in the source).
        total_row: add the margin over ``rows`` as a last row.
        total_column: add the margin over ``columns`` as a last column.
        footer: a further measure shown in a last row on the margins of the columns (e.g.
            ``sum_of_cells`` beside the unique total), with ``footer_label``.
        percent_of_total: a column value whose share of the row's total is added as a column.
        row_title: header of the label column (None: the row key's name).
        value_title: header of the single value column (None: the measure's name).
        row_labels: label shown for a row value (others as they are).
        column_labels: label shown for a column value (others as they are).
        total_label: label of the total row and column.
        zero_nil: a published 0 is an exact zero (the rules publish no rounded-down count),
            shown as nihil ("–").
    """

    rows: str
    columns: str | None = None
    measure: str = "unique_clients"
    part: str | None = None
    row_order: tuple[str, ...] | None = None
    column_order: tuple[str, ...] | None = None
    total_row: bool = True
    total_column: bool = True
    footer: str | None = None
    footer_label: str = ""
    percent_of_total: str | None = None
    row_title: str | None = None
    value_title: str | None = None
    row_labels: Mapping[str, str] = field(default_factory=dict)
    column_labels: Mapping[str, str] = field(default_factory=dict)
    total_label: str = "total"
    zero_nil: bool = False


@dataclass(frozen=True)
class ReportTable:
    """One table of a report: a protected (or explicitly internal) table and its layout.

    Attributes:
        id: identifier: HTML anchor (``table-<id>``), sheet name, chart id.
        title: the table's heading.
        source: the numbers; a raw frame raises TypeError.
        layout: how to lay them out.
        notes: sentences shown under the table.
        chart: ``periods`` (bars per period and value), ``heatmap``, ``bars`` or ``lines``
            (a line per column over the rows, which are periods: a monitor's series), or None.
        language: the language of the report (numbers are formatted in it).
        sheet: the name of the table's Excel sheet ("" : from the id).
        caption: the table's caption, e.g. its title and what was counted ("": the title).
    """

    id: str
    title: str
    source: TableSource
    layout: Layout
    notes: tuple[str, ...] = ()
    chart: str | None = None
    language: str = "nl"
    sheet: str = ""
    caption: str = ""

    def __post_init__(self) -> None:
        check_source(self.source, internal=True, what=f"table {self.id}")
        check_labels(self.source, what=f"table {self.id}")
        if self.chart not in (None, "periods", "heatmap", "bars", "lines"):
            raise ValueError(f"table {self.id}: unknown chart {self.chart!r}")


@dataclass(frozen=True)
class Figure:
    """A key figure: one value of a table, optionally minus another and as a percentage.

    Attributes:
        label: what the figure is.
        source: the table it is read from.
        where: values of key columns; key columns not named are taken at their total.
        measure: the measure read.
        part: the part read, when the source has a part column.
        minus: subtract this figure's value (both published values, so nothing new is shown).
        percent_of: also show the value as a percentage of this figure.
    """

    label: str
    source: TableSource
    where: tuple[tuple[str, str], ...] = ()
    measure: str = "unique_clients"
    part: str | None = None
    minus: Figure | None = None
    percent_of: Figure | None = None

    def __post_init__(self) -> None:
        check_source(self.source, internal=True, what=f"figure {self.label!r}")

    def sources(self) -> tuple[TableSource, ...]:
        """Every table this figure reads."""
        nested = [f.sources() for f in (self.minus, self.percent_of) if f is not None]
        return (self.source, *(source for group in nested for source in group))


@dataclass(frozen=True)
class EstimateLine:
    """One adjustment of a published estimate (``value`` None: not shown, see below).

    ``label``, ``applies_to``, ``formula`` and ``parameter_text`` are in the report's language;
    ``note`` and ``source`` are the configured texts with their placeholders filled from the
    published values; ``observed`` is the published value the adjustment starts from.
    """

    name: str
    applies_to: str
    formula: str
    parameter: float | None
    value: int | None
    low: int | None
    high: int | None
    source: str
    note: str
    label: str = ""
    parameter_text: str = ""
    observed: int | None = None


@dataclass(frozen=True)
class EstimateView:
    """A corrections estimate as a report shows it: rounded model values, nothing exact.

    Made only by :func:`factlab.report.views.estimate_view`. An adjustment applied to a value
    the protected base table suppresses is not shown on its own (``value`` None): its size
    would give the suppressed value away.

    Attributes:
        title: the model's title.
        unit: what the total counts (persons or cell registrations).
        base: what the corrections start from, e.g. ``sum of cells of care_form × financing``.
        counted: the base total as the base table publishes it (None when suppressed).
        lines: the adjustments in the model's order.
        total: the corrected total, rounded; low and high: its range, rounded (None without).
        rounding: the multiple the values are rounded to (1 in an internal report).
        internal: the values are exact (an internal report).
        language: the report's language.
        persons: the total counts persons (unique clients), not cell registrations.
    """

    title: str
    unit: str
    base: str
    counted: int | None
    lines: tuple[EstimateLine, ...]
    total: int | None
    low: int | None
    high: int | None
    rounding: int
    internal: bool
    _seal: object = field(default=None, repr=False, compare=False)
    language: str = "nl"
    persons: bool = False

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError("an EstimateView is made by factlab.report.views.estimate_view")


@dataclass(frozen=True)
class UnseenView:
    """A capture-recapture estimate as a report shows it: rounded, its interval widened outwards.

    Made only by :func:`factlab.report.views.unseen_view`. The estimate is rounded to
    ``rounding``; the interval's lower end down and its upper end up to multiples of it, so the
    published interval holds the exact one. The number of youths seen is published rounded by
    the rules' base (exact only in an internal report).

    Attributes:
        observed: youths seen by at least one list (rounded; None when the report hides its
            grand total of unique youths).
        estimate, lower, upper: the estimate and its 95 % interval (rounded).
        model: the model, with the lists as the report labels them.
        lists: how many lists.
        meaning: what the figure means, next to the corrected total.
        assumptions: what it assumes.
    """

    observed: int | None
    estimate: int
    lower: int
    upper: int
    model: str
    lists: int
    rounding: int
    internal: bool
    meaning: str
    assumptions: tuple[str, ...]
    _seal: object = field(default=None, repr=False, compare=False)
    language: str = "nl"

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError("an UnseenView is made by factlab.report.views.unseen_view")


@dataclass(frozen=True)
class Report:
    """A round described for rendering; validated on construction.

    Attributes:
        title: the report's title.
        region: the region, or None.
        time_label: what was counted, e.g. ``period 2025``.
        internal: exact counts for the trusted party; every page and sheet says so.
        rules: the disclosure rules the tables were protected with.
        key_figures: the figures shown first.
        tables: the tables in order.
        estimate: the corrections estimate, or None.
        unseen: the capture-recapture estimate, or None.
        provenance: groups of (label, value) lines: heading, lines.
        warnings: shown prominently at the top (e.g. single-stage pseudonymisation).
        notes: how to read the numbers.
        generated: when the report was made (ISO 8601 UTC).
        language: the report's language (``nl`` or ``en``); ``html lang`` follows it.
        legend: the explanation of symbols ("Verklaring van tekens"), one line each, shown on
            every page and sheet.
        source_line: the "Bron" line.
        status_line: provisional or final, and the rules (or the internal mark).
        published: the publication date, written out.
        contact: who answers questions, or None.
        meta: the header lines: region, what was counted, publication date, contact.
        reading_guide: one sentence on unique youths, sum of cells and the estimate.

    Raises:
        TypeError: a table or figure reads a raw frame.
        DataError: exact counts in a report that is not internal.
    """

    title: str
    region: str | None
    time_label: str
    internal: bool
    rules: DisclosureRules
    key_figures: tuple[Figure, ...]
    tables: tuple[ReportTable, ...]
    estimate: EstimateView | None
    provenance: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    generated: str = ""
    unseen: UnseenView | None = None
    language: str = "nl"
    legend: tuple[str, ...] = ()
    source_line: str = ""
    status_line: str = ""
    published: str = ""
    contact: str | None = None
    meta: tuple[str, ...] = ()
    reading_guide: str = ""

    def __post_init__(self) -> None:
        for table in self.tables:
            check_source(table.source, internal=self.internal, what=f"table {table.id}")
        for figure in self.key_figures:
            for source in figure.sources():
                check_source(source, internal=self.internal, what=f"figure {figure.label!r}")
        if self.estimate is not None and self.estimate.internal and not self.internal:
            raise DataError("estimate: exact values belong in an internal report only")
        if self.unseen is not None and self.unseen.internal and not self.internal:
            raise DataError("unseen: exact values belong in an internal report only")
        ids = [table.id for table in self.tables]
        if len(set(ids)) != len(ids):
            raise ValueError("report: two tables have the same id")
