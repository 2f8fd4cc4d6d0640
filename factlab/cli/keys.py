"""``factlab key …``: make, show and derive key files.

``key export-provider --contract`` embeds the round's contract (:mod:`factlab.steward.contract`)
in the provider key file; ``key show`` prints a key file's header and its contract, or a
recipient's public key file's name and key id, for a check by phone. It loads the key first, as
every command that uses one does, so what it prints has been verified against the secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from factlab.cli import main
from factlab.cli._common import (
    guarded,
    info,
    load_key_interactive,
    passphrase_env_option,
    passphrase_from,
    refuse_existing,
    variable_name,
)
from factlab.errors import ConfigError, KeyFileError
from factlab.keys._keyfile import read_document
from factlab.keys.recipients import (
    PRIVATE_FORMAT,
    PUBLIC_FORMAT,
    load_recipient_private,
    load_recipient_public,
    recipient_is_protected,
)
from factlab.keys.round_keys import (
    check_value,
    is_protected,
    key_file_contract,
    new_round_key,
    read_key_header,
    write_key,
)
from factlab.steward.contract import Contract, load_contract, parse_contract

__all__ = ["key_group"]

_PASSPHRASE_ENV = passphrase_env_option


@main.group("key")
def key_group() -> None:
    """Make, show and derive key files."""


@key_group.command("new")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--round", "round_name", required=True, help="Name of the counting round.")
@click.option(
    "--blind",
    "blind_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A blind round's service configuration (its public shares and public key): the key "
    "then makes the link key only; stage 1 is the key services' (docs/keyservice.md).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--passphrase", "ask", is_flag=True, help="Protect the key with a passphrase (prompt)."
)
@_PASSPHRASE_ENV
@guarded
def key_new(
    path: Path,
    round_name: str,
    blind_path: Path | None,
    force: bool,
    ask: bool,
    passphrase_env: str | None,
) -> None:
    """Write a new round key (256-bit secret) to PATH, mode 0600."""
    passphrase = passphrase_from(passphrase_env, prompt=ask, confirm=True)
    if blind_path is not None:
        from factlab.keys.blind import new_blind_round_key
        from factlab.steward.blind import load_service_config

        blind_round = load_service_config(blind_path, tokens=False).blind_round
        if blind_round.round != round_name.strip():
            raise ConfigError(str(blind_path), [f"round: not {round_name.strip()!r}"])
        key = new_blind_round_key(blind_round)
    else:
        key = new_round_key(round_name)
    write_key(key, path, passphrase=passphrase, force=force)
    protection = (
        "passphrase-protected" if passphrase else "not passphrase-protected: guard the file"
    )
    info(f"wrote round key {path} ({protection})")
    click.echo(
        f"round:       {key.round}\nkey id:      {key.key_id}\nfingerprint: {key.fingerprint}"
    )


def _contract_lines(document: dict[str, Any] | None, path: Path) -> list[str]:
    if document is None:
        return ["contract:    none (the round states no required fields)"]
    try:
        contract = parse_contract(document, source=f"{path}: contract")
    except ConfigError as exc:
        return [f"contract:    cannot be read by this factlab ({len(exc.problems)} problem(s))"]
    return [*contract.summary_lines(), "  (bound to the key by the check value)"]


def _recipient_lines(path: Path, document: dict[str, Any], passphrase_env: str | None) -> list[str]:
    if document.get("format") == PUBLIC_FORMAT:
        public = load_recipient_public(path)  # checks that the key id is the public key's
        return [
            "kind:        recipient public key (seal files with it: factlab seal --to)",
            f"recipient:   {public.name}",
            f"key id:      {public.key_id}",
            "             (the fingerprint of the public key: compare it by phone with the "
            "trusted party)",
            f"created:     {document.get('created', '?')}",
            f"algorithm:   {document.get('algorithm', '?')}",
        ]
    # loaded, so that the key id shown is the one of the private key in the file
    ask = passphrase_env is None and recipient_is_protected(path)
    private = load_recipient_private(path, passphrase_from(passphrase_env, prompt=ask))
    return [
        "kind:        recipient private key (keep it to yourself; it opens sealed files)",
        f"recipient:   {private.name}",
        f"key id:      {private.key_id}",
        f"created:     {document.get('created', '?')}",
    ]


@key_group.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_PASSPHRASE_ENV
@guarded
def key_show(path: Path, passphrase_env: str | None) -> None:
    """Print a key file's round, key id, fingerprint and check value (never the secret).

    The key is loaded and verified first, as by every command that uses it: a file whose kind,
    round, key id, fingerprint or contract was edited is refused, not shown. A protected file
    therefore needs its passphrase (prompt, or --passphrase-env). The check value belongs to this
    file's secret: a linking party compares its link key's with the one the key custodian tells
    it through a second channel. A provider key file also shows the round's contract. A
    recipient's public key file (NAME.pub) shows its name and key id, the fingerprint a steward
    checks by phone before sealing.
    """
    document = read_document(path, "key file")
    if document.get("format") in (PUBLIC_FORMAT, PRIVATE_FORMAT):
        click.echo("\n".join(_recipient_lines(path, document, passphrase_env)))
        return
    protected = is_protected(path)
    key = load_key_interactive(str(path), passphrase_env)
    # Verified against the key's secret, as the file is now: header and contract.
    contract = key_file_contract(path, key)
    has_check = read_key_header(path)["check"] is not None
    check = check_value(key, contract) if has_check else "(none: written by an older factlab)"
    lines = [
        f"kind:        {key.kind}",
        f"round:       {key.round}",
        f"key id:      {key.key_id}",
        f"fingerprint: {key.fingerprint}",
        f"check:       {check}",
        f"created:     {key.created}",
        f"scheme:      {key.scheme}",
        f"protected:   {'yes (passphrase)' if protected else 'no'}",
    ]
    if key.kind == "provider":
        lines += _contract_lines(contract, path)
    click.echo("\n".join(lines))


def _export(
    round_key: Path,
    out: Path,
    force: bool,
    passphrase_env: str | None,
    out_env: str | None,
    kind: str,
    contract: Contract | None = None,
) -> None:
    # The round key is never replaced by what is derived from it, --force or not; an existing
    # --out is refused by write_key itself (a key file error).
    refuse_existing(out, True, inputs=[round_key])
    key = load_key_interactive(str(round_key), passphrase_env)
    if key.kind != "round":
        raise click.UsageError(f"{round_key} is a {key.kind} key; give the round key")
    if contract is not None and contract.round not in (None, key.round):
        raise KeyFileError(
            f"{contract.source}: the contract is for round {contract.round!r}, the round key "
            f"for {key.round!r}"
        )
    derived = key.provider_key() if kind == "provider" else key.link_key()
    passphrase = passphrase_from(out_env, prompt=False, option="--out-passphrase-env")
    document = None if contract is None else contract.to_document()
    write_key(derived, out, passphrase=passphrase, force=force, contract=document)
    info(f"wrote {kind} key {out}")
    # The check value is this key file's own: tell it to the recipient through a second channel.
    lines = [
        f"round:       {derived.round}",
        f"fingerprint: {derived.fingerprint}",
        f"check:       {check_value(derived, document)}",
    ]
    if contract is not None:
        lines += contract.summary_lines()
    click.echo("\n".join(lines))


_EXPORT_OPTIONS = (
    click.argument("round_key", type=click.Path(dir_okay=False, path_type=Path)),
    click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path)),
    click.option("--force", is_flag=True, help="Overwrite an existing file."),
    _PASSPHRASE_ENV,
    click.option(
        "--out-passphrase-env",
        metavar="VAR",
        callback=variable_name,
        help="Environment variable holding a passphrase to protect the new key file with.",
    ),
)


def _with_export_options(func: Any) -> Any:
    for decorator in reversed(_EXPORT_OPTIONS):
        func = decorator(func)
    return func


@key_group.command("export-provider")
@_with_export_options
@click.option(
    "--contract",
    "contract_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The round's contract (TOML): the fields a steward's file must hold and the values it "
    "may hold; embedded in the key file and bound to it.",
)
@guarded
def key_export_provider(
    round_key: Path,
    out: Path,
    force: bool,
    passphrase_env: str | None,
    out_passphrase_env: str | None,
    contract_path: Path | None,
) -> None:
    """Derive the first-stage key that stewards receive from a round key.

    A provider key makes the same first-stage pseudonyms as the round key but cannot make or
    reverse second-stage pseudonyms, so stewards cannot re-identify linked data. With
    --contract it carries the round's contract: pseudonymise then refuses a file that lacks a
    required field or holds too many values the round cannot use.
    """
    # read and checked before the round key is opened: every problem of the contract at once
    contract = load_contract(contract_path) if contract_path is not None else None
    _export(round_key, out, force, passphrase_env, out_passphrase_env, "provider", contract)


@key_group.command("export-link")
@_with_export_options
@guarded
def key_export_link(
    round_key: Path,
    out: Path,
    force: bool,
    passphrase_env: str | None,
    out_passphrase_env: str | None,
) -> None:
    """Derive the second-stage key the linking party uses from a round key.

    A link key applies the second stage but cannot make first-stage pseudonyms, so the party that
    receives the providers' files cannot enumerate BSNs against them.
    """
    _export(round_key, out, force, passphrase_env, out_passphrase_env, "link")
