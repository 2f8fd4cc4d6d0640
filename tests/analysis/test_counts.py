"""Tests of factlab.analysis.counts and the ``factlab count`` command (synthetic data only).

Most figures are checked against an oracle: the same counting rules written as plain Python set
computations over the rows, applied to seeded synthetic data with known overlaps.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factlab.cli.trusted  # noqa: F401  (registers the commands on factlab.cli.main)
from factlab import schema
from factlab.analysis.count_files import count_output_format, write_counts
from factlab.analysis.counts import NOTE, CountResult, count
from factlab.analysis.link import link
from factlab.cli import main
from factlab.errors import ConfigError, DataError, InputError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import Period, parse_period

# --------------------------------------------------------------------------- synthetic rows


@dataclass(frozen=True)
class Row:
    """One registration; ``person`` is the true person (known to the test, not to factlab)."""

    person: int
    provider: str
    status: str = "valid"
    care_form: str | None = "ambulant"
    financing: str | None = "ZIN"
    municipality: str | None = "Assen"
    sex: str | None = "V"
    birth_year: int | None = 2012
    start: date | None = date(2025, 1, 1)
    end: date | None = None

    @property
    def pseudonym(self) -> str | None:
        if self.status != "valid":
            return None
        return hashlib.sha256(f"synthetic-person-{self.person}".encode()).hexdigest()[:32]


def frame_of(rows: list[Row]) -> pl.DataFrame:
    """Linked rows as factlab stores them."""
    return pl.DataFrame(
        {
            "provider": [row.provider for row in rows],
            "pseudonym": [row.pseudonym for row in rows],
            "bsn_status": pl.Series([row.status for row in rows], dtype=schema.STATUS_DTYPE),
            "birth_year": pl.Series([row.birth_year for row in rows], dtype=pl.Int16),
            "sex": pl.Series([row.sex for row in rows], dtype=pl.String),
            "municipality": pl.Series([row.municipality for row in rows], dtype=pl.String),
            "financing": pl.Series([row.financing for row in rows], dtype=pl.String),
            "care_form": pl.Series([row.care_form for row in rows], dtype=pl.String),
            "start_date": pl.Series([row.start for row in rows], dtype=pl.Date),
            "end_date": pl.Series([row.end for row in rows], dtype=pl.Date),
        }
    )


PROVIDERS = ("A", "B", "C", "D")
CARE_FORMS = ("ambulant", "dagbehandeling", "verblijf", None)
FINANCING = ("ZIN", "PGB", None)
MUNICIPALITIES = ("Assen", "Emmen", "Meppel", None)
NOT_VALID = ("missing", "sentinel", "checksum", "bad_length", "non_digit")


def synthetic_rows(seed: int, people: int = 120) -> list[Row]:
    """Seeded rows with overlapping, touching and separate episodes, moves and missing BSNs."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for person in range(people):
        birth_year = rng.choice([None, *range(1998, 2025)])
        sex = rng.choice(["M", "V", "X", None])
        for _ in range(rng.randint(1, 4)):
            start = date(2024, 1, 1) + timedelta(days=rng.randint(0, 900))
            kind = rng.random()
            end = None if kind < 0.25 else start + timedelta(days=rng.randint(0, 200))
            row = Row(
                person=person,
                provider=rng.choice(PROVIDERS),
                status=rng.choice(NOT_VALID) if rng.random() < 0.1 else "valid",
                care_form=rng.choice(CARE_FORMS),
                financing=rng.choice(FINANCING),
                municipality=rng.choice(MUNICIPALITIES),
                sex=sex,
                birth_year=birth_year,
                start=None if rng.random() < 0.05 else start,
                end=end,
            )
            rows.append(row)
            if rng.random() < 0.3 and row.end is not None and row.start is not None:
                # A follow-up episode of the same care: touching, overlapping or after a gap.
                gap = rng.choice([-10, 0, 1, 2, 30])
                follow_start = row.end + timedelta(days=gap)
                rows.append(replace(row, start=follow_start, end=None))
    return rows


# --------------------------------------------------------------------------- the oracle

LOW, HIGH = -(10**9), 10**9


def _start(row: Row) -> int:
    return row.start.toordinal() if row.start else LOW


