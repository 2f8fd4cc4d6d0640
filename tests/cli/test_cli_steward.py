"""``factlab pseudonymise`` and ``factlab inspect``: exit codes, files, one-line errors, no output
after a failure; the shipped example; one real run of ``python -m factlab``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from click.testing import CliRunner

import factlab.cli.keys
import factlab.cli.steward  # registers the steward's commands on main
from factlab import schema
from factlab.audit import read_audit_log
from factlab.cli import main
from factlab.errors import ConfigError, InputError, KeyFileError
from factlab.keys.round_keys import Key, write_key
from factlab.manifest import read_manifest

if TYPE_CHECKING:
    from conftest import KeyFiles

assert factlab.cli.keys  # imported for their side effect
assert factlab.cli.steward

pytestmark = pytest.mark.usefixtures("fast_argon2")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "steward"
PASSPHRASE = "correct horse battery staple"
WriteExport = Callable[..., Path]
EXPORT_LINES = [
    "BSN;Naam;Geboortedatum;Gemeente;Kosten",
    "9999.93.653;Zoë;01-02-2010;Assen;1.234,56",
    "999 991 723;Daan;02-03-2011;Emmen;12,5",
    "999993654;Fenna;;Assen;",
    "000000000;Sara;;;",
    ";Bram;;;",
]


def run(*args: object, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return result.exit_code, result.stdout, result.stderr


def lines(text: str) -> list[str]:
    """Non-empty lines (the progress display may leave an empty line behind on a non-terminal)."""
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def export(write_export: WriteExport) -> Path:
    return write_export("export.csv", EXPORT_LINES)


# --- success -------------------------------------------------------------------------------------


def test_pseudonymise_then_inspect(
    key_files: KeyFiles, export: Path, tmp_path: Path, audit_log: Path
) -> None:
    out = tmp_path / "P01.parquet"
    code, stdout, stderr = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01", "--out", out
    )
    assert code == 0, stderr
    assert stdout == ""  # everything but a command's result goes to stderr
    summary = lines(stderr)
    assert summary[0] == f"wrote {out} (provider P01, key fingerprint {key_files.key.fingerprint})"
    assert "rows: 5" in summary
    assert "  valid BSN:     2" in summary
    assert "    checksum: 1 (first rows: 3)" in summary
    assert "    sentinel: 1 (first rows: 4)" in summary
    assert "    missing: 1 (first rows: 5)" in summary
    frame = pl.read_parquet(out)
    assert frame.height == 5
    assert frame["bsn_status"].to_list() == ["valid", "valid", "checksum", "sentinel", "missing"]
    assert "Naam" not in frame.columns
    assert frame["cost"].to_list()[:2] == [1234.56, 12.5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["P01.parquet", "export.csv", "keys"]
    (event,) = read_audit_log(audit_log)
    assert event["command"] == "pseudonymise"
    assert event["outcome"] == "ok"
    assert event["key_fingerprint"] == key_files.key.fingerprint
    assert event["rows"]["total"] == 5

    code, stdout, stderr = run("inspect", out)
    assert code == 0, stderr
    assert "format:          factlab-pseudonymised (stage 1)" in stdout
    assert f"key fingerprint: {key_files.key.fingerprint}" in stdout
    assert "provider:        P01" in stdout
    assert "rows: 5" in stdout
    assert "distinct pseudonyms: 2; rows sharing a pseudonym: 0" in stdout

    code, stdout, _ = run("inspect", out, "--json")
    assert code == 0
    document = json.loads(stdout)
    assert document == json.loads(read_manifest(out).to_json())
    assert document["rows_by_status"]["checksum"] == 1


def test_round_key_and_provider_key_give_the_same_file_rows(
    key_files: KeyFiles, export: Path, tmp_path: Path
) -> None:
    outs = []
    for name, key in (("round", key_files.round), ("provider", key_files.provider)):
        outs.append(tmp_path / f"{name}.parquet")
        code, _, stderr = run(
            "pseudonymise", export, "--key", key, "--provider", "P01", "--out", outs[-1]
        )
        assert code == 0, stderr
    assert pl.read_parquet(outs[0]).equals(pl.read_parquet(outs[1]))
    assert read_manifest(outs[0]).key_fingerprint == read_manifest(outs[1]).key_fingerprint


def test_passphrase_from_the_environment(round_key: Key, export: Path, tmp_path: Path) -> None:
    key_path, out = tmp_path / "provider.key", tmp_path / "P01.parquet"
    write_key(round_key.provider_key(), key_path, passphrase=PASSPHRASE)
    code, stdout, stderr = run(
        "pseudonymise",
        export,
        "--key",
        key_path,
        "--provider",
        "P01",
        "--out",
        out,
        "--passphrase-env",
        "FACTLAB_TEST_PW",
        env={"FACTLAB_TEST_PW": PASSPHRASE},
    )
    assert code == 0, stderr
    assert read_manifest(out).key_fingerprint == round_key.fingerprint
    assert PASSPHRASE not in stdout + stderr


def test_existing_output_needs_force(key_files: KeyFiles, export: Path, tmp_path: Path) -> None:
    out = tmp_path / "P01.parquet"
    out.write_bytes(b"previous delivery")
    args = ["pseudonymise", export, "--key", key_files.provider, "--provider", "P01", "--out", out]
    code, _, stderr = run(*args)
    assert code != 0
    assert "exists (use --force to overwrite)" in stderr
    assert out.read_bytes() == b"previous delivery"
    code, _, stderr = run(*args, "--force")
    assert code == 0, stderr
    assert read_manifest(out).rows == 5


def test_fallback_flag(key_files: KeyFiles, write_export: WriteExport, tmp_path: Path) -> None:
    path = write_export("e.csv", ["BSN;Geboortedatum;Geslacht;Postcode", ";01-02-2010;V;9401 AB"])
    out = tmp_path / "o.parquet"
    code, _, stderr = run(
        "pseudonymise",
        path,
        *("--key", key_files.provider, "--provider", "P1", "--out", out),
        "--allow-no-valid-bsn",  # the one row has no BSN: linked by its fallback alone
    )
    assert code == 0, stderr
    assert schema.FALLBACK_PSEUDONYM not in pl.read_parquet(out).columns
    code, _, stderr = run(
        "pseudonymise",
        path,
        *("--key", key_files.provider, "--provider", "P1", "--out", out),
        "--fallback",
        "--force",
        "--allow-no-valid-bsn",
    )
    assert code == 0, stderr
    frame = pl.read_parquet(out)
    assert frame[schema.FALLBACK_PSEUDONYM].str.len_chars().to_list() == [32]
    assert "postcode" not in frame.columns


def test_the_shipped_example(key_files: KeyFiles, tmp_path: Path) -> None:
    out = tmp_path / "P01.parquet"
    code, _, stderr = run(
        "pseudonymise",
        EXAMPLE / "export.csv",
        *("--key", key_files.provider, "--provider", "P01", "--out", out),
        "--mapping",
        EXAMPLE / "mapping.toml",
    )
    assert code == 0, stderr
    summary = lines(stderr)
    # the same numbers as the walk-through in examples/steward/README.md
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    for line in summary[1:]:
        assert line in readme, line
    frame = pl.read_parquet(out)
    assert frame.height == 13
    assert frame["bsn_status"].value_counts().sort("bsn_status").rows() == [
        ("valid", 10),
        ("missing", 1),
        ("sentinel", 1),
        ("checksum", 1),
    ]
    assert frame["pseudonym"].n_unique() == 8  # seven clients and null
    assert frame["financing"].unique().to_list() == ["ZIN"]
    assert frame["care_form"].to_list()[:4] == [
        "ambulant",
        "verblijf",
        "ambulant",
        "dagbehandeling",
    ]
    assert frame["sex"].to_list()[:3] == ["V", "V", "M"]  # J/M mean jongen/meisje in this file
    assert frame["cost"].to_list()[:3] == [1234.56, 12500.0, 850.0]
    assert frame["birth_year"][6] is None
    manifest = read_manifest(out)
    assert manifest.extra["read_as"] == {"encoding": "cp1252", "delimiter": ";"}
    assert manifest.field_issues == {
        "birth_date": {"unreadable": 1},
        "care_form": {"unmapped": 1},
    }


# --- failures: one line, non-zero exit, no output file --------------------------------------------


def assert_failed(result: tuple[int, str, str], exit_code: int, *fragments: str) -> str:
    code, stdout, stderr = result
    assert code == exit_code, stderr
    error = lines(stderr)
    assert len(error) == 1, stderr
    assert error[0].startswith("factlab: error: ")
    for fragment in fragments:
        assert fragment in error[0]
    assert stdout == ""
    return error[0]


def no_output(folder: Path) -> None:
    leftovers = [p.name for p in folder.iterdir() if "parquet" in p.name]
    assert leftovers == [], "a failed run must leave no output (nor a temporary file)"


def pseudonymise_args(export: Path, key: Path, out: Path) -> list[object]:
    return ["pseudonymise", export, "--key", key, "--provider", "P01", "--out", out]


def test_missing_input(key_files: KeyFiles, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    result = run(*pseudonymise_args(tmp_path / "none.csv", key_files.provider, out))
    assert_failed(result, InputError.exit_code, "none.csv: file not found")
    no_output(tmp_path)


def test_unreadable_input(key_files: KeyFiles, tmp_path: Path) -> None:
    broken = tmp_path / "export.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is no workbook")
    result = run(*pseudonymise_args(broken, key_files.provider, tmp_path / "o.parquet"))
    assert_failed(result, InputError.exit_code, "cannot be read as xlsx")
    no_output(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_input_without_read_permission(key_files: KeyFiles, export: Path, tmp_path: Path) -> None:
    export.chmod(0)
    try:
        result = run(*pseudonymise_args(export, key_files.provider, tmp_path / "o.parquet"))
        assert_failed(result, InputError.exit_code, "permission denied")
    finally:
        export.chmod(0o600)
    no_output(tmp_path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "the file is empty"), (b"BSN;Naam\r\n", "the file has no data rows")],
)
def test_empty_input(key_files: KeyFiles, tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    result = run(*pseudonymise_args(path, key_files.provider, tmp_path / "o.parquet"))
    assert_failed(result, InputError.exit_code, reason)
    no_output(tmp_path)


def test_unsupported_input(key_files: KeyFiles, tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    result = run(*pseudonymise_args(path, key_files.provider, tmp_path / "o.parquet"))
    assert_failed(result, InputError.exit_code, "unsupported file type '.xls'")
    no_output(tmp_path)


def test_no_bsn_column(key_files: KeyFiles, write_export: WriteExport, tmp_path: Path) -> None:
    path = write_export("export.csv", ["Naam;Gemeente", "Zoë;Assen"])
    result = run(*pseudonymise_args(path, key_files.provider, tmp_path / "o.parquet"))
    assert_failed(result, InputError.exit_code, "no BSN column")
    no_output(tmp_path)


def test_bad_mapping(key_files: KeyFiles, export: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('version = 1\n[colums]\nbsn = "BSN"\n[input]\ndelimiter = ";;"\n')
    args = [*pseudonymise_args(export, key_files.provider, tmp_path / "o.parquet")]
    result = run(*args, "--mapping", mapping)
    assert_failed(
        result,
        ConfigError.exit_code,
        "2 problem(s)",
        "colums: unknown key",
        "input.delimiter: must be one character",
    )
    no_output(tmp_path)
    result = run(*args, "--mapping", tmp_path / "none.toml")
    assert_failed(result, InputError.exit_code, "mapping file not found")
    no_output(tmp_path)


def test_mapping_that_does_not_fit_the_file(
    key_files: KeyFiles, export: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('version = 1\n[columns]\nbsn = "BSN cliënt"\n')
    args = pseudonymise_args(export, key_files.provider, tmp_path / "o.parquet")
    result = run(*args, "--mapping", mapping)
    assert_failed(result, InputError.exit_code, "mapped column 'BSN cliënt' for bsn")
    no_output(tmp_path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not a key", "not a factlab key file"),
        ('{"factlab_key_file": 1, "kind": "round"}', "damaged key file"),
    ],
)
def test_wrong_key_file(export: Path, tmp_path: Path, content: str, reason: str) -> None:
    key = tmp_path / "provider.key"
    key.write_text(content)
    result = run(*pseudonymise_args(export, key, tmp_path / "o.parquet"))
    assert_failed(result, KeyFileError.exit_code, reason)
    no_output(tmp_path)


def test_missing_key_file(export: Path, tmp_path: Path) -> None:
    result = run(*pseudonymise_args(export, tmp_path / "none.key", tmp_path / "o.parquet"))
    assert_failed(result, KeyFileError.exit_code, "key file not found")
    no_output(tmp_path)


def test_link_key_is_refused(key_files: KeyFiles, export: Path, tmp_path: Path) -> None:
    result = run(*pseudonymise_args(export, key_files.link, tmp_path / "o.parquet"))
    assert_failed(result, KeyFileError.exit_code, "link key cannot make first-stage pseudonyms")
    no_output(tmp_path)


def test_wrong_passphrase(round_key: Key, export: Path, tmp_path: Path) -> None:
    key = tmp_path / "provider.key"
    write_key(round_key.provider_key(), key, passphrase=PASSPHRASE)
    args = pseudonymise_args(export, key, tmp_path / "o.parquet")
    result = run(*args, "--passphrase-env", "FACTLAB_TEST_PW", env={"FACTLAB_TEST_PW": "wrong!!!!"})
    error = assert_failed(result, KeyFileError.exit_code, "wrong passphrase or damaged key file")
    assert "wrong!!!!" not in error
    no_output(tmp_path)


def test_passphrase_needed_but_not_given(round_key: Key, export: Path, tmp_path: Path) -> None:
    key = tmp_path / "provider.key"
    write_key(round_key.provider_key(), key, passphrase=PASSPHRASE)
    args = pseudonymise_args(export, key, tmp_path / "o.parquet")
    code, _, stderr = run(*args, "--passphrase-env", "FACTLAB_TEST_UNSET", env={})
    assert code != 0
    assert "--passphrase-env: the environment variable it names is not set" in stderr
    # what was given is not repeated: it may be a passphrase typed where a name belongs
    assert "FACTLAB_TEST_UNSET" not in stderr
    code, _, stderr = run(*args)  # no terminal to ask on
    assert code != 0
    assert "--passphrase-env" in stderr
    no_output(tmp_path)


def test_bad_provider_code(key_files: KeyFiles, export: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    result = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P 1", "--out", out
    )
    assert_failed(result, InputError.exit_code, "provider code")
    no_output(tmp_path)


def test_inspect_of_foreign_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(plain)
    assert_failed(run("inspect", plain), InputError.exit_code, "no factlab manifest")
    assert_failed(run("inspect", tmp_path / "none.parquet"), InputError.exit_code, "not found")


def _pseudonymised_file(path: Path, rows: int = 2000) -> Path:
    """A steward's file of ``rows`` rows (synthetic pseudonyms) with a true manifest."""
    from factlab.io import write_parquet
    from factlab.manifest import Manifest

    frame = pl.DataFrame(
        {
            "pseudonym": [hashlib.sha256(str(n).encode()).hexdigest()[:32] for n in range(rows)],
            "bsn_status": pl.Series(["valid"] * rows, dtype=schema.STATUS_DTYPE),
            "provider": ["P01"] * rows,
        }
    )
    manifest = Manifest(
        format=schema.FORMAT_PSEUDONYMISED,
        scheme=schema.SCHEME,
        round="r",
        key_id="k",
        key_fingerprint="f",
        rows=rows,
        rows_by_status={"valid": rows},
        provider="P01",
    )
    write_parquet(frame, path, manifest)
    return path


