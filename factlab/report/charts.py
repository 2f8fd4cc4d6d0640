"""Charts of a report as inline SVG, drawn with matplotlib from the values a report publishes.

Every chart takes a :class:`Grid` (the laid-out values of a protected table, see
:mod:`factlab.report.render`) or an :class:`~factlab.report.model.EstimateView`, so a chart can
only show what the tables show: a suppressed value is drawn as a gap marked ".". The SVG is
deterministic (fixed hash salt, no date) and self-contained (no fonts, links or scripts), and its
ids are prefixed with the chart's id so that several charts can share a page.

Text is written as SVG text (``svg.fonttype = 'none'``), not as glyph outlines: a screen reader,
a search and a translation tool read it, and the browser draws it sharp at any size. Every text
is at least :data:`MIN_FONT` units high, and the SVG says (``min-width``) that it must not be
drawn narrower than one pixel per unit, so its text is never smaller than 11 px on screen; a
chart wider than a phone scrolls inside its figure. Each chart carries an accessible title and
description (``<title>``, ``<desc>``) that the renderer writes in the report's language.

No text is ever parsed: every chart is drawn with matplotlib's mathtext and TeX off
(``text.parse_math`` and ``text.usetex`` false, for each text artist too), so a label such as
``$\\frac{1}{0}$`` is drawn as written, and each label passes
:func:`factlab.escape.plain_text` (no control or bidirectional-control character).
"""

from __future__ import annotations

import functools
import html
import io
import re
from collections.abc import Callable, Sequence
from typing import Final, ParamSpec

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.text import Text

from factlab.escape import plain_text
from factlab.report.grid import Grid
from factlab.report.model import EstimateView

__all__ = ["MIN_FONT", "ChartText", "heatmap", "period_bars", "single_bars", "waterfall"]


_PALETTE: Final = ("#1f5f8b", "#e07b39", "#4c9a6a", "#b8485a", "#7d6aa8", "#8c6d46", "#5aa0c8")
_SUPPRESSED: Final = "."
#: The smallest text of any chart, in SVG units (drawn at one pixel per unit or more).
MIN_FONT: Final = 11.0
_WIDTH: Final = 4.6  # inches at 72 units each: with its labels a chart is about 350 units wide
_HEIGHT: Final = 3.2
_DIAGONAL: Final = "#eef1f4"
_P = ParamSpec("_P")

#: How a chart writes a number (the renderer passes the report language's formatter).
NumberFormat = Callable[[float], str]


def _plain_number(value: float) -> str:
    return f"{value:,.0f}"


class ChartText:
    """The words of a chart the renderer supplies in the report's language.

    Attributes:
        title: the chart's accessible name (``<title>``).
        description: what it shows and where its numbers are (``<desc>``).
        number: formats a value drawn on the chart.
    """

    __slots__ = ("description", "number", "title")

    def __init__(self, title: str, description: str = "", number: NumberFormat | None = None):
        self.title = title
        self.description = description
        self.number: NumberFormat = number or _plain_number


def _literal_text(draw: Callable[_P, str]) -> Callable[_P, str]:
    """Run a chart function with every text artist it makes drawn as written.

    A text artist reads ``text.parse_math`` when it is made, tick labels are made while the
    figure is drawn, so the whole function runs under these settings.
    """

    @functools.wraps(draw)
    def literal(*args: _P.args, **kwargs: _P.kwargs) -> str:
        # Text is drawn as written: no mathtext ("$...$"), no TeX; never smaller than MIN_FONT.
        with mpl.rc_context(
            {"text.parse_math": False, "text.usetex": False, "font.size": MIN_FONT}
        ):
            return draw(*args, **kwargs)

    return literal


def _labels(values: Sequence[object]) -> list[str]:
    return [plain_text(value) for value in values]


