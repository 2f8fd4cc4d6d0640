"""Tests of factlab.synth.draw, factlab.synth.round2014 and the ``factlab synth`` command.

The oracles here are independent of the generator: exports are read back from disk with plain
Polars, headers and BSNs are canonicalised by code in this file, and statuses are classified with
a plain-Python elfproef. All BSNs are synthetic (test range, or random proef-valid numbers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import itertools
import json
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factlab.cli.synth  # noqa: F401  (registers ``synth`` on ``main``)
from factlab import schema
from factlab.cli import main
from factlab.errors import ConfigError
from factlab.synth import bsn as synth_bsn
from factlab.synth import config as synth_config
from factlab.synth import write as synth_write
from factlab.synth.bsn import bsns_in_test_range
from factlab.synth.config import Messiness, SynthConfig
from factlab.synth.draw import synth_frame, synthesise
from factlab.synth.round2014 import (
    CELLS_2014,
    REFERENCE_DATE_2014,
    UNIQUE_CLIENTS_2014,
    expected_2014,
    round_2014,
    round_2014_frame,
)
from factlab.synth.write import ExportForm

WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y%m%d")
# Header names an export may use, simplified (lower case, letters and digits only).
HEADERS = {
    "bsn": "bsn",
    "bsnclient": "bsn",
    "birthdate": "birth_date",
    "geboortedatum": "birth_date",
    "birthyear": "birth_year",
    "geboortejaar": "birth_year",
    "sex": "sex",
    "geslacht": "sex",
    "municipality": "municipality",
    "gemeente": "municipality",
    "woongemeente": "municipality",
    "domain": "domain",
    "domein": "domain",
    "financing": "financing",
    "financiering": "financing",
    "financieringsstroom": "financing",
    "careform": "care_form",
    "zorgvorm": "care_form",
    "productcategory": "product_category",
    "productcategorie": "product_category",
    "startdate": "start_date",
    "startdatum": "start_date",
    "begindatum": "start_date",
    "enddate": "end_date",
    "einddatum": "end_date",
    "cost": "cost",
    "kosten": "cost",
    "bedrag": "cost",
}
SEX = {"m": "M", "man": "M", "v": "V", "vrouw": "V", "f": "V", "x": "X"}
MESSY = dataclasses.replace(Messiness.realistic(), missing=0.03, checksum=0.02, bad_length=0.02)


# ---------------------------------------------------------------------------------------------
# Plain-Python and plain-Polars oracles


def proef(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11 == 0


def classify(written: str | None) -> str:
    """The BSN status of a written value, by the documented rules, in plain Python."""
    if written is None or not written.strip():
        return "missing"
    digits = re.sub(r"[\s.\-]", "", written)
    if not re.fullmatch(r"[0-9]+", digits):
        return "non_digit"
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9:
        return "bad_length"
    if digits in ("000000000", "999999999"):
        return "sentinel"
    return "valid" if proef(digits) else "checksum"


def simplify(name: str) -> str:
    letters = unicodedata.normalize("NFKD", name)
    return "".join(c for c in letters.lower() if c.isalnum() and not unicodedata.combining(c))


def read_raw(path: Path) -> pl.DataFrame:
    """An export as written, with canonical column names; CSV cells as text."""
    if path.suffix == ".csv":
        data = path.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            text = data[3:].decode("utf-8")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp1252")
        header = text.split("\n", 1)[0]
        separator = ";" if header.count(";") > header.count(",") else ","
        frame = pl.read_csv(text.encode(), separator=separator, infer_schema=False)
    elif path.suffix == ".xlsx":
        frame = pl.read_excel(path)
    else:
        frame = pl.read_parquet(path)
    return frame.rename({name: HEADERS[simplify(name)] for name in frame.columns})


def as_date(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    if dtype == pl.Date:
        return pl.col(column)
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.date()
    text = pl.col(column).cast(pl.String)
    return pl.coalesce([text.str.to_date(fmt, strict=False) for fmt in DATE_FORMATS])


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical values of a raw export: BSN digits, dates, sex codes, euros."""
    bsn = pl.col("bsn").cast(pl.String).str.replace_all(r"[\s.\-]", "")
    cost = pl.col("cost")
    if frame.schema["cost"] == pl.String:
        dutch = cost.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
        cost = pl.when(cost.str.contains(",")).then(dutch).otherwise(cost).cast(pl.Float64)
    columns = [
        pl.when(bsn.str.len_chars() == 8).then("0" + bsn).otherwise(bsn).alias("bsn"),
        pl.col("sex").cast(pl.String).str.to_lowercase().replace_strict(SEX, default=None),
        as_date(frame, "start_date").alias("start_date"),
        as_date(frame, "end_date").alias("end_date"),
        cost.cast(pl.Float64).alias("cost"),
    ]
    if "birth_date" in frame.columns:
        columns.append(as_date(frame, "birth_date").dt.year().alias("birth_year"))
    else:
        columns.append(pl.col("birth_year").cast(pl.Int32))
    rest = [name for name in ("municipality", "domain", "financing", "care_form") if name in frame]
    return frame.select(*columns, *rest)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# BSNs


