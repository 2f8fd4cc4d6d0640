"""factlab side by side with pandas + hashlib, DuckDB SQL and the OpenSSL HMAC bound.

Usage::

    /work/venv/bin/python benchmarks/run.py --quick          # 10^5 and 10^6 rows (pandas at 10^5)
    /work/venv/bin/python benchmarks/run.py                  # 10^5, 10^6 and 10^7 rows
    /work/venv/bin/python benchmarks/run.py --sizes 1000000 --steps 'factlab.*'

Each measured step runs in a fresh process (``steps.py``); its peak resident memory and CPU time
come from ``os.wait4``. Every step is repeated and the best and median times are kept: the
machine may be shared, and the best run is the one least disturbed. Results go to a JSON file and
a Markdown table beside it. No network is used.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

IMPLEMENTATIONS = ("factlab", "duckdb", "pandas")
#: Steps per implementation, in the order they run; the second part names the work.
WORK = (
    "pseudonymise.api",
    "pseudonymise.file",
    "link",
    "count.unique",
    "count.cells",
    "overlap",
    "analyse",
    "e2e",
)
#: factlab's name for the file step is the CLI.
FACTLAB_NAMES = {"pseudonymise.file": "pseudonymise.cli"}
CELL_FIGURES = (
    "unique_clients",
    "registrations",
    "trajectories",
    "sum_of_cells",
    "table_rows",
    "clients_by_provider_count",
)
OVERLAP_FIGURES = ("diagonal_sum", "off_diagonal_sum", "providers")
#: Figures that must agree between implementations, per work.
CHECKED = {
    "pseudonymise.api": ("rows_by_status", "distinct_pseudonyms", "min"),
    "count.unique": (
        "unique_clients",
        "registrations",
        "trajectories",
        "clients_by_provider_count",
    ),
    "count.cells": CELL_FIGURES,
    "overlap": OVERLAP_FIGURES,
    "analyse": CELL_FIGURES + OVERLAP_FIGURES,
    "e2e": ("unique_clients",),
}
TARGETS = {
    "pseudonymise_api_rows_per_second": 5_000_000,
    "pseudonymise_cli_rows_per_second": 1_500_000,
    "link_count_overlap_seconds_at_10m": 10.0,
}


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to 4 decimals: timings need no more, and long runs of
    digits in a results file only look like identifiers to a scanner."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item) for item in value]
    return value


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(rounded(document), indent=2, default=str) + "\n"


def step_name(implementation: str, work: str) -> str:
    if implementation == "factlab":
        work = FACTLAB_NAMES.get(work, work)
    return f"{implementation}.{work}"


def machine() -> dict[str, Any]:
    """CPU, cores, memory, load and versions of everything measured."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        total_kib = int(handle.readline().split()[1])
    versions = {"python": platform.python_version()}
    for package in ("factlab", "polars", "polars-hash", "duckdb", "pandas", "numpy", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False)
    versions["openssl"] = openssl.stdout.strip()
    import factlab

    code = Path(factlab.__file__).parent
    revision = code.parent / "REVISION"  # written beside a snapshot of the code, if any
    return {
        "factlab_code": str(code),
        "factlab_revision": revision.read_text().split()[0] if revision.is_file() else None,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 2**20, 1),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "load_average_at_start": os.getloadavg(),
    }


def openssl_hmac(seconds: int) -> dict[str, Any]:
    """HMAC-SHA-256 operations per second on 16-byte messages, one core and all cores.

    ``openssl speed -multi`` falls back to HMAC-MD5 here, so "all cores" runs one ``openssl
    speed`` per core at the same time and adds their rates.
    """
    command = ["openssl", "speed", "-seconds", str(seconds), "-hmac", "sha256"]

    def parse(text: str) -> float | None:
        for line in text.splitlines():
            if line.startswith("hmac(sha256)"):
                return float(line.split()[1].rstrip("k")) * 1000 / 16
        return None

    def together(count: int) -> float | None:
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for _ in range(count)
        ]
        rates = [parse(process.communicate()[0]) for process in processes]
        return None if None in rates else sum(rate for rate in rates if rate is not None)

    single = max((rate for rate in (together(1), together(1)) if rate), default=None)
    cores = os.cpu_count() or 1
    return {
        "hmac_per_second_one_core": single,
        "hmac_per_second_all_cores": together(cores) if cores > 1 else single,
        "message_bytes": 16,
        "note": "openssl speed -hmac sha256, 16-byte column (a 9-byte BSN also takes one block); "
        "all cores: one openssl process per core at once",
    }


