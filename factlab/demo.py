"""The end-to-end demo: the February 2014 round of the Drenthe factlab, on built-in synthetic data.

:func:`run_demo` plays every party of a round in one folder, the way they would work apart:

1. synthetic exports of the 11 providers (``exports/``), in the file formats and written forms a
   provider's system produces;
2. the key custodian makes a round key, a provider key for the stewards and a link key for the
   linking party, and the trusted party a recipient key pair (``keys/``);
3. each steward pseudonymises its export (``pseudonymised/``) and seals it to the trusted party
   (``sealed/``);
4. the trusted party opens and links the sealed files with the second stage, counts on the
   reference date 1 January 2013, estimates with the shipped 2014 corrections, and protects the
   table for publication (``trusted/``);
5. the trusted party writes the round's report in Dutch, as HTML and Excel, with the shipped
   2014 round configuration (``trusted/rapport-2014.html`` and ``.xlsx``; see
   :func:`factlab.report.config.round_2014`).

The result is checked against the published table: every cell, the 11,245 sum of cells, the 8,241
unique clients, the corrections 601, 1,082 and 2,230, and the estimate 15,158.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from factlab.analysis.count_files import write_counts
from factlab.analysis.counts import CountResult, count
from factlab.analysis.link import link
from factlab.analysis.overlap import OverlapResult, overlap
from factlab.audit import AUDIT_FILE_NAME
from factlab.disclosure.protect import Protection, protect, write_protected
from factlab.disclosure.rules import disclosure_2014
from factlab.errors import DataError, InputError
from factlab.estimation.corrections import corrections_2014
from factlab.estimation.estimate import Estimate, estimate, write_estimate
from factlab.io import atomic_path
from factlab.keys.recipients import new_recipient, write_recipient
from factlab.keys.round_keys import new_round_key, write_key
from factlab.keys.seal import seal
from factlab.manifest import Manifest
from factlab.outputs import csv_safe
from factlab.report.build import build_report, write_report
from factlab.report.config import round_2014 as report_config_2014
from factlab.steward.pseudonymise import pseudonymise_file
from factlab.synth.round2014 import (
    REFERENCE_DATE_2014,
    UNIQUE_CLIENTS_2014,
    expected_2014,
    round_2014,
)

__all__ = ["DemoResult", "check_2014", "run_demo"]

ROUND_NAME: Final = "drenthe-2013"
#: Expected estimate of the 2014 round (DOMAIN.md §1).
ESTIMATE_2014: Final = 15_158

Step = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo made, and where.

    Attributes:
        outdir: the folder holding every intermediate file.
        exports: the providers' raw synthetic exports.
        pseudonymised: the stewards' outputs, one per provider.
        linked: the trusted party's linked file (second-stage pseudonyms).
        linked_manifest: its manifest.
        cells: counts by care form × financing on the reference date.
        totals: totals on the reference date (unique clients, several providers, ...).
        provider_overlap: the provider overlap matrix on the reference date.
        estimate: the corrected total from the shipped 2014 corrections.
        protection: the cells table after disclosure control.
        reports: the report of the round, HTML and Excel (Dutch).
    """

    outdir: Path
    exports: tuple[Path, ...]
    pseudonymised: tuple[Path, ...]
    linked: Path
    linked_manifest: Manifest
    cells: CountResult
    totals: CountResult
    provider_overlap: OverlapResult
    estimate: Estimate
    protection: Protection
    reports: tuple[Path, ...] = ()


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_demo(outdir: str | Path, *, seed: int = 2014, step: Step | None = None) -> DemoResult:
    """Run the 2014 round end to end in ``outdir`` (which must be empty or not exist).

    Args:
        outdir: folder for every file the demo writes.
        seed: seed of the synthetic exports; every seed reproduces the published table.
        step: called with a short description as each stage starts (for a progress display).

    Raises:
        InputError: ``outdir`` exists and is not empty.
    """
    outdir = Path(outdir)
    # the audit log of the command that runs the demo may already be there
    if outdir.exists() and any(p.name != AUDIT_FILE_NAME for p in outdir.iterdir()):
        raise InputError(f"{outdir}: the demo folder is not empty (choose another --out)")
    tell = step or (lambda _: None)

    tell("generating the 11 provider exports of the 2014 round")
    exports = round_2014(_folder(outdir / "exports"), seed=seed)

    tell("making the round key, provider key, link key and recipient key pair")
    keys = _folder(outdir / "keys")
    round_key = new_round_key(ROUND_NAME)
    write_key(round_key, keys / "round.key")
    provider_key, link_key = round_key.provider_key(), round_key.link_key()
    write_key(provider_key, keys / "provider.key")
    write_key(link_key, keys / "link.key")
    private, public = new_recipient("trusted-party")
    write_recipient(private, keys)

    pseudonymised_dir, sealed_dir = _folder(outdir / "pseudonymised"), _folder(outdir / "sealed")
    pseudonymised: list[Path] = []
    sealed: list[Path] = []
    for export in exports.exports:
        tell(f"steward {export.provider}: pseudonymising {export.path.name}")
        target = pseudonymised_dir / f"{export.provider}.parquet"
        pseudonymise_file(export.path, provider_key, provider=export.provider, out=target)
        pseudonymised.append(target)
        envelope = sealed_dir / f"{export.provider}.parquet.sealed"
        seal(target, public, envelope)
        sealed.append(envelope)

    trusted = _folder(outdir / "trusted")
    tell("trusted party: opening and linking the sealed files (second stage)")
    linked = trusted / "linked.parquet"
    manifest = link(sealed, linked, key=link_key, recipient=private)

    tell("trusted party: counting on the reference date 2013-01-01")
    cells = count(linked, by=("care_form", "financing"), on=REFERENCE_DATE_2014)
    write_counts(cells, trusted / "cells.csv")
    totals = count(linked, on=REFERENCE_DATE_2014)
    write_counts(totals, trusted / "totals.json")
    provider_overlap = overlap(linked, on=REFERENCE_DATE_2014)
    with atomic_path(trusted / "provider-overlap.csv") as temporary:
        csv_safe(provider_overlap.matrix).write_csv(temporary)

    tell("trusted party: estimating with the shipped 2014 corrections")
    corrected = estimate(cells.table, corrections_2014())
    write_estimate(corrected, trusted / "estimate.md")
    write_estimate(corrected, trusted / "estimate.json")

    tell("trusted party: disclosure control of the published table")
    # JB/JR × ZVW and × AWBZ are empty by definition: published as such, not as secret zeros.
    protection = protect(cells, disclosure_2014())
    write_protected(protection.table, trusted / "cells-protected.csv")

    tell("trusted party: the report of the round (HTML and Excel, in Dutch)")
    report = build_report(linked, report_config_2014())
    reports = tuple(
        write_report(report, trusted / f"rapport-2014{suffix}") for suffix in (".html", ".xlsx")
    )

    return DemoResult(
        outdir=outdir,
        exports=tuple(export.path for export in exports.exports),
        pseudonymised=tuple(pseudonymised),
        linked=linked,
        linked_manifest=manifest,
        cells=cells,
        totals=totals,
        provider_overlap=provider_overlap,
        estimate=corrected,
        protection=protection,
        reports=reports,
    )


