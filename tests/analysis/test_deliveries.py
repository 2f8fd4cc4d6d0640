"""Deliveries per period in link: coverage, replacement, episodes delivered twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from delivery_helpers import (
    clients_in,
    day,
    deliver_periods,
    delivery_rows,
    episodes_frame,
    pseudonym,
    write_delivery,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factlab.cli.trusted  # noqa: F401  (registers the commands on factlab.cli.main)
from factlab.analysis.counts import count
from factlab.analysis.deliveries import Delivery, plan_coverage
from factlab.analysis.link import link
from factlab.cli import main
from factlab.errors import LinkError
from factlab.periods import parse_period

EPISODES = episodes_frame(
    [
        (1, "A", "ambulant", day("2023-03-01"), day("2024-05-31")),  # spans both years
        (2, "A", "ambulant", day("2023-06-01"), None),  # ongoing through both
        (3, "A", "verblijf", day("2023-01-10"), day("2023-04-30")),  # only 2023
        (4, "A", "ambulant", day("2024-02-01"), day("2024-10-31")),  # only 2024
        (1, "B", "ambulant", day("2024-08-01"), None),
        (5, "B", "ambulant", day("2023-09-01"), day("2024-01-31")),
    ]
)


def plan(*items: tuple[str, str, str | None], replace: bool = False) -> list[tuple[str, object]]:
    deliveries = [
        Delivery(name, provider, None if label is None else parse_period(label))
        for name, provider, label in items
    ]
    return [
        (entry.delivery.name, "gone" if entry.superseded else entry.covers)
        for entry in plan_coverage(deliveries, replace=replace)
    ]


def test_periods_that_do_not_overlap_are_all_used() -> None:
    assert plan(("a23", "A", "2023"), ("a24", "A", "2024"), ("b", "B", None)) == [
        ("a23", (date(2023, 1, 1), date(2023, 12, 31))),
        ("a24", (date(2024, 1, 1), date(2024, 12, 31))),
        ("b", None),
    ]


def test_overlapping_periods_are_refused_without_replace() -> None:
    with pytest.raises(LinkError, match=r"a24h2 \(period 2024H2\) overlaps a24 \(period 2024\)"):
        plan(("a24", "A", "2024"), ("a24h2", "A", "2024H2"))


def test_replace_takes_exactly_the_period_of_the_newer_delivery() -> None:
    assert plan(("a24", "A", "2024"), ("a24h1", "A", "2024H1"), replace=True) == [
        ("a24", (date(2024, 7, 1), date(2024, 12, 31))),
        ("a24h1", (date(2024, 1, 1), date(2024, 6, 30))),
    ]
    assert plan(("a24", "A", "2024"), ("again", "A", "2024"), replace=True) == [
        ("a24", "gone"),
        ("again", (date(2024, 1, 1), date(2024, 12, 31))),
    ]


def test_a_replacement_that_splits_a_delivery_is_refused() -> None:
    with pytest.raises(LinkError, match="covering 2 separate parts"):
        plan(("a24", "A", "2024"), ("q2", "A", "2024Q2"), replace=True)


def test_with_and_without_period_cannot_be_mixed() -> None:
    with pytest.raises(LinkError, match="with a period and without one"):
        plan(("a", "A", None), ("a24", "A", "2024"), replace=True)


def linked_rows(tmp_path: Path, deliveries: list[tuple[Path, str]], **options: object) -> tuple:
    out = tmp_path / "linked.parquet"
    manifest = link(
        [path for path, _ in deliveries],
        out,
        periods=dict(deliveries),
        **options,  # type: ignore[arg-type]
    )
    return manifest, pl.read_parquet(out)


def test_link_keeps_an_episode_delivered_in_two_years_once(tmp_path: Path) -> None:
    deliveries = deliver_periods(tmp_path, EPISODES, ["2023", "2024"])
    manifest, rows = linked_rows(tmp_path, deliveries)
    # six episodes, each kept once; the copies of the spanning ones are dropped
    assert rows.height == 6
    assert manifest.rows == 6
    assert manifest.rows_by_status["valid"] == 6
    spanning = rows.filter((pl.col("pseudonym") == pseudonym(1)) & (pl.col("provider") == "A")).row(
        0, named=True
    )
    assert spanning["end_date"] == day("2024-05-31")  # the newest delivery's knowledge
    # each year's cost of the episode: days in 2023 and in 2024, 10 euros a day
    assert spanning["cost"] == 10.0 * ((day("2023-12-31") - day("2023-03-01")).days + 1) + (
        10.0 * ((day("2024-05-31") - day("2024-01-01")).days + 1)
    )
    assert rows["cost"].sum() == pytest.approx(
        sum(
            delivery_rows(EPISODES, parse_period(label), provider)["cost"].sum()
            for provider in "AB"
            for label in ("2023", "2024")
        )
    )
    found = manifest.extra["duplicate_episodes"]
    assert found["A"]["episodes_repeated"] == 2
    assert found["A"]["duplicate_rows"] == 2
    assert found["B"]["episodes_repeated"] == 1
    assert found["B"]["duplicate_rows"] == 1
    coverage = {(entry["file"], entry["period"]) for entry in manifest.extra["deliveries"]}
    assert coverage == {(path.name, label) for path, label in deliveries}
    assert {entry["covers_from"] for entry in manifest.inputs} == {"2023-01-01", "2024-01-01"}


def deliver_every_period(
    folder: Path, episodes: pl.DataFrame, labels: list[str]
) -> list[tuple[Path, str]]:
    """One delivery per provider and period, an empty one where it had no clients: a period
    no delivery of a provider covers is refused by count (tests/analysis/test_count_coverage)."""
    made = deliver_periods(folder, episodes, labels)
    done = {path.name for path, _ in made}
    for provider in sorted(set(episodes["provider"].to_list())):
        for label in labels:
            name = f"{provider}-{label}.parquet"
            if name not in done:
                empty = delivery_rows(episodes, parse_period(label), provider).head(0)
                made.append((write_delivery(folder, name, empty, provider=provider), label))
    return made


def test_counts_per_year_match_the_truth(tmp_path: Path) -> None:
    periods = ["2023H1", "2023H2", "2024H1", "2024H2"]
    deliveries = deliver_every_period(tmp_path, EPISODES, periods)
    manifest, _ = linked_rows(tmp_path, deliveries)
    for label in ("2023", "2023H2", "2024", "2024H1"):
        counted = count(tmp_path / "linked.parquet", period=label)
        assert counted.unique_clients == len(clients_in(EPISODES, parse_period(label)))
    assert manifest.rows == EPISODES.height


def test_an_ongoing_episode_no_later_delivery_repeats_is_closed(tmp_path: Path) -> None:
    a23 = write_delivery(
        tmp_path, "a23.parquet", delivery_rows(EPISODES, parse_period("2023"), "A")
    )
    # the 2024 delivery lacks client 2's ongoing episode: it ended within 2023's delivery
    rows24 = delivery_rows(EPISODES, parse_period("2024"), "A").filter(
        pl.col("pseudonym") != pseudonym(2)
    )
    a24 = write_delivery(tmp_path, "a24.parquet", rows24)
    manifest, rows = linked_rows(tmp_path, [(a23, "2023"), (a24, "2024")])
    closed = rows.filter(pl.col("pseudonym") == pseudonym(2))
    assert closed["end_date"].to_list() == [day("2023-12-31")]
    assert manifest.extra["duplicate_episodes"]["A"]["episodes_closed"] == 1
    assert count(tmp_path / "linked.parquet", period="2024").unique_clients == 2


def test_a_correction_replaces_only_its_half_year(tmp_path: Path) -> None:
    year = write_delivery(
        tmp_path, "a24.parquet", delivery_rows(EPISODES, parse_period("2024"), "A")
    )
    # the correction of 2024H1 says client 4 was not in care then (and so not at all in H1)
    corrected = delivery_rows(EPISODES, parse_period("2024H1"), "A").filter(
        pl.col("pseudonym") != pseudonym(4)
    )
    fix = write_delivery(tmp_path, "a24h1.parquet", corrected)
    manifest, _ = linked_rows(tmp_path, [(year, "2024"), (fix, "2024H1")], replace=True)
    linked = tmp_path / "linked.parquet"
    # client 4's episode runs into H2, which the year delivery still covers
    assert count(linked, period="2024H2").unique_clients == 2
    entry = next(item for item in manifest.extra["deliveries"] if item["file"] == "a24.parquet")
    assert (entry["covers_from"], entry["covers_to"]) == ("2024-07-01", "2024-12-31")
    assert entry["replaced"] == [{"period": "2024H1", "by": "a24h1.parquet"}]
    # client 3 of 2023 is not in either 2024 delivery; H1 has clients 1 and 2 of the correction
    # only: client 4's episode starts where the correction's coverage ends (review #19, 3)
    assert count(linked, period="2024H1").unique_clients == 2
    rows = pl.read_parquet(linked).filter(pl.col("pseudonym") == pseudonym(4))
    assert rows.select("start_date", "end_date").row(0) == (day("2024-07-01"), day("2024-10-31"))
    # its cost is the year delivery's, prorated to the days it still covers: 123 of 274 days
    assert rows["cost"][0] == pytest.approx(10.0 * 274 * 123 / 274)
    assert manifest.extra["duplicate_episodes"]["A"]["episodes_started"] == 1


def test_an_empty_correction_at_the_start_removes_the_episode_there(tmp_path: Path) -> None:
    """Review #19, must-fix 3 (repro r4): an empty 2024H1 correction of a year delivery."""
    episodes = episodes_frame([(4, "A", "ambulant", day("2024-02-01"), day("2024-10-31"))])
    year = write_delivery(tmp_path, "y.parquet", delivery_rows(episodes, parse_period("2024"), "A"))
    empty = delivery_rows(episodes, parse_period("2024H1"), "A").head(0)
    fix = write_delivery(tmp_path, "h1.parquet", empty, provider="A")
    linked_rows(tmp_path, [(year, "2024"), (fix, "2024H1")], replace=True)
    linked = tmp_path / "linked.parquet"
    assert count(linked, period="2024H1").unique_clients == 0
    assert count(linked, period="2024H2").unique_clients == 1
    rows = pl.read_parquet(linked)
    assert rows.select("start_date", "end_date", "cost").row(0) == (
        day("2024-07-01"),
        day("2024-10-31"),
        pytest.approx(10.0 * 123),
    )


