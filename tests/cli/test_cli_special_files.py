"""A FIFO or a device given to a command ends in one line at once (issue 14, follow-up of 30).

Real processes with a time limit: before the fix ``link FIFO.parquet``, ``inspect FIFO``,
``report --config FIFO`` and ``--audit-log FIFO`` waited forever, and ``report --config``
with ``/dev/zero`` ended in a MemoryError traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from factlab.errors import InputError, KeyFileError

if TYPE_CHECKING:
    from conftest import KeyFiles


def factlab(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "factlab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "FACTLAB_AUDIT_LOG": str(cwd / "audit.jsonl")},
    )


def special(path: Path, kind: str) -> Path:
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize(
    ("arguments", "name", "code"),
    [
        (lambda f, k, d: ["link", f, "--key", k.link, "--out", d / "l.parquet"], "P01.parquet", 3),
        (lambda f, k, d: ["inspect", f], "P01.parquet", 3),
        (lambda f, k, d: ["key", "show", f], "round.key", KeyFileError.exit_code),
        (lambda f, k, d: ["count", f, "--out", d / "c.csv"], "linked.parquet", 3),
    ],
    ids=["link", "inspect", "key show", "count"],
)
def test_a_special_file_as_input_is_one_line(
    tmp_path: Path,
    key_files: KeyFiles,
    kind: str,
    arguments: Callable[[Path, KeyFiles, Path], list[object]],
    name: str,
    code: int,
) -> None:
    path = special(tmp_path / name, kind)
    done = factlab(*arguments(path, key_files, tmp_path), cwd=tmp_path)
    assert done.returncode == code, done.stderr
    what = "a FIFO (named pipe)" if kind == "fifo" else "a device"
    assert done.stderr.strip().splitlines() == [f"factlab: error: {path}: {what}, not a file"]


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_report_config_that_is_no_file_is_one_line(tmp_path: Path, kind: str) -> None:
    config = special(tmp_path / "round.toml", kind)
    linked = tmp_path / "linked.parquet"
    linked.write_bytes(b"PAR1")  # never read: the configuration is refused first
    done = factlab("report", linked, "--config", config, "--out", tmp_path / "r.html", cwd=tmp_path)
    assert done.returncode == InputError.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    what = "a FIFO (named pipe)" if kind == "fifo" else "a device"
    assert done.stderr.strip().splitlines() == [f"factlab: error: {config}: {what}, not a file"]


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_an_audit_log_that_is_no_file_is_one_line(
    tmp_path: Path, key_files: KeyFiles, kind: str
) -> None:
    log = special(tmp_path / "audit.jsonl", kind)
    export = tmp_path / "e.csv"
    export.write_text("BSN\n999993653\n")
    out = tmp_path / "P01.parquet"
    done = factlab(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01",
        "--out", out, "--audit-log", log, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == InputError.exit_code, done.stderr
    what = "a FIFO (named pipe)" if kind == "fifo" else "a device"
    assert done.stderr.strip().splitlines() == [
        f"factlab: error: {log}: {what}, not a file; the audit log must be a file"
    ]
    assert not out.exists()
