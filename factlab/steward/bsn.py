"""Canonical form and validation of the BSN (burgerservicenummer), as Polars expressions.

Canonical form: exactly nine ASCII digits. Spaces, dots and hyphens are stripped; an eight-digit
number (an older BSN whose leading zero was lost, e.g. when stored as an integer) gets one leading
zero. Validation is the elfproef in its BSN variant: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11).
``000000000`` (BSN unknown) passes the proef and ``999999999`` (unborn child) does not; both are
sentinels, never persons.

Every row gets one status, checked in this order: ``missing`` (null or empty), ``non_digit``,
``bad_length`` (not 8 or 9 digits), ``sentinel``, ``checksum`` (fails the proef), ``valid``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from factlab import schema

__all__ = ["bsn_status", "canonical_bsn", "elfproef", "normalise_bsn_column"]

SENTINELS: Final = ("000000000", "999999999")
#: Written-form separators: white space (Unicode, so the no-break space of spreadsheets too), dot,
#: hyphen.
_SEPARATORS: Final = r"[\s.\-]"
# The same characters one by one: every code point with the Unicode White_Space property (what
# the regex class \s matches), then dot and hyphen. A literal multi-pattern replace removes them
# twice as fast as the regex.
_SEPARATOR_CHARS: Final = (
    *"\t\n\x0b\x0c\r \x85\xa0\u1680",
    *(chr(code) for code in range(0x2000, 0x200B)),
    *"\u2028\u2029\u202f\u205f\u3000.-",
)
_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Integers become their digits; integral floats too (Excel stores numbers as floats)."""
    if dtype.is_integer():
        # a negative number is not a BSN (its minus sign must not be stripped as a hyphen), and
        # the number 0 is the sentinel 000000000 that lost all its zeros
        return (
            pl.when(expr < 0)
            .then(pl.lit("x"))
            .when(expr == 0)
            .then(pl.lit(SENTINELS[0]))
            .otherwise(expr.cast(pl.String))
        )
    if dtype.is_decimal():
        return _as_text(expr.cast(pl.Float64), pl.Float64())
    if dtype.is_float():
        integral = expr.is_finite() & (expr == expr.round(0)) & (expr >= 0) & (expr < 1e10)
        return (
            pl.when(integral & (expr == 0))
            .then(pl.lit(SENTINELS[0]))
            .when(integral)
            .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
            .when(expr.is_not_null())
            .then(pl.lit("x"))  # a fraction or a huge number: not a BSN, reported as non_digit
            .otherwise(None)
        )
    return expr.cast(pl.String)


def canonical_bsn(expr: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """The written form reduced to digits only, with an 8-digit number left-padded to 9.

    Values that are not 8 or 9 digits after stripping are returned stripped but unpadded; use
    :func:`bsn_status` to know which rows hold a usable BSN.

    Example:
        >>> df = pl.DataFrame({"bsn": ["9999.93.653", " 999 993 653 ", "99999365"]})
        >>> df.select(canonical_bsn(pl.col("bsn"))).to_series().to_list()
        ['999993653', '999993653', '099999365']
    """
    dtype = dtype or pl.String()
    text = _as_text(expr, dtype)
    if not dtype.is_integer():
        text = text.str.replace_many(list(_SEPARATOR_CHARS), [""] * len(_SEPARATOR_CHARS))
    return pl.when(text.str.len_bytes() == 8).then(pl.lit("0") + text).otherwise(text)


def _passes(number: pl.Expr) -> pl.Expr:
    """True where a number below 10^9 (its nine digits zero-padded) passes the elfproef."""
    # The last weight -1 is taken as 10 (equal mod 11), so the sum stays an unsigned number
    # and the arithmetic runs on UInt32, about a quarter faster than on Int64.
    weights = (*_WEIGHTS[:-1], 10)
    total = pl.sum_horizontal(
        number // 10 ** (8 - position) % 10 * weight for position, weight in enumerate(weights)
    )
    return total % 11 == 0


def _nine_digit_number(canonical: pl.Expr, nine_digits: pl.Expr) -> pl.Expr:
    """The value of a nine-digit string as UInt32 (it always fits); null elsewhere."""
    return pl.when(nine_digits).then(canonical.cast(pl.UInt32, strict=False))


def elfproef(canonical: pl.Expr) -> pl.Expr:
    """True where a nine-digit string passes the BSN elfproef; null where it is no nine digits.

    Example:
        >>> s = pl.Series(["999993653", "999993654", None, "12x"])
        >>> pl.select(elfproef(pl.lit(s))).to_series().to_list()
        [True, False, None, None]
    """
    nine_digits = canonical.str.contains(r"(?-u)^[0-9]{9}$")
    # sum_horizontal skips nulls, so without this guard a null or non-digit value "passes"
    return pl.when(nine_digits).then(_passes(_nine_digit_number(canonical, nine_digits)))


def bsn_status(canonical: pl.Expr) -> pl.Expr:
    """The status of each canonical value, as :data:`factlab.schema.STATUS_DTYPE`.

    Example:
        >>> s = pl.Series(["999993653", "", "000000000", "12345", "99999x653", "999993654"])
        >>> pl.select(bsn_status(pl.lit(s))).to_series().to_list()
        ['valid', 'missing', 'sentinel', 'bad_length', 'non_digit', 'checksum']
    """
    # One digit test and one number per row; the number, not the string, is compared with the
    # sentinels and checked.
    all_digits = canonical.str.contains(r"(?-u)^[0-9]+$")
    nine_digits = all_digits & (canonical.str.len_bytes() == 9)
    number = _nine_digit_number(canonical, nine_digits)
    sentinel = (number == int(SENTINELS[0])) | (number == int(SENTINELS[1]))

    def status(name: str) -> pl.Expr:
        # an Enum value, not text: no string per row, and no text-to-Enum cast at the end
        return pl.lit(name, dtype=schema.STATUS_DTYPE)

    return (
        pl.when(canonical.is_null() | (canonical == ""))
        .then(status("missing"))
        .when(~all_digits)
        .then(status("non_digit"))
        .when(~nine_digits)
        .then(status("bad_length"))
        .when(sentinel)
        .then(status("sentinel"))
        .when(~_passes(number))
        .then(status("checksum"))
        .otherwise(status("valid"))
    )


def normalise_bsn_column(
    frame: pl.LazyFrame, column: str, *, canonical_name: str = "_bsn_canonical"
) -> pl.LazyFrame:
    """Add the canonical BSN (``canonical_name``) and status (``bsn_status``) columns.

    The source column is left in place; the caller decides what to keep.

    Example:
        >>> lf = pl.LazyFrame({"BSN": [999993653, None]})
        >>> normalise_bsn_column(lf, "BSN").collect()["bsn_status"].to_list()
        ['valid', 'missing']
    """
    dtype = frame.collect_schema()[column]
    canonical = canonical_bsn(pl.col(column), dtype)
    return frame.with_columns(canonical.alias(canonical_name)).with_columns(
        bsn_status(pl.col(canonical_name)).alias(schema.STATUS)
    )