def _svg(figure: Figure, chart_id: str, text: ChartText | None) -> str:
    """The figure as an SVG element: no XML prolog, ids unique to this chart, title and desc."""
    buffer = io.StringIO()
    chart_id = html.escape(chart_id, quote=True)
    # Each artist made so far is set too, whatever the settings were when it was made.
    for artist in figure.findobj(Text):
        artist.set_parse_math(False)
        artist.set_usetex(False)
    with mpl.rc_context(
        {
            "svg.hashsalt": chart_id,
            "svg.fonttype": "none",
            "text.parse_math": False,
            "text.usetex": False,
        }
    ):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for name in sorted(ids, key=len, reverse=True):
        new = f"{chart_id}-{name}"
        svg = svg.replace(f'id="{name}"', f'id="{new}"')
        svg = svg.replace(f'href="#{name}"', f'href="#{new}"')
        svg = svg.replace(f"url(#{name})", f"url(#{new})")
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))  # type: ignore[union-attr]
    # One pixel per unit at least: text of MIN_FONT units is then at least 11 px on screen.
    style = f"max-width: 100%; min-width: {width:.0f}px; height: auto"
    if text is None or not text.title:
        # No name to give it: the figure's caption and the table beside it speak for it.
        return svg.replace("<svg ", f'<svg aria-hidden="true" style="{style}" ', 1)
    title = html.escape(plain_text(text.title), quote=False)
    description = html.escape(plain_text(text.description), quote=False)
    opening = (
        f'<svg role="img" aria-labelledby="{chart_id}-title" '
        f'aria-describedby="{chart_id}-desc" style="{style}" '
    )
    svg = svg.replace("<svg ", opening, 1)
    head_end = svg.index(">") + 1
    labels = (
        f'<title id="{chart_id}-title">{title}</title>'
        f'<desc id="{chart_id}-desc">{description}</desc>'
    )
    return svg[:head_end] + labels + svg[head_end:]


def _figure(width: float = _WIDTH, height: float = _HEIGHT) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=72)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


def _tick_labels(axes: Axes, positions: Sequence[float], labels: Sequence[str]) -> None:
    """Category labels under the bars, slanted when they would not fit side by side."""
    # About 6.5 units per character at MIN_FONT; the plot is about 280 units wide.
    crowded = sum(len(label) + 2 for label in labels) * 6.5 > 280
    if crowded:
        axes.set_xticks(list(positions), list(labels), rotation=30, ha="right")
    else:
        axes.set_xticks(list(positions), list(labels))


def _mark_suppressed(axes: Axes, x: float) -> None:
    axes.annotate(
        _SUPPRESSED,
        (x, 0),
        xytext=(0, 2),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=MIN_FONT + 3,
        color="#555555",
    )


def _bars(
    axes: Axes,
    positions: Sequence[float],
    values: Sequence[float | None],
    width: float,
    colour: str,
    number: NumberFormat,
    label: str | None = None,
    annotate: bool = True,
) -> None:
    heights = [value or 0.0 for value in values]
    bars = axes.bar(positions, heights, width=width, color=colour, label=label)
    for bar, value in zip(bars, values, strict=True):
        if value is None:
            _mark_suppressed(axes, bar.get_x() + bar.get_width() / 2)
        elif annotate:
            axes.annotate(
                number(value),
                (bar.get_x() + bar.get_width() / 2, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=MIN_FONT,
            )


@_literal_text
def period_bars(
    grid: Grid, chart_id: str, *, ylabel: str = "unique clients", text: ChartText | None = None
) -> str:
    """Grouped bars: one group per column (period), one bar per row value (e.g. financing).

    Values are written on the bars while there is room for them (up to eight bars); beyond
    that the table beside the chart gives them.

    Example:
        >>> grid = Grid(("financing", "2025H1", "2025"), (("PGB", 10, None), ("ZIN", 60, 80)),
        ...             ("label", "count", "count"))
        >>> period_bars(grid, "demo").startswith("<svg")
        True
    """
    number = (text or ChartText("")).number
    series, groups, values = grid.body()
    series, groups = _labels(series), _labels(groups)
    figure, axes = _figure()
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups), dtype=float)
    annotate = len(series) * len(groups) <= 8
    for index, name in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * width
        colour = _PALETTE[index % len(_PALETTE)]
        _bars(axes, list(x + offset), values[index], width, colour, number, name, annotate)
    _tick_labels(axes, list(x), groups)
    axes.set_ylabel(plain_text(ylabel))
    axes.yaxis.set_major_formatter(lambda value, _: number(value))
    # Above the plot, not beside it: the chart keeps its width on a phone.
    axes.legend(
        frameon=False,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02),
        ncols=min(len(series), 3) or 1,
        fontsize=MIN_FONT,
    )
    return _svg(figure, chart_id, text)