@pytest.mark.parametrize(
    ("field", "value"),
    [("rows", "1500"), ("rows_by_status", "x"), ("field_issues", [1]), ("stage", None)],
)
def test_inspect_of_a_forged_manifest(tmp_path: Path, field: str, value: object) -> None:
    """One line naming the file and the field, exit 3 (issue 14, defect 18)."""
    import pyarrow.parquet as pq

    path = _pseudonymised_file(tmp_path / "a.parquet")
    document = json.loads(pq.ParquetFile(path).metadata.metadata[schema.MANIFEST_KEY.encode()])
    document[field] = value
    table = pq.read_table(path)
    metadata = {schema.MANIFEST_KEY.encode(): json.dumps(document).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    for args in ([], ["--json"]):
        assert_failed(
            run("inspect", path, *args),
            InputError.exit_code,
            f"{path}: damaged factlab manifest: {field} must be",
        )


def test_inspect_of_a_file_corrupted_in_the_middle(tmp_path: Path) -> None:
    path = _pseudonymised_file(tmp_path / "a.parquet")
    data = bytearray(path.read_bytes())
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    middle = footer_start // 2
    data[middle - 128 : middle + 128] = bytes(b ^ 0xFF for b in data[middle - 128 : middle + 128])
    path.write_bytes(bytes(data))
    assert_failed(run("inspect", path), InputError.exit_code, f"{path}: cannot be read")


# --- a real process ------------------------------------------------------------------------------


def test_python_dash_m_factlab(key_files: KeyFiles, export: Path, tmp_path: Path) -> None:
    out = tmp_path / "P01.parquet"
    command = [sys.executable, "-m", "factlab", "pseudonymise", str(export)]
    command += ["--key", str(key_files.provider), "--provider", "P01", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert read_manifest(out).rows == 5
    assert f"key fingerprint {key_files.key.fingerprint}" in done.stderr
    # and a failing one: the error class's exit code, one line, no file
    failed = tmp_path / "failed.parquet"
    command = [sys.executable, "-m", "factlab", "pseudonymise", str(tmp_path / "none.csv")]
    command += ["--key", str(key_files.provider), "--provider", "P01", "--out", str(failed)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == InputError.exit_code
    assert lines(done.stderr) == [f"factlab: error: {tmp_path / 'none.csv'}: file not found"]
    assert done.stdout == ""
    assert not failed.exists()


def test_the_input_is_hashed_once_for_manifest_and_audit_log(
    key_files: KeyFiles,
    export: Path,
    tmp_path: Path,
    audit_log: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed: list[Path] = []
    file_sha256 = sys.modules["factlab.audit"].file_sha256

    def counting(path: str | Path) -> str:
        hashed.append(Path(path))
        return str(file_sha256(path))

    for module in ("factlab.audit", "factlab.io"):
        monkeypatch.setattr(sys.modules[module], "file_sha256", counting)
    out = tmp_path / "P01.parquet"
    code, _, stderr = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01", "--out", out
    )
    assert code == 0, stderr
    digest = hashlib.sha256(export.read_bytes()).hexdigest()
    # issue 14 #5: the export's digest is in the steward's audit log, never in the output
    assert digest not in read_manifest(out).to_json()
    assert digest.encode() not in out.read_bytes()
    (event,) = read_audit_log(audit_log)
    assert event["inputs"] == [{"path": str(export), "sha256": digest}]
    # only the output is hashed apart, for the audit line: under its temporary name, since it is
    # published after the line is written
    assert len(hashed) == 1
    assert hashed[0].parent == out.parent
    assert hashed[0].name.startswith(f".{out.name}.")


# --- hostile and faulty input (issue 14) --------------------------------------------------------


@pytest.mark.parametrize("provider", ["P01\n", "P01\r\n", "P01\x00"])
def test_a_provider_code_with_a_newline_is_refused(
    key_files: KeyFiles, export: Path, tmp_path: Path, provider: str
) -> None:
    # #14: --provider $'P01\n' made a second provider "P01\n" beside "P01"
    out = tmp_path / "P01.parquet"
    result = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", provider, "--out", out
    )
    assert_failed(result, InputError.exit_code, "provider code must be")
    no_output(tmp_path)


def test_an_export_without_a_valid_bsn_is_refused_unless_allowed(
    key_files: KeyFiles, write_export: WriteExport, tmp_path: Path
) -> None:
    path = write_export("e.csv", ["BSN;Gemeente", "999993654;Assen", "12345;Emmen", ";Assen"])
    out = tmp_path / "P01.parquet"
    args = ("pseudonymise", path, "--key", key_files.provider, "--provider", "P01", "--out", out)
    assert_failed(
        run(*args),
        InputError.exit_code,
        "none of the 3 row(s) has a valid BSN in column 'BSN'",
        "--allow-no-valid-bsn",
    )
    no_output(tmp_path)
    code, _, stderr = run(*args, "--allow-no-valid-bsn")
    assert code == 0, stderr
    assert read_manifest(out).rows_by_status["valid"] == 0


def test_a_text_field_mapped_onto_the_bsn_column_is_refused(
    key_files: KeyFiles, export: Path, tmp_path: Path
) -> None:
    # #4: the BSN and municipality columns swapped in a mapping published raw BSNs
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('version = 1\n[columns]\nbsn = "Gemeente"\nmunicipality = "BSN"\n')
    out = tmp_path / "P01.parquet"
    result = run(
        "pseudonymise",
        export,
        *("--key", key_files.provider, "--provider", "P01", "--out", out),
        *("--mapping", mapping, "--allow-no-valid-bsn"),
    )
    line = assert_failed(
        result, InputError.exit_code, "column municipality: 2 row(s) (first rows: 1, 2)", "BSN"
    )
    assert "999" not in line
    no_output(tmp_path)
    # both fields on one column: refused while the mapping is read
    mapping.write_text('version = 1\n[columns]\nbsn = "BSN"\nmunicipality = "BSN"\n')
    result = run(
        "pseudonymise",
        export,
        *("--key", key_files.provider, "--provider", "P01", "--out", out),
        *("--mapping", mapping),
    )
    assert_failed(result, ConfigError.exit_code, "columns: bsn and municipality both name")
    no_output(tmp_path)


@pytest.mark.parametrize("preview", [False, True])
def test_a_cost_column_holding_bsns_is_refused_and_never_shown(
    key_files: KeyFiles, write_export: WriteExport, tmp_path: Path, preview: bool
) -> None:
    # review 17/20 #1: a number field mapped onto a column of BSNs wrote them as amounts
    bsns = ["999993653", "999991723", "999995078"]
    export = write_export(
        "export.csv", ["BSN;Gemeente;Bedrag", *(f"{bsn};Assen;{bsn}" for bsn in bsns)]
    )
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('version = 1\n[columns]\nbsn = "BSN"\ncost = "Bedrag"\n')
    out = tmp_path / "P01.parquet"
    args = [*pseudonymise_args(export, key_files.provider, out), "--mapping", mapping]
    result = run(*args, *(["--preview"] if preview else []))
    line = assert_failed(
        result,
        InputError.exit_code,
        "column cost: 3 row(s) (first rows: 1, 2, 3)",
        "looks like a BSN",
    )
    assert not any(bsn in line or bsn[:8] in line for bsn in bsns)
    no_output(tmp_path)


def test_the_preview_masks_a_number_with_six_digits(
    key_files: KeyFiles, write_export: WriteExport, tmp_path: Path
) -> None:
    # a number that is no BSN (it fails the elfproef) is written, but the preview masks it
    export = write_export("export.csv", ["BSN;Gemeente;Bedrag", "999993653;Assen;123456789"])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('version = 1\n[columns]\nbsn = "BSN"\ncost = "Bedrag"\n')
    out = tmp_path / "P01.parquet"
    args = [*pseudonymise_args(export, key_files.provider, out), "--mapping", mapping]
    code, stdout, stderr = run(*args, "--preview")
    assert code == 0, stderr
    table = stdout.split("as they would be written:\n")[1]
    assert "*******.0" in table
    assert "123456" not in stdout
    assert "23456789" not in stdout


def test_a_float32_bsn_column_is_refused(key_files: KeyFiles, tmp_path: Path) -> None:
    # #1: five clients as Float32 became one pseudonym
    path = tmp_path / "export.parquet"
    clients = [999903974, 999903986, 999903998, 999904012, 999904024]
    pl.DataFrame({"BSN": pl.Series(clients, dtype=pl.Float32)}).write_parquet(path)
    out = tmp_path / "P01.parquet"
    result = run(
        "pseudonymise", path, "--key", key_files.provider, "--provider", "P01", "--out", out
    )
    line = assert_failed(
        result, InputError.exit_code, "stored as Float32", "export the BSN column as text"
    )
    assert "9999" not in line
    assert not out.exists()


def test_inspect_shows_no_digest_of_the_export(
    key_files: KeyFiles, export: Path, tmp_path: Path
) -> None:
    # #5: the manifest (shown in a sealed file's clear header) held the export's SHA-256
    out = tmp_path / "P01.parquet"
    code, _, stderr = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01", "--out", out
    )
    assert code == 0, stderr
    digest = hashlib.sha256(export.read_bytes()).hexdigest()
    for args in ([], ["--json"]):
        code, stdout, _ = run("inspect", out, *args)
        assert code == 0
        assert digest not in stdout
        assert "input sha256" not in stdout
        assert "input_sha256" not in stdout
