"""The end-to-end demo and the analyst example reproduce the 2014 round."""

from __future__ import annotations

import dataclasses
import json
import re
import runpy
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import factlab.cli.demo  # noqa: F401  (registers ``factlab demo``)
from factlab.cli import main
from factlab.demo import check_2014, run_demo
from factlab.errors import DataError, InputError
from factlab.synth.round2014 import expected_2014, round_2014_frame

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "analyst" / "analyst.py"


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "round"
    outcome = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    return out, outcome.stdout


def test_demo_prints_every_figure_of_the_2014_round(demo_folder: tuple[Path, str]) -> None:
    _, stdout = demo_folder
    for figure in ("2,986", "5,280", "473", "8,739", "4,719", "5,411", "1,115", "11,245"):
        assert figure in stdout
    assert "Unique clients behind the table: 8,241" in stdout
    for arithmetic in (
        "5,411 × 0.1 / 0.9 ≈ 601.22 → 601",
        "5,411 × 0.2 = 1,082.2 → 1,082",
        "1,115 × 2 = 2,230",
        "11,245 + 601 + 1,082 + 2,230 = 15,158",
    ):
        assert arithmetic in stdout
    assert "Clients in care at several providers at once:" in stdout


def test_demo_files_hold_the_published_table(demo_folder: tuple[Path, str]) -> None:
    out, _ = demo_folder
    cells = pl.read_csv(out / "trusted" / "cells.csv").filter(
        pl.col("care_form").is_not_null() & pl.col("financing").is_not_null()
    )
    counted = {
        (row["care_form"], row["financing"]): row["unique_clients"]
        for row in cells.iter_rows(named=True)
    }
    published = {
        (row["care_form"], row["financing"]): row["unique_clients"]
        for row in expected_2014().iter_rows(named=True)
    }
    assert counted == published
    totals = json.loads((out / "trusted" / "totals.json").read_text())
    assert totals["unique_clients"] == 8241
    assert totals["reference_date"] == "2013-01-01"
    estimate = json.loads((out / "trusted" / "estimate.json").read_text())
    assert estimate["estimate"]["total"] == 15158
    exports = [p for p in (out / "exports").iterdir() if p.stem.startswith("P")]
    assert sorted(p.stem for p in exports) == [f"P{i:02d}" for i in range(1, 12)]
    assert {p.suffix for p in exports} == {".csv", ".xlsx", ".parquet"}
    assert len(list((out / "pseudonymised").glob("*.parquet"))) == 11
    assert len(list((out / "sealed").glob("*.sealed"))) == 11


#: A nine-digit number standing on its own: not inside a longer run of digits or of hex characters,
#: because 32-character hex pseudonyms contain nine-digit runs by chance (about 1 in 3 does) and
#: such a run is not a BSN written anywhere.
NINE_DIGITS = re.compile(r"(?<![0-9a-fA-F])[0-9]{9}(?![0-9a-fA-F])")


def test_no_bsn_reaches_the_pseudonymised_sealed_or_trusted_files(
    demo_folder: tuple[Path, str],
) -> None:
    out, _ = demo_folder
    bsns = set(round_2014_frame()["bsn"].drop_nulls().to_list())
    assert len(bsns) > 8000
    for folder in ("pseudonymised", "sealed", "trusted", "keys"):
        for path in (out / folder).rglob("*"):
            if path.suffix == ".parquet":
                frame = pl.read_parquet(path)
                values = [
                    str(value)
                    for column in frame.select(pl.col(pl.String)).columns
                    for value in frame[column].unique().to_list()
                ]
                assert not bsns.intersection(values), f"{path} holds a BSN as a value"
                text = "\n".join(values)
            elif path.is_file():
                text = path.read_bytes().decode("latin-1")
            else:
                continue
            found = bsns.intersection(NINE_DIGITS.findall(text))
            assert not found, f"{path} holds {len(found)} BSN(s)"
    # the check itself can fail: the raw exports do hold them
    raw = (out / "exports" / "P01.csv").read_bytes().decode("latin-1")
    assert bsns.intersection(NINE_DIGITS.findall(raw.replace(".", "").replace(" ", "")))


def test_the_demo_refuses_a_folder_in_use_and_replaces_its_own_with_force(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    refused = CliRunner().invoke(main, ["demo", "--out", str(tmp_path)])
    assert refused.exit_code == InputError.exit_code
    assert "not empty" in refused.stderr
    forced = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--force"])
    assert forced.exit_code == InputError.exit_code  # --force only replaces an earlier demo
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_check_2014_names_a_figure_that_differs(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "round", seed=7)
    check_2014(result)  # another seed reproduces the table as well
    wrong = dataclasses.replace(
        result, totals=dataclasses.replace(result.totals, unique_clients=8240)
    )
    with pytest.raises(DataError, match="unique clients 8240, published 8241"):
        check_2014(wrong)


def test_the_analyst_example_runs_and_reproduces_the_round(tmp_path: Path) -> None:
    namespace = runpy.run_path(str(EXAMPLE))
    figures = namespace["main"](tmp_path)
    assert figures["sum_of_cells"] == 11245
    assert figures["unique_clients"] == 8241
    assert figures["estimate"] == 15158
    assert 0 < figures["clients_multi_provider"] < figures["unique_clients"]
    assert figures["municipalities"] >= 12
