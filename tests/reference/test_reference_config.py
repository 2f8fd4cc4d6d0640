"""The reference file, hierarchies, the provider registry and population: checked up front."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from reference_data import REGION, synthetic_frame

from factlab.analysis.counts import count
from factlab.errors import ConfigError, DataError, FactlabWarning
from factlab.reference.config import load_reference, reference_from_mapping
from factlab.reference.hierarchy import hierarchy_from_mapping
from factlab.reference.municipalities import drenthe_municipalities
from factlab.reference.population import load_population
from factlab.reference.providers import load_providers


def problems_of(data: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        reference_from_mapping(data, **kwargs)
    return caught.value.problems


def region(**levels: Any) -> dict[str, Any]:
    return {"version": 1, "reference_year": 2024, "hierarchy": {"region": {**REGION, **levels}}}


def test_a_child_in_two_groups_is_refused_with_both_named() -> None:
    problems = problems_of(
        region(
            purchasing_region={"Noord": ["Assen", "Emmen"], "Zuid": ["Emmen"]},
            youth_care_region={"Drenthe": ["Noord", "Zuid"]},
        )
    )
    assert problems == [
        "hierarchy.region.purchasing_region.Zuid: Emmen is already a child of Noord "
        "(a code has one group on each level)"
    ]


def test_a_hierarchy_that_is_not_a_tree_names_every_offending_node() -> None:
    problems = problems_of(
        region(
            purchasing_region={"Noord": ["Assen"], "Zuid": ["Emmen"], "Oost": ["Coevorden"]},
            youth_care_region={"Drenthe": ["Noord", "Zuid", "West"], "Noord": ["Oost"]},
        )
    )
    joined = "\n".join(problems)
    assert "youth_care_region.Noord: Noord is also a code on purchasing_region" in joined
    assert "youth_care_region: West not group(s) of purchasing_region" in joined
    assert len(problems) == 2


def test_a_group_without_a_parent_on_the_level_above_is_refused() -> None:
    problems = problems_of(
        region(
            purchasing_region={"Noord": ["Assen"], "Zuid": ["Emmen"]},
            youth_care_region={"Drenthe": ["Noord"]},
        )
    )
    assert problems == [
        "hierarchy.region.youth_care_region: purchasing_region group(s) Zuid have no group "
        "on youth_care_region"
    ]


def test_unknown_municipalities_in_a_hierarchy_are_reported_all_at_once() -> None:
    problems = problems_of(
        region(
            purchasing_region={"Noord": ["Asen", "Assen", "Nijeveen"], "Zuid": ["Groningen"]},
            youth_care_region={"Drenthe": ["Noord", "Zuid"]},
        )
    )
    assert problems == [
        "hierarchy.region.purchasing_region: 'Asen' not a municipality of the reference table",
        "hierarchy.region.purchasing_region: 'Nijeveen' ceased on 1998-01-01; the reference "
        "table does not say where it went",
        "hierarchy.region.purchasing_region: 'Groningen' not a municipality of the reference table",
    ]


def test_old_names_in_a_hierarchy_become_the_reference_years_names() -> None:
    reference = reference_from_mapping(
        region(
            purchasing_region={"Noord": ["Gieten", "GM0106"], "Zuid": ["Schoonebeek"]},
            youth_care_region={"Drenthe": ["Noord", "Zuid"]},
        )
    )
    assert reference.hierarchies["region"].declared()["Noord"] == ("Aa en Hunze", "Assen")


def test_every_problem_of_the_file_is_reported_at_once() -> None:
    problems = problems_of(
        {
            "version": 2,
            "reference_year": "2024",
            "extra": 1,
            "hierarchy": {
                "municipality": {},
                "care": {"dimension": "care", "levels": ["sex"]},
            },
        }
    )
    assert "version: must be 1" in problems
    assert "reference_year: must be a year (e.g. 2024)" in problems
    assert any(p.startswith("extra: unknown section") for p in problems)
    assert any(p.startswith("hierarchy.municipality: cannot name a hierarchy") for p in problems)
    assert any(p.startswith("hierarchy.care.dimension: must be one of") for p in problems)
    assert any("'sex' cannot name a level" in p for p in problems)


def test_a_level_named_by_two_hierarchies_is_refused() -> None:
    care = {
        "dimension": "care_form",
        "levels": ["purchasing_region"],
        "purchasing_region": {"g": ["ambulant"]},
    }
    problems = problems_of(
        {"version": 1, "reference_year": 2024, "hierarchy": {"region": REGION, "care": care}}
    )
    assert problems == [
        "hierarchy.care.levels: purchasing_region is also a level of hierarchy.region"
    ]


def test_hierarchy_builder_refuses_a_missing_level_table() -> None:
    with pytest.raises(ConfigError, match=r"hierarchy.x.group: missing"):
        hierarchy_from_mapping("x", {"dimension": "care_form", "levels": ["group"]})


REGISTRY = """version = 1

