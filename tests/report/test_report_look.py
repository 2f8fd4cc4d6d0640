"""The report's look without a browser: chart SVG, the HTML page's structure and print rules,
and the Excel workbook's sheets, charts, print setup and legend (read from the xlsx's XML).

The browser tests (tests/report/test_report_browser.py) check the same page as Chromium lays
it out; these check what the files say, fast, in every run.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from report_helpers import round_report

from factlab.report.build import write_report
from factlab.report.charts import MIN_FONT, ChartText, heatmap, period_bars, single_bars
from factlab.report.grid import Grid, table_grid
from factlab.report.model import Report
from factlab.report.page import page_words
from factlab.report.render import render_html
from factlab.report.style import css_string

HOSTILE = 'T "1" </style><script>alert(1)</script> \\ ; } body { display: none }'


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("look")
    return {language: round_report(folder, language) for language in ("nl", "en")}


@pytest.fixture(scope="module")
def workbook(reports: dict[str, Report], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(reports["nl"], tmp_path_factory.mktemp("xlsx") / "report.xlsx")


# --- charts --------------------------------------------------------------------------------------

MATRIX = Grid(
    ("provider", "A", "B", "C"),
    (("A", 1000, 20, 5), ("B", 20, 900, 50), ("C", 5, 50, None)),
    ("label", "count", "count", "count"),
)
PERIODS = Grid(
    ("financing", "2024H1", "2024H2", "2024"),
    (("ZIN", 110, 140, 185), ("PGB", 20, None, 25)),
    ("label", "count", "count", "count"),
)
BARS = Grid(("providers", "clients"), (("1", 5295), ("2", 2500), ("3", None)), ("label", "count"))


def _charts() -> dict[str, str]:
    words = ChartText("Titel", "De cijfers staan in tabel 2.", number=lambda v: f"{v:,.0f}")
    return {
        "periods": period_bars(PERIODS, "p", ylabel="unieke jeugdigen", text=words),
        "bars": single_bars(BARS, "b", xlabel="aanbieders", ylabel="jeugdigen", text=words),
        "heatmap": heatmap(MATRIX, "h", text=words),
    }


def test_chart_text_is_text_not_glyph_paths() -> None:
    for name, svg in _charts().items():
        texts = re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)
        assert texts, name
        # Glyphs drawn as outlines would be paths defined once per character (DejaVuSans-31).
        assert "DejaVuSans-" not in svg, name
    assert "5,295" in re.findall(r"<text\b[^>]*>([^<]*)</text>", _charts()["bars"])


def test_chart_text_is_at_least_11_px_at_phone_width() -> None:
    for name, svg in _charts().items():
        sizes = [float(size) for size in re.findall(r"font-size: ([\d.]+)px", svg)]
        assert sizes, name
        assert min(sizes) >= MIN_FONT >= 11, name
        # Never drawn narrower than one pixel per unit, so a size in units is a size in pixels.
        view = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))  # type: ignore[union-attr]
        minimum = float(re.search(r"min-width: ([\d.]+)px", svg).group(1))  # type: ignore[union-attr]
        assert minimum >= view - 0.5, name


def _mesh_fills(svg: str, mesh: int) -> list[str]:
    group = re.search(rf'<g id="h-QuadMesh_{mesh}">(.*?)</g>', svg, re.DOTALL)
    assert group is not None
    return re.findall(r"fill: (#[0-9a-f]{6})", group.group(1))


def test_heatmap_colours_shared_counts_on_their_own_scale() -> None:
    svg = _charts()["heatmap"]
    shared = _mesh_fills(svg, 1)  # row by row; the diagonal lies under its own layer
    darkest, grey = "#08306b", "#d9d9d9"
    # The largest shared count (50, beside diagonals of 900 and more) is the darkest blue.
    assert shared[5] == darkest  # B-C
    assert shared[7] == darkest  # C-B
    assert shared[1] != shared[2]  # 20 and 5 differ visibly
    assert shared[8] == grey  # suppressed (C-C is suppressed here)
    assert set(_mesh_fills(svg, 2)) == {"#eef1f4"}  # the diagonal: one flat colour
    # Before, one scale from 0 to 1000 left 50 nearly white.
    assert shared[5] != "#f7fbff"


def test_chart_has_an_accessible_name_and_description() -> None:
    svg = heatmap(MATRIX, "h", text=ChartText(HOSTILE, "De cijfers staan in tabel 7."))
    assert svg.startswith('<svg role="img" aria-labelledby="h-title" aria-describedby="h-desc"')
    assert '<desc id="h-desc">De cijfers staan in tabel 7.</desc>' in svg
    assert "<script" not in svg
    assert "&lt;/style&gt;&lt;script&gt;" in svg
    # Without words it hides itself from screen readers instead of being a nameless image.
    assert heatmap(MATRIX, "h").startswith('<svg aria-hidden="true"')


def test_charts_are_deterministic() -> None:
    assert _charts() == _charts()


# --- HTML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "secret"), [("nl", "geheim"), ("en", "secret")])
def test_page_language_captions_and_spoken_symbols(
    reports: dict[str, Report], language: str, secret: str
) -> None:
    report = reports[language]
    page = render_html(report)
    assert page.startswith(f'<!DOCTYPE html>\n<html lang="{language}">')
    tables = re.findall(r"<table\b.*?</table>", page, re.DOTALL)
    assert len(tables) == 2 + len(report.tables)  # key figures, the tables, the corrections
    for number, table in enumerate(tables, start=1):
        caption = re.search(r"<caption[^>]*>(.*?)</caption>", table, re.DOTALL)
        assert caption is not None
        text = re.sub(r"<[^>]+>", "", caption.group(1))
        assert text.startswith(f"{'Tabel' if language == 'nl' else 'Table'} {number}")
        assert len(text) > len("Tabel 1")
    suppressed = re.findall(r'<td class="[^"]*\bs\b[^"]*">(.*?)</td>', page)
    expected = sum(
        cell is None
        for table in report.tables
        for row in table_grid(table, internal=False).rows
        for cell in row[1:]
    )
    spoken = [cell for cell in suppressed if f'<span class="sr-only">{secret}</span>' in cell]
    assert len(spoken) >= expected > 0
    assert all(f'<abbr title="{secret}">' in cell for cell in spoken)


def test_tables_scroll_in_their_own_focusable_box(reports: dict[str, Report]) -> None:
    page = render_html(reports["nl"])
    boxes = re.findall(r'<div class="table-scroll"[^>]*>\s*<table', page)
    assert len(boxes) == page.count("<table")
    assert all('tabindex="0"' in box and 'role="region"' in box for box in boxes)
    assert re.search(r"\.table-scroll \{[^}]*overflow-x: auto", page)
    assert re.search(r'tbody th\[scope="row"\] \{[^}]*position: sticky', page)


def test_legend_source_and_print_rules_are_on_the_page(reports: dict[str, Report]) -> None:
    report = reports["nl"]
    words = page_words(report)
    page = render_html(report)
    legend = re.search(r'<aside class="legend".*?</aside>', page, re.DOTALL)
    assert legend is not None
    assert "Verklaring van tekens" in legend.group(0)
    for line in words.legend:
        assert line.replace("<", "&lt;") in legend.group(0)
    assert words.source
    assert page.count(words.source) >= len(report.tables)  # under every table, and the footer
    rules = page[page.index("@page") :]
    assert "size: A4" in rules
    assert "counter(page)" in rules
    assert "counter(pages)" in rules
    assert css_string(report.title) in rules
    assert css_string(words.published) in rules


def test_a_title_cannot_break_out_of_the_print_rules(reports: dict[str, Report]) -> None:
    page = render_html(replace(reports["nl"], title=HOSTILE))
    head = page[: page.index("</head>")]
    assert head.count("</style>") == 1
    assert "<script" not in page
    style = head[head.index("<style>") : head.index("</style>")]
    quoted = re.findall(r'content: ("(?:[^"\\]|\\.)*")', style)
    assert css_string(HOSTILE) in quoted
    assert "body { display: none }" not in style


def test_css_string_escapes_everything_but_letters_digits_and_spaces() -> None:
    assert css_string("a b") == '"a b"'
    assert css_string('"') == '"\\000022 "'
    assert css_string("é") == '"é"'


# --- Excel ---------------------------------------------------------------------------------------


def _xml(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name).decode("utf-8")


def _sheets(path: Path) -> list[tuple[str, str]]:
    """(sheet name, its XML) in workbook order."""
    workbook = _xml(path, "xl/workbook.xml")
    names = re.findall(r'<sheet name="([^"]+)" sheetId="(\d+)"', workbook)
    return [(name, _xml(path, f"xl/worksheets/sheet{index}.xml")) for name, index in names]


def test_workbook_sheet_names_are_the_reports_language(
    reports: dict[str, Report], workbook: Path
) -> None:
    names = [name for name, _ in _sheets(workbook)]
    words = page_words(reports["nl"])
    expected = [
        words.sheet("about"),
        words.sheet("key-figures"),
        *(words.sheet(table.id, table) for table in reports["nl"].tables),
        words.sheet("corrections"),
        words.sheet("provenance"),
    ]
    assert names == [name.replace("'", "&apos;") for name in expected]
    assert "kerncijfers" in names
    assert not any(re.fullmatch(r"[a-z]+(-[a-z_]+)+", name) for name in names), names


def test_workbook_freezes_filters_and_prints_every_table_sheet(workbook: Path) -> None:
    workbook_xml = _xml(workbook, "xl/workbook.xml")
    sheets = _sheets(workbook)
    tables = sheets[1:-1]  # all but "about" and the provenance
    for index, (name, xml) in enumerate(sheets):
        assert '<pageSetup paperSize="9"' in xml, name  # A4
        assert 'fitToHeight="0"' in xml, name
        assert '<pageSetUpPr fitToPage="1"/>' in xml, name  # fit to the page width
        assert "&amp;P" in xml, name
        assert "&amp;N" in xml, name  # page n of N in the footer
        if (name, xml) in tables:
            assert re.search(r'<pane xSplit="1" ySplit="4"[^>]*state="frozen"', xml), name
            assert "<autoFilter ref=" in xml, name
            titles = re.search(
                rf'<definedName name="_xlnm.Print_Titles" localSheetId="{index}">([^<]+)<',
                workbook_xml,
            )
            assert titles is not None, name
            assert titles.group(1).endswith("!$4:$4"), name


def test_workbook_has_native_charts_beside_their_tables(
    reports: dict[str, Report], workbook: Path
) -> None:
    with zipfile.ZipFile(workbook) as archive:
        charts = sorted(
            n for n in archive.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)
        )
        drawings = [archive.read(n).decode() for n in archive.namelist() if "drawings/drawing" in n]
    drawn = [t for t in reports["nl"].tables if t.chart in ("periods", "bars")]
    assert len(charts) == len(drawn) + 1  # and the corrections
    for name in charts:
        xml = _xml(workbook, name)
        assert "<c:barChart>" in xml
        assert re.search(r"<c:f>[^<]+!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?</c:f>", xml)
    for drawing in drawings:  # placed to the right of the table, from its header row
        column = int(re.search(r"<xdr:from><xdr:col>(\d+)</xdr:col>", drawing).group(1))  # type: ignore[union-attr]
        row = int(re.search(r"<xdr:row>(\d+)</xdr:row>", drawing).group(1))  # type: ignore[union-attr]
        assert column >= 2
        assert row == 3


def test_workbook_colours_the_overlap_on_the_shared_counts_scale(
    reports: dict[str, Report], workbook: Path
) -> None:
    report = reports["nl"]
    overlap = next(t for t in report.tables if t.chart == "heatmap")
    words = page_words(report)
    sheets = dict(_sheets(workbook))
    xml = sheets[words.sheet(overlap.id, overlap)]
    grid = table_grid(overlap, internal=False)
    shared = [
        cell
        for row in grid.rows
        for column, cell in zip(grid.header[1:], row[1:], strict=True)
        if isinstance(cell, int) and row[0] != column and row[0] in grid.header
    ]
    scale = re.search(r'<cfRule type="colorScale".*?</cfRule>', xml, re.DOTALL)
    assert scale is not None
    assert f'<cfvo type="num" val="{max(shared)}"/>' in scale.group(0)
    diagonal = re.findall(r'<cfRule type="expression"[^>]*stopIfTrue="1"', xml)
    assert len(diagonal) == sum(1 for row in grid.rows if row[0] in grid.header)


def test_legend_and_source_on_every_sheet(reports: dict[str, Report], workbook: Path) -> None:
    words = page_words(reports["nl"])
    frames = pl.read_excel(
        workbook, sheet_id=0, engine="calamine", has_header=False, infer_schema_length=0
    )
    assert len(frames) == len(_sheets(workbook))
    for name, frame in frames.items():
        first = [value for value in frame.to_series(0).to_list() if value]
        assert "Verklaring van tekens" in first, name
        for line in words.legend:
            assert line in first, name
        assert words.source in first, name