def _end(row: Row) -> int:
    """An end before the start counts as the start day (a one-day episode)."""
    if row.end is None:
        return HIGH
    return max(row.end.toordinal(), _start(row))


def active(row: Row, period: Period | None) -> bool:
    if period is None:
        return True
    return _start(row) <= period.end.toordinal() and _end(row) >= period.start.toordinal()


def age_group(birth_year: int | None, on: date) -> str:
    if birth_year is None or on.year - birth_year < 0:
        return "unknown"
    age = on.year - birth_year
    for highest, label in ((3, "0-3"), (11, "4-11"), (17, "12-17"), (22, "18-22")):
        if age <= highest:
            return label
    return "23+"


def trajectory_ids(rows: list[Row]) -> list[Any]:
    """Merge touching or overlapping episodes per (person, provider, care form), row by row."""
    ids: list[Any] = [None] * len(rows)
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        if row.status == "valid":
            groups[(row.pseudonym, row.provider, row.care_form)].append(index)
        else:
            ids[index] = ("row", index)
    for key, indices in groups.items():
        indices.sort(key=lambda i: (_start(rows[i]), _end(rows[i])))
        number, reach = 0, None
        for index in indices:
            if reach is None or _start(rows[index]) > reach + 1:
                number, reach = number + 1, _end(rows[index])
            else:
                reach = max(reach, _end(rows[index]))
            ids[index] = (key, number)
    return ids


def dimension_value(row: Row, dim: str, on: date | None, moved_to: dict[str, str | None]) -> str:
    if dim == "age_group":
        assert on is not None
        return age_group(row.birth_year, on)
    if dim == "municipality" and row.pseudonym is not None:
        value: Any = moved_to[row.pseudonym]
    else:
        value = getattr(row, dim)
    return "unknown" if value is None else str(value)


def oracle(
    rows: list[Row], dims: tuple[str, ...], period: Period | None = None
) -> dict[tuple[str | None, ...], dict[str, int]]:
    """Every cell and margin of the table, by plain set computations."""
    counted = [row for row in rows if active(row, period)]
    latest: dict[str, tuple[Any, ...]] = {}
    for row in counted:
        if row.pseudonym is None:
            continue
        key = (row.municipality is not None, _start(row), _end(row), row.municipality or "")
        if row.pseudonym not in latest or key > latest[row.pseudonym]:
            latest[row.pseudonym] = key
    moved_to = {client: (key[3] if key[0] else None) for client, key in latest.items()}
    on = period.end if period else None
    ids = trajectory_ids(counted)
    table: dict[tuple[str | None, ...], dict[str, Any]] = defaultdict(
        lambda: {
            "clients": set(),
            "trajectories": set(),
            "registrations": 0,
            "without": 0,
            "sentinel": 0,
        }
    )
    for row, trajectory in zip(counted, ids, strict=True):
        values = tuple(dimension_value(row, dim, on, moved_to) for dim in dims)
        for size in range(len(dims) + 1):
            for kept in itertools.combinations(range(len(dims)), size):
                cell = tuple(values[i] if i in kept else None for i in range(len(dims)))
                entry = table[cell]
                entry["registrations"] += 1
                entry["trajectories"].add(trajectory)
                if row.pseudonym is None:
                    entry["without"] += 1
                    entry["sentinel"] += row.status == "sentinel"
                else:
                    entry["clients"].add(row.pseudonym)
    finest = {cell: len(entry["clients"]) for cell, entry in table.items() if None not in cell}
    result = {}
    for cell, entry in table.items():
        within = [
            clients
            for full, clients in finest.items()
            if all(part is None or part == value for part, value in zip(cell, full, strict=True))
        ]
        result[cell] = {
            "unique_clients": len(entry["clients"]),
            "unique_clients_upper": len(entry["clients"]) + entry["without"],
            "sum_of_cells": sum(within),
            "registrations": entry["registrations"],
            "trajectories": len(entry["trajectories"]),
            "rows_without_valid_bsn": entry["without"],
            "rows_sentinel": entry["sentinel"],
        }
    return result


