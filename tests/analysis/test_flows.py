"""Tests of factlab.flows (flows, trajectories, repeat use) and the ``factlab flows`` command.

Synthetic data only: pseudonyms are SHA-256 digests of made-up client ids, no BSN is involved.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import factlab.cli.analysis  # noqa: F401  (registers the analysis commands on `main`)
from factlab import schema
from factlab.analysis.flows import flows, repeat_use, trajectories
from factlab.cli import main
from factlab.errors import ConfigError, InputError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import Period, parse_period

PROVIDERS = ("P1", "P2", "P3")
CARE_FORMS = ("ambulant", "verblijf")
ONE_DAY = timedelta(days=1)


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"synthetic-client-{client}".encode()).hexdigest()[:32]


def linked_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows of a linked file; ``client`` None means the row has no valid BSN."""
    return pl.DataFrame(
        {
            "pseudonym": [None if r["client"] is None else pseudonym(r["client"]) for r in records],
            "bsn_status": pl.Series(
                ["valid" if r["client"] is not None else "missing" for r in records],
                dtype=schema.STATUS_DTYPE,
            ),
            "provider": [r["provider"] for r in records],
            "care_form": [r.get("care_form", "ambulant") for r in records],
            "municipality": [r.get("municipality", "Assen") for r in records],
            "start_date": pl.Series([r.get("start") for r in records], dtype=pl.Date),
            "end_date": pl.Series([r.get("end") for r in records], dtype=pl.Date),
        }
    )


def write_linked(frame: pl.DataFrame, path: Path) -> Path:
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="test-round",
        key_id="test-key",
        key_fingerprint="0" * 16,
        rows=frame.height,
        rows_by_status={"valid": frame.height},
        provider=None,
    )
    write_parquet(frame, path, manifest)
    return path


def seeded_records(seed: int, clients: int = 200) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for client in [*range(clients), *([None] * 30)]:
        for _ in range(rng.randint(1, 4)):
            start = date(2018, 1, 1) + timedelta(days=rng.randint(0, 8 * 365))
            end = None if rng.random() < 0.2 else start + timedelta(days=rng.randint(0, 400))
            records.append(
                {
                    "client": client,
                    "provider": rng.choice(PROVIDERS),
                    "care_form": rng.choice(CARE_FORMS),
                    "municipality": rng.choice(("Assen", "Emmen")),
                    "start": None if rng.random() < 0.03 else start,
                    "end": end,
                }
            )
    rng.shuffle(records)
    return records


