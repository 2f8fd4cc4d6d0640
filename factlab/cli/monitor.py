"""Command group ``factlab monitor``: a programme's store, series, transitions, durations, costs.

``factlab monitor add STORE FILES…`` links a batch of deliveries into the store's next part;
the analyses read a store (its folder) or a linked file and write one table each, as CSV,
Parquet or JSON (by the extension of ``--out``), with metadata under ``factlab.monitor``: the
figures are exact and internal, and the metadata names the store's parts and their digests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

import click
import polars as pl

from factlab._version import __version__
from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import (
    audit_log_option,
    delivery_periods,
    force_option,
    guarded,
    info,
    load_key_interactive,
    open_recipient,
    passphrase_env_option,
    progress,
    recipient_options,
    refuse_existing,
    warn,
)
from factlab.errors import ConfigError
from factlab.manifest import now_iso
from factlab.monitor.cost_change import cost_change
from factlab.monitor.durations import durations
from factlab.monitor.series import programme_periods, series
from factlab.monitor.store import append_to_store
from factlab.monitor.transitions import reentry, transitions
from factlab.periods import Period
from factlab.result_files import TABLE_FORMATS, table_files, write_table

#: Parquet key-value metadata key of a monitor output.
METADATA_KEY: Final = "factlab.monitor"

_SOURCE = click.argument("source", type=click.Path(path_type=Path, exists=True))
_OUT = click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file: .csv, .parquet or .json.",
)
_FROM = click.option("--from", "first", required=True, help="First year of the series, e.g. 2021.")
_TO = click.option("--to", "last", required=True, help="Last year of the series, e.g. 2025.")
_EVERY = click.option(
    "--every",
    type=click.Choice(["year", "half"]),
    default="year",
    show_default=True,
    help="Periods of the series: years or half-years.",
)
_PARTITIONS = click.option(
    "--partitions",
    type=click.IntRange(1, 4096),
    default=None,
    help="Read SOURCE in this many partitions by client to bound memory (default: one per 5 "
    "million rows); the figures do not depend on it.",
)


@main.group("monitor")
def monitor_group() -> None:
    """A monitoring programme over years: its store, series, transitions, durations, costs,
    report."""


def _read(source: Path) -> list[Path]:
    """The file the audit line hashes: a store's manifest (its parts are named in it)."""
    return [source / "store.json"] if source.is_dir() else [source]


def _check_out(out: Path, source: Path, force: bool, audit_log: Path | None) -> None:
    if out.suffix.lower() not in TABLE_FORMATS:
        raise ConfigError(
            "arguments", [f"--out: {out.name}: the extension must be .csv, .parquet or .json"]
        )
    refuse_existing(table_files(out), force, inputs=_read(source), audit_log=audit_log)


def _write(
    table: pl.DataFrame, metadata: Mapping[str, Any], out: Path, source: Path, force: bool
) -> None:
    described = {
        **metadata,
        "columns": table.columns,
        "rows_in_table": table.height,
        "factlab_version": __version__,
        "created": now_iso(),
    }
    write_table(table, out, described, METADATA_KEY, inputs=_read(source), overwrite=force)


class _Result(Protocol):
    def metadata(self) -> dict[str, Any]: ...


_R = TypeVar("_R", bound=_Result)


def _audited_table(
    name: str,
    source: Path,
    out: Path,
    force: bool,
    audit_log: Path | None,
    arguments: dict[str, Any],
    doing: str,
    compute: Callable[[], _R],
    table: Callable[[_R], pl.DataFrame],
) -> _R:
    """Run one analysis of SOURCE under the audit log with a progress line, and write its table
    with the metadata beside it (the output already checked by ``_check_out``)."""
    with audited(
        f"monitor {name}",
        inputs=_read(source),
        output=out,
        arguments=arguments,
        log=audit_log,
        overwrite=force,
    ):
        with progress(doing):
            result = compute()
        _write(table(result), result.metadata(), out, source, force)
    return result


