"""The monitor at scale: a programme of several years linked year by year into a store, then
analysed (series, one transition matrix, durations), each step in a fresh process.

Usage::

    python benchmarks/monitor.py --rows 50000000 --years 10     # the target: 5 × 10^7 rows
    python benchmarks/monitor.py --rows 5000000 --years 10      # a tenth of it

The programme is drawn by :func:`factlab.synth.programme.synth_programme`, scaled to about
``rows`` delivered registration rows over ``years`` years (about 20 rows per client at the
start over ten years), then written as one pseudonymised delivery per provider and year (random
first-stage pseudonyms per client: synthetic, no BSN involved; the benchmark's public key
``bytes(range(32))``); the rows of every 33rd client come without a valid BSN (no pseudonym,
status ``missing``: about 3 % of the rows, which the partitions by client spread by row). Each
year is added to the store by ``append_to_store`` with the key (the
second stage included), in its own process, so the figures show what adding one year costs when
the store already holds the earlier ones: it reads none of them. Peak memory is the child's
``ru_maxrss`` (``os.wait4``); the parent draws nothing itself, since Linux keeps a process's
peak across fork and exec. The analyses read the store in partitions by client (their default:
one per 5 million rows; ``--partitions`` sets it); each step records its partitions, CPU
seconds, peak memory and the load average when it ended (other work on the machine inflates wall
times, not CPU seconds or memory). Results go to ``results-monitor.json``, one entry per size
(``rows_<rows>``), so runs of other sizes are kept.
"""

from __future__ import annotations

import argparse
import binascii
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROWS_PER_CLIENT = 20.0  # delivered rows per starting client over ten years (measured)
NO_BSN_EVERY = 33  # the rows of every 33rd client come without a valid BSN (about 3 %)


def _key() -> Any:
    from factlab.keys.round_keys import Key

    return Key(
        kind="round",
        round="bench-2016-2025",
        key_id="bench",
        created="2026-01-01T00:00:00+00:00",
        _secret=bytes(range(32)),
    )


def prepare(folder: Path, rows: int, years: int, providers: int, seed: int) -> dict[str, Any]:
    """Write one delivery per provider and year; returns what was made."""
    import numpy as np
    import polars as pl

    from factlab import schema
    from factlab.io import write_parquet
    from factlab.manifest import Manifest
    from factlab.synth.programme import ProgrammeConfig, programme_deliveries, synth_programme

    first = 2025 - years + 1
    clients = max(int(rows / ROWS_PER_CLIENT * 10 / years), 100)
    started = time.perf_counter()
    truth = synth_programme(
        ProgrammeConfig(first_year=first, last_year=2025, clients=clients, providers=providers),
        seed=seed,
    )
    # a random first-stage pseudonym per client, made for all clients at once
    count = int(truth.episodes["client"].max()) + 1
    hexed = binascii.hexlify(np.random.default_rng(seed).bytes(16 * count))
    pseudonyms = pl.Series(np.frombuffer(hexed, dtype="S32")).cast(pl.String)
    episodes = truth.episodes.with_columns(
        pseudonyms.gather(pl.Series(truth.episodes["client"])).alias(schema.PSEUDONYM)
    )
    key = _key()
    written: dict[str, list[str]] = {}
    total = without_bsn = 0
    # made once: per year it would hold a second copy of every client's pseudonym. The rows of
    # every 33rd client (about 3 %) come without a valid BSN: no pseudonym, status "missing"
    # (rows the partitions by client spread by their row number, not by a client)
    no_bsn = (pl.col("client") % NO_BSN_EVERY) == 0
    pseudonym_of = episodes.select(
        "bsn",
        pl.when(no_bsn).then(None).otherwise(pl.col(schema.PSEUDONYM)).alias(schema.PSEUDONYM),
        pl.when(no_bsn)
        .then(pl.lit("missing"))
        .otherwise(pl.lit("valid"))
        .cast(schema.STATUS_DTYPE)
        .alias(schema.STATUS),
    ).unique("bsn")
    with_pseudonyms = truth.__class__(episodes, truth.moves, truth.config)
    del truth, pseudonyms, hexed
    for year in range(first, 2026):
        rows_year = (
            programme_deliveries(with_pseudonyms, date(year, 1, 1), date(year, 12, 31))
            .join(pseudonym_of, on="bsn", how="left")
            .drop("bsn")
            .with_columns(
                pl.col(name).cast(schema.TEXT_DTYPE)
                for name in ("provider", "care_form", "financing", "municipality")
            )
        )
        total += rows_year.height
        without_bsn += rows_year.filter(pl.col(schema.STATUS) != "valid").height
        folder_year = folder / str(year)
        folder_year.mkdir(parents=True, exist_ok=True)
        for (provider,), part in rows_year.group_by(schema.PROVIDER):
            by_status = dict.fromkeys(schema.STATUSES, 0) | {
                str(status): count for status, count in part.group_by(schema.STATUS).len().rows()
            }
            path = folder_year / f"{provider}.parquet"
            manifest = Manifest(
                format=schema.FORMAT_PSEUDONYMISED,
                scheme=key.scheme,
                round=key.round,
                key_id=key.key_id,
                key_fingerprint=key.fingerprint,
                rows=part.height,
                rows_by_status=by_status,
                provider=str(provider),
                extra={"period": str(year)},
            )
            write_parquet(part, path, manifest)
            written.setdefault(str(year), []).append(str(path))
    return {
        "clients_at_start": clients,
        "episodes": episodes.height,
        "rows_delivered": total,
        "rows_without_valid_bsn": without_bsn,
        "files": {year: len(paths) for year, paths in written.items()},
        "prepare_seconds": round(time.perf_counter() - started, 1),
    }