def run_measured(name: str, here: Path, timeout: float) -> dict[str, Any]:
    """Run one step in a fresh process and read its rusage with wait4."""
    command = [sys.executable, str(HERE / "steps.py"), name, str(here)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                return {"error": f"timed out after {timeout:.0f} s"}
            time.sleep(0.02)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        tail = stderr.strip().splitlines()[-3:]
        return {"error": f"exit {process.returncode}: {' | '.join(tail)}"}
    reported = json.loads(stdout.strip().splitlines()[-1])
    return {
        "seconds": reported["seconds"],
        "process_seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "figures": reported["figures"],
    }


def measure(name: str, here: Path, repeats: int, timeout: float) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        run = run_measured(name, here, timeout)
        if "error" in run:
            return {"error": run["error"], "runs": len(runs)}
        runs.append(run)
    seconds = [run["seconds"] for run in runs]
    best = min(runs, key=lambda run: run["seconds"])
    return {
        "best_seconds": round(best["seconds"], 4),
        "median_seconds": round(statistics.median(seconds), 4),
        "all_seconds": [round(value, 4) for value in seconds],
        "process_seconds": round(best["process_seconds"], 3),
        "cpu_seconds": round(best["cpu_seconds"], 3),
        "peak_rss_mib": round(max(run["peak_rss_mib"] for run in runs), 1),
        "figures": runs[-1]["figures"],
    }


def cross_check(results: dict[str, Any]) -> dict[str, Any]:
    """Whether the implementations' figures agree, per work."""
    checks: dict[str, Any] = {}
    for work, fields in CHECKED.items():
        seen = {}
        for implementation in IMPLEMENTATIONS:
            entry = results.get(step_name(implementation, work), {})
            if "figures" in entry:
                seen[implementation] = {field: entry["figures"].get(field) for field in fields}
        if len(seen) > 1:
            values = list(seen.values())
            agree = all(value == values[0] for value in values[1:])
            checks[work] = {"agree": agree} | ({} if agree else {"figures": seen})
    return checks


def summarise(rows: int, results: dict[str, Any], bound: dict[str, Any]) -> dict[str, Any]:
    """Rows per second, ratios to factlab and to the HMAC bound, and the targets."""
    summary: dict[str, Any] = {}
    for work in WORK:
        ours = results.get(step_name("factlab", work), {}).get("best_seconds")
        for implementation in IMPLEMENTATIONS:
            entry = results.get(step_name(implementation, work), {})
            if "best_seconds" not in entry:
                continue
            line = {
                "rows_per_second": round(rows / entry["best_seconds"]),
                "seconds": entry["best_seconds"],
                "peak_rss_mib": entry["peak_rss_mib"],
            }
            if ours:
                line["time_vs_factlab"] = round(entry["best_seconds"] / ours, 2)
            summary[step_name(implementation, work)] = line
    api = summary.get("factlab.pseudonymise.api")
    cores = bound.get("hmac_per_second_all_cores")
    if api and cores:
        api["share_of_openssl_hmac_rate"] = round(api["rows_per_second"] / cores, 2)
    return summary


def targets(by_size: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Each target, at the largest size measured: value, target, met, and the shortfall."""
    largest = max(by_size)
    results = by_size[largest]["steps"]
    out: dict[str, Any] = {"at_rows": largest}

    def rate(name: str) -> float | None:
        seconds = results.get(name, {}).get("best_seconds")
        return largest / seconds if seconds else None

    for name, key in (
        ("factlab.pseudonymise.api", "pseudonymise_api_rows_per_second"),
        ("factlab.pseudonymise.cli", "pseudonymise_cli_rows_per_second"),
    ):
        value = rate(name)
        if value is not None:
            goal = TARGETS[key]
            out[key] = {
                "value": round(value),
                "target": goal,
                "met": value >= goal,
                "shortfall": None if value >= goal else f"{(1 - value / goal) * 100:.0f}% slower",
            }
    seconds = {
        implementation: [
            results.get(step_name(implementation, work), {}).get("best_seconds")
            for work in ("link", "analyse")
        ]
        for implementation in ("factlab", "duckdb")
    }
    if all(value is not None for value in seconds["factlab"]):
        ours = sum(seconds["factlab"])
        theirs = (
            sum(seconds["duckdb"])
            if all(value is not None for value in seconds["duckdb"])
            else None
        )
        goal = TARGETS["link_count_overlap_seconds_at_10m"] * largest / 10_000_000
        out["link_count_overlap_seconds"] = {
            "value": round(ours, 2),
            "target": round(goal, 2),
            "duckdb_same_figures": None if theirs is None else round(theirs, 2),
            "met": ours <= goal and (theirs is None or ours <= theirs),
            "scaled_from_10m": largest != 10_000_000,
        }
    return out


def markdown(document: dict[str, Any]) -> str:
    """The results as a Markdown table per size."""
    lines = []
    info = document["machine"]
    lines.append(
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    )
    bound = document["openssl"]
    lines.append(
        f"OpenSSL HMAC-SHA-256 (16-byte messages): {bound['hmac_per_second_one_core']:,.0f}/s on "
        f"one core, {bound['hmac_per_second_all_cores']:,.0f}/s on all cores"
    )
    for rows, entry in document["sizes"].items():
        lines += ["", f"### {int(rows):,} rows", ""]
        lines.append(
            "| work | factlab s | DuckDB s | pandas s | factlab rows/s | DuckDB ÷ factlab "
            "| pandas ÷ factlab | factlab peak MiB | DuckDB peak MiB | pandas peak MiB |"
        )
        lines.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        steps = entry["steps"]
        for work in WORK:
            cells = [steps.get(step_name(name, work), {}) for name in IMPLEMENTATIONS]

            def seconds(cell: dict[str, Any]) -> str:
                if "error" in cell:
                    return "error"
                return f"{cell['best_seconds']:.2f}" if "best_seconds" in cell else "–"

            def ratio(cell: dict[str, Any], ours: dict[str, Any] = cells[0]) -> str:
                if "best_seconds" in cell and "best_seconds" in ours:
                    return f"{cell['best_seconds'] / ours['best_seconds']:.1f}×"
                return "–"

            def memory(cell: dict[str, Any]) -> str:
                return f"{cell['peak_rss_mib']:.0f}" if "peak_rss_mib" in cell else "–"

            rate = (
                f"{int(rows) / cells[0]['best_seconds'] / 1e6:.2f} M"
                if "best_seconds" in cells[0]
                else "–"
            )
            lines.append(
                f"| {work} | {' | '.join(seconds(cell) for cell in cells)} | {rate} | "
                f"{ratio(cells[1])} | {ratio(cells[2])} | "
                f"{' | '.join(memory(cell) for cell in cells)} |"
            )
        checks = entry.get("cross_check", {})
        if checks:
            agreed = ", ".join(
                f"{work}: {'agree' if check['agree'] else 'DIFFER'}"
                for work, check in checks.items()
            )
            lines += ["", f"Figures compared between implementations: {agreed}."]
    lines += ["", *targets_table(document.get("targets", {}))]
    return "\n".join(lines) + "\n"


def targets_table(found: dict[str, Any]) -> list[str]:
    """The targets of issue 7 as a Markdown table."""
    if not found:
        return []
    lines = [
        f"Targets at {found['at_rows']:,} rows:",
        "",
        "| target | measured | goal | met | shortfall |",
        "|---|--:|--:|---|---|",
    ]
    for key, label in (
        ("pseudonymise_api_rows_per_second", "pseudonymise in memory, rows/s"),
        ("pseudonymise_cli_rows_per_second", "CLI CSV → Parquet, rows/s"),
    ):
        if key in found:
            entry = found[key]
            lines.append(
                f"| {label} | {entry['value'] / 1e6:.2f} M | {entry['target'] / 1e6:.1f} M | "
                f"{'yes' if entry['met'] else 'no'} | {entry['shortfall'] or '–'} |"
            )
    entry = found.get("link_count_overlap_seconds")
    if entry:
        duckdb = entry["duckdb_same_figures"]
        slower = entry["value"] / entry["target"]
        lines.append(
            f"| link + count + overlap, s (DuckDB: {duckdb} s) | {entry['value']} | "
            f"{entry['target']} and ≤ DuckDB | {'yes' if entry['met'] else 'no'} | "
            f"{'–' if entry['met'] else f'{slower:.1f}× the goal'}"
            f"{'' if duckdb is None or entry['value'] > duckdb else ', faster than DuckDB'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="10^5 and 10^6 rows, pandas at 10^5 only"
    )
    parser.add_argument("--sizes", type=int, nargs="*", help="row counts to measure")
    parser.add_argument(
        "--repeats", type=int, help="runs per step, the best is kept (default 3; 1 with --quick)"
    )
    parser.add_argument(
        "--steps", default="*", help="globs of step names, comma-separated, e.g. 'factlab.*'"
    )
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "factlab-bench")
    parser.add_argument("--out", type=Path, help="results JSON (default: results[-quick].json)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per step run")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="update the steps measured in an existing results file, keep the others",
    )
    args = parser.parse_args()
    sizes = args.sizes or ([100_000, 1_000_000] if args.quick else [100_000, 1_000_000, 10_000_000])
    out = args.out or HERE / ("results-quick.json" if args.quick else "results.json")
    repeats = args.repeats or (1 if args.quick else 3)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log("machine and OpenSSL bound …")
    document: dict[str, Any] = {
        "machine": machine(),
        "openssl": openssl_hmac(1 if args.quick else 3),
        "repeats": repeats,
        "sizes": {},
    }
    if args.merge and out.is_file():
        earlier = json.loads(out.read_text())
        document["sizes"] = earlier.get("sizes", {})
        document["merged"] = [
            *earlier.get("merged", []),
            {"steps": args.steps, "sizes": sizes, "machine": document["machine"]},
        ]
    for rows in sizes:
        log(f"preparing {rows:,} rows …")
        facts = common.prepare(args.data, rows, log=log)
        here = common.folder(args.data, rows)
        results: dict[str, Any] = dict(document["sizes"].get(str(rows), {}).get("steps", {}))
        for work in WORK:
            for implementation in IMPLEMENTATIONS:
                name = step_name(implementation, work)
                if not any(fnmatch.fnmatch(name, glob) for glob in args.steps.split(",")):
                    continue
                # The quick mode places pandas at the smallest size only: it is the slowest
                # reference by far, and the full run measures it at every size.
                if args.quick and implementation == "pandas" and rows > min(sizes):
                    continue
                # pandas at 10^7 takes minutes a run: once is enough to place it
                runs = 1 if implementation == "pandas" and rows >= 5_000_000 else repeats
                results[name] = measure(name, here, runs, args.timeout)
                shown = results[name].get("best_seconds", results[name].get("error"))
                log(f"  {name:28s} {shown}")
        document["sizes"][str(rows)] = {
            "facts": facts,
            "steps": results,
            "summary": summarise(facts["rows"], results, document["openssl"]),
            "cross_check": cross_check(results),
        }
        # results so far are kept even if a later size fails
        out.write_text(to_json(document))
    document["targets"] = targets({int(rows): entry for rows, entry in document["sizes"].items()})
    document["machine"]["load_average_at_end"] = os.getloadavg()
    out.write_text(to_json(document))
    table = markdown(document)
    out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
