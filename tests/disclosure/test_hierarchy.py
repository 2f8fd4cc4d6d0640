"""Tests of hierarchical dimensions and of tables protected together."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factlab.disclosure.audit import audit, audit_lattice
from factlab.disclosure.hierarchy import roll_up, tree
from factlab.disclosure.lattice import mask_of, prepare
from factlab.disclosure.linked import LinkedTable, prepare_linked, protect_together
from factlab.disclosure.protect import protect, read_protected, write_protected
from factlab.disclosure.rules import (
    PRESETS,
    DisclosureRules,
    MeasureRule,
    load_rules,
    preset,
    rules_from_mapping,
)
from factlab.errors import ConfigError, DataError

REGIONS = {"North": ["Assen", "Emmen", "Tynaarlo"], "South": ["Meppel"]}
FORMS = ("ambulant", "verblijf", "crisis")
NO_ROUNDING = DisclosureRules(rounding_base=1)
ADDITIVE = (MeasureRule("registrations", "additive"),)

# A client: (municipality, {care form: registrations}); one municipality per client.
Client = tuple[str, dict[str, int]]


def hierarchical_table(
    clients: Sequence[Client], regions: Mapping[str, Sequence[str]] = REGIONS
) -> pl.DataFrame:
    """The oracle: municipality (with its regions) × care form, by plain-Python sets."""
    within = {region: set(members) for region, members in regions.items()}
    for members in regions.values():
        within.update({member: {member} for member in members})
    rows = []
    for code in [*within, None]:
        for form in [*FORMS, None]:
            ids, registrations = set(), 0
            for index, (municipality, forms) in enumerate(clients):
                if code is not None and municipality not in within[code]:
                    continue
                for f, n in forms.items():
                    if form is None or f == form:
                        ids.add(index)
                        registrations += n
            rows.append((code, form, len(ids), registrations))
    return pl.DataFrame(
        rows,
        schema=["municipality", "care_form", "unique_clients", "registrations"],
        orient="row",
    )


def cell(frame: pl.DataFrame, **keys: str | None) -> dict[str, object]:
    rows = frame.filter(
        *[pl.col(k).eq_missing(pl.lit(v, dtype=pl.String)) for k, v in keys.items()]
    )
    assert rows.height == 1
    return rows.row(0, named=True)


clients_strategy = st.lists(
    st.tuples(
        st.sampled_from(("Assen", "Emmen", "Tynaarlo", "Meppel")),
        st.dictionaries(st.sampled_from(FORMS), st.integers(1, 3), min_size=1, max_size=2),
    ),
    min_size=1,
    max_size=60,
)


# --- declaring a hierarchy -----------------------------------------------------------------


def test_a_hierarchy_that_is_not_a_tree_is_refused_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "version = 1\n"
        "[hierarchy.municipality]\n"
        'North = ["Assen", "Emmen", "Assen"]\n'
        'South = ["Emmen", "Meppel"]\n'
        'Meppel = ["South"]\n'
        'Loop = ["Loop"]\n'
        'Odd = "Assen"\n'
        'Blank = [""]\n'
        "[hierarchy]\ncare_form = 3\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert caught.value.problems == [
        "hierarchy.municipality.North: names Assen more than once",
        "hierarchy.municipality.South: Emmen is already a child of North",
        "hierarchy.municipality.Loop: a code cannot be its own child",
        "hierarchy.municipality.Odd: must be a list of codes (its children)",
        "hierarchy.municipality.Blank: a child must be non-empty text",
        "hierarchy.municipality.South: a cycle (Meppel -> South -> Meppel)",
        "hierarchy.care_form: must be a table of parent = [children]",
    ]
    # The same from a Python mapping, e.g. reference data.
    with pytest.raises(ConfigError, match=r"hierarchy\.municipality\.South: Emmen is already"):
        DisclosureRules(hierarchy={"municipality": {"North": ["Emmen"], "South": ["Emmen"]}})
    with pytest.raises(ConfigError, match=r"hierarchy: must be a table"):
        rules_from_mapping({"version": 1, "hierarchy": ["North"]})


def test_a_hierarchy_is_declared_in_toml_or_python_and_travels_with_the_rules(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "version = 1\n[rounding]\nbase = 1\n"
        "[hierarchy.municipality]\n"
        'Drenthe = ["North", "South"]\n'
        'North = ["Assen", "Emmen", "Tynaarlo"]\n'
        'South = ["Meppel"]\n'
        "unknown = []\n"
    )
    rules = load_rules(path)
    declared = {"Drenthe": ["North", "South"], **REGIONS, "unknown": []}
    assert rules == dataclasses.replace(
        NO_ROUNDING, name=rules.name, hierarchy={"municipality": declared}
    )
    assert rules_from_mapping(rules.to_dict()) == rules
    regions = tree("municipality", rules.hierarchy["municipality"])
    assert regions.codes == ("Drenthe", "North", "Assen", "Emmen", "Tynaarlo", "South",
                             "Meppel", "unknown")  # fmt: skip
    assert regions.ancestors("Meppel") == ("South", "Drenthe")
    assert regions.leaves == ("Assen", "Emmen", "Tynaarlo", "Meppel", "unknown")
    # The rules keep their own copy.
    mapping = {"municipality": {"North": ["Assen"]}}
    own = DisclosureRules(hierarchy=mapping)
    mapping["municipality"]["North"].append("Emmen")
    assert own.hierarchy["municipality"]["North"] == ("Assen",)


# --- protecting a hierarchical table ---------------------------------------------------------


def test_a_hierarchical_table_is_one_table_with_each_cell_once() -> None:
    clients: list[Client] = [
        ("Assen", {"ambulant": 1}), ("Assen", {"verblijf": 2}), ("Emmen", {"crisis": 1}),
        ("Meppel", {"ambulant": 1, "crisis": 1}), ("Tynaarlo", {"verblijf": 1}),
    ] * 4 + [("Emmen", {"ambulant": 1})] * 9  # fmt: skip
    counts = hierarchical_table(clients)
    rules = dataclasses.replace(NO_ROUNDING, hierarchy={"municipality": REGIONS})
    protected = protect(counts, rules)
    frame = protected.table.frame
    # Every cell once, at every level, the regions before their municipalities.
    assert frame.height == 7 * 4
    assert not frame.select("municipality", "care_form").is_duplicated().any()
    order = frame["municipality"].unique(maintain_order=True).to_list()
    assert order == [None, "North", "Assen", "Emmen", "Tynaarlo", "South", "Meppel"]
    # South has one municipality: its cells are Meppel's, and share their status.
    for form in [*FORMS, None]:
        for measure in ("unique_clients", "registrations"):
            south = cell(frame, municipality="South", care_form=form)[f"{measure}_status"]
            meppel = cell(frame, municipality="Meppel", care_form=form)[f"{measure}_status"]
            assert south == meppel
    assert protected.report.audit.passed
    assert audit(counts, protected.table.suppressed_cells(), rules).passed
    # Information lost counts the municipalities' cells only (regions are margins).
    lost = protected.report.information_lost["registrations"]
    assert lost["total"] == sum(n for _, forms in clients for n in forms.values())


def test_a_region_is_a_margin_the_audit_uses() -> None:
    # North's crisis cell (Emmen 4 + nothing else) would give Emmen × crisis away if regions
    # were unknown to the audit: the pattern must hide enough around it.
    clients: list[Client] = [("Emmen", {"crisis": 1})] * 4 + [
        ("Assen", {"crisis": 1})
    ] * 20 + [("Assen", {"ambulant": 1}), ("Emmen", {"ambulant": 1})] * 15 + [
        ("Tynaarlo", {"ambulant": 1}), ("Meppel", {"verblijf": 1}),
    ] * 10  # fmt: skip
    counts = hierarchical_table(clients)
    rules = dataclasses.replace(NO_ROUNDING, hierarchy={"municipality": REGIONS})
    protected = protect(counts, rules)
    assert (
        cell(protected.table.frame, municipality="Emmen", care_form="crisis")[
            "registrations_status"
        ]
        == "suppressed"
    )
    result = audit(counts, protected.table.suppressed_cells(), rules)
    assert result.passed
    # Publishing the regions' crisis cells with only Emmen hidden would not be safe.
    lattice = prepare(counts, rules)
    alone = mask_of(lattice, pl.DataFrame({"municipality": ["Emmen"], "care_form": ["crisis"]}))
    assert not audit_lattice(lattice, alone | lattice.primary, rules).passed


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    clients=clients_strategy, name=st.sampled_from(sorted(PRESETS)), base=st.sampled_from([1, 5])
)
def test_hierarchical_protection_property(clients: list[Client], name: str, base: int) -> None:
    rules = dataclasses.replace(
        preset(name), rounding_base=base, hierarchy={"municipality": REGIONS}
    )
    counts = hierarchical_table(clients)
    protected = protect(counts, rules)
    frame = protected.table.frame
    assert frame.height == counts.height  # each cell once
    truth = {(r["municipality"], r["care_form"]): r for r in counts.iter_rows(named=True)}
    for row in frame.iter_rows(named=True):
        exact = truth[(row["municipality"], row["care_form"])]
        for measure in ("unique_clients", "registrations"):
            if row[f"{measure}_status"] == "published":
                assert abs(row[measure] - exact[measure]) <= base // 2
                assert not 1 <= exact[measure] <= rules.secret_max
    for form in [*FORMS, None]:
        south = cell(frame, municipality="South", care_form=form)["unique_clients_status"]
        assert south == cell(frame, municipality="Meppel", care_form=form)["unique_clients_status"]
    assert audit(counts, protected.table.suppressed_cells(), rules).passed


def test_values_outside_the_hierarchy_and_missing_groups_are_refused() -> None:
    clients: list[Client] = [("Assen", {"ambulant": 1}), ("Meppel", {"crisis": 2})] * 5
    counts = hierarchical_table(clients)
    rules = dataclasses.replace(NO_ROUNDING, hierarchy={"municipality": {"North": ["Assen"]}})
    with pytest.raises(
        DataError,
        match=r"municipality: 4 value\(s\) not in its declared hierarchy "
        r"\(Emmen, Meppel, South and 1 more\)",
    ):
        protect(counts, rules)
    without_regions = counts.filter(
        ~pl.col("municipality").is_in(["North", "South"]).fill_null(False)
    )
    rules = dataclasses.replace(NO_ROUNDING, hierarchy={"municipality": REGIONS})
    with pytest.raises(DataError, match="no rows for the group"):
        protect(without_regions, rules)


def test_roll_up_adds_the_groups_of_an_additive_dimension(tmp_path: Path) -> None:
    clients: list[Client] = [
        ("Assen", {"ambulant": 2}), ("Emmen", {"crisis": 1}),
        ("Meppel", {"verblijf": 3}), ("Tynaarlo", {"ambulant": 1}),
    ] * 6  # fmt: skip
    full = hierarchical_table(clients)
    regions_rows = pl.col("municipality").is_in(["North", "South"]).fill_null(False)
    municipalities = full.filter(~regions_rows)
    regions = tree("municipality", REGIONS)
    # Municipality of residence: one per client, so unique clients add up over it too.
    rolled = roll_up(municipalities, regions, measures=["unique_clients", "registrations"])
    key = ["municipality", "care_form"]
    assert rolled.sort(key, nulls_last=False).equals(full.sort(key, nulls_last=False))
    rules = dataclasses.replace(NO_ROUNDING, hierarchy={"municipality": REGIONS})
    table = protect(rolled, rules).table
    back = read_protected(write_protected(table, tmp_path / "out.json")[0])
    assert back.frame.equals(table.frame)
    assert back.rules.hierarchy == rules.hierarchy


# --- tables that share margins -------------------------------------------------------------


def two_tables(
    form: dict[tuple[str, str], int], stream: dict[tuple[str, str], int]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """municipality × care form and municipality × financing, additive margins."""

    def table(cells: dict[tuple[str, str], int], name: str) -> pl.DataFrame:
        first = sorted({k[0] for k in cells})
        second = sorted({k[1] for k in cells})
        rows = [
            (a, b, sum(v for k, v in cells.items() if a in (None, k[0]) and b in (None, k[1])))
            for a, b in itertools.product([*first, None], [*second, None])
        ]
        return pl.DataFrame(rows, schema=["municipality", name, "registrations"], orient="row")

    return table(form, "care_form"), table(stream, "financing")


# Protected one at a time, these tables give away care form h: with the municipalities' totals
# from the financing table, the form table's hidden margins are no longer hidden.
FORM = {("A", "f"): 8, ("A", "g"): 8, ("A", "h"): 2, ("B", "f"): 2, ("B", "g"): 1,
        ("C", "f"): 3, ("C", "g"): 12}  # fmt: skip
STREAM = {("A", "PGB"): 4, ("A", "ZIN"): 14, ("B", "PGB"): 2, ("B", "ZIN"): 1,
          ("C", "PGB"): 4, ("C", "ZIN"): 11}  # fmt: skip


def test_tables_that_share_margins_are_protected_together() -> None:
    by_form, by_stream = two_tables(FORM, STREAM)
    rules = dataclasses.replace(NO_ROUNDING, measures=ADDITIVE, method="heuristic")
    lattice, members = prepare_linked(
        {"form": LinkedTable(by_form), "stream": LinkedTable(by_stream)}, rules
    )
    assert [dims for _, dims in members.values()] == [
        ("municipality", "care_form"), ("municipality", "financing"),
    ]  # fmt: skip
    shared = members["form"][0] & members["stream"][0]
    assert int(shared.sum()) == 4  # three municipalities and the grand total

    def joint(pattern_form: pl.DataFrame, pattern_stream: pl.DataFrame) -> np.ndarray:
        return mask_of(
            lattice, pattern_form.with_columns(pl.lit(None, dtype=pl.String).alias("financing"))
        ) | mask_of(
            lattice, pattern_stream.with_columns(pl.lit(None, dtype=pl.String).alias("care_form"))
        )

    # One at a time, each table passes its own audit, but not together.
    alone = [protect(table, rules) for table in (by_form, by_stream)]
    assert all(result.report.audit.passed for result in alone)
    separate = joint(*(result.table.suppressed_cells() for result in alone))
    assert not audit_lattice(lattice, separate, rules).passed
    # Together, every method: a shared cell has one status, and the pattern is safe.
    for method in ("heuristic", "cleanup", "optimal"):
        together = protect_together(
            {"form": by_form, "stream": by_stream}, dataclasses.replace(rules, method=method)
        )
        tables = {name: result.table for name, result in together.items()}
        assert tables["form"].dimensions == ("municipality", "care_form")
        assert tables["form"].frame.height == by_form.height
        assert not tables["form"].frame.select("municipality", "care_form").is_duplicated().any()
        pattern = joint(*(table.suppressed_cells() for table in tables.values()))
        assert audit_lattice(lattice, pattern, rules).passed
        margins = [
            table.frame.filter(pl.col(other).is_null()).select(
                "municipality", "registrations_status"
            )
            for table, other in zip(tables.values(), ("care_form", "financing"), strict=True)
        ]
        assert margins[0].equals(margins[1])
        report = together["form"].report
        assert (report.linked_with, report.shared_cells, report.cells) == (("stream",), 4, 16)
        assert report.to_dict()["linked"] == {"with": ["stream"], "shared_cells": 4}


def test_tables_protected_together_must_count_their_shared_cells_alike() -> None:
    by_form, by_stream = two_tables(FORM, {**STREAM, ("B", "ZIN"): 2})
    with pytest.raises(DataError, match=r"share the cell municipality=B but count it differently"):
        protect_together({"form": by_form, "stream": by_stream}, NO_ROUNDING)
    with pytest.raises(ConfigError, match="at least one table"):
        protect_together({}, NO_ROUNDING)


def test_hierarchy_and_shared_margins_together() -> None:
    regions = {"North": ["A", "B"], "South": ["C"]}
    by_form, by_stream = two_tables(FORM, STREAM)
    hierarchy = tree("municipality", regions)
    tables = {
        name: LinkedTable(roll_up(table, hierarchy, measures=["registrations"]))
        for name, table in (("form", by_form), ("stream", by_stream))
    }
    rules = dataclasses.replace(NO_ROUNDING, measures=ADDITIVE, hierarchy={"municipality": regions})
    together = protect_together(tables, rules)
    frame = together["form"].table.frame
    assert frame["municipality"].unique(maintain_order=True).to_list() == [
        None, "North", "A", "B", "South", "C",
    ]  # fmt: skip
    lattice, _ = prepare_linked(tables, rules)
    hidden = pl.concat(
        [
            result.table.suppressed_cells()
            .with_columns(pl.lit(None, dtype=pl.String).alias(other))
            .select("municipality", "care_form", "financing")
            for result, other in zip(together.values(), ("financing", "care_form"), strict=True)
        ]
    )
    assert audit_lattice(lattice, mask_of(lattice, hidden), rules).passed