def table_as_dict(result: CountResult) -> dict[tuple[str | None, ...], dict[str, int]]:
    measures = [name for name in result.table.columns if name not in result.by]
    return {
        tuple(row[dim] for dim in result.by): {name: row[name] for name in measures}
        for row in result.table.iter_rows(named=True)
    }


# --------------------------------------------------------------------------- oracle tests


@pytest.mark.parametrize(
    ("seed", "dims", "period"),
    [
        (1, (), None),
        (2, ("care_form",), "2025"),
        (3, ("care_form", "financing"), "2025H1"),
        (4, ("municipality",), "2025"),
        (5, ("municipality", "provider", "sex"), "2024Q3"),
        (6, ("age_group", "financing"), "2025H2"),
        (7, ("birth_year",), None),
        (8, ("financing", "municipality", "care_form"), "2024"),
    ],
)
def test_table_matches_oracle(seed: int, dims: tuple[str, ...], period: str | None) -> None:
    rows = synthetic_rows(seed)
    chosen = parse_period(period) if period else None
    result = count(frame_of(rows), by=dims, period=period)
    assert result.by == dims
    assert table_as_dict(result) == oracle(rows, dims, chosen)
    assert result.table.columns == [
        *dims,
        "unique_clients",
        "unique_clients_upper",
        "sum_of_cells",
        "registrations",
        "trajectories",
        "rows_without_valid_bsn",
        "rows_sentinel",
    ]


def test_totals_match_oracle() -> None:
    rows = synthetic_rows(11, people=200)
    period = parse_period("2025")
    counted = [row for row in rows if active(row, period)]
    clients = {row.pseudonym for row in counted if row.pseudonym}
    without = [row for row in counted if row.pseudonym is None]
    providers: dict[str, set[str]] = defaultdict(set)
    for row in counted:
        if row.pseudonym:
            providers[row.pseudonym].add(row.provider)
    distribution: dict[int, int] = defaultdict(int)
    for names in providers.values():
        distribution[len(names)] += 1
    multi = sum(1 for names in providers.values() if len(names) >= 2)

    result = count(frame_of(rows), period="2025")
    assert result.period == period
    assert result.reference_date is None
    assert result.unique_clients == result.unique_clients_lower == len(clients)
    assert result.registrations == len(counted)
    assert result.trajectories == len(set(trajectory_ids(counted)))
    assert result.rows_without_valid_bsn == len(without)
    assert result.unique_clients_upper == len(clients) + len(without)
    assert result.rows_sentinel == sum(row.status == "sentinel" for row in without)
    assert result.clients_multi_provider == multi
    assert result.share_multi_provider == pytest.approx(multi / len(clients))
    assert result.clients_by_provider_count == dict(sorted(distribution.items()))
    assert result.rows_by_status == {
        status: sum(row.status == status for row in counted) for status in schema.STATUSES
    }
    expected_by_provider = {
        provider: {
            status: sum(r.provider == provider and r.status == status for r in counted)
            for status in NOT_VALID_ORDER
        }
        for provider in sorted({row.provider for row in counted})
    }
    assert result.rows_without_valid_bsn_by_provider == expected_by_provider
    assert result.sum_of_cells == result.unique_clients
    assert result.rows_end_before_start == 0


def test_episode_ending_before_it_starts_lasts_its_start_day() -> None:
    rows = [
        Row(1, "A", start=date(2025, 7, 1), end=date(2025, 1, 1)),
        Row(2, "A", start=date(2025, 3, 1), end=date(2025, 3, 1)),
    ]
    frame = frame_of(rows)
    assert count(frame, period="2025H1").unique_clients == 1
    second_half = count(frame, period="2025H2")
    assert second_half.unique_clients == 1
    assert second_half.rows_end_before_start == 1
    assert count(frame, on="2025-07-02").unique_clients == 0


def test_a_dimension_without_any_value_is_counted_as_unknown() -> None:
    # a frame whose care form is missing on every row has dtype Null; it used to stop count with
    # a bare AssertionError in the trajectories
    frame = frame_of([Row(1, "A", start=date(2025, 1, 1)), Row(2, "B", start=date(2025, 2, 1))])
    empty = frame.with_columns(pl.lit(None).alias("care_form"))
    assert empty.schema["care_form"] == pl.Null
    table = count(empty, by=["care_form"], period="2025").table
    rows = dict(table.select("care_form", "unique_clients").iter_rows())
    assert rows == {"unknown": 2, None: 2}


