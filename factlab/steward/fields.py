"""Reading the optional client fields into their canonical form, as Polars expressions.

Each reader takes the source column's expression and dtype and returns an expression of the output
dtype in :data:`factlab.schema.FIELD_DTYPES`. A value that is present in the source but cannot be
read becomes null; the pseudonymiser counts those per column ("unreadable") and reports the rows.
A cost that is read but cannot be a row's cost (:func:`cost_issues`: negative, above
:data:`factlab.schema.MAX_ROW_COST`, NaN or infinite) becomes null too, counted by its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

from factlab import schema
from factlab.steward.value_maps import WHOLE_NUMBER, ValueMap

__all__ = [
    "apply_value_map",
    "cost_issues",
    "is_plain_amount",
    "plausible_cost",
    "read_birth_year",
    "read_cost",
    "read_cost_text",
    "read_date",
    "read_sex",
    "read_text",
]

#: Date forms tried in turn when a mapping names none.
DEFAULT_DATE_FORMATS: Final = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y%m%d", "%d.%m.%Y")

_SEX_CODES: Final = {
    "m": "M",
    "man": "M",
    "male": "M",
    "jongen": "M",
    "1": "M",
    "v": "V",
    "f": "V",
    "vrouw": "V",
    "female": "V",
    "meisje": "V",
    "2": "V",
    "x": "X",
    "o": "X",
    "overig": "X",
    "other": "X",
    "anders": "X",
    "3": "X",
}
_SEX_UNKNOWN: Final = ("onbekend", "unknown", "u", "0", "9", "-")


def read_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Text with surrounding space removed; empty becomes null; integral numbers lose ``.0``.

    Example:
        >>> df = pl.DataFrame({"v": [" Assen ", "", None]})
        >>> df.select(read_text(pl.col("v"), pl.String())).to_series().to_list()
        ['Assen', None, None]
    """
    if dtype.is_float():
        integral = expr == expr.round(0)
        text = (
            pl.when(integral)
            .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(expr.cast(pl.String))
        )
    else:
        text = expr.cast(pl.String)
    text = text.str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def apply_value_map(
    expr: pl.Expr, values: Mapping[str, str], *, keep_unmapped: bool = True
) -> pl.Expr:
    """Each value of ``expr`` (text from :func:`read_text`) mapped through a value map.

    ``values`` is a :class:`~factlab.steward.value_maps.ValueMap` or a plain table of exact
    codes, prefixes (``"45*"``) and ranges (``"40-44"``): the exact code wins, then the longest
    prefix, then the range. A value no key matches is kept as it is, or becomes null when
    ``keep_unmapped`` is false. The result is text. Everything is a Polars expression: a hash
    lookup for the exact codes, one per prefix length and a comparison per range, which the
    steward's step runs on a column's distinct values where it has few.

    Raises:
        ConfigError: ``values`` is a plain table that is no valid value map.

    Example:
        >>> codes = {"45*": "ambulant", "40-44": "verblijf", "41": "dagbehandeling"}
        >>> df = pl.DataFrame({"code": ["45A01", "041", "43", "41", "50", None]})
        >>> df.select(apply_value_map(pl.col("code"), codes)).to_series().to_list()
        ['ambulant', 'verblijf', 'verblijf', 'dagbehandeling', '50', None]
        >>> mapped = apply_value_map(pl.col("code"), codes, keep_unmapped=False)
        >>> df.select(mapped).to_series().to_list()[3:]
        ['dagbehandeling', None, None]
    """
    value_map = ValueMap.of(values)
    if not value_map and keep_unmapped:
        return expr
    text = expr.cast(pl.String)
    found: list[pl.Expr] = []
    if value_map.exact:
        exact = dict(value_map.exact)
        found.append(text.replace_strict(exact, default=None, return_dtype=pl.String))
    by_length: dict[int, dict[str, str]] = {}
    for prefix, mapped in value_map.prefixes:  # longest first
        by_length.setdefault(len(prefix), {})[prefix] = mapped
    for length, table in by_length.items():
        start = text.str.slice(0, length)
        found.append(start.replace_strict(table, default=None, return_dtype=pl.String))
    if value_map.ranges:
        number = pl.when(text.str.contains(WHOLE_NUMBER)).then(text.cast(pl.Int64, strict=False))
        # ranges do not overlap: at most one of these is not null
        found.extend(
            pl.when(number.is_between(first, last)).then(pl.lit(mapped, dtype=pl.String))
            for first, last, mapped in value_map.ranges
        )
    if keep_unmapped:
        found.append(text)
    if not found:
        return pl.lit(None, dtype=pl.String)
    return pl.coalesce(found) if len(found) > 1 else found[0]


