"""``factlab key …``: make, show and derive key files."""

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
from factlab.keys.round_keys import check_value, new_round_key, read_key_header, write_key

__all__ = ["key_group"]

_PASSPHRASE_ENV = passphrase_env_option


@main.group("key")
def key_group() -> None:
    """Make, show and derive key files."""


@key_group.command("new")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--round", "round_name", required=True, help="Name of the counting round.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--passphrase", "ask", is_flag=True, help="Protect the key with a passphrase (prompt)."
)
@_PASSPHRASE_ENV
@guarded
def key_new(
    path: Path, round_name: str, force: bool, ask: bool, passphrase_env: str | None
) -> None:
    """Write a new round key (256-bit secret) to PATH, mode 0600."""
    passphrase = passphrase_from(passphrase_env, prompt=ask, confirm=True)
    key = new_round_key(round_name)
    write_key(key, path, passphrase=passphrase, force=force)
    protection = (
        "passphrase-protected" if passphrase else "not passphrase-protected: guard the file"
    )
    info(f"wrote round key {path} ({protection})")
    click.echo(
        f"round:       {key.round}\nkey id:      {key.key_id}\nfingerprint: {key.fingerprint}"
    )


@key_group.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@guarded
def key_show(path: Path) -> None:
    """Print a key file's round, key id, fingerprint and check value (never the secret).

    The check value belongs to this file's secret: a linking party compares its link key's with
    the one the key custodian tells it through a second channel.
    """
    header = read_key_header(path)
    click.echo(
        f"kind:        {header['kind']}\n"
        f"round:       {header['round']}\n"
        f"key id:      {header['key_id']}\n"
        f"fingerprint: {header['fingerprint']}\n"
        f"check:       {header['check'] or '(none: written by an older factlab)'}\n"
        f"created:     {header['created']}\n"
        f"scheme:      {header['scheme']}\n"
        f"protected:   {'yes (passphrase)' if header['protected'] else 'no'}"
    )


def _export(
    round_key: Path,
    out: Path,
    force: bool,
    passphrase_env: str | None,
    out_env: str | None,
    kind: str,
) -> None:
    # The round key is never replaced by what is derived from it, --force or not; an existing
    # --out is refused by write_key itself (a key file error).
    refuse_existing(out, True, inputs=[round_key])
    key = load_key_interactive(str(round_key), passphrase_env)
    if key.kind != "round":
        raise click.UsageError(f"{round_key} is a {key.kind} key; give the round key")
    derived = key.provider_key() if kind == "provider" else key.link_key()
    passphrase = passphrase_from(out_env, prompt=False, option="--out-passphrase-env")
    write_key(derived, out, passphrase=passphrase, force=force)
    info(f"wrote {kind} key {out}")
    # The check value is this key file's own: tell it to the recipient through a second channel.
    click.echo(
        f"round:       {derived.round}\nfingerprint: {derived.fingerprint}\n"
        f"check:       {check_value(derived)}"
    )


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
@guarded
def key_export_provider(
    round_key: Path,
    out: Path,
    force: bool,
    passphrase_env: str | None,
    out_passphrase_env: str | None,
) -> None:
    """Derive the first-stage key that stewards receive from a round key.

    A provider key makes the same first-stage pseudonyms as the round key but cannot make or
    reverse second-stage pseudonyms, so stewards cannot re-identify linked data.
    """
    _export(round_key, out, force, passphrase_env, out_passphrase_env, "provider")


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
