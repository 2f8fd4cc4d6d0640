"""Charts of a report as inline SVG, drawn with matplotlib from the values a report publishes.

Every chart takes a :class:`Grid` (the laid-out values of a protected table, see
:mod:`factlab.report.render`) or an :class:`~factlab.report.model.EstimateView`, so a chart can
only show what the tables show: a suppressed value is drawn as a gap marked ".". The SVG is
deterministic (fixed hash salt, no date) and self-contained (glyphs as paths, no fonts, links
or scripts), and its ids are prefixed with the chart's id so that several charts can share a page.

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
from matplotlib.figure import Figure
from matplotlib.text import Text

from factlab.escape import plain_text
from factlab.report.grid import Grid
from factlab.report.model import EstimateView

__all__ = ["heatmap", "period_bars", "single_bars", "waterfall"]


_PALETTE: Final = ("#1f5f8b", "#e07b39", "#4c9a6a", "#b8485a", "#7d6aa8", "#8c6d46", "#5aa0c8")
_SUPPRESSED: Final = "."
_WIDTH: Final = 7.0
_HEIGHT: Final = 3.6
_P = ParamSpec("_P")


def _literal_text(draw: Callable[_P, str]) -> Callable[_P, str]:
    """Run a chart function with every text artist it makes drawn as written.

    A text artist reads ``text.parse_math`` when it is made, tick labels are made while the
    figure is drawn, so the whole function runs under these settings.
    """

    @functools.wraps(draw)
    def literal(*args: _P.args, **kwargs: _P.kwargs) -> str:
        # Text is drawn as written: no mathtext ("$...$"), no TeX.
        with mpl.rc_context({"text.parse_math": False, "text.usetex": False}):
            return draw(*args, **kwargs)

    return literal


def _labels(values: Sequence[object]) -> list[str]:
    return [plain_text(value) for value in values]


def _svg(figure: Figure, chart_id: str) -> str:
    """The figure as an SVG element: no XML prolog, ids unique to this chart."""
    buffer = io.StringIO()
    chart_id = html.escape(chart_id, quote=True)
    # Each artist made so far is set too, whatever the settings were when it was made.
    for artist in figure.findobj(Text):
        artist.set_parse_math(False)
        artist.set_usetex(False)
    with mpl.rc_context(
        {
            "svg.hashsalt": chart_id,
            "svg.fonttype": "path",
            "text.parse_math": False,
            "text.usetex": False,
        }
    ):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    for name in sorted(ids, key=len, reverse=True):
        new = f"{chart_id}-{name}"
        text = text.replace(f'id="{name}"', f'id="{new}"')
        text = text.replace(f'href="#{name}"', f'href="#{new}"')
        text = text.replace(f"url(#{name})", f"url(#{new})")
    return text.replace("<svg ", f'<svg role="img" aria-labelledby="{chart_id}-caption" ', 1)


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(_WIDTH, _HEIGHT), dpi=72)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


def _mark_suppressed(axes: Axes, x: float, height: float) -> None:
    axes.annotate(
        _SUPPRESSED,
        (x, 0),
        xytext=(0, 2),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=12,
        color="#555555",
    )
    del height


def _bars(
    axes: Axes,
    positions: Sequence[float],
    values: Sequence[float | None],
    width: float,
    colour: str,
    label: str | None = None,
) -> None:
    heights = [value or 0.0 for value in values]
    bars = axes.bar(positions, heights, width=width, color=colour, label=label)
    for bar, value in zip(bars, values, strict=True):
        if value is None:
            _mark_suppressed(axes, bar.get_x() + bar.get_width() / 2, 0)
        else:
            axes.annotate(
                f"{value:,.0f}",
                (bar.get_x() + bar.get_width() / 2, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )


@_literal_text
def period_bars(grid: Grid, chart_id: str, *, ylabel: str = "unique clients") -> str:
    """Grouped bars: one group per column (period), one bar per row value (e.g. financing).

    Example:
        >>> grid = Grid(("financing", "2025H1", "2025"), (("PGB", 10, None), ("ZIN", 60, 80)),
        ...             ("label", "count", "count"))
        >>> period_bars(grid, "demo").startswith("<svg")
        True
    """
    series, groups, values = grid.body()
    series, groups = _labels(series), _labels(groups)
    figure, axes = _figure()
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups), dtype=float)
    for index, name in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * width
        colour = _PALETTE[index % len(_PALETTE)]
        _bars(axes, list(x + offset), values[index], width, colour, name)
    axes.set_xticks(x, groups)
    axes.set_ylabel(plain_text(ylabel))
    axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(figure, chart_id)


@_literal_text
def single_bars(grid: Grid, chart_id: str, *, xlabel: str, ylabel: str) -> str:
    """One bar per row of a one-column table (e.g. clients by number of providers).

    Example:
        >>> grid = Grid(("providers", "clients"), (("1", 90), ("2", None)), ("label", "count"))
        >>> "<path" in single_bars(grid, "demo", xlabel="providers", ylabel="clients")
        True
    """
    labels, _, values = grid.body()
    labels = _labels(labels)
    figure, axes = _figure()
    x = list(range(len(labels)))
    _bars(axes, x, [row[0] if row else None for row in values], 0.6, _PALETTE[0])
    axes.set_xticks(x, labels)
    axes.set_xlabel(plain_text(xlabel))
    axes.set_ylabel(plain_text(ylabel))
    return _svg(figure, chart_id)


@_literal_text
def heatmap(grid: Grid, chart_id: str) -> str:
    """A matrix as coloured cells with their values; suppressed cells grey with ".".

    Example:
        >>> grid = Grid(("provider", "A", "B"), (("A", 40, None), ("B", None, 50)),
        ...             ("label", "count", "count"))
        >>> heatmap(grid, "demo").count("<svg")
        1
    """
    rows, columns, values = grid.body()
    rows, columns = _labels(rows), _labels(columns)
    matrix = np.array(
        [[np.nan if value is None else value for value in row] for row in values], dtype=float
    )
    side = min(_WIDTH, 1.2 + 0.55 * max(len(columns), 1))
    figure = Figure(figsize=(side, side), dpi=72)
    axes = figure.add_subplot()
    colours = mpl.colormaps["Blues"].with_extremes(bad="#d9d9d9")
    # Vector cells (not an embedded raster image), with the values written in them.
    axes.pcolormesh(
        np.ma.masked_invalid(matrix), cmap=colours, vmin=0, edgecolors="white", linewidth=1
    )
    axes.set_xlim(0, len(columns))
    axes.set_ylim(len(rows), 0)
    peak = float(np.nanmax(matrix)) if np.isfinite(matrix).any() else 1.0
    for (r, c), value in np.ndenumerate(matrix):
        text = _SUPPRESSED if np.isnan(value) else f"{value:,.0f}"
        dark = not np.isnan(value) and value > peak * 0.6
        axes.text(
            c + 0.5,
            r + 0.5,
            text,
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )
    axes.set_xticks([c + 0.5 for c in range(len(columns))], columns)
    axes.set_yticks([r + 0.5 for r in range(len(rows))], rows)
    axes.xaxis.tick_top()
    axes.tick_params(length=0)
    axes.set_aspect("equal")
    for spine in axes.spines.values():
        spine.set_visible(False)
    return _svg(figure, chart_id)


@_literal_text
def waterfall(view: EstimateView, chart_id: str) -> str:
    """From the counted total through each adjustment to the estimate.

    Adjustments that are not shown on their own are drawn together as one step marked ".";
    their size follows from the published total anyway.
    """
    steps: list[tuple[str, float | None]] = [("counted", view.counted)]
    shown = [line for line in view.lines if line.value is not None]
    steps += [(plain_text(line.name.replace("_", " ")), float(line.value or 0)) for line in shown]
    hidden = len(shown) < len(view.lines)
    if hidden and view.total is not None and view.counted is not None:
        rest = view.total - view.counted - sum(line.value or 0 for line in shown)
        steps.append((_SUPPRESSED, float(rest)))
    figure, axes = _figure()
    level = 0.0
    for index, (label, value) in enumerate(steps):
        if value is None:
            _mark_suppressed(axes, index, 0)
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
        text = _SUPPRESSED if label == _SUPPRESSED else f"{sign}{abs(value):,.0f}"
        axes.annotate(
            text,
            (index, max(level, bottom)),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
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
            f"{view.total:,.0f}",
            (final, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    else:
        _mark_suppressed(axes, final, 0)
    axes.set_xticks(
        range(final + 1), [label for label, _ in steps] + ["estimate"], rotation=20, ha="right"
    )
    axes.set_ylabel("clients" if "person" in view.unit else "cell registrations")
    return _svg(figure, chart_id)
