"""Hostile text in a report's data: nothing from data is parsed, executed, linked or published
as a BSN (issue 14: defects 4, 10, 13 and the control characters seen with them).

Synthetic data only: pseudonyms are SHA-256 digests of made-up client numbers; the BSN-like labels
are numbers of the test range 999900000-999999999 that pass the elfproef.
"""

from __future__ import annotations

import hashlib
import html
import re
import zipfile
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

import factlab.cli.report  # noqa: F401  (registers `factlab report` on `main`)
from factlab import schema
from factlab.cli import main
from factlab.disclosure.protect import protect
from factlab.errors import DataError
from factlab.escape import REPLACEMENT
from factlab.estimation.corrections import Adjustment, Corrections
from factlab.estimation.estimate import estimate
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.report.build import build_report, write_report
from factlab.report.charts import heatmap, period_bars, single_bars
from factlab.report.config import RoundConfig
from factlab.report.grid import Grid
from factlab.report.model import InternalTable, Layout, Report, ReportTable
from factlab.report.render import render_html, render_markdown

MATH = ("$\\undefinedcmd$", "$\\frac{1}{0}$")
MARKDOWN = (
    "<img src=x onerror=alert(1)>",
    "![x](http://evil.example/pixel.png)",
    "[click](javascript:alert(1))",
    "<javascript:alert(1)>",
    "www.evil.example",
    "`tick` **bold** <!-- c -->",
)
CONTROLS = ("Em\x00men", "Assen\u202eexe.txt", "Mep\u200fpel\u2066x\u2069", "Zuid\u202a\u202c")
FORMULAS = ('=HYPERLINK("http://evil.example","x")', "=1+1", "+1", "@SUM(A1)")
#: Test-range numbers that pass the elfproef, in written forms a text field may hold.
BSN_LIKE = (
    "999993653",
    "9999.93.653",
    "999-991-723",
    "9999 95 078",
    # inside a text, or written with other separators or digits
    "BSN 999993653",
    "999/991/723",
    "0999995078",
    "\u0669\u0669\u0669\u0669\u0669\u0663\u0666\u0665\u0663",
)


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"hostile-text-client-{client}".encode()).hexdigest()[:32]


def linked_rows(labels: tuple[str, ...], *, column: str = "municipality") -> pl.DataFrame:
    """Twelve clients per label, at two providers, with care form and financing."""
    clients = range(12 * len(labels))
    return pl.DataFrame(
        {
            "pseudonym": [pseudonym(client) for client in clients],
            "bsn_status": pl.Series(["valid"] * len(clients), dtype=schema.STATUS_DTYPE),
            "provider": ["P01" if client % 2 else "P02" for client in clients],
            column: [labels[client % len(labels)] for client in clients],
            **{
                name: [value] * len(clients)
                for name, value in (("care_form", "ambulant"), ("financing", "ZIN"))
                if name != column
            },
        }
    )


def report_of(labels: tuple[str, ...], **config: object) -> Report:
    chosen = RoundConfig(dimensions=("municipality",), **config)  # type: ignore[arg-type]
    return build_report(linked_rows(labels), chosen, generated="2025-03-01T12:00:00+00:00")


def svg_texts(svg: str) -> list[str]:
    """Each text the SVG draws, as written in its text elements (charts write text as text)."""
    found = re.findall(r"<text\b[^>]*>(.*?)</text>", svg, re.DOTALL)
    return [html.unescape(text) for text in found]


# --- 10: no mathtext ------------------------------------------------------------------------------


def test_math_labels_are_drawn_as_written_in_every_chart() -> None:
    bars = Grid(("providers", "clients"), tuple((label, 40) for label in MATH), ("label", "count"))
    drawn = svg_texts(single_bars(bars, "bars", xlabel=MATH[0], ylabel=MATH[1]))
    # Drawn literally, each label is one text element holding it as written; mathtext would
    # draw 1 and 0 and a bar as pieces, and \undefinedcmd would raise.
    assert drawn.count(MATH[1]) == 2  # a tick label and the axis label
    assert drawn.count(MATH[0]) == 2
    periods = Grid(
        ("financing", MATH[0], MATH[1]),
        ((MATH[0], 10, None), (MATH[1], 60, 80)),
        ("label", "count", "count"),
    )
    drawn = svg_texts(period_bars(periods, "periods", ylabel=MATH[0]))
    assert drawn.count(MATH[1]) == 2  # a legend entry and a tick label
    matrix = Grid(
        ("provider", *MATH), ((MATH[0], 40, None), (MATH[1], None, 50)), ("label", "count", "count")
    )
    assert svg_texts(heatmap(matrix, "matrix")).count(MATH[1]) == 2  # row and column label