def test_rows_outside_the_delivery_period_are_refused(tmp_path: Path) -> None:
    rows = delivery_rows(EPISODES, parse_period("2023"), "A")
    path = write_delivery(tmp_path, "a.parquet", rows)
    with pytest.raises(LinkError, match=r"a\.parquet: 1 rows are not in care in the period"):
        link([path], tmp_path / "linked.parquet", periods={path: "2024"})


def test_the_period_can_come_from_the_manifest(tmp_path: Path) -> None:
    a23 = write_delivery(
        tmp_path,
        "a23.parquet",
        delivery_rows(EPISODES, parse_period("2023"), "A"),
        period="2023",
    )
    a24 = write_delivery(
        tmp_path,
        "a24.parquet",
        delivery_rows(EPISODES, parse_period("2024"), "A"),
        period="2024",
    )
    manifest = link([a23, a24], tmp_path / "linked.parquet")
    assert [entry["period"] for entry in manifest.extra["deliveries"]] == ["2023", "2024"]


def test_a_period_for_a_file_that_is_no_input_is_refused(tmp_path: Path) -> None:
    (path, _), *_ = deliver_periods(tmp_path, EPISODES, ["2023"])
    with pytest.raises(LinkError, match="which is not an input"):
        link([path], tmp_path / "out.parquet", periods={tmp_path / "other.parquet": "2023"})


