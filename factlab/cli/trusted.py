"""The trusted party's commands: ``factlab link`` and ``factlab count``."""

from __future__ import annotations

from pathlib import Path

import click

from factlab.analysis.count_files import count_output_format, write_counts
from factlab.analysis.counts import count
from factlab.analysis.link import link
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
from factlab.reference.config import load_reference
from factlab.result_files import table_files


@main.command("link")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Linked Parquet file to write.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="The round key or link key: applies the second-stage pseudonym (recommended).",
)
@passphrase_env_option
@recipient_options
@click.option(
    "--replace",
    is_flag=True,
    help="Let a provider's later file (in argument order) replace the period it covers of its "
    "earlier ones (the rest is kept).",
)
@click.option(
    "--period",
    "periods",
    multiple=True,
    metavar="FILE=PERIOD",
    help="The period FILE covers (2024, 2024H1, ...); repeat per file. Without it a file covers "
    "the period its manifest states, or the whole round.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@audit_log_option
@guarded
def link_command(
    files: tuple[Path, ...],
    out: Path,
    key_path: str | None,
    passphrase_env: str | None,
    recipient: str | None,
    recipient_passphrase_env: str | None,
    replace: bool,
    periods: tuple[str, ...],
    force: bool,
    audit_log: Path | None,
) -> None:
    """Link pseudonymised provider FILES (plain or sealed) into one linked file.

    All files must come from the same round, key and scheme. A provider may deliver several
    files for periods that do not overlap (--period FILE=2024); with --replace a later file
    replaces exactly the period it covers. With --key the trusted party's second-stage
    pseudonyms replace the stewards' first-stage ones.
    """
    covered = delivery_periods(periods)
    refuse_existing(out, force, inputs=[*files, key_path, recipient], audit_log=audit_log)
    arguments = {
        "files": [str(f) for f in files],
        "out": out,
        "replace": replace,
        "periods": list(periods),
    }
    with audited(
        "link", inputs=files, output=out, arguments=arguments, log=audit_log, overwrite=force
    ) as trail:
        key = load_key_interactive(key_path, passphrase_env) if key_path else None
        private = open_recipient(recipient, recipient_passphrase_env)
        with progress(f"linking {len(files)} file(s)"):
            manifest = link(
                files,
                out,
                replace=replace,
                key=key,
                recipient=private,
                inputs=[path for path in (key_path, recipient) if path],
                overwrite=force,
                periods=covered,
            )
        trail.set_key_fingerprint(manifest.key_fingerprint)
        trail.add_rows({"total": manifest.rows, **manifest.rows_by_status})
        trail.add_detail("stage", manifest.stage)
    if key is None:
        warn(
            "no --key: the linked file keeps the stewards' first-stage pseudonyms (single-stage; "
            "for one organisation's own use only)"
        )
    for entry in manifest.extra.get("superseded", []):
        info(
            f"superseded: {entry['file']} (provider {entry['provider']}) "
            f"by {entry['superseded_by']}"
        )
    for entry in manifest.extra.get("deliveries", []):
        if not entry["superseded"] and entry["replaced"]:
            info(
                f"partly replaced: {entry['file']} (provider {entry['provider']}) now covers "
                f"{entry['covers_from']}..{entry['covers_to']}"
            )
    for provider, found in sorted(manifest.extra.get("duplicate_episodes", {}).items()):
        if found["episodes_repeated"] or found["rows_outside_coverage"]:
            info(
                f"provider {provider}: {found['episodes_repeated']} episode(s) delivered more "
                f"than once (kept once), {found['rows_outside_coverage']} row(s) only in a "
                f"replaced period, {found['episodes_closed']} ongoing episode(s) closed at the "
                "end of their delivery's period"
            )
        if found.get("categories_taken") or found.get("categories_ambiguous"):
            info(
                f"provider {provider}: {found.get('categories_taken', 0)} row(s) without a "
                "product category took the one its other deliveries name for the episode; "
                f"{found.get('categories_ambiguous', 0)} left apart (several named)"
            )
    by_status = ", ".join(
        f"{status} {rows}" for status, rows in manifest.rows_by_status.items() if rows
    )
    info(
        f"linked {len(manifest.inputs)} provider file(s), {manifest.rows} rows "
        f"({by_status or 'none'}), stage {manifest.stage} -> {out}"
    )
    fallback = manifest.extra.get("fallback")
    if fallback:
        info(
            f"fallback key: {fallback['rows_linked_to_bsn_client']} row(s) would link to a BSN "
            f"client, {fallback['clients_fallback_only']} client(s) only by fallback, "
            f"{fallback['conflicts']} conflict(s); counts use it only with --use-fallback"
        )


def _dimensions(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    names = tuple(name.strip() for name in text.split(","))
    if any(not name for name in names):
        raise ConfigError("by", ["--by: empty dimension name in the list"])
    return names


@main.command("count")
@click.argument("linked", type=click.Path(path_type=Path))
@click.option(
    "--by", "by", default=None, help="Dimensions, comma separated (e.g. care_form,financing)."
)
@click.option("--period", default=None, help="Period: 2025, 2025H1, 2025Q3, 2025-03 or from..to.")
@click.option("--on", "on", default=None, help="Reference date (YYYY-MM-DD).")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file: .json, .csv or .parquet.",
)
@click.option(
    "--use-fallback",
    is_flag=True,
    help="Link rows without a valid BSN through the fallback key (said in the output).",
)
@click.option(
    "--reference",
    "reference_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Reference file: municipalities of its year; its levels, provider_group and "
    "hierarchies as --by dimensions (docs/reference.md).",
)
@force_option
@audit_log_option
@guarded
def count_command(
    linked: Path,
    by: str | None,
    period: str | None,
    on: str | None,
    out: Path,
    use_fallback: bool,
    reference_path: Path | None,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Count unique clients, registrations and trajectories in a LINKED file.

    The counts are exact and internal to the trusted party: not for publication without
    disclosure control.
    """
    count_output_format(out)
    inputs = [linked, *([reference_path] if reference_path else [])]
    refuse_existing(table_files(out), force, inputs=inputs, audit_log=audit_log)
    dims = _dimensions(by)
    # The reference is read and checked whole before any row is counted.
    reference = load_reference(reference_path) if reference_path else None
    arguments = {"by": by, "period": period, "on": on, "use_fallback": use_fallback}
    with audited(
        "count", inputs=inputs, output=out, arguments=arguments, log=audit_log, overwrite=force
    ) as trail:
        with progress("counting"):
            result = count(
                linked,
                by=dims,
                period=period,
                on=on,
                use_fallback=use_fallback,
                reference=reference,
            )
            written = write_counts(result, out, inputs=inputs, overwrite=force)
        trail.set_key_fingerprint(result.source.get("key_fingerprint"))
        trail.add_rows({"registrations": result.registrations})
        for extra in written[1:]:
            trail.add_output(extra)
    when = (
        f"period {result.period.label}"
        if result.period
        else f"on {result.reference_date.isoformat()}"
        if result.reference_date
        else "all rows"
    )
    info(
        f"{when}: {result.unique_clients} unique clients "
        f"(bounds {result.unique_clients_lower}..{result.unique_clients_upper}), "
        f"{result.registrations} registrations, {result.trajectories} trajectories, "
        f"{result.clients_multi_provider} at several providers"
    )
    if result.fallback is not None:
        info(
            f"with the fallback key: {result.fallback['rows_linked_to_bsn_client']} row(s) linked "
            f"to BSN clients, {result.fallback['clients_fallback_only']} fallback-only client(s)"
        )
    info("written: " + ", ".join(str(path) for path in written))