def test_report_with_math_labels_renders_them_literally() -> None:
    report = report_of(MATH, title=MATH[0], region=MATH[1])
    page = render_html(report)
    assert "\\undefinedcmd" in page
    assert "\\frac{1}{0}" in page
    markdown = render_markdown(report)
    assert "\\$\\\\undefinedcmd\\$" in markdown  # escaped: no math in Markdown either


def test_cli_report_with_a_math_label_exits_cleanly(tmp_path: Path) -> None:
    # Financing values are drawn in the chart of unique clients per period.
    linked = tmp_path / "linked.parquet"
    rows = linked_rows(MATH, column="financing")
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="hostile-2025",
        key_id="0123456789abcdef",
        key_fingerprint="1a2b-3c4d-5e6f-7a8b",
        rows=rows.height,
        rows_by_status={"valid": rows.height},
        stage=2,
    )
    write_parquet(rows, linked, manifest)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(linked), f"--out={out}"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    page = out.read_text(encoding="utf-8")
    assert ">$\\undefinedcmd$</text>" in page  # drawn by the chart as written
    assert ">$\\frac{1}{0}$</text>" in page


# --- 13: Markdown --------------------------------------------------------------------------------


def _elements(markdown: str) -> list[str]:
    """Every element a CommonMark renderer makes of the text, other than plain structure."""
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    tags = re.findall(r"<([a-zA-Z!][^\s>/]*)", rendered)
    structure = {"h1", "h2", "h3", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td"}
    return [tag for tag in tags if tag not in structure | {"strong", "blockquote"}]


@pytest.mark.parametrize("payload", MARKDOWN)
def test_markdown_report_writes_no_tag_image_or_link_from_data(payload: str) -> None:
    report = report_of(("Assen", payload), title=payload, region=payload)
    markdown = render_markdown(report)
    assert _elements(markdown) == []
    assert "<img" not in markdown
    assert "](" not in markdown.replace("\\](", "")
    assert not re.search(r"(?<!\\)(javascript|http):", markdown)
    assert not re.search(r"(?<!\\)www\.", markdown)  # GitHub links www. without a scheme
    # The reader still sees the value as it is.
    text = MarkdownIt("commonmark").enable("table").render(markdown)
    assert payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in text.replace(
        "&quot;", '"'
    )


@pytest.mark.parametrize("payload", MARKDOWN)
def test_estimate_markdown_writes_no_tag_image_or_link(payload: str, tmp_path: Path) -> None:
    corrections = Corrections(
        title=payload,
        base="sum_of_cells",
        row_dimension="care_form",
        column_dimension="financing",
        adjustments=(
            Adjustment(
                payload, "factor", 2, source=payload, note=payload, select={"financing": "PGB"}
            ),
        ),
    )
    table = pl.DataFrame(
        {"care_form": [payload, "b"], "financing": ["PGB", "ZIN"], "unique_clients": [5, 7]}
    )
    markdown = estimate(table, corrections).to_markdown()
    assert _elements(markdown) == []
    assert "<img" not in markdown
    assert "](" not in markdown.replace("\\](", "")
    assert not re.search(r"(?<!\\)(javascript|http):", markdown)
    assert not re.search(r"(?<!\\)www\.", markdown)


def test_html_report_escapes_every_payload() -> None:
    report = report_of(MARKDOWN, title=MARKDOWN[0], region=MARKDOWN[1])
    page = render_html(report)
    assert "<img" not in page
    assert "<!-- c -->" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript' not in page


# --- control and bidirectional-control characters ------------------------------------------------


def test_control_and_bidi_characters_are_replaced_in_every_format(tmp_path: Path) -> None:
    report = report_of(CONTROLS, title="T\u202eitle\x00")
    texts = {
        "html": render_html(report),
        "md": render_markdown(report),
        "xlsx": _workbook_text(write_report(report, tmp_path / "r.xlsx")),
    }
    for name, text in texts.items():
        for char in ("\x00", "\u202e", "\u200f", "\u2066", "\u2069", "\u202a", "\u202c"):
            assert char not in text, (name, hex(ord(char)))
        assert f"Em{REPLACEMENT}men" in text, name
        assert f"Assen{REPLACEMENT}exe" in text, name
    bars = Grid(("m", "clients"), tuple((label, 40) for label in CONTROLS), ("label", "count"))
    svg = single_bars(bars, "bars", xlabel="x\u202e", ylabel="y")
    assert "\u202e" not in svg
    assert "\x00" not in svg
    assert f"Em{REPLACEMENT}men" in svg


def _workbook_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "".join(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.endswith(".xml")
        )


# --- Excel: strings stay strings ---------------------------------------------------------------


def test_excel_writes_formula_like_labels_as_text(tmp_path: Path) -> None:
    path = write_report(report_of(FORMULAS, title=FORMULAS[0]), tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/sheet")]
        cells = "".join(archive.read(name).decode("utf-8") for name in sheets)
        strings = archive.read("xl/sharedStrings.xml").decode("utf-8")
    assert "<f>" not in cells
    assert "<f " not in cells
    for formula in FORMULAS:
        assert f"<t>{formula}</t>" in strings


# --- 4: labels that look like a BSN ------------------------------------------------------------


@pytest.mark.parametrize("internal", [False, True])
@pytest.mark.parametrize("value", BSN_LIKE)
def test_a_bsn_like_label_is_refused_naming_table_and_dimension(value: str, internal: bool) -> None:
    # A public report's tables are stopped by protect, before any table is made; an internal
    # report's (no protect) by the report's own check, which names the table.
    config = RoundConfig(dimensions=("municipality",))
    with pytest.raises(DataError) as raised:
        build_report(linked_rows(("Assen", value)), config, internal=internal)
    message = str(raised.value)
    where = "table by-municipality" if internal else "protect"
    assert message.startswith(f"{where}: dimension municipality: 1 label value looks like a BSN")
    digits = re.sub(r"\D", "", value)
    assert digits not in re.sub(r"\D", "", message)
    assert value not in message


@pytest.mark.parametrize(("internal", "where"), [(False, "protect"), (True, "table cross")])
def test_a_bsn_like_column_label_of_the_cross_table_is_refused(internal: bool, where: str) -> None:
    rows = linked_rows(("ZIN", "999991723"), column="financing")
    config = RoundConfig(dimensions=("care_form", "financing"), cross=("care_form", "financing"))
    with pytest.raises(DataError, match=rf"{where}: dimension financing"):
        build_report(rows, config, internal=internal)


def test_bsn_like_provider_codes_are_refused_when_shown() -> None:
    rows = linked_rows(("Assen",)).with_columns(
        pl.when(pl.col("provider") == "P01")
        .then(pl.lit("999995078"))
        .otherwise(pl.col("provider"))
        .alias("provider")
    )
    with pytest.raises(DataError, match="dimension provider") as raised:
        build_report(rows, RoundConfig(dimensions=("municipality",), anonymise_providers=False))
    assert "999995078" not in str(raised.value)
    # Under anonymised labels the codes are not shown, so the report is made.
    assert build_report(rows, RoundConfig(dimensions=("municipality",))).tables


def test_numbers_that_fail_the_elfproef_or_are_sentinels_are_labels_like_any_other() -> None:
    report = report_of(("999993654", "000000000", "12345678"))
    assert "999993654" in render_markdown(report)


def test_a_hand_made_report_table_is_checked_too() -> None:
    counts = pl.DataFrame({"municipality": ["999993653", None], "unique_clients": [40, 40]})
    # protect publishes no such label ...
    with pytest.raises(DataError, match="protect: dimension municipality"):
        protect(counts)
    # ... and a report table refuses one from anywhere else (here, exact counts)
    exact = InternalTable.from_counts(
        counts, dimensions=("municipality",), measures=("unique_clients",)
    )
    with pytest.raises(DataError, match="table mine: dimension municipality"):
        ReportTable("mine", "Mine", exact, Layout(rows="municipality"))


def test_cli_refuses_a_bsn_like_label_in_one_line(tmp_path: Path) -> None:
    linked = tmp_path / "linked.parquet"
    rows = linked_rows(("Assen", "9999.93.653"))
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="hostile-2025",
        key_id="0123456789abcdef",
        key_fingerprint="1a2b-3c4d-5e6f-7a8b",
        rows=rows.height,
        rows_by_status={"valid": rows.height},
        stage=2,
    )
    write_parquet(rows, linked, manifest)
    out = tmp_path / "report.md"
    result = CliRunner().invoke(main, ["report", str(linked), f"--out={out}"])
    assert result.exit_code == DataError.exit_code
    assert "Traceback" not in result.output
    assert "999993653" not in result.output
    assert "9999.93.653" not in result.output
    assert "dimension municipality" in result.output
    assert not out.exists()
