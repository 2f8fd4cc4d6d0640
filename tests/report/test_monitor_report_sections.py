"""The monitor report's further sections: cost per client and its change by provider and by
municipality, re-entry, and durations per period started (#19). Oracles in plain Python and an
attack per section."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from delivery_helpers import write_delivery
from hypothesis import given, settings
from hypothesis import strategies as st

import factlab.cli.monitor  # noqa: F401  (registers the monitor commands)
from factlab import schema
from factlab.cli import main
from factlab.disclosure.audit import audit
from factlab.disclosure.rules import MeasureRule, preset
from factlab.errors import ConfigError
from factlab.monitor.cost_change import CostChangeResult, cost_change
from factlab.monitor.durations import durations
from factlab.monitor.series import programme_periods, series
from factlab.monitor.store import append_to_store
from factlab.monitor.transitions import reentry
from factlab.report.model import Report
from factlab.report.monitor import build_monitor_report
from factlab.report.monitor_config import MonitorConfig, parse_monitor_config
from factlab.report.monitor_sections import (
    SHARE_MARGIN,
    protect_cost_change_by,
    protect_costs_by,
    protect_reentry,
    published_clients,
    reentry_counts,
)
from factlab.report.monitor_tables import COST_UNIT, protect_series
from factlab.report.render import render_html, render_markdown
from factlab.synth.programme import ProgrammeConfig, programme_deliveries, synth_programme

YEARS = programme_periods(2021, 2024)
CONFIG = MonitorConfig(first=2021, last=2024)
GENERATED = "2025-03-01T12:00:00+00:00"
RULES = preset("cbs")
SERIES_BY = ("financing", "care_form", "provider", "municipality")


def _pseudonymised(rows: pl.DataFrame) -> pl.DataFrame:
    """A steward's file stand-in: a hash of the synthetic BSN as the pseudonym (no key)."""
    return rows.with_columns(
        pl.col("bsn")
        .map_elements(lambda bsn: hashlib.sha256(bsn.encode()).hexdigest()[:32], pl.String)
        .alias(schema.PSEUDONYM),
        pl.lit("valid").cast(schema.STATUS_DTYPE).alias(schema.STATUS),
    ).drop("bsn")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("monitor-sections")
    truth = synth_programme(
        ProgrammeConfig(first_year=2021, last_year=2024, clients=300, providers=4), seed=11
    )
    store = folder / "store"
    for period in YEARS:
        rows = _pseudonymised(programme_deliveries(truth, period.start, period.end))
        batch = []
        for (provider,), part in rows.group_by(schema.PROVIDER):
            path = write_delivery(folder, f"{provider}-{period.label}.parquet", part)
            batch.append((path, period.label))
        append_to_store(store, [path for path, _ in batch], periods=dict(batch))
    return store


@pytest.fixture(scope="module")
def report(store: Path) -> Report:
    return build_monitor_report(store, CONFIG, generated=GENERATED)


@pytest.fixture(scope="module")
def exact_costs(store: Path) -> CostChangeResult:
    return cost_change(store, YEARS, by=("provider", "municipality"))


@pytest.fixture(scope="module")
def clients(store: Path) -> dict[str, dict[str, dict[str, int | None]]]:
    """Per dimension, the clients the report publishes per period and value."""
    published = protect_series(series(store, YEARS, by=SERIES_BY), RULES)
    return {dimension: published_clients(published, dimension) for dimension in SERIES_BY}


def _table(report: Report, table_id: str) -> pl.DataFrame:
    return next(table for table in report.tables if table.id == table_id).source.frame


def _base(report: Report) -> object:
    return next(table for table in report.tables if table.id == "series").source


def _half_up(value: float, unit: int = 1) -> int:
    return int(math.copysign(math.floor(abs(value) / unit + 0.5) * unit, value))


def _costs(result: CostChangeResult, dimension: str) -> dict[tuple[str, str], float]:
    rows = result.table.filter(pl.col("dimension") == dimension)
    return {
        (period, value or "unknown"): cost
        for period, value, cost in rows.select("period", "value", "cost").iter_rows()
    }


# Cost per client by provider and municipality ---------------------------------------------------


@pytest.mark.parametrize("dimension", ["provider", "municipality"])
def test_cost_per_client_is_the_rounded_cost_over_the_published_clients(
    report: Report,
    exact_costs: CostChangeResult,
    clients: dict[str, dict[str, dict[str, int | None]]],
    dimension: str,
) -> None:
    """Oracle in plain Python, from the published clients and the exact costs rounded."""
    table = _table(report, f"cost-{dimension}")
    cost = _costs(exact_costs, dimension)
    seen = 0
    for period, value, shown, status in table.iter_rows():
        n = clients[dimension][period].get(value)
        hidden = {v for v, count in clients[dimension][period].items() if count is None}
        if status == "published":
            assert n
            rounded = _half_up(cost[(period, value)], COST_UNIT)
            assert shown == _half_up(rounded / n)
            seen += 1
        else:
            assert shown is None
            assert n is None or hidden  # hidden only as its clients are, or as a complement
    assert seen > 0


