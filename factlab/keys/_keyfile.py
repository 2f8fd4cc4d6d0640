"""What key files share: a JSON document, written once with mode 0600, its secret protected.

Round keys (:mod:`factlab.keys.round_keys`) and recipient keys (:mod:`factlab.keys.recipients`) are
JSON files that store their secret the same way. Without a passphrase the secret is stored as is, in
base64, and the file must be guarded like the key itself. With one, Argon2id (memory-hard, its
parameters stored in the file) derives a key-encryption key and AES-256-GCM encrypts the secret; the
rest of the document is the associated data, so no field of the file can be changed without opening
it failing.

The two kinds of file differ only in their field names and in which fields make up the
associated data, so both are parameters here.
"""

from __future__ import annotations

import base64
import json
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from factlab.errors import KeyFileError
from factlab.io import write_exclusive

__all__ = [
    "MIN_LENGTH",
    "b64",
    "is_locked",
    "lock",
    "read_document",
    "unb64",
    "unlock",
    "write_document",
]

#: Value of ``protection.method`` in a passphrase-protected file.
METHOD: Final = "argon2id+aes-256-gcm"
#: Argon2id parameters for new files (every file stores its own, and is opened with those).
MEMORY_KIB: Final = 64 * 1024
ITERATIONS: Final = 3
LANES: Final = 4
#: Shortest passphrase accepted, in characters.
MIN_LENGTH: Final = 8
# Bounds on the parameters a file may claim, so a crafted file cannot make us allocate without
# limit. The lower memory bound admits the cheap parameters test suites write.
_LIMITS: Final = {"memory_kib": (1 << 10, 4 << 20), "iterations": (1, 64), "lanes": (1, 64)}
_SALT_BYTES: Final = 16
_NONCE_BYTES: Final = 12

#: Builds the associated data from the document as stored, without its ciphertext field.
AssociatedData = Callable[[Mapping[str, Any]], bytes]


def b64(data: bytes) -> str:
    """Base64 text of ``data``, as key files store bytes."""
    return base64.b64encode(data).decode("ascii")


