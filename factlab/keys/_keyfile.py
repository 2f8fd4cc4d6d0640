"""What key files share: a JSON document, written once with mode 0600, its secret protected.

Round keys (:mod:`factlab.keys.round_keys`) and recipient keys (:mod:`factlab.keys.recipients`) are
JSON files that store their secret the same way. Without a passphrase the secret is stored as is, in
base64, and the file must be guarded like the key itself. With one, Argon2id (memory-hard, its
parameters stored in the file) derives a key-encryption key and AES-256-GCM encrypts the secret; the
rest of the document is the associated data, so no field of the file can be changed without opening
it failing.

The two kinds of file differ only in their field names and in which fields make up the
associated data, so both are parameters here.

Reading a key file is guarded against files made to hurt: a file larger than any key file is
refused before it is parsed, and the Argon2id cost a file asks for is capped
(:data:`MAX_MEMORY_KIB`, :data:`MAX_ITERATIONS`, :data:`MAX_LANES`) before anything is derived. On
POSIX, a file that holds a secret and that other users may read is refused or warned about
(:func:`check_access`, docs/threat-model.md).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from factlab._export_checks import open_regular
from factlab.errors import FactlabWarning, InputError, KeyFileError
from factlab.io import write_exclusive

__all__ = [
    "MAX_ITERATIONS",
    "MAX_LANES",
    "MAX_MEMORY_KIB",
    "MIN_LENGTH",
    "b64",
    "check_access",
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
#: The most a key file may ask of Argon2id: 1 GiB of memory (16 times the default), 10 passes
#: and 16 lanes. A file is opened with the parameters it stores, so without caps a crafted file
#: could demand 4 GiB times 64 passes (minutes of work and memory exhaustion) before the
#: passphrase check can fail. Within the caps, opening takes at most about 20 s.
MAX_MEMORY_KIB: Final = 1 << 20
MAX_ITERATIONS: Final = 10
MAX_LANES: Final = 16
# Bounds of each parameter a file may claim. The lower memory bound admits the cheap parameters
# test suites write; it is also above Argon2's own minimum of 8 KiB per lane.
_LIMITS: Final = {
    "memory_kib": (1 << 10, MAX_MEMORY_KIB),
    "iterations": (1, MAX_ITERATIONS),
    "lanes": (1, MAX_LANES),
}
# Key files are a few hundred bytes; anything far larger is not one, and is not parsed.
_MAX_FILE_BYTES: Final = 64 * 1024
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
    try:
        # a regular file only: a FIFO would wait for a writer forever, /dev/zero never end
        with open_regular(path, what="key file") as file:
            raw = file.read(_MAX_FILE_BYTES + 1)
    except InputError as exc:
        raise KeyFileError(str(exc)) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: not a factlab {what} (unreadable or not JSON)") from exc
    if len(raw) > _MAX_FILE_BYTES:
        raise KeyFileError(f"{path}: not a factlab {what} (larger than any key file)")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise KeyFileError(f"{path}: not a factlab {what} (unreadable or not JSON)") from exc
    if not isinstance(document, dict):
        raise KeyFileError(f"{path}: not a factlab {what}")
    return document


def check_access(path: Path, document: Mapping[str, Any]) -> None:
    """Refuse or warn about a key file that users other than its owner may open (POSIX only).

    A secret stored as is in a file every user may read (the ``o+r`` bit) is refused: the key
    must be taken as known to others, as OpenSSH does with a private key. Any other permission
    for the group or others (group read, a passphrase-protected file others may read, write
    access) gets a :class:`~factlab.errors.FactlabWarning`: the file may be shared on purpose
    within a group, but a passphrase-protected secret can still be guessed offline.

    Raises:
        KeyFileError: the file holds its secret as is and every user may read it.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.key"
        >>> _ = path.write_text("{}")
        >>> path.chmod(0o644)
        >>> check_access(path, {"protection": {"method": "none"}})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        factlab.errors.KeyFileError: ...: key file is readable by every user ...`chmod 600 ...`...
    """
    if os.name != "posix":
        return  # Windows has no permission bits; its ACLs are the user's to set
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # reading the file itself reports what is wrong with it
    if not mode & 0o077:
        return
    fix = f"run `chmod 600 {path}`"
    if mode & stat.S_IROTH and not is_locked(document):
        raise KeyFileError(
            f"{path}: key file is readable by every user of this computer (mode {mode:04o}): "
            f"{fix}, and treat the key as known to whoever could read it"
        )
    warnings.warn(
        f"{path}: key file is open to other users (mode {mode:04o}): {fix}",
        FactlabWarning,
        stacklevel=3,
    )


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


def _parameters(protection: Mapping[str, Any], source: str) -> dict[str, int]:
    """The Argon2id parameters a file stores, checked against the caps before any derivation."""
    parameters: dict[str, int] = {}
    for name, (low, high) in _LIMITS.items():
        value = protection.get(name)
        # bool is an int to Python, and "3" or 3.5 are no whole numbers as written by factlab
        if type(value) is not int:
            raise KeyFileError(
                f"{source}: damaged key file (protection.{name} is not a whole number)"
            )
        if value > high:
            raise KeyFileError(
                f"{source}: key file asks for protection.{name} = {value}, above factlab's "
                f"maximum of {high}; refused (the file is damaged or was not made by factlab)"
            )
        if value < low:
            raise KeyFileError(f"{source}: damaged key file (protection.{name} below {low})")
        parameters[name] = value
    return parameters


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
    parameters = _parameters(protection, source)
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
