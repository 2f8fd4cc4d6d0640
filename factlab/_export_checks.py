"""What the export readers check before and after they parse: the refusals of hostile input.

An export comes from outside: a hurried user's save from Excel, or a file made to hurt. Each check
here turns one way such a file would go wrong into one line that names the file, the line or
column and the reason, never a value of a client, a hang, exhausted memory or a parser's panic:

* a FIFO or a device (``/dev/zero`` behind a symlink) is refused before a byte is read
  (:func:`open_regular`, also behind every hash of an input, :func:`sha256_of_file`, and every
  configuration, key or JSON file read whole, :func:`read_regular`, which reads at most
  :data:`MAX_SMALL_FILE_BYTES`);
* a workbook that unpacks to more than :data:`MAX_WORKBOOK_BYTES` (a zip bomb, or a zip whose
  stated sizes lie) is refused before the Excel parser sees it (:func:`check_workbook`);
* a header of more than :data:`MAX_COLUMNS` columns, or a column name given twice, is refused
  before the rows are parsed (:func:`check_names`);
* when the CSV parser fails, the first line with too many fields or an unbalanced quote is named
  (:func:`diagnose_csv`) instead of the parser's message, which quotes cells.

Wholly blank lines and rows are counted and left out (:func:`drop_blank_rows`). Private to
factlab: the readers are in :mod:`factlab._exports`, the public ones in :mod:`factlab.io`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO, Final, TextIO

import polars as pl

from factlab.errors import InputError

__all__ = [
    "MAX_COLUMNS",
    "MAX_HEADER_BYTES",
    "MAX_SMALL_FILE_BYTES",
    "MAX_WORKBOOK_BYTES",
    "check_memory",
    "check_names",
    "check_width",
    "check_workbook",
    "diagnose_csv",
    "drop_blank_rows",
    "file_kind",
    "open_regular",
    "physical_memory",
    "read_regular",
    "readable_dtype",
    "sha256_of_file",
    "shown",
]

#: Most columns an export may have: Excel's own limit (16,384, column XFD). A header with more is
#: refused before parsing: a CSV header of 10^8 separators would otherwise take all memory.
MAX_COLUMNS: Final = 16_384
#: Longest CSV header line read (16 MiB: 16,384 names of 1 KiB each).
MAX_HEADER_BYTES: Final = 1 << 24
#: Most bytes of a file read whole: a mapping, round configuration, rules, corrections or JSON
#: file (16 MiB; they are a few KiB). Key files have their own, smaller limit.
MAX_SMALL_FILE_BYTES: Final = 1 << 24
#: Most bytes an Excel workbook may unpack to (1 GiB, all its parts together). The Excel parser
#: holds a sheet in memory at several times the size of its XML; more data is given as CSV.
MAX_WORKBOOK_BYTES: Final = 1 << 30

#: Deflate writes at least one bit per 258 bytes, so one byte inflates to at most about 1,032.
_DEFLATE_MAX_RATIO: Final = 1032
_INFLATE_STEP: Final = 1 << 20
_LOCAL_HEADER: Final = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length
_NAME_SHOWN: Final = 60
_DIGIT_RUN: Final = re.compile(r"[0-9]{8,}")
_SEPARATORS: Final = re.compile(r"[\s.\-]")
_HASH_CHUNK: Final = 1 << 20
#: The start of an OLE compound file: an .xls, or an .xlsx encrypted with a password.
_OLE_SIGNATURE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# --- files -----------------------------------------------------------------------------------


def file_kind(mode: int) -> str:
    """What a file that is no regular file is, for a message: ``a FIFO (named pipe)``, …"""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "a special file"


def open_regular(path: str | Path, *, what: str | None = None) -> BinaryIO:
    """Open a file for reading in binary mode; refuse anything but a regular file.

    Symlinks are followed and the type is checked on the opened descriptor, so the file checked
    is the file read. It is opened without blocking: opening a FIFO otherwise waits for a writer
    forever (``O_NONBLOCK`` changes nothing for a regular file). Every file factlab reads is
    opened here (or by :func:`read_regular`), or checked here before a parser opens it.

    Args:
        path: the file.
        what: what the file is, for messages (e.g. ``mapping file``); None for an export.

    Raises:
        InputError: missing, not readable, or a folder, FIFO, device or socket.

    Example:
        >>> open_regular("/dev/null")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: /dev/null: a device, not a file; give the export as a file
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"{path}: {what or 'file'} not found") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be opened ({exc.strerror})") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            advice = "; give the export as a file" if what is None else ""
            raise InputError(f"{path}: {file_kind(mode)}, not a file{advice}")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: str | Path, *, what: str, limit: int = MAX_SMALL_FILE_BYTES) -> bytes:
    """The bytes of a small regular file read whole: a configuration, key or JSON file.

    Opened by :func:`open_regular`; at most ``limit`` bytes are read, so ``/dev/zero`` behind a
    symlink, or a file that grows while it is read, cannot fill memory.

    Raises:
        InputError: as :func:`open_regular`, a read error, or larger than ``limit``.

    Example:
        >>> read_regular("/dev/zero", what="mapping file")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: /dev/zero: a device, not a file
    """
    with open_regular(path, what=what) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if len(data) > limit:
        raise InputError(f"{path}: larger than {_size(limit)}, more than any {what} factlab reads")
    return data


