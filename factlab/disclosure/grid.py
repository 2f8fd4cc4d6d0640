"""A count table completed to its full grid of cells, at every level of every dimension.

Absence of a row is itself information, so the cells disclosure control works on are every
combination of dimension values at every level: a combination that ``factlab count`` did not
list is a true zero. A dimension with a declared hierarchy (:mod:`factlab.disclosure.hierarchy`)
takes every code of its tree, groups included, in that one column; null is its total. This module
checks a table's rows, completes the grid, replaces margins by sums of the most detailed cells
where the rules ask for it, and says in which order cells are listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from factlab.disclosure.hierarchy import Hierarchy
from factlab.errors import DataError

__all__ = ["check_frame", "complete_grid", "detail_mask", "order_by", "sums_of_cells"]

_LEVEL = "_level"


def check_frame(
    frame: pl.DataFrame, label: str, keys: Sequence[str], measures: Sequence[str]
) -> None:
    """Refuse missing, negative or fractional counts and duplicated cells (DataError)."""
    problems: list[str] = []
    for name in measures:
        column = frame.get_column(name)
        if not (column.dtype.is_integer() or column.dtype.is_float() or column.dtype == pl.Null):
            problems.append(f"column {name}: not numeric")
            continue
        checks = (
            (column.is_null(), "missing value"),
            (column.cast(pl.Float64) < 0, "negative count"),
            (column.cast(pl.Float64) != column.cast(pl.Float64).round(0), "not a whole number"),
        )
        for mask, reason in checks:
            rows = mask.fill_null(False).arg_true()
            if rows.len():
                problems.append(f"row {rows[0] + 1}, column {name}: {reason}")
    if not keys and frame.height != 1:
        problems.append("a table without dimensions must have exactly one row")
    duplicated = frame.select(keys).is_duplicated().arg_true() if keys else pl.Series([])
    if duplicated.len():
        problems.append(f"row {duplicated[0] + 1}: dimension values occur more than once")
    if problems:
        raise DataError(f"count table {label}: " + "; ".join(problems))


def _level_expr(keys: Sequence[str]) -> pl.Expr:
    terms = [
        pl.col(name).is_not_null().cast(pl.Int64) * (1 << bit) for bit, name in enumerate(keys)
    ]
    return pl.sum_horizontal(terms) if terms else pl.lit(0, dtype=pl.Int64)


def _check_levels(
    frame: pl.DataFrame,
    dims: Sequence[str],
    part_column: str | None,
    labels: Sequence[str | None],
) -> None:
    present = frame.select(
        *([pl.col(part_column)] if part_column else []), _level_expr(dims).alias(_LEVEL)
    ).unique()
    full = (1 << len(dims)) - 1
    for label in labels:
        have = (
            present
            if part_column is None
            else present.filter(pl.col(part_column).eq_missing(pl.lit(label, dtype=pl.String)))
        )
        found = set(have.get_column(_LEVEL).to_list())
        for level in range(full + 1):
            if level not in found:
                named = [dims[bit] for bit in range(len(dims)) if level >> bit & 1] or ["none"]
                table = "" if part_column is None else f" {label or 'whole'}"
                raise DataError(
                    f"count table{table}: no rows for the level with dimensions "
                    f"{', '.join(named)} given (all margin rows must be present)"
                )


def _codes(frame: pl.DataFrame, name: str, tree: Hierarchy | None) -> pl.Series:
    """The values of a dimension: those counted, or every code of its declared tree."""
    counted = frame.get_column(name).drop_nulls().unique().sort()
    if tree is None:
        return counted
    known = set(tree.codes)
    stray = [code for code in counted.to_list() if code not in known]
    if stray:
        shown = ", ".join(stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
        raise DataError(
            f"count table: {name}: {len(stray)} value(s) not in its declared hierarchy "
            f"({shown}); declare each under a group, or at the top level as code = []"
        )
    missing = [code for code in tree.groups if code not in set(counted.to_list())]
    if missing:
        raise DataError(
            f"count table: {name}: no rows for the group(s) {', '.join(missing[:3])}"
            + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            + " of its hierarchy (count the groups too, or roll them up)"
        )
    return pl.Series(name, tree.codes, dtype=pl.String)


def complete_grid(
    frame: pl.DataFrame,
    dims: Sequence[str],
    part_column: str | None,
    measures: Sequence[str],
    labels: Sequence[str | None],
    trees: Mapping[str, Hierarchy],
) -> pl.DataFrame:
    """Every combination of dimension values at every level; a combination not counted is 0."""
    _check_levels(frame, dims, part_column, labels)
    values = {name: _codes(frame, name, trees.get(name)) for name in dims}
    pieces = []
    for level in range(1 << len(dims)):
        grid = pl.DataFrame({"_one": [1]})
        for bit, name in enumerate(dims):
            column = values[name] if level >> bit & 1 else pl.Series(name, [None], pl.String)
            grid = grid.join(column.to_frame(name), how="cross")
        pieces.append(grid)
    grid = pl.concat(pieces)
    if part_column is not None:
        grid = pl.DataFrame({part_column: pl.Series(list(labels), dtype=pl.String)}).join(
            grid, how="cross"
        )
    keys = [*([part_column] if part_column else []), *dims]
    if not keys:
        return frame  # a single total, checked to be one row
    grid = grid.drop("_one")
    return grid.join(frame, on=keys, how="left", nulls_equal=True).with_columns(
        pl.col(name).fill_null(0) for name in measures
    )


def _is_detail(dims: Sequence[str], trees: Mapping[str, Hierarchy]) -> pl.Expr:
    """A most detailed cell: every dimension at a leaf (not a total, not a group)."""
    return pl.all_horizontal(
        pl.lit(True),
        *[
            pl.col(name).is_not_null() & ~pl.col(name).is_in(list(trees[name].groups))
            if name in trees
            else pl.col(name).is_not_null()
            for name in dims
        ],
    )


def detail_mask(
    cells: pl.DataFrame, dims: Sequence[str], trees: Mapping[str, Hierarchy]
) -> npt.NDArray[np.bool_]:
    """A boolean per cell: every dimension at a leaf."""
    return cells.select(_is_detail(dims, trees)).to_series().to_numpy().astype(bool)


def sums_of_cells(
    cells: pl.DataFrame,
    dims: Sequence[str],
    part_column: str | None,
    measure: str,
    trees: Mapping[str, Hierarchy],
) -> pl.DataFrame:
    """Replace the margins of ``measure`` by sums of the most detailed cells."""
    part = [part_column] if part_column else []
    # Every detailed cell counts towards each margin that covers it: per dimension its own
    # code, every group above it, and the total.
    covered = cells.filter(_is_detail(dims, trees)).select(*part, *dims, measure)
    for name in dims:
        lifted = [covered, covered.with_columns(pl.lit(None, dtype=pl.String).alias(name))]
        if name in trees:
            tree = trees[name]
            pairs = pl.DataFrame(
                [(leaf, group) for leaf in tree.leaves for group in tree.ancestors(leaf)],
                schema={name: pl.String, "_group": pl.String},
                orient="row",
            )
            lifted.append(
                covered.join(pairs, on=name, how="inner")
                .drop(name)
                .rename({"_group": name})
                .select(covered.columns)
            )
        covered = pl.concat(lifted)
    keys = [*part, *dims]
    sums = covered.group_by(keys).agg(pl.col(measure).sum().alias("_sum"))
    return (
        cells.join(sums, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("_sum").fill_null(0).alias(measure))
        .drop("_sum")
    )


def order_by(
    cells: pl.DataFrame, keys: Sequence[str], trees: Mapping[str, Hierarchy]
) -> pl.DataFrame:
    """Cells in their stable order: by key, totals first, a hierarchy's codes in tree order."""
    if not keys:
        return cells
    order = [
        pl.col(name).replace_strict(trees[name].rank(), default=None, return_dtype=pl.Int64)
        if name in trees
        else pl.col(name)
        for name in keys
    ]
    return cells.sort(order, nulls_last=False)
