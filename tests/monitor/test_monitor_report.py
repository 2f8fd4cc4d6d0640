"""The monitor report: protected series, a transition matrix, durations and costs, in Dutch."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from delivery_helpers import write_delivery
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab.analysis.counts import count
from factlab.analysis.link import link
from factlab.cli import main
from factlab.disclosure.audit import audit
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import MeasureRule, preset
from factlab.errors import ConfigError
from factlab.monitor.cost_change import CostChangeResult, change_split, cost_change
from factlab.monitor.durations import durations
from factlab.monitor.series import programme_periods, series
from factlab.monitor.store import append_to_store
from factlab.monitor.transitions import (
    ENDED,
    ENDED_AT_18,
    MATRIX_COLUMNS,
    NEW,
    TransitionResult,
    transitions,
)
from factlab.report.model import Report
from factlab.report.monitor import build_monitor_report, write_monitor_report
from factlab.report.monitor_config import MonitorConfig, parse_monitor_config
from factlab.report.monitor_tables import (
    COST_FIGURES,
    COST_UNIT,
    IN_CARE,
    protect_costs,
    protect_durations,
    protect_series,
    protect_transitions,
    series_overview,
    transition_counts,
)
from factlab.report.render import render_html, render_markdown
from factlab.synth.programme import ProgrammeConfig, programme_deliveries, synth_programme

YEARS = programme_periods(2021, 2024)
CONFIG = MonitorConfig(first=2021, last=2024)
GENERATED = "2025-03-01T12:00:00+00:00"
# Words of an English report that must not appear in a Dutch one (whole words, any case).
ENGLISH = (
    "unique clients", "clients", "provider", "providers", "key figures", "provenance",
    "suppressed", "missing", "estimate", "counted", "source", "warning", "region",
    "published", "status", "care form", "financing", "total", "rows", "how to read", "period",
    "periods", "new", "ended", "turned", "duration", "median", "quartile", "still open",
    "trajectories", "cost", "change", "intensity", "registrations", "part", "monitor store",
)  # fmt: skip


def pseudonymised(rows: pl.DataFrame) -> pl.DataFrame:
    """A steward's file stand-in: a hash of the synthetic BSN as the pseudonym (no key)."""
    return rows.with_columns(
        pl.col("bsn")
        .map_elements(lambda bsn: hashlib.sha256(bsn.encode()).hexdigest()[:32], pl.String)
        .alias(schema.PSEUDONYM),
        pl.lit("valid").cast(schema.STATUS_DTYPE).alias(schema.STATUS),
    ).drop("bsn")


@pytest.fixture(scope="module")
def programme(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pl.DataFrame]:
    folder = tmp_path_factory.mktemp("monitor-report")
    truth = synth_programme(
        ProgrammeConfig(first_year=2021, last_year=2024, clients=300, providers=4), seed=11
    )
    store = folder / "store"
    everything = []
    for period in YEARS:
        rows = pseudonymised(programme_deliveries(truth, period.start, period.end))
        batch = []
        for (provider,), part in rows.group_by(schema.PROVIDER):
            path = write_delivery(folder, f"{provider}-{period.label}.parquet", part)
            batch.append((path, period.label))
        append_to_store(store, [path for path, _ in batch], periods=dict(batch))
        everything.extend(batch)
    linked = folder / "linked.parquet"
    link([path for path, _ in everything], linked, periods=dict(everything))
    return store, linked, truth.episodes


@pytest.fixture(scope="module")
def report(programme: tuple[Path, Path, pl.DataFrame]) -> Report:
    return build_monitor_report(programme[0], CONFIG, generated=GENERATED)


def _table(report: Report, table_id: str) -> pl.DataFrame:
    return next(table for table in report.tables if table.id == table_id).source.frame


