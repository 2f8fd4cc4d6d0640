"""BSN canonical form, elfproef and status (factlab.steward.bsn), against a plain-Python oracle."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab.errors import InputError
from factlab.steward import bsn as bsn_module
from factlab.steward.bsn import canonical_bsn, elfproef, looks_like_bsn, normalise_bsn_column

KNOWN_TEST_BSNS = ("999993653", "999991723", "999995078")
SEPARATORS = (" ", ".", "-", "\t", "\u00a0", "\u2013", "\u2212", "\u3000", "\u200b", "\u2011")


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


#: docs/steward.md "BSNs", written out in plain Python: the oracle of the tests below.
ORACLE_DASHES = frozenset(
    char for char in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(char) == "Pd"
) | {"\u2212", "\u2796"}
ORACLE_SPACES = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(code) for code in range(0x2000, 0x200B)
}
ORACLE_SEPARATORS = ORACLE_SPACES | ORACLE_DASHES | {".", "\u200b", "\u2060", "\ufeff", "\u00ad"}
SPACE = "[" + "".join(sorted(ORACLE_SPACES)) + "]*"


def oracle_status(value: str | None) -> str:
    """docs/steward.md "BSNs" and the module docstring, in plain Python, for text."""
    if value is None:
        return "missing"
    text = unicodedata.normalize("NFKC", value)
    first_digit = re.search("[0-9]", text)
    if first_digit and ORACLE_DASHES & set(text[: first_digit.start()]):
        return "non_digit"  # a signed number
    if decimal := re.fullmatch(f"{SPACE}([0-9]+)[.,]([0-9]+){SPACE}", text):
        if set(decimal[2]) != {"0"}:
            return "non_digit"  # a fraction
        digits = decimal[1]
    elif scientific := re.fullmatch(
        f"{SPACE}([0-9])(?:[.,]([0-9]{{0,20}}))?[eE]\\+?([0-9]{{1,3}}){SPACE}", text
    ):
        if len(scientific[2] or "") != int(scientific[3]):
            return "non_digit"  # not every digit written
        digits = scientific[1] + (scientific[2] or "")
    else:
        digits = "".join(char for char in text if char not in ORACLE_SEPARATORS)
    return digit_status(digits)


def digit_status(digits: str) -> str:
    if digits == "":
        return "missing"
    if not re.fullmatch(r"[0-9]+", digits):
        return "non_digit"
    if len(digits) <= 9 and set(digits) == {"0"}:
        return "sentinel"  # BSN unknown, its zeros lost
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9:
        return "bad_length"
    if digits in ("000000000", "999999999"):
        return "sentinel"
    return "valid" if plain_elfproef(digits) else "checksum"


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
        "999\u2013993\u2013653",  # en dash, as word processors write a hyphen
        "999\u2212993\u2212653",  # minus sign
        "999\u2011993\u2011653",  # non-breaking hyphen
        "９９９９９３６５３",  # full-width digits (NFKC)
        "９９９ ９９３ ６５３",  # and the ideographic space
        "999\u200b993\u200b653",  # zero-width space from a web form
        "999993653.0",  # how pandas writes the number
        "999993653,0",  # how a Dutch Excel writes it
        "999993653.00",
        "9.99993653E8",
        "9,99993653E+08",
        " 9.99993653e+08 ",
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


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (999993653.5, "non_digit"),  # a fraction, like the text "999993653.5"
        (-999993653.0, "non_digit"),  # signed, like "-999993653.0"
        (float("inf"), "non_digit"),
        (float("-inf"), "non_digit"),
        (1e15, "bad_length"),  # a whole number of sixteen digits, like "1000000000000000.0"
        (1e300, "bad_length"),
        (float("nan"), "missing"),  # pandas' missing value, written as an empty cell
    ],
)
def test_floats_that_are_no_number_of_nine_digits_are_not_bsns(value: float, status: str) -> None:
    assert statuses([value, 999993653.0]) == [status, "valid"]


def test_float32_bsn_column_is_refused() -> None:
    # issue 14 #1: Float32 near 10^9 holds only multiples of 64, so five clients become one
    clients = [999903974, 999903986, 999903998, 999904012, 999904024]
    for dtype in (pl.Float32(), pl.Float16()):
        frame = pl.LazyFrame({"BSN cliënt": pl.Series(clients, dtype=pl.Int64).cast(dtype)})
        with pytest.raises(InputError, match="BSN cliënt") as caught:
            normalise_bsn_column(frame, "BSN cliënt")
        message = str(caught.value)
        assert str(dtype) in message
        assert "as text" in message
        assert not re.search("[0-9]{6}", message)  # no value, not even a rounded one
        with pytest.raises(InputError, match=str(dtype)):
            canonical_bsn(pl.col("BSN cliënt"), dtype)
    # Float64 holds every BSN exactly: the five stay five
    as_float64 = pl.Series(clients, dtype=pl.Float64)
    assert canonical(as_float64.to_list(), pl.Float64()) == [str(c) for c in clients]


@pytest.mark.parametrize(
    "values",
    [
        pl.Series([date(2013, 1, 1)]),
        pl.Series([[999993653]]),
        pl.Series([True]),
        pl.Series([b"999993653"]),
    ],
)
def test_bsn_column_of_a_type_that_holds_no_bsn_is_refused(values: pl.Series) -> None:
    # a date "2013-01-01" would otherwise lose its dashes and become nine digits
    with pytest.raises(InputError, match=re.escape(f"stored as {values.dtype}")):
        normalise_bsn_column(pl.LazyFrame([values.alias("BSN")]), "BSN")


def test_decimals_are_read_as_the_text_that_writes_them() -> None:
    values = [Decimal("999993653.00"), Decimal("999993653.50"), Decimal("-1.00"), None]
    series = pl.Series("v", values, dtype=pl.Decimal(20, 2))
    assert statuses(series.to_list(), series.dtype) == [
        "valid",
        "non_digit",
        "non_digit",
        "missing",
    ]


def test_eight_digits_get_one_leading_zero() -> None:
    assert canonical(["12345678", "1234 5678", "1234567", "1234567890"]) == [
        "012345678",
        "012345678",
        "1234567",
        "1234567890",
    ]
    assert canonical([12345678]) == ["012345678"]
    # 012345678 fails the proef: the padded form, not the eight digits, is what is checked
    assert statuses(["12345678"]) == ["checksum"]
    assert statuses([12345678]) == ["checksum"]


def test_negative_numbers_are_no_bsn_as_text_or_as_numbers() -> None:
    # issue 14 #27: a leading minus is a sign, not a separator, however the cell was typed
    assert statuses([-999993653, 999993653]) == ["non_digit", "valid"]
    assert statuses([-99999365]) == ["non_digit"]
    for written in (
        "-999993653",
        " -999 993 653",
        "\u2212999993653",
        "\u2013999.993.653",
        "-99999365",
    ):
        assert statuses([written]) == ["non_digit"], written
    # a hyphen between the digits (or after them) stays a separator
    assert statuses(["999-993-653", "999993653-"]) == ["valid", "valid"]


def test_a_float_written_as_text_is_that_number() -> None:
    # issue 14 #27 / issue 15: the text that pandas and Excel write for a number is the number;
    # its dot is no separator (99999365.0 would otherwise become 999993650)
    assert canonical(["99999365.0", "999993653.0", "9.99993653E8"]) == [
        "099999365",
        "999993653",
        "999993653",
    ]
    assert statuses(["999993653.0"]) == statuses([999993653]) == statuses([999993653.0])
    # a fraction is no BSN, and a number written with some digits left out may have been rounded
    assert (
        statuses(["99999365.3", "999993653.5", "9.99994E+08", "9.999936535E8"]) == ["non_digit"] * 4
    )
    # two dots or more are separators, as ever
    assert canonical(["9999.93.653", "99.999.365"]) == ["999993653", "099999365"]


def test_zero_is_the_unknown_sentinel_however_it_was_typed() -> None:
    # issue 14 #27: the number 0 was "sentinel" but the text "0" (a mixed Excel column) was not
    assert statuses(["0", "00", "0.0", "000000000", " 0 "]) == ["sentinel"] * 5
    assert statuses([0]) == statuses([0.0]) == ["sentinel"]
    assert statuses(["0000000000"]) == ["bad_length"]  # ten zeros: not the sentinel


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
        "٩٩٩٩٩٣٦٥٣",  # non_digit: Arabic-Indic digits are no ASCII digits, even after NFKC
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
    # before the first digit no dash: that would be a sign
    spaces = [sep for sep in SEPARATORS if sep not in ORACLE_DASHES]
    pieces = [draw(st.text(alphabet=spaces, max_size=2))]
    pieces += [draw(st.text(alphabet=SEPARATORS, max_size=2)) for _ in range(9)]
    form = "".join(sep + digit for sep, digit in zip(pieces, [*bsn, ""], strict=True))
    # one dot between digits and nothing else is a decimal number (99999.3653), not a BSN
    assume(not re.fullmatch(f"{SPACE}[0-9]+[.][0-9]+{SPACE}", form))
    return bsn, form


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


written_text = st.text(
    alphabet="0123456789 .,-+eEx\u00a0\u2212\u2013\u200b９", max_size=13
) | st.text(max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), written_text, nine_digits), min_size=1, max_size=50))
def test_status_agrees_with_plain_python(values: list[str | None]) -> None:
    assert statuses(values, pl.String()) == [oracle_status(value) for value in values]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=-(10**10), max_value=10**10), min_size=1, max_size=50))
def test_integers_behave_like_their_digits(values: list[int]) -> None:
    assert statuses(values, pl.Int64()) == [oracle_status(str(v)) for v in values]


# --- one rule for text and numbers (issue 14 #27) ---------------------------------------------

#: Whole numbers of every kind: test-range BSNs, eight-digit numbers, zero, negatives, long ones.
whole_numbers = st.one_of(
    st.sampled_from([int(bsn) for bsn in KNOWN_TEST_BSNS]),
    st.integers(min_value=999_900_000, max_value=999_999_999),
    st.integers(min_value=10_000_000, max_value=99_999_999),
    st.integers(min_value=-(10**10), max_value=10**10),
    st.integers(min_value=-(2**53), max_value=2**53),  # where Float64 still holds every integer
    st.just(0),
)


def written_as(value: int) -> list[str]:
    """The texts that write ``value``: digits, and as pandas, Excel and Python write a float."""
    forms = [str(value), f"{value}.0", f"{value},0", f"{value}.00"]
    if abs(value) < 10**15:
        forms.append(repr(float(value)))  # "999993653.0", "-5.0"
    if value > 0:
        digits = len(str(value)) - 1
        forms += [f"{value:.{digits}E}", f"{value:.{digits}e}".replace(".", ",")]  # all digits
    return forms


@settings(max_examples=150, deadline=None)
@given(st.lists(whole_numbers, min_size=1, max_size=30))
def test_text_and_numbers_of_the_same_value_agree(values: list[int]) -> None:
    """Status and canonical BSN do not depend on how the cell was typed."""
    as_integers = canonical(values, pl.Int64())
    as_floats = canonical([float(v) for v in values], pl.Float64())
    status = statuses(values, pl.Int64())
    assert statuses([float(v) for v in values], pl.Float64()) == status
    assert statuses([Decimal(v) for v in values], pl.Decimal(30, 0)) == status
    assert as_floats == as_integers
    assert status == [oracle_status(str(value)) for value in values]
    # every written form of every value, in one column
    forms = [(index, text) for index, value in enumerate(values) for text in written_as(value)]
    texts = [text for _, text in forms]
    for (index, text), got_status, got in zip(
        forms, statuses(texts), canonical(texts), strict=True
    ):
        assert got_status == status[index], (values[index], text)
        if got_status != "non_digit":  # the digits of a number: the same from every form
            assert got == as_integers[index], (values[index], text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(KNOWN_TEST_BSNS) | st.from_regex(r"[1-9][0-9]{7}", fullmatch=True)))
def test_written_forms_of_a_bsn_round_trip(bsns: list[str]) -> None:
    """Every form written of a BSN (an 8-digit one too) reads back as that BSN."""
    for bsn in bsns:
        texts = written_as(int(bsn))
        expected = bsn.zfill(9)
        assert canonical(texts) == [expected] * len(texts), texts
        assert canonical([int(bsn)], pl.Int64()) == [expected]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), written_text, nine_digits), min_size=1, max_size=30))
def test_expression_and_frame_agree(values: list[str | None]) -> None:
    """canonical_bsn (an expression) and normalise_bsn_column (columns by steps) are one rule."""
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    by_frame = normalise_bsn_column(frame.lazy(), "v").collect()["_bsn_canonical"].to_list()
    assert canonical(values, pl.String()) == by_frame


def test_dashes_are_the_unicode_dashes_and_minus_signs() -> None:
    assert set(bsn_module._DASHES) == ORACLE_DASHES
    assert set(bsn_module._SEPARATOR_CHARS) == ORACLE_SEPARATORS


# --- BSNs in text fields --------------------------------------------------------------------------


def test_looks_like_bsn() -> None:
    values = [
        "999993653",
        "9999.93.653",
        "999 993 653",
        "99999365.0",  # eight digits written as a float: 099999365
        "９９９９９３６５３",
        "9.99993653E8",
        "Assen",
        "0106",
        "45",
        "999993654",  # fails the proef
        "000000000",  # the sentinel is no person
        "1999993653",  # ten digits: no BSN in them
        None,
        "",
    ]
    flags = pl.select(looks_like_bsn(pl.lit(pl.Series(values, dtype=pl.String)))).to_series()
    assert flags.to_list() == [True] * 6 + [False] * 8
    # any dtype is read as its text; the result is never null
    as_categorical = pl.Series(["999993653", None, "Assen"], dtype=pl.Categorical)
    assert pl.select(looks_like_bsn(pl.lit(as_categorical))).to_series().to_list() == [
        True,
        False,
        False,
    ]
    as_integers = pl.Series([999993653, 45, None])
    assert pl.select(looks_like_bsn(pl.lit(as_integers))).to_series().to_list() == [
        True,
        False,
        False,
    ]


#: Marks that may stand between the digits of a number in a text (besides the BSN's separators).
ORACLE_GROUP_MARKS = frozenset(",_/'\u2019\u02bc")


def oracle_bsn_in_text(value: str | None) -> bool:
    """docs/steward.md "BSNs in text", in plain Python: a BSN in a run of digits anywhere.

    Runs are found character by character, and every window of consecutive groups is tried (no
    limit on the number of groups, which the module caps at nine).
    """
    if value is None:
        return False
    text = "".join(
        str(unicodedata.decimal(char)) if unicodedata.decimal(char, None) is not None else char
        for char in unicodedata.normalize("NFKC", value)
    )
    separators = ORACLE_SEPARATORS | ORACLE_GROUP_MARKS
    runs: list[list[str]] = []
    position = 0
    while position < len(text):
        if not text[position].isdigit():
            position += 1
            continue
        groups = []
        while True:
            end = position
            while end < len(text) and text[end].isdigit():
                end += 1
            groups.append(text[position:end])
            joined = end + 1 < len(text) and text[end] in separators and text[end + 1].isdigit()
            if not joined:
                break
            position = end + 1
        runs.append(groups)
        position = end
    for groups in runs:
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                digits = "".join(groups[first : last + 1])
                significant = digits.lstrip("0")
                if len(digits) < 8 or len(significant) > 9:
                    continue
                nine = significant.zfill(9)
                if nine not in ("000000000", "999999999") and plain_elfproef(nine):
                    return True
    return False


#: Texts with digits of other scripts, group marks and BSNs inside them.
text_with_numbers = st.text(
    alphabet="0123456789 .,-_/'x\u00a0\u2013\u200b９٩٣٦٥", max_size=40
) | st.builds(
    lambda before, bsn, marks, after: before + marks.join([bsn[:3], bsn[3:6], bsn[6:]]) + after,
    st.text(alphabet="ab 0123456789", max_size=4),
    st.sampled_from(KNOWN_TEST_BSNS),
    st.sampled_from(["", " ", ".", ",", "_", "/", "'", "  ", "x"]),
    st.text(alphabet="ab 0123456789", max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), written_text, nine_digits, text_with_numbers), min_size=1, max_size=30
    )
)
def test_looks_like_bsn_is_a_valid_value_or_a_bsn_in_the_text(values: list[str | None]) -> None:
    flags = pl.select(looks_like_bsn(pl.lit(pl.Series(values, dtype=pl.String)))).to_series()
    expected = [oracle_status(value) == "valid" or oracle_bsn_in_text(value) for value in values]
    assert flags.to_list() == expected


@pytest.mark.parametrize(
    "text",
    [
        "BSN 999993653",
        "999.993.653,",
        "'999993653",  # Excel's apostrophe: text, not a number
        "999,993,653",
        "999_993_653",
        "999/993/653",
        "0999991723",  # ten digits: a leading zero and a BSN
        "\u0669\u0669\u0669\u0669\u0669\u0663\u0666\u0665\u0663",  # Arabic-Indic digits
        "\u096f\u096f\u096f\u096f\u096f\u0967\u096d\u0968\u0969",  # Devanagari 999991723
        "client 999993653/999991723",  # two BSNs in one run: each is found
        "NL999993653B01",  # an old VAT number of a one-person business held its owner's BSN
        "Assen (999 993 653)",
        "999993653.0 euro",
        "-999993653",  # a sign does not make the digits any less a BSN
        "99999\u2013365",  # eight digits: an older BSN that lost its zero, 099999365
    ],
)
def test_a_bsn_anywhere_in_a_text_is_found(text: str) -> None:
    as_series = pl.Series([text, "Assen"], dtype=pl.String)
    assert pl.select(looks_like_bsn(pl.lit(as_series))).to_series().to_list() == [True, False]
    assert oracle_bsn_in_text(text) or oracle_status(text) == "valid"


@pytest.mark.parametrize(
    "text",
    [
        "1999993653",  # ten digits, no leading zero: no BSN in them
        "9999936531",
        "999993653999991723",  # digits with no separator are one number
        "999  993  653 in een tekst",  # two separators part the groups
        "BSN 000000000",  # sentinels are no person
        "BSN 999999999",
        "2013-2014",
        "45A01",
        "999993654",  # fails the proef
    ],
)
def test_digits_that_hold_no_bsn_are_not_flagged(text: str) -> None:
    as_series = pl.Series([text], dtype=pl.String)
    assert pl.select(looks_like_bsn(pl.lit(as_series))).to_series().to_list() == [False]
