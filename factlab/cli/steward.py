"""``factlab pseudonymise`` and ``factlab inspect``: the steward's commands."""

from __future__ import annotations

import json
from pathlib import Path

import click
import polars as pl

from factlab import schema
from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import (
    audit_log_option,
    guarded,
    info,
    load_key_interactive,
    passphrase_env_option,
    progress,
    refuse_existing,
)
from factlab.errors import InputError
from factlab.manifest import read_manifest
from factlab.steward.mapping import ColumnMapping, load_mapping
from factlab.steward.pseudonymise import Quality, pseudonymise_file

__all__ = ["inspect_command", "pseudonymise_command"]


def _rows(rows: list[int]) -> str:
    return f" (first rows: {', '.join(str(row) for row in rows)})" if rows else ""


def quality_lines(quality: Quality) -> list[str]:
    """The short quality summary, one line per fact; row numbers only, never values."""
    by_status = quality.rows_by_status
    invalid = sum(by_status[name] for name in schema.INVALID_STATUSES)
    lines = [
        f"rows: {quality.rows}",
        f"  valid BSN:     {by_status['valid']}",
        f"  missing BSN:   {by_status['missing']}",
        f"  sentinel code: {by_status['sentinel']} (000000000 unknown / 999999999 unborn)",
        f"  invalid BSN:   {invalid}",
    ]
    examples = quality.example_rows.get("bsn", {})
    for name in ("missing", "sentinel", *schema.INVALID_STATUSES):
        if by_status[name] and name in examples:
            lines.append(f"    {name}: {by_status[name]}{_rows(examples[name])}")
    lines.append(
        f"distinct pseudonyms: {quality.distinct_pseudonyms}; rows sharing a pseudonym: "
        f"{quality.duplicate_pseudonym_rows}"
    )
    for column, reasons in quality.field_issues.items():
        for reason, count in reasons.items():
            first = quality.example_rows.get(column, {}).get(reason, [])
            lines.append(f"column {column}: {count} value(s) {reason}{_rows(first)}")
    return lines


@main.command("pseudonymise")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False))
@click.option("--provider", required=True, help="Provider code, e.g. P01.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", "mapping_path", type=click.Path(dir_okay=False, path_type=Path))
@passphrase_env_option
@click.option(
    "--fallback",
    is_flag=True,
    help="Also write a keyed fallback pseudonym (default: birth date, sex, postcode; the mapping's "
    "[fallback] fields when given) for linking rows without a valid BSN.",
)
@click.option(
    "--allow-no-valid-bsn",
    is_flag=True,
    help="Write the file even when no row has a valid BSN (refused by default: a wrong column "
    "taken for the BSN, or a BSN column spoilt on export).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@audit_log_option
@guarded
def pseudonymise_command(
    input_path: Path,
    key_path: str,
    provider: str,
    out: Path,
    mapping_path: Path | None,
    passphrase_env: str | None,
    fallback: bool,
    allow_no_valid_bsn: bool,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Pseudonymise a provider export (CSV, Excel or Parquet) into a minimised Parquet file.

    Rows in = rows out: rows without a valid BSN keep a null pseudonym and their status.
    """
    refuse_existing(out, force, inputs=[input_path, key_path, mapping_path], audit_log=audit_log)
    arguments = {
        "input": input_path,
        "provider": provider,
        "out": out,
        "mapping": mapping_path,
        "fallback": fallback,
        "allow_no_valid_bsn": allow_no_valid_bsn,
    }
    # The input is hashed once, from the bytes that are parsed, for this log only (never for the
    # output's manifest: the digest of a small export is reversed by trying every BSN).
    with audited(
        "pseudonymise",
        inputs=[input_path],
        output=out,
        arguments=arguments,
        log=audit_log,
        hash_inputs=False,
        overwrite=force,
    ) as trail:
        mapping = load_mapping(mapping_path) if mapping_path else ColumnMapping()
        key = load_key_interactive(key_path, passphrase_env)
        trail.set_key_fingerprint(key.fingerprint)
        fields = (mapping.fallback_fields or schema.FALLBACK_DEFAULT) if fallback else None
        with progress(f"pseudonymising {input_path.name}"):
            result = pseudonymise_file(
                input_path,
                key,
                provider=provider,
                out=out,
                mapping=mapping,
                fallback=fields,
                allow_no_valid_bsn=allow_no_valid_bsn,
            )
        if result.input_sha256 is not None:
            trail.set_input_sha256(input_path, result.input_sha256)
        trail.add_rows({"total": result.quality.rows, **result.quality.rows_by_status})
    info(f"wrote {out} (provider {provider}, key fingerprint {key.fingerprint})")
    for line in quality_lines(result.quality):
        info(line)
    blank = result.manifest.extra.get("blank_rows_skipped") if result.manifest else None
    if blank:  # rows in the export = rows + blank lines
        info(f"blank lines left out: {blank}")


@main.command("inspect")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@guarded
def inspect_command(path: Path, as_json: bool) -> None:
    """Print a factlab file's manifest and quality summary."""
    manifest = read_manifest(path)
    if as_json:
        click.echo(json.dumps(json.loads(manifest.to_json()), indent=2, sort_keys=True))
        return
    pseudonyms = pl.scan_parquet(path).select(pl.col(schema.PSEUDONYM)).drop_nulls()
    stats = (
        pseudonyms.group_by(schema.PSEUDONYM)
        .len()
        .select(
            pl.len().alias("distinct"),
            pl.col("len").filter(pl.col("len") > 1).sum().alias("shared"),
        )
    )
    try:
        distinct, shared = stats.collect().row(0)
    # polars raises several types for a damaged file; a panic in its Rust code is no Exception
    except (Exception, pl.exceptions.PanicException) as exc:
        raise InputError(
            f"{path}: cannot be read: the Parquet file is damaged ({type(exc).__name__})"
        ) from None
    provider = manifest.provider or f"(linked: {len(manifest.inputs)} inputs)"
    click.echo(
        f"format:          {manifest.format} (stage {manifest.stage})\n"
        f"scheme:          {manifest.scheme}\n"
        f"round:           {manifest.round}\n"
        f"key id:          {manifest.key_id}\n"
        f"key fingerprint: {manifest.key_fingerprint}\n"
        f"provider:        {provider}\n"
        f"factlab version: {manifest.factlab_version}\n"
        f"created:         {manifest.created}"
    )
    if manifest.input_format:
        click.echo(f"input format:    {manifest.input_format}")
    quality = Quality(
        rows=manifest.rows,
        rows_by_status={name: manifest.rows_by_status.get(name, 0) for name in schema.STATUSES},
        field_issues=manifest.field_issues,
        distinct_pseudonyms=int(distinct or 0),
        duplicate_pseudonym_rows=int(shared or 0),
    )
    for line in quality_lines(quality):
        click.echo(line)
