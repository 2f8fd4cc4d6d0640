"""Deliveries per period for the tests of link and the monitor (synthetic data only).

A programme's truth is a frame of episodes (client, provider, care form, start, end, cost per
day); a delivery for a period holds the episodes in care in it, as known at the period's end:
an episode that ends later is still ongoing (no end date), and its cost is that of its days in
the period.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from factlab import schema
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import Period, parse_period

FINGERPRINT = "fp-monitor-test"


def pseudonym(person: int) -> str:
    """A 32-hex pseudonym for a synthetic person (test data only, no key involved)."""
    return hashlib.sha256(f"synthetic-person-{person}".encode()).hexdigest()[:32]


def write_delivery(
    folder: Path, name: str, rows: pl.DataFrame, *, period: str | None = None, **overrides: Any
) -> Path:
    """Write ``rows`` (one provider) as a steward's file whose manifest tells the truth."""
    by_status = dict.fromkeys(schema.STATUSES, 0)
    for status, count in rows.group_by(schema.STATUS).len().iter_rows():
        by_status[str(status)] = count
    settings: dict[str, Any] = {
        "format": schema.FORMAT_PSEUDONYMISED,
        "scheme": schema.SCHEME,
        "round": "drenthe-2021-2025",
        "key_id": "programme",
        "key_fingerprint": FINGERPRINT,
        "rows": rows.height,
        "rows_by_status": by_status,
        "provider": str(rows[schema.PROVIDER][0]) if rows.height else "EMPTY",
        "extra": {} if period is None else {"period": period},
    }
    settings.update(overrides)
    path = folder / name
    write_parquet(rows, path, Manifest(**settings))
    return path


def episodes_frame(records: list[tuple[Any, ...]]) -> pl.DataFrame:
    """Episodes from (person, provider, care_form, start, end|None[, financing]) tuples."""
    people, providers, forms, starts, ends, financing = [], [], [], [], [], []
    for record in records:
        person, provider, form, start, end, *rest = record
        people.append(pseudonym(person))
        providers.append(provider)
        forms.append(form)
        starts.append(start)
        ends.append(end)
        financing.append(rest[0] if rest else "ZIN")
    return pl.DataFrame(
        {
            schema.PSEUDONYM: people,
            schema.PROVIDER: providers,
            "care_form": forms,
            "financing": financing,
            "start_date": pl.Series(starts, dtype=pl.Date),
            "end_date": pl.Series(ends, dtype=pl.Date),
        }
    )


def delivery_rows(episodes: pl.DataFrame, period: Period, provider: str) -> pl.DataFrame:
    """The rows ``provider`` delivers for ``period``: its episodes in care then, as known at the
    period's end, with the cost of their days in it (10 euros a day)."""
    start, end = pl.col("start_date"), pl.col("end_date")
    active = (start <= period.end) & (end.is_null() | (end >= period.start))
    first = pl.max_horizontal(start, pl.lit(period.start))
    last = pl.min_horizontal(end.fill_null(pl.lit(period.end)), pl.lit(period.end))
    return (
        episodes.filter((pl.col(schema.PROVIDER) == provider) & active)
        .with_columns(
            pl.when(end > period.end).then(None).otherwise(end).alias("end_date"),
            ((last - first).dt.total_days() + 1).cast(pl.Float64).mul(10.0).alias("cost"),
            pl.lit("valid").cast(schema.STATUS_DTYPE).alias(schema.STATUS),
        )
        .select(
            schema.PSEUDONYM,
            schema.STATUS,
            schema.PROVIDER,
            "care_form",
            "financing",
            *(name for name in ("municipality", "birth_year") if name in episodes.columns),
            "start_date",
            "end_date",
            "cost",
        )
    )


def deliver_periods(
    folder: Path, episodes: pl.DataFrame, labels: list[str], *, prefix: str = ""
) -> list[tuple[Path, str]]:
    """One delivery per provider and period label: (path, label), providers in sorted order."""
    made = []
    for provider in sorted(set(episodes[schema.PROVIDER].to_list())):
        for label in labels:
            rows = delivery_rows(episodes, parse_period(label), provider)
            if rows.height == 0:
                continue
            path = write_delivery(folder, f"{prefix}{provider}-{label}.parquet", rows)
            made.append((path, label))
    return made


def clients_in(episodes: pl.DataFrame, period: Period) -> set[str]:
    """Plain Python: the clients of ``episodes`` in care at any moment in ``period``."""
    return {
        row[schema.PSEUDONYM]
        for row in episodes.iter_rows(named=True)
        if row["start_date"] <= period.end
        and (row["end_date"] is None or row["end_date"] >= period.start)
    }


def day(text: str) -> date:
    """An ISO date."""
    return date.fromisoformat(text)
