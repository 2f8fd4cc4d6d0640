"""Tests of the suppression search: optimal, clean-up and heuristic; both attacker models."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factlab.cli.protect  # noqa: F401  (registers the command)
from factlab.cli import main
from factlab.disclosure.attack import Attacker
from factlab.disclosure.audit import (
    audit,
    audit_lattice,
    build_system,
    integer_interval,
    integer_width,
    interval,
)
from factlab.disclosure.lattice import prepare
from factlab.disclosure.protect import protect, protection_report
from factlab.disclosure.rules import (
    PRESETS,
    DisclosureRules,
    MeasureRule,
    load_rules,
    preset,
    rules_from_mapping,
)
from factlab.disclosure.suppress import Search, clean_up, costs, suppress
from factlab.errors import ConfigError, DataError

ADDITIVE = (MeasureRule("registrations", "additive"),)
NO_ROUNDING = DisclosureRules(rounding_base=1, measures=ADDITIVE)

# A client: (municipality, {care form: registrations}); one municipality per client.
Client = tuple[str, dict[str, int]]


def count_table(clients: list[Client]) -> pl.DataFrame:
    """The oracle: municipality × care form with all margins, by plain-Python sets."""
    munis = sorted({m for m, _ in clients})
    forms = sorted({f for _, fs in clients for f in fs})
    rows = []
    for muni in [*munis, None]:
        for form in [*forms, None]:
            ids, registrations = set(), 0
            for index, (m, fs) in enumerate(clients):
                for f, n in fs.items():
                    if (muni is None or m == muni) and (form is None or f == form):
                        ids.add(index)
                        registrations += n
            rows.append((muni, form, len(ids), registrations))
    return pl.DataFrame(
        rows,
        schema=["municipality", "care_form", "unique_clients", "registrations"],
        orient="row",
    )


def additive_table(values: np.ndarray) -> pl.DataFrame:
    """A table of any dimension from its interior cells, margins the sums ("registrations")."""
    names = "abcde"[: values.ndim]
    rows = []
    for combo in itertools.product(*[[None, *range(n)] for n in values.shape]):
        index = tuple(slice(None) if c is None else c for c in combo)
        labels = [None if c is None else f"{names[k]}{c}" for k, c in enumerate(combo)]
        rows.append((*labels, int(values[index].sum())))
    return pl.DataFrame(rows, schema=[*names, "registrations"], orient="row")


def skewed(shape: tuple[int, ...], seed: int) -> pl.DataFrame:
    """Many small cells and a few large ones, some zeros."""
    rng = np.random.default_rng(seed)
    values = np.floor(rng.lognormal(2.0, 1.3, size=shape)).astype(int)
    values[rng.random(shape) < 0.1] = 0
    return additive_table(values)


def lost(lattice_rules: DisclosureRules, counts: pl.DataFrame, method: str) -> float:
    lattice = prepare(counts, lattice_rules)
    pattern, _ = suppress(lattice, dataclasses.replace(lattice_rules, method=method))
    return float(lattice.values[0][pattern & ~lattice.primary].sum())


clients_strategy = st.lists(
    st.tuples(
        st.sampled_from(("Assen", "Emmen", "Meppel")),
        st.dictionaries(
            st.sampled_from(("ambulant", "verblijf", "crisis")),
            st.integers(1, 4),
            min_size=1,
            max_size=2,
        ),
    ),
    min_size=1,
    max_size=50,
)
search_settings = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- the search never publishes what the audit rejects ---------------------------------------


@search_settings
@given(
    clients=clients_strategy,
    name=st.sampled_from(sorted(PRESETS)),
    base=st.sampled_from([1, 5]),
    method=st.sampled_from(["optimal", "cleanup"]),
    cost=st.sampled_from(["value", "cells", "log"]),
)
def test_the_search_never_returns_a_pattern_the_audit_rejects(
    clients: list[Client], name: str, base: int, method: str, cost: str
) -> None:
    rules = dataclasses.replace(preset(name), rounding_base=base, method=method, cost=cost)
    counts = count_table(clients)
    lattice = prepare(counts, rules)
    pattern, search = suppress(lattice, rules)
    assert not np.any(lattice.primary & ~pattern)
    assert audit_lattice(lattice, pattern, rules).passed
    # And through protect: the audit from scratch, on the exact counts, agrees.
    protected = protect(counts, rules)
    assert audit(counts, protected.table.suppressed_cells(), rules).passed
    if search.proven_optimal:
        # Nothing the heuristic finds is cheaper than a proven optimum.
        greedy, _ = suppress(lattice, dataclasses.replace(rules, method="heuristic"))
        price = costs(lattice, cost)
        assert price[pattern].sum() <= price[greedy].sum() + 1e-9


@pytest.mark.parametrize(
    ("shape", "seed"),
    [
        ((4, 3), 1),
        ((6, 5), 2),
        ((4, 3, 3), 7),
        pytest.param((5, 4, 2), 6, marks=pytest.mark.slow),
        ((8, 6), 5),
    ],
)
def test_optimal_loses_no_more_than_the_heuristic_or_the_clean_up(
    shape: tuple[int, ...], seed: int
) -> None:
    counts = skewed(shape, seed)
    heuristic = lost(NO_ROUNDING, counts, "heuristic")
    cleaned = lost(NO_ROUNDING, counts, "cleanup")
    optimal = lost(NO_ROUNDING, counts, "optimal")
    assert optimal <= cleaned <= heuristic
    lattice = prepare(counts, NO_ROUNDING)
    _, search = suppress(lattice, NO_ROUNDING)
    assert search.proven_optimal
    assert search.used == "optimal"


def test_optimal_is_the_cheapest_safe_pattern_by_enumeration() -> None:
    # Every subset of the complementary cells, audited: the optimum is the cheapest safe one.
    values = np.array([[3, 9, 14], [12, 2, 30]])
    counts = additive_table(values)
    lattice = prepare(counts, NO_ROUNDING)
    price = costs(lattice, "value")
    free = np.flatnonzero(~lattice.primary)
    attacker = Attacker(lattice, NO_ROUNDING)
    best = np.inf
    for size in range(len(free) + 1):
        for chosen in itertools.combinations(free, size):
            pattern = lattice.primary.copy()
            pattern[list(chosen)] = True
            if price[pattern].sum() < best and not attacker.failures(pattern, first=True):
                assert audit_lattice(lattice, pattern, NO_ROUNDING).passed
                best = price[pattern].sum()
    pattern, search = suppress(lattice, NO_ROUNDING)
    assert search.proven_optimal
    assert price[pattern].sum() == pytest.approx(best)


def test_clean_up_drops_a_redundant_complement() -> None:
    # a = 3 is secret; hiding b (20) protects it; d (50) adds nothing and is dropped, largest
    # first; b is tried next and kept.
    counts = pl.DataFrame(
        {"care_form": ["a", "b", "c", "d", None], "registrations": [3, 20, 30, 50, 103]}
    )
    lattice = prepare(counts, NO_ROUNDING)
    labels = lattice.cells["care_form"].to_list()
    pattern = np.array([label in ("a", "b", "d") for label in labels])
    assert audit_lattice(lattice, pattern, NO_ROUNDING).passed
    cleaned = clean_up(pattern, Attacker(lattice, NO_ROUNDING), costs(lattice, "value"))
    assert [label for label, hidden in zip(labels, cleaned, strict=True) if hidden] == ["a", "b"]
    assert audit_lattice(lattice, cleaned, NO_ROUNDING).passed


def test_clean_up_improves_the_heuristic_on_a_table_where_it_over_suppresses() -> None:
    counts = skewed((5, 4, 2), 6)
    lattice = prepare(counts, NO_ROUNDING)
    pattern, search = suppress(lattice, dataclasses.replace(NO_ROUNDING, method="cleanup"))
    assert search.dropped > 0
    assert search.costs["cleanup"] < search.costs["heuristic"]
    assert audit_lattice(lattice, pattern, NO_ROUNDING).passed


def test_costs_choose_between_value_and_number_of_cells() -> None:
    counts = skewed((6, 5), 2)
    lattice = prepare(counts, NO_ROUNDING)
    by = {}
    for cost in ("value", "cells", "log"):
        pattern, search = suppress(lattice, dataclasses.replace(NO_ROUNDING, cost=cost))
        assert search.proven_optimal
        assert search.cost == cost
        secondary = pattern & ~lattice.primary
        by[cost] = (int(secondary.sum()), int(lattice.values[0][secondary].sum()))
    assert by["cells"][0] <= by["log"][0] <= by["value"][0]
    assert by["value"][1] <= by["log"][1] <= by["cells"][1]


def test_the_search_is_deterministic_and_reported() -> None:
    counts = skewed((4, 3, 3), 3)
    first = protect(counts, NO_ROUNDING)
    again = protect(counts.sample(fraction=1.0, shuffle=True, seed=1), NO_ROUNDING)
    assert first.table.frame.equals(again.table.frame)
    assert first.report.to_dict() == again.report.to_dict()
    search = first.report.to_dict()["search"]
    assert (search["method"], search["used"], search["proven_optimal"]) == (
        "optimal", "optimal", True,
    )  # fmt: skip


def test_a_search_out_of_time_is_an_error_not_another_pattern() -> None:
    """The pattern must not depend on the machine's speed (tests/disclosure/test_search_clock)."""
    counts = skewed((4, 3, 3), 3)
    rules = dataclasses.replace(NO_ROUNDING, time_limit=0)
    with pytest.raises(DataError, match=r"time limit \(\[suppression\] time_limit\)"):
        protect(counts, rules)
    protected = protect(counts, dataclasses.replace(rules, method="cleanup"))
    search = protected.report.search
    assert search is not None
    assert (search.used, search.stopped) == ("cleanup", None)
    assert protected.report.audit.passed


