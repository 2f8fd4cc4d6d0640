"""A count of a linked file refuses days its providers' deliveries do not cover (#19)."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from delivery_helpers import clients_in, day, delivery_rows, episodes_frame, pseudonym
from delivery_helpers import write_delivery as write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factlab.cli.trusted  # noqa: F401  (registers the commands on factlab.cli.main)
from factlab.analysis.counts import count
from factlab.analysis.coverage import Coverage, coverage_of, linked_coverage
from factlab.analysis.link import link
from factlab.cli import main
from factlab.errors import ConfigError
from factlab.periods import Period, parse_period

# Client 1 is ongoing from 2022 at A; A delivers 2023 and 2025, nothing for 2024, and 1 is not
# in the 2025 delivery: nothing tells whether 1 was in care in 2024. B delivers 2023-2025.
EPISODES = episodes_frame(
    [
        (1, "A", "ambulant", day("2022-06-01"), None),
        (2, "A", "ambulant", day("2023-02-01"), None),
        (3, "B", "verblijf", day("2023-05-01"), day("2025-03-31")),
    ]
)


@pytest.fixture(scope="module")
def gap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gap")
    a23 = write(folder, "a23.parquet", delivery_rows(EPISODES, parse_period("2023"), "A"))
    later = delivery_rows(EPISODES, parse_period("2025"), "A")
    a25 = write(folder, "a25.parquet", later.filter(pl.col("pseudonym") == pseudonym(2)))
    periods = {a23: "2023", a25: "2025"}
    for label in ("2023", "2024", "2025"):
        rows = delivery_rows(EPISODES, parse_period(label), "B")
        periods[write(folder, f"b{label}.parquet", rows)] = label
    linked = folder / "linked.parquet"
    link(list(periods), linked, periods=periods)
    return linked


def test_a_period_in_a_provider_s_gap_is_refused_not_counted(gap: Path) -> None:
    """Before the fix, 2024 counted client 1 as in care: A delivered nothing for it."""
    with pytest.raises(ConfigError) as refused:
        count(gap, period="2024")
    message = str(refused.value)
    assert "period 2024 is not covered" in message
    assert "provider 'A' lacks 2024-01-01 to 2024-12-31" in message
    assert "'B'" not in message  # B covers 2024
    assert pseudonym(1) not in message


def test_a_reference_date_in_the_gap_is_refused(gap: Path) -> None:
    with pytest.raises(ConfigError, match=r"reference date 2024-06-30 is not covered.*'A' lacks"):
        count(gap, on="2024-06-30")


@pytest.mark.parametrize(
    ("period", "lacking"),
    [
        ("2022", "2022-01-01 to 2022-12-31"),  # before any delivery
        ("2026H1", "2026-01-01 to 2026-06-30"),  # after the last
        ("2023-07-01..2024-03-31", "2024-01-01 to 2024-03-31"),  # partly in the gap
    ],
)
def test_days_outside_the_coverage_are_named(gap: Path, period: str, lacking: str) -> None:
    with pytest.raises(ConfigError, match=f"'A' lacks {lacking}"):
        count(gap, period=period)


# What the deliveries say: 1 is in A's 2023 delivery and not in its 2025 one, so it ended in
# 2024 or before (the gap, where nothing is counted); any day of the gap gives the same counts.
DELIVERED = EPISODES.with_columns(
    pl.when(pl.col("pseudonym") == pseudonym(1))
    .then(pl.lit(day("2024-12-31")))
    .otherwise(pl.col("end_date"))
    .alias("end_date")
)


@pytest.mark.parametrize("period", ["2023", "2023H2", "2025", "2025Q1"])
def test_covered_periods_count_as_the_truth(gap: Path, period: str) -> None:
    chosen = parse_period(period)
    assert count(gap, period=period).unique_clients == len(clients_in(DELIVERED, chosen))


def test_an_episode_a_delivery_after_the_gap_lacks_is_not_counted_after_it(gap: Path) -> None:
    """Review of #19 (finding 1): 1 was counted in 2025, though A's 2025 delivery lacks it."""
    by_provider = dict(
        count(gap, period="2025", by=["provider"])
        .table.select("provider", "unique_clients")
        .iter_rows()
    )
    assert by_provider["A"] == 1  # client 2 only
    assert count(gap, period="2025").unique_clients == 2  # 2 at A, 3 at B
    ends = dict(pl.read_parquet(gap).select("pseudonym", "end_date").iter_rows())
    assert ends[pseudonym(1)] == day("2024-12-31")  # the day before A's next coverage
    assert ends[pseudonym(2)] is None


