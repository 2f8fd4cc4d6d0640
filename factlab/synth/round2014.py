"""The February 2014 round of the Drenthe factlab, rebuilt as eleven synthetic provider exports.

The round counted youths in care on the reference date 1 January 2013 by care form and financing
stream (DOMAIN.md §1). :func:`round_2014` writes exports from which, after pseudonymisation,
linking and counting the distinct clients per care form × financing among the episodes active on
:data:`REFERENCE_DATE_2014` (start on or before it, end on or after it or open), every cell of
the published table comes out exactly, the cells sum to 11,245, and there are 8,241 distinct
clients in all.

What makes it a test and not a copy of the table:

* clients are in several cells (11,245 − 8,241 = 3,004 extra cell memberships) and at several
  providers, and some are in the same cell at two providers, which must not add to that cell;
* some clients have two overlapping episodes in one cell at one provider;
* rows outside the reference date (ended on 31 December 2012 or before, or starting on
  2 January 2013 or later) exist for counted clients, in cells they are not counted in, and for
  120 persons who are not in care on the reference date at all: counting without the date
  filter gives too much. Active rows include episodes that start or end on the reference date;
* the exports differ in file format, delimiter, encoding, column names, date and number formats
  and the written form of the BSN, but every BSN is valid.

BSNs come from the test range (999900000–999999999, elfproef-valid).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from factlab.errors import DataError
from factlab.synth.bsn import bsns_in_test_range, render_rows
from factlab.synth.config import (
    DRENTHE_MUNICIPALITIES,
    DRENTHE_POPULATION,
    OUT_OF_REGION_MUNICIPALITIES,
    Messiness,
)
from factlab.synth.write import ExportForm, ProviderExport, SynthResult, write_exports

__all__ = [
    "CELLS_2014",
    "REFERENCE_DATE_2014",
    "UNIQUE_CLIENTS_2014",
    "expected_2014",
    "round_2014",
    "round_2014_frame",
]

IntArray = npt.NDArray[np.int64]

#: The reference date (peildatum) of the 2014 round: youths in care on this day were counted.
REFERENCE_DATE_2014: Final = date(2013, 1, 1)
#: Distinct clients over all cells.
UNIQUE_CLIENTS_2014: Final = 8241
#: The published table: care form, financing stream, distinct clients in the cell.
CELLS_2014: Final[tuple[tuple[str, str, int], ...]] = (
    ("ambulant", "Begroting", 2986),
    ("ambulant", "ZVW", 5280),
    ("ambulant", "AWBZ", 473),
    ("dagbehandeling", "Begroting", 150),
    ("dagbehandeling", "ZVW", 2),
    ("dagbehandeling", "AWBZ", 334),
    ("verblijf", "Begroting", 601),
    ("verblijf", "ZVW", 129),
    ("verblijf", "AWBZ", 308),
    ("JB/JR", "Begroting", 982),
)

# Clients in 1, 2, 3 and 4 cells: 5,507 + 2,484 + 230 + 20 = 8,241 clients and
# 5,507 + 2·2,484 + 3·230 + 4·20 = 11,245 cell memberships.
_CELLS_PER_CLIENT: Final = (5507, 2484, 230, 20)
# Persons with only episodes outside the reference date.
_INACTIVE_PERSONS: Final = 120
_INACTIVE_BEFORE: Final = 400  # extra rows of counted clients, ended before the reference date
_INACTIVE_AFTER: Final = 300  # extra rows of counted clients, started after it
_SAME_CELL_TWICE: Final = 0.05  # share of memberships also delivered by a second provider
_OVERLAPPING: Final = 0.03  # share of memberships with a second, overlapping active episode

# Providers: the cells each delivers, with weights for how many of a cell's clients it has.
_PROVIDERS: Final[tuple[dict[int, float], ...]] = (
    {0: 5, 3: 3, 6: 4},  # P01 provincial youth care, large
    {0: 3, 3: 1, 6: 2},  # P02 provincial youth care
    {9: 4},  # P03 youth protection (gecertificeerde instelling)
    {9: 1, 0: 1},  # P04 youth probation and ambulant youth care
    {1: 5, 4: 1, 7: 3},  # P05 youth mental health, large
    {1: 3, 7: 1},  # P06 youth mental health
    {1: 2},  # P07 mental health practice
    {2: 3, 5: 3, 8: 3},  # P08 intellectual disability, large
    {2: 1, 8: 1, 6: 1},  # P09 intellectual disability, with provincial residential care
    {3: 1, 5: 1, 0: 1},  # P10 day treatment centre
    {1: 1, 2: 1},  # P11 mental health and disability
)
_DOMAIN_BY_FINANCING: Final = {"Begroting": "jeugdhulp", "ZVW": "ggz", "AWBZ": "lvb"}
_TARIFF_BY_CARE_FORM: Final = {"ambulant": 25.0, "dagbehandeling": 95.0, "verblijf": 220.0}

# Every export is readable without a mapping, and each provider writes differently.
_FORMS: Final = (
    ExportForm(
        file_format="csv",
        delimiter=";",
        encoding="cp1252",
        names="dutch",
        date_format="%d-%m-%Y",
        decimal_comma=True,
        thousands=True,
        bsn_style="dots",
    ),
    ExportForm(file_format="csv", delimiter=",", encoding="utf-8-sig", names="english"),
    ExportForm(file_format="xlsx", names="dutch", bsn_as_number=True),
    ExportForm(file_format="parquet"),
    ExportForm(
        file_format="csv",
        delimiter=";",
        names="dutch_alt",
        date_format="%d/%m/%Y",
        decimal_comma=True,
        bsn_style="spaces",
    ),
    ExportForm(file_format="xlsx", names="english", bsn_style="hyphens", sex_codes=("m", "f", "X")),
    ExportForm(file_format="csv", encoding="cp1252", date_format="%Y%m%d", bsn_as_number=True),
    ExportForm(
        file_format="csv",
        delimiter=";",
        encoding="utf-8-sig",
        names="dutch",
        date_format="%d-%m-%Y",
        decimal_comma=True,
        birth="year",
    ),
    ExportForm(file_format="parquet", names="dutch", bsn_as_number=True),
    ExportForm(file_format="xlsx", names="dutch_alt", sex_codes=("man", "vrouw", "X")),
    ExportForm(
        file_format="csv",
        delimiter=";",
        encoding="cp1252",
        names="dutch",
        decimal_comma=True,
        thousands=True,
    ),
)
_CODES: Final = tuple(f"P{index:02d}" for index in range(1, len(_PROVIDERS) + 1))
_EPOCH: Final = date(1970, 1, 1)


def _day(when: date) -> int:
    return (when - _EPOCH).days


def expected_2014() -> pl.DataFrame:
    """The published table: one row per cell, ``care_form``, ``financing``, ``unique_clients``.

    Example:
        >>> table = expected_2014()
        >>> table["unique_clients"].sum(), table.height
        (11245, 10)
    """
    return pl.DataFrame(
        {
            "care_form": [cell[0] for cell in CELLS_2014],
            "financing": [cell[1] for cell in CELLS_2014],
            "unique_clients": [cell[2] for cell in CELLS_2014],
        },
        schema={"care_form": pl.String, "financing": pl.String, "unique_clients": pl.Int64},
    )


def _memberships(rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """(client, cell) pairs: every cell holds its published number of distinct clients."""
    sizes = np.repeat(np.arange(1, len(_CELLS_PER_CLIENT) + 1), _CELLS_PER_CLIENT)
    client = np.repeat(rng.permutation(UNIQUE_CLIENTS_2014), sizes)
    cell = rng.permutation(np.repeat(np.arange(len(CELLS_2014)), [c[2] for c in CELLS_2014]))
    # Swap the cell of every membership that repeats a cell of its client with a random other
    # membership until no client is twice in a cell; a swap keeps every cell's size.
    for _ in range(1000):
        key = client * len(CELLS_2014) + cell
        order = np.argsort(key, kind="stable")
        repeats = order[1:][np.diff(key[order]) == 0]
        if len(repeats) == 0:
            return client, cell
        others = np.setdiff1d(np.arange(len(cell)), repeats)
        partners = rng.choice(others, size=len(repeats), replace=False)
        cell[repeats], cell[partners] = cell[partners], cell[repeats].copy()
    raise DataError("round 2014: could not spread the clients over the cells; try another seed")


def _providers_for(cell: IntArray, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """A provider per membership, and for some a second provider in the same cell."""
    first = np.zeros(len(cell), dtype=np.int64)
    second = np.full(len(cell), -1, dtype=np.int64)
    twice = rng.random(len(cell)) < _SAME_CELL_TWICE
    for index in range(len(CELLS_2014)):
        offering = np.array([p for p, cells in enumerate(_PROVIDERS) if index in cells])
        weights = np.array([_PROVIDERS[p][index] for p in offering], dtype=np.float64)
        rows = np.flatnonzero(cell == index)
        picked = rng.choice(len(offering), size=len(rows), p=weights / weights.sum())
        first[rows] = offering[picked]
        if len(offering) > 1:
            shift = rng.integers(1, len(offering), size=len(rows))
            again = rows[twice[rows]]
            second[again] = offering[(picked + shift)[twice[rows]] % len(offering)]
    return first, second


def _cells_offered(rng: np.random.Generator, size: int) -> tuple[IntArray, IntArray]:
    """Random (provider, cell) combinations that exist, for rows outside the reference date."""
    offered = np.array([(p, c) for p, cells in enumerate(_PROVIDERS) for c in cells])
    picked = offered[rng.integers(0, len(offered), size=size)]
    return picked[:, 0].astype(np.int64), picked[:, 1].astype(np.int64)


def _rows(rng: np.random.Generator) -> pl.DataFrame:
    """Every delivered row: provider index, person, cell, start and end day (-1: open)."""
    reference = _day(REFERENCE_DATE_2014)
    client, cell = _memberships(rng)
    first, second = _providers_for(cell, rng)
    doubled = second >= 0
    active_client = np.concatenate([client, client[doubled]])
    active_cell = np.concatenate([cell, cell[doubled]])
    active_provider = np.concatenate([first, second[doubled]])

    count = len(active_client)
    start = rng.integers(_day(date(2009, 1, 1)), reference + 1, size=count)
    end = np.where(
        rng.random(count) < 0.4, -1, rng.integers(reference, _day(date(2014, 1, 1)), size=count)
    )
    # Episodes that start or end exactly on the reference date still count.
    edge = rng.random(count)
    start[edge < 0.01] = reference
    end[(edge >= 0.01) & (edge < 0.02)] = reference
    # A second episode at the same provider in the same cell, overlapping the first.
    again = np.flatnonzero(rng.random(count) < _OVERLAPPING)
    later_start = start[again] + (rng.random(len(again)) * (reference - start[again])).astype(int)

    extra_before_client = rng.integers(0, UNIQUE_CLIENTS_2014, size=_INACTIVE_BEFORE)
    extra_after_client = rng.integers(0, UNIQUE_CLIENTS_2014, size=_INACTIVE_AFTER)
    newcomers = UNIQUE_CLIENTS_2014 + np.arange(_INACTIVE_PERSONS)
    before_client = np.concatenate([extra_before_client, newcomers[::2]])
    after_client = np.concatenate([extra_after_client, newcomers[1::2]])
    before_provider, before_cell = _cells_offered(rng, len(before_client))
    after_provider, after_cell = _cells_offered(rng, len(after_client))
    before_end = rng.integers(_day(date(2011, 1, 1)), reference, size=len(before_client))
    before_end[: _INACTIVE_BEFORE // 10] = reference - 1  # ended the day before
    before_start = before_end - rng.integers(0, 700, size=len(before_client))
    after_start = rng.integers(reference + 1, _day(date(2014, 1, 1)), size=len(after_client))
    after_start[: _INACTIVE_AFTER // 10] = reference + 1  # started the day after
    after_end = np.where(rng.random(len(after_client)) < 0.5, -1, after_start + 60)

    return pl.DataFrame(
        {
            "provider": np.concatenate(
                [active_provider, active_provider[again], before_provider, after_provider]
            ),
            "person": np.concatenate(
                [active_client, active_client[again], before_client, after_client]
            ),
            "cell": np.concatenate([active_cell, active_cell[again], before_cell, after_cell]),
            "start": np.concatenate([start, later_start, before_start, after_start]),
            "end": np.concatenate([end, end[again], before_end, after_end]),
        }
    )


def _people(rng: np.random.Generator, persons: int) -> pl.DataFrame:
    """Per person: BSN, birth day, sex, home municipality, and one to move to."""
    reference = _day(REFERENCE_DATE_2014)
    weights = np.array(DRENTHE_POPULATION)
    home = rng.choice(len(DRENTHE_MUNICIPALITIES), size=persons, p=weights / weights.sum())
    away = rng.random(persons) < 0.01
    home = np.where(
        away, len(DRENTHE_MUNICIPALITIES) + rng.integers(0, 3, size=persons), home
    ).astype(np.int64)
    moved_to = rng.integers(0, len(DRENTHE_MUNICIPALITIES), size=persons)
    names = pl.Series([*DRENTHE_MUNICIPALITIES, *OUT_OF_REGION_MUNICIPALITIES])
    return pl.DataFrame(
        {
            "person": np.arange(persons),
            "bsn": rng.permutation(bsns_in_test_range())[:persons],
            "birth": reference - 1 - rng.integers(0, 18 * 365, size=persons),
            "sex": rng.choice(3, size=persons, p=[0.52, 0.47, 0.01]),
            "home": home,
            "moved_to": moved_to,
            "mover": rng.random(persons) < 0.03,
        }
    ).with_columns(
        pl.lit(pl.Series(["M", "V", None], dtype=pl.String)).gather(pl.col("sex")).alias("sex"),
        pl.lit(names).gather(pl.col("home")).alias("home"),
        pl.lit(names).gather(pl.col("moved_to")).alias("moved_to"),
    )


def _frame(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = _rows(rng)
    people = _people(rng, UNIQUE_CLIENTS_2014 + _INACTIVE_PERSONS)
    cells = pl.DataFrame(
        {
            "cell": np.arange(len(CELLS_2014)),
            "care_form": [cell[0] for cell in CELLS_2014],
            "financing": [cell[1] for cell in CELLS_2014],
        }
    )
    order = rng.permutation(rows.height)
    noise = rng.lognormal(0.0, 0.25, size=rows.height)
    moves = rng.random(rows.height) < 0.5
    year_end = _day(date(2013, 12, 31))
    reference = _day(REFERENCE_DATE_2014)
    tariffs = pl.col("care_form").replace_strict(_TARIFF_BY_CARE_FORM, default=15.0)
    frame = (
        rows.with_columns(
            pl.Series("_order", order), pl.Series("_noise", noise), pl.Series("_moves", moves)
        )
        .join(people, on="person", how="left")
        .join(cells, on="cell", how="left")
        # Nobody is in care before birth; an episode never ends before it starts.
        .with_columns(pl.max_horizontal("start", "birth").alias("start"))
        .with_columns(
            pl.when(pl.col("end") >= 0).then(pl.max_horizontal("end", "start")).alias("end")
        )
        .sort("provider", "_order")
    )
    # The cost of care in 2013 (of the whole episode for one that ended before 2013).
    until = pl.min_horizontal(pl.col("end").fill_null(year_end), year_end)
    billed = (
        pl.when(until >= reference)
        .then(until - pl.max_horizontal("start", reference))
        .otherwise(until - pl.col("start"))
    ) + 1
    justice = pl.when(pl.col("provider") == 3).then(pl.lit("jeugdreclassering"))
    return frame.select(
        "provider",
        "person",
        "bsn",
        pl.col("birth").cast(pl.Int32).cast(pl.Date).alias("birth_date"),
        "sex",
        pl.when(pl.col("mover") & pl.col("_moves"))
        .then(pl.col("moved_to"))
        .otherwise(pl.col("home"))
        .alias("municipality"),
        pl.when(pl.col("care_form") == "JB/JR")
        .then(justice.otherwise(pl.lit("jeugdbescherming")))
        .otherwise(pl.col("financing").replace_strict(_DOMAIN_BY_FINANCING))
        .alias("domain"),
        "financing",
        "care_form",
        pl.col("start").cast(pl.Int32).cast(pl.Date).alias("start_date"),
        pl.col("end").cast(pl.Int32).cast(pl.Date).alias("end_date"),
        (tariffs * billed * pl.col("_noise")).round(2).alias("cost"),
    )


def round_2014_frame(*, seed: int = 2014) -> pl.DataFrame:
    """The rows :func:`round_2014` writes, shaped like :func:`factlab.synth.draw.synth_frame`.

    Example:
        >>> rows = round_2014_frame()
        >>> rows["provider"].n_unique(), rows["bsn_status"].unique().to_list()
        (11, ['valid'])
    """
    rng = np.random.default_rng([seed, 1])
    return render_rows(_frame(seed), _FORMS, _CODES, Messiness(), rng)


def round_2014(
    outdir: str | Path,
    *,
    seed: int = 2014,
    on_file: Callable[[ProviderExport], None] | None = None,
) -> SynthResult:
    """Write the eleven provider exports of the February 2014 round into ``outdir``.

    Counting distinct clients per care form × financing among the episodes active on
    :data:`REFERENCE_DATE_2014` gives :func:`expected_2014` for every seed; the seed only
    changes which synthetic client is where. The same seed gives the same bytes.

    Example:
        >>> import tempfile
        >>> result = round_2014(tempfile.mkdtemp())
        >>> len(result.exports), result.truth.rows_by_status["valid"] == result.truth.rows
        (11, True)
    """
    return write_exports(round_2014_frame(seed=seed), _FORMS, outdir, seed=seed, on_file=on_file)
