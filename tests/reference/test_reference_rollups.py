"""Roll-ups by reference hierarchies: every level's totals are unions of clients (oracle tests)."""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import date
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_data import (
    CARE,
    DELIVERED,
    GROUPS,
    NORTH,
    SOUTH,
    drenthe_reference,
    synthetic_frame,
)

from factlab import schema
from factlab.analysis.counts import count
from factlab.errors import ConfigError, DataError
from factlab.reference.config import reference_from_mapping

REGION_OF = dict.fromkeys(NORTH, "Noord- en Midden-Drenthe") | dict.fromkeys(SOUTH, "Zuid-Drenthe")


def latest_municipality(frame: pl.DataFrame) -> dict[str, str]:
    """Plain Python: each valid client's municipality of their last-started known row."""
    best: dict[str, tuple[Any, str]] = {}
    for row in frame.iter_rows(named=True):
        if row["bsn_status"] != "valid" or row["municipality"] is None:
            continue
        name = DELIVERED[row["municipality"]]
        seen = best.get(row["pseudonym"])
        if seen is None or row["start_date"] > seen[0]:
            best[row["pseudonym"]] = (row["start_date"], name)
    clients = {row["pseudonym"] for row in frame.iter_rows(named=True) if row["pseudonym"]}
    return {client: best[client][1] if client in best else "unknown" for client in clients}


def level_values(municipality: str) -> dict[str, str]:
    if municipality == "unknown":
        return {"municipality": "unknown"}
    region = REGION_OF[municipality]
    return {
        "municipality": municipality,
        "purchasing_region": region,
        "youth_care_region": ("Jeugdregio Drenthe"),
    }


def region_oracle(frame: pl.DataFrame) -> dict[tuple[str | None, str | None], int]:
    """Unique clients of every code of every level, by care form and in total, from sets."""
    home = latest_municipality(frame)
    forms: dict[str, set[str]] = defaultdict(set)
    for row in frame.iter_rows(named=True):
        if row["pseudonym"]:
            forms[row["pseudonym"]].add(row["care_form"] or "unknown")
    cells: dict[tuple[str | None, str | None], set[str]] = defaultdict(set)
    for client, municipality in home.items():
        codes = [*level_values(municipality).values(), None]
        for code in codes:
            cells[(code, None)].add(client)
            for form in forms[client]:
                cells[(code, form)].add(client)
    return {key: len(clients) for key, clients in cells.items()}