def active(record: dict[str, Any], period: Period) -> bool:
    return (record["start"] is None or record["start"] <= period.end) and (
        record["end"] is None or record["end"] >= period.start
    )


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def oracle_trajectories(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain-Python merge of overlapping or adjoining episodes."""
    groups: dict[tuple[Any, ...], list[tuple[date, date, bool, bool]]] = defaultdict(list)
    for r in records:
        if r["client"] is not None:
            groups[r["client"], r["provider"], r.get("care_form", "ambulant")].append(
                (r["start"] or date.min, r["end"] or date.max, r["start"] is None, r["end"] is None)
            )
    result = []
    for (client, provider, care_form), episodes in groups.items():
        runs: list[list[Any]] = []
        for start, end, unknown, ongoing in sorted(episodes):
            if runs and (start - runs[-1][1]).days <= 1:
                run = runs[-1]
                run[1], run[3], run[4] = max(run[1], end), run[3] or ongoing, run[4] + 1
            else:
                runs.append([start, end, unknown, ongoing, 1])
        for start, end, unknown, ongoing, count in runs:
            result.append(
                {
                    "client": client,
                    "provider": provider,
                    "care_form": care_form,
                    "start": None if unknown else start,
                    "end": None if ongoing else end,
                    "episodes": count,
                }
            )
    return result


def oracle_repeat(records: list[dict[str, Any]], period: Period, years: int) -> tuple[int, int]:
    merged = oracle_trajectories(records)
    ends: dict[int, list[date]] = defaultdict(list)
    for t in merged:
        if t["end"] is not None:
            ends[t["client"]].append(t["end"])
    started = [t for t in merged if t["start"] and period.start <= t["start"] <= period.end]
    repeat = [
        t
        for t in started
        if any(
            years_before(t["start"], years) <= end <= t["start"] - 2 * ONE_DAY
            for end in ends[t["client"]]
        )
    ]
    return len(started), len(repeat)


def total_row(table: pl.DataFrame) -> dict[str, Any]:
    row = table.row(0, named=True)
    assert row["dimension"] == "total"
    return row


def test_known_flows_with_a_provider_without_bsns() -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "start": date(2023, 3, 1), "end": None},
        {"client": 2, "provider": "P1", "start": date(2024, 2, 1), "end": date(2024, 4, 1)},
        {"client": 3, "provider": "P2", "start": date(2023, 1, 1), "end": date(2023, 12, 31)},
        {"client": 3, "provider": "P1", "start": date(2024, 1, 1), "end": None},
        {"client": None, "provider": "P3", "start": date(2024, 5, 1), "end": None},
    ]
    result = flows(linked_frame(records), parse_period("2023"), parse_period("2024"), by="provider")
    columns = ["value", "clients_from", "clients_to", "continuing", "new", "ended"]
    assert result.table.select(columns).rows() == [
        (None, 2, 3, 2, 1, 0),
        ("P1", 1, 3, 1, 2, 0),
        ("P2", 1, 0, 0, 0, 1),
        ("P3", 0, 0, 0, 0, 0),
    ]
    assert result.table["rows_without_valid_bsn_to"].to_list() == [1, 0, 0, 1]
    assert result.rows_without_valid_bsn["to"]["missing"] == 1
    assert result.rows_without_valid_bsn["from"]["missing"] == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flows_match_set_oracle(seed: int) -> None:
    records = seeded_records(seed)
    first, second = parse_period("2022"), parse_period("2023H2")
    result = flows(linked_frame(records), first, second, by="care_form", repeat_years=None)
    for row in result.table.iter_rows(named=True):
        subset = [
            r for r in records if row["dimension"] == "total" or r["care_form"] == row["value"]
        ]
        before = {r["client"] for r in subset if r["client"] is not None and active(r, first)}
        after = {r["client"] for r in subset if r["client"] is not None and active(r, second)}
        assert row["clients_from"] == len(before)
        assert row["clients_to"] == len(after)
        assert row["continuing"] == len(before & after)
        assert row["new"] == len(after - before)
        assert row["ended"] == len(before - after)
        left_out = [r for r in subset if r["client"] is None]
        assert row["rows_without_valid_bsn_from"] == sum(active(r, first) for r in left_out)
        assert row["rows_without_valid_bsn_to"] == sum(active(r, second) for r in left_out)


dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 20)),
            st.sampled_from(PROVIDERS),
            st.one_of(st.none(), dates),
            st.one_of(st.none(), dates),
        ),
        max_size=80,
    ),
    st.sampled_from(["2021", "2022H1", "2023Q2", "2024-03"]),
    st.sampled_from(["2022", "2023H2", "2024"]),
)
def test_flow_identities(
    rows: list[tuple[int | None, str, date | None, date | None]], first: str, second: str
) -> None:
    records: list[dict[str, Any]] = [
        {"client": client, "provider": provider, "start": start, "end": end}
        for client, provider, start, end in rows
    ]
    assume(parse_period(second).start > parse_period(first).end)  # flows go forward in time
    result = flows(linked_frame(records), parse_period(first), parse_period(second), by="provider")
    assert result.table.height >= 1
    for row in result.table.iter_rows(named=True):
        assert row["continuing"] + row["ended"] == row["clients_from"]
        assert row["continuing"] + row["new"] == row["clients_to"]
        assert 0 <= row["trajectories_repeat"] <= row["trajectories_started"]
        assert row["clients_repeat"] <= row["clients_started"] <= row["trajectories_started"]
    total = total_row(result.table)
    expected = {
        r["client"] for r in records if r["client"] is not None and active(r, parse_period(first))
    }
    assert total["clients_from"] == len(expected)


def test_trajectories_merge_overlapping_and_adjoining_episodes() -> None:
    records: list[dict[str, Any]] = [
        # overlapping, then adjoining (next day): one run of three episodes
        {"client": 1, "provider": "P1", "start": date(2024, 1, 1), "end": date(2024, 3, 31)},
        {"client": 1, "provider": "P1", "start": date(2024, 2, 1), "end": date(2024, 2, 28)},
        {"client": 1, "provider": "P1", "start": date(2024, 4, 1), "end": date(2024, 5, 31)},
        # one free day (1 June) later: a new run, ongoing
        {"client": 1, "provider": "P1", "start": date(2024, 6, 2), "end": None},
        {"client": 1, "provider": "P1", "start": date(2024, 8, 1), "end": date(2024, 9, 1)},
        # other care form, other provider: separate trajectories
        {"client": 1, "provider": "P1", "care_form": "verblijf", "start": date(2024, 2, 1)},
        {"client": 1, "provider": "P2", "start": date(2024, 2, 1), "end": date(2024, 2, 2)},
        # unknown start
        {"client": 2, "provider": "P1", "start": None, "end": date(2024, 1, 31)},
        {"client": 2, "provider": "P1", "start": date(2024, 1, 15), "end": date(2024, 3, 1)},
        {"client": None, "provider": "P1", "start": date(2024, 1, 1), "end": None},
    ]
    result = trajectories(linked_frame(records))
    got = {
        (p, provider, form, start, end, n)
        for p, provider, form, start, end, n in result.select(
            "pseudonym", "provider", "care_form", "start_date", "end_date", "episodes"
        ).iter_rows()
    }
    one, two = pseudonym(1), pseudonym(2)
    assert got == {
        (one, "P1", "ambulant", date(2024, 1, 1), date(2024, 5, 31), 3),
        (one, "P1", "ambulant", date(2024, 6, 2), None, 2),
        (one, "P1", "verblijf", date(2024, 2, 1), None, 1),
        (one, "P2", "ambulant", date(2024, 2, 1), date(2024, 2, 2), 1),
        (two, "P1", "ambulant", None, date(2024, 3, 1), 2),
    }


def trajectory_rows(result: pl.DataFrame, client_of: dict[str, int]) -> list[tuple[Any, ...]]:
    """The trajectories of ``result`` as sorted tuples, clients by number."""
    return sorted(
        (client_of[p], provider, form, str(start), str(end), n)
        for p, provider, form, start, end, n in result.select(
            "pseudonym", "provider", "care_form", "start_date", "end_date", "episodes"
        ).iter_rows()
    )


def oracle_trajectory_rows(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The oracle's trajectories as the same sorted tuples."""
    return sorted(
        (t["client"], t["provider"], t["care_form"], str(t["start"]), str(t["end"]), t["episodes"])
        for t in oracle_trajectories(records)
    )


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_trajectories_match_plain_python_merge(seed: int) -> None:
    records = seeded_records(seed)
    result = trajectories(linked_frame(records), keep=["municipality"])
    by_pseudonym = {pseudonym(client): client for client in range(200)}
    assert trajectory_rows(result, by_pseudonym) == oracle_trajectory_rows(records)
    assert "municipality" in result.columns


def test_repeat_use_edges() -> None:
    s = date(2025, 1, 1)
    records: list[dict[str, Any]] = [
        # ended two days before the start: one free day between -> repeat
        {"client": 1, "provider": "P1", "start": date(2020, 1, 1), "end": s - 2 * ONE_DAY},
        {"client": 1, "provider": "P2", "start": s, "end": None},
        # ended the day before: no day between -> not repeat
        {"client": 2, "provider": "P1", "start": date(2020, 1, 1), "end": s - ONE_DAY},
        {"client": 2, "provider": "P2", "start": s, "end": None},
        # ended exactly five years before -> repeat; one day earlier -> not
        {"client": 3, "provider": "P1", "start": date(2019, 1, 1), "end": date(2020, 3, 1)},
        {"client": 3, "provider": "P2", "start": date(2025, 3, 1), "end": None},
        {"client": 4, "provider": "P1", "start": date(2019, 1, 1), "end": date(2020, 2, 29)},
        {"client": 4, "provider": "P2", "start": date(2025, 3, 1), "end": None},
        # earlier care still ongoing -> not repeat; no history -> not repeat
        {"client": 5, "provider": "P1", "start": date(2019, 1, 1), "end": None},
        {"client": 5, "provider": "P2", "start": date(2025, 6, 1), "end": None},
        {"client": 6, "provider": "P1", "start": date(2025, 4, 1), "end": None},
        # adjoining episodes at one provider merge: the trajectory started in 2024
        {"client": 7, "provider": "P1", "start": date(2024, 1, 1), "end": date(2024, 12, 31)},
        {"client": 7, "provider": "P1", "start": s, "end": None},
        # one free day at the same provider: a new trajectory, and repeat
        {"client": 8, "provider": "P1", "start": date(2024, 1, 1), "end": date(2024, 12, 30)},
        {"client": 8, "provider": "P1", "start": s, "end": None},
        # two starts in the period; the second follows the first's end
        {"client": 9, "provider": "P1", "start": s, "end": date(2025, 1, 10)},
        {"client": 9, "provider": "P2", "start": date(2025, 5, 1), "end": None},
        {"client": None, "provider": "P3", "start": date(2025, 2, 1), "end": None},
    ]
    result = repeat_use(linked_frame(records), parse_period("2025"))
    total = total_row(result.table)
    assert total["trajectories_started"] == 9
    assert total["trajectories_repeat"] == 4
    assert total["repeat_share"] == pytest.approx(4 / 9)
    assert total["clients_started"] == 8
    assert total["clients_repeat"] == 4
    assert total["rows_without_valid_bsn_started"] == 1
    assert result.rows_without_valid_bsn["missing"] == 1
    assert oracle_repeat(records, parse_period("2025"), 5) == (9, 4)


def test_repeat_use_look_back_is_configurable() -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "start": date(2020, 1, 1), "end": date(2022, 6, 30)},
        {"client": 1, "provider": "P2", "start": date(2025, 3, 1), "end": None},
    ]
    frame = linked_frame(records)
    assert (
        total_row(repeat_use(frame, parse_period("2025"), years=3).table)["trajectories_repeat"]
        == 1
    )
    assert (
        total_row(repeat_use(frame, parse_period("2025"), years=2).table)["trajectories_repeat"]
        == 0
    )


