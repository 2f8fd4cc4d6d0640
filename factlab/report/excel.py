"""The report as an Excel workbook: one sheet per table, numbers as numbers, "." where suppressed.

Every sheet opens with the table's title and, on its second row, the report's status: the
disclosure rules, or "INTERNAL — NOT FOR PUBLICATION", which an internal report also prints in
the page header of every sheet. The header row of a table is the fourth row.

What a reader of the workbook gets on every table sheet:

- the header row frozen (with the label column), and an autofilter over the table's rows
  (not over its total rows, which sorting would otherwise mix in);
- a native Excel chart beside the table where the HTML report draws one (grouped columns per
  period, columns per category, the corrections step by step), reading the sheet's own cells;
  the provider overlap is coloured in its cells instead, the shared counts on their own scale
  and the diagonal (each provider's own clients) in a flat colour;
- print setup: A4, fitted to the page width, the header row repeated on every page, the title
  and date in the page header, the legend of symbols and "page n of N" in the page footer;
- under the table, the "Verklaring van tekens" (legend of symbols) and the source line.

Numbers are stored as numbers with a ``#,##0`` format, which Excel shows in the reader's own
locale (``8.240`` in a Dutch Excel). Every text goes in as a string (``write_string``, and the
workbook converts no string to a formula or number), so a label such as ``=HYPERLINK(...)`` is a
text cell; each passes :func:`factlab.escape.plain_text` first (no control or
bidirectional-control character). Text in page headers and footers has its ``&`` doubled, so a
title cannot hold a header code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from xlsxwriter import Workbook
from xlsxwriter.utility import xl_rowcol_to_cell

from factlab.escape import plain_text
from factlab.report.grid import (
    Grid,
    estimate_grid,
    figures_grid,
    table_grid,
    unseen_grid,
    unseen_sentence,
)
from factlab.report.model import Report, ReportTable
from factlab.report.page import Page, page_words

__all__ = ["write_excel"]

_SHEET_CHARS: Final = str.maketrans(dict.fromkeys("[]:*?/\\", "-"))
_HEADER_ROW: Final = 3
_A4: Final = 9  # Excel's paper code for A4
_PALETTE: Final = ("#1f5f8b", "#e07b39", "#4c9a6a", "#b8485a", "#7d6aa8", "#8c6d46", "#5aa0c8")
_DIAGONAL: Final = "#eef1f4"
_HEADER_FOOTER_MAX: Final = 255  # Excel's limit on a page header or footer


def _sheet_name(name: str, taken: set[str]) -> str:
    base = plain_text(name).translate(_SHEET_CHARS).strip("'")[:31] or "-"
    candidate, number = base, 2
    while candidate.lower() in taken:
        suffix = f"~{number}"
        candidate, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(candidate.lower())
    return candidate


def _text(sheet: Any, row: int, col: int, text: str, style: Any = None) -> None:
    """Write ``text`` as a string cell, never as a formula or a number."""
    sheet.write_string(row, col, plain_text(text), style)


def _header_text(text: str) -> str:
    """Text for a page header or footer: ``&`` is the start of a code there, so it is doubled."""
    return plain_text(text).replace("&", "&&")


def _fit(parts: Sequence[str]) -> str:
    """A page header or footer of sections (``&L..&C..&R..``) within Excel's 255 characters."""
    text = "".join(parts)
    while len(text) > _HEADER_FOOTER_MAX and any(len(part) > 40 for part in parts):
        parts = [part[:-10] + "…" if len(part) > 40 else part for part in parts]
        text = "".join(parts)
    return text[:_HEADER_FOOTER_MAX]


