"""Time-series line charts of a monitor report, as inline SVG in the manner of :mod:`.charts`.

A line chart draws a laid-out table whose rows are periods (the x axis, in table order) and
whose columns are the lines (figures, or values of a dimension). It reads the same
:class:`~factlab.report.grid.Grid` as the table beside it, so it shows only published values: a
suppressed value is a gap in its line, marked "." on the axis. Text is SVG text, at least
:data:`~factlab.report.charts.MIN_FONT` units high, never parsed as mathtext
(:func:`factlab.report.charts._literal_text`, :func:`factlab.report.charts._svg`).
"""

from __future__ import annotations

import numpy as np

from factlab.escape import plain_text
from factlab.report.charts import (
    _PALETTE,
    MIN_FONT,
    ChartText,
    _figure,
    _literal_text,
    _mark_suppressed,
    _svg,
    _tick_labels,
)
from factlab.report.grid import Grid

__all__ = ["period_lines"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


@_literal_text
def period_lines(grid: Grid, chart_id: str, *, ylabel: str, text: ChartText | None = None) -> str:
    """One line per column of ``grid``, over its rows (periods), suppressed values as gaps.

    Each line has its own marker as well as its own colour, so the lines stay apart in print
    and for readers who do not tell the colours apart.

    Example:
        >>> grid = Grid(("period", "ZIN", "PGB"), (("2023", 410, 95), ("2024", 430, None)),
        ...             ("label", "count", "count"))
        >>> svg = period_lines(grid, "demo", ylabel="clients")
        >>> svg.startswith("<svg"), "<text" in svg, "ZIN" in svg
        (True, True, True)
    """
    number = (text or ChartText("")).number
    periods, lines, values = grid.body()
    periods, lines = [plain_text(p) for p in periods], [plain_text(name) for name in lines]
    figure, axes = _figure()
    x = np.arange(len(periods), dtype=float)
    for index, name in enumerate(lines):
        column = [row[index] for row in values]
        heights = np.array([np.nan if v is None else v for v in column], dtype=float)
        axes.plot(
            x,
            heights,
            color=_PALETTE[index % len(_PALETTE)],
            marker=_MARKERS[index % len(_MARKERS)],
            linewidth=1.8,
            label=name,
        )
    for position, row in zip(x, values, strict=True):
        if any(value is None for value in row):
            _mark_suppressed(axes, float(position))
    _tick_labels(axes, list(x), periods)
    axes.set_ylim(bottom=0)
    axes.set_ylabel(plain_text(ylabel))
    axes.yaxis.set_major_formatter(lambda value, _: number(value))
    axes.legend(
        frameon=False,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02),
        ncols=min(len(lines), 2) or 1,
        fontsize=MIN_FONT,
    )
    return _svg(figure, chart_id, text)