@pytest.mark.parametrize("dimension", ["provider", "municipality"])
def test_the_change_by_value_is_the_midpoint_split_of_published_figures(
    report: Report,
    exact_costs: CostChangeResult,
    clients: dict[str, dict[str, dict[str, int | None]]],
    dimension: str,
) -> None:
    table = _table(report, f"cost-change-{dimension}")
    got = {(v, f): (x, s) for v, f, x, s in table.iter_rows()}
    cost = _costs(exact_costs, dimension)
    first, second = (p.label for p in CONFIG.transition_periods)
    checked = 0
    for value in {v for v, _ in got}:
        m, n = clients[dimension][first].get(value), clients[dimension][second].get(value)
        if got[(value, "change")][1] != "published":
            continue
        assert m is not None
        assert n is not None
        before = _half_up(cost[(first, value)], COST_UNIT)
        after = _half_up(cost[(second, value)], COST_UNIT)
        assert got[(value, "cost_before")][0] == _half_up(before / COST_UNIT)
        assert got[(value, "cost_after")][0] == _half_up(after / COST_UNIT)
        assert got[(value, "change")][0] == after - before
        volume = (n - m) * (before / m + after / n) / 2
        intensity = (after / n - before / m) * (m + n) / 2
        assert got[(value, "volume")][0] == _half_up(volume)
        assert got[(value, "intensity")][0] == _half_up(intensity)
        checked += 1
    assert checked > 0


def test_a_hidden_count_hides_its_cost_and_the_smallest_published_one(
    report: Report, exact_costs: CostChangeResult
) -> None:
    """Attack: the region's total cost is published, so the hidden costs of a period add up to
    a known sum; it must never be the cost of small groups only."""
    counts = {
        "2021": {"P01": 40, "P02": None, "P03": 25, "P04": 60},  # P02 hidden by the rules
        "2022": {"P01": 45, "P02": 30, "P03": 25, "P04": 60},
        "2023": {"P01": None, "P02": None, "P03": 25, "P04": 60},
        "2024": {"P01": 45, "P02": 30, "P03": 25, "P04": 60},
    }
    table = protect_costs_by(exact_costs, "provider", counts, _base(report))  # type: ignore[arg-type]
    status = {(p, v): s for p, v, _, s in table.frame.iter_rows()}
    assert status[("2021", "P02")] == status[("2021", "P03")] == "suppressed"  # P03: fewest
    assert status[("2021", "P01")] == status[("2021", "P04")] == "published"
    assert status[("2023", "P03")] == "suppressed"
    assert {status[("2022", v)] for v in ("P01", "P02", "P03", "P04")} == {"published"}
    for period, by_value in counts.items():
        hidden = [v for v in by_value if status[(period, v)] == "suppressed"]
        # what total − shown gives back is never the cost of hidden counts alone
        assert not hidden or any(by_value[v] is not None for v in hidden)
    change = protect_cost_change_by(
        exact_costs,
        "provider",
        counts,
        (YEARS[1], YEARS[2]),
        _base(report),  # type: ignore[arg-type]
    ).frame
    shown = change.filter(pl.col("value_status") == "published", pl.col("figure") == "change")
    assert set(shown["provider"]) == {"P04"}  # the only value with its cost in 2022 and 2023
    before = change.filter(pl.col("figure") == "cost_before", pl.col("provider") == "P03")
    assert before["value_status"].to_list() == ["published"]  # 2022 shows P03's cost


def test_the_cost_tables_never_read_the_exact_client_counts(
    report: Report,
    exact_costs: CostChangeResult,
    clients: dict[str, dict[str, dict[str, int | None]]],
) -> None:
    """Attack: any exact client counts give the same figures: they are not an input."""
    other = exact_costs.table.with_columns(
        (pl.col("unique_clients") * 3 + 1).alias("unique_clients"),
        pl.lit(123.0).alias("cost_per_client"),
        pl.lit(7.0).alias("volume_effect"),
    )
    changed = replace(exact_costs, table=other)
    base = _base(report)
    for dimension in ("provider", "municipality"):
        ours = protect_costs_by(exact_costs, dimension, clients[dimension], base)  # type: ignore[arg-type]
        theirs = protect_costs_by(changed, dimension, clients[dimension], base)  # type: ignore[arg-type]
        assert ours.frame.equals(theirs.frame)
        assert ours.frame.equals(_table(report, f"cost-{dimension}"))


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.one_of(st.none(), st.integers(10, 200)), min_size=4, max_size=4),
)
def test_hidden_costs_always_include_a_published_group(
    exact_costs: CostChangeResult, report: Report, counts: list[int | None]
) -> None:
    given = {"P01": counts[0], "P02": counts[1], "P03": counts[2], "P04": counts[3]}
    table = protect_costs_by(
        exact_costs,
        "provider",
        {"2021": given},
        _base(report),  # type: ignore[arg-type]
    ).frame
    hidden = table.filter(pl.col("value_status") == "suppressed")["provider"].to_list()
    if any(count is None for count in given.values()):
        published = [v for v, count in given.items() if count is not None]
        assert not published or any(v in hidden for v in published)
        assert set(hidden) >= {v for v, count in given.items() if count is None}
    else:
        assert hidden == []


