"""BSN canonical form, elfproef and status (factlab.steward.bsn), against a plain-Python oracle."""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab.steward.bsn import canonical_bsn, elfproef, normalise_bsn_column

KNOWN_TEST_BSNS = ("999993653", "999991723", "999995078")
SEPARATORS = (" ", ".", "-", "\t", "\u00a0")


def plain_elfproef(digits: str) -> bool:
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def canonical(values: Sequence[object], dtype: pl.DataType | None = None) -> list[str | None]:
    series = pl.Series("v", values, dtype=dtype)
    expr = canonical_bsn(pl.col("v"), series.dtype).alias("c")
    return pl.DataFrame([series]).select(expr)["c"].to_list()


def statuses(values: Sequence[object], dtype: pl.DataType | None = None) -> list[str | None]:
    frame = pl.DataFrame([pl.Series("v", values, dtype=dtype)])
    return normalise_bsn_column(frame.lazy(), "v").collect()[schema.STATUS].to_list()


def oracle_status(value: str | None) -> str:
    """docs/scheme.md §2 and the module docstring, in plain Python."""
    if value is None:
        return "missing"
    text = re.sub(r"[\s.\-]", "", value)
    if text == "":
        return "missing"
    if not re.fullmatch(r"[0-9]+", text):
        return "non_digit"
    if len(text) == 8:
        text = "0" + text
    if len(text) != 9:
        return "bad_length"
    if text in ("000000000", "999999999"):
        return "sentinel"
    return "valid" if plain_elfproef(text) else "checksum"


# --- canonical form ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "999993653",
        "9999.93.653",
        "999 993 653",
        "999-993-653",
        " 999993653 ",
        "\t999.993.653\r",
        "999\u00a0993\u00a0653",  # the no-break space spreadsheets like to insert
        "9-9-9-9-9-3-6-5-3",
    ],
)
def test_written_forms_reduce_to_nine_digits(written: str) -> None:
    assert canonical([written]) == ["999993653"]
    assert statuses([written]) == ["valid"]


def test_integers_and_strings_agree() -> None:
    values = [int(bsn) for bsn in KNOWN_TEST_BSNS]
    assert canonical(values) == list(KNOWN_TEST_BSNS)
    assert statuses(values) == ["valid"] * 3
    for dtype in (pl.Int32(), pl.UInt32(), pl.Int64(), pl.UInt64()):
        assert canonical(values, dtype) == list(KNOWN_TEST_BSNS), dtype


def test_integral_floats_from_excel_are_read_as_numbers() -> None:
    values = [999993653.0, 999991723.0, None]
    assert canonical(values) == ["999993653", "999991723", None]
    assert statuses(values) == ["valid", "valid", "missing"]


@pytest.mark.parametrize("value", [999993653.5, -999993653.0, float("nan"), float("inf"), 1e15])
def test_floats_that_are_no_number_of_nine_digits_are_not_bsns(value: float) -> None:
    assert statuses([value, 999993653.0]) == ["non_digit", "valid"]


def test_eight_digits_get_one_leading_zero() -> None:
    assert canonical(["12345678", "1234.5678", "1234567", "1234567890"]) == [
        "012345678",
        "012345678",
        "1234567",
        "1234567890",
    ]
    assert canonical([12345678]) == ["012345678"]
    # 012345678 fails the proef: the padded form, not the eight digits, is what is checked
    assert statuses(["12345678"]) == ["checksum"]
    assert statuses([12345678]) == ["checksum"]


def test_negative_integers_are_not_stripped_into_a_bsn() -> None:
    # "-999993653" as text would lose its minus as a hyphen; as an integer it is no BSN at all
    assert statuses([-999993653, 999993653]) == ["non_digit", "valid"]
    assert statuses([-99999365]) == ["non_digit"]


def test_every_status() -> None:
    values = [
        "999993653",  # valid
        None,  # missing
        "",  # missing
        " . - ",  # only separators: nothing written
        "000000000",  # sentinel: BSN unknown
        "999.999.999",  # sentinel: unborn child, in a written form
        "12345",  # bad_length
        "9999936531",  # bad_length (ten digits)
        "99999365x",  # non_digit
        "+999993653",  # non_digit
        "９９９９９３６５３",  # non_digit: full-width digits are not ASCII digits
        "999993654",  # checksum
    ]
    expected = [
        "valid",
        "missing",
        "missing",
        "missing",
        "sentinel",
        "sentinel",
        "bad_length",
        "bad_length",
        "non_digit",
        "non_digit",
        "non_digit",
        "checksum",
    ]
    assert statuses(values) == expected
    assert set(expected) == set(schema.STATUSES)
    assert [oracle_status(v) for v in values] == expected  # the oracle agrees with itself