[[provider]]
code = "P01"
name = "Accare"
aliases = ["ACCARE kinder- en jeugdpsychiatrie"]
group = "top 5"
contracted = [{ from = 2023-01-01, until = 2024-01-01 }]

[[provider]]
code = "P02"
name = "Yorneo"
group = "top 5"
contracted = [{ from = 2020-01-01 }]
"""


def test_a_provider_registry_in_toml_and_csv_reads_alike(tmp_path: Path) -> None:
    toml = tmp_path / "providers.toml"
    toml.write_text(REGISTRY)
    csv = tmp_path / "providers.csv"
    csv.write_text(
        "code,name,aliases,group,contracted_from,contracted_until\n"
        "P01,Accare,ACCARE kinder- en jeugdpsychiatrie,top 5,2023-01-01,2024-01-01\n"
        "P02,Yorneo,,top 5,2020-01-01,\n"
    )
    assert load_providers(toml).providers == load_providers(csv).providers
    assert load_providers(toml).lookup()["accare kinder- en jeugdpsychiatrie"] == "P01"


def test_a_bad_registry_is_refused_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(
        "version = 1\n"
        '[[provider]]\ncode = "P01"\nname = "Accare"\ngroup = ""\ncolour = "red"\n'
        '[[provider]]\ncode = "P02"\nname = "accare"\ngroup = "GI"\n'
        "contracted = [{ from = 2024-01-01, until = 2023-01-01 }]\n"
        '[[provider]]\ncode = "P02"\nname = "Other"\ngroup = "GI"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_providers(path)
    assert caught.value.problems == [
        "provider[1].colour: unknown field",
        "provider[1].group: must be non-empty text",
        "provider[2].contracted: a period ends (2023-01-01) before it starts",
        "provider[3].code: P02 is also provider[2]",
    ]


def test_unknown_providers_are_refused_and_uncontracted_ones_warned(tmp_path: Path) -> None:
    (tmp_path / "providers.toml").write_text(REGISTRY)
    reference = reference_from_mapping(
        {"version": 1, "reference_year": 2024, "providers": {"registry": "providers.toml"}},
        base=tmp_path,
    )
    frame = synthetic_frame(3)
    with pytest.raises(DataError) as caught:
        count(frame, by=["provider_group"], reference=reference)
    message = str(caught.value)
    assert message.count("not a provider of the registry") == 3
    assert "row 1, column provider: 'P05' (39 row(s))" in message
    known = frame.filter(frame["provider"].is_in(["P01", "P02"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        count(known, by=["provider_group"], period="2024", reference=reference)
    assert any(
        issubclass(w.category, FactlabWarning)
        and "P01 have rows between 2024-01-01 and 2024-12-31 but no contract" in str(w.message)
        for w in caught
    )


POPULATION = (
    '"ID";"Geslacht";"Leeftijd";"Perioden";"RegioS";"BevolkingOp1Januari_1"\n'
    '"1";"Totaal mannen en vrouwen";"5 jaar";"2024JJ00";"GM0106  ";"700"\n'
    '"2";"Totaal mannen en vrouwen";"17 jaar";"2024JJ00";"GM0106  ";"650"\n'
    '"3";"Totaal mannen en vrouwen";"18 jaar";"2024JJ00";"GM0106  ";"640"\n'
    '"4";"Mannen";"5 jaar";"2024JJ00";"GM0106  ";"360"\n'
    '"5";"Totaal mannen en vrouwen";"5 jaar";"2024JJ00";"PV22    ";"5000"\n'
    '"6";"Totaal mannen en vrouwen";"Totaal leeftijd";"2024JJ00";"GM0106  ";"68000"\n'
    '"7";"Totaal mannen en vrouwen";"3 jaar";"2023JJ00";"GM0106  ";"690"\n'
    '"8";"Totaal mannen en vrouwen";"3 jaar";"2024JJ00";"GM0114  ";"1000"\n'
)


def test_population_reads_the_statline_layout(tmp_path: Path) -> None:
    path = tmp_path / "bevolking.csv"
    path.write_text(POPULATION)
    people = load_population(
        path,
        year=2024,
        municipalities=drenthe_municipalities(),
        ages=(0, 17),
        select={"Geslacht": "Totaal mannen en vrouwen"},
    )
    assert people.by_name() == {"Assen": 1350, "Emmen": 1000}
    assert dict(people.rows_left_out) == {
        "not a municipality": 1,
        "another year": 1,
        "Geslacht not Totaal mannen en vrouwen": 1,
        "age not a single year": 1,
        "age outside the band": 1,
    }


def test_population_rows_that_would_be_added_twice_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bevolking.csv"
    path.write_text(POPULATION)
    with pytest.raises(ConfigError, match="GM0106 has several rows for 2024, age 5;"):
        load_population(path, year=2024, municipalities=drenthe_municipalities(), ages=(0, 17))


def test_a_reference_file_names_its_tables_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "providers.toml").write_text(REGISTRY)
    (tmp_path / "bevolking.csv").write_text(POPULATION)
    path = tmp_path / "reference.toml"
    path.write_text(
        "version = 1\nreference_year = 2024\n"
        '[providers]\nregistry = "providers.toml"\n'
        '[population]\nfile = "bevolking.csv"\nages = [0, 17]\n'
        'select = { Geslacht = "Totaal mannen en vrouwen" }\n'
        '[hierarchy.care]\ndimension = "care_form"\nlevels = ["care_group"]\n'
        '[hierarchy.care.care_group]\n"met verblijf" = ["verblijf"]\n'
    )
    reference = load_reference(path)
    assert reference.population is not None
    assert reference.population.by_name()["Assen"] == 1350
    assert reference.dimensions() == ("care_group", "provider_group")
    assert reference.to_dict()["sha256"] == reference.sha256
    assert len(reference.sha256 or "") == 64


def test_problems_of_every_table_are_collected_with_the_files(tmp_path: Path) -> None:
    (tmp_path / "providers.toml").write_text('version = 1\n[[provider]]\ncode = "P01"\n')
    (tmp_path / "bevolking.csv").write_text('"RegioS";"Perioden"\n"GM0106";"2024JJ00"\n')
    problems = problems_of(
        {
            "version": 1,
            "reference_year": 2024,
            "providers": {"registry": "providers.toml"},
            "population": {"file": "bevolking.csv", "ages": [17, 0]},
        },
        base=tmp_path,
    )
    assert any("provider[1].name: must be non-empty text" in p for p in problems)
    assert "population.ages: must be [lowest, highest] (e.g. [0, 17])" in problems


def test_a_bad_csv_registry_names_rows_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "providers.csv"
    path.write_text(
        "code,name,aliases,group,contracted_from,contracted_until\n"
        "P01,Accare,,top 5,2023-01-01,\n"
        "P01,Accare,,GI,,\n"
        ",Nameless,,other,,\n"
        "P02,Yorneo,,,someday,\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_providers(path)
    assert caught.value.problems == [
        "row 3, column group: differs from row 2 of the same code",
        "row 4, column code: empty",
        "row 5, column group: empty",
        "row 5, columns contracted_from/contracted_until: not dates (YYYY-MM-DD)",
    ]


def test_population_rows_that_cannot_be_read_are_counted_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "bevolking.csv"
    path.write_text(
        '"Leeftijd";"Perioden";"RegioS";"BevolkingOp1Januari_1"\n'
        '"5";"2024JJ00";"GM0106";"700"\n'
        '"5 jaar";"2024MM01";"GM0106";"710"\n'
        '"6";;"GM0106";"720"\n'
    )
    people = load_population(path, year=2024, municipalities=drenthe_municipalities(), ages=(0, 17))
    assert people.by_name() == {"Assen": 700}
    assert dict(people.rows_left_out) == {"another year": 2}
    path.write_text(path.read_text() + '"5 jaar";"2024";"GM0106";"1"\n')
    with pytest.raises(ConfigError, match="GM0106 has several rows for 2024, age 5;"):
        load_population(path, year=2024, municipalities=drenthe_municipalities(), ages=(0, 17))
