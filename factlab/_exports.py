"""How the export readers of :mod:`factlab.io` read each format.

:func:`factlab.io.load_export` is the public reader; this private module holds its parts, and
:mod:`factlab._export_checks` the checks they make. Every Excel cell is read as text, as every
CSV cell is, so that no cell depends on the type guessed from the rows above it. A CSV file may
be UTF-8 (with or without BOM), UTF-16 or UTF-32 with a BOM, or Windows-1252 when it holds no
UTF-8 at all; a UTF-8 file with a stray byte is refused at the line of that byte. Lines may end
in LF, CRLF or CR, and an Excel first line ``sep=;`` names the delimiter. Wholly blank lines and
rows are left out and counted: rows in = rows out + blank rows.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import mmap
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, TextIO

import polars as pl

from factlab import _export_checks as checks
from factlab._export_checks import (
    check_memory,
    check_names,
    check_width,
    check_workbook,
    diagnose_csv,
    drop_blank_rows,
    open_regular,
    readable_dtype,
    sha256_of_file,
    shown,
)
from factlab._sheet_extent import check_sheet_extent
from factlab.errors import InputError, Terminated

__all__ = [
    "Parsed",
    "read_csv_export",
    "read_excel_export",
    "read_parquet_export",
    "utf8_error",
]

_BOM: Final = b"\xef\xbb\xbf"
#: Byte-order marks of the wide encodings, UTF-32 first (its little-endian mark starts with
#: UTF-16's). Python's "utf-16" and "utf-32" codecs read the mark and drop it.
_WIDE_BOMS: Final = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
#: A valid UTF-8 sequence of two to four bytes. A file that holds one was written as UTF-8, so
#: an invalid byte elsewhere in it is an error, not a sign of Windows-1252.
_UTF8_SEQUENCE: Final = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
#: Excel's first line naming the delimiter, e.g. ``sep=;``.
_SEP_LINE: Final = re.compile(rb"sep=([\t !-~])\r?")
_SNIFF_BYTES: Final = 64 * 1024
_ASCII_CHUNK: Final = 1 << 23
_SAVE_AS_UTF8: Final = "save it as UTF-8, or give its encoding as input.encoding in a mapping file"


@dataclass(frozen=True)
class Parsed:
    """What a format's reader gives :func:`factlab.io.load_export`."""

    frame: pl.DataFrame
    sha256: str
    facts: dict[str, str] = field(default_factory=dict)
    blank_rows: int = 0
    dropped: dict[str, str] = field(default_factory=dict)


def _open_export(path: Path) -> BinaryIO:
    handle = open_regular(path)
    if os.fstat(handle.fileno()).st_size == 0:
        handle.close()
        raise InputError(f"{path}: the file is empty")
    return handle


def _sha256(data: bytes | mmap.mmap) -> str:
    return hashlib.sha256(data).hexdigest()


# --- CSV -------------------------------------------------------------------------------------


def _is_ascii(data: bytes | mmap.mmap) -> bool:
    # a memory map has no isascii(): it is checked in slices (copies of 8 MiB, which is cheap)
    return all(
        data[start : start + _ASCII_CHUNK].isascii() for start in range(0, len(data), _ASCII_CHUNK)
    )


def utf8_error(data: bytes | mmap.mmap) -> int | None:
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


def _line_of(data: bytes | mmap.mmap, offset: int, encoding: str = "latin-1") -> int:
    """The line (from 1) that holds byte ``offset``; lines end in LF, CRLF or a lone CR."""
    before = bytes(data[:offset]).decode(encoding, "replace")
    newlines = before.count("\n")
    return 1 + (newlines if newlines else before.count("\r"))


def _csv_text(
    path: Path, data: bytes | mmap.mmap, encoding: str | None
) -> tuple[bytes | mmap.mmap, str]:
    """The file as UTF-8 bytes (``data`` itself when it is UTF-8), and the encoding it was read as.

    UTF-16 and UTF-32 are recognised by their byte-order mark and decoded. Without a mark or a
    given encoding, a file that is not valid UTF-8 is read as Windows-1252 only when it holds no
    valid multi-byte UTF-8 sequence at all: a UTF-8 file with one stray byte is refused at the
    line of that byte, where reading it all as Windows-1252 would turn every ``ë`` into ``Ã«``.
    """
    if encoding is None:
        encoding = next((name for mark, name in _WIDE_BOMS if data[: len(mark)] == mark), None)
    bom = data[: len(_BOM)] == _BOM
    if encoding in ("utf-8", "utf-8-sig") or (encoding is None and bom):
        error = utf8_error(data)
        if error is not None:
            at = error - len(_BOM) if bom else error  # counted after the BOM
            raise InputError(
                f"{path}: line {_line_of(data, error)}: not valid UTF-8 at byte {at}; "
                + _SAVE_AS_UTF8
            )
        return data, "utf-8-sig" if bom else "utf-8"
    if encoding is None:
        start = data[:1024]
        if start.count(b"\x00") * 4 > len(start):
            raise InputError(
                f"{path}: looks like UTF-16 without a byte-order mark; {_SAVE_AS_UTF8} "
                '(e.g. "utf-16-le")'
            )
        error = utf8_error(data)
        if error is None:
            return data, "utf-8"
        if _UTF8_SEQUENCE.search(data):
            raise InputError(
                f"{path}: line {_line_of(data, error)}: not valid UTF-8 at byte {error}, though "
                f"the rest of the file is UTF-8; {_SAVE_AS_UTF8}"
            )
        encoding = "cp1252"  # no UTF-8 sequence anywhere: a file saved as Windows-1252
    try:
        text = bytes(data).decode(encoding)
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc.start, encoding)
        raise InputError(
            f"{path}: line {line}: cannot be read as {encoding} (byte {exc.start})"
        ) from None
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r}") from None
    return text.removeprefix("\ufeff").encode("utf-8"), encoding


