"""One measured step, run in a fresh process: ``python steps.py STEP FOLDER``.

Prints one JSON line: ``seconds`` (the measured work, after imports and loading inputs that are
not part of it) and ``figures`` (results, so that implementations can be checked against each
other). The parent reads the process's peak memory and CPU time from ``os.wait4``.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

Figures = dict[str, Any]
STEPS: dict[str, Callable[[Path], tuple[float, Figures]]] = {}


def step(name: str) -> Callable[[Callable[[Path], tuple[float, Figures]]], Any]:
    def register(func: Callable[[Path], tuple[float, Figures]]) -> Any:
        STEPS[name] = func
        return func

    return register


def _outdir(here: Path, name: str) -> Path:
    out = here / "out" / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


def _pseudonym_figures(statuses: dict[str, int], pseudonyms: Any) -> Figures:
    return {"rows_by_status": statuses, "distinct_pseudonyms": pseudonyms[0], "min": pseudonyms[1]}


# --- factlab ----------------------------------------------------------------------------------


@step("factlab.pseudonymise.api")
def factlab_pseudonymise_api(here: Path) -> tuple[float, Figures]:
    import polars as pl

    from factlab.steward.pseudonymise import pseudonymise

    frame = pl.read_parquet(here / "bsn.parquet")
    key = common.bench_key().provider_key()
    started = time.perf_counter()
    out = pseudonymise(frame, key, provider="ALL")
    seconds = time.perf_counter() - started
    counts = out["bsn_status"].cast(pl.String).value_counts()
    statuses = dict(zip(counts["bsn_status"], counts["count"], strict=True))
    pseudonyms = out["pseudonym"]
    return seconds, _pseudonym_figures(statuses, (pseudonyms.n_unique() - 1, pseudonyms.min()))


@step("factlab.pseudonymise.cli")
def factlab_pseudonymise_cli(here: Path) -> tuple[float, Figures]:
    from factlab.cli import main
    from factlab.manifest import read_manifest

    out = _outdir(here, "factlab-cli") / "all.parquet"
    arguments = ["pseudonymise", str(here / "all.csv"), "--key", str(here / "round.key")]
    arguments += ["--provider", "ALL", "--out", str(out), "--audit-log", str(out) + ".log"]
    started = time.perf_counter()
    main(arguments, standalone_mode=False)
    seconds = time.perf_counter() - started
    manifest = read_manifest(out)
    return seconds, {"rows_by_status": manifest.rows_by_status}


def _linked_inputs(here: Path) -> list[Path]:
    return sorted((here / "pseudonymised").glob("*.parquet"))


@step("factlab.link")
def factlab_link(here: Path) -> tuple[float, Figures]:
    from factlab.analysis.link import link

    out = _outdir(here, "factlab-link") / "linked.parquet"
    started = time.perf_counter()
    manifest = link(_linked_inputs(here), out, key=common.bench_key())
    return time.perf_counter() - started, {"rows": manifest.rows}


def _factlab_count(here: Path, dims: tuple[str, ...]) -> Figures:
    from factlab.analysis.counts import count

    return _count_figures(count(here / "linked.parquet", by=dims, period=common.PERIOD), dims)


def _count_figures(result: Any, dims: tuple[str, ...]) -> Figures:
    return {
        "unique_clients": result.unique_clients,
        "registrations": result.registrations,
        "trajectories": result.trajectories,
        "sum_of_cells": result.sum_of_cells if dims else None,
        "table_rows": result.table.height,
        "clients_by_provider_count": {
            str(k): v for k, v in sorted(result.clients_by_provider_count.items())
        },
    }


def _factlab_overlap(here: Path) -> Figures:

    from factlab.analysis.overlap import overlap

    return _overlap_figures(overlap(here / "linked.parquet", period=common.parse_period()))


def _overlap_figures(result: Any) -> Figures:
    import polars as pl

    matrix = result.matrix
    diagonal = matrix.filter(pl.col("provider_a") == pl.col("provider_b"))
    on_diagonal = int(diagonal["shared_clients"].sum())
    return {
        "diagonal_sum": on_diagonal,
        "off_diagonal_sum": int(matrix["shared_clients"].sum()) - on_diagonal,
        "providers": diagonal.height,
    }


@step("factlab.count.unique")
def factlab_count_unique(here: Path) -> tuple[float, Figures]:
    started = time.perf_counter()
    figures = _factlab_count(here, ())
    return time.perf_counter() - started, figures


@step("factlab.count.cells")
def factlab_count_cells(here: Path) -> tuple[float, Figures]:
    started = time.perf_counter()
    figures = _factlab_count(here, common.DIMENSIONS)
    return time.perf_counter() - started, figures


@step("factlab.overlap")
def factlab_overlap(here: Path) -> tuple[float, Figures]:
    started = time.perf_counter()
    figures = _factlab_overlap(here)
    return time.perf_counter() - started, figures


@step("factlab.analyse")
def factlab_analyse(here: Path) -> tuple[float, Figures]:
    """Count and provider overlap together: count() makes the overlap in the same pass."""
    from factlab.analysis.counts import count

    started = time.perf_counter()
    result = count(here / "linked.parquet", by=common.DIMENSIONS, period=common.PERIOD)
    seconds = time.perf_counter() - started
    assert result.overlap is not None
    return seconds, _count_figures(result, common.DIMENSIONS) | _overlap_figures(result.overlap)


@step("factlab.e2e")
def factlab_e2e(here: Path) -> tuple[float, Figures]:
    from factlab.analysis.counts import count
    from factlab.analysis.link import link
    from factlab.steward.pseudonymise import pseudonymise_file

    out = _outdir(here, "factlab-e2e")
    key = common.bench_key()
    started = time.perf_counter()
    files = []
    for export in common.export_forms(here):
        target = out / f"{export['provider']}.parquet"
        pseudonymise_file(
            export["path"],
            key.provider_key(),
            provider=export["provider"],
            out=target,
            allow_no_valid_bsn=True,  # the realistic mess has a provider without BSNs
        )
        files.append(target)
    link(files, out / "linked.parquet", key=key)
    # count() makes the provider overlap in the same pass (counted.overlap).
    counted = count(out / "linked.parquet", by=common.DIMENSIONS, period=common.PERIOD)
    seconds = time.perf_counter() - started
    return seconds, {"unique_clients": counted.unique_clients}


# --- pandas -----------------------------------------------------------------------------------


@step("pandas.pseudonymise.api")
def pandas_pseudonymise_api(here: Path) -> tuple[float, Figures]:
    import alt_pandas
    import pandas as pd

    written = pd.read_parquet(here / "bsn.parquet")["bsn"]
    started = time.perf_counter()
    out = alt_pandas.pseudonymise_series(written, common.hmac_key_hex(1))
    seconds = time.perf_counter() - started
    statuses = {str(k): int(v) for k, v in out["bsn_status"].value_counts().items() if v}
    pseudonyms = out["pseudonym"].dropna()
    return seconds, _pseudonym_figures(statuses, (pseudonyms.nunique(), pseudonyms.min()))


@step("pandas.pseudonymise.file")
def pandas_pseudonymise_file(here: Path) -> tuple[float, Figures]:
    import alt_pandas

    from factlab.synth.write import COLUMN_NAMES, ExportForm

    out = _outdir(here, "pandas-file") / "all.parquet"
    started = time.perf_counter()
    rows = alt_pandas.pseudonymise_file(
        here / "all.csv",
        ExportForm(),
        dict(COLUMN_NAMES["canonical"]),
        "ALL",
        common.hmac_key_hex(1),
        out,
    )
    return time.perf_counter() - started, {"rows": rows}


@step("pandas.link")
def pandas_link(here: Path) -> tuple[float, Figures]:
    import alt_pandas

    out = _outdir(here, "pandas-link") / "linked.parquet"
    started = time.perf_counter()
    rows = alt_pandas.link(_linked_inputs(here), out, common.hmac_key_hex(2))
    return time.perf_counter() - started, {"rows": rows}


def _pandas_rows(here: Path) -> Any:
    import alt_pandas

    return alt_pandas.load(here / "linked.parquet", (common.PERIOD_START, common.PERIOD_END))


@step("pandas.e2e")
def pandas_e2e(here: Path) -> tuple[float, Figures]:
    import alt_pandas

    out = _outdir(here, "pandas-e2e")
    started = time.perf_counter()
    files = []
    for export in common.export_forms(here):
        target = out / f"{export['provider']}.parquet"
        alt_pandas.pseudonymise_file(
            export["path"],
            export["form"],
            export["names"],
            export["provider"],
            common.hmac_key_hex(1),
            target,
        )
        files.append(target)
    alt_pandas.link(files, out / "linked.parquet", common.hmac_key_hex(2))
    rows = alt_pandas.load(out / "linked.parquet", (common.PERIOD_START, common.PERIOD_END))
    figures = alt_pandas.count(rows, common.DIMENSIONS)
    alt_pandas.overlap(rows)
    return time.perf_counter() - started, {"unique_clients": figures["unique_clients"]}


# --- DuckDB -----------------------------------------------------------------------------------


@step("duckdb.pseudonymise.api")
def duckdb_pseudonymise_api(here: Path) -> tuple[float, Figures]:
    import alt_duckdb
    import pyarrow.parquet as pq

    con = alt_duckdb.connect()
    written = pq.read_table(here / "bsn.parquet")
    con.register("written", written)
    query = alt_duckdb.pseudonymise_relation(con, "written", common.hmac_key_hex(1))
    started = time.perf_counter()
    out = con.sql(query).fetch_arrow_table()
    seconds = time.perf_counter() - started
    con.register("out", out)
    statuses = dict(con.sql("SELECT bsn_status, count(*) FROM out GROUP BY ALL").fetchall())
    pseudonyms = con.sql("SELECT count(DISTINCT pseudonym), min(pseudonym) FROM out").fetchall()[0]
    return seconds, _pseudonym_figures(statuses, pseudonyms)


@step("duckdb.pseudonymise.file")
def duckdb_pseudonymise_file(here: Path) -> tuple[float, Figures]:
    import alt_duckdb

    from factlab.synth.write import COLUMN_NAMES, ExportForm

    con = alt_duckdb.connect()
    out = _outdir(here, "duckdb-file") / "all.parquet"
    started = time.perf_counter()
    alt_duckdb.pseudonymise_file(
        con,
        here / "all.csv",
        ExportForm(),
        dict(COLUMN_NAMES["canonical"]),
        "ALL",
        common.hmac_key_hex(1),
        out,
    )
    seconds = time.perf_counter() - started
    return seconds, {"rows": con.sql(f"SELECT count(*) FROM '{out}'").fetchall()[0][0]}


@step("duckdb.link")
def duckdb_link(here: Path) -> tuple[float, Figures]:
    import alt_duckdb

    con = alt_duckdb.connect()
    out = _outdir(here, "duckdb-link") / "linked.parquet"
    started = time.perf_counter()
    alt_duckdb.link(con, _linked_inputs(here), out, common.hmac_key_hex(2))
    seconds = time.perf_counter() - started
    return seconds, {"rows": con.sql(f"SELECT count(*) FROM '{out}'").fetchall()[0][0]}


def _duckdb_rows(here: Path) -> Any:
    import alt_duckdb

    con = alt_duckdb.connect()
    alt_duckdb.load(con, here / "linked.parquet", (common.PERIOD_START, common.PERIOD_END))
    return con


def _analyses(implementation: str, rows: Callable[[Path], Any]) -> None:
    """Register count.unique, count.cells, overlap and analyse of an alternative.

    Both alternatives' modules (``alt_pandas``, ``alt_duckdb``) have ``count(rows, dims)`` and
    ``overlap(rows)``; ``rows`` loads the linked rows of a folder, inside the timed work.
    """
    works: dict[str, Callable[[Any, Any], Figures]] = {
        "count.unique": lambda alt, loaded: alt.count(loaded, ()),
        "count.cells": lambda alt, loaded: alt.count(loaded, common.DIMENSIONS),
        "overlap": lambda alt, loaded: alt.overlap(loaded),
        "analyse": lambda alt, loaded: alt.count(loaded, common.DIMENSIONS) | alt.overlap(loaded),
    }
    for work, compute in works.items():

        def measured(
            here: Path, compute: Callable[[Any, Any], Figures] = compute
        ) -> tuple[float, Figures]:
            alt = importlib.import_module(f"alt_{implementation}")
            started = time.perf_counter()
            figures = compute(alt, rows(here))
            return time.perf_counter() - started, figures

        STEPS[f"{implementation}.{work}"] = measured


_analyses("pandas", _pandas_rows)
_analyses("duckdb", _duckdb_rows)


@step("duckdb.e2e")
def duckdb_e2e(here: Path) -> tuple[float, Figures]:
    import alt_duckdb

    out = _outdir(here, "duckdb-e2e")
    con = alt_duckdb.connect()
    started = time.perf_counter()
    files = []
    for export in common.export_forms(here):
        target = out / f"{export['provider']}.parquet"
        alt_duckdb.pseudonymise_file(
            con,
            export["path"],
            export["form"],
            export["names"],
            export["provider"],
            common.hmac_key_hex(1),
            target,
        )
        files.append(target)
    alt_duckdb.link(con, files, out / "linked.parquet", common.hmac_key_hex(2))
    alt_duckdb.load(con, out / "linked.parquet", (common.PERIOD_START, common.PERIOD_END))
    figures = alt_duckdb.count(con, common.DIMENSIONS)
    alt_duckdb.overlap(con)
    return time.perf_counter() - started, {"unique_clients": figures["unique_clients"]}


#: What each kind of step reads (the step's name without the implementation).
_INPUTS: dict[str, str] = {
    "pseudonymise.api": "bsn.parquet",
    "pseudonymise.cli": "all.csv",
    "pseudonymise.file": "all.csv",
    "link": "pseudonymised",
    "e2e": "exports",
}
_WARM_CHUNK = 1 << 23


def warm(here: Path, name: str) -> None:
    """Read the step's input files once, untimed, into the page cache.

    A file just exported or just delivered is in the page cache; one that an earlier step pushed
    out (pandas at 10^7 rows holds several GB) would be read from disk by whichever
    implementation comes first, which favours the ones after it.
    """
    target = here / _INPUTS.get(name.split(".", 1)[1], "linked.parquet")
    files = sorted(target.iterdir()) if target.is_dir() else [target]
    buffer = bytearray(_WARM_CHUNK)
    for path in files:
        with path.open("rb", buffering=0) as handle:
            while handle.readinto(buffer):
                pass


def main() -> None:
    name, here = sys.argv[1], Path(sys.argv[2])
    warm(here, name)
    seconds, figures = STEPS[name](here)
    print(json.dumps({"seconds": seconds, "figures": figures}, default=str))


if __name__ == "__main__":
    main()
