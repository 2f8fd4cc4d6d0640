"""Laying out a report's tables: the values of a protected table as rows and columns.

A :class:`Grid` is what every renderer and every chart draws from. It is built only from the
tables of a :class:`~factlab.report.model.Report`, each checked again on the way
(:func:`~factlab.report.model.check_source`), so a chart or a sheet cannot show a number that
its protected table does not publish. A suppressed value is None in a grid and "." on the page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from factlab.report import i18n
from factlab.report.model import (
    EstimateView,
    Figure,
    InternalTable,
    Layout,
    Report,
    ReportTable,
    TableSource,
    UnseenView,
    check_source,
)

__all__ = [
    "NIL",
    "STRUCTURAL",
    "SUPPRESSED",
    "Cell",
    "Grid",
    "cell_text",
    "estimate_grid",
    "figures_grid",
    "table_grid",
]

#: How a suppressed value is shown.
SUPPRESSED: Final = "."
#: How a cell that is empty by definition (a structural empty) is shown: cannot occur.
STRUCTURAL: Final = "x"
#: How an exact zero is shown (nihil), where the rules publish zeros exactly.
NIL: Final = "\u2013"

#: A value of a grid: a label (text), a count or percentage, or None for a suppressed value.
Cell = str | int | float | None


@dataclass(frozen=True)
class Grid:
    """A laid-out table: a header, rows of cells, and which rows and columns are margins.

    Attributes:
        header: column headings; the first is the heading of the label column.
        rows: one tuple of cells per row; the first cell is the row's label.
        kinds: per column: ``label``, ``count``, ``percent`` or ``text``.
        margin_rows: indexes of rows that are totals or footers.
        margin_columns: indexes of columns that are totals or percentages.
        language: numbers are written in this language (:func:`cell_text`).
    """

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    kinds: tuple[str, ...]
    margin_rows: frozenset[int] = field(default_factory=frozenset)
    margin_columns: frozenset[int] = field(default_factory=frozenset)
    language: str = "nl"

    def body(self) -> tuple[list[str], list[str], list[list[float | None]]]:
        """Row labels, column labels and values of the cells that are not margins."""
        columns = [
            index
            for index, kind in enumerate(self.kinds)
            if kind == "count" and index not in self.margin_columns
        ]
        rows = [index for index in range(len(self.rows)) if index not in self.margin_rows]
        values = [[_number(self.rows[r][c]) for c in columns] for r in rows]
        return [str(self.rows[r][0]) for r in rows], [self.header[c] for c in columns], values


def _number(cell: Cell) -> float | None:
    if cell in (STRUCTURAL, NIL):
        return 0.0  # empty by definition, or an exact zero
    return float(cell) if isinstance(cell, int | float) and not isinstance(cell, bool) else None


def _values(
    source: TableSource, layout: Layout, measures: Sequence[str]
) -> Callable[[str | None, str | None, str], int | str | None]:
    """``value(row, column, measure)`` of the layout's slice of ``source``.

    None is a suppressed value, :data:`STRUCTURAL` a cell empty by definition.
    """
    laid = {name for name in (layout.rows, layout.columns) if name is not None}
    conditions = [pl.col(d).is_null() for d in source.dimensions if d not in laid]
    if source.part_column is not None and source.part_column not in laid:
        if layout.part is None:
            raise ValueError(f"layout of {layout.rows}: name the part to show")
        conditions.append(pl.col(source.part_column) == layout.part)
    chosen = source.frame.filter(pl.all_horizontal(pl.lit(True), *conditions))
    column = pl.col(layout.columns) if layout.columns else pl.lit(None, dtype=pl.String)
    # A structural empty (a cell empty by definition) shows as STRUCTURAL, not as a count.
    shown = [
        pl.when(pl.col(f"{m}_status") == "structural").then(None).otherwise(pl.col(m)).alias(m)
        if f"{m}_status" in chosen.columns
        else pl.col(m)
        for m in measures
    ]
    structural = [
        (pl.col(f"{m}_status") == "structural").fill_null(False).alias(f"{m}_structural")
        if f"{m}_status" in chosen.columns
        else pl.lit(False).alias(f"{m}_structural")
        for m in measures
    ]
    selected = chosen.select(pl.col(layout.rows), column.alias("_column"), *shown, *structural)
    found: dict[tuple[str | None, str | None, str], int | str | None] = {}
    for row, col, *cells in selected.iter_rows():
        for index, measure in enumerate(measures):
            empty = cells[len(measures) + index]
            shown_value = cells[index]
            if layout.zero_nil and shown_value == 0:
                shown_value = NIL
            found[(row, col, measure)] = STRUCTURAL if empty else shown_value
    # A protected table spans its full grid; an exact count table omits true zeros.
    missing: int | str | None = None
    if isinstance(source, InternalTable):
        missing = NIL if layout.zero_nil else 0

    def value(row: str | None, col: str | None, measure: str) -> int | str | None:
        return found.get((row, col, measure), missing)

    return value


def _order(source: TableSource, column: str, given: Sequence[str] | None) -> list[str]:
    if given is not None:
        return list(given)
    # Sorted, as protect() orders its cells, so that internal and public reports agree.
    values = source.frame.get_column(column).drop_nulls().unique().sort()
    return [str(value) for value in values.to_list()]


def _percent(part: int | str | None, whole: int | str | None) -> float | str | None:
    if part == STRUCTURAL:
        return STRUCTURAL
    if part == NIL and isinstance(whole, int) and whole > 0:
        return 0.0
    if not isinstance(part, int) or not isinstance(whole, int) or whole == 0:
        return None
    return round(part * 100.0 / whole, 1)


def table_grid(table: ReportTable, *, internal: bool) -> Grid:
    """Lay out a report table's values; refuses a source a report may not show.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure.protect import protect
        >>> counts = pl.DataFrame({"care_form": ["a", "b", None], "unique_clients": [3, 62, 65]})
        >>> table = ReportTable("t", "T", protect(counts).table, Layout(rows="care_form"))
        >>> table_grid(table, internal=False).rows
        (('a', None), ('b', 60), ('total', 65))
    """
    source = check_source(table.source, internal=internal, what=f"table {table.id}")
    layout = table.layout
    measures = [layout.measure, *([layout.footer] if layout.footer else [])]
    value = _values(source, layout, measures)
    row_values = _order(source, layout.rows, layout.row_order)
    row_title = layout.row_title or layout.rows.replace("_", " ")
    totals = [None] if layout.total_row else []
    total = layout.total_label

    def row_name(row: str | None) -> str:
        return total if row is None else layout.row_labels.get(row, row)

    header: tuple[str, ...]
    if layout.columns is None:
        header = (row_title, layout.value_title or layout.measure.replace("_", " "))
        rows: list[tuple[Cell, ...]] = [
            (row_name(row), value(row, None, layout.measure)) for row in [*row_values, *totals]
        ]
        margins = frozenset({len(row_values)} if layout.total_row else set())
        return Grid(header, tuple(rows), ("label", "count"), margins, language=table.language)
    column_values: list[str | None] = [*_order(source, layout.columns, layout.column_order)]
    if layout.total_column:
        column_values.append(None)
    percent = layout.percent_of_total
    header = (
        row_title,
        *(total if col is None else layout.column_labels.get(col, col) for col in column_values),
        *([layout.column_labels.get(f"{percent} (%)", f"{percent} (%)")] if percent else []),
    )
    kinds = ("label", *("count" for _ in column_values), *(["percent"] if percent else []))
    rows = []
    for row in [*row_values, *totals]:
        cells: list[Cell] = [value(row, col, layout.measure) for col in column_values]
        if percent:
            cells.append(
                _percent(value(row, percent, layout.measure), value(row, None, layout.measure))
            )
        rows.append((row_name(row), *cells))
    margin_rows = set(range(len(row_values), len(rows)))
    if layout.footer:
        footer: list[Cell] = [value(None, col, layout.footer) for col in column_values]
        rows.append((layout.footer_label or layout.footer, *footer, *([""] if percent else [])))
        margin_rows.add(len(rows) - 1)
    margin_columns = {index + 1 for index, col in enumerate(column_values) if col is None}
    if percent:
        margin_columns.add(len(header) - 1)
    return Grid(
        header,
        tuple(rows),
        kinds,
        frozenset(margin_rows),
        frozenset(margin_columns),
        language=table.language,
    )


def _figure_value(figure: Figure, internal: bool) -> int | None:
    source = check_source(figure.source, internal=internal, what=f"figure {figure.label!r}")
    where = dict(figure.where)
    conditions = [
        pl.col(d) == where[d] if d in where else pl.col(d).is_null() for d in source.dimensions
    ]
    if source.part_column is not None:
        if figure.part is None:
            raise ValueError(f"figure {figure.label!r}: name the part to show")
        conditions.append(pl.col(source.part_column) == figure.part)
    chosen = source.frame.filter(pl.all_horizontal(pl.lit(True), *conditions))
    if chosen.height != 1:
        return 0 if isinstance(source, InternalTable) else None
    found = chosen.get_column(figure.measure)[0]
    return None if found is None else int(found)


def _rest_published(figure: Figure) -> bool:
    """Whether every cell that ``figure - figure.minus`` adds up is itself published.

    A total minus one of its cells is the sum of the other cells of that dimension. When one of
    them is suppressed, the difference would publish a sum of suppressed cells that the audit
    of the table never saw (e.g. the clients at 2, 3 and 4+ providers when 3 and 4+ are secret
    zeros), so it is not shown.
    """
    minus = figure.minus
    if minus is None or minus.source is not figure.source:
        return minus is None
    source = figure.source
    named = dict(minus.where)
    if len(named) != 1 or dict(figure.where):
        return False
    ((dimension, value),) = named.items()
    others = [pl.col(d).is_null() for d in source.dimensions if d != dimension]
    if source.part_column is not None:
        others.append(pl.col(source.part_column) == figure.part)
    rest = source.frame.filter(
        pl.all_horizontal(pl.lit(True), *others),
        pl.col(dimension).is_not_null(),
        pl.col(dimension) != value,
    )
    return bool((rest[f"{figure.measure}_status"] != "suppressed").all())


def figures_grid(report: Report) -> Grid:
    """The key figures: a count and, where asked, a percentage; differences of published values
    in the secret range are shown as "." like any other small count, and so is a difference
    that would add up suppressed cells."""
    rules = report.rules
    rows: list[tuple[Cell, ...]] = []
    for figure in report.key_figures:
        value = _figure_value(figure, report.internal)
        if figure.minus is not None:
            other = _figure_value(figure.minus, report.internal)
            value = None if value is None or other is None else value - other
            secret = value is not None and (
                1 <= value <= rules.secret_max or (value == 0 and rules.zero_is_secret)
            )
            if (secret or not _rest_published(figure)) and not report.internal:
                value = None
        share: Cell = ""
        if figure.percent_of is not None:
            share = _percent(value, _figure_value(figure.percent_of, report.internal))
        rows.append((figure.label, value, share))
    language = report.language
    header = tuple(i18n.text(language, key) for key in ("fig_figure", "fig_count", "fig_percent"))
    return Grid(header, tuple(rows), ("label", "count", "percent"), language=language)


def _range(language: str, low: int | None, high: int | None) -> str:
    if low is None or high is None:
        return ""
    return f"{i18n.number(language, low)}\u2013{i18n.number(language, high)}"


def estimate_grid(view: EstimateView) -> Grid:
    """The corrections as steps: counted, each adjustment, the estimate (with ranges)."""
    language = view.language
    word = functools.partial(i18n.text, language)
    rows: list[tuple[Cell, ...]] = [(word("est_counted"), view.base, "", "", view.counted, "")]
    for line in view.lines:
        rows.append(
            (
                line.label or line.name,
                line.applies_to,
                line.formula,
                line.parameter_text,
                line.value,
                _range(language, line.low, line.high),
            )
        )
    rows.append(
        (
            word("est_estimate"),
            view.unit,
            word("est_sum"),
            "",
            view.total,
            _range(language, view.low, view.high),
        )
    )
    # The value column says what it counts: registrations in cells, or persons.
    persons = view.persons
    header = (
        word("est_step"),
        word("est_applies"),
        word("est_formula"),
        word("est_parameter"),
        word("unit_persons" if persons else "unit_registrations"),
        word("est_range"),
    )
    return Grid(
        header,
        tuple(rows),
        ("label", "text", "text", "text", "count", "text"),
        frozenset({len(rows) - 1}),
        language=language,
    )


#: Title of the capture-recapture section in English (``i18n.text(language, "unseen_title")``
#: in the report's language).
UNSEEN_TITLE: Final = i18n.text("en", "unseen_title")


def unseen_grid(view: UnseenView) -> Grid:
    """The capture-recapture estimate: seen, estimated with its 95 % interval, the model."""
    word = functools.partial(i18n.text, view.language)
    rows: list[tuple[Cell, ...]] = [
        (word("unseen_seen"), view.observed, ""),
        (word("unseen_estimated"), view.estimate, _range(view.language, view.lower, view.upper)),
    ]
    return Grid(
        ("", word("unseen_youths"), word("unseen_interval")),
        tuple(rows),
        ("label", "count", "text"),
        frozenset({1}),
        language=view.language,
    )


def unseen_sentence(view: UnseenView) -> str:
    """What the estimate means and how it was made, in one paragraph (no other number in it)."""
    language = view.language
    rounded = (
        ""
        if view.internal
        else i18n.text(language, "unseen_rounded", rounding=i18n.number(language, view.rounding))
    )
    sentence = i18n.text(
        language, "unseen_sentence", meaning=view.meaning, lists=view.lists, model=view.model
    )
    return sentence + rounded


def cell_text(cell: Cell, language: str = "nl") -> str:
    """A cell as text: numbers in the reader's form (``8.240``, ``35,7``), "." if suppressed.

    Example:
        >>> cell_text(8240), cell_text(8240, "en"), cell_text(35.7), cell_text(None)
        ('8.240', '8,240', '35,7', '.')
    """
    if cell is None:
        return SUPPRESSED
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, int):
        return i18n.number(language, cell)
    if isinstance(cell, float):
        return i18n.number(language, cell, decimals=1)
    return cell