def _detect_delimiter(header: str) -> str:
    counts = {candidate: header.count(candidate) for candidate in (";", ",", "\t", "|")}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] > 0 else ","


@dataclass(frozen=True)
class _Layout:
    separator: str
    skip_lines: int
    line_end: str
    names: list[str]


def _layout(path: Path, text: bytes | mmap.mmap, delimiter: str | None) -> _Layout:
    """Delimiter, lines before the header and line end of a CSV file; checks the header line.

    Lines end in LF or CRLF, or in a lone CR (old Mac files) when the file has no LF at all. An
    Excel first line ``sep=;`` names the delimiter and is skipped.
    """
    line_end = b"\r" if text.find(b"\n") < 0 and text.find(b"\r") >= 0 else b"\n"
    start = len(_BOM) if text[: len(_BOM)] == _BOM else 0
    skip_lines = 0
    named: str | None = None
    first_end = text.find(line_end, start, start + 16)
    first = bytes(text[start : first_end if first_end >= 0 else start + 16])
    sep_line = _SEP_LINE.fullmatch(first)
    if sep_line is not None:
        named = sep_line.group(1).decode("ascii")
        skip_lines = 1
        start = first_end + 1 if first_end >= 0 else len(text)
    end = text.find(line_end, start, start + checks.MAX_HEADER_BYTES + 1)
    if end < 0:
        if len(text) - start > checks.MAX_HEADER_BYTES:
            raise InputError(
                f"{path}: line {skip_lines + 1}: the header line is longer than "
                f"{checks.MAX_HEADER_BYTES >> 20} MiB"
            )
        end = len(text)
    header = bytes(text[start:end]).rstrip(b"\r")
    separator = (
        delimiter or named or _detect_delimiter(header[:_SNIFF_BYTES].decode("utf-8", "replace"))
    )
    # counted on the bytes before anything is split: a header of 10^8 names is refused here
    check_width(path, header.count(separator.encode("utf-8")) + 1, advice="is the delimiter right?")
    names = next(csv.reader([header.decode("utf-8", "replace")], delimiter=separator), [])
    if not any(name.strip() for name in names):
        # else the parser takes the next line of data for the names, or skips an empty line
        raise InputError(
            f"{path}: line {skip_lines + 1}: no column names; the first line must name the columns"
        )
    check_names(path, names)
    return _Layout(separator, skip_lines, line_end.decode("ascii"), names)