def test_the_published_series_equal_protected_single_period_counts(
    programme: tuple[Path, Path, pl.DataFrame], report: Report
) -> None:
    _, linked, _ = programme
    rules = replace(
        preset("cbs"),
        measures=(MeasureRule("unique_clients", "union"), MeasureRule("registrations", "additive")),
    )
    for dimension in ("financing", "care_form"):
        published = _table(report, f"by-{dimension}")
        for period in YEARS:
            alone = protect(count(linked, period=period, by=[dimension]), rules).table.frame
            expected = alone.select(dimension, "unique_clients", "unique_clients_status")
            got = published.filter(pl.col("period") == period.label).select(
                dimension,
                pl.col("value").alias("unique_clients"),
                pl.col("value_status").alias("unique_clients_status"),
            )
            assert sorted(got.rows(), key=str) == sorted(expected.rows(), key=str)
    overview = _table(report, "series")
    for period in YEARS:
        alone = protect(count(linked, period=period, by=["financing"]), rules).table.frame
        total = alone.filter(pl.col("financing").is_null()).row(0, named=True)
        row = dict(
            overview.filter(pl.col("period") == period.label).select("figure", "value").iter_rows()
        )
        assert row["unique_clients"] == total["unique_clients"]
        assert row["registrations"] == total["registrations"]


def test_the_series_follow_the_exact_counts(programme: tuple[Path, Path, pl.DataFrame]) -> None:
    store, linked, _ = programme
    exact = series(store, YEARS, by=["financing"])
    published = protect_series(exact, preset("cbs"))
    for period in YEARS:
        total = exact.table.filter(pl.col("period") == period.label, pl.col("dimension") == "total")
        truth = count(linked, period=period).table.row(0, named=True)
        assert total["unique_clients"].item() == truth["unique_clients"]
        table = published.clients[period.label]["financing"].frame
        shown = table.filter(pl.col("unique_clients_status") == "published")
        # a published value is the exact one rounded to a multiple of five
        assert (shown["unique_clients"] % 5 == 0).all()


def test_a_small_cell_of_the_transition_matrix_cannot_be_recovered(
    programme: tuple[Path, Path, pl.DataFrame],
) -> None:
    store, _, _ = programme
    result = transitions(store, "2023", "2024", by="financing")
    counts, shape = transition_counts(result)
    rules = preset("cbs")
    matrix, _ = protect_transitions(result, rules)
    # row and column margins are the periods' clients
    clients = series(store, YEARS[2:], by=[]).table
    first, second = clients["unique_clients"].to_list()
    cell = counts.filter(pl.col("from") == IN_CARE, pl.col("to").is_null())["clients"].item()
    assert cell == first
    cell = counts.filter(pl.col("from").is_null(), pl.col("to") == IN_CARE)["clients"].item()
    assert cell == second
    small = counts.filter(pl.col("clients").is_between(1, rules.secret_max))
    assert small.height > 0
    frame = matrix.frame.join(counts, on=["from", "to"], nulls_equal=True, suffix="_exact")
    assert (
        frame.filter(pl.col("clients_exact").is_between(1, rules.secret_max))["clients_status"]
        == "suppressed"
    ).all()
    suppressed = matrix.frame.filter(pl.col("clients_status") == "suppressed").select("from", "to")
    checked = audit(
        counts,
        suppressed,
        replace(
            rules,
            measures=shape.measures,
            dimensions=shape.dimensions,
            hierarchy=shape.hierarchy,
            structural_empty=shape.structural_empty,
        ),
    )
    assert checked.passed
    primary = checked.cells.filter(pl.col("reason") == "primary")
    assert primary.height > 0
    assert (primary["width"] >= primary["required_width"]).all()
    # (new) x (ended) is empty by definition
    empty = matrix.frame.filter(pl.col("from") == "(new)", pl.col("to") == "(ended)")
    assert empty["clients_status"].to_list() == ["structural"]


def test_durations_show_quartiles_only_above_the_threshold(
    programme: tuple[Path, Path, pl.DataFrame],
) -> None:
    store, _, _ = programme
    measured = durations(store, YEARS, by=["care_form"])
    shown, _ = protect_durations(measured, preset("cbs"), threshold=10)
    hidden, _ = protect_durations(measured, preset("cbs"), threshold=10**6)
    quartiles = pl.col("figure").is_in(["q1", "median", "q3", "share_open"])
    assert (hidden.frame.filter(quartiles)["value_status"] == "suppressed").all()
    exact = measured.table.filter(pl.col("care_form").is_null()).row(0, named=True)
    total = shown.frame.filter(pl.col("care_form").is_null(), pl.col("figure") == "median")
    assert total["value"].item() == exact["median_days"]


