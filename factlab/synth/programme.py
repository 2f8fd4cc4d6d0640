"""A synthetic monitoring programme: several years of youth care with its known moves.

A monitor's questions are about what changes from year to year: who continues, who is new, who
left, who turned 18, who moved to another municipality, who went from a personal budget (PGB)
to care in kind (ZIN) or to another provider, who came back after care ended. This generator
simulates a population of youths year by year and returns the episodes *and* the moves it
made, so tests can check a monitor's figures against what is known to have happened.

Each client has one or two care *tracks* (a second track at another provider for a share of
clients: youths at several providers at once). Every year, for the clients in care on a track:

- they leave care on a random day with a yearly probability (higher once they are 18 or older
  at the end of the year, so turning 18 is a flow of its own);
- or one thing changes on a random day: they move to another municipality, go from PGB to ZIN,
  or switch provider; the episode then ends the day before and a new one begins that day (a
  move keeps provider and care form, so the trajectory runs on);
- clients who left come back with a yearly probability (re-entry), and new clients enter, about
  as many as left (client numbers stay roughly flat, as in the region's monitor).

The two tracks of a client are simulated apart: a move of municipality on one is not made on
the other (a client's rows may then name two municipalities in a year, as real deliveries do
when providers register a move at different times). Two episodes of one client never share an
episode's key (provider, care form, financing and start day): a provider delivers such
episodes as one. Where the second track would begin an episode with the key of one of the
first's, it begins its care in another care form (a first episode, or care after a return),
or makes its change a day later (a change on the last day of the year is not made).

Everything is drawn with NumPy for all clients of a year at once; the same seed gives the same
frames. BSNs are proef-valid, from the test range while it has enough numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from factlab.errors import ConfigError
from factlab.synth.bsn import draw_bsns
from factlab.synth.config import DRENTHE_MUNICIPALITIES, DRENTHE_POPULATION

__all__ = ["ProgrammeConfig", "ProgrammeTruth", "programme_deliveries", "synth_programme"]

IntArray = npt.NDArray[np.int64]
_EPOCH: Final = date(1970, 1, 1).toordinal()
_CARE_FORMS: Final = ("ambulant", "dagbehandeling", "verblijf", "JB/JR")
_FORM_WEIGHTS: Final = (0.7, 0.08, 0.12, 0.1)
_FORM_TARIFF: Final = (25.0, 95.0, 220.0, 15.0)  # euros per day
_FINANCING: Final = ("ZIN", "PGB")
#: Move kinds as the moves frame names them.
MOVE_KINDS: Final = ("municipality", "financing", "provider")


@dataclass(frozen=True)
class ProgrammeConfig:
    """What the programme generator makes.

    Attributes:
        first_year, last_year: the programme's years.
        clients: clients in care at the start of the first year.
        providers: number of providers (codes ``P01``…).
        second_track: share of clients with care at a second provider at the same time.
        leave: yearly probability of leaving care under 18; ``leave_adult`` from 18 on.
        move, pgb_to_zin, switch: yearly probabilities of a municipality move, of PGB → ZIN
            (for a client on PGB), of a provider switch.
        reentry: yearly probability that a client who left comes back.
        pgb_share: share of new care financed by PGB.
    """

    first_year: int = 2021
    last_year: int = 2025
    clients: int = 2_000
    providers: int = 8
    second_track: float = 0.35
    leave: float = 0.35
    leave_adult: float = 0.7
    move: float = 0.05
    pgb_to_zin: float = 0.15
    switch: float = 0.05
    reentry: float = 0.08
    pgb_share: float = 0.15

    def __post_init__(self) -> None:
        problems = []
        if not 1900 <= self.first_year <= self.last_year <= 2200:
            problems.append("first_year, last_year: years in order, from 1900 to 2200")
        if self.clients < 1 or self.providers < 2:
            problems.append("clients: at least 1; providers: at least 2")
        for name in (
            "second_track",
            "leave",
            "leave_adult",
            "move",
            "pgb_to_zin",
            "switch",
            "reentry",
            "pgb_share",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name}: a share from 0 to 1")
        if problems:
            raise ConfigError("programme", problems)


@dataclass(frozen=True)
class ProgrammeTruth:
    """What the generator made.

    Attributes:
        episodes: one row per episode: ``client`` (an index), ``bsn`` (text), ``track``,
            ``provider``, ``care_form``, ``financing``, ``municipality``, ``birth_year``,
            ``start_date``, ``end_date`` (null: ongoing at the programme's end), ``tariff``
            (euros per day).
        moves: one row per change the generator made: ``client``, ``track``, ``day``, ``kind``
            (``municipality``, ``financing``, ``provider``), ``from_value``, ``to_value``.
        config: the configuration.
    """

    episodes: pl.DataFrame
    moves: pl.DataFrame
    config: ProgrammeConfig


def _day(year: int, month: int = 1, day_of_month: int = 1) -> int:
    return date(year, month, day_of_month).toordinal() - _EPOCH


_KEY: Final = ("client", "provider", "form", "financing", "start")


def _taken(
    taken: pl.DataFrame | None,
    who: npt.NDArray[np.bool_],
    values: tuple[IntArray, IntArray, IntArray, IntArray],
) -> npt.NDArray[np.bool_]:
    """Which of the clients ``who`` would begin a segment with the key of a segment in
    ``taken`` (columns ``_KEY``), given their provider, form, financing and start."""
    hit = np.zeros(len(who), dtype=bool)
    index = np.flatnonzero(who)
    if taken is None or len(index) == 0:
        return hit
    candidates = pl.DataFrame(
        {
            "client": index,
            **{name: value[index] for name, value in zip(_KEY[1:], values, strict=True)},
        },
        schema=dict.fromkeys(_KEY, pl.Int64),
    )
    found = candidates.join(taken, on=list(_KEY), how="semi")["client"].to_numpy()
    hit[found] = True
    return hit


def _simulate_track(
    config: ProgrammeConfig,
    rng: np.random.Generator,
    pool: int,
    active: npt.NDArray[np.bool_],
    births: IntArray,
    homes: IntArray,
    taken: pl.DataFrame | None = None,
) -> tuple[dict[str, IntArray], dict[str, IntArray]]:
    """Segments (client, provider, form, financing, municipality, start, end) and moves of one
    track over the programme's years, for clients ``0..pool``; none with the key (``_KEY``) of
    a segment in ``taken`` (the other track's)."""
    weights = np.array(DRENTHE_POPULATION) / sum(DRENTHE_POPULATION)
    provider = rng.integers(0, config.providers, pool)
    form = rng.choice(len(_CARE_FORMS), pool, p=_FORM_WEIGHTS)
    financing = (rng.random(pool) < config.pgb_share).astype(np.int64)
    municipality = homes.copy()
    first = _day(config.first_year)
    start = np.where(active, first - rng.integers(0, 700, pool), 0)
    # a first episode with the other track's key is care in another form
    form = np.where(
        _taken(taken, active, (provider, form, financing, start)),
        (form + 1) % len(_CARE_FORMS),
        form,
    )
    ever = active.copy()
    segments: dict[str, list[IntArray]] = {
        name: []
        for name in ("client", "provider", "form", "financing", "municipality", "start", "end")
    }
    moves: dict[str, list[IntArray]] = {
        name: [] for name in ("client", "day", "kind", "from", "to")
    }

    def close(who: npt.NDArray[np.bool_], end: IntArray) -> None:
        index = np.flatnonzero(who)
        for name, values in (
            ("client", index),
            ("provider", provider[index]),
            ("form", form[index]),
            ("financing", financing[index]),
            ("municipality", municipality[index]),
            ("start", start[index]),
            ("end", end[index]),
        ):
            segments[name].append(np.asarray(values, dtype=np.int64))

    def moved(
        who: npt.NDArray[np.bool_], day: IntArray, kind: int, before: IntArray, after: IntArray
    ) -> None:
        index = np.flatnonzero(who)
        for name, values in (
            ("client", index),
            ("day", day[index]),
            ("kind", np.full(len(index), kind)),
            ("from", before[index]),
            ("to", after[index]),
        ):
            moves[name].append(np.asarray(values, dtype=np.int64))

    for year in range(config.first_year, config.last_year + 1):
        year_start, year_end = _day(year), _day(year, 12, 31)
        # the other track's segments that begin this year: the only ones a segment begun this
        # year can share a key with (a smaller table to look up, year by year)
        began = pl.col("start").is_between(year_start, year_end)
        taken_now = None if taken is None else taken.filter(began)
        day = rng.integers(year_start + 1, year_end + 1, pool)
        adult = (year - births) >= 18
        leaving = active & (rng.random(pool) < np.where(adult, config.leave_adult, config.leave))
        # an episode that started this year ends after it started
        day = np.maximum(day, start + 1)
        leaving &= day <= year_end
        close(leaving, day)
        active &= ~leaving
        event = rng.random(pool)
        staying = active & (day <= year_end)
        move = staying & (event < config.move)
        to_zin = staying & ~move & (financing == 1) & (event < config.move + config.pgb_to_zin)
        switch = staying & ~move & ~to_zin & (event > 1 - config.switch)
        changed = move | to_zin | switch
        new_home = (municipality + rng.integers(1, len(DRENTHE_MUNICIPALITIES), pool)) % len(
            DRENTHE_MUNICIPALITIES
        )
        new_provider = (provider + rng.integers(1, config.providers, pool)) % config.providers
        after = (
            np.where(switch, new_provider, provider),
            form,
            np.where(to_zin, 0, financing),
        )
        # a change that would begin an episode with the other track's key is made a day later
        # (the other track begins at most one episode of the client a day)
        clash = _taken(taken_now, changed, (*after, day))
        while clash.any():
            day = np.where(clash, day + 1, day)
            late = clash & (day > year_end)
            move, to_zin, switch, changed = (
                each & ~late for each in (move, to_zin, switch, changed)
            )
            clash = _taken(taken_now, clash & ~late, (*after, day))
        close(changed, day - 1)
        moved(move, day, 0, municipality, new_home)
        moved(to_zin, day, 1, financing, np.zeros(pool, dtype=np.int64))
        moved(switch, day, 2, provider, new_provider)
        municipality = np.where(move, new_home, municipality)
        financing = np.where(to_zin, 0, financing)
        provider = np.where(switch, new_provider, provider)
        start = np.where(changed, day, start)
        # who enters: some who left come back, then new clients for about those who left
        returning = ~active & ever & ~leaving & (rng.random(pool) < config.reentry)
        fresh_needed = max(int(leaving.sum()) - int(returning.sum()), 0)
        unused = np.flatnonzero(~ever)[:fresh_needed]
        fresh = np.zeros(pool, dtype=bool)
        fresh[unused] = True
        entering = returning | fresh
        entry = rng.integers(year_start, year_end + 1, pool)
        start = np.where(entering, entry, start)
        provider = np.where(entering, rng.integers(0, config.providers, pool), provider)
        form = np.where(entering, rng.choice(len(_CARE_FORMS), pool, p=_FORM_WEIGHTS), form)
        financing = np.where(
            entering, (rng.random(pool) < config.pgb_share).astype(np.int64), financing
        )
        clash = _taken(taken_now, entering, (provider, form, financing, start))
        form = np.where(clash, (form + 1) % len(_CARE_FORMS), form)
        municipality = np.where(
            fresh, rng.choice(len(DRENTHE_MUNICIPALITIES), pool, p=weights), municipality
        )
        active |= entering
        ever |= entering
    close(active, np.full(pool, -1))  # ongoing at the programme's end
    joined = {
        name: np.concatenate(parts) if parts else np.empty(0, np.int64)
        for name, parts in segments.items()
    }
    joined_moves = {
        name: np.concatenate(parts) if parts else np.empty(0, np.int64)
        for name, parts in moves.items()
    }
    return joined, joined_moves


def synth_programme(config: ProgrammeConfig | None = None, *, seed: int = 0) -> ProgrammeTruth:
    """Simulate a programme: its episodes and the moves made (see the module).

    Example:
        >>> truth = synth_programme(ProgrammeConfig(clients=200, providers=3), seed=1)
        >>> sorted(truth.moves["kind"].unique().to_list())
        ['financing', 'municipality', 'provider']
        >>> truth.episodes["end_date"].is_null().any()  # some care still goes on
        True
    """
    config = config or ProgrammeConfig()
    rng = np.random.default_rng(seed)
    years = config.last_year - config.first_year + 1
    pool = int(config.clients * (1 + years * (config.leave_adult + 0.1))) + 16
    births = config.first_year - rng.integers(0, 18, pool)
    homes = rng.choice(
        len(DRENTHE_MUNICIPALITIES),
        pool,
        p=np.array(DRENTHE_POPULATION) / sum(DRENTHE_POPULATION),
    )
    in_care = np.zeros(pool, dtype=bool)
    in_care[: config.clients] = True
    tracks: list[pl.DataFrame] = []
    track_moves = []
    for track in (0, 1):
        active = in_care if track == 0 else in_care & (rng.random(pool) < config.second_track)
        taken = tracks[0].select(_KEY) if tracks else None
        made, changes = _simulate_track(config, rng, pool, active.copy(), births, homes, taken)
        tracks.append(pl.DataFrame(made).with_columns(pl.lit(track).alias("track")))
        track_moves.append(pl.DataFrame(changes).with_columns(pl.lit(track).alias("track")))
    segments_frame = pl.concat(tracks)
    used = np.unique(segments_frame["client"].to_numpy())
    bsns = np.zeros(pool, dtype=np.int64)
    bsns[used] = draw_bsns(len(used), rng)
    codes = [f"P{index + 1:02d}" for index in range(config.providers)]
    episodes = _episodes(segments_frame, births, bsns, codes)
    return ProgrammeTruth(episodes, _moves(pl.concat(track_moves), codes), config)


def _text(column: str, values: tuple[str, ...] | list[str]) -> pl.Expr:
    return pl.col(column).replace_strict(dict(enumerate(values)), return_dtype=pl.String)


def _episodes(
    segments: pl.DataFrame, births: IntArray, bsns: IntArray, codes: list[str]
) -> pl.DataFrame:
    """Segments as episodes with their text values. Every segment is an episode: a change of
    municipality, financing or provider ends one (a row has one of each), and one that starts
    again after leaving care is a new one."""
    ordered = segments.sort("client", "track", "start")
    end = pl.when(pl.col("end") < 0).then(None).otherwise(pl.col("end"))
    return ordered.select(
        pl.col("client"),
        pl.Series("bsn", bsns[ordered["client"].to_numpy()]).cast(pl.String).str.zfill(9),
        pl.col("track"),
        _text("provider", codes).alias("provider"),
        _text("form", list(_CARE_FORMS)).alias("care_form"),
        _text("financing", list(_FINANCING)).alias("financing"),
        _text("municipality", list(DRENTHE_MUNICIPALITIES)).alias("municipality"),
        pl.Series("birth_year", births[ordered["client"].to_numpy()]).cast(pl.Int16),
        pl.col("start").cast(pl.Int32).cast(pl.Date).alias("start_date"),
        end.cast(pl.Int32).cast(pl.Date).alias("end_date"),
        pl.col("form")
        .replace_strict(dict(enumerate(_FORM_TARIFF)), return_dtype=pl.Float64)
        .alias("tariff"),
    ).filter(pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col("start_date")))


def _moves(moves: pl.DataFrame, codes: list[str]) -> pl.DataFrame:
    kind = pl.col("kind").replace_strict(dict(enumerate(MOVE_KINDS)), return_dtype=pl.String)
    municipalities = dict(enumerate(DRENTHE_MUNICIPALITIES))
    financing = dict(enumerate(_FINANCING))
    providers = dict(enumerate(codes))

    def named(column: str) -> pl.Expr:
        return (
            pl.when(pl.col("kind") == 0)
            .then(pl.col(column).replace_strict(municipalities, return_dtype=pl.String))
            .when(pl.col("kind") == 1)
            .then(pl.col(column).replace_strict(financing, return_dtype=pl.String))
            .otherwise(pl.col(column).replace_strict(providers, return_dtype=pl.String))
        )

    return moves.select(
        "client",
        "track",
        pl.col("day").cast(pl.Int32).cast(pl.Date),
        kind.alias("kind"),
        named("from").alias("from_value"),
        named("to").alias("to_value"),
    ).sort("client", "day")


def programme_deliveries(truth: ProgrammeTruth, first: date, last: date) -> pl.DataFrame:
    """The rows providers deliver for the period ``first``..``last``: every episode in care then,
    as known at its end (a later end is not known yet: the episode is ongoing), with the cost
    of its days in the period (tariff × days), and the client's BSN.

    Example:
        >>> truth = synth_programme(ProgrammeConfig(clients=50, providers=2), seed=3)
        >>> rows = programme_deliveries(truth, date(2022, 1, 1), date(2022, 12, 31))
        >>> bool((rows["start_date"] <= date(2022, 12, 31)).all())
        True
    """
    start, end = pl.col("start_date"), pl.col("end_date")
    active = (start <= last) & (end.is_null() | (end >= first))
    begin = pl.max_horizontal(start, pl.lit(first))
    finish = pl.min_horizontal(end.fill_null(pl.lit(last)), pl.lit(last))
    return truth.episodes.filter(active).select(
        "bsn",
        "provider",
        "care_form",
        "financing",
        "municipality",
        "birth_year",
        "start_date",
        pl.when(end > last).then(None).otherwise(end).alias("end_date"),
        (pl.col("tariff") * ((finish - begin).dt.total_days() + 1)).alias("cost"),
    )
