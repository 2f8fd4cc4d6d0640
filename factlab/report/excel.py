"""The report as an Excel workbook: one sheet per table, numbers as numbers, "." where suppressed.

Every sheet opens with the table's title and, on its second row, the report's status: the
disclosure rules, or "INTERNAL — NOT FOR PUBLICATION", which an internal report also prints in
the page header and footer of every sheet. The header row of a table is the fourth row.

Every text goes in as a string (``write_string``, and the workbook converts no string to a
formula or number), so a label such as ``=HYPERLINK(...)`` is a text cell; each passes
:func:`factlab.escape.plain_text` first (no control or bidirectional-control character).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from xlsxwriter import Workbook

from factlab.escape import plain_text
from factlab.report.grid import (
    SUPPRESSED,
    UNSEEN_TITLE,
    Grid,
    cell_text,
    estimate_grid,
    figures_grid,
    table_grid,
    unseen_grid,
    unseen_sentence,
)
from factlab.report.model import INTERNAL_MARK, Report

__all__ = ["write_excel"]

_SHEET_CHARS: Final = str.maketrans(dict.fromkeys("[]:*?/\\", "-"))


def _sheet_name(name: str, taken: set[str]) -> str:
    base = plain_text(name).translate(_SHEET_CHARS)[:31]
    candidate, number = base, 2
    while candidate.lower() in taken:
        suffix = f"~{number}"
        candidate, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(candidate.lower())
    return candidate


def _text(sheet: Any, row: int, col: int, text: str, style: Any = None) -> None:
    """Write ``text`` as a string cell, never as a formula or a number."""
    sheet.write_string(row, col, plain_text(text), style)


class _Sheets:
    """Writes sheets that all open with a title and the report's status line."""

    def __init__(self, workbook: Any, report: Report) -> None:
        self.workbook = workbook
        self.report = report
        self.taken: set[str] = set()
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.bold = workbook.add_format({"bold": True})
        self.header = workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True})
        self.count = workbook.add_format({"num_format": "#,##0"})
        self.count_bold = workbook.add_format({"num_format": "#,##0", "bold": True})
        self.percent = workbook.add_format({"num_format": "0.0"})
        self.hidden = workbook.add_format({"align": "right", "font_color": "#5a5a5a"})
        self.note = workbook.add_format({"italic": True, "font_color": "#5a5a5a"})
        self.status = workbook.add_format(
            {"bold": True, "font_color": "#ffffff", "bg_color": "#8a1c1c"}
            if report.internal
            else {"italic": True, "font_color": "#1f5f8b"}
        )

    def new(self, name: str, title: str) -> tuple[Any, int]:
        """A sheet with its title (row 0) and status (row 1); returns it and the next row."""
        sheet = self.workbook.add_worksheet(_sheet_name(name, self.taken))
        report = self.report
        status = (
            INTERNAL_MARK.upper()
            if report.internal
            else f"published under disclosure control (rules {report.rules.name})"
        )
        _text(sheet, 0, 0, title, self.title)
        _text(sheet, 1, 0, status, self.status)
        if report.internal:
            sheet.set_header(f"&C&B{INTERNAL_MARK.upper()}")
            sheet.set_footer(f"&C{INTERNAL_MARK}")
            sheet.set_tab_color("#8a1c1c")
        sheet.set_column(0, 0, 30)
        return sheet, 3

    def grid(self, sheet: Any, row: int, grid: Grid) -> int:
        """Write a grid from ``row`` (header first); returns the row after it."""
        sheet.set_column(1, len(grid.header) - 1, 14)
        for col, name in enumerate(grid.header):
            _text(sheet, row, col, name, self.header)
        for offset, cells in enumerate(grid.rows, start=1):
            margin = offset - 1 in grid.margin_rows
            for col, (kind, cell) in enumerate(zip(grid.kinds, cells, strict=True)):
                if cell is None:
                    _text(sheet, row + offset, col, SUPPRESSED, self.hidden)
                elif kind == "count" and isinstance(cell, int):
                    sheet.write_number(
                        row + offset, col, cell, self.count_bold if margin else self.count
                    )
                elif kind == "percent" and isinstance(cell, float):
                    sheet.write_number(row + offset, col, cell, self.percent)
                else:
                    _text(
                        sheet,
                        row + offset,
                        col,
                        cell_text(cell),
                        self.bold if margin and col == 0 else None,
                    )
        return row + len(grid.rows) + 1

    def lines(self, sheet: Any, row: int, lines: Sequence[str], style: Any = None) -> int:
        for offset, text in enumerate(lines):
            _text(sheet, row + offset, 0, text, style or self.note)
        return row + len(lines)


def write_excel(report: Report, path: str | Path) -> None:
    """Write the report as an Excel workbook (not atomically; see :func:`render_file`)."""
    workbook = Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    sheets = _Sheets(workbook, report)
    sheet, row = sheets.new("about", report.title)
    meta = [f"Region: {report.region}"] if report.region else []
    meta += [f"Counted: {report.time_label}", f"Generated: {report.generated}"]
    row = sheets.lines(sheet, row, meta, sheets.bold) + 1
    row = sheets.lines(sheet, row, [f"Warning: {text}" for text in report.warnings], sheets.status)
    row = sheets.lines(sheet, row + 1, ["How to read these numbers:", *report.notes])
    sheet, row = sheets.new("key-figures", "Key figures")
    sheets.grid(sheet, row, figures_grid(report))
    for table in report.tables:
        sheet, row = sheets.new(table.id, table.title)
        row = sheets.grid(sheet, row, table_grid(table, internal=report.internal))
        sheets.lines(sheet, row + 1, table.notes)
    if report.estimate is not None:
        view = report.estimate
        sheet, row = sheets.new("corrections", f"Corrections: {view.title}")
        row = sheets.grid(sheet, row, estimate_grid(view))
        notes = [f"{line.name}: {line.note} Source: {line.source}." for line in view.lines]
        sheets.lines(sheet, row + 1, notes)
    if report.unseen is not None:
        sheet, row = sheets.new("capture-recapture", UNSEEN_TITLE)
        row = sheets.grid(sheet, row, unseen_grid(report.unseen))
        notes = [unseen_sentence(report.unseen), "Assumptions:", *report.unseen.assumptions]
        sheets.lines(sheet, row + 1, notes)
    sheet, row = sheets.new("provenance", "Provenance")
    for heading, entries in report.provenance:
        _text(sheet, row, 0, heading, sheets.bold)
        for offset, (key, value) in enumerate(entries, start=1):
            _text(sheet, row + offset, 0, key)
            _text(sheet, row + offset, 1, value)
        row += len(entries) + 2
    workbook.close()
