"""Durations (Kaplan–Meier) and cost change of the monitor against plain Python."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from delivery_helpers import day, delivery_rows, episodes_frame, pseudonym, write_delivery
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab.analysis.link import link
from factlab.errors import ConfigError, DataError
from factlab.monitor.cost_change import cost_change
from factlab.monitor.durations import durations, kaplan_meier_quartiles
from factlab.monitor.series import programme_periods, series
from factlab.periods import parse_period

YEARS = programme_periods(2021, 2024)


def plain_km_quartiles(times: list[tuple[int, bool]]) -> tuple[Any, Any, Any]:
    """Kaplan–Meier by the book: one step per distinct time, censored after deaths."""
    survival = 1.0
    found: dict[float, Any] = {0.75: None, 0.5: None, 0.25: None}
    for time in sorted({t for t, _ in times}):
        at_risk = sum(1 for t, _ in times if t >= time)
        deaths = sum(1 for t, ended in times if t == time and ended)
        survival *= 1 - deaths / at_risk
        for level in found:
            if found[level] is None and survival <= level + 1e-12:
                found[level] = time
    return found[0.75], found[0.5], found[0.25]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=30))
def test_kaplan_meier_matches_the_textbook(times: list[tuple[int, bool]]) -> None:
    measured = pl.LazyFrame(
        {"days": [t for t, _ in times], "ended": [e for _, e in times]},
        schema={"days": pl.Int64, "ended": pl.Boolean},
    )
    row = kaplan_meier_quartiles(measured, []).collect().row(0, named=True)
    assert (row["q1_days"], row["median_days"], row["q3_days"]) == plain_km_quartiles(times)
    assert row["still_open"] == sum(not ended for _, ended in times)


def random_rows(seed: int, rows: int = 150) -> pl.DataFrame:
    rng = random.Random(seed)
    records: dict[str, list[Any]] = defaultdict(list)
    for _ in range(rows):
        start = date(2021, 1, 1) + timedelta(days=rng.randrange(0, 1400))
        end = None if rng.random() < 0.3 else start + timedelta(days=rng.randrange(0, 500))
        valid = rng.random() > 0.05
        records["pseudonym"].append(pseudonym(rng.randrange(50)) if valid else None)
        records["bsn_status"].append("valid" if valid else "missing")
        records["provider"].append(rng.choice("ABC"))
        records["municipality"].append(rng.choice(["Assen", "Emmen"]))
        records["care_form"].append(rng.choice(["ambulant", "verblijf"]))
        records["cost"].append(float(rng.randrange(100, 20_000)))
        records["start_date"].append(start)
        records["end_date"].append(end)
    return pl.DataFrame(
        {
            **records,
            "start_date": pl.Series(records["start_date"], dtype=pl.Date),
            "end_date": pl.Series(records["end_date"], dtype=pl.Date),
        }
    )


def plain_trajectories(rows: pl.DataFrame) -> list[tuple[str, str, date, date | None]]:
    groups: dict[tuple[str, str, str], list[tuple[date, date]]] = defaultdict(list)
    for row in rows.to_dicts():
        if row["bsn_status"] == "valid":
            end = row["end_date"] or date(9999, 12, 31)
            groups[(row["pseudonym"], row["provider"], row["care_form"])].append(
                (row["start_date"], end)
            )
    found = []
    for (_, provider, form), spans in groups.items():
        merged: list[list[date]] = []
        for start, end in sorted(spans):
            if merged and (start - merged[-1][1]).days <= 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            found.append((form, provider, start, None if end == date(9999, 12, 31) else end))
    return found


def test_durations_match_plain_python() -> None:
    rows = random_rows(21)
    until = date(2024, 6, 30)
    result = durations(rows, ["2021", "2022", "2023"], until=until)
    measured: dict[tuple[Any, Any], list[tuple[int, bool]]] = defaultdict(list)
    for form, provider, start, end in plain_trajectories(rows):
        if not date(2021, 1, 1) <= start <= date(2023, 12, 31):
            continue
        ended = end is not None and end <= until
        days = ((end if ended else until) - start).days + 1  # type: ignore[operator]
        for key in ((None, None), (form, None), (None, provider), (form, provider)):
            measured[key].append((days, ended))
    got = {(row["care_form"], row["provider"]): row for row in result.table.iter_rows(named=True)}
    assert got.keys() == measured.keys()
    for key, times in measured.items():
        row = got[key]
        assert (row["q1_days"], row["median_days"], row["q3_days"]) == plain_km_quartiles(times)
        assert row["trajectories"] == len(times)
        assert row["share_still_open"] == pytest.approx(
            sum(not ended for _, ended in times) / len(times)
        )


def test_open_trajectories_are_censored_not_ended() -> None:
    # four trajectories: two end after 10 days, two are open after 100 days
    start = date(2024, 1, 1)
    rows = pl.DataFrame(
        {
            "pseudonym": [pseudonym(n) for n in range(4)],
            "bsn_status": ["valid"] * 4,
            "provider": ["A"] * 4,
            "care_form": ["ambulant"] * 4,
            "start_date": [start] * 4,
            "end_date": [start + timedelta(days=9)] * 2 + [None, None],
        }
    )
    result = durations(rows, ["2024"], until=start + timedelta(days=99), by=[])
    row = result.table.row(0, named=True)
    # half ended at 10 days: the median is 10; the third quartile is never reached
    assert (row["q1_days"], row["median_days"], row["q3_days"]) == (10, 10, None)
    assert row["share_still_open"] == 0.5


def plain_cost(rows: pl.DataFrame, until: date, by: str | None) -> dict:
    """Plain Python: each row's cost spread over its days from the first year's start."""
    cells: dict[tuple[str, Any], list[Any]] = {}
    for year in YEARS:
        for row in rows.to_dicts():
            begin = max(row["start_date"], YEARS[0].start)
            finish = min(row["end_date"] or until, until)
            span = max((finish - begin).days + 1, 1)
            overlap = (min(finish, year.end) - max(begin, year.start)).days + 1
            if row["start_date"] > year.end or (
                row["end_date"] is not None and row["end_date"] < year.start
            ):
                continue
            share = row["cost"] * max(overlap, 0) / span
            cell = cells.setdefault((year.label, None if by is None else row[by]), [0.0, set()])
            if row["bsn_status"] == "valid":
                cell[0] += share
                cell[1].add(row["pseudonym"])
    return {key: (value[0], len(value[1])) for key, value in cells.items()}


@pytest.mark.parametrize("by", [None, "provider", "municipality"])
def test_cost_per_client_matches_plain_python(by: str | None) -> None:
    rows = random_rows(5)
    until = date(2024, 12, 31)
    result = cost_change(rows, YEARS, by=() if by is None else (by,), until=until)
    expected = plain_cost(rows, until, by)
    table = result.table.filter(pl.col("dimension") == ("total" if by is None else by))
    for row in table.iter_rows(named=True):
        cost, clients = expected.get((row["period"], row["value"]), (0.0, 0))
        assert row["cost"] == pytest.approx(cost)
        assert row["unique_clients"] == clients


def year_rows(costs: dict[str, dict[int, float]]) -> pl.DataFrame:
    """One row per client and year, in care the whole year, with the given cost."""
    records = [
        (person, date(int(label), 1, 1), date(int(label), 12, 31), cost)
        for label, by_person in costs.items()
        for person, cost in by_person.items()
    ]
    return pl.DataFrame(
        {
            "pseudonym": [pseudonym(person) for person, *_ in records],
            "bsn_status": ["valid"] * len(records),
            "provider": ["A"] * len(records),
            "start_date": pl.Series([start for _, start, _, _ in records], dtype=pl.Date),
            "end_date": pl.Series([end for _, _, end, _ in records], dtype=pl.Date),
            "cost": [cost for *_, cost in records],
        }
    )


def test_volume_and_intensity_of_a_hand_computed_case() -> None:
    """Review #19, 12: 2 clients at 100 become 4 at 130. C: 200 -> 520, change 320;
    volume = (4 - 2) x (100 + 130) / 2 = 230; intensity = (130 - 100) x (2 + 4) / 2 = 90."""
    rows = year_rows({"2023": {1: 100.0, 2: 100.0}, "2024": dict.fromkeys(range(1, 5), 130.0)})
    row = cost_change(rows, ["2023", "2024"], by=[]).table.row(1, named=True)
    assert (row["cost"], row["unique_clients"], row["cost_per_client"]) == (520.0, 4, 130.0)
    assert row["change"] == pytest.approx(320.0)
    assert row["volume_effect"] == pytest.approx(230.0)
    assert row["intensity_effect"] == pytest.approx(90.0)


def test_a_period_without_rows_is_in_the_table() -> None:
    """Review #19, 15: the change of 2025 is against an empty 2024, not against 2023."""
    rows = year_rows({"2023": {1: 100.0}, "2025": {1: 300.0, 2: 300.0}})
    table = cost_change(rows, ["2023", "2024", "2025"], by=[]).table
    assert table.select("period", "cost", "unique_clients").rows() == [
        ("2023", 100.0, 1),
        ("2024", 0.0, 0),
        ("2025", 600.0, 2),
    ]
    assert table["change"].to_list() == [None, -100.0, 600.0]
    # without clients in 2024 there is no intensity there: the whole change is volume
    assert table["volume_effect"].to_list() == [None, -100.0, 600.0]


