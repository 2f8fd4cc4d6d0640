"""The HTML report in a real browser: Chromium (driven by Playwright) lays it out, prints it and
scans it for accessibility problems.

What is checked, on a Dutch report and on the same round in English:

- every table and chart is in the page the browser builds, each table with a caption, and no
  request leaves the page;
- at 390 px (a phone) and 1280 px the page never scrolls sideways; every table is in view and,
  if wider than the screen, scrolls in its own box with its first column staying in place;
- a suppressed cell is spoken as "geheim" (or "secret"), never as a full stop;
- chart text is at least 11 px high at 390 px;
- printed to PDF: A4 pages, each with the title, the date, the legend of symbols and
  "Pagina n van N" in its margins; an internal report's banner covers nothing;
- axe-core, run in the page, finds no serious or critical violation;
- what the browser shows in the tables is the protected values, and a snapshot of it fails
  when one figure changes.

Skipped when Chromium or Playwright is not installed (the ``browser`` fixture says which).
Synthetic data only: pseudonyms are digests of made-up client numbers. Screenshots and the PDF
are written to the test's temporary folder.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_helpers import axe_violations
from report_helpers import round_report

from factlab.report.build import write_report
from factlab.report.grid import table_grid
from factlab.report.model import Report
from factlab.report.page import page_words

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SNAPSHOT = Path(__file__).parent / "snapshots" / "report-tables.nl.txt"
#: A4 in PostScript points, and how far a PDF writer may round it.
A4 = (595.28, 841.89)
A4_TOLERANCE = 2.0
#: The width inside the printed page's margins (210 mm less 2 × 14 mm), in CSS pixels.
A4_CONTENT_PX = round((210 - 2 * 14) / 25.4 * 96)
#: Smallest chart text on a phone, in CSS pixels.
MIN_TEXT_PX = 11.0


def _report(folder: Path, language: str, **rows: Any) -> Report:
    return round_report(folder, language, **rows)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("browser")
    return {language: _report(folder, language) for language in ("nl", "en")}


@pytest.fixture(scope="module")
def pages(reports: dict[str, Report], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    written = {
        language: write_report(report, folder / f"report.{language}.html")
        for language, report in reports.items()
    }
    internal = replace(reports["nl"], internal=True)  # the same protected tables, marked internal
    written["internal"] = write_report(internal, folder / "internal.html")
    return written


def _open(browser: Browser, path: Path, width: int, *, media: str = "screen") -> Page:
    """The page at ``width`` CSS pixels; fails the test if it asks for anything outside itself."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url))
    page.emulate_media(media=media)  # type: ignore[arg-type]
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert outside == [path.as_uri()], "the page requested something besides itself"
    return page


def _page_width(page: Page) -> tuple[int, int]:
    width: list[int] = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    return width[0], width[1]


_TABLE_BOXES = """() => Array.from(document.querySelectorAll('table')).map(table => {
  const box = table.closest('.table-scroll');
  const rect = box.getBoundingClientRect();
  const first = table.querySelector('tbody th[scope=row]');
  box.scrollLeft = box.scrollWidth;  // scrolled to its far end ...
  const firstAfter = first ? first.getBoundingClientRect().left - box.getBoundingClientRect().left
                           : 0;
  const lastCell = table.querySelector('tbody tr:last-child > :last-child').getBoundingClientRect();
  const reached = lastCell.right <= box.getBoundingClientRect().right + 1;
  box.scrollLeft = 0;
  return {id: table.id, left: rect.left, right: rect.right, height: rect.height,
          scrolls: box.scrollWidth > box.clientWidth,
          overflow: getComputedStyle(box).overflowX, focusable: box.tabIndex === 0,
          caption: table.caption ? table.caption.textContent.trim() : '',
          firstColumnStays: Math.abs(firstAfter) < 1.5, reached};
})"""

#: What a cell shows the eye (the screen reader's words left out).
_SHOWN = (
    "cell => { const copy = cell.cloneNode(true); "
    "copy.querySelectorAll('.sr-only').forEach(e => e.remove()); "
    "return copy.textContent.trim(); }"
)

_CHART_TEXT = """() => Array.from(document.querySelectorAll('figure svg text')).map(text => {
  const size = parseFloat(getComputedStyle(text).fontSize);
  const matrix = text.getScreenCTM();
  return size * Math.hypot(matrix.a, matrix.b);
})"""


def _check_tables_reachable(page: Page) -> list[dict[str, Any]]:
    """Every table is in view across and reachable to its last column; returns the boxes."""
    boxes: list[dict[str, Any]] = page.evaluate(_TABLE_BOXES)
    width = page.evaluate("window.innerWidth")
    for box in boxes:
        assert box["left"] >= 0, box
        assert box["right"] <= width + 0.5, box
        assert box["height"] > 0, box
        assert box["caption"], f"{box['id']} has no caption"
        assert box["reached"], f"{box['id']}: its last column cannot be scrolled into view"
        if box["scrolls"]:
            assert box["overflow"] == "auto", box
            assert box["focusable"], f"{box['id']} scrolls but cannot be reached by keyboard"
            assert box["firstColumnStays"], f"{box['id']}: the first column scrolls away"
    return boxes


