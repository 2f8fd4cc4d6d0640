"""A programme end to end with real keys: stewards pseudonymise yearly exports with the
programme's provider key, the store is linked with its link key (two stages)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from factlab.errors import LinkError
from factlab.keys.programme import new_programme_key
from factlab.monitor.series import programme_periods, series
from factlab.monitor.store import append_to_store, open_store
from factlab.steward.pseudonymise import pseudonymise_file
from factlab.synth.programme import ProgrammeConfig, programme_deliveries, synth_programme

CONFIG = ProgrammeConfig(first_year=2022, last_year=2023, clients=60, providers=2)


def test_two_stage_store_counts_each_year_as_the_truth(tmp_path: Path) -> None:
    key = new_programme_key("drenthe", 2022, 2023)
    provider_key, link_key = key.provider_key(), key.link_key()
    truth = synth_programme(CONFIG, seed=4)
    store = tmp_path / "store"
    for period in programme_periods(2022, 2023):
        rows = programme_deliveries(truth, period.start, period.end)
        batch = {}
        for (provider,), part in rows.group_by("provider"):
            export = tmp_path / f"{provider}-{period.label}.csv"
            part.drop("provider").write_csv(export)
            out = tmp_path / f"{provider}-{period.label}.parquet"
            pseudonymise_file(export, provider_key, provider=str(provider), out=out)
            batch[out] = period.label
        append_to_store(store, list(batch), periods=batch, key=link_key)
    opened = open_store(store)
    assert opened.document["stage"] == 2
    assert opened.document["programme"] == "drenthe-2022-2023"
    table = series(store, programme_periods(2022, 2023)).table
    for period in programme_periods(2022, 2023):
        active = truth.episodes.filter(
            (pl.col("start_date") <= period.end)
            & (pl.col("end_date").is_null() | (pl.col("end_date") >= period.start))
        )
        got = table.filter(pl.col("period") == period.label)["unique_clients"].item()
        assert got == active["bsn"].n_unique()
    # no BSN of the truth in any value of the store's parts (the columns are read: the file's
    # bytes are compressed, so a search of them would find nothing even if a BSN were there)
    bsns = set(truth.episodes["bsn"].cast(pl.String).unique().to_list())
    for part in (store / "parts").iterdir():
        frame = pl.read_parquet(part)
        for name in frame.columns:
            values = frame[name]
            if values.dtype in (pl.List, pl.Struct) or isinstance(values.dtype, pl.List):
                continue
            texts = set(values.cast(pl.String).drop_nulls().to_list())
            assert not texts & bsns, name
            assert not any(bsn in text for text in texts for bsn in bsns), name


def test_a_delivery_of_the_next_programme_year_is_refused(tmp_path: Path) -> None:
    key = new_programme_key("drenthe", 2022, 2023)
    truth = synth_programme(CONFIG, seed=5)
    rows = programme_deliveries(truth, date(2024, 1, 1), date(2024, 12, 31))
    part = rows.filter(pl.col("provider") == "P01").drop("provider")
    export = tmp_path / "P01-2024.csv"
    part.write_csv(export)
    out = tmp_path / "P01-2024.parquet"
    pseudonymise_file(export, key.provider_key(), provider="P01", out=out)
    with pytest.raises(LinkError, match="outside the programme's years 2022-2023"):
        append_to_store(tmp_path / "store", [out], periods={out: "2024"}, key=key.link_key())