def test_bsns_in_test_range_are_exactly_the_proef_valid_test_numbers() -> None:
    expected = [n for n in range(999_900_000, 1_000_000_000) if proef(str(n))]
    assert bsns_in_test_range().tolist() == expected
    assert len(expected) == 9091
    assert {999993653, 999991723, 999995078} <= set(expected)


def test_small_runs_use_the_test_range_only() -> None:
    rows = synth_frame(SynthConfig(providers=3, clients=2000, overlap=(0.3,)), seed=4)
    persons = rows.unique("person")
    assert persons.height == 2000
    assert persons["bsn"].n_unique() == 2000
    assert all(b.startswith("9999") and proef(b) for b in persons["bsn"])


def test_large_runs_draw_proef_valid_numbers_with_single_leading_zeros() -> None:
    config = SynthConfig(providers=2, clients=20_000, overlap=(), repeat_episodes=0.0)
    bsns = synth_frame(config, seed=1).unique("person")["bsn"].to_list()
    assert len(set(bsns)) == 20_000
    assert all(len(b) == 9 and proef(b) for b in bsns)
    assert not {"000000000", "999999999"} & set(bsns)
    assert not any(b.startswith("00") for b in bsns)
    leading_zero = sum(b.startswith("0") for b in bsns)
    assert 0.05 < leading_zero / len(bsns) < 0.15
    assert any(not b.startswith("9999") for b in bsns)


def test_numbers_lose_the_leading_zero_and_canonicalise_back() -> None:
    mess = Messiness(number_providers=1.0, file_formats=("csv",))
    config = SynthConfig(providers=2, clients=12_000, overlap=(0.1,), messiness=mess)
    rows = synth_frame(config, seed=2)
    lost = rows.filter(pl.col("bsn").str.starts_with("0"))
    assert lost.height > 0
    assert (lost["bsn_written"].str.len_chars() == 8).all()
    assert ("0" + lost["bsn_written"]).equals(lost["bsn"], check_names=False)


# ---------------------------------------------------------------------------------------------
# Configuration


def test_config_collects_every_problem() -> None:
    config = SynthConfig(
        providers=0,
        clients=0,
        period="2024X",
        overlap=(0.9, 0.5),
        movers=1.5,
        messiness=Messiness(missing=0.7, checksum=0.6, file_formats=("ods",)),
    )
    with pytest.raises(ConfigError) as caught:
        synth_frame(config)
    fields = [problem.split(":")[0] for problem in caught.value.problems]
    for field in ("providers", "clients", "period", "overlap", "movers", "messiness"):
        assert field in fields
    assert "messiness.file_formats" in fields