@_literal_text
def single_bars(
    grid: Grid, chart_id: str, *, xlabel: str, ylabel: str, text: ChartText | None = None
) -> str:
    """One bar per row of a one-column table (e.g. clients by number of providers).

    Example:
        >>> grid = Grid(("providers", "clients"), (("1", 90), ("2", None)), ("label", "count"))
        >>> "<text" in single_bars(grid, "demo", xlabel="providers", ylabel="clients")
        True
    """
    number = (text or ChartText("")).number
    labels, _, values = grid.body()
    labels = _labels(labels)
    figure, axes = _figure()
    x = list(range(len(labels)))
    _bars(axes, x, [row[0] if row else None for row in values], 0.6, _PALETTE[0], number)
    _tick_labels(axes, x, labels)
    axes.set_xlabel(plain_text(xlabel))
    axes.set_ylabel(plain_text(ylabel))
    axes.yaxis.set_major_formatter(lambda value, _: number(value))
    return _svg(figure, chart_id, text)


@_literal_text
def heatmap(grid: Grid, chart_id: str, *, text: ChartText | None = None) -> str:
    """A matrix as coloured cells with their values; suppressed cells grey with ".".

    Where a row and a column have the same label (a provider with itself: its own clients),
    the cell is not coloured: the diagonal holds totals, often ten times the shared counts, and
    would leave every other cell pale. The other cells are coloured on their own scale, from 0
    to the largest of them.

    Example:
        >>> grid = Grid(("provider", "A", "B"), (("A", 40, None), ("B", None, 50)),
        ...             ("label", "count", "count"))
        >>> heatmap(grid, "demo").count("<svg")
        1
    """
    number = (text or ChartText("")).number
    rows, columns, values = grid.body()
    rows, columns = _labels(rows), _labels(columns)
    matrix = np.array(
        [[np.nan if value is None else value for value in row] for row in values], dtype=float
    ).reshape(len(rows), len(columns))
    diagonal = np.array([[row == column for column in columns] for row in rows], dtype=bool)
    diagonal = diagonal.reshape(matrix.shape)
    shared = np.where(diagonal, np.nan, matrix)
    peak = float(np.nanmax(shared)) if np.isfinite(shared).any() else 1.0
    longest = max((len(label) for label in [*rows, *columns]), default=1)
    # Room for a number of MIN_FONT in each cell, and for the labels beside and above.
    cell = 0.62
    width = 0.2 + 0.09 * longest + cell * max(len(columns), 1)
    height = 0.2 + 0.09 * longest + cell * max(len(rows), 1)
    figure = Figure(figsize=(width, height), dpi=72)
    axes = figure.add_subplot()
    colours = mpl.colormaps["Blues"].with_extremes(bad="#d9d9d9")
    scale = Normalize(vmin=0, vmax=peak or 1.0)
    # Vector cells (not an embedded raster image), with the values written in them; the
    # diagonal a flat pale colour, the suppressed cells grey.
    axes.pcolormesh(
        np.ma.masked_invalid(np.where(diagonal, np.nan, matrix)),
        cmap=colours,
        norm=scale,
        edgecolors="white",
        linewidth=1,
    )
    own = np.ma.masked_where(~diagonal, np.zeros(matrix.shape))
    axes.pcolormesh(
        own, cmap=mpl.colors.ListedColormap([_DIAGONAL]), edgecolors="white", linewidth=1
    )
    axes.set_xlim(0, len(columns))
    axes.set_ylim(len(rows), 0)
    for (r, c), value in np.ndenumerate(matrix):
        label = _SUPPRESSED if np.isnan(value) else number(value)
        dark = not np.isnan(value) and not diagonal[r, c] and value > peak * 0.55
        axes.text(
            c + 0.5,
            r + 0.5,
            label,
            ha="center",
            va="center",
            fontsize=MIN_FONT,
            fontweight="bold" if diagonal[r, c] else "normal",
            color="white" if dark else "black",
        )
    axes.set_xticks([c + 0.5 for c in range(len(columns))], columns, rotation=90)
    axes.set_yticks([r + 0.5 for r in range(len(rows))], rows)
    axes.xaxis.tick_top()
    axes.tick_params(length=0)
    axes.set_aspect("equal")
    for spine in axes.spines.values():
        spine.set_visible(False)
    return _svg(figure, chart_id, text)


