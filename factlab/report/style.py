"""The look of an HTML report: its style sheet for screen, phone and paper.

Kept apart from :mod:`factlab.report.render` (which writes the page) because it is long and
changes for other reasons. What it provides:

- Screen: a readable column; every table in its own horizontally scrolling box with a sticky
  first column, so a wide table never widens the page; headers wrap; numbers right-aligned in
  tabular figures. At phone width (390 px) the page does not scroll sideways.
- Paper (:func:`page_rules`): A4, with the title and the publication date at the top of every
  page, the "Verklaring van tekens" and "page n of N" at the bottom, drawn in the page margins
  by CSS ``@page`` margin boxes (Chromium draws them since version 131), so no running banner
  can cover the content. An internal report says so at the top of every page too.

Every text put into the style sheet goes through :func:`css_string`, which writes each character
that is not a letter, digit or space as a CSS escape: nothing from a title or a label can end the
string, the rule or the ``<style>`` element.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CSS", "css_string", "page_rules"]

CSS: Final = """
:root { --ink: #1b1b1b; --muted: #595959; --line: #d0d7de; --accent: #1f5f8b; --warn: #8a1c1c;
  --paper: #ffffff; --band: #f3f5f7; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: var(--ink); background: var(--paper); max-width: 62rem; margin: 0 auto;
  padding: 0 1.5rem 1.5rem; line-height: 1.45; overflow-wrap: break-word; }