def read_date(
    expr: pl.Expr, dtype: pl.DataType, formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
) -> pl.Expr:
    """A Date from native dates, datetimes, ``YYYYMMDD`` integers or text in ``formats``.

    Example:
        >>> df = pl.DataFrame({"d": ["2013-01-01", "01-02-2013", "31/12/2012", "20130105", "x"]})
        >>> [str(d) for d in df.select(read_date(pl.col("d"), pl.String())).to_series()]
        ['2013-01-01', '2013-02-01', '2012-12-31', '2013-01-05', 'None']
    """
    if dtype == pl.Date():
        return expr
    if isinstance(dtype, pl.Datetime):
        return expr.dt.date()
    text = read_text(expr, dtype)
    # a timestamp written as text keeps only its date part
    dates = text.str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "")
    parsed = [dates.str.to_date(fmt, strict=False) for fmt in formats]
    if "%Y-%m-%d" not in formats:
        # An Excel date cell is read as text, "2013-01-01 00:00:00": a date whatever the formats.
        parsed.append(text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).dt.date())
    return pl.coalesce(parsed)


def read_birth_year(
    birth_year: pl.Expr | None, birth_date: pl.Expr | None, *, latest_year: int
) -> pl.Expr:
    """Birth year from a year column, else from a birth date; outside 1900..latest is unreadable."""
    parts: list[pl.Expr] = []
    if birth_year is not None:
        parts.append(birth_year)
    if birth_date is not None:
        parts.append(birth_date.dt.year())
    year = pl.coalesce([part.cast(pl.Int32, strict=False) for part in parts])
    return pl.when(year.is_between(1900, latest_year)).then(year).otherwise(None).cast(pl.Int16)