def test_sentinels_as_integers() -> None:
    # 999999999 keeps its nine digits; the number 0 is 000000000 stored as a number
    assert statuses([999999999]) == ["sentinel"]
    assert statuses([0]) == ["sentinel"]


def test_status_dtype_is_the_shared_enum() -> None:
    frame = normalise_bsn_column(pl.LazyFrame({"BSN": ["999993653"]}), "BSN").collect()
    assert frame.schema[schema.STATUS] == schema.STATUS_DTYPE
    assert frame.columns == ["BSN", "_bsn_canonical", schema.STATUS]


def test_normalise_keeps_the_source_and_does_not_touch_the_input() -> None:
    frame = pl.DataFrame({"BSN": ["9999.93.653"], "other": [1]})
    before = frame.clone()
    out = normalise_bsn_column(frame.lazy(), "BSN", canonical_name="canon").collect()
    assert out["canon"].to_list() == ["999993653"]
    assert out["BSN"].to_list() == ["9999.93.653"]
    assert frame.equals(before)


# --- the elfproef ------------------------------------------------------------------------------


def test_elfproef_on_the_whole_test_range(test_bsns: tuple[str, ...]) -> None:
    numbers = pl.int_range(999_900_000, 1_000_000_000, eager=True).cast(pl.String)
    passing = pl.DataFrame({"n": numbers}).filter(elfproef(pl.col("n")))["n"]
    # DOMAIN.md: 9,091 numbers of the range pass; the sentinel 999999999 is not one of them
    assert passing.len() == 9091
    assert passing.to_list() == list(test_bsns)


def test_elfproef_examples() -> None:
    values = ["999993653", "999993654", "000000000", "999999999", None, "", "99999365x", "12345"]
    result = pl.DataFrame({"n": values}).select(elfproef(pl.col("n")))["n"].to_list()
    # null, empty, non-digit and short values are no nine digits: no verdict rather than a "pass"
    assert result == [True, False, True, False, None, None, None, None]


# --- properties ----------------------------------------------------------------------------------

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@settings(max_examples=60, deadline=None)
@given(st.lists(nine_digits, min_size=1, max_size=200))
def test_elfproef_agrees_with_plain_python(numbers: list[str]) -> None:
    result = pl.DataFrame({"n": numbers}).select(elfproef(pl.col("n")))["n"].to_list()
    assert result == [plain_elfproef(n) for n in numbers]


@st.composite
def written_forms(draw: st.DrawFn, bsns: tuple[str, ...]) -> tuple[str, str]:
    """A test-range BSN and a written form with random separators around and between digits."""
    bsn = draw(st.sampled_from(bsns))
    pieces = [draw(st.text(alphabet=SEPARATORS, max_size=2)) for _ in range(10)]
    return bsn, "".join(sep + digit for sep, digit in zip(pieces, [*bsn, ""], strict=True))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_canonical_form_ignores_the_written_form(
    data: st.DataObject, test_bsns: tuple[str, ...]
) -> None:
    pairs = data.draw(st.lists(written_forms(test_bsns), min_size=1, max_size=50))
    bsns = [bsn for bsn, _ in pairs]
    assert canonical([form for _, form in pairs]) == bsns
    assert canonical([int(bsn) for bsn in bsns]) == bsns
    assert canonical([float(bsn) for bsn in bsns]) == bsns
    assert statuses([form for _, form in pairs]) == ["valid"] * len(pairs)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=14)), min_size=1, max_size=50))
def test_canonical_form_is_idempotent(values: list[str | None]) -> None:
    once = canonical(values, pl.String())
    assert canonical(once, pl.String()) == once


written_text = st.text(alphabet="0123456789 .-x", max_size=13)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.none(), written_text, nine_digits), min_size=1, max_size=50))
def test_status_agrees_with_plain_python(values: list[str | None]) -> None:
    assert statuses(values, pl.String()) == [oracle_status(value) for value in values]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=-(10**10), max_value=10**10), min_size=1, max_size=50))
def test_integers_behave_like_their_digits(values: list[int]) -> None:
    expected = [
        "sentinel" if v == 0 else oracle_status(str(v)) if v > 0 else "non_digit" for v in values
    ]
    assert statuses(values, pl.Int64()) == expected
