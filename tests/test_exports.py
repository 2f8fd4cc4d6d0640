"""Hostile and faulty exports (issue 14): each ends in one line naming file, line or column and
reason, never a value, a hang, exhausted memory or a silently different reading.

The readers are :func:`factlab.io.load_export` / :func:`factlab.io.read_export`; their parts are
in :mod:`factlab._exports`. Every BSN here is from the test range and passes the elfproef.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from hang_helpers import finishes

from factlab import _export_checks
from factlab.audit import audited, read_audit_log
from factlab.errors import InputError
from factlab.io import file_sha256, load_export, read_export
from factlab.keys.round_keys import Key
from factlab.manifest import read_manifest
from factlab.steward.mapping import ColumnMapping
from factlab.steward.pseudonymise import pseudonymise_file

WriteExport = Callable[..., Path]
BSN = "999993653"
OTHER = "999991723"


def workbook(path: Path, rows: list[list[Any]]) -> Path:
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet()
        for number, row in enumerate(rows):
            for column, value in enumerate(row):
                if value is not None:
                    sheet.write(number, column, value)
    return path


# --- 2: every Excel cell as text; rows in = rows out ---------------------------------------------


def test_excel_cells_after_the_type_window_are_kept(tmp_path: Path, round_key: Key) -> None:
    rows: list[list[Any]] = [["BSN", "Kosten"]]
    rows += [[int(BSN), 12.5]] * 250
    rows += [["9999 93 653", "€ 1.602,38"]] * 5 + [["9999.91.723", "€ 12,50"]] * 5
    path = workbook(tmp_path / "e.xlsx", rows)
    frame = load_export(path).frame
    assert frame.height == 260
    assert frame["BSN"].to_list()[-10:] == ["9999 93 653"] * 5 + ["9999.91.723"] * 5
    assert frame["Kosten"].to_list()[-10:] == ["€ 1.602,38"] * 5 + ["€ 12,50"] * 5
    result = pseudonymise_file(
        path, round_key.provider_key(), provider="P01", out=tmp_path / "p.parquet"
    )
    assert result.quality.rows == 260
    assert result.quality.rows_by_status["valid"] == 260
    assert result.quality.field_issues == {}
    costs = result.frame["cost"].to_list()
    assert costs[:250] == [12.5] * 250
    assert costs[250:] == [1602.38] * 5 + [12.5] * 5


def test_an_all_text_row_after_numeric_rows_is_a_row(tmp_path: Path) -> None:
    rows: list[list[Any]] = [["BSN", "Aantal"]] + [[int(BSN), 3]] * 150 + [["n.b.", "onbekend"]]
    export = load_export(workbook(tmp_path / "e.xlsx", rows))
    assert export.frame.height == 151
    assert export.frame.row(150) == ("n.b.", "onbekend")
    assert export.blank_rows == 0


def test_empty_excel_rows_are_counted(tmp_path: Path) -> None:
    rows: list[list[Any]] = [["BSN", "Gemeente"], [BSN, "Assen"], [None, None], ["", " "]]
    rows += [[OTHER, "Emmen"]]
    export = load_export(workbook(tmp_path / "e.xlsx", rows))
    assert export.frame.rows() == [(BSN, "Assen"), (OTHER, "Emmen")]
    assert export.blank_rows == 2
    assert export.facts == {"format": "xlsx", "blank_rows": "2"}


def test_an_excel_date_cell_meets_a_date_format_of_the_mapping(
    tmp_path: Path, round_key: Key
) -> None:
    from datetime import date

    path = tmp_path / "e.xlsx"
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet()
        shown = book.add_format({"num_format": "dd-mm-yyyy"})
        sheet.write_row(0, 0, ["BSN", "Startdatum"])
        sheet.write_row(1, 0, [BSN])
        sheet.write_datetime(1, 1, date(2013, 1, 1), shown)
        sheet.write_row(2, 0, [OTHER, "02-01-2013"])  # a date typed as text
    mapping = ColumnMapping(
        columns={"start_date": "Startdatum"}, date_formats={"start_date": "%d-%m-%Y"}
    )
    result = pseudonymise_file(
        path, round_key.provider_key(), provider="P01", out=tmp_path / "p.parquet", mapping=mapping
    )
    assert result.frame["start_date"].to_list() == [date(2013, 1, 1), date(2013, 1, 2)]


# --- 19: Parquet columns of types no field reads -------------------------------------------------


def test_parquet_columns_no_field_reads_are_dropped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pl.DataFrame(
        {
            "BSN": [BSN, OTHER],
            "Diagnoses": [[1, 2], None],
            "Adres": [{"straat": "x"}, None],
            "Foto": [b"\xff\xd8", None],
            "Gemeente": [b"Assen", b"Emmen"],  # text stored without its UTF-8 annotation
        }
    ).write_parquet(path)
    export = load_export(path)
    assert export.frame.columns == ["BSN", "Gemeente"]
    assert export.frame["Gemeente"].to_list() == ["Assen", "Emmen"]
    assert export.dropped_columns == {
        "Diagnoses": "List(Int64)",
        "Adres": "Struct({'straat': String})",
        "Foto": "Binary (not UTF-8 text)",
    }
    assert export.facts["dropped_columns"].startswith("Diagnoses (List(Int64)), Adres (")


@pytest.mark.parametrize(
    ("column", "mapping"),
    [
        (pl.Series("BSN", [[1], [2]]), ColumnMapping()),  # found by its name
        (
            pl.Series("Woonplaats", [{"a": 1}, None]),
            ColumnMapping(columns={"municipality": "Woonplaats"}),
        ),
        (pl.Series("Start", [b"\xff", b"\xfe"]), ColumnMapping(columns={"start_date": "Start"})),
    ],
)
def test_a_used_column_of_such_a_type_is_refused_by_name(
    tmp_path: Path, round_key: Key, column: pl.Series, mapping: ColumnMapping
) -> None:
    path = tmp_path / "e.parquet"
    frame = pl.DataFrame({"bsn_text": [BSN, OTHER]}).with_columns(column)
    if column.name != "BSN":
        frame = frame.rename({"bsn_text": "BSN"})
    frame.write_parquet(path)
    out = tmp_path / "p.parquet"
    with pytest.raises(InputError) as error:
        pseudonymise_file(path, round_key.provider_key(), provider="P01", out=out, mapping=mapping)
    message = str(error.value)
    assert message.startswith(f"{path}: column {column.name!r} for ")
    assert "is of type " in message
    assert "\n" not in message
    assert not out.exists()


def test_a_parquet_column_name_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    table = pa.table(
        [pa.array([BSN]), pa.array(["Assen"]), pa.array([OTHER])], names=["BSN", "G", "BSN"]
    )
    pq.write_table(table, path)
    with pytest.raises(InputError, match=r"column name 'BSN' is given twice \(columns 1 and 3\)"):
        load_export(path)


# --- 20: small files that would take all memory; parser panics ----------------------------------


def _sheet_bomb(path: Path, xml_bytes: int, *, state_size: int | None = None) -> Path:
    """An xlsx whose one sheet unpacks to ``xml_bytes`` of rows (a zip bomb)."""
    template = tmp = path.with_suffix(".template.xlsx")
    workbook(tmp, [["BSN"], [BSN]])
    row = b"<row><c><v>1</v></c></row>"
    with (
        zipfile.ZipFile(template) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                head, tail = data.split(b"<sheetData>")[0], data.split(b"</sheetData>")[1]
                rows = row * (xml_bytes // len(row))
                data = head + b"<sheetData>" + rows + b"</sheetData>" + tail
            out.writestr(entry.filename, data)
    if state_size is not None:  # the archive lies about the sheet's size, in both of its places
        raw = bytearray(path.read_bytes())
        name = b"xl/worksheets/sheet1.xml"
        for signature, size_at, name_at in ((b"PK\x01\x02", 24, 46), (b"PK\x03\x04", 22, 30)):
            start = raw.find(signature)
            while start >= 0:
                length = struct.unpack_from("<H", raw, start + (28 if name_at == 46 else 26))[0]
                if raw[start + name_at : start + name_at + length] == name:
                    struct.pack_into("<I", raw, start + size_at, state_size)
                start = raw.find(signature, start + 4)
        path.write_bytes(bytes(raw))
    return path


def test_an_xlsx_that_unpacks_beyond_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_export_checks, "MAX_WORKBOOK_BYTES", 1 << 20)
    path = _sheet_bomb(tmp_path / "bomb.xlsx", 4 << 20)
    assert path.stat().st_size < 64 << 10
    with pytest.raises(InputError, match=r"bomb\.xlsx: the workbook unpacks to more than 1 MiB"):
        load_export(path)


def test_an_xlsx_that_lies_about_its_size_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_export_checks, "MAX_WORKBOOK_BYTES", 1 << 20)
    path = _sheet_bomb(tmp_path / "liar.xlsx", 4 << 20, state_size=1000)
    with zipfile.ZipFile(path) as archive:
        assert sum(entry.file_size for entry in archive.infolist()) < 1 << 20
    with pytest.raises(InputError, match="unpacks to more than 1 MiB"):
        load_export(path)


def test_an_xlsx_within_the_limit_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_export_checks, "MAX_WORKBOOK_BYTES", 1 << 20)
    path = workbook(tmp_path / "e.xlsx", [["BSN"], *[[BSN]] * 2000])
    assert load_export(path).frame.height == 2000


@pytest.mark.slow
def test_a_two_gib_xlsx_bomb_is_refused_at_the_default_limit(tmp_path: Path) -> None:
    path = _sheet_bomb(tmp_path / "bomb.xlsx", 2 << 30)
    with pytest.raises(InputError, match="unpacks to more than 1024 MiB"):
        load_export(path)


def test_a_csv_header_of_a_million_columns_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(b"BSN" + b";c" * 1_000_000 + b"\n" + BSN.encode() + b"\n")
    with pytest.raises(InputError) as error:
        load_export(path)
    assert str(error.value) == (
        f"{path}: the header has 1000001 columns, more than factlab reads (16384); "
        "is the delimiter right?"
    )


@pytest.mark.slow
def test_a_csv_header_of_10_to_the_8_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(b";" * 100_000_000 + b"\n1\n")
    assert isinstance(finishes(lambda: load_export(path), seconds=60), InputError)


def test_a_header_line_without_end_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_export_checks, "MAX_HEADER_BYTES", 1000)
    path = tmp_path / "long.csv"
    path.write_bytes(b"x" * 5000)
    with pytest.raises(InputError, match="line 1: the header line is longer than"):
        load_export(path)


class PanicException(BaseException):
    """What a Rust parser's panic looks like in Python: a BaseException, not an Exception."""


