"""A public report shows no digest of a pseudonymised file; an internal one does.

Whoever holds the provider key (every steward) could match the SHA-256 of a small provider file
by rebuilding it for one BSN after another, so the inputs' digests stay in internal reports.
Synthetic data only: pseudonyms are SHA-256 digests of made-up client numbers.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import polars as pl
import pytest

from factlab import schema
from factlab.io import file_sha256, write_parquet
from factlab.manifest import Manifest
from factlab.report.build import build_report
from factlab.report.config import RoundConfig
from factlab.report.excel import write_excel
from factlab.report.render import render_html, render_markdown

GENERATED = "2025-03-01T12:00:00+00:00"
PROVIDERS = ("P01", "P02")


def input_digest(code: str) -> str:
    return hashlib.sha256(f"stage-1 file of {code}".encode()).hexdigest()


def write_linked(path: Path, *, stage: int) -> Path:
    clients = range(60)
    rows = pl.DataFrame(
        {
            "pseudonym": [hashlib.sha256(f"client-{c}".encode()).hexdigest()[:32] for c in clients],
            "bsn_status": pl.Series(["valid"] * len(clients), dtype=schema.STATUS_DTYPE),
            "provider": [PROVIDERS[c % 2] for c in clients],
            "municipality": [("Assen", "Emmen", "Hoogeveen")[c % 3] for c in clients],
        }
    )
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="provenance-2025",
        key_id="0123456789abcdef",
        key_fingerprint="1a2b-3c4d-5e6f-7a8b",
        rows=rows.height,
        rows_by_status={"valid": rows.height},
        stage=stage,
        inputs=[
            {
                "provider": code,
                "file": f"{code}.parquet.sealed",
                "sha256": input_digest(code),
                "rows": 30,
                "rows_by_status": {"valid": 30},
                "created": "2025-01-15T09:00:00+00:00",
            }
            for code in PROVIDERS
        ],
    )
    write_parquet(rows, path, manifest)
    return path


def every_text(path: Path, *, internal: bool) -> str:
    """The report's Markdown, HTML and the text of its Excel workbook, together."""
    report = build_report(
        path,
        RoundConfig(language="en", dimensions=("municipality",)),
        internal=internal,
        generated=GENERATED,
    )
    workbook = path.with_suffix(".xlsx")
    write_excel(report, workbook)
    with zipfile.ZipFile(workbook) as archive:
        sheets = "".join(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("xl/") and name.endswith(".xml")
        )
    return render_markdown(report) + render_html(report) + sheets


@pytest.mark.parametrize("stage", [1, 2])
def test_a_public_report_shows_no_digest_of_a_provider_file(tmp_path: Path, stage: int) -> None:
    linked = write_linked(tmp_path / "linked.parquet", stage=stage)
    public = every_text(linked, internal=False)
    for code in PROVIDERS:
        assert input_digest(code) not in public
    assert "its SHA-256 in the internal report only" in public
    # the linked file's own digest: shown for a second-stage file only (stewards lack its key)
    assert (file_sha256(linked) in public) == (stage == 2)


def test_an_internal_report_keeps_every_digest(tmp_path: Path) -> None:
    linked = write_linked(tmp_path / "linked.parquet", stage=1)
    internal = every_text(linked, internal=True)
    for code in PROVIDERS:
        assert input_digest(code) in internal
    assert file_sha256(linked) in internal
