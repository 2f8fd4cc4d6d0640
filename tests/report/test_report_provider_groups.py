"""Provider groups in a report (issue #20): only without the provider overlap matrix.

A group is the union of its providers' clients. Beside the overlap matrix (protected on its
own), a group of two gives a + b - shared(a, b) away; so a report tabulates ``provider_group``
only when it leaves the matrix out (``[providers] overlap = false``), and then protects the
group table together with its other one-dimension tables. The attacker below knows every
published number and the relations the counting implies.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.optimize import linprog

from factlab import schema
from factlab.analysis.counts import count
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.errors import ConfigError
from factlab.periods import parse_period
from factlab.reference.config import Reference, reference_from_mapping
from factlab.reference.providers import providers_from_mapping
from factlab.report.build import build_report
from factlab.report.config import RoundConfig, parse_round_config

YEAR = parse_period("2023")
GROUPS = {"P1": "GI", "P2": "GI", "P3": "top 5", "P4": "top 5", "P5": "JZ+"}
EXACT = DisclosureRules(rounding_base=1)


def reference() -> Reference:
    registry = providers_from_mapping(
        {
            "version": 1,
            "provider": [
                {
                    "code": code,
                    "name": f"Aanbieder {code}",
                    "group": group,
                    "contracted": [{"from": date(2020, 1, 1)}],
                }
                for code, group in GROUPS.items()
            ],
        }
    )
    bare = reference_from_mapping({"version": 1, "reference_year": 2024})
    return dataclasses.replace(bare, providers=registry)


def clients(*providers: str, start: int = 1, people: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "pseudonym": f"{start + person:032x}",
            "bsn_status": "valid",
            "provider": provider,
            "care_form": "ambulant" if person % 2 else "verblijf",
            "financing": "PGB" if person % 5 == 0 else "ZIN",
            "start_date": date(2023, 3 if person % 3 else 9, 1),
            "end_date": date(2023, 5 if person % 3 else 11, 1),
        }
        for person in range(people)
        for provider in providers
    ]


def rows() -> pl.DataFrame:
    """GI = P1 ∪ P2 with 3 clients at both; JZ+ has 4 clients; nobody is in two groups."""
    found = clients("P1", start=1, people=40) + clients("P2", start=100, people=35)
    found += clients("P1", "P2", start=200, people=3)
    found += clients("P3", start=300, people=45) + clients("P4", start=400, people=25)
    found += clients("P5", start=500, people=4)
    return pl.DataFrame(found).with_columns(
        pl.col("bsn_status").cast(schema.STATUS_DTYPE),
    )


def settings(**given: Any) -> RoundConfig:
    base: dict[str, Any] = {
        "dimensions": ("provider_group", "care_form"),
        "cross": (),
        "period": YEAR,
        "reference": reference(),
        "publish_overlap": False,
        "anonymise_providers": False,
        "rules": EXACT,
    }
    return RoundConfig(**(base | given))


def group_table(report: Any) -> dict[str | None, int | None]:
    frame = next(t for t in report.tables if t.id == "by-provider_group").source.frame
    if "period" in frame.columns:
        frame = frame.filter(pl.col("period") == YEAR.label)
    return dict(frame.select("provider_group", "unique_clients").rows())


def test_provider_group_needs_the_overlap_left_out() -> None:
    with pytest.raises(ConfigError, match=r"provider_group.*overlap = false under \[providers\]"):
        settings(publish_overlap=True)
    assert settings().publish_overlap is False
    with pytest.raises(ConfigError, match=r"providers\.overlap: must be true or false"):
        parse_round_config({"version": 1, "providers": {"overlap": "no"}})
    parsed = parse_round_config({"version": 1, "providers": {"overlap": False}})
    assert parsed.publish_overlap is False


def test_the_group_table_counts_unions_and_the_report_has_no_overlap() -> None:
    data = rows()
    internal = build_report(data, settings(), internal=True)
    expected: dict[str | None, set[str]] = {None: set()}
    for client, provider in data.select("pseudonym", "provider").iter_rows():
        expected.setdefault(GROUPS[provider], set()).add(client)
        expected[None].add(client)
    assert group_table(internal) == {k: len(v) for k, v in expected.items()}
    public = build_report(data, settings())
    ids = [table.id for table in public.tables]
    assert "overlap" not in ids
    assert ids == ["by-provider_group", "by-care_form", "providers-per-client", "data-quality"]
    with_overlap = build_report(data, settings(dimensions=("care_form",), publish_overlap=True))
    assert "overlap" in [table.id for table in with_overlap.tables]


Cell = tuple[str, str | None]  # (period, group; None: the total)


def attacker_width(shown: dict[Cell, int | None], target: Cell) -> float:
    """Width of the values of ``target`` consistent with every published group count (LP).

    The attacker knows: a group is at most its period's total; nobody is in two groups (which
    holds in these data, so an attacker may know it): the total is the sum of the groups; and a
    year is the union of its halves, cell by cell (year <= H1 + H2, each half <= the year).
    """
    cells = list(shown)
    index = {cell: i for i, cell in enumerate(cells)}
    bounds = [(v, v) if v is not None else (0, None) for v in shown.values()]
    upper: list[np.ndarray[Any, Any]] = []
    equal: list[np.ndarray[Any, Any]] = []

    def line(plus: list[Cell], minus: list[Cell]) -> np.ndarray[Any, Any]:
        found = np.zeros(len(cells))
        for cell in plus:
            found[index[cell]] += 1.0
        for cell in minus:
            found[index[cell]] -= 1.0
        return found

    periods = sorted({period for period, _ in cells})
    groups = sorted({group for _, group in cells if group is not None})
    for period in periods:
        equal.append(line([(period, None)], [(period, g) for g in groups]))
        upper += [line([(period, g)], [(period, None)]) for g in groups]
    halves = [period for period in periods if period != YEAR.label]
    for group in [*groups, None]:
        if halves:
            whole = (YEAR.label, group)
            upper.append(line([whole], [(half, group) for half in halves]))
            upper += [line([(half, group)], [whole]) for half in halves]
    goal = line([target], [])
    given: dict[str, Any] = {
        "A_ub": np.array(upper),
        "b_ub": np.zeros(len(upper)),
        "A_eq": np.array(equal),
        "b_eq": np.zeros(len(equal)),
        "bounds": bounds,
    }
    low, high = linprog(goal, **given), linprog(-goal, **given)
    assert low.status == 0
    if high.status == 3:  # unbounded: the total is hidden too
        return float("inf")
    return float(-high.fun - low.fun)


def group_cells(report: Any) -> dict[Cell, int | None]:
    frame = next(t for t in report.tables if t.id == "by-provider_group").source.frame
    if "period" not in frame.columns:
        frame = frame.with_columns(pl.lit(YEAR.label).alias("period"))
    return {
        (period, group): value
        for period, group, value in frame.select(
            "period", "provider_group", "unique_clients"
        ).rows()
    }


@pytest.mark.parametrize(
    ("dims", "parts"),
    [
        (("provider_group", "care_form"), ()),  # the main table, protected on its own
        (("provider_group", "care_form"), (parse_period("2023H1"), parse_period("2023H2"))),
        # protected together with the other one-dimension tables
        (("care_form", "provider_group", "financing"), ()),
        (("care_form", "provider_group"), (parse_period("2023H1"), parse_period("2023H2"))),
    ],
)
def test_a_suppressed_group_is_not_narrowed_by_what_the_report_publishes(
    dims: tuple[str, ...], parts: tuple[Any, ...]
) -> None:
    chosen = settings(dimensions=dims, parts=parts)
    shown = group_cells(build_report(rows(), chosen))
    exact = group_cells(build_report(rows(), chosen, internal=True))
    assert shown[(YEAR.label, "JZ+")] is None  # 4 clients: secret
    secret = [c for c, v in exact.items() if v is not None and v <= EXACT.secret_max]
    for cell in secret:
        need = max(EXACT.min_width, EXACT.protection_percent / 100 * (exact[cell] or 0))
        assert attacker_width(shown, cell) >= need, cell
    # Teeth: with the complementary suppressions shown, a secret group is found out.
    bare = {cell: (None if cell in secret else exact[cell]) for cell in exact}
    assert min(attacker_width(bare, cell) for cell in secret) < EXACT.min_width


def test_the_group_table_beside_the_overlap_matrix_gives_a_shared_cell_away() -> None:
    """Why the two are never published together: protected apart, a + b - GI = shared(a, b)."""
    data = rows()
    matrix = next(
        t.source.frame
        for t in build_report(
            data, settings(dimensions=("care_form",), publish_overlap=True)
        ).tables
        if t.id == "overlap"
    )
    cell = {
        (a, b): v for a, b, v in matrix.select("provider_a", "provider_b", "shared_clients").rows()
    }
    assert cell[("P1", "P2")] is None  # 3 shared clients: secret in the matrix
    counts = count(data, by=("provider_group",), period=YEAR, reference=reference()).table
    rules = dataclasses.replace(
        EXACT, measures=(MeasureRule("unique_clients", "union"),), dimensions=("provider_group",)
    )
    groups = dict(
        protect(counts.select("provider_group", "unique_clients"), rules)
        .table.frame.select("provider_group", "unique_clients")
        .rows()
    )
    a, b, gi = cell[("P1", "P1")], cell[("P2", "P2")], groups["GI"]
    assert a is not None
    assert b is not None
    assert gi is not None
    assert a + b - gi == 3  # the suppressed cell, exactly
