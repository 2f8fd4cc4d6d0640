"""``factlab keyserver``: a key service's share, tokens, quotas, and serving.

Run by each key service's operator (docs/keyservice.md). Tokens are written to files (mode
0600) and never printed or taken from the command line; shares never leave their file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from factlab.cli import main
from factlab.cli._common import guarded, info, passphrase_env_option, passphrase_from
from factlab.errors import ConfigError
from factlab.keys.shares import load_share, new_share, share_is_protected, write_share
from factlab.keyservice.serve import ServiceConfig, run_service
from factlab.keyservice.store import Store

__all__ = ["keyserver_group"]

_DB = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The service's SQLite database (tokens, quotas, usage, audit); made when missing.",
)


@main.group("keyserver")
def keyserver_group() -> None:
    """Run a key service of a blind round: its share, provider tokens, quotas, serving."""


@keyserver_group.command("init")
@click.argument("share_path", metavar="SHARE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--round", "round_name", required=True, help="Name of the counting round.")
@click.option("--service", required=True, help="This service's name, e.g. A or an org's code.")
@click.option("--passphrase", "ask", is_flag=True, help="Seal the share with a passphrase.")
@passphrase_env_option
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@guarded
def keyserver_init(
    share_path: Path,
    round_name: str,
    service: str,
    ask: bool,
    passphrase_env: str | None,
    force: bool,
) -> None:
    """Make this service's random share of the round's key in SHARE (mode 0600).

    Prints the public share: give it to the trusted party, who publishes the round's service
    configuration (both public shares and their sum, the round's public key).
    """
    passphrase = passphrase_from(passphrase_env, prompt=ask, confirm=True)
    share = new_share(round_name, service)
    write_share(share, share_path, passphrase=passphrase, force=force)
    info(f"wrote key share {share_path} (service {share.service}, round {share.round})")
    click.echo(f'public_share = "{share.public_share.hex()}"')


@keyserver_group.command("token")
@_DB
@click.option("--provider", required=True, help="Provider code, e.g. P01.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write the token to (mode 0600); hand it to the provider's steward.",
)
@click.option("--replace", is_flag=True, help="Revoke the provider's old token.")
@guarded
def keyserver_token(db_path: Path, provider: str, out: Path, replace: bool) -> None:
    """Issue a provider's bearer token into a new file; the database keeps only its hash."""
    if out.exists():
        raise ConfigError(str(out), ["file exists (a token is written to a new file only)"])
    store = Store(db_path)
    try:
        token = store.add_provider(provider, replace=replace)
    finally:
        store.close()
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    info(f"wrote the token of {provider} to {out} (mode 0600)")


@keyserver_group.command("quota")
@_DB
@click.option("--provider", required=True, help="Provider code, e.g. P01.")
@click.option("--round", "round_name", required=True, help="Name of the counting round.")
@click.option("--quota", type=click.IntRange(min=0), help="Evaluations allowed in the round.")
@click.option(
    "--expected",
    type=click.IntRange(min=0),
    help="Expected distinct clients: the quota becomes 1.5 times this, rounded up.",
)
@guarded
def keyserver_quota(
    db_path: Path, provider: str, round_name: str, quota: int | None, expected: int | None
) -> None:
    """Set a provider's quota for a round (usage so far is kept)."""
    if (quota is None) == (expected is None):
        raise click.UsageError("give one of --quota or --expected")
    value = quota if quota is not None else math.ceil(1.5 * (expected or 0))
    store = Store(db_path)
    try:
        store.set_quota(provider, round_name, value)
        used = store.usage(provider, round_name)
    finally:
        store.close()
    info(f"quota of {provider} in round {round_name}: {value} (used {used[0] if used else 0})")


@keyserver_group.command("audit")
@_DB
@guarded
def keyserver_audit(db_path: Path) -> None:
    """Print the service's audit lines (refusals, tokens issued, quotas set)."""
    if not db_path.is_file():
        raise ConfigError(str(db_path), ["database not found"])
    store = Store(db_path)
    try:
        for time, provider, event, elements, detail in store.audit_lines():
            click.echo(f"{time}\t{provider or '-'}\t{event}\t{elements}\t{detail}")
    finally:
        store.close()


@keyserver_group.command("serve")
@click.option(
    "--share", "share_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@_DB
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535))
@click.option("--certfile", type=click.Path(dir_okay=False, path_type=Path), help="TLS (PEM).")
@click.option("--keyfile", type=click.Path(dir_okay=False, path_type=Path), help="TLS key (PEM).")
@click.option(
    "--allow-plain-http",
    is_flag=True,
    help="Allow plain HTTP on an address other than 127.0.0.1 (a TLS proxy in front).",
)
@passphrase_env_option
@guarded
def keyserver_serve(
    share_path: Path,
    db_path: Path,
    host: str,
    port: int,
    certfile: Path | None,
    keyfile: Path | None,
    allow_plain_http: bool,
    passphrase_env: str | None,
) -> None:
    """Serve the key share: health and batch evaluation, until stopped (Ctrl-C)."""
    config = ServiceConfig(host, port, certfile, keyfile, allow_plain_http)
    config.check()
    ask = passphrase_env is None and share_is_protected(share_path)
    share = load_share(share_path, passphrase=passphrase_from(passphrase_env, prompt=ask))
    info(
        f"key service {share.service}, round {share.round}, public share "
        f"{share.public_share.hex()}, on {'https' if certfile else 'http'}://{host}:{port}"
    )
    run_service(share, Store(db_path), config)
