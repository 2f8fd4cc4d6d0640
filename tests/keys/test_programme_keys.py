"""Programme keys: the round name that states a key's years."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factlab.errors import KeyFileError
from factlab.keys.programme import (
    MAX_PROGRAMME_YEARS,
    new_programme_key,
    programme_round,
    programme_years,
)


@given(
    region=st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,2}", fullmatch=True),
    first=st.integers(1900, 2200),
    span=st.integers(0, MAX_PROGRAMME_YEARS - 1),
)
def test_a_programme_name_gives_back_its_years(region: str, first: int, span: int) -> None:
    assert programme_years(programme_round(region, first, first + span)) == (first, first + span)


@pytest.mark.parametrize(
    ("region", "first", "last"),
    [
        ("Drenthe", 2021, 2025),
        ("dren--the", 2021, 2025),
        ("drenthe", 2025, 2021),
        ("drenthe", 2021, 2021 + MAX_PROGRAMME_YEARS),
    ],
)
def test_bad_programmes_are_refused(region: str, first: int, last: int) -> None:
    with pytest.raises(KeyFileError):
        programme_round(region, first, last)


def test_two_programmes_make_different_pseudonyms() -> None:
    first, second = (
        new_programme_key("drenthe", 2021, 2025),
        new_programme_key("drenthe", 2026, 2030),
    )
    assert first.round == "drenthe-2021-2025"
    assert first.fingerprint != second.fingerprint
    assert programme_years("2025") is None
    assert programme_years("demo") is None
