"""Reports with reference hierarchies: what the review of #20 found, each as a test.

The attacker is plain linear programming over what a report publishes: the clients per
municipality (``unknown`` too) and per number of providers are the unknowns; every client has
one municipality (a group is the sum of its municipalities) and one number of providers (the
providers-per-client rows add up to the grand total); a published value v rounded to base b
means the true value lies in [v - b/2, v + b/2].
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from scipy.optimize import linprog

from factlab import schema
from factlab.cli import main
from factlab.disclosure.rules import DisclosureRules, preset
from factlab.errors import ConfigError, DataError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import parse_period
from factlab.reference.config import Reference, reference_from_mapping
from factlab.reference.dimensions import declared_for
from factlab.reference.hierarchy import ReferenceHierarchy
from factlab.report.build import build_report
from factlab.report.config import RoundConfig, load_round_config

NORTH = ["Assen", "Aa en Hunze", "Tynaarlo", "Noordenveld", "Midden-Drenthe", "Borger-Odoorn"]
SOUTH = ["Emmen", "Coevorden", "Hoogeveen", "De Wolden", "Westerveld", "Meppel"]
#: As examples/reference/reference.toml: one youth-care region over every municipality, so
#: the grand total is the youth-care region plus ``unknown``.
ONE_REGION: dict[str, Any] = {
    "dimension": "municipality",
    "levels": ["purchasing_region", "youth_care_region"],
    "purchasing_region": {"Noord": NORTH, "Zuid": SOUTH},
    "youth_care_region": {"Jeugdregio Drenthe": ["Noord", "Zuid"]},
}
SIZES: dict[str | None, int] = {
    "Assen": 40,
    "Aa en Hunze": 41,
    "Tynaarlo": 45,
    "Noordenveld": 50,
    "Midden-Drenthe": 55,
    "Borger-Odoorn": 60,
    "Emmen": 70,
    "Coevorden": 21,
    "Hoogeveen": 52,
    "De Wolden": 44,
    "Westerveld": 46,
    "Meppel": 33,
    None: 3,  # municipality unknown: secret
}
PERIOD = parse_period("2023")
HALVES = (parse_period("2023H1"), parse_period("2023H2"))


def reference(region: dict[str, Any] | None = None, **more: Any) -> Reference:
    hierarchies = {"region": region or ONE_REGION, **more}
    return reference_from_mapping({"version": 1, "reference_year": 2024, "hierarchy": hierarchies})


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("pseudonym", "provider", "municipality", "care_form").cast(pl.String),
        pl.col("bsn_status").cast(schema.STATUS_DTYPE),
    )


def row(client: int, provider: str, municipality: str | None, start: date) -> dict[str, Any]:
    return {
        "pseudonym": f"{client:032x}",
        "bsn_status": "valid",
        "provider": provider,
        "municipality": municipality,
        "care_form": "ambulant" if client % 3 else "verblijf",
        "start_date": start,
        "end_date": start + timedelta(days=30),
    }


def one_to_three_providers(seed: int = 1) -> pl.DataFrame:
    """Clients of SIZES, each with 1-3 providers (so the distribution has several rows)."""
    rng = random.Random(seed)
    rows, client = [], 0
    for name, size in SIZES.items():
        for _ in range(size):
            client += 1
            start = date(2023, 3, 1) + timedelta(days=rng.randint(0, 200))
            for provider in rng.sample(["P1", "P2", "P3"], rng.choice([1, 1, 1, 2, 2, 3])):
                rows.append(row(client, provider, name, start))
    return frame(rows)


def config(**given: Any) -> RoundConfig:
    settings: dict[str, Any] = {
        "dimensions": ("region", "care_form"),
        "cross": (),
        "reference": reference(),
        "period": PERIOD,
    }
    return RoundConfig(**(settings | given))


def tables(report: Any) -> dict[str, pl.DataFrame]:
    return {table.id: table.source.frame for table in report.tables}


def attacker(
    report: Any, hierarchy: ReferenceHierarchy, rules: DisclosureRules, part: str | None = None
) -> dict[str, float]:
    """The width of each leaf's interval that the published tables of ``part`` allow."""
    found = tables(report)
    leaves = [*hierarchy.leaves, "unknown"]
    members: dict[str, list[str]] = {leaf: [leaf] for leaf in leaves}
    for groups in hierarchy.groups:
        for group, children in groups.items():
            members[group] = [leaf for child in children for leaf in members[child]]

    def of_part(table: pl.DataFrame) -> pl.DataFrame:
        return table.filter(pl.col("period") == part) if "period" in table.columns else table

    distribution = of_part(found["providers-per-client"])
    buckets = [f"d{k}" for k in distribution["providers"].drop_nulls().to_list()]
    names = [*leaves, *buckets]
    equal: list[tuple[np.ndarray[Any, Any], float]] = []
    below: list[tuple[np.ndarray[Any, Any], float]] = []
    half = rules.rounding_base / 2 if rules.rounding_base > 1 else 0.0

    def vector(columns: list[str]) -> np.ndarray[Any, Any]:
        return np.array([1.0 if name in columns else 0.0 for name in names])

    def shown(columns: list[str], value: int | None) -> None:
        if value is None:
            return
        if half == 0:
            equal.append((vector(columns), float(value)))
        else:
            below.append((vector(columns), value + half))
            below.append((-vector(columns), -(value - half)))

    for dim in (hierarchy.dimension, *hierarchy.levels):
        table = found.get(f"by-{dim}")
        if table is not None:
            for key, value in of_part(table).select(dim, "unique_clients").rows():
                shown(leaves if key is None else members[key], value)
    for key, value in distribution.select("providers", "unique_clients").rows():
        shown(buckets if key is None else [f"d{key}"], value)
    equal.append((vector(leaves) - vector(buckets), 0.0))  # one number of providers each
    options: dict[str, Any] = {
        "bounds": (0, None),
        "A_eq": np.array([v for v, _ in equal]),
        "b_eq": np.array([b for _, b in equal]),
        "method": "highs",
    }
    if below:
        options |= {"A_ub": np.array([v for v, _ in below]), "b_ub": [b for _, b in below]}
    widths = {}
    for leaf in leaves:
        low, high = linprog(vector([leaf]), **options), linprog(-vector([leaf]), **options)
        widths[leaf] = math.inf if high.status != 0 else -high.fun - low.fun
    return widths


