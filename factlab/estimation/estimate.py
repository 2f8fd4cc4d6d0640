"""Applying a corrections model to a counts table: the estimate, with every step shown.

The model (:mod:`factlab.estimation.corrections`) declares the adjustments; here they are applied to
a counts table (from ``factlab count``) and the result keeps the arithmetic of every step. Rules of
the arithmetic (see ``docs/corrections.md``):

* Every adjustment refers to *observed* values of the base table, never to another adjustment's
  result, so the order of the adjustments does not matter.
* Each addition is computed exactly (rational arithmetic on the parameters as written) and then
  rounded to a whole youth, halves away from zero (half up for positive additions).
* With ``base = "sum_of_cells"`` the measure is the sum of the table's cells (a youth in two cells
  counts twice, as in the 2014 table); row and column totals are sums of cells. With
  ``base = "unique_clients"`` it is the count of persons, and row, column and grand totals are taken
  from the counts table's margin rows (unions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab._checks import require_frame, require_type
from factlab._version import __version__
from factlab.errors import InputError
from factlab.escape import markdown_text
from factlab.estimation.base_table import BaseTable, base_table_of, read_counts_table
from factlab.estimation.corrections import Adjustment, Corrections, load_corrections
from factlab.estimation.unseen import UnseenSummary
from factlab.io import atomic_path, file_sha256
from factlab.manifest import now_iso
from factlab.outputs import csv_safe
from factlab.result_files import write_json

__all__ = [
    "AdjustmentResult",
    "Estimate",
    "estimate",
    "write_estimate",
]

#: Output formats of :func:`write_estimate`, by file extension.
OUTPUT_FORMATS: Final = (".json", ".csv", ".md")

ROUNDING: Final = (
    "each adjustment is computed exactly from the parameters as written and rounded to a whole "
    "youth, halves away from zero (half up); the total is the base plus the rounded adjustments"
)
INTERNAL_NOTE: Final = (
    "the base table holds exact counts internal to the trusted party; "
    "not for publication without disclosure control"
)

_FORMULAS: Final = {
    "absolute": "value",
    "factor": "observed × factor",
    "coverage": "observed × (1 − coverage) / coverage",
}


# --- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjustmentResult:
    """One adjustment applied: what it was applied to, the arithmetic, and the whole youths added.

    Attributes:
        adjustment: the declared adjustment.
        applies_to: readable selection, e.g. ``financing = ZVW`` or ``total``.
        observed: the observed value it was applied to (None for ``absolute``).
        formula: the formula, e.g. ``observed × factor``.
        arithmetic: the formula with numbers, e.g. ``5,411 × 0.2 = 1,082.2 → 1,082``.
        value: youths added (rounded).
        low: smallest addition over the parameter range (None without a range).
        high: largest addition over the parameter range (None without a range).
        arithmetic_low: arithmetic at the parameter's ``low`` end (None without it).
        arithmetic_high: arithmetic at the parameter's ``high`` end (None without it).
    """

    adjustment: Adjustment
    applies_to: str
    observed: int | None
    formula: str
    arithmetic: str
    value: int
    low: int | None = None
    high: int | None = None
    arithmetic_low: str | None = None
    arithmetic_high: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        a = self.adjustment
        return {
            "name": a.name,
            "kind": a.kind,
            "select": dict(a.select),
            "applies_to": self.applies_to,
            "observed": self.observed,
            "formula": self.formula,
            "parameter": a.parameter,
            "parameter_low": a.low,
            "parameter_high": a.high,
            "arithmetic": self.arithmetic,
            "arithmetic_low": self.arithmetic_low,
            "arithmetic_high": self.arithmetic_high,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "source": a.source,
            "note": a.note,
        }


@dataclass(frozen=True)
class Estimate:
    """A corrected total with every step shown.

    Attributes:
        corrections: the model applied.
        base_table: the observed table (cells, row and column totals, total).
        adjustments: each adjustment applied, in the model's order.
        total: base total plus the rounded adjustments.
        low: base plus every adjustment at its lowest (None when no adjustment has a range).
        high: base plus every adjustment at its highest (None when no adjustment has a range).
        counts_source: the counts file the base table came from (``counts table`` for a frame).
        counts_sha256: SHA-256 of the counts file, when it was a file.
        capture_recapture: a capture-recapture estimate shown beside the corrected total (it is
            not part of the total: it answers its own question under its own assumptions).
    """

    corrections: Corrections
    base_table: BaseTable
    adjustments: tuple[AdjustmentResult, ...]
    total: int
    low: int | None
    high: int | None
    counts_source: str = "counts table"
    counts_sha256: str | None = None
    capture_recapture: UnseenSummary | None = None

    @property
    def unit(self) -> str:
        """What the total counts: persons or cell registrations."""
        return self.corrections.unit

    @property
    def arithmetic(self) -> str:
        """The total as a sum, e.g. ``11,245 + 601 + 1,082 + 2,230 = 15,158``."""
        terms = "".join(
            f" {'−' if r.value < 0 else '+'} {abs(r.value):,}" for r in self.adjustments
        )
        return f"{self.base_table.total:,}{terms} = {self.total:,}"

    def to_frame(self) -> pl.DataFrame:
        """The ledger: one row for the base, one per adjustment, one for the estimate.

        Example:
            >>> import polars as pl
            >>> table = pl.DataFrame({"care_form": ["ambulant"], "financing": ["ZVW"],
            ...                       "unique_clients": [900]})
            >>> e = estimate(table, Corrections(title="t", base="sum_of_cells",
            ...     row_dimension="care_form", column_dimension="financing", adjustments=(
            ...     Adjustment("gross_up", "coverage", 0.9, source="s", note="n",
            ...                select={"financing": "ZVW"}),)))
            >>> e.to_frame()["value"].to_list()
            [900, 100, 1000]
        """
        base = self.base_table
        has_range = self.low is not None
        lines: list[dict[str, Any]] = [
            {
                "line": "base",
                "name": "observed",
                "kind": None,
                "applies_to": "all cells" if self.corrections.base == "sum_of_cells" else "total",
                "observed": base.total,
                "formula": "sum of cells"
                if self.corrections.base == "sum_of_cells"
                else "unique clients",
                "value": base.total,
                "low": base.total if has_range else None,
                "high": base.total if has_range else None,
                "arithmetic": f"{base.total:,}",
            }
        ]
        for result in self.adjustments:
            row = result.to_dict()
            lines.append({"line": "adjustment", **row})
        lines.append(
            {
                "line": "estimate",
                "name": "corrected total",
                "formula": "base + adjustments",
                "value": self.total,
                "low": self.low,
                "high": self.high,
                "arithmetic": self.arithmetic,
                "note": self.unit,
            }
        )
        schema = {
            "line": pl.String,
            "name": pl.String,
            "kind": pl.String,
            "applies_to": pl.String,
            "observed": pl.Int64,
            "formula": pl.String,
            "parameter": pl.Float64,
            "parameter_low": pl.Float64,
            "parameter_high": pl.Float64,
            "arithmetic": pl.String,
            "value": pl.Int64,
            "low": pl.Int64,
            "high": pl.Int64,
            "source": pl.String,
            "note": pl.String,
        }
        return pl.DataFrame(
            [{key: line.get(key) for key in schema} for line in lines], schema=schema
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: model, base table, adjustments with arithmetic, total and range."""
        c = self.corrections
        return {
            "title": c.title,
            "description": c.description,
            "corrections_version": c.version,
            "corrections_source": c.source,
            "counts_source": self.counts_source,
            "counts_sha256": self.counts_sha256,
            "base": c.base,
            "unit": self.unit,
            "rounding": ROUNDING,
            "base_table": self.base_table.to_dict(),
            "adjustments": [result.to_dict() for result in self.adjustments],
            "total": self.total,
            "low": self.low,
            "high": self.high,
            "arithmetic": self.arithmetic,
            "capture_recapture": None
            if self.capture_recapture is None
            else self.capture_recapture.to_dict(),
        }

    def to_markdown(self) -> str:
        """A readable Markdown page: base table, ledger, notes and sources."""
        return _markdown(self)