class _Sheets:
    """Writes sheets that all open with a title and the report's status line."""

    def __init__(self, workbook: Any, report: Report, page: Page) -> None:
        self.workbook = workbook
        self.report = report
        self.page = page
        self.taken: set[str] = set()
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.bold = workbook.add_format({"bold": True})
        self.header = workbook.add_format(
            {"bold": True, "bottom": 1, "text_wrap": True, "valign": "bottom"}
        )
        self.header_number = workbook.add_format(
            {"bold": True, "bottom": 1, "text_wrap": True, "valign": "bottom", "align": "right"}
        )
        self.count = workbook.add_format({"num_format": "#,##0"})
        self.count_bold = workbook.add_format({"num_format": "#,##0", "bold": True})
        self.percent = workbook.add_format({"num_format": "0.0"})
        self.hidden = workbook.add_format({"align": "right", "font_color": "#595959"})
        self.note = workbook.add_format({"italic": True, "font_color": "#595959"})
        self.diagonal = workbook.add_format({"bg_color": _DIAGONAL, "bold": True})
        self.status = workbook.add_format(
            {"bold": True, "font_color": "#ffffff", "bg_color": "#8a1c1c"}
            if report.internal
            else {"italic": True, "font_color": "#1f5f8b"}
        )

    def new(self, name: str, title: str) -> tuple[Any, int]:
        """A sheet with its title (row 0), status (row 1) and print setup; returns the next row."""
        sheet = self.workbook.add_worksheet(_sheet_name(name, self.taken))
        report, page = self.report, self.page
        _text(sheet, 0, 0, title, self.title)
        _text(sheet, 1, 0, page.status.upper() if report.internal else page.status, self.status)
        sheet.set_paper(_A4)
        sheet.fit_to_pages(1, 0)  # as wide as one page, as long as it takes
        sheet.set_margins(left=0.5, right=0.5, top=0.8, bottom=0.8)
        centre = f"&C&B{_header_text(page.internal_mark.upper())}" if report.internal else ""
        sheet.set_header(
            _fit([f"&L{_header_text(report.title)}", centre, f"&R{_header_text(page.published)}"])
        )
        numbering = f"&R{_header_text(page.word('page'))} &P {_header_text(page.word('of'))} &N"
        sheet.set_footer(_fit([f"&L{_header_text(' · '.join(page.legend))}", numbering]))
        if report.internal:
            sheet.set_tab_color("#8a1c1c")
        sheet.set_column(0, 0, 30)
        return sheet, _HEADER_ROW

    def grid(self, sheet: Any, row: int, grid: Grid) -> int:
        """Write a grid from ``row`` (header first), frozen and filtered; returns the row after."""
        sheet.set_column(1, len(grid.header) - 1, 14)
        sheet.set_row(row, 32)  # room for a heading on two lines
        for col, (kind, name) in enumerate(zip(grid.kinds, grid.header, strict=True)):
            numeric = kind in ("count", "percent")
            _text(sheet, row, col, name, self.header_number if numeric else self.header)
        for offset, cells in enumerate(grid.rows, start=1):
            margin = offset - 1 in grid.margin_rows
            for col, (kind, cell) in enumerate(zip(grid.kinds, cells, strict=True)):
                if cell is None:
                    _text(sheet, row + offset, col, self.page.cell(grid, cell), self.hidden)
                elif kind == "count" and isinstance(cell, int):
                    sheet.write_number(
                        row + offset, col, cell, self.count_bold if margin else self.count
                    )
                elif kind == "percent" and isinstance(cell, float):
                    sheet.write_number(row + offset, col, cell, self.percent)
                elif kind in ("count", "percent"):
                    _text(sheet, row + offset, col, self.page.cell(grid, cell), self.hidden)
                else:
                    _text(
                        sheet,
                        row + offset,
                        col,
                        self.page.cell(grid, cell),
                        self.bold if margin and col == 0 else None,
                    )
        sheet.freeze_panes(row + 1, 1)
        sheet.repeat_rows(row)
        body = [index for index in range(len(grid.rows)) if index not in grid.margin_rows]
        if body:
            sheet.autofilter(row, 0, row + 1 + max(body), len(grid.header) - 1)
        return row + len(grid.rows) + 1

    def lines(self, sheet: Any, row: int, lines: Sequence[str], style: Any = None) -> int:
        for offset, text in enumerate(lines):
            _text(sheet, row + offset, 0, text, style or self.note)
        return row + len(lines)

    def close(self, sheet: Any, row: int) -> int:
        """The legend of symbols and the source under a sheet's content."""
        page = self.page
        row = self.lines(sheet, row + 1, [page.word("legend_title")], self.bold)
        row = self.lines(sheet, row, page.legend)
        trailer = " · ".join([page.status, *([page.contact] if page.contact else [])])
        return self.lines(sheet, row + 1, [page.source, f"{trailer} · {page.published}"])

    def chart(self, sheet: Any, table: ReportTable, grid: Grid, row: int) -> None:
        """A native chart (or, for a matrix, colours in its cells) beside the table at ``row``."""
        body = [index for index in range(len(grid.rows)) if index not in grid.margin_rows]
        columns = [
            index
            for index, kind in enumerate(grid.kinds)
            if kind == "count" and index not in grid.margin_columns
        ]
        if not body or not columns:
            return
        if table.chart == "heatmap":
            self._colour_matrix(sheet, grid, row, body, columns)
            return
        name = sheet.get_name()
        first, last = row + 1 + body[0], row + 1 + body[-1]
        if table.chart == "periods" and columns == list(range(columns[0], columns[-1] + 1)):
            chart = self.workbook.add_chart({"type": "column"})
            for number, index in enumerate(body):
                line = row + 1 + index
                chart.add_series(
                    {
                        "name": [name, line, 0],
                        "categories": [name, row, columns[0], row, columns[-1]],
                        "values": [name, line, columns[0], line, columns[-1]],
                        "fill": {"color": _PALETTE[number % len(_PALETTE)]},
                        "gap": 80,
                    }
                )
        elif table.chart == "bars" and len(columns) == 1:
            chart = self.workbook.add_chart({"type": "column"})
            chart.add_series(
                {
                    "name": [name, row, columns[0]],
                    "categories": [name, first, 0, last, 0],
                    "values": [name, first, columns[0], last, columns[0]],
                    "fill": {"color": _PALETTE[0]},
                    "gap": 60,
                }
            )
            chart.set_legend({"none": True})
        elif table.chart == "lines":
            chart = self.workbook.add_chart({"type": "line"})
            for number, index in enumerate(columns):
                chart.add_series(
                    {
                        "name": [name, row, index],
                        "categories": [name, first, 0, last, 0],
                        "values": [name, first, index, last, index],
                        "line": {"color": _PALETTE[number % len(_PALETTE)], "width": 1.75},
                        "marker": {"type": "circle"},
                    }
                )
        else:
            return
        self._place(sheet, chart, table.title, row, len(grid.header))

    def steps(self, sheet: Any, grid: Grid, row: int, title: str) -> None:
        """The corrections as columns, one per step: counted, each adjustment, the estimate."""
        value_column = next(i for i, kind in enumerate(grid.kinds) if kind == "count")
        name = sheet.get_name()
        last = row + len(grid.rows)
        colours = [_PALETTE[0], *(_PALETTE[1] for _ in grid.rows[1:-1]), _PALETTE[2]]
        chart = self.workbook.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": [name, row, value_column],
                "categories": [name, row + 1, 0, last, 0],
                "values": [name, row + 1, value_column, last, value_column],
                "points": [{"fill": {"color": colour}} for colour in colours],
                "gap": 60,
            }
        )
        chart.set_legend({"none": True})
        self._place(sheet, chart, title, row, len(grid.header))

    def _place(self, sheet: Any, chart: Any, title: str, row: int, width: int) -> None:
        chart.set_title({"name": plain_text(title), "name_font": {"size": 11, "bold": True}})
        chart.set_y_axis({"num_format": "#,##0", "major_gridlines": {"visible": True}})
        chart.set_size({"width": 520, "height": 300})
        sheet.insert_chart(row, width + 1, chart, {"x_offset": 10, "y_offset": 0})

    def _colour_matrix(
        self, sheet: Any, grid: Grid, row: int, body: list[int], columns: list[int]
    ) -> None:
        shared = [
            cell
            for r in body
            for c in columns
            if isinstance(cell := grid.rows[r][c], int) and grid.rows[r][0] != grid.header[c]
        ]
        # The diagonal first, and nothing after it on those cells: it keeps its flat colour.
        for r in body:
            for c in columns:
                if grid.rows[r][0] == grid.header[c]:
                    cell = xl_rowcol_to_cell(row + 1 + r, c)
                    sheet.conditional_format(
                        cell,
                        {
                            "type": "formula",
                            "criteria": "=TRUE",
                            "format": self.diagonal,
                            "stop_if_true": True,
                        },
                    )
        sheet.conditional_format(
            row + 1 + body[0],
            columns[0],
            row + 1 + body[-1],
            columns[-1],
            {
                "type": "2_color_scale",
                "min_type": "num",
                "min_value": 0,
                "min_color": "#f7fbff",
                "max_type": "num",
                "max_value": max(shared, default=1) or 1,
                "max_color": "#4a90c2",
            },
        )


