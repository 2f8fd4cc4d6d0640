"""Dimensions chosen per period (the most recent municipality): a year is not a union of halves.

The lattice keeps, over the part column, only the relations the counting rule guarantees in the
cells of such a dimension, whatever the data: year <= sum of the halves where every other
dimension is a total, nothing elsewhere. A relation read off the data would show in the pattern.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from factlab.disclosure.attack import candidates
from factlab.disclosure.audit import build_system, interval
from factlab.disclosure.lattice import Lattice, grand_totals, prepare
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import (
    PERIOD_VALUED,
    DisclosureRules,
    MeasureRule,
    rules_from_mapping,
)
from factlab.errors import ConfigError, DataError

UNIQUE = (MeasureRule("unique_clients"),)


def table(values: dict[str | None, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"municipality": list(values), "unique_clients": list(values.values())},
        schema={"municipality": pl.String, "unique_clients": pl.Int64},
    )


# Nine of Assen's twelve first-half clients moved to Emmen: 3 in Assen for the year.
YEAR = table({"Assen": 3, "Emmen": 40, None: 43})
FIRST = table({"Assen": 12, "Emmen": 20, None: 32})
SECOND = table({"Assen": 0, "Emmen": 39, None: 39})


def test_the_union_check_stops_only_dimensions_not_chosen_per_period() -> None:
    parts = {"H1": FIRST, "H2": SECOND}
    lattice = prepare(YEAR, DisclosureRules(measures=UNIQUE), parts=parts, label="Y")
    assert lattice.size == 9
    with pytest.raises(DataError, match="over period not between the largest cell and the sum"):
        prepare(YEAR, DisclosureRules(measures=UNIQUE, period_valued=()), parts=parts, label="Y")


def _over_part(lattice: Lattice) -> dict[tuple[str | None, ...], tuple[bool, tuple[bool, ...]]]:
    """Per parent cell, its relation over the part column: (year <= sum, each half <= year)."""
    keys = lattice.key_frame().rows()
    found = {}
    for group in np.flatnonzero(lattice.group_key == 0):
        edges = np.flatnonzero(lattice.edge_group == group)
        found[keys[int(lattice.group_parent[group])]] = (
            bool(lattice.group_upper[0, group]),
            tuple(bool(lattice.edge_lower[0, e]) for e in edges),
        )
    return found


def test_only_the_relations_the_counting_rule_guarantees_relate_a_year_to_its_halves() -> None:
    lattice = prepare(YEAR, DisclosureRules(measures=UNIQUE), parts={"H1": FIRST, "H2": SECOND})
    relations = _over_part(lattice)
    # Assen: year 3 <= 12 + 0 by the rule; no half <= year, though H2 0 <= 3 holds in the data.
    assert relations[("whole", "Assen")] == (True, (False, False))
    assert relations[("whole", "Emmen")] == (True, (False, False))
    # The grand total is a union of its halves: both ways.
    assert relations[("whole", None)] == (True, (True, True))
    # Never an equality over the part column.
    assert not lattice.group_equal[0, lattice.group_key == 0].any()


def _cross(first_h2: int) -> dict[str, pl.DataFrame]:
    """Municipality x care form; the second half's (Assen, a) is ``first_h2``."""

    def frame(rows: list[tuple[str | None, str | None, int]]) -> pl.DataFrame:
        return pl.DataFrame(
            rows,
            schema={"municipality": pl.String, "care_form": pl.String, "unique_clients": pl.Int64},
            orient="row",
        )

    def grid(values: dict[tuple[str, str], int]) -> pl.DataFrame:
        rows: list[tuple[str | None, str | None, int]] = [(m, c, v) for (m, c), v in values.items()]
        for m in ("Assen", "Emmen"):
            rows.append((m, None, sum(v for (n, _), v in values.items() if n == m)))
        for c in ("a", "b"):
            rows.append((None, c, sum(v for (_, d), v in values.items() if d == c)))
        rows.append((None, None, sum(values.values())))
        return frame(rows)

    year = {("Assen", "a"): 20, ("Assen", "b"): 30, ("Emmen", "a"): 25, ("Emmen", "b"): 40}
    first = {("Assen", "a"): 12, ("Assen", "b"): 18, ("Emmen", "a"): 13, ("Emmen", "b"): 22}
    second = {("Assen", "a"): first_h2, ("Assen", "b"): 12, ("Emmen", "a"): 12, ("Emmen", "b"): 18}
    return {"Y": grid(year), "H1": grid(first), "H2": grid(second)}


@pytest.mark.parametrize("second_half", [8, 30])
def test_the_relations_do_not_depend_on_the_data(second_half: int) -> None:
    """Halves that add up to the year (8: nobody in both) or exceed it (30) give the same
    relations; a municipality by care form has none over the part column."""
    rules = DisclosureRules(measures=UNIQUE, dimensions=("municipality", "care_form"))
    frames = _cross(second_half)
    lattice = prepare(frames["Y"], rules, parts={"H1": frames["H1"], "H2": frames["H2"]})
    relations = _over_part(lattice)
    for town in ("Assen", "Emmen"):
        assert relations[("whole", town, None)] == (True, (False, False))
        for form in ("a", "b"):
            assert relations[("whole", town, form)] == (False, (False, False))
    for form in ("a", "b"):  # care form alone is not period-valued: a union
        assert relations[("whole", None, form)] == (True, (True, True))
    assert relations[("whole", None, None)] == (True, (True, True))
    assert not lattice.group_equal[0, lattice.group_key == 0].any()
    assert "period" not in lattice.additive_keys[0]