# --- arithmetic ----------------------------------------------------------------------------------


def _exact(value: float) -> Fraction:
    # repr gives the shortest decimal that reads back as the same float: what the user wrote.
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _round_half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def _text(value: Fraction) -> tuple[str, bool]:
    """Decimal text of ``value`` (exact up to 4 decimals, else rounded to 2) and whether exact."""
    for places in range(5):
        scaled = value * 10**places
        if scaled.denominator == 1:
            text = f"{abs(scaled.numerator) // 10**places:,}"
            if places:
                fraction = abs(scaled.numerator) % 10**places
                text += ("." + f"{fraction:0{places}d}".rstrip("0")) if fraction else ""
            return ("-" if value < 0 else "") + text, True
    hundredths = _round_half_away(value * 100)
    whole, part = divmod(abs(hundredths), 100)
    return f"{'-' if hundredths < 0 else ''}{whole:,}.{part:02d}", False


def _addition(kind: str, observed: int | None, parameter: float) -> tuple[int, str]:
    """The rounded addition and its arithmetic."""
    p = _exact(parameter)
    p_text = _text(p)[0]
    if kind == "absolute":
        exact, shown = p, p_text
    elif kind == "factor":
        exact = (observed or 0) * p
        shown = f"{observed or 0:,} × {p_text}"
    else:
        exact = (observed or 0) * (1 - p) / p
        shown = f"{observed or 0:,} × {_text(1 - p)[0]} / {p_text}"
    rounded = _round_half_away(exact)
    exact_text, is_exact = _text(exact)
    if kind == "absolute" and exact == rounded:
        return rounded, shown
    steps = f"{shown} {'=' if is_exact else '≈'} {exact_text}"
    if exact != rounded:
        steps += f" → {rounded:,}"
    return rounded, steps


