"""Reports with reference data: hierarchy levels as tables, protected as one (issue #20).

The oracle is plain Python: each client's latest municipality (as delivered, mapped to the
reference year by hand), the set of clients per municipality and per group, their sizes.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from scipy.optimize import linprog

from factlab import schema
from factlab.cli import main
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.errors import ConfigError, DataError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import parse_period
from factlab.reference.config import Reference, reference_from_mapping
from factlab.report.build import build_report, write_report
from factlab.report.config import RoundConfig, load_round_config, parse_round_config
from factlab.report.levels import split_counts

NORTH = ["Assen", "Aa en Hunze", "Tynaarlo", "Noordenveld", "Midden-Drenthe", "Borger-Odoorn"]
SOUTH = ["Emmen", "Coevorden", "Hoogeveen", "Meppel", "De Wolden", "Westerveld"]
REGION: dict[str, Any] = {
    "dimension": "municipality",
    "levels": ["purchasing_region", "youth_care_region"],
    # South first: the report keeps the order the reference declares
    "purchasing_region": {"Zuid-Drenthe": SOUTH, "Noord- en Midden-Drenthe": NORTH},
    "youth_care_region": {"Jeugdregio Drenthe": ["Zuid-Drenthe", "Noord- en Midden-Drenthe"]},
}
CARE: dict[str, Any] = {
    "dimension": "care_form",
    "levels": ["care_group"],
    "care_group": {"zonder verblijf": ["ambulant", "dagbehandeling"], "met verblijf": ["verblijf"]},
}
#: As delivered -> the municipality of 2024 (old names, codes, spellings).
DELIVERED = {
    "Assen": "Assen",
    "GM0106": "Assen",
    "Gieten": "Aa en Hunze",
    "Zuidlaren": "Tynaarlo",
    "Roden": "Noordenveld",
    "Middenveld": "Midden-Drenthe",
    "Borger Odoorn": "Borger-Odoorn",
    "0114": "Emmen",
    "Schoonebeek": "Emmen",
    "Dalen": "Coevorden",
    "gemeente Hoogeveen": "Hoogeveen",
    "GM0119": "Meppel",
    "Ruinerwold": "De Wolden",
    "Havelte": "Westerveld",
}
GROUP_OF = dict.fromkeys(NORTH, "Noord- en Midden-Drenthe") | dict.fromkeys(SOUTH, "Zuid-Drenthe")
PERIOD = parse_period("2023")


def reference() -> Reference:
    return reference_from_mapping(
        {"version": 1, "reference_year": 2024, "hierarchy": {"region": REGION, "care": CARE}}
    )


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows).with_columns(
        pl.col("pseudonym", "provider", "municipality", "care_form").cast(pl.String),
        *([pl.col("financing").cast(pl.String)] if any("financing" in r for r in rows) else []),
        pl.col("bsn_status").cast(schema.STATUS_DTYPE),
    )


def moving_clients(seed: int, people: int = 400) -> pl.DataFrame:
    """Clients with 1-3 rows in 2023 at distinct starts, some moving, some municipality unknown."""
    rng = random.Random(seed)
    rows = []
    for person in range(people):
        for day in rng.sample(range(0, 300), rng.randint(1, 3)):
            rows.append(
                {
                    "pseudonym": f"{person + 1:032x}",
                    "bsn_status": "valid",
                    "provider": rng.choice(["P1", "P2", "P3"]),
                    "municipality": rng.choice([*DELIVERED, None]),
                    "care_form": rng.choice(["ambulant", "dagbehandeling", "verblijf"]),
                    "financing": rng.choice(["Begroting", "ZVW", "AWBZ"]),
                    "start_date": date(2023, 1, 1) + timedelta(days=day),
                    "end_date": date(2023, 1, 1) + timedelta(days=day + rng.randint(0, 40)),
                }
            )
    return frame(rows)


def oracle(rows: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Clients per municipality, purchasing region and youth-care region, in plain Python."""
    latest: dict[str, tuple[bool, date, date, str]] = {}
    for row in rows.iter_rows(named=True):
        name = row["municipality"]
        key = (name is not None, row["start_date"], row["end_date"], name or "")
        if row["pseudonym"] not in latest or key > latest[row["pseudonym"]]:
            latest[row["pseudonym"]] = key
    where = {client: DELIVERED[key[3]] if key[0] else "unknown" for client, key in latest.items()}
    found: dict[str, dict[str, set[str]]] = {
        "municipality": {},
        "purchasing_region": {},
        "youth_care_region": {},
    }
    for client, name in where.items():
        found["municipality"].setdefault(name, set()).add(client)
        if name != "unknown":
            found["purchasing_region"].setdefault(GROUP_OF[name], set()).add(client)
            found["youth_care_region"].setdefault("Jeugdregio Drenthe", set()).add(client)
    return {dim: {k: len(v) for k, v in groups.items()} for dim, groups in found.items()} | {
        "total": {"": len(where)}
    }


