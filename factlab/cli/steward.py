"""``factlab pseudonymise`` and ``factlab inspect``: the steward's commands.

``pseudonymise`` reads the round's contract from the provider key file (when it carries one) and
reports on stderr what became of every column, the code values not mapped, the quality summary
and the contract check; ``--preview`` shows all that and the first rows of the output on stdout,
and writes nothing but its audit line. ``inspect`` reads the manifest of a factlab Parquet file,
or the clear header of a sealed file without any key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
import polars as pl
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from factlab import schema
from factlab.audit import audit_log_path, audited
from factlab.cli import main
from factlab.cli._common import (
    audit_log_option,
    err_console,
    guarded,
    info,
    load_key_interactive,
    passphrase_env_option,
    progress,
    refuse_existing,
    warn,
)
from factlab.errors import InputError

if TYPE_CHECKING:
    from factlab.keys.seal import SealedHeader
from factlab.keys.round_keys import Key, key_file_contract
from factlab.manifest import Manifest, read_manifest
from factlab.periods import parse_period
from factlab.steward.audit_lines import key_details, pseudonymised_details
from factlab.steward.blind import BlindService, load_service_config
from factlab.steward.columns import (
    ColumnUse,
    UnmappedValues,
    column_lines,
    unmapped_lines,
)
from factlab.steward.contract import Contract, parse_contract
from factlab.steward.mapping import ColumnMapping, load_mapping
from factlab.steward.preview import Preview, preview_file, shown_rows
from factlab.steward.pseudonymise import pseudonymise_file
from factlab.steward.quality import ContractCheck, ContractRefused, Quality

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


def report_lines(quality: Quality) -> list[str]:
    """What became of every column and the values not mapped: names, codes and counts only."""
    return [*column_lines(quality.columns), *unmapped_lines(quality.unmapped_values)]


def _contract_of(key_path: str, key: Key) -> Contract | None:
    """The round's contract the provider key file carries, bound to ``key`` (None: none)."""
    document = key_file_contract(key_path, key)
    if document is None:
        return None
    return parse_contract(document, source=f"{key_path}: contract")


def _show_refused(refused: ContractRefused) -> None:
    """Before the one-line error: what the steward needs to see to fix the mapping."""
    if refused.quality is not None:
        lines = report_lines(refused.quality)
    else:
        lines = column_lines(refused.columns)
    for line in lines:
        info(line)


def _table_text(frame: pl.DataFrame) -> str:
    """The rows as an ASCII table, shown as the app shows them (:func:`shown_rows`: pseudonyms
    shortened, control characters made visible, any value with six or more digits masked)."""
    shown = shown_rows(frame, ellipsis="..")
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=1000,
        fmt_str_lengths=40,
    ):
        return str(shown)


def preview_text(preview: Preview, *, input_name: str) -> list[str]:
    """The preview in words: how the export was read, the columns, the values not mapped, the
    quality summary, the contract check and the first rows of the output."""
    read_as = ", ".join(
        f"{name} {value!r}" if isinstance(value, str) else f"{name} {value}"
        for name, value in preview.read_as.items()
    )
    lines = [
        f"preview of {input_name}: nothing is written",
        f"read as: {read_as}; decimal comma: {preview.decimal_comma}",
        f"mapping: {preview.mapping}",
        *report_lines(preview.quality),
        *quality_lines(preview.quality),
    ]
    if preview.quality.contract is not None:
        lines += preview.quality.contract.lines()
    if preview.would_be_refused:
        lines.append("pseudonymise would REFUSE this file, and write nothing:")
        lines += [f"  {problem}" for problem in preview.problems]
    else:
        lines.append("pseudonymise would write this file")
    lines.append(f"first {preview.rows.height} row(s) of the output, as they would be written:")
    lines.append(_table_text(preview.rows))
    return lines


def _key_and_contract(
    key_path: str | None, blind_path: Path | None, passphrase_env: str | None
) -> tuple[Key | BlindService, Contract | None]:
    """The provider key and its contract, or a blind round's key services (no contract)."""
    if blind_path is not None:
        return load_service_config(blind_path), None
    assert key_path is not None
    key = load_key_interactive(key_path, passphrase_env)
    return key, _contract_of(key_path, key)