def test_protect_secondary_is_required_of_the_complements_the_search_picks() -> None:
    counts = pl.DataFrame(
        {"care_form": ["a", "b", "c", "d", None], "registrations": [3, 40, 30, 50, 123]}
    )
    rules = dataclasses.replace(NO_ROUNDING, protection_percent=200, protect_secondary=True)
    protected = protect(counts, rules)
    cells = protected.report.audit.cells
    assert cells["required_width"].is_not_null().all()
    assert (cells["width"] >= cells["required_width"]).all()
    assert protected.table.suppressed_cells()["care_form"].to_list() == ["a", "b", "c", "d"]


def test_the_report_counts_distinct_cells_and_the_value_really_hidden() -> None:
    counts = pl.DataFrame({"care_form": ["a", "b", "c", None], "registrations": [3, 20, 30, 53]})
    report = protect(counts, NO_ROUNDING).report
    hidden = report.to_dict()["hidden"]["registrations"]
    assert hidden == {"cells": 2, "value": 23, "derivable": 0, "hidden": 23}
    # A complement the audit pins down to one value hides nothing: "derivable".
    table = additive_table(np.array([[3, 20, 30], [40, 50, 60], [11, 12, 13]]))
    lattice = prepare(table, NO_ROUNDING)
    keys = lattice.key_frame()
    # The secret 3 in a rectangle of four, and 13 alone in its row and column.
    chosen = {("a0", "b0"), ("a0", "b1"), ("a1", "b0"), ("a1", "b1"), ("a2", "b2")}
    pattern = np.array([(r["a"], r["b"]) in chosen for r in keys.iter_rows(named=True)])
    result = audit_lattice(lattice, pattern, NO_ROUNDING)
    assert result.passed  # 13 is not secret: it need not be protected
    search = Search("heuristic", "heuristic", "value", {}, False, None, 0)
    report = protection_report(lattice, pattern, NO_ROUNDING, result, search)
    assert report.hidden["registrations"] == {
        "cells": 5, "value": 126, "derivable": 13, "hidden": 113,
    }  # fmt: skip


