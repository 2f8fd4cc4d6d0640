"""Commands ``seal``, ``unseal`` and ``key new-recipient``: files only the trusted party can open.

Every command appends a line to the audit log (``--audit-log``, else ``FACTLAB_AUDIT_LOG``, else
``factlab-audit.jsonl`` beside the output).
"""

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
    passphrase_env_option,
    passphrase_from,
    progress,
    refuse_existing,
)
from factlab.cli.keys import key_group
from factlab.keys.recipients import (
    load_recipient_private,
    load_recipient_public,
    new_recipient,
    recipient_is_protected,
    write_recipient,
)
from factlab.keys.seal import seal, unseal
from factlab.manifest import Manifest
from factlab.steward.audit_lines import recipient_details, sealed_details

__all__ = ["key_new_recipient", "seal_command", "unseal_command"]

_AUDIT_LOG = audit_log_option
_PASSPHRASE_ENV = passphrase_env_option


def _rows(manifest: Manifest) -> dict[str, int]:
    return {"total": manifest.rows, **manifest.rows_by_status}


@main.command("seal")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The recipient's public key file (NAME.pub).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sealed file to write (e.g. FILE.sealed).",
)
@force_option
@_AUDIT_LOG
@guarded
def seal_command(file: Path, to: Path, out: Path, force: bool, audit_log: Path | None) -> None:
    """Encrypt the factlab Parquet FILE so that only the recipient can open it.

    The file's manifest stays readable in the sealed file's header; the rows do not.
    """
    refuse_existing(out, force, inputs=[file, to], audit_log=audit_log)
    arguments = {"file": file, "to": to, "out": out}
    with audited(
        "seal", inputs=[file], output=out, arguments=arguments, log=audit_log, overwrite=force
    ) as trail:
        recipient = load_recipient_public(to)
        recipient_details(trail, recipient)
        with progress("sealing", total=file.stat().st_size if file.is_file() else None) as step:
            header = seal(file, recipient, out, progress=step, inputs=[to], overwrite=force)
        sealed_details(trail, header)
    info(
        f"sealed {file} ({header.manifest.rows} rows) for {recipient.name} "
        f"(key id {recipient.key_id}): {out}"
    )


@main.command("unseal")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--recipient",
    "recipient_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The recipient's private key file (NAME.recipient.key).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Parquet file to write.",
)
@_PASSPHRASE_ENV
@force_option
@_AUDIT_LOG
@guarded
def unseal_command(
    file: Path,
    recipient_path: Path,
    out: Path,
    passphrase_env: str | None,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Decrypt the sealed FILE with the recipient's private key.

    A damaged, tampered, truncated or wrongly addressed file is refused and nothing is written.
    """
    refuse_existing(out, force, inputs=[file, recipient_path], audit_log=audit_log)
    arguments = {
        "file": file,
        "recipient": recipient_path,
        "out": out,
        "passphrase_env": passphrase_env,
    }
    with audited(
        "unseal", inputs=[file], output=out, arguments=arguments, log=audit_log, overwrite=force
    ) as trail:
        ask = passphrase_env is None and recipient_is_protected(recipient_path)
        passphrase = passphrase_from(passphrase_env, prompt=ask)
        private = load_recipient_private(recipient_path, passphrase)
        trail.add_detail("recipient", private.name)
        trail.add_detail("recipient_key_id", private.key_id)
        with progress("unsealing", total=file.stat().st_size if file.is_file() else None) as step:
            header = unseal(
                file, private, out, progress=step, inputs=[recipient_path], overwrite=force
            )
        trail.set_key_fingerprint(header.manifest.key_fingerprint)
        trail.add_rows(_rows(header.manifest))
    provider = header.manifest.provider or "linked file"
    info(f"unsealed {file} ({provider}, {header.manifest.rows} rows): {out}")


@key_group.command("new-recipient")
@click.argument("name")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write NAME.recipient.key and NAME.pub into.",
)
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
@click.option(
    "--passphrase", "ask", is_flag=True, help="Protect the private key with a passphrase (prompt)."
)
@_PASSPHRASE_ENV
@_AUDIT_LOG
@guarded
def key_new_recipient(
    name: str,
    out_dir: Path,
    force: bool,
    ask: bool,
    passphrase_env: str | None,
    audit_log: Path | None,
) -> None:
    """Make the trusted party's key pair for sealed files: NAME.recipient.key and NAME.pub.

    Hand out NAME.pub to the providers and tell them its key id through another channel; keep
    NAME.recipient.key (mode 0600) to yourself.
    """
    arguments = {"name": name, "out_dir": out_dir, "force": force, "passphrase_env": passphrase_env}
    with audited(
        "key new-recipient", output=out_dir, arguments=arguments, log=audit_log, overwrite=force
    ) as trail:
        passphrase = passphrase_from(passphrase_env, prompt=ask, confirm=True)
        private, public = new_recipient(name)
        private_path, public_path = write_recipient(
            private, out_dir, passphrase=passphrase, force=force
        )
        trail.add_detail("recipient_key_id", public.key_id)
        trail.add_detail("protected", passphrase is not None)
        # The private key file's hash is not logged: it is a function of the secret.
        trail.add_output(private_path, digest=False)
        trail.add_output(public_path)
    protection = "passphrase-protected" if passphrase else "not passphrase-protected: guard it"
    info(f"wrote {private_path} ({protection}) and {public_path}")
    click.echo(f"recipient: {public.name}\nkey id:    {public.key_id}")