@contextmanager
def _blind_progress(key: Key | BlindService, name: str) -> Iterator[Key | BlindService]:
    """The progress display of the step; for key services a bar of the BSNs done."""
    if not isinstance(key, BlindService):
        with progress(f"pseudonymising {name}"):
            yield key
        return
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=err_console, transient=True, disable=not err_console.is_terminal
    ) as bar:
        task = bar.add_task(f"pseudonymising {name} through the key services", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield key.with_progress(advance)


@main.command("pseudonymise")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="The provider key file (or give --blind).",
)
@click.option(
    "--blind",
    "blind_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A blind round's service configuration (TOML): pseudonymise through the round's key "
    "services, holding no key (docs/keyservice.md).",
)
@click.option("--provider", required=True, help="Provider code, e.g. P01.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Parquet file to write (required unless --preview).",
)
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
@click.option(
    "--preview",
    is_flag=True,
    help="Show what became of every column, the values not mapped, the quality summary, the "
    "round's contract check and the first rows of the output; write nothing.",
)
@click.option(
    "--period",
    default=None,
    help="The period this delivery covers (2024, 2024H1, 2024-01-01..2024-06-30, ...); written "
    "into the manifest, where link reads it.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@audit_log_option
@guarded
def pseudonymise_command(
    input_path: Path,
    key_path: str | None,
    blind_path: Path | None,
    provider: str,
    out: Path | None,
    mapping_path: Path | None,
    passphrase_env: str | None,
    fallback: bool,
    allow_no_valid_bsn: bool,
    preview: bool,
    period: str | None,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Pseudonymise a provider export (CSV, Excel or Parquet) into a minimised Parquet file.

    Rows in = rows out: rows without a valid BSN keep a null pseudonym and their status. When
    the provider key carries the round's contract, a file that lacks a required field, or in
    which more than the allowed share of a required field cannot be used, is refused.
    """
    if out is None and not preview:
        raise click.UsageError("Missing option '--out' (or give --preview).")
    if (key_path is None) == (blind_path is None):
        raise click.UsageError("give one of --key (a provider key) or --blind (key services)")
    covered = parse_period(period) if period is not None else None  # refused before any work
    arguments = {
        "input": input_path,
        "provider": provider,
        "out": out,
        "mapping": mapping_path,
        "fallback": fallback,
        "allow_no_valid_bsn": allow_no_valid_bsn,
        "preview": preview,
        "period": covered.label if covered is not None else None,
    }
    if preview:
        # Nothing is written, so --out only places the audit log (as it would for a real run);
        # a missing folder is still named as such, as for a real run.
        if out is not None and not out.parent.is_dir():
            raise InputError(f"{out}: the output folder does not exist")
        log = audit_log_path(out, audit_log) if out is not None else audit_log
        with audited(
            "pseudonymise", inputs=[input_path], arguments=arguments, log=log, hash_inputs=False
        ) as trail:
            mapping = load_mapping(mapping_path) if mapping_path else ColumnMapping()
            key, contract = _key_and_contract(key_path, blind_path, passphrase_env)
            key_details(trail, key, contract)
            fields = (mapping.fallback_fields or schema.FALLBACK_DEFAULT) if fallback else None
            with progress(f"previewing {input_path.name}"):
                shown = preview_file(
                    input_path,
                    key,
                    provider=provider,
                    mapping=mapping,
                    fallback=fields,
                    allow_no_valid_bsn=allow_no_valid_bsn,
                    contract=contract,
                )
            trail.add_detail("would_be_refused", shown.would_be_refused)
            pseudonymised_details(trail, shown.quality)
        click.echo("\n".join(preview_text(shown, input_name=input_path.name)))
        return
    assert out is not None
    refuse_existing(
        out, force, inputs=[input_path, key_path, blind_path, mapping_path], audit_log=audit_log
    )
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
        key, contract = _key_and_contract(key_path, blind_path, passphrase_env)
        key_details(trail, key, contract)  # the same details as the app's line
        if isinstance(key, BlindService):
            key.check_services()  # a service down or misconfigured: stop before reading
        fields = (mapping.fallback_fields or schema.FALLBACK_DEFAULT) if fallback else None
        try:
            with _blind_progress(key, input_path.name) as key:
                result = pseudonymise_file(
                    input_path,
                    key,
                    provider=provider,
                    out=out,
                    mapping=mapping,
                    fallback=fields,
                    allow_no_valid_bsn=allow_no_valid_bsn,
                    contract=contract,
                    inputs=[path for path in (key_path, blind_path, mapping_path) if path],
                    overwrite=force,
                    period=covered,
                )
        except ContractRefused as refused:
            _show_refused(refused)
            raise
        pseudonymised_details(
            trail, result.quality, input_path=input_path, input_sha256=result.input_sha256
        )
    info(f"wrote {out} (provider {provider}, key fingerprint {key.fingerprint})")
    if isinstance(key, BlindService):
        info(
            f"blind round: pseudonyms from {len(key.services)} key service(s), custody "
            f"{key.custody}"
            + (" (one service could compute every pseudonym)" if key.custody == "single" else "")
        )
    for line in [*report_lines(result.quality), *quality_lines(result.quality)]:
        info(line)
    blank = result.manifest.extra.get("blank_rows_skipped") if result.manifest else None
    if blank:  # rows in the export = rows + blank lines
        info(f"blank lines left out: {blank}")
    check = result.quality.contract
    if check is not None:
        info(check.lines()[0])
        for entry in check.warnings:
            warn(f"{entry.describe()}: {entry.advice()}")


def _manifest_lines(manifest: Manifest, distinct: int, shared: int) -> list[str]:
    """A manifest in words: identity, columns, values not mapped, quality, contract."""
    provider = manifest.provider or f"(linked: {len(manifest.inputs)} inputs)"
    lines = [
        f"format:          {manifest.format} (stage {manifest.stage})",
        f"scheme:          {manifest.scheme}",
        f"round:           {manifest.round}",
        f"key id:          {manifest.key_id}",
        f"key fingerprint: {manifest.key_fingerprint}",
        f"provider:        {provider}",
        f"factlab version: {manifest.factlab_version}",
        f"created:         {manifest.created}",
    ]
    custody = manifest.extra.get("custody")
    if custody in ("split", "single"):
        services = manifest.extra.get("key_services")
        names = ", ".join(map(str, services)) if isinstance(services, list) else "?"
        warning = " (one service could compute every pseudonym)" if custody == "single" else ""
        lines.append(f"custody:         {custody}, key services {names}{warning}")
    if manifest.input_format:
        lines.append(f"input format:    {manifest.input_format}")
    quality = Quality(
        rows=manifest.rows,
        rows_by_status={name: manifest.rows_by_status.get(name, 0) for name in schema.STATUSES},
        field_issues=manifest.field_issues,
        distinct_pseudonyms=distinct,
        duplicate_pseudonym_rows=shared,
        columns=tuple(ColumnUse.from_dict(entry) for entry in manifest.columns),
        unmapped_values={
            name: UnmappedValues.from_dict(entry)
            for name, entry in manifest.unmapped_values.items()
        },
    )
    if manifest.columns:
        lines += report_lines(quality)
    lines += quality_lines(quality)
    contract = manifest.contract
    if contract is not None:
        check = ContractCheck.from_dict(str(contract.get("sha256", "")), contract.get("check", {}))
        lines += check.lines()
        lines.append(f"  contract sha256: {check.sha256}")
    return lines


def _sealed_document(header: SealedHeader) -> dict[str, object]:
    return {
        "format": "factlab-sealed",
        "verified": False,
        "recipient": {"name": header.recipient_name, "key_id": header.recipient_key_id},
        "payload": {
            "size": header.payload_size,
            "source_name": header.source_name,
        },
        "sealed_at": header.sealed_at,
        "factlab_version": header.factlab_version,
        "manifest": json.loads(header.manifest.to_json()),
    }


def _stored_count(manifest: Manifest, name: str) -> int:
    value = manifest.extra.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@main.command("inspect")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@guarded
def inspect_command(path: Path, as_json: bool) -> None:
    """Print a factlab file's manifest and quality summary.

    A sealed file's manifest is read from its clear header, without any key: the steward checks
    provider, round, rows and the recipient's key id with the trusted party.
    """
    # here, not at the top: sealed files need pyarrow and NumPy, which pseudonymise does not load
    from factlab.keys.seal import is_sealed, read_sealed_header

    if is_sealed(path):
        header = read_sealed_header(path)
        if as_json:
            click.echo(json.dumps(_sealed_document(header), indent=2, sort_keys=True))
            return
        manifest = header.manifest
        click.echo(
            f"sealed file:     {path.name} (its header, read without the private key; only "
            "unsealing verifies it)\n"
            f"sealed for:      {header.recipient_name} (recipient key id "
            f"{header.recipient_key_id})\n"
            f"sealed at:       {header.sealed_at}\n"
            f"payload:         {header.source_name}, {header.payload_size} bytes\n"
            f"rows:            {manifest.rows}"
        )
        distinct = _stored_count(manifest, "distinct_pseudonyms")
        shared = _stored_count(manifest, "duplicate_pseudonym_rows")
        click.echo("\n".join(_manifest_lines(manifest, distinct, shared)))
        return
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
    click.echo("\n".join(_manifest_lines(manifest, int(distinct or 0), int(shared or 0))))