def table_of(report: Any, dim: str) -> dict[str | None, int | None]:
    found = next(table for table in report.tables if table.id == f"by-{dim}").source.frame
    return dict(found.select(dim, "unique_clients").iter_rows())


def config(**given: Any) -> RoundConfig:
    settings: dict[str, Any] = {
        "dimensions": ("region", "care_form"),
        "cross": (),
        "reference": reference(),
        "period": PERIOD,
    }
    return RoundConfig(**(settings | given))


@pytest.mark.parametrize("seed", [1, 2])
def test_level_totals_are_unions_and_published_rounded(seed: int) -> None:
    rows = moving_clients(seed)
    expected = oracle(rows)
    internal = build_report(rows, config(), internal=True)
    public = build_report(rows, config())
    base = config().rules.rounding_base
    secret = config().rules.secret_max
    for dim in ("municipality", "purchasing_region", "youth_care_region"):
        exact = table_of(internal, dim)
        assert {k: v for k, v in exact.items() if k is not None} == expected[dim]
        assert exact[None] == expected["total"][""]
        shown = table_of(public, dim)
        assert set(shown) == set(exact)
        for value, real in ((shown[k], exact[k]) for k in exact):
            if value is None:
                continue
            assert value % base == 0
            assert abs(value - real) <= base // 2
            assert real == 0 or real > secret


def test_the_levels_share_their_total_and_hide_the_same_cells_in_every_table() -> None:
    rows = moving_clients(3, people=120)
    public = build_report(rows, config())
    totals = {table_of(public, dim)[None] for dim in ("municipality", "purchasing_region")}
    assert len(totals) == 1


# --- the attacker: a region total minus its published municipalities ---------------------------

SIZES = {
    "Assen": 3,  # secret
    "Aa en Hunze": 40,
    "Tynaarlo": 45,
    "Noordenveld": 50,
    "Midden-Drenthe": 55,
    "Borger-Odoorn": 60,
    "Emmen": 70,
    "Coevorden": 21,  # the cheapest second suppression lies in the other region
    "Hoogeveen": 52,
    "Meppel": 43,
    "De Wolden": 44,
    "Westerveld": 46,
}
EXACT_RULES = DisclosureRules(rounding_base=1)  # no rounding: the attack is exact arithmetic


def one_municipality_each() -> pl.DataFrame:
    rows = []
    client = 0
    for name, size in SIZES.items():
        for _ in range(size):
            client += 1
            rows.append(
                {
                    "pseudonym": f"{client:032x}",
                    "bsn_status": "valid",
                    "provider": "P1" if client % 2 else "P2",
                    "municipality": name,
                    "care_form": "ambulant" if client % 3 else "verblijf",
                    "start_date": date(2023, 3, 1),
                    "end_date": date(2023, 6, 1),
                }
            )
    return frame(rows)


