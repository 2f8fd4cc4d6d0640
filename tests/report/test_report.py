"""Tests of the publication report (factlab.report.build and friends, ``factlab report``).

Synthetic data only: a small seeded round made here, whose pseudonyms are SHA-256 digests of
made-up client numbers; no BSN is involved. Oracles recount the exact tables with plain Python
sets; the public reports are parsed back (Markdown, Excel) to check that no count in the secret
range is published.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import zipfile
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import factlab.cli.report  # noqa: F401  (registers `factlab report` on `main`)
from factlab import schema
from factlab.analysis.counts import count
from factlab.cli import main
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import DisclosureRules, MeasureRule, preset
from factlab.errors import ConfigError, DataError, InputError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import parse_period
from factlab.report.build import build_report, write_report
from factlab.report.config import RoundConfig, load_round_config, parse_round_config
from factlab.report.grid import figures_grid, table_grid
from factlab.report.i18n import sheet_name
from factlab.report.model import (
    INTERNAL_MARK,
    EstimateView,
    Figure,
    InternalTable,
    Layout,
    Report,
    ReportTable,
    check_source,
)
from factlab.report.protect import align_totals, hide, protect_symmetric
from factlab.report.render import render_html, render_markdown
from factlab.report.tables import provider_labels

SNAPSHOT = Path(__file__).parent / "snapshots" / "report.md"
PROVIDERS = ("P01", "P02", "P03", "P04")
MUNICIPALITIES = ("Assen", "Emmen", "Meppel", "Tynaarlo", "Westerveld")
CARE_FORMS = ("ambulant", "dagbehandeling", "verblijf", "JB/JR")
GENERATED = "2025-03-01T12:00:00+00:00"
CORRECTIONS = """\
version = 1
title = "Planning estimate 2024"
base = "unique_clients"
row_dimension = "care_form"
column_dimension = "financing"

[[adjustment]]
name = "non_participation"
kind = "coverage"
select = { financing = "ZIN" }
coverage = 0.9
low = 0.85
high = 0.95
source = "assumption of the round"
note = "A tenth of the clients in care in kind were assumed missing."

[[adjustment]]
name = "pgb"
kind = "factor"
select = { financing = "PGB" }
factor = 2
source = "budget ratio"
note = "Twice as many youths on a personal budget as seen."