def sha256_of_file(path: str | Path) -> str:
    """SHA-256 of a regular file's bytes, hex (see :func:`factlab.io.file_sha256`)."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def drop_blank_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The rows that hold anything but empty cells and spaces, and how many others there were.

    For text columns (a CSV or Excel export as read): a blank line, a line of delimiters only
    and an empty row of a sheet are blank.

    Example:
        >>> frame = pl.DataFrame({"BSN": ["999993653", None, " "], "Gemeente": ["Assen", None, ""]})
        >>> kept, blank = drop_blank_rows(frame)
        >>> kept.height, blank
        (1, 2)
    """
    if frame.height == 0 or frame.width == 0:
        return frame, 0

    def blank(name: str) -> pl.Expr:
        return pl.col(name).is_null() | ~pl.col(name).str.contains(r"\S")

    # The column with the fewest empty cells (the BSN column, mostly) rules out nearly every row
    # in one pass; only the rows left are checked on every column.
    lead = min(frame.columns, key=lambda name: frame[name].null_count())
    maybe = frame.select(blank(lead)).to_series()
    if not maybe.any():
        return frame, 0
    candidates = maybe.arg_true()
    wholly = frame[candidates].select(pl.all_horizontal(blank(name) for name in frame.columns))
    rows = candidates.filter(wholly.to_series())
    if rows.is_empty():
        return frame, 0
    drop = pl.repeat(False, frame.height, eager=True).scatter(rows, True)
    return frame.filter(~drop), rows.len()


# --- names -----------------------------------------------------------------------------------


def shown(name: str) -> str:
    """A column or sheet name for a message: quoted, and cut short when long."""
    return repr(name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN] + "…")


def _may_be_data(name: str) -> bool:
    """True for a name of eight or more digits (separators aside): in a file whose first line is
    not a header, the "name" is a client's BSN, and no message may show it."""
    return _DIGIT_RUN.search(_SEPARATORS.sub("", name)) is not None


def check_width(path: Path, count: int, *, advice: str = "") -> None:
    """Refuse a header of more than :data:`MAX_COLUMNS` columns."""
    if count > MAX_COLUMNS:
        raise InputError(
            f"{path}: the header has {count} columns, more than factlab reads ({MAX_COLUMNS})"
            + (f"; {advice}" if advice else "")
        )


