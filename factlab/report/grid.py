"""Laying out a report's tables: the values of a protected table as rows and columns.

A :class:`Grid` is what every renderer and every chart draws from. It is built only from the
tables of a :class:`~factlab.report.model.Report`, each checked again on the way
(:func:`~factlab.report.model.check_source`), so a chart or a sheet cannot show a number that
its protected table does not publish. A suppressed value is None in a grid and "." on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

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
#: How a cell that is empty by definition (a structural empty) is shown.
STRUCTURAL: Final = "-"
_TOTAL: Final = "total"
_PARAMETER_NAMES: Final = {
    "observed × factor": "factor",
    "observed × (1 − coverage) / coverage": "coverage",
    "value": "value",
}

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
    """

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    kinds: tuple[str, ...]
    margin_rows: frozenset[int] = field(default_factory=frozenset)
    margin_columns: frozenset[int] = field(default_factory=frozenset)

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
    if cell == STRUCTURAL:
        return 0.0  # empty by definition: a known zero
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
            found[(row, col, measure)] = STRUCTURAL if empty else cells[index]
    # A protected table spans its full grid; an exact count table omits true zeros.
    missing = 0 if isinstance(source, InternalTable) else None

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
    header: tuple[str, ...]
    if layout.columns is None:
        header = (row_title, layout.value_title or layout.measure.replace("_", " "))
        rows: list[tuple[Cell, ...]] = [
            (_TOTAL if row is None else row, value(row, None, layout.measure))
            for row in [*row_values, *totals]
        ]
        margins = frozenset({len(row_values)} if layout.total_row else set())
        return Grid(header, tuple(rows), ("label", "count"), margins)
    column_values: list[str | None] = [*_order(source, layout.columns, layout.column_order)]
    if layout.total_column:
        column_values.append(None)
    percent = layout.percent_of_total
    header = (
        row_title,
        *(_TOTAL if col is None else col for col in column_values),
        *([f"{percent} (%)"] if percent else []),
    )
    kinds = ("label", *("count" for _ in column_values), *(["percent"] if percent else []))
    rows = []
    for row in [*row_values, *totals]:
        cells: list[Cell] = [value(row, col, layout.measure) for col in column_values]
        if percent:
            cells.append(
                _percent(value(row, percent, layout.measure), value(row, None, layout.measure))
            )
        rows.append((_TOTAL if row is None else row, *cells))
    margin_rows = set(range(len(row_values), len(rows)))
    if layout.footer:
        footer: list[Cell] = [value(None, col, layout.footer) for col in column_values]
        rows.append((layout.footer_label or layout.footer, *footer, *([""] if percent else [])))
        margin_rows.add(len(rows) - 1)
    margin_columns = {index + 1 for index, col in enumerate(column_values) if col is None}
    if percent:
        margin_columns.add(len(header) - 1)
    return Grid(header, tuple(rows), kinds, frozenset(margin_rows), frozenset(margin_columns))


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


def figures_grid(report: Report) -> Grid:
    """The key figures: a count and, where asked, a percentage; differences of published values
    in the secret range are shown as "." like any other small count."""
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
            if secret and not report.internal:
                value = None
        share: Cell = ""
        if figure.percent_of is not None:
            share = _percent(value, _figure_value(figure.percent_of, report.internal))
        rows.append((figure.label, value, share))
    return Grid(("figure", "count", "%"), tuple(rows), ("label", "count", "percent"))


def _parameter(formula: str, parameter: float | None) -> str:
    if parameter is None:
        return ""
    return f"{_PARAMETER_NAMES.get(formula, 'parameter')} = {parameter:g}"


def _range(low: int | None, high: int | None) -> str:
    return "" if low is None or high is None else f"{low:,}–{high:,}"


def estimate_grid(view: EstimateView) -> Grid:
    """The corrections as steps: counted, each adjustment, the estimate (with ranges)."""
    rows: list[tuple[Cell, ...]] = [("counted", view.base, "", "", view.counted, "")]
    for line in view.lines:
        rows.append(
            (
                line.name,
                line.applies_to,
                line.formula,
                _parameter(line.formula, line.parameter),
                line.value,
                _range(line.low, line.high),
            )
        )
    rows.append(
        (
            "estimate",
            view.unit,
            "counted + adjustments",
            "",
            view.total,
            _range(view.low, view.high),
        )
    )
    return Grid(
        ("step", "applies to", "formula", "parameter", "clients", "range"),
        tuple(rows),
        ("label", "text", "text", "text", "count", "text"),
        frozenset({len(rows) - 1}),
    )


#: Title of the capture-recapture section.
UNSEEN_TITLE: Final = "Capture–recapture: youths no provider saw"


def unseen_grid(view: UnseenView) -> Grid:
    """The capture-recapture estimate: seen, estimated with its 95 % interval, the model."""
    rows: list[tuple[Cell, ...]] = [
        ("seen by at least one provider", view.observed, ""),
        (
            "estimated, those no provider saw included",
            view.estimate,
            f"{view.lower:,}–{view.upper:,}",
        ),
    ]
    return Grid(
        ("", "youths", "95 % interval"),
        tuple(rows),
        ("label", "count", "text"),
        frozenset({1}),
    )


def unseen_sentence(view: UnseenView) -> str:
    """What the estimate means and how it was made, in one paragraph (no other number in it)."""
    rounded = "" if view.internal else f" Published as multiples of {view.rounding}."
    return (
        f"The estimate counts {view.meaning}. It is shown beside any corrected total, not added "
        f"to it. Model: a Poisson log-linear model of how the {view.lists} lists overlap "
        f"({view.model}); the interval is a 95 % profile-likelihood interval.{rounded}"
    )


def cell_text(cell: Cell) -> str:
    if cell is None:
        return SUPPRESSED
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, int):
        return f"{cell:,}"
    if isinstance(cell, float):
        return f"{cell:.1f}"
    return cell
