"""``factlab keyserver``: a key service's share, tokens, quotas, and serving.

Run by each key service's operator (docs/keyservice.md), except ``token --new-for-steward``,
which a provider's steward runs to make its own token: written to a file (mode 0600), never
printed or taken from the command line; the operator registers only its SHA-256. Shares never
leave their file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from factlab.cli import main
from factlab.cli._common import guarded, info, passphrase_env_option, passphrase_from, warn
from factlab.errors import ConfigError
from factlab.keys.shares import load_share, new_share, share_is_protected, write_share
from factlab.keyservice.store import Store, issue_token, token_digest

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
@click.option(
    "--new-for-steward",
    "for_steward",
    is_flag=True,
    help="(Steward) make a new token into --out and print only its SHA-256.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="(Steward) the new token's file (mode 0600), named in the service configuration.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="(Operator) the service's SQLite database; made when missing.",
)
@click.option("--provider", help="(Operator) provider code, e.g. P01.")
@click.option("--sha256", "digest", help="(Operator) the SHA-256 the provider's steward sent.")
@click.option("--replace", is_flag=True, help="(Operator) revoke the provider's old token.")
@guarded
def keyserver_token(
    for_steward: bool,
    out: Path | None,
    db_path: Path | None,
    provider: str | None,
    digest: str | None,
    replace: bool,
) -> None:
    """A provider's bearer token: the steward makes it, the operator registers its hash.

    \b
    Steward:  factlab keyserver token --new-for-steward --out P01-A.token
              (writes the token, mode 0600; prints its SHA-256: send that to A's operator)
    Operator: factlab keyserver token --db A.sqlite --provider P01 --sha256 HEX

    Only the steward ever holds the token; the database keeps only its hash. Make one token
    per service, so no operator holds a token valid at the other service.
    """
    if for_steward:
        if out is None or db_path or provider or digest or replace:
            raise click.UsageError("--new-for-steward takes --out only")
        if out.exists():
            raise ConfigError(str(out), ["file exists (a token is written to a new file only)"])
        token = issue_token()
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        info(f"wrote a new token to {out} (mode 0600); keep it there, never send it")
        info("send this SHA-256 to the key service's operator (it is not secret):")
        click.echo(f"sha256 = {token_digest(token)}")
        return
    if out is not None:
        raise click.UsageError(
            "an operator does not make tokens: the steward runs `factlab keyserver token "
            "--new-for-steward --out FILE` and sends the SHA-256 it prints (register it with "
            "--sha256)"
        )
    if db_path is None or provider is None or digest is None:
        raise click.UsageError(
            "give --new-for-steward --out FILE (steward), or --db, --provider and --sha256 "
            "(operator)"
        )
    store = Store(db_path)
    try:
        store.register_token(provider, digest, replace=replace)
    finally:
        store.close()
    info(f"registered the token of {provider} (by its SHA-256) in {db_path}")


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
    round_name = round_name.strip()  # as `keyserver init` strips a share's round
    store = Store(db_path)
    try:
        known = store.rounds()
        store.set_quota(provider, round_name, value)
        used = store.usage(provider, round_name)
    finally:
        store.close()
    if known and round_name not in known:
        warn(
            f"round {round_name!r} is new to this service (its other quotas are for "
            f"{', '.join(sorted(map(repr, known)))}): check it is the round of this service's "
            "share (`keyserver serve` names it)"
        )
    info(f"quota of {provider} in round {round_name}: {value} (used {used[0] if used else 0})")


@keyserver_group.command("audit")
@_DB
@guarded
def keyserver_audit(db_path: Path) -> None:
    """Print the service's audit lines (evaluations, retries, refusals, tokens, quotas)."""
    if not db_path.is_file():
        raise ConfigError(str(db_path), ["database not found"])
    store = Store(db_path)
    try:
        for time, provider, event, elements, detail in store.audit_lines():
            click.echo(f"{time}\t{provider or '-'}\t{event}\t{elements}\t{detail}")
    finally:
        store.close()


@keyserver_group.command("usage")
@_DB
@guarded
def keyserver_usage(db_path: Path) -> None:
    """Print every provider's usage and quota per round (for the reconciliation).

    A provider's usage minus the number of distinct values in the file it delivered is the
    number of evaluations that did not end in its file: failed runs, or lookups of chosen BSNs.
    """
    if not db_path.is_file():
        raise ConfigError(str(db_path), ["database not found"])
    store = Store(db_path)
    try:
        click.echo("round\tprovider\tused\tquota\tbatches\treplays")
        for provider, round_name, used, quota, batches, replays in store.usage_table():
            click.echo(f"{round_name}\t{provider}\t{used}\t{quota}\t{batches}\t{replays}")
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
    # uvicorn only here: a steward making its token needs no server stack
    from factlab.keyservice.serve import ServiceConfig, run_service

    config = ServiceConfig(host, port, certfile, keyfile, allow_plain_http)
    config.check()
    ask = passphrase_env is None and share_is_protected(share_path)
    share = load_share(share_path, passphrase=passphrase_from(passphrase_env, prompt=ask))
    info(
        f"key service {share.service}, round {share.round}, public share "
        f"{share.public_share.hex()}, on {'https' if certfile else 'http'}://{host}:{port}"
    )
    run_service(share, Store(db_path), config)
