"""``factlab mapping propose``: the file it writes, the output rules, the audit line, the round's
contract from a provider key, and pseudonymising with the proposal unedited."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import factlab.cli.keys
import factlab.cli.mapping
import factlab.cli.steward
from factlab.audit import read_audit_log
from factlab.cli import main
from factlab.keys.round_keys import Key, write_key

assert factlab.cli.keys  # imported for the commands they register
assert factlab.cli.mapping
assert factlab.cli.steward

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "steward"


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    shutil.copy(EXAMPLE / "export.csv", path)
    return path


def test_propose_writes_a_mapping_that_pseudonymise_reads_unedited(
    export: Path, tmp_path: Path, round_key: Key, audit_log: Path
) -> None:
    out = tmp_path / "mapping.toml"
    code, stdout, stderr = run("mapping", "propose", export, "--out", out)
    assert code == 0, stderr
    assert stdout == ""
    text = out.read_text(encoding="utf-8")
    document = tomllib.loads(text)
    assert document["version"] == 1
    assert document["columns"]["start_date"] == "Datum aanvang"
    assert '--mapping "mapping.toml"' in text
    assert f"wrote {out}" in stderr
    assert 'guessed: start_date ← "Datum aanvang" (0.96)' in stderr
    assert 'start_date: %d-%m-%Y (reads 13 of 13, e.g. "01-01-2025")' in stderr
    (line,) = read_audit_log(audit_log)
    assert line["command"] == "mapping propose"
    assert line["outcome"] == "ok"
    assert line["rows"] == {"total": 13}
    assert line["outputs"][0]["path"] == str(out)

    key = tmp_path / "provider.key"
    write_key(round_key.provider_key(), key)
    parquet = tmp_path / "P01.parquet"
    code, _, stderr = run(
        "pseudonymise",
        export,
        "--key",
        key,
        "--provider",
        "P01",
        "--mapping",
        out,
        "--out",
        parquet,
    )
    assert code == 0, stderr
    assert parquet.exists()


def test_without_out_the_mapping_is_printed(export: Path, audit_log: Path) -> None:
    code, stdout, stderr = run("mapping", "propose", export)
    assert code == 0, stderr
    assert tomllib.loads(stdout)["columns"]["bsn"] == "BSN cliënt"
    assert "proposed from export.csv (13 rows, csv)" in stderr
    assert sorted(path.name for path in export.parent.iterdir()) == ["export.csv"]
    assert not audit_log.exists()  # nothing written, nothing to log


def test_an_existing_file_is_kept_without_force(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "mapping.toml"
    out.write_text("mine\n", encoding="utf-8")
    code, _, stderr = run("mapping", "propose", export, "--out", out)
    assert code == 3
    assert stderr == f"factlab: error: {out}: exists (use --force to overwrite)\n"
    assert out.read_text(encoding="utf-8") == "mine\n"
    code, _, stderr = run("mapping", "propose", export, "--out", out, "--force")
    assert code == 0, stderr
    assert tomllib.loads(out.read_text(encoding="utf-8"))["version"] == 1


def test_never_over_the_export(export: Path) -> None:
    before = export.read_bytes()
    code, _, stderr = run("mapping", "propose", export, "--out", export, "--force")
    assert code == 3
    assert "is also an input of this command" in stderr
    assert export.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["none.csv"], "none.csv: "),
        ([str(EXAMPLE / "export.csv"), "--out", "x/m.toml"], "the output folder does not exist"),
        (["e.docx"], "unsupported file type"),
    ],
)
def test_failures_are_one_line_and_leave_nothing(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run("mapping", "propose", *args)
    assert code == 3
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert stderr.startswith("factlab: error: ")
    assert message in stderr
    assert list(tmp_path.iterdir()) == []


def test_the_round_contract_comes_from_the_provider_key(
    export: Path, tmp_path: Path, round_key: Key, audit_log: Path
) -> None:
    key = tmp_path / "provider.key"
    contract = {
        "version": 1,
        "required": ["bsn", "care_form", "financing", "start_date"],
        "values": {"financing": ["ZIN", "PGB"]},
    }
    write_key(round_key.provider_key(), key, contract=contract)
    out = tmp_path / "mapping.toml"
    code, _, stderr = run("mapping", "propose", export, "--out", out, "--key", key)
    assert code == 0, stderr
    text = out.read_text(encoding="utf-8")
    assert "REQUIRED by the round" in text.split("\nstart_date =")[1].splitlines()[0]
    assert '# care_form = "…"' in text
    assert "required by the round, not found: care_form, financing" in stderr
    (line,) = read_audit_log(audit_log)
    assert line["key_fingerprint"] == round_key.provider_key().fingerprint

    plain = tmp_path / "plain.key"
    write_key(round_key.provider_key(), plain)
    code, _, stderr = run("mapping", "propose", export, "--key", plain)
    assert code == 0, stderr
    assert "the key file carries no round contract" in stderr


def test_help_names_the_sample() -> None:
    code, stdout, _ = run("mapping", "propose", "--help")
    assert code == 0
    assert "--sample-rows" in stdout
    assert "10000" in stdout


def test_no_bsn_reaches_the_proposal_or_the_terminal(tmp_path: Path) -> None:
    # BSNs in the forms people type them, also in a column that is not the BSN column
    written = ["9999.93.653", "999 991 723", "999-995-078", "999994451", "999\u00a0997\u00a0336"]
    canonical = ["999993653", "999991723", "999995078", "999994451", "999997336"]
    lines = ["BSN cliënt;Gemeente;Dossier;Datum aanvang"]
    lines += [
        f"{bsn};{other};{other};01-02-2025"
        for bsn, other in zip(written, written[::-1], strict=True)
    ]
    path = tmp_path / "e.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "m.toml"
    code, stdout, stderr = run("mapping", "propose", path, "--out", out)
    assert code == 0, stderr
    code, printed, _ = run("mapping", "propose", path)
    assert code == 0
    for text in (out.read_text(encoding="utf-8"), stdout, stderr, printed):
        flat = text.replace("\u00a0", " ")
        for value in (*written, *canonical):
            assert value.replace("\u00a0", " ") not in flat
            assert value.replace(".", "").replace(" ", "").replace("-", "") not in flat
    assert "5 value(s) in 5 rows look like a BSN and are not shown" in printed


def test_the_examples_readme_shows_what_the_command_prints(tmp_path: Path) -> None:
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```\nwrote my-mapping.toml\n", 1)[1].split("```", 1)[0]
    export = tmp_path / "export.csv"
    shutil.copy(EXAMPLE / "export.csv", export)
    code, _, stderr = run("mapping", "propose", export, "--out", tmp_path / "my-mapping.toml")
    assert code == 0, stderr
    assert stderr.split("\n", 1)[1] == shown