def check_names(path: Path, names: Sequence[str | None]) -> None:
    """Refuse more than :data:`MAX_COLUMNS` columns or a column name given twice.

    Empty names are left alone (a sheet may have several unnamed columns). Column names are not
    client data, so the name is shown, with both positions (from 1); a name of eight or more
    digits is not: it means the first line is data, a client's BSN.

    Example:
        >>> check_names(Path("e.csv"), ["BSN", "Naam", "BSN"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        factlab.errors.InputError: e.csv: column name 'BSN' is given twice (columns 1 and 3); ...
    """
    check_width(path, len(names))
    first: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            continue
        if name in first:
            where = f"(columns {first[name]} and {position})"
            if _may_be_data(name):
                raise InputError(
                    f"{path}: a column name of digits is given twice {where}; does the file "
                    "start with a header line?"
                )
            raise InputError(
                f"{path}: column name {shown(name)} is given twice {where}; "
                "give each column its own name"
            )
        first[name] = position


# --- CSV faults ------------------------------------------------------------------------------


_CSV_REASONS: Final = (
    ("expected after", "text after a closing quote (a quote inside a field is written twice)"),
    ("end of data", 'a quote (") that is never closed'),
    ("field limit", "a field of more than 131,072 characters"),
    ("NUL", "a NUL byte"),
)


def _unclosed_quote(lines: Iterable[str]) -> int | None:
    """The line of a quote that is never closed (the parser then takes the rest for one field)."""
    inside = False
    opened = 0
    for number, line in enumerate(lines, start=1):
        if line.count('"') % 2:
            inside = not inside
            opened = number
    return opened if inside else None


def _reason(exc: csv.Error) -> str:
    return next((reason for part, reason in _CSV_REASONS if part in str(exc)), "not valid CSV")


def diagnose_csv(
    open_text: Callable[[], TextIO], separator: str, skip_lines: int = 0
) -> tuple[int, str] | None:
    """The line (from 1) and reason of the first fault of a CSV file the parser refused.

    Run only after the parser failed, it reads the text again, twice, a line at a time: for a
    quote that is never closed, then with the standard csv reader for a line with more fields
    than the header or a misplaced quote. The reason never holds a value; None if none is found.

    Args:
        open_text: opens the file's text (UTF-8, lines as they end: ``newline=""``).
        separator: the delimiter the parser used.
        skip_lines: lines before the header (an Excel ``sep=`` line).

    Example:
        >>> text = "BSN;Naam\\n999993653;Zo\\n999991723;An;extra\\n"
        >>> diagnose_csv(lambda: io.StringIO(text, newline=""), ";")
        (3, '3 fields where the header has 2')
    """
    with open_text() as stream:
        unclosed = _unclosed_quote(stream)
    if unclosed is not None:
        return unclosed, 'a quote (") that is never closed'
    with open_text() as stream:
        for _ in range(skip_lines):
            next(stream, None)
        reader = csv.reader(stream, delimiter=separator, quotechar='"', strict=True)
        try:
            width = len(next(reader))
            while True:
                start = skip_lines + reader.line_num + 1
                record = next(reader)
                if len(record) > width:
                    return start, f"{len(record)} fields where the header has {width}"
        except StopIteration:
            return None
        except csv.Error as exc:
            return skip_lines + reader.line_num, _reason(exc)


# --- Excel -----------------------------------------------------------------------------------


def _damaged(path: Path) -> InputError:
    return InputError(f"{path}: cannot be read as xlsx (a damaged zip archive)")


def _inflated_size(path: Path, data: bytes, entry: zipfile.ZipInfo, budget: int) -> int:
    """The bytes one zip entry really inflates to, counted up to just beyond ``budget``."""
    if entry.compress_type == zipfile.ZIP_STORED:
        return entry.compress_size
    start = entry.header_offset
    if start + _LOCAL_HEADER.size > len(data):
        raise _damaged(path)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, start)
    if signature != b"PK\x03\x04":
        raise _damaged(path)
    view = memoryview(data)[start + _LOCAL_HEADER.size + name_length + extra_length :]
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size = position = 0
    try:
        # a MiB at a time, the output counted and dropped, to the end of the stream itself:
        # the parser inflates what is there, whatever sizes the archive states
        while not inflater.eof and size <= budget:
            pending: bytes | memoryview = inflater.unconsumed_tail
            if not pending:
                if position >= len(view):
                    break
                pending = view[position : position + _INFLATE_STEP]
                position += _INFLATE_STEP
            size += len(inflater.decompress(pending, _INFLATE_STEP))
    except zlib.error:
        raise _damaged(path) from None
    return size


