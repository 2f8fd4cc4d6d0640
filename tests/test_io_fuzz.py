"""Properties of the export readers under random input (issue 14).

Whatever the bytes, :func:`factlab.io.load_export` gives rows or one factlab error of one line
that starts with the file and never quotes a value: never another exception, a traceback or a
hang. Where the input is a well-formed table, rows are accounted for: rows written = rows read +
blank rows left out, and every cell is read back as written.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from factlab.errors import ConfigError, DataError, InputError
from factlab.io import Export, load_export

FACTLAB_ERRORS = (InputError, DataError, ConfigError)
BSN = "999993653"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def export_file(name: str, data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


def read_or_refuse(path: Path, **options: Any) -> Export | None:
    """The export, or None when it was refused as the readers promise."""
    try:
        return load_export(path, **options)
    except FACTLAB_ERRORS as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ")
        assert "\n" not in message
        assert BSN not in message
        return None


#: Unicode's White_Space, what the readers' "blank" means (Python's str.isspace also counts the
#: separators U+001C..U+001F, which are no white space).
WHITE_SPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    map(chr, range(0x2000, 0x200B))
)


def blank(cell: str | None) -> bool:
    return cell is None or all(character in WHITE_SPACE for character in cell)


# --- CSV -----------------------------------------------------------------------------------------

CSV_PIECES = [
    b";", b",", b"\t", b"|", b'"', b'""', b"\n", b"\r", b"\r\n", b" ", b"sep=;", b"BSN",
    BSN.encode(), b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00", b"\xeb", b"\xc3\xab",
    b"\xe2\x82\xac", b"\x80", b"Zo", b"=1+1", b"\x1b[31m",
]  # fmt: skip


def _random_csv_bytes() -> st.SearchStrategy[bytes]:
    piece = st.one_of(st.sampled_from(CSV_PIECES), st.binary(max_size=6))
    return st.lists(piece, max_size=60).map(b"".join)


@FAST
@given(data=_random_csv_bytes(), name=st.sampled_from(["e.csv", "e.txt", "e.tsv"]))
def test_random_bytes_as_csv(data: bytes, name: str) -> None:
    with export_file(name, data) as path:
        export = read_or_refuse(path)
        if export is not None:
            assert export.frame.height >= 1
            assert set(export.frame.schema.dtypes()) <= {pl.String()}
            lines = data.count(b"\n") + data.count(b"\r") + 1
            assert export.frame.height + export.blank_rows <= lines


@pytest.mark.slow
@SLOW
@given(data=_random_csv_bytes())
def test_random_bytes_as_csv_many(data: bytes) -> None:
    test_random_bytes_as_csv.hypothesis.inner_test(data=data, name="e.csv")  # type: ignore[attr-defined]


CELL = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(' ;,|\t"=+-@€ëÃ©\u202e\n')), st.characters(codec="cp1252")
    ),
    max_size=8,
).filter(lambda text: "\r" not in text and "\x00" not in text)


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(1, 5))
    alphabet = st.characters(categories=["L", "N"], codec="cp1252")
    names = draw(
        st.lists(
            st.text(alphabet, min_size=1, max_size=6), min_size=width, max_size=width, unique=True
        )
    )
    rows = draw(st.lists(st.lists(CELL, min_size=width, max_size=width), min_size=1, max_size=12))
    return names, rows


@FAST
@given(
    table=csv_tables(),
    delimiter=st.sampled_from([";", ",", "\t", "|"]),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    sep_line=st.booleans(),
)
def test_a_well_formed_csv_is_read_back_with_its_rows_accounted_for(
    table: tuple[list[str], list[list[str]]],
    delimiter: str,
    line_end: str,
    encoding: str,
    sep_line: bool,
) -> None:
    names, rows = table
    if line_end == "\r":  # a line end inside a field would make it another kind of file
        rows = [[cell.replace("\n", " ") for cell in row] for row in rows]
    text = io.StringIO()
    if sep_line:
        text.write(f"sep={delimiter}{line_end}")
    writer = csv.writer(text, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(names)
    writer.writerows(rows)
    try:
        data = text.getvalue().encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    given_encoding = "cp1252" if encoding == "cp1252" else None
    kept = [row for row in rows if not all(blank(cell) for cell in row)]
    with export_file("e.csv", data) as path:
        if not kept:
            with pytest.raises(InputError, match=f"no data rows \\({len(rows)} blank\\)$"):
                load_export(path, delimiter=delimiter, encoding=given_encoding)
            return
        export = load_export(path, delimiter=delimiter, encoding=given_encoding)
    assert export.frame.columns == names
    assert export.frame.height + export.blank_rows == len(rows)
    assert export.blank_rows == len(rows) - len(kept)
    read = [[cell or "" for cell in row] for row in export.frame.rows()]
    assert read == kept


@FAST
@given(
    names=st.lists(
        st.one_of(
            st.sampled_from(["BSN", "bsn", "", " ", "Naam", '"', ";", "a;b"]), st.text(max_size=4)
        ),
        min_size=1,
        max_size=6,
    ),
    delimiter=st.sampled_from([";", ","]),
)
def test_random_headers(names: list[str], delimiter: str) -> None:
    names = [name.replace("\r", "").replace("\n", "").replace("\x00", "") for name in names]
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
    writer.writerow(names)
    writer.writerow([BSN] * len(names))
    given = [name for name in names if name]
    with export_file("e.csv", text.getvalue().encode()) as path:
        if not any(name.strip() for name in names):
            with pytest.raises(InputError, match="line 1: no column names"):
                load_export(path, delimiter=delimiter)
            return
        if len(set(given)) < len(given):
            with pytest.raises(InputError, match="is given twice"):
                load_export(path, delimiter=delimiter)
            return
        export = read_or_refuse(path, delimiter=delimiter)
    if export is not None:
        assert export.frame.width == len(names)
        assert [name for name in export.frame.columns if name in given] == given


# --- Excel ---------------------------------------------------------------------------------------

EXCEL_CELL = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(exclude_categories=["Cs", "Cc"]) | st.sampled_from([" ", "\n"]),
        max_size=10,
    ),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda x: abs(x) < 1e300),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
)


def _write_cell(book: Any, sheet: Any, row: int, column: int, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value)
    elif isinstance(value, date):
        shown = book.add_format({"num_format": "dd-mm-yyyy"})  # a date cell without one is a number
        sheet.write_datetime(row, column, datetime(value.year, value.month, value.day), shown)
    else:
        sheet.write_string(row, column, value)


def _expected_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return f"{value.isoformat()} 00:00:00"
    return str(value)


@FAST
@given(
    rows=st.lists(st.lists(EXCEL_CELL, min_size=3, max_size=3), min_size=1, max_size=15),
)
def test_random_excel_cells_are_read_as_text_with_their_rows_accounted_for(
    rows: list[list[Any]],
) -> None:
    names = ["BSN", "Kosten", "Gemeente"]
    data = io.BytesIO()
    with xlsxwriter.Workbook(data, {"in_memory": True}) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, names)
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row):
                _write_cell(book, sheet, number, column, value)
    # the sheet ends at its last cell: empty rows after it are not in the file
    while rows and all(value is None for value in rows[-1]):
        rows = rows[:-1]
    with export_file("e.xlsx", data.getvalue()) as path:
        export = read_or_refuse(path)
    if not rows or all(all(blank(_expected_text(v)) for v in row) for row in rows):
        assert export is None  # no data rows
        return
    assert export is not None
    expected = [[_expected_text(value) for value in row] for row in rows]
    kept = [row for row in expected if not all(blank(cell) for cell in row)]
    assert export.frame.height + export.blank_rows == len(expected)
    assert export.frame.height == len(kept)
    for read_row, (written, values) in zip(
        export.frame.rows(),
        [(e, r) for e, r in zip(expected, rows, strict=True) if e in kept],
        strict=True,
    ):
        for cell, text, value in zip(read_row, written, values, strict=True):
            if isinstance(value, float) and not isinstance(value, bool):
                assert cell is not None
                # the Excel reader writes a number with at most nine decimals (a euro amount
                # has two), else as stored
                assert float(cell) == pytest.approx(value, rel=1e-15, abs=5e-10)
            else:
                assert cell == text


def _small_workbook() -> bytes:
    data = io.BytesIO()
    with xlsxwriter.Workbook(data, {"in_memory": True}) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["BSN", "Gemeente"])
        sheet.write_row(1, 0, [BSN, "Assen"])
    return data.getvalue()


SMALL_WORKBOOK = _small_workbook()


@FAST
@given(
    changes=st.lists(
        st.tuples(st.integers(0, len(SMALL_WORKBOOK) - 1), st.integers(0, 255)), max_size=8
    )
)
def test_a_damaged_workbook(changes: list[tuple[int, int]]) -> None:
    data = bytearray(SMALL_WORKBOOK)
    for position, value in changes:
        data[position] = value
    with export_file("e.xlsx", bytes(data)) as path:
        read_or_refuse(path)


@FAST
@given(data=st.binary(max_size=300))
def test_random_bytes_as_xlsx_and_parquet(data: bytes) -> None:
    for name in ("e.xlsx", "e.parquet"):
        with export_file(name, data) as path:
            assert read_or_refuse(path) is None or len(data) > 0


def _small_parquet() -> bytes:
    data = io.BytesIO()
    pl.DataFrame({"BSN": [BSN, None], "Kosten": [1.5, 2.0], "Lijst": [[1], None]}).write_parquet(
        data
    )
    return data.getvalue()


SMALL_PARQUET = _small_parquet()


@FAST
@given(
    changes=st.lists(
        st.tuples(st.integers(0, len(SMALL_PARQUET) - 1), st.integers(0, 255)), max_size=6
    )
)
def test_a_damaged_parquet_file(changes: list[tuple[int, int]]) -> None:
    data = bytearray(SMALL_PARQUET)
    for position, value in changes:
        data[position] = value
    with export_file("e.parquet", bytes(data)) as path:
        export = read_or_refuse(path)
    if export is not None:
        assert "Lijst" not in export.frame.columns


@pytest.mark.slow
@SLOW
@given(
    changes=st.lists(
        st.tuples(st.integers(0, len(SMALL_WORKBOOK) - 1), st.integers(0, 255)), max_size=30
    )
)
def test_a_damaged_workbook_many(changes: list[tuple[int, int]]) -> None:
    test_a_damaged_workbook.hypothesis.inner_test(changes=changes)  # type: ignore[attr-defined]


def test_the_zip_of_a_workbook_is_checked_before_it_is_parsed(tmp_path: Path) -> None:
    # a zip that is no workbook is refused as xlsx, in one line
    path = tmp_path / "e.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", BSN)
    assert read_or_refuse(path) is None