def attacker_interval(published: dict[str, dict[str | None, int | None]], target: str) -> float:
    """The width of the values of ``target`` consistent with every published number (LP).

    Each client has one municipality, so a group is the sum of its municipalities.
    """
    names = list(SIZES)
    rows: list[np.ndarray[Any, Any]] = []
    values: list[float] = []

    def equation(members: list[str], value: int) -> None:
        rows.append(np.array([1.0 if name in members else 0.0 for name in names]))
        values.append(float(value))

    groups = {"Noord- en Midden-Drenthe": NORTH, "Zuid-Drenthe": SOUTH}
    for dim, table in published.items():
        for key, value in table.items():
            if value is None:
                continue
            if key is None or dim == "youth_care_region":
                equation(names, value)
            elif dim == "municipality":
                equation([key], value)
            else:
                equation(groups[key], value)
    a_eq, b_eq = np.array(rows), np.array(values)
    goal = np.array([1.0 if name == target else 0.0 for name in names])
    low = linprog(goal, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
    high = -linprog(-goal, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
    return float(high - low)


def test_a_region_minus_its_municipalities_does_not_reveal_a_suppressed_one() -> None:
    rows = one_municipality_each()
    dims = ("municipality", "purchasing_region", "youth_care_region")
    report = build_report(rows, config(rules=EXACT_RULES))
    published = {dim: table_of(report, dim) for dim in dims}
    assert published["municipality"]["Assen"] is None
    assert attacker_interval(published, "Assen") >= EXACT_RULES.min_width

    # The same tables protected apart give Assen away: the attack has teeth.
    stacked = build_report(rows, config(rules=EXACT_RULES), internal=True)
    apart: dict[str, dict[str | None, int | None]] = {}
    for dim in dims:
        exact = next(t for t in stacked.tables if t.id == f"by-{dim}").source.frame
        counts = exact.select(dim, "unique_clients")
        rules = DisclosureRules(
            rounding_base=1, measures=(MeasureRule("unique_clients", "union"),), dimensions=(dim,)
        )
        apart[dim] = dict(protect(counts, rules).table.frame.select(dim, "unique_clients").rows())
    assert apart["municipality"]["Assen"] is None
    assert attacker_interval(apart, "Assen") < EXACT_RULES.min_width


# --- words, order, files ------------------------------------------------------------------------


def test_dutch_and_english_titles_labels_and_declared_order() -> None:
    rows = moving_clients(4, people=200)
    for language, title in (
        ("nl", "Unieke jeugdigen naar inkoopregio"),
        ("en", "Unique clients by purchasing region"),
    ):
        report = build_report(rows, config(language=language))
        table = next(t for t in report.tables if t.id == "by-purchasing_region")
        assert table.title == title
        assert table.layout.row_order == ("Zuid-Drenthe", "Noord- en Midden-Drenthe")
        assert any("2024" in note for note in table.notes)
        municipalities = next(t for t in report.tables if t.id == "by-municipality")
        order = municipalities.layout.row_order
        assert order.index("Emmen") < order.index("Assen")  # South's municipalities first
        assert order[-1] == "unknown"
    report = build_report(rows, config(labels={"purchasing_region": {"Zuid-Drenthe": "Zuid"}}))
    table = next(t for t in report.tables if t.id == "by-purchasing_region")
    assert table.layout.row_labels["Zuid-Drenthe"] == "Zuid"


def test_a_care_group_is_a_union_of_its_care_forms() -> None:
    rows = moving_clients(5, people=300)
    report = build_report(rows, config(dimensions=("care",), cross=()), internal=True)
    groups = table_of(report, "care_group")
    in_period = rows.filter(pl.col("start_date") <= PERIOD.end)
    stay = set(in_period.filter(pl.col("care_form") == "verblijf")["pseudonym"])
    other = set(in_period.filter(pl.col("care_form") != "verblijf")["pseudonym"])
    assert groups["met verblijf"] == len(stay)
    assert groups["zonder verblijf"] == len(other)


def test_split_counts_keeps_each_levels_rows_and_the_total() -> None:
    stacked = pl.DataFrame(
        {
            "municipality": [
                "Assen",
                "Emmen",
                "unknown",
                "Zuid-Drenthe",
                "Noord- en Midden-Drenthe",
                "Jeugdregio Drenthe",
                None,
            ],
            "unique_clients": [10, 20, 5, 20, 10, 30, 35],
        }
    )
    hierarchy = reference().hierarchies["region"]
    tables = split_counts(stacked, hierarchy, ["municipality", "purchasing_region"])
    assert tables["municipality"].rows() == [
        ("Assen", 10),
        ("Emmen", 20),
        ("unknown", 5),
        (None, 35),
    ]
    assert tables["purchasing_region"].rows() == [
        ("Zuid-Drenthe", 20),
        ("Noord- en Midden-Drenthe", 10),
        (None, 35),
    ]


def write_reference(folder: Path) -> Path:
    path = folder / "reference.toml"
    path.write_text(
        "version = 1\nreference_year = 2024\n\n[hierarchy.region]\n"
        'dimension = "municipality"\nlevels = ["purchasing_region"]\n\n'
        "[hierarchy.region.purchasing_region]\n"
        f'"Noord- en Midden-Drenthe" = {NORTH!r}\n"Zuid-Drenthe" = {SOUTH!r}\n'.replace("'", '"'),
        encoding="utf-8",
    )
    return path


def test_a_round_config_names_its_reference_relative_to_itself(tmp_path: Path) -> None:
    folder = tmp_path / "ronde"
    folder.mkdir()
    write_reference(folder)
    path = folder / "round.toml"
    path.write_text(
        'version = 1\nperiod = "2023"\nreference = "reference.toml"\n'
        'dimensions = ["municipality", "purchasing_region", "care_form"]\ncross = []\n'
        '[labels.purchasing_region]\n"Zuid-Drenthe" = "Zuid"\n',
        encoding="utf-8",
    )
    loaded = load_round_config(path)
    assert loaded.reference is not None
    assert loaded.reference.year == 2024
    assert [what for what, _ in loaded.files] == ["round config", "reference"]
    report = build_report(moving_clients(6, people=150), loaded)
    html = write_report(report, tmp_path / "rapport.html").read_text(encoding="utf-8")
    assert "inkoopregio" in html
    assert "Zuid" in html


def test_a_level_without_a_reference_is_refused_naming_table_and_dimension() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_round_config({"version": 1, "dimensions": ["purchasing_region"], "language": "xx"})
    problems = caught.value.problems
    assert any("'purchasing_region' (table by-purchasing_region)" in p for p in problems)
    assert any("reference" in p for p in problems)
    assert any(p.startswith("language") for p in problems)  # all problems at once


def test_reference_problems_are_reported_with_the_others(tmp_path: Path) -> None:
    (tmp_path / "reference.toml").write_text(
        "version = 1\nreference_year = 2024\n[hierarchy.region]\n"
        'dimension = "municipality"\nlevels = ["area"]\n[hierarchy.region.area]\n'
        'North = ["Assen", "Groningen"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        parse_round_config(
            {"version": 1, "reference": "reference.toml", "period": "2023x"}, base_dir=tmp_path
        )
    problems = caught.value.problems
    assert any(p.startswith("reference:") and "Groningen" in p for p in problems)
    assert any(p.startswith("period") for p in problems)
    with pytest.raises(ConfigError, match=r"reference: .*not found"):
        parse_round_config({"version": 1, "reference": "missing.toml"}, base_dir=tmp_path)


def test_provider_group_and_levels_in_the_cross_table_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"provider_group.*overlap"):
        RoundConfig(dimensions=("provider_group",), reference=reference())
    with pytest.raises(ConfigError, match="cross: care_form is in hierarchy care"):
        RoundConfig(dimensions=("care_form", "financing", "care_group"), reference=reference())
    with pytest.raises(ConfigError, match="unknown dimension 'ggd_region'"):
        RoundConfig(dimensions=("ggd_region",), reference=reference())
    by_provider = reference_from_mapping(
        {
            "version": 1,
            "reference_year": 2024,
            "hierarchy": {
                "contracts": {
                    "dimension": "provider",
                    "levels": ["provider_kind"],
                    "provider_kind": {"large": ["P1", "P2"], "small": ["P3"]},
                }
            },
        }
    )
    for name in ("provider_kind", "contracts"):
        with pytest.raises(ConfigError, match=f"'{name}' .*groups of providers"):
            RoundConfig(dimensions=(name,), reference=by_provider)


def test_labels_may_name_a_level_only_with_a_reference(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="labels/order: unknown dimension 'purchasing_region'"):
        parse_round_config({"version": 1, "order": {"purchasing_region": ["Zuid-Drenthe"]}})
    write_reference(tmp_path)
    parsed = parse_round_config(
        {
            "version": 1,
            "reference": "reference.toml",
            "order": {"purchasing_region": ["Zuid-Drenthe"]},
        },
        base_dir=tmp_path,
    )
    assert parsed.order["purchasing_region"] == ("Zuid-Drenthe",)


def test_a_municipality_in_no_region_is_refused_with_its_row() -> None:
    rows = moving_clients(7, people=40)
    rows = rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit("Groningen"))
        .otherwise(pl.col("municipality"))
        .alias("municipality")
    )
    with pytest.raises(DataError, match="row 6, column municipality"):
        build_report(rows, config())