def as_dict(table: pl.DataFrame, *columns: str) -> dict[tuple[Any, ...], int]:
    return {
        tuple(row[:-1]): row[-1]
        for row in table.select(*columns, "unique_clients").iter_rows()
        if row[-1] > 0
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_level_of_the_region_is_a_union_of_clients(seed: int) -> None:
    frame = synthetic_frame(seed)
    result = count(frame, by=["region", "care_form"], reference=drenthe_reference())
    assert result.by == ("municipality", "care_form")
    assert as_dict(result.table, "municipality", "care_form") == region_oracle(frame)


def test_a_level_alone_is_the_union_of_its_municipalities_clients() -> None:
    frame = synthetic_frame(7)
    result = count(frame, by=["purchasing_region"], reference=drenthe_reference())
    home = latest_municipality(frame)
    expected: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for client, municipality in home.items():
        region = REGION_OF.get(municipality, "unknown")
        expected[(region,)].add(client)
        expected[(None,)].add(client)
    assert as_dict(result.table, "purchasing_region") == {
        key: len(clients) for key, clients in expected.items()
    }


def test_a_client_who_moved_counts_in_one_region_as_in_one_municipality() -> None:
    result = count(_moved(), by=["region"], reference=drenthe_reference())
    table = dict(result.table.select("municipality", "unique_clients").iter_rows())
    assert table["Emmen"] == 1
    assert table["Zuid-Drenthe"] == 1
    assert table.get("Noord- en Midden-Drenthe", 0) == 0
    assert table.get("Assen", 0) == 0


def _moved() -> pl.DataFrame:
    """One client: Assen first, Emmen later."""
    return pl.DataFrame(
        {
            "pseudonym": ["a" * 32, "a" * 32],
            "bsn_status": pl.Series(["valid", "valid"], dtype=schema.STATUS_DTYPE),
            "provider": ["P01", "P02"],
            "municipality": ["Assen", "Emmen"],
            "care_form": ["ambulant", "ambulant"],
            "birth_year": pl.Series([2010, 2010], dtype=pl.Int16),
            "start_date": [date(2024, 1, 1), date(2024, 6, 1)],
            "end_date": [date(2024, 2, 1), date(2024, 8, 1)],
        }
    )


def test_care_groups_count_a_client_in_every_group_they_had_care_in() -> None:
    frame = synthetic_frame(11)
    result = count(frame, by=["care"], reference=drenthe_reference())
    group_of = {form: group for group, forms in CARE["care_group"].items() for form in forms}
    cells: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in frame.iter_rows(named=True):
        if not row["pseudonym"]:
            continue
        form = row["care_form"] or "unknown"
        cells[(form,)].add(row["pseudonym"])
        if form != "unknown":
            cells[(group_of[form],)].add(row["pseudonym"])
        cells[(None,)].add(row["pseudonym"])
    assert as_dict(result.table, "care_form") == {key: len(c) for key, c in cells.items()}


def test_provider_groups_are_unions_of_their_providers_clients(tmp_path: Any) -> None:
    registry = tmp_path / "providers.toml"
    registry.write_text(
        "version = 1\n"
        + "".join(
            f'[[provider]]\ncode = "{code}"\nname = "Provider {code}"\ngroup = "{group}"\n'
            for code, group in GROUPS.items()
        )
    )
    reference = reference_from_mapping(
        {"version": 1, "reference_year": 2024, "providers": {"registry": "providers.toml"}},
        base=tmp_path,
    )
    frame = synthetic_frame(5)
    result = count(frame, by=["provider_group", "care_form"], reference=reference)
    cells: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in frame.iter_rows(named=True):
        if not row["pseudonym"]:
            continue
        group, form = GROUPS[row["provider"]], row["care_form"] or "unknown"
        for key in ((group, form), (group, None), (None, form), (None, None)):
            cells[key].add(row["pseudonym"])
    assert as_dict(result.table, "provider_group", "care_form") == {
        key: len(c) for key, c in cells.items()
    }


def test_naming_a_hierarchy_and_its_level_together_is_refused() -> None:
    with pytest.raises(ConfigError, match="region already counts purchasing_region"):
        count(synthetic_frame(1), by=["region", "purchasing_region"], reference=drenthe_reference())


def test_a_municipality_in_no_group_is_refused_with_the_column_named() -> None:
    reference = reference_from_mapping(
        {
            "version": 1,
            "reference_year": 2024,
            "hierarchy": {
                "north": {
                    "dimension": "municipality",
                    "levels": ["area"],
                    "area": {"Noord": ["Assen"]},
                }
            },
        }
    )
    with pytest.raises(
        DataError,
        match=r"row 1, column municipality: 'Emmen' \(\d+ row\(s\)\): in no group of area",
    ):
        count(synthetic_frame(2), by=["area"], reference=reference)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), people=st.integers(1, 40))
def test_a_group_lies_between_its_largest_child_and_the_sum_of_its_children(
    seed: int, people: int
) -> None:
    reference = drenthe_reference()
    frame = synthetic_frame(seed, people=people)
    result = count(frame, by=["region", "care"], reference=reference)
    table = result.table
    for hierarchy in reference.hierarchies.values():
        column = hierarchy.dimension
        other = "care_form" if column == "municipality" else "municipality"
        for group, children in hierarchy.declared().items():
            for margin in table.get_column(other).unique().to_list():
                scope = table.filter(pl.col(other).eq_missing(margin))
                values = dict(scope.select(column, "unique_clients").iter_rows())
                inside = [values.get(child, 0) for child in children]
                assert max(inside, default=0) <= values.get(group, 0) <= sum(inside)


def test_the_leaves_are_the_plain_count_of_the_mapped_municipalities() -> None:
    frame = synthetic_frame(13)
    mapped = frame.with_columns(pl.col("municipality").replace_strict(DELIVERED, default=None))
    plain = count(mapped, by=["municipality", "care_form"])
    stacked = count(frame, by=["region", "care_form"], reference=drenthe_reference())
    groups = [*REGION_OF.values(), "Jeugdregio Drenthe"]
    leaves = stacked.table.filter(~pl.col("municipality").is_in(groups).fill_null(False))
    columns = ["municipality", "care_form", "unique_clients", "registrations", "trajectories"]
    assert (
        leaves.select(columns)
        .sort(columns[:2], nulls_last=True)
        .equals(plain.table.select(columns).sort(columns[:2], nulls_last=True))
    )


def test_the_values_of_every_base_column_are_read_in_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # review 17/20 #12: prepare made one pass over the rows per base column
    calls: list[int] = []
    original = pl.collect_all

    def spy(plans: list[pl.LazyFrame], **kwargs: object) -> list[pl.DataFrame]:
        if sys._getframe(1).f_globals["__name__"] == "factlab.reference.dimensions":
            calls.append(len(plans))
        return original(plans, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pl, "collect_all", spy)
    frame = synthetic_frame(3)
    count(frame, by=["region", "care"], reference=drenthe_reference())
    assert calls == [2]  # municipality and care_form, together