def test_cost_per_year_is_the_cost_delivered_for_it(tmp_path: Path) -> None:
    """Review #19, 2 (repro r2): each year's cost is what that year's deliveries say, whatever
    periods are asked, and the cost per client follows the delivered intensity."""
    episodes = episodes_frame(
        [
            (1, "A", "ambulant", day("2023-01-01"), None),
            (2, "A", "ambulant", day("2024-01-01"), None),
            (3, "B", "verblijf", day("2023-06-01"), day("2024-02-29")),
        ]
    )
    made = []
    delivered: dict[tuple[str, str], float] = defaultdict(float)
    for provider in ("A", "B"):
        for label in ("2023", "2024"):
            rows = delivery_rows(episodes, parse_period(label), provider)
            if label == "2024":  # intensity doubles in 2024
                rows = rows.with_columns(pl.col("cost") * 2)
            delivered[(label, provider)] += rows["cost"].sum()
            path = write_delivery(tmp_path, f"{provider}{label}.parquet", rows)
            made.append((path, label))
    linked = tmp_path / "linked.parquet"
    link([path for path, _ in made], linked, periods=dict(made))
    table = cost_change(linked, ["2023", "2024"], by=["provider"]).table
    for row in table.filter(pl.col("dimension") == "provider").iter_rows(named=True):
        assert row["cost"] == pytest.approx(delivered[(row["period"], row["value"])])
    alone = cost_change(linked, ["2024"], by=[]).table
    assert alone["cost"].item() == pytest.approx(
        delivered[("2024", "A")] + delivered[("2024", "B")]
    )
    totals = table.filter(pl.col("dimension") == "total")
    assert totals["cost_per_client"][1] > totals["cost_per_client"][0]