def test_overlap_needs_enough_providers() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        synth_frame(SynthConfig(providers=2, overlap=(0.2, 0.1)))


# ---------------------------------------------------------------------------------------------
# What the frame holds


def test_clients_are_at_as_many_providers_as_asked() -> None:
    config = SynthConfig(providers=6, clients=1000, overlap=(0.3, 0.1, 0.05))
    rows = synth_frame(config, seed=9)
    providers: dict[int, set[str]] = defaultdict(set)
    for person, provider in rows.select("person", "provider").iter_rows():
        providers[person].add(provider)
    spread = Counter(len(found) for found in providers.values())
    assert spread == {1: 550, 2: 300, 3: 100, 4: 50}


def test_episodes_repeat_overlap_and_run_on() -> None:
    config = SynthConfig(providers=4, clients=3000, repeat_episodes=0.3, overlapping_episodes=0.5)
    rows = synth_frame(config, seed=11)
    period_end = date(2024, 12, 31)
    assert (rows["start_date"] <= period_end).all()
    assert rows["end_date"].null_count() > 0
    closed = rows.filter(pl.col("end_date").is_not_null())
    assert (closed["end_date"] >= closed["start_date"]).all()
    assert (closed["end_date"] <= period_end).all()
    assert (rows["start_date"] >= rows["birth_date"]).all()
    episodes: dict[tuple[int, str], list[tuple[date, date | None, str]]] = defaultdict(list)
    for person, provider, start, end, product in rows.select(
        "person", "provider", "start_date", "end_date", "product_category"
    ).iter_rows():
        episodes[(person, provider)].append((start, end, product))
    repeated = [found for found in episodes.values() if len(found) > 1]
    assert len(repeated) > 0.2 * len(episodes)

    def overlapping(found: list[tuple[date, date | None, str]]) -> bool:
        ordered = sorted(found, key=lambda episode: episode[0])
        return any(
            a[2] == b[2] and (a[1] is None or b[0] <= a[1]) for a, b in itertools.pairwise(ordered)
        )

    assert sum(overlapping(found) for found in repeated) > 0.1 * len(repeated)


def test_movers_change_municipality_and_others_do_not() -> None:
    base = SynthConfig(providers=4, clients=2000, overlap=(0.4, 0.2), repeat_episodes=0.4)
    still = synth_frame(dataclasses.replace(base, movers=0.0), seed=3)
    assert (
        still.group_by("person").agg(pl.col("municipality").n_unique())["municipality"].max() == 1
    )
    moving = synth_frame(dataclasses.replace(base, movers=0.5), seed=3)
    places = moving.group_by("person").agg(pl.col("municipality").n_unique())["municipality"]
    assert (places == 2).sum() > 50
    assert set(moving["municipality"]) <= set(synth_config.DRENTHE_MUNICIPALITIES)


def test_fields_are_consistent_per_person_and_with_the_code_list() -> None:
    rows = synth_frame(SynthConfig(providers=8, clients=1500, pgb=0.2), seed=5)
    per_person = rows.group_by("person").agg(pl.col("birth_date", "sex", "bsn").n_unique())
    assert (per_person.select(pl.exclude("person")) == 1).to_numpy().all()
    assert set(rows["care_form"]) <= {"ambulant", "dagbehandeling", "verblijf", "JB/JR"}
    assert set(rows["financing"]) == {"ZIN", "PGB"}
    assert rows.filter(pl.col("care_form") == "JB/JR")["financing"].unique().to_list() == ["ZIN"]
    justice = {"47", "48", "49"}
    assert set(rows.filter(pl.col("care_form") == "JB/JR")["product_category"]) <= justice
    assert set(rows["product_category"].cast(pl.Int32)) <= set(range(40, 56))
    assert (rows["cost"] > 0).all()


def test_clean_frame_is_all_valid_and_written_as_is() -> None:
    rows = synth_frame(SynthConfig(providers=3, clients=400, overlap=(0.2,)), seed=6)
    assert set(rows[schema.STATUS]) == {"valid"}
    assert rows["bsn_written"].equals(rows["bsn"], check_names=False)


