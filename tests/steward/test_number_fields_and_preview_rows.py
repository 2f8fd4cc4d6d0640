"""A number field holding BSNs (a cost column mapped onto a column of BSNs) is refused by every
path — the library on a frame, lazily, on a file, and the preview — and the preview's rows are
shown with every value of six or more digits masked (one function for the command and the app).

Review 17/20, defect 1: ``Bedrag`` holding the BSNs, mapped to ``cost``, went into the sealed file
as ``9.99900006e8`` and was shown in full in the app's preview.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab.errors import InputError
from factlab.escape import may_identify
from factlab.keys.round_keys import Key
from factlab.steward.columns import shown_text
from factlab.steward.mapping import parse_mapping
from factlab.steward.preview import MASKED_DIGITS, preview_file, shown_rows
from factlab.steward.pseudonymise import pseudonymise, pseudonymise_file
from factlab.steward.quality import number_looks_like_bsn

MAPPING = parse_mapping({"version": 1, "columns": {"bsn": "BSN", "cost": "Bedrag"}})


def plain_reads_as_bsn(value: float | None) -> bool:
    """The rule in plain Python: a whole number of 8 or 9 digits passing the elfproef."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return False
    size = abs(value)
    if size != int(size) or not 10**7 <= size < 10**9:
        return False
    digits = f"{int(size):09d}"
    total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True))
    return total % 11 == 0 and digits not in ("000000000", "999999999")


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(min_value=-(10**10), max_value=10**10).map(float),
            st.integers(min_value=10**7, max_value=10**9 - 1).map(float),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
        max_size=30,
    )
)
def test_number_rule_equals_plain_python(values: list[float | None]) -> None:
    series = pl.Series("v", values, dtype=pl.Float64)
    got = pl.select(number_looks_like_bsn(pl.lit(series))).to_series().to_list()
    assert got == [plain_reads_as_bsn(value) for value in values]


def test_number_rule_equals_plain_python_on_many_numbers() -> None:
    draw = random.Random(17)
    values: list[float | None] = [float(draw.randrange(10**6, 2 * 10**9)) for _ in range(20_000)]
    values += [draw.randrange(10**7, 10**9) + 0.5 for _ in range(1_000)]
    series = pl.Series("v", values, dtype=pl.Float64)
    got = pl.select(number_looks_like_bsn(pl.lit(series))).to_series().to_list()
    assert got == [plain_reads_as_bsn(value) for value in values]
    assert 500 < sum(got) < 1_500  # about one in eleven of the half in range


def test_number_rule_on_integers_and_known_cases() -> None:
    series = pl.Series([999993653, 99999365, 999993654, 1999993653, -999991723, 999999999])
    got = pl.select(number_looks_like_bsn(pl.lit(series))).to_series().to_list()
    assert got == [True, True, False, False, True, False]


def export_frame(bsns: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"BSN": bsns, "Bedrag": bsns, "Gemeente": ["Assen"] * len(bsns)})


@pytest.mark.parametrize("lazy", [False, True])
def test_pseudonymise_refuses_a_cost_column_of_bsns(
    round_key: Key, test_bsns: tuple[str, ...], lazy: bool
) -> None:
    bsns = list(test_bsns[:12])
    frame = export_frame(bsns)
    source = frame.lazy() if lazy else frame
    with pytest.raises(InputError) as caught:
        pseudonymise(source, round_key, provider="P01", mapping=MAPPING).lazy().collect()
    message = str(caught.value)
    assert "column cost: 12 row(s) (first rows: 1, 2, 3, 4, 5)" in message
    assert "looks like a BSN" in message
    assert not any(bsn in message or bsn[1:] in message for bsn in bsns)


def test_a_bsn_that_lost_its_leading_zero_in_a_cost_column_is_refused(round_key: Key) -> None:
    # 099999365 read as a number is 99999365: eight digits, still a BSN
    frame = pl.DataFrame({"BSN": ["999993653"], "Bedrag": [99999365.0]})
    with pytest.raises(InputError, match="column cost: 1 row"):
        pseudonymise(frame, round_key, provider="P01", mapping=MAPPING)


def test_ordinary_costs_pass(round_key: Key) -> None:
    frame = pl.DataFrame(
        {"BSN": ["999993653", "999991723", "999995078"], "Bedrag": [1234.56, 99999365.5, 12.0]}
    )
    out = pseudonymise(frame, round_key, provider="P01", mapping=MAPPING)
    assert out.get_column("cost").to_list() == [1234.56, 99999365.5, 12.0]


def test_file_and_preview_refuse_and_write_nothing(
    round_key: Key, test_bsns: tuple[str, ...], tmp_path: Path
) -> None:
    bsns = list(test_bsns[:5])
    export = tmp_path / "export.csv"
    lines = ["BSN;Gemeente;Bedrag", *(f"{bsn};Assen;{bsn}" for bsn in bsns)]
    export.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="column cost: 5 row"):
        pseudonymise_file(export, round_key, provider="P01", out=out, mapping=MAPPING)
    with pytest.raises(InputError, match="column cost: 5 row"):
        preview_file(export, round_key, provider="P01", mapping=MAPPING)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.csv"]


def test_shown_rows_are_text_with_every_long_number_masked() -> None:
    frame = pl.DataFrame(
        {
            "pseudonym": ["ab" * 16, None],
            "bsn_status": ["valid", "missing"],
            "birth_year": pl.Series([2010, None], dtype=pl.Int16),
            "municipality": pl.Series(["Assen", "999 993 653\x07"], dtype=pl.Categorical),
            "start_date": [date(2024, 1, 2), None],
            "cost": [999993653.0, 12345.67],
        }
    )
    shown = shown_rows(frame, ellipsis="..")
    assert all(dtype == pl.String for dtype in shown.dtypes)
    assert shown.rows() == [
        ("ababababab..", "valid", "2010", "Assen", "2024-01-02", "*******.0"),
        (None, "missing", None, "*******3\ufffd", None, "12345.67"),
    ]
    assert MASKED_DIGITS == 6


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=20),
    st.lists(st.text(alphabet="0123456789 .-AbÇ\u0663", max_size=16), min_size=1, max_size=20),
)
def test_no_shown_value_keeps_six_digits(numbers: list[int], texts: list[str]) -> None:
    numeric = pl.DataFrame({"cost": [float(n) for n in numbers], "count": numbers})
    for row in shown_rows(numeric).rows():
        for cell in row:
            whole = cell.lstrip("-").split(".")[0]
            assert cell.startswith("*******") or len(whole) < MASKED_DIGITS
    textual = pl.DataFrame({"care_form": texts})
    for (cell,) in shown_rows(textual).rows():
        assert cell.startswith("*******") or sum(c.isdigit() for c in cell) < MASKED_DIGITS


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Assen", False),
        ("45A01", False),
        ("9401 AB", True),
        ("Assen 9401AB", True),  # a postcode anywhere, not only the whole value
        ("12-34-56", True),
        ("999 993 653", True),
    ],
)
def test_the_stewards_rule_and_the_shared_rule_agree(text: str, hidden: bool) -> None:
    # review 17/20 #8: one rule (factlab.escape.may_identify) for the steward and the reference
    assert (shown_text(text) is None) is hidden
    assert may_identify(text) is hidden
