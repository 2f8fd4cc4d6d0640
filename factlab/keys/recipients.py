"""Recipient keys: the key pair (X25519) a trusted party makes so that files can be sealed for it.

The trusted party makes a recipient key pair and hands out the public half (``NAME.pub``);
providers seal their pseudonymised files with it (:mod:`factlab.seal`), and only the holder of the
private half (``NAME.recipient.key``, mode 0600) can open them. The private key file can be
protected with a passphrase (Argon2id + AES-256-GCM, see :mod:`factlab.keys._keyfile`). Every key
has a key id, a fingerprint of the public key to compare out of band.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from factlab._checks import require_path, type_name
from factlab._version import __version__
from factlab.errors import KeyFileError
from factlab.keys._keyfile import (
    b64,
    check_access,
    is_locked,
    lock,
    read_document,
    unb64,
    unlock,
    write_document,
)
from factlab.manifest import now_iso

__all__ = [
    "RecipientPrivateKey",
    "RecipientPublicKey",
    "load_recipient_private",
    "load_recipient_public",
    "new_recipient",
    "recipient_is_protected",
    "require_recipient",
    "write_recipient",
]

PUBLIC_FORMAT: Final = "factlab-recipient-public"
PRIVATE_FORMAT: Final = "factlab-recipient-private"
#: Suffixes of the two key files written by :func:`write_recipient`.
PUBLIC_SUFFIX: Final = ".pub"
PRIVATE_SUFFIX: Final = ".recipient.key"

_KEY_ID_LABEL: Final = b"factlab-recipient-v1\x00"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Where the private key is stored, as is or passphrase-protected.
_PLAIN_FIELD: Final = "private_key"
_SEALED_FIELD: Final = "encrypted_private_key"


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _key_id(public_bytes: bytes) -> str:
    digest = hashlib.sha256(_KEY_ID_LABEL + public_bytes).hexdigest()[:32]
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class RecipientPublicKey:
    """The trusted party's public sealing key, as handed out to providers.

    Attributes:
        name: recipient name (also the key file's stem).
        key_id: fingerprint of the public key (128 bits, hex in groups); compare it out of band.
        public_bytes: the raw 32-byte X25519 public key.
    """

    name: str
    key_id: str
    public_bytes: bytes = field(repr=False)

    def x25519(self) -> X25519PublicKey:
        """The key as a ``cryptography`` object."""
        return X25519PublicKey.from_public_bytes(self.public_bytes)


class RecipientPrivateKey:
    """The trusted party's private opening key.

    Like a round key (:class:`~factlab.keys.round_keys.Key`), it keeps its secret to itself: not
    in ``repr``, not picklable (``TypeError``), no dataclass (so ``dataclasses.asdict`` and
    ``vars`` do not apply); ``copy.copy`` and ``copy.deepcopy`` return the key itself.

    Attributes:
        name: recipient name (also the key file's stem).
        key_id: fingerprint of the public key.
        secret: the X25519 private key, as a ``cryptography`` object.

    Example:
        >>> private, public = new_recipient("ttp")
        >>> private.key_id == public.key_id and "secret" not in repr(private)
        True
    """

    __slots__ = ("key_id", "name", "secret")

    name: str
    key_id: str
    secret: X25519PrivateKey

    def __init__(self, name: str, key_id: str, secret: X25519PrivateKey) -> None:
        if not isinstance(secret, X25519PrivateKey):
            raise TypeError(
                f"a recipient's secret must be an X25519PrivateKey; got {type(secret).__name__}"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "key_id", key_id)
        object.__setattr__(self, "secret", secret)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a recipient key is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"cannot delete field {name!r}: a recipient key is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a RecipientPrivateKey cannot be pickled: it holds a secret")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a RecipientPrivateKey cannot be pickled: it holds a secret")

    def __copy__(self) -> RecipientPrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> RecipientPrivateKey:
        return self

    def __repr__(self) -> str:
        return f"RecipientPrivateKey(name={self.name!r}, key_id={self.key_id!r})"

    __str__ = __repr__

    @property
    def public(self) -> RecipientPublicKey:
        """The matching public key."""
        return _public_of(self.name, self.secret)


def require_recipient(
    value: object,
    expected: type[RecipientPrivateKey] | type[RecipientPublicKey],
    *,
    where: str,
    name: str = "recipient",
) -> None:
    """Refuse a value that is not the recipient key ``expected``, saying how to load one.

    Example:
        >>> require_recipient("ttp.pub", RecipientPublicKey, where="seal")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: seal: recipient must be a RecipientPublicKey (load one with ...); got str
    """
    if not isinstance(value, expected):
        loader = (
            "factlab.load_recipient_public(path)"
            if expected is RecipientPublicKey
            else "factlab.load_recipient_private(path)"
        )
        raise TypeError(
            f"{where}: {name} must be a {expected.__name__} (load one with {loader}); "
            f"got {type_name(value)}"
        )


def _public_of(name: str, secret: X25519PrivateKey) -> RecipientPublicKey:
    raw = secret.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return RecipientPublicKey(name=name, key_id=_key_id(raw), public_bytes=raw)


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise KeyFileError(
            "recipient name must be 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it becomes the key file's name)"
        )
    return name


def new_recipient(name: str) -> tuple[RecipientPrivateKey, RecipientPublicKey]:
    """Make a new recipient key pair (X25519) from the operating system's CSPRNG.

    Raises:
        KeyFileError: the name is not a safe file name.

    Example:
        >>> private, public = new_recipient("ttp-2026")
        >>> public.name, len(public.public_bytes)
        ('ttp-2026', 32)
    """
    if not isinstance(name, str):
        raise TypeError(f"new_recipient: name must be a str; got {type_name(name)}")
    secret = X25519PrivateKey.generate()
    public = _public_of(_check_name(name), secret)
    return RecipientPrivateKey(name=name, key_id=public.key_id, secret=secret), public


def _public_document(public: RecipientPublicKey, created: str) -> dict[str, Any]:
    return {
        "format": PUBLIC_FORMAT,
        "version": 1,
        "name": public.name,
        "algorithm": "X25519",
        "key_id": public.key_id,
        "public_key": b64(public.public_bytes),
        "created": created,
        "factlab_version": __version__,
    }


def _private_document(
    private: RecipientPrivateKey, passphrase: str | None, created: str
) -> dict[str, Any]:
    document = {**_public_document(private.public, created), "format": PRIVATE_FORMAT}
    raw = private.secret.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    # The whole document except the ciphertext is the associated data: no field can change.
    return lock(
        document,
        raw,
        passphrase,
        plain_field=_PLAIN_FIELD,
        sealed_field=_SEALED_FIELD,
        associated_data=_canonical,
    )


def write_recipient(
    private: RecipientPrivateKey,
    folder: str | Path,
    *,
    passphrase: str | None = None,
    force: bool = False,
) -> tuple[Path, Path]:
    """Write ``NAME.recipient.key`` (mode 0600) and ``NAME.pub`` into ``folder``.

    Args:
        private: the key pair to store (the public half is derived from it).
        folder: an existing folder.
        passphrase: when given (at least 8 characters), the private key is sealed with
            Argon2id + AES-256-GCM.
        force: overwrite existing files; without it an existing file is refused and nothing
            is written.

    Returns:
        The paths of the private and the public key file.

    Raises:
        KeyFileError: a file exists (without ``force``) or the passphrase is too short.
        InputError: the folder does not exist.

    Example:
        >>> import tempfile
        >>> private, _ = new_recipient("ttp")
        >>> secret_path, public_path = write_recipient(private, tempfile.mkdtemp())
        >>> oct(secret_path.stat().st_mode & 0o777), public_path.name
        ('0o600', 'ttp.pub')
    """
    require_recipient(private, RecipientPrivateKey, where="write_recipient", name="private")
    folder = require_path(folder, where="write_recipient", name="folder")
    _check_name(private.name)
    private_path = folder / f"{private.name}{PRIVATE_SUFFIX}"
    public_path = folder / f"{private.name}{PUBLIC_SUFFIX}"
    if not force:
        existing = [str(path) for path in (private_path, public_path) if path.exists()]
        if existing:
            raise KeyFileError(f"{', '.join(existing)}: file exists (use --force to overwrite)")
    created = now_iso()
    private_document = _private_document(private, passphrase, created)
    public_document = _public_document(private.public, created)
    write_document(private_path, private_document, mode=0o600, force=force)
    try:
        write_document(public_path, public_document, mode=0o644, force=force)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return private_path, public_path


def _read_key_document(path: Path, expected: str) -> dict[str, Any]:
    document = read_document(path, "recipient key file")
    if document.get("format") != expected:
        kind = "public" if expected == PUBLIC_FORMAT else "private"
        raise KeyFileError(f"{path}: not a factlab recipient {kind} key file")
    if document.get("version") != 1 or document.get("algorithm") != "X25519":
        raise KeyFileError(f"{path}: unsupported recipient key version or algorithm")
    missing = [name for name in ("name", "key_id", "public_key") if name not in document]
    if missing:
        raise KeyFileError(f"{path}: damaged key file (missing {', '.join(missing)})")
    # The name becomes a file name when the key is written again: no path may hide in it.
    if not isinstance(document["name"], str) or not _NAME.fullmatch(document["name"]):
        raise KeyFileError(f"{path}: damaged key file (field 'name')")
    return document


def load_recipient_public(path: str | Path) -> RecipientPublicKey:
    """Load a recipient's public key file (``NAME.pub``) and check its key id.

    Raises:
        KeyFileError: missing, not a public key file, or damaged (key id does not match).

    Example:
        >>> import tempfile
        >>> private, public = new_recipient("ttp")
        >>> _, public_path = write_recipient(private, tempfile.mkdtemp())
        >>> load_recipient_public(public_path) == public
        True
    """
    path = require_path(path, where="load_recipient_public", name="path")
    document = _read_key_document(path, PUBLIC_FORMAT)
    raw = unb64(document["public_key"], source=str(path), name="public_key")
    if len(raw) != 32 or _key_id(raw) != document["key_id"]:
        raise KeyFileError(f"{path}: damaged key file (key id does not match the public key)")
    return RecipientPublicKey(name=str(document["name"]), key_id=_key_id(raw), public_bytes=raw)


def recipient_is_protected(path: str | Path) -> bool:
    """Whether a recipient private key file needs a passphrase."""
    path = require_path(path, where="recipient_is_protected", name="path")
    return is_locked(_read_key_document(path, PRIVATE_FORMAT))


def load_recipient_private(path: str | Path, passphrase: str | None = None) -> RecipientPrivateKey:
    """Load a recipient's private key file; a protected one needs its passphrase.

    On POSIX, a file other users may open gets a :class:`~factlab.errors.FactlabWarning`; one that
    holds the private key as is and every user may read is refused (docs/threat-model.md).

    Raises:
        TypeError: ``path`` is not a path.
        KeyFileError: missing, not a private key file, damaged, readable by every user,
            passphrase missing or wrong.

    Example:
        >>> import tempfile
        >>> private, _ = new_recipient("ttp")
        >>> path, _ = write_recipient(private, tempfile.mkdtemp(), passphrase="correct horse")
        >>> load_recipient_private(path, "correct horse").key_id == private.key_id
        True
    """
    path = require_path(path, where="load_recipient_private", name="path")
    if passphrase is not None and not isinstance(passphrase, str):
        raise TypeError(
            f"load_recipient_private: passphrase must be a str; got {type_name(passphrase)}"
        )
    document = _read_key_document(path, PRIVATE_FORMAT)
    check_access(path, document)
    raw = unlock(
        document,
        passphrase,
        source=str(path),
        plain_field=_PLAIN_FIELD,
        sealed_field=_SEALED_FIELD,
        associated_data=_canonical,
    )
    try:
        secret = X25519PrivateKey.from_private_bytes(raw)
    except ValueError:
        raise KeyFileError(f"{path}: damaged key file (private key has the wrong length)") from None
    name = str(document["name"])
    public = _public_of(name, secret)
    if public.key_id != document["key_id"] or b64(public.public_bytes) != document["public_key"]:
        raise KeyFileError(f"{path}: damaged key file (key id does not match the private key)")
    return RecipientPrivateKey(name=name, key_id=public.key_id, secret=secret)
