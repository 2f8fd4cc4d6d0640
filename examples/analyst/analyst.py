"""An analyst's session: link, count, estimate and protect from Python, on Polars frames.

Run it with ``python examples/analyst/analyst.py [WORKDIR]``. It builds the synthetic 2014 round,
pseudonymises it as the stewards would, links it with the second stage, and then works on the
linked file as a Polars LazyFrame — the way an analyst at the trusted party would in a notebook.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polars as pl

import factlab
from factlab.synth.round2014 import REFERENCE_DATE_2014, round_2014


def main(workdir: Path) -> dict[str, int]:
    """Run the session in ``workdir``; return the headline figures."""
    # 1. The round: exports of 11 providers, one round key, a provider key and a link key.
    exports = round_2014(workdir / "exports")
    round_key = factlab.new_round_key("analyst-example")
    provider_key, link_key = round_key.provider_key(), round_key.link_key()

    # 2. The stewards' step, here in one loop (each provider runs it on its own machine).
    #    factlab replaces no existing file unless asked: a re-run in WORKDIR asks.
    delivered = []
    for export in exports.exports:
        out = workdir / f"{export.provider}.parquet"
        factlab.pseudonymise_file(
            export.path, provider_key, provider=export.provider, out=out, overwrite=True
        )
        delivered.append(out)

    # 3. The trusted party links with the second stage: no first-stage pseudonym survives.
    linked_path = workdir / "linked.parquet"
    manifest = factlab.link(delivered, linked_path, key=link_key, overwrite=True)
    print(f"linked {manifest.rows:,} rows from {len(manifest.inputs)} providers")

    # 4. Counting works on a LazyFrame as well as on a file.
    linked = pl.scan_parquet(linked_path)
    cells = factlab.count(linked, by=["care_form", "financing"], on=REFERENCE_DATE_2014)
    print(f"sum of cells {cells.sum_of_cells:,}, unique clients {cells.unique_clients:,}")

    # 5. A question of one's own, in plain Polars: unique clients per municipality on the day.
    in_care = linked.filter(factlab.periods.active_on(REFERENCE_DATE_2014))
    per_municipality = (
        in_care.filter(pl.col("bsn_status") == "valid")
        .group_by("municipality")
        .agg(pl.col("pseudonym").n_unique().alias("unique_clients"))
        .sort("unique_clients", descending=True)
        .collect()
    )
    print(per_municipality.head(5))

    # 6. Clients at several providers, and the overlap between providers: count() made it in
    #    the same pass (factlab.overlap gives the overlap by any other dimension, e.g. care form).
    overlap = cells.overlap
    assert overlap is not None  # None only when counting with the fallback key
    shared = overlap.matrix.filter(pl.col("provider_a") < pl.col("provider_b"))
    print(f"clients at several providers: {cells.clients_multi_provider:,}")
    print(shared.sort("shared_clients", descending=True).head(3))

    # 7. The planners' estimate from the shipped corrections, every step shown.
    estimate = factlab.estimate(cells.table, factlab.corrections_2014())
    print(f"estimate: {estimate.arithmetic}")

    # 8. Nothing leaves the trusted party without disclosure control.
    protected = factlab.protect(cells)
    print(protected.table.render())

    return {
        "sum_of_cells": cells.sum_of_cells,
        "unique_clients": cells.unique_clients,
        "clients_multi_provider": cells.clients_multi_provider,
        "estimate": estimate.total,
        "municipalities": per_municipality.height,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder))
