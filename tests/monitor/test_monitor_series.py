"""Series and transitions of the monitor against plain-Python computations (synthetic data)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from delivery_helpers import clients_in, deliver_periods, episodes_frame, pseudonym
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factlab.analysis.counts import count
from factlab.analysis.link import link
from factlab.errors import ConfigError
from factlab.monitor.series import programme_periods, series
from factlab.monitor.transitions import ENDED, ENDED_AT_18, NEW, reentry, transitions
from factlab.periods import Period, parse_period

YEARS = programme_periods(2021, 2024)
HALVES = programme_periods(2021, 2024, "half")


def random_rows(seed: int, clients: int = 60, rows: int = 200) -> pl.DataFrame:
    """Linked rows of a made-up programme: several providers, forms, financing; some rows
    without a valid BSN."""
    rng = random.Random(seed)
    records: dict[str, list[Any]] = defaultdict(list)
    for _ in range(rows):
        start = date(2020, 6, 1) + timedelta(days=rng.randrange(0, 1600))
        end = None if rng.random() < 0.25 else start + timedelta(days=rng.randrange(0, 700))
        valid = rng.random() > 0.05
        client = rng.randrange(clients)
        records["pseudonym"].append(pseudonym(client) if valid else None)
        records["bsn_status"].append("valid" if valid else "missing")
        records["provider"].append(rng.choice("ABCD"))
        records["care_form"].append(rng.choice(["ambulant", "verblijf"]))
        records["financing"].append(rng.choice(["ZIN", "PGB"]))
        records["birth_year"].append(2002 + client % 13)  # one birth year per client
        records["start_date"].append(start)
        records["end_date"].append(end)
    return pl.DataFrame(
        {
            **records,
            "start_date": pl.Series(records["start_date"], dtype=pl.Date),
            "end_date": pl.Series(records["end_date"], dtype=pl.Date),
            "birth_year": pl.Series(records["birth_year"], dtype=pl.Int16),
        }
    )


def active(row: dict[str, Any], period: Period) -> bool:
    return (row["start_date"] is None or row["start_date"] <= period.end) and (
        row["end_date"] is None or row["end_date"] >= period.start
    )


def oracle_series(rows: pl.DataFrame, periods: list[Period], by: str | None) -> dict:
    """Plain Python: per (period, value) clients, registrations, several providers."""
    result: dict[tuple[str, str | None], dict[str, int]] = {}
    records = rows.to_dicts()
    for period in periods:
        in_care = [row for row in records if active(row, period)]
        providers: dict[str, set[str]] = defaultdict(set)
        for row in in_care:
            if row["bsn_status"] == "valid":
                providers[row["pseudonym"]].add(row["provider"])
        values = {None} if by is None else {row[by] for row in in_care}
        for value in values:
            cell = [row for row in in_care if by is None or row[by] == value]
            clients = {row["pseudonym"] for row in cell if row["bsn_status"] == "valid"}
            result[(period.label, value)] = {
                "unique_clients": len(clients),
                "registrations": len(cell),
                "rows_without_valid_bsn": sum(row["bsn_status"] != "valid" for row in cell),
                "clients_several_providers": sum(len(providers[c]) >= 2 for c in clients),
            }
    return result


@pytest.mark.parametrize("by", [None, "provider", "financing"])
def test_series_matches_plain_python(by: str | None) -> None:
    rows = random_rows(7)
    result = series(rows, HALVES, by=() if by is None else (by,))
    expected = oracle_series(rows, HALVES, by)
    dimension = "total" if by is None else by
    got = {
        (row["period"], row["value"]): {name: row[name] for name in expected[next(iter(expected))]}
        for row in result.table.filter(pl.col("dimension") == dimension).iter_rows(named=True)
    }
    # cells with no rows are zero in the series, absent in the oracle
    assert {key: value for key, value in got.items() if value["registrations"]} == expected


def oracle_trajectories(rows: pl.DataFrame, period: Period) -> int:
    """Plain Python: merged (client, provider, care form) trajectories in care in ``period``."""
    groups: dict[tuple[str, str, str], list[tuple[date, date]]] = defaultdict(list)
    for row in rows.to_dicts():
        if row["bsn_status"] != "valid":
            continue
        start = row["start_date"] or date(1, 1, 1)
        end = row["end_date"] or date(9999, 12, 31)
        groups[(row["pseudonym"], row["provider"], row["care_form"])].append((start, end))
    total = 0
    for spans in groups.values():
        merged: list[list[date]] = []
        for start, end in sorted(spans):
            if merged and (start - merged[-1][1]).days <= 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        total += sum(start <= period.end and end >= period.start for start, end in merged)
    return total


def test_series_trajectories_match_plain_python() -> None:
    rows = random_rows(11)
    table = series(rows, YEARS).table
    assert table["trajectories"].to_list() == [oracle_trajectories(rows, p) for p in YEARS]


def test_a_year_is_the_union_of_its_halves() -> None:
    rows = random_rows(3)
    years = series(rows, YEARS).table
    halves = series(rows, HALVES).table
    for year in YEARS:
        first, second = year.halves()
        union = clients_in(rows.filter(pl.col("bsn_status") == "valid"), first) | clients_in(
            rows.filter(pl.col("bsn_status") == "valid"), second
        )
        row = years.filter(pl.col("period") == year.label)
        assert row["unique_clients"].item() == len(union)
        added = halves.filter(pl.col("period").is_in([first.label, second.label]))
        assert row["unique_clients"].item() <= added["unique_clients"].sum()


def test_series_refuses_overlapping_periods() -> None:
    with pytest.raises(ConfigError, match="does not start after"):
        series(random_rows(1), ["2023", "2023H2"])


def test_series_of_a_linked_file_equals_count_per_period(tmp_path: Path) -> None:
    rows = random_rows(5).filter(pl.col("bsn_status") == "valid")
    episodes = (
        rows.select("pseudonym", "provider", "care_form", "financing", "start_date", "end_date")
        .unique(subset=["pseudonym", "provider", "care_form", "financing", "start_date"])
        .filter(pl.col("start_date") >= date(2021, 1, 1))
    )
    deliveries = deliver_periods(tmp_path, episodes, [period.label for period in YEARS])
    linked = tmp_path / "linked.parquet"
    link([path for path, _ in deliveries], linked, periods=dict(deliveries))
    table = series(linked, YEARS, by=("provider",)).table
    for period in YEARS:
        expected = count(linked, period=period.label).unique_clients
        total = table.filter((pl.col("period") == period.label) & (pl.col("dimension") == "total"))
        assert total["unique_clients"].item() == expected == len(clients_in(episodes, period))


# transitions


def oracle_transitions(rows: pl.DataFrame, first: Period, second: Period, by: str) -> dict:
    """Plain Python: the combined value of each client per period, then the cells."""

    def values(period: Period) -> dict[str, str]:
        found: dict[str, set[str]] = defaultdict(set)
        for row in rows.to_dicts():
            if row["bsn_status"] == "valid" and active(row, period):
                found[row["pseudonym"]].add(str(row[by]))
        return {client: " + ".join(sorted(seen)) for client, seen in found.items()}

    births = {row["pseudonym"]: row["birth_year"] for row in rows.to_dicts()}
    before, after = values(first), values(second)
    cells: dict[tuple[str, str], int] = defaultdict(int)
    for client in before.keys() | after.keys():
        turned = first.end.year - births[client] < 18 <= second.end.year - births[client]
        ended = ENDED_AT_18 if turned else ENDED
        cells[(before.get(client, NEW), after.get(client, ended))] += 1
    return dict(cells)


@pytest.mark.parametrize("by", ["financing", "provider", "care_form"])
def test_transitions_match_plain_python(by: str) -> None:
    rows = random_rows(13)
    first, second = parse_period("2022"), parse_period("2023")
    result = transitions(rows, first, second, by=by)
    got = {(row[0], row[1]): row[2] for row in result.matrix.rows()}
    assert got == oracle_transitions(rows, first, second, by)


@st.composite
def linked_rows(draw: st.DrawFn) -> pl.DataFrame:
    return random_rows(
        draw(st.integers(0, 10_000)),
        clients=draw(st.integers(1, 30)),
        rows=draw(st.integers(1, 80)),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=linked_rows(),
    by=st.sampled_from(["financing", "provider", "municipality"]),
    rule=st.sampled_from(["combined", "latest"]),
)
def test_matrix_margins_are_each_period_s_clients(rows: pl.DataFrame, by: str, rule: str) -> None:
    rows = rows.with_columns(municipality=pl.col("provider").replace({"A": "Assen", "B": "Emmen"}))
    first, second = parse_period("2022"), parse_period("2023")
    result = transitions(rows, first, second, by=by, rule=rule)  # type: ignore[arg-type]
    matrix = result.matrix
    per_period = series(rows, [first, second], by=(by,)).table
    totals = per_period.filter(pl.col("dimension") == "total")["unique_clients"].to_list()
    rows_out = matrix.filter(pl.col("from") != NEW)["clients"].sum()
    columns_in = matrix.filter(~pl.col("to").is_in([ENDED, ENDED_AT_18]))["clients"].sum()
    assert [rows_out, columns_in] == totals
    assert result.summary["clients_from"] == totals[0]
    assert result.summary["clients_to"] == totals[1]
    if rule == "latest":
        # one value per client: the matrix's margins per value are the series' per value
        for period, side in ((first, "from"), (second, "to")):
            margin = dict(matrix.group_by(side).agg(pl.col("clients").sum()).iter_rows())
            cells = per_period.filter(
                (pl.col("period") == period.label) & (pl.col("dimension") == by)
            )
            for value, clients in margin.items():
                if value in (NEW, ENDED, ENDED_AT_18):
                    continue
                assert clients <= cells.filter(pl.col("value") == value)["unique_clients"].sum()


def test_turning_18_is_its_own_flow() -> None:
    rows = episodes_frame(
        [
            (1, "A", "ambulant", date(2023, 1, 1), date(2023, 6, 30)),  # ends, turns 18
            (2, "A", "ambulant", date(2023, 1, 1), None),  # continues, turns 18
            (3, "A", "ambulant", date(2023, 1, 1), date(2023, 6, 30)),  # ends, stays under 18
        ]
    ).with_columns(
        pl.lit("valid").alias("bsn_status"),
        pl.Series("birth_year", [2006, 2006, 2010], dtype=pl.Int16),
    )
    result = transitions(rows, "2023", "2024", by="financing")
    assert sorted(result.matrix.rows()) == sorted(
        [("ZIN", ENDED, 1, 0), ("ZIN", ENDED_AT_18, 1, 1), ("ZIN", "ZIN", 1, 1)]
    )
    assert result.summary["turned_18"] == 2
    assert result.summary["turned_18_continuing"] == 1


def test_pgb_to_zin_shift_is_a_cell() -> None:
    rows = episodes_frame(
        [
            (1, "A", "ambulant", date(2023, 1, 1), date(2023, 12, 31), "PGB"),
            (1, "A", "ambulant", date(2024, 1, 1), None, "ZIN"),
            (2, "A", "ambulant", date(2023, 1, 1), None, "PGB"),
            (2, "B", "ambulant", date(2024, 3, 1), None, "ZIN"),
        ]
    ).with_columns(pl.lit("valid").alias("bsn_status"))
    combined = transitions(rows, "2023", "2024", by="financing")
    assert sorted(combined.matrix.select("from", "to", "clients").rows()) == [
        ("PGB", "PGB + ZIN", 1),
        ("PGB", "ZIN", 1),
    ]
    latest = transitions(rows, "2023", "2024", by="financing", rule="latest")
    assert sorted(latest.matrix.select("from", "to", "clients").rows()) == [("PGB", "ZIN", 2)]
    assert latest.wide().columns == ["from", "ZIN"]


# re-entry


def oracle_reentry(rows: pl.DataFrame, period: Period, months: int, until: date) -> tuple:
    spans: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for row in rows.to_dicts():
        if row["bsn_status"] == "valid":
            spans[row["pseudonym"]].append(
                (row["start_date"] or date(1, 1, 1), row["end_date"] or date(9999, 12, 31))
            )
    ended = reentered = window_open = 0
    for client_spans in spans.values():
        merged: list[list[date]] = []
        for start, end in sorted(client_spans):
            if merged and (start - merged[-1][1]).days <= 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for index, (_, end) in enumerate(merged):
            if end == date(9999, 12, 31) or not period.start <= end <= period.end:
                continue
            ended += 1
            month = end.month - 1 + months
            year = end.year + month // 12
            last = date(year, month % 12 + 1, 1)
            # the same day N months on (the month's last day when it has fewer days)
            try:
                window = last.replace(day=end.day)
            except ValueError:
                window = (
                    last.replace(month=last.month % 12 + 1, day=1)
                    if last.month < 12
                    else date(last.year + 1, 1, 1)
                ) - timedelta(days=1)
            again = index + 1 < len(merged) and merged[index + 1][0] <= window
            reentered += again
            window_open += (not again) and window > until
    return ended, reentered, window_open


@pytest.mark.parametrize("months", [3, 12])
def test_reentry_matches_plain_python(months: int) -> None:
    rows = random_rows(17, clients=40, rows=160)
    until = date(2024, 6, 30)
    result = reentry(rows, YEARS, months=months, until=until)
    got = result.table.select("spells_ended", "reentered", "window_open").rows()
    assert got == [oracle_reentry(rows, period, months, until) for period in YEARS]


def test_reentry_refuses_a_window_out_of_range() -> None:
    with pytest.raises(ConfigError, match="months"):
        reentry(random_rows(1), YEARS, months=0)


def test_a_row_that_ends_before_it_starts_lasts_its_start_day() -> None:
    rows = episodes_frame([(1, "A", "ambulant", date(2024, 9, 1), date(2024, 3, 1))]).with_columns(
        pl.lit("valid").alias("bsn_status")
    )
    halves = series(rows, programme_periods(2024, 2024, "half")).table
    assert halves["unique_clients"].to_list() == [0, 1]
    assert count(rows, period="2024H2").unique_clients == 1
    assert series(rows, ["2024"]).table["unique_clients"].to_list() == [1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=linked_rows(), every=st.sampled_from(["year", "half"]))
def test_series_equal_single_period_counts(rows: pl.DataFrame, every: str) -> None:
    periods = programme_periods(2021, 2023, every)  # type: ignore[arg-type]
    table = series(rows, periods, by=("care_form",)).table
    for period in periods:
        counted = count(rows, by=["care_form"], period=period.label)
        total = table.filter((pl.col("period") == period.label) & (pl.col("dimension") == "total"))
        assert total["unique_clients"].item() == counted.unique_clients
        assert total["registrations"].item() == counted.registrations