def _applies_to(adjustment: Adjustment, corrections: Corrections) -> str:
    if adjustment.kind == "absolute":
        return "fixed number"
    if not adjustment.select:
        return "total"
    order = (corrections.row_dimension, corrections.column_dimension)
    return ", ".join(
        f"{key} = {adjustment.select[key]}" for key in order if key in adjustment.select
    )


def _apply(adjustment: Adjustment, table: BaseTable, corrections: Corrections) -> AdjustmentResult:
    select = adjustment.select
    row = select.get(corrections.row_dimension)
    column = select.get(corrections.column_dimension)
    observed: int | None
    if adjustment.kind == "absolute":
        observed = None
    elif row is not None and column is not None:
        observed = table.cell(row, column)
    elif row is not None:
        observed = table.row_totals[table.rows.index(row)]
    elif column is not None:
        observed = table.column_totals[table.columns.index(column)]
    else:
        observed = table.total
    value, arithmetic = _addition(adjustment.kind, observed, adjustment.parameter)
    ends = {
        key: _addition(adjustment.kind, observed, bound)
        for key, bound in (("low", adjustment.low), ("high", adjustment.high))
        if bound is not None
    }
    low = high = None
    if ends:
        # The additions are monotone in the parameter, so their range is reached at its ends.
        at_ends = [ends.get("low", (value, ""))[0], ends.get("high", (value, ""))[0]]
        low, high = min(at_ends), max(at_ends)
    return AdjustmentResult(
        adjustment=adjustment,
        applies_to=_applies_to(adjustment, corrections),
        observed=observed,
        formula=_FORMULAS[adjustment.kind],
        arithmetic=arithmetic,
        value=value,
        low=low,
        high=high,
        arithmetic_low=ends["low"][1] if "low" in ends else None,
        arithmetic_high=ends["high"][1] if "high" in ends else None,
    )