def test_an_empty_delivery_after_a_gap_ends_what_was_ongoing(tmp_path: Path) -> None:
    """A's 2025 delivery has no rows at all: the plan, not the rows, tells that it exists."""
    one = EPISODES.filter(pl.col("provider") == "A")
    a23 = write(tmp_path, "a23.parquet", delivery_rows(one, parse_period("2023"), "A"))
    empty = write(
        tmp_path, "a25.parquet", delivery_rows(one, parse_period("2023"), "A").head(0), provider="A"
    )
    linked = tmp_path / "linked.parquet"
    manifest = link([a23, empty], linked, periods={a23: "2023", empty: "2025"})
    assert count(linked, period="2025").unique_clients == 0
    assert count(linked, period="2023").unique_clients == 2
    assert pl.read_parquet(linked)["end_date"].to_list() == [day("2024-12-31")] * 2
    assert manifest.extra["duplicate_episodes"]["A"]["episodes_closed"] == 2


def test_an_episode_the_delivery_before_the_gap_lacks_is_not_counted_before_it(
    tmp_path: Path,
) -> None:
    """The mirror of finding 1: A's 2025 delivery says 1 started in 2022, but A's 2023 delivery
    lacks 1, so 1 started after 2023 (in the gap at the earliest): 2023 does not count it."""
    episodes = episodes_frame(
        [
            (1, "A", "ambulant", day("2024-06-01"), None),
            (2, "A", "ambulant", day("2023-02-01"), None),
        ]
    )
    a23 = write(tmp_path, "a23.parquet", delivery_rows(episodes, parse_period("2023"), "A"))
    told = delivery_rows(episodes, parse_period("2025"), "A").with_columns(
        pl.when(pl.col("pseudonym") == pseudonym(1))
        .then(pl.lit(day("2022-01-01")))
        .otherwise(pl.col("start_date"))
        .alias("start_date")
    )
    a25 = write(tmp_path, "a25.parquet", told)
    linked = tmp_path / "linked.parquet"
    manifest = link([a23, a25], linked, periods={a23: "2023", a25: "2025"})
    assert count(linked, period="2023").unique_clients == 1
    assert count(linked, period="2025").unique_clients == 2
    starts = dict(pl.read_parquet(linked).select("pseudonym", "start_date").iter_rows())
    assert starts == {pseudonym(1): day("2024-01-01"), pseudonym(2): day("2023-02-01")}
    assert manifest.extra["duplicate_episodes"]["A"]["episodes_started"] == 1
    # the monitor's store (one part per year) says the same
    from factlab.monitor.series import series
    from factlab.monitor.store import append_to_store

    store = tmp_path / "store"
    for path, label in ((a23, "2023"), (a25, "2025")):
        append_to_store(store, [path], periods={path: label})
    years = [parse_period("2023"), parse_period("2025")]
    table = series(store, years).table.filter(pl.col("dimension") == "total")
    assert table["unique_clients"].to_list() == [1, 2]
    # a start within the gap is as delivered
    inside = write(tmp_path, "in25.parquet", delivery_rows(episodes, parse_period("2025"), "A"))
    again = tmp_path / "again.parquet"
    link([a23, inside], again, periods={a23: "2023", inside: "2025"})
    starts = dict(pl.read_parquet(again).select("pseudonym", "start_date").iter_rows())
    assert starts[pseudonym(1)] == day("2024-06-01")


def test_an_end_delivered_within_the_gap_stays(tmp_path: Path) -> None:
    """An episode the 2023 delivery says ends in the gap keeps that end: nothing contradicts it."""
    episodes = episodes_frame([(4, "A", "ambulant", day("2023-03-01"), day("2024-05-31"))])
    rows = delivery_rows(episodes, parse_period("2023"), "A").with_columns(
        pl.lit(day("2024-05-31")).alias("end_date")  # a planned end, known in 2023
    )
    a23 = write(tmp_path, "a23.parquet", rows)
    a25 = write(tmp_path, "a25.parquet", rows.head(0), provider="A")
    linked = tmp_path / "linked.parquet"
    link([a23, a25], linked, periods={a23: "2023", a25: "2025"})
    assert pl.read_parquet(linked)["end_date"].to_list() == [day("2024-05-31")]


def test_a_store_across_the_gap_counts_as_one_link(gap: Path, tmp_path: Path) -> None:
    """The monitor's store applies the same rule across its parts (rows tell the deliveries)."""
    from factlab.monitor.series import series
    from factlab.monitor.store import append_to_store

    folder = gap.parent
    store = tmp_path / "store"
    batches = [
        {folder / "a23.parquet": "2023", folder / "b2023.parquet": "2023"},
        {folder / "b2024.parquet": "2024"},
        {folder / "a25.parquet": "2025", folder / "b2025.parquet": "2025"},
    ]
    for batch in batches:
        append_to_store(store, list(batch), periods=batch)
    years = [parse_period("2023"), parse_period("2025")]
    for source in (store, gap):
        table = series(source, years).table.filter(pl.col("dimension") == "total")
        assert table["unique_clients"].to_list() == [
            len(clients_in(DELIVERED, period)) for period in years
        ]


