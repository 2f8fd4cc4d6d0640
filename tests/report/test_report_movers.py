"""Reports by municipality with parts, when clients move between the parts.

A client who moved counts in the most recent municipality of the period (docs/counting.md), so
a year is not the union of its halves by municipality: a client in A in the first half and in B
in the second counts in B for the year, and the year's A can be below the first half's A. What
does hold (a client's row that decides the year decides the part it falls in): the year's A is
at most the first half's A plus the second half's, in a municipality's total (with the other
dimensions totals; by municipality and care form nothing holds: the care form may come from a
row of the other half). The protection uses only that, whatever the data, and the oracle
below (an attacker who knows it, every published number, and nothing else) finds no suppressed
cell narrowed below the rules' width.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from factlab import schema
from factlab.analysis.counts import count
from factlab.disclosure.lattice import prepare
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.errors import ConfigError, DataError
from factlab.periods import parse_period
from factlab.reference.config import reference_from_mapping
from factlab.report.build import build_report
from factlab.report.config import RoundConfig

YEAR = parse_period("2023")
HALVES = (parse_period("2023H1"), parse_period("2023H2"))
TOWNS = ["Assen", "Emmen", "Meppel", "Tynaarlo"]


def rows_of(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows).with_columns(
        pl.col("pseudonym", "provider", "municipality", "care_form").cast(pl.String),
        pl.col("bsn_status").cast(schema.STATUS_DTYPE),
    )


def row(client: int, town: str, start: date, days: int, form: str = "ambulant") -> dict[str, Any]:
    return {
        "pseudonym": f"{client:032x}",
        "bsn_status": "valid",
        "provider": "P1" if client % 3 else "P2",
        "municipality": town,
        "care_form": form,
        "start_date": start,
        "end_date": start + timedelta(days=days),
    }


def movers(seed: int, people: int = 300) -> pl.DataFrame:
    """Clients in one half or both; a third of those in both move between the halves."""
    rng = random.Random(seed)
    rows = []
    for client in range(1, people + 1):
        town = rng.choice(TOWNS)
        kind = rng.random()
        form = rng.choice(["ambulant", "verblijf"])
        if kind < 0.3:
            rows.append(row(client, town, date(2023, 1, 1) + timedelta(rng.randrange(150), 20), 20))
        elif kind < 0.6:
            rows.append(row(client, town, date(2023, 7, 1) + timedelta(rng.randrange(150)), 20))
        else:
            rows.append(row(client, town, date(2023, 2, 1), 30, form))
            moved = rng.choice(TOWNS) if kind > 0.8 else town
            rows.append(row(client, moved, date(2023, 8, 1), 30, form))
    return rows_of(rows)


def a_mover_makes_a_year_smaller_than_its_half() -> pl.DataFrame:
    """Assen: 12 clients in the first half, 9 of whom moved to Emmen: 3 in Assen for the year."""
    rows = []
    for client in range(1, 13):
        rows.append(row(client, "Assen", date(2023, 2, 1), 30))
        if client > 3:
            rows.append(row(client, "Emmen", date(2023, 9, 1), 30))
    for client in range(13, 60):
        rows.append(row(client, TOWNS[1 + client % 3], date(2023, 4 + client % 6, 1), 40))
    return rows_of(rows)


def by_municipality(frame: pl.DataFrame, period: Any) -> dict[str | None, int]:
    table = count(frame, by=("municipality",), period=period).table
    return dict(table.select("municipality", "unique_clients").iter_rows())


def test_the_year_is_not_the_union_of_its_halves_by_municipality() -> None:
    data = a_mover_makes_a_year_smaller_than_its_half()
    year, first = by_municipality(data, YEAR), by_municipality(data, HALVES[0])
    assert first["Assen"] == 12
    assert year["Assen"] == 3
    # What does hold: at most the sum of the halves.
    second = by_municipality(data, HALVES[1])
    assert all(year[k] <= first.get(k, 0) + second.get(k, 0) for k in year)


@pytest.mark.parametrize("dims", [("municipality", "care_form"), ("care_form", "municipality")])
def test_a_report_by_municipality_with_halves_and_movers(dims: tuple[str, ...]) -> None:
    data = a_mover_makes_a_year_smaller_than_its_half()
    settings = RoundConfig(dimensions=dims, cross=(), period=YEAR, parts=HALVES)
    internal = build_report(data, settings, internal=True)
    public = build_report(data, settings)  # stopped with a DataError before 0.?: fixed
    exact = next(t for t in internal.tables if t.id == "by-municipality").source.frame
    shown = next(t for t in public.tables if t.id == "by-municipality").source.frame
    for half in (*HALVES, YEAR):
        expected = by_municipality(data, half)
        got = dict(
            exact.filter(pl.col("period") == half.label)
            .select("municipality", "unique_clients")
            .iter_rows()
        )
        assert got == expected
    assert set(shown["period"]) == {"2023H1", "2023H2", "2023"}
    for value in shown["unique_clients"].drop_nulls():
        assert value % 5 == 0


def test_a_broken_union_of_a_dimension_not_chosen_per_period_is_still_refused() -> None:
    """Only the dimensions the rules name as chosen per period are spared the union check."""
    data = a_mover_makes_a_year_smaller_than_its_half()
    whole = count(data, by=("municipality",), period=YEAR).table.rename({"municipality": "place"})
    parts = {
        half.label: count(data, by=("municipality",), period=half).table.rename(
            {"municipality": "place"}
        )
        for half in HALVES
    }
    rules = DisclosureRules(measures=(MeasureRule("unique_clients"),), dimensions=("place",))
    with pytest.raises(DataError, match="over period not between the largest cell and the sum"):
        prepare(whole, rules, parts=parts, label="2023")
    spared = DisclosureRules(
        measures=(MeasureRule("unique_clients"),), dimensions=("place",), period_valued=("place",)
    )
    assert prepare(whole, spared, parts=parts, label="2023").size == 3 * 5


# --- the attacker ---------------------------------------------------------------------------

SIZED = {"Assen": 40, "Emmen": 26, "Meppel": 14, "Tynaarlo": 6, "Westerveld": 4, "Havelte": 3}
EXACT = DisclosureRules(rounding_base=1, attacker="integer")


def small_towns_with_movers(seed: int) -> pl.DataFrame:
    """Clients in one half or both, a quarter of those in both moving, some towns small."""
    rng = random.Random(seed)
    towns = list(SIZED)
    rows = []
    for client in range(1, sum(SIZED.values()) * 2 + 1):
        town = rng.choices(towns, weights=list(SIZED.values()))[0]
        kind = rng.random()
        if kind < 0.35:
            rows.append(row(client, town, date(2023, 1, 10) + timedelta(rng.randrange(140)), 20))
        elif kind < 0.7:
            rows.append(row(client, town, date(2023, 7, 10) + timedelta(rng.randrange(140)), 20))
        else:
            rows.append(row(client, town, date(2023, 2, 1), 30))
            moved = "Assen" if kind > 0.8 else town  # out of the small towns
            rows.append(row(client, moved, date(2023, 8, 1), 30))
    return rows_of(rows)


Cell = tuple[str, str]  # (period, municipality)


def attacker_range(
    shown: dict[Cell, int | None], totals: dict[str, int], target: Cell
) -> tuple[int, int]:
    """Smallest and largest whole value of ``target`` consistent with every published number.

    The attacker knows what the counting rule implies and nothing else: every client counts in
    one municipality per period (a period's total is the sum of its municipalities), the year
    is at most the sum of its halves in each municipality, and the year's total is the union
    of the halves' totals. The totals are given exactly (a stronger attacker than any report
    allows: they may come from another table).
    """
    cells = list(shown)
    index = {cell: i for i, cell in enumerate(cells)}
    periods = ["2023H1", "2023H2", "2023"]
    towns = sorted({town for _, town in cells})
    rows: list[np.ndarray[Any, Any]] = []
    lows: list[float] = []
    highs: list[float] = []

    def constraint(coefficients: dict[Cell, float], low: float, high: float) -> None:
        line = np.zeros(len(cells))
        for cell, value in coefficients.items():
            line[index[cell]] = value
        rows.append(line)
        lows.append(low)
        highs.append(high)

    for period in periods:
        constraint({(period, town): 1.0 for town in towns}, totals[period], totals[period])
    for town in towns:
        constraint(
            {("2023", town): 1.0, ("2023H1", town): -1.0, ("2023H2", town): -1.0}, -np.inf, 0
        )
    lower = np.array([0.0 if shown[c] is None else float(shown[c] or 0) for c in cells])
    upper = np.array([np.inf if shown[c] is None else float(shown[c] or 0) for c in cells])
    found = []
    for sign in (1.0, -1.0):
        goal = np.zeros(len(cells))
        goal[index[target]] = sign
        result = milp(
            goal,
            constraints=LinearConstraint(np.array(rows), np.array(lows), np.array(highs)),
            integrality=np.ones(len(cells)),
            bounds=Bounds(lower, upper),
        )
        assert result.status == 0, result.message
        found.append(round(sign * result.fun))
    return found[0], found[1]


def published_cells(frame: pl.DataFrame) -> dict[Cell, int | None]:
    return {
        (period, town): value
        for period, town, value in frame.select("period", "municipality", "unique_clients")
        .filter(pl.col("municipality").is_not_null())
        .iter_rows()
    }


@pytest.mark.parametrize(
    ("seed", "dims"),
    [
        (1, ("municipality",)),
        (3, ("municipality",)),
        (4, ("care_form", "municipality")),
        (14, ("care_form", "municipality")),
    ],
)
def test_no_suppressed_municipality_is_narrowed_by_the_year_and_its_halves(
    seed: int, dims: tuple[str, ...]
) -> None:
    data = small_towns_with_movers(seed)
    settings = RoundConfig(dimensions=dims, cross=(), period=YEAR, parts=HALVES, rules=EXACT)
    exact = published_cells(
        next(
            t
            for t in build_report(data, settings, internal=True).tables
            if t.id == "by-municipality"
        ).source.frame
    )
    public = build_report(data, settings)
    shown = published_cells(
        next(t for t in public.tables if t.id == "by-municipality").source.frame
    )
    # No table hides a grand total as a complement (rules.keep_total): a table by care form
    # with one category would show it anyway, which a pattern relying on it would not survive.
    for table in public.tables[: len(dims)]:
        frame = table.source.frame
        totals = frame.filter(
            pl.all_horizontal(pl.col(d).is_null() for d in dims if d in frame.columns)
        )
        assert (totals["unique_clients_status"] == "published").all(), table.id
    # Clients moved out of a town: its year is below its first half (not a union).
    assert any((exact[("2023", town)] or 0) < (exact[("2023H1", town)] or 0) for town in SIZED)
    totals = {
        p: sum(v for (q, _), v in exact.items() if q == p and v)
        for p in ("2023H1", "2023H2", "2023")
    }
    secret = [
        cell
        for cell, value in exact.items()
        if value is not None and 0 <= value <= EXACT.secret_max
    ]
    hidden = [cell for cell, value in shown.items() if value is None]
    assert secret
    assert set(secret) <= set(hidden)
    for cell in secret:
        low, high = attacker_range(shown, totals, cell)
        assert low <= exact[cell] <= high
        need = max(EXACT.min_width, EXACT.protection_percent / 100 * (exact[cell] or 0))
        assert high - low >= need, (cell, low, high)

    # The attack has teeth: with the complementary suppressions shown, a secret cell is found
    # (when there are any: seed 1 hides only secret cells, which protect each other).
    if len(hidden) > len(secret):
        bare = {cell: exact[cell] if cell not in secret else None for cell in shown}
        ranges = [attacker_range(bare, totals, cell) for cell in secret]
        assert min(high - low for low, high in ranges) < EXACT.min_width


def test_a_cross_table_of_municipality_and_care_form_with_movers() -> None:
    """The main table (with its sum of cells) is protected with the halves too."""
    data = small_towns_with_movers(4)
    settings = RoundConfig(
        dimensions=("municipality", "care_form"),
        cross=("municipality", "care_form"),
        period=YEAR,
        parts=HALVES,
    )
    exact = build_report(data, settings, internal=True).tables[0].source.frame
    shown = build_report(data, settings).tables[0].source.frame
    assert exact.height == shown.height
    assert set(shown["period"]) == {"2023H1", "2023H2", "2023"}
    for value in shown["unique_clients"].drop_nulls():
        assert value % 5 == 0


def test_age_groups_with_parts_in_another_year_are_refused() -> None:
    period = parse_period("2023-07-01..2024-06-30")
    parts = (parse_period("2023H2"), parse_period("2024H1"))
    with pytest.raises(ConfigError, match=r"parts: 2023H2 must end in the year period"):
        RoundConfig(dimensions=("age_group",), period=period, parts=parts)
    assert RoundConfig(dimensions=("municipality",), period=period, parts=parts).parts == parts
    assert RoundConfig(dimensions=("age_group",), period=YEAR, parts=HALVES).parts == HALVES


def test_regions_follow_the_movers_and_are_protected_with_the_halves() -> None:
    reference = reference_from_mapping(
        {
            "version": 1,
            "reference_year": 2024,
            "hierarchy": {
                "region": {
                    "dimension": "municipality",
                    "levels": ["purchasing_region"],
                    "purchasing_region": {
                        "Noord": ["Assen", "Tynaarlo", "Emmen"],
                        "Zuid": ["Meppel", "Westerveld"],  # with Havelte, merged into it
                    },
                }
            },
        }
    )
    data = small_towns_with_movers(3)
    settings = RoundConfig(
        dimensions=("region", "care_form"), cross=(), period=YEAR, parts=HALVES, reference=reference
    )
    internal = build_report(data, settings, internal=True)
    public = build_report(data, settings)
    exact = next(t for t in internal.tables if t.id == "by-municipality").source.frame
    year = dict(
        count(data, by=("municipality",), period=YEAR, reference=reference)
        .table.select("municipality", "unique_clients")
        .rows()
    )
    assert year["Westerveld"] > 0
    got = dict(
        exact.filter(pl.col("period") == "2023").select("municipality", "unique_clients").rows()
    )
    assert got == year
    shown = next(t for t in public.tables if t.id == "by-purchasing_region").source.frame
    assert set(shown["period"]) == {"2023H1", "2023H2", "2023"}


@pytest.mark.parametrize("dims", [("municipality",), ("municipality", "care_form")])
def test_a_report_whose_second_half_has_a_few_clients_and_nobody_in_both_halves(
    dims: tuple[str, ...],
) -> None:
    """The year's total is then the sum of the halves', by chance: the protection must not
    treat it as such (no outsider knows nobody is in both halves), nor fail (keep_total once
    left no cell to suppress for the second half's secret total)."""
    rows = [
        row(c, TOWNS[c % 4], date(2023, 2, 1), 30, "ambulant" if c % 2 else "verblijf")
        for c in range(1, 200)
    ]
    rows += [row(c, TOWNS[c % 4], date(2023, 9, 1), 10) for c in range(200, 203)]
    settings = RoundConfig(period=YEAR, parts=HALVES, dimensions=dims)
    report = build_report(rows_of(rows), settings, generated="x")
    for table in report.tables[: len(dims)]:
        frame = table.source.frame
        grand = pl.all_horizontal(pl.col(d).is_null() for d in dims if d in frame.columns)
        totals = dict(frame.filter(grand).select("period", "unique_clients_status").rows())
        assert totals["2023H2"] == "suppressed", table.id  # 3 clients: secret
        assert totals["2023"] == totals["2023H1"] == "published", table.id


def test_clients_at_one_provider_in_each_half_are_at_two_for_the_year() -> None:
    """The providers-per-client table is protected with the halves (the grand total it shares
    with the other tables); a client at P1 in the first half and P2 in the second is at two
    providers for the year and at one in each half, so the year's "2 providers" exceeds the sum of
    its halves' (0 + 0). That dimension is related to its parts in no way (the rules'
    ``period_counted``); the build stopped with a DataError before."""
    rows = []
    for client in range(1, 61):
        first = row(client, "Assen", date(2023, 2, 1), 30)
        rows.append({**first, "provider": "P1"})
        if client <= 40:  # 40 clients change provider in the second half
            rows.append({**row(client, "Assen", date(2023, 8, 1), 30), "provider": "P2"})
    data = rows_of(rows)
    settings = RoundConfig(
        dimensions=("municipality", "care_form"), cross=(), period=YEAR, parts=HALVES
    )
    assert count(data, period=YEAR).clients_by_provider_count == {1: 20, 2: 40}
    for half in HALVES:
        assert set(count(data, period=half).clients_by_provider_count) == {1}
    public = build_report(data, settings)
    internal = build_report(data, settings, internal=True)
    assert {t.id for t in public.tables} == {t.id for t in internal.tables}
