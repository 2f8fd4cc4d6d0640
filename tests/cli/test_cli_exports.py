"""``factlab pseudonymise`` on hostile and faulty exports (issue 14): one line, exit 3, no output;
blank lines told in the summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

import factlab.cli.steward  # registers the steward's commands on main
from factlab.cli import main
from factlab.errors import InputError
from factlab.manifest import read_manifest

if TYPE_CHECKING:
    from conftest import KeyFiles

assert factlab.cli.steward  # imported for its side effect

BSN = "999993653"


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stderr


def test_blank_lines_are_told_in_the_summary(key_files: KeyFiles, tmp_path: Path) -> None:
    export = tmp_path / "e.csv"
    export.write_bytes(f"sep=;\r\nBSN;Gemeente\r\n{BSN};Assen\r\n\r\n;\r\n".encode())
    out = tmp_path / "P01.parquet"
    code, stderr = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01", "--out", out
    )
    assert code == 0, stderr
    assert "rows: 1" in stderr.splitlines()
    assert stderr.splitlines()[-1] == "blank lines left out: 2"
    assert read_manifest(out).extra["blank_rows_skipped"] == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            f"BSN;Naam;BSN\n{BSN};a;b\n".encode(),
            "column name 'BSN' is given twice (columns 1 and 3)",
        ),
        (f"BSN;Naam\n{BSN};a;b\n".encode(), "line 2: 3 fields where the header has 2"),
        ("BSN;Gemeente\nx;Súdwest\n".encode() + b"y;Zo\xeb\n", "line 3: not valid UTF-8 at byte"),
    ],
)
def test_a_faulty_export_is_one_line(
    key_files: KeyFiles, tmp_path: Path, content: bytes, reason: str
) -> None:
    export = tmp_path / "e.csv"
    export.write_bytes(content)
    out = tmp_path / "P01.parquet"
    code, stderr = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01", "--out", out
    )
    assert code == InputError.exit_code
    (line,) = [line for line in stderr.splitlines() if line.strip()]
    assert line.startswith(f"factlab: error: {export}: {reason}")
    assert BSN not in line
    assert not out.exists()


def test_a_fifo_is_refused_in_one_line(key_files: KeyFiles, tmp_path: Path) -> None:
    # a real process, with a time limit: before the fix the audit line's hash waited forever
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    out = tmp_path / "P01.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "factlab", "pseudonymise", str(fifo), "--key",
         str(key_files.provider), "--provider", "P01", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "FACTLAB_AUDIT_LOG": str(tmp_path / "audit.jsonl")},
    )  # fmt: skip
    assert done.returncode == InputError.exit_code
    assert done.stderr.strip().splitlines() == [
        f"factlab: error: {fifo}: a FIFO (named pipe), not a file; give the export as a file"
    ]
    assert not out.exists()