header { padding-top: 1.5rem; }
h1 { margin: 0 0 .3rem; font-size: 1.7rem; line-height: 1.2; }
h2 { margin-top: 2.2rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem;
  font-size: 1.25rem; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
section { scroll-margin-top: 3rem; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
.meta { color: var(--muted); margin: 0; }
.status { display: inline-block; margin: .6rem 0; padding: .15rem .6rem; border-radius: 1rem;
  background: #e8f1f8; color: var(--accent); font-weight: 600; font-size: .9rem; }
.warning { border-left: .35rem solid var(--warn); background: #fbeaea; padding: .6rem 1rem;
  margin: 1rem 0; font-weight: 600; }
.guide { border-left: .35rem solid var(--accent); background: var(--band); padding: .6rem 1rem;
  margin: 1rem 0; }
.internal-mark { position: sticky; top: 0; z-index: 10; margin: 0 -1.5rem; background: var(--warn);
  color: #fff; text-align: center; font-weight: 700; letter-spacing: .06em;
  text-transform: uppercase; padding: .35rem; }
nav ol { columns: 2; padding-left: 1.2rem; }
.legend { font-size: .9rem; margin: 1rem 0; }
.legend h2 { font-size: 1rem; margin: 0 0 .2rem; border: 0; padding: 0; }
.legend ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap;
  gap: .1rem 1.4rem; }
/* Positioned, so that the visually hidden text in its cells is laid out (and clipped) in it. */
.table-scroll { position: relative; overflow-x: auto; max-width: 100%;
  margin: .6rem 0 .4rem; }
.table-scroll:focus-visible, .chart-scroll:focus-visible { outline: 2px solid var(--accent);
  outline-offset: 2px; }
table { border-collapse: separate; border-spacing: 0; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 .35rem; }
/* A caption is as wide as its table: its text stays in view and wraps at the box's edge. */
caption .caption-text { display: block; position: sticky; left: 0;
  min-width: min(calc(100vw - 1.5rem), 26rem); max-width: min(calc(100vw - 1.5rem), 59rem); }
caption .number { color: var(--muted); margin-right: .4rem; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .65rem; text-align: left;
  vertical-align: top; background: var(--paper); }
thead th { border-bottom: 2px solid var(--ink); vertical-align: bottom; white-space: normal;
  min-width: 5.5rem; max-width: 11rem; hyphens: auto; overflow-wrap: break-word; }
thead th:first-child, tbody th[scope="row"] { position: sticky; left: 0; z-index: 1;
  box-shadow: inset -1px 0 0 var(--line); }
/* Labels wrap between words, never inside one ("Jeugdbescherming / jeugdreclassering"). */
tbody th[scope="row"] { font-weight: 400; min-width: 8rem; max-width: 16rem;
  overflow-wrap: normal; }
td.n, th.n { text-align: right; }
td.n { white-space: nowrap; }
td.t { min-width: 7rem; }
td.s { color: var(--muted); }
abbr[title] { text-decoration: none; cursor: help; }
tr.margin th, tr.margin td { font-weight: 700; background: var(--band); }
.note, .source { color: var(--muted); font-size: .92rem; margin: .2rem 0; }
figure { margin: 1rem 0; }
.chart-scroll { overflow-x: auto; max-width: 100%; }
figure svg { display: block; }
figcaption { color: var(--muted); font-size: .9rem; }
dl { display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr);
  gap: .15rem 1rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: .88rem; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .85rem; border-top: 1px solid
  var(--line); padding-top: .6rem; }
footer p { margin: .2rem 0; }
@media (max-width: 40rem) {
  body { padding: 0 .75rem 1rem; }
  header { padding-top: 1rem; }
  .internal-mark { margin: 0 -.75rem; }
  h1 { font-size: 1.35rem; }
  h2 { font-size: 1.12rem; }
  nav ol { columns: 1; }
  dl { grid-template-columns: minmax(0, 1fr); }
  dd { margin-bottom: .3rem; }
  th, td { padding: .25rem .45rem; }
  tbody th[scope="row"] { min-width: 6.5rem; max-width: 11rem; }
  thead th { min-width: 4.5rem; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  header { padding-top: 0; }
  nav, .legend { display: none; }
  .internal-mark { position: static; margin: 0 0 .5rem; }
  h2 { break-after: avoid-page; margin-top: 1.4rem; }
  table, figure, .warning, .guide { break-inside: avoid-page; }
  .table-scroll, .chart-scroll { overflow: visible; }
  thead th:first-child, tbody th[scope="row"] { position: static; box-shadow: none; }
  /* A page does not scroll: a wide table (eleven providers) must fit its width. */
  table { font-size: 8pt; }
  th, td { padding: .12rem .3rem; }
  thead th, tbody th[scope="row"], td.t { min-width: 0; }
  caption .caption-text { position: static; max-width: none; }
  thead { display: table-header-group; }
  figure svg { max-width: 100% !important; min-width: 0 !important; }
  tr.margin th, tr.margin td { background: none; }
  a { color: inherit; text-decoration: none; }
}
"""


def css_string(text: str) -> str:
    """``text`` as a quoted CSS string: every character but letters, digits and spaces escaped.

    Example:
        >>> css_string('Jeugd "2025" </style>')
        '"Jeugd \\\\000022 2025\\\\000022  \\\\00003c \\\\00002f style\\\\00003e "'
    """
    # Six hex digits, then a space that CSS swallows: the escape can never run into the next
    # character, whatever it is.
    escaped = "".join(
        char if char.isalnum() or char == " " else f"\\{ord(char):06x} " for char in text
    )
    return f'"{escaped}"'


def page_rules(
    *, title: str, date: str, legend: str, page: str, of: str, internal_mark: str | None
) -> str:
    """The ``@page`` rules of the printed report: A4, its margin boxes and what they say.

    Example:
        >>> rules = page_rules(title="T", date="1 januari 2025", legend=". geheim",
        ...                    page="Pagina", of="van", internal_mark=None)
        >>> "size: A4" in rules and "counter(pages)" in rules
        True
    """
    small = "font-family: system-ui, Arial, sans-serif; font-size: 7.5pt; color: #595959;"
    mark = (
        f"@top-center {{ content: {css_string(internal_mark)}; font-family: system-ui, Arial, "
        "sans-serif; font-size: 8pt; font-weight: 700; color: #8a1c1c; }"
        if internal_mark
        else ""
    )
    return (
        "@page { size: A4; margin: 18mm 14mm 20mm; "
        f"@top-left {{ content: {css_string(title)}; {small} }} "
        f"{mark}"
        f"@top-right {{ content: {css_string(date)}; {small} }} "
        # The legend may take two lines; the page number keeps one, at the right.
        f"@bottom-left {{ content: {css_string(legend)}; width: 140mm; {small} }} "
        f"@bottom-right {{ content: {css_string(page)} ' ' counter(page) ' ' {css_string(of)} "
        f"' ' counter(pages); width: 40mm; text-align: right; white-space: nowrap; {small} }} }}"
    )