def test_periods_the_deliveries_do_not_cover_are_refused(tmp_path: Path) -> None:
    """Review #19, 4 (repro r2): deliveries for 2023 and 2024 only."""
    episodes = episodes_frame([(1, "A", "ambulant", day("2023-01-01"), None)])
    made = [
        (
            write_delivery(
                tmp_path, f"a{y}.parquet", delivery_rows(episodes, parse_period(y), "A")
            ),
            y,
        )
        for y in ("2023", "2024")
    ]
    linked = tmp_path / "linked.parquet"
    link([path for path, _ in made], linked, periods=dict(made))
    lacking = (
        r"period 2025 is not covered by the deliveries \(provider 'A' lacks 2025-01-01 to "
        r"2025-12-31\)"
    )
    with pytest.raises(ConfigError, match="series: " + lacking):
        series(linked, ["2024", "2025"])
    with pytest.raises(ConfigError, match="cost_change: " + lacking):
        cost_change(linked, ["2025"], by=[])
    with pytest.raises(ConfigError, match="until 2025-06-30 is after 2024-12-31"):
        durations(linked, ["2023"], until="2025-06-30", by=[])
    # open trajectories are censored at the last covered day, not at the last period's end
    result = durations(linked, ["2023"], by=[])
    assert result.until == day("2024-12-31")
    assert result.table["still_open"].to_list() == [1]
    assert cost_change(linked, ["2023"], by=[]).until == day("2024-12-31")