def _suppressed_cells(report: Report) -> int:
    return sum(
        cell is None
        for table in report.tables
        for row in table_grid(table, internal=report.internal).rows
        for cell in row[1:]
    )


def test_phone_layout_and_spoken_symbols(
    browser: Browser, reports: dict[str, Report], pages: dict[str, Path]
) -> None:
    """Fast enough for every run: the Dutch report at 390 px, read as the browser lays it out."""
    report = reports["nl"]
    page = _open(browser, pages["nl"], 390)
    try:
        assert page.evaluate("document.documentElement.lang") == "nl"
        ids = page.evaluate("Array.from(document.querySelectorAll('table')).map(t => t.id)")
        assert ids == [
            "table-key-figures",
            *(f"table-{table.id}" for table in report.tables),
            "table-corrections",
        ]
        charts = page.evaluate(
            "Array.from(document.querySelectorAll('figure')).map("
            "f => [f.id, f.querySelectorAll('svg').length])"
        )
        assert [tuple(chart) for chart in charts] == [
            ("chart-by-financing", 1),
            ("chart-providers-per-client", 1),
            ("chart-overlap", 1),
            ("chart-corrections", 1),
        ]
        scroll_width, width = _page_width(page)
        assert scroll_width <= width, "the page scrolls sideways on a phone"
        boxes = _check_tables_reachable(page)
        assert any(box["scrolls"] for box in boxes), "expected a table wider than a phone"
        # Every suppressed cell is spoken as "geheim", and no cell is spoken as a full stop.
        suppressed = _suppressed_cells(report)
        assert suppressed > 0
        spoken = page.get_by_role("cell", name="geheim", exact=True).count()
        assert spoken >= suppressed
        assert page.get_by_role("cell", name=".", exact=True).count() == 0
        sizes: list[float] = page.evaluate(_CHART_TEXT)
        assert sizes
        assert min(sizes) >= MIN_TEXT_PX - 0.01, min(sizes)
        # Each chart is an image with a name and a description.
        names = page.evaluate(
            "Array.from(document.querySelectorAll('figure svg')).map(s => "
            "[s.getAttribute('role'), s.querySelector('title').textContent, "
            "s.querySelector('desc').textContent])"
        )
        assert all(role == "img" and name and desc for role, name, desc in names)
        legend = page.locator("#legend").inner_text()
        assert "Verklaring van tekens" in legend
        assert "geheim" in legend
    finally:
        page.close()


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
def test_screenshot_without_sideways_scroll(
    browser: Browser, pages: dict[str, Path], width: int, tmp_path: Path
) -> None:
    for name in ("nl", "en", "internal"):
        page = _open(browser, pages[name], width)
        try:
            scroll_width, inner = _page_width(page)
            assert scroll_width <= inner, f"{name} at {width} px scrolls sideways"
            _check_tables_reachable(page)
            shot = tmp_path / f"{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes().startswith(b"\x89PNG")
            assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
        finally:
            page.close()


