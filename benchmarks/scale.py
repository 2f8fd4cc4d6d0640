"""Memory at scale: link and count k × 10^7 rows, built from the 10^7 data without drawing anew.

Usage::

    python benchmarks/scale.py --copies 3            # 3 × 10^7 rows

Drawing 10^8 synthetic rows does not fit this machine (the generator holds every row), so this
step makes ``copies`` copies of every pseudonymised provider file of the 10^7 data, each copy
with its own provider codes and its own clients (the first hex character of every pseudonym
is replaced by the copy's number, so copies share no client), streamed from Parquet to Parquet.
Then it links them and counts them, each in a fresh process, and records time and peak memory
in ``results-scale.json``. The figures themselves are not checked here (``run.py`` does that).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import run


def build(data: Path, copies: int) -> Path:
    """The folder with ``copies`` × the 10^7 provider files and their linked file."""
    import polars as pl

    from factlab import schema
    from factlab.analysis.link import link
    from factlab.io import write_parquet
    from factlab.manifest import read_manifest

    source = common.folder(data, 10_000_000)
    if not (source / "ready.json").is_file():
        raise SystemExit("make the 10^7 data first: python benchmarks/run.py --sizes 10000000")
    common.prepare(data, 10_000_000)  # brings the 10^7 files up to date, if they are not
    here = data / f"scale{copies}"
    ready = here / "ready.json"
    if ready.is_file():
        made = json.loads(ready.read_text())
        if made.get("factlab_files") == common.FACTLAB_FILES:
            return here
    (here / "pseudonymised").mkdir(parents=True, exist_ok=True)
    files = []
    for path in sorted((source / "pseudonymised").glob("*.parquet")):
        manifest = read_manifest(path)
        for copy in range(copies):
            provider = f"C{copy}{manifest.provider}"
            pseudonym = pl.col(schema.PSEUDONYM)
            rows = pl.scan_parquet(path).with_columns(
                pl.lit(provider, dtype=schema.TEXT_DTYPE).alias(schema.PROVIDER),
                pl.when(pseudonym.is_not_null())
                .then(pl.lit(f"{copy:x}") + pseudonym.str.slice(1))
                .alias(schema.PSEUDONYM),
            )
            target = here / "pseudonymised" / f"{provider}.parquet"
            target.unlink(missing_ok=True)
            write_parquet(rows, target, replace(manifest, provider=provider))
            files.append(target)
    (here / "linked.parquet").unlink(missing_ok=True)
    link(files, here / "linked.parquet", key=common.bench_key())
    made = {"copies": copies, "files": len(files), "factlab_files": common.FACTLAB_FILES}
    ready.write_text(json.dumps(made))
    return here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "factlab-bench")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results-scale.json")
    args = parser.parse_args()
    here = build(args.data, args.copies)
    rows = read_rows(here)
    results = {
        name: run.measure(name, here, 1, 3600)
        for name in ("factlab.link", "factlab.count.cells", "factlab.overlap", "factlab.analyse")
    }
    document = {
        "machine": run.machine(),
        "rows": rows,
        "copies_of_10m": args.copies,
        "steps": results,
        "peak_rss_bytes_per_row": {
            name: round(entry["peak_rss_mib"] * 2**20 / rows)
            for name, entry in results.items()
            if "peak_rss_mib" in entry
        },
    }
    args.out.write_text(run.to_json(document))
    print(json.dumps(document["steps"], indent=2, default=str))


def read_rows(here: Path) -> int:
    from factlab.manifest import read_manifest

    return read_manifest(here / "linked.parquet").rows


if __name__ == "__main__":
    main()
