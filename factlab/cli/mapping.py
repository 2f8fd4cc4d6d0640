"""``factlab mapping propose``: a mapping file proposed from a provider export."""

from __future__ import annotations

from pathlib import Path

import click

from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import (
    audit_log_option,
    force_option,
    guarded,
    info,
    load_key_interactive,
    passphrase_env_option,
    progress,
    refuse_existing,
)
from factlab.keys.round_keys import key_file_contract
from factlab.steward.contract import Contract, parse_contract
from factlab.steward.proposal import MappingProposal
from factlab.steward.propose import SAMPLE_ROWS, propose_mapping, write_proposal

__all__ = ["mapping_group", "propose_command"]


@main.group("mapping")
def mapping_group() -> None:
    """Propose a mapping file for a provider export."""


def _contract(key_path: str, passphrase_env: str | None) -> tuple[Contract | None, str]:
    """The round's contract in a provider key file (None: it carries none), and the key's
    fingerprint. The key is loaded (and so checked) only to read the contract bound to it."""
    key = load_key_interactive(key_path, passphrase_env)
    document = key_file_contract(key_path, key)
    if document is None:
        return None, key.fingerprint
    return parse_contract(document, source=f"{key_path} (contract)"), key.fingerprint


@mapping_group.command("propose")
@click.argument("export", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The mapping file to write (default: print it).",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="Provider key file: mark the fields and values its round contract requires.",
)
@passphrase_env_option
@click.option("--sheet", help="Excel sheet to read (default: the first).")
@click.option(
    "--sample-rows",
    type=click.IntRange(min=1),
    default=SAMPLE_ROWS,
    show_default=True,
    help="Rows on which columns, date formats and amounts are judged.",
)
@force_option
@audit_log_option
@guarded
def propose_command(
    export: Path,
    out: Path | None,
    key_path: str | None,
    passphrase_env: str | None,
    sheet: str | None,
    sample_rows: int,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Propose a mapping file for the provider EXPORT (CSV, Excel or Parquet).

    The export is read as `factlab pseudonymise` reads it. Columns factlab recognises are named;
    for the others it writes its best guess (sure ones as settings, the rest as comments); the
    delimiter, encoding and date formats found, with an example date; and each code column's
    distinct values with their row counts, to fill in as value maps. Never a BSN. Run unedited,
    `factlab pseudonymise --mapping` reads the export at least as well as without a mapping.
    The file shows codes and dates of the export: keep it on your own computer.
    """
    if out is not None:
        refuse_existing(out, force, inputs=[export, key_path], audit_log=audit_log)

    def propose() -> tuple[MappingProposal, str | None]:
        contract, fingerprint = (None, None)
        if key_path is not None:
            contract, fingerprint = _contract(key_path, passphrase_env)
            if contract is None:
                info(f"{key_path}: the key file carries no round contract")
        with progress(f"reading {export.name}"):
            proposal = propose_mapping(
                export,
                sample_rows=sample_rows,
                sheet=sheet,
                required=contract.required if contract else (),
                accepted=contract.values if contract else None,
            )
        return proposal, fingerprint

    if out is None:
        proposal, _ = propose()
        click.echo(proposal.to_toml(), nl=False)
    else:
        arguments = {"export": export, "out": out, "sheet": sheet, "sample_rows": sample_rows}
        with audited(
            "mapping propose",
            inputs=[export],
            output=out,
            arguments=arguments,
            log=audit_log,
            overwrite=force,
        ) as trail:
            proposal, fingerprint = propose()
            if fingerprint is not None:
                trail.set_key_fingerprint(fingerprint)
            write_proposal(proposal, out, inputs=[export], overwrite=force)
            trail.add_rows({"total": proposal.rows})
        info(f"wrote {out}")
    for line in proposal.summary_lines():
        info(line)