# --- the attacker models -----------------------------------------------------------------

# A 2^5 table whose 3-way margins (and coarser) are published and everything finer hidden: the
# cell b0 × c0 × d0 × e0 (total over a) lies in [2.5, 4] by linear programming (3..4 once the
# ends are whole), but is 3 in every table of whole numbers with these margins.
BINARY_5 = np.array(
    [0, 1, 4, 0, 2, 0, 1, 1, 0, 1, 2, 1, 4, 0, 4, 0, 3, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 3, 1]
).reshape(2, 2, 2, 2, 2)
EXACT = DisclosureRules(
    rounding_base=1, secret_max=0, zero_is_secret=False, min_width=1, measures=ADDITIVE
)


def test_integer_intervals_are_narrower_than_linear_ones_on_a_five_way_table() -> None:
    counts = additive_table(BINARY_5)
    lattice = prepare(counts, EXACT)
    totals = lattice.cells.select(pl.sum_horizontal(pl.all().exclude("registrations").is_null()))
    hidden = totals.to_series().to_numpy() <= 1  # the 3-way margins and coarser are published
    system = build_system(lattice, hidden, EXACT)
    keys = lattice.key_frame().with_row_index("_cell")
    cell = keys.filter(
        pl.col("a").is_null(), pl.col("b") == "b0", pl.col("c") == "c0", pl.col("d") == "d0",
        pl.col("e") == "e0",
    )["_cell"][0]  # fmt: skip
    low, high, _ = interval(system, int(cell))
    assert (low, high) == pytest.approx((2.5, 4.0))
    assert integer_width(low, high) == 1
    assert integer_interval(system, int(cell)) == (3.0, 3.0, True)
    assert lattice.values[0, cell] == 3  # the truth lies in both