RULES = [
    pytest.param(DisclosureRules(rounding_base=1), id="exact"),
    pytest.param(preset("cbs"), id="cbs"),
    pytest.param(preset("threshold3"), id="threshold3"),
    pytest.param(preset("threshold10"), id="threshold10"),
]


@pytest.mark.parametrize("rules", RULES)
def test_providers_per_client_does_not_give_back_a_total_the_hierarchy_hides(
    rules: DisclosureRules,
) -> None:
    rows = one_to_three_providers()
    report = build_report(rows, config(rules=rules))
    municipality = dict(
        tables(report)["by-municipality"].select("municipality", "unique_clients").rows()
    )
    widths = attacker(report, reference().hierarchies["region"], rules)
    for leaf, value in municipality.items():
        if leaf is not None and value is None:
            assert widths[leaf] >= rules.min_width - 1e-6, (leaf, widths[leaf])


def test_the_distribution_is_protected_with_the_levels_when_the_period_has_parts() -> None:
    rules = DisclosureRules(rounding_base=1)
    report = build_report(one_to_three_providers(2), config(rules=rules, parts=HALVES))
    distribution = tables(report)["providers-per-client"]
    assert "period" not in distribution.columns  # the report shows the whole only
    widths = attacker(report, reference().hierarchies["region"], rules, part=PERIOD.label)
    whole = tables(report)["by-municipality"].filter(pl.col("period") == PERIOD.label)
    for leaf, value in whole.select("municipality", "unique_clients").rows():
        if leaf is not None and value is None:
            assert widths[leaf] >= rules.min_width - 1e-6, (leaf, widths[leaf])


