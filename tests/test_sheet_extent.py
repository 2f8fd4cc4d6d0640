"""A sheet's reach is measured before the Excel parser allocates it (issue 14, follow-up of 20).

calamine holds a sheet as one rectangle from A1 to its last cell holding a value, so a few KB of
xlsx with cells A1, A2 and GS1048576 took 64 s and 14 GB, or an abort that Python cannot catch
under a memory limit. Every BSN here is from the test range and passes the elfproef.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import fastexcel
import pytest
import xlsxwriter

from factlab import _sheet_extent
from factlab._sheet_extent import column_letters, max_sheet_cells, sheet_extent
from factlab.errors import InputError
from factlab.io import load_export

BSN = "999993653"


def sparse_workbook(path: Path, row: int, column: int, *, first_sheet: bool = True) -> Path:
    """A header and one BSN at the top, and one value far away (row and column from 0)."""
    with xlsxwriter.Workbook(path) as book:
        if not first_sheet:
            notes = book.add_worksheet("Toelichting")
            notes.write(0, 0, "Toelichting")
            notes.write(1, 0, "zie volgend blad")
        sheet = book.add_worksheet("Export")
        sheet.write_string(0, 0, "BSN")
        sheet.write_string(1, 0, BSN)
        sheet.write_string(row, column, "x")
    return path


def test_a_sparse_workbook_is_refused_fast_and_without_memory(tmp_path: Path) -> None:
    # a real process under a 3 GiB address-space limit: before the fix calamine allocated the
    # 1048576 x 201 rectangle and the process was aborted (SIGABRT), or took a minute and 14 GB
    path = sparse_workbook(tmp_path / "sparse.xlsx", 1_048_575, 200)
    assert path.stat().st_size < 10_000
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from factlab.errors import InputError\n"
        "from factlab.io import load_export\n"
        "try:\n"
        "    load_export(sys.argv[1])\n"
        "except InputError as error:\n"
        "    print(error)\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == (
        f"{path}: the first sheet reaches row 1048576 and column GS (1048576 × 201 = 210763776 "
        f"cells, counted from A1), more than factlab reads from Excel ({max_sheet_cells()} "
        "cells); a sheet with cells far apart is made to exhaust memory: keep the data in one "
        "block, or save it as CSV (UTF-8)"
    )
    assert BSN not in done.stdout


def test_the_named_sheet_is_the_one_measured(tmp_path: Path) -> None:
    path = sparse_workbook(tmp_path / "two.xlsx", 1_048_575, 16_383, first_sheet=False)
    assert load_export(path).frame.height == 1  # the first sheet is small
    with pytest.raises(InputError, match=r"sheet 'Export' reaches row 1048576 and column XFD"):
        load_export(path, sheet="Export")


def test_the_limit_follows_the_machines_memory() -> None:
    assert max_sheet_cells(1 << 40) == _sheet_extent.MAX_SHEET_CELLS
    assert max_sheet_cells(8 << 30) == (8 << 30) // 128
    assert column_letters(201) == "GS"
    assert column_letters(16_384) == "XFD"


def test_a_sheet_within_the_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sparse_workbook(tmp_path / "near.xlsx", 99, 9)
    assert sheet_extent(path, path.read_bytes(), None) == (100, 10)
    export = load_export(path)
    assert (export.frame.shape, export.blank_rows) == ((2, 10), 97)
    monkeypatch.setattr(_sheet_extent, "MAX_SHEET_CELLS", 999)
    with pytest.raises(InputError, match=r"reaches row 100 and column J \(100 × 10 = 1000 cells"):
        load_export(path)


# --- the XML may lie; the cells may be written in any form the parser accepts ---------------


def _with_cells(tmp_path: Path, extra: str, *, dimension: str | None = None) -> bytes:
    base = sparse_workbook(tmp_path / "base.xlsx", 2, 1)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as sink:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", extra.encode() + b"</sheetData>")
                if dimension is not None:
                    data = data.replace(b'<dimension ref="A1:B3"/>', dimension.encode())
            sink.writestr(entry, data)
    return out.getvalue()


FAR = 'r="AX5000"'
# (extra XML after the sheet's rows, the rows and columns the parser reaches)
CELL_FORMS = [
    (f"<row r='5000'><c {FAR}><v>1</v></c></row>", (5000, 50)),
    (f"<row r='5000'><c {FAR} s='1'/></row>", (3, 2)),  # empty: the parser skips it
    ("<row r='5000'><c r='AX5000'><v>1</v></c></row>", (5000, 50)),
    (f"<x:row r='5000'><x:c {FAR}><x:v>1</x:v></x:c></x:row>", (5000, 50)),
    ('<row r="5000"><c r="ax05000"><v>1</v></c></row>', (5000, 50)),
    (f'<row r="5000"><c\n {FAR.replace("=", " = ")}\n><v>1</v></c></row>', (5000, 50)),
    # what looks like a cell's end or another cell, inside a quoted value
    (f'<row r="5000"><c foo="/>" {FAR}><v>1</v></c></row>', (5000, 50)),
    (f'<row r="5000"><c foo=\'<c r="A1">\' {FAR}><v>1</v></c></row>', (5000, 50)),
    (f'<row r="5000"><c xr:r="A1" {FAR}><v>1</v></c></row>', (5000, 50)),
    # comments and CDATA that would hide a cell from a naive scan
    (f"<!-- ' --><row r='5000'><c {FAR}><v>1</v></c></row><!-- ' -->", (5000, 50)),
    (f"<row r='5000'><c {FAR}><v>1</v></c></row><![CDATA[ <c r='A1'> ]]>", (5000, 50)),
    # cells without a reference follow the one before them, empty ones too
    ("<row r='5000'><c t='inlineStr'><is><t>x</t></is></c></row>", (5000, 1)),
    ("<row r='5000'><c s='1'/><c/><c><v>1</v></c></row>", (5000, 3)),
    ("<row><c r='AX10'><v>1</v></c></row><row><c><v>1</v></c></row>", (10, 50)),
]


@pytest.mark.parametrize(("extra", "reached"), CELL_FORMS)
def test_the_measure_covers_what_the_parser_allocates(
    tmp_path: Path, extra: str, reached: tuple[int, int]
) -> None:
    data = _with_cells(tmp_path, extra)
    loaded = fastexcel.read_excel(data).load_sheet(0, header_row=None, dtypes="string")
    rows, columns = sheet_extent(tmp_path / "e.xlsx", data, None)
    assert rows >= loaded.height
    assert columns >= loaded.width
    assert (rows, columns) == (max(reached[0], 3), max(reached[1], 2))


def test_a_stated_dimension_is_not_believed(tmp_path: Path) -> None:
    data = _with_cells(tmp_path, "", dimension='<dimension ref="A1:XFD1048576"/>')
    assert sheet_extent(tmp_path / "e.xlsx", data, None) == (3, 2)
    hidden = _with_cells(
        tmp_path, "<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>", dimension=""
    )
    assert sheet_extent(tmp_path / "e.xlsx", hidden, None) == (1_048_576, 16_384)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("<row r='9'><c r='A99999999'><v>1</v></c></row>", "a cell reference that is none"),
        ("<row r='x'><c><v>1</v></c></row>", "a row number that is none"),
    ],
)
def test_references_no_program_writes_are_refused(tmp_path: Path, extra: str, reason: str) -> None:
    data = _with_cells(tmp_path, extra)
    with pytest.raises(InputError, match=reason):
        sheet_extent(tmp_path / "e.xlsx", data, None)


def test_a_part_given_twice_is_refused(tmp_path: Path) -> None:
    # the part measured need not be the part the parser reads
    path = sparse_workbook(tmp_path / "twice.xlsx", 2, 1)
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    with pytest.raises(InputError, match=r"cannot be read as xlsx \(a part is given twice\)"):
        load_export(path)
