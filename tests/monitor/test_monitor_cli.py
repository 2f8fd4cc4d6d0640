"""The ``factlab monitor`` commands: exit codes, files, and no pseudonym in any output."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from delivery_helpers import day, deliver_periods, episodes_frame

from factlab.cli import main
from factlab.result_files import read_table

EPISODES = episodes_frame(
    [
        (1, "A", "ambulant", day("2022-03-01"), day("2023-05-31"), "PGB"),
        (1, "A", "ambulant", day("2023-06-01"), None, "ZIN"),
        (2, "A", "verblijf", day("2022-06-01"), None),
        (3, "B", "ambulant", day("2022-01-10"), day("2022-04-30")),
        (3, "B", "ambulant", day("2023-02-01"), day("2023-10-31")),
        (4, "B", "ambulant", day("2023-02-01"), None),
    ]
).with_columns(
    pl.Series("birth_year", [2006, 2006, 2010, 2012, 2012, 2005], dtype=pl.Int16),
    pl.Series("municipality", ["Assen", "Assen", "Emmen", "Assen", "Assen", "Emmen"]),
)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    runner = CliRunner()
    for label in ("2022", "2023"):
        batch = deliver_periods(tmp_path, EPISODES, [label])
        options = [f"--period={path}={period}" for path, period in batch]
        result = runner.invoke(
            main, ["monitor", "add", str(folder), *[str(path) for path, _ in batch], *options]
        )
        assert result.exit_code == 0, result.output
        assert "added parts/part-" in result.output
    return folder


def test_add_refuses_overlap_then_replaces(store: Path, tmp_path: Path) -> None:
    batch = deliver_periods(tmp_path, EPISODES, ["2023H2"], prefix="fix-")
    arguments = ["monitor", "add", str(store), *[str(path) for path, _ in batch]]
    options = [f"--period={path}={period}" for path, period in batch]
    refused = CliRunner().invoke(main, [*arguments, *options])
    assert refused.exit_code != 0
    assert "overlaps" in refused.output
    accepted = CliRunner().invoke(main, [*arguments, *options, "--replace"])
    assert accepted.exit_code == 0, accepted.output
    assert "replaced for 2023-07-01..2023-12-31" in accepted.output
    assert len(json.loads((store / "store.json").read_text())["parts"]) == 3


@pytest.mark.parametrize(
    ("command", "options", "columns"),
    [
        ("series", ["--from", "2022", "--to", "2023", "--by", "provider"], "unique_clients"),
        ("series", ["--from", "2022", "--to", "2023", "--every", "half"], "trajectories"),
        ("transitions", ["--from", "2022", "--to", "2023", "--by", "financing"], "clients"),
        ("reentry", ["--from", "2022", "--to", "2023", "--months", "12"], "reentered"),
        ("durations", ["--from", "2022", "--to", "2023"], "median_days"),
    ],
)
def test_analyses_write_their_tables(
    store: Path, tmp_path: Path, command: str, options: list[str], columns: str
) -> None:
    out = tmp_path / f"{command}.csv"
    result = CliRunner().invoke(main, ["monitor", command, str(store), *options, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table, metadata = read_table(out)
    assert columns in table.columns
    assert metadata["internal"] is True
    assert [part["file"] for part in metadata["source"]["parts"]] == [
        "parts/part-0001.parquet",
        "parts/part-0002.parquet",
    ]
    text = out.read_text() + (tmp_path / f"{command}.csv.meta.json").read_text()
    for pseudonym in EPISODES["pseudonym"]:
        assert pseudonym not in text
    again = CliRunner().invoke(main, ["monitor", command, str(store), *options, "--out", str(out)])
    assert again.exit_code != 0  # an existing output needs --force


def test_transitions_shows_the_pgb_to_zin_shift(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    arguments = ["--from", "2022", "--to", "2023", "--by", "financing", "--rule", "latest"]
    result = CliRunner().invoke(
        main, ["monitor", "transitions", str(store), *arguments, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["rows"]
    assert {"from": "PGB", "to": "ZIN", "clients": 1, "turned_18": 0} in rows


def test_costs_needs_a_cost_column(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "costs.parquet"
    result = CliRunner().invoke(
        main, ["monitor", "costs", str(store), "--from", "2022", "--to", "2023", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(out)
    assert {"volume_effect", "intensity_effect"} <= set(table.columns)


def test_a_wrong_output_extension_is_refused_before_work(store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "monitor",
            "series",
            str(store),
            "--from",
            "2022",
            "--to",
            "2023",
            "--out",
            str(tmp_path / "x.txt"),
        ],
    )
    assert result.exit_code != 0
    assert "extension" in result.output


def test_a_period_the_store_does_not_cover_is_refused(store: Path, tmp_path: Path) -> None:
    """Review #19, 4: the store covers 2022 and 2023 only; one line, a non-zero exit."""
    out = tmp_path / "series.csv"
    result = CliRunner().invoke(
        main, ["monitor", "series", str(store), "--from", "2022", "--to", "2024", "--out", str(out)]
    )
    assert result.exit_code != 0
    assert (
        "series: period 2024 is not covered by the deliveries (provider 'A' lacks 2024-01-01 to "
        "2024-12-31; provider 'B' lacks 2024-01-01 to 2024-12-31)"
    ) in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_add_refuses_a_round_that_is_no_programme_unless_any_round(tmp_path: Path) -> None:
    """Review #19, 8: a round name without years bounds nothing."""
    from delivery_helpers import delivery_rows, write_delivery

    from factlab.periods import parse_period

    rows = delivery_rows(EPISODES, parse_period("2022"), "A")
    path = write_delivery(tmp_path, "a.parquet", rows, round="drenthe-monitor")
    arguments = ["monitor", "add", str(tmp_path / "store"), str(path), f"--period={path}=2022"]
    refused = CliRunner().invoke(main, arguments)
    assert refused.exit_code != 0
    assert "not a programme name" in refused.output
    accepted = CliRunner().invoke(main, [*arguments, "--any-round"])
    assert accepted.exit_code == 0, accepted.output