# --- the parts: unknown in one half only ---------------------------------------------------


def unknown_in_the_first_half() -> pl.DataFrame:
    """Clients with a row in each half; two have no municipality in the first half only."""
    rows, client = [], 0
    for name, size in {"Assen": 40, "Emmen": 50, "Meppel": 30, "Tynaarlo": 35}.items():
        for _ in range(size):
            client += 1
            rows += [row(client, "P1", name, date(2023, m, 1)) for m in (2, 8)]
    for _ in range(2):
        client += 1
        rows += [row(client, "P1", None, date(2023, 2, 1))]
        rows += [row(client, "P1", "Assen", date(2023, 8, 1))]
    return frame(rows)


def test_unknown_in_one_part_only_is_declared_and_protected() -> None:
    rows = unknown_in_the_first_half()
    report = build_report(rows, config(parts=HALVES))
    shown = tables(report)["by-municipality"]
    unknown = shown.filter(pl.col("municipality") == "unknown")
    assert set(unknown["period"]) == {"2023H1", "2023H2", "2023"}
    assert unknown.filter(pl.col("period") == "2023H1")["unique_clients"].item() is None
    internal = tables(build_report(rows, config(parts=HALVES), internal=True))
    exact = internal["by-municipality"].filter(pl.col("municipality") == "unknown")
    assert dict(exact.select("period", "unique_clients").rows()) == {"2023H1": 2}


def test_declared_for_sees_unknown_in_a_part() -> None:
    whole = pl.DataFrame({"municipality": ["Assen", "Noord", None]})
    half = pl.DataFrame({"municipality": ["Assen", "unknown", "Noord", None]})
    tree = declared_for(whole, reference(), parts=[half])["municipality"]
    assert tree["unknown"] == ()
    assert "unknown" not in declared_for(whole, reference())["municipality"]


# --- which hierarchy is declared -------------------------------------------------------------

GGD: dict[str, Any] = {
    "dimension": "municipality",
    "levels": ["ggd_region"],
    "ggd_region": {"Noord": NORTH[:2], "Rest": NORTH[2:] + SOUTH},
}


def test_the_tree_declared_is_that_of_the_hierarchy_tabulated() -> None:
    # a second hierarchy over the municipality with a group of the same name, other members
    both = reference(ONE_REGION, ggd=GGD)
    stacked = pl.DataFrame({"municipality": [*NORTH, *SOUTH, "Noord", "Zuid", None]})
    assert declared_for(stacked, both)["municipality"]["Noord"] == tuple(NORTH)
    # named, the caller's word decides (a ggd count table would hold Rest, not Zuid)
    assert set(declared_for(stacked, both, hierarchies=["ggd"])["municipality"]) == {
        "Noord",
        "Rest",
    }
    sizes = {name: 20 + i for i, name in enumerate(NORTH + SOUTH)}
    rows = frame(
        [
            row(client, "P1", name, date(2023, 4, 1))
            for client, name in enumerate(
                (name for name, size in sizes.items() for _ in range(size)), start=1
            )
        ]
    )
    report = build_report(rows, config(reference=both, rules=DisclosureRules(rounding_base=1)))
    regions = dict(
        tables(report)["by-purchasing_region"].select("purchasing_region", "unique_clients").rows()
    )
    assert regions["Noord"] == sum(sizes[name] for name in NORTH)


def test_a_table_two_hierarchies_fit_is_refused_unless_named() -> None:
    same = {**GGD, "ggd_region": {"Noord": NORTH, "Zuid": SOUTH}}
    both = reference(ONE_REGION, ggd=same)
    stacked = pl.DataFrame({"municipality": [*NORTH, "Noord", None]})
    with pytest.raises(ConfigError, match="hierarchies region and ggd both fit"):
        declared_for(stacked, both)
    assert set(declared_for(stacked, both, hierarchies=["ggd"])["municipality"]) == {
        "Noord",
        "Zuid",
    }


# --- provenance ---------------------------------------------------------------------------------