@pytest.mark.parametrize("seed", [7, 8, 9])
@pytest.mark.parametrize("period", ["2023", "2025H1"])
def test_repeat_use_matches_oracle(seed: int, period: str) -> None:
    records = seeded_records(seed)
    result = repeat_use(linked_frame(records), parse_period(period), by="provider")
    total = total_row(result.table)
    expected = oracle_repeat(records, parse_period(period), 5)
    assert (total["trajectories_started"], total["trajectories_repeat"]) == expected
    per_provider = result.table.filter(pl.col("dimension") == "provider")
    assert per_provider["trajectories_started"].sum() == total["trajectories_started"]
    assert per_provider["trajectories_repeat"].sum() == total["trajectories_repeat"]
    for row in per_provider.iter_rows(named=True):
        subset = [r for r in records if r["provider"] == row["value"]]
        started, _ = oracle_repeat(subset, parse_period(period), 5)
        assert row["trajectories_started"] == started


def test_flows_include_repeat_use_of_the_second_period() -> None:
    records = seeded_records(10)
    first, second = parse_period("2023"), parse_period("2024")
    result = flows(linked_frame(records), first, second)
    total = total_row(result.table)
    assert (total["trajectories_started"], total["trajectories_repeat"]) == oracle_repeat(
        records, second, 5
    )
    assert result.metadata()["parameters"] == {
        "from": "2023",
        "to": "2024",
        "by": None,
        "repeat_years": 5,
    }
    assert result.metadata()["exact"] is True


