"""What a renderer needs of a report besides its tables: the words of its page, in its language.

The HTML page, the Excel workbook and the Markdown text all take their fixed words (headings,
the legend of symbols, the source, status and date lines, sheet names, what a symbol means to
a screen reader) from one :class:`Page`, made by :func:`page_words` from a
:class:`~factlab.report.model.Report`. The words themselves live in
:mod:`factlab.report.i18n`; this module only decides which of them a page shows where, so that
the three formats say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from factlab.report import i18n
from factlab.report.grid import NIL, STRUCTURAL, SUPPRESSED, Cell, Grid, cell_text
from factlab.report.model import INTERNAL_MARK, Report, ReportTable

__all__ = ["Page", "page_words"]


@dataclass(frozen=True)
class Page:
    """The fixed words of one report's pages, in its language.

    Attributes:
        language: ``nl`` or ``en``.
        meta: header lines (region, what was counted, publication date, ...).
        status: provisional or final, and the rules; or the internal mark.
        source: the "Bron" line.
        published: the publication date, written out.
        contact: who answers questions, or None.
        guide: one sentence on how to read the numbers ("" for none).
        legend: the explanation of symbols, one line each.
        internal_mark: what an internal report says on every page and sheet.
    """

    language: str
    meta: tuple[str, ...]
    status: str
    source: str
    published: str
    contact: str | None
    guide: str
    legend: tuple[str, ...]
    internal_mark: str

    def source_of(self, source: str) -> str:
        """The source of a correction's parameter, as a sentence: ``Bron: CBS.``"""
        return f"{self.word('est_source')}: {source.rstrip('.')}."

    def word(self, key: str, **values: object) -> str:
        """A fixed word of the page in the report's language.

        Example:
            >>> page = Page("nl", (), "", "", "", None, "", (), "")
            >>> page.word("legend_title"), page.word("table_n", n=3)
            ('Verklaring van tekens', 'Tabel 3')
        """
        return i18n.text(self.language, key, **values)

    def number(self, value: float) -> str:
        """A number drawn on a chart, as the reader writes it (``8.240`` in Dutch)."""
        return i18n.number(self.language, value)

    def cell(self, grid: Grid, cell: Cell) -> str:
        """A grid cell as text: numbers in the reader's form, "." where suppressed.

        Example:
            >>> page = Page("nl", (), "", "", "", None, "", (), "")
            >>> grid = Grid(("a", "n", "%"), (("x", 8240, 35.7),), ("label", "count", "percent"))
            >>> [page.cell(grid, cell) for cell in grid.rows[0]]
            ['x', '8.240', '35,7']
        """
        return cell_text(cell, grid.language)

    def caption(self, table: ReportTable) -> str:
        """The caption of a table: what it shows and of when."""
        return table.caption or table.title

    def sheet(self, key: str, table: ReportTable | None = None) -> str:
        """The name of a sheet (a table's own name if it has one)."""
        if table is not None and table.sheet:
            return table.sheet
        try:
            return i18n.sheet_name(self.language, key)
        except (ValueError, KeyError):
            return key

    @property
    def symbols(self) -> dict[str, str]:
        """What each symbol of a number cell means, as a screen reader says it."""
        return {
            SUPPRESSED: self.word("suppressed_sr"),
            STRUCTURAL: self.word("structural_sr"),
            NIL: self.word("nil_sr"),
        }


def page_words(report: Report) -> Page:
    """The words of ``report``'s pages: from the report where it has them, else the defaults.

    Example:
        >>> from factlab.disclosure.rules import preset
        >>> report = Report("T", None, "2025", False, preset("cbs"), (), (), None, ())
        >>> page_words(report).legend[0]
        '. geheim'
    """
    language = report.language
    if report.status_line:
        status = report.status_line
    elif report.internal:
        status = i18n.text(language, "internal_mark")
    else:
        status = f"{report.rules.name}"
    legend = report.legend or (
        f"{SUPPRESSED} {i18n.text(language, 'suppressed_sr')}",
        f"{NIL} {i18n.text(language, 'nil_sr')}",
        f"{STRUCTURAL} {i18n.text(language, 'structural_sr')}",
    )
    published = report.published or report.generated[:10]
    return Page(
        language=language,
        meta=report.meta or tuple(part for part in (report.region, report.time_label) if part),
        status=status,
        source=report.source_line,
        published=published,
        contact=report.contact,
        guide=report.reading_guide,
        legend=legend,
        internal_mark=_internal_mark(language),
    )


def _internal_mark(language: str) -> str:
    try:
        return i18n.text(language, "internal_mark")
    except ValueError:
        return INTERNAL_MARK