def test_expected_statuses_follow_the_written_values() -> None:
    config = SynthConfig(providers=8, clients=6000, messiness=MESSY)
    rows = synth_frame(config, seed=8)
    statuses = rows[schema.STATUS].cast(pl.String).to_list()
    assert [classify(w) for w in rows["bsn_written"]] == statuses
    seen = Counter(statuses)
    assert all(seen[status] > 0 for status in schema.STATUSES)
    # every valid row carries its person's true BSN, every other row none
    valid = rows.filter(pl.col(schema.STATUS) == "valid")
    assert (
        valid["bsn_written"].str.replace_all(r"[ .\-]", "").equals(valid["bsn"], check_names=False)
    )
    written = set(rows["bsn_written"].drop_nulls().str.replace_all(r"[ .\-]", ""))
    others = rows.filter(pl.col(schema.STATUS) != "valid")["bsn_written"].drop_nulls()
    assert not set(others.str.replace_all(r"[ .\-]", "")) & set(valid["bsn"])
    assert written


def test_a_changed_check_digit_never_makes_the_unborn_sentinel() -> None:
    # 999999990 passes the proef; changing its last digit to 9 would give a sentinel instead
    rows = 3000
    bsn = np.full(rows, 999_999_990, dtype=np.int64)
    status = np.full(rows, schema.STATUSES.index("checksum"), dtype=np.int64)
    provider = np.zeros(rows, dtype=np.int64)
    rng = np.random.default_rng(1)
    parts = synth_bsn._written_parts(bsn, status, provider, [ExportForm()], 0.0, rng)
    written = {f"{value:09d}" for value in parts["_value"].tolist()}
    assert len(written) == 8
    assert all(classify(value) == "checksum" for value in written)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    providers=st.integers(1, 6),
    clients=st.integers(1, 300),
    shares=st.lists(st.floats(0, 0.3), max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_frame_matches_its_plan(
    providers: int, clients: int, shares: list[float], seed: int
) -> None:
    overlap = tuple(shares[: providers - 1])
    config = SynthConfig(providers=providers, clients=clients, overlap=overlap, messiness=MESSY)
    rows = synth_frame(config, seed=seed)
    assert rows["person"].n_unique() == clients
    providers_of = rows.group_by("person").agg(pl.col("provider").n_unique())["provider"]
    expected = Counter({k + 2: round(share * clients) for k, share in enumerate(overlap)})
    expected[1] = clients - sum(expected.values())
    assert Counter(providers_of.to_list()) == +expected
    assert [classify(w) for w in rows["bsn_written"]] == rows[schema.STATUS].cast(str).to_list()


# ---------------------------------------------------------------------------------------------
# Files on disk


@pytest.fixture(scope="module")
def messy_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[synth_write.SynthResult, pl.DataFrame]:
    config = SynthConfig(providers=10, clients=4000, out_of_region=0.05, messiness=MESSY)
    result = synthesise(tmp_path_factory.mktemp("messy"), config, seed=21)
    return result, synth_frame(config, seed=21)


def test_exports_come_in_every_written_form(
    messy_run: tuple[synth_write.SynthResult, pl.DataFrame],
) -> None:
    result, _ = messy_run
    forms = [export.form for export in result.exports]
    assert {form.file_format for form in forms} == {"csv", "xlsx", "parquet"}
    csvs = [export.path.read_bytes() for export in result.exports if export.path.suffix == ".csv"]
    assert any(data.startswith(b"\xef\xbb\xbf") for data in csvs)
    assert any(b"\r\n" in data and "Fryslân".encode("cp1252") in data for data in csvs)
    headers = [data.split(b"\n", 1)[0] for data in csvs]
    assert any(b";" in header for header in headers)
    assert any(b";" not in header for header in headers)
    assert any(form.names.startswith("dutch") for form in forms)
    assert any(form.date_format != "%Y-%m-%d" for form in forms)
    assert any(form.decimal_comma for form in forms)
    assert any(form.bsn_as_number for form in forms)
    assert sum(form.no_bsn for form in forms) == 1
    for export in result.exports:
        raw = read_raw(export.path)
        if export.form.bsn_as_number and export.path.suffix != ".csv":
            assert raw.schema["bsn"].is_numeric()
        if export.form.no_bsn:
            assert raw["bsn"].null_count() == raw.height
            assert export.rows_by_status["missing"] == export.rows


def test_files_hold_what_the_frame_says(
    messy_run: tuple[synth_write.SynthResult, pl.DataFrame],
) -> None:
    result, rows = messy_run
    for export in result.exports:
        truth = rows.filter(pl.col("provider") == export.provider)
        raw = read_raw(export.path)
        assert raw.height == truth.height == export.rows
        got = canonical(raw)
        statuses = [classify(None if b is None else str(b)) for b in raw["bsn"].cast(pl.String)]
        assert Counter(statuses) == +Counter(dict(export.rows_by_status))
        valid = [s == "valid" for s in statuses]
        assert got.filter(valid)["bsn"].equals(truth.filter(valid)["bsn"])
        assert got["birth_year"].to_list() == truth["birth_date"].dt.year().to_list()
        for column in ("sex", "municipality", "financing", "care_form", "start_date", "end_date"):
            assert got[column].to_list() == truth[column].to_list(), (export.path.name, column)
        assert ((got["cost"] - truth["cost"]).abs() < 0.005).all()


def test_result_counts_match_a_plain_python_oracle(
    messy_run: tuple[synth_write.SynthResult, pl.DataFrame],
) -> None:
    result, rows = messy_run
    by_provider: dict[str, Counter[str]] = defaultdict(Counter)
    persons: dict[str, set[int]] = defaultdict(set)
    valid_persons: dict[str, set[int]] = defaultdict(set)
    for provider, person, written in rows.select("provider", "person", "bsn_written").iter_rows():
        status = classify(written)
        by_provider[provider][status] += 1
        persons[provider].add(person)
        if status == "valid":
            valid_persons[provider].add(person)
    for export in result.exports:
        assert +Counter(dict(export.rows_by_status)) == by_provider[export.provider]
        assert export.persons == len(persons[export.provider])
        assert export.valid_persons == len(valid_persons[export.provider])
    everyone = set().union(*persons.values())
    linkable = set().union(*valid_persons.values())
    assert result.truth.unique_persons == len(everyone) == 4000
    assert result.truth.linkable_persons == len(linkable) < 4000
    assert result.truth.rows == rows.height == sum(e.rows for e in result.exports)
    summary = json.loads(result.to_json())
    assert summary["truth"]["linkable_persons"] == len(linkable)
    assert not set(rows["bsn"]) & set(re.findall(r"\d{9}", result.to_json()))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    config = SynthConfig(providers=6, clients=600, out_of_region=0.05, messiness=MESSY)
    first = synthesise(tmp_path / "a", config, seed=13)
    second = synthesise(tmp_path / "b", config, seed=13)
    other = synthesise(tmp_path / "c", config, seed=14)
    assert {e.form.file_format for e in first.exports} == {"csv", "xlsx", "parquet"}
    hashes = [sha256(e.path) for e in first.exports]
    assert hashes == [sha256(e.path) for e in second.exports]
    assert not set(hashes) & {sha256(e.path) for e in other.exports}


def test_excel_too_small_for_a_provider_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth_write, "XLSX_MAX_ROWS", 10)
    config = SynthConfig(
        providers=2, clients=100, overlap=(), messiness=Messiness(file_formats=("xlsx",))
    )
    with pytest.raises(ConfigError, match="Excel sheet"):
        synthesise(tmp_path / "out", config)
    assert not (tmp_path / "out").exists()


