"""The only module that touches files: exports in (CSV, Excel, Parquet), Parquet out, atomically.

Besides provider exports and factlab Parquet files it reads TOML configuration files, and reads
and writes result tables (counts, protected tables, analyses) with their metadata: as CSV with a
``<name>.meta.json`` sidecar, as Parquet with the metadata in the file's key-value metadata, or as
one JSON document.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import mmap
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl

from factlab import schema
from factlab.errors import ConfigError, InputError
from factlab.manifest import Manifest

__all__ = [
    "TABLE_FORMATS",
    "Export",
    "atomic_path",
    "export_format",
    "file_sha256",
    "load_export",
    "parse_toml",
    "read_export",
    "read_table",
    "read_toml",
    "sidecar_path",
    "sink_parquet_checked",
    "write_exclusive",
    "write_json",
    "write_parquet",
    "write_table",
]

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


def write_exclusive(path: str | Path, payload: bytes, *, mode: int, force: bool = False) -> None:
    """Write ``payload`` to a file with permissions ``mode``, all or nothing, made for key files.

    The bytes reach the disk (fsync) before the file appears under its name, and its mode is set
    before a byte is written. Unless ``force``, an existing file is never overwritten, not even
    one made while this one was being written.

    Raises:
        FileExistsError: ``path`` exists and ``force`` is not set (nothing is written).
        InputError: the folder does not exist.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "secret.key"
        >>> write_exclusive(path, b"x", mode=0o600)
        >>> oct(path.stat().st_mode & 0o777)
        '0o600'
    """
    path = Path(path)
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
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        except OSError:  # a file system without hard links: fall back to check-then-rename
            if path.exists():
                raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_parquet(
    frame: pl.DataFrame | pl.LazyFrame,
    path: str | Path,
    manifest: Manifest,
    *,
    compression: Literal["zstd", "lz4"] = "zstd",
    compression_level: int | None = None,
) -> None:
    """Write ``frame`` to ``path`` atomically, with ``manifest`` in the Parquet metadata.

    A LazyFrame is streamed to disk, so files larger than memory can be written. ``compression``
    and ``compression_level`` trade file size for writing time (any Parquet reader reads both).
    """
    with atomic_path(path) as temporary:
        metadata = manifest.to_parquet_metadata()
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(
                temporary,
                metadata=metadata,
                compression=compression,
                compression_level=compression_level,
            )
        else:
            frame.write_parquet(
                temporary,
                metadata=metadata,
                compression=compression,
                compression_level=compression_level,
            )


def sink_parquet_checked(
    frame: pl.LazyFrame,
    path: str | Path,
    manifest: Manifest,
    *,
    alongside: Sequence[pl.LazyFrame],
    check: Callable[[list[pl.DataFrame]], None],
    run: Callable[[Callable[[], list[pl.DataFrame]]], list[pl.DataFrame]] = lambda go: go(),
    compression: Literal["zstd", "lz4"] = "zstd",
    compression_level: int | None = None,
) -> None:
    """Stream ``frame`` to ``path`` and compute ``alongside`` in the same pass; keep the file
    only if ``check`` accepts their results.

    Polars reads the shared inputs once for the file and for ``alongside``. The file is written
    under a temporary name and renamed to ``path`` only when ``check`` returns; if it raises, no
    file is left (an existing ``path`` is kept). ``run`` wraps the pass, e.g. to turn Polars'
    errors into factlab's.
    """
    with atomic_path(path) as temporary:
        sink = frame.sink_parquet(
            temporary,
            metadata=manifest.to_parquet_metadata(),
            compression=compression,
            compression_level=compression_level,
            lazy=True,
        )
        results = run(lambda: pl.collect_all([sink, *alongside]))
        check(results[1:])


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


_ASCII_CHUNK = 1 << 23


def _is_ascii(data: bytes | mmap.mmap) -> bool:
    # a memory map has no isascii(): it is checked in slices (copies of 8 MiB, which is cheap)
    return all(
        data[start : start + _ASCII_CHUNK].isascii() for start in range(0, len(data), _ASCII_CHUNK)
    )


def _utf8_error(data: bytes | mmap.mmap) -> int | None:
    """The offset of the first byte that makes ``data`` invalid UTF-8; None when it is valid.

    Checked without decoding to a Python string: ASCII (most exports) in one fast pass, anything
    else with Arrow's UTF-8 validation over the same bytes, which accepts exactly what Python's
    strict decoder accepts. Only for invalid data is the position found by decoding.
    """
    if _is_ascii(data):
        return None
    import pyarrow as pa  # here: only files with non-ASCII bytes need it

    offsets = pa.array([0, len(data)], type=pa.int64()).buffers()[1]
    text = pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
    try:
        text.validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    try:
        bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def _csv_source(
    path: Path, data: bytes | mmap.mmap, encoding: str | None
) -> tuple[Path | bytes, str]:
    """What the CSV reader reads, and the encoding the file was read as.

    A UTF-8 file is read as it is, a BOM included (the reader skips a leading BOM): from disk
    when it is mapped into memory, else from the bytes read. A file in another encoding is
    converted to UTF-8 bytes first.
    """
    as_is = data if isinstance(data, bytes) else path
    bom = data[: len(_BOM)] == _BOM
    if encoding in ("utf-8", "utf-8-sig") or (encoding is None and bom):
        error = _utf8_error(data)
        if error is not None:
            at = error - len(_BOM) if bom else error  # counted after the BOM
            raise InputError(
                f"{path}: not valid UTF-8 at byte {at}; give input.encoding in a mapping"
            )
        return as_is, "utf-8-sig" if bom else "utf-8"
    if encoding is None:
        if _utf8_error(data) is None:
            return as_is, "utf-8"
        encoding = "cp1252"
    try:
        return bytes(data).decode(encoding).encode("utf-8"), encoding
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot be read as {encoding} (byte {exc.start})") from None


def _sha256(data: bytes | mmap.mmap) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_csv(
    path: Path, delimiter: str | None, encoding: str | None
) -> tuple[pl.DataFrame, dict[str, str], str]:
    """The rows of a CSV export, how it was read, and the SHA-256 of its bytes.

    The file is mapped into memory rather than read: its SHA-256 is computed in a second thread
    (hashlib releases the interpreter lock) while the encoding is checked and the rows are
    parsed, and nothing is copied for a UTF-8 file.
    """
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(path.open("rb"))
        data: bytes | mmap.mmap
        try:
            data = stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        except (OSError, ValueError):  # a file system without memory maps
            data = handle.read()
        # entered last, so left first: the hash is done before the memory map is closed
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
        digest = pool.submit(_sha256, data)
        read = os.fstat(handle.fileno())
        source, used = _csv_source(path, data, encoding)
        start = source[:_SNIFF_BYTES] if isinstance(source, bytes) else data[:_SNIFF_BYTES]
        header = start.removeprefix(_BOM).split(b"\n", 1)[0].decode("utf-8", "replace")
        separator = delimiter or _detect_delimiter(header)
        frame = pl.read_csv(
            source,
            separator=separator,
            infer_schema=False,
            truncate_ragged_lines=False,
            glob=False,
        )
        sha256 = digest.result()
    now = path.stat()
    if (now.st_size, now.st_mtime_ns) != (read.st_size, read.st_mtime_ns):
        raise InputError(f"{path}: the file changed while it was being read")
    return frame, {"encoding": used, "delimiter": separator}, sha256


@dataclass(frozen=True)
class Export:
    """A provider export as read: its rows, how it was read, and the SHA-256 of its bytes.

    Attributes:
        frame: the rows, values as they are (every CSV cell as text).
        facts: ``format``; for CSV also ``encoding`` and ``delimiter``.
        sha256: SHA-256 of the file, hex; for CSV of exactly the bytes that were parsed.
    """

    frame: pl.DataFrame
    facts: dict[str, str]
    sha256: str


def load_export(
    path: str | Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> Export:
    """Read a provider export (CSV, Excel or Parquet) into memory as it is, and hash it.

    Reads as :func:`read_export` does. The file is hashed while it is parsed, so that a command
    reads it once for the rows, the manifest and the audit log.

    Raises:
        InputError: missing, unreadable, empty, without data rows, or of an unsupported type.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
        >>> _ = path.write_bytes(b"BSN;Gemeente\\n999993653;Assen\\n")
        >>> export = load_export(path)
        >>> export.facts, export.frame.row(0), export.sha256 == file_sha256(path)
        ({'format': 'csv', 'encoding': 'utf-8', 'delimiter': ';'}, ('999993653', 'Assen'), True)
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
            frame, read_as, sha256 = _read_csv(path, delimiter, encoding)
            facts |= read_as
        else:
            # The SHA-256 is computed in a second thread while the file is parsed.
            with ThreadPoolExecutor(max_workers=1) as pool:
                digest = pool.submit(file_sha256, path)
                if kind == "xlsx":
                    frame = pl.read_excel(path, sheet_name=sheet, engine="calamine")
                else:
                    frame = pl.read_parquet(path)
                sha256 = digest.result()
    except InputError:
        raise
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except Exception as exc:  # parsers raise many types; the message must not echo cell values
        raise InputError(f"{path}: cannot be read as {kind} ({type(exc).__name__})") from None
    if frame.height == 0:
        raise InputError(f"{path}: the file has no data rows")
    return Export(frame=frame, facts=facts, sha256=sha256)


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
    export = load_export(path, delimiter=delimiter, encoding=encoding, sheet=sheet)
    return export.frame.lazy(), export.facts