def _named(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """``frame`` with the header's names as a CSV reader reads them (Polars keeps a doubled
    quote of a quoted name doubled); unnamed columns keep the names Polars gave them."""
    if len(names) != frame.width:
        return frame  # a name with a line break in it: the parser's names stand
    renamed = [name or column for name, column in zip(names, frame.columns, strict=True)]
    if renamed == frame.columns or len(set(renamed)) < len(renamed):
        return frame
    return frame.rename(dict(zip(frame.columns, renamed, strict=True)))


def read_csv_export(path: Path, delimiter: str | None, encoding: str | None) -> Parsed:
    """The rows of a CSV export, every cell as text, and the SHA-256 of its bytes.

    The file is mapped into memory rather than read: its SHA-256 is computed in a second thread
    (hashlib releases the interpreter lock) while the encoding is checked and the rows are
    parsed, and nothing is copied for a UTF-8 file.
    """
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(_open_export(path))
        read = os.fstat(handle.fileno())
        data: bytes | mmap.mmap
        try:
            data = stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        except (OSError, ValueError):  # a file system without memory maps
            data = handle.read()
        # entered last, so left first: the hash is done before the memory map is closed
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1))
        digest = pool.submit(_sha256, data)
        text, used = _csv_text(path, data, encoding)
        layout = _layout(path, text, delimiter)
        # a UTF-8 file is parsed where it lies (on disk, or the bytes read); others as converted
        source: Path | bytes = text if isinstance(text, bytes) else path
        try:
            frame = pl.read_csv(
                source,
                separator=layout.separator,
                infer_schema=False,
                truncate_ragged_lines=False,
                glob=False,
                skip_lines=layout.skip_lines,
                eol_char=layout.line_end,
            )
        except (KeyboardInterrupt, SystemExit, Terminated):
            raise  # stopped: no diagnosis (a second pass over the file) on the way out
        except BaseException as exc:  # a Rust panic is a BaseException; its message quotes cells

            def open_text() -> TextIO:
                raw = io.BytesIO(text) if isinstance(text, bytes) else open_regular(path)
                return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")

            fault = diagnose_csv(open_text, layout.separator, layout.skip_lines)
            if fault is None:
                raise InputError(f"{path}: cannot be read as csv ({type(exc).__name__})") from None
            raise InputError(f"{path}: line {fault[0]}: {fault[1]}") from None
        sha256 = digest.result()
    now = path.stat()
    if (now.st_size, now.st_mtime_ns) != (read.st_size, read.st_mtime_ns):
        raise InputError(f"{path}: the file changed while it was being read")
    frame, blank = drop_blank_rows(_named(frame, layout.names))
    return Parsed(
        frame, sha256, {"encoding": used, "delimiter": layout.separator}, blank_rows=blank
    )


# --- Excel -----------------------------------------------------------------------------------


def read_excel_export(path: Path, sheet: str | None) -> Parsed:
    """The rows of a sheet (the first unless named), every cell as text, and the file's SHA-256.

    The first row of the sheet holds the column names. Cells are read as text whatever their
    type (numbers as Excel stores them, ``999993653`` or ``1602.38``; dates as
    ``2013-01-01 00:00:00``), so a cell is never lost to the type guessed from the rows above
    it, and empty rows are counted, not dropped unseen.
    """
    import fastexcel  # here: only Excel exports need it

    with _open_export(path) as handle:
        data = handle.read()
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(_sha256, data)
        check_workbook(path, data)
        reader = fastexcel.read_excel(data)
        if sheet is not None and sheet not in reader.sheet_names:
            raise InputError(f"{path}: cannot be read as xlsx: no sheet named {shown(sheet)}")
        # the parser allocates the sheet's whole rectangle of cells: measured first
        check_sheet_extent(path, data, sheet)
        loaded = reader.load_sheet(
            sheet if sheet is not None else 0, header_row=None, dtypes="string"
        )
        cells = loaded.to_polars()
        sha256 = digest.result()
    if cells.height == 0:
        raise InputError(f"{path}: the sheet is empty")
    names = [value or f"__UNNAMED__{index}" for index, value in enumerate(cells.row(0))]
    check_names(path, names)
    frame = cells.slice(1).rename(dict(zip(cells.columns, names, strict=True)))
    frame, blank = drop_blank_rows(frame)
    return Parsed(frame, sha256, blank_rows=blank)


# --- Parquet ---------------------------------------------------------------------------------


def read_parquet_export(path: Path) -> Parsed:
    """The columns of a Parquet export that hold text, numbers, booleans or dates, and its SHA-256.

    Its types are checked from the footer before a row is read. A column of another type (a
    list, a struct, binary data that is not UTF-8 text, a duration) cannot feed any field: it is
    left out and named in ``dropped`` (type by name), and refused by name if it is used.
    """
    import pyarrow.parquet as pq  # here: only Parquet exports need it

    _open_export(path).close()
    footer = pq.read_metadata(path)
    check_names(path, footer.schema.to_arrow_schema().names)
    schema = pl.read_parquet_schema(path)
    dropped = {
        name: str(dtype)
        for name, dtype in schema.items()
        if not readable_dtype(dtype) and dtype != pl.Binary
    }
    kept = [dtype for name, dtype in schema.items() if name not in dropped]
    check_memory(path, footer.num_rows, kept)
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(sha256_of_file, path)
        columns = [name for name in schema if name not in dropped]
        frame = pl.read_parquet(path, columns=columns) if columns else pl.DataFrame()
        sha256 = digest.result()
    for name, dtype in schema.items():
        if dtype == pl.Binary:
            # text written without its UTF-8 annotation is text; other bytes are no field's
            try:
                frame = frame.with_columns(pl.col(name).cast(pl.String))
            except pl.exceptions.PolarsError:
                frame = frame.drop(name)
                dropped[name] = "Binary (not UTF-8 text)"
    if frame.width == 0:
        raise InputError(f"{path}: no column holds text, numbers, booleans or dates")
    return Parsed(frame, sha256, dropped=dropped)