def test_windows_1252_refuses_what_it_cannot_hold(tmp_path: Path) -> None:
    rows = synth_frame(SynthConfig(providers=1, clients=5, overlap=(), municipalities=("Łódź",)))
    form = ExportForm(delimiter=";", encoding="cp1252")
    with pytest.raises(ConfigError, match="Windows-1252"):
        synth_write.write_export(rows, tmp_path / "P01.csv", form)
    assert list(tmp_path.iterdir()) == []


def test_an_impossible_form_is_refused_with_every_problem(tmp_path: Path) -> None:
    rows = synth_frame(SynthConfig(providers=1, clients=3, overlap=()))
    form = ExportForm(file_format="ods", encoding="latin-9", names="klingon")
    with pytest.raises(ConfigError) as caught:
        synth_write.write_export(rows, tmp_path / "P01.ods", form)
    assert [p.split(":")[0] for p in caught.value.problems] == ["file_format", "encoding", "names"]
    assert list(tmp_path.iterdir()) == []


def test_dutch_amounts_with_and_without_thousand_separators(tmp_path: Path) -> None:
    rows = synth_frame(SynthConfig(providers=1, clients=3, overlap=()), seed=1).head(3)
    rows = rows.with_columns(pl.Series("cost", [0.5, 1234.5, 1234567.891]))
    for thousands, expected in ((True, ["0,50", "1.234,50", "1.234.567,89"]), (False, None)):
        form = ExportForm(delimiter=";", decimal_comma=True, thousands=thousands)
        synth_write.write_export(rows, tmp_path / "P01.csv", form)
        written = pl.read_csv(tmp_path / "P01.csv", separator=";", infer_schema=False)["cost"]
        assert written.to_list() == (expected or ["0,50", "1234,50", "1234567,89"])


