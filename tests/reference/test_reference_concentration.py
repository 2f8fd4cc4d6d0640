"""Concentration of care: rankings and reach against plain Python."""

from __future__ import annotations

from collections import defaultdict

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_data import synthetic_frame

from factlab.analysis.provider_ranking import provider_concentration
from factlab.errors import ConfigError, DataError
from factlab.reference.concentration import concentration


def plain_reach(values: dict[str, float], share: float) -> int:
    """How many of the largest providers reach ``share`` of the total, by plain Python."""
    ordered = sorted(values.values(), reverse=True)
    total = sum(ordered)
    running = 0.0
    for number, value in enumerate(ordered, start=1):
        running += value
        if running >= share * total - 1e-9:
            return number
    return len(ordered)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text("ABCDEFGH", min_size=1, max_size=3),
        st.integers(0, 10_000),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 5_000),
)
def test_reach_ranking_and_threshold_match_plain_python(
    values: dict[str, int], threshold: int
) -> None:
    frame = pl.DataFrame({"provider": list(values), "cost": list(values.values())})
    result = concentration(frame, value="cost", threshold=threshold)
    total = sum(values.values())
    assert result.total == total
    expected_order = sorted(values, key=lambda name: (-values[name], name))
    assert result.ranking.get_column("provider").to_list() == expected_order
    if total:
        for share in (0.8, 0.9, 0.99):
            assert result.reach[share] == plain_reach(dict(values), share)
        assert result.ranking.get_column("cumulative_share").to_list()[-1] == 1.0
        assert result.below_threshold_share == pytest.approx(
            sum(v for v in values.values() if v < threshold) / total
        )
    assert result.below_threshold == sum(1 for v in values.values() if v < threshold)
    shares = result.ranking.get_column("cumulative_share").drop_nulls().to_list()
    assert shares == sorted(shares)


def test_five_largest_of_a_known_list() -> None:
    clients = {"P1": 400, "P2": 300, "P3": 150, "P4": 100, "P5": 30, "P6": 15, "P7": 5}
    frame = pl.DataFrame({"provider": list(clients), "clients": list(clients.values())})
    result = concentration(frame, value="clients", shares=(0.5, 0.8, 0.9, 0.99), threshold=20)
    # 400 + 300 = 700 of 1000 (70 %) < 80 %; + 150 = 850 (85 %); + 100 = 950 (95 %); + 30 = 980;
    # + 15 = 995 (99.5 %)
    assert result.reach == {0.5: 2, 0.8: 3, 0.9: 4, 0.99: 6}
    assert result.below_threshold == 2  # P6 and P7
    assert result.below_threshold_share == pytest.approx(0.02)
    assert result.ranking.row(0) == (1, "P1", 400.0, 0.4, 0.4)
    assert result.summary()["reach"] == {"50%": 2, "80%": 3, "90%": 4, "99%": 6}
    assert result.metadata()["internal"] is True


def test_refusals() -> None:
    frame = pl.DataFrame({"provider": ["A", "A", "B"], "cost": [1.0, 2.0, None]})
    with pytest.raises(DataError, match="1 row\\(s\\) with a null or negative cost; 1 provider"):
        concentration(frame, value="cost")
    with pytest.raises(ConfigError) as caught:
        concentration(frame, value="clients", shares=(0.0, 1.5), threshold=-1)
    assert caught.value.problems == [
        "clients: no such column",
        "shares: 0.0 is not in (0, 1]",
        "shares: 1.5 is not in (0, 1]",
        "threshold: must be 0 or more",
    ]


def test_provider_concentration_is_one_library_call_and_matches_python() -> None:
    # review 17/20 #18: the command ranked the providers itself
    frame = synthetic_frame(3)
    result = provider_concentration(frame, measure="clients", shares=(0.8,))
    clients: dict[str, set[str]] = defaultdict(set)
    for row in frame.iter_rows(named=True):
        if row["bsn_status"] == "valid" and row["pseudonym"] is not None:
            clients[row["provider"]].add(row["pseudonym"])
    expected = {provider: len(found) for provider, found in clients.items()}
    got = dict(result.ranking.select("provider", "value").rows())
    assert got == {provider: float(n) for provider, n in expected.items()}
    ranked = result.ranking.get_column("value").to_list()
    assert ranked == sorted(ranked, reverse=True)
    assert result.source == {}
    with pytest.raises(ConfigError, match="'visits' is not one of clients, cost"):
        provider_concentration(frame, measure="visits")
