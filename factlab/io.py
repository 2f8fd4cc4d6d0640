"""The only module that touches files: exports in (CSV, Excel, Parquet), Parquet out, atomically.

Besides provider exports and factlab Parquet files it reads TOML configuration files; result
tables and JSON documents are read and written by :mod:`factlab.result_files` on top of it.

The export readers (:func:`load_export`, :func:`read_export`) have their parts in two private
modules: :mod:`factlab._exports` reads each format, :mod:`factlab._export_checks` holds what they
refuse (hostile and faulty files, see docs/steward.md).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from factlab import _export_checks, _exports
from factlab.errors import ConfigError, FactlabError, InputError, Terminated
from factlab.manifest import Manifest
from factlab.outputs import (
    check_output,
    holding,
    new_temporary,
    os_failure,
    publish,
    write_failure,
)

__all__ = [
    "Export",
    "atomic_path",
    "check_parquet_readable",
    "export_format",
    "file_sha256",
    "inputs_and_sidecars",
    "load_export",
    "parse_toml",
    "read_export",
    "read_toml",
    "sidecar_path",
    "sink_parquet_checked",
    "write_exclusive",
    "write_parquet",
]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex encoded.

    Only a regular file is read (after symlinks): a FIFO would wait for a writer forever and a
    device such as ``/dev/zero`` never ends.

    Raises:
        InputError: the file is missing, unreadable, or not a regular file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> _ = p.write_bytes(b"abc")
        >>> file_sha256(p)[:16]
        'ba7816bf8f01cfea'
    """
    return _export_checks.sha256_of_file(path)


def sidecar_path(path: str | Path) -> Path:
    """Where the metadata of a CSV table is kept: ``<name>.meta.json`` beside it.

    Example:
        >>> sidecar_path("out/cells.csv").as_posix()
        'out/cells.csv.meta.json'
    """
    path = Path(path)
    return path.with_name(f"{path.name}.meta.json")


def inputs_and_sidecars(inputs: Iterable[str | Path | None]) -> list[Path]:
    """The inputs and the metadata sidecar each may have: writing over either destroys it."""
    paths = [Path(item) for item in inputs if item is not None]
    return [*paths, *(sidecar_path(path) for path in paths)]


def _publish_or_hold(temporary: Path, target: Path, *, overwrite: bool) -> bool:
    """Publish the finished file ``temporary`` as ``target``, or, inside
    :func:`factlab.outputs.held_outputs`, hand it over to wait there; True when handed over
    (the caller must then leave ``temporary`` alone).

    Raises:
        FileExistsError: ``target`` exists (it appeared meanwhile) and ``overwrite`` is not set.
        InputError: the file system refused; the message names ``target`` and the reason.
    """
    held = holding()
    if held is not None:
        held.hold(temporary, target, overwrite=overwrite)
        return True
    try:
        publish(temporary, target, overwrite=overwrite)
    except FileExistsError:
        raise
    except OSError as exc:
        raise InputError(os_failure(target, exc, temporary)) from None
    return False


@contextlib.contextmanager
def atomic_path(
    target: str | Path, *, inputs: Iterable[str | Path] = (), overwrite: bool = True
) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block succeeds, publish it as ``target``.

    The rules of :mod:`factlab.outputs` apply: ``target`` is refused at once when it is a folder
    or one of ``inputs`` (or an input's ``.meta.json`` sidecar), or, without ``overwrite``, when
    it exists; a failed block leaves nothing (an existing ``target`` is kept); without
    ``overwrite`` a file that appears meanwhile is not replaced. Inside
    :func:`factlab.outputs.held_outputs` the finished file waits there to be published.

    Raises:
        InputError: a refused ``target``, or an operating-system error (the path and the reason,
            e.g. a read-only folder or a full disk).
    """
    target = check_output(target, inputs=inputs_and_sidecars(inputs), overwrite=overwrite)
    descriptor, temporary = new_temporary(target)
    os.close(descriptor)
    handed_over = False
    try:
        try:
            yield temporary
        except Exception as exc:
            if write_failure(exc, temporary):
                raise InputError(os_failure(target, exc, temporary)) from None
            raise
        try:
            handed_over = _publish_or_hold(temporary, target, overwrite=overwrite)
        except FileExistsError:
            raise InputError(
                f"{target}: exists (a file of that name appeared while this command ran; "
                "use --force to overwrite)"
            ) from None
    finally:
        if not handed_over:
            temporary.unlink(missing_ok=True)


def write_exclusive(path: str | Path, payload: bytes, *, mode: int, force: bool = False) -> None:
    """Write ``payload`` to a file with permissions ``mode``, all or nothing, made for key files.

    The bytes reach the disk (fsync) before the file appears under its name, and its mode is set
    before a byte is written. Unless ``force``, an existing file is never overwritten, not even
    one made while this one was being written. Inside :func:`factlab.outputs.held_outputs` the
    file waits to be published with the command's other outputs.

    Raises:
        FileExistsError: ``path`` exists and ``force`` is not set (nothing is written).
        InputError: the folder does not exist or cannot be written.

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
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name")
    if not force and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "file exists", str(path))
    descriptor, temporary = new_temporary(path)
    handed_over = False
    try:
        try:
            with os.fdopen(descriptor, "wb") as handle:
                os.fchmod(handle.fileno(), mode)
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise InputError(os_failure(path, exc, temporary)) from None
        handed_over = _publish_or_hold(temporary, path, overwrite=force)
    finally:
        if not handed_over:
            temporary.unlink(missing_ok=True)