#: File name extensions of result tables, see :func:`write_table`.
TABLE_FORMATS: Final = (".csv", ".parquet", ".json")
# Parquet key-value metadata keys of result tables start with this (the manifest's does too).
_TABLE_METADATA_PREFIX: Final = "factlab."


def _table_suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise InputError(
            f"{path}: unsupported {what} format {suffix!r} (use {', '.join(TABLE_FORMATS)})"
        )
    return suffix


def sidecar_path(path: str | Path) -> Path:
    """Where the metadata of a CSV table is kept: ``<name>.meta.json`` beside it.

    Example:
        >>> sidecar_path("out/cells.csv").as_posix()
        'out/cells.csv.meta.json'
    """
    path = Path(path)
    return path.with_name(f"{path.name}.meta.json")


def write_table(
    frame: pl.DataFrame, path: str | Path, metadata: Mapping[str, Any], metadata_key: str
) -> list[Path]:
    """Write a result table and its metadata atomically; the format follows the extension.

    ``.csv``: the table, and beside it ``<name>.meta.json`` holding the metadata; ``.parquet``:
    the table with the metadata as JSON under ``metadata_key`` in its key-value metadata;
    ``.json``: ``{"metadata": ..., "rows": [...]}``. On any error nothing is written.

    Returns:
        The files written.

    Raises:
        InputError: the extension is not .csv, .parquet or .json, or the folder does not exist.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
        >>> frame = pl.DataFrame({"care_form": ["ambulant"], "unique_clients": [12]})
        >>> [p.name for p in write_table(frame, out, {"exact": True}, "factlab.example")]
        ['table.csv', 'table.csv.meta.json']
        >>> read_table(out)[1]
        {'exact': True}
    """
    path = Path(path)
    suffix = _table_suffix(path, "table")
    text = json.dumps(metadata, sort_keys=True, ensure_ascii=False, indent=2)
    if suffix == ".csv":
        sidecar = sidecar_path(path)
        with atomic_path(path) as temporary, atomic_path(sidecar) as temporary_sidecar:
            frame.write_csv(temporary)
            temporary_sidecar.write_text(text + "\n", encoding="utf-8")
        return [path, sidecar]
    if suffix == ".json":
        write_json(path, {"metadata": metadata, "rows": frame.to_dicts()})
    else:
        with atomic_path(path) as temporary:
            frame.write_parquet(temporary, metadata={metadata_key: text})
    return [path]


