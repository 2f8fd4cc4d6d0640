"""Sealed files: a pseudonymised Parquet file encrypted for the trusted party alone.

The trusted party makes a recipient key pair (X25519) and hands out the public half (``NAME.pub``).
A provider seals its pseudonymised file with it; only the holder of the private half can open it.

Layout of a sealed file::

    b"factlab-sealed-v1\\n"
    u32 header length | header (canonical JSON, in the clear)
    u32 wrapped length | HPKE(recipient, info = label + header) of a random 256-bit file key
    chunks: AES-256-GCM(file key, nonce = chunk counter,
                        aad = SHA-256(header) | counter | final flag) of 1 MiB of the file each

The header holds the file's factlab manifest, so a manifest can be checked before decryption
(:func:`read_sealed_manifest`); it also names the recipient key id, the payload size and SHA-256.
The header is bound to the file key (HPKE ``info``) and to every chunk (associated data), so it
cannot be altered; the counter and final flag make reordered, dropped or truncated chunks fail.
HPKE base mode authenticates the content, not the sender: anyone with the public key can seal a
file, so linking still checks the manifest's key fingerprint (see ``docs/sealed-files.md``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import struct
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from factlab import schema
from factlab._version import __version__
from factlab.errors import InputError, KeyFileError
from factlab.io import atomic_path
from factlab.manifest import Manifest, now_iso, read_manifest

__all__ = [
    "RecipientPrivateKey",
    "RecipientPublicKey",
    "SealedHeader",
    "is_sealed",
    "load_recipient_private",
    "load_recipient_public",
    "new_recipient",
    "open_sealed",
    "read_sealed_header",
    "read_sealed_manifest",
    "recipient_is_protected",
    "seal",
    "unseal",
    "unseal_to_temporary",
    "write_recipient",
]

MAGIC: Final = b"factlab-sealed-v1\n"
SEALED_FORMAT: Final = "factlab-sealed"
PUBLIC_FORMAT: Final = "factlab-recipient-public"
PRIVATE_FORMAT: Final = "factlab-recipient-private"
#: Suffixes of the two key files written by :func:`write_recipient`.
PUBLIC_SUFFIX: Final = ".pub"
PRIVATE_SUFFIX: Final = ".recipient.key"
CHUNK_SIZE: Final = 1 << 20
#: Argon2id parameters for passphrase-protected private keys (stored in every file).
ARGON2_MEMORY_KIB: Final = 64 * 1024
ARGON2_ITERATIONS: Final = 3
ARGON2_LANES: Final = 4
MIN_PASSPHRASE_LENGTH: Final = 8

_SUITE: Final = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_SUITE_NAME: Final = {
    "kem": "DHKEM(X25519, HKDF-SHA256)",
    "kdf": "HKDF-SHA256",
    "aead": "AES-256-GCM",
    "payload": "AES-256-GCM chunks",
}
_WRAP_INFO: Final = b"factlab-sealed-v1 file key\x00"
_CHUNK_LABEL: Final = b"factlab-sealed-v1 chunk\x00"
_KEY_ID_LABEL: Final = b"factlab-recipient-v1\x00"
_TAG: Final = 16
_LENGTH: Final = struct.Struct(">I")
# Bounds on what a header may claim, so a crafted file cannot make us allocate without limit.
_MAX_HEADER: Final = 1 << 20
_MAX_WRAPPED: Final = 4096
_CHUNK_RANGE: Final = (1 << 10, 1 << 26)
_ARGON2_LIMITS: Final = {"memory_kib": (8 * 1024, 4 << 20), "iterations": (1, 64), "lanes": (1, 64)}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, *, source: str, name: str) -> bytes:
    try:
        return base64.b64decode(str(value).encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise KeyFileError(f"{source}: field {name!r} is not valid base64") from exc


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _key_id(public_bytes: bytes) -> str:
    digest = hashlib.sha256(_KEY_ID_LABEL + public_bytes).hexdigest()[:32]
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4))


# --------------------------------------------------------------------------- recipient keys


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


@dataclass(frozen=True, eq=False)
class RecipientPrivateKey:
    """The trusted party's private opening key. Its secret never appears in ``repr``.

    Example:
        >>> private, public = new_recipient("ttp")
        >>> private.key_id == public.key_id and "secret" not in repr(private)
        True
    """

    name: str
    key_id: str
    secret: X25519PrivateKey = field(repr=False)

    @property
    def public(self) -> RecipientPublicKey:
        """The matching public key."""
        return _public_of(self.name, self.secret)


def _public_of(name: str, secret: X25519PrivateKey) -> RecipientPublicKey:
    raw = secret.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return RecipientPublicKey(name=name, key_id=_key_id(raw), public_bytes=raw)


def _check_name(name: str) -> str:
    if not _NAME.match(name):
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
    secret = X25519PrivateKey.generate()
    public = _public_of(_check_name(name), secret)
    return RecipientPrivateKey(name=name, key_id=public.key_id, secret=secret), public


def _kek(passphrase: str, salt: bytes, memory_kib: int, iterations: int, lanes: int) -> bytes:
    # NFC so a passphrase typed on another system (composed vs decomposed accents) still fits.
    text = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    kdf = Argon2id(salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory_kib)
    return kdf.derive(text)


def _public_document(public: RecipientPublicKey, created: str) -> dict[str, Any]:
    return {
        "format": PUBLIC_FORMAT,
        "version": 1,
        "name": public.name,
        "algorithm": "X25519",
        "key_id": public.key_id,
        "public_key": _b64(public.public_bytes),
        "created": created,
        "factlab_version": __version__,
    }


def _private_document(
    private: RecipientPrivateKey, passphrase: str | None, created: str
) -> dict[str, Any]:
    document = {**_public_document(private.public, created), "format": PRIVATE_FORMAT}
    raw = private.secret.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    if passphrase is None:
        document["protection"] = {"method": "none"}
        document["private_key"] = _b64(raw)
        return document
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise KeyFileError(f"passphrase too short: at least {MIN_PASSPHRASE_LENGTH} characters")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    document["protection"] = {
        "method": "argon2id+aes-256-gcm",
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "memory_kib": ARGON2_MEMORY_KIB,
        "iterations": ARGON2_ITERATIONS,
        "lanes": ARGON2_LANES,
    }
    kek = _kek(passphrase, salt, ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES)
    # The whole document except the ciphertext is the associated data: no field can change.
    document["encrypted_private_key"] = _b64(AESGCM(kek).encrypt(nonce, raw, _canonical(document)))
    return document


def _write_new(path: Path, payload: bytes, *, mode: int, force: bool) -> None:
    """Write ``payload`` with ``mode``, all or nothing, never over a file unless ``force``."""
    if not path.parent.is_dir():
        raise InputError(f"{path}: the output folder does not exist")
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(temporary, path)
            return
        try:
            # link() refuses an existing target, so a file made meanwhile is never overwritten.
            os.link(temporary, path)
        except FileExistsError:
            raise KeyFileError(f"{path}: file exists (use --force to overwrite)") from None
        except OSError:  # a file system without hard links: fall back to check-then-rename
            if path.exists():
                raise KeyFileError(f"{path}: file exists (use --force to overwrite)") from None
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


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
    folder = Path(folder)
    private_path = folder / f"{private.name}{PRIVATE_SUFFIX}"
    public_path = folder / f"{private.name}{PUBLIC_SUFFIX}"
    if not force:
        existing = [str(path) for path in (private_path, public_path) if path.exists()]
        if existing:
            raise KeyFileError(f"{', '.join(existing)}: file exists (use --force to overwrite)")
    created = now_iso()
    private_document = _private_document(private, passphrase, created)
    private_text = json.dumps(private_document, indent=2, sort_keys=True)
    public_text = json.dumps(_public_document(private.public, created), indent=2, sort_keys=True)
    _write_new(private_path, (private_text + "\n").encode(), mode=0o600, force=force)
    try:
        _write_new(public_path, (public_text + "\n").encode(), mode=0o644, force=force)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return private_path, public_path


def _read_key_document(path: Path, expected: str) -> dict[str, Any]:
    if not path.is_file():
        raise KeyFileError(f"{path}: key file not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: not a factlab recipient key file (not JSON)") from exc
    if not isinstance(document, dict) or document.get("format") != expected:
        kind = "public" if expected == PUBLIC_FORMAT else "private"
        raise KeyFileError(f"{path}: not a factlab recipient {kind} key file")
    if document.get("version") != 1 or document.get("algorithm") != "X25519":
        raise KeyFileError(f"{path}: unsupported recipient key version or algorithm")
    missing = [name for name in ("name", "key_id", "public_key") if name not in document]
    if missing:
        raise KeyFileError(f"{path}: damaged key file (missing {', '.join(missing)})")
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
    path = Path(path)
    document = _read_key_document(path, PUBLIC_FORMAT)
    raw = _unb64(document["public_key"], source=str(path), name="public_key")
    if len(raw) != 32 or _key_id(raw) != document["key_id"]:
        raise KeyFileError(f"{path}: damaged key file (key id does not match the public key)")
    return RecipientPublicKey(name=str(document["name"]), key_id=_key_id(raw), public_bytes=raw)


def recipient_is_protected(path: str | Path) -> bool:
    """Whether a recipient private key file needs a passphrase."""
    document = _read_key_document(Path(path), PRIVATE_FORMAT)
    protection = document.get("protection")
    return not (isinstance(protection, dict) and protection.get("method") == "none")


def _decrypt_private(path: Path, document: dict[str, Any], passphrase: str | None) -> bytes:
    protection = document.get("protection")
    if not isinstance(protection, dict):
        raise KeyFileError(f"{path}: damaged key file (field 'protection')")
    if protection.get("method") == "none":
        return _unb64(document.get("private_key", ""), source=str(path), name="private_key")
    if protection.get("method") != "argon2id+aes-256-gcm":
        raise KeyFileError(f"{path}: unknown key protection method")
    if passphrase is None:
        raise KeyFileError(f"{path}: the key file is passphrase-protected; a passphrase is needed")
    try:
        numbers = {name: int(protection[name]) for name in _ARGON2_LIMITS}
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"{path}: damaged key file (protection parameters)") from exc
    for name, (low, high) in _ARGON2_LIMITS.items():
        if not low <= numbers[name] <= high:
            raise KeyFileError(f"{path}: damaged key file (protection.{name} out of range)")
    salt = _unb64(protection.get("salt", ""), source=str(path), name="protection.salt")
    nonce = _unb64(protection.get("nonce", ""), source=str(path), name="protection.nonce")
    sealed = _unb64(
        document.get("encrypted_private_key", ""), source=str(path), name="encrypted_private_key"
    )
    if len(nonce) != 12 or not salt:
        raise KeyFileError(f"{path}: damaged key file (protection parameters)")
    kek = _kek(passphrase, salt, numbers["memory_kib"], numbers["iterations"], numbers["lanes"])
    associated = {
        name: value for name, value in document.items() if name != "encrypted_private_key"
    }
    try:
        return AESGCM(kek).decrypt(nonce, sealed, _canonical(associated))
    except InvalidTag:
        raise KeyFileError(f"{path}: wrong passphrase or damaged key file") from None


def load_recipient_private(path: str | Path, passphrase: str | None = None) -> RecipientPrivateKey:
    """Load a recipient's private key file; a protected one needs its passphrase.

    Raises:
        KeyFileError: missing, not a private key file, damaged, passphrase missing or wrong.

    Example:
        >>> import tempfile
        >>> private, _ = new_recipient("ttp")
        >>> path, _ = write_recipient(private, tempfile.mkdtemp(), passphrase="correct horse")
        >>> load_recipient_private(path, "correct horse").key_id == private.key_id
        True
    """
    path = Path(path)
    document = _read_key_document(path, PRIVATE_FORMAT)
    raw = _decrypt_private(path, document, passphrase)
    try:
        secret = X25519PrivateKey.from_private_bytes(raw)
    except ValueError:
        raise KeyFileError(f"{path}: damaged key file (private key has the wrong length)") from None
    name = str(document["name"])
    public = _public_of(name, secret)
    if public.key_id != document["key_id"] or _b64(public.public_bytes) != document["public_key"]:
        raise KeyFileError(f"{path}: damaged key file (key id does not match the private key)")
    return RecipientPrivateKey(name=name, key_id=public.key_id, secret=secret)


# --------------------------------------------------------------------------- sealed files


@dataclass(frozen=True)
class SealedHeader:
    """The clear header of a sealed file: what it holds and for whom, without the content.

    Attributes:
        manifest: the sealed Parquet file's factlab manifest.
        recipient_name: name of the recipient key it is sealed for.
        recipient_key_id: key id of that recipient key.
        payload_size: size of the sealed Parquet file in bytes.
        payload_sha256: SHA-256 of the sealed Parquet file.
        chunk_size: plaintext bytes per encrypted chunk.
        source_name: file name of the Parquet file when it was sealed.
        sealed_at: time of sealing, ISO 8601 UTC.
        factlab_version: version of factlab that sealed it.
    """

    manifest: Manifest
    recipient_name: str
    recipient_key_id: str
    payload_size: int
    payload_sha256: str
    chunk_size: int
    source_name: str
    sealed_at: str
    factlab_version: str

    def _document(self) -> dict[str, Any]:
        return {
            "format": SEALED_FORMAT,
            "version": 1,
            "suite": dict(_SUITE_NAME),
            "recipient": {"name": self.recipient_name, "key_id": self.recipient_key_id},
            "payload": {
                "size": self.payload_size,
                "sha256": self.payload_sha256,
                "chunk_size": self.chunk_size,
                "source_name": self.source_name,
            },
            "manifest": json.loads(self.manifest.to_json()),
            "sealed_at": self.sealed_at,
            "factlab_version": self.factlab_version,
        }

    @property
    def chunks(self) -> int:
        """Number of encrypted chunks (an empty payload still has one, final chunk)."""
        return max(1, -(-self.payload_size // self.chunk_size))


def _parse_header(raw: bytes, source: str) -> SealedHeader:
    try:
        document = json.loads(raw.decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError("not an object")
        if document.get("format") != SEALED_FORMAT or document.get("version") != 1:
            raise InputError(f"{source}: unsupported sealed file format or version")
        if document.get("suite") != _SUITE_NAME:
            raise InputError(f"{source}: sealed with an unsupported cipher suite")
        recipient, payload = document["recipient"], document["payload"]
        header = SealedHeader(
            manifest=Manifest.from_json(json.dumps(document["manifest"]), source=source),
            recipient_name=str(recipient["name"]),
            recipient_key_id=str(recipient["key_id"]),
            payload_size=int(payload["size"]),
            payload_sha256=str(payload["sha256"]),
            chunk_size=int(payload["chunk_size"]),
            source_name=str(payload["source_name"]),
            sealed_at=str(document["sealed_at"]),
            factlab_version=str(document["factlab_version"]),
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{source}: damaged header (not a valid sealed-file header)") from exc
    low, high = _CHUNK_RANGE
    if not low <= header.chunk_size <= high or header.payload_size < 0:
        raise InputError(f"{source}: damaged header (payload size or chunk size out of range)")
    return header


def _read_exactly(handle: BinaryIO, size: int, source: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise InputError(f"{source}: truncated")
    return data


def _read_front(handle: BinaryIO, source: str) -> tuple[SealedHeader, bytes, bytes]:
    """Read magic, header and wrapped key; return the header, its raw bytes and the wrapped key."""
    if handle.read(len(MAGIC)) != MAGIC:
        raise InputError(f"{source}: not a factlab sealed file")
    (header_length,) = _LENGTH.unpack(_read_exactly(handle, _LENGTH.size, source))
    if header_length > _MAX_HEADER:
        raise InputError(f"{source}: damaged header (length out of range)")
    header_raw = _read_exactly(handle, header_length, source)
    header = _parse_header(header_raw, source)
    (wrapped_length,) = _LENGTH.unpack(_read_exactly(handle, _LENGTH.size, source))
    if wrapped_length > _MAX_WRAPPED:
        raise InputError(f"{source}: damaged header (wrapped key length out of range)")
    return header, header_raw, _read_exactly(handle, wrapped_length, source)


def read_sealed_header(
    path: str | Path, recipient: RecipientPrivateKey | None = None
) -> SealedHeader:
    """Read a sealed file's clear header without decrypting the content.

    Without ``recipient`` the header is read as is: fine for routing and early checks, but anyone
    who can write the file could have changed it. With the recipient's private key, the header is
    also authenticated (by unwrapping the file key, which is bound to it), still without
    decrypting the content.

    Raises:
        InputError: not a sealed file, damaged, truncated or tampered.
        KeyFileError: sealed for another recipient.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    with open(path, "rb") as handle:
        header, header_raw, wrapped = _read_front(handle, str(path))
    if recipient is not None:
        _unwrap(header, header_raw, wrapped, recipient, str(path))
    return header


