"""``factlab report``: the round's publication report (HTML, Excel, Markdown)."""

from __future__ import annotations

from pathlib import Path

import click

from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import audit_log_option, guarded, info, progress, refuse_existing, warn
from factlab.errors import ConfigError
from factlab.manifest import read_manifest
from factlab.report.build import REPORT_FORMATS, build_report, write_report
from factlab.report.config import BUILTIN_ROUNDS, RoundConfig, load_round_config
from factlab.report.model import INTERNAL_MARK


@main.command("report")
@click.argument("linked", type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Round configuration (TOML, see docs/reports.md); defaults without it.",
)
@click.option(
    "--builtin",
    type=click.Choice(sorted(BUILTIN_ROUNDS)),
    default=None,
    help="Use a shipped round configuration instead of --config (2014: the Drenthe round of "
    "February 2014, in Dutch, with its disclosure rules and corrections).",
)
@click.option(
    "--out",
    "outs",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report to write: .html, .xlsx or .md (repeat for several formats).",
)
@click.option(
    "--internal",
    is_flag=True,
    help=f'Exact counts without disclosure control; every page and sheet says "{INTERNAL_MARK}".',
)
@click.option("--force", is_flag=True, help="Overwrite existing reports.")
@audit_log_option
@guarded
def report_command(
    linked: Path,
    config_path: Path | None,
    builtin: str | None,
    outs: tuple[Path, ...],
    internal: bool,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Count, protect and report the round in the LINKED file.

    Every published number goes through disclosure control first. The exact counts stay with
    the trusted party: they are only shown with --internal, and then marked as such.
    """
    bad = [out.name for out in outs if out.suffix.lower() not in REPORT_FORMATS]
    if bad:
        raise ConfigError(
            "out", [f"out: {name}: expected a .html, .xlsx or .md file" for name in bad]
        )
    if config_path is not None and builtin is not None:
        raise click.UsageError("give --config FILE or --builtin NAME, not both")
    refuse_existing(outs, force, inputs=[linked, config_path], audit_log=audit_log)
    if builtin is not None:
        config = BUILTIN_ROUNDS[builtin]()
    elif config_path is not None:
        config = load_round_config(config_path)
    else:
        config = RoundConfig()
    inputs = [linked, *([config_path] if config_path is not None else [])]
    arguments = {
        "config": config_path,
        "builtin": builtin,
        "out": list(outs),
        "internal": internal,
        "force": force,
    }
    with audited(
        "report",
        inputs=inputs,
        output=outs[0],
        arguments=arguments,
        log=audit_log,
        overwrite=force,
    ) as trail:
        with progress("building the report"):
            report = build_report(linked, config, internal=internal)
        for out in outs:
            write_report(report, out)
        for out in outs[1:]:
            trail.add_output(out)
        trail.add_detail("protected", not internal)
        trail.set_key_fingerprint(read_manifest(linked).key_fingerprint)
    if internal:
        warn(f"internal report: exact counts, {INTERNAL_MARK}")
    status = "internal (exact counts)" if internal else f"protected (rules {config.rules.name})"
    info(
        f"{config.time_label}: {len(report.tables)} tables, {status} -> {', '.join(map(str, outs))}"
    )
    for text in report.warnings:
        warn(text)
