"""Dates as day numbers, and trajectories: a client's touching episodes of one form at one provider.

Part of :func:`factlab.analysis.counts.count`: the counted rows get their start and end as days
since 1970 (an unknown start before every real date, an open end after every one), then, in
client order, a client number and a trajectory number (docs/counting.md).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from factlab.analysis._clients import client_order
from factlab.analysis._table import CLIENT, PROVIDER, TRAJECTORY
from factlab.errors import DataError

__all__ = ["EARLIEST", "END", "INVERTED", "LATEST", "START", "with_dates", "with_trajectories"]

#: Days since 1970 of an unknown start and an open end: before and after every real date.
EARLIEST: Final = -(2**31)
LATEST: Final = 2**31
# Wider than any day range above, so a group number times it keeps groups apart (see below).
_GROUP_STRIDE: Final = 2**33

# Internal columns of the counted rows; a leading underscore keeps them apart from any dimension.
START: Final = "_start"
END: Final = "_end"
INVERTED: Final = "_end_before_start"


def with_dates(frame: pl.LazyFrame, columns: pl.Schema, *, timed: bool) -> pl.LazyFrame:
    missing = [name for name in ("start_date", "end_date") if name not in columns]
    if missing and timed:
        raise DataError(
            f"the data lack {', '.join(missing)}: a period or reference date cannot be applied"
        )
    wrong = [
        name for name in ("start_date", "end_date") if columns.get(name, pl.Date()) != pl.Date()
    ]
    if wrong:
        raise DataError(f"column(s) {', '.join(wrong)} must be of dtype Date")
    # Without dates every row is one undated episode: all of a client's episodes overlap.
    frame = frame.with_columns(pl.lit(None, dtype=pl.Date()).alias(name) for name in missing)
    start, end = pl.col("start_date"), pl.col("end_date")
    # An episode that ends before it starts would count in a year but in neither of its halves;
    # it is taken to last its start day only, and such rows are reported.
    frame = frame.with_columns((end < start).fill_null(False).alias(INVERTED)).with_columns(
        pl.when(pl.col(INVERTED)).then(start).otherwise(end).alias("end_date")
    )
    return frame.with_columns(
        start.cast(pl.Int64).fill_null(EARLIEST).alias(START),
        end.cast(pl.Int64).fill_null(LATEST).alias(END),
    )


def with_trajectories(
    rows: pl.DataFrame, high: pl.Series, low: pl.Series, *, has_care_form: bool
) -> pl.DataFrame:
    """``rows`` in client order, each with its client number and trajectory number.

    A trajectory is one client's touching episodes of one form at one provider. In the order
    (client, provider and care form, start), a row starts a new trajectory when its key differs
    from the previous row's or when it starts more than a day after every earlier episode of its
    key has ended. That "latest end so far within the key" is a cumulative maximum that must
    restart at each key; instead of a per-group window, each key's ends are lifted by its group
    number times a stride wider than any day range, so one running maximum over the whole frame
    never carries a value from one key into the next. Rows with equal starts may come in any
    order: each of them starts no later than the others end, so none of them starts a trajectory
    after another.

    The order comes from one sort of integers (:func:`factlab.analysis._clients.client_order`, on
    the pseudonym's halves ``high`` and ``low`` and the key of :func:`_secondary_key`). The rows
    stay in that order: every later step is indifferent to row order, and the one that is not, each
    client's distinct providers, then needs no sort of its own.

    ``rows`` must hold the provider (and care form) as Enums. The client column is a small client
    number (null for rows without a valid BSN), numbered in client order.
    """
    secondary, first_day, span = _secondary_key(rows, has_care_form=has_care_form)
    ordered = client_order(high, low, secondary)
    # Gathered in one select: Polars moves the columns in parallel. The start is not moved: it is
    # read back from the sort key below.
    in_order = pl.concat(
        [ordered, rows.drop(START).select(pl.all().gather(ordered.get_column("row")))],
        how="horizontal",
    )
    key = pl.col("within") // span
    day = (pl.col("within") % span).cast(pl.Int64)
    start = pl.when(day == 0).then(EARLIEST).otherwise(day + (first_day - 1))
    no_client = ~pl.col("known")
    new_key = pl.col("first") | key.ne_missing(key.shift(1)).fill_null(True) | no_client
    group = new_key.cum_sum().cast(pl.Int64)
    lifted_end = group * _GROUP_STRIDE + (pl.col(END) - EARLIEST)
    previous_end = lifted_end.cum_max().shift(1) - group * _GROUP_STRIDE + EARLIEST
    starts_new = new_key | (start > previous_end + 1)
    return in_order.with_columns(
        starts_new.cum_sum().alias(TRAJECTORY),
        pl.when(~no_client).then(pl.col("first").cum_sum()).alias(CLIENT),
        # Null on rows without a client (their keys are not kept); nothing reads it there.
        start.alias(START),
    ).drop("row", "within", "first", "known")


def _secondary_key(rows: pl.DataFrame, *, has_care_form: bool) -> tuple[pl.Series, int, int]:
    """One ``UInt64`` per row ordering by (provider and care form, start day); the first day; the
    span of the day part.

    The key is ``code * span + day``: ``code`` numbers the (provider, care form) pair from the Enum
    codes of both, ``day`` counts from the earliest known start (``first_day`` is day 1; 0 = unknown
    start, which sorts first), and ``span`` is the power of two just above the last day, so that the
    key takes as few bits as it can (:func:`factlab.analysis._clients.client_order` keeps more of
    the pseudonym the fewer bits the key needs).
    """
    code = rows[PROVIDER].to_physical().cast(pl.UInt64)
    if has_care_form:
        dtype = rows.schema["care_form"]
        assert isinstance(dtype, pl.Enum)  # made one by count() before the trajectories
        forms = len(dtype.categories)
        # A missing care form is a key of its own, after the known ones.
        form = rows["care_form"].to_physical().cast(pl.UInt64).fill_null(forms)
        code = code * (forms + 1) + form
    start = rows[START]
    known = start.filter(start != EARLIEST)
    first_day = int(known.min()) if len(known) else 0  # type: ignore[arg-type]
    last_day = int(known.max()) - (first_day - 1) if len(known) else 0  # type: ignore[arg-type]
    span = 2 ** last_day.bit_length()
    day = rows.select(
        pl.when(pl.col(START) == EARLIEST)
        .then(0)
        .otherwise(pl.col(START) - (first_day - 1))
        .cast(pl.UInt64)
    ).to_series()
    return code * span + day, first_day, span