def _half_up(value: float, unit: int = 1) -> int:
    """Plain-Python rounding to a multiple of ``unit``, halves away from zero."""
    return int(math.copysign(math.floor(abs(value) / unit + 0.5) * unit, value))


def _published(frame: pl.DataFrame, figure: str) -> dict[str, int | None]:
    rows = frame.filter(pl.col("figure") == figure).select("period", "value", "value_status")
    return {p: v if status == "published" else None for p, v, status in rows.iter_rows()}


def _exact_costs(store: Path) -> CostChangeResult:
    return cost_change(store, YEARS, by=())


def test_cost_figures_only_where_the_clients_are_published(
    programme: tuple[Path, Path, pl.DataFrame],
) -> None:
    store, _, _ = programme
    published = protect_series(series(store, YEARS, by=["financing"]), preset("cbs"))
    base = series_overview(published, "financing")
    costs = _exact_costs(store)
    counts = {"2021": 400, "2022": None, "2023": 465, "2024": 510}
    frame = protect_costs(costs, counts, base).frame
    status = {(r["period"], r["figure"]): r["value_status"] for r in frame.iter_rows(named=True)}
    # a suppressed count: no cost figure at all, not even the total cost
    assert {status[("2022", f)] for f in COST_FIGURES} == {"suppressed"}
    assert status[("2023", "change")] == status[("2023", "volume")] == "suppressed"
    assert status[("2023", "cost")] == status[("2023", "cost_per_client")] == "published"
    assert status[("2024", "intensity")] == "published"
    assert status[("2021", "change")] == "structural"
    hidden = frame.filter(pl.col("value_status") == "suppressed")["value"]
    assert hidden.len() == hidden.null_count() == 8  # 2022's five, 2023's change and parts


def test_cost_figures_are_computed_from_published_figures_only(
    programme: tuple[Path, Path, pl.DataFrame], report: Report
) -> None:
    """Oracle: the costs table is recomputed in plain Python from the report's published client
    counts and its own rounded total cost; the total cost is the exact one rounded to 1,000."""
    store, _, _ = programme
    costs, clients = _table(report, "costs"), _published(_table(report, "series"), "unique_clients")
    exact = _exact_costs(store).table.filter(pl.col("dimension") == "total")
    exact_cost = dict(exact.select("period", "cost").iter_rows())
    total = _published(costs, "cost")
    got = {(p, f): v for p, f, v, _ in costs.iter_rows()}
    assert all(n is not None for n in clients.values())
    previous: str | None = None
    for period in YEARS:
        label = period.label
        n = clients[label]
        assert n is not None
        assert total[label] == _half_up(exact_cost[label], COST_UNIT) // COST_UNIT
        cost = (total[label] or 0) * COST_UNIT
        assert got[(label, "cost_per_client")] == _half_up(cost / n)
        if previous is not None:
            m, before = clients[previous], (total[previous] or 0) * COST_UNIT
            assert m is not None
            change = cost - before
            intensity = (cost / n - before / m) * (n + m) / 2
            assert got[(label, "change")] == change
            assert got[(label, "intensity")] == _half_up(intensity)
            assert got[(label, "volume")] == _half_up(change - intensity)
            assert got[(label, "volume")] == _half_up((n - m) * (cost / n + before / m) / 2)
        previous = label


def _world(result: CostChangeResult, label: str, clients: int) -> CostChangeResult:
    """``result`` as it would be were the exact clients of ``label`` ``clients``: the counts,
    cost per client and the change's split all recomputed."""
    total = result.table.filter(pl.col("dimension") == "total").sort("period_start")
    counts = [
        clients if period == label else n
        for period, n in total.select("period", "unique_clients").iter_rows()
    ]
    split = change_split(total["cost"].to_list(), counts).drop("cost")
    return replace(result, table=pl.concat([total.drop(split.columns), split], how="horizontal"))