NOT_VALID_ORDER = tuple(status for status in schema.STATUSES if status != "valid")


def test_reference_date_matches_oracle() -> None:
    rows = synthetic_rows(12)
    day = date(2025, 3, 1)
    result = count(frame_of(rows), by=("care_form",), on="2025-03-01")
    assert result.reference_date == day
    assert result.period is None
    assert table_as_dict(result) == oracle(rows, ("care_form",), Period("day", day, day))


def test_known_2014_table() -> None:
    """Cells of the February 2014 round: 11,245 youths in cells, 8,241 unique."""
    cells = {
        ("ambulant", "Begroting"): 2986,
        ("ambulant", "ZVW"): 5280,
        ("ambulant", "AWBZ"): 473,
        ("dagbehandeling", "Begroting"): 150,
        ("dagbehandeling", "ZVW"): 2,
        ("dagbehandeling", "AWBZ"): 334,
        ("verblijf", "Begroting"): 601,
        ("verblijf", "ZVW"): 129,
        ("verblijf", "AWBZ"): 308,
        ("JB/JR", "Begroting"): 982,
    }
    slots = [cell for cell, youths in cells.items() for _ in range(youths)]
    unique = 8241
    # Slot i goes to youth i, and the slots beyond go to youths 0, 1, ... again; no cell has
    # 8,241 slots, so nobody lands twice in one cell.
    rows = [
        Row(
            person=index % unique,
            provider="P",
            care_form=care_form,
            financing=financing,
            start=date(2012, 9, 1),
        )
        for index, (care_form, financing) in enumerate(slots)
    ]
    result = count(frame_of(rows), by=("care_form", "financing"), on="2013-01-01")
    table = table_as_dict(result)
    for (care_form, financing), youths in cells.items():
        assert table[(care_form, financing)]["unique_clients"] == youths
    assert table[(None, None)]["unique_clients"] == result.unique_clients == 8241
    assert table[(None, None)]["sum_of_cells"] == result.sum_of_cells == 11245
    assert table[("ambulant", None)]["sum_of_cells"] == 8739
    assert table[(None, "ZVW")]["sum_of_cells"] == 5411
    assert table[(None, "AWBZ")]["sum_of_cells"] == 1115


# --------------------------------------------------------------------------- rules in detail


def test_trajectories_merge_overlapping_and_touching_episodes() -> None:
    rows = [
        Row(1, "A", start=date(2025, 1, 1), end=date(2025, 1, 31)),
        Row(1, "A", start=date(2025, 2, 1), end=date(2025, 2, 28)),  # touches: same trajectory
        Row(1, "A", start=date(2025, 2, 10), end=date(2025, 2, 12)),  # inside: same
        Row(1, "A", start=date(2025, 3, 2), end=date(2025, 3, 10)),  # a day between: new
        Row(1, "A", start=date(2025, 3, 5), end=None),  # overlaps, open: same as previous
        Row(1, "A", care_form="verblijf", start=date(2025, 1, 1)),  # other care form: new
        Row(1, "B", start=date(2025, 1, 1)),  # other provider: new
        Row(2, "A", start=None, end=date(2025, 1, 10)),  # unknown start
        Row(2, "A", start=date(2024, 6, 1), end=date(2024, 7, 1)),  # within it: same
        Row(3, "A", status="missing"),  # no BSN: a trajectory of its own
        Row(4, "A", status="missing"),
    ]
    result = count(frame_of(rows))
    assert result.trajectories == 7
    assert result.registrations == 11
    assert result.unique_clients == 2


