"""Tests of disclosure control: primary and secondary suppression, rounding, audit, rules, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import factlab.cli.protect  # noqa: F401  (registers the command)
from factlab.cli import main
from factlab.demo import DemoResult, run_demo
from factlab.disclosure.audit import audit
from factlab.disclosure.protect import ProtectedTable, protect, read_protected, write_protected
from factlab.disclosure.rules import (
    PRESETS,
    DisclosureRules,
    MeasureRule,
    disclosure_2014,
    load_rules,
    preset,
    rules_from_mapping,
)
from factlab.errors import ConfigError, DataError, InputError
from factlab.synth.round2014 import expected_2014

MUNICIPALITIES = ("Assen", "Emmen", "Meppel")
CARE_FORMS = ("ambulant", "verblijf", "crisis")
NO_ROUNDING = DisclosureRules(rounding_base=1)

# A client: (municipality, {care form: registrations}); the municipality is one per client.
Client = tuple[str, dict[str, int]]


def count_table(clients: Sequence[Client], *, keep_zeros: bool = False) -> pl.DataFrame:
    """The oracle: a count table with all margins, by plain-Python set computations."""
    munis = sorted({m for m, _ in clients}) or [MUNICIPALITIES[0]]
    forms = sorted({f for _, fs in clients for f in fs}) or [CARE_FORMS[0]]
    rows = []
    for muni in [*munis, None]:
        for form in [*forms, None]:
            ids = set()
            registrations = 0
            for index, (m, fs) in enumerate(clients):
                for f, n in fs.items():
                    if (muni is None or m == muni) and (form is None or f == form):
                        ids.add(index)
                        registrations += n
            if ids or keep_zeros or muni is None or form is None:
                rows.append((muni, form, len(ids), registrations))
    return pl.DataFrame(
        rows,
        schema={
            "municipality": pl.String,
            "care_form": pl.String,
            "unique_clients": pl.Int64,
            "registrations": pl.Int64,
        },
        orient="row",
    )


def one_dimension(
    values: dict[str, int], total: int, measure: str = "registrations"
) -> pl.DataFrame:
    names = [*values, None]
    return pl.DataFrame({"care_form": names, measure: [*values.values(), total]})


def truth_by_key(
    counts: pl.DataFrame, keys: Sequence[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[k] for k in keys): row for row in counts.iter_rows(named=True)}


clients_strategy = st.lists(
    st.tuples(
        st.sampled_from(MUNICIPALITIES),
        st.dictionaries(st.sampled_from(CARE_FORMS), st.integers(1, 3), min_size=1, max_size=2),
    ),
    min_size=1,
    max_size=45,
)
lp_settings = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- primary suppression and presets -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret", "shown"),
    [
        ("cbs", [0, 1, 7], [8, 12]),
        ("threshold10", [0, 1, 9], [10, 12]),
        ("threshold3", [1, 3], [0, 4, 9]),
    ],
)
def test_presets_suppress_their_secret_range(
    name: str, secret: list[int], shown: list[int]
) -> None:
    values = [*secret, *shown]
    counts = pl.DataFrame(
        {
            "care_form": [f"c{i}" for i in range(len(values))] + [None],
            "unique_clients": [*values, sum(values)],
        }
    )
    rules = dataclasses.replace(preset(name), rounding_base=1)
    report = protect(counts, rules).report
    primary = report.audit.cells.filter(pl.col("reason") == "primary")
    assert set(primary["care_form"]) == {f"c{i}" for i, v in enumerate(values) if v in secret}
    published = {f"c{i}" for i, v in enumerate(values) if v in shown}
    assert published.isdisjoint(primary["care_form"])
    assert report.primary == len(secret)


# --- secondary suppression and the audit ---------------------------------------------------


@lp_settings
@given(
    clients=clients_strategy, name=st.sampled_from(sorted(PRESETS)), base=st.sampled_from([1, 5])
)
def test_audit_finds_nothing_derivable_after_protection(
    clients: list[Client], name: str, base: int
) -> None:
    rules = dataclasses.replace(preset(name), rounding_base=base)
    counts = count_table(clients)
    table = protect(counts, rules).table
    result = audit(counts, table.suppressed_cells(), rules)
    assert result.passed
    assert result.primary_published == 0
    # Every interval holds the true value, and secret ones are wide enough.
    truth = truth_by_key(count_table(clients, keep_zeros=True), ("municipality", "care_form"))
    for row in result.cells.iter_rows(named=True):
        value = truth[(row["municipality"], row["care_form"])][row["measure"]]
        assert row["lower"] <= value <= row["upper"]
        if row["reason"] == "primary":
            assert row["width"] >= rules.min_width


def test_a_lone_suppressed_cell_in_a_row_with_a_total_is_derivable() -> None:
    counts = one_dimension({"a": 3, "b": 20, "c": 30}, 53)
    result = audit(counts, pl.DataFrame({"care_form": ["a"]}), NO_ROUNDING)
    assert not result.passed
    row = result.failures().row(0, named=True)
    assert (row["care_form"], row["lower"], row["upper"], row["width"]) == ("a", 3, 3, 0)
    # With a complement the same cell is safe, and protect finds that complement itself.
    assert audit(counts, pl.DataFrame({"care_form": ["a", "b"]}), NO_ROUNDING).passed
    protected = protect(counts, NO_ROUNDING)
    assert protected.table.suppressed_cells()["care_form"].to_list() == ["a", "b"]
    assert (protected.report.primary, protected.report.secondary) == (1, 1)


def test_audit_fails_when_a_secret_cell_is_published() -> None:
    counts = one_dimension({"a": 3, "b": 20, "c": 30}, 53)
    result = audit(
        counts,
        pl.DataFrame({"care_form": ["b", "c"]}, schema={"care_form": pl.String}),
        NO_ROUNDING,
    )
    assert result.primary_published == 1
    assert not result.passed


def test_union_margins_narrow_a_cell_across_row_and_column() -> None:
    # x ≥ row total − other cell in the row (30 − 25 = 5) and x ≤ column total (9): [5, 9].
    counts = pl.DataFrame(
        {
            "municipality": ["A", "A", "B", "B", "A", "B", None, None, None],
            "care_form": ["f", "g", "f", "g", None, None, "f", "g", None],
            "unique_clients": [5, 25, 8, 30, 30, 30, 9, 50, 58],
        }
    )
    rules = DisclosureRules(rounding_base=1, measures=(MeasureRule("unique_clients", "union"),))
    result = audit(counts, pl.DataFrame({"municipality": ["A"], "care_form": ["f"]}), rules)
    row = result.cells.row(0, named=True)
    assert (row["lower"], row["upper"]) == (5, 9)
    assert not result.passed
    protected = protect(counts, rules)
    assert audit(counts, protected.table.suppressed_cells(), rules).passed


def test_rounding_alone_can_protect_a_lone_cell() -> None:
    counts = one_dimension({"a": 3, "b": 20, "c": 30}, 53)
    result = audit(counts, pl.DataFrame({"care_form": ["a"]}), DisclosureRules())
    # Total 55 ∈ [53, 57], b 20 ∈ [18, 22], c 30 ∈ [28, 32]: a ∈ [0, 11].
    assert (result.cells["lower"][0], result.cells["upper"][0]) == (0, 11)
    assert result.passed


def test_protect_secondary_requires_width_for_complements_too() -> None:
    counts = one_dimension({"a": 3, "b": 40, "c": 30, "d": 50}, 123)
    loose = DisclosureRules(rounding_base=1, protection_percent=200)
    hidden = protect(counts, loose).table.suppressed_cells()["care_form"].to_list()
    assert hidden == ["a", "c"]  # the smallest complement; only the secret cell needs a width
    strict = dataclasses.replace(loose, protect_secondary=True)
    protected = protect(counts, strict)
    # c (30) needs a width of 60, b (40) of 80: only hiding every cell gives that (sum 123).
    assert protected.table.suppressed_cells()["care_form"].to_list() == ["a", "b", "c", "d"]
    cells = protected.report.audit.cells
    assert cells["required_width"].is_not_null().all()
    assert (cells["width"] >= cells["required_width"]).all()


def test_zero_cells_follow_the_rules() -> None:
    clients: list[Client] = [("Assen", {"ambulant": 1})] * 20 + [("Emmen", {"verblijf": 1})] * 20
    counts = count_table(clients)  # Assen×verblijf and Emmen×ambulant are missing: zeros
    cbs = protect(counts, dataclasses.replace(preset("cbs"), rounding_base=1)).table.frame
    zero = cbs.filter((pl.col("municipality") == "Assen") & (pl.col("care_form") == "verblijf"))
    assert zero["unique_clients_status"].to_list() == ["suppressed"]
    shown = protect(counts, dataclasses.replace(preset("threshold3"), rounding_base=1))
    frame = shown.table.frame
    assert frame.height == 9  # the grid is complete: a missing combination is a zero
    assert (frame["unique_clients_status"] == "published").all()
    zeros = frame.filter(pl.col("unique_clients") == 0)
    assert zeros.height == 2


def test_zeros_are_never_complements_when_shown() -> None:
    counts = one_dimension({"a": 2, "b": 0, "c": 30, "d": 40}, 72)
    rules = dataclasses.replace(preset("threshold3"), rounding_base=1)
    protected = protect(counts, rules)
    hidden = set(protected.table.suppressed_cells()["care_form"].to_list())
    assert "a" in hidden
    assert "b" not in hidden
    assert protected.report.audit.passed


def test_protection_is_deterministic_and_order_free() -> None:
    rng = random.Random(7)
    clients: list[Client] = [
        (rng.choice(MUNICIPALITIES), {rng.choice(CARE_FORMS): rng.randint(1, 3)}) for _ in range(60)
    ]
    counts = count_table(clients)
    first = protect(counts, NO_ROUNDING)
    again = protect(counts.sample(fraction=1.0, shuffle=True, seed=3), NO_ROUNDING)
    assert first.table.frame.equals(again.table.frame)
    assert first.report.to_dict() == again.report.to_dict()


def test_year_and_halves_are_protected_together() -> None:
    rng = random.Random(11)
    halves: dict[str, list[Client]] = {"H1": [], "H2": []}
    year: list[Client] = []
    for _ in range(70):
        client = (rng.choice(MUNICIPALITIES[:2]), {rng.choice(CARE_FORMS[:2]): 1})
        year.append(client)
        for half in rng.choice([["H1"], ["H2"], ["H1", "H2"]]):
            halves[half].append(client)
    # The year is the union of its halves: a client in both halves counts once in the year.
    counts = count_table(year)
    parts = {"2025H1": count_table(halves["H1"]), "2025H2": count_table(halves["H2"])}
    protected = protect(counts, NO_ROUNDING, parts=parts, label="2025")
    frame = protected.table.frame
    assert set(frame["period"]) == {"2025", "2025H1", "2025H2"}
    assert protected.report.audit.passed
    result = audit(
        counts, protected.table.suppressed_cells(), NO_ROUNDING, parts=parts, label="2025"
    )
    assert result.passed
    # A half larger than its year is not a valid pair of tables.
    broken = {"2025H1": count_table(year + year[:5]), "2025H2": parts["2025H2"]}
    with pytest.raises(DataError, match="period"):
        protect(counts, NO_ROUNDING, parts=broken, label="2025")


def test_sum_of_cells_margins_on_the_2014_table() -> None:
    cells = {
        ("ambulant", "Begroting"): 2986, ("ambulant", "ZVW"): 5280, ("ambulant", "AWBZ"): 473,
        ("dagbehandeling", "Begroting"): 150, ("dagbehandeling", "ZVW"): 2,
        ("dagbehandeling", "AWBZ"): 334, ("verblijf", "Begroting"): 601,
        ("verblijf", "ZVW"): 129, ("verblijf", "AWBZ"): 308, ("JB/JR", "Begroting"): 982,
    }  # fmt: skip
    rows: list[tuple[str | None, str | None, int]] = [
        (form, financing, value) for (form, financing), value in cells.items()
    ]
    rows += [(form, None, 0) for form in {f for f, _ in cells}]
    rows += [(None, financing, 0) for financing in {f for _, f in cells}]
    rows += [(None, None, 8241)]  # the unique total; replaced by the sum of cells
    counts = pl.DataFrame(rows, schema=["care_form", "financing", "unique_clients"], orient="row")
    rules = DisclosureRules(measures=(MeasureRule("unique_clients", "sum_of_cells"),))
    protected = protect(counts, rules)
    frame = protected.table.frame
    total = frame.filter(pl.col("care_form").is_null() & pl.col("financing").is_null())
    assert total["unique_clients"].to_list() == [11245]
    hidden = set(map(tuple, protected.table.suppressed_cells().rows()))
    assert ("dagbehandeling", "ZVW") in hidden  # 2 clients: secret
    assert ("JB/JR", "ZVW") in hidden  # an empty cell: 0 is secret under CBS rules
    assert protected.report.audit.passed
    assert protected.report.additive_dimensions["unique_clients"] == ("care_form", "financing")


def test_protect_takes_a_count_result() -> None:
    from factlab import schema
    from factlab.analysis.counts import count

    rng = random.Random(3)
    rows = []
    for person in range(120):
        pseudonym = hashlib.sha256(f"person-{person}".encode()).hexdigest()[:32]
        municipality = rng.choice(MUNICIPALITIES)
        for form in rng.sample(CARE_FORMS, rng.choice([1, 1, 2])):
            rows.append((pseudonym, "valid", "A", municipality, form))
    linked = pl.DataFrame(
        rows,
        schema=["pseudonym", "bsn_status", "provider", "municipality", "care_form"],
        orient="row",
    ).with_columns(pl.col("bsn_status").cast(schema.STATUS_DTYPE))
    counted = count(linked, by=("municipality", "care_form"))
    protected = protect(counted, NO_ROUNDING)
    assert protected.table.dimensions == ("municipality", "care_form")
    assert protected.report.audit.passed
    # Oracle: distinct persons per published cell, by plain-Python sets.
    persons: dict[tuple[str | None, str | None], set[str]] = {}
    for pseudonym, _, _, municipality, form in rows:
        for key in [(municipality, form), (municipality, None), (None, form), (None, None)]:
            persons.setdefault(key, set()).add(pseudonym)
    for row in protected.table.frame.iter_rows(named=True):
        exact = len(persons.get((row["municipality"], row["care_form"]), set()))
        if exact <= 7:
            assert row["unique_clients_status"] == "suppressed"
        if row["unique_clients_status"] == "published":
            assert row["unique_clients"] == exact
        else:
            assert row["unique_clients"] is None


# --- rounding, percentages, rendering ------------------------------------------------------


def test_rounding_and_percentages_after_rounding() -> None:
    counts = one_dimension({"a": 42, "b": 57}, 97, measure="unique_clients")
    table = protect(counts).table.with_percentages("care_form")
    frame = table.frame
    assert frame["unique_clients"].to_list() == [95, 40, 55]
    # Percentages use the published (rounded) values: 40 / 95 and 55 / 95.
    assert frame["unique_clients_pct"].to_list() == [None, 42.1, 57.9]
    rendered = table.render()
    assert rendered["care_form"].to_list() == ["total", "a", "b"]
    assert rendered["unique_clients"].to_list() == ["95", "40", "55"]


def test_render_shows_suppressed_values_as_a_dot() -> None:
    counts = one_dimension({"a": 3, "b": 20, "c": 30}, 53)
    table = protect(counts, NO_ROUNDING).table.with_percentages("care_form")
    rendered = table.render()
    assert rendered["registrations"].to_list() == ["53", ".", ".", "30"]
    assert rendered["registrations_pct"].to_list() == ["", ".", ".", "56.6"]


def test_report_counts_information_lost() -> None:
    counts = one_dimension({"a": 3, "b": 20, "c": 30}, 53)
    report = protect(counts, NO_ROUNDING).report
    lost = report.information_lost["registrations"]
    assert (lost["suppressed"], lost["total"]) == (23, 53)
    data = report.to_dict()
    assert data["internal"] is True
    assert data["suppressed"] == {"primary": 1, "secondary": 1, "share_of_cells": 0.5}
    assert data["audit"]["passed"] is True
    json.dumps(data)  # JSON-ready


# --- input checks --------------------------------------------------------------------------


def test_bad_count_tables_are_refused() -> None:
    good = one_dimension({"a": 10, "b": 20}, 30)
    with pytest.raises(DataError, match="negative count"):
        protect(good.with_columns(pl.col("registrations").replace(10, -1)))
    with pytest.raises(DataError, match="more than once"):
        protect(pl.concat([good, good.head(1)]))
    with pytest.raises(DataError, match="margin rows"):
        protect(good.filter(pl.col("care_form").is_not_null()))
    with pytest.raises(DataError, match="not equal to the sum"):
        protect(one_dimension({"a": 10, "b": 20}, 31))
    with pytest.raises(DataError, match="between the largest cell and the sum"):
        protect(one_dimension({"a": 10, "b": 20}, 31, measure="unique_clients"))
    with pytest.raises(InputError, match="no unique_clients or registrations"):
        protect(pl.DataFrame({"care_form": ["a", None], "clients": [1, 1]}))


def test_unknown_numeric_columns_are_never_published() -> None:
    counts = one_dimension({"a": 10, "b": 20}, 30).with_columns(
        pl.lit(1.5).alias("cost_per_client"), pl.lit(30).alias("sum_of_cells")
    )
    protected = protect(counts)
    assert protected.table.dimensions == ("care_form",)
    assert "cost_per_client" not in protected.table.frame.columns
    assert set(protected.report.dropped_columns) == {"cost_per_client", "sum_of_cells"}


def test_protected_table_is_not_made_from_raw_counts() -> None:
    counts = one_dimension({"a": 10, "b": 20}, 30)
    with pytest.raises(TypeError, match="protect"):
        ProtectedTable(counts, ("care_form",), ("registrations",), None, DisclosureRules())


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_protected_tables_round_trip(tmp_path: Path, suffix: str) -> None:
    counts = one_dimension({"a": 3, "b": 20, "c": 30}, 53)
    table = protect(counts).table.with_percentages("care_form")
    written = write_protected(table, tmp_path / f"out{suffix}")
    back = read_protected(written[0])
    assert back.frame.equals(table.frame)
    assert (back.dimensions, back.measures, back.rules) == (
        table.dimensions, table.measures, table.rules,
    )  # fmt: skip
    raw = tmp_path / f"raw{suffix}"
    if suffix == ".csv":
        counts.write_csv(raw)
    elif suffix == ".parquet":
        counts.write_parquet(raw)
    else:
        raw.write_text(json.dumps({"metadata": {}, "rows": counts.to_dicts()}))
    with pytest.raises(InputError, match="not a protected table"):
        read_protected(raw)


# --- rules files ---------------------------------------------------------------------------


def test_rules_file_overrides_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'version = 1\npreset = "threshold10"\n[rounding]\nbase = 10\n'
        "[protection]\nmin_width = 4.5\n"
        '[measures]\nunique_clients = "union"\ntrajectories = "union"\n'
        '[table]\ndimensions = ["care_form"]\n'
    )
    rules = load_rules(path)
    assert (rules.secret_max, rules.zero_is_secret, rules.rounding_base) == (9, True, 10)
    assert rules.min_width == 4.5
    assert rules.measures == (MeasureRule("unique_clients"), MeasureRule("trajectories"))
    assert rules.dimensions == ("care_form",)
    assert rules_from_mapping(rules.to_dict()) == dataclasses.replace(rules, name=rules.name)


def test_rules_validation_lists_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'version = 2\npreset = "strict"\ncolour = "red"\n'
        "[primary]\nsecret_max = -1\nzero_is_secret = 1\nextra = true\n"
        "[rounding]\nbase = 0\n"
        '[protection]\nmin_width = "wide"\npercent = -5\n'
        '[measures]\nunique_clients = "sum"\n'
        '[table]\ndimensions = ["a", "a"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert caught.value.problems == [
        "colour: unknown key",
        "version: unsupported version (supported: 1)",
        "preset: unknown preset (choose cbs, threshold10, threshold3)",
        "primary.secret_max: must be a whole number >= 0",
        "primary.zero_is_secret: must be true or false",
        "primary.extra: unknown key",
        "rounding.base: must be a whole number >= 1",
        "protection.min_width: must be a number >= 0",
        "protection.percent: must be a number >= 0",
        "table.dimensions: names a column more than once",
        "measures.unique_clients: must be one of union, additive, sum_of_cells",
    ]


def test_rules_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_rules(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_rules(broken)
    with pytest.raises(ConfigError, match="version: missing"):
        rules_from_mapping({"preset": "cbs"})
    with pytest.raises(ConfigError, match=r"rounding\.base"):
        DisclosureRules(rounding_base=0)
    with pytest.raises(ConfigError, match="more than once"):
        DisclosureRules(measures=(MeasureRule("registrations"), MeasureRule("registrations")))


# --- command line --------------------------------------------------------------------------


def _write_counts(path: Path, counts: pl.DataFrame, period: str) -> None:
    counts.write_csv(path)
    metadata = {
        "exact": True,
        "internal": True,
        "by": ["municipality", "care_form"],
        "period": period,
    }
    path.with_name(path.name + ".meta.json").write_text(json.dumps({"metadata": metadata}))


def test_cli_protects_and_reports(tmp_path: Path) -> None:
    rng = random.Random(5)
    clients: list[Client] = [
        (rng.choice(MUNICIPALITIES), {rng.choice(CARE_FORMS): 1}) for _ in range(80)
    ]
    _write_counts(tmp_path / "counts.csv", count_table(clients), "2025")
    out, report = tmp_path / "protected.json", tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        ["protect", str(tmp_path / "counts.csv"), "--out", str(out), "--report", str(report),
         "--preset", "threshold10", "--percent-of", "care_form"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "audit passed" in result.output
    document = json.loads(out.read_text())
    assert document["metadata"]["format"] == "factlab-protected"
    assert document["metadata"]["rules"]["name"] == "threshold10"
    for row in document["rows"]:
        assert row["unique_clients"] is None or row["unique_clients"] % 5 == 0
        assert (row["unique_clients"] is None) == (row["unique_clients_status"] == "suppressed")
    assert json.loads(report.read_text())["audit"]["passed"] is True
    back = read_protected(out)
    assert "unique_clients_pct" in back.frame.columns


def test_cli_parts_take_their_labels_from_the_counts(tmp_path: Path) -> None:
    clients: list[Client] = [("Assen", {"ambulant": 1})] * 30 + [("Emmen", {"verblijf": 2})] * 12
    _write_counts(tmp_path / "year.csv", count_table(clients), "2025")
    _write_counts(tmp_path / "h1.csv", count_table(clients[:25]), "2025H1")
    _write_counts(tmp_path / "h2.csv", count_table(clients[20:]), "2025H2")
    out = tmp_path / "protected.csv"
    result = CliRunner().invoke(
        main,
        ["protect", str(tmp_path / "year.csv"), "--part", str(tmp_path / "h1.csv"),
         "--part", str(tmp_path / "h2.csv"), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = read_protected(out)
    assert table.part_column == "period"
    assert set(table.frame["period"]) == {"2025", "2025H1", "2025H2"}


def test_cli_errors_write_nothing(tmp_path: Path) -> None:
    counts = tmp_path / "counts.csv"
    _write_counts(counts, count_table([("Assen", {"ambulant": 1})] * 20), "2025")
    rules = tmp_path / "rules.toml"
    rules.write_text("version = 1\n[rounding]\nbase = 0\n")
    out = tmp_path / "out.csv"
    runner = CliRunner()
    cases = [
        (["--rules", str(rules)], 4, "rounding.base"),
        (["--rules", str(rules), "--preset", "cbs"], 2, "not both"),
        (["--preset", "nope"], 2, "nope"),
    ]
    for extra, code, text in cases:
        result = runner.invoke(main, ["protect", str(counts), "--out", str(out), *extra])
        assert result.exit_code == code, result.output
        assert text in result.output
    result = runner.invoke(main, ["protect", str(counts), "--out", str(tmp_path / "out.xlsx")])
    assert result.exit_code == 4
    result = runner.invoke(main, ["protect", str(tmp_path / "none.csv"), "--out", str(out)])
    assert result.exit_code == 3
    assert not out.exists()
    broken = tmp_path / "broken.csv"
    one_dimension({"a": 10, "b": 20}, 31).write_csv(broken)
    result = runner.invoke(main, ["protect", str(broken), "--out", str(out)])
    assert result.exit_code == 6
    assert "not equal to the sum" in result.output
    assert not out.exists()
    assert runner.invoke(main, ["protect", str(counts), "--out", str(out)]).exit_code == 0
    result = runner.invoke(main, ["protect", str(out), "--out", str(tmp_path / "again.csv")])
    assert result.exit_code == 3
    assert "already a protected table" in result.output


# --- structural empties --------------------------------------------------------------------

JBJR_EMPTY = (
    {"care_form": "JB/JR", "financing": "ZVW"},
    {"care_form": "JB/JR", "financing": "AWBZ"},
)


def cross_table(cells: dict[tuple[str, str], int], measure: str = "registrations") -> pl.DataFrame:
    """care form × financing with additive margins; combinations not given are absent (zero)."""
    forms = sorted({form for form, _ in cells})
    streams = sorted({stream for _, stream in cells})
    rows: list[tuple[str | None, str | None, int]] = [(f, s, n) for (f, s), n in cells.items()]
    rows += [(f, None, sum(n for (g, _), n in cells.items() if g == f)) for f in forms]
    rows += [(None, s, sum(n for (_, t), n in cells.items() if t == s)) for s in streams]
    rows.append((None, None, sum(cells.values())))
    return pl.DataFrame(rows, schema=["care_form", "financing", measure], orient="row")


SMALL_2014: dict[tuple[str, str], int] = {
    ("ambulant", "Begroting"): 40, ("ambulant", "ZVW"): 55, ("ambulant", "AWBZ"): 30,
    ("verblijf", "Begroting"): 25, ("verblijf", "ZVW"): 3, ("verblijf", "AWBZ"): 20,
    ("JB/JR", "Begroting"): 35,
}  # fmt: skip


def cell(frame: pl.DataFrame, form: str | None, stream: str | None) -> dict[str, Any]:
    rows = frame.filter(
        pl.col("care_form").eq_missing(pl.lit(form, dtype=pl.String)),
        pl.col("financing").eq_missing(pl.lit(stream, dtype=pl.String)),
    )
    assert rows.height == 1
    return rows.row(0, named=True)


def test_declared_empties_are_published_as_structural_zeros() -> None:
    counts = cross_table(SMALL_2014)
    undeclared = protect(counts, NO_ROUNDING)
    # Without the declaration the empty cells are secret zeros, and a count of the JB/JR row
    # goes with them (its Begroting cell or its total: both 35, the search hides the cell).
    assert cell(undeclared.table.frame, "JB/JR", "ZVW")["registrations_status"] == "suppressed"
    row = {
        cell(undeclared.table.frame, "JB/JR", s)["registrations_status"]
        for s in ("Begroting", None)
    }
    assert "suppressed" in row
    rules = dataclasses.replace(NO_ROUNDING, structural_empty=JBJR_EMPTY)
    protected = protect(counts, rules)
    frame = protected.table.frame
    for stream in ("ZVW", "AWBZ"):
        row = cell(frame, "JB/JR", stream)
        assert (row["registrations"], row["registrations_status"]) == (0, "structural")
    row = cell(frame, "JB/JR", None)
    assert (row["registrations"], row["registrations_status"]) == (35, "published")
    assert cell(frame, "verblijf", "ZVW")["registrations_status"] == "suppressed"  # 3: secret
    report = protected.report
    assert (report.primary, report.structural, report.structural_unmatched) == (1, 2, ())
    assert report.audit.passed
    structural = {("JB/JR", "ZVW"), ("JB/JR", "AWBZ")}
    assert structural.isdisjoint(map(tuple, protected.table.suppressed_cells().rows()))
    assert structural.isdisjoint(
        (r["care_form"], r["financing"]) for r in report.audit.cells.iter_rows(named=True)
    )
    rendered = protected.table.with_percentages("financing").render()
    jbjr = rendered.filter(pl.col("care_form") == "JB/JR", pl.col("financing") == "ZVW")
    assert jbjr.row(0) == ("JB/JR", "ZVW", "-", "-")
    assert report.to_dict()["structural_empty"] == {"cells": 2, "unmatched_declarations": []}
    # Only declared combinations change: another absent combination is still a secret zero.
    partial = dataclasses.replace(NO_ROUNDING, structural_empty=JBJR_EMPTY[:1])
    frame = protect(counts, partial).table.frame
    assert cell(frame, "JB/JR", "AWBZ")["registrations_status"] == "suppressed"


def test_a_selection_matches_margins_and_ignores_tables_without_its_dimensions() -> None:
    counts = cross_table(SMALL_2014)
    # {"care_form": "crisis"}: a value that does not occur; {"region": ...}: not a dimension.
    rules = dataclasses.replace(
        NO_ROUNDING,
        structural_empty=(
            {"financing": "ZVW", "care_form": "JB/JR"},
            {"care_form": "crisis"},
            {"region": "Drenthe", "financing": "ZVW"},
        ),
    )
    report = protect(counts, rules).report
    assert (report.structural, report.structural_unmatched) == (1, (2, 3))
    # By care form alone, JB/JR is the total over financing: the declaration does not apply.
    by_form = counts.filter(pl.col("financing").is_null()).drop("financing")
    alone = protect(by_form, dataclasses.replace(rules, dimensions=("care_form",)))
    assert alone.report.structural == 0
    assert alone.table.frame["registrations_status"].to_list().count("structural") == 0
    # A partial selection matches every cell with that value, margins included.
    empty_form = dataclasses.replace(NO_ROUNDING, structural_empty=({"care_form": "JB/JR"},))
    with_margins = cross_table({**SMALL_2014, ("JB/JR", "Begroting"): 0})
    result = protect(with_margins, empty_form)
    frame = result.table.frame.filter(pl.col("care_form") == "JB/JR")
    assert frame.height == 4
    assert (frame["registrations_status"] == "structural").all()
    assert result.report.audit.passed


def test_the_2014_table_publishes_the_jbjr_total() -> None:
    cells = expected_2014()
    rows = cells.rows()
    rows += [(form, None, 0) for form in cells["care_form"].unique()]
    rows += [(None, stream, 0) for stream in cells["financing"].unique()]
    rows.append((None, None, 8241))
    counts = pl.DataFrame(rows, schema=cells.columns, orient="row")
    rules = dataclasses.replace(
        disclosure_2014(), measures=(MeasureRule("unique_clients", "sum_of_cells"),)
    )
    protected = protect(counts, rules)
    frame = protected.table.frame
    assert cell(frame, "JB/JR", None)["unique_clients"] == 980  # 982, rounded to 5
    assert cell(frame, "JB/JR", "Begroting")["unique_clients_status"] == "published"
    assert cell(frame, "JB/JR", "ZVW")["unique_clients_status"] == "structural"
    assert cell(frame, "JB/JR", "AWBZ")["unique_clients_status"] == "structural"
    assert cell(frame, "dagbehandeling", "ZVW")["unique_clients_status"] == "suppressed"
    assert cell(frame, None, None)["unique_clients"] == 11245
    assert protected.report.audit.passed
    hidden = protected.table.suppressed_cells()
    assert audit(counts, hidden, rules).passed
    # The cells of the published table, where published, within rounding of the exact ones.
    for form, stream, exact in cells.rows():
        row = cell(frame, form, stream)
        if row["unique_clients_status"] == "published":
            assert abs(row["unique_clients"] - exact) <= 2


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo") / "round")


def test_the_demo_publishes_the_jbjr_row(demo: DemoResult) -> None:
    protection = demo.protection
    assert protection.table.rules.name == "cbs-drenthe-2014"
    back = read_protected(demo.outdir / "trusted" / "cells-protected.csv")
    assert back.frame.equals(protection.table.frame)
    frame = back.frame
    total = cell(frame, "JB/JR", None)
    assert (total["unique_clients"], total["unique_clients_status"]) == (980, "published")
    for stream in ("ZVW", "AWBZ"):
        assert cell(frame, "JB/JR", stream)["unique_clients_status"] == "structural"
    assert cell(frame, "dagbehandeling", "ZVW")["unique_clients_status"] == "suppressed"
    assert protection.report.audit.passed
    assert protection.report.structural == 2
    # The audit from scratch, on the exact counts, agrees.
    rules = protection.table.rules
    assert audit(demo.cells.table, back.suppressed_cells(), rules).passed


def test_clients_in_a_declared_empty_cell_are_refused() -> None:
    counts = cross_table({**SMALL_2014, ("JB/JR", "ZVW"): 4})
    rules = dataclasses.replace(NO_ROUNDING, structural_empty=JBJR_EMPTY)
    with pytest.raises(DataError, match=r"care_form=JB/JR, financing=ZVW") as caught:
        protect(counts, rules)
    message = str(caught.value)
    assert "structural_empty[1]" in message
    assert "4" not in message.replace("structural_empty[1]", "")  # no count is named
    # In a part of the period, too.
    year = cross_table(SMALL_2014)
    with pytest.raises(DataError, match="period=H1, care_form=JB/JR, financing=ZVW"):
        protect(year, rules, parts={"H1": counts}, label="Y")
    with pytest.raises(DataError, match="structurally empty"):
        audit(counts, pl.DataFrame({"care_form": ["a"], "financing": ["b"]}), rules)


def test_the_audit_knows_a_structural_empty_is_zero() -> None:
    # JB/JR alone: Begroting 5, ZVW 0; zeros shown (threshold3), no rounding.
    counts = pl.DataFrame(
        {"financing": ["Begroting", "ZVW", None], "registrations": [5, 0, 5]},
    )
    plain = dataclasses.replace(preset("threshold3"), secret_max=5, rounding_base=1)
    hidden = pl.DataFrame({"financing": ["Begroting", "ZVW"]})
    # Not declared: "." over ZVW may hide clients, so Begroting lies in [0, 5].
    loose = audit(counts, hidden, plain).cells.filter(pl.col("financing") == "Begroting")
    assert (loose["lower"][0], loose["upper"][0]) == (0, 5)
    # Declared: everyone knows ZVW is 0, so hiding it protects nothing: Begroting = total.
    declared = dataclasses.replace(plain, structural_empty=({"financing": "ZVW"},))
    result = audit(counts, hidden, declared)
    row = result.cells.filter(pl.col("financing") == "Begroting").row(0, named=True)
    assert (row["lower"], row["upper"], row["passed"]) == (5, 5, False)
    zvw = result.cells.filter(pl.col("financing") == "ZVW").row(0, named=True)
    assert (zvw["lower"], zvw["upper"]) == (0, 0)
    # protect never picks a structural empty as a complement, though it is the smallest cell.
    counts = pl.DataFrame(
        {"financing": ["AWBZ", "Begroting", "ZVW", None], "registrations": [20, 3, 0, 23]},
    )
    rules = DisclosureRules(
        secret_max=3, rounding_base=1, min_width=3, structural_empty=({"financing": "ZVW"},)
    )
    protected = protect(counts, rules)
    assert protected.table.frame["registrations_status"].to_list() == [
        "published", "suppressed", "suppressed", "structural",
    ]  # fmt: skip
    assert (protected.report.primary, protected.report.secondary) == (1, 1)
    assert protected.report.audit.passed


@lp_settings
@given(
    clients=clients_strategy,
    name=st.sampled_from(sorted(PRESETS)),
    base=st.sampled_from([1, 5]),
    picks=st.lists(st.integers(0, 8), max_size=4),
)
def test_protection_with_structural_empties_property(
    clients: list[Client], name: str, base: int, picks: list[int]
) -> None:
    # Empty the chosen cells in the data, then declare them empty by definition.
    combinations = [(m, f) for m in MUNICIPALITIES for f in CARE_FORMS]
    chosen = sorted({combinations[i] for i in picks})
    kept = [(m, {f: n for f, n in fs.items() if (m, f) not in chosen}) for m, fs in clients]
    clients = [(m, fs) for m, fs in kept if fs]
    assume(clients)
    truth = count_table(clients, keep_zeros=True)
    selections = tuple({"municipality": m, "care_form": f} for m, f in chosen)
    rules = dataclasses.replace(preset(name), rounding_base=base, structural_empty=selections)
    counts = count_table(clients)
    protected = protect(counts, rules)
    frame = protected.table.frame
    lookup = truth_by_key(truth, ("municipality", "care_form"))
    for row in frame.iter_rows(named=True):
        key = (row["municipality"], row["care_form"])
        exact = lookup[key]
        for measure in ("unique_clients", "registrations"):
            status = row[f"{measure}_status"]
            assert (status == "structural") == (key in chosen)
            if status != "suppressed":
                # Nothing secret is shown: a published value is 0 only where zeros are
                # shown or the cell is empty by definition, and never in 1..secret_max.
                assert not 1 <= exact[measure] <= rules.secret_max
                if exact[measure] == 0 and rules.zero_is_secret:
                    assert status == "structural"
    result = audit(counts, protected.table.suppressed_cells(), rules)
    assert result.passed
    for row in result.cells.iter_rows(named=True):
        value = lookup[(row["municipality"], row["care_form"])][row["measure"]]
        assert row["lower"] <= value <= row["upper"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_structural_empties_round_trip(tmp_path: Path, suffix: str) -> None:
    rules = dataclasses.replace(NO_ROUNDING, structural_empty=JBJR_EMPTY)
    table = protect(cross_table(SMALL_2014), rules).table
    back = read_protected(write_protected(table, tmp_path / f"out{suffix}")[0])
    assert back.frame.equals(table.frame)
    assert back.rules == rules
    assert [dict(s) for s in back.rules.structural_empty] == list(JBJR_EMPTY)


def test_a_structural_status_with_a_count_is_refused(tmp_path: Path) -> None:
    rules = dataclasses.replace(NO_ROUNDING, structural_empty=JBJR_EMPTY)
    path = tmp_path / "out.json"
    write_protected(protect(cross_table(SMALL_2014), rules).table, path)
    document = json.loads(path.read_text())
    for row in document["rows"]:
        if row["registrations_status"] == "structural":
            row["registrations"] = 3
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="structural empty with a value other than 0"):
        read_protected(path)


def test_rules_file_declares_structural_empties(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        'version = 1\n[[structural_empty]]\ncare_form = "JB/JR"\nfinancing = "ZVW"\n'
        '[[structural_empty]]\ncare_form = "JB/JR"\nfinancing = "AWBZ"\n'
    )
    rules = load_rules(path)
    assert [dict(s) for s in rules.structural_empty] == list(JBJR_EMPTY)
    assert rules.name == "cbs+rules.toml"
    assert rules.secret_max == 7  # the rest comes from the preset
    assert rules_from_mapping(rules.to_dict()) == rules
    assert hash(rules) == hash(rules_from_mapping(rules.to_dict()))
    assert rules == DisclosureRules(name=rules.name, structural_empty=JBJR_EMPTY)
    # The rules keep their own copy of a selection.
    selection = {"care_form": "JB/JR"}
    own = DisclosureRules(structural_empty=(selection,))
    selection["care_form"] = "ambulant"
    assert own.structural_empty[0]["care_form"] == "JB/JR"


def test_structural_empty_validation_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "version = 1\n"
        '[[structural_empty]]\ncare_form = "JB/JR"\nfinancing = 3\n'
        "[[structural_empty]]\n"
        '[[structural_empty]]\ncare_form = "JB/JR"\nfinancing = "ZVW"\n'
        '[[structural_empty]]\nfinancing = "ZVW"\ncare_form = "JB/JR"\n'
        '[[structural_empty]]\nmunicipality = ""\nyear = 2014\n'
        "[rounding]\nbase = 0\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert caught.value.problems == [
        "rounding.base: must be a whole number >= 1",
        "structural_empty[1].financing: must be non-empty text (a value of financing)",
        "structural_empty[2]: names no dimension",
        "structural_empty[4]: the same cells as structural_empty[3]",
        "structural_empty[5].municipality: must be non-empty text (a value of municipality)",
        "structural_empty[5].year: must be non-empty text (a value of year)",
    ]
    with pytest.raises(ConfigError, match=r"structural_empty: must be an array of tables"):
        rules_from_mapping({"version": 1, "structural_empty": {"care_form": "JB/JR"}})
    with pytest.raises(ConfigError, match=r"structural_empty\[1\]: must be a table"):
        DisclosureRules(structural_empty=("JB/JR",))  # type: ignore[arg-type]


def test_cli_protects_with_declared_structural_empties(tmp_path: Path) -> None:
    counts = tmp_path / "counts.csv"
    cross_table(SMALL_2014).write_csv(counts)
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "version = 1\n[rounding]\nbase = 1\n"
        '[[structural_empty]]\ncare_form = "JB/JR"\nfinancing = "ZVW"\n'
        '[[structural_empty]]\ncare_form = "JB/JR"\nfinancing = "AWBZ"\n'
        '[[structural_empty]]\ncare_form = "JB/R"\n'
    )
    out = tmp_path / "protected.csv"
    runner = CliRunner()
    result = runner.invoke(main, ["protect", str(counts), "--out", str(out), "--rules", str(rules)])
    assert result.exit_code == 0, result.output
    assert "2 cell(s) published as structural empties" in result.output
    assert "structural_empty[3] matches no cell" in result.output
    frame = read_protected(out).frame
    assert cell(frame, "JB/JR", "ZVW")["registrations_status"] == "structural"
    assert cell(frame, "JB/JR", None)["registrations_status"] == "published"
    wrong = tmp_path / "wrong.csv"
    cross_table({**SMALL_2014, ("JB/JR", "AWBZ"): 12}).write_csv(wrong)
    result = runner.invoke(
        main, ["protect", str(wrong), "--out", str(tmp_path / "no.csv"), "--rules", str(rules)]
    )
    assert result.exit_code == 6
    assert "care_form=JB/JR, financing=AWBZ is declared structurally empty" in result.output
    assert not (tmp_path / "no.csv").exists()
