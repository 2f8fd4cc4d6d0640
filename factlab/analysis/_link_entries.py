"""What a linked file's manifest says of its inputs: totals, digests and one entry per file.

Split from :mod:`factlab.analysis.link` to keep it readable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from factlab import schema
from factlab.analysis._link_checks import LinkInput
from factlab.analysis.deliveries import DELIVERY, Planned
from factlab.io import file_sha256

__all__ = [
    "input_entry",
    "resolution_totals",
    "sha256_of",
    "sum_field_issues",
    "sum_statuses",
    "superseded_entry",
]


def sum_statuses(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Row counts per status, added up; every status present."""
    total = dict.fromkeys(schema.STATUSES, 0)
    for by_status in counts:
        for name in schema.STATUSES:
            total[name] += int(by_status.get(name, 0))
    return total


def sum_field_issues(used: Sequence[LinkInput]) -> dict[str, dict[str, int]]:
    """The inputs' field issues, added up per column and reason."""
    total: dict[str, dict[str, int]] = {}
    for item in used:
        for column, reasons in item.manifest.field_issues.items():
            column_total = total.setdefault(column, {})
            for reason, number in reasons.items():
                column_total[reason] = column_total.get(reason, 0) + int(number)
    return total


def sha256_of(paths: Sequence[Path]) -> dict[Path, str]:
    """SHA-256 of every file, several at a time (hashlib releases the GIL while it hashes)."""
    distinct = list(dict.fromkeys(paths))
    with ThreadPoolExecutor(max_workers=min(len(distinct), os.cpu_count() or 1)) as pool:
        return dict(zip(distinct, pool.map(file_sha256, distinct), strict=True))


def input_entry(item: LinkInput, sha256: dict[Path, str], plan: Planned) -> dict[str, Any]:
    """One used input as the linked file's manifest lists it, with the days it covers."""
    period = plan.delivery.period
    entry: dict[str, Any] = {
        "provider": item.manifest.provider,
        "file": item.shown.name,
        "sha256": sha256[item.shown],
        "sealed": item.path != item.shown,
        "rows": item.manifest.rows,
        "rows_by_status": sum_statuses([item.manifest.rows_by_status]),
        "created": item.manifest.created,
    }
    custody = item.manifest.extra.get("custody")
    if custody in ("split", "single"):
        # a blind round's file: who could compute its stage-1 pseudonyms (two key services in
        # split custody, one in single-service mode); the report warns of single custody
        entry["custody"] = custody
        entry["key_services"] = [str(name) for name in item.manifest.extra.get("key_services", [])]
    if period is not None:
        # only deliveries with a period say which days they cover (a plain link's manifest is
        # as before periods existed)
        entry["period"] = period.label
        entry["covers_from"] = None if plan.covers is None else plan.covers[0].isoformat()
        entry["covers_to"] = None if plan.covers is None else plan.covers[1].isoformat()
    return entry


def superseded_entry(old: LinkInput, plan: Planned, sha256: dict[Path, str]) -> dict[str, Any]:
    """An input that a later delivery superseded wholly."""
    period = plan.delivery.period
    return {
        "provider": old.manifest.provider,
        "file": old.shown.name,
        "sha256": sha256[old.shown],
        "rows": old.manifest.rows,
        "created": old.manifest.created,
        **({} if period is None else {"period": period.label}),
        "superseded_by": plan.replaced[-1][1] if plan.replaced else None,
    }


def resolution_totals(
    used: Sequence[LinkInput], report: pl.DataFrame
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Rows dropped per status, and per provider what the resolution of deliveries did.

    ``report`` is :func:`factlab.analysis.deliveries.duplicate_report`'s result.
    """
    dropped = dict.fromkeys(schema.STATUSES, 0)
    by_provider: dict[str, dict[str, int]] = {}
    for row in report.iter_rows(named=True):
        provider = str(used[int(row[DELIVERY])].manifest.provider)
        totals = by_provider.setdefault(
            provider,
            {
                "rows_outside_coverage": 0,
                "duplicate_rows": 0,
                "episodes_repeated": 0,
                "episodes_closed": 0,
                "episodes_started": 0,
                "categories_taken": 0,
                "categories_ambiguous": 0,
            },
        )
        totals["rows_outside_coverage"] += int(row["outside_coverage"])
        totals["duplicate_rows"] += int(row["duplicate_rows"])
        totals["episodes_repeated"] += int(row["episodes_repeated"])
        totals["episodes_closed"] += int(row["episodes_closed"])
        totals["episodes_started"] += int(row["episodes_started"])
        totals["categories_taken"] += int(row["categories_taken"])
        totals["categories_ambiguous"] += int(row["categories_ambiguous"])
        for name in schema.STATUSES:
            dropped[name] += int(row[f"dropped.{name}"]) + 0
    return dropped, by_provider
