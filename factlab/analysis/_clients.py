"""Clients as integers: the fast path of every analysis that groups rows by client.

A pseudonym is 32 lowercase hex characters, 128 bits. Hashing, sorting and comparing that text is
the costliest part of counting; the two 64-bit halves read as integers identify a client just as
exactly and cost a fraction. :func:`client_order` sorts rows by client on those integers.
"""

from __future__ import annotations

import polars as pl

from factlab import schema

__all__ = ["HIGH", "LOW", "client_keys", "client_order", "key_halves", "order_by_client"]

#: Names of the pseudonym halves made by :func:`key_halves`.
HIGH = "_high"
LOW = "_low"


def key_halves(text: pl.Expr) -> list[pl.Expr]:
    """The two ``UInt64`` halves of well-formed pseudonyms, as ``_high`` and ``_low``.

    For use inside a query (a scan reads them without ever holding the text); a value that is not
    32 hex characters gives a null half.
    """
    return [
        text.str.slice(0, 16).str.to_integer(base=16, dtype=pl.UInt64, strict=False).alias(HIGH),
        text.str.slice(16).str.to_integer(base=16, dtype=pl.UInt64, strict=False).alias(LOW),
    ]


def client_keys(client: pl.Series, *, checked: bool) -> tuple[pl.Series, pl.Series]:
    """Two ``UInt64`` keys that together tell clients apart exactly (null where ``client`` is).

    ``checked`` says the pseudonyms were validated already (link checks every pseudonym of a linked
    file); otherwise they are checked here. Text of another form (an analyst's own frame) gets a
    dense rank of the text and zero instead, which is as exact and slower.

    Example:
        >>> high, low = client_keys(pl.Series(["0" * 31 + "1", None]), checked=False)
        >>> (high.to_list(), low.to_list())
        ([0, None], [1, None])
    """
    well_formed = checked or bool(
        client.str.contains(schema.PSEUDONYM_PATTERN).fill_null(True).all()
    )
    if well_formed:
        # Both halves in one select: Polars reads them in parallel.
        halves = client.to_frame().select(key_halves(pl.col(client.name)))
        high, low = halves.to_series(0), halves.to_series(1).alias(client.name)
        if high.null_count() == low.null_count() == client.null_count():
            return high, low
    zeros = pl.zeros(client.len(), pl.UInt64, eager=True)
    return client.rank("dense").cast(pl.UInt64), zeros.set(client.is_null(), None)