def test_the_cost_figures_do_not_give_the_exact_client_counts_back(
    programme: tuple[Path, Path, pl.DataFrame], report: Report
) -> None:
    """Attack: the published figures alone are consistent with every exact count that rounds
    to the published one (so at least as wide as the rounding); and the reviewer's
    recoveries (total / cost per client; volume and intensity) give the published count."""
    store, _, _ = programme
    base = preset("cbs").rounding_base
    costs = _table(report, "costs")
    clients = _published(_table(report, "series"), "unique_clients")
    result = _exact_costs(store)
    exact = dict(
        result.table.filter(pl.col("dimension") == "total")
        .select("period", "unique_clients")
        .iter_rows()
    )
    overview = next(t for t in report.tables if t.id == "costs").source
    for period in YEARS:
        label = period.label
        shown = clients[label]
        assert shown is not None
        consistent = []
        for candidate in range(shown - 2 * base, shown + 2 * base + 1):
            # the world where the period's exact count is the candidate: its series figure
            # and every cost figure the report would publish
            world = _world(result, label, candidate)
            counts = {**clients, label: _half_up(candidate, base)}
            if counts[label] != shown:
                continue
            if protect_costs(world, counts, overview).frame.equals(costs):
                consistent.append(candidate)
        assert len(consistent) >= base
        assert consistent == list(range(consistent[0], consistent[0] + len(consistent)))
        assert consistent[0] <= exact[label] <= consistent[-1]
    # the reviewer's recoveries now give the published counts, not the exact ones
    cpc, total = _published(costs, "cost_per_client"), _published(costs, "cost")
    volume, intensity = _published(costs, "volume"), _published(costs, "intensity")
    labels = [period.label for period in YEARS]
    differs = [label for label in labels if exact[label] != clients[label]]
    assert differs  # the seeded programme has counts that rounding changes
    for label in labels:
        n = (total[label] or 0) * COST_UNIT / (cpc[label] or 1)
        assert abs(n - (clients[label] or 0)) < 0.5
    for before, label in itertools.pairwise(labels):
        i0, i1 = cpc[before] or 0, cpc[label] or 0
        delta = (volume[label] or 0) / ((i0 + i1) / 2)
        both = 2 * (intensity[label] or 0) / (i1 - i0)
        n1 = (both + delta) / 2
        assert abs(n1 - (clients[label] or 0)) < 1
        assert abs(n1 - exact[label]) >= 1 or exact[label] == clients[label]


@settings(max_examples=30, deadline=None)
@given(
    cost=st.lists(st.floats(min_value=0, max_value=1e7), min_size=2, max_size=5),
    clients=st.lists(st.integers(min_value=0, max_value=10_000), min_size=5, max_size=5),
)
def test_change_split_is_the_midpoint_split(cost: list[float], clients: list[int]) -> None:
    """Oracle: change_split in plain Python; volume + intensity = change."""
    clients = clients[: len(cost)]
    split = change_split(cost, clients).rows(named=True)
    for index, row in enumerate(split):
        n, c = clients[index], cost[index]
        assert row["cost_per_client"] == (pytest.approx(c / n) if n else None)
        if index == 0:
            assert row["change"] is row["volume_effect"] is row["intensity_effect"] is None
            continue
        m, b = clients[index - 1], cost[index - 1]
        assert row["change"] == pytest.approx(c - b)
        expected = (c / n - b / m) * (n + m) / 2 if n and m else 0.0
        assert row["intensity_effect"] == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert row["volume_effect"] + row["intensity_effect"] == pytest.approx(
            row["change"], rel=1e-9, abs=1e-6
        )


def test_change_split_of_the_exact_counts_is_cost_change(
    programme: tuple[Path, Path, pl.DataFrame],
) -> None:
    exact = _exact_costs(programme[0]).table.filter(pl.col("dimension") == "total")
    split = change_split(exact["cost"].to_list(), exact["unique_clients"].to_list())
    columns = ["cost_per_client", "change", "volume_effect", "intensity_effect"]
    assert split.select(columns).equals(exact.select(columns))
    unknown = change_split([1.0, 2.0, 3.0], [1, None, 3])
    assert unknown["volume_effect"].to_list() == [None, None, None]
    assert unknown["cost_per_client"].to_list() == [1.0, None, 1.0]