def check_workbook(path: Path, data: bytes) -> None:
    """Refuse an xlsx whose parts unpack to more than :data:`MAX_WORKBOOK_BYTES`.

    The sizes the archive states are checked first. They may lie, so a file large enough to
    inflate beyond the limit at deflate's highest ratio is inflated here as well, counting the
    bytes and keeping none.

    Raises:
        InputError: not a zip archive, a method xlsx does not use, or too large unpacked.
    """
    limit = MAX_WORKBOOK_BYTES
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        if data.startswith(_OLE_SIGNATURE):
            raise InputError(
                f"{path}: cannot be read as xlsx (a password-protected or old .xls workbook); "
                "save it as .xlsx without a password"
            ) from None
        raise InputError(f"{path}: cannot be read as xlsx (not a zip archive)") from None
    if any(e.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for e in entries):
        raise InputError(f"{path}: cannot be read as xlsx (compressed as Excel never does)")
    if len({entry.filename.lower() for entry in entries}) < len(entries):
        # two parts of one name: the part checked need not be the part the parser reads
        raise InputError(f"{path}: cannot be read as xlsx (a part is given twice)")
    too_large = InputError(
        f"{path}: the workbook unpacks to more than {limit >> 20} MiB, more than factlab reads "
        "from Excel; save the sheet as CSV (UTF-8) and give that file"
    )
    if sum(entry.file_size for entry in entries) > limit:
        raise too_large
    if len(data) * _DEFLATE_MAX_RATIO <= limit:
        return  # too small to unpack beyond the limit, whatever its sizes say
    total = 0
    for entry in entries:
        total += _inflated_size(path, data, entry, limit - total)
        if total > limit:
            raise too_large


# --- Parquet ---------------------------------------------------------------------------------


def _width(dtype: pl.DataType) -> int:
    """About the bytes a value of ``dtype`` takes in memory (text: its view and a short string)."""
    if isinstance(dtype, pl.Null):
        return 0
    if isinstance(dtype, pl.Boolean | pl.Int8 | pl.UInt8):
        return 1
    if isinstance(dtype, pl.Int16 | pl.UInt16):
        return 2
    if isinstance(dtype, pl.Int32 | pl.UInt32 | pl.Float32 | pl.Date):
        return 4
    if isinstance(dtype, pl.Int128 | pl.UInt128 | pl.Decimal):
        return 16
    if dtype.is_numeric() or isinstance(dtype, pl.Datetime):
        return 8
    return 24


def _size(count: int) -> str:
    return f"{count / (1 << 30):.1f} GiB" if count >= 1 << 30 else f"{count >> 20} MiB"


def physical_memory() -> int | None:
    """Bytes of memory of this machine; None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(path: Path, rows: int, dtypes: Sequence[pl.DataType]) -> None:
    """Refuse a Parquet file whose rows would not fit in this machine's memory once decoded.

    A few bytes of Parquet can declare 10^9 rows (a column of one repeated value compresses to
    almost nothing); decoding them would exhaust memory before any row is checked. The footer
    states the rows and the types, so the size in memory is estimated before a row is read.
    """
    memory = physical_memory()
    width = sum(_width(dtype) for dtype in dtypes)
    if memory is not None and rows * width > memory:
        raise InputError(
            f"{path}: {rows} rows would take about {_size(rows * width)} in memory, more than "
            f"this machine has ({_size(memory)})"
        )


def readable_dtype(dtype: pl.DataType) -> bool:
    """True for the column types a field can be read from: text, numbers, booleans, dates.

    Example:
        >>> readable_dtype(pl.String()), readable_dtype(pl.List(pl.Int64()))
        (True, False)
    """
    if dtype.is_numeric():
        return True
    return isinstance(
        dtype, pl.String | pl.Categorical | pl.Enum | pl.Boolean | pl.Date | pl.Datetime | pl.Null
    )
