"""(Private) partitions by client: which rows of an input an analysis reads together.

A row with a pseudonym goes by its client: the first 64 bits of the pseudonym modulo the number
of partitions (pseudonyms are keyed hashes, so the partitions are of about equal size), so all
rows of a client, and all copies of an episode, fall in one partition.

A row without a pseudonym (no valid BSN) belongs to no client, and every rule and count takes it
on its own: the rules of deliveries make each such row an episode of its own
(:func:`factlab.analysis._delivery_rows.resolve_rows` groups by client only where the BSN is
valid, and link writes a pseudonym exactly on the valid rows); a store keeps such a row in the
last delivery it is in care in, which it finds among the copies of that one stored row
(:func:`factlab.monitor.store.scan_checked`); the analyses count it per row and never as a
client. So it may go to any partition, as long as every read of the same data puts it in the
same one: it goes by its own place in its file (its row number modulo the number of
partitions). A provider that delivers no BSNs then spreads over all partitions, instead of
making one of them as large as its rows (and the peak memory follows the largest partition).

Text that is not a pseudonym (in rows an analyst hands in as a frame, whose pseudonyms were not
checked) goes by a hash of the text, so that a client's rows still meet.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from factlab import schema
from factlab.analysis._clients import key_halves

__all__ = ["PARTITION", "ROW", "client_partition", "in_partition"]

#: The column :func:`client_partition` is named.
PARTITION: Final = "_partition"
#: The row number :func:`in_partition` gives the rows of an input before it picks a partition.
ROW: Final = "_partition_row"


def client_partition(count: int, row: pl.Expr | None = None) -> pl.Expr:
    """A row's partition, ``0`` to ``count - 1`` (see the module).

    Args:
        count: the number of partitions.
        row: the row's number in its file, for rows without a pseudonym; without it, such rows
            are all in partition 0.

    Example:
        >>> rows = pl.DataFrame({"pseudonym": ["0" * 15 + "5" + "f" * 16, None, None]})
        >>> rows.select(client_partition(4, pl.int_range(pl.len()))).to_series().to_list()
        [1, 1, 2]
    """
    text = pl.col(schema.PSEUDONYM).cast(pl.String)
    high = key_halves(text)[0]
    own = pl.lit(0, dtype=pl.UInt64) if row is None else row.cast(pl.UInt64)
    spread = pl.when(text.is_null()).then(own).otherwise(text.hash())
    return pl.coalesce(high, spread).mod(count).alias(PARTITION)


def in_partition(frame: pl.LazyFrame, part: tuple[int, int] | None) -> pl.LazyFrame:
    """The rows of ``frame`` in partition ``part`` ``(index, count)`` (all rows for None).

    ``frame`` must read the same rows in the same order each time (a file's scan): a row without
    a pseudonym goes by its row number.

    Example:
        >>> rows = pl.LazyFrame({"pseudonym": [None, None, None]})
        >>> [in_partition(rows, (index, 2)).collect().height for index in range(2)]
        [2, 1]
    """
    if part is None:
        return frame
    index, count = part
    return frame.with_row_index(ROW).filter(client_partition(count, pl.col(ROW)) == index).drop(ROW)