def is_sealed(path: str | Path) -> bool:
    """Whether ``path`` is a factlab sealed file (by its first bytes; False if unreadable)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_sealed_manifest(
    path: str | Path, recipient: RecipientPrivateKey | None = None
) -> Manifest:
    """The factlab manifest of a sealed file, read before (and without) decryption.

    See :func:`read_sealed_header` for what ``recipient`` adds.

    Example:
        >>> read_sealed_manifest("missing.sealed")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.sealed: file not found
    """
    return read_sealed_header(path, recipient).manifest


def _wrap_info(header_raw: bytes) -> bytes:
    return _WRAP_INFO + header_raw


def _chunk_aad(header_digest: bytes, counter: int, final: bool) -> bytes:
    return _CHUNK_LABEL + header_digest + counter.to_bytes(8, "big") + bytes([final])


def _nonce(counter: int) -> bytes:
    return counter.to_bytes(12, "big")


def seal(
    path: str | Path,
    recipient: RecipientPublicKey,
    out: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> SealedHeader:
    """Encrypt a factlab Parquet file for ``recipient``; write it atomically to ``out``.

    Args:
        path: a factlab Parquet file (its manifest goes in the clear header).
        recipient: the trusted party's public key.
        out: where to write the sealed file.
        progress: called with the number of bytes encrypted after each chunk.

    Returns:
        The sealed file's header.

    Raises:
        InputError: ``path`` is not a factlab file, or it changed while being sealed.

    Example:
        >>> import tempfile, pathlib, polars as pl
        >>> from factlab.io import write_parquet
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> frame = pl.DataFrame({"pseudonym": [None], "bsn_status": ["missing"],
        ...     "provider": ["A"]})
        >>> manifest = Manifest(format="factlab-pseudonymised", scheme="factlab-hmac-sha256-v1",
        ...     round="demo", key_id="k", key_fingerprint="f", rows=1,
        ...     rows_by_status={"missing": 1}, provider="A")
        >>> write_parquet(frame, folder / "a.parquet", manifest)
        >>> private, public = new_recipient("ttp")
        >>> header = seal(folder / "a.parquet", public, folder / "a.sealed")
        >>> read_sealed_manifest(folder / "a.sealed").provider
        'A'
        >>> open_sealed(folder / "a.sealed", private) == (folder / "a.parquet").read_bytes()
        True
    """
    path = Path(path)
    manifest = read_manifest(path)
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_SIZE):
            digest.update(block)
    header = SealedHeader(
        manifest=manifest,
        recipient_name=recipient.name,
        recipient_key_id=recipient.key_id,
        payload_size=size,
        payload_sha256=digest.hexdigest(),
        chunk_size=CHUNK_SIZE,
        source_name=path.name,
        sealed_at=now_iso(),
        factlab_version=__version__,
    )
    header_raw = _canonical(header._document())
    header_digest = hashlib.sha256(header_raw).digest()
    file_key = secrets.token_bytes(32)
    wrapped = _SUITE.encrypt(file_key, recipient.x25519(), info=_wrap_info(header_raw))
    cipher = AESGCM(file_key)
    check = hashlib.sha256()
    with atomic_path(out) as temporary, open(path, "rb") as source, open(temporary, "wb") as sink:
        sink.write(MAGIC + _LENGTH.pack(len(header_raw)) + header_raw)
        sink.write(_LENGTH.pack(len(wrapped)) + wrapped)
        for counter in range(header.chunks):
            block = source.read(CHUNK_SIZE)
            check.update(block)
            final = counter == header.chunks - 1
            aad = _chunk_aad(header_digest, counter, final)
            sink.write(cipher.encrypt(_nonce(counter), block, aad))
            if progress is not None:
                progress(len(block))
        if source.read(1) or check.hexdigest() != header.payload_sha256:
            raise InputError(f"{path}: the file changed while it was being sealed")
    return header


def _unwrap(
    header: SealedHeader,
    header_raw: bytes,
    wrapped: bytes,
    recipient: RecipientPrivateKey,
    source: str,
) -> bytes:
    if header.recipient_key_id != recipient.key_id:
        raise KeyFileError(
            f"{source}: sealed for another recipient (key id {header.recipient_key_id}, "
            f"not {recipient.key_id})"
        )
    try:
        return _SUITE.decrypt(wrapped, recipient.secret, info=_wrap_info(header_raw))
    except InvalidTag:
        raise InputError(f"{source}: damaged or tampered (authentication failed)") from None


def _open_into(
    path: Path,
    recipient: RecipientPrivateKey,
    sink: BinaryIO,
    progress: Callable[[int], None] | None = None,
) -> SealedHeader:
    """Decrypt ``path`` into ``sink`` chunk by chunk; on an error the caller discards the sink."""
    source = str(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    with open(path, "rb") as handle:
        header, header_raw, wrapped = _read_front(handle, source)
        expected = handle.tell() + header.payload_size + header.chunks * _TAG
        actual = os.fstat(handle.fileno()).st_size
        file_key = _unwrap(header, header_raw, wrapped, recipient, source)
        if actual < expected:
            raise InputError(f"{source}: truncated ({expected - actual} bytes missing)")
        if actual > expected:
            raise InputError(f"{source}: damaged or tampered (data after the last chunk)")
        cipher = AESGCM(file_key)
        header_digest = hashlib.sha256(header_raw).digest()
        check = hashlib.sha256()
        remaining = header.payload_size
        for counter in range(header.chunks):
            length = min(header.chunk_size, remaining)
            remaining -= length
            block = _read_exactly(handle, length + _TAG, source)
            aad = _chunk_aad(header_digest, counter, counter == header.chunks - 1)
            try:
                plain = cipher.decrypt(_nonce(counter), block, aad)
            except InvalidTag:
                raise InputError(
                    f"{source}: damaged or tampered (authentication failed in chunk {counter})"
                ) from None
            check.update(plain)
            sink.write(plain)
            if progress is not None:
                progress(len(plain))
    if check.hexdigest() != header.payload_sha256:
        raise InputError(f"{source}: damaged or tampered (content hash does not match header)")
    return header


def _check_inner_manifest(
    header: SealedHeader, parquet: str | pa.BufferReader, source: str
) -> None:
    try:
        metadata = pq.ParquetFile(parquet).metadata.metadata or {}
        inner = Manifest.from_json(metadata[schema.MANIFEST_KEY.encode()].decode(), source=source)
    except Exception as exc:  # pyarrow raises several types for content that is not Parquet
        raise InputError(f"{source}: the sealed content is not a factlab Parquet file") from exc
    # The sealer wrote both manifests; a mismatch means the clear one misdescribes the content.
    if inner != header.manifest:
        raise InputError(
            f"{source}: the manifest in the sealed header does not match the file's own manifest"
        )


def open_sealed(path: str | Path, recipient: RecipientPrivateKey) -> bytes:
    """Decrypt a sealed file in memory and return the Parquet file's bytes.

    Raises:
        InputError: not a sealed file, damaged, tampered or truncated.
        KeyFileError: sealed for another recipient.
    """
    path = Path(path)
    buffer = io.BytesIO()
    header = _open_into(path, recipient, buffer)
    data = buffer.getvalue()
    _check_inner_manifest(header, pa.BufferReader(data), str(path))
    return data


def unseal(
    path: str | Path,
    recipient: RecipientPrivateKey,
    out: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> SealedHeader:
    """Decrypt a sealed file to the Parquet file ``out``; on any failure nothing is written.

    ``progress``, when given, is called with the number of bytes decrypted after each chunk.

    Raises:
        InputError: not a sealed file, damaged, tampered or truncated.
        KeyFileError: sealed for another recipient.

    Example:
        >>> unseal("missing.sealed", new_recipient("ttp")[0], "out.parquet")
        ... # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.sealed: file not found
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    with atomic_path(out) as temporary:
        with open(temporary, "wb") as sink:
            header = _open_into(path, recipient, sink, progress)
        _check_inner_manifest(header, str(temporary), str(path))
    return header


@contextlib.contextmanager
def unseal_to_temporary(
    path: str | Path, recipient: RecipientPrivateKey, *, folder: str | Path | None = None
) -> Iterator[Path]:
    """Decrypt a sealed file into a private temporary folder; yield the Parquet file's path.

    The folder (mode 0700, under ``folder`` or the system's temporary folder) and the decrypted
    file are removed when the block ends, also on an error. Put the temporary folder on
    encrypted storage or a RAM disk: the decrypted file is pseudonymised personal data.

    Example:
        >>> import polars as pl
        >>> def count_rows(sealed, private):
        ...     with unseal_to_temporary(sealed, private) as parquet:
        ...         return pl.scan_parquet(parquet).select(pl.len()).collect().item()
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    private_folder = Path(tempfile.mkdtemp(prefix="factlab-unsealed-", dir=folder))
    try:
        os.chmod(private_folder, 0o700)
        target = private_folder / "unsealed.parquet"
        unseal(path, recipient, target)
        yield target
    finally:
        shutil.rmtree(private_folder, ignore_errors=True)
