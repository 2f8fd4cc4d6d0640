"""Synthetic BSNs: proef-valid numbers, and the statuses and written forms of a messy export.

BSNs come from the test range 999900000–999999999 (the 9,091 numbers there that pass the
elfproef) when the number of clients allows. Larger runs draw proef-valid numbers from the whole
nine-digit space; those are random numbers with no data of any real person attached. Such draws
never start with ``00``: a number stored as an integer then loses at most one leading zero, which
the steward restores (an eight-digit number gets one leading zero), so no generated value depends
on how a reader treats shorter numbers.

:func:`render_rows` gives every drawn row the BSN status it is meant to have (missing, sentinel,
checksum error, wrong length, a letter in it, or valid, at the rates of a :class:`Messiness`) and
writes the BSN as its provider would: plain, with dots, spaces or hyphens, or as a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from factlab import schema
from factlab.synth.config import Messiness
from factlab.synth.write import BSN_STYLES, ExportForm

__all__ = ["TEST_RANGE_CLIENTS", "bsns_in_test_range", "draw_bsns", "render_rows"]

IntArray = npt.NDArray[np.int64]

#: The 9,091 numbers of the test range that pass the elfproef are enough for this many clients.
TEST_RANGE_CLIENTS: Final = 9091
_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2)
_STATUS_INDEX: Final = {status: index for index, status in enumerate(schema.STATUSES)}
_LETTERS: Final = ("O", "l", "I", "S", "B", "x")
# Statuses whose written form is not just the zero-padded number.
_SPECIAL: Final = ("missing", "non_digit")


def _check_digits(first8: IntArray) -> IntArray:
    """The ninth digit that makes the elfproef hold (10 where no digit can)."""
    rest = first8.copy()
    total = np.zeros_like(first8)
    for weight in _WEIGHTS[::-1]:  # from the eighth digit (weight 2) to the first (weight 9)
        total += (rest % 10) * weight
        rest //= 10
    return total % 11


def bsns_in_test_range() -> IntArray:
    """The 9,091 numbers in 999900000–999999999 that pass the elfproef, ascending.

    Example:
        >>> pool = bsns_in_test_range()
        >>> len(pool), int(pool[0]) in pool, 999993653 in pool
        (9091, True, True)
    """
    first8 = np.arange(99_990_000, 100_000_000, dtype=np.int64)
    check = _check_digits(first8)
    keep = check < 10
    return first8[keep] * 10 + check[keep]


def draw_bsns(count: int, rng: np.random.Generator) -> IntArray:
    """``count`` distinct proef-valid BSNs, in random order."""
    if count <= TEST_RANGE_CLIENTS:
        return rng.permutation(bsns_in_test_range())[:count]
    drawn = np.empty(0, dtype=np.int64)
    while len(drawn) < count:
        # From 01000000: never two leading zeros, never the sentinel 000000000. About one draw
        # in eleven has no check digit and a few repeat, hence the margin.
        first8 = rng.integers(1_000_000, 100_000_000, size=count + count // 6 + 1000)
        check = _check_digits(first8)
        fresh = first8[check < 10] * 10 + check[check < 10]
        # sort and drop neighbours: np.unique is many times slower on millions of int64
        drawn = np.sort(np.concatenate([drawn, fresh]))
        drawn = drawn[np.concatenate([[True], drawn[1:] != drawn[:-1]])]
    return rng.permutation(drawn)[:count]


def _statuses(
    provider: IntArray, forms: Sequence[ExportForm], mess: Messiness, rng: np.random.Generator
) -> IntArray:
    """Index into :data:`schema.STATUSES` of the status each row is meant to have."""
    rates = mess.row_rates()
    thresholds = np.cumsum(list(rates.values()))
    codes = np.array([_STATUS_INDEX[name] for name in rates] + [_STATUS_INDEX["valid"]])
    status = codes[np.searchsorted(thresholds, rng.random(len(provider)), side="right")]
    no_bsn = np.array([form.no_bsn for form in forms])[provider]
    numbers = np.array([form.bsn_as_number for form in forms])[provider]
    status[no_bsn] = _STATUS_INDEX["missing"]
    # A number column cannot hold a letter.
    status[numbers & (status == _STATUS_INDEX["non_digit"])] = _STATUS_INDEX["valid"]
    return status


def _written_parts(
    bsn: IntArray,
    status: IntArray,
    provider: IntArray,
    forms: Sequence[ExportForm],
    formatted: float,
    rng: np.random.Generator,
) -> dict[str, npt.NDArray[Any]]:
    """Per row: the number to write, its zero-padded width, letter position and style."""
    rows = len(bsn)
    numbers = np.array([form.bsn_as_number for form in forms])[provider]
    value = bsn.copy()
    width = np.full(rows, 9, dtype=np.int64)

    check = status == _STATUS_INDEX["checksum"]
    last = bsn % 10
    changed = (last + rng.integers(1, 10, size=rows)) % 10
    # 99999999x with x changed to 9 would be the unborn sentinel instead of a checksum error.
    changed[(bsn // 10 == 99_999_999) & (changed == 9)] = 5
    value[check] = (bsn - last + changed)[check]

    sentinel = status == _STATUS_INDEX["sentinel"]
    # 0 in a number column reads as a one-digit number, not as 000000000: only 999999999 there.
    unborn = (rng.random(rows) < 0.5) | numbers
    value[sentinel] = np.where(unborn, 999_999_999, 0)[sentinel]

    bad = status == _STATUS_INDEX["bad_length"]
    longer = rng.random(rows) < 0.5
    lead = rng.integers(1, 10, size=rows)
    value[bad & longer] = (lead * 1_000_000_000 + bsn)[bad & longer]
    width[bad & longer] = 10
    value[bad & ~longer] = (bsn // 100)[bad & ~longer]
    width[bad & ~longer] = 7

    value[status == _STATUS_INDEX["missing"]] = -1
    own_style = np.array([BSN_STYLES.index(form.bsn_style) for form in forms])[provider]
    random_style = np.where(rng.random(rows) < formatted, rng.integers(1, 4, size=rows), 0)
    style = np.where(own_style > 0, own_style, random_style)
    style[numbers | ~((status == _STATUS_INDEX["valid"]) | check)] = 0
    return {
        "_value": value,
        "_width": width,
        "_number": numbers,
        "_style": style,
        "_letter_at": rng.integers(0, 9, size=rows),
        "_letter": rng.integers(0, len(_LETTERS), size=rows),
    }


def _digits() -> pl.Expr:
    """The digits to write: zero-padded to their width, unless the column holds numbers."""
    digits = pl.col("_value").cast(pl.String)
    return pl.when(pl.col("_number")).then(digits).otherwise(digits.str.zfill(pl.col("_width")))


def _written_bsn() -> pl.Expr:
    """The BSN as the provider writes it, from the columns :func:`_written_parts` made."""
    text = pl.col("_text")
    at = pl.col("_letter_at")
    letter = pl.lit(pl.Series(_LETTERS)).gather(pl.col("_letter"))
    with_letter = text.str.slice(0, at) + letter + text.str.slice(at + 1)

    def grouped(sizes: tuple[int, ...], separator: str) -> pl.Expr:
        offsets = np.cumsum((0, *sizes[:-1]))
        parts = [text.str.slice(int(o), size) for o, size in zip(offsets, sizes, strict=True)]
        return pl.concat_str(parts, separator=separator)

    status = pl.col(schema.STATUS)
    return (
        pl.when(status == "missing")
        .then(None)
        .when(status == "non_digit")
        .then(with_letter)
        .when(pl.col("_style") == 1)
        .then(grouped((4, 2, 3), "."))
        .when(pl.col("_style") == 2)
        .then(grouped((3, 3, 3), " "))
        .when(pl.col("_style") == 3)
        .then(grouped((3, 3, 3), "-"))
        .otherwise(text)
        .alias("bsn_written")
    )


def render_rows(
    frame: pl.DataFrame,
    forms: Sequence[ExportForm],
    codes: Sequence[str],
    mess: Messiness,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Give drawn rows their BSN statuses and written BSNs, in the shape of :func:`synth_frame`.

    A building block for other generators (the 2014 round uses it).

    Args:
        frame: one row per delivered row, grouped by provider: ``provider`` (index into
            ``forms`` and ``codes``), ``person``, ``bsn`` (Int64, proef-valid), then the
            canonical fields, which are kept as they are.
        forms: written form per provider.
        codes: provider code per provider.
        mess: the row rates of BSN statuses and of formatted BSNs.
        rng: the generator's random numbers.
    """
    provider = frame["provider"].to_numpy()
    bsn = frame["bsn"].to_numpy()
    status = _statuses(provider, forms, mess, rng)
    parts = _written_parts(bsn, status, provider, forms, mess.formatted, rng)
    statuses = pl.lit(pl.Series(schema.STATUSES, dtype=pl.String))
    rendered = frame.with_columns(
        pl.Series(schema.STATUS, status),
        *(pl.Series(name, values) for name, values in parts.items()),
    ).with_columns(
        statuses.gather(pl.col(schema.STATUS)).cast(schema.STATUS_DTYPE).alias(schema.STATUS),
        _digits().alias("_text"),
    )
    # Most rows are written as their plain digits; only the few others are worked on.
    special = (parts["_style"] > 0) | np.isin(status, [_STATUS_INDEX[s] for s in _SPECIAL])
    at = np.flatnonzero(special)
    written = rendered["_text"].alias("bsn_written")
    if len(at):
        subset = rendered.select("_text", "_style", "_letter_at", "_letter", schema.STATUS)[at]
        written = written.scatter(at, subset.select(_written_bsn()).to_series())
    return rendered.with_columns(written).select(
        pl.lit(pl.Series(list(codes), dtype=pl.String))
        .gather(pl.col("provider"))
        .alias("provider"),
        pl.col("person"),
        pl.col("bsn").cast(pl.String).str.zfill(9),
        pl.col("bsn_written", schema.STATUS),
        pl.exclude("provider", "person", "bsn", "bsn_written", schema.STATUS, "^_.*$"),
    )
