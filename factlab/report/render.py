"""Rendering a report as HTML or Markdown (and, through :mod:`factlab.report.excel`, Excel).

Formatting only, no counting.

Every value comes from a table of the :class:`~factlab.report.model.Report`, each of which is
checked again here (:func:`~factlab.report.model.check_source`): a raw frame is refused, and exact
counts only render in an internal report, whose every page and sheet then carries
:data:`~factlab.report.model.INTERNAL_MARK`. A suppressed value is shown as ".".

- HTML: one self-contained file: CSS inline, charts as inline SVG, no script, no link, no font
  or image to fetch (a Content-Security-Policy forbids any request); readable in print.
- Excel: one sheet per table; numbers are numbers, suppressed values the text ".".
- Markdown: the tables and notes for a quick read (charts only in HTML).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

from factlab.errors import ConfigError
from factlab.escape import markdown_text, plain_text
from factlab.io import atomic_path
from factlab.report.charts import heatmap, period_bars, single_bars, waterfall
from factlab.report.excel import write_excel
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
from factlab.report.model import INTERNAL_MARK, Report, ReportTable

__all__ = ["render_file", "render_html", "render_markdown"]


def _charts(table: ReportTable, grid: Grid) -> str | None:
    chart_id = f"chart-{table.id}"
    if table.chart == "periods":
        return period_bars(grid, chart_id)
    if table.chart == "heatmap":
        return heatmap(grid, chart_id)
    if table.chart == "bars":
        return single_bars(grid, chart_id, xlabel=grid.header[0], ylabel=grid.header[1])
    return None


def _chart_caption(table: ReportTable) -> str:
    captions = {
        "periods": f"{table.title}, per period",
        "heatmap": f"{table.title}: darker is more; grey cells are suppressed",
        "bars": table.title,
    }
    return captions.get(table.chart or "", table.title)


# --- Markdown ------------------------------------------------------------------------------------


def _md(text: object) -> str:
    # Every value, ours or from data, goes through the one escape: nothing it holds is syntax.
    return markdown_text(text)


def _md_table(grid: Grid) -> list[str]:
    align = ["---" if kind in ("label", "text") else "---:" for kind in grid.kinds]
    lines = [
        "| " + " | ".join(_md(name) for name in grid.header) + " |",
        "|" + "|".join(align) + "|",
    ]
    for index, row in enumerate(grid.rows):
        cells = [_md(cell_text(cell)) for cell in row]
        if index in grid.margin_rows:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    """The report as Markdown: banner, warnings, key figures, tables, corrections, provenance."""
    mark = [f"**{INTERNAL_MARK.upper()}**", ""] if report.internal else []
    status = (
        INTERNAL_MARK
        if report.internal
        else f"published under disclosure control (rules {report.rules.name})"
    )
    lines = [f"# {_md(report.title)}", "", *mark]
    meta = [f"Region: {report.region}"] if report.region else []
    meta += [f"Counted: {report.time_label}", f"Status: {status}"]
    lines += [" · ".join(_md(item) for item in meta), ""]
    lines += [f"> **Warning:** {_md(text)}" for text in report.warnings]
    if report.warnings:
        lines.append("")
    lines += ["## Key figures", "", *_md_table(figures_grid(report))]
    for table in report.tables:
        lines += [f"## {_md(table.title)}", ""]
        lines += _md_table(table_grid(table, internal=report.internal))
        lines += [*(_md(note) for note in table.notes), ""]
    if report.estimate is not None:
        lines += [f"## Corrections: {_md(report.estimate.title)}", ""]
        lines += _md_table(estimate_grid(report.estimate))
        lines += [
            f"- {_md(line.name)}: {_md(line.note)} Source: {_md(line.source)}."
            for line in report.estimate.lines
        ]
        lines.append("")
    if report.unseen is not None:
        lines += [f"## {_md(UNSEEN_TITLE)}", "", *_md_table(unseen_grid(report.unseen)), ""]
        lines += [_md(unseen_sentence(report.unseen)), "", "Assumptions:", ""]
        lines += [f"- {_md(item)}" for item in report.unseen.assumptions]
        lines.append("")
    lines += ["## How to read these numbers", "", *(f"- {_md(note)}" for note in report.notes), ""]
    lines += ["## Provenance", ""]
    for heading, entries in report.provenance:
        lines += [f"### {_md(heading)}", "", *(f"- {_md(k)}: {_md(v)}" for k, v in entries), ""]
    lines += [*mark]
    return "\n".join(lines).rstrip("\n") + "\n"


# --- HTML ----------------------------------------------------------------------------------------

_CSS: Final = """
:root { --ink: #1b1b1b; --muted: #5a5a5a; --line: #d0d7de; --accent: #1f5f8b; --warn: #8a1c1c; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: var(--ink); max-width: 62rem; margin: 0 auto; padding: 1.5rem;
  line-height: 1.45; }
