"""The synthetic monitoring programme: seeded, its moves visible in its episodes."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from factlab.errors import ConfigError
from factlab.synth import programme
from factlab.synth.programme import (
    ProgrammeConfig,
    ProgrammeTruth,
    programme_deliveries,
    synth_programme,
)

SMALL = ProgrammeConfig(first_year=2021, last_year=2024, clients=400, providers=4)


def test_the_same_seed_gives_the_same_programme() -> None:
    first, again = synth_programme(SMALL, seed=5), synth_programme(SMALL, seed=5)
    assert first.episodes.equals(again.episodes)
    assert first.moves.equals(again.moves)
    assert not synth_programme(SMALL, seed=6).episodes.equals(first.episodes)


def test_every_move_ends_one_episode_and_starts_the_next() -> None:
    assert_moves_in_episodes(synth_programme(SMALL, seed=1))


def assert_moves_in_episodes(truth: ProgrammeTruth) -> None:
    """Each move ends one episode of its client and track the day before, and starts one."""
    column = {"municipality": "municipality", "financing": "financing", "provider": "provider"}
    episodes = truth.episodes
    for kind, name in column.items():
        moves = truth.moves.filter(pl.col("kind") == kind)
        assert moves.height > 0, kind
        ended = moves.join(
            episodes.select(
                "client", "track", pl.col("end_date").alias("_end"), pl.col(name).alias("_value")
            ),
            on=["client", "track"],
        ).filter(
            (pl.col("_end") == pl.col("day") - timedelta(days=1))
            & (pl.col("_value") == pl.col("from_value"))
        )
        started = moves.join(
            episodes.select(
                "client",
                "track",
                pl.col("start_date").alias("_start"),
                pl.col(name).alias("_value"),
            ),
            on=["client", "track"],
        ).filter((pl.col("_start") == pl.col("day")) & (pl.col("_value") == pl.col("to_value")))
        assert ended.select("client", "track", "day").n_unique() == moves.height, kind
        assert started.select("client", "track", "day").n_unique() == moves.height, kind
    assert set(truth.moves.filter(pl.col("kind") == "financing")["to_value"]) == {"ZIN"}


def test_the_programme_has_flows_a_monitor_looks_for() -> None:
    truth = synth_programme(SMALL, seed=2)
    episodes = truth.episodes
    # youths turn 18 during the programme, care continues and ends, several providers at once
    assert (episodes["birth_year"] == 2021 - 17).any()
    assert episodes["end_date"].is_null().any()
    assert episodes["end_date"].is_not_null().any()
    in_2022 = episodes.filter(
        (pl.col("start_date") <= date(2022, 12, 31))
        & (pl.col("end_date").is_null() | (pl.col("end_date") >= date(2022, 1, 1)))
    )
    several = in_2022.group_by("client").agg(pl.col("provider").n_unique() > 1)
    assert 0 < several["provider"].sum() < several.height
    # BSNs from the test range while it has enough numbers, one per client
    assert episodes["bsn"].str.starts_with("9999").all()
    assert episodes.group_by("client").agg(pl.col("bsn").n_unique())["bsn"].max() == 1


def test_deliveries_hold_a_period_s_care_as_known_at_its_end() -> None:
    truth = synth_programme(SMALL, seed=3)
    rows = programme_deliveries(truth, date(2022, 1, 1), date(2022, 12, 31))
    assert rows.height > 0
    assert (rows["end_date"].drop_nulls() <= date(2022, 12, 31)).all()
    assert (rows["cost"] > 0).all()
    assert rows["cost"].max() <= 366 * 220.0


def test_a_bad_configuration_is_refused_with_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        ProgrammeConfig(first_year=2025, last_year=2021, move=2.0)
    assert "years in order" in str(caught.value)
    assert "move" in str(caught.value)


EPISODE_KEY = ["client", "provider", "care_form", "financing", "start_date"]


def test_two_episodes_of_a_client_never_share_an_episode_key() -> None:
    """Review of #19: at 2.5 million clients the two tracks of a client sometimes began an
    episode at one provider, in one form and financing, on one day (a provider would deliver
    them as one). With two providers and a second track for everyone, the generator as it was
    made 12 such episodes here; it must make none, and its moves must still match."""
    config = ProgrammeConfig(
        first_year=2016, last_year=2025, clients=3000, providers=2, second_track=1.0
    )
    truth = synth_programme(config, seed=19)
    assert truth.episodes.filter(pl.len().over(EPISODE_KEY) > 1).height == 0
    assert_moves_in_episodes(truth)


def test_a_track_begins_no_segment_with_a_key_of_the_other_track() -> None:
    """Forced: the second track drawn with the first's random numbers would repeat every one of
    its segments; told the first's keys, it shares none and its moves still match."""
    config = ProgrammeConfig(first_year=2021, last_year=2025, clients=300, providers=3)
    pool, key = 900, ["client", "provider", "form", "financing", "start"]
    births = np.full(pool, 2010, dtype=np.int64)
    homes = np.zeros(pool, dtype=np.int64)
    active = np.arange(pool) < config.clients

    def track(taken: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
        made, moves = programme._simulate_track(
            config, np.random.default_rng(7), pool, active.copy(), births, homes, taken
        )
        return pl.DataFrame(made), pl.DataFrame(moves)

    first, _ = track(None)
    assert track(None)[0].equals(first)  # the same draws: every key shared
    second, moves = track(first.select(key))
    assert second.join(first, on=key, how="semi").height == 0
    assert second.height > 0.9 * first.height
    # each move ends the track's segment the day before and begins one that day
    starts = moves.join(second, left_on=["client", "day"], right_on=["client", "start"])
    ends = moves.with_columns(pl.col("day") - 1).join(
        second, left_on=["client", "day"], right_on=["client", "end"]
    )
    assert starts.height == ends.height == moves.height > 0