# ---------------------------------------------------------------------------------------------
# The steward's reading of the exports


def test_steward_quality_summary_counts_the_mess_exactly(
    messy_run: tuple[synth_write.SynthResult, pl.DataFrame], tmp_path: Path
) -> None:
    keys = importlib.import_module("factlab.keys.round_keys")
    steward = importlib.import_module("factlab.steward.pseudonymise")
    result, rows = messy_run
    key = keys.new_round_key("synth-test")
    for export in result.exports:
        out = tmp_path / f"{export.provider}.parquet"
        # the realistic mess has a provider that delivers no BSN at all (GGZ, 2016): allowed here
        done = steward.pseudonymise_file(
            export.path, key, provider=export.provider, out=out, allow_no_valid_bsn=True
        )
        assert done.manifest.rows_by_status == dict(export.rows_by_status)
        assert done.manifest.field_issues == {}
        assert done.quality.distinct_pseudonyms == export.valid_persons
        truth = rows.filter(pl.col("provider") == export.provider)
        for column in ("municipality", "care_form", "financing", "start_date", "end_date"):
            assert done.frame[column].to_list() == truth[column].to_list()


# ---------------------------------------------------------------------------------------------
# The February 2014 round


def active_on(day: date) -> pl.Expr:
    return (pl.col("start_date") <= day) & (
        pl.col("end_date").is_null() | (pl.col("end_date") >= day)
    )


@pytest.fixture(scope="module")
def round_files(tmp_path_factory: pytest.TempPathFactory) -> synth_write.SynthResult:
    return round_2014(tmp_path_factory.mktemp("round2014"))


def test_expected_table_is_the_published_one() -> None:
    table = expected_2014()
    assert table["unique_clients"].sum() == 11_245
    by_financing = table.group_by("financing").agg(pl.col("unique_clients").sum())
    assert dict(by_financing.iter_rows()) == {"Begroting": 4719, "ZVW": 5411, "AWBZ": 1115}
    assert table.filter(pl.col("care_form") == "JB/JR")["financing"].to_list() == ["Begroting"]
    assert UNIQUE_CLIENTS_2014 == 8241
    assert len(CELLS_2014) == 10


