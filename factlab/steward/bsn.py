"""Canonical form and validation of the BSN (burgerservicenummer), as Polars expressions.

Canonical form: exactly nine ASCII digits. One rule reads every cell, whether it was typed as
text or as a number (docs/steward.md, "BSNs"):

- Text is first brought to Unicode NFKC (full-width digits become ASCII digits, the no-break
  space a space). Separators are then removed: white space, dots, hyphens and every other Unicode
  dash or minus sign, and the invisible zero-width space, word joiner and soft hyphen.
- A dash or minus sign before the first digit is a sign, not a separator: a signed number is no
  BSN (``non_digit``).
- Text that is one decimal number, ``999993653.0`` or ``99999365,0`` (one dot or comma between
  digits, as pandas and Excel write a number), is that number: its whole part when the fraction is
  zero, otherwise no BSN (``non_digit``). Scientific notation is the number too when it writes
  every digit (``9.99993653E8``); with fewer it may have been rounded and is no BSN.
  Dots as separators therefore need two or more of them (``9999.93.653``).
- A number (integer, Float64, Decimal) is read as the text that writes it: ``999993653`` and
  ``999993653.0`` are ``"999993653"``; a negative number, a fraction, infinity are no BSN; NaN is
  missing. Float32 and Float16 columns are refused: near 10^9 they hold only multiples of 64, so
  distinct BSNs may already have become one.
- Eight digits get one leading zero (an older BSN whose zero was lost); an all-zero value of up to
  nine digits (``0``, the number 0) is the sentinel ``000000000``, its zeros lost the same way.

Validation is the elfproef in its BSN variant: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11).
``000000000`` (BSN unknown) passes the proef and ``999999999`` (unborn child) does not; both are
sentinels, never persons.

Every row gets one status, checked in this order: ``missing`` (null or empty), ``non_digit``,
``bad_length`` (not 8 or 9 digits), ``sentinel``, ``checksum`` (fails the proef), ``valid``.

:func:`looks_like_bsn` keeps BSNs out of the text that must never hold one (text fields, labels,
provider codes): it finds one written anywhere in a text, not only a whole value that is one.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from typing import Final

import polars as pl

from factlab import schema
from factlab.errors import InputError

__all__ = [
    "bsn_status",
    "canonical_bsn",
    "check_bsn_dtype",
    "elfproef",
    "looks_like_bsn",
    "normalise_bsn_column",
]

SENTINELS: Final = ("000000000", "999999999")
#: Unicode dashes (general category Pd) and minus signs: separators between digits, a sign before
#: them. (Python's ``unicodedata`` lists the same Pd characters; a test checks it.)
_DASHES: Final = (
    "-\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a\u2e3a\u2e3b"
    "\u2e40\u2e5d\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead"
    # MINUS SIGN (also what NFKC makes of the superscript and subscript minus), HEAVY MINUS SIGN
    "\u2212\u2796"
)
# The separators one by one: every code point with the Unicode White_Space property (what the
# regex class \s matches), the dot, the dashes, and four invisible characters spreadsheets and
# web forms leave in numbers. A literal multi-pattern replace removes them twice as fast as a regex.
_SEPARATOR_CHARS: Final = (
    *"\t\n\x0b\x0c\r \x85\xa0\u1680",
    *(chr(code) for code in range(0x2000, 0x200B)),
    *"\u2028\u2029\u202f\u205f\u3000.",
    *_DASHES,
    # zero-width space, word joiner, zero-width no-break space, soft hyphen
    *"\u200b\u2060\ufeff\u00ad",
)
#: A dash or minus before the first digit: a sign.
_SIGNED: Final = "(?s)^[^0-9]*[" + "".join(f"\\x{{{ord(c):x}}}" for c in _DASHES) + "].*[0-9]"
#: One decimal number as pandas or Excel write it: whole part, one dot or comma, fraction; and
#: one whose fraction is zero, with its whole part.
_DECIMAL: Final = r"^\s*[0-9]+[.,][0-9]+\s*$"
_DECIMAL_WHOLE: Final = r"^\s*([0-9]+)[.,]0+\s*$"
#: Scientific notation with every digit written, e.g. ``9.99993653E8`` or ``9,99993653E+08``: as
#: many digits after the point as the exponent says. Fewer (``9.99994E+08``) may have been rounded
#: and more make a fraction: no BSN either way.
_SCIENTIFIC: Final = (
    r"^\s*(?P<lead>[0-9])(?:[.,](?P<digits>[0-9]{0,20}))?[eE]\+?(?P<exponent>[0-9]{1,3})\s*$"
)
#: Either of the two (a quick test, so that the two above only see such values).
_NUMBER_LIKE: Final = r"^\s*[0-9]+[.,][0-9]+\s*$|[eE]"
_ALL_DIGITS: Final = r"(?-u)^[0-9]+$"
_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2, -1)
#: What may stand, one character at a time, between the digits of a number written in a text:
#: the separators of a written BSN above, and the marks people and spreadsheets put between
#: groups of digits (comma, underscore, slash, apostrophes: ``999,993,653``, ``9'999'993'653``).
_GROUP_SEPARATORS: Final = (*_SEPARATOR_CHARS, ",", "_", "/", "'", "\u2019", "\u02bc")
#: A run of digits with at most one separator between two of them. A longest match is never
#: next to a further digit: that would have joined the run.
_DIGIT_RUN: Final = (
    "[0-9](?:[" + "".join(f"\\x{{{ord(c):x}}}" for c in _GROUP_SEPARATORS) + "]?[0-9])*"
)
#: A BSN in a run takes at most nine of its groups of digits (each holds one digit at least).
_MAX_GROUPS: Final = 9
#: Float64 holds every whole number below 2^53 exactly; above 10^18 a whole number is written as
#: nineteen digits (bad_length), which is what any larger number is too.
_EXACT_INT64: Final = 1e18


def check_bsn_dtype(dtype: pl.DataType, column: str = "BSN") -> None:
    """Refuse a BSN column whose type cannot hold every BSN exactly, or holds no numbers.

    Raises:
        InputError: naming the column and its type (never a value).

    Example:
        >>> check_bsn_dtype(pl.Float32(), "BSN")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: BSN column 'BSN' is stored as Float32, ...
    """
    if dtype.is_float() and dtype != pl.Float64():
        raise InputError(
            f"BSN column {column!r} is stored as {dtype}, which cannot hold every nine-digit "
            "number exactly (Float32 near 10^9 holds only multiples of 64), so distinct BSNs may "
            "have become one; export the BSN column as text"
        )
    readable = (
        dtype.is_integer()
        or dtype.is_float()
        or dtype.is_decimal()
        or isinstance(dtype, (pl.String, pl.Categorical, pl.Enum, pl.Null))
    )
    if not readable:
        raise InputError(
            f"BSN column {column!r} is stored as {dtype}, which holds no BSN; "
            "export the BSN column as text"
        )


def _finish_digits(digits: pl.Expr) -> pl.Expr:
    """ASCII digits made canonical: eight get a leading zero, an all-zero value is 000000000."""
    length = digits.str.len_bytes()
    # only the few short values are tested for zeros; the rest are null there, which costs nothing
    zeros = pl.when(length < 8).then(digits).str.contains(r"^0+$")
    return (
        pl.when(length == 8)
        .then(pl.lit("0") + digits)
        .when(zeros)
        .then(pl.lit(SENTINELS[0]))
        .otherwise(digits)
    )


def _number_text(expr: pl.Expr) -> pl.Expr:
    """A Float64 as the text that writes it: a whole number as its digits, NaN as nothing."""
    whole = expr.is_finite() & (expr == expr.round(0))
    return (
        pl.when(expr.is_nan())
        .then(None)  # pandas' missing value, which it writes as an empty cell
        .when(whole & (expr.abs() < _EXACT_INT64))
        .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
        .when(whole)  # nineteen digits or more: bad_length, whichever
        .then(pl.when(expr > 0).then(pl.lit("9" * 19)).otherwise(pl.lit("-" + "9" * 19)))
        .otherwise(expr.cast(pl.String))  # a fraction or an infinity (999993653.5, inf)
    )


def _steps(source: pl.Expr, dtype: pl.DataType, out: str) -> list[dict[str, pl.Expr]]:
    """The canonical form of ``source`` as successive columns; the last one is ``out``.

    Each step refers to the columns of the steps before it, so that no part is computed twice
    (Polars repeats a sub-expression used in several places). Most values are plain digits, most
    of the others ASCII with separators: each rule only sees the values it may apply to, the
    others being null there, which costs next to nothing.
    """

    def col(step: str) -> pl.Expr:
        return pl.col(f"{out}_{step}")

    # a negative integer keeps its sign, and so is no BSN by the rule for text
    text = _number_text(source) if dtype.is_float() else source.cast(pl.String)
    raw, written, number = col("raw"), col("written"), col("number")
    scientific = col("scientific")
    digits = scientific.struct.field("digits").fill_null("")
    spelled_out = digits.str.len_chars() == scientific.struct.field("exponent").cast(pl.Int32)
    separators = list(_SEPARATOR_CHARS)
    candidate = (
        pl.when(col("signed"))
        .then(None)
        .when(col("whole").is_not_null())
        .then(col("whole"))
        .when(col("fraction"))
        .then(None)
        .when(scientific.struct.field("lead").is_not_null())
        .then(pl.when(spelled_out).then(scientific.struct.field("lead") + digits))
        .otherwise(col("stripped"))
    )
    candidate_column = col("candidate")
    return [
        {f"{out}_text": text},
        {f"{out}_plain": col("text").str.contains(_ALL_DIGITS)},
        {f"{out}_raw": pl.when(~col("plain")).then(col("text"))},
        {
            f"{out}_written": pl.coalesce(
                pl.when(raw.str.len_bytes() != raw.str.len_chars()).then(raw).str.normalize("NFKC"),
                raw,
            )
        },
        {
            f"{out}_signed": written.str.contains(_SIGNED),
            f"{out}_stripped": written.str.replace_many(separators, [""] * len(separators)),
            f"{out}_number": pl.when(written.str.contains(_NUMBER_LIKE)).then(written),
        },
        {
            f"{out}_whole": number.str.extract(_DECIMAL_WHOLE, 1),
            f"{out}_fraction": number.str.contains(_DECIMAL),
            f"{out}_scientific": number.str.extract_groups(_SCIENTIFIC),
        },
        {f"{out}_candidate": candidate},  # null: a signed number or a fraction
        {
            out: pl.when(col("plain"))
            .then(_finish_digits(col("text")))
            .when(candidate_column.str.contains(_ALL_DIGITS))
            .then(_finish_digits(candidate_column))
            .when(candidate_column == "")
            .then(pl.lit(""))  # nothing but separators: missing
            # anything else is no BSN (non_digit), and is kept as written, so that the canonical
            # form of a canonical form is itself
            .otherwise(written.str.strip_chars())
        },
    ]


def _with_canonical(frame: pl.LazyFrame, column: str, out: str) -> pl.LazyFrame:
    """``frame`` with the canonical form of ``column`` added as ``out``."""
    dtype = frame.collect_schema()[column]
    check_bsn_dtype(dtype, column)
    steps = _steps(pl.col(column), dtype, out)
    for step in steps:
        frame = frame.with_columns(expr.alias(name) for name, expr in step.items())
    temporary = [name for step in steps[:-1] for name in step]
    return frame.drop(temporary)


def _canonical_series(values: pl.Series) -> pl.Series:
    frame = _with_canonical(pl.LazyFrame([values.alias("value")]), "value", "canonical")
    return frame.collect().get_column("canonical")


def _valid_series(values: pl.Series) -> pl.Series:
    frame = _with_canonical(pl.LazyFrame([values.alias("value")]), "value", "canonical")
    return frame.select(bsn_status(pl.col("canonical")) == "valid").collect().to_series()


def canonical_bsn(expr: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """The written form reduced to digits only, with an 8-digit number left-padded to 9.

    Values that are no BSN of 8 or 9 digits are returned stripped (a signed number or a fraction
    as written); use :func:`bsn_status` to know which rows hold a usable BSN. On a frame's
    column, :func:`normalise_bsn_column` does the same in plain expressions, faster.

    Raises:
        InputError: ``dtype`` (or that of the values) cannot hold a BSN exactly (Float32,
            Float16) or holds none (dates, lists, …).

    Example:
        >>> df = pl.DataFrame({"bsn": ["9999.93.653", " 999 993 653 ", "99999365", "999993653.0"]})
        >>> df.select(canonical_bsn(pl.col("bsn"))).to_series().to_list()
        ['999993653', '999993653', '099999365', '999993653']
    """
    if dtype is not None:
        check_bsn_dtype(dtype, expr.meta.output_name(raise_if_undetermined=False) or "BSN")
    return expr.map_batches(_canonical_series, return_dtype=pl.String, is_elementwise=True)


def looks_like_bsn(expr: pl.Expr) -> pl.Expr:
    """True where a value is, or holds anywhere in it, a BSN; False elsewhere (never null).

    For the checks that keep BSNs out of text that must never hold one (a municipality column
    mapped onto the BSN column, a label, a provider code). A value is flagged when

    - the whole value, read as a written BSN by the rule of :func:`canonical_bsn`, is a valid
      BSN (``9999.93.653``, ``999993653.0``, ``9.99993653E8``, full-width digits), or
    - anywhere in it, once brought to NFKC and with the decimal digits of every script read as
      ASCII digits (``٩٩٩٩٩٣٦٥٣``), a run of digits with at most one separator between two of
      them (white space, ``.``, ``-`` and the other dashes, ``,``, ``_``, ``/``, apostrophes)
      holds a BSN: one or more of the run's consecutive groups of digits that make eight or nine
      digits passing the elfproef (eight as an older BSN that lost its leading zero), or more
      digits whose extra leading ones are zeros (``0999991723``). So ``BSN 999993653``,
      ``'999993653``, ``999,993,653``, ``999/993/653`` and each BSN of
      ``999993653/999991723`` are found. A run is taken whole where its digits stand without a
      separator: ``1999993653`` holds no BSN.

    Sentinels are no person's number and are not flagged. Any dtype is read as its text (a
    Categorical, a number). Values without a digit or shorter than four characters take a short
    way; still, run it on a column's distinct values where it can, not on every row.

    Example:
        >>> s = pl.Series(["Assen", "999 993 653", "0106", "999993654", None, "000000000",
        ...                "BSN 999.993.653,", "2013-2014"])
        >>> pl.select(looks_like_bsn(pl.lit(s))).to_series().to_list()
        [False, True, False, False, False, False, True, False]
    """
    text = expr.cast(pl.String)
    # a BSN needs at least four characters (9.9E8); most codes and names have no digit at all
    maybe = pl.when((text.str.len_bytes() >= 4) & text.str.contains(r"\p{N}")).then(text)
    flagged = maybe.map_batches(_bsn_like_series, return_dtype=pl.Boolean, is_elementwise=True)
    return flagged.fill_null(False)


def _bsn_like_series(values: pl.Series) -> pl.Series:
    """:func:`looks_like_bsn` of text values (False where a value is null)."""
    # one call that returns the verdict: bsn_status(canonical_bsn(...)) would compute the
    # canonical form once for every place the status uses it
    return _valid_series(values) | _bsn_in_text(values)


@functools.cache
def _other_digits() -> tuple[list[str], list[str]]:
    """Every decimal digit (Unicode Nd) that is not ASCII, and the ASCII digit of each.

    NFKC leaves most scripts' digits (Arabic-Indic, Devanagari, ...) as they are. Found once,
    when first needed (a tenth of a second), not on import.
    """
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    digits = [char for char in re.findall(r"\d", every) if not char.isascii()]
    return digits, [str(unicodedata.decimal(char)) for char in digits]


def _ascii_digits(text: pl.Expr) -> pl.Expr:
    """Text in NFKC with every decimal digit written as its ASCII digit (ASCII text as it is)."""
    digits, ascii_digits = _other_digits()
    other = pl.when(text.str.len_bytes() != text.str.len_chars()).then(text)
    return pl.coalesce(other.str.normalize("NFKC").str.replace_many(digits, ascii_digits), text)


def _bsn_in_text(values: pl.Series) -> pl.Series:
    """True where a text holds a BSN in a run of digits (see :func:`looks_like_bsn`).

    The runs of eight digits or more are rows, each with its groups of digits; the windows of
    consecutive groups that could hold a BSN are rows too, and the elfproef runs on all at once.
    A window takes at most nine groups: one of more groups holds a BSN only with leading zeros,
    and so does the window without them.
    """
    frame = pl.DataFrame({"text": values.cast(pl.String)}).with_row_index("value")
    digit = "[0-9]"
    runs = (
        frame.lazy()
        .select("value", _ascii_digits(pl.col("text")).alias("text"))
        .filter(pl.col("text").str.count_matches(digit) >= 8)
        .select("value", pl.col("text").str.extract_all(_DIGIT_RUN).alias("run"))
        .explode("run")
        .filter(pl.col("run").str.count_matches(digit) >= 8)
        .select("value", pl.col("run").str.extract_all("[0-9]+").alias("group"))
        .collect()  # read by the two ways below: found once
        .lazy()
    )
    # Most runs are one group of digits, which is their only window.
    whole = pl.col("group").list.len() == 1
    single = runs.filter(whole).select("value", pl.col("group").list.first().alias("window"))
    groups = runs.filter(~whole).with_row_index("run_id").explode("group")
    # Column g<k> is the group k places further in the same run (null past the run's end); rows
    # are in run order, so a plain shift does it, at a fraction of the cost of one per run.
    same_run = [pl.col("run_id").shift(-step) == pl.col("run_id") for step in range(_MAX_GROUPS)]
    groups = groups.with_columns(
        pl.when(same_run[step]).then(pl.col("group").shift(-step)).alias(f"g{step}")
        for step in range(_MAX_GROUPS)
    )
    # Column d<k>: the digits of the window of k + 1 groups (null past the run's end).
    lengths = [pl.col(f"g{step}").str.len_bytes() for step in range(_MAX_GROUPS)]
    groups = groups.with_columns(
        pl.sum_horizontal(lengths[: step + 1], ignore_nulls=False).alias(f"d{step}")
        for step in range(_MAX_GROUPS)
    )
    # Only the windows that can hold a BSN are written out: eight or nine digits, or more when
    # the first group starts with a zero. Each start has one or two such widths, not nine.
    leading_zero = pl.col("group").str.starts_with("0")
    several = [
        groups.filter(
            (pl.col(f"d{width - 1}") >= 8) & ((pl.col(f"d{width - 1}") <= 9) | leading_zero)
        ).select(
            "value", pl.concat_str(pl.col(f"g{step}") for step in range(width)).alias("window")
        )
        for width in range(1, _MAX_GROUPS + 1)
    ]
    window = pl.col("window")
    significant = window.str.strip_chars_start("0")
    # eight digits or more of which at most nine are not leading zeros, as nine digits
    nine = pl.when((window.str.len_bytes() >= 8) & (significant.str.len_bytes() <= 9)).then(
        significant.str.zfill(9)
    )
    person = elfproef(nine) & ~nine.is_in(list(SENTINELS))
    found = (
        pl.concat([single, *several])
        .filter(person.fill_null(False))
        .select("value")
        .unique()
        .collect()
        .get_column("value")
    )
    return frame.get_column("value").is_in(found.implode())


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

    Raises:
        InputError: the column's dtype cannot hold a BSN exactly (Float32, Float16) or holds
            none (dates, lists, …); named with the column, never a value.

    Example:
        >>> lf = pl.LazyFrame({"BSN": [999993653, None]})
        >>> normalise_bsn_column(lf, "BSN").collect()["bsn_status"].to_list()
        ['valid', 'missing']
    """
    return _with_canonical(frame, column, canonical_name).with_columns(
        bsn_status(pl.col(canonical_name)).alias(schema.STATUS)
    )