# Re-entry ---------------------------------------------------------------------------------------


def test_reentry_shows_protected_counts_and_a_share_of_published_ones(
    store: Path, report: Report
) -> None:
    exact = reentry(store, YEARS, months=12)
    table = _table(report, "reentry")
    got = {(p, f): (v, s) for p, f, v, s in table.iter_rows()}
    base = RULES.rounding_base
    for period, ended, back, still in exact.table.select(
        "period", "spells_ended", "reentered", "window_open"
    ).iter_rows():
        for figure, truth in (("spells_ended", ended), ("reentered", back), ("window_open", still)):
            value, status = got[(period, figure)]
            if status == "published":
                assert value is not None
                assert abs(value - truth) <= base // 2
                assert truth == 0 or truth > RULES.secret_max
        share, status = got[(period, "share_reentered")]
        parts = [got[(period, f)] for f in ("spells_ended", "reentered", "window_open")]
        if status == "published":
            assert all(s == "published" for _, s in parts)
            e, r, o = (v for v, _ in parts)
            assert share == _half_up(r * 100 / (e - o))
            assert abs(share - back * 100 / (ended - still)) <= SHARE_MARGIN + 0.5
            assert e - o - (base - 1) >= CONFIG.threshold
        else:
            assert share is None


def _shown_share(ended: int, back: int, still: int) -> tuple[int | None, dict[str, int | None]]:
    from datetime import date

    from factlab.monitor.transitions import ReentryResult
    from factlab.periods import parse_period

    result = ReentryResult(
        (parse_period("2023"),),
        12,
        date(2024, 12, 31),
        pl.DataFrame(
            {
                "period": ["2023"],
                "spells_ended": [ended],
                "reentered": [back],
                "window_open": [still],
            }
        ),
    )
    table, _ = protect_reentry(result, RULES)
    got = {figure: value for _, figure, value, _ in table.frame.iter_rows()}
    return got.pop("share_reentered"), got


def test_a_share_of_few_spells_from_rounded_counts_is_hidden() -> None:
    """Review of #19 (finding 3): 12 of 12 re-entered, published 10 / (115 - 100) = 67 %."""
    share, shown = _shown_share(114, 12, 102)
    assert shown == {"spells_ended": 115, "reentered": 10, "window_open": 100}
    assert share is None
    share, _ = _shown_share(1_000, 300, 100)  # enough spells: the share is close to the truth
    assert share == 33


@settings(max_examples=150, deadline=None)
@given(
    closed=st.integers(0, 2_000),
    back_share=st.floats(0, 1),
    still=st.integers(0, 2_000),
)
def test_a_shown_share_is_within_the_margin_of_the_truth(
    closed: int, back_share: float, still: int
) -> None:
    """Oracle: whatever the exact counts, a share shown is within SHARE_MARGIN points (plus
    the rounding to whole percent) of the exact re-entered / (ended - open), never above 100."""
    back = round(closed * back_share)
    share, _ = _shown_share(closed + still, back, still)
    if share is not None:
        assert 0 <= share <= 100
        assert abs(share - back * 100 / closed) <= SHARE_MARGIN + 0.5


def test_a_small_reentry_count_cannot_be_recovered(store: Path) -> None:
    """Attack: per period, the outcomes with the spells ended as total pass the audit (no
    hidden cell is derivable from the published ones within its protection interval)."""
    exact = reentry(store, YEARS, months=12)
    table, counts = protect_reentry(exact, RULES)
    shape = replace(RULES, measures=(MeasureRule("spells", "additive"),), dimensions=("outcome",))
    frame = table.frame
    small = 0
    for period in YEARS:
        mine = counts.filter(pl.col("period") == period.label).drop("period")
        small += mine.filter(pl.col("spells").is_between(1, RULES.secret_max)).height
        names = {"spells_ended": None, "reentered": "reentered", "window_open": "window_open"}
        hidden = [
            outcome
            for figure, outcome in names.items()
            if frame.filter(pl.col("period") == period.label, pl.col("figure") == figure)[
                "value_status"
            ].item()
            == "suppressed"
        ]
        # not_reentered is never published, so it counts as hidden too
        suppressed = pl.DataFrame(
            {"outcome": [*hidden, "not_reentered"]}, schema={"outcome": pl.String}
        )
        assert audit(mine, suppressed, shape).passed
    assert small > 0  # the seeded programme has small re-entry counts


