"""A small synthetic round for the report's look tests (browser, charts, HTML, workbook).

Pseudonyms are digests of made-up client numbers; no BSN is involved.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from factlab import schema
from factlab.estimation.corrections import load_corrections
from factlab.periods import parse_period
from factlab.report.build import build_report
from factlab.report.config import RoundConfig
from factlab.report.model import Report

#: Provider codes: the first ``providers`` of these take part in a round.
PROVIDERS = tuple(f"P{number:02d}" for number in range(1, 12))
HOMES = ("Assen", "Emmen", "Meppel", "Aa en Hunze", "Midden-Drenthe")
FORMS = ("ambulant", "verblijf", "dagbehandeling")
GENERATED = "2025-03-01T00:00:00+00:00"


def _shares(providers: int) -> np.ndarray:
    """Large providers and small ones, as in a real region."""
    weights = np.array([(providers + 1 - rank) ** 2 for rank in range(1, providers + 1)], float)
    return weights / weights.sum()


def round_rows(seed: int = 11, clients: int = 200, providers: int = 4) -> pl.DataFrame:
    """Linked rows of ``clients`` youths at one or two of ``providers`` providers in 2024."""
    rng = np.random.default_rng(seed)
    shares = _shares(providers)
    rows = []
    for client in range(clients):
        home = HOMES[int(rng.integers(0, len(HOMES)))]
        chosen = rng.choice(
            providers, size=int(rng.choice([1, 2], p=[0.7, 0.3])), p=shares, replace=False
        )
        for provider in sorted(set(chosen.tolist())):
            start = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 330)))
            rows.append(
                (
                    hashlib.sha256(f"browser-client-{client}".encode()).hexdigest()[:32],
                    "valid",
                    PROVIDERS[int(provider)],
                    home,
                    FORMS[int(rng.integers(0, len(FORMS)))],
                    "PGB" if rng.random() < 0.1 else "ZIN",
                    start,
                    start + timedelta(days=int(rng.integers(10, 200))),
                )
            )
    frame = pl.DataFrame(
        rows,
        schema=[
            "pseudonym",
            "bsn_status",
            "provider",
            "municipality",
            "care_form",
            "financing",
            "start_date",
            "end_date",
        ],
        orient="row",
    )
    return frame.with_columns(pl.col("bsn_status").cast(schema.STATUS_DTYPE))


def round_config(folder: Path, language: str = "nl", **settings: object) -> RoundConfig:
    """The round's configuration: 2024 and its halves, a PGB correction, in ``language``."""
    corrections = folder / "corrections.toml"
    corrections.write_text(
        'version = 1\ntitle = "Raming"\nbase = "unique_clients"\nrow_dimension = "care_form"\n'
        'column_dimension = "financing"\n[[adjustment]]\nname = "pgb"\nkind = "factor"\n'
        'select = { financing = "PGB" }\nfactor = 2\nsource = "begroting"\nnote = "PGB"\n',
        encoding="utf-8",
    )
    return RoundConfig(
        title="Jeugdhulp in de testregio, 2024",
        region="Testregio",
        period=parse_period("2024"),
        parts=(parse_period("2024H1"), parse_period("2024H2")),
        corrections=load_corrections(corrections),
        language=language,
        publication_date=date(2025, 3, 1),
        **settings,  # type: ignore[arg-type]
    )


def round_report(
    folder: Path, language: str = "nl", *, seed: int = 11, clients: int = 200, providers: int = 4
) -> Report:
    """The protected report of the round."""
    rows = round_rows(seed=seed, clients=clients, providers=providers)
    return build_report(rows, round_config(folder, language), generated=GENERATED)