[[adjustment]]
name = "small_cell"
kind = "factor"
select = { care_form = "JB/JR", financing = "PGB" }
factor = 3
source = "illustration"
note = "Applies to a cell that is suppressed, so it is not shown on its own."
"""


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"report-test-client-{client}".encode()).hexdigest()[:32]


def seeded_rows(seed: int = 2024, clients: int = 320) -> pl.DataFrame:
    """Linked rows of a small round: clients at 1-3 providers, episodes in 2023-2024, a few
    rows without a valid BSN, a rare PGB financing so that small cells occur."""
    rng = np.random.default_rng(seed)
    records: list[dict[str, Any]] = []
    for client in range(clients):
        municipality = MUNICIPALITIES[int(rng.choice(5, p=[0.3, 0.3, 0.2, 0.15, 0.05]))]
        count_providers = int(rng.choice([1, 2, 3], p=[0.7, 0.24, 0.06]))
        for provider in rng.choice(len(PROVIDERS), size=count_providers, replace=False):
            for _ in range(int(rng.integers(1, 3))):
                start = date(2023, 7, 1) + timedelta(days=int(rng.integers(0, 540)))
                length = int(rng.integers(20, 300))
                records.append(
                    {
                        "client": client,
                        "provider": PROVIDERS[int(provider)],
                        "municipality": municipality,
                        "care_form": CARE_FORMS[int(rng.choice(4, p=[0.6, 0.12, 0.2, 0.08]))],
                        "financing": "PGB" if rng.random() < 0.06 else "ZIN",
                        "start_date": start,
                        "end_date": None if rng.random() < 0.3 else start + timedelta(days=length),
                    }
                )
    statuses = rng.choice(
        ["valid", "missing", "sentinel", "checksum"], size=len(records), p=[0.95, 0.03, 0.01, 0.01]
    )
    return pl.DataFrame(
        {
            "pseudonym": [
                pseudonym(r["client"]) if status == "valid" else None
                for r, status in zip(records, statuses, strict=True)
            ],
            "bsn_status": pl.Series(statuses.tolist(), dtype=schema.STATUS_DTYPE),
            "provider": [r["provider"] for r in records],
            "municipality": [r["municipality"] for r in records],
            "care_form": [r["care_form"] for r in records],
            "financing": [r["financing"] for r in records],
            "start_date": pl.Series([r["start_date"] for r in records], dtype=pl.Date),
            "end_date": pl.Series([r["end_date"] for r in records], dtype=pl.Date),
        }
    )


def write_linked(rows: pl.DataFrame, path: Path, *, stage: int = 2) -> Path:
    inputs = [
        {
            "provider": code,
            "sha256": hashlib.sha256(code.encode()).hexdigest(),
            "rows": rows.filter(pl.col("provider") == code).height,
            "rows_by_status": {},
            "created": "2025-01-15T09:00:00+00:00",
        }
        for code in PROVIDERS
    ]
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="report-test-2024",
        key_id="0123456789abcdef",
        key_fingerprint="1a2b-3c4d-5e6f-7a8b-9c0d-1e2f-3a4b-5c6d",
        rows=rows.height,
        rows_by_status={},
        stage=stage,
        inputs=inputs,
        created="2025-02-01T10:00:00+00:00",
    )
    write_parquet(rows, path, manifest)
    return path


def write_config(folder: Path, extra: str = "", *, name: str = "round.toml") -> Path:
    (folder / "corrections.toml").write_text(CORRECTIONS, encoding="utf-8")
    path = folder / name
    path.write_text(
        'version = 1\nlanguage = "en"\n'
        'title = "Youth care test region 2024"\nregion = "Test region"\n'
        'period = "2024"\nparts = ["2024H1", "2024H2"]\n'
        'dimensions = ["municipality", "care_form", "financing"]\n'
        '[corrections]\nfile = "corrections.toml"\n' + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    return seeded_rows()


@pytest.fixture(scope="module")
def round_files(tmp_path_factory: pytest.TempPathFactory, rows: pl.DataFrame) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("round")
    return {
        "linked": write_linked(rows, folder / "linked.parquet"),
        "config": write_config(folder),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def config(round_files: dict[str, Path]) -> RoundConfig:
    return load_round_config(round_files["config"])


@pytest.fixture(scope="module")
def public(round_files: dict[str, Path], config: RoundConfig) -> Report:
    return build_report(round_files["linked"], config, generated=GENERATED)


@pytest.fixture(scope="module")
def internal(round_files: dict[str, Path], config: RoundConfig) -> Report:
    return build_report(round_files["linked"], config, internal=True, generated=GENERATED)


# --- reading reports back ------------------------------------------------------------------------


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells (header first, separator left out)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip().strip("*") for cell in line.strip("|").split(" | ")]
            if not all(re.fullmatch(r"-+:?", cell.strip()) for cell in cells):
                current.append([cell.strip() for cell in cells])
        elif current:
            tables.append(current)
            current = []
    return tables


def as_count(text: str) -> int | None:
    """The integer a cell shows, or None when it is not a plain whole number."""
    cleaned = text.replace(",", "")
    return int(cleaned) if re.fullmatch(r"-?\d+", cleaned) else None


def published_counts(table: list[list[str]]) -> list[int]:
    """Counts in a parsed table: columns other than the label column and percentages."""
    header = table[0]
    columns = [i for i, name in enumerate(header) if i > 0 and "%" not in name]
    values = [as_count(row[i]) for row in table[1:] for i in columns if i < len(row)]
    return [value for value in values if value is not None]


def excel_sheets(path: Path) -> dict[str, pl.DataFrame]:
    """Every table sheet read back from its header row (row 4) to the first empty row."""
    names = pl.read_excel(path, sheet_id=0, engine="calamine", infer_schema_length=0)
    sheets = {}
    for name in names:
        if name in ("about", "provenance"):
            continue
        frame = pl.read_excel(
            path,
            sheet_name=name,
            engine="calamine",
            read_options={"header_row": 3},
            infer_schema_length=0,
        )
        # The notes under a table fill the first column only.
        notes = frame.select(pl.all_horizontal(pl.all().exclude(frame.columns[0]).is_null()))
        ends = notes.to_series().arg_true()
        sheets[name] = frame.head(int(ends[0]) if ends.len() else frame.height)
    return sheets


# --- configuration -------------------------------------------------------------------------------


def test_example_round_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "round.toml"
    config = load_round_config(example)
    assert config.period is not None
    # The example is written for the demo round: its data are of 2013 (issue 16).
    assert config.period.label == "2013"
    assert [part.label for part in config.parts] == ["2013H1", "2013H2"]
    assert config.rules.name == "cbs"
    assert len(config.rules.structural_empty) == 2


def test_config_lists_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "round.toml"
    path.write_text(
        "version = 2\ncolour = 'blue'\nperiod = '2025'\nparts = ['2025H1']\n"
        "reference_date = '2025-13-01'\ndimensions = ['municipality', 'postcode', 'provider']\n"
        "[providers]\nanonymise = 'yes'\n[disclosure]\nmeasures = { unique_clients = 'union' }\n"
        "[disclosure.primary]\nsecret_max = -1\n[corrections]\nfile = 'missing.toml'\n"
        "rounding = 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_round_config(path)
    fields = [problem.split(":")[0] for problem in caught.value.problems]
    for expected in (
        "version",
        "colour",
        "reference_date",
        "parts",
        "dimensions",
        "providers.anonymise",
        "disclosure.measures",
        "disclosure.primary.secret_max",
        "corrections.file",
        "corrections.rounding",
    ):
        assert expected in fields, expected
    assert not any("999" in problem for problem in caught.value.problems)


def test_config_refuses_parts_that_do_not_cover_the_period() -> None:
    with pytest.raises(ConfigError, match="must cover period 2025"):
        RoundConfig(language="en", period=parse_period("2025"), parts=(parse_period("2025Q1"),))
    with pytest.raises(ConfigError, match="need a period"):
        RoundConfig(language="en", parts=(parse_period("2025H1"),))
    halves = (parse_period("2025H1"), parse_period("2025H2"))
    assert RoundConfig(language="en", period=parse_period("2025"), parts=halves).parts == halves


def test_config_rules_file_and_corrections_must_fit(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text('version = 1\npreset = "threshold10"\n', "utf-8")
    config = parse_round_config(
        {"version": 1, "disclosure": {"rules": "rules.toml"}}, base_dir=tmp_path
    )
    assert config.rules.secret_max == 9
    (tmp_path / "corrections.toml").write_text(CORRECTIONS, "utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_round_config(
            {
                "version": 1,
                "dimensions": ["municipality"],
                "cross": ["municipality", "care_form"],
                "corrections": {"file": "corrections.toml", "rounding": 2},
            },
            base_dir=tmp_path,
        )
    text = " ".join(caught.value.problems)
    assert "cross: both dimensions must be among dimensions" in text
    assert "dimensions: must include the corrections' dimensions" in text
    assert "corrections.rounding: must be at least the disclosure rounding base (5)" in text


def test_default_config_uses_the_dimensions_the_data_hold(rows: pl.DataFrame) -> None:
    report = build_report(rows.drop("municipality"), generated=GENERATED)
    ids = [table.id for table in report.tables]
    assert ids[:3] == ["cross", "by-care_form", "by-financing"]
    assert "by-municipality" not in ids
    assert report.warnings  # frames in memory have no manifest: said prominently


def test_report_without_dimensions_and_on_a_reference_date(rows: pl.DataFrame) -> None:
    report = build_report(
        rows, RoundConfig(language="en", dimensions=(), cross=()), generated=GENERATED
    )
    assert [t.id for t in report.tables] == ["providers-per-client", "overlap", "data-quality"]
    assert report.key_figures[0].label == "Unique clients"
    assert "Sum of cells" not in render_markdown(report)
    on = build_report(
        rows,
        RoundConfig(language="en", reference_date=date(2024, 6, 30), dimensions=("care_form",)),
        generated=GENERATED,
    )
    assert "Clients in care on 30 June 2024." in on.tables[0].notes
    assert on.time_label == "reference date 30 June 2024"


def test_unknown_dimension_in_the_data_is_a_config_error(rows: pl.DataFrame) -> None:
    config = RoundConfig(language="en", dimensions=("domain", "sex"))
    with pytest.raises(ConfigError) as caught:
        build_report(rows, config)
    assert len(caught.value.problems) == 2


# --- the protection guarantee --------------------------------------------------------------------


def test_raw_counts_are_refused_everywhere(rows: pl.DataFrame) -> None:
    raw = count(rows, by=["care_form"])
    with pytest.raises(TypeError, match="protected tables"):
        ReportTable("t", "T", raw.table, Layout(rows="care_form"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_source(raw, internal=True, what="counts")
    with pytest.raises(TypeError):
        Figure("total", raw.table)  # type: ignore[arg-type]
    exact = InternalTable.from_counts(
        raw.table, dimensions=["care_form"], measures=["unique_clients"]
    )
    table = ReportTable("t", "T", exact, Layout(rows="care_form"))
    with pytest.raises(DataError, match="internal to the trusted party"):
        table_grid(table, internal=False)
    with pytest.raises(DataError):
        Report("t", None, "all", False, preset("cbs"), (), (table,), None, ())
    with pytest.raises(TypeError, match="made by"):
        EstimateView("t", "u", "b", 1, (), 1, None, None, 1, False)


def test_renderer_refuses_a_smuggled_frame(public: Report, rows: pl.DataFrame) -> None:
    """Even past the checks on construction, the renderer checks every table again."""
    smuggled = copy.copy(public.tables[0])
    object.__setattr__(smuggled, "source", count(rows, by=["care_form"]).table)
    report = copy.copy(public)
    object.__setattr__(report, "tables", (smuggled,))
    with pytest.raises(TypeError):
        render_markdown(report)
    with pytest.raises(TypeError):
        render_html(report)
    with pytest.raises(TypeError):
        table_grid(smuggled, internal=True)


@pytest.fixture(scope="module")
def unrounded(round_files: dict[str, Path]) -> tuple[Report, Report]:
    """Reports without rounding, so that a published small count would show as itself."""
    config = load_round_config(
        write_config(
            round_files["folder"],
            "rounding = 5\n[disclosure.rounding]\nbase = 1\n",
            name="round-unrounded.toml",
        )
    )
    return (
        build_report(round_files["linked"], config, generated=GENERATED),
        build_report(round_files["linked"], config, internal=True, generated=GENERATED),
    )


def test_no_published_count_in_the_secret_range_markdown(unrounded: tuple[Report, Report]) -> None:
    published, exact = unrounded
    secret = range(1, published.rules.secret_max + 1)
    exact_counts = [v for t in markdown_tables(render_markdown(exact)) for v in published_counts(t)]
    assert any(value in secret for value in exact_counts), "the data must have small counts"
    tables = markdown_tables(render_markdown(published))
    assert len(tables) == 1 + len(published.tables) + 1  # key figures, tables, corrections
    # Rows delivered (data quality) are not persons: published by their own rule (issue 16).
    quality = 1 + [t.id for t in published.tables].index("data-quality")
    for index, table in enumerate(tables):
        if index == quality:
            continue
        assert not [value for value in published_counts(table) if value in secret], table[0]
    assert "." in {cell for table in tables for row in table[1:] for cell in row}


def test_no_published_count_in_the_secret_range_excel(
    unrounded: tuple[Report, Report], tmp_path: Path
) -> None:
    published, _ = unrounded
    path = write_report(published, tmp_path / "report.xlsx")
    secret = range(1, published.rules.secret_max + 1)
    sheets = excel_sheets(path)
    names = {key: sheet_name("en", key) for key in ("key-figures", "overlap", "data-quality")}
    assert set(sheets) >= {*names.values(), sheet_name("en", "corrections")}
    for name, frame in sheets.items():
        if name == names["data-quality"]:
            continue  # rows, not persons: published by their own rule (issue 16)
        table = [frame.columns, *[[str(v or "") for v in row] for row in frame.rows()]]
        assert not [v for v in published_counts(table) if v in secret], name


def test_published_values_are_the_rounded_exact_counts(public: Report, internal: Report) -> None:
    """Every published value is its exact count rounded to 5; a suppressed one shows "."."""
    checked = 0
    for shown, exact in zip(public.tables, internal.tables, strict=True):
        assert shown.id == exact.id
        for row_shown, row_exact in zip(
            table_grid(shown, internal=False).rows,
            table_grid(exact, internal=True).rows,
            strict=True,
        ):
            assert row_shown[0] == row_exact[0]
            for cell, value in zip(row_shown[1:], row_exact[1:], strict=True):
                if isinstance(cell, int) and isinstance(value, int):
                    # rows delivered too: a provider's rows bound its youths (review #16)
                    expected = (value + 2) // 5 * 5
                    assert cell == expected
                    checked += 1
    assert checked > 50


def test_overlap_is_symmetric_and_shared_totals_agree(public: Report) -> None:
    overlap = next(table for table in public.tables if table.id == "overlap")
    grid = table_grid(overlap, internal=False)
    matrix = [row[1:] for row in grid.rows]
    assert all(matrix[i][j] == matrix[j][i] for i in range(len(matrix)) for j in range(len(matrix)))
    totals = {
        table.id: table_grid(table, internal=False).rows[-1][-1]
        for table in public.tables
        if table.id.startswith("by-") or table.id == "providers-per-client"
    }
    assert len(set(totals.values())) == 1


def test_estimate_is_rounded_and_hides_adjustments_of_suppressed_cells(
    public: Report, internal: Report
) -> None:
    shown, exact = public.estimate, internal.estimate
    assert shown is not None
    assert exact is not None
    assert not shown.internal
    assert exact.internal
    small = next(line for line in shown.lines if line.name == "small_cell")
    assert small.value is None  # JB/JR × PGB is suppressed in the published cross table
    for line in shown.lines:
        assert line.value is None or line.value % 10 == 0
    # The total minus the counted base and the shown lines would give the hidden line back
    # (review #16, item 2): with a line hidden, the total and its range are hidden too.
    assert (shown.total, shown.low, shown.high) == (None, None, None)
    assert exact.total is not None
    cross = next(table for table in public.tables if table.id == "cross")
    assert shown.counted == table_grid(cross, internal=False).rows[-2][-1]


def test_align_totals_hides_a_total_that_one_table_suppresses() -> None:
    first = protect(pl.DataFrame({"a": ["x", "y", None], "unique_clients": [20, 30, 45]})).table
    second = protect(pl.DataFrame({"b": ["u", "v", None], "unique_clients": [25, 40, 45]})).table
    unchanged = align_totals([(first, None), (second, None)])
    assert [t.frame.equals(o.frame) for t, o in zip(unchanged, (first, second), strict=True)] == [
        True,
        True,
    ]
    first = hide(first, first.frame["a"].is_null())
    aligned = align_totals([(first, None), (second, None)])
    total = aligned[1].frame.filter(pl.col("b").is_null())
    assert total["unique_clients"][0] is None
    assert total["unique_clients_status"][0] == "suppressed"
    assert aligned[1].frame.filter(pl.col("b") == "u")["unique_clients"][0] == 25


def test_hide_only_removes_values() -> None:
    table = protect(pl.DataFrame({"a": ["x", "y", None], "unique_clients": [40, 62, 97]})).table
    hidden = hide(table, table.frame["a"] == "x")
    before, after = table.frame, hidden.frame
    assert after["unique_clients"].null_count() == before["unique_clients"].null_count() + 1
    kept = after.filter(pl.col("unique_clients").is_not_null())
    assert kept.join(before, on=["a", "unique_clients"], nulls_equal=True).height == kept.height


def _symmetric_counts(shared: dict[tuple[int, int], int], clients: list[int]) -> pl.DataFrame:
    names = [chr(ord("A") + i) for i in range(len(clients))]
    rows = []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            rows.append((a, b, clients[i] if i == j else shared[min(i, j), max(i, j)]))
        rows += [(a, None, clients[i]), (None, a, clients[i])]
    rows.append((None, None, sum(clients) - sum(shared.values())))
    return pl.DataFrame(rows, schema=["a", "b", "n"], orient="row")


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.integers(10, 80), min_size=2, max_size=4).flatmap(
        lambda clients: st.tuples(
            st.just(clients),
            st.lists(
                st.integers(0, 9),
                min_size=len(clients) * (len(clients) - 1) // 2,
                max_size=len(clients) * (len(clients) - 1) // 2,
            ),
        )
    )
)
def test_protect_symmetric_property(data: tuple[list[int], list[int]]) -> None:
    """The pattern is symmetric, every secret cell is hidden, and the diagonal hides with
    the margin it equals."""
    clients, pairs = data
    keys = [(i, j) for i in range(len(clients)) for j in range(i + 1, len(clients))]
    shared = dict(zip(keys, pairs, strict=True))
    rules = DisclosureRules(
        measures=(MeasureRule("n", "union"),), dimensions=("a", "b"), rounding_base=1
    )
    table = protect_symmetric(_symmetric_counts(shared, clients), rules, a="a", b="b")
    status = {
        (a, b): s == "suppressed"
        for a, b, s in table.frame.select("a", "b", "n_status").iter_rows()
    }
    for (a, b), hidden in status.items():
        assert hidden == status[b, a]
        if a is not None and a == b:
            assert hidden == status[a, None] == status[None, a]
    for (i, j), value in shared.items():
        a, b = chr(ord("A") + i), chr(ord("A") + j)
        if value <= rules.secret_max:
            assert status[a, b]


# --- oracle: the internal report's exact numbers -------------------------------------------------


def _active(row: dict[str, Any], start: date, end: date) -> bool:
    return (row["start_date"] is None or row["start_date"] <= end) and (
        row["end_date"] is None or row["end_date"] >= start
    )


def test_internal_numbers_match_plain_python_sets(internal: Report, rows: pl.DataFrame) -> None:
    records = rows.to_dicts()
    year = (date(2024, 1, 1), date(2024, 12, 31))
    valid = [r for r in records if r["bsn_status"] == "valid" and _active(r, *year)]
    labels = provider_labels(rows)
    by_care: dict[str, set[str]] = defaultdict(set)
    providers_of: dict[str, set[str]] = defaultdict(set)
    for r in valid:
        by_care[r["care_form"]].add(r["pseudonym"])
        providers_of[r["pseudonym"]].add(labels[r["provider"]])
    tables = {table.id: table_grid(table, internal=True) for table in internal.tables}
    care = {row[0]: row[-1] for row in tables["by-care_form"].rows}
    assert care == {**{k: len(v) for k, v in by_care.items()}, "total": len(providers_of)}
    distribution = defaultdict(int)
    for names in providers_of.values():
        distribution[str(len(names))] += 1
    shown = dict(tables["providers-per-client"].rows)
    assert {k: shown[k] for k in distribution} == dict(distribution)
    overlap = tables["overlap"]
    for row in overlap.rows:
        for column, value in zip(overlap.header[1:], row[1:], strict=True):
            expected = sum(1 for names in providers_of.values() if {row[0], column} <= names)
            assert value == expected
    quality = tables["data-quality"]
    status_at = quality.header.index("missing")
    for row in quality.rows[:-1]:
        code = next(c for c, label in labels.items() if label == row[0])
        expected = sum(1 for r in records if r["provider"] == code and r["bsn_status"] == "missing")
        assert row[status_at] == expected


def test_provider_labels_are_deterministic_and_hide_codes(
    public: Report, rows: pl.DataFrame
) -> None:
    labels = provider_labels(rows)
    assert sorted(labels.values()) == ["A", "B", "C", "D"]
    assert provider_labels(rows.sample(fraction=1.0, shuffle=True, seed=3)) == labels
    text = render_markdown(public) + render_html(public)
    assert not any(code in text for code in PROVIDERS)
    plain = build_report(
        rows,
        RoundConfig(language="en", anonymise_providers=False, dimensions=("care_form",)),
        generated="x",
    )
    assert all(code in render_markdown(plain) for code in PROVIDERS)


# --- rendering -----------------------------------------------------------------------------------


def test_no_pseudonym_reaches_any_output(
    public: Report, internal: Report, rows: pl.DataFrame, tmp_path: Path
) -> None:
    secrets = set(rows["pseudonym"].drop_nulls().to_list())
    for report in (public, internal):
        for suffix in (".md", ".html", ".xlsx"):
            path = write_report(report, tmp_path / f"r{suffix}")
            data = path.read_bytes()
            if suffix == ".xlsx":
                with zipfile.ZipFile(path) as archive:
                    data = b"".join(archive.read(name) for name in archive.namelist())
            text = data.decode("utf-8", errors="replace")
            assert not [secret for secret in secrets if secret in text]


def test_internal_mode_marks_every_page_and_sheet(
    public: Report, internal: Report, tmp_path: Path
) -> None:
    markdown = render_markdown(internal)
    assert markdown.count(INTERNAL_MARK.upper()) == 2  # top and bottom
    assert INTERNAL_MARK.upper() not in render_markdown(public)
    page = render_html(internal)
    assert 'id="internal-mark"' in page
    assert 'class="internal"' in page
    assert "internal-mark" not in render_html(public).split("<style>")[0]
    assert 'id="internal-mark"' not in render_html(public)
    path = write_report(internal, tmp_path / "internal.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        headers = [archive.read(name).decode() for name in sheets]
    assert len(sheets) == 2 + len(internal.tables) + 2  # about, key figures, ..., provenance
    assert all(INTERNAL_MARK.upper() in header for header in headers)
    for name in pl.read_excel(path, sheet_id=0, engine="calamine", has_header=False):
        frame = pl.read_excel(
            path, sheet_name=name, engine="calamine", has_header=False, infer_schema_length=0
        )
        assert frame.item(1, 0) == INTERNAL_MARK.upper(), name


def test_excel_values_match_the_protected_tables(public: Report, tmp_path: Path) -> None:
    path = write_report(public, tmp_path / "report.xlsx")
    sheets = excel_sheets(path)
    table = next(t for t in public.tables if t.id == "by-municipality")
    frame = table.source.frame.filter(pl.col("period") == "2024")
    expected = {
        (m or "total"): ("." if v is None else str(v))
        for m, v in frame.select("municipality", "unique_clients").iter_rows()
    }
    sheet = sheets[table.sheet]
    assert dict(zip(sheet["municipality"], sheet["2024"], strict=True)) == expected
    overlap = next(t for t in public.tables if t.id == "overlap")
    cells = {
        (a, b): v
        for a, b, v in overlap.source.frame.select("provider_a", "provider_b", "shared_clients")
        .drop_nulls(["provider_a", "provider_b"])
        .iter_rows()
    }
    for row in sheets[overlap.sheet].iter_rows(named=True):
        for column in ("A", "B", "C", "D"):
            value = cells[row["provider"], column]
            assert row[column] == ("." if value is None else str(value))
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet5.xml").decode()  # by-municipality
    assert re.search(r'<c r="B5"[^>]*><v>\d+</v>', xml), "counts are stored as numbers"


def test_html_is_self_contained(public: Report) -> None:
    page = render_html(public)
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "@font-face"):
        assert forbidden not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)
    assert not re.search(r"url\((?!#)", page)
    for table in public.tables:
        assert f'id="table-{table.id}"' in page
    assert page.count("<svg") == 4  # financing by period, providers, overlap, corrections
    assert "@media print" in page


def test_rendering_is_deterministic(public: Report) -> None:
    assert render_markdown(public) == render_markdown(public)
    assert render_html(public) == render_html(public)


def _normalised(text: str) -> str:
    """Hashes of files written in the test and version numbers vary with the environment."""
    text = re.sub(r"[0-9a-f]{64}", "<sha256>", text)
    return re.sub(r"(factlab version|written by factlab): \S+", r"\1: <version>", text)


def test_markdown_snapshot(public: Report) -> None:
    text = _normalised(render_markdown(public))
    if os.environ.get("FACTLAB_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_single_stage_is_said_prominently(rows: pl.DataFrame, tmp_path: Path) -> None:
    single = write_linked(rows, tmp_path / "single.parquet", stage=1)
    report = build_report(
        single, RoundConfig(language="en", dimensions=("care_form",)), generated=GENERATED
    )
    assert report.warnings
    assert report.warnings[0].startswith("Single-stage")
    assert "> **Warning:** Single-stage" in render_markdown(report)
    assert 'role="alert">Single-stage' in render_html(report)
    two = write_linked(rows, tmp_path / "two.parquet", stage=2)
    assert build_report(two, RoundConfig(language="en", dimensions=("care_form",))).warnings == ()


def test_key_figures_hide_small_differences(public: Report) -> None:
    tiny = replace(public.rules, secret_max=10_000)
    report = replace(public, rules=tiny)
    several = next(row for row in figures_grid(report).rows if "two or more" in str(row[0]))
    assert several[1] is None


# --- the command ---------------------------------------------------------------------------------


def test_cli_writes_reports_and_exits_cleanly(round_files: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    outs = [tmp_path / "r.html", tmp_path / "r.md", tmp_path / "r.xlsx"]
    arguments = ["report", str(round_files["linked"]), "--config", str(round_files["config"])]
    result = runner.invoke(main, [*arguments, *(f"--out={p}" for p in outs)])
    assert result.exit_code == 0, result.output
    assert all(path.is_file() for path in outs)
    assert INTERNAL_MARK not in outs[1].read_text("utf-8")
    again = runner.invoke(main, [*arguments, f"--out={outs[0]}"])
    assert again.exit_code == InputError.exit_code
    assert "exists" in again.output
    internal = runner.invoke(main, [*arguments, f"--out={outs[1]}", "--internal", "--force"])
    assert internal.exit_code == 0
    assert INTERNAL_MARK.upper() in outs[1].read_text("utf-8")


def test_cli_errors(round_files: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    linked = str(round_files["linked"])
    bad_suffix = runner.invoke(main, ["report", linked, "--out", str(tmp_path / "r.pdf")])
    assert bad_suffix.exit_code == ConfigError.exit_code
    missing = runner.invoke(main, ["report", str(tmp_path / "no.parquet"), "--out", "x.md"])
    assert missing.exit_code == InputError.exit_code
    config = tmp_path / "bad.toml"
    config.write_text("version = 1\nperiod = 'someday'\n", "utf-8")
    bad_config = runner.invoke(
        main, ["report", linked, "--config", str(config), "--out", str(tmp_path / "r.md")]
    )
    assert bad_config.exit_code == ConfigError.exit_code
    assert "period" in bad_config.output
    assert not (tmp_path / "r.md").exists()


def test_cli_audit_line(round_files: dict[str, Path], tmp_path: Path, audit_log: Path) -> None:
    out = tmp_path / "r.md"
    result = CliRunner().invoke(main, ["report", str(round_files["linked"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    line = json.loads(audit_log.read_text("utf-8").splitlines()[-1])
    assert line["command"] == "report"
    assert line["outcome"] == "ok"
    assert line["details"]["protected"] is True
    assert line["key_fingerprint"] == "1a2b-3c4d-5e6f-7a8b-9c0d-1e2f-3a4b-5c6d"


def test_structural_empties_show_as_a_dash_not_as_zero() -> None:
    """A cell empty by definition is published as "x" in grids and charts' data, not as 0."""
    from factlab.report.grid import STRUCTURAL, cell_text
    from factlab.report.model import Layout, ReportTable

    cells = {
        ("ambulant", "Begroting"): 40, ("ambulant", "ZVW"): 55, ("ambulant", "AWBZ"): 30,
        ("verblijf", "Begroting"): 25, ("verblijf", "ZVW"): 13, ("verblijf", "AWBZ"): 20,
        ("JB/JR", "Begroting"): 35,
    }  # fmt: skip
    rows = [(form, stream, n) for (form, stream), n in cells.items()]
    for form in {form for form, _ in cells}:
        rows.append((form, None, sum(n for (f, _), n in cells.items() if f == form)))
    for stream in {stream for _, stream in cells}:
        rows.append((None, stream, sum(n for (_, s), n in cells.items() if s == stream)))
    rows.append((None, None, sum(cells.values())))
    counts = pl.DataFrame(rows, schema=["care_form", "financing", "registrations"], orient="row")
    empties = (
        {"care_form": "JB/JR", "financing": "ZVW"},
        {"care_form": "JB/JR", "financing": "AWBZ"},
    )
    rules = DisclosureRules(rounding_base=1, structural_empty=empties)
    table = protect(counts, rules).table
    layout = Layout(rows="care_form", columns="financing", measure="registrations")
    grid = table_grid(ReportTable("t", "T", table, layout), internal=False)
    by_row = {row[0]: dict(zip(grid.header[1:], row[1:], strict=True)) for row in grid.rows}
    assert by_row["JB/JR"]["ZVW"] == by_row["JB/JR"]["AWBZ"] == STRUCTURAL
    assert cell_text(by_row["JB/JR"]["ZVW"]) == "x"  # CBS: cannot occur
    assert by_row["JB/JR"]["Begroting"] == 35
    assert by_row["ambulant"]["ZVW"] == 55
    _, columns, values = grid.body()
    jbjr = values[[row[0] for row in grid.rows].index("JB/JR")]
    assert jbjr[columns.index("ZVW")] == 0.0  # a known zero in a chart
