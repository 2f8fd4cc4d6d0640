"""Commands ``overlap``, ``flows`` and ``costs``: analyses of a linked file.

Each writes one table as CSV, Parquet or JSON (chosen by the extension of ``--out``) together with
metadata that says the figures are exact and for internal use: Parquet keeps it in the file's
key-value metadata under ``factlab.analysis``, JSON as the ``metadata`` object beside ``rows``, and
CSV in a sidecar file ``<out>.meta.json``. Files are written atomically: a failed command leaves
nothing behind. An existing output is replaced only with ``--force``, the input never.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final

import click
import polars as pl

from factlab import schema
from factlab._version import __version__
from factlab.analysis.costs import DEFAULT_COST_DIMENSIONS, costs
from factlab.analysis.flows import DEFAULT_REPEAT_YEARS, flows
from factlab.analysis.overlap import overlap
from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import (
    audit_log_option,
    force_option,
    guarded,
    info,
    progress,
    refuse_existing,
)
from factlab.errors import ConfigError
from factlab.manifest import now_iso
from factlab.periods import Period, parse_date, parse_period
from factlab.result_files import TABLE_FORMATS, table_files, write_table

#: Parquet key-value metadata key of an analysis output.
METADATA_KEY: Final = "factlab.analysis"

_LINKED = click.argument("linked", type=click.Path(path_type=Path, dir_okay=False))
_OUT = click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file: .csv, .parquet or .json.",
)
_PERIOD = click.option("--period", help="Only rows in care in this period, e.g. 2025 or 2025H1.")
_ON = click.option("--on", "on", help="Only rows in care on this reference date (YYYY-MM-DD).")


def _check_out(out: Path, linked: Path, force: bool, audit_log: Path | None) -> None:
    # Checked before any work, so a wrong --out fails at once.
    if out.suffix.lower() not in TABLE_FORMATS:
        raise ConfigError(
            "arguments", [f"--out: {out.name}: the extension must be .csv, .parquet or .json"]
        )
    refuse_existing(table_files(out), force, inputs=[linked], audit_log=audit_log)


def _time(period: str | None, on: str | None) -> tuple[Period | None, date | None]:
    return (
        None if period is None else parse_period(period),
        None if on is None else parse_date(on, what="--on"),
    )


def _write_table(
    table: pl.DataFrame, metadata: Mapping[str, Any], out: Path, linked: Path, force: bool
) -> None:
    """Write ``table`` and its metadata to ``out`` in the format its extension names."""
    described = {
        **metadata,
        "columns": table.columns,
        "rows_in_table": table.height,
        "factlab_version": __version__,
        "created": now_iso(),
    }
    write_table(table, out, described, METADATA_KEY, inputs=[linked], overwrite=force)


def _left_out(counts: Mapping[str, int], what: str) -> None:
    total = sum(counts.values())
    parts = ", ".join(f"{status} {rows:,}" for status, rows in counts.items() if rows)
    detail = f" ({parts})" if parts else ""
    info(f"{what}: {total:,} row(s) without a valid BSN left out{detail}")


@main.command("overlap")
@_LINKED
@click.option(
    "--by",
    default=schema.PROVIDER,
    show_default=True,
    help="Dimension to compare, e.g. provider or care_form.",
)
@_PERIOD
@_ON
@_OUT
@force_option
@audit_log_option
@guarded
def overlap_command(
    linked: Path,
    by: str,
    period: str | None,
    on: str | None,
    out: Path,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Unique clients shared by each pair of providers (or values of --by) in LINKED."""
    _check_out(out, linked, force, audit_log)
    in_period, on_day = _time(period, on)
    arguments = {"by": by, "period": period, "on": on}
    with audited(
        "overlap", inputs=[linked], output=out, arguments=arguments, log=audit_log, overwrite=force
    ):
        with progress("Counting overlap"):
            result = overlap(linked, by=by, period=in_period, on=on_day)
        _write_table(result.matrix, result.metadata(), out, linked, force)
    info(f"overlap: {len(result.unique_clients())} value(s) of {by}; wrote {out}")
    _left_out(result.rows_without_valid_bsn, "overlap")


@main.command("flows")
@_LINKED
@click.option("--from", "from_period", required=True, help="First period, e.g. 2024.")
@click.option("--to", "to_period", required=True, help="Second period, e.g. 2025.")
@click.option("--by", default=None, help="Also break down by this dimension, e.g. care_form.")
@click.option(
    "--repeat-years",
    type=int,
    default=DEFAULT_REPEAT_YEARS,
    show_default=True,
    help="Look-back of repeat use for trajectories started in the --to period.",
)
@click.option("--no-repeat", is_flag=True, help="Leave repeat use out (no care_form needed).")
@_OUT
@force_option
@audit_log_option
@guarded
def flows_command(
    linked: Path,
    from_period: str,
    to_period: str,
    by: str | None,
    repeat_years: int,
    no_repeat: bool,
    out: Path,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Clients continuing, new and ended between two periods, and repeat use, in LINKED."""
    _check_out(out, linked, force, audit_log)
    first, second = parse_period(from_period), parse_period(to_period)
    arguments = {"from": from_period, "to": to_period, "by": by, "repeat_years": repeat_years}
    with audited(
        "flows", inputs=[linked], output=out, arguments=arguments, log=audit_log, overwrite=force
    ):
        with progress("Counting flows"):
            result = flows(
                linked, first, second, by=by, repeat_years=None if no_repeat else repeat_years
            )
        _write_table(result.table, result.metadata(), out, linked, force)
    total = result.table.row(0, named=True)
    info(
        f"flows {first.label} -> {second.label}: {total['continuing']:,} continuing, "
        f"{total['new']:,} new, {total['ended']:,} ended; wrote {out}"
    )
    for name, counts in result.rows_without_valid_bsn.items():
        _left_out(counts, f"flows ({name})")


@main.command("costs")
@_LINKED
@click.option(
    "--by",
    multiple=True,
    default=DEFAULT_COST_DIMENSIONS,
    show_default=True,
    help="Dimension to break costs down by (repeatable).",
)
@_PERIOD
@_ON
@_OUT
@force_option
@audit_log_option
@guarded
def costs_command(
    linked: Path,
    by: tuple[str, ...],
    period: str | None,
    on: str | None,
    out: Path,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Total cost and cost per unique client, overall and per provider and municipality."""
    _check_out(out, linked, force, audit_log)
    in_period, on_day = _time(period, on)
    arguments = {"by": list(by), "period": period, "on": on}
    with audited(
        "costs", inputs=[linked], output=out, arguments=arguments, log=audit_log, overwrite=force
    ):
        with progress("Summing costs"):
            result = costs(linked, by=by, period=in_period, on=on_day)
        _write_table(result.table, result.metadata(), out, linked, force)
    info(f"costs: {result.rows_null_cost:,} row(s) with a null cost; wrote {out}")
    _left_out(result.rows_without_valid_bsn, "costs")
