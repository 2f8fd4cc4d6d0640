"""The steward's step against values a red-team run slipped through after issue 14's fixes.

BSNs written inside text fields, costs that cannot be a row's cost, provider codes that read as
a BSN. Synthetic data only: BSNs from the test range 999900000-999999999 that pass the elfproef.
"""

from __future__ import annotations

import math
import re

import polars as pl
import pytest

from factlab.errors import InputError
from factlab.keys.round_keys import Key
from factlab.steward.pseudonymise import pseudonymise, pseudonymise_with_quality
from factlab.steward.quality import NULLING_REASONS

BSNS = ("999993653", "999991723", "999995078")

#: A BSN inside a municipality's text, as the red-team run wrote it.
BSN_IN_TEXT = (
    "BSN 999993653",
    "999.993.653,",
    "'999993653",  # Excel's apostrophe
    "999,993,653",
    "999_993_653",
    "999/993/653",
    "0999991723",  # a leading zero before nine digits
    "\u0669\u0669\u0669\u0669\u0669\u0663\u0666\u0665\u0663",  # Arabic-Indic digits
    "Assen 999993653/999991723",
)


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


# --- a BSN inside a text field ---------------------------------------------------------------


@pytest.mark.parametrize("written", BSN_IN_TEXT)
def test_a_bsn_inside_a_text_field_is_refused(round_key: Key, written: str) -> None:
    export = pl.DataFrame({"BSN": list(BSNS), "Gemeente": ["Assen", written, "Emmen"]})
    with pytest.raises(InputError) as caught:
        pseudonymise_with_quality(export, round_key, provider="P01")
    message = str(caught.value)
    assert "column municipality: 1 row(s) (first rows: 2)" in message
    assert "looks like a BSN" in message
    assert written not in message
    for bsn in BSNS:
        assert bsn not in digits_of(message)


def test_text_with_digits_that_hold_no_bsn_passes(round_key: Key) -> None:
    texts = ["Assen", "Emmen 2013-2014", "1999993653", "BSN 000000000", "999993654"]
    export = pl.DataFrame({"BSN": [*BSNS, "999993653", "999991723"], "Gemeente": texts})
    result = pseudonymise_with_quality(export, round_key, provider="P01")
    assert result.frame["municipality"].cast(pl.String).to_list() == texts


# --- costs that cannot be a row's cost ---------------------------------------------------------


def test_costs_that_cannot_be_a_rows_cost_become_empty_with_a_field_issue(round_key: Key) -> None:
    written = [
        "12,50",
        "-5",
        "1e300",
        "inf",
        "NaN",
        "1.000.000.001",
        "1.000.000.000",  # the largest cost a row may hold
        "-inf",
        "€ -0,01",
        "",
    ]
    export = pl.DataFrame({"BSN": [BSNS[0]] * len(written), "Kosten": written})
    result = pseudonymise_with_quality(export, round_key, provider="P01", decimal_comma=True)
    assert result.frame["cost"].to_list() == [12.5, *[None] * 5, 1e9, None, None, None]
    issues = result.quality.field_issues["cost"]
    assert issues == {"negative": 2, "too_large": 2, "not_finite": 3}
    assert "unreadable" not in issues
    assert result.quality.example_rows["cost"] == {
        "negative": [2, 9],
        "too_large": [3, 6],
        "not_finite": [4, 5, 8],
    }
    # a required cost counts these rows as unusable, by their reasons
    assert {"negative", "too_large", "not_finite"} <= NULLING_REASONS


@pytest.mark.parametrize("dtype", [pl.Float64, pl.Float32])
def test_costs_given_as_numbers_are_checked_alike(round_key: Key, dtype: pl.DataType) -> None:
    costs = [12.5, -5.0, 1e300 if dtype == pl.Float64 else 3e38, math.inf, math.nan, None]
    export = pl.DataFrame({"BSN": [BSNS[0]] * len(costs), "Kosten": pl.Series(costs, dtype=dtype)})
    result = pseudonymise_with_quality(export, round_key, provider="P01")
    assert result.frame["cost"].to_list() == [12.5, None, None, None, None, None]
    assert result.quality.field_issues["cost"] == {
        "negative": 1,
        "too_large": 1,
        "not_finite": 2,
    }


def test_whole_number_costs_below_zero_are_negative(round_key: Key) -> None:
    export = pl.DataFrame({"BSN": list(BSNS), "Kosten": [100, -5, 0]})
    result = pseudonymise_with_quality(export, round_key, provider="P01")
    assert result.frame["cost"].to_list() == [100.0, None, 0.0]
    assert result.quality.field_issues["cost"] == {"negative": 1}


# --- provider codes that read as a BSN ------------------------------------------------------


@pytest.mark.parametrize(
    "provider",
    [
        "999993653",
        "99999365",  # eight digits: 099999365 passes the elfproef
        "P999993653",  # a letter does not change the digits: the label check would refuse it
        "NL999993653B01",  # an old VAT number held its owner's BSN
        "999-993-653",
    ],
)
def test_a_provider_code_that_reads_as_a_bsn_is_refused(round_key: Key, provider: str) -> None:
    export = pl.DataFrame({"BSN": list(BSNS)})
    with pytest.raises(InputError, match="provider code holds digits that read as a BSN") as caught:
        pseudonymise(export, round_key, provider=provider)
    assert provider not in str(caught.value)
    assert "999" not in digits_of(str(caught.value))


@pytest.mark.parametrize("provider", ["P01", "12345678", "999993654", "AGB-12345678", "000000000"])
def test_provider_codes_whose_digits_are_no_bsn_are_taken(round_key: Key, provider: str) -> None:
    export = pl.DataFrame({"BSN": list(BSNS)})
    frame = pseudonymise(export, round_key, provider=provider)
    assert frame["provider"].cast(pl.String).unique().to_list() == [provider]