def test_round_2014_raw_files_give_the_2014_table(round_files: synth_write.SynthResult) -> None:
    paths = sorted(p for p in round_files.outdir.iterdir() if p.suffix != ".json")
    assert len(paths) == 11
    assert {p.suffix for p in paths} == {".csv", ".xlsx", ".parquet"}
    frames = [
        canonical(read_raw(path)).with_columns(pl.lit(path.stem).alias("provider"))
        for path in paths
    ]
    rows = pl.concat(frames, how="diagonal_relaxed")
    assert all(classify(b) == "valid" for b in rows["bsn"])
    active = rows.filter(active_on(REFERENCE_DATE_2014))
    cells: dict[tuple[str, str], set[str]] = defaultdict(set)
    for care_form, financing, bsn in active.select("care_form", "financing", "bsn").iter_rows():
        cells[(care_form, financing)].add(bsn)
    counted = {cell: len(bsns) for cell, bsns in cells.items()}
    assert counted == {(form, financing): n for form, financing, n in CELLS_2014}
    assert sum(counted.values()) == 11_245
    assert len(set(active["bsn"])) == 8241
    # the date filter matters: without it there are more clients and more cell memberships
    assert rows["bsn"].n_unique() > 8241
    everywhere = rows.group_by("care_form", "financing").agg(pl.col("bsn").n_unique())
    assert everywhere["bsn"].sum() > 11_245


def test_round_2014_has_the_traps_it_promises(round_files: synth_write.SynthResult) -> None:
    rows = round_2014_frame()
    active = rows.filter(active_on(REFERENCE_DATE_2014))
    same_cell = active.group_by("person", "care_form", "financing").agg(
        pl.col("provider").n_unique().alias("providers"), pl.len().alias("rows")
    )
    assert (same_cell["providers"] > 1).sum() > 100  # same cell at two providers
    twice_at_one = active.group_by("person", "provider", "care_form", "financing").len()
    assert (twice_at_one["len"] > 1).sum() > 100  # overlapping episodes at one provider
    assert active.filter(pl.col("start_date") == REFERENCE_DATE_2014).height > 0
    assert active.filter(pl.col("end_date") == REFERENCE_DATE_2014).height > 0
    inactive = rows.filter(~active_on(REFERENCE_DATE_2014))
    assert inactive.filter(pl.col("end_date") == date(2012, 12, 31)).height > 0
    assert inactive.filter(pl.col("start_date") == date(2013, 1, 2)).height > 0
    assert active["provider"].n_unique() == 11
    by_person = active.group_by("person").agg(pl.col("provider").n_unique())
    assert (by_person["provider"] > 1).sum() > 1000
    assert round_files.truth.rows == rows.height
    assert round_files.truth.rows_by_status["valid"] == rows.height
    forms = [export.form for export in round_files.exports]
    assert {f.encoding for f in forms if f.file_format == "csv"} == {"utf-8", "utf-8-sig", "cp1252"}
    assert {f.bsn_style for f in forms} == {"plain", "dots", "spaces", "hyphens"}
    assert any(f.bsn_as_number for f in forms)
    assert {f.names for f in forms} == {"canonical", "english", "dutch", "dutch_alt"}


def test_round_2014_through_the_steward_gives_the_2014_table(
    round_files: synth_write.SynthResult, tmp_path: Path
) -> None:
    keys = importlib.import_module("factlab.keys.round_keys")
    steward = importlib.import_module("factlab.steward.pseudonymise")
    key = keys.new_round_key("2014")
    frames = []
    for export in round_files.exports:
        out = tmp_path / f"{export.provider}.parquet"
        done = steward.pseudonymise_file(export.path, key, provider=export.provider, out=out)
        assert done.manifest.rows_by_status["valid"] == export.rows
        frames.append(done.frame)
    active = pl.concat(frames, how="diagonal_relaxed").filter(active_on(REFERENCE_DATE_2014))
    table = active.group_by("care_form", "financing").agg(pl.col("pseudonym").n_unique().alias("n"))
    # text fields are Categorical: cast them to join a table of text
    table = table.with_columns(pl.col("care_form", "financing").cast(pl.String))
    joined = expected_2014().join(table, on=["care_form", "financing"], how="left")
    assert joined["n"].to_list() == joined["unique_clients"].to_list()
    assert active["pseudonym"].n_unique() == UNIQUE_CLIENTS_2014


