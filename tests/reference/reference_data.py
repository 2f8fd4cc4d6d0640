"""Shared data of the reference tests: a Drenthe reference, synthetic linked rows, files."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from factlab import schema
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.reference.config import Reference, reference_from_mapping

#: The two purchasing regions of Drenthe as a test declares them (the documents do not list
#: which municipality buys where; this split is made up for the tests).
NORTH = ["Assen", "Aa en Hunze", "Tynaarlo", "Noordenveld", "Midden-Drenthe", "Borger-Odoorn"]
SOUTH = ["Emmen", "Coevorden", "Hoogeveen", "Meppel", "De Wolden", "Westerveld"]
REGION: dict[str, Any] = {
    "dimension": "municipality",
    "levels": ["purchasing_region", "youth_care_region"],
    "purchasing_region": {"Noord- en Midden-Drenthe": NORTH, "Zuid-Drenthe": SOUTH},
    "youth_care_region": {"Jeugdregio Drenthe": ["Noord- en Midden-Drenthe", "Zuid-Drenthe"]},
}
CARE: dict[str, Any] = {
    "dimension": "care_form",
    "levels": ["care_group"],
    "care_group": {"zonder verblijf": ["ambulant", "dagbehandeling"], "met verblijf": ["verblijf"]},
}
#: Municipalities as providers deliver them: names in other spellings, codes, former names.
DELIVERED: dict[str, str] = {
    "Assen": "Assen",
    "GM0106": "Assen",
    "Gieten": "Aa en Hunze",
    "aa en hunze": "Aa en Hunze",
    "Zuidlaren": "Tynaarlo",
    "Eelde": "Tynaarlo",
    "Roden": "Noordenveld",
    "Middenveld": "Midden-Drenthe",
    "Borger Odoorn": "Borger-Odoorn",
    "0114": "Emmen",
    "Schoonebeek": "Emmen",
    "Dalen": "Coevorden",
    "gemeente Hoogeveen": "Hoogeveen",
    "GM0119": "Meppel",
    "Ruinerwold": "De Wolden",
    "Havelte": "Westerveld",
}
PROVIDERS = ("P01", "P02", "P03", "P04", "P05")
GROUPS = {"P01": "top 5", "P02": "top 5", "P03": "GI", "P04": "JZ+", "P05": "other"}
CARE_FORMS = ("ambulant", "dagbehandeling", "verblijf")


def drenthe_reference(**extra: Any) -> Reference:
    """The packaged municipalities with the test's region and care hierarchies."""
    return reference_from_mapping(
        {
            "version": 1,
            "reference_year": 2024,
            "hierarchy": {"region": REGION, "care": CARE},
            **extra,
        }
    )


def synthetic_frame(seed: int, people: int = 80) -> pl.DataFrame:
    """Linked rows: each client 1-4 rows with distinct start dates, moves, missing values."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    names = list(DELIVERED)
    for person in range(people):
        days = rng.sample(range(0, 700), rng.randint(1, 4))
        for day in days:
            valid = rng.random() > 0.08
            rows.append(
                {
                    "pseudonym": f"{person + 1:032x}" if valid else None,
                    "bsn_status": "valid" if valid else "missing",
                    "provider": rng.choice(PROVIDERS),
                    "municipality": rng.choice([*names, None]) if rng.random() > 0.05 else None,
                    "care_form": rng.choice([*CARE_FORMS, None]),
                    "birth_year": rng.randint(2004, 2023),
                    "start_date": date(2023, 1, 1) + timedelta(days=day),
                    "end_date": date(2023, 1, 1) + timedelta(days=day + rng.randint(0, 90)),
                }
            )
    # Text columns typed: an all-null column would otherwise be of dtype Null.
    return pl.DataFrame(rows).with_columns(
        pl.col("pseudonym", "provider", "municipality", "care_form").cast(pl.String),
        pl.col("bsn_status").cast(schema.STATUS_DTYPE),
        pl.col("birth_year").cast(pl.Int16),
    )


def write_linked(frame: pl.DataFrame, path: Path) -> Path:
    """``frame`` as a linked factlab file."""
    by_status = dict.fromkeys(schema.STATUSES, 0)
    for status, number in frame.group_by("bsn_status").len().iter_rows():
        by_status[status] = number
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="2024",
        key_id="k",
        key_fingerprint="fp",
        rows=frame.height,
        rows_by_status=by_status,
    )
    write_parquet(frame, path, manifest)
    return path
