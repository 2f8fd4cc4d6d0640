"""What the benchmark's steps share: the fixed key, the data layout, and making the data.

Every size gets its own folder ``<data>/n<rows>/`` with:

- ``exports/P01.csv`` … — one messy provider export each, written by :mod:`factlab.synth.draw`
  (realistic BSN mess, Dutch and English column names, ``;``/``,``, UTF-8 and Windows-1252);
- ``exports.json`` — how each export is written (delimiter, encoding, names, date format), which
  the alternatives are given, as a provider would tell them;
- ``all.csv`` — every row in one plain export (UTF-8, ``,``, ISO dates), for the single-file
  pseudonymise steps;
- ``bsn.parquet`` — the BSNs as written (text), for the in-memory pseudonymise steps;
- ``pseudonymised/P01.parquet`` … and ``linked.parquet`` — made by factlab (untimed), the input
  of the link and count steps of every implementation;
- ``round.key`` — the benchmark's round key (a fixed, public secret: synthetic data only).

The data are synthetic: proef-valid numbers drawn from the whole nine-digit space, with no data of
any real person attached (see docs/DOMAIN §2).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab.keys.round_keys import Key, write_key
from factlab.periods import Period
from factlab.periods import parse_period as parse_period_text
from factlab.synth.config import Messiness, SynthConfig
from factlab.synth.draw import synth_frame, synthesise
from factlab.synth.write import COLUMN_NAMES, ExportForm, write_export

#: The counting period every count step uses (the synthetic data's period).
PERIOD: Final = "2024"
PERIOD_START: Final = "2024-01-01"
PERIOD_END: Final = "2024-12-31"
#: The dimensions of the table with margins.
DIMENSIONS: Final = ("care_form", "financing")
#: Synthetic rows per client with the config below (measured: 1.64), to aim at a row count.
ROWS_PER_CLIENT: Final = 1.64
SEED: Final = 20260101
ROUND: Final = "bench-2024"


def bench_key() -> Key:
    """The benchmark's round key: a fixed secret, so runs and implementations agree."""
    return Key(
        kind="round",
        round=ROUND,
        key_id="bench",
        created="2026-01-01T00:00:00+00:00",
        _secret=bytes(range(32)),
    )


def hmac_key_hex(stage: int) -> str:
    """The HMAC key text (hex of the subkey, see docs/scheme.md) of stage 1 or 2."""
    key = bench_key()
    subkey = key.pseudonym_key("bsn") if stage == 1 else key.stage2_key("bsn")
    return subkey.hex()


def providers_for(rows: int) -> int:
    """Providers per size: a region has a dozen or two, a national round hundreds."""
    if rows <= 200_000:
        return 8
    if rows <= 2_000_000:
        return 20
    return 40


def config_for(rows: int) -> SynthConfig:
    """Realistic mess, CSV only (a 10^7-row export does not fit an Excel sheet)."""
    mess = dataclasses.replace(Messiness.realistic(), file_formats=("csv",))
    clients = max(100, round(rows / ROWS_PER_CLIENT))
    return SynthConfig(providers=providers_for(rows), clients=clients, messiness=mess)


def parse_period() -> Period:
    """The counting period as factlab's :class:`~factlab.periods.Period`."""
    return parse_period_text(PERIOD)


def folder(data: Path, rows: int) -> Path:
    """The folder of one size."""
    return data / f"n{rows}"


#: The form of the files factlab makes for the benchmark (``pseudonymised/``, ``linked.parquet``);
#: raised when that form changes, so that a data folder made before is brought up to date.
#: 2: text fields and the provider are Categorical.
FACTLAB_FILES: Final = 2


def prepare(data: Path, rows: int, *, log: Any = print) -> dict[str, Any]:
    """Make every input of one size (once; a ``ready.json`` marks a finished folder).

    A folder whose factlab-made files are of an earlier form gets them made again (the exports
    stay: they do not depend on factlab's file format).
    """
    here = folder(data, rows)
    ready = here / "ready.json"
    if ready.is_file():
        facts: dict[str, Any] = json.loads(ready.read_text())
        if facts.get("factlab_files") != FACTLAB_FILES:
            started = time.perf_counter()
            exports = [(entry["provider"], entry["path"]) for entry in export_forms(here)]
            _factlab_files(here, exports)
            seconds = time.perf_counter() - started
            log(f"  n={rows}: pseudonymised and linked again ({seconds:.1f} s)")
            facts["factlab_files"] = FACTLAB_FILES
            ready.write_text(json.dumps(facts, indent=2))
        return facts
    here.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    config = config_for(rows)
    result = synthesise(here / "exports", config, seed=SEED)
    (here / "exports.json").write_text(result.to_json())
    # The same rows again, whole: the single-file export and the in-memory inputs use them.
    frame = synth_frame(config, seed=SEED)
    log(f"  n={rows}: {frame.height} rows, exports written ({time.perf_counter() - started:.1f} s)")
    write_export(frame, here / "all.csv", ExportForm())
    frame.select(pl.col("bsn_written").alias("bsn")).write_parquet(here / "bsn.parquet")
    key = bench_key()
    key_path = here / "round.key"
    if not key_path.exists():
        write_key(key, key_path)

    _factlab_files(here, [(export.provider, export.path) for export in result.exports])
    log(f"  n={rows}: pseudonymised and linked ({time.perf_counter() - started:.1f} s)")
    facts = {
        "rows": frame.height,
        "providers": config.providers,
        "clients": config.clients,
        "persons_in_files": result.truth.unique_persons,
        "linkable_persons": result.truth.linkable_persons,
        "rows_by_status": dict(result.truth.rows_by_status),
        "distinct_written_bsn": int(frame["bsn_written"].n_unique()),
        "seconds_to_prepare": round(time.perf_counter() - started, 1),
        "factlab_files": FACTLAB_FILES,
    }
    ready.write_text(json.dumps(facts, indent=2))
    return facts


def _factlab_files(here: Path, exports: list[tuple[str, Path]]) -> None:
    """The pseudonymised files and the linked file of the exports (provider, path)."""
    from factlab.analysis.link import link
    from factlab.steward.pseudonymise import pseudonymise_file

    key = bench_key()
    (here / "pseudonymised").mkdir(exist_ok=True)
    outputs = []
    for provider, path in exports:
        out = here / "pseudonymised" / f"{provider}.parquet"
        out.unlink(missing_ok=True)
        # the realistic mess has a provider without BSNs (GGZ, 2016)
        pseudonymise_file(
            path, key.provider_key(), provider=provider, out=out, allow_no_valid_bsn=True
        )
        outputs.append(out)
    (here / "linked.parquet").unlink(missing_ok=True)
    link(outputs, here / "linked.parquet", key=key)


def export_forms(here: Path) -> list[dict[str, Any]]:
    """Per provider export: file, provider, and how it is written (with its column names)."""
    described = json.loads((here / "exports.json").read_text())
    entries = []
    for export in described["exports"]:
        form = ExportForm(**{**export["form"], "sex_codes": tuple(export["form"]["sex_codes"])})
        entries.append(
            {
                "provider": export["provider"],
                "path": here / "exports" / export["file"],
                "form": form,
                "names": dict(COLUMN_NAMES[form.names]),
            }
        )
    return entries


def status_names() -> tuple[str, ...]:
    """The BSN statuses in factlab's order."""
    return tuple(schema.STATUSES)
