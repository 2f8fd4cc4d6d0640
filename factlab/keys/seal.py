"""Sealed files: a pseudonymised Parquet file encrypted for the trusted party alone.

The trusted party makes a recipient key pair (X25519, :mod:`factlab.keys.recipients`) and hands out
the public half (``NAME.pub``). A provider seals its pseudonymised file with it; only the holder
of the private half can open it.

Layout of a sealed file::

    b"factlab-sealed-v1\\n"
    u32 header length | header (canonical JSON, in the clear)
    u32 wrapped length | HPKE(recipient, info = label + header) of a random 256-bit file key
    chunks: AES-256-GCM(file key, nonce = chunk counter,
                        aad = SHA-256(header) | counter | final flag) of 1 MiB of the file each

The header holds the file's factlab manifest, so a manifest can be checked before decryption
(:func:`read_sealed_manifest`); it also names the recipient key id and the payload size. It holds
no digest of the content: every steward holds the provider key, so a digest of a small
pseudonymised file could be matched by rebuilding the file for one BSN after another. The content
is authenticated by the chunks instead: the header is bound to the file key (HPKE ``info``) and to
every chunk (associated data), so it cannot be altered, and the counter and final flag make
reordered, dropped or truncated chunks fail. (Files of header version 1 carried
``payload.sha256``; they are still read, and the digest is ignored.)
HPKE base mode authenticates the content, not the sender: anyone with the public key can seal a
file, so linking still checks the manifest's key fingerprint (see ``docs/sealed-files.md``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from factlab import schema
from factlab._checks import require_path
from factlab._export_checks import open_regular
from factlab._version import __version__
from factlab.errors import InputError, KeyFileError
from factlab.io import atomic_path, check_parquet_readable, inputs_and_sidecars
from factlab.keys.recipients import (
    RecipientPrivateKey,
    RecipientPublicKey,
    require_recipient,
)
from factlab.manifest import Manifest, now_iso, read_manifest
from factlab.outputs import check_output

__all__ = [
    "SealedHeader",
    "is_sealed",
    "open_sealed",
    "read_sealed_header",
    "read_sealed_manifest",
    "seal",
    "unseal",
    "unseal_to_temporary",
]

MAGIC: Final = b"factlab-sealed-v1\n"
SEALED_FORMAT: Final = "factlab-sealed"
#: Version of the header written. Version 1 also held ``payload.sha256``, the SHA-256 of the
#: content, which a steward could match by rebuilding a small file BSN by BSN; version 2 holds
#: no digest of the content. Both are read: the layout and the encryption are the same.
HEADER_VERSION: Final = 2
_READ_VERSIONS: Final = (1, 2)
CHUNK_SIZE: Final = 1 << 20
_SUITE: Final = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_SUITE_NAME: Final = {
    "kem": "DHKEM(X25519, HKDF-SHA256)",
    "kdf": "HKDF-SHA256",
    "aead": "AES-256-GCM",
    "payload": "AES-256-GCM chunks",
}
_WRAP_INFO: Final = b"factlab-sealed-v1 file key\x00"
_CHUNK_LABEL: Final = b"factlab-sealed-v1 chunk\x00"
_TAG: Final = 16
_LENGTH: Final = struct.Struct(">I")
# Bounds on what a header may claim, so a crafted file cannot make us allocate without limit.
_MAX_HEADER: Final = 1 << 20
_MAX_WRAPPED: Final = 4096
_CHUNK_RANGE: Final = (1 << 10, 1 << 26)


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class SealedHeader:
    """The clear header of a sealed file: what it holds and for whom, without the content.

    Attributes:
        manifest: the sealed Parquet file's factlab manifest.
        recipient_name: name of the recipient key it is sealed for.
        recipient_key_id: key id of that recipient key.
        payload_size: size of the sealed Parquet file in bytes.
        chunk_size: plaintext bytes per encrypted chunk.
        source_name: file name of the Parquet file when it was sealed.
        sealed_at: time of sealing, ISO 8601 UTC.
        factlab_version: version of factlab that sealed it.
    """

    manifest: Manifest
    recipient_name: str
    recipient_key_id: str
    payload_size: int
    chunk_size: int
    source_name: str
    sealed_at: str
    factlab_version: str

    def _document(self) -> dict[str, Any]:
        return {
            "format": SEALED_FORMAT,
            "version": HEADER_VERSION,
            "suite": dict(_SUITE_NAME),
            "recipient": {"name": self.recipient_name, "key_id": self.recipient_key_id},
            "payload": {
                "size": self.payload_size,
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
        version = document.get("version")
        if document.get("format") != SEALED_FORMAT or version not in _READ_VERSIONS:
            raise InputError(f"{source}: unsupported sealed file format or version")
        if document.get("suite") != _SUITE_NAME:
            raise InputError(f"{source}: sealed with an unsupported cipher suite")
        recipient, payload = document["recipient"], document["payload"]
        header = SealedHeader(
            manifest=Manifest.from_json(json.dumps(document["manifest"]), source=source),
            recipient_name=str(recipient["name"]),
            recipient_key_id=str(recipient["key_id"]),
            payload_size=int(payload["size"]),
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
    """Whether ``path`` is a factlab sealed file (by its first bytes; False if unreadable, or
    no regular file: a FIFO is not waited on, and the reader that follows names it)."""
    try:
        with open_regular(path) as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except (OSError, InputError):
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
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
) -> SealedHeader:
    """Encrypt a factlab Parquet file for ``recipient``; write it atomically to ``out``.

    Args:
        path: a factlab Parquet file (its manifest goes in the clear header).
        recipient: the trusted party's public key.
        out: where to write the sealed file.
        progress: called with the number of bytes encrypted after each chunk.
        inputs: further files ``out`` must never replace (the recipient's key file: a key does
            not know its file; the command line passes it).
        overwrite: replace an existing ``out`` (never ``path`` or one of ``inputs``); without
            it an existing file is refused before any work.

    Returns:
        The sealed file's header.

    Raises:
        InputError: ``path`` is not a factlab file, its manifest or data are damaged, or it
            changed while being sealed.

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
        >>> from factlab.keys.recipients import new_recipient
        >>> private, public = new_recipient("ttp")
        >>> header = seal(folder / "a.parquet", public, folder / "a.sealed")
        >>> read_sealed_manifest(folder / "a.sealed").provider
        'A'
        >>> open_sealed(folder / "a.sealed", private) == (folder / "a.parquet").read_bytes()
        True
    """
    require_recipient(recipient, RecipientPublicKey, where="seal")
    path = require_path(path, where="seal", name="path")
    require_path(out, where="seal", name="out")
    read = [path, *inputs]
    check_output(out, inputs=inputs_and_sidecars(read), overwrite=overwrite)  # before any work
    manifest = read_manifest(path)
    # A damaged data page would only be found by the trusted party, after the delivery.
    check_parquet_readable(path)
    size = path.stat().st_size
    # The content's digest tells whether the file changed while it was sealed; it stays in
    # memory and is written nowhere (see the module).
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_SIZE):
            digest.update(block)
    header = SealedHeader(
        manifest=manifest,
        recipient_name=recipient.name,
        recipient_key_id=recipient.key_id,
        payload_size=size,
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
    with (
        atomic_path(out, inputs=read, overwrite=overwrite) as temporary,
        open(path, "rb") as source,
        open(temporary, "wb") as sink,
    ):
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
        if source.read(1) or check.digest() != digest.digest():
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
            sink.write(plain)
            if progress is not None:
                progress(len(plain))
    # Every chunk authenticated, in order, the last one marked final, their sizes those of the
    # authenticated header: the content is the one sealed (no digest of it is needed).
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
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
) -> SealedHeader:
    """Decrypt a sealed file to the Parquet file ``out``; on any failure nothing is written.

    ``progress``, when given, is called with the number of bytes decrypted after each chunk.
    ``out`` is never ``path`` nor one of ``inputs`` (the recipient's key file: a key does not
    know its file), and an existing ``out`` is replaced only with ``overwrite``: plaintext
    never takes the place of another sealed delivery by accident.

    Raises:
        InputError: not a sealed file, damaged, tampered or truncated; ``out`` is an input, or
            exists without ``overwrite``.
        KeyFileError: sealed for another recipient.

    Example:
        >>> from factlab.keys.recipients import new_recipient
        >>> unseal("missing.sealed", new_recipient("ttp")[0], "out.parquet")
        ... # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.sealed: file not found
    """
    require_recipient(recipient, RecipientPrivateKey, where="unseal")
    path = require_path(path, where="unseal", name="path")
    require_path(out, where="unseal", name="out")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    with atomic_path(out, inputs=[path, *inputs], overwrite=overwrite) as temporary:
        with open(temporary, "wb") as sink:
            header = _open_into(path, recipient, sink, progress)
        _check_inner_manifest(header, str(temporary), str(path))
    return header


#: Name prefix of the private folders a sealed file is decrypted into where the system cannot
#: make an anonymous file; the process id follows, so a later run can tell a stale one.
_PRIVATE_PREFIX: Final = ".factlab-unsealed-"
#: Where a process id cannot be checked, a private folder this old (seconds) is stale.
_STALE_AFTER: Final = 3600


@contextlib.contextmanager
def unseal_to_temporary(
    path: str | Path, recipient: RecipientPrivateKey, *, folder: str | Path | None = None
) -> Iterator[Path]:
    """Decrypt a sealed file where even a killed process leaves nothing; yield a path to read.

    On Linux the Parquet file is an anonymous file (``O_TMPFILE``) in ``folder`` (default: the
    system's temporary folder): it has no name, the path yielded is its open descriptor
    (``/proc/self/fd/N``, for this process only), and the kernel frees it when the descriptor is
    closed, when the block ends or the process dies, ``kill -9`` included. Where that is not
    possible (another system, or a file system without anonymous files), it goes into a private
    folder (mode 0700) ``.factlab-unsealed-<process id>-<random>`` in ``folder``, removed when
    the block ends; a folder left by a process that was killed is removed by the next call with
    the same ``folder``. Choose ``folder`` on encrypted storage (link uses its output's folder):
    the decrypted file is pseudonymised personal data.

    Raises:
        InputError: not a sealed file, damaged, tampered or truncated; ``folder`` missing.
        KeyFileError: sealed for another recipient.

    Example:
        >>> import polars as pl
        >>> def count_rows(sealed, private):
        ...     with unseal_to_temporary(sealed, private) as parquet:
        ...         return pl.scan_parquet(parquet).select(pl.len()).collect().item()
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    where = Path(tempfile.gettempdir() if folder is None else folder)
    if not where.is_dir():
        raise InputError(f"{where}: the folder to decrypt into does not exist")
    _sweep_private_folders(where)
    descriptor = _anonymous_file(where)
    if descriptor is not None:
        try:
            with os.fdopen(descriptor, "wb", closefd=False) as sink:
                header = _open_into(path, recipient, sink)
            plain = Path(f"/proc/self/fd/{descriptor}")
            _check_inner_manifest(header, str(plain), str(path))
            yield plain
        finally:
            os.close(descriptor)
        return
    private_folder = Path(tempfile.mkdtemp(prefix=f"{_PRIVATE_PREFIX}{os.getpid()}-", dir=where))
    try:
        os.chmod(private_folder, 0o700)
        target = private_folder / "unsealed.parquet"
        unseal(path, recipient, target)
        yield target
    finally:
        shutil.rmtree(private_folder, ignore_errors=True)


def _anonymous_file(folder: Path) -> int | None:
    """A descriptor of a new nameless file (mode 0600) in ``folder``, or None where there is none.

    Only on Linux, whose ``/proc/self/fd`` lets the file be opened again by path (Polars reads
    by path). macOS has ``/dev/fd``, but opening it shares the read position between readers.
    """
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_RDWR, 0o600)
    except OSError:  # a file system without O_TMPFILE (EOPNOTSUPP, EISDIR on old kernels)
        return None


def _sweep_private_folders(folder: Path) -> None:
    """Remove the private folders in ``folder`` that a killed process left behind.

    A folder is stale when the process named in it no longer runs. Where a process cannot be
    checked without harm (``os.kill`` ends a process on Windows), a folder older than
    :data:`_STALE_AFTER` is stale; Windows keeps a file that is still open from being removed.
    """
    for entry in folder.glob(f"{_PRIVATE_PREFIX}*"):
        pid_text = entry.name.removeprefix(_PRIVATE_PREFIX).split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or not entry.is_dir():
            continue
        if os.name == "posix":
            try:
                os.kill(int(pid_text), 0)
                continue  # the process still runs
            except ProcessLookupError:
                pass
            except OSError:  # another user's process: it runs
                continue
        else:
            try:
                if time.time() - entry.stat().st_mtime < _STALE_AFTER:
                    continue
            except OSError:
                continue
        shutil.rmtree(entry, ignore_errors=True)
