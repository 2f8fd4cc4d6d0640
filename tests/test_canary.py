"""Canary: no BSN, no plain hash of a BSN and no key secret in any output of the steward's step.

The steward's command runs as a real process on an export holding known test BSNs in several
written forms. Every byte it leaves behind is searched: the Parquet file as written (compressed),
the same data decompressed, its values as text, its metadata, and stdout and stderr of
``pseudonymise`` and ``inspect`` — for successful and for failing runs.
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq
import pytest

from factlab.keys.round_keys import Key

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import KeyFiles

#: (canonical BSN, the written form used in the export); all from the test range.
WRITTEN = [
    ("999993653", "9999.93.653"),
    ("999993653", "999 993 653"),
    ("999991723", "999-991-723"),
    ("999995078", "999995078"),
    ("999994451", " 999.99.4451 "),
    ("999997336", "999\u00a0997\u00a0336"),
]
#: Fails the elfproef: not a BSN, but the steward typed it as one, so it must not leak either.
CHECKSUM_FAILURE = "999993654"
CANONICAL = sorted({bsn for bsn, _ in WRITTEN} | {CHECKSUM_FAILURE})
OTHER_PERSONAL = ["01-02-2010", "2010-02-01", "9401 AB", "9401AB", "Zoë Testpersoon"]


def export_lines() -> list[str]:
    lines = ["BSN cliënt;Naam;Geboortedatum;Geslacht;Postcode;Gemeente;Kosten"]
    for _, written in WRITTEN:
        lines.append(f"{written};Zoë Testpersoon;01-02-2010;V;9401 AB;Assen;1.234,56")
    lines.append(f"{CHECKSUM_FAILURE};Zoë Testpersoon;01-02-2010;V;9401 AB;Assen;12,50")
    lines.append("000000000;Zoë Testpersoon;01-02-2010;V;9401 AB;Assen;12,50")
    return lines


def needles(key: Key, secret_forms: list[str]) -> dict[str, bytes]:
    """Every byte string that must not occur in an output, by a name that reveals no value."""
    found: dict[str, bytes] = {}
    for index, bsn in enumerate(CANONICAL):
        digest = hashlib.sha256(bsn.encode()).hexdigest()
        found[f"bsn {index} digits"] = bsn.encode()
        found[f"bsn {index} sha256"] = digest.encode()
        found[f"bsn {index} SHA256"] = digest.upper().encode()
        found[f"bsn {index} as int64"] = struct.pack("<q", int(bsn))
        found[f"bsn {index} as big-endian int64"] = struct.pack(">q", int(bsn))
    for index, (_, written) in enumerate(WRITTEN):
        found[f"written form {index}"] = written.strip().encode()
    for index, form in enumerate(secret_forms):
        found[f"key secret form {index}"] = form.encode()
    for index, value in enumerate(OTHER_PERSONAL):
        found[f"personal field {index}"] = value.encode()
    return found


def assert_clean(label: str, data: bytes, forbidden: dict[str, bytes]) -> None:
    leaks = [name for name, needle in forbidden.items() if needle in data]
    assert leaks == [], f"{label} leaks: {leaks}"  # names only: the message itself stays clean


def factlab(*args: object) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "factlab", *map(str, args)]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def parquet_views(path: Path) -> dict[str, bytes]:
    """The file as written, decompressed, as text, and its metadata."""
    table = pq.read_table(path)
    uncompressed = io.BytesIO()
    pq.write_table(table, uncompressed, compression="NONE", use_dictionary=False)
    frame = pl.read_parquet(path)
    as_text = frame.select(pl.all().cast(pl.String)).write_csv()
    metadata = pq.ParquetFile(path).metadata.metadata or {}
    return {
        "parquet file": path.read_bytes(),
        "parquet decompressed": uncompressed.getvalue(),
        "parquet values": as_text.encode(),
        "parquet metadata": b"".join(k + v for k, v in metadata.items()),
        "parquet schema": str(table.schema).encode(),
    }


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(("\r\n".join(export_lines()) + "\r\n").encode("cp1252"))
    return path


def test_the_scan_finds_a_leak(tmp_path: Path, round_key: Key) -> None:
    # the canary is only as good as its scan: a file that does hold BSNs must be caught, in
    # every view, even where compression hides the digits in the file as written
    leaky = tmp_path / "leaky.parquet"
    digits = [bsn for bsn, _ in WRITTEN] * 50
    pl.DataFrame({"bsn": digits, "n": [int(b) for b in digits]}).write_parquet(
        leaky, compression="zstd"
    )
    forbidden = needles(round_key, [round_key._secret.hex()])
    views = parquet_views(leaky)
    for label in ("parquet decompressed", "parquet values"):
        with pytest.raises(AssertionError, match="bsn 0 digits"):
            assert_clean(label, views[label], forbidden)
    with pytest.raises(AssertionError, match="bsn 0 as int64"):
        assert_clean("decompressed", views["parquet decompressed"], forbidden)
    with pytest.raises(AssertionError, match="key secret form 0"):
        assert_clean("text", f"x{round_key._secret.hex()}x".encode(), forbidden)
    written = "\n".join(form for _, form in WRITTEN).encode()
    with pytest.raises(AssertionError, match="written form 1"):
        assert_clean("text", written, forbidden)


@pytest.mark.parametrize("fallback", [False, True])
def test_no_bsn_and_no_secret_in_any_output(
    export: Path,
    key_files: KeyFiles,
    tmp_path: Path,
    key_secret_forms: Callable[[Key], list[str]],
    fallback: bool,
    audit_log: Path,
) -> None:
    forbidden = needles(key_files.key, key_secret_forms(key_files.key))
    out = tmp_path / "P01.parquet"
    flags = ["--fallback"] if fallback else []
    done = factlab(
        "pseudonymise",
        export,
        *("--key", key_files.provider, "--provider", "P01", "--out", out, *flags),
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-300:]
    frame = pl.read_parquet(out)
    # the run did what it should, so a clean output means something
    assert frame["bsn_status"].value_counts()["count"].sum() == len(WRITTEN) + 2
    assert frame["pseudonym"].n_unique() == 6  # five persons and null
    assert frame["bsn_status"].to_list().count("checksum") == 1
    assert ("fallback_pseudonym" in frame.columns) == fallback
    if fallback:
        assert frame["fallback_pseudonym"].null_count() == 0

    assert_clean("pseudonymise stdout", done.stdout, forbidden)
    assert_clean("pseudonymise stderr", done.stderr, forbidden)
    for label, data in parquet_views(out).items():
        assert_clean(label, data, forbidden)
    for args in (["inspect", out], ["inspect", out, "--json"]):
        shown = factlab(*args)
        assert shown.returncode == 0
        assert_clean(f"{args[0]} {args[2:]} stdout", shown.stdout, forbidden)
        assert_clean(f"{args[0]} {args[2:]} stderr", shown.stderr, forbidden)
    assert_clean("audit log", audit_log.read_bytes(), forbidden)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["P01.parquet", "export.csv", "keys"]


def test_no_bsn_in_the_errors_of_failing_runs(
    export: Path,
    key_files: KeyFiles,
    tmp_path: Path,
    key_secret_forms: Callable[[Key], list[str]],
) -> None:
    forbidden = needles(key_files.key, key_secret_forms(key_files.key))
    out = tmp_path / "P01.parquet"
    base = ("--key", key_files.provider, "--provider", "P01", "--out", out)

    bad_mapping = tmp_path / "mapping.toml"
    bad_mapping.write_text(
        'version = 1\n[columns]\nbsn = "BSN cliënt"\nnaam = "Naam"\n'
        '[values.sex]\nV = 2\n[derive.care_form]\nfrom = "product_category"\nmap = {}\n',
        encoding="utf-8",
    )
    ragged = tmp_path / "ragged.csv"
    ragged.write_bytes(
        "BSN;Naam\r\n999993653;Zoë Testpersoon\r\n999991723;Zoë;999995078;9999.93.653\r\n".encode(
            "cp1252"
        )
    )
    sheet = tmp_path / "export.xlsx"
    sheet.write_bytes(b"PK\x03\x04" + b"999993653 999991723 " * 20)
    no_bsn = tmp_path / "no_bsn.csv"
    no_bsn.write_bytes(b"Nummer;Naam\r\n999993653;Zo\xeb\r\n")
    # an export saved without its header line: the first client's values become column names
    headerless = tmp_path / "headerless.csv"
    headerless.write_bytes(b"9999.93.653;Zo\xeb;999991723\r\n999995078;Zo\xeb;999994451\r\n")
    runs = {
        "bad mapping": factlab("pseudonymise", export, *base, "--mapping", bad_mapping),
        "ragged csv": factlab("pseudonymise", ragged, *base),
        "broken xlsx": factlab("pseudonymise", sheet, *base),
        "no bsn column": factlab("pseudonymise", no_bsn, *base),
        "headerless": factlab("pseudonymise", headerless, *base),
        "link key": factlab(
            "pseudonymise", export, "--key", key_files.link, "--provider", "P01", "--out", out
        ),
    }
    for label, done in runs.items():
        assert done.returncode != 0, label
        assert done.stderr.startswith(b"factlab: error: ") or b"\nfactlab: error: " in done.stderr
        assert_clean(f"{label} stdout", done.stdout, forbidden)
        assert_clean(f"{label} stderr", done.stderr, forbidden)
        assert not out.exists(), label
    assert b"3 problem(s)" in runs["bad mapping"].stderr
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


# --- the column report, the values not mapped, the round's contract and the preview ---------

#: Each client's own name: a wrong column mapped onto a code field must not bring them out.
NAMES = {
    bsn: f"{first} Testpersoon"
    for bsn, first in zip(CANONICAL, ("Anaïs", "Bram", "Daan", "Fenna", "Sem", "Tess"), strict=True)
}


def named_export_lines() -> list[str]:
    """The canary's export with a name per client, and personal values in code columns."""
    lines = ["BSN cliënt;Naam;Geboortedatum;Geslacht;Postcode;Gemeente;Kosten"]
    for canonical, written in [*WRITTEN, (CHECKSUM_FAILURE, CHECKSUM_FAILURE)]:
        name = NAMES[canonical]
        lines.append(f"{written};{name};01-02-2010;V;9401 AB;{CHECKSUM_FAILURE};12,50")
    return lines