# --- building the base table ---------------------------------------------------------------------


def estimate(
    table: pl.DataFrame | pl.LazyFrame | str | Path, corrections: Corrections | str | Path
) -> Estimate:
    """Apply a corrections model to a counts table.

    Args:
        table: a counts table (one column per dimension, ``unique_clients``; margin rows have the
            dimension null), or the path of one written by ``factlab count``.
        corrections: a model, or the path of a corrections TOML file.

    Raises:
        InputError: the counts file cannot be read or lacks a column.
        DataError: a count is not a whole number, or the table has cells more than once.
        ConfigError: the model names values the table does not have (all at once).

    Example:
        >>> import polars as pl
        >>> table = pl.DataFrame({"care_form": ["ambulant", "ambulant"],
        ...                       "financing": ["ZVW", "AWBZ"], "unique_clients": [5411, 1115]})
        >>> e = estimate(table, Corrections(title="t", base="sum_of_cells",
        ...     row_dimension="care_form", column_dimension="financing", adjustments=(
        ...     Adjustment("pgb", "factor", 2, source="s", note="n",
        ...                select={"financing": "AWBZ"}),)))
        >>> e.adjustments[0].arithmetic, e.total
        ('1,115 × 2 = 2,230', 8756)
    """
    require_frame(table, where="estimate", name="table", path_ok=True)
    hint = "a Corrections (factlab.load_corrections(path), factlab.corrections_2014()) or a path"
    require_type(
        corrections, (Corrections, str, PathLike), where="estimate", name="corrections", hint=hint
    )
    if not isinstance(corrections, Corrections):
        corrections = load_corrections(corrections)
    counts_source, counts_sha256 = "counts table", None
    if isinstance(table, str | Path):
        counts_source, counts_sha256 = str(table), None
        table = read_counts_table(counts_source)
        counts_sha256 = file_sha256(counts_source)
    base_table = base_table_of(table, corrections, counts_source)
    results = tuple(_apply(a, base_table, corrections) for a in corrections.adjustments)
    total = base_table.total + sum(r.value for r in results)
    low = high = None
    if any(r.low is not None for r in results):
        low = base_table.total + sum(r.value if r.low is None else r.low for r in results)
        high = base_table.total + sum(r.value if r.high is None else r.high for r in results)
    return Estimate(
        corrections=corrections,
        base_table=base_table,
        adjustments=results,
        total=total,
        low=low,
        high=high,
        counts_source=counts_source,
        counts_sha256=counts_sha256,
    )


# --- writing -------------------------------------------------------------------------------------


def _range_text(low: int | None, high: int | None) -> str:
    return "" if low is None or high is None else f"{low:,}–{high:,}"


def _md(text: object) -> str:
    # Titles, names, notes and file names come from configuration and data: none is syntax.
    return markdown_text(text)