def test_reentry_counts_add_up() -> None:
    from factlab.monitor.transitions import ReentryResult

    result = ReentryResult(
        periods=tuple(YEARS[:1]),
        months=12,
        until=YEARS[0].end,
        table=pl.DataFrame(
            {"period": ["2021"], "spells_ended": [30], "reentered": [4], "window_open": [6]}
        ),
    )
    counts = reentry_counts(result)
    assert dict(zip(counts["outcome"], counts["spells"], strict=True)) == {
        "reentered": 4,
        "not_reentered": 20,
        "window_open": 6,
        None: 30,
    }


# Durations per period started -------------------------------------------------------------------


def test_median_per_period_started_is_the_cohort_s_where_shown(store: Path, report: Report) -> None:
    table = _table(report, "durations-started-care_form")
    base, threshold = RULES.rounding_base, CONFIG.threshold
    shown = 0
    for period in YEARS:
        exact = durations(store, [period], by=("care_form",)).table
        for form, trajectories, median in (
            exact.filter(pl.col("care_form").is_not_null())
            .select("care_form", "trajectories", "median_days")
            .iter_rows()
        ):
            row = table.filter(pl.col("period") == period.label, pl.col("care_form") == form)
            value, status = row.select("value", "value_status").row(0)
            if status == "published":
                assert value == median
                # shown only where every count rounding to the published one reaches it
                assert _half_up(trajectories, base) - base // 2 >= threshold
                shown += 1
    assert shown > 0


# The report as a whole --------------------------------------------------------------------------


def test_the_dutch_report_has_the_new_sections_and_the_english_one_too(
    store: Path, report: Report
) -> None:
    ids = [table.id for table in report.tables]
    for expected in (
        "cost-provider",
        "cost-change-provider",
        "cost-municipality",
        "cost-change-municipality",
        "reentry",
        "durations-started-care_form",
    ):
        assert expected in ids
    page = render_html(report)
    for words in ("Terugkeer in zorg binnen 12 maanden", "naar aanbieder", "per startperiode"):
        assert words in page
    config = parse_monitor_config(
        {"version": 1, "language": "en", "monitor": {"from": 2021, "to": 2024}}
    )
    english = render_markdown(build_monitor_report(store, config, generated=GENERATED))
    for words in ("Re-entry into care within 12 months", "by provider", "per period started"):
        assert words in english


def test_the_config_of_the_new_sections_is_checked_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_monitor_config(
            {
                "version": 1,
                "monitor": {
                    "from": 2021,
                    "to": 2024,
                    "costs": {"by": ["pseudonym", "provider", "provider"]},
                    "reentry": {"months": 0, "show": "yes", "colour": 1},
                },
            }
        )
    problems = " | ".join(caught.value.problems)
    for expected in (
        "monitor.costs.by[0]",
        "monitor.costs.by: names a dimension twice",
        "monitor.reentry.months",
        "monitor.reentry.show",
        "monitor.reentry.colour: unknown key",
    ):
        assert expected in problems
    config = parse_monitor_config(
        {
            "version": 1,
            "monitor": {"from": 2021, "to": 2024, "costs": {"by": []}, "reentry": {"show": False}},
        }
    )
    assert (config.costs_by, config.reentry) == ((), False)


def test_cli_report_with_the_sections_chosen(store: Path, tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(
        'version = 1\n[monitor]\nfrom = 2021\nto = 2024\n[monitor.costs]\nby = ["provider"]\n'
        "[monitor.reentry]\nmonths = 6\n"
    )
    out = tmp_path / "monitor.md"
    result = CliRunner().invoke(
        main, ["monitor", "report", str(store), "--config", str(config), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Terugkeer in zorg binnen 6 maanden" in text
    assert "naar aanbieder" in text
    assert "naar gemeente" not in text
    missing = tmp_path / "missing.toml"
    missing.write_text(
        'version = 1\n[monitor]\nfrom = 2021\nto = 2024\n[monitor.costs]\nby = ["domain"]\n'
    )
    other = tmp_path / "other.md"
    failed = CliRunner().invoke(
        main, ["monitor", "report", str(store), "--config", str(missing), "--out", str(other)]
    )
    assert failed.exit_code == 4
    assert "monitor.costs.by: domain: not a column of the data" in failed.output
    assert not other.exists()