def check_2014(result: DemoResult) -> None:
    """Check the demo's figures against the published 2014 table and estimate.

    Raises:
        DataError: naming every figure that differs.
    """
    problems: list[str] = []
    cells = result.cells.table.filter(
        pl.col("care_form").is_not_null() & pl.col("financing").is_not_null()
    ).select("care_form", "financing", pl.col("unique_clients").cast(pl.Int64))
    compared = expected_2014().join(
        cells, on=["care_form", "financing"], how="full", suffix="_counted", coalesce=True
    )
    for row in compared.iter_rows(named=True):
        if row["unique_clients"] != row["unique_clients_counted"]:
            problems.append(
                f"cell {row['care_form']} × {row['financing']}: counted "
                f"{row['unique_clients_counted']}, published {row['unique_clients']}"
            )
    expected_sum = int(expected_2014()["unique_clients"].sum())
    if result.cells.sum_of_cells != expected_sum:
        problems.append(f"sum of cells {result.cells.sum_of_cells}, published {expected_sum}")
    if result.totals.unique_clients != UNIQUE_CLIENTS_2014:
        problems.append(
            f"unique clients {result.totals.unique_clients}, published {UNIQUE_CLIENTS_2014}"
        )
    if result.estimate.total != ESTIMATE_2014:
        problems.append(f"estimate {result.estimate.total}, published {ESTIMATE_2014}")
    if problems:
        raise DataError("the demo does not reproduce the 2014 round: " + "; ".join(problems))
