"""The command line: reference check, count --reference, prevalence, concentration."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from reference_data import CARE, GROUPS, NORTH, SOUTH, synthetic_frame, write_linked

from factlab.analysis.counts import count
from factlab.cli import main
from factlab.reference.config import load_reference

REFERENCE = """version = 1
reference_year = 2024

[providers]
registry = "providers.csv"

[population]
file = "bevolking.csv"
ages = [0, 17]

[hierarchy.region]
dimension = "municipality"
levels = ["purchasing_region", "youth_care_region"]

[hierarchy.region.purchasing_region]
"Noord- en Midden-Drenthe" = {north}
"Zuid-Drenthe" = {south}

[hierarchy.region.youth_care_region]
"Jeugdregio Drenthe" = ["Noord- en Midden-Drenthe", "Zuid-Drenthe"]

[hierarchy.care]
dimension = "care_form"
levels = ["care_group"]

[hierarchy.care.care_group]
{care}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    care = "\n".join(
        f'"{group}" = {json.dumps(forms)}' for group, forms in CARE["care_group"].items()
    )
    reference = tmp_path / "reference.toml"
    reference.write_text(
        REFERENCE.format(north=json.dumps(NORTH), south=json.dumps(SOUTH), care=care)
    )
    (tmp_path / "providers.csv").write_text(
        "code,name,aliases,group,contracted_from,contracted_until\n"
        + "".join(
            f"{code},Provider {code},,{group},2020-01-01,\n" for code, group in GROUPS.items()
        )
    )
    lines = ['"ID";"Leeftijd";"Perioden";"RegioS";"BevolkingOp1Januari_1"']
    codes = ["GM0106", "GM0109", "GM0114", "GM0118", "GM0119", "GM1680", "GM1681", "GM1690",
             "GM1699", "GM1701", "GM1730", "GM1731"]  # fmt: skip
    for number, code in enumerate(codes):
        for age in range(0, 19):
            lines.append(f'"{number}";"{age} jaar";"2024JJ00";"{code}  ";"{100 + age}"')
    (tmp_path / "bevolking.csv").write_text("\n".join(lines) + "\n")
    frame = synthetic_frame(9, people=150).with_columns(pl.lit(125.0).alias("cost"))
    linked = write_linked(frame, tmp_path / "linked.parquet")
    return {"reference": reference, "linked": linked, "folder": tmp_path}


def run(*arguments: object) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, [str(argument) for argument in arguments])
    return outcome.exit_code, outcome.stderr


def test_reference_check_accepts_good_files_and_names_every_bad_one(
    files: dict[str, Path], tmp_path: Path
) -> None:
    code, stderr = run("reference", "check", files["reference"], tmp_path / "providers.csv")
    assert code == 0, stderr
    assert "hierarchy region (purchasing_region, youth_care_region)" in stderr
    assert "provider registry, 5 provider(s)" in stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'version = 1\nreference_year = 2024\n[hierarchy.r]\ndimension = "municipality"\n'
        'levels = ["area"]\n[hierarchy.r.area]\nA = ["Assen"]\nB = ["Assen", "Asen"]\n'
    )
    broken = tmp_path / "gemeenten.csv"
    broken.write_text("code,name,province,valid_from,valid_until\nGM1,X,Y,,\n")
    code, stderr = run("reference", "check", bad, broken, files["reference"])
    assert code == 4
    assert "'Asen' not a municipality of the reference table" in stderr
    assert "row 2, column code: not a CBS code" in stderr
    assert f"ok: {files['reference']}" in stderr