def write_parquet(
    frame: pl.DataFrame | pl.LazyFrame,
    path: str | Path,
    manifest: Manifest,
    *,
    compression: Literal["zstd", "lz4"] = "zstd",
    compression_level: int | None = None,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = True,
) -> None:
    """Write ``frame`` to ``path`` atomically, with ``manifest`` in the Parquet metadata.

    A LazyFrame is streamed to disk, so files larger than memory can be written. ``compression``
    and ``compression_level`` trade file size for writing time (any Parquet reader reads both).
    ``inputs`` and ``overwrite`` are as for :func:`atomic_path`: ``path`` is never one of the
    files the frame was read from.
    """
    with atomic_path(path, inputs=inputs, overwrite=overwrite) as temporary:
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
    inputs: Iterable[str | Path] = (),
    overwrite: bool = True,
) -> None:
    """Stream ``frame`` to ``path`` and compute ``alongside`` in the same pass; keep the file
    only if ``check`` accepts their results.

    Polars reads the shared inputs once for the file and for ``alongside``. The file is written
    under a temporary name and renamed to ``path`` only when ``check`` returns; if it raises, no
    file is left (an existing ``path`` is kept). ``run`` wraps the pass, e.g. to turn Polars'
    errors into factlab's; an operating-system error while writing (a full disk) is already an
    InputError naming ``path`` when ``run`` sees it. ``inputs`` and ``overwrite`` are as for
    :func:`atomic_path`.
    """

    def collect(plan: list[pl.LazyFrame]) -> list[pl.DataFrame]:
        try:
            return pl.collect_all(plan)
        except (OSError, pl.exceptions.PolarsError) as exc:
            if write_failure(exc):
                raise InputError(os_failure(path, exc)) from None
            raise

    with atomic_path(path, inputs=inputs, overwrite=overwrite) as temporary:
        sink = frame.sink_parquet(
            temporary,
            metadata=manifest.to_parquet_metadata(),
            compression=compression,
            compression_level=compression_level,
            lazy=True,
        )
        results = run(lambda: collect([sink, *alongside]))
        check(results[1:])


_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def check_parquet_readable(path: str | Path, *, name: str | Path | None = None) -> None:
    """Read every value of a Parquet file, keeping none; refuse a damaged file in one line.

    A damaged data page is only found when its values are decoded. ``name`` is the file named in
    the error (default ``path``; e.g. a sealed file for its decrypted copy).

    Raises:
        InputError: the file cannot be read; the message names it, never a value.
    """
    try:
        pl.scan_parquet(path).select(pl.all().null_count()).collect()
    # polars raises several types for a damaged file; a panic in its Rust code is no Exception
    except (Exception, pl.exceptions.PanicException) as exc:
        shown = path if name is None else name
        raise InputError(
            f"{shown}: cannot be read: the Parquet file is damaged ({type(exc).__name__})"
        ) from None


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