def test_argument_errors() -> None:
    frame = linked_frame(seeded_records(11))
    before, year = parse_period("2023"), parse_period("2024")
    with pytest.raises(ConfigError, match="repeat_years"):
        flows(frame, before, year, repeat_years=0)
    with pytest.raises(ConfigError, match="pseudonym"):
        flows(frame, before, year, by="pseudonym")
    with pytest.raises(InputError, match="care_form"):
        flows(frame.drop("care_form"), before, year)
    assert flows(frame.drop("care_form"), before, year, repeat_years=None).table.height == 1
    with pytest.raises(InputError, match="start_date"):
        flows(frame.drop("start_date"), before, year, repeat_years=None)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2025", "2024"),
        ("2024", "2024"),
        ("2024", "2024H2"),
        ("2024H2", "2024-12"),
        ("2025Q1", "2024"),
    ],
)
def test_a_to_period_that_does_not_come_after_the_from_period_is_refused(
    first: str, second: str
) -> None:
    frame = linked_frame(seeded_records(11))
    with pytest.raises(ConfigError) as raised:
        flows(frame, parse_period(first), parse_period(second))
    assert f"period {first}" in str(raised.value)
    assert f"period {second}" in str(raised.value)
    # The day after the first period ends is the earliest start the second may have.
    assert flows(frame, parse_period("2024H1"), parse_period("2024H2")).table.height == 1


