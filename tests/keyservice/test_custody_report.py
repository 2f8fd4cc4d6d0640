"""A report says "single-service mode" when any input of the linked file was made through one
key service (single custody), in every language and every form; split custody says nothing.

Synthetic data only: pseudonyms are SHA-256 digests of made-up client numbers.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import polars as pl
import pytest

from factlab import schema
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.report.build import build_report
from factlab.report.config import RoundConfig
from factlab.report.excel import write_excel
from factlab.report.messages import MESSAGES
from factlab.report.render import render_html, render_markdown
from factlab.report.text import warnings

GENERATED = "2026-03-01T12:00:00+00:00"
PROVIDERS = ("P01", "P02", "P03")
SAID = {
    "nl": "Eén sleuteldienst: de pseudoniemen van {count} van de 3 invoerbestanden",
    "en": "Single-service mode: the pseudonyms of {count} of the 3 input files",
}


def write_linked(path: Path, custody: dict[str, str | None]) -> Path:
    clients = range(90)
    rows = pl.DataFrame(
        {
            "pseudonym": [hashlib.sha256(f"client-{c}".encode()).hexdigest()[:32] for c in clients],
            "bsn_status": pl.Series(["valid"] * len(clients), dtype=schema.STATUS_DTYPE),
            "provider": [PROVIDERS[c % 3] for c in clients],
            "municipality": [("Assen", "Emmen", "Hoogeveen")[c % 3] for c in clients],
        }
    )
    inputs = []
    for code in PROVIDERS:
        entry = {
            "provider": code,
            "file": f"{code}.parquet",
            "sha256": hashlib.sha256(code.encode()).hexdigest(),
            "rows": 30,
            "rows_by_status": {"valid": 30},
            "created": "2026-01-15T09:00:00+00:00",
        }
        if custody.get(code) is not None:
            entry["custody"] = custody[code]
            entry["key_services"] = ["A"] if custody[code] == "single" else ["A", "B"]
        inputs.append(entry)
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.BLIND_SCHEME,
        round="custody-2026",
        key_id="0123456789abcdef",
        key_fingerprint="1a2b-3c4d-5e6f-7a8b-9c0d",
        rows=rows.height,
        rows_by_status={"valid": rows.height},
        stage=2,
        inputs=inputs,
    )
    write_parquet(rows, path, manifest)
    return path


def every_text(path: Path, language: str, *, internal: bool) -> str:
    """The report's Markdown, HTML and the text of its Excel workbook, together."""
    report = build_report(
        path,
        RoundConfig(language=language, dimensions=("municipality",)),
        internal=internal,
        generated=GENERATED,
    )
    workbook = path.with_suffix(f".{language}.xlsx")
    write_excel(report, workbook)
    with zipfile.ZipFile(workbook) as archive:
        sheets = "".join(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("xl/") and name.endswith(".xml")
        )
    return render_markdown(report) + render_html(report) + sheets


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("internal", [False, True])
def test_single_custody_input_is_said_in_every_form(
    tmp_path: Path, language: str, internal: bool
) -> None:
    linked = write_linked(tmp_path / "linked.parquet", {"P01": "split", "P02": "single"})
    text = every_text(linked, language, internal=internal)
    said = SAID[language].format(count=1)
    # Markdown, HTML and the workbook each say it
    assert text.count(said) >= 3, text[:2000]


def test_split_custody_is_shown_in_provenance_without_a_warning(tmp_path: Path) -> None:
    split = write_linked(tmp_path / "split.parquet", dict.fromkeys(PROVIDERS, "split"))
    dutch = every_text(split, "nl", internal=False)
    assert "Eén sleuteldienst" not in dutch
    assert "gedeeld over twee sleuteldiensten (A, B)" in dutch
    english = every_text(split, "en", internal=False)
    assert "Single-service mode" not in english
    assert "split over two key services (A, B)" in english


def test_single_custody_is_shown_in_provenance(tmp_path: Path) -> None:
    mixed = write_linked(tmp_path / "mixed.parquet", {"P01": "split", "P02": "single"})
    assert "één sleuteldienst bij 1 van de 3 invoerbestanden (A, B)" in every_text(
        mixed, "nl", internal=False
    )
    assert "one key service for 1 of the 3 input files (A, B)" in every_text(
        mixed, "en", internal=True
    )


def test_an_hmac_round_says_nothing_of_key_services(tmp_path: Path) -> None:
    plain = write_linked(tmp_path / "plain.parquet", {})
    for language in ("nl", "en"):
        text = every_text(plain, language, internal=False).lower()
        assert "sleuteldienst" not in text
        assert "key service" not in text
        assert "single-service" not in text


def test_the_warning_counts_the_single_custody_inputs() -> None:
    inputs = [{"custody": "single"}, {"custody": "single"}, {"custody": "split"}]
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.BLIND_SCHEME,
        round="r",
        key_id="0123456789abcdef",
        key_fingerprint="1a2b",
        rows=0,
        rows_by_status={},
        stage=2,
        inputs=inputs,
    )
    (said,) = warnings(manifest, "nl")
    assert said == MESSAGES["nl"]["warn_single_service"].format(count=2, total=3)
    assert said.startswith(SAID["nl"].format(count=2))
    # a single-stage file with a single-custody input: both warnings
    one_stage = Manifest(**{**manifest.__dict__, "stage": 1})
    found = warnings(one_stage, "en")
    assert len(found) == 2
    assert found[0].startswith("Single-stage pseudonymisation")
    assert found[1].startswith(SAID["en"].format(count=2))