def client_order(high: pl.Series, low: pl.Series, within: pl.Series) -> pl.DataFrame:
    """Sort rows by client, then by ``within`` (``UInt64``, no nulls); rows without a client last.

    Returns:
        ``row``: the permutation (the row numbers in sorted order); ``within``, sorted along
        (null on rows without a client); ``first``: True on each client's first row; ``known``:
        the row has a client. Rows without a client may come in any order among themselves.

    One sort of values does it (several times faster than sorting row numbers by a key and then
    moving the keys): each row with a client gets one 128-bit number, from its high bits down:
    the first half of the pseudonym, as much of the second half as fits, ``within``, and the row
    number. Sorting those numbers puts each client's rows together and in ``within`` order, and
    the row numbers are read back from the sorted numbers. Two clients that agree on every
    pseudonym bit the number keeps (over 80 of the 128 for a count of 10^8 rows) would
    interleave; that is vanishingly rare, but it is checked on the full pseudonym, and then the
    rows are sorted on all three keys instead (a test forces it).

    Example:
        >>> high, low = client_keys(pl.Series(["b" * 32, "a" * 32, None, "b" * 32]), checked=True)
        >>> ordered = client_order(high, low, pl.Series([2, 1, 0, 1], dtype=pl.UInt64))
        >>> ordered["row"].to_list(), ordered["first"].to_list()
        ([1, 3, 0, 2], [True, True, False, False])
    """
    keys = pl.DataFrame({"high": high, "low": low, "within": within})
    within_bits = int(within.max() or 0).bit_length()  # type: ignore[arg-type]
    row_bits = max(len(keys) - 1, 0).bit_length()
    if within_bits + row_bits > 64:
        return _order_on_all_keys(keys)
    u128, u64 = pl.UInt128(), pl.UInt64()
    tail_bits = within_bits + row_bits
    row_span = pl.lit(2**row_bits, dtype=u128)
    tail_span = pl.lit(2**tail_bits, dtype=u128)
    # The lower 64 bits are put together in 64-bit arithmetic, which is cheaper.
    kept = pl.lit((2**64 - 1) ^ (2**tail_bits - 1), dtype=u64)
    lower = (
        (pl.col("low") & kept)
        | (pl.col("within") * pl.lit(2**row_bits, dtype=u64))
        | pl.col("row").cast(u64)
    )
    whole = pl.col("high").cast(u128) * pl.lit(2**64, dtype=u128)
    known = keys.with_row_index("row").filter(pl.col("high").is_not_null())
    ordered = known.select((whole + lower.cast(u128)).sort().alias("number")).select(
        (pl.col("number") % row_span).cast(pl.get_index_type()).alias("row"),
        (pl.col("number") // tail_span).alias("client"),
        (pl.col("number") % tail_span // row_span).cast(u64).alias("within"),
    )
    first = pl.col("client").ne_missing(pl.col("client").shift(1))
    # The check: as many clients in sorted order as there are distinct pseudonyms. Sorting the
    # full pseudonyms and counting changes is cheaper than hashing them or moving them along.
    distinct = known.select((whole + pl.col("low").cast(u128)).sort()).select(
        pl.all().ne_missing(pl.all().shift(1)).sum()
    )
    if ordered.select(first.sum()).item() != distinct.item():
        return _order_on_all_keys(keys)
    without = keys.select(pl.col("high").is_null().arg_true().cast(pl.get_index_type()))
    return pl.concat(
        [
            ordered.select("row", "within", first.alias("first"), pl.lit(True).alias("known")),
            without.select(
                pl.col("high").alias("row"),
                pl.lit(None, dtype=pl.UInt64).alias("within"),
                pl.lit(False).alias("first"),
                pl.lit(False).alias("known"),
            ),
        ]
    )


def _order_on_all_keys(keys: pl.DataFrame) -> pl.DataFrame:
    """:func:`client_order` by a sort on ``high``, ``low`` and ``within``: exact, and slower."""
    ordered = keys.with_row_index("row").sort("high", "low", "within", nulls_last=True)
    known = pl.col("high").is_not_null()
    first = pl.any_horizontal(
        pl.col(name).ne_missing(pl.col(name).shift(1)) for name in ("high", "low")
    ).fill_null(True)
    return ordered.select("row", "within", (first & known).alias("first"), known.alias("known"))


def order_by_client(
    frame: pl.DataFrame, client: str, then: list[str], *, checked: bool
) -> pl.Series:
    """The row numbers of ``frame`` sorted by ``client`` (pseudonyms), then by ``then``.

    The order of ``frame.sort([client, *then], nulls_last=True)``, except that rows without a
    client come last in any order, as do rows equal in every column; found with one sort of
    integers (:func:`client_order`): each column of ``then`` becomes its rank among its distinct
    values (a null after them all), and the ranks are packed into one key. Should they need more
    than 64 bits, the frame is sorted as above instead. ``checked`` is as for
    :func:`client_keys`.

    Example:
        >>> frame = pl.DataFrame({"p": ["b" * 32, "a" * 32, "b" * 32], "x": ["z", "y", None]})
        >>> order_by_client(frame, "p", ["x"], checked=True).to_list()
        [1, 0, 2]
    """
    within = pl.zeros(frame.height, pl.UInt64, eager=True)
    bits = 0
    for name in then:
        column = frame.get_column(name)
        if isinstance(column.dtype, pl.Categorical | pl.Enum):
            column = column.cast(pl.String)
        distinct = column.unique().drop_nulls().sort()
        bits += len(distinct).bit_length()
        if bits > 64:
            # Too many distinct values to pack: sort as the frame would, exactly and slower.
            keys = frame.select(client, *then).with_row_index("row")
            return keys.sort([client, *then], nulls_last=True).get_column("row")
        if len(distinct):
            # Each value's position among the distinct values; a null after all of them.
            rank = distinct.search_sorted(column.fill_null(distinct[0]), side="left")
            rank = rank.cast(pl.UInt64).set(column.is_null(), len(distinct))
        else:
            rank = pl.zeros(frame.height, pl.UInt64, eager=True)
        within = within * 2 ** (len(distinct).bit_length()) + rank
    high, low = client_keys(frame.get_column(client).cast(pl.String), checked=checked)
    return client_order(high, low, within).get_column("row")
