"""The steward states the period a delivery covers (``--period``); link reads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

import factlab.cli.steward
import factlab.cli.trusted  # registers link on main
from factlab.analysis.link import link
from factlab.cli import main
from factlab.errors import ConfigError, LinkError
from factlab.keys.round_keys import Key
from factlab.manifest import read_manifest
from factlab.steward.pseudonymise import pseudonymise_file

if TYPE_CHECKING:
    from conftest import KeyFiles

assert factlab.cli.steward
assert factlab.cli.trusted
pytestmark = pytest.mark.usefixtures("fast_argon2")


def _export(write: Callable[..., Path], name: str, start: str) -> Path:
    return write(
        name,
        [
            "BSN;Gemeente;Zorgvorm;Begindatum;Einddatum",
            f"999993653;Assen;ambulant;{start};",
            f"999991723;Emmen;verblijf;{start};",
        ],
    )


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stderr


def test_the_library_writes_the_period_into_the_manifest(
    round_key: Key, write_export: Callable[..., Path], tmp_path: Path
) -> None:
    export = _export(write_export, "a.csv", "01-02-2024")
    key = round_key.provider_key()
    result = pseudonymise_file(export, key, provider="P01", out=tmp_path / "a.parquet",
                               period="2024h1")  # fmt: skip
    assert result.manifest is not None
    assert result.manifest.extra["period"] == "2024H1"
    assert read_manifest(tmp_path / "a.parquet").extra["period"] == "2024H1"
    plain = pseudonymise_file(export, key, provider="P01", out=tmp_path / "b.parquet")
    assert plain.manifest is not None
    assert "period" not in plain.manifest.extra
    with pytest.raises(ConfigError):
        pseudonymise_file(export, key, provider="P01", out=tmp_path / "c.parquet", period="2024H3")
    assert not (tmp_path / "c.parquet").exists()


def test_link_picks_up_the_stewards_periods(
    key_files: KeyFiles, write_export: Callable[..., Path], tmp_path: Path
) -> None:
    files = []
    for year in ("2023", "2024"):
        export = _export(write_export, f"p01-{year}.csv", f"01-03-{year}")
        out = tmp_path / f"p01-{year}.parquet"
        code, stderr = run("pseudonymise", export, "--key", key_files.provider,
                           "--provider", "P01", "--period", year, "--out", out)  # fmt: skip
        assert code == 0, stderr
        assert read_manifest(out).extra["period"] == year
        files.append(out)
    # two deliveries of one provider: accepted because their periods (from the manifests) differ
    manifest = link(files, tmp_path / "linked.parquet")
    covered = {(entry["file"], entry["period"]) for entry in manifest.extra["deliveries"]}
    assert covered == {("p01-2023.parquet", "2023"), ("p01-2024.parquet", "2024")}
    # the same period twice is an overlap, refused without --replace
    again = tmp_path / "p01-2024b.parquet"
    export = _export(write_export, "p01-2024b.csv", "01-05-2024")
    code, stderr = run("pseudonymise", export, "--key", key_files.provider,
                       "--provider", "P01", "--period", "2024H2", "--out", again)  # fmt: skip
    assert code == 0, stderr
    with pytest.raises(LinkError):
        link([*files, again], tmp_path / "overlap.parquet")


def test_a_bad_period_is_refused_before_any_work(
    key_files: KeyFiles, write_export: Callable[..., Path], tmp_path: Path
) -> None:
    export = _export(write_export, "p01.csv", "01-03-2024")
    out = tmp_path / "p01.parquet"
    code, stderr = run("pseudonymise", export, "--key", key_files.provider,
                       "--provider", "P01", "--period", "2024-13", "--out", out)  # fmt: skip
    assert code == 4
    assert len([line for line in stderr.splitlines() if line.strip()]) == 1
    assert not out.exists()
