"""The table engine of :func:`factlab.analysis.counts.count`: every cell and margin of a table.

It takes the counted rows (one per registration, with a client number, a trajectory number, the
BSN status and the dimensions as Enums) and gives one row per cell and per margin with every
measure. A margin counts a client once however many of its cells they are in: the union, not the
sum. :func:`cell_table` packs (client, cell) pairs into one integer each where they fit, and
falls back on group-bys over the columns where they do not; both give the same table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

__all__ = ["CLIENT", "MEASURES", "PROVIDER", "STATUS", "TRAJECTORY", "cell_table", "enum_labels"]

# Internal columns of the counted rows; a leading underscore keeps them apart from any dimension.
CLIENT: Final = "_client"
STATUS: Final = "_status"
TRAJECTORY: Final = "_trajectory"
PROVIDER: Final = "_provider"
#: The measures of a table, in the order of its columns.
MEASURES: Final = (
    "unique_clients",
    "unique_clients_upper",
    "sum_of_cells",
    "registrations",
    "trajectories",
    "rows_without_valid_bsn",
    "rows_sentinel",
)

# Packed (number, cell) pairs must stay below this (UInt64).
_PACKED_LIMIT: Final = 2**64


def cell_table(
    work: pl.DataFrame, dims: tuple[str, ...], orders: Mapping[str, Mapping[str, int]]
) -> pl.DataFrame:
    """Every cell and margin of ``work`` by ``dims``: the dimensions (null = total), the measures.

    ``orders`` gives, per dimension that does not sort as text, each label's place (age groups
    by age); unknown labels sort after them.
    """
    table = _packed_table(work, dims, orders)
    if table is None:
        table = _margins(dims, orders, *pl.collect_all(_cell_queries(work.lazy(), dims)))
    return table


def enum_labels(frame: pl.DataFrame, name: str) -> pl.Series:
    dtype = frame.schema[name]
    assert isinstance(dtype, pl.Enum)  # count() makes these columns Enums
    return dtype.categories


def _cell_queries(work: pl.LazyFrame, dims: tuple[str, ...]) -> list[pl.LazyFrame]:
    """Distinct (cell, client) and (cell, trajectory) pairs and rows per cell, for _margins."""
    return [
        work.filter(pl.col(CLIENT).is_not_null()).select(*dims, CLIENT).unique(),
        work.select(*dims, TRAJECTORY).unique(),
        _group(
            work,
            dims,
            pl.len().alias("registrations"),
            pl.col(CLIENT).is_null().sum().alias("rows_without_valid_bsn"),
            (pl.col(STATUS) == "sentinel").sum().alias("rows_sentinel"),
        ),
    ]


def _packed_table(
    work: pl.DataFrame, dims: tuple[str, ...], orders: Mapping[str, Mapping[str, int]]
) -> pl.DataFrame | None:
    """Every cell and margin, with the (cell, client) pairs packed into one ``UInt64`` each.

    A cell is numbered in mixed radix from its dimensions' Enum codes; a margin over a subset of
    the dimensions is the same number with the other dimensions' digits zeroed. Each distinct
    client of a cell or margin is then one distinct ``client * cells + cell``, and so for
    trajectories: integer uniques instead of group-bys over several columns. Client and
    trajectory numbers are dense (1, 2, ...), so the grand total needs no unique at all.

    Returns None when the numbers would not fit in 64 bits (very many dimensions with very many
    values); :func:`_margins` then does the same work on the columns.
    """
    cards = [len(enum_labels(work, dim)) for dim in dims]
    cells = math.prod(cards)
    clients = int(work.get_column(CLIENT).max() or 0)  # type: ignore[arg-type]
    trajectories = int(work.get_column(TRAJECTORY).max() or 0)  # type: ignore[arg-type]
    if (max(clients, trajectories) + 1) * cells >= _PACKED_LIMIT:
        return None
    radix = [math.prod(cards[index + 1 :]) for index in range(len(dims))]
    stride = pl.lit(cells, dtype=pl.UInt64)

    def margin(code: pl.Expr, subset: tuple[int, ...]) -> pl.Expr:
        """The cell number ``code`` with the digits of the dimensions not in ``subset`` zeroed."""
        digits = [code // radix[index] % cards[index] * radix[index] for index in subset]
        return pl.sum_horizontal(pl.lit(0, dtype=pl.UInt64), *digits)

    digits = [
        pl.col(dim).to_physical().cast(pl.UInt64) * factor
        for dim, factor in zip(dims, radix, strict=True)
    ]
    coded = work.lazy().select(
        pl.sum_horizontal(pl.lit(0, dtype=pl.UInt64), *digits).alias("cell"),
        pl.col(CLIENT).cast(pl.UInt64).alias("client"),
        pl.col(TRAJECTORY).cast(pl.UInt64).alias("trajectory"),
        (pl.col(STATUS) == "sentinel").alias("sentinel"),
    )

    def distinct(number: str) -> pl.LazyFrame:
        """Distinct (number, cell) pairs, sorted; ``alone`` marks a number in one cell only."""
        pairs = (pl.col(number) * stride + pl.col("cell")).drop_nulls().sort().alias("pair")
        owner = pl.col("pair") // stride
        return (
            coded.select(pairs)
            .filter(pl.col("pair").ne_missing(pl.col("pair").shift(1)))
            .with_columns(
                (owner.ne_missing(owner.shift(1)) & owner.ne_missing(owner.shift(-1))).alias(
                    "alone"
                )
            )
        )

    client_pairs, trajectory_pairs, rows = pl.collect_all(
        [
            distinct("client"),
            distinct("trajectory"),
            coded.group_by("cell").agg(
                pl.len().alias("registrations"),
                pl.col("client").is_null().sum().alias("rows_without_valid_bsn"),
                pl.col("sentinel").sum().alias("rows_sentinel"),
            ),
        ]
    )

    def per_cell(pairs: pl.DataFrame, subset: tuple[int, ...], name: str) -> pl.LazyFrame:
        """Distinct numbers per cell of ``subset``. A number in one cell only is counted there
        without a unique; only the pairs of numbers in several cells are deduplicated."""
        cell = pl.col("pair") % stride
        if len(subset) == len(dims):
            return pairs.lazy().group_by(cell.alias("cell")).agg(pl.len().alias(name))
        alone = (
            pairs.lazy()
            .filter("alone")
            .group_by(margin(cell, subset).alias("cell"))
            .agg(pl.len().alias(name))
        )
        merged = (pl.col("pair") // stride * stride + margin(cell, subset)).unique() % stride
        several = (
            pairs.lazy()
            .filter(~pl.col("alone"))
            .select(merged.alias("cell"))
            .group_by("cell")
            .agg(pl.len().alias(name))
        )
        return pl.concat([alone, several]).group_by("cell").agg(pl.col(name).sum())

    finest = client_pairs.lazy().select((pl.col("pair") % stride).alias("cell"))
    sums = pl.col("registrations", "rows_without_valid_bsn", "rows_sentinel").sum()
    subsets = [
        subset
        for size in range(len(dims), -1, -1)
        for subset in itertools.combinations(range(len(dims)), size)
    ]
    queries = []
    for subset in subsets:
        if not subset:
            # The grand total: one row even when no row was counted.
            queries.append(
                rows.lazy().select(
                    pl.lit(0, dtype=pl.UInt64).alias("cell"),
                    sums,
                    pl.lit(client_pairs.height).alias("sum_of_cells"),
                    pl.lit(clients).alias("unique_clients"),
                    pl.lit(trajectories).alias("trajectories"),
                )
            )
            continue
        cell = margin(pl.col("cell"), subset).alias("cell")
        joined = (
            rows.lazy()
            .group_by(cell)
            .agg(sums)
            .join(finest.group_by(cell).agg(pl.len().alias("sum_of_cells")), on="cell", how="left")
        )
        for name, pairs in (
            ("unique_clients", client_pairs),
            ("trajectories", trajectory_pairs),
        ):
            joined = joined.join(per_cell(pairs, subset, name), on="cell", how="left")
        queries.append(joined)
    parts = []
    for subset, part in zip(subsets, pl.collect_all(queries), strict=True):
        code = part.get_column("cell")
        labels = [
            enum_labels(work, dim).gather(code // radix[index] % cards[index])
            if index in subset
            else pl.repeat(None, part.height, dtype=pl.String, eager=True)
            for index, dim in enumerate(dims)
        ]
        parts.append(
            part.with_columns(label.alias(dim) for label, dim in zip(labels, dims, strict=True))
        )
    return _finish_table(pl.concat(parts, how="diagonal_relaxed").lazy(), dims, orders)


def _group(frame: pl.LazyFrame, keys: Sequence[str], *aggs: pl.Expr) -> pl.LazyFrame:
    """``group_by(keys).agg(aggs)``, or one row of ``aggs`` when there are no keys."""
    if keys:
        return frame.group_by(*keys).agg(*aggs)
    return frame.select(*aggs)


def _margins(
    dims: tuple[str, ...],
    orders: Mapping[str, Mapping[str, int]],
    cells_clients: pl.DataFrame,
    cells_trajectories: pl.DataFrame,
    cells_rows: pl.DataFrame,
) -> pl.DataFrame:
    finest = _group(cells_clients.lazy(), dims, pl.len().alias("unique_clients"))
    parts = []
    for size in range(len(dims), -1, -1):
        for subset in itertools.combinations(dims, size):
            keys = list(subset)
            rows = _group(
                cells_rows.lazy(),
                keys,
                *[
                    pl.col(name).sum()
                    for name in ("registrations", "rows_without_valid_bsn", "rows_sentinel")
                ],
            )
            pieces = [
                _group(
                    cells_clients.lazy(), keys, pl.col(CLIENT).n_unique().alias("unique_clients")
                ),
                _group(
                    cells_trajectories.lazy(),
                    keys,
                    pl.col(TRAJECTORY).n_unique().alias("trajectories"),
                ),
                _group(finest, keys, pl.col("unique_clients").sum().alias("sum_of_cells")),
            ]
            for piece in pieces:
                rows = (
                    rows.join(piece, on=keys, how="left")
                    if keys
                    else pl.concat([rows, piece], how="horizontal")
                )
            omitted = [
                pl.lit(None, dtype=pl.String()).alias(dim) for dim in dims if dim not in subset
            ]
            parts.append(
                rows.with_columns(*omitted, *[pl.col(dim).cast(pl.String) for dim in subset])
            )
    return _finish_table(pl.concat(parts, how="diagonal"), dims, orders)


def _finish_table(
    table: pl.LazyFrame, dims: tuple[str, ...], orders: Mapping[str, Mapping[str, int]]
) -> pl.DataFrame:
    """Measures as Int64 (0 where absent), the upper bound, the columns in order, rows sorted."""
    measures = [
        pl.col(name).fill_null(0).cast(pl.Int64)
        for name in (
            "unique_clients",
            "sum_of_cells",
            "registrations",
            "trajectories",
            "rows_without_valid_bsn",
            "rows_sentinel",
        )
    ]
    table = (
        table.with_columns(measures)
        .with_columns(
            (pl.col("unique_clients") + pl.col("rows_without_valid_bsn")).alias(
                "unique_clients_upper"
            )
        )
        .select(*dims, *MEASURES)
    )
    order = [
        pl.when(pl.col(dim).is_not_null()).then(
            pl.col(dim).replace_strict(orders[dim], default=len(orders[dim]))
        )
        if dim in orders
        else pl.col(dim)
        for dim in dims
    ]
    sorted_table = table.sort(order, nulls_last=True) if dims else table
    result: pl.DataFrame = sorted_table.collect()
    return result