@_literal_text
def waterfall(
    view: EstimateView,
    chart_id: str,
    *,
    text: ChartText | None = None,
    counted: str = "counted",
    estimate: str = "estimate",
    ylabel: str | None = None,
) -> str:
    """From the counted total through each adjustment to the estimate.

    Adjustments that are not shown on their own are drawn together as one step marked ".";
    the estimate is then marked "." as well (the view hides it: the total minus the shown
    steps would give the hidden ones back).
    """
    number = (text or ChartText("")).number
    steps: list[tuple[str, float | None]] = [(plain_text(counted), view.counted)]
    shown = [line for line in view.lines if line.value is not None]
    steps += [
        (plain_text(line.label or line.name.replace("_", " ")), float(line.value or 0))
        for line in shown
    ]
    if len(shown) < len(view.lines):
        # Never their size: the view then hides the total too, and the estimate bar with it.
        steps.append((_SUPPRESSED, None))
    figure, axes = _figure()
    level = 0.0
    for index, (label, value) in enumerate(steps):
        if value is None:
            _mark_suppressed(axes, index)
            continue
        bottom = 0.0 if index == 0 else level
        colour = _PALETTE[0] if index == 0 else _PALETTE[1] if value >= 0 else _PALETTE[3]
        axes.bar(
            [index],
            [value],
            bottom=[bottom],
            width=0.6,
            color=colour,
            hatch="//" if label == _SUPPRESSED else None,
        )
        level = bottom + value
        sign = "" if index == 0 else "+" if value >= 0 else "−"
        shown_text = _SUPPRESSED if label == _SUPPRESSED else f"{sign}{number(abs(value))}"
        axes.annotate(
            shown_text,
            (index, max(level, bottom)),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=MIN_FONT,
        )
    final = len(steps)
    if view.total is not None:
        axes.bar([final], [view.total], width=0.6, color=_PALETTE[2])
        top = float(view.total)
        if view.low is not None and view.high is not None:
            axes.errorbar(
                [final],
                [view.total],
                yerr=[[view.total - view.low], [view.high - view.total]],
                color="black",
                capsize=4,
                linewidth=1,
            )
            top = max(top, float(view.high))
        axes.annotate(
            number(view.total),
            (final, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=MIN_FONT,
        )
    else:
        _mark_suppressed(axes, final)
    axes.set_xticks(
        range(final + 1),
        [label for label, _ in steps] + [plain_text(estimate)],
        rotation=30,
        ha="right",
    )
    axes.yaxis.set_major_formatter(lambda value, _: number(value))
    default = "clients" if view.persons else "cell registrations"
    axes.set_ylabel(plain_text(ylabel if ylabel is not None else default))
    return _svg(figure, chart_id, text)