def test_count_with_a_reference_stacks_the_region(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "counts.csv"
    code, stderr = run(
        "count", files["linked"], "--by", "region,provider_group", "--period", "2024",
        "--reference", files["reference"], "--out", out,
    )  # fmt: skip
    assert code == 0, stderr
    table = pl.read_csv(out)
    expected = count(
        files["linked"],
        by=["region", "provider_group"],
        period="2024",
        reference=load_reference(files["reference"]),
    )
    assert table.height == expected.table.height
    assert "Zuid-Drenthe" in table.get_column("municipality").to_list()
    metadata = json.loads(out.with_name("counts.csv.meta.json").read_text())
    assert metadata["metadata"]["reference"]["reference_year"] == 2024


def test_count_refuses_unknown_municipalities_with_exit_code(
    files: dict[str, Path], tmp_path: Path
) -> None:
    frame = synthetic_frame(2, people=5).with_columns(pl.lit("Atlantis").alias("municipality"))
    linked = write_linked(frame, tmp_path / "odd.parquet")
    out = tmp_path / "counts.csv"
    code, stderr = run(
        "count", linked, "--by", "municipality", "--reference", files["reference"], "--out", out
    )
    assert code == 6
    assert "column municipality: 'Atlantis'" in stderr
    assert not out.exists()


def test_prevalence_writes_protected_figures(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "prevalence.csv"
    code, stderr = run(
        "prevalence", files["linked"], "--reference", files["reference"], "--period", "2024",
        "--out", out,
    )  # fmt: skip
    assert code == 0, stderr
    table = pl.read_csv(out)
    assert set(table.get_column("clients_status").unique()) <= {"published", "suppressed"}
    published = table.filter(pl.col("clients_status") == "published")
    assert (published.get_column("clients") % 5 == 0).all()
    suppressed = table.filter(pl.col("clients_status") == "suppressed")
    assert suppressed.get_column("prevalence_pct").null_count() == suppressed.height
    metadata = json.loads(out.with_name("prevalence.csv.meta.json").read_text())
    assert metadata["format"] == "factlab-prevalence"
    assert metadata["ages"] == [0, 17]
    # review 17/20 #9: the source is described as count describes it, not as "frame"
    source = metadata["source"]
    digest = hashlib.sha256(files["linked"].read_bytes()).hexdigest()
    assert source["file"] == "linked.parquet"
    assert source["sha256"] == digest
    assert source["key_fingerprint"] == "fp"
    assert source["format"] == "factlab-linked"
    assert {"scheme", "stage", "providers", "round", "key_id", "rows"} <= set(source)
    assert metadata["no_birth_year"] == {"rows": 0, "clients": 0}
    other = tmp_path / "other.csv"
    code, stderr = run(
        "prevalence", files["linked"], "--reference", files["reference"], "--out", other
    )
    assert code == 4
    assert "an age band needs a period or a reference date" in stderr
    assert not other.exists()
    code, stderr = run(
        "prevalence", files["linked"], "--reference", files["reference"], "--period", "2024",
        "--out", out,
    )  # fmt: skip
    assert code == 3  # the output exists and --force was not given


def test_prevalence_needs_a_population(files: dict[str, Path], tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text("version = 1\nreference_year = 2024\n")
    code, stderr = run(
        "prevalence", files["linked"], "--reference", plain, "--period", "2024",
        "--out", tmp_path / "p.json",
    )  # fmt: skip
    assert code == 4
    assert "names no population file" in stderr


@pytest.mark.parametrize("measure", ["clients", "cost"])
def test_concentration_writes_the_ranking(
    files: dict[str, Path], tmp_path: Path, measure: str
) -> None:
    out = tmp_path / f"{measure}.parquet"
    code, stderr = run(
        "concentration", files["linked"], "--by", measure, "--threshold", "1000", "--out", out
    )
    assert code == 0, stderr
    ranking = pl.read_parquet(out)
    assert ranking.get_column("rank").to_list() == list(range(1, ranking.height + 1))
    assert ranking.get_column("provider").sort().to_list() == sorted(GROUPS)
    assert "80% by" in stderr
    code, _ = run("concentration", files["linked"], "--shares", "x", "--out", tmp_path / "y.csv")
    assert code == 4


def test_concentration_with_a_registry_names_the_groups(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "ranked.csv"
    code, stderr = run(
        "concentration", files["linked"], "--reference", files["reference"], "--out", out
    )
    assert code == 0, stderr
    ranking = pl.read_csv(out)
    assert dict(ranking.select("provider", "group").iter_rows()) == GROUPS
    plain = tmp_path / "plain.toml"
    plain.write_text("version = 1\nreference_year = 2024\n")
    code, stderr = run(
        "concentration", files["linked"], "--reference", plain, "--out", tmp_path / "x.csv"
    )
    assert code == 4
    assert "needs a provider registry" in stderr


def test_a_stacked_count_is_protected_as_one_hierarchical_table(
    files: dict[str, Path], tmp_path: Path
) -> None:
    counts = tmp_path / "counts.json"
    code, stderr = run(
        "count", files["linked"], "--by", "region", "--period", "2024",
        "--reference", files["reference"], "--out", counts,
    )  # fmt: skip
    assert code == 0, stderr
    out = tmp_path / "protected.csv"
    code, stderr = run("protect", counts, "--reference", files["reference"], "--out", out)
    assert code == 0, stderr
    assert "audit passed" in stderr
    table = pl.read_csv(out)
    names = table.get_column("municipality").to_list()
    assert names.index("Noord- en Midden-Drenthe") < names.index("Assen")  # tree order
    metadata = json.loads(out.with_name("protected.csv.meta.json").read_text())
    assert "Zuid-Drenthe" in metadata["rules"]["hierarchy"]["municipality"]