def test_the_example_round_config_with_the_drenthe_reference() -> None:
    example = Path(__file__).parents[2] / "examples" / "reference" / "round.toml"
    loaded = load_round_config(example)
    assert loaded.reference is not None
    assert loaded.reference.year == 2014
    assert loaded.chosen_dimensions([]) == (
        "municipality",
        "purchasing_region",
        "youth_care_region",
        "care_form",
        "financing",
    )
    # the example is written for 2013; the synthetic rows are of 2023
    shifted = replace(loaded, period=PERIOD)
    report = build_report(moving_clients(8, people=300), shifted)
    ids = [table.id for table in report.tables]
    assert ids[:4] == ["cross", "by-municipality", "by-purchasing_region", "by-youth_care_region"]
    region = next(t for t in report.tables if t.id == "by-purchasing_region")
    assert region.layout.row_labels["Noord- en Midden-Drenthe"].endswith("(inkoopregio)")


def linked_file(rows: pl.DataFrame, path: Path) -> Path:
    by_status = dict.fromkeys(schema.STATUSES, 0)
    for status, number in rows.group_by("bsn_status").len().iter_rows():
        by_status[status] = number
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


def test_factlab_report_with_a_reference_exit_codes_and_files(tmp_path: Path) -> None:
    write_reference(tmp_path)
    linked = linked_file(moving_clients(9, people=150), tmp_path / "linked.parquet")
    good = tmp_path / "round.toml"
    good.write_text(
        'version = 1\nperiod = "2023"\nreference = "reference.toml"\n'
        'dimensions = ["region", "care_form"]\ncross = []\nlanguage = "en"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    out = tmp_path / "report.html"
    result = runner.invoke(main, ["report", str(linked), "--config", str(good), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Unique clients by purchasing region" in html
    assert "Zuid-Drenthe" in html
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\ndimensions = ["purchasing_region"]\n', encoding="utf-8")
    result = runner.invoke(
        main, ["report", str(linked), "--config", str(bad), "--out", str(tmp_path / "b.html")]
    )
    assert result.exit_code == 4
    assert "by-purchasing_region" in result.output
    assert not (tmp_path / "b.html").exists()
    elsewhere = moving_clients(9, people=150).with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("Groningen"))
        .otherwise(pl.col("municipality"))
        .alias("municipality")
    )
    other = linked_file(elsewhere, tmp_path / "elsewhere.parquet")
    result = runner.invoke(
        main, ["report", str(other), "--config", str(good), "--out", str(tmp_path / "c.html")]
    )
    assert result.exit_code == 6
    assert "row 1, column municipality" in result.output
    assert not (tmp_path / "c.html").exists()


def test_levels_with_parts_are_unions_per_part() -> None:
    rng = random.Random(12)
    rows = []
    for client in range(1, 301):
        name = rng.choice(list(SIZES))
        for start in rng.sample([date(2023, 2, 1), date(2023, 5, 1), date(2023, 9, 1)], 2):
            rows.append(
                {
                    "pseudonym": f"{client:032x}",
                    "bsn_status": "valid",
                    "provider": "P1",
                    "municipality": name,
                    "care_form": "ambulant",
                    "start_date": start,
                    "end_date": start + timedelta(days=20),
                }
            )
    data = frame(rows)
    halves = (parse_period("2023H1"), parse_period("2023H2"))
    settings = config(parts=halves, dimensions=("purchasing_region", "care_form"))
    internal = build_report(data, settings, internal=True)
    public = build_report(data, settings)
    for half in halves:
        inside = data.filter(pl.col("start_date").is_between(half.start, half.end))
        expected: dict[str, set[str]] = {}
        for client, name in inside.select("pseudonym", "municipality").iter_rows():
            expected.setdefault(GROUP_OF[name], set()).add(client)
        table = next(t for t in internal.tables if t.id == "by-purchasing_region").source.frame
        got = dict(
            table.filter(pl.col("period") == half.label, pl.col("purchasing_region").is_not_null())
            .select("purchasing_region", "unique_clients")
            .iter_rows()
        )
        assert got == {group: len(clients) for group, clients in expected.items()}
    shown = next(t for t in public.tables if t.id == "by-purchasing_region").source.frame
    assert set(shown["period"].unique()) == {"2023H1", "2023H2", "2023"}
    assert shown.filter(pl.col("unique_clients").is_not_null())["unique_clients"].to_list()
    assert all(v % 5 == 0 for v in shown["unique_clients"].drop_nulls())