def write_json(path: str | Path, document: Any) -> None:
    """Write ``document`` atomically as indented UTF-8 JSON (values JSON lacks, such as dates,
    as text).

    Example:
        >>> import tempfile, pathlib, datetime
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "truth.json"
        >>> write_json(out, {"reference_date": datetime.date(2013, 1, 1), "gemeente": "Súdwest"})
        >>> out.read_text(encoding="utf-8").splitlines()[1]
        '  "reference_date": "2013-01-01",'
    """
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def _unwrap(document: Any) -> dict[str, Any]:
    """The metadata in a sidecar or Parquet entry: the object itself, or its ``metadata``."""
    if not isinstance(document, dict):
        return {}
    inner = document.get("metadata")
    return dict(inner) if isinstance(inner, dict) else document


def read_table(path: str | Path, *, what: str = "table") -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a result table and its metadata, as :func:`write_table` and ``factlab count`` write.

    CSV is read as text (an empty field is null: a margin or a suppressed value), its metadata
    from the sidecar if there is one. Parquet metadata is the entry under a ``factlab.`` key of
    its key-value metadata (not the manifest). JSON is ``{"metadata": ..., "rows": [...]}`` or a
    bare list of rows. Where the stored object holds a ``metadata`` object (as ``factlab count``
    writes it, beside a ``summary``), that is the metadata. A table without metadata gets ``{}``.

    Args:
        path: a .csv, .parquet or .json file.
        what: what the table is, for error messages (e.g. ``counts``).

    Raises:
        InputError: unsupported extension, file missing or unreadable, or JSON without rows.

    Example:
        >>> read_table("missing.csv")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.csv: file not found
    """
    path = Path(path)
    suffix = _table_suffix(path, what)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        if suffix == ".csv":
            # Dimension values such as product categories look numeric: every column is text.
            frame = pl.read_csv(path, infer_schema=False)
            sidecar = sidecar_path(path)
            stored = json.loads(sidecar.read_text("utf-8")) if sidecar.is_file() else {}
            return frame, _unwrap(stored)
        if suffix == ".parquet":
            entries = pl.read_parquet_metadata(path)
            keys = [
                key
                for key in entries
                if key.startswith(_TABLE_METADATA_PREFIX) and key != schema.MANIFEST_KEY
            ]
            stored = json.loads(entries[keys[0]]) if keys else {}
            return pl.read_parquet(path), _unwrap(stored)
        document = json.loads(path.read_text("utf-8"))
        rows = document.get("rows") if isinstance(document, dict) else document
        if not isinstance(rows, list):
            raise InputError(
                f"{path}: no table rows (a table in JSON needs a list of rows under 'rows'; "
                "factlab count writes one with --by)"
            )
        metadata = document.get("metadata") if isinstance(document, dict) else None
        return pl.from_dicts(rows, infer_schema_length=None), _unwrap(metadata)
    except InputError:
        raise
    except Exception as exc:  # readers raise many types; the message names file and reason only
        raise InputError(f"{path}: cannot read the {what} file ({type(exc).__name__})") from None


def parse_toml(data: bytes, *, source: str, what: str = "file") -> dict[str, Any]:
    """The document in the bytes of a TOML configuration file.

    Raises:
        InputError: the bytes are not UTF-8 text.
        ConfigError: they are not valid TOML (the error's source is ``source``).

    Example:
        >>> parse_toml(b'version = 1\\n[columns]\\nbsn = "BSN"\\n', source="mapping.toml")
        {'version': 1, 'columns': {'bsn': 'BSN'}}
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source}: {what} is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"file: not valid TOML ({exc})"]) from None


def read_toml(path: str | Path, *, what: str = "file") -> dict[str, Any]:
    """The document in a TOML configuration file (a mapping, corrections, disclosure rules).

    Args:
        path: the file.
        what: what the file is, for error messages (e.g. ``mapping file``).

    Raises:
        InputError: the file is missing, unreadable or not UTF-8 text.
        ConfigError: it is not valid TOML (the error's source is the path).

    Example:
        >>> read_toml("rules.toml", what="rules file")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: rules.toml: rules file not found
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({type(exc).__name__})") from None
    return parse_toml(data, source=str(path), what=what)
