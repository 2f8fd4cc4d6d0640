"""Periods (factlab.periods): the validation of their labels."""

from __future__ import annotations

import pytest

from factlab.errors import ConfigError
from factlab.periods import parse_period


@pytest.mark.parametrize("label", ["2025\n2026", "2025H1\nx", "２０２５", "٢٠٢٥", "2025Q1\x00"])
def test_labels_are_matched_whole_and_in_ascii_digits(label: str) -> None:
    # issue 14 #14: a pattern ending in "$" under re.match lets a trailing newline through, and
    # \d takes other scripts' digits; labels are matched whole, in ASCII digits
    with pytest.raises(ConfigError):
        parse_period(label)


def test_surrounding_space_is_still_ignored() -> None:
    assert parse_period(" 2025H1\n").label == "2025H1"
    assert parse_period("2025-01-01 .. 2025-06-30").label == "2025-01-01..2025-06-30"