def step(name: str, folder: Path, year: str | None, partitions: int | None) -> dict[str, Any]:
    """One step, in this (fresh) process: its measured seconds."""
    from factlab.monitor.durations import durations
    from factlab.monitor.series import programme_periods, series
    from factlab.monitor.store import append_to_store
    from factlab.monitor.transitions import transitions

    store = folder / "store"
    years = sorted(path.name for path in folder.iterdir() if path.name.isdigit())
    periods = programme_periods(years[0], years[-1])
    started = time.perf_counter()
    if name == "add":
        files = sorted((folder / str(year)).glob("*.parquet"))
        opened = append_to_store(store, files, key=_key())
        detail: dict[str, Any] = {"rows": opened.parts[-1]["rows"], "files": len(files)}
    elif name == "series":
        table = series(store, periods, by=("provider",), partitions=partitions).table
        detail = {"table_rows": table.height, "totals": _totals(table)}
    elif name == "transitions":
        result = transitions(store, periods[-2], periods[-1], by="financing", partitions=partitions)
        detail = {"summary": dict(result.summary), "cells": result.matrix.height}
    elif name == "durations":
        table = durations(store, periods, by=("care_form", "provider"), partitions=partitions).table
        detail = {"table_rows": table.height, "total": table.row(0, named=True)}
    else:
        raise SystemExit(f"unknown step {name}")
    if name != "add":
        from factlab.monitor._source import partition_count
        from factlab.monitor.store import open_store

        detail["partitions"] = partition_count(open_store(store), partitions, where=name)
    return {"seconds": round(time.perf_counter() - started, 2), **detail}


def _totals(table: Any) -> dict[str, list[int]]:
    """The series' totals per year: a check that runs of one size gave the same figures."""
    import polars as pl

    totals = table.filter(pl.col("dimension") == "total")
    return {
        name: totals.get_column(name).to_list()
        for name in (
            "unique_clients",
            "registrations",
            "rows_without_valid_bsn",
            "trajectories",
            "clients_several_providers",
        )
    }


def run_child(arguments: list[str]) -> dict[str, Any]:
    """Run a step in a fresh process; its result with peak memory and CPU time."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        process = subprocess.Popen([sys.executable, __file__, *arguments, "--result", result.name])
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            raise SystemExit(f"step {arguments} failed ({status})")
        measured: dict[str, Any] = json.loads(Path(result.name).read_text())
    measured["peak_rss_gib"] = round(usage.ru_maxrss / 2**20, 2)
    measured["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    measured["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--providers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "factlab-monitor"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results-monitor.json")
    parser.add_argument(
        "--partitions", type=int, help="partitions by client (default: chosen by size)"
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--year", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "prepare":
        made = prepare(args.folder, args.rows, args.years, args.providers, args.seed)
        args.result.write_text(json.dumps(made))
        return
    if args.step:
        args.result.write_text(json.dumps(step(args.step, args.folder, args.year, args.partitions)))
        return
    folder = args.data / f"rows{args.rows}-years{args.years}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    record: dict[str, Any] = {
        "rows_target": args.rows,
        "years": args.years,
        "providers": args.providers,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    # drawn in a child of its own: Linux keeps a process's peak memory across fork and exec, so a
    # parent that held the drawn programme would lend its peak to every step it starts
    record["data"] = run_child(
        [
            "--step",
            "prepare",
            "--folder",
            str(folder),
            "--rows",
            str(args.rows),
            "--years",
            str(args.years),
            "--providers",
            str(args.providers),
            "--seed",
            str(args.seed),
        ]
    )
    print(json.dumps(record["data"]), flush=True)
    record["add"] = {}
    for year in sorted(record["data"]["files"]):
        measured = run_child(["--step", "add", "--year", year, "--folder", str(folder)])
        record["add"][year] = measured
        print(year, json.dumps(measured), flush=True)
    chosen = [] if args.partitions is None else ["--partitions", str(args.partitions)]
    for name in ("series", "transitions", "durations"):
        record[name] = run_child(["--step", name, "--folder", str(folder), *chosen])
        print(name, json.dumps(record[name]), flush=True)
    record["store_bytes"] = sum(path.stat().st_size for path in (folder / "store").rglob("*"))
    record["load_average_at_end"] = os.getloadavg()
    # one entry per size: a run replaces the earlier run of its size and keeps the others
    runs = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if "rows_target" in runs:  # the single-run layout of the first results
        runs = {}
    runs[f"rows_{args.rows}"] = record
    args.out.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
