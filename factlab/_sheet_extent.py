"""How far an Excel sheet reaches, measured before the Excel parser allocates it.

The Excel parser (calamine, behind fastexcel) holds a sheet as one rectangle of cells, from the
first to the last cell that holds a value. A workbook of 5 KB with values in A1, A2 and
GS1048576 makes it allocate 2·10^8 cells (14 GB, over a minute); with a memory limit the process
is aborted, which Python cannot catch. So the rectangle is measured here first, from the cell
references in the sheet's XML, streamed a chunk at a time: the sheet's stated ``<dimension>`` may
lie, its cells cannot. A sheet that reaches further than :func:`max_sheet_cells` allows is
refused (:func:`check_sheet_extent`).

Cells whose tag states its place (``<c r="B7" …>``, as every spreadsheet program writes them) are
read with Polars' expressions; a sheet with a cell that does not, is read once more, tag by tag,
in the parser's order (a cell without a reference follows the one before it in its row).
Private to factlab: :func:`factlab._exports.read_excel_export` calls it.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final
from xml.etree import ElementTree

import polars as pl

from factlab._export_checks import physical_memory, shown
from factlab.errors import InputError

__all__ = ["CELL_BYTES", "MAX_SHEET_CELLS", "check_sheet_extent", "max_sheet_cells", "sheet_extent"]

#: Most cells (rows × columns, counted from A1) of a sheet factlab reads from Excel: 10^8, about
#: 6 GiB in the parser. Excel's own grid is 1,048,576 rows × 16,384 columns (1.7·10^10 cells).
MAX_SHEET_CELLS: Final = 100_000_000
#: Bytes the Excel parser and the text columns made from it take per cell of the rectangle (about
#: 50 measured with fastexcel 0.21; rounded up).
CELL_BYTES: Final = 64

_CHUNK: Final = 1 << 24
#: A tag (or comment) longer than this is none a spreadsheet program writes.
_MAX_TAG: Final = 1 << 20
#: The workbook's list of sheets and its relationships are a few KiB; more is not read.
_MAX_LIST_BYTES: Final = 1 << 24
_PREFIX: Final = r"(?:[A-Za-z_][A-Za-z0-9_.\-]*:)?"
#: A tag whose quoted values hold no ``<``: in a piece where every ``<`` starts one, each tag is
#: where the parser finds it (a ``>`` or ``/>`` inside a quoted value ends none).
_PLAIN_TAG: Final = r"""<[^<>"']*(?:(?:"[^"<]*"|'[^'<]*')[^<>"']*)*>"""
_CELL_TAG: Final = rf"""<{_PREFIX}c(?:[\s/][^<>"']*(?:(?:"[^"<]*"|'[^'<]*')[^<>"']*)*)?>"""
#: A cell as every spreadsheet program writes it, ``<c r="B7" …>`` (quoted values without ``<``).
_STANDARD_CELL: Final = r"""<c r="[A-Za-z]{1,3}[0-9]{1,7}"(?:\s+[^\s=<>/"']+="[^"<]*")*\s*/?>"""
#: Any cell tag's first ``r`` attribute, found attribute by attribute (never inside another
#: attribute's value).
_REF_ATTRIBUTE: Final = (
    rf"""^<{_PREFIX}c(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*?\s+r\s*=\s*["']([^"']*)["']"""
)
_REF: Final = re.compile(rb"([A-Za-z]{1,3})([0-9]{1,7})")
#: For the reading tag by tag: any tag (the parser lets a quoted value hold ``<``), its name,
#: and one attribute.
_ANY_TAG: Final = re.compile(rb"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")
_NAME: Final = re.compile(rf"<{_PREFIX}(row|c)(?=[\s/>])".encode())
_ATTRIBUTE: Final = re.compile(rb"""\s*([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
#: What ends a comment, a CDATA section and a processing instruction.
_SPECIAL_ENDS: Final = ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>"))


def max_sheet_cells(memory: int | None = None) -> int:
    """Most cells of a sheet read from Excel on this machine: :data:`MAX_SHEET_CELLS`, or fewer
    when half of the machine's memory (``memory`` bytes) holds fewer at :data:`CELL_BYTES` each.

    Example:
        >>> max_sheet_cells(8 << 30)
        67108864
    """
    memory = physical_memory() if memory is None else memory
    if memory is None:
        return MAX_SHEET_CELLS
    return min(MAX_SHEET_CELLS, memory // (2 * CELL_BYTES))


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def column_letters(number: int) -> str:
    """Excel's name of a column (from 1), e.g. ``GS`` for 201."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# --- which part holds the sheet --------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _small_xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    try:
        with archive.open(name) as stream:
            data = stream.read(_MAX_LIST_BYTES + 1)
        if len(data) > _MAX_LIST_BYTES:
            return None
        return ElementTree.fromstring(data)
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, OSError, ValueError):
        return None


def _sheet_part(archive: zipfile.ZipFile, sheet: str | None) -> str | None:
    """The archive member that holds ``sheet`` (the first sheet for None); None if not found."""
    book = _small_xml(archive, "xl/workbook.xml")
    links = _small_xml(archive, "xl/_rels/workbook.xml.rels")
    if book is None or links is None:
        return None
    sheets = [
        (element.get("name"), next((v for k, v in element.items() if _local(k) == "id"), None))
        for element in book.iter()
        if _local(element.tag) == "sheet"
    ]
    chosen = next((rid for name, rid in sheets if name == sheet), None) if sheet else None
    if sheet is None and sheets:
        chosen = sheets[0][1]
    target = next((item.get("Target") for item in links.iter() if item.get("Id") == chosen), None)
    if not target:
        return None
    part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    part = posixpath.normpath(part)
    return part if part in archive.NameToInfo else None


# --- reading the cells -----------------------------------------------------------------------


def _fast_piece(piece: bytes, *, first: bool) -> tuple[int, int] | None:
    """Rows and columns reached by the cells of one piece that hold a value; None unless every
    ``<`` starts a plain tag and every cell holding a value states its place."""
    declaration = piece.find(b"<") + 1 if first else 0  # <?xml …?> leads the part
    if b"<!" in piece or piece.find(b"<?", declaration) >= 0:
        return None  # a comment, CDATA or instruction may hide what looks like a tag
    text = pl.Series([piece.decode("utf-8", "replace")])
    if text.str.count_matches(_PLAIN_TAG).item() != piece.count(b"<"):
        return None  # a "<" inside a quoted value: a tag is not where it seems
    standard = text.str.extract_all(_STANDARD_CELL).explode().drop_nulls()
    if standard.len() == text.str.count_matches(_CELL_TAG).item():
        # every cell as spreadsheet programs write it: its place between the first quotes
        valued = standard.filter(~standard.str.ends_with("/>"))
        places = valued.str.split_exact('"', 1).struct.field("field_1")
    else:
        tags = text.str.extract_all(_CELL_TAG).explode().drop_nulls()
        places = tags.filter(~tags.str.ends_with("/>")).str.extract(_REF_ATTRIBUTE, 1)
    found = (
        pl.DataFrame({"place": places})
        .select(pl.col("place").str.extract_groups(r"^([A-Za-z]{1,3})([0-9]{1,7})$"))
        .unnest("place")
        .select(
            pl.col("1").null_count().alias("unplaced"),
            pl.col("2").cast(pl.Int64).max().alias("row"),
            pl.col("1").drop_nulls().str.to_uppercase().unique().implode().alias("column"),
        )
    )
    if found["unplaced"].item():
        return None  # a cell without its place, or with one that is none: read tag by tag
    columns = [_column_number(name) for name in found["column"].item()]
    return found["row"].item() or 0, max(columns, default=0)


def _fast_extent(stream: IO[bytes]) -> tuple[int, int] | None:
    """Rows and columns reached by the cells that hold a value, read in pieces of whole tags
    with Polars; None when the part must be read tag by tag (:func:`_tag_by_tag_extent`)."""
    rows = columns = 0
    carried = b""
    first = True
    while True:
        chunk = stream.read(_CHUNK)
        data = carried + chunk
        cut = data.rfind(b"<") if chunk else len(data)
        piece, carried = (data, b"") if cut < 0 else (data[:cut], data[cut:])
        if len(carried) > _MAX_TAG:
            return None  # a tag, or text after it, of over 1 MiB
        if piece:
            extent = _fast_piece(piece, first=first)
            if extent is None:
                return None
            rows, columns = max(rows, extent[0]), max(columns, extent[1])
            first = False
        if not chunk:
            return rows, columns


def _token_end(data: bytes, start: int) -> int | None:
    """Where the tag, comment, CDATA section or instruction at ``start`` ends; None when it is
    not finished in ``data``."""
    for opening, closing in _SPECIAL_ENDS:
        if data.startswith(opening, start):
            end = data.find(closing, start + len(opening))
            return None if end < 0 else end + len(closing)
    tag = _ANY_TAG.match(data, start)
    return None if tag is None else tag.end()


def _start_tags(stream: IO[bytes], path: Path) -> Iterator[tuple[bytes, bytes]]:
    """The start tags of rows and cells in the parser's order: (``row`` or ``c``, the tag)."""
    data = b""
    while True:
        chunk = stream.read(_CHUNK)
        data += chunk
        position = 0
        while (start := data.find(b"<", position)) >= 0:
            end = _token_end(data, start)
            if end is None:
                break
            name = _NAME.match(data, start, end)
            if name is not None:
                yield name[1], data[name.end() : end]
            position = end
        else:
            start = len(data)
        data = data[start:]
        if len(data) > _MAX_TAG:
            raise InputError(f"{path}: cannot be read as xlsx (a tag of over 1 MiB)")
        if not chunk:
            return


def _reference(path: Path, attributes: bytes) -> bytes | None:
    """The ``r`` attribute of a tag's attributes (the text after its name); None without one."""
    body = attributes.rstrip(b">").rstrip().rstrip(b"/")
    position = 0
    found: bytes | None = None
    while position < len(body):
        attribute = _ATTRIBUTE.match(body, position)
        if attribute is None or attribute.end() == position:
            if body[position:].strip():
                raise InputError(f"{path}: cannot be read as xlsx (a tag that is not XML)")
            break
        if attribute[1] == b"r" and found is None:
            found = attribute[2] if attribute[2] is not None else attribute[3]
        position = attribute.end()
    return found


def _tag_by_tag_extent(stream: IO[bytes], path: Path) -> tuple[int, int]:
    """Rows and columns reached by the cells that hold a value, following the parser: a row or
    cell without a reference comes right after the one before it."""
    rows = columns = 0
    row = column = 0
    for name, attributes in _start_tags(stream, path):
        reference = _reference(path, attributes)
        if name == b"row":
            if reference is None:
                row += 1
            elif reference.isdigit() and len(reference) <= 7:
                row = int(reference)
            else:
                raise InputError(f"{path}: cannot be read as xlsx (a row number that is none)")
            column = 0
            continue
        if reference is None:
            column += 1
            place = (max(row, 1), column)
        else:
            found = _REF.fullmatch(reference)
            if found is None:
                raise InputError(f"{path}: cannot be read as xlsx (a cell reference that is none)")
            place = (int(found[2]), _column_number(found[1].decode("ascii")))
            column = place[1]
        if not attributes.rstrip(b">").rstrip().endswith(b"/"):  # else empty: skipped
            rows, columns = max(rows, place[0]), max(columns, place[1])
    return rows, columns


def _part_extent(archive: zipfile.ZipFile, part: str, path: Path) -> tuple[int, int]:
    with archive.open(part) as stream:
        start = stream.read(4)
    if start[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in start:
        raise InputError(f"{path}: cannot be read as xlsx (a sheet not written in UTF-8)")
    with archive.open(part) as stream:
        fast = _fast_extent(stream)
    if fast is not None:
        return fast
    with archive.open(part) as stream:
        return _tag_by_tag_extent(stream, path)


def sheet_extent(path: Path, data: bytes, sheet: str | None) -> tuple[int, int]:
    """The last row and column (from 1) that a cell holding a value reaches in ``sheet`` (the
    first sheet for None), read from the workbook's bytes ``data`` with bounded memory.

    When the sheet's part cannot be told from the workbook's lists, every XML part is measured
    and the largest extent taken: the parser must not find a larger sheet than was measured.

    Raises:
        InputError: not a zip archive, or a sheet no spreadsheet program writes (a cell tag of
            over 1 MiB, a cell reference that is none, a sheet not in UTF-8).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            part = _sheet_part(archive, sheet)
            parts = (
                [part]
                if part is not None
                else [name for name in archive.namelist() if name.lower().endswith(".xml")]
            )
            extents = [_part_extent(archive, name, path) for name in parts]
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        ValueError,
        RuntimeError,
        NotImplementedError,
        zlib.error,
    ):
        raise InputError(f"{path}: cannot be read as xlsx (a damaged zip archive)") from None
    return max(extents, default=(0, 0), key=lambda extent: extent[0] * extent[1])


def check_sheet_extent(path: Path, data: bytes, sheet: str | None) -> None:
    """Refuse a sheet whose rectangle of cells (A1 to its last row and column) holds more than
    :func:`max_sheet_cells`; only its extent is told, never a cell.

    Raises:
        InputError: the sheet reaches too far, or :func:`sheet_extent` refuses the workbook.
    """
    rows, columns = sheet_extent(path, data, sheet)
    limit = max_sheet_cells()
    if rows * columns > limit:
        name = f"sheet {shown(sheet)}" if sheet is not None else "the first sheet"
        raise InputError(
            f"{path}: {name} reaches row {rows} and column {column_letters(columns)} "
            f"({rows} × {columns} = {rows * columns} cells, counted from A1), more than factlab "
            f"reads from Excel ({limit} cells); a sheet with cells far apart is made to exhaust "
            "memory: keep the data in one block, or save it as CSV (UTF-8)"
        )