def test_a_year_above_the_sum_of_its_halves_is_refused_in_a_municipality_total() -> None:
    with pytest.raises(DataError, match="over period not at most the sum"):
        prepare(
            table({"Assen": 30, "Emmen": 40, None: 70}),
            DisclosureRules(measures=UNIQUE),
            parts={"H1": FIRST, "H2": SECOND},
        )


def test_the_audit_uses_year_at_most_the_sum_of_the_halves() -> None:
    """Assen's H1 is bounded below by the published year minus the published H2."""
    lattice = prepare(YEAR, DisclosureRules(measures=UNIQUE), parts={"H1": FIRST, "H2": SECOND})
    keys = lattice.key_frame().rows()
    target = keys.index(("H1", "Assen"))
    hidden = np.zeros(lattice.size, dtype=bool)
    hidden[[target, keys.index(("H1", "Emmen"))]] = True
    low, high, _ = interval(build_system(lattice, hidden, DisclosureRules(rounding_base=1)), target)
    assert low == pytest.approx(3.0)  # year 3 <= H1 + H2 = H1 + 0
    # the first half's total 32 minus Emmen's H1, at least 1: Emmen's year 40 <= H1 + 39
    assert high == pytest.approx(31.0)


def test_a_protected_year_with_movers_keeps_its_exact_values_and_hides_the_secret() -> None:
    result = protect(
        YEAR, DisclosureRules(measures=UNIQUE, rounding_base=1), parts={"H1": FIRST, "H2": SECOND}
    )
    shown = {
        (p, m): v
        for p, m, v in result.table.frame.select("period", "municipality", "unique_clients").rows()
    }
    assert shown[("whole", "Assen")] is None  # 3 is secret
    assert shown[("H2", "Assen")] is None  # 0 is secret under the cbs rules
    assert result.report.audit.passed


def test_period_valued_in_a_rules_file_and_back() -> None:
    rules = rules_from_mapping({"version": 1, "table": {"period_valued": ["municipality", "gm"]}})
    assert rules.period_valued == ("municipality", "gm")
    assert rules.to_dict()["table"] == {"period_valued": ["municipality", "gm"]}
    assert "table" not in DisclosureRules().to_dict()  # the default is not written out
    assert DisclosureRules().period_valued == PERIOD_VALUED == ("municipality",)
    with pytest.raises(ConfigError, match=r"table\.period_valued"):
        rules_from_mapping({"version": 1, "table": {"period_valued": "municipality"}})


def test_keep_total_avoids_a_grand_total_as_a_complement() -> None:
    """Tables protected apart that share a total (a report's) keep it published when they can."""
    parts = {"H1": FIRST, "H2": SECOND}
    kept = DisclosureRules(measures=UNIQUE, keep_total=True)
    lattice = prepare(YEAR, kept, parts=parts, label="Y")
    totals = grand_totals(lattice)
    rows = lattice.key_frame().rows()
    assert [rows[i][1] for i in np.flatnonzero(totals)] == [None, None, None]
    # Still a candidate (a last resort), but dearer than every other cell together.
    assert (candidates(lattice, kept) & totals).sum() == 3
    assert (candidates(lattice, DisclosureRules(measures=UNIQUE)) & totals).sum() == 3
    assert kept.to_dict()["table"] == {"keep_total": True}
    assert rules_from_mapping({"version": 1, "table": {"keep_total": True}}).keep_total
    for method in ("heuristic", "optimal"):
        chosen = dataclasses.replace(kept, method=method, rounding_base=1)
        frame = protect(YEAR, chosen, parts=parts).table.frame
        shown = frame.filter(pl.col("municipality").is_null())["unique_clients_status"]
        assert (shown == "published").all()


@pytest.mark.parametrize("method", ["heuristic", "cleanup", "optimal"])
def test_keep_total_hides_a_total_when_nothing_else_protects_it(method: str) -> None:
    """A half with a few clients and nobody in both halves: its secret total is protected
    (before, keep_total left no cell to suppress and protect failed)."""
    year = table({"Assen": 50, "Emmen": 43, None: 93})
    first = table({"Assen": 48, "Emmen": 40, None: 88})
    second = table({"Assen": 2, "Emmen": 3, None: 5})
    rules = DisclosureRules(measures=UNIQUE, keep_total=True, method=method, rounding_base=1)
    result = protect(year, rules, parts={"H1": first, "H2": second}, label="Y")
    status = {
        (p, m): s
        for p, m, s in result.table.frame.select(
            "period", "municipality", "unique_clients_status"
        ).rows()
    }
    assert status[("H2", None)] == "suppressed"  # 5 is secret (primary)
    assert result.report.audit.passed
    # The year's total and the first half's stay published: the part column is not additive
    # (no outsider knows nobody is in both halves), so they do not give the second half away.
    assert status[("Y", None)] == status[("H1", None)] == "published"
