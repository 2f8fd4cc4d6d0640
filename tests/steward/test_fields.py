"""Readers of the optional client fields: text, dates, birth year, sex, cost."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab.steward.fields import (
    _read_written_cost,
    apply_value_map,
    cost_issues,
    read_birth_year,
    read_cost,
    read_date,
    read_sex,
    read_text,
    sex_is_unknown_code,
)


def run(
    expr_of: object, values: Sequence[object], dtype: pl.DataType | None = None
) -> list[object]:
    """Apply ``expr_of(pl.col("v"), dtype)`` to ``values`` and return the result as a list."""
    series = pl.Series("v", values, dtype=dtype)
    expr = expr_of(pl.col("v"), series.dtype)  # type: ignore[operator]
    return pl.DataFrame([series]).select(expr.alias("out"))["out"].to_list()


# --- text ----------------------------------------------------------------------------------------


def test_read_text() -> None:
    assert run(read_text, [" Assen ", "", "   ", None, "Tynaarlo"]) == [
        "Assen",
        None,
        None,
        None,
        "Tynaarlo",
    ]


def test_read_text_of_excel_numbers_drops_the_fraction_zero() -> None:
    # a product category typed into Excel arrives as 45.0; the code is "45"
    assert run(read_text, [45.0, 41.0, 4.5, None]) == ["45", "41", "4.5", None]
    assert run(read_text, [45, 41]) == ["45", "41"]


def test_apply_value_map() -> None:
    expr = apply_value_map(pl.col("v"), {"ambu": "ambulant", "dag": "dagbehandeling"})
    out = pl.DataFrame({"v": ["ambu", "dag", "verblijf", None]}).select(expr)["v"].to_list()
    assert out == ["ambulant", "dagbehandeling", "verblijf", None]
    unchanged = pl.DataFrame({"v": ["a"]}).select(apply_value_map(pl.col("v"), {}))
    assert unchanged["v"].to_list() == ["a"]


# --- dates ---------------------------------------------------------------------------------------


def test_read_date_from_text_in_every_default_form() -> None:
    values = ["2013-01-01", "01-02-2013", "31/12/2012", "20130105", "05.03.2013", " 2013-01-07 "]
    assert run(read_date, values) == [
        date(2013, 1, 1),
        date(2013, 2, 1),
        date(2012, 12, 31),
        date(2013, 1, 5),
        date(2013, 3, 5),
        date(2013, 1, 7),
    ]


@pytest.mark.parametrize("value", ["31-02-2013", "onbekend", "2013-13-01", "1-1", "x"])
def test_unreadable_dates_become_null(value: str) -> None:
    assert run(read_date, [value, "2013-01-01"]) == [None, date(2013, 1, 1)]


def test_timestamps_written_as_text_keep_their_date() -> None:
    values = ["2013-01-01 00:00:00", "01-02-2013 13:45", "2013-03-01T08:00:00.000"]
    assert run(read_date, values) == [date(2013, 1, 1), date(2013, 2, 1), date(2013, 3, 1)]


def test_native_dates_datetimes_and_integers() -> None:
    assert run(read_date, [date(2013, 1, 1), None]) == [date(2013, 1, 1), None]
    assert run(read_date, [datetime(2013, 1, 1, 12, 30)]) == [date(2013, 1, 1)]
    assert run(read_date, [20130101, 20121231]) == [date(2013, 1, 1), date(2012, 12, 31)]
    assert run(read_date, [20130101.0]) == [date(2013, 1, 1)]


def test_an_explicit_format_is_the_only_one_tried() -> None:
    def us_dates(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return read_date(expr, dtype, ("%m/%d/%Y",))

    # 02/01/2013 is 2 January in Dutch but 1 February in the format the mapping names
    assert run(us_dates, ["02/01/2013", "2013-01-01"]) == [date(2013, 2, 1), None]
    assert run(read_date, ["02/01/2013"]) == [date(2013, 1, 2)]


# --- birth year ----------------------------------------------------------------------------------


def test_birth_year_from_a_date_or_a_year_column() -> None:
    frame = pl.DataFrame(
        {
            "year": ["2010", None, "1899", "2031", "abc"],
            "date": [date(2011, 5, 1), date(2009, 1, 1), None, None, date(2012, 1, 1)],
        }
    )
    expr = read_birth_year(pl.col("year"), pl.col("date"), latest_year=2027)
    out = frame.select(expr.alias("y"))
    assert out.schema["y"] == pl.Int16()
    # the year column wins; outside 1900..latest is no birth year; a bad year falls back to the date
    assert out["y"].to_list() == [2010, 2009, None, None, 2012]


def test_birth_year_from_a_date_only() -> None:
    frame = pl.DataFrame({"date": [date(2010, 2, 1), None]})
    out = frame.select(read_birth_year(None, pl.col("date"), latest_year=2030).alias("y"))
    assert out["y"].to_list() == [2010, None]


# --- sex -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("M", "M"),
        ("man", "M"),
        ("Jongen", "M"),
        ("1", "M"),
        ("male", "M"),
        ("V", "V"),
        ("vrouw", "V"),
        ("MEISJE", "V"),
        ("f", "V"),
        ("2", "V"),
        ("X", "X"),
        ("overig", "X"),
        ("3", "X"),
        (" v ", "V"),
        ("onbekend", None),
        ("?", None),
        ("", None),
        (None, None),
    ],
)
def test_read_sex(written: str | None, expected: str | None) -> None:
    assert run(read_sex, [written], pl.String()) == [expected]


def test_sex_codes_from_excel_numbers() -> None:
    assert run(read_sex, [1.0, 2.0, 3.0, 7.0]) == ["M", "V", "X", None]


def test_explicitly_unknown_sex_is_not_an_unreadable_value() -> None:
    values = ["onbekend", "Unknown", "0", "9", "-", "?", "V"]
    assert run(sex_is_unknown_code, values) == [True, True, True, True, True, False, False]


# --- cost ----------------------------------------------------------------------------------------


def dutch(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return read_cost(expr, dtype, decimal_comma=True)


def english(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return read_cost(expr, dtype, decimal_comma=False)


def test_cost_with_a_decimal_comma() -> None:
    values = ["€ 1.234,56", "12,5", "1.500", "99.95", "1.234.567,8", "-250,00", "EUR 10", "", None]
    expected = [1234.56, 12.5, 1500.0, 99.95, 1234567.8, -250.0, 10.0, None, None]

    def unchecked(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return read_cost(expr, dtype, decimal_comma=True, checked=False)

    assert run(unchecked, values) == expected
    # a negative cost is no row's cost: read, then left empty (the steward counts it)
    assert run(dutch, values) == [*expected[:5], None, *expected[6:]]


@pytest.mark.parametrize("dtype", [pl.String(), pl.Float64()])
def test_costs_that_cannot_be_a_rows_cost_are_left_empty_by_reason(dtype: pl.DataType) -> None:
    written = ["12,5", "-5", "1e300", "inf", "-inf", "NaN", "1000000000", "1000000001", "0"]
    numbers = [12.5, -5.0, 1e300, math.inf, -math.inf, math.nan, 1e9, 1e9 + 1, 0.0]
    values: list[object] = written if dtype == pl.String() else numbers
    assert run(dutch, values, dtype) == [12.5, None, None, None, None, None, 1e9, None, 0.0]
    frame = pl.DataFrame([pl.Series("v", values, dtype=dtype)])
    amount = read_cost(pl.col("v"), dtype, decimal_comma=True, checked=False)
    flags = frame.select(**cost_issues(amount)).fill_null(False)
    assert {name: flags[name].arg_true().to_list() for name in flags.columns} == {
        "negative": [1],
        "too_large": [2, 7],
        "not_finite": [3, 4, 5],
    }
    assert schema.MAX_ROW_COST == 1_000_000_000


def test_cost_with_a_decimal_point() -> None:
    values = ["1,234.56", "12.5", "€1500", "n.v.t."]
    assert run(english, values) == [1234.56, 12.5, 1500.0, None]


def test_numeric_costs_are_kept() -> None:
    assert run(dutch, [1234.56, None]) == [1234.56, None]
    assert run(dutch, [1500]) == [1500.0]
    assert run(dutch, ["1.234,56"])[0] == pytest.approx(1234.56)


# Amounts as people type them: digits, separators, signs, currency, spaces, exponents, Arabic-Indic
# digits (which the separator rules' \d accepts), and letters.
AMOUNT_PIECES = [*"0123456789", *"0123456789", ".", ",", "-", "+", " ", "\u00a0", "€", "EUR", "e"]
AMOUNT_PIECES += ["\u0661", "1.500", "12,5", "1.234,56", "n.v.t."]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(AMOUNT_PIECES), max_size=8).map("".join), max_size=30),
    st.sampled_from([None, True, False]),
)
def test_plain_amounts_read_as_the_separator_rules_read_them(
    values: list[str], decimal_comma: bool | None
) -> None:
    # read_cost casts plainly written amounts directly and applies the separator rules to the
    # rest only; the rules alone, on every value, must give the same numbers.
    def by_rules(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return _read_written_cost(read_text(expr, dtype), decimal_comma=decimal_comma)

    def read(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return read_cost(expr, dtype, decimal_comma=decimal_comma, checked=False)

    values = [*values, "1.500", "12.345", "1234.5", "-12", "007.50", "1.5", ""]
    assert run(read, values, pl.String()) == run(by_rules, values, pl.String())