@dataclass(frozen=True)
class Export:
    """A provider export as read: its rows, how it was read, and the SHA-256 of its bytes.

    Attributes:
        frame: the rows, values as they are (every CSV and Excel cell as text).
        facts: ``format``; for CSV also ``encoding`` and ``delimiter``; ``blank_rows`` when
            blank lines or rows were left out, ``dropped_columns`` when Parquet columns of a
            type no field can be read from were.
        sha256: SHA-256 of the file, hex; for CSV of exactly the bytes that were parsed.
        blank_rows: wholly blank lines (CSV) or rows (Excel) left out: rows in the file = rows
            of ``frame`` + ``blank_rows``.
        dropped_columns: Parquet columns left out, with their type (e.g. ``List(Int64)``).
    """

    frame: pl.DataFrame
    facts: dict[str, str]
    sha256: str
    blank_rows: int = 0
    dropped_columns: dict[str, str] = field(default_factory=dict)


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
        InputError: missing, not a regular file, unreadable, empty, without data rows, of an
            unsupported type, or refused as :func:`read_export` says; always one line, never a
            value of the file.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
        >>> _ = path.write_bytes(b"BSN;Gemeente\\n999993653;Assen\\n\\n")
        >>> export = load_export(path)
        >>> export.facts
        {'format': 'csv', 'encoding': 'utf-8', 'delimiter': ';', 'blank_rows': '1'}
        >>> export.frame.row(0), export.blank_rows, export.sha256 == file_sha256(path)
        (('999993653', 'Assen'), 1, True)
    """
    path = Path(path)
    kind = export_format(path)
    try:
        if kind == "csv":
            parsed = _exports.read_csv_export(path, delimiter, encoding)
        elif kind == "xlsx":
            parsed = _exports.read_excel_export(path, sheet)
        else:
            parsed = _exports.read_parquet_export(path)
    except FactlabError:
        raise
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    except (KeyboardInterrupt, SystemExit, Terminated):
        raise
    except BaseException as exc:  # parsers raise many types, a Rust panic a BaseException;
        # their messages may quote cells, so only the type is told
        raise InputError(f"{path}: cannot be read as {kind} ({type(exc).__name__})") from None
    facts = {"format": kind, **parsed.facts}
    if parsed.blank_rows:
        facts["blank_rows"] = str(parsed.blank_rows)
    if parsed.dropped:
        facts["dropped_columns"] = ", ".join(
            f"{name} ({dtype})" for name, dtype in parsed.dropped.items()
        )
    if parsed.frame.height == 0:
        blank = f" ({parsed.blank_rows} blank)" if parsed.blank_rows else ""
        raise InputError(f"{path}: the file has no data rows{blank}")
    return Export(
        frame=parsed.frame,
        facts=facts,
        sha256=parsed.sha256,
        blank_rows=parsed.blank_rows,
        dropped_columns=dict(parsed.dropped),
    )


def read_export(
    path: str | Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """Read a provider export (CSV, Excel or Parquet) as it is, without interpreting any value.

    CSV and Excel cells are read as text, so leading zeros and written forms survive and no
    cell depends on the type of the cells above it. For CSV the delimiter (``;``, ``,``, tab or
    ``|``) is detected from the header line, or taken from an Excel ``sep=`` first line; the
    encoding is UTF-8 (with or without BOM), UTF-16 or UTF-32 with a BOM, or Windows-1252 when
    the file holds no UTF-8 sequence at all, unless given; lines may end in LF, CRLF or CR.
    Wholly blank lines and rows are left out and counted (``blank_rows``). Parquet columns of a
    type no field can be read from (lists, structs, binary data, durations) are left out and
    named (``dropped_columns``).

    Refused, with the line or column and never a value: a FIFO or device; a column name given
    twice; more than 16,384 columns; a workbook that unpacks to more than 1 GiB; a UTF-8 file
    with bytes that are not UTF-8; a CSV line with more fields than the header, or a quote that
    is never closed.

    Returns:
        The rows, and facts about how the file was read (``format``, ``encoding``, ``delimiter``,
        ``blank_rows``, ``dropped_columns``).

    Raises:
        InputError: as :func:`load_export`.
    """
    export = load_export(path, delimiter=delimiter, encoding=encoding, sheet=sheet)
    return export.frame.lazy(), export.facts


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
        InputError: the file is missing, unreadable, no regular file (a FIFO, a device), larger
            than 16 MiB, or not UTF-8 text.
        ConfigError: it is not valid TOML (the error's source is the path).

    Example:
        >>> read_toml("rules.toml", what="rules file")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: rules.toml: rules file not found
    """
    data = _export_checks.read_regular(path, what=what)
    return parse_toml(data, source=str(path), what=what)