def unb64(value: Any, *, source: str, name: str) -> bytes:
    """The bytes of a base64 field; KeyFileError naming ``source`` and field ``name`` otherwise."""
    try:
        return base64.b64decode(str(value).encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise KeyFileError(f"{source}: field {name!r} is not valid base64") from exc


def write_document(path: Path, document: Mapping[str, Any], *, mode: int, force: bool) -> None:
    """Write a key file's document as indented, key-sorted JSON; never over a file unless
    ``force``.

    Raises:
        KeyFileError: the file exists (without ``force``).
        InputError: the folder does not exist.
    """
    payload = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    try:
        write_exclusive(path, payload, mode=mode, force=force)
    except FileExistsError:
        raise KeyFileError(f"{path}: file exists (use --force to overwrite)") from None


def read_document(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in a key file; KeyFileError naming ``what`` (e.g. ``key file``) otherwise."""
    if not path.is_file():
        raise KeyFileError(f"{path}: key file not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: not a factlab {what} (unreadable or not JSON)") from exc
    if not isinstance(document, dict):
        raise KeyFileError(f"{path}: not a factlab {what}")
    return document


def _kek(passphrase: str, salt: bytes, parameters: Mapping[str, int], *, normalise: bool) -> bytes:
    text = unicodedata.normalize("NFC", passphrase) if normalise else passphrase
    kdf = Argon2id(
        salt=salt,
        length=32,
        iterations=parameters["iterations"],
        lanes=parameters["lanes"],
        memory_cost=parameters["memory_kib"],
    )
    return kdf.derive(text.encode("utf-8"))


def lock(
    document: Mapping[str, Any],
    secret: bytes,
    passphrase: str | None,
    *,
    plain_field: str,
    sealed_field: str,
    associated_data: AssociatedData,
    normalise: bool = True,
) -> dict[str, Any]:
    """``document`` with its ``protection`` and the secret: under ``plain_field`` as is, or
    under ``sealed_field`` encrypted with ``passphrase``.

    Args:
        document: the file's other fields (the header).
        secret: the bytes to protect.
        passphrase: None to store the secret as is.
        plain_field: field of an unprotected secret.
        sealed_field: field of the encrypted secret.
        associated_data: the bytes bound to the ciphertext, made from the stored document
            without ``sealed_field``.
        normalise: read the passphrase in Unicode NFC form, so that one typed with composed or
            decomposed accents opens the file either way.

    Raises:
        KeyFileError: the passphrase is shorter than :data:`MIN_LENGTH`.

    Example:
        >>> stored = lock({"name": "n"}, b"secret", "correct horse", plain_field="s",
        ...     sealed_field="c", associated_data=lambda d: repr(sorted(d.items())).encode())
        >>> stored["protection"]["method"], "s" in stored
        ('argon2id+aes-256-gcm', False)
    """
    if passphrase is None:
        return {**document, "protection": {"method": "none"}, plain_field: b64(secret)}
    if len(passphrase) < MIN_LENGTH:
        raise KeyFileError(f"passphrase too short: at least {MIN_LENGTH} characters")
    salt, nonce = secrets.token_bytes(_SALT_BYTES), secrets.token_bytes(_NONCE_BYTES)
    # Read at call time, so tests can make new files cheap to open.
    parameters = {"memory_kib": MEMORY_KIB, "iterations": ITERATIONS, "lanes": LANES}
    stored = {
        **document,
        "protection": {"method": METHOD, "salt": b64(salt), "nonce": b64(nonce), **parameters},
    }
    kek = _kek(passphrase, salt, parameters, normalise=normalise)
    ciphertext = AESGCM(kek).encrypt(nonce, secret, associated_data(stored))
    return {**stored, sealed_field: b64(ciphertext)}


def is_locked(document: Mapping[str, Any]) -> bool:
    """Whether opening the document's secret needs a passphrase."""
    protection = document.get("protection")
    return not (isinstance(protection, Mapping) and protection.get("method") == "none")


def unlock(
    document: Mapping[str, Any],
    passphrase: str | None,
    *,
    source: str,
    plain_field: str,
    sealed_field: str,
    associated_data: AssociatedData,
    normalise: bool = True,
) -> bytes:
    """The secret of a document written by :func:`lock` (same fields and associated data).

    Raises:
        KeyFileError: naming ``source``: the protection is damaged or of an unknown method, the
            passphrase is missing or wrong, or a field was changed.
    """
    protection = document.get("protection")
    if not isinstance(protection, Mapping):
        raise KeyFileError(f"{source}: damaged key file (field 'protection')")
    method = protection.get("method")
    if method == "none":
        return unb64(document.get(plain_field, ""), source=source, name=plain_field)
    if method != METHOD:
        raise KeyFileError(f"{source}: unknown key protection method")
    if passphrase is None:
        raise KeyFileError(
            f"{source}: the key file is passphrase-protected; a passphrase is needed"
        )
    try:
        parameters = {name: int(protection[name]) for name in _LIMITS}
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"{source}: damaged key file (protection parameters)") from exc
    for name, (low, high) in _LIMITS.items():
        if not low <= parameters[name] <= high:
            raise KeyFileError(f"{source}: damaged key file (protection.{name} out of range)")
    salt = unb64(protection.get("salt", ""), source=source, name="protection.salt")
    nonce = unb64(protection.get("nonce", ""), source=source, name="protection.nonce")
    ciphertext = unb64(document.get(sealed_field, ""), source=source, name=sealed_field)
    if len(nonce) != _NONCE_BYTES or not salt:
        raise KeyFileError(f"{source}: damaged key file (protection parameters)")
    kek = _kek(passphrase, salt, parameters, normalise=normalise)
    stored = {name: value for name, value in document.items() if name != sealed_field}
    try:
        return AESGCM(kek).decrypt(nonce, ciphertext, associated_data(stored))
    except InvalidTag:
        raise KeyFileError(f"{source}: wrong passphrase or damaged key file") from None
