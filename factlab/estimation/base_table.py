"""The observed table a corrections model starts from, read from a counts table.

A counts table (from ``factlab count --by ROW,COLUMN``) is reduced to the model's two dimensions;
its cells, and its row, column and grand totals (sums of cells, or the margin rows' unions for
``base = "unique_clients"``), become a :class:`BaseTable`. Every value the model names must be in
the table, and every cell must be a whole, non-negative number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from factlab.errors import ConfigError, DataError, InputError
from factlab.estimation.corrections import VALUE_COLUMN, Corrections
from factlab.result_files import read_table

__all__ = ["BaseTable", "base_table_of", "read_counts_table"]


def read_counts_table(path: str | Path) -> pl.DataFrame:
    """Read a counts table written by ``factlab count`` (CSV, Parquet or JSON).

    CSV is read as text (an empty field is null: a margin); JSON is an object with ``rows`` (a list
    of row objects) or a bare list of row objects. See :func:`factlab.result_files.read_table`.

    Raises:
        InputError: the file is missing, unreadable or of an unknown format.

    Example:
        >>> read_counts_table("missing.csv")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.csv: file not found
    """
    frame, _ = read_table(path, what="counts")
    return frame


@dataclass(frozen=True)
class BaseTable:
    """The observed table the corrections start from.

    Attributes:
        row_dimension: name of the row dimension.
        column_dimension: name of the column dimension.
        rows: row values in display order.
        columns: column values in display order.
        cells: ``(row, column, unique clients)`` for every cell present in the counts table.
        row_totals: per row (aligned with ``rows``), the measure being corrected: the sum of the
            row's cells (``sum_of_cells``) or the row's unique clients (``unique_clients``).
        column_totals: per column, likewise.
        total: the base total: sum of cells or unique clients.
        sum_of_cells: sum of all cells.
        unique_clients: unique clients behind the table (its grand-total row), when it has one.
    """

    row_dimension: str
    column_dimension: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[str, str, int], ...]
    row_totals: tuple[int, ...]
    column_totals: tuple[int, ...]
    total: int
    sum_of_cells: int
    unique_clients: int | None

    def cell(self, row: str, column: str) -> int:
        """The value of a cell; 0 when the counts table has no such cell."""
        return next((v for r, c, v in self.cells if (r, c) == (row, column)), 0)

    def to_frame(self) -> pl.DataFrame:
        """Rows × columns with a ``total`` column and a ``total`` row; null where no cell."""
        long = pl.DataFrame(
            {
                "row": [cell[0] for cell in self.cells],
                "column": [cell[1] for cell in self.cells],
                "value": [cell[2] for cell in self.cells],
            },
            schema={"row": pl.String, "column": pl.String, "value": pl.Int64},
        )
        grid = (
            pl.DataFrame({"row": list(self.rows)}, schema={"row": pl.String})
            .join(
                pl.DataFrame({"column": list(self.columns)}, schema={"column": pl.String}),
                how="cross",
            )
            .join(long, on=["row", "column"], how="left")
        )
        wide = grid.pivot(on="column", index="row", values="value", on_columns=list(self.columns))
        body = wide.with_columns(pl.Series("total", list(self.row_totals), dtype=pl.Int64))
        footer = pl.DataFrame(
            [["total", *self.column_totals, self.total]], schema=body.schema, orient="row"
        )
        return pl.concat([body, footer]).rename({"row": self.row_dimension})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "row_dimension": self.row_dimension,
            "column_dimension": self.column_dimension,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "cells": [
                {self.row_dimension: r, self.column_dimension: c, VALUE_COLUMN: v}
                for r, c, v in self.cells
            ],
            "row_totals": dict(zip(self.rows, self.row_totals, strict=True)),
            "column_totals": dict(zip(self.columns, self.column_totals, strict=True)),
            "total": self.total,
            "sum_of_cells": self.sum_of_cells,
            "unique_clients": self.unique_clients,
        }


def base_table_of(
    table: pl.DataFrame | pl.LazyFrame, corrections: Corrections, source: str
) -> BaseTable:
    """The base table of ``corrections`` in the counts ``table`` (``source`` names it in errors).

    Raises:
        InputError: the table lacks a column the model needs.
        DataError: a count is not a whole number, or the table has cells more than once.
        ConfigError: the model names values the table does not have (all at once).
    """
    frame = _read_table(table, corrections, source)
    problems = _fit_problems(frame, corrections)
    if problems:
        raise ConfigError(corrections.source, problems)
    return _base_table(frame, corrections, source)


def _values_in_order(
    frame: pl.DataFrame, column: str, declared: tuple[str, ...] | None
) -> tuple[str, ...]:
    found = tuple(frame.get_column(column).drop_nulls().unique(maintain_order=True).to_list())
    return declared if declared is not None else found


def _read_table(
    table: pl.DataFrame | pl.LazyFrame, corrections: Corrections, source: str
) -> pl.DataFrame:
    """The counts table reduced to the two dimensions and a whole-number value column."""
    rows, columns = corrections.row_dimension, corrections.column_dimension
    names = table.lazy().collect_schema().names()
    missing = [name for name in (rows, columns, VALUE_COLUMN) if name not in names]
    if missing:
        raise InputError(
            f"{source}: lacks column(s) {', '.join(missing)} (found: {', '.join(names)})"
        )
    raw = pl.col(VALUE_COLUMN)
    number = raw.cast(pl.Float64, strict=False)
    frame = (
        table.lazy()
        .select(
            pl.col(rows).cast(pl.String),
            pl.col(columns).cast(pl.String),
            number.cast(pl.Int64, strict=False).alias("_value"),
            (
                raw.is_not_null() & (number.is_null() | (number != number.floor()) | (number < 0))
            ).alias("_bad"),
        )
        .collect()
    )
    bad = frame.filter(pl.col("_bad"))
    if bad.height:
        where = ", ".join(f"({r}, {c})" for r, c in bad.select(rows, columns).head(5).iter_rows())
        raise DataError(
            f"{source}: column {VALUE_COLUMN}: {bad.height} row(s) without a whole, non-negative "
            f"number, at ({rows}, {columns}) = {where}"
        )
    return frame.drop("_bad")


def _keyed(
    frame: pl.DataFrame, keys: Sequence[str], what: str, source: str
) -> dict[tuple[str, ...], int]:
    """One value per key; a duplicate key means the table was counted by more dimensions."""
    duplicated = frame.filter(pl.struct(*keys).is_duplicated()).select(keys).unique().rows()
    if duplicated:
        shown = ", ".join(" × ".join(map(str, key)) for key in sorted(duplicated)[:5])
        raise DataError(
            f"{source}: {what} {shown} appear(s) more than once; count by exactly the row and "
            "column dimensions of the corrections model"
        )
    return {tuple(key): value for *key, value in frame.select(*keys, "_value").rows()}


def _base_table(frame: pl.DataFrame, corrections: Corrections, source: str) -> BaseTable:
    rows, columns = corrections.row_dimension, corrections.column_dimension
    row_set, column_set = pl.col(rows).is_not_null(), pl.col(columns).is_not_null()
    cells_frame = frame.filter(row_set & column_set)
    empty = cells_frame.filter(pl.col("_value").is_null()).select(rows, columns).rows()
    if empty:
        shown = ", ".join(f"{r} × {c}" for r, c in empty[:5])
        raise DataError(f"{source}: column {VALUE_COLUMN} is empty in cell(s) {shown}")
    cell_values = _keyed(cells_frame, (rows, columns), "cell(s)", source)
    row_order = _values_in_order(frame, rows, corrections.row_values)
    column_order = _values_in_order(frame, columns, corrections.column_values)
    grand = frame.filter(~row_set & ~column_set).get_column("_value").to_list()
    unique_total = grand[0] if len(grand) == 1 else None
    if corrections.base == "sum_of_cells":
        row_sums = _keyed(cells_frame.group_by(rows).agg(pl.col("_value").sum()), (rows,), "", "")
        column_sums = _keyed(
            cells_frame.group_by(columns).agg(pl.col("_value").sum()), (columns,), "", ""
        )
        total = int(cells_frame.get_column("_value").sum())
    else:
        margin = "margin row(s) of"
        row_sums = _keyed(frame.filter(row_set & ~column_set), (rows,), margin, source)
        column_sums = _keyed(frame.filter(~row_set & column_set), (columns,), margin, source)
        lacking = [f"{rows} = {v}" for v in row_order if row_sums.get((v,)) is None]
        lacking += [f"{columns} = {v}" for v in column_order if column_sums.get((v,)) is None]
        if unique_total is None:
            lacking.append("the grand total")
        if lacking:
            raise DataError(
                f"{source}: base 'unique_clients' needs the counts table's margin rows; it lacks "
                f"{'; '.join(lacking[:5])}{' …' if len(lacking) > 5 else ''}"
            )
        total = int(unique_total or 0)
    cells = tuple(
        (r, c, cell_values[r, c]) for r in row_order for c in column_order if (r, c) in cell_values
    )
    return BaseTable(
        row_dimension=rows,
        column_dimension=columns,
        rows=row_order,
        columns=column_order,
        cells=cells,
        row_totals=tuple(int(row_sums.get((v,)) or 0) for v in row_order),
        column_totals=tuple(int(column_sums.get((v,)) or 0) for v in column_order),
        total=total,
        sum_of_cells=sum(value for _, _, value in cells),
        unique_clients=unique_total,
    )


def _fit_problems(frame: pl.DataFrame, corrections: Corrections) -> list[str]:
    """Where the counts table and the model do not fit: undeclared or unknown values."""
    problems = []
    known: dict[str, tuple[str, ...]] = {}
    for axis, dimension, declared in (
        ("row", corrections.row_dimension, corrections.row_values),
        ("column", corrections.column_dimension, corrections.column_values),
    ):
        found = _values_in_order(frame, dimension, None)
        known[dimension] = declared if declared is not None else found
        if declared is not None:
            problems += [
                f"{axis}_values: the counts table has {dimension} value {value!r}, "
                "which the model does not list"
                for value in found
                if value not in declared
            ]
    for index, adjustment in enumerate(corrections.adjustments, start=1):
        for key, value in adjustment.select.items():
            if value not in known[key]:
                problems.append(
                    f"adjustment[{index}].select.{key}: {value!r} is not a value of {key} in the "
                    f"counts table ({', '.join(known[key]) or 'none'})"
                )
    return problems