def _periods(first: str, last: str, every: str) -> list[Period]:
    return programme_periods(first, last, "half" if every == "half" else "year")


def _by(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


@monitor_group.command("add")
@click.argument("store", type=click.Path(path_type=Path, file_okay=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--period",
    "periods",
    multiple=True,
    metavar="FILE=PERIOD",
    help="The period FILE covers (2024, 2024H1, ...); repeat per file (else its manifest's).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Let the batch take over the days an earlier part or file covers (the rest is kept).",
)
@click.option(
    "--any-round",
    is_flag=True,
    help="Accept deliveries whose round is no programme name (nothing then bounds its years).",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="The programme's round key or link key: applies the second-stage pseudonym.",
)
@passphrase_env_option
@recipient_options
@audit_log_option
@guarded
def add_command(
    store: Path,
    files: tuple[Path, ...],
    periods: tuple[str, ...],
    replace: bool,
    any_round: bool,
    key_path: str | None,
    passphrase_env: str | None,
    recipient: str | None,
    recipient_passphrase_env: str | None,
    audit_log: Path | None,
) -> None:
    """Link a batch of deliveries FILES into the next part of the monitor STORE.

    Earlier parts and earlier deliveries are not read. Every delivery covers a period
    (--period FILE=2024, or its manifest's); a batch that covers days a part already covers
    for a provider is refused unless --replace.
    """
    covered = delivery_periods(periods)
    arguments = {
        "files": [str(f) for f in files],
        "periods": list(periods),
        "replace": replace,
        "any_round": any_round,
    }
    with audited(
        "monitor add",
        inputs=files,
        output=store,
        arguments=arguments,
        log=audit_log,
        hold_outputs=False,  # the part is read back (its digest) before the manifest is written
    ) as trail:
        key = load_key_interactive(key_path, passphrase_env) if key_path else None
        private = open_recipient(recipient, recipient_passphrase_env)
        with progress(f"linking {len(files)} file(s) into the store"):
            opened = append_to_store(
                store,
                files,
                periods=covered,
                replace=replace,
                key=key,
                recipient=private,
                inputs=[path for path in (key_path, recipient) if path],
                any_round=any_round,
            )
        part = opened.parts[-1]
        trail.add_rows({"total": int(part["rows"])})
    if key is None:
        warn(
            "no --key: the part keeps the stewards' first-stage pseudonyms (single-stage); a "
            "monitor store kept over years should be linked with the programme's link key"
        )
    for earlier in opened.parts[:-1]:
        for entry in earlier.get("replaced", []):
            if entry["by"] == Path(part["file"]).stem:
                info(
                    f"{earlier['file']}: provider {entry['provider']} replaced for "
                    f"{entry['period']}"
                )
    spans = ", ".join(
        f"{unit['provider']} {unit['covers_from']}..{unit['covers_to']}"
        for unit in sorted(part["covers"], key=lambda unit: (unit["provider"], unit["from"]))
    )
    info(f"added {part['file']} ({part['rows']:,} rows): {spans}")


@monitor_group.command("series")
@_PARTITIONS
@click.option("--by", "by", multiple=True, help="Dimension(s) of per-value rows (repeatable).")
@_EVERY
@_TO
@_FROM
@_SOURCE
@_OUT
@force_option
@audit_log_option
@guarded
def series_command(
    source: Path,
    out: Path,
    force: bool,
    audit_log: Path | None,
    first: str,
    last: str,
    every: str,
    by: tuple[str, ...],
    partitions: int | None,
) -> None:
    """Unique clients, registrations, trajectories and clients at several providers per period,
    in SOURCE (a monitor store or a linked file)."""
    _check_out(out, source, force, audit_log)
    arguments = {"from": first, "to": last, "every": every, "by": list(by)}
    result = _audited_table(
        "series",
        source,
        out,
        force,
        audit_log,
        arguments,
        "Counting the series",
        lambda: series(source, _periods(first, last, every), by=_by(by), partitions=partitions),
        lambda done: done.table,
    )
    info(f"series: {len(result.periods)} period(s); wrote {out}")


@monitor_group.command("transitions")
@_PARTITIONS
@click.option(
    "--rule",
    type=click.Choice(["combined", "latest"]),
    default="combined",
    show_default=True,
    help="A client's one value per period: all values joined, or the latest row's.",
)
@click.option("--by", required=True, help="The dimension, e.g. financing or municipality.")
@click.option("--to", "to_period", required=True, help="Second period, e.g. 2025.")
@click.option("--from", "from_period", required=True, help="First period, e.g. 2024.")
@_SOURCE
@_OUT
@force_option
@audit_log_option
@guarded
def transitions_command(
    source: Path,
    out: Path,
    force: bool,
    audit_log: Path | None,
    from_period: str,
    to_period: str,
    by: str,
    rule: str,
    partitions: int | None,
) -> None:
    """The transition matrix of --by between two periods, with new, ended and turning 18, in
    SOURCE (a monitor store or a linked file); written in long form (from, to, clients)."""
    _check_out(out, source, force, audit_log)
    arguments = {"from": from_period, "to": to_period, "by": by, "rule": rule}
    result = _audited_table(
        "transitions",
        source,
        out,
        force,
        audit_log,
        arguments,
        "Counting transitions",
        lambda: transitions(
            source,
            from_period,
            to_period,
            by=by,
            rule="latest" if rule == "latest" else "combined",
            partitions=partitions,
        ),
        lambda done: done.matrix,
    )
    summary = result.summary
    info(
        f"transitions {result.from_period.label} -> {result.to_period.label}: "
        f"{summary['continuing']:,} continuing ({summary['changed_value']:,} changed {by}), "
        f"{summary['new']:,} new, {summary['ended']:,} ended, {summary['ended_at_18']:,} ended "
        f"at 18; wrote {out}"
    )


@monitor_group.command("reentry")
@_PARTITIONS
@click.option("--until", default=None, help="Last day the data tells about (YYYY-MM-DD).")
@click.option("--months", type=int, default=12, show_default=True, help="Re-entry window.")
@_EVERY
@_TO
@_FROM
@_SOURCE
@_OUT
@force_option
@audit_log_option
@guarded
def reentry_command(
    source: Path,
    out: Path,
    force: bool,
    audit_log: Path | None,
    first: str,
    last: str,
    every: str,
    months: int,
    until: str | None,
    partitions: int | None,
) -> None:
    """Spells of care ending per period and re-entry within --months, in SOURCE."""
    _check_out(out, source, force, audit_log)
    arguments = {"from": first, "to": last, "every": every, "months": months, "until": until}
    result = _audited_table(
        "reentry",
        source,
        out,
        force,
        audit_log,
        arguments,
        "Following spells of care",
        lambda: reentry(
            source,
            _periods(first, last, every),
            months=months,
            until=until,
            partitions=partitions,
        ),
        lambda done: done.table,
    )
    info(f"re-entry within {months} month(s): {len(result.periods)} period(s); wrote {out}")


@monitor_group.command("durations")
@_PARTITIONS
@click.option("--by", "by", multiple=True, help="Dimensions (default care_form and provider).")
@click.option("--until", default=None, help="Last day the data tells about (YYYY-MM-DD).")
@_TO
@_FROM
@_SOURCE
@_OUT
@force_option
@audit_log_option
@guarded
def durations_command(
    source: Path,
    out: Path,
    force: bool,
    audit_log: Path | None,
    first: str,
    last: str,
    until: str | None,
    by: tuple[str, ...],
    partitions: int | None,
) -> None:
    """Duration of trajectories started from --from to --to: median, quartiles (Kaplan–Meier,
    open trajectories censored) and share still open, per care form and provider, in SOURCE."""
    _check_out(out, source, force, audit_log)
    dimensions = _by(by) or ("care_form", "provider")
    arguments = {"from": first, "to": last, "until": until, "by": list(dimensions)}
    result = _audited_table(
        "durations",
        source,
        out,
        force,
        audit_log,
        arguments,
        "Measuring trajectories",
        lambda: durations(
            source,
            _periods(first, last, "year"),
            until=until,
            by=dimensions,
            partitions=partitions,
        ),
        lambda done: done.table,
    )
    info(
        f"durations: until {result.until.isoformat()}, {result.unknown_start:,} trajectory(ies) "
        f"of unknown start left out; wrote {out}"
    )


@monitor_group.command("costs")
@click.option("--by", "by", multiple=True, help="Dimensions (default provider, municipality).")
@click.option("--until", default=None, help="Day ongoing care's cost is spread to.")
@_EVERY
@_TO
@_FROM
@_SOURCE
@_OUT
@force_option
@audit_log_option
@guarded
def costs_command(
    source: Path,
    out: Path,
    force: bool,
    audit_log: Path | None,
    first: str,
    last: str,
    every: str,
    until: str | None,
    by: tuple[str, ...],
) -> None:
    """Cost per unique client per period, and its change split into volume and intensity, per
    provider and municipality, in SOURCE."""
    _check_out(out, source, force, audit_log)
    dimensions = _by(by) or ("provider", "municipality")
    arguments = {"from": first, "to": last, "every": every, "until": until, "by": list(dimensions)}
    result = _audited_table(
        "costs",
        source,
        out,
        force,
        audit_log,
        arguments,
        "Spreading costs over periods",
        lambda: cost_change(source, _periods(first, last, every), by=dimensions, until=until),
        lambda done: done.table,
    )
    info(
        f"costs: {result.rows_cost_unplaced:,} row(s) with a cost but no start date left out; "
        f"wrote {out}"
    )


@monitor_group.command("report")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Monitor configuration (TOML with a [monitor] section, see docs/monitor.md).",
)
@click.option(
    "--out",
    "outs",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report to write: .html, .xlsx or .md (repeat for several formats).",
)
@force_option
@audit_log_option
@guarded
def report_command(
    source: Path,
    config_path: Path,
    outs: tuple[Path, ...],
    force: bool,
    audit_log: Path | None,
) -> None:
    """The monitor report of SOURCE (a monitor store or a linked file): series, a transition
    matrix, durations and cost per client over the programme's years, every count protected
    under the round's disclosure rules, in Dutch unless the configuration says otherwise."""
    from factlab.report.build import REPORT_FORMATS
    from factlab.report.monitor import build_monitor_report, write_monitor_report
    from factlab.report.monitor_config import load_monitor_config

    bad = [out.name for out in outs if out.suffix.lower() not in REPORT_FORMATS]
    if bad:
        raise ConfigError(
            "arguments", [f"--out: {name}: expected a .html, .xlsx or .md file" for name in bad]
        )
    refuse_existing(outs, force, inputs=[*_read(source), config_path], audit_log=audit_log)
    config = load_monitor_config(config_path)
    arguments = {"config": str(config_path), "out": [str(out) for out in outs], "force": force}
    with audited(
        "monitor report",
        inputs=[*_read(source), config_path],
        output=outs[0],
        arguments=arguments,
        log=audit_log,
        overwrite=force,
    ) as trail:
        with progress("building the monitor report"):
            report = build_monitor_report(source, config)
        for out in outs:
            write_monitor_report(report, out)
        for out in outs[1:]:
            trail.add_output(out)
        trail.add_detail("protected", True)
    periods = config.periods
    info(
        f"monitor {periods[0].label}..{periods[-1].label}: {len(report.tables)} tables, "
        f"protected (rules {config.round.rules.name}) -> {', '.join(map(str, outs))}"
    )
    for text in report.warnings:
        warn(text)