#: A mapping that takes the wrong columns for code fields: names, birth dates, postcodes and a
#: number that fails the elfproef end up where codes belong.
WRONG_MAPPING = """\
version = 1
[columns]
municipality = "Naam"
product_category = "Geboortedatum"
domain = "Postcode"
care_form = "Gemeente"
[values.municipality]
GM0106 = "Assen"
[values.care_form]
ambu = "ambulant"
"""

ROUND_CONTRACT = """\
version = 1
required = ["bsn", "municipality", "product_category", "care_form"]
[values]
product_category = ["40-55"]
domain = ["jeugdhulp"]
"""


def test_no_bsn_or_client_value_in_the_report_preview_refusal_or_manifest(
    key_files: KeyFiles,
    tmp_path: Path,
    key_secret_forms: Callable[[Key], list[str]],
    audit_log: Path,
) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes(("\r\n".join(named_export_lines()) + "\r\n").encode("cp1252"))
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(WRONG_MAPPING, encoding="utf-8")
    contract = tmp_path / "contract.toml"
    contract.write_text(ROUND_CONTRACT, encoding="utf-8")
    keyed = tmp_path / "keys" / "contract.key"
    made = factlab(
        "key", "export-provider", key_files.round, "--out", keyed, "--contract", contract
    )
    assert made.returncode == 0, made.stderr.decode(errors="replace")[-300:]
    secrets = key_secret_forms(key_files.key)
    forbidden = needles(key_files.key, secrets)
    forbidden |= {f"name {index}": name.encode() for index, name in enumerate(NAMES.values())}
    forbidden |= {
        f"name {index} cp1252": n.encode("cp1252") for index, n in enumerate(NAMES.values())
    }
    # what the output rows themselves hold (the preview shows them) may be a client's data,
    # never a BSN or a key
    no_bsn = {
        name: needle
        for name, needle in forbidden.items()
        if name.startswith(("bsn", "written", "key"))
    }
    out = tmp_path / "P01.parquet"
    base = ("--key", keyed, "--provider", "P01", "--mapping", mapping)

    refused = factlab("pseudonymise", export, *base, "--out", out)
    assert refused.returncode == 3, refused.stderr.decode(errors="replace")[-300:]
    assert b"the round's contract refuses this file" in refused.stderr
    assert b"values not mapped:" in refused.stderr  # the report is there, and clean
    assert b"not shown" in refused.stderr
    assert not out.exists()
    assert_clean("refusal stdout", refused.stdout, forbidden)
    assert_clean("refusal stderr", refused.stderr, forbidden)

    preview = factlab("pseudonymise", export, *base, "--preview")
    assert preview.returncode == 0, preview.stderr.decode(errors="replace")[-300:]
    assert b"would REFUSE" in preview.stdout
    assert b"| pseudonym " in preview.stdout
    assert_clean("preview stdout", preview.stdout, no_bsn)
    assert_clean("preview stderr", preview.stderr, forbidden)
    report = preview.stdout.split(b"first 7 row(s) of the output")[0]
    assert_clean("preview report", report, forbidden)  # all but the rows themselves

    # without the contract the file is written: its manifest, inspect and summary stay clean
    written = factlab(
        "pseudonymise",
        export,
        "--key",
        key_files.provider,
        "--provider",
        "P01",
        "--mapping",
        mapping,
        "--out",
        out,
    )
    assert written.returncode == 0, written.stderr.decode(errors="replace")[-300:]
    assert_clean("summary stderr", written.stderr, forbidden)
    assert_clean("summary stdout", written.stdout, forbidden)
    assert_clean("manifest", parquet_views(out)["parquet metadata"], forbidden)
    for args in (["inspect", out], ["inspect", out, "--json"]):
        shown = factlab(*args)
        assert shown.returncode == 0
        assert b"municipality" in shown.stdout
        assert_clean(f"{args[0]} {args[2:]} stdout", shown.stdout, forbidden)
    assert_clean("audit log", audit_log.read_bytes(), forbidden)