def test_provenance_names_the_reference_its_tables_digests_and_year(tmp_path: Path) -> None:
    (tmp_path / "reference.toml").write_text(
        "version = 1\nreference_year = 2024\n[hierarchy.region]\n"
        'dimension = "municipality"\nlevels = ["purchasing_region"]\n'
        "[hierarchy.region.purchasing_region]\n"
        f"Noord = {NORTH!r}\nZuid = {SOUTH!r}\n".replace("'", '"'),
        encoding="utf-8",
    )
    (tmp_path / "round.toml").write_text(
        'version = 1\nperiod = "2023"\nreference = "reference.toml"\nlanguage = "nl"\n'
        'dimensions = ["region", "care_form"]\ncross = []\n',
        encoding="utf-8",
    )
    report = build_report(one_to_three_providers(3), load_round_config(tmp_path / "round.toml"))
    rows = dict(row for _, group in report.provenance for row in group)
    reference_digest = hashlib.sha256((tmp_path / "reference.toml").read_bytes()).hexdigest()
    assert rows["referentiegegevens"] == f"reference.toml (sha256 {reference_digest})"
    assert "reference" not in rows  # the word is translated
    assert rows["peiljaar referentiegegevens"] == "2024"
    packaged = resources.files("factlab.data").joinpath("municipalities_drenthe.csv")
    digest = hashlib.sha256(packaged.read_bytes()).hexdigest()
    assert rows["gemeentetabel"] == f"municipalities_drenthe.csv (sha256 {digest})"
    assert "gemeentelijke herindelingen" in rows


# --- free text, names, refusals ------------------------------------------------------------------


def test_a_group_name_holding_an_exact_count_not_published_is_refused() -> None:
    sizes = {name: 40 + i for i, name in enumerate(NORTH + SOUTH)}
    sizes["Meppel"] = 3  # suppressed
    rows = frame(
        [
            row(client, "P1", name, date(2023, 4, 1))
            for client, name in enumerate(
                (name for name, size in sizes.items() for _ in range(size)), start=1
            )
        ]
    )
    named = {**ONE_REGION, "purchasing_region": {"Noord": NORTH, "Zuid 3": SOUTH}}
    named["youth_care_region"] = {"Jeugdregio Drenthe": ["Noord", "Zuid 3"]}
    rules = DisclosureRules(rounding_base=1)
    with pytest.raises(ConfigError, match=r"group 'Zuid 3' of purchasing_region .*label"):
        build_report(rows, config(reference=reference(named), rules=rules))
    build_report(rows, config(reference=reference(named), rules=rules), internal=True)
    # shown by a label instead, the name is not in the report
    labels = {"purchasing_region": {"Zuid 3": "Zuid"}}
    report = build_report(rows, config(reference=reference(named), rules=rules, labels=labels))
    table = next(t for t in report.tables if t.id == "by-purchasing_region")
    assert table.layout.row_labels["Zuid 3"] == "Zuid"


@pytest.mark.parametrize(
    "level", ["period", "unique_clients", "pseudonym", "providers", "start_date", "rows_status"]
)
def test_a_level_named_as_a_column_of_the_count_or_report_is_refused(level: str) -> None:
    with pytest.raises(ConfigError, match=f"'{level}' cannot name a level"):
        reference({"dimension": "municipality", "levels": [level], level: {"N": NORTH}})


def linked_file(rows: pl.DataFrame, path: Path) -> Path:
    by_status = dict.fromkeys(schema.STATUSES, 0)
    by_status["valid"] = rows.height
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="2023",
        key_id="k",
        key_fingerprint="fp",
        rows=rows.height,
        rows_by_status=by_status,
    )
    write_parquet(rows, path, manifest)
    return path