def _pdf_pages(data: bytes) -> list[tuple[tuple[float, float], str]]:
    """Each page's size (points) and text."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    # NFKC: the PDF's fonts join "fi" into one ligature glyph; whitespace as single spaces.
    return [
        (
            (float(page.mediabox.width), float(page.mediabox.height)),
            " ".join(unicodedata.normalize("NFKC", page.extract_text()).split()),
        )
        for page in reader.pages
    ]


@pytest.mark.slow
def test_print_is_a4_with_title_date_legend_and_page_numbers(
    browser: Browser, reports: dict[str, Report], pages: dict[str, Path], tmp_path: Path
) -> None:
    report = reports["nl"]
    words = page_words(report)
    page = _open(browser, pages["nl"], A4_CONTENT_PX, media="print")
    try:
        data = page.pdf(format="A4", print_background=True)
    finally:
        page.close()
    (tmp_path / "report.pdf").write_bytes(data)
    printed = _pdf_pages(data)
    assert len(printed) > 1
    for number, ((width, height), text) in enumerate(printed, start=1):
        assert abs(width - A4[0]) <= A4_TOLERANCE
        assert abs(height - A4[1]) <= A4_TOLERANCE
        assert f"Pagina {number} van {len(printed)}" in text, number
        assert report.title in text, number
        assert words.published in text, number
        assert ". geheim" in text, number
    # Every table made it onto paper.
    everything = " ".join(text for _, text in printed)
    for table in report.tables:
        assert table.title in everything


@pytest.mark.slow
def test_eleven_providers_fit_the_printed_page(browser: Browser, tmp_path: Path) -> None:
    """Laid out for paper at the width inside an A4 page's margins, nothing sticks out: the
    overlap of eleven providers (twelve columns) included."""
    report = round_report(tmp_path, "nl", clients=1500, providers=11)
    overlap = next(table for table in report.tables if table.id == "overlap")
    assert len(table_grid(overlap, internal=False).header) == 12
    path = write_report(report, tmp_path / "eleven.html")
    page = _open(browser, path, A4_CONTENT_PX, media="print")
    try:
        scroll_width, width = _page_width(page)
        assert scroll_width <= width, "a table or chart is wider than the printed page"
        assert len(_pdf_pages(page.pdf(format="A4"))) > 1
    finally:
        page.close()


@pytest.mark.slow
def test_internal_banner_covers_nothing_on_screen_or_paper(
    browser: Browser, pages: dict[str, Path]
) -> None:
    for width in (1280, 390):
        page = _open(browser, pages["internal"], width)
        try:
            covered = page.evaluate(
                """() => {
                  const banner = document.getElementById('internal-mark').getBoundingClientRect();
                  return Array.from(document.querySelectorAll('body *'))
                    .filter(e => !e.closest('#internal-mark') && !e.classList.contains('sr-only'))
                    .map(e => [e.tagName, e.getBoundingClientRect()])
                    .filter(([, r]) => r.width > 0 && r.height > 0 && r.top < banner.bottom
                            && r.bottom > banner.top && r.left < banner.right
                            && r.right > banner.left && r.top >= 0)
                    .map(([tag]) => tag).filter(tag => tag !== 'BODY' && tag !== 'HTML');
                }"""
            )
            assert covered == [], covered
        finally:
            page.close()
    page = _open(browser, pages["internal"], 1280, media="print")
    try:
        fixed = page.evaluate(
            "Array.from(document.querySelectorAll('body *')).filter(e => "
            "['fixed', 'sticky'].includes(getComputedStyle(e).position))"
            ".map(e => e.id || e.tagName)"
        )
        assert fixed == [], "nothing may be fixed on paper: it would repeat over the content"
        printed = _pdf_pages(page.pdf(format="A4"))
    finally:
        page.close()
    assert all("INTERN" in text.upper() for _, text in printed)


@pytest.mark.slow
@pytest.mark.parametrize("language", ["nl", "en"])
def test_axe_finds_no_serious_violation(
    browser: Browser, pages: dict[str, Path], language: str
) -> None:
    for width in (1280, 390):
        page = _open(browser, pages[language], width)
        try:
            assert page.evaluate("document.documentElement.lang") == language
            found = [
                (violation["id"], [node["target"] for node in violation["nodes"]][:3])
                for violation in axe_violations(page)
            ]
            assert found == [], found
        finally:
            page.close()


def _shown_tables(browser: Browser, path: Path) -> str:
    """Every table as the browser shows it: one line per row, cells separated by " | "."""
    page = _open(browser, path, 1280)
    try:
        rows: list[list[str]] = page.evaluate(
            "Array.from(document.querySelectorAll('table tr')).map(tr => "
            f"Array.from(tr.children).map({_SHOWN}))"
        )
    finally:
        page.close()
    return "\n".join(" | ".join(cells) for cells in rows) + "\n"


@pytest.mark.slow
def test_tables_snapshot_fails_when_a_figure_changes(
    browser: Browser, pages: dict[str, Path], tmp_path: Path
) -> None:
    shown = _shown_tables(browser, pages["nl"])
    if os.environ.get("FACTLAB_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(shown, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot: run once with FACTLAB_UPDATE_SNAPSHOTS=1 and review"
    assert shown == SNAPSHOT.read_text(encoding="utf-8")
    # The same round with a few more clients: some published figure changes, so must the text.
    changed = write_report(_report(tmp_path, "nl", clients=215), tmp_path / "changed.html")
    assert _shown_tables(browser, changed) != shown


def test_shown_values_are_the_protected_values(
    browser: Browser, reports: dict[str, Report], pages: dict[str, Path]
) -> None:
    """The numbers in the browser's tables are the protected grid's, written the Dutch way."""
    report = reports["nl"]
    words = page_words(report)
    page = _open(browser, pages["nl"], 1280)
    try:
        for table in report.tables:
            grid = table_grid(table, internal=False)
            shown: list[list[str]] = page.evaluate(
                f"Array.from(document.querySelectorAll('#table-{table.id} tbody tr')).map("
                f"tr => Array.from(tr.children).map({_SHOWN}))"
            )
            expected = [[words.cell(grid, cell) for cell in row] for row in grid.rows]
            assert shown == expected, table.id
            assert all(
                re.fullmatch(r"[0-9]{1,3}(\.[0-9]{3})*|[0-9]+,[0-9]|[.x–-]", value)
                for row, kinds in ((row, grid.kinds) for row in shown)
                for value, kind in zip(row, kinds, strict=True)
                if kind in ("count", "percent")
            ), table.id
    finally:
        page.close()