def _markdown(result: Estimate) -> str:
    c, base = result.corrections, result.base_table
    lines = [
        f"# {_md(c.title)}",
        "",
        f"**Estimate: {result.total:,}** ({_md(result.unit)})"
        + (f", range {_range_text(result.low, result.high)}" if result.low is not None else ""),
        "",
        f"- Computation: {_md(result.arithmetic)}",
        f"- Base: {_md(c.base)} of {_md(base.row_dimension)} × {_md(base.column_dimension)}"
        + (
            f"; {base.unique_clients:,} unique clients behind the table"
            if base.unique_clients is not None
            else ""
        ),
        f"- Rounding: {_md(ROUNDING)}",
        "- Range: every adjustment at the low (high) end of its parameter range at once",
        f"- Counts: {_md(result.counts_source)}; corrections: {_md(c.source)} "
        f"(version {_md(c.version)})",
        f"- Internal: {_md(INTERNAL_NOTE)}",
        "",
        "## Base table",
        "",
    ]
    frame = base.to_frame()
    lines.append("| " + " | ".join(_md(name) for name in frame.columns) + " |")
    lines.append("|---" + "|---:" * (frame.width - 1) + "|")
    lines += [
        "| "
        + " | ".join("" if v is None else _md(f"{v:,}" if isinstance(v, int) else v) for v in row)
        + " |"
        for row in frame.iter_rows()
    ]
    lines += [
        "",
        "## Corrections",
        "",
        "| adjustment | applies to | formula | arithmetic | adds | range |",
        "|---|---|---|---|---:|---|",
    ]
    lines += [
        f"| {_md(r.adjustment.name)} | {_md(r.applies_to)} | {_md(r.formula)} | "
        f"{_md(r.arithmetic)} | {r.value:,} | {_range_text(r.low, r.high)} |"
        for r in result.adjustments
    ]
    lines += [
        f"| **corrected total** | | | {_md(result.arithmetic)} | **{result.total:,}** | "
        f"{_range_text(result.low, result.high)} |",
        "",
        "## Notes and sources",
        "",
    ]
    for r in result.adjustments:
        a = r.adjustment
        key = a.parameter_key
        ends = "; ".join(
            f"at {key} {_text(_exact(bound))[0]}: {arith}"
            for bound, arith in ((a.low, r.arithmetic_low), (a.high, r.arithmetic_high))
            if bound is not None and arith
        )
        lines.append(
            f"- **{_md(a.name)}** — {_md(a.note)} Source: {_md(a.source)}."
            + (f" Range: {_md(ends)}." if ends else "")
        )
    beside = result.capture_recapture
    if beside is not None:
        lines += [
            "",
            "## Beside it: capture–recapture",
            "",
            f"**{beside.estimate:,.0f}** (95 % interval {beside.lower:,.0f}–{beside.upper:,.0f}; "
            f"{beside.observed:,} seen by at least one provider; model {_md(beside.model)}).",
            "",
            f"What it means: {_md(beside.meaning)}. The corrected total above "
            f"counts {_md(result.unit)} under the declared corrections; the two answer different "
            "questions and are not added up.",
            "",
            "Assumptions:",
            "",
            *(f"- {_md(item)}" for item in beside.assumptions),
            "",
            f"Source: {_md(beside.source)}.",
        ]
    return "\n".join(lines) + "\n"


def write_estimate(
    result: Estimate,
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = True,
) -> None:
    """Write an estimate atomically; the format follows the extension (.json, .csv or .md).

    JSON holds ``{"metadata": …, "estimate": …}`` (everything), CSV the ledger of
    :meth:`Estimate.to_frame` (text a spreadsheet would run as a formula gets a leading quote,
    see :func:`factlab.outputs.csv_safe`), Markdown a readable page. The counts file the
    estimate came from (and any of ``inputs``) is never written over; with ``overwrite=False``
    no existing file is (see :func:`factlab.io.atomic_path`).

    Raises:
        InputError: unknown extension, missing output folder, or a refused output (nothing is
            written).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(
            f"{path}: unsupported output format {suffix!r} (use {', '.join(OUTPUT_FORMATS)})"
        )
    # a counts file, read when the estimate was made (not a frame), is never written over
    read_from = [result.counts_source] if result.counts_sha256 is not None else []
    sources = [*inputs, *read_from]
    if suffix == ".json":
        metadata = {
            "format": "factlab-estimate",
            "factlab_version": __version__,
            "created": now_iso(),
            "internal": True,
            "note": INTERNAL_NOTE,
        }
        write_json(
            path,
            {"metadata": metadata, "estimate": result.to_dict()},
            inputs=sources,
            overwrite=overwrite,
        )
        return
    with atomic_path(path, inputs=sources, overwrite=overwrite) as temporary:
        if suffix == ".csv":
            csv_safe(result.to_frame()).write_csv(temporary)
        else:
            temporary.write_text(result.to_markdown(), encoding="utf-8")
