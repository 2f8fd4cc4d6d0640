"""Partitions by client: the monitor's analyses read big inputs a partition at a time; their
figures must not depend on how many partitions they read (the one-pass result is the oracle)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from delivery_helpers import deliver_periods, episodes_frame, pseudonym
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from factlab.cli import main
from factlab.errors import ConfigError
from factlab.monitor import _source
from factlab.monitor._source import client_partition, open_partitions, partition_count
from factlab.monitor.durations import durations
from factlab.monitor.series import programme_periods, series
from factlab.monitor.store import append_to_store, open_store
from factlab.monitor.transitions import reentry, transitions
from factlab.result_files import read_table

YEARS = programme_periods(2021, 2024)
HALVES = programme_periods(2021, 2024, "half")


def random_rows(seed: int, clients: int, rows: int) -> pl.DataFrame:
    """Linked rows with several providers, forms, financing, municipalities, unknown starts,
    ongoing episodes and rows without a valid BSN (no pseudonym, or an unreadable one)."""
    rng = random.Random(seed)
    records: dict[str, list[Any]] = defaultdict(list)
    for _ in range(rows):
        start = date(2020, 6, 1) + timedelta(days=rng.randrange(0, 1600))
        end = None if rng.random() < 0.25 else start + timedelta(days=rng.randrange(0, 700))
        valid = rng.random() > 0.08
        client = rng.randrange(clients)
        records["pseudonym"].append(
            pseudonym(client) if valid else rng.choice([None, "not-hexadecimal"])
        )
        records["bsn_status"].append("valid" if valid else rng.choice(["missing", "invalid"]))
        records["provider"].append(rng.choice("ABCD"))
        records["care_form"].append(rng.choice(["ambulant", "verblijf", None]))
        records["financing"].append(rng.choice(["ZIN", "PGB"]))
        records["municipality"].append(rng.choice(["Assen", "Emmen", None]))
        records["birth_year"].append(2002 + client % 13)
        records["start_date"].append(None if rng.random() < 0.03 else start)
        records["end_date"].append(end)
    return pl.DataFrame(
        {
            **records,
            "start_date": pl.Series(records["start_date"], dtype=pl.Date),
            "end_date": pl.Series(records["end_date"], dtype=pl.Date),
            "birth_year": pl.Series(records["birth_year"], dtype=pl.Int16),
        }
    )


def figures(
    source: object, partitions: int | None, third: str = "municipality"
) -> list[pl.DataFrame]:
    """Every figure the monitor makes of ``source`` (but costs), as frames; ``third`` is a
    dimension besides provider and financing."""
    by = ("provider", "financing", third)
    made = [
        series(source, HALVES, by=by, partitions=partitions).table,  # type: ignore[arg-type]
        series(source, YEARS, by=("care_form",), partitions=partitions).table,  # type: ignore[arg-type]
        durations(source, YEARS[1:3], until="2024-12-31", partitions=partitions).table,  # type: ignore[arg-type]
        durations(  # type: ignore[arg-type]
            source, YEARS[1:2], by=(third,), until="2023-06-30", partitions=partitions
        ).table,
        reentry(source, YEARS[:3], months=6, until="2024-12-31", partitions=partitions).table,  # type: ignore[arg-type]
    ]
    for by_ in ("financing", third, "provider"):
        for rule in ("combined", "latest"):
            result = transitions(  # type: ignore[arg-type]
                source, YEARS[1], YEARS[2], by=by_, rule=rule, partitions=partitions
            )
            made.append(result.matrix)
            made.append(pl.DataFrame([result.summary]))
    return made


def few_figures(source: object, partitions: int, third: str = "municipality") -> list[pl.DataFrame]:
    """A figure of each kind :func:`figures` makes (the default tests; the slow ones take all)."""
    result = transitions(  # type: ignore[arg-type]
        source, YEARS[1], YEARS[2], by="provider", rule="latest", partitions=partitions
    )
    return [
        series(  # type: ignore[arg-type]
            source, HALVES, by=("provider", "financing", third), partitions=partitions
        ).table,
        durations(source, YEARS[:3], until="2024-12-31", partitions=partitions).table,  # type: ignore[arg-type]
        reentry(source, YEARS[:3], months=6, until="2024-12-31", partitions=partitions).table,  # type: ignore[arg-type]
        result.matrix,
        pl.DataFrame([result.summary]),
    ]


def assert_same(one: list[pl.DataFrame], other: list[pl.DataFrame]) -> None:
    assert len(one) == len(other)
    for first, second in zip(one, other, strict=True):
        assert_frame_equal(first, second)


CASES = {
    "seed": st.integers(0, 10_000),
    "clients": st.integers(1, 40),
    "rows": st.integers(1, 150),
    "partitions": st.integers(2, 7),
}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**CASES)
def test_partitioned_figures_equal_one_pass(
    seed: int, clients: int, rows: int, partitions: int
) -> None:
    frame = random_rows(seed, clients, rows)
    assert_same(figures(frame, 1), figures(frame, partitions))


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**CASES)
def test_partitioned_figures_equal_one_pass_many(
    seed: int, clients: int, rows: int, partitions: int
) -> None:
    frame = random_rows(seed, clients, rows)
    assert_same(figures(frame, 1), figures(frame, partitions))


def store_programme(folder: Path, seed: int) -> Path:
    """A store of four yearly parts (episodes delivered in several years, with costs, so the
    rules of deliveries run across parts) and a correction of one year with replace."""
    rng = random.Random(seed)
    records = []
    for _ in range(150):
        start = date(2021, 1, 1) + timedelta(days=rng.randrange(0, 1400))
        end = None if rng.random() < 0.3 else start + timedelta(days=rng.randrange(0, 600))
        form = rng.choice(["ambulant", "verblijf"])
        financing = rng.choice(["ZIN", "PGB"])
        records.append((rng.randrange(60), rng.choice("ABC"), form, start, end, financing))
    truth = episodes_frame(records).unique(
        subset=["pseudonym", "provider", "care_form", "start_date"], keep="first"
    )
    store = folder / "store"
    for period in YEARS:
        batch = deliver_periods(folder, truth, [period.label])
        append_to_store(store, [path for path, _ in batch], periods=dict(batch))
    corrected = truth.filter(pl.col("start_date").dt.year() != 2022)
    fix = deliver_periods(folder, corrected, ["2022"], prefix="fix-")
    append_to_store(store, [path for path, _ in fix], periods=dict(fix), replace=True)
    return store


def test_a_store_read_in_partitions_gives_the_one_pass_figures(cli_store: Path) -> None:
    assert_same(few_figures(cli_store, 1, "care_form"), few_figures(cli_store, 3, "care_form"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_store_read_in_partitions_gives_the_one_pass_figures_all(
    tmp_path: Path, seed: int
) -> None:
    store = store_programme(tmp_path, seed)
    one_pass = figures(store, 1, "care_form")
    assert_same(one_pass, figures(store, 3, "care_form"))
    assert_same(one_pass, figures(open_store(store), 5, "care_form"))


def test_partitions_are_chosen_by_the_store_s_size(
    cli_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = cli_store
    rows = sum(part["rows"] for part in open_store(store).parts)
    assert partition_count(open_store(store), None, where="series") == 1
    monkeypatch.setattr(_source, "ROWS_PER_PARTITION", 50)
    assert partition_count(open_store(store), None, where="series") == -(-rows // 50) > 2
    assert len(open_partitions(store, None, where="series")) == -(-rows // 50)
    # chosen by size, the figures are still the one-pass figures
    chosen = series(store, HALVES, by=("provider", "care_form")).table
    assert_frame_equal(
        chosen, series(store, HALVES, by=("provider", "care_form"), partitions=1).table
    )


def test_a_client_s_rows_are_in_one_partition() -> None:
    frame = random_rows(7, clients=50, rows=400)
    placed = frame.with_columns(client_partition(6, pl.int_range(pl.len())))
    per_client = placed.filter(pl.col("pseudonym").is_not_null()).group_by("pseudonym")
    assert per_client.agg(pl.col("_partition").n_unique()).get_column("_partition").max() == 1
    # rows without a pseudonym go by their row number (tests/monitor/test_partitions_without_bsn)
    assert placed.filter(pl.col("pseudonym").is_null())["_partition"].n_unique() > 1
    assert set(placed["_partition"].to_list()) <= set(range(6))
    assert set(placed["_partition"].to_list()) > {0}


@pytest.mark.parametrize("partitions", [0, -1, 4097, 2.5, True, "3"])
def test_partitions_must_be_a_whole_number_in_range(partitions: object) -> None:
    frame = random_rows(1, clients=5, rows=10)
    with pytest.raises(ConfigError, match="partitions"):
        series(frame, YEARS, partitions=partitions)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return store_programme(tmp_path_factory.mktemp("cli"), 5)


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("series", ["--from", "2021", "--to", "2024", "--by", "provider", "--every", "half"]),
        ("transitions", ["--from", "2022", "--to", "2023", "--by", "financing"]),
        ("reentry", ["--from", "2021", "--to", "2023", "--until", "2024-12-31"]),
        ("durations", ["--from", "2021", "--to", "2023", "--until", "2024-12-31"]),
    ],
)
def test_cli_partitions_give_the_same_table(
    cli_store: Path, tmp_path: Path, command: str, options: list[str]
) -> None:
    store = cli_store
    tables = []
    for partitions in ("1", "4"):
        out = tmp_path / f"{command}-{partitions}.parquet"
        result = CliRunner().invoke(
            main,
            [
                "monitor",
                command,
                str(store),
                *options,
                "--partitions",
                partitions,
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        tables.append(read_table(out)[0])
    assert_frame_equal(tables[0], tables[1])
    refused = CliRunner().invoke(
        main,
        ["monitor", command, str(store), *options, "--partitions", "0", "--out", str(out) + "x"],
    )
    assert refused.exit_code != 0
    assert "partitions" in refused.output


def test_a_spell_of_unknown_start_comes_first_in_re_entry() -> None:
    """Spells are trajectories at any provider and care form; one of unknown start is the
    client's first (trajectories put it last in its group), so re-entry follows it."""
    rows = pl.DataFrame(
        {
            "pseudonym": [pseudonym(1)] * 3 + [pseudonym(2)] * 2,
            "bsn_status": ["valid"] * 5,
            "provider": ["A", "B", "A", "A", "A"],
            "care_form": ["ambulant", "verblijf", "ambulant", "ambulant", "ambulant"],
            "start_date": pl.Series(
                [None, date(2022, 3, 15), date(2022, 8, 1), date(2022, 1, 1), date(2022, 2, 2)],
                dtype=pl.Date,
            ),
            "end_date": pl.Series(
                [date(2022, 3, 14), date(2022, 4, 30), None, date(2022, 2, 1), date(2022, 2, 28)],
                dtype=pl.Date,
            ),
        }
    )
    # client 1: one spell from an unknown start to 30 April (touching rows merge, at two
    # providers), re-entered on 1 August; client 2: 1 January to 28 February (touching), ended
    table = reentry(rows, ["2022"], months=6, until="2023-12-31").table
    assert table.select("spells_ended", "reentered", "window_open").rows() == [(2, 1, 0)]
    table = reentry(rows, ["2022"], months=3, until="2023-12-31").table
    assert table.select("spells_ended", "reentered", "window_open").rows() == [(2, 0, 0)]