def test_client_who_moved_counts_in_latest_municipality() -> None:
    rows = [
        Row(1, "A", municipality="Assen", start=date(2025, 1, 1), end=date(2025, 5, 31)),
        Row(1, "B", municipality="Emmen", start=date(2025, 6, 1)),
        Row(1, "C", municipality=None, start=date(2025, 9, 1)),  # unknown is not a move
        Row(2, "A", municipality="Beilen", start=date(2025, 2, 1)),
        Row(2, "B", municipality="Meppel", start=date(2025, 2, 1), end=date(2025, 3, 1)),
        Row(3, "A", municipality=None),
        Row(4, "A", status="missing", municipality="Assen", start=date(2025, 8, 1)),
    ]
    year = table_as_dict(count(frame_of(rows), by=("municipality",), period="2025"))
    # Client 1 moved to Emmen; client 2's rows tie on start, the ongoing one (Beilen) wins
    # although Meppel comes later in the alphabet.
    assert year[("Emmen",)]["unique_clients"] == 1
    assert year[("Beilen",)]["unique_clients"] == 1
    assert ("Meppel",) not in year
    assert year[("unknown",)]["unique_clients"] == 1
    assert year[("Assen",)]["unique_clients"] == 0
    assert year[("Assen",)]["rows_without_valid_bsn"] == 1
    assert year[("Emmen",)]["registrations"] == 3  # all of client 1's rows follow the client
    assert year[(None,)]["unique_clients"] == 3
    assert year[(None,)]["sum_of_cells"] == 3
    spring = table_as_dict(count(frame_of(rows), by=("municipality",), on="2025-03-01"))
    assert spring[("Assen",)]["unique_clients"] == 1  # client 1 had not moved yet


def test_same_start_and_end_tie_goes_to_alphabetically_last_municipality() -> None:
    rows = [
        Row(1, "A", municipality="Emmen", start=date(2025, 1, 1)),
        Row(1, "B", municipality="Assen", start=date(2025, 1, 1)),
    ]
    for order in (rows, rows[::-1]):
        table = table_as_dict(count(frame_of(order), by=("municipality",)))
        assert table[("Emmen",)]["unique_clients"] == 1
        assert ("Assen",) not in table


def test_age_groups_at_end_of_period() -> None:
    years = [2025, 2022, 2021, 2014, 2013, 2008, 2007, 2003, 2002, None, 2026]
    rows = [Row(index, "A", birth_year=year) for index, year in enumerate(years)]
    table = table_as_dict(count(frame_of(rows), by=("age_group",), period="2025"))
    assert {cell[0]: entry["unique_clients"] for cell, entry in table.items()} == {
        "0-3": 2,
        "4-11": 2,
        "12-17": 2,
        "18-22": 2,
        "23+": 1,
        "unknown": 2,
        None: 11,
    }
    result = count(frame_of(rows), by=("age_group",), period="2025")
    assert result.table["age_group"].to_list() == [
        "0-3",
        "4-11",
        "12-17",
        "18-22",
        "23+",
        "unknown",
        None,
    ]


def test_missing_values_show_as_unknown_and_null_means_total() -> None:
    rows = [Row(1, "A", care_form=None), Row(2, "A", care_form="verblijf")]
    result = count(frame_of(rows), by=("care_form",))
    assert result.table["care_form"].to_list() == ["unknown", "verblijf", None]


def test_counting_a_linked_file(tmp_path: Path) -> None:
    rows = synthetic_rows(21, people=60)
    frame = frame_of(rows)
    paths = []
    for provider, part in frame.group_by("provider", maintain_order=True):
        by_status = dict.fromkeys(schema.STATUSES, 0)
        for status, number in part.group_by("bsn_status").len().iter_rows():
            by_status[status] = number
        path = tmp_path / f"{provider[0]}.parquet"
        manifest = Manifest(
            format=schema.FORMAT_PSEUDONYMISED,
            scheme=schema.SCHEME,
            round="2025",
            key_id="k",
            key_fingerprint="fp",
            rows=part.height,
            rows_by_status=by_status,
            provider=str(provider[0]),
        )
        write_parquet(part, path, manifest)
        paths.append(path)
    linked = tmp_path / "linked.parquet"
    link(paths, linked)
    from_file = count(linked, by=("care_form", "provider"), period="2025")
    from_frame = count(frame, by=("care_form", "provider"), period="2025")
    assert table_as_dict(from_file) == table_as_dict(from_frame)
    assert table_as_dict(from_file) == oracle(rows, ("care_form", "provider"), parse_period("2025"))
    assert from_file.source["round"] == "2025"
    assert from_file.source["format"] == schema.FORMAT_LINKED
    assert len(from_file.source["sha256"]) == 64