def test_whether_quartiles_show_depends_on_published_counts_only(
    programme: tuple[Path, Path, pl.DataFrame],
) -> None:
    """Showing quartiles is decided on the published count: every exact count that rounds to
    it reaches the threshold, so the decision narrows nothing."""
    store, _, _ = programme
    measured = durations(store, YEARS, by=["care_form"])
    rules = preset("cbs")
    published, _ = protect_durations(measured, rules, threshold=1)
    trajectories = published.frame.filter(
        pl.col("figure") == "trajectories", pl.col("value_status") == "published"
    )
    for value in trajectories["value"].unique().to_list():
        for threshold in (value - rules.rounding_base // 2, value - rules.rounding_base // 2 + 1):
            table, _ = protect_durations(measured, rules, threshold=max(threshold, 1))
            frame = table.frame.pivot("figure", index="care_form", values="value_status")
            row = frame.join(
                trajectories.select("care_form", pl.col("value").alias("n")),
                on="care_form",
                nulls_equal=True,
            )
            median_shown = row.filter(pl.col("n") == value)["median"].cast(pl.String)
            least = value - rules.rounding_base // 2
            if least < max(threshold, 1):
                assert (median_shown == "suppressed").all()


def _visible_html(page: str) -> str:
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def _english_words(text: str) -> list[str]:
    lowered = re.sub(r"\S*(toml|parquet)\S*", " ", text.lower())  # file names are names
    return [w for w in ENGLISH if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", lowered)]


def test_the_dutch_report_holds_no_english_word(report: Report) -> None:
    assert report.language == "nl"
    assert _english_words(render_markdown(report)) == []
    page = render_html(report)
    assert _english_words(_visible_html(page)) == []
    svg_text = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", page))
    assert _english_words(svg_text) == []
    for word in ("(nieuw)", "(beëindigd)", "(18 geworden)", "mediaan"):
        assert word in page


def test_an_english_report_speaks_english(programme: tuple[Path, Path, pl.DataFrame]) -> None:
    config = parse_monitor_config(
        {"version": 1, "language": "en", "monitor": {"from": 2021, "to": 2024}}
    )
    english = build_monitor_report(programme[1], config, generated=GENERATED)
    text = render_markdown(english)
    assert "Youth care monitor" in text
    assert "(turned 18)" in text
    assert "(new)" in text


def test_chart_text_is_text(report: Report) -> None:
    page = render_html(report)
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    # series, by financing, by care form, costs; cost per client by provider and by
    # municipality, re-entry, durations per period started
    assert len(charts) == 8
    for svg in charts:
        assert "<text" in svg
        assert "<title" in svg
        assert "<image" not in svg
        assert "glyph" not in svg.lower()
        sizes = [float(s) for s in re.findall(r"font-size:\s*([\d.]+)px", svg)]
        assert sizes
        assert min(sizes) >= 11


def test_free_text_with_an_exact_unpublished_count_is_refused(
    programme: tuple[Path, Path, pl.DataFrame], report: Report
) -> None:
    store, _, _ = programme
    exact = series(store, YEARS, by=[]).table["unique_clients"].to_list()
    published = set(_table(report, "series")["value"].drop_nulls().to_list())
    secret = next(n for n in exact if n not in published)
    config = parse_monitor_config(
        {"version": 1, "region": f"Drenthe ({secret})", "monitor": {"from": 2021, "to": 2024}}
    )
    with pytest.raises(ConfigError, match="region: number 1 of 1"):
        build_monitor_report(store, config)


def test_the_config_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_monitor_config(
            {
                "version": 1,
                "dimensions": ["postcode"],
                "monitor": {
                    "from": 2021,
                    "to": 2024,
                    "every": "month",
                    "by": ["pseudonym"],
                    "transitions": {"from": "2019"},
                    "durations": {"min_trajectories": 3, "colour": "red"},
                },
            }
        )
    problems = " | ".join(caught.value.problems)
    for expected in (
        "dimensions",
        "monitor.every",
        "monitor.by[0]",
        "monitor.durations.min_trajectories",
        "monitor.durations.colour: unknown key",
    ):
        assert expected in problems


def test_cli_writes_the_report_and_exits_with_the_right_codes(
    programme: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    store, _, truth = programme
    config = tmp_path / "monitor.toml"
    config.write_text('version = 1\nregion = "Drenthe"\n[monitor]\nfrom = 2021\nto = 2024\n')
    outs = [tmp_path / f"monitor.{ext}" for ext in ("html", "xlsx", "md")]
    runner = CliRunner()
    args = ["monitor", "report", str(store), "--config", str(config)]
    args += [item for out in outs for item in ("--out", str(out))]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert all(out.stat().st_size > 0 for out in outs)
    assert runner.invoke(main, args).exit_code == 3  # the reports exist
    wrong = ["monitor", "report", str(store), "--config", str(config), "--out", "x.pdf"]
    assert runner.invoke(main, wrong).exit_code == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\n[monitor]\nfrom = 2024\nto = 2021\ncolour = 1\n")
    failed = runner.invoke(main, ["monitor", "report", str(store), "--config", str(bad),
                                  "--out", str(tmp_path / "b.html")])  # fmt: skip
    assert failed.exit_code == 4
    assert "monitor.colour" in failed.output
    assert "monitor.to" in failed.output
    # no pseudonym and no BSN in any output
    pseudonyms = set()
    for part in (store / "parts").glob("*.parquet"):
        pseudonyms |= set(pl.read_parquet(part, columns=["pseudonym"])["pseudonym"].to_list())
    bsns = set(truth["bsn"].to_list())
    texts = [outs[0].read_text(), outs[2].read_text()]
    with zipfile.ZipFile(outs[1]) as book:
        texts += [book.read(name).decode() for name in book.namelist() if name.endswith(".xml")]
    everything = "\n".join(texts)
    found = set(re.findall(r"[0-9a-f]{32}", everything)) & pseudonyms
    assert not found
    assert not set(re.findall(r"[0-9]{9}", everything)) & bsns


def test_write_refuses_an_unknown_format(report: Report, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_monitor_report(report, tmp_path / "monitor.pdf")


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(st.integers(min_value=0, max_value=60), min_size=16, max_size=16),
)
def test_any_transition_matrix_is_protected_with_its_margins(cells: list[int]) -> None:
    froms, tos = ["PGB", "ZIN", "PGB + ZIN", NEW], ["PGB", "ZIN", ENDED, ENDED_AT_18]
    rows = [
        (a, b, n, 0)
        for (a, b), n in zip(itertools.product(froms, tos), cells, strict=True)
        if n and not (a == NEW and b in (ENDED, ENDED_AT_18))
    ]
    matrix = pl.DataFrame(rows, schema=list(MATRIX_COLUMNS), orient="row").with_columns(
        pl.col("clients", "turned_18").cast(pl.UInt32)
    )
    firsts = matrix.filter(pl.col("from") != NEW)
    seconds = matrix.filter(~pl.col("to").is_in([ENDED, ENDED_AT_18]))
    assume(firsts.height > 0 and seconds.height > 0)
    result = TransitionResult(YEARS[0], YEARS[1], "financing", "combined", matrix, {})
    counts, shape = transition_counts(result)
    # the row and column totals are the periods' clients
    row_total = counts.filter(pl.col("from") == IN_CARE, pl.col("to").is_null())["clients"]
    assert row_total.item() == firsts["clients"].sum()
    column_total = counts.filter(pl.col("from").is_null(), pl.col("to") == IN_CARE)["clients"]
    assert column_total.item() == seconds["clients"].sum()
    rules = preset("cbs")
    protected, _ = protect_transitions(result, rules)
    joined = protected.frame.join(counts, on=["from", "to"], nulls_equal=True, suffix="_exact")
    small = joined.filter(pl.col("clients_exact").is_between(0, rules.secret_max))
    assert (small["clients_status"] != "published").all()
    shown = joined.filter(pl.col("clients_status") == "published")
    assert (shown["clients"] == ((shown["clients_exact"] + 2) // 5) * 5).all()
    suppressed = protected.frame.filter(pl.col("clients_status") == "suppressed")
    full = replace(
        rules,
        measures=shape.measures,
        dimensions=shape.dimensions,
        hierarchy=shape.hierarchy,
        structural_empty=shape.structural_empty,
    )
    assert audit(counts, suppressed.select("from", "to"), full).passed