@pytest.mark.parametrize(("name", "reader"), [("e.csv", "read_csv"), ("e.parquet", "read_parquet")])
def test_a_parser_panic_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, reader: str
) -> None:
    path = tmp_path / name
    frame = pl.DataFrame({"BSN": [BSN]})
    frame.write_csv(path) if name.endswith(".csv") else frame.write_parquet(path)

    def panic(*args: object, **kwargs: object) -> pl.DataFrame:
        raise PanicException(f"index out of bounds near {BSN}")

    monkeypatch.setattr(pl, reader, panic)
    with pytest.raises(InputError) as error:
        load_export(path)
    kind = name.split(".")[1]
    assert str(error.value) == f"{path}: cannot be read as {kind} (PanicException)"


def test_an_excel_parser_panic_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastexcel

    path = workbook(tmp_path / "e.xlsx", [["BSN"], [BSN]])

    def panic(*args: object, **kwargs: object) -> object:
        raise PanicException(BSN)

    monkeypatch.setattr(fastexcel, "read_excel", panic)
    with pytest.raises(InputError) as error:
        load_export(path)
    assert str(error.value) == f"{path}: cannot be read as xlsx (PanicException)"


# --- 21: where a CSV goes wrong ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["BSN;Naam", f"{BSN};Zo", f"{OTHER};An;Extra"], "line 3: 3 fields where the header has 2"),
        (
            ["BSN;Naam", f"{BSN};Zo", f'{OTHER};"An', f"{BSN};x"],
            'line 3: a quote (") that is never closed',
        ),
        (["BSN;Naam", f'{BSN};Zo"e', f"{OTHER};x"], 'line 2: a quote (") that is never closed'),
        (["BSN;Naam", f'{BSN};"Zo"e', f"{OTHER};x"], "line 2: text after a closing quote"),
        (
            ["sep=;", "BSN;Naam", f"{BSN};Zo", f"{OTHER};An;x"],
            "line 4: 3 fields where the header has 2",
        ),
    ],
)
def test_a_csv_fault_is_told_by_line_and_reason(
    write_export: WriteExport, lines: list[str], expected: str
) -> None:
    path = write_export("e.csv", lines)
    with pytest.raises(InputError) as error:
        load_export(path)
    message = str(error.value)
    assert message.startswith(f"{path}: {expected}")
    assert BSN not in message
    assert OTHER not in message
    assert "Zo" not in message