body.internal { padding-top: 3rem; }
h1 { margin: 0 0 .3rem; font-size: 1.7rem; }
h2 { margin-top: 2.2rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem;
  font-size: 1.25rem; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
.meta { color: var(--muted); margin: 0; }
.status { display: inline-block; margin: .6rem 0; padding: .15rem .6rem; border-radius: 1rem;
  background: #e8f1f8; color: var(--accent); font-weight: 600; font-size: .9rem; }
.warning { border-left: .35rem solid var(--warn); background: #fbeaea; padding: .6rem 1rem;
  margin: 1rem 0; font-weight: 600; }
.internal-mark { position: fixed; top: 0; left: 0; right: 0; z-index: 10; background: var(--warn);
  color: #fff; text-align: center; font-weight: 700; letter-spacing: .06em;
  text-transform: uppercase; padding: .35rem; }
nav ol { columns: 2; padding-left: 1.2rem; }
table { border-collapse: collapse; margin: .6rem 0 .4rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .65rem; text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
td.n, th.n { text-align: right; white-space: nowrap; }
#table-corrections td:last-child { white-space: nowrap; }
td.s { color: var(--muted); }
tr.margin th, tr.margin td { font-weight: 700; background: #f5f7f9; }
.note { color: var(--muted); font-size: .92rem; margin: .2rem 0; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: .88rem; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .85rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  body.internal { padding-top: 2rem; }
  nav { display: none; }
  h2 { break-after: avoid-page; }
  table, figure, .warning { break-inside: avoid-page; }
  .internal-mark { position: fixed; top: 0; }
  tr.margin th, tr.margin td { background: none; }
  a { color: inherit; text-decoration: none; }
  @page { margin: 14mm 12mm; }
}
"""
# No request may leave the page: only inline styles and data: images are allowed.
_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _esc(text: object) -> str:
    return html.escape(plain_text(text), quote=True)


def _html_table(grid: Grid, table_id: str) -> str:
    head = "".join(
        f'<th scope="col" class="{"n" if kind in ("count", "percent") else "t"}">{_esc(name)}</th>'
        for kind, name in zip(grid.kinds, grid.header, strict=True)
    )
    body = []
    for index, row in enumerate(grid.rows):
        cells = [f'<th scope="row">{_esc(cell_text(row[0]))}</th>']
        for kind, cell in zip(grid.kinds[1:], row[1:], strict=True):
            classes = "n" if kind in ("count", "percent") else "t"
            if cell is None:
                cells.append(f'<td class="{classes} s" title="suppressed">{SUPPRESSED}</td>')
            else:
                cells.append(f'<td class="{classes}">{_esc(cell_text(cell))}</td>')
        margin = ' class="margin"' if index in grid.margin_rows else ""
        body.append(f"<tr{margin}>{''.join(cells)}</tr>")
    return (
        f'<table id="table-{_esc(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _figure(svg: str, chart_id: str, caption: str) -> str:
    return (
        f'<figure id="{_esc(chart_id)}">{svg}'
        f'<figcaption id="{_esc(chart_id)}-caption">{_esc(caption)}</figcaption></figure>'
    )


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (no request to any network)."""
    parts: list[str] = []
    nav: list[tuple[str, str]] = [("key-figures", "Key figures")]
    parts.append(
        '<section id="key-figures"><h2>Key figures</h2>'
        + _html_table(figures_grid(report), "key-figures")
        + "</section>"
    )
    for table in report.tables:
        grid = table_grid(table, internal=report.internal)
        svg = _charts(table, grid)
        chart = _figure(svg, f"chart-{table.id}", _chart_caption(table)) if svg else ""
        notes = "".join(f'<p class="note">{_esc(note)}</p>' for note in table.notes)
        parts.append(
            f'<section id="{_esc(table.id)}"><h2>{_esc(table.title)}</h2>{chart}'
            f"{_html_table(grid, table.id)}{notes}</section>"
        )
        nav.append((table.id, table.title))
    if report.estimate is not None:
        view = report.estimate
        chart = _figure(
            waterfall(view, "chart-corrections"),
            "chart-corrections",
            "From the counted total through each correction to the estimate",
        )
        sources = "".join(
            f"<li><strong>{_esc(line.name)}</strong>: {_esc(line.note)} "
            f"<em>Source: {_esc(line.source)}.</em></li>"
            for line in view.lines
        )
        parts.append(
            f'<section id="corrections"><h2>Corrections: {_esc(view.title)}</h2>{chart}'
            f'{_html_table(estimate_grid(view), "corrections")}<ul class="note">{sources}</ul>'
            "</section>"
        )
        nav.append(("corrections", "Corrections"))
    if report.unseen is not None:
        assumptions = "".join(f"<li>{_esc(item)}</li>" for item in report.unseen.assumptions)
        parts.append(
            f'<section id="capture-recapture"><h2>{_esc(UNSEEN_TITLE)}</h2>'
            f"{_html_table(unseen_grid(report.unseen), 'capture-recapture')}"
            f'<p class="note">{_esc(unseen_sentence(report.unseen))}</p>'
            f'<p class="note">Assumptions:</p><ul class="note">{assumptions}</ul></section>'
        )
        nav.append(("capture-recapture", "Capture–recapture"))
    notes = "".join(f"<li>{_esc(note)}</li>" for note in report.notes)
    parts.append(
        f'<section id="notes"><h2>How to read these numbers</h2><ul>{notes}</ul></section>'
    )
    provenance = "".join(
        f"<h3>{_esc(heading)}</h3><dl>"
        + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in entries)
        + "</dl>"
        for heading, entries in report.provenance
    )
    parts.append(f'<section id="provenance"><h2>Provenance</h2>{provenance}</section>')
    nav += [("notes", "How to read these numbers"), ("provenance", "Provenance")]

    status = (
        INTERNAL_MARK
        if report.internal
        else f"Published under disclosure control (rules {report.rules.name})"
    )
    meta = [f"Region: {report.region}"] if report.region else []
    meta += [f"Counted: {report.time_label}", f"Generated: {report.generated}"]
    mark = f'<div class="internal-mark" id="internal-mark">{_esc(INTERNAL_MARK)}</div>'
    warnings = "".join(
        f'<p class="warning" role="alert">{_esc(text)}</p>' for text in report.warnings
    )
    contents = "".join(f'<li><a href="#{_esc(i)}">{_esc(t)}</a></li>' for i, t in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="factlab">'
        f"<title>{_esc(report.title)}</title><style>{_CSS}</style></head>"
        f'<body class="{"internal" if report.internal else "public"}">'
        f"{mark if report.internal else ''}"
        f'<header><h1>{_esc(report.title)}</h1><p class="meta">{_esc(" · ".join(meta))}</p>'
        f'<p class="status" id="status">{_esc(status)}</p>{warnings}</header>'
        f"<nav><ol>{contents}</ol></nav><main>{''.join(parts)}</main>"
        f"<footer>{_esc(status)} · factlab · {_esc(report.generated)}</footer></body></html>\n"
    )


# --- files ---------------------------------------------------------------------------------------


def render_file(report: Report, path: Path) -> Path:
    """Write ``report`` to ``path`` atomically in the format of its extension.

    Raises:
        ConfigError: the extension is not .html, .xlsx or .md.
        InputError: the output folder does not exist.
    """
    suffix = path.suffix.lower()
    if suffix not in (".html", ".xlsx", ".md"):
        raise ConfigError("out", [f"out: {path.name}: expected a .html, .xlsx or .md file"])
    with atomic_path(path) as temporary:
        if suffix == ".xlsx":
            write_excel(report, temporary)
        else:
            text = render_html(report) if suffix == ".html" else render_markdown(report)
            temporary.write_text(text, encoding="utf-8")
    return path