def read_sex(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """``M``, ``V`` or ``X`` from common Dutch and English codes; unknown codes become null.

    Example:
        >>> df = pl.DataFrame({"s": ["Vrouw", "m", "X", "onbekend", "?"]})
        >>> df.select(read_sex(pl.col("s"), pl.String())).to_series().to_list()
        ['V', 'M', 'X', None, None]
    """
    text = read_text(expr, dtype).str.to_lowercase()
    return text.replace_strict(_SEX_CODES, default=None, return_dtype=pl.String)


def sex_is_unknown_code(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """True where the source explicitly says the sex is unknown (not an unreadable value)."""
    return read_text(expr, dtype).str.to_lowercase().is_in(_SEX_UNKNOWN)


#: Amounts written plainly (``1234.56``, ``-12``, ``7``), which every reading below turns into
#: the same number as a plain cast does.
_PLAIN_AMOUNT: Final = r"^-?[0-9]+(\.[0-9]+)?$"
#: The same, but not ``1.500`` or ``12.345``, which a Dutch file means as thousands.
_PLAIN_AMOUNT_DUTCH: Final = r"^-?([0-9]+|[0-9]{4,}\.[0-9]+|[0-9]+\.([0-9]{1,2}|[0-9]{4,}))$"


def read_cost(
    expr: pl.Expr, dtype: pl.DataType, *, decimal_comma: bool | None, checked: bool = True
) -> pl.Expr:
    """Euros as Float64 from numbers or text such as ``€ 1.234,56`` or ``1,234.56``.

    With ``decimal_comma`` True (Dutch files) ``,`` is the decimal separator and ``.`` groups
    thousands; with False the reverse. With None each value decides by its last separator, and a
    value with only dot-separated groups of three (``1.500``) is read as a decimal point.

    A cost that cannot be a row's cost (negative, above :data:`factlab.schema.MAX_ROW_COST`, NaN
    or infinite: :func:`cost_issues`) becomes null, unless ``checked`` is False: then it is
    returned as read, for the caller to count by :func:`cost_issues`.

    Example:
        >>> df = pl.DataFrame({"c": ["€ 1.234,56", "12,5", "1.500", "99.95", "", "n.v.t."]})
        >>> df.select(read_cost(pl.col("c"), pl.String(), decimal_comma=True)).to_series().to_list()
        [1234.56, 12.5, 1500.0, 99.95, None, None]
        >>> df = pl.DataFrame({"c": ["1.234,56", "1,234.56", "12,5", "-5", "1e300"]})
        >>> df.select(read_cost(pl.col("c"), pl.String(), decimal_comma=None)).to_series().to_list()
        [1234.56, 1234.56, 12.5, None, None]
    """
    if dtype.is_numeric():
        amount = expr.cast(pl.Float64)
        return plausible_cost(amount) if checked else amount
    return read_cost_text(read_text(expr, dtype), decimal_comma=decimal_comma, checked=checked)


def cost_issues(amount: pl.Expr) -> dict[str, pl.Expr]:
    """Why each amount, as read, cannot be a row's cost: a flag per reason (null: no amount).

    ``negative``: below 0 (a credit note is netted against its episode at the source);
    ``too_large``: above :data:`factlab.schema.MAX_ROW_COST` euros (10^9), far above any episode
    of youth care; ``not_finite``: NaN or infinite (``inf``, or ``1e400`` written as text). At
    most one holds for a row; :func:`plausible_cost` keeps the amounts for which none holds.

    Example:
        >>> df = pl.DataFrame({"c": [12.5, -5.0, 1e300, float("inf"), float("nan"), None]})
        >>> flags = cost_issues(pl.col("c"))
        >>> df.select(**flags).fill_null(False).sum().row(0, named=True)
        {'negative': 1, 'too_large': 1, 'not_finite': 2}
    """
    finite = amount.is_finite()
    return {
        "negative": finite & (amount < 0),
        "too_large": finite & (amount > schema.MAX_ROW_COST),
        "not_finite": ~finite,
    }


def plausible_cost(amount: pl.Expr) -> pl.Expr:
    """The amounts that can be a row's cost (0 to :data:`factlab.schema.MAX_ROW_COST` euros);
    null elsewhere (see :func:`cost_issues`).

    Example:
        >>> df = pl.DataFrame({"c": [12.5, -5.0, 1e300, float("nan"), 0.0]})
        >>> df.select(plausible_cost(pl.col("c"))).to_series().to_list()
        [12.5, None, None, None, 0.0]
    """
    return pl.when(amount.is_finite() & amount.is_between(0, schema.MAX_ROW_COST)).then(amount)


def is_plain_amount(text: pl.Expr, *, decimal_comma: bool | None) -> pl.Expr:
    """True where ``text`` (from :func:`read_text`) is an amount a plain cast reads correctly.

    Example:
        >>> df = pl.DataFrame({"c": ["12.50", "1.500", "12,5", None]})
        >>> df.select(is_plain_amount(pl.col("c"), decimal_comma=True)).to_series().to_list()
        [True, False, False, None]
    """
    return text.str.contains(_PLAIN_AMOUNT_DUTCH if decimal_comma else _PLAIN_AMOUNT)


def read_cost_text(
    text: pl.Expr,
    *,
    decimal_comma: bool | None,
    plain: pl.Expr | None = None,
    checked: bool = True,
) -> pl.Expr:
    """:func:`read_cost` of text from :func:`read_text`; ``plain`` is its
    :func:`is_plain_amount`, when that is a column already.

    Example:
        >>> df = pl.DataFrame({"c": ["€ 1.234,56", "99.95", None, "-5", "inf", "NaN"]})
        >>> df.select(read_cost_text(pl.col("c"), decimal_comma=True)).to_series().to_list()
        [1234.56, 99.95, None, None, None, None]
        >>> unchecked = read_cost_text(pl.col("c"), decimal_comma=True, checked=False)
        >>> df.select(unchecked).to_series().to_list()[3:5]
        [-5.0, inf]
    """
    if plain is None:
        plain = is_plain_amount(text, decimal_comma=decimal_comma)
    # Most amounts are written plainly and are cast as they are. The separator rules below
    # (several regular expressions and replacements per value) only see the other values: the
    # plain ones are null there, which costs next to nothing. Both give the same number for a
    # plain amount, since the rules leave it unchanged before the same cast.
    written = _read_written_cost(pl.when(~plain).then(text), decimal_comma=decimal_comma)
    amount = pl.when(plain).then(text.cast(pl.Float64, strict=False)).otherwise(written)
    return plausible_cost(amount) if checked else amount


def _read_written_cost(text: pl.Expr, *, decimal_comma: bool | None) -> pl.Expr:
    """The separator rules of :func:`read_cost` on text with surrounding space removed."""
    text = text.str.replace_all(r"[€\s]|EUR", "")
    comma_decimal = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    point_decimal = text.str.replace_all(",", "", literal=True)
    if decimal_comma is None:
        # the last separator written is the decimal one
        last_is_comma = text.str.contains(r",[0-9]*$")
        text = pl.when(last_is_comma).then(comma_decimal).otherwise(point_decimal)
    elif decimal_comma:
        # "1.234" is a thousand in a Dutch file; "12.5" (no group of three) is twelve and a half
        thousands_only = text.str.contains(r"^-?\d{1,3}(\.\d{3})+$")
        text = (
            pl.when(text.str.contains(",", literal=True) | thousands_only)
            .then(comma_decimal)
            .otherwise(text)
        )
    else:
        text = point_decimal
    return text.cast(pl.Float64, strict=False)