def test_a_late_ragged_line_is_found(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(f"BSN;Naam\n{(BSN + ';x' + chr(10)) * 100_000}{OTHER};y;z\n".encode())
    with pytest.raises(InputError, match=r"line 100002: 3 fields where the header has 2$"):
        load_export(path)


def test_a_multiline_quoted_field_is_no_fault(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Opmerking", f'{BSN};"twee', 'regels"', f"{OTHER};x"])
    assert load_export(path).frame.rows() == [(BSN, "twee\nregels"), (OTHER, "x")]


# --- 22: one stray byte in a UTF-8 file ----------------------------------------------------------


def test_a_stray_byte_in_a_utf8_file_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    head = f"BSN;Gemeente\n{BSN};Súdwest-Fryslân\n".encode()
    path.write_bytes(head + f"{OTHER};Zo".encode() + b"\xeb\n" + f"{BSN};Assen\n".encode())
    with pytest.raises(InputError) as error:
        load_export(path)
    message = str(error.value)
    assert message.startswith(f"{path}: line 3: not valid UTF-8 at byte {len(head) + 12}")
    assert "save it as UTF-8, or give its encoding as input.encoding in a mapping file" in message


def test_a_file_wholly_in_windows_1252_is_read_as_such(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Gemeente", f"{BSN};Súdwest-Fryslân"], encoding="cp1252")
    export = load_export(path)
    assert export.facts["encoding"] == "cp1252"
    assert export.frame["Gemeente"].to_list() == ["Súdwest-Fryslân"]


def test_a_given_encoding_wins(write_export: WriteExport, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes("BSN;Gemeente\n999993653;Súdwest\n".encode() + b"999991723;Zo\xeb\n")
    frame, facts = read_export(path, encoding="cp1252")
    assert facts["encoding"] == "cp1252"
    assert frame.collect()["Gemeente"].to_list() == ["SÃºdwest", "Zoë"]


# --- 28: a column name given twice ---------------------------------------------------------------


def test_a_csv_column_name_given_twice_is_refused(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Naam;BSN", f"{BSN};Zo;{OTHER}"])
    with pytest.raises(InputError) as error:
        load_export(path)
    assert str(error.value) == (
        f"{path}: column name 'BSN' is given twice (columns 1 and 3); give each column its own name"
    )


def test_an_excel_column_name_given_twice_is_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "e.xlsx", [["Naam", "BSN", "BSN"], ["Zo", BSN, OTHER]])
    with pytest.raises(InputError, match=r"column name 'BSN' is given twice \(columns 2 and 3\)"):
        load_export(path)


def test_unnamed_columns_are_no_duplicates(write_export: WriteExport, tmp_path: Path) -> None:
    assert load_export(write_export("e.csv", ["BSN;;", f"{BSN};a;b"])).frame.width == 3
    path = workbook(tmp_path / "e.xlsx", [["BSN", None, None], [BSN, "a", "b"]])
    assert load_export(path).frame.columns == ["BSN", "__UNNAMED__1", "__UNNAMED__2"]


# --- 29: UTF-16, sep= lines, CR line ends, blank lines -------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_wide_encodings_with_a_bom(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "e.csv"
    text = f"BSN;Gemeente\r\n{BSN};Súdwest-Fryslân\r\n"
    bom = {"utf-16-be": "\ufeff"}.get(encoding, "")
    path.write_bytes((bom + text).encode(encoding))
    export = load_export(path)
    assert export.frame.rows() == [(BSN, "Súdwest-Fryslân")]
    assert export.frame.columns == ["BSN", "Gemeente"]
    assert export.facts["encoding"] == encoding.split("-be")[0]
    assert export.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_utf16_without_a_bom_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(f"BSN;Gemeente\n{BSN};Assen\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="UTF-16 without a byte-order mark"):
        load_export(path)
    assert load_export(path, encoding="utf-16-le").frame.rows() == [(BSN, "Assen")]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_an_excel_sep_line_names_the_delimiter(tmp_path: Path, bom: bytes, newline: str) -> None:
    path = tmp_path / "e.csv"
    lines = ["sep=,", "BSN,Gemeente;Wijk", f"{BSN},Assen;Noord"]  # ';' alone would win
    path.write_bytes(bom + newline.join(lines).encode() + newline.encode())
    export = load_export(path)
    assert export.facts["delimiter"] == ","
    assert export.frame.columns == ["BSN", "Gemeente;Wijk"]
    assert export.frame.rows() == [(BSN, "Assen;Noord")]


def test_cr_only_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(f"BSN;Gemeente\r{BSN};Assen\r{OTHER};Emmen\r".encode("cp1252"))
    assert load_export(path).frame.rows() == [(BSN, "Assen"), (OTHER, "Emmen")]


def test_blank_lines_are_left_out_and_counted(tmp_path: Path, round_key: Key) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(f"BSN;Gemeente\n{BSN};Assen\n\n;\n  ; \n;Emmen\n{OTHER};Emmen\n\n".encode())
    export = load_export(path)
    assert export.frame.rows() == [(BSN, "Assen"), (None, "Emmen"), (OTHER, "Emmen")]
    assert export.blank_rows == 4
    assert export.facts["blank_rows"] == "4"
    out = tmp_path / "p.parquet"
    result = pseudonymise_file(path, round_key.provider_key(), provider="P01", out=out)
    assert result.quality.rows == 3
    assert result.quality.rows_by_status["missing"] == 1  # the row with a municipality only
    manifest = read_manifest(out)
    assert manifest.rows == 3
    assert manifest.extra["blank_rows_skipped"] == 4
    assert "blank_rows" not in manifest.extra["read_as"]


def test_only_blank_lines_are_no_data_rows(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"BSN;Gemeente\n\n;\n")
    with pytest.raises(InputError, match=r"the file has no data rows \(2 blank\)$"):
        load_export(path)


# --- 30: FIFOs and devices -----------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    os.mkfifo(path)
    return path


@pytest.fixture
def zero(tmp_path: Path) -> Path:
    path = tmp_path / "zero.csv"
    path.symlink_to("/dev/zero")
    return path


def test_a_fifo_is_refused_at_once(fifo: Path) -> None:
    error = finishes(lambda: load_export(fifo))
    assert isinstance(error, InputError)
    assert str(error) == f"{fifo}: a FIFO (named pipe), not a file; give the export as a file"
    assert isinstance(finishes(lambda: file_sha256(fifo)), InputError)


def test_a_symlink_to_a_device_is_refused(zero: Path, tmp_path: Path) -> None:
    error = finishes(lambda: load_export(zero))
    assert isinstance(error, InputError)
    assert "a device, not a file" in str(error)
    assert isinstance(finishes(lambda: file_sha256(zero)), InputError)
    for name in ("zero.xlsx", "zero.parquet"):
        (tmp_path / name).symlink_to("/dev/zero")
        assert isinstance(finishes(lambda: load_export(tmp_path / name)), InputError)  # noqa: B023


def test_the_audit_line_of_a_fifo_input_does_not_hang(fifo: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"

    def command() -> None:
        with audited("pseudonymise", inputs=[fifo], output=tmp_path / "out.parquet", log=log):
            load_export(fifo)

    assert isinstance(finishes(command), InputError)
    (event,) = read_audit_log(log)
    assert event["inputs"] == [{"path": str(fifo), "sha256": None}]
    assert event["outcome"] == "error"


def test_an_input_hashed_elsewhere_is_checked_too(fifo: Path) -> None:
    # every file_sha256 caller (link, count, overlap, estimate, report) gets one line, not a hang
    error = finishes(lambda: file_sha256(fifo))
    assert isinstance(error, InputError)
    assert str(error).startswith(f"{fifo}: a FIFO")


def test_reading_from_a_text_stream_for_the_diagnosis() -> None:
    text = "sep=;\nBSN;Naam\n1;2;3\n"
    assert _export_checks.diagnose_csv(lambda: io.StringIO(text, newline=""), ";", 1) == (
        3,
        "3 fields where the header has 2",
    )


def test_a_first_line_of_data_is_never_shown_as_names(write_export: WriteExport) -> None:
    # a file without a header line: its "names" are a client's values
    path = write_export("e.csv", [f"{BSN};9999.93.653;{BSN}", f"{OTHER};x;y"])
    with pytest.raises(InputError) as error:
        load_export(path)
    assert str(error.value) == (
        f"{path}: a column name of digits is given twice (columns 1 and 3); "
        "does the file start with a header line?"
    )


def test_a_parquet_file_too_large_for_memory_once_decoded_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a column of one repeated value: a million rows in a few KiB of Parquet
    path = tmp_path / "e.parquet"
    pl.DataFrame({"BSN": [BSN] * 1_000_000, "Jaar": [2013] * 1_000_000}).write_parquet(path)
    assert path.stat().st_size < 64 << 10
    monkeypatch.setattr(_export_checks, "physical_memory", lambda: 16 << 20)
    with pytest.raises(InputError) as error:
        load_export(path)
    assert str(error.value) == (
        f"{path}: 1000000 rows would take about 30 MiB in memory, more than this machine has "
        "(16 MiB)"
    )


def test_a_first_line_without_names_is_refused(write_export: WriteExport) -> None:
    for first in ("", ";;", " ; "):
        path = write_export("e.csv", [first, "BSN;Naam;Gemeente", f"{BSN};Zo;Assen"])
        with pytest.raises(InputError, match=r"line 1: no column names; the first line must"):
            load_export(path)


def test_the_encoding_the_advice_names_can_be_given_in_a_mapping(
    tmp_path: Path, round_key: Key
) -> None:
    from factlab.steward.mapping import load_mapping

    path = tmp_path / "e.csv"
    path.write_bytes(f"BSN;Gemeente\n{BSN};Súdwest\n".encode("utf-16-le"))
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text('version = 1\n[input]\nencoding = "utf-16-le"\n', encoding="utf-8")
    mapping = load_mapping(mapping_file)
    out = tmp_path / "p.parquet"
    result = pseudonymise_file(
        path, round_key.provider_key(), provider="P01", out=out, mapping=mapping
    )
    assert result.quality.rows_by_status["valid"] == 1
    assert read_manifest(out).extra["read_as"]["encoding"] == "utf-16-le"


def test_a_password_protected_workbook_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + BSN.encode())
    with pytest.raises(InputError) as error:
        load_export(path)
    assert str(error.value) == (
        f"{path}: cannot be read as xlsx (a password-protected or old .xls workbook); "
        "save it as .xlsx without a password"
    )