def test_refuses_a_file_that_is_not_linked(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    frame = frame_of([Row(1, "A")])
    manifest = Manifest(
        format=schema.FORMAT_PSEUDONYMISED,
        scheme=schema.SCHEME,
        round="r",
        key_id="k",
        key_fingerprint="fp",
        rows=1,
        rows_by_status={"valid": 1},
        provider="A",
    )
    write_parquet(frame, path, manifest)
    with pytest.raises(InputError, match="expected 'factlab-linked'"):
        count(path)
    foreign = tmp_path / "foreign.parquet"
    frame.write_parquet(foreign)
    with pytest.raises(InputError, match="not a factlab file"):
        count(foreign)


def test_request_problems_are_collected() -> None:
    frame = frame_of([Row(1, "A")]).drop("sex")
    with pytest.raises(ConfigError) as caught:
        count(frame, by=("postcode", "sex", "care_form", "care_form", "age_group"))
    problems = caught.value.problems
    assert any("unknown dimension 'postcode'" in problem for problem in problems)
    assert any("'sex' is not in the data" in problem for problem in problems)
    assert any("given twice: care_form" in problem for problem in problems)
    assert any("age_group needs a period" in problem for problem in problems)
    valid_list = "valid: municipality, care_form, financing, provider, birth_year, age_group"
    assert all(valid_list in problem for problem in problems[:2])
    with pytest.raises(ConfigError, match="not both"):
        count(frame, period="2025", on="2025-01-01")
    with pytest.raises(ConfigError, match="period"):
        count(frame, period="2025H3")


def test_period_without_dates_is_refused_but_plain_count_works() -> None:
    frame = frame_of([Row(1, "A"), Row(1, "A", care_form="verblijf")]).drop(
        "start_date", "end_date"
    )
    with pytest.raises(DataError, match="start_date, end_date"):
        count(frame, period="2025")
    result = count(frame)
    assert (result.unique_clients, result.trajectories, result.registrations) == (1, 2, 2)


def test_nobody_in_care_gives_zero_totals() -> None:
    rows = [Row(1, "A", start=date(2020, 1, 1), end=date(2020, 2, 1))]
    result = count(frame_of(rows), by=("care_form",), period="2025")
    assert result.table.rows() == [(None, 0, 0, 0, 0, 0, 0, 0)]
    assert (result.unique_clients, result.share_multi_provider) == (0, None)
    assert result.clients_by_provider_count == {}


def test_count_does_not_modify_its_input() -> None:
    frame = frame_of(synthetic_rows(31, people=20))
    before = frame.clone()
    count(frame, by=("municipality", "age_group"), period="2025")
    assert frame.equals(before)


# --------------------------------------------------------------------------- properties

row_strategy = st.builds(
    Row,
    person=st.integers(0, 15),
    provider=st.sampled_from(PROVIDERS[:3]),
    status=st.sampled_from(["valid", "valid", "valid", "missing", "sentinel", "checksum"]),
    care_form=st.sampled_from(CARE_FORMS),
    financing=st.sampled_from(FINANCING),
    municipality=st.sampled_from(MUNICIPALITIES),
    sex=st.sampled_from(["M", "V", None]),
    birth_year=st.sampled_from([2005, 2015, None]),
    start=st.one_of(st.none(), st.dates(date(2024, 10, 1), date(2026, 3, 1))),
    end=st.one_of(st.none(), st.dates(date(2024, 10, 1), date(2026, 3, 1))),
)
rows_strategy = st.lists(row_strategy, min_size=1, max_size=25)
dims_strategy = st.lists(
    st.sampled_from(["care_form", "financing", "municipality", "provider", "sex"]),
    unique=True,
    max_size=3,
).map(tuple)
property_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@property_settings
@given(rows=rows_strategy, dims=dims_strategy)
def test_union_is_at_most_the_sum_of_cells(rows: list[Row], dims: tuple[str, ...]) -> None:
    result = count(frame_of(rows), by=dims, period="2025")
    table = result.table
    assert (table["unique_clients"] <= table["sum_of_cells"]).all()
    assert (table["unique_clients"] <= table["unique_clients_upper"]).all()
    assert (table["trajectories"] <= table["registrations"]).all()
    total = table_as_dict(result)[(None,) * len(dims)]
    for dim in dims:
        cells = table.filter(pl.col(dim).is_not_null())
        margin_cells = cells.filter(
            pl.all_horizontal(pl.lit(True), *[pl.col(d).is_null() for d in dims if d != dim])
        )
        assert total["unique_clients"] <= margin_cells["unique_clients"].sum()
        assert total["registrations"] == margin_cells["registrations"].sum()


@property_settings
@given(rows=rows_strategy)
def test_true_number_of_persons_lies_within_the_bounds(rows: list[Row]) -> None:
    period = parse_period("2025")
    result = count(frame_of(rows), period=period)
    persons = {row.person for row in rows if active(row, period)}
    assert result.unique_clients_lower <= len(persons) <= result.unique_clients_upper
    assert result.unique_clients_lower == result.unique_clients


@property_settings
@given(rows=rows_strategy)
def test_a_year_is_the_union_of_its_halves(rows: list[Row]) -> None:
    frame = frame_of(rows)
    year = parse_period("2025")
    first, second = year.halves()
    whole = count(frame, period=year).unique_clients
    halves = [count(frame, period=half).unique_clients for half in (first, second)]
    assert max(halves) <= whole <= sum(halves)
    clients_first = {r.pseudonym for r in rows if r.pseudonym and active(r, first)}
    clients_second = {r.pseudonym for r in rows if r.pseudonym and active(r, second)}
    assert whole == len(clients_first | clients_second)


# --------------------------------------------------------------------------- outputs


@pytest.fixture
def result() -> CountResult:
    return count(frame_of(synthetic_rows(41, people=40)), by=("care_form",), period="2025")


def test_json_summary_without_dimensions(tmp_path: Path) -> None:
    rows = synthetic_rows(42, people=40)
    counted = count(frame_of(rows), on="2025-06-30")
    out = tmp_path / "counts.json"
    assert write_counts(counted, out) == [out]
    document = json.loads(out.read_text())
    for name in (
        "unique_clients",
        "registrations",
        "trajectories",
        "clients_multi_provider",
        "share_multi_provider",
        "unique_clients_lower",
        "unique_clients_upper",
        "rows_without_valid_bsn",
        "clients_by_provider_count",
        "rows_without_valid_bsn_by_provider",
    ):
        assert name in document, name
    assert document["unique_clients"] == counted.unique_clients
    assert document["period"] is None
    assert document["reference_date"] == "2025-06-30"
    assert document["metadata"]["exact"] is True
    assert document["metadata"]["internal"] is True
    assert document["metadata"]["note"] == NOTE
    text = out.read_text()
    assert all(row.pseudonym not in text for row in rows if row.pseudonym)


def test_json_table_with_dimensions(result: CountResult, tmp_path: Path) -> None:
    out = tmp_path / "counts.json"
    write_counts(result, out)
    document = json.loads(out.read_text())
    assert set(document) == {"metadata", "summary", "rows"}
    assert document["metadata"]["note"] == NOTE
    assert document["metadata"]["period"] == "2025"
    assert document["metadata"]["by"] == ["care_form"]
    assert document["rows"] == result.table.to_dicts()
    assert document["summary"]["unique_clients"] == result.unique_clients


def test_csv_table_with_sidecar(result: CountResult, tmp_path: Path) -> None:
    out = tmp_path / "counts.csv"
    written = write_counts(result, out)
    sidecar = tmp_path / "counts.csv.meta.json"
    assert written == [out, sidecar]
    read_back = pl.read_csv(out, schema_overrides={"care_form": pl.String})
    assert read_back.equals(result.table)
    assert json.loads(sidecar.read_text())["metadata"]["internal"] is True


def test_parquet_table_with_metadata(result: CountResult, tmp_path: Path) -> None:
    out = tmp_path / "counts.parquet"
    write_counts(result, out)
    assert pl.read_parquet(out).equals(result.table)
    stored = pq.ParquetFile(out).metadata.metadata[b"factlab.counts"]
    assert json.loads(stored)["metadata"]["exact"] is True


def test_unknown_output_type_is_refused(result: CountResult, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.json, \.csv or \.parquet"):
        write_counts(result, tmp_path / "counts.xlsx")
    assert list(tmp_path.iterdir()) == []
    assert count_output_format("X.PARQUET") == "parquet"


# --------------------------------------------------------------------------- command line


@pytest.fixture
def linked_file(tmp_path: Path) -> Path:
    frame = frame_of(synthetic_rows(51, people=30))
    path = tmp_path / "linked.parquet"
    by_status = dict.fromkeys(schema.STATUSES, 0)
    for status, number in frame.group_by("bsn_status").len().iter_rows():
        by_status[status] = number
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="2025",
        key_id="k",
        key_fingerprint="fp",
        rows=frame.height,
        rows_by_status=by_status,
    )
    write_parquet(frame, path, manifest)
    return path


def test_cli_count_summary(linked_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    outcome = CliRunner().invoke(
        main, ["count", str(linked_file), "--period", "2025", "--out", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(out.read_text())
    expected = count(linked_file, period="2025")
    assert document["unique_clients"] == expected.unique_clients
    assert document["period"] == "2025"
    assert f"{expected.unique_clients} unique clients" in outcome.stderr
    assert outcome.stdout == ""


def test_cli_count_table(linked_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    outcome = CliRunner().invoke(
        main,
        [
            "count",
            str(linked_file),
            "--by",
            "care_form, financing",
            "--on",
            "2025-01-01",
            "--out",
            str(out),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    table = pl.read_csv(out, infer_schema=False)
    assert table.columns[:2] == ["care_form", "financing"]
    assert (tmp_path / "table.csv.meta.json").exists()


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (["--by", "postcode"], ConfigError.exit_code),
        (["--by", "care_form,,sex"], ConfigError.exit_code),
        (["--period", "2025", "--on", "2025-01-01"], ConfigError.exit_code),
        (["--on", "2025-13-01"], ConfigError.exit_code),
        (["--by", "age_group"], ConfigError.exit_code),
    ],
)
def test_cli_count_errors_write_nothing(
    linked_file: Path, tmp_path: Path, arguments: list[str], code: int
) -> None:
    out = tmp_path / "out.json"
    outcome = CliRunner().invoke(main, ["count", str(linked_file), *arguments, "--out", str(out)])
    assert outcome.exit_code == code, outcome.output
    assert outcome.stderr.strip().startswith("factlab: error:")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["linked.parquet"]


def test_cli_count_bad_output_type_and_missing_file(linked_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad_type = runner.invoke(main, ["count", str(linked_file), "--out", str(tmp_path / "x.txt")])
    assert bad_type.exit_code == ConfigError.exit_code
    missing = runner.invoke(
        main, ["count", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "x.json")]
    )
    assert missing.exit_code == InputError.exit_code
    assert sorted(path.name for path in tmp_path.iterdir()) == ["linked.parquet"]


def test_a_frame_with_unknown_or_missing_statuses_is_refused() -> None:
    frame = pl.DataFrame({"pseudonym": ["a" * 32, "b" * 32, None], "provider": ["A", "A", "B"]})
    for statuses in (["valid", "geldig", "missing"], ["valid", None, "missing"]):
        with pytest.raises(DataError, match=r"bsn_status: 1 row\(s\) without a BSN status"):
            count(frame.with_columns(bsn_status=pl.Series(statuses, dtype=pl.String)))
    plain = count(frame.with_columns(bsn_status=pl.Series(["valid", "valid", "missing"])))
    assert (plain.unique_clients, plain.rows_by_status["missing"]) == (2, 1)


def test_counts_are_never_written_over_the_counted_file(linked_file: Path) -> None:
    # issue 14.6: `count linked.parquet --out linked.parquet` destroyed the linked file; a library
    # user calling write_counts with the linked file's path is stopped the same way
    before = linked_file.read_bytes()
    result = count(linked_file, by=("care_form",))
    for target in (linked_file, linked_file.parent / "." / linked_file.name):
        with pytest.raises(InputError, match="is also an input"):
            write_counts(result, target)
    assert linked_file.read_bytes() == before
    assert sorted(p.name for p in linked_file.parent.iterdir()) == ["linked.parquet"]