def write_excel(report: Report, path: str | Path) -> None:
    """Write the report as an Excel workbook (not atomically; see :func:`render_file`)."""
    page = page_words(report)
    workbook = Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    sheets = _Sheets(workbook, report, page)
    sheet, row = sheets.new(page.sheet("about"), report.title)
    row = sheets.lines(sheet, row, page.meta, sheets.bold) + 1
    row = sheets.lines(sheet, row, [f"! {text}" for text in report.warnings], sheets.status)
    if page.guide:
        row = sheets.lines(sheet, row + 1, [page.guide], sheets.bold)
    row = sheets.lines(sheet, row + 1, [f"{page.word('how_to_read')}:", *report.notes])
    sheets.close(sheet, row)
    sheet, row = sheets.new(page.sheet("key-figures"), page.word("key_figures"))
    sheets.close(sheet, sheets.grid(sheet, row, figures_grid(report)))
    for table in report.tables:
        sheet, row = sheets.new(page.sheet(table.id), table.title)
        grid = table_grid(table, internal=report.internal)
        end = sheets.grid(sheet, row, grid)
        sheets.chart(sheet, table, grid, row)
        sheets.close(sheet, sheets.lines(sheet, end + 1, table.notes))
    if report.estimate is not None:
        view = report.estimate
        title = page.word("corrections_title", title=view.title)
        sheet, row = sheets.new(page.sheet("corrections"), title)
        grid = estimate_grid(view)
        end = sheets.grid(sheet, row, grid)
        sheets.steps(sheet, grid, row, title)
        notes = [
            f"{line.label or line.name}: {line.note} {page.source_of(line.source)}"
            for line in view.lines
        ]
        sheets.close(sheet, sheets.lines(sheet, end + 1, notes))
    if report.unseen is not None:
        title = page.word("unseen_title")
        sheet, row = sheets.new(page.sheet("capture-recapture"), title)
        end = sheets.grid(sheet, row, unseen_grid(report.unseen))
        notes = [
            unseen_sentence(report.unseen),
            f"{page.word('assumptions')}:",
            *report.unseen.assumptions,
        ]
        sheets.close(sheet, sheets.lines(sheet, end + 1, notes))
    sheet, row = sheets.new(page.sheet("provenance"), page.word("provenance"))
    for heading, entries in report.provenance:
        _text(sheet, row, 0, heading, sheets.bold)
        for offset, (key, value) in enumerate(entries, start=1):
            _text(sheet, row + offset, 0, key)
            _text(sheet, row + offset, 1, value)
        row += len(entries) + 2
    sheets.close(sheet, row)
    workbook.close()