def test_a_count_without_a_period_is_not_checked(gap: Path) -> None:
    assert count(gap).unique_clients == 3


def test_the_cli_refuses_with_one_line_and_writes_nothing(gap: Path, tmp_path: Path) -> None:
    out = tmp_path / "counts.json"
    result = CliRunner().invoke(main, ["count", str(gap), "--period", "2024", "--out", str(out)])
    assert result.exit_code == 4, result.output
    assert "provider 'A' lacks 2024-01-01 to 2024-12-31" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
    done = CliRunner().invoke(main, ["count", str(gap), "--period", "2023", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text())["unique_clients"] == 3


def test_a_superseded_delivery_covers_nothing_a_replacement_covers_its_period(
    tmp_path: Path,
) -> None:
    """A correction of 2024H2 replaces that half; coverage stays the whole year."""
    one = EPISODES.filter(pl.col("provider") == "B")
    b24 = write(tmp_path, "b24.parquet", delivery_rows(one, parse_period("2024"), "B"))
    fix = write(tmp_path, "fix.parquet", delivery_rows(one, parse_period("2024H2"), "B"))
    linked = tmp_path / "linked.parquet"
    link([b24, fix], linked, periods={b24: "2024", fix: "2024H2"}, replace=True)
    assert linked_coverage(linked).spans == {"B": ((date(2024, 1, 1), date(2024, 12, 31)),)}
    assert count(linked, period="2024").unique_clients == 1


def test_a_file_linked_without_periods_has_no_coverage(tmp_path: Path) -> None:
    path = write(tmp_path, "a.parquet", delivery_rows(EPISODES, parse_period("2023"), "A"))
    linked = tmp_path / "linked.parquet"
    link([path], linked)
    assert not linked_coverage(linked)
    assert count(linked, period="2030").unique_clients == 2  # as before periods existed


_DAY0 = date(2020, 1, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spans=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20)), min_size=1, max_size=5),
    asked=st.tuples(st.integers(0, 90), st.integers(0, 30)),
)
def test_uncovered_days_are_exactly_the_days_no_delivery_covers(
    spans: list[tuple[int, int]], asked: tuple[int, int]
) -> None:
    """Oracle: the uncovered days, day by day, against the spans' days."""
    units = [
        (
            "A",
            (_DAY0 + timedelta(first)).isoformat(),
            (_DAY0 + timedelta(first + length)).isoformat(),
            None,
        )
        for first, length in spans
    ]
    covered_days = {first + offset for first, length in spans for offset in range(length + 1)}
    start, length = asked
    period = Period("asked", _DAY0 + timedelta(start), _DAY0 + timedelta(start + length))
    expected = {day for day in range(start, start + length + 1) if day not in covered_days}
    gaps = coverage_of(units).uncovered(period).get("A", [])
    found = {
        (first - _DAY0).days + offset
        for first, last in gaps
        for offset in range((last - first).days + 1)
    }
    assert found == expected
    # the gaps are disjoint, in order, and not touching (each is as long as it can be)
    assert all(a[1] + timedelta(days=1) < b[0] for a, b in itertools.pairwise(gaps))


def test_common_days_and_known_until() -> None:
    covered = coverage_of(
        [
            ("A", "2023-01-01", "2024-12-31", "2025-01-10T08:00:00+00:00"),
            ("B", "2024-01-01", "2024-06-30", None),
            ("B", "2024-07-01", "2024-12-31", "2024-10-15T08:00:00+00:00"),
        ]
    )
    assert covered.common() == [(date(2024, 1, 1), date(2024, 12, 31))]
    assert covered.known_until == date(2024, 10, 15)
    assert Coverage().common_text() == "none"


def test_the_other_analyses_of_a_period_refuse_the_gap_too(gap: Path) -> None:
    from factlab.analysis.costs import costs
    from factlab.analysis.flows import flows, repeat_use
    from factlab.analysis.overlap import overlap

    for name, analysis in (
        ("overlap", lambda: overlap(gap, period="2024")),
        ("costs", lambda: costs(gap, by=["provider"], period="2024")),
        ("repeat_use", lambda: repeat_use(gap, "2024")),
        ("flows", lambda: flows(gap, "2023", "2024")),
    ):
        with pytest.raises(ConfigError, match=f"{name}: period 2024 is not covered.*'A' lacks"):
            analysis()
    assert costs(gap, by=["provider"], period="2023").table.height > 0
    assert flows(gap, "2023H1", "2023H2", repeat_years=None).table.height > 0