def test_round_2014_holds_for_another_seed_and_is_reproducible(tmp_path: Path) -> None:
    rows = round_2014_frame(seed=7)
    active = rows.filter(active_on(REFERENCE_DATE_2014))
    table = active.group_by("care_form", "financing").agg(pl.col("bsn").n_unique().alias("n"))
    joined = expected_2014().join(table, on=["care_form", "financing"], how="left")
    assert (joined["n"] == joined["unique_clients"]).all()
    assert active["bsn"].n_unique() == 8241
    first = round_2014(tmp_path / "a", seed=7)
    second = round_2014(tmp_path / "b", seed=7)
    assert [sha256(e.path) for e in first.exports] == [sha256(e.path) for e in second.exports]


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_writes_exports_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "exports"
    result = CliRunner().invoke(
        main, ["synth", str(out), "--providers", "4", "--clients", "300", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    listed = [Path(line) for line in result.stdout.splitlines()]
    assert len(listed) == 4
    assert all(path.is_file() for path in listed)
    truth = json.loads((out / "truth.json").read_text("utf-8"))
    assert truth["seed"] == 5
    assert truth["truth"]["unique_persons"] == 300
    assert [e["file"] for e in truth["exports"]] == [path.name for path in listed]
    expected = synthesise(
        tmp_path / "again",
        SynthConfig(providers=4, clients=300, messiness=Messiness.realistic()),
        seed=5,
    )
    assert [sha256(path) for path in listed] == [sha256(e.path) for e in expected.exports]


def test_cli_clean_formats_and_rates(tmp_path: Path) -> None:
    args = [
        "synth",
        str(tmp_path / "o"),
        "--clean",
        "--formats",
        "parquet",
        "--rate",
        "missing=0.5",
    ]
    result = CliRunner().invoke(main, [*args, "--providers", "2", "--clients", "200"])
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "o" / "truth.json").read_text("utf-8"))
    assert {e["form"]["file_format"] for e in truth["exports"]} == {"parquet"}
    assert 0.3 < truth["truth"]["rows_by_status"]["missing"] / truth["truth"]["rows"] < 0.7


def test_cli_round_2014(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "r"), "--round-2014"])
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "r" / "truth.json").read_text("utf-8"))
    assert truth["round_2014"]["reference_date"] == "2013-01-01"
    assert sum(cell["unique_clients"] for cell in truth["round_2014"]["cells"]) == 11_245
    assert len(result.stdout.splitlines()) == 11


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--round-2014", "--providers", "3"], "--providers: not used with --round-2014"),
        (["--rate", "nonsense=1"], "--rate nonsense: unknown"),
        (["--rate", "missing=lots"], "--rate missing: expected a number"),
        (["--overlap", "a,b"], "--overlap"),
        (["--overlap", "0.9,0.9"], "overlap: shares"),
    ],
)
def test_cli_refuses_bad_options(tmp_path: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "x"), *extra])
    assert result.exit_code == ConfigError.exit_code
    assert message in result.stderr
    assert not (tmp_path / "x").exists()


def test_cli_refuses_a_folder_with_files_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    refused = CliRunner().invoke(main, ["synth", str(tmp_path), "--clients", "50"])
    assert refused.exit_code == ConfigError.exit_code
    assert "--force" in refused.stderr
    forced = CliRunner().invoke(main, ["synth", str(tmp_path), "--clients", "50", "--force"])
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "keep.txt").read_text() == "x"