def test_cli_link_with_periods(tmp_path: Path) -> None:
    deliveries = deliver_periods(tmp_path, EPISODES, ["2023", "2024"])
    out = tmp_path / "linked.parquet"
    options = [f"--period={path}={label}" for path, label in deliveries]
    runner = CliRunner()
    result = runner.invoke(
        main, ["link", *[str(path) for path, _ in deliveries], "--out", str(out), *options]
    )
    assert result.exit_code == 0, result.output
    assert "2 episode(s) delivered more than once" in result.output
    assert pl.read_parquet(out).height == 6
    refused = runner.invoke(
        main,
        ["link", str(deliveries[0][0]), "--out", str(tmp_path / "x.parquet"), "--period", "2023"],
    )
    assert refused.exit_code != 0
    assert "expected FILE=PERIOD" in refused.output


def test_cli_refuses_overlapping_periods(tmp_path: Path) -> None:
    deliveries = deliver_periods(tmp_path, EPISODES.filter(pl.col("provider") == "A"), ["2024"])
    again = deliver_periods(
        tmp_path, EPISODES.filter(pl.col("provider") == "A"), ["2024H2"], prefix="fix-"
    )
    files = [deliveries[0], again[0]]
    arguments = ["link", *[str(path) for path, _ in files], "--out", str(tmp_path / "o.parquet")]
    options = [f"--period={path}={label}" for path, label in files]
    refused = CliRunner().invoke(main, [*arguments, *options])
    assert refused.exit_code != 0
    assert "overlaps" in refused.output
    accepted = CliRunner().invoke(main, [*arguments, *options, "--replace"])
    assert accepted.exit_code == 0, accepted.output
    assert "partly replaced" in accepted.output