def test_repeat_use_refuses_a_look_back_the_deliveries_do_not_cover(gap: Path) -> None:
    """Review of #19 (finding 5): 2025 is covered, but its look-back of 2 years reads A's gap."""
    from factlab.analysis.flows import flows, look_back, repeat_use

    assert look_back(parse_period("2025"), 2).start == day("2023-01-01")
    assert look_back(parse_period("2024-02-29..2024-03-31"), 1).start == day("2023-02-28")
    with pytest.raises(ConfigError) as refused:
        repeat_use(gap, "2025", years=2)
    message = str(refused.value)
    assert "look-back of 2 year(s)" in message
    assert "provider 'A' lacks 2024-01-01 to 2024-12-31" in message
    assert "ask for fewer years" in message
    with pytest.raises(ConfigError, match=r"A' lacks 2024-01-01 to 2024-12-31.*--no-repeat"):
        flows(gap, "2023", "2025", repeat_years=2)
    # the look-back starts years before the period's first day: 2022-12 is before any delivery
    with pytest.raises(ConfigError, match="'A' lacks 2022-12-01 to 2022-12-31"):
        repeat_use(gap, "2023-12-01..2023-12-31", years=1)
    assert flows(gap, "2023", "2025", repeat_years=None).table.height > 0
    rows = pl.read_parquet(gap)  # a frame carries no coverage: not checked, as before
    assert repeat_use(rows, "2025", years=2).table.height > 0


def test_repeat_use_of_a_covered_look_back_is_served(tmp_path: Path) -> None:
    one = EPISODES.filter(pl.col("provider") == "B")
    periods = {
        write(tmp_path, f"b{label}.parquet", delivery_rows(one, parse_period(label), "B")): label
        for label in ("2023", "2024", "2025")
    }
    linked = tmp_path / "linked.parquet"
    link(list(periods), linked, periods=periods)
    from factlab.analysis.flows import repeat_use

    assert repeat_use(linked, "2025", years=2).years == 2
    with pytest.raises(ConfigError, match="'B' lacks 2022-01-01 to 2022-12-31"):
        repeat_use(linked, "2025", years=3)


def test_the_report_and_the_estimates_refuse_the_gap_too(gap: Path) -> None:
    """Review of #19 (finding 2): the published report showed what count refuses."""
    from factlab.estimation.histories import histories_from_linked
    from factlab.estimation.unlinked import estimate_unlinked
    from factlab.report.build import build_report
    from factlab.report.config import RoundConfig

    year, half = parse_period("2024"), parse_period("2024H1")
    covered = parse_period("2023")
    refused = {
        "report": [
            lambda: build_report(gap, RoundConfig(period=year, dimensions=("care_form",))),
            lambda: build_report(gap, RoundConfig(reference_date=day("2024-03-01"))),
            # a covered period with a part in the gap
            lambda: build_report(
                gap,
                RoundConfig(
                    period=parse_period("2023-07-01..2024-06-30"),
                    parts=(parse_period("2023H2"), half),
                ),
            ),
        ],
        "estimate_unlinked": [
            lambda: estimate_unlinked(gap, period=year),
            lambda: estimate_unlinked(gap, on=day("2024-06-30")),
        ],
        "histories": [
            lambda: histories_from_linked(gap, period=half),
            lambda: histories_from_linked(gap, on=day("2024-06-30")),
        ],
    }
    for name, attempts in refused.items():
        for attempt in attempts:
            with pytest.raises(ConfigError, match=f"{name}: .* is not covered.*'A' lacks 2024"):
                attempt()
    # a covered period is served, and agrees with count
    assert estimate_unlinked(gap, period=covered).lower == count(gap, period="2023").unique_clients
    assert sum(histories_from_linked(gap, period=covered)[0].counts) == 3
    report = build_report(gap, RoundConfig(period=covered, dimensions=("care_form",)))
    assert report.tables


def test_a_filtered_count_is_refused_for_any_provider_s_gap_and_says_how(gap: Path) -> None:
    """Review of #19 (finding 4): ``where`` is not analysed; the message tells what to do."""
    with pytest.raises(ConfigError) as refused:
        count(gap, period="2024", where=pl.col("provider") == "B")
    message = str(refused.value)
    assert "provider 'A' lacks 2024-01-01 to 2024-12-31" in message
    assert "link only their deliveries" in message
    with pytest.raises(ConfigError) as plain:
        count(gap, period="2024")
    assert "where is not analysed" not in str(plain.value)
    # what the message advises: B's deliveries linked alone are counted
    folder = gap.parent
    periods = {folder / f"b{label}.parquet": label for label in ("2023", "2024", "2025")}
    only_b = folder / "only-b.parquet"
    link(list(periods), only_b, periods=periods)
    assert count(only_b, period="2024").unique_clients == 1
