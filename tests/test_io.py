"""Reading exports (CSV, Excel, Parquet), atomic Parquet writes and manifests (factlab.io)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab._exports import utf8_error
from factlab.errors import InputError
from factlab.io import (
    atomic_path,
    export_format,
    file_sha256,
    load_export,
    read_export,
    sink_parquet_checked,
    write_exclusive,
    write_parquet,
)
from factlab.manifest import Manifest, read_manifest
from factlab.result_files import read_table, write_table

WriteExport = Callable[..., Path]


def manifest(**changes: object) -> Manifest:
    fields: dict[str, object] = {
        "format": schema.FORMAT_PSEUDONYMISED,
        "scheme": schema.SCHEME,
        "round": "r",
        "key_id": "0" * 16,
        "key_fingerprint": "0000-0000-0000-0000-0000",
        "rows": 2,
        "rows_by_status": dict.fromkeys(schema.STATUSES, 0) | {"valid": 2},
        "provider": "P01",
    }
    return Manifest(**(fields | changes))  # type: ignore[arg-type]


# --- format by extension -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.csv", "csv"),
        ("a.CSV", "csv"),
        ("a.txt", "csv"),
        ("a.tsv", "csv"),
        ("a.xlsx", "xlsx"),
        ("a.parquet", "parquet"),
    ],
)
def test_export_format(name: str, kind: str) -> None:
    assert export_format(name) == kind


@pytest.mark.parametrize("name", ["a.xls", "a.json", "a", "a.csv.gz"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("BSN\n999993653\n")
    with pytest.raises(InputError, match="unsupported file type"):
        read_export(path)


# --- CSV -----------------------------------------------------------------------------------------


def test_semicolon_csv_in_utf8_keeps_every_cell_as_text(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Code;Kosten", "9999.93.653;007;1.234,56", "999991723;45;"])
    frame, facts = read_export(path)
    assert facts == {"format": "csv", "encoding": "utf-8", "delimiter": ";"}
    collected = frame.collect()
    assert collected.schema == pl.Schema({"BSN": pl.String, "Code": pl.String, "Kosten": pl.String})
    assert collected.rows() == [("9999.93.653", "007", "1.234,56"), ("999991723", "45", None)]


def test_comma_csv_with_a_bom(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN,Kosten,Gemeente", '999993653,"1,234.50",Assen'])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    frame, facts = read_export(path)
    assert facts == {"format": "csv", "encoding": "utf-8-sig", "delimiter": ","}
    collected = frame.collect()
    assert collected.columns == ["BSN", "Kosten", "Gemeente"]  # no BOM left in the first name
    assert collected.row(0) == ("999993653", "1,234.50", "Assen")


def test_windows_1252_with_crlf(write_export: WriteExport) -> None:
    lines = ["BSN cliënt;Naam;Gemeente", "999993653;Zoë Test;Súdwest", "999991723;Anaïs Test;Assen"]
    path = write_export("e.csv", lines, encoding="cp1252", newline="\r\n")
    frame, facts = read_export(path)
    assert facts["encoding"] == "cp1252"
    collected = frame.collect()
    assert collected.columns == ["BSN cliënt", "Naam", "Gemeente"]
    assert collected["Naam"].to_list() == ["Zoë Test", "Anaïs Test"]
    assert collected["Gemeente"].to_list() == ["Súdwest", "Assen"]  # no "\r" left behind


def test_tab_and_pipe_delimiters(write_export: WriteExport) -> None:
    for delimiter in ("\t", "|"):
        path = write_export("e.tsv", [f"BSN{delimiter}Gemeente", f"999993653{delimiter}Assen"])
        frame, facts = read_export(path)
        assert facts["delimiter"] == delimiter
        assert frame.collect().row(0) == ("999993653", "Assen")


def test_given_delimiter_and_encoding_win(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Naam,Extra", "999993653;Zoë,x"], encoding="latin-1")
    frame, facts = read_export(path, delimiter=",", encoding="latin-1")
    assert facts == {"format": "csv", "encoding": "latin-1", "delimiter": ","}
    assert frame.collect().columns == ["BSN;Naam", "Extra"]
    assert frame.collect().row(0) == ("999993653;Zoë", "x")


def test_a_wrong_utf8_claim_is_an_error(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Naam", "999993653;Zoë"], encoding="cp1252")
    with pytest.raises(InputError, match="not valid UTF-8 at byte"):
        read_export(path, encoding="utf-8")


def test_empty_and_header_only_files(write_export: WriteExport, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty"):
        read_export(empty)
    header_only = write_export("header.csv", ["BSN;Naam"])
    with pytest.raises(InputError, match="no data rows"):
        read_export(header_only)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_export(tmp_path / "none.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(InputError, match="a folder, not a file"):
        read_export(tmp_path / "folder.csv")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN", "999993653"])
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            read_export(path)
    finally:
        path.chmod(0o600)


def test_permission_denied_while_reading(
    write_export: WriteExport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the same path as above, for runs as root (which may read any file)
    path = write_export("e.csv", ["BSN", "999993653"])

    exports = sys.modules["factlab._exports"]
    open_file = exports.os.open

    def refuse(name: object, *args: Any, **kwargs: Any) -> int:
        if Path(str(name)) == path:
            raise PermissionError(13, "Permission denied")
        return int(open_file(name, *args, **kwargs))

    monkeypatch.setattr(exports.os, "open", refuse)
    with pytest.raises(InputError, match="permission denied"):
        read_export(path)


def test_broken_csv_errors_do_not_echo_cells(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Naam", "999993653;Zoë;999991723;extra"])
    with pytest.raises(InputError) as error:
        read_export(path)
    message = str(error.value)
    assert message == f"{path}: line 2: 4 fields where the header has 2"
    assert "999993653" not in message
    assert "999991723" not in message


# --- Excel and Parquet ---------------------------------------------------------------------------


def test_excel_cells_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    pl.DataFrame(
        {
            "BSN": [999993653, 999991723],
            "Startdatum": [date(2013, 1, 1), None],
            "Kosten": [1234.56, 12.5],
            "Gemeente": ["Assen", "Emmen"],
        }
    ).write_excel(path)
    frame, facts = read_export(path)
    assert facts == {"format": "xlsx"}
    collected = frame.collect()
    assert collected.schema == pl.Schema(dict.fromkeys(collected.columns, pl.String()))
    assert collected.rows() == [
        ("999993653", "2013-01-01 00:00:00", "1234.56", "Assen"),
        ("999991723", None, "12.5", "Emmen"),
    ]


def test_excel_sheet_by_name(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "e.xlsx"
    with xlsxwriter.Workbook(path) as book:
        notes = book.add_worksheet("Toelichting")
        notes.write_column(0, 0, ["Toelichting", "Zie tabblad Cliënten"])
        sheet = book.add_worksheet("Cliënten")
        sheet.write_row(0, 0, ["BSN", "Gemeente"])
        sheet.write_row(1, 0, ["9999.93.653", "Assen"])
    first, _ = read_export(path)
    assert first.collect().columns == ["Toelichting"]
    named, _ = read_export(path, sheet="Cliënten")
    assert named.collect().rows() == [("9999.93.653", "Assen")]
    with pytest.raises(InputError, match="cannot be read as xlsx"):
        read_export(path, sheet="Bestaat niet")


def test_header_only_and_broken_excel(tmp_path: Path) -> None:
    import xlsxwriter

    header_only = tmp_path / "h.xlsx"
    with xlsxwriter.Workbook(header_only) as book:
        book.add_worksheet().write_row(0, 0, ["BSN", "Naam"])
    with pytest.raises(InputError, match="no data rows"):
        read_export(header_only)
    broken = tmp_path / "b.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook 999993653")
    with pytest.raises(InputError, match="cannot be read as xlsx") as error:
        read_export(broken)
    assert "999993653" not in str(error.value)


def test_parquet_input(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    source = pl.DataFrame({"bsn": [999993653, None], "start": [date(2013, 1, 1), None]})
    source.write_parquet(path)
    frame, facts = read_export(path)
    assert facts == {"format": "parquet"}
    assert frame.collect().equals(source)
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot be read as parquet"):
        read_export(broken)
    empty = tmp_path / "empty.parquet"
    source.clear().write_parquet(empty)
    with pytest.raises(InputError, match="no data rows"):
        read_export(empty)


# --- writing -------------------------------------------------------------------------------------


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read chunk
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_atomic_path_renames_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_path(target) as temporary:
        assert temporary.parent == tmp_path
        assert temporary != target
        temporary.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"

    def fail_halfway() -> None:
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        fail_halfway()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_needs_the_folder(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match="the output folder does not exist"),
        atomic_path(tmp_path / "no" / "out.txt"),
    ):
        pass


@pytest.mark.parametrize("lazy", [False, True])
def test_write_parquet_stores_the_manifest(tmp_path: Path, lazy: bool) -> None:
    frame = pl.DataFrame({"pseudonym": ["a" * 32, "b" * 32], "provider": ["P01", "P01"]})
    path = tmp_path / "out.parquet"
    written = manifest(input_format="csv", extra={"note": "ø"})
    write_parquet(frame.lazy() if lazy else frame, path, written)
    assert pl.read_parquet(path).equals(frame)
    assert read_manifest(path) == written
    raw = pq.ParquetFile(path).metadata.metadata[schema.MANIFEST_KEY.encode()]
    assert json.loads(raw) == json.loads(written.to_json())
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_write_parquet_failure_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    failing = pl.LazyFrame({"x": ["a"]}).select(pl.col("x").cast(pl.Int64, strict=True))
    with pytest.raises(pl.exceptions.PolarsError):
        write_parquet(failing, path, manifest())
    assert list(tmp_path.iterdir()) == []


# --- manifests -----------------------------------------------------------------------------------


def test_manifest_json_round_trip() -> None:
    written = manifest(field_issues={"cost": {"unreadable": 2}})
    assert Manifest.from_json(written.to_json()) == written
    # unknown fields from a newer factlab are ignored, not fatal
    data = json.loads(written.to_json()) | {"future_field": 1}
    assert Manifest.from_json(json.dumps(data)) == written


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"format": "x"}', "lacks scheme, round, key_id, key_fingerprint, rows"),
    ],
)
def test_malformed_manifests(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        Manifest.from_json(text, source="f.parquet")


def test_read_manifest_of_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_manifest(tmp_path / "none.parquet")
    text = tmp_path / "x.parquet"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a Parquet file"):
        read_manifest(text)
    plain = tmp_path / "plain.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(plain)
    with pytest.raises(InputError, match="no factlab manifest"):
        read_manifest(plain)


# --- result tables and key files ----------------------------------------------------------


TABLE = pl.DataFrame(
    {"product_category": ["45", "051", None], "unique_clients": [12, 3, 15]},
)
METADATA = {"exact": True, "note": "Súdwest-Fryslân", "by": ["product_category"]}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_table_round_trip_keeps_rows_and_metadata(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"table{suffix}"
    written = write_table(TABLE, out, METADATA, "factlab.example")
    assert written[0] == out
    assert [p.name for p in written[1:]] == (["table.csv.meta.json"] if suffix == ".csv" else [])
    frame, metadata = read_table(out)
    assert metadata == METADATA
    # CSV is read as text, so codes with leading zeros survive; the others keep their types.
    assert frame["product_category"].to_list() == ["45", "051", None]
    assert [int(v) for v in frame["unique_clients"].to_list()] == [12, 3, 15]
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_metadata_is_where_documents_say(tmp_path: Path) -> None:
    write_table(TABLE, tmp_path / "t.csv", METADATA, "factlab.example")
    assert json.loads((tmp_path / "t.csv.meta.json").read_text()) == METADATA
    write_table(TABLE, tmp_path / "t.parquet", METADATA, "factlab.example")
    stored = pq.read_metadata(tmp_path / "t.parquet").metadata[b"factlab.example"]
    assert json.loads(stored) == METADATA
    write_table(TABLE, tmp_path / "t.json", METADATA, "factlab.example")
    document = json.loads((tmp_path / "t.json").read_text())
    assert document == {"metadata": METADATA, "rows": TABLE.to_dicts()}


def test_read_table_takes_metadata_from_a_wrapping_object(tmp_path: Path) -> None:
    # factlab count writes {"metadata": ..., "summary": ...}; older protected tables wrapped too.
    out = tmp_path / "counts.csv"
    TABLE.write_csv(out)
    wrapped = {"metadata": METADATA, "summary": {"unique_clients": 15}}
    (tmp_path / "counts.csv.meta.json").write_text(json.dumps(wrapped))
    assert read_table(out)[1] == METADATA
    TABLE.write_parquet(
        tmp_path / "counts.parquet",
        metadata={"factlab.counts": json.dumps(wrapped), schema.MANIFEST_KEY: "{}"},
    )
    assert read_table(tmp_path / "counts.parquet")[1] == METADATA


def test_read_table_without_metadata_and_bare_json(tmp_path: Path) -> None:
    TABLE.write_csv(tmp_path / "plain.csv")
    assert read_table(tmp_path / "plain.csv")[1] == {}
    (tmp_path / "bare.json").write_text(json.dumps(TABLE.to_dicts()))
    frame, metadata = read_table(tmp_path / "bare.json")
    assert (frame.height, metadata) == (3, {})


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("t.txt", "x", "unsupported counts format '.txt'"),
        ("t.json", json.dumps({"unique_clients": 3}), "list of rows"),
        ("t.json", "{not json", "cannot read the counts file"),
        ("t.parquet", "not parquet", "cannot read the counts file"),
    ],
)
def test_read_table_errors_name_file_and_reason(
    tmp_path: Path, name: str, content: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=reason) as caught:
        read_table(path, what="counts")
    assert str(path) in str(caught.value)
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "missing.csv")


def test_write_table_refuses_other_formats_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported table format"):
        write_table(TABLE, tmp_path / "t.xlsx", METADATA, "factlab.example")
    with pytest.raises(InputError, match="folder does not exist"):
        write_table(TABLE, tmp_path / "nowhere" / "t.csv", METADATA, "factlab.example")
    assert list(tmp_path.iterdir()) == []


def test_write_exclusive_sets_mode_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    write_exclusive(path, b"first", mode=0o600)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(FileExistsError):
        write_exclusive(path, b"second", mode=0o600)
    assert path.read_bytes() == b"first"
    write_exclusive(path, b"third", mode=0o644, force=True)
    assert (path.read_bytes(), oct(path.stat().st_mode & 0o777)) == (b"third", "0o644")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]
    with pytest.raises(InputError, match="folder does not exist"):
        write_exclusive(tmp_path / "nowhere" / "x.key", b"x", mode=0o600)


# --- reading once: encoding checks without decoding, and the hash of what was read ---------------

# Byte sequences at the edges of UTF-8: overlong forms, surrogates, code points above U+10FFFF,
# cut-off sequences, stray continuation bytes, and valid two-, three- and four-byte characters.
UTF8_EDGES = [
    b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80",
    b"\xf0\x8f\xbf\xbf", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff",
    b"\x80", b"\xc3", b"\xe2\x82", b"\xc3\xab", b"\xe2\x82\xac", b"\xf0\x9d\x84\x9e", b"a", b"\n",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(UTF8_EDGES), st.binary(max_size=4)), max_size=12))
def test_utf8_check_agrees_with_python(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    try:
        data.decode("utf-8")
        expected = None
    except UnicodeDecodeError as exc:
        expected = exc.start
    assert utf8_error(data) == expected


def test_a_large_file_is_checked_whole(write_export: WriteExport, tmp_path: Path) -> None:
    # more than one 8 MiB slice of the ASCII check, a character across the slice boundary
    row = "999993653;Assen\n"
    head = "BSN;Gemeente\n" + row * (((1 << 23) - 20) // len(row))
    padding = "x" * ((1 << 23) - 1 - len(head.encode()) - len("999991723;"))
    path = tmp_path / "large.csv"
    data = (head + f"999991723;{padding}ë\n" + row * 10).encode()
    assert data[(1 << 23) - 1 : (1 << 23) + 1] == "ë".encode()
    path.write_bytes(data)
    frame, facts = read_export(path)
    assert facts["encoding"] == "utf-8"
    assert frame.collect()["Gemeente"][-11].endswith("xë")
    # one Windows-1252 byte far into the file: the whole file is Windows-1252
    path.write_bytes((head + row * 1000).encode() + b"999991723;Zo\xeb\n")
    frame, facts = read_export(path)
    assert facts["encoding"] == "cp1252"
    assert frame.collect()["Gemeente"][-1] == "Zoë"


def test_the_byte_of_a_utf8_error_is_counted_after_the_bom(write_export: WriteExport) -> None:
    path = write_export("e.csv", ["BSN;Naam", "999993653;Zoë"], encoding="cp1252")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with pytest.raises(InputError, match="not valid UTF-8 at byte 21;"):
        read_export(path)  # the BOM says UTF-8; 0xEB is byte 21 of "BSN;Naam\n999993653;Zo\xeb"


@pytest.mark.parametrize("name", ["e.csv", "e.xlsx", "e.parquet"])
def test_load_export_hashes_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    source = pl.DataFrame({"BSN": ["999993653", "999991723"], "Gemeente": ["Assen", "Emmen"]})
    if name.endswith(".csv"):
        source.write_csv(path)
    elif name.endswith(".xlsx"):
        source.write_excel(path)
    else:
        source.write_parquet(path)
    export = load_export(path)
    assert export.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert export.frame.equals(source)
    assert export.facts["format"] == name.split(".")[1]


def test_a_file_name_with_pattern_characters(write_export: WriteExport) -> None:
    path = write_export("export [1] *.csv", ["BSN;Gemeente", "999993653;Assen"])
    frame, _ = read_export(path)
    assert frame.collect().row(0) == ("999993653", "Assen")


def test_a_file_that_changes_while_it_is_read(
    write_export: WriteExport, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_export("e.csv", ["BSN;Gemeente", "999993653;Assen"])
    read_csv = pl.read_csv

    def read_and_append(*args: Any, **kwargs: Any) -> pl.DataFrame:
        frame = read_csv(*args, **kwargs)
        with path.open("ab") as handle:
            handle.write(b"999991723;Emmen\n")
        return frame

    monkeypatch.setattr(pl, "read_csv", read_and_append)
    with pytest.raises(InputError, match="changed while it was being read"):
        read_export(path)


def test_without_memory_maps_the_file_is_read(
    write_export: WriteExport, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise OSError(19, "No such device")  # what a file system without mmap says

    monkeypatch.setattr(sys.modules["factlab._exports"].mmap, "mmap", refuse)
    for encoding in ("utf-8", "cp1252"):
        path = write_export("e.csv", ["BSN;Naam", "999993653;Zoë"], encoding=encoding)
        export = load_export(path)
        assert export.frame.row(0) == ("999993653", "Zoë")
        assert export.facts["encoding"] == encoding
        assert export.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# --- writing and checking in one pass ------------------------------------------------------------


def test_sink_parquet_checked_keeps_the_file_only_when_the_check_passes(tmp_path: Path) -> None:
    rows = pl.LazyFrame({"pseudonym": ["a" * 32, "b" * 32], "provider": ["P01", "P01"]})
    tally = rows.select(pl.len().alias("rows"))
    seen: list[int] = []
    out = tmp_path / "out.parquet"
    sink_parquet_checked(
        rows, out, manifest(), alongside=[tally], check=lambda got: seen.append(got[0].item())
    )
    assert seen == [2]
    assert pl.read_parquet(out).equals(rows.collect())
    assert read_manifest(out).rows == 2

    def refuse(got: list[pl.DataFrame]) -> None:
        raise InputError(f"refused after {got[0].item()} rows")

    before = out.read_bytes()
    with pytest.raises(InputError, match="refused after 2 rows"):
        sink_parquet_checked(rows, out, manifest(), alongside=[tally], check=refuse)
    assert out.read_bytes() == before  # the existing file is kept
    fresh = tmp_path / "fresh.parquet"
    with pytest.raises(InputError):
        sink_parquet_checked(rows, fresh, manifest(), alongside=[tally], check=refuse)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.parquet"]