def test_the_integer_audit_is_stricter_and_the_lp_audit_stays_the_judge() -> None:
    # Every hidden value required to be at least 1 wide: the LP audit passes it, the integer
    # audit finds the cell above pinned to 3.
    counts = additive_table(BINARY_5)
    lattice = prepare(counts, EXACT)
    totals = lattice.cells.select(pl.sum_horizontal(pl.all().exclude("registrations").is_null()))
    hidden = totals.to_series().to_numpy() <= 1
    rules = dataclasses.replace(EXACT, protect_secondary=True)
    lp = audit_lattice(lattice, hidden, rules, attacker="lp")
    integer = audit_lattice(lattice, hidden, rules, attacker="integer")
    assert (lp.attacker, integer.attacker) == ("lp", "integer")
    assert (integer.cells["width"] <= lp.cells["width"]).all()
    assert (integer.cells["lower"] >= lp.cells["lower"]).all()
    assert integer.failures().height > lp.failures().height


def test_protection_against_the_integer_attacker() -> None:
    counts = skewed((4, 3), 7)
    rules = dataclasses.replace(NO_ROUNDING, attacker="integer")
    protected = protect(counts, rules)
    report = protected.report
    assert report.integer_audit is not None
    assert report.integer_audit.passed
    assert report.audit.passed
    assert report.audit.attacker == "lp"
    result = audit(counts, protected.table.suppressed_cells(), rules)  # rules: integer
    assert result.attacker == "integer"
    assert result.passed


# --- rules and command line -------------------------------------------------------------


def test_rules_file_names_the_search(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'version = 1\n[suppression]\nmethod = "cleanup"\ncost = "log"\ntime_limit = 5\n'
        '[protection]\nattacker = "integer"\n'
    )
    rules = load_rules(path)
    assert (rules.method, rules.cost, rules.time_limit, rules.attacker) == (
        "cleanup", "log", 5, "integer",
    )  # fmt: skip
    assert rules_from_mapping(rules.to_dict()) == rules
    path.write_text(
        'version = 1\n[suppression]\nmethod = "best"\ncost = 3\ntime_limit = -1\nnodes = 1\n'
        '[protection]\nattacker = "ilp"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert caught.value.problems == [
        "protection.attacker: must be one of lp, integer",
        "suppression.method: must be one of optimal, cleanup, heuristic",
        "suppression.cost: must be one of value, cells, log",
        "suppression.time_limit: must be a number >= 0",
        "suppression.nodes: unknown key",
    ]


def test_cli_chooses_method_and_cost(tmp_path: Path) -> None:
    counts = tmp_path / "counts.csv"
    skewed((5, 4), 9).write_csv(counts)
    rules = tmp_path / "rules.toml"
    rules.write_text('version = 1\n[rounding]\nbase = 1\n[measures]\nregistrations = "additive"\n')
    runner = CliRunner()
    found = {}
    for method in ("heuristic", "optimal"):
        report = tmp_path / f"{method}.json"
        result = runner.invoke(
            main,
            ["protect", str(counts), "--out", str(tmp_path / f"{method}.csv"), "--rules",
             str(rules), "--report", str(report), "--method", method, "--cost", "cells"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        found[method] = json.loads(report.read_text())
    assert found["heuristic"]["search"]["method"] == "heuristic"
    assert found["optimal"]["search"]["cost"] == "cells"
    assert (
        found["optimal"]["suppressed"]["secondary"] <= found["heuristic"]["suppressed"]["secondary"]
    )
    result = runner.invoke(main, ["protect", str(counts), "--out", str(tmp_path / "x.csv"),
                                  "--method", "best"])  # fmt: skip
    assert result.exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(6, 5, 3), (10, 8, 3), (20, 8, 3)])
def test_optimal_on_large_skewed_tables(shape: tuple[int, ...]) -> None:
    counts = skewed(shape, 1)
    rules = dataclasses.replace(NO_ROUNDING, time_limit=300)
    lattice = prepare(counts, rules)
    pattern, search = suppress(lattice, rules)
    assert search.proven_optimal
    assert audit_lattice(lattice, pattern, rules).passed
    assert lost(rules, counts, "optimal") <= lost(rules, counts, "heuristic")


def test_random_small_tables_with_the_integer_attacker() -> None:
    rng = random.Random(4)
    for _ in range(3):
        values = np.array([[rng.choice([1, 2, 5, 9, 20]) for _ in range(3)] for _ in range(3)])
        counts = additive_table(values)
        rules = dataclasses.replace(NO_ROUNDING, attacker="integer")
        protected = protect(counts, rules)
        assert protected.report.integer_audit is not None
        assert protected.report.integer_audit.passed