_DELIVERY = st.tuples(
    st.sampled_from("AB"),
    st.integers(0, 36),  # first month of the delivery, from 2022-01
    st.integers(1, 12),  # months it covers
    st.one_of(st.none(), st.integers(-40, 400)),  # made this many days after its first day
)


def _month(index: int) -> date:
    return date(2022 + index // 12, index % 12 + 1, 1)


@settings(max_examples=150, deadline=None)
@given(
    deliveries=st.lists(_DELIVERY, max_size=6),
    first=st.integers(0, 47),
    months=st.integers(1, 13),
    until=st.one_of(st.none(), st.integers(0, 1500)),
)
def test_the_monitor_refuses_exactly_the_periods_no_delivery_covers(
    deliveries: list[tuple[str, int, int, int | None]],
    first: int,
    months: int,
    until: int | None,
) -> None:
    """Against plain Python: a period is refused when some provider with deliveries has no
    stretch of joined deliveries (touching ones join) that holds it wholly; an ``until`` when it
    is after the last day every provider's deliveries tell about (per provider the end of its
    last delivery, or the day that one was made when earlier, but not before its first day)."""
    from factlab.analysis.coverage import coverage_of
    from factlab.monitor._source import MonitorRows
    from factlab.periods import Period

    units = [
        (
            provider,
            _month(start),
            _month(start + length) - timedelta(days=1),
            None if made is None else _month(start) + timedelta(days=made),
        )
        for provider, start, length, made in deliveries
    ]
    period = Period("asked", _month(first), _month(first + months) - timedelta(days=1))
    until_day = None if until is None else date(2022, 1, 1) + timedelta(days=until)
    rows = MonitorRows(
        pl.LazyFrame(),
        "frame",
        {},
        False,
        coverage_of(
            (provider, start.isoformat(), end.isoformat(), None if made is None else str(made))
            for provider, start, end, made in units
        ),
    )
    joined: dict[str, list[list[date]]] = defaultdict(list)
    for provider, start, end, _ in sorted(units, key=lambda unit: unit[:3]):
        spans = joined[provider]
        if spans and start <= spans[-1][1] + timedelta(days=1):
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    lacking = sorted(
        provider
        for provider, spans in joined.items()
        if not any(start <= period.start and period.end <= end for start, end in spans)
    )
    known: list[date] = []
    for provider in joined:
        start, end, made = max(
            ((s, e, m) for p, s, e, m in units if p == provider), key=lambda unit: unit[1]
        )
        known.append(end if made is None else max(start, min(end, made)))
    too_late = until_day is not None and bool(known) and until_day > min(known)
    assert rows.last_covered() == (min(known) if known else None)
    if not lacking and not too_late:
        rows.check_covered([period], until=until_day, where="series")
        return
    with pytest.raises(ConfigError) as refused:
        rows.check_covered([period], until=until_day, where="series")
    told = str(refused.value)
    for provider in lacking:
        assert f"provider '{provider}' lacks" in told
    assert ("period asked is not covered" in told) == bool(lacking)
    assert ("is after" in told) == too_late


def test_a_negative_cost_is_refused() -> None:
    rows = random_rows(2).with_columns(pl.lit(-1.0).alias("cost"))
    with pytest.raises(DataError, match="negative or non-finite cost"):
        cost_change(rows, YEARS)
