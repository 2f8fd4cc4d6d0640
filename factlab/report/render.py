"""Rendering a report as HTML or Markdown (and, through :mod:`factlab.report.excel`, Excel).

Formatting only, no counting.

Every value comes from a table of the :class:`~factlab.report.model.Report`, each of which is
checked again here (:func:`~factlab.report.model.check_source`): a raw frame is refused, and exact
counts only render in an internal report, whose every page and sheet then carries
:data:`~factlab.report.model.INTERNAL_MARK`. A suppressed value is shown as ".".

Every fixed word comes from :func:`~factlab.report.page.page_words`, in the report's language.

- HTML: one self-contained file: CSS inline (:mod:`factlab.report.style`), charts as inline SVG,
  no script, no link, no font or image to fetch (a Content-Security-Policy forbids any request).
  ``<html lang>`` is the report's language; every table has a numbered caption and scrolls in
  its own box with a sticky first column; a suppressed cell is read out as "geheim" (or
  "secret"); the legend of symbols and the source are on the page, and printed on A4 with the
  title, date, legend and page numbers in the page margins.
- Excel (:mod:`factlab.report.excel`): one sheet per table; numbers are numbers, suppressed
  values the text "."; native charts, frozen headers, autofilters and print setup.
- Markdown: the tables and notes for a quick read (charts only in HTML).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

from factlab.errors import ConfigError
from factlab.escape import markdown_text, plain_text
from factlab.io import atomic_path
from factlab.report.charts import ChartText, heatmap, period_bars, single_bars, waterfall
from factlab.report.excel import write_excel
from factlab.report.grid import (
    SUPPRESSED,
    Grid,
    estimate_grid,
    figures_grid,
    table_grid,
    unseen_grid,
    unseen_sentence,
)
from factlab.report.model import Report, ReportTable
from factlab.report.page import Page, page_words
from factlab.report.style import CSS, page_rules

__all__ = ["render_file", "render_html", "render_markdown"]


# --- Markdown ------------------------------------------------------------------------------------


def _md(text: object) -> str:
    # Every value, ours or from data, goes through the one escape: nothing it holds is syntax.
    return markdown_text(text)


def _md_table(grid: Grid, page: Page) -> list[str]:
    align = ["---" if kind in ("label", "text") else "---:" for kind in grid.kinds]
    lines = [
        "| " + " | ".join(_md(name) for name in grid.header) + " |",
        "|" + "|".join(align) + "|",
    ]
    for index, row in enumerate(grid.rows):
        cells = [_md(page.cell(grid, cell)) for cell in row]
        if index in grid.margin_rows:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    """The report as Markdown: banner, warnings, key figures, tables, corrections, provenance."""
    page = page_words(report)
    mark = [f"**{_md(page.internal_mark.upper())}**", ""] if report.internal else []
    lines = [f"# {_md(report.title)}", "", *mark]
    lines += [" · ".join(_md(item) for item in [*page.meta, page.status] if item), ""]
    warning = page.word("warning")
    lines += [f"> **{_md(warning)}:** {_md(text)}" for text in report.warnings]
    if report.warnings:
        lines.append("")
    if page.guide:
        lines += [_md(page.guide), ""]
    lines += [f"## {_md(page.word('key_figures'))}", ""]
    lines += _md_table(figures_grid(report), page)
    for table in report.tables:
        lines += [f"## {_md(table.title)}", ""]
        lines += _md_table(table_grid(table, internal=report.internal), page)
        lines += [*(_md(note) for note in table.notes), ""]
    if report.estimate is not None:
        title = page.word("corrections_title", title=report.estimate.title)
        lines += [f"## {_md(title)}", ""]
        lines += _md_table(estimate_grid(report.estimate), page)
        for line in report.estimate.lines:
            source = page.source_of(line.source)
            lines.append(f"- {_md(line.label or line.name)}: {_md(line.note)} {_md(source)}")
        lines.append("")
    if report.unseen is not None:
        lines += [f"## {_md(page.word('unseen_title'))}", ""]
        lines += [*_md_table(unseen_grid(report.unseen), page), ""]
        lines += [_md(unseen_sentence(report.unseen)), "", f"{_md(page.word('assumptions'))}:", ""]
        lines += [f"- {_md(item)}" for item in report.unseen.assumptions]
        lines.append("")
    lines += [f"## {_md(page.word('how_to_read'))}", ""]
    lines += [*(f"- {_md(note)}" for note in report.notes), ""]
    lines += [f"## {_md(page.word('legend_title'))}", ""]
    lines += [*(f"- {_md(line)}" for line in page.legend), ""]
    lines += [_md(line) for line in (page.source, page.published) if line]
    lines += ["", f"## {_md(page.word('provenance'))}", ""]
    for heading, entries in report.provenance:
        lines += [f"### {_md(heading)}", "", *(f"- {_md(k)}: {_md(v)}" for k, v in entries), ""]
    lines += [*mark]
    return "\n".join(lines).rstrip("\n") + "\n"


# --- HTML ----------------------------------------------------------------------------------------

# No request may leave the page: only inline styles and data: images are allowed.
_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _esc(text: object) -> str:
    return html.escape(plain_text(text), quote=True)


def _symbol(text: str, meaning: str) -> str:
    """A symbol cell: the symbol for the eye, its meaning for a screen reader and on hover."""
    return (
        f'<abbr title="{_esc(meaning)}"><span aria-hidden="true">{_esc(text)}</span>'
        f'<span class="sr-only">{_esc(meaning)}</span></abbr>'
    )


def _html_table(grid: Grid, table_id: str, caption: str, number: int, page: Page) -> str:
    """A table in its own scrolling box, with a numbered caption and symbols spoken."""
    ident = _esc(f"table-{table_id}")
    head = "".join(
        f'<th scope="col" class="{"n" if kind in ("count", "percent") else "t"}">{_esc(name)}</th>'
        for kind, name in zip(grid.kinds, grid.header, strict=True)
    )
    body = []
    for index, row in enumerate(grid.rows):
        cells = [f'<th scope="row">{_esc(page.cell(grid, row[0]))}</th>']
        for kind, cell in zip(grid.kinds[1:], row[1:], strict=True):
            classes = "n" if kind in ("count", "percent") else "t"
            shown = page.cell(grid, cell)
            meaning = page.symbols.get(shown) if kind != "text" else None
            if cell is None or meaning is not None:
                said = meaning or page.symbols[SUPPRESSED]
                cells.append(f'<td class="{classes} s">{_symbol(shown, said)}</td>')
            else:
                cells.append(f'<td class="{classes}">{_esc(shown)}</td>')
        margin = ' class="margin"' if index in grid.margin_rows else ""
        body.append(f"<tr{margin}>{''.join(cells)}</tr>")
    label = page.word("table_n", n=number)
    return (
        f'<div class="table-scroll" role="region" tabindex="0" aria-labelledby="{ident}-caption">'
        f'<table id="{ident}"><caption id="{ident}-caption"><span class="caption-text">'
        f'<span class="number">{_esc(label)}</span>{_esc(caption)}</span></caption>'
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _figure(svg: str, chart_id: str, caption: str) -> str:
    ident = _esc(chart_id)
    return (
        f'<figure id="{ident}"><div class="chart-scroll" tabindex="0" role="group" '
        f'aria-labelledby="{ident}-caption">{svg}</div>'
        f'<figcaption id="{ident}-caption">{_esc(caption)}</figcaption></figure>'
    )


def _chart(table: ReportTable, grid: Grid, page: Page, number: int) -> str:
    """The table's chart as a figure (or nothing), its words in the report's language."""
    if table.chart is None:
        return ""
    chart_id = f"chart-{table.id}"
    words = ChartText(table.title, page.word("chart_desc", n=number), number=page.number)
    if table.chart == "periods":
        svg = period_bars(grid, chart_id, ylabel=page.word("chart_unique_clients"), text=words)
        caption = page.word("chart_caption_periods", title=table.title)
    elif table.chart == "heatmap":
        svg = heatmap(grid, chart_id, text=words)
        caption = page.word("chart_caption_heatmap", title=table.title)
    elif table.chart == "bars":
        svg = single_bars(grid, chart_id, xlabel=grid.header[0], ylabel=grid.header[1], text=words)
        caption = page.word("chart_caption_bars", title=table.title)
    elif table.chart == "lines":
        from factlab.report.monitor_charts import period_lines

        ylabel = table.layout.value_title or page.word("chart_unique_clients")
        svg = period_lines(grid, chart_id, ylabel=ylabel, text=words)
        caption = page.word("chart_caption_bars", title=table.title)  # the title says "per period"
    else:
        return ""
    return _figure(svg, chart_id, caption)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (no request to any network).

    The page is in the report's language (``<html lang>``); every table has a numbered caption
    and scrolls in its own box; suppressed and structural cells are spoken by their meaning;
    the legend of symbols and the source are on the page, and on every printed page (A4, with
    title, date and page numbers in the margins; see :mod:`factlab.report.style`).
    """
    page = page_words(report)
    parts: list[str] = []
    number = 1
    nav: list[tuple[str, str]] = [("key-figures", page.word("key_figures"))]
    parts.append(
        f'<section id="key-figures"><h2>{_esc(page.word("key_figures"))}</h2>'
        + _html_table(figures_grid(report), "key-figures", page.word("key_figures"), number, page)
        + "</section>"
    )
    for table in report.tables:
        number += 1
        grid = table_grid(table, internal=report.internal)
        chart = _chart(table, grid, page, number)
        notes = "".join(f'<p class="note">{_esc(note)}</p>' for note in table.notes)
        caption = page.caption(table)
        parts.append(
            f'<section id="{_esc(table.id)}"><h2>{_esc(table.title)}</h2>{chart}'
            f"{_html_table(grid, table.id, caption, number, page)}{notes}"
            f'<p class="source">{_esc(page.source)}</p></section>'
        )
        nav.append((table.id, table.title))
    if report.estimate is not None:
        number += 1
        view = report.estimate
        title = page.word("corrections_title", title=view.title)
        words = ChartText(title, page.word("chart_desc", n=number), number=page.number)
        chart = _figure(
            waterfall(
                view,
                "chart-corrections",
                text=words,
                counted=page.word("chart_counted"),
                estimate=page.word("chart_estimate"),
                ylabel=page.word("chart_clients" if view.persons else "chart_registrations"),
            ),
            "chart-corrections",
            page.word("chart_caption_waterfall"),
        )
        sources = "".join(
            f"<li><strong>{_esc(line.label or line.name)}</strong>: {_esc(line.note)} "
            f"<em>{_esc(page.source_of(line.source))}</em></li>"
            for line in view.lines
        )
        parts.append(
            f'<section id="corrections"><h2>{_esc(title)}</h2>{chart}'
            f"{_html_table(estimate_grid(view), 'corrections', title, number, page)}"
            f'<ul class="note">{sources}</ul></section>'
        )
        nav.append(("corrections", page.word("corrections")))
    if report.unseen is not None:
        number += 1
        title = page.word("unseen_title")
        assumptions = "".join(f"<li>{_esc(item)}</li>" for item in report.unseen.assumptions)
        parts.append(
            f'<section id="capture-recapture"><h2>{_esc(title)}</h2>'
            f"{_html_table(unseen_grid(report.unseen), 'capture-recapture', title, number, page)}"
            f'<p class="note">{_esc(unseen_sentence(report.unseen))}</p>'
            f'<p class="note">{_esc(page.word("assumptions"))}:</p>'
            f'<ul class="note">{assumptions}</ul></section>'
        )
        nav.append(("capture-recapture", title))
    notes = "".join(f"<li>{_esc(note)}</li>" for note in report.notes)
    parts.append(
        f'<section id="notes"><h2>{_esc(page.word("how_to_read"))}</h2><ul>{notes}</ul></section>'
    )
    provenance = "".join(
        f"<h3>{_esc(heading)}</h3><dl>"
        + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in entries)
        + "</dl>"
        for heading, entries in report.provenance
    )
    parts.append(
        f'<section id="provenance"><h2>{_esc(page.word("provenance"))}</h2>{provenance}</section>'
    )
    nav += [("notes", page.word("how_to_read")), ("provenance", page.word("provenance"))]

    mark = f'<div class="internal-mark" id="internal-mark">{_esc(page.internal_mark)}</div>'
    warnings = "".join(
        f'<p class="warning" role="alert">{_esc(text)}</p>' for text in report.warnings
    )
    guide = f'<p class="guide">{_esc(page.guide)}</p>' if page.guide else ""
    legend_items = "".join(f"<li>{_esc(line)}</li>" for line in page.legend)
    legend = (
        f'<aside class="legend" id="legend" aria-labelledby="legend-title">'
        f'<h2 id="legend-title">{_esc(page.word("legend_title"))}</h2>'
        f"<ul>{legend_items}</ul></aside>"
    )
    contents = "".join(f'<li><a href="#{_esc(i)}">{_esc(t)}</a></li>' for i, t in nav)
    footer = [
        f"{page.word('legend_title')}: {' · '.join(page.legend)}",
        page.source,
        " · ".join([page.status, *([page.contact] if page.contact else []), page.published]),
    ]
    print_rules = page_rules(
        title=report.title,
        date=page.published,
        legend=" · ".join(page.legend),
        page=page.word("page"),
        of=page.word("of"),
        internal_mark=page.internal_mark.upper() if report.internal else None,
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{_esc(page.language)}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="factlab">'
        f"<title>{_esc(report.title)}</title><style>{CSS}{print_rules}</style></head>"
        f'<body class="{"internal" if report.internal else "public"}">'
        f"{mark if report.internal else ''}"
        f'<header><h1>{_esc(report.title)}</h1><p class="meta">{_esc(" · ".join(page.meta))}</p>'
        f'<p class="status" id="status">{_esc(page.status)}</p>{warnings}{guide}{legend}'
        f'</header><nav aria-label="{_esc(page.word("contents"))}"><ol>{contents}</ol></nav>'
        f"<main>{''.join(parts)}</main>"
        f"<footer>{''.join(f'<p>{_esc(line)}</p>' for line in footer if line)}</footer>"
        "</body></html>\n"
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
