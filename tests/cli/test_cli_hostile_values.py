"""What the steward's commands print and refuse after issue 14's follow-up review.

- ``pseudonymise --provider`` refuses a code that reads as a BSN (it would go into the sealed
  file's clear header), in one line without the code;
- ``inspect`` of a sealed file shows no digest of the content (any steward could match a small
  file's digest by rebuilding it BSN by BSN).

Synthetic data only: BSNs from the test range 999900000-999999999 that pass the elfproef.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

import factlab.cli.keys
import factlab.cli.seal
import factlab.cli.steward  # registers the commands on main
from factlab.cli import main
from factlab.errors import InputError
from factlab.io import file_sha256

if TYPE_CHECKING:
    from conftest import KeyFiles

assert factlab.cli.keys  # imported for their side effect
assert factlab.cli.seal

pytestmark = pytest.mark.usefixtures("fast_argon2")

EXPORT = ["BSN;Gemeente;Kosten", "999993653;Assen;12,50"]


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.mark.parametrize("provider", ["999993653", "99999365", "P999991723"])
def test_pseudonymise_refuses_a_provider_code_that_reads_as_a_bsn(
    key_files: KeyFiles, write_export: Callable[..., Path], tmp_path: Path, provider: str
) -> None:
    export = write_export("export.csv", EXPORT)
    out = tmp_path / "out.parquet"
    result = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", provider, "--out", out
    )
    assert result.exit_code == InputError.exit_code
    error = [line for line in result.stderr.splitlines() if line.startswith("factlab: error:")]
    assert len(error) == 1
    assert "provider code holds digits that read as a BSN" in error[0]
    assert provider not in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_inspect_of_a_sealed_one_row_file_shows_no_digest_of_it(
    key_files: KeyFiles, write_export: Callable[..., Path], tmp_path: Path
) -> None:
    """The red-team case: one row, whose stage-1 file another steward can rebuild."""
    export = write_export("export.csv", EXPORT)
    plain = tmp_path / "P01.parquet"
    made = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01", "--out", plain
    )
    assert made.exit_code == 0, made.output
    recipients = tmp_path / "ttp"
    recipients.mkdir()
    assert run("key", "new-recipient", "ttp", "--out-dir", recipients).exit_code == 0
    sealed = tmp_path / "P01.sealed"
    assert run("seal", plain, "--to", recipients / "ttp.pub", "--out", sealed).exit_code == 0

    content = plain.read_bytes()
    digests = {hashlib.sha256(content).hexdigest(), file_sha256(plain)}
    text = run("inspect", sealed)
    as_json = run("inspect", sealed, "--json")
    assert text.exit_code == as_json.exit_code == 0, text.output + as_json.output
    for shown in (text.stdout, as_json.stdout):
        assert not digests & set(re.findall(r"[0-9a-f]{64}", shown))
    assert "sha256" not in json.loads(as_json.stdout)["payload"]
    assert f"{len(content)} bytes" in text.stdout