def test_every_value_the_reference_cannot_place_is_refused_at_once_naming_the_file(
    tmp_path: Path,
) -> None:
    north_only = {"dimension": "municipality", "levels": ["purchasing_region"]}
    north_only["purchasing_region"] = {"Noord": NORTH}  # Emmen in no group
    # two rows each: a value on one row is not shown (it could be a BSN)
    names = ["Assen", "Assen", "Emmen", "Emmen", "Groningen", "Groningen"]
    rows = frame(
        [row(client, "P1", name, date(2023, 4, 1)) for client, name in enumerate(names, start=1)]
    )
    path = linked_file(rows, tmp_path / "gekoppeld.parquet")
    with pytest.raises(DataError) as caught:
        build_report(path, config(reference=reference(north_only)))
    message = str(caught.value)
    assert "'Groningen'" in message
    assert "not a municipality" in message
    assert "'Emmen'" in message
    assert "in no group of purchasing_region" in message
    assert "gekoppeld.parquet: row 3, column municipality: 'Emmen'" in message
    assert "frame" not in message


# --- the oracle: a region is the union of its clients, not a sum of rows ----------------------


def test_municipality_levels_count_each_client_once_in_their_latest_municipality() -> None:
    rng = random.Random(5)
    rows = []
    for client in range(1, 401):
        places = rng.sample([*NORTH, *SOUTH], rng.choice([1, 2, 2, 3]))
        for index, name in enumerate(places):
            rows.append(row(client, rng.choice(["P1", "P2"]), name, date(2023, 1 + 3 * index, 5)))
    data = frame(rows)
    report = tables(build_report(data, config(), internal=True))
    latest: dict[str, tuple[date, str]] = {}
    anywhere: dict[str, set[str]] = {}
    for client, name, start in data.select("pseudonym", "municipality", "start_date").rows():
        latest[client] = max(latest.get(client, (start, name)), (start, name))
        group = "Noord" if name in NORTH else "Zuid"
        anywhere.setdefault(group, set()).add(client)
    expected = {group: set() for group in ("Noord", "Zuid")}  # type: dict[str, set[str]]
    for client, (_, name) in latest.items():
        expected["Noord" if name in NORTH else "Zuid"].add(client)
    regions = dict(
        report["by-purchasing_region"].select("purchasing_region", "unique_clients").rows()
    )
    assert regions == {None: len(latest), **{g: len(c) for g, c in expected.items()}}
    municipalities = dict(report["by-municipality"].select("municipality", "unique_clients").rows())
    for group, members in (("Noord", NORTH), ("Zuid", SOUTH)):
        # one municipality per client: the region is the sum of its municipalities ...
        assert regions[group] == sum(municipalities.get(name) or 0 for name in members)
        # ... and fewer than the clients with any row in it (the data hold movers)
        assert regions[group] < len(anywhere[group])
    youth = dict(
        report["by-youth_care_region"].select("youth_care_region", "unique_clients").rows()
    )
    assert youth["Jeugdregio Drenthe"] == len(latest)


def test_factlab_protect_declares_unknown_held_by_a_part_only(tmp_path: Path) -> None:
    (tmp_path / "reference.toml").write_text(
        "version = 1\nreference_year = 2024\n[hierarchy.region]\n"
        'dimension = "municipality"\nlevels = ["purchasing_region"]\n'
        "[hierarchy.region.purchasing_region]\n"
        f"Noord = {NORTH!r}\nZuid = {SOUTH!r}\n".replace("'", '"'),
        encoding="utf-8",
    )
    linked = linked_file(unknown_in_the_first_half(), tmp_path / "linked.parquet")
    runner = CliRunner()
    reference_file = str(tmp_path / "reference.toml")
    for period in ("2023", "2023H1", "2023H2"):
        outcome = runner.invoke(
            main,
            ["count", str(linked), "--by", "region", "--period", period,
             "--reference", reference_file, "--out", str(tmp_path / f"{period}.json")],
        )  # fmt: skip
        assert outcome.exit_code == 0, outcome.output
    out = tmp_path / "protected.csv"
    outcome = runner.invoke(
        main,
        ["protect", str(tmp_path / "2023.json"), "--part", str(tmp_path / "2023H1.json"),
         "--part", str(tmp_path / "2023H2.json"), "--reference", reference_file,
         "--out", str(out)],
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    table = pl.read_csv(out)
    assert "unknown" in table.get_column("municipality").to_list()