def test_cli_refuses_flows_backwards_in_time(tmp_path: Path) -> None:
    linked = write_linked(linked_frame(seeded_records(12)), tmp_path / "linked.parquet")
    out = tmp_path / "flows.json"
    result = run("flows", linked, "--from", "2025", "--to", "2024", "--out", out)
    assert result.exit_code == ConfigError.exit_code
    assert "period 2025" in result.output
    assert "period 2024" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


# --- command line ---------------------------------------------------------------------------


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def test_cli_writes_flows(tmp_path: Path) -> None:
    records = seeded_records(12)
    linked = write_linked(linked_frame(records), tmp_path / "linked.parquet")
    out = tmp_path / "flows.json"
    result = run(
        "flows", linked, "--from", "2023", "--to", "2024", "--by", "care_form", "--out", out
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["metadata"]["kind"] == "factlab-flows"
    assert document["metadata"]["internal"] is True
    table = pl.DataFrame(document["rows"])
    expected = flows(
        linked_frame(records), parse_period("2023"), parse_period("2024"), by="care_form"
    ).table
    assert (
        table.select("value", "continuing", "new", "ended").rows()
        == expected.select("value", "continuing", "new", "ended").rows()
    )
    assert pseudonym(0) not in out.read_text()


def test_cli_without_repeat_needs_no_care_form(tmp_path: Path) -> None:
    frame = linked_frame(seeded_records(13)).drop("care_form")
    linked = write_linked(frame, tmp_path / "linked.parquet")
    failed = run("flows", linked, "--from", "2023", "--to", "2024", "--out", tmp_path / "f.csv")
    assert failed.exit_code == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["linked.parquet"]
    out = tmp_path / "f.csv"
    ok = run("flows", linked, "--from", "2023", "--to", "2024", "--no-repeat", "--out", out)
    assert ok.exit_code == 0, ok.output
    assert "trajectories_started" not in pl.read_csv(out).columns
    assert (tmp_path / "f.csv.meta.json").is_file()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--from", "2023", "--to", "someday", "--out", "{tmp}/f.csv"], 4),
        (["--from", "2023", "--to", "2024", "--repeat-years", "0", "--out", "{tmp}/f.csv"], 4),
        (["--from", "2023", "--to", "2024", "--out", "{tmp}/f.xlsx"], 4),
        (["--from", "2023", "--to", "2024", "--by", "sex", "--out", "{tmp}/f.csv"], 3),
    ],
)
def test_cli_errors_write_nothing(tmp_path: Path, args: list[str], code: int) -> None:
    linked = write_linked(linked_frame(seeded_records(14)), tmp_path / "linked.parquet")
    result = run("flows", linked, *(arg.format(tmp=tmp_path) for arg in args))
    assert result.exit_code == code, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["linked.parquet"]
