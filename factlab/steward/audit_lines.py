"""What the steward's steps put in their audit lines, for every face (the commands and the app).

``factlab pseudonymise`` (and its ``--preview``) and ``factlab seal`` run their library call
inside :func:`factlab.audit.audited`; the app runs the same calls under the same lines. The
facts each line holds beyond its arguments are added here, once, so that the two faces cannot
drift apart (the app once left out the custody of a blind round):

- :func:`key_details`: the key's fingerprint, the custody of a blind round and the digest of the
  round's contract;
- :func:`pseudonymised_details`: the input's digest as it was read and the rows by BSN status;
- :func:`recipient_details` and :func:`sealed_details`: whom a file was sealed for, and the
  fingerprint and rows of what was sealed.

Only non-secret facts: fingerprints, key ids, digests of public things, counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from factlab.audit import AuditTrail
from factlab.keys.round_keys import Key
from factlab.steward.blind import BlindService
from factlab.steward.contract import Contract
from factlab.steward.quality import Quality

if TYPE_CHECKING:
    # annotations only: importing the seal would load pyarrow for every steward command
    from factlab.keys.recipients import RecipientPublicKey
    from factlab.keys.seal import SealedHeader

__all__ = ["key_details", "pseudonymised_details", "recipient_details", "sealed_details"]


def key_details(trail: AuditTrail, key: Key | BlindService, contract: Contract | None) -> None:
    """The key a ``pseudonymise`` line used: its fingerprint, the custody of a blind round
    (``split`` or ``single``), and the digest of the round's contract it checked against.

    Example:
        >>> from factlab.keys.round_keys import new_round_key
        >>> trail = AuditTrail()
        >>> key_details(trail, new_round_key("doc").provider_key(), None)
        >>> trail._key_fingerprint is not None, trail._details
        (True, {})
    """
    trail.set_key_fingerprint(key.fingerprint)
    if isinstance(key, BlindService):
        trail.add_detail("custody", key.custody)
    if contract is not None:
        trail.add_detail("contract_sha256", contract.sha256)


def pseudonymised_details(
    trail: AuditTrail,
    quality: Quality,
    *,
    input_path: str | Path | None = None,
    input_sha256: str | None = None,
) -> None:
    """What a ``pseudonymise`` line says it read: the rows by BSN status, and (a real run) the
    digest of the export's bytes as they were parsed."""
    if input_path is not None and input_sha256 is not None:
        trail.set_input_sha256(input_path, input_sha256)
    trail.add_rows({"total": quality.rows, **quality.rows_by_status})


def recipient_details(trail: AuditTrail, recipient: RecipientPublicKey) -> None:
    """Whom a ``seal`` line sealed for: the recipient's name and key id."""
    trail.add_detail("recipient", recipient.name)
    trail.add_detail("recipient_key_id", recipient.key_id)


def sealed_details(trail: AuditTrail, header: SealedHeader) -> None:
    """What a ``seal`` line sealed: the file's key fingerprint and its rows by BSN status."""
    manifest = header.manifest
    trail.set_key_fingerprint(manifest.key_fingerprint)
    trail.add_rows({"total": manifest.rows, **manifest.rows_by_status})