# Hypothesis: yearly deliveries of random episodes give each year's clients exactly.
_YEARS = ("2022", "2023", "2024")


@st.composite
def programmes(draw: st.DrawFn) -> pl.DataFrame:
    records = []
    for _ in range(draw(st.integers(1, 12))):
        start = draw(st.dates(date(2022, 1, 1), date(2024, 12, 31)))
        length = draw(st.one_of(st.none(), st.integers(0, 900)))
        end = None if length is None else date.fromordinal(start.toordinal() + length)
        records.append(
            (
                draw(st.integers(1, 6)),
                draw(st.sampled_from("AB")),
                draw(st.sampled_from(["ambulant", "verblijf"])),
                start,
                end,
            )
        )
    return episodes_frame(records).unique(
        subset=["pseudonym", "provider", "care_form", "start_date"], keep="first"
    )


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(episodes=programmes())
def test_yearly_deliveries_count_each_year_as_the_truth(
    tmp_path_factory: pytest.TempPathFactory, episodes: pl.DataFrame
) -> None:
    folder = tmp_path_factory.mktemp("programme")
    deliveries = deliver_every_period(folder, episodes, list(_YEARS))
    if not deliveries:
        return
    linked_rows(folder, deliveries)
    for label in _YEARS:
        counted = count(folder / "linked.parquet", period=label).unique_clients
        assert counted == len(clients_in(episodes, parse_period(label)))


def test_an_empty_later_delivery_closes_the_ongoing_episodes(tmp_path: Path) -> None:
    a23 = write_delivery(
        tmp_path, "a23.parquet", delivery_rows(EPISODES, parse_period("2023"), "A")
    )
    # provider A had no clients in 2024: its delivery for 2024 has no rows
    empty = delivery_rows(EPISODES, parse_period("2023"), "A").head(0)
    a24 = write_delivery(tmp_path, "a24.parquet", empty, provider="A")
    manifest, rows = linked_rows(tmp_path, [(a23, "2023"), (a24, "2024")])
    assert rows["end_date"].null_count() == 0
    assert manifest.extra["duplicate_episodes"]["A"]["episodes_closed"] == 2  # clients 1 and 2
    assert count(tmp_path / "linked.parquet", period="2024").unique_clients == 0


# Review #19 -------------------------------------------------------------------------------------


def test_a_partial_replacement_prorates_the_older_delivery_cost(tmp_path: Path) -> None:
    """Must-fix 1 (repro r1): the older delivery's cost keeps only its remaining days."""
    episodes = episodes_frame([(1, "A", "ambulant", day("2024-01-01"), None)])
    year = write_delivery(tmp_path, "y.parquet", delivery_rows(episodes, parse_period("2024"), "A"))
    half = write_delivery(
        tmp_path, "h2.parquet", delivery_rows(episodes, parse_period("2024H2"), "A")
    )
    linked = tmp_path / "linked.parquet"
    link([year, half], linked, periods={year: "2024", half: "2024H2"}, replace=True)
    rows = pl.read_parquet(linked)
    assert rows["cost"].to_list() == [pytest.approx(3660.0)]  # 366 days at 10, not 5,500
    pieces = [(p["from"], p["to"], p["cost"]) for p in rows["cost_pieces"][0]]
    assert pieces == [
        (day("2024-01-01"), day("2024-06-30"), pytest.approx(1820.0)),
        (day("2024-07-01"), day("2024-12-31"), pytest.approx(1840.0)),
    ]


def test_a_correction_that_ends_an_episode_keeps_the_cost_of_its_days(tmp_path: Path) -> None:
    """Must-fix 1 (repro r1, second case): the H2 correction lacks client 4."""
    episodes = episodes_frame(
        [
            (4, "A", "ambulant", day("2024-02-01"), day("2024-10-31")),
            (9, "A", "ambulant", day("2024-01-01"), None),
        ]
    )
    year = write_delivery(tmp_path, "y.parquet", delivery_rows(episodes, parse_period("2024"), "A"))
    rows = delivery_rows(episodes, parse_period("2024H2"), "A")
    fix = write_delivery(tmp_path, "fix.parquet", rows.filter(pl.col("pseudonym") != pseudonym(4)))
    linked = tmp_path / "linked.parquet"
    link([year, fix], linked, periods={year: "2024", fix: "2024H2"}, replace=True)
    four = pl.read_parquet(linked).filter(pl.col("pseudonym") == pseudonym(4))
    assert four["end_date"][0] == day("2024-06-30")
    assert four["cost"][0] == pytest.approx(10.0 * 151)  # February to June, not 2,740
    assert count(linked, period="2024H2").unique_clients == 1


