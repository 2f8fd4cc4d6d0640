"""A key service's share of a blind round's OPRF key, and its file.

In a blind round (scheme ``factlab-voprf-ristretto255-v1``, docs/scheme.md) no steward holds a
key. The OPRF key ``k`` exists only as the sum of shares ``k = k1 + k2`` (mod the group
order), each made at random by one key service and never leaving it; the service publishes only
its public share ``pk_i = k_i·G``. The round's public key is ``pk1 + pk2``. Neither service can
evaluate the OPRF alone, nor learn the other's share from what it sees (docs/threat-model.md).
In single custody one service holds the whole key (``k = k1``).

A share file is JSON written once with mode 0600, like a key file: the share stored as is, or
sealed with a passphrase (Argon2id + AES-256-GCM, :mod:`factlab.keys._keyfile`) with the header
as associated data. Loading recomputes the public share from the secret and refuses a file
whose header says otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, NoReturn

from factlab._checks import require_path
from factlab.errors import KeyFileError
from factlab.keys import oprf
from factlab.keys._keyfile import (
    check_access,
    is_locked,
    lock,
    read_document,
    unlock,
    write_document,
)
from factlab.manifest import now_iso

__all__ = ["KeyShare", "load_share", "new_share", "share_is_protected", "write_share"]

SHARE_FILE_VERSION: Final = 1
_HEADER: Final = ("factlab_key_share", "round", "service", "public_share", "created")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ROUND: Final = re.compile(r"[^|]{1,100}")


class KeyShare:
    """One key service's share of a blind round's OPRF key.

    The secret is not in ``repr``, cannot be pickled, and is reachable only through
    :meth:`evaluate` (the service's one use of it).

    Attributes:
        round: the counting round.
        service: the service's name (``A``, ``B``, an organisation's short name).
        public_share: ``k_i·G``, 32 bytes, public.
        created: creation time, ISO 8601 UTC.

    Example:
        >>> share = new_share("demo-2026", "A")
        >>> len(share.public_share), "secret" in repr(share)
        (32, False)
    """

    __slots__ = ("_secret", "created", "public_share", "round", "service")

    round: str
    service: str
    public_share: bytes
    created: str
    _secret: bytes

    def __init__(self, round: str, service: str, created: str, *, _secret: bytes) -> None:
        if not isinstance(round, str) or not _ROUND.fullmatch(round):
            raise KeyFileError("round name must be 1-100 characters without '|'")
        if not isinstance(service, str) or not _NAME.fullmatch(service):
            raise KeyFileError("service name must be 1-64 letters, digits, '_', '.' or '-'")
        for name, value in (
            ("round", round),
            ("service", service),
            ("created", created),
            ("_secret", _secret),
            ("public_share", oprf.public_key(_secret)),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("a KeyShare is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a KeyShare cannot be pickled: it holds a secret")

    def __repr__(self) -> str:
        return (
            f"KeyShare(round={self.round!r}, service={self.service!r}, "
            f"public_share={self.public_share.hex()!r})"
        )

    __str__ = __repr__

    def evaluate(self, blinded: list[bytes], *, checked: bool = False) -> tuple[list[bytes], bytes]:
        """VOPRF ``BlindEvaluate`` of a batch under this share: evaluated elements and a proof.

        ``checked``: every element has passed :func:`~factlab.keys.oprf.deserialize_element`
        already (the key service checks them before it charges the quota), so they are not
        decoded a second time.

        Raises:
            OprfError: an element is not a valid ristretto255 element (or the identity).
        """
        elements = blinded if checked else [oprf.deserialize_element(item) for item in blinded]
        return oprf.blind_evaluate_batch(self._secret, self.public_share, elements)


def new_share(round_name: str, service: str) -> KeyShare:
    """A new random share (libsodium's CSPRNG) for ``service`` in ``round_name``."""
    return KeyShare(round_name.strip(), service, now_iso(), _secret=oprf.random_scalar())


def _associated_data(document: Mapping[str, Any]) -> bytes:
    header = {name: document[name] for name in _HEADER}
    return json.dumps(
        {"header": header, "protection": document["protection"]}, sort_keys=True
    ).encode()


def write_share(
    share: KeyShare, path: str | Path, *, passphrase: str | None = None, force: bool = False
) -> None:
    """Write a share file (mode 0600); with a passphrase the share is sealed.

    Raises:
        KeyFileError: the file exists (without ``force``), or the passphrase is too short.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.share"
        >>> write_share(new_share("demo", "A"), path)
        >>> load_share(path).service
        'A'
    """
    if not isinstance(share, KeyShare):
        raise TypeError("write_share: share must be a KeyShare")
    path = require_path(path, where="write_share", name="path")
    if path.exists() and not force:
        raise KeyFileError(f"{path}: file exists (use --force to overwrite)")
    header = {
        "factlab_key_share": SHARE_FILE_VERSION,
        "round": share.round,
        "service": share.service,
        "public_share": share.public_share.hex(),
        "created": share.created,
    }
    document = lock(
        header,
        share._secret,
        passphrase,
        plain_field="share",
        sealed_field="ciphertext",
        associated_data=_associated_data,
    )
    write_document(path, document, mode=0o600, force=force)


def load_share(path: str | Path, *, passphrase: str | None = None) -> KeyShare:
    """Load a share file; a sealed one needs its passphrase.

    Raises:
        KeyFileError: not found, not a share file, damaged, altered (its public share is not
            the secret's), readable by every user, or the passphrase is missing or wrong.
    """
    path = require_path(path, where="load_share", name="path")
    document = read_document(path, "share file")
    if document.get("factlab_key_share") != SHARE_FILE_VERSION:
        raise KeyFileError(f"{path}: not a factlab key share file (or an unsupported version)")
    missing = [name for name in (*_HEADER, "protection") if name not in document]
    if missing:
        raise KeyFileError(f"{path}: damaged share file (missing {', '.join(missing)})")
    check_access(path, document)
    secret = unlock(
        document,
        passphrase,
        source=str(path),
        plain_field="share",
        sealed_field="ciphertext",
        associated_data=_associated_data,
    )
    if len(secret) != oprf.SCALAR_BYTES:
        raise KeyFileError(f"{path}: damaged share file (share has the wrong length)")
    try:
        share = KeyShare(
            str(document["round"]),
            str(document["service"]),
            str(document["created"]),
            _secret=secret,
        )
    except oprf.OprfError:
        raise KeyFileError(f"{path}: damaged share file (the share is zero)") from None
    if share.public_share.hex() != document["public_share"]:
        raise KeyFileError(f"{path}: share file altered: its public share is not its secret's")
    return share


def share_is_protected(path: str | Path) -> bool:
    """Whether a share file is sealed with a passphrase."""
    path = require_path(path, where="share_is_protected", name="path")
    return is_locked(read_document(path, "share file"))
