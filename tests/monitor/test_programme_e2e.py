"""A synthetic programme delivered year by year, linked, and read back by the monitor."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from delivery_helpers import write_delivery

from factlab import schema
from factlab.analysis.link import link
from factlab.monitor.series import programme_periods, series
from factlab.monitor.store import append_to_store
from factlab.monitor.transitions import ENDED_AT_18, transitions
from factlab.synth.programme import ProgrammeConfig, programme_deliveries, synth_programme

CONFIG = ProgrammeConfig(first_year=2021, last_year=2024, clients=300, providers=4)
YEARS = programme_periods(2021, 2024)


def pseudonymised(rows: pl.DataFrame) -> pl.DataFrame:
    """The truth's rows as a steward's file would hold them (a test stand-in for the keyed
    pseudonym: a hash of the synthetic BSN, no key)."""
    return rows.with_columns(
        pl.col("bsn")
        .map_elements(lambda bsn: hashlib.sha256(bsn.encode()).hexdigest()[:32], pl.String)
        .alias(schema.PSEUDONYM),
        pl.lit("valid").cast(schema.STATUS_DTYPE).alias(schema.STATUS),
    ).drop("bsn")


@pytest.fixture(scope="module")
def programme(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pl.DataFrame]:
    folder = tmp_path_factory.mktemp("programme")
    truth = synth_programme(CONFIG, seed=11)
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
    return store, linked, pseudonymised(truth.episodes)


def test_linked_deliveries_give_back_the_episodes(programme: tuple) -> None:
    _, linked, truth = programme
    key = ["pseudonym", "provider", "care_form", "financing", "start_date", "end_date"]
    expected = truth.filter(
        pl.col("end_date").is_null() | (pl.col("end_date") >= date(2021, 1, 1))
    ).select(key)
    got = pl.read_parquet(linked).with_columns(pl.col(pl.Categorical).cast(pl.String)).select(key)
    assert sorted(got.rows()) == sorted(expected.rows())


def test_the_store_and_the_linked_file_agree(programme: tuple) -> None:
    store, linked, _ = programme
    by = ("provider", "financing")
    assert series(store, YEARS, by=by).table.equals(series(linked, YEARS, by=by).table)


def test_turning_18_matches_the_birth_years(programme: tuple) -> None:
    store, _, truth = programme
    for first, second in itertools.pairwise(YEARS):
        result = transitions(store, first, second, by="financing", rule="latest")

        def clients(period: object, rows: pl.DataFrame = truth) -> dict[str, int]:
            active = rows.filter(
                (pl.col("start_date") <= period.end)  # type: ignore[attr-defined]
                & (pl.col("end_date").is_null() | (pl.col("end_date") >= period.start))  # type: ignore[attr-defined]
            )
            return dict(zip(active["pseudonym"], active["birth_year"], strict=True))

        before, after = clients(first), clients(second)
        turned = [
            c
            for c, born in {**before, **after}.items()
            if first.end.year - born < 18 <= second.end.year - born
        ]
        ended_at_18 = [c for c in turned if c in before and c not in after]
        assert result.summary["turned_18"] == len(turned)
        assert result.summary["ended_at_18"] == len(ended_at_18)
        cell = result.matrix.filter(pl.col("to") == ENDED_AT_18)["clients"].sum()
        assert cell == len(ended_at_18)


def test_pgb_to_zin_shifts_match_plain_python(programme: tuple) -> None:
    store, _, truth = programme
    first, second = YEARS[1], YEARS[2]

    def combined(period: object) -> dict[str, str]:
        found: dict[str, set[str]] = defaultdict(set)
        for row in truth.iter_rows(named=True):
            if row["start_date"] <= period.end and (  # type: ignore[attr-defined]
                row["end_date"] is None or row["end_date"] >= period.start  # type: ignore[attr-defined]
            ):
                found[row["pseudonym"]].add(row["financing"])
        return {client: " + ".join(sorted(values)) for client, values in found.items()}

    before, after = combined(first), combined(second)
    shifted = sum(before.get(c) == "PGB" and after.get(c) == "ZIN" for c in before)
    result = transitions(store, first, second, by="financing")
    cell = result.matrix.filter((pl.col("from") == "PGB") & (pl.col("to") == "ZIN"))
    assert cell["clients"].sum() == shifted
    assert shifted > 0