def test_an_unknown_cost_stays_unknown_when_the_episode_is_repeated(tmp_path: Path) -> None:
    """Should-fix 10: a repeated episode whose copies all lack a cost is not given 0.0."""
    episodes = episodes_frame(
        [
            (1, "A", "ambulant", day("2023-03-01"), None),
            (2, "A", "ambulant", day("2023-05-01"), None),
        ]
    )
    made = []
    for label in ("2023", "2024"):
        rows = delivery_rows(episodes, parse_period(label), "A")
        # client 1's cost is never known; client 2's only in 2024
        unknown = (pl.col("pseudonym") == pseudonym(1)) | (
            (pl.col("pseudonym") == pseudonym(2)) & pl.lit(label == "2023")
        )
        rows = rows.with_columns(
            pl.when(unknown).then(None).otherwise(pl.col("cost")).alias("cost")
        )
        made.append((write_delivery(tmp_path, f"a{label}.parquet", rows), label))
    linked = tmp_path / "linked.parquet"
    link([path for path, _ in made], linked, periods=dict(made))
    costs = dict(pl.read_parquet(linked).select("pseudonym", "cost").iter_rows())
    assert costs[pseudonym(1)] is None
    assert costs[pseudonym(2)] == pytest.approx(3660.0)


def test_a_gap_in_coverage_is_reported_and_closes_before_the_next_delivery(
    tmp_path: Path,
) -> None:
    """Should-fix 5 (repro r4): A delivers 2023 and 2025, nothing for 2024; the 2025 delivery
    lacks 1, so 1 ended in the gap at the latest (review of #19, finding 1)."""
    episodes = episodes_frame(
        [
            (1, "A", "ambulant", day("2022-06-01"), None),
            (2, "A", "ambulant", day("2023-02-01"), None),
        ]
    )
    a23 = write_delivery(
        tmp_path, "a23.parquet", delivery_rows(episodes, parse_period("2023"), "A")
    )
    later = delivery_rows(episodes, parse_period("2025"), "A")
    a25 = write_delivery(tmp_path, "a25.parquet", later.filter(pl.col("pseudonym") == pseudonym(2)))
    linked = tmp_path / "linked.parquet"
    manifest = link([a23, a25], linked, periods={a23: "2023", a25: "2025"})
    ends = dict(pl.read_parquet(linked).select("pseudonym", "end_date").iter_rows())
    assert ends == {pseudonym(1): day("2024-12-31"), pseudonym(2): None}
    assert manifest.extra["coverage_gaps"] == {"A": [["2024-01-01", "2024-12-31"]]}
    assert manifest.extra["duplicate_episodes"]["A"]["episodes_closed"] == 1


def test_an_episode_is_closed_no_later_than_its_delivery_was_made(tmp_path: Path) -> None:
    """Should-fix 5: the 2024 delivery was made on 15 October; the 2025 one lacks client 1."""
    episodes = episodes_frame([(1, "A", "ambulant", day("2024-03-01"), None)])
    early = write_delivery(
        tmp_path,
        "a24.parquet",
        delivery_rows(episodes, parse_period("2024"), "A"),
        created="2024-10-15T09:00:00+00:00",
    )
    empty = delivery_rows(episodes, parse_period("2025"), "A").head(0)
    a25 = write_delivery(tmp_path, "a25.parquet", empty, provider="A")
    linked = tmp_path / "linked.parquet"
    link([early, a25], linked, periods={early: "2024", a25: "2025"})
    assert pl.read_parquet(linked)["end_date"].to_list() == [day("2024-10-15")]


def test_a_plain_link_lists_no_periods(tmp_path: Path) -> None:
    """Should-fix 14: a link without periods writes its manifest as before periods existed."""
    path = write_delivery(tmp_path, "a.parquet", delivery_rows(EPISODES, parse_period("2024"), "A"))
    manifest = link([path], tmp_path / "linked.parquet")
    assert not {"period", "covers_from", "covers_to"} & set(manifest.inputs[0])
    assert "deliveries" not in manifest.extra
    assert "cost_pieces" not in pl.read_parquet(tmp_path / "linked.parquet").columns
