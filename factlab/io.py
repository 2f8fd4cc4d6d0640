"""The only module that touches files: exports in (CSV, Excel, Parquet), Parquet out, atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from factlab.errors import InputError
from factlab.manifest import Manifest

__all__ = ["atomic_path", "file_sha256", "write_parquet"]

_HASH_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex encoded.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> _ = p.write_bytes(b"abc")
        >>> file_sha256(p)[:16]
        'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    On any exception the temporary file is removed and ``target`` is left untouched, so a failed
    command never leaves a partial output behind.
    """
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"{target}: the output folder does not exist")
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def write_parquet(frame: pl.DataFrame | pl.LazyFrame, path: str | Path, manifest: Manifest) -> None:
    """Write ``frame`` to ``path`` atomically, with ``manifest`` in the Parquet metadata.

    A LazyFrame is streamed to disk, so files larger than memory can be written.
    """
    with atomic_path(path) as temporary:
        metadata = manifest.to_parquet_metadata()
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(temporary, metadata=metadata, compression="zstd")
        else:
            frame.write_parquet(temporary, metadata=metadata, compression="zstd")


_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 64 * 1024


def export_format(path: str | Path) -> str:
    """``csv``, ``xlsx`` or ``parquet`` from the file name; InputError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _EXCEL_SUFFIXES:
        return "xlsx"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    raise InputError(
        f"{path}: unsupported file type {suffix or '(none)'!r}; "
        "expected .csv, .txt, .tsv, .xlsx or .parquet"
    )


def _detect_delimiter(header: str) -> str:
    counts = {candidate: header.count(candidate) for candidate in (";", ",", "\t", "|")}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] > 0 else ","


def _decode_csv(path: Path, data: bytes, encoding: str | None) -> tuple[bytes, str]:
    """Return the file as UTF-8 bytes (BOM removed) and the encoding it was read as."""
    if encoding in ("utf-8", "utf-8-sig") or (encoding is None and data.startswith(_BOM)):
        body = data.removeprefix(_BOM)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: not valid UTF-8 at byte {exc.start}; give input.encoding in a mapping"
            ) from None
        return body, "utf-8-sig" if data.startswith(_BOM) else "utf-8"
    if encoding is None:
        try:
            data.decode("utf-8")
            return data, "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    try:
        return data.decode(encoding).encode("utf-8"), encoding
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot be read as {encoding} (byte {exc.start})") from None


def read_export(
    path: str | Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """Read a provider export (CSV, Excel or Parquet) as it is, without interpreting any value.

    CSV cells are read as text, so leading zeros and written forms survive; the delimiter (``;``,
    ``,``, tab or ``|``) is detected from the header line and the encoding (UTF-8 with or without
    BOM, else Windows-1252) from the bytes, unless given.

    Returns:
        The rows, and facts about how the file was read (``format``, ``encoding``, ``delimiter``).

    Raises:
        InputError: missing, unreadable, empty, without data rows, or of an unsupported type.
    """
    path = Path(path)
    kind = export_format(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if size == 0:
        raise InputError(f"{path}: the file is empty")
    facts = {"format": kind}
    try:
        if kind == "csv":
            data = path.read_bytes()
            body, used = _decode_csv(path, data, encoding)
            header = body[:_SNIFF_BYTES].split(b"\n", 1)[0].decode("utf-8", errors="replace")
            separator = delimiter or _detect_delimiter(header)
            facts |= {"encoding": used, "delimiter": separator}
            frame = pl.read_csv(
                body, separator=separator, infer_schema=False, truncate_ragged_lines=False
            )
        elif kind == "xlsx":
            frame = pl.read_excel(path, sheet_name=sheet, engine="calamine")
        else:
            frame = pl.read_parquet(path)
    except InputError:
        raise
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except Exception as exc:  # parsers raise many types; the message must not echo cell values
        raise InputError(f"{path}: cannot be read as {kind} ({type(exc).__name__})") from None
    if frame.height == 0:
        raise InputError(f"{path}: the file has no data rows")
    return frame.lazy(), facts
