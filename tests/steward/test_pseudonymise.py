"""The steward's step (factlab.pseudonymise): pseudonyms against a plain-Python oracle, rows in =
rows out, minimisation, quality summary, fallback pseudonym, second stage, and the manifest."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab._version import __version__
from factlab.errors import ConfigError, InputError, KeyFileError
from factlab.keys.pseudonym import hmac_pseudonym, second_stage
from factlab.keys.round_keys import Key, load_key, new_round_key, write_key
from factlab.manifest import read_manifest
from factlab.steward.contract import parse_contract
from factlab.steward.mapping import ColumnMapping, parse_mapping
from factlab.steward.preview import preview_file
from factlab.steward.pseudonymise import (
    Pseudonymised,
    pseudonymise,
    pseudonymise_file,
    pseudonymise_with_quality,
)

PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")
WriteExport = Callable[..., Path]


# --- a plain-Python oracle -----------------------------------------------------------------------


def oracle_status(value: str | None) -> str:
    text = re.sub(r"[\s.\-]", "", value or "")
    if not text:
        return "missing"
    if not re.fullmatch(r"[0-9]+", text):
        return "non_digit"
    text = "0" + text if len(text) == 8 else text
    if len(text) != 9:
        return "bad_length"
    if text in ("000000000", "999999999"):
        return "sentinel"
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    valid = sum(int(d) * w for d, w in zip(text, weights, strict=True)) % 11 == 0
    return "valid" if valid else "checksum"


def oracle_pseudonym(key: Key, value: str | None) -> str | None:
    if oracle_status(value) != "valid":
        return None
    digits = re.sub(r"[\s.\-]", "", value or "").zfill(9)
    mac = hmac.new(key.pseudonym_key("bsn").hex().encode(), digits.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def written_form(bsn: str, rng: random.Random) -> str:
    forms = [
        bsn,
        f"{bsn[:4]}.{bsn[4:6]}.{bsn[6:]}",
        f"{bsn[:3]} {bsn[3:6]} {bsn[6:]}",
        f"{bsn[:3]}-{bsn[3:6]}-{bsn[6:]}",
        f" {bsn}\t",
        f"{bsn[:3]}\u00a0{bsn[3:6]}\u00a0{bsn[6:]}",
    ]
    return rng.choice(forms)


def seeded_export(test_bsns: tuple[str, ...], seed: int) -> tuple[list[str | None], set[str]]:
    """BSN cells of a synthetic export: persons on 1-3 rows in several forms, and bad rows."""
    rng = random.Random(seed)
    persons = rng.sample(test_bsns, 60)
    cells: list[str | None] = []
    for person in persons:
        cells += [written_form(person, rng) for _ in range(rng.randint(1, 3))]
    invalid = [p[:8] + str((int(p[8]) + 1) % 10) for p in rng.sample(test_bsns, 5)]
    cells += [None, "", "  ", "000000000", "999.999.999", "12345", "1234567890", "99999x653"]
    cells += invalid  # the check digit changed: fails the proef
    rng.shuffle(cells)
    return cells, set(persons)


# --- pseudonyms ----------------------------------------------------------------------------------


def test_pseudonyms_and_statuses_match_the_oracle(
    test_bsns: tuple[str, ...], round_key: Key
) -> None:
    cells, persons = seeded_export(test_bsns, seed=2026)
    result = pseudonymise_with_quality(pl.DataFrame({"BSN": cells}), round_key, provider="P01")
    out = result.frame
    assert out.height == len(cells)  # rows in = rows out, in order
    assert out["bsn_status"].to_list() == [oracle_status(cell) for cell in cells]
    assert out["pseudonym"].to_list() == [oracle_pseudonym(round_key, cell) for cell in cells]
    expected = {oracle_pseudonym(round_key, person) for person in persons}
    assert set(out["pseudonym"].drop_nulls()) == expected
    assert result.quality.distinct_pseudonyms == len(persons)
    by_status = Counter(oracle_status(cell) for cell in cells)
    assert result.quality.rows_by_status == {name: by_status[name] for name in schema.STATUSES}
    per_person = Counter(oracle_pseudonym(round_key, cell) for cell in cells)
    shared = sum(n for pseudonym, n in per_person.items() if pseudonym and n > 1)
    assert result.quality.duplicate_pseudonym_rows == shared


def test_rows_without_a_valid_bsn_keep_their_row_and_status(round_key: Key) -> None:
    cells = ["999993653", None, "000000000", "999999999", "1234", "99999365x", "999993654"]
    export = pl.DataFrame({"bsn": cells, "Gemeente": ["Assen"] * 7})
    out = pseudonymise(export, round_key, provider="P1")
    assert out["bsn_status"].to_list() == [
        "valid",
        "missing",
        "sentinel",
        "sentinel",
        "bad_length",
        "non_digit",
        "checksum",
    ]
    assert out["pseudonym"].null_count() == 6
    assert PSEUDONYM.match(out["pseudonym"][0])
    assert out["municipality"].to_list() == ["Assen"] * 7  # the rest of the row survives


def test_same_person_any_form_any_provider_same_pseudonym(
    round_key: Key, key_files: object, tmp_path: Path
) -> None:
    bsns = ["999993653", "999991723", "999995078"]
    # provider 1: text with written forms; provider 2: integers; provider 3: floats from Excel
    p1 = pl.DataFrame({"BSN": ["9999.93.653", "999 991 723", "999-995-078"]})
    p2 = pl.DataFrame({"burgerservicenummer": [int(b) for b in bsns]})
    p3 = pl.DataFrame({"BSN cliënt": [float(b) for b in bsns]})
    provider_key = round_key.provider_key()
    write_key(provider_key, tmp_path / "p.key")
    from_file = load_key(tmp_path / "p.key")
    outputs = [
        pseudonymise(p1, round_key, provider="P1"),
        pseudonymise(p2, provider_key, provider="P2"),
        pseudonymise(p3, from_file, provider="P3"),
    ]
    expected = [oracle_pseudonym(round_key, b) for b in bsns]
    for out in outputs:
        assert out["pseudonym"].to_list() == expected
    # another round's key gives unrelated pseudonyms for the same persons
    other = pseudonymise(p1, new_round_key("test-2027"), provider="P1")["pseudonym"].to_list()
    assert not set(other) & set(expected)


nine_digit_test_bsn = st.integers(min_value=0, max_value=9090)
round_names = st.text(
    alphabet=st.characters(blacklist_characters="|", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=20,
).filter(lambda name: name.strip() == name and name != "")


def _key(round_name: str, secret: bytes, key_id: str = "0" * 16) -> Key:
    return Key(kind="round", round=round_name, key_id=key_id, created="2026", _secret=secret)


@settings(max_examples=30, deadline=None)
@given(
    indices=st.lists(nine_digit_test_bsn, min_size=1, max_size=30, unique=True),
    rounds=st.lists(round_names, min_size=2, max_size=2, unique=True),
    secrets=st.lists(st.binary(min_size=32, max_size=32), min_size=2, max_size=2, unique=True),
    data=st.data(),
)
def test_pseudonyms_are_deterministic_and_key_separated(
    test_bsns: tuple[str, ...],
    indices: list[int],
    rounds: list[str],
    secrets: list[bytes],
    data: st.DataObject,
) -> None:
    bsns = [test_bsns[i] for i in indices]
    frame = pl.DataFrame({"bsn": bsns})

    def pseudonyms(key: Key) -> list[str]:
        return pseudonymise(frame, key, provider="P")["pseudonym"].to_list()

    base = pseudonyms(_key(rounds[0], secrets[0]))
    assert len(set(base)) == len(bsns)
    # same round and secret: same pseudonyms, whatever the key id or file
    assert pseudonyms(_key(rounds[0], secrets[0], key_id="f" * 16)) == base
    assert pseudonyms(_key(rounds[0], secrets[0]).provider_key()) == base
    # another round name or another secret: no pseudonym in common
    assert not set(pseudonyms(_key(rounds[1], secrets[0]))) & set(base)
    assert not set(pseudonyms(_key(rounds[0], secrets[1]))) & set(base)
    # the order of the rows does not matter
    order = data.draw(st.permutations(range(len(bsns))))
    shuffled = pseudonymise(frame[list(order)], _key(rounds[0], secrets[0]), provider="P")
    assert shuffled["pseudonym"].to_list() == [base[i] for i in order]


def test_hmac_pseudonym_is_the_standard_library_hmac() -> None:
    subkey = bytes(range(32, 64))
    frame = pl.DataFrame({"m": ["999993653", None, ""]})
    out = frame.select(hmac_pseudonym(pl.col("m"), subkey))["m"].to_list()
    mac = hmac.new(subkey.hex().encode(), b"999993653", hashlib.sha256).hexdigest()[:32]
    assert out[0] == mac
    assert out[1] is None
    assert out[2] == hmac.new(subkey.hex().encode(), b"", hashlib.sha256).hexdigest()[:32]


# --- minimisation and output shape --------------------------------------------------------------


def full_export() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "BSN": ["9999.93.653", "999991723", None],
            "Naam": ["Cliënt Een", "Cliënt Twee", "Cliënt Drie"],
            "Adres": ["Teststraat 1", "Teststraat 2", "Teststraat 3"],
            "Telefoon": ["0600000000", "0600000001", None],
            "Geboortedatum": ["01-02-2010", "2011-03-04", "05-06-2012"],
            "Geslacht": ["V", "jongen", "onbekend"],
            "Postcode": ["9401 AB", "7811AA", "9401AB"],
            "Gemeente": ["Assen", "Emmen", "Assen"],
            "Domein": ["jeugdhulp", "jeugdhulp", "jeugdbescherming"],
            "Financiering": ["ZIN", "PGB", "ZIN"],
            "Zorgvorm": ["ambulant", "verblijf", "JB/JR"],
            "Productcategorie": ["45", "43", "48"],
            "Startdatum": ["01-01-2013", "15-06-2012", "01-01-2013"],
            "Einddatum": [None, "31-12-2013", ""],
            "Kosten": ["1234.56", "99.5", None],
            "Opmerking": ["vrije tekst", None, "vrije tekst"],
        }
    )


def test_minimisation(round_key: Key) -> None:
    export = full_export()
    out = pseudonymise(export, round_key, provider="P01")
    assert out.columns == [
        "pseudonym",
        "bsn_status",
        "provider",
        "birth_year",
        "sex",
        "municipality",
        "domain",
        "financing",
        "care_form",
        "product_category",
        "start_date",
        "end_date",
        "cost",
    ]
    assert not set(out.columns) & set(export.columns)
    assert out["birth_year"].to_list() == [2010, 2011, 2012]  # the date itself is gone
    text = out.select(pl.all().cast(pl.String)).write_csv()
    for raw in ("999993653", "999991723", "Cliënt", "Teststraat", "0600000000", "9401", "7811"):
        assert raw not in text
    for day in ("01-02-2010", "2010-02-01", "2011-03-04", "05-06-2012"):
        assert day not in text


def test_output_dtypes(round_key: Key) -> None:
    out = pseudonymise(full_export(), round_key, provider="P01")
    assert out.schema["pseudonym"] == pl.String()
    assert out.schema["bsn_status"] == schema.STATUS_DTYPE
    assert out.schema["provider"] == schema.TEXT_DTYPE == pl.Categorical()
    for name, dtype in schema.FIELD_DTYPES.items():
        assert out.schema[name] == dtype, name
    assert out["provider"].to_list() == ["P01"] * 3
    assert out["sex"].to_list() == ["V", "M", None]
    assert out["start_date"].to_list() == [date(2013, 1, 1), date(2012, 6, 15), date(2013, 1, 1)]
    assert out["end_date"].to_list() == [None, date(2013, 12, 31), None]
    assert out["cost"].to_list() == [1234.56, 99.5, None]


def test_only_the_bsn_is_needed(round_key: Key) -> None:
    out = pseudonymise(pl.DataFrame({"bsn": ["999993653"]}), round_key, provider="P01")
    assert out.columns == ["pseudonym", "bsn_status", "provider"]


def test_lazy_in_lazy_out_and_the_input_is_untouched(round_key: Key) -> None:
    export = full_export()
    before = export.clone()
    lazy = pseudonymise(export.lazy(), round_key, provider="P01")
    assert isinstance(lazy, pl.LazyFrame)
    eager = pseudonymise(export, round_key, provider="P01")
    assert isinstance(eager, pl.DataFrame)
    assert lazy.collect().equals(eager)
    assert export.equals(before)


@pytest.mark.parametrize("provider", ["", " P01", "P 01", "P01/..", "-P01", "x" * 65, "Pé"])
def test_bad_provider_codes(round_key: Key, provider: str) -> None:
    with pytest.raises(InputError, match="provider code"):
        pseudonymise(pl.DataFrame({"bsn": ["999993653"]}), round_key, provider=provider)


def test_a_link_key_cannot_pseudonymise(round_key: Key) -> None:
    with pytest.raises(KeyFileError, match="link key cannot make first-stage"):
        pseudonymise(pl.DataFrame({"bsn": ["999993653"]}), round_key.link_key(), provider="P")


def test_no_bsn_column(round_key: Key) -> None:
    with pytest.raises(InputError, match="no BSN column"):
        pseudonymise(pl.DataFrame({"Naam": ["x"]}), round_key, provider="P")


# --- mapping features and quality ----------------------------------------------------------------


MAPPING = parse_mapping(
    {
        "version": 1,
        "columns": {"bsn": "Nummer", "start_date": "Datum aanvang", "sex": "Sekse"},
        "date_formats": {"start_date": "%d-%m-%Y"},
        "values": {"sex": {"J": "jongen", "M": "meisje"}, "domain": {"JH": "jeugdhulp"}},
        "derive": {
            "care_form": {
                "from": "product_category",
                "map": {"45": "ambulant", "41": "dagbehandeling", "43": "verblijf"},
            }
        },
        "constants": {"financing": "ZIN"},
    }
)


def test_columns_values_derive_constants_and_date_formats(round_key: Key) -> None:
    export = pl.DataFrame(
        {
            "Nummer": ["999993653", "999991723", "999995078"],
            "Sekse": ["J", "M", "J"],
            "Domein": ["JH", "JH", "jeugdbescherming"],
            "Productcategorie": ["45", "43", "99"],
            "Datum aanvang": ["01-02-2013", "2013-02-01", "31-01-2013"],
        }
    )
    result = pseudonymise_with_quality(export, round_key, provider="P01", mapping=MAPPING)
    out = result.frame
    assert out["sex"].to_list() == ["M", "V", "M"]
    assert out["domain"].to_list() == ["jeugdhulp", "jeugdhulp", "jeugdbescherming"]
    assert out["care_form"].to_list() == ["ambulant", "verblijf", None]
    assert out["financing"].to_list() == ["ZIN"] * 3
    # only the mapping's format is tried: the ISO date is unreadable here
    assert out["start_date"].to_list() == [date(2013, 2, 1), None, date(2013, 1, 31)]
    # "jeugdbescherming" is kept as written: the value map neither maps nor produces it
    assert result.quality.field_issues == {
        "start_date": {"unreadable": 1},
        "care_form": {"unmapped": 1},
        "domain": {"not_mapped": 1},
    }
    assert result.quality.example_rows["start_date"] == {"unreadable": [2]}
    assert result.quality.example_rows["care_form"] == {"unmapped": [3]}
    assert result.quality.example_rows["domain"] == {"not_mapped": [3]}


def test_a_derivation_needs_its_source(round_key: Key) -> None:
    export = pl.DataFrame({"Nummer": ["999993653"], "Sekse": ["J"], "Datum aanvang": ["x"]})
    with pytest.raises(InputError, match=r"derive\.care_form needs the field product_category"):
        pseudonymise(export, round_key, provider="P01", mapping=MAPPING)


def test_quality_names_rows_never_values(round_key: Key) -> None:
    export = pl.DataFrame(
        {
            "BSN": ["999993653", "", "999993654", "000000000", "999993653", "999993654"],
            "Geboortedatum": ["01-02-2010", "31-02-2010", None, "2010-01-01", "x", "2010-01-01"],
            "Geslacht": ["V", "onbekend", "?", "M", "V", "V"],
            "Startdatum": ["2013-01-01", "2013-01-01", "2013-01-01", None, None, None],
            "Einddatum": ["2012-12-31", "2013-02-01", None, None, None, None],
            "Kosten": ["12,50", "n.v.t.", "", "1.000", "5", "7"],
        }
    )
    result = pseudonymise_with_quality(export, round_key, provider="P01", decimal_comma=True)
    quality = result.quality
    assert quality.rows == 6
    assert quality.rows_by_status == {
        "valid": 2,
        "missing": 1,
        "sentinel": 1,
        "bad_length": 0,
        "non_digit": 0,
        "checksum": 2,
    }
    assert quality.example_rows["bsn"] == {"missing": [2], "sentinel": [4], "checksum": [3, 6]}
    assert quality.field_issues == {
        "birth_date": {"unreadable": 2},
        "sex": {"unreadable": 1},  # "onbekend" says unknown; "?" cannot be read
        "end_date": {"before_start_date": 1},
        "cost": {"unreadable": 1},
    }
    assert quality.example_rows["birth_date"] == {"unreadable": [2, 5]}
    assert quality.example_rows["sex"] == {"unreadable": [3]}
    assert quality.example_rows["end_date"] == {"before_start_date": [1]}
    assert quality.example_rows["cost"] == {"unreadable": [2]}
    assert quality.distinct_pseudonyms == 1
    assert quality.duplicate_pseudonym_rows == 2
    assert result.frame["cost"].to_list() == [12.5, None, None, 1000.0, 5.0, 7.0]
    text = str(quality.to_dict())
    assert "999993653" not in text
    assert "999993654" not in text


# --- fallback pseudonym --------------------------------------------------------------------------


def test_fallback_pseudonym(round_key: Key) -> None:
    export = pl.DataFrame(
        {
            "BSN": [None, "999993653", None, "999991723"],
            "Geboortedatum": ["01-02-2010", "01-02-2010", None, "2010-02-01"],
            "Geslacht": ["vrouw", "V", "V", "V"],
            "Postcode": ["9401 ab", "9401AB", "9401AB", "nope"],
        }
    )
    result = pseudonymise_with_quality(
        export, round_key, provider="P1", fallback=schema.FALLBACK_DEFAULT
    )
    out = result.frame
    assert out.columns[:4] == ["pseudonym", "fallback_pseudonym", "bsn_status", "provider"]
    assert "postcode" not in out.columns
    message = b"birth_date=2010-02-01|sex=V|postcode=9401AB"
    subkey = round_key.pseudonym_key("fallback").hex().encode()
    expected = hmac.new(subkey, message, hashlib.sha256).hexdigest()[:32]
    fallback = out["fallback_pseudonym"].to_list()
    assert fallback[:2] == [expected, expected]  # written forms of the same fields agree
    assert fallback[2:] == [None, None]  # a missing or unreadable field: no fallback pseudonym
    assert result.quality.field_issues["fallback_pseudonym"] == {"incomplete": 2}
    # its own key domain: never equal to a BSN pseudonym, not even of the same message
    bsn_subkey = round_key.pseudonym_key("bsn").hex().encode()
    assert expected != hmac.new(bsn_subkey, message, hashlib.sha256).hexdigest()[:32]
    assert not set(out["pseudonym"].drop_nulls()) & set(out["fallback_pseudonym"].drop_nulls())


def test_fallback_needs_its_fields(round_key: Key) -> None:
    export = pl.DataFrame({"BSN": ["999993653"], "Geslacht": ["V"]})
    with pytest.raises(InputError, match="fallback pseudonym needs birth_date, postcode"):
        pseudonymise_with_quality(
            export, round_key, provider="P1", fallback=("birth_date", "sex", "postcode")
        )


def test_fallback_fields_from_the_mapping(round_key: Key) -> None:
    mapping = parse_mapping(
        {"version": 1, "fallback": {"fields": ["birth_year", "sex", "municipality"]}}
    )
    export = pl.DataFrame(
        {"BSN": [None], "Geboortejaar": ["2010"], "Geslacht": ["M"], "Gemeente": ["ASSEN"]}
    )
    out = pseudonymise_with_quality(
        export, round_key, provider="P1", mapping=mapping, allow_no_valid_bsn=True
    ).frame
    message = b"birth_year=2010|sex=M|municipality=assen"
    subkey = round_key.pseudonym_key("fallback").hex().encode()
    assert (
        out["fallback_pseudonym"][0] == hmac.new(subkey, message, hashlib.sha256).hexdigest()[:32]
    )
    assert out["municipality"][0] == "ASSEN"  # the written column keeps its value


# --- second stage --------------------------------------------------------------------------------


def test_second_stage(round_key: Key) -> None:
    export = pl.DataFrame(
        {
            "BSN": ["999993653", None],
            "Geboortedatum": ["2010-02-01", "2010-02-01"],
            "Geslacht": ["V", "V"],
            "Postcode": ["9401AB", "9401AB"],
        }
    )
    first = pseudonymise_with_quality(
        export, round_key, provider="P1", fallback=schema.FALLBACK_DEFAULT
    ).frame
    second = second_stage(first.lazy(), round_key.link_key()).collect()
    k2 = round_key.stage2_key("bsn").hex().encode()
    k2fb = round_key.stage2_key("fallback").hex().encode()
    s1, fb1 = first["pseudonym"][0], first["fallback_pseudonym"][0]
    assert second["pseudonym"].to_list() == [
        hmac.new(k2, s1.encode(), hashlib.sha256).hexdigest()[:32],
        None,
    ]
    assert (
        second["fallback_pseudonym"].to_list()
        == [hmac.new(k2fb, fb1.encode(), hashlib.sha256).hexdigest()[:32]] * 2
    )
    assert not set(second["pseudonym"].drop_nulls()) & set(first["pseudonym"].drop_nulls())
    assert second.drop("pseudonym", "fallback_pseudonym").equals(
        first.drop("pseudonym", "fallback_pseudonym")
    )
    with pytest.raises(KeyFileError, match="provider key cannot make second-stage"):
        second_stage(first.lazy(), round_key.provider_key())


# --- files and the manifest ----------------------------------------------------------------------


def test_pseudonymise_file_writes_the_manifest(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    lines = [
        "BSN cliënt;Naam;Kosten;Startdatum",
        "9999.93.653;Zoë;1.234,56;01-01-2013",
        "999 991 723;Anaïs;12,5;31-12-2012",
        "999993654;Test;;",
        "000000000;Test;;",
        ";Test;;",
    ]
    path = write_export("export.csv", lines, encoding="cp1252", newline="\r\n")
    out = tmp_path / "P01.parquet"
    before = datetime.now(UTC).replace(microsecond=0)
    result = pseudonymise_file(path, round_key.provider_key(), provider="P01", out=out)
    written = read_manifest(out)
    assert written == result.manifest
    assert written.format == schema.FORMAT_PSEUDONYMISED
    assert written.scheme == schema.SCHEME
    assert written.stage == 1
    assert written.round == round_key.round
    assert written.key_id == round_key.key_id
    assert written.key_fingerprint == round_key.fingerprint
    assert written.provider == "P01"
    assert written.factlab_version == __version__
    # issue 14 #5: no unkeyed digest of the export in the manifest (a sealed file shows it in the
    # clear, and a small export's digest is reversed by trying every BSN); the audit log gets it
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.input_sha256 == digest
    assert digest not in written.to_json()
    assert "input_sha256" not in written.to_json()
    assert digest.encode() not in out.read_bytes()
    assert written.input_format == "csv"
    assert written.rows == 5
    assert written.rows_by_status == {
        "valid": 2,
        "missing": 1,
        "sentinel": 1,
        "bad_length": 0,
        "non_digit": 0,
        "checksum": 1,
    }
    created = datetime.fromisoformat(written.created)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)
    assert written.extra["read_as"] == {"encoding": "cp1252", "delimiter": ";"}
    assert written.extra["decimal_comma"] is True
    # the manifest sits in the Parquet footer, readable without factlab
    raw = pq.ParquetFile(out).metadata.metadata[schema.MANIFEST_KEY.encode()].decode()
    assert f'"key_fingerprint":"{round_key.fingerprint}"' in raw
    frame = pl.read_parquet(out)
    assert frame.equals(result.frame)
    assert frame["cost"].to_list() == [1234.56, 12.5, None, None, None]
    assert frame["start_date"].to_list()[:2] == [date(2013, 1, 1), date(2012, 12, 31)]
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".parquet"] == ["P01.parquet"]


def test_text_fields_are_categorical_and_files_concatenate(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    # Two providers with different values in the same fields, one of them a constant; the
    # steward's files hold them as dictionary-encoded (Categorical) columns, and frames read from
    # the two files can be put together as they are.
    one = write_export("one.csv", ["BSN;Gemeente;Zorgvorm", "999993653;Assen;ambulant"])
    two = write_export(
        "two.csv", ["BSN;Gemeente", "999991723;Emmen", "999993653; Assen ", "999993654;"]
    )
    mapping = parse_mapping({"version": 1, "constants": {"care_form": "verblijf"}})
    outs = [tmp_path / "P01.parquet", tmp_path / "P02.parquet"]
    pseudonymise_file(one, round_key, provider="P01", out=outs[0])
    pseudonymise_file(two, round_key, provider="P02", out=outs[1], mapping=mapping)
    frames = [pl.read_parquet(out) for out in outs]
    for frame in frames:
        for name in ("provider", "municipality", "care_form"):
            assert frame.schema[name] == schema.TEXT_DTYPE, name
    both = pl.concat(frames)
    assert both["provider"].to_list() == ["P01", "P02", "P02", "P02"]
    assert both["municipality"].to_list() == ["Assen", "Emmen", "Assen", None]
    assert both["care_form"].to_list() == ["ambulant", "verblijf", "verblijf", "verblijf"]
    # the same values as text, for whoever needs text
    assert both["municipality"].cast(pl.String).to_list() == ["Assen", "Emmen", "Assen", None]


def test_a_file_stores_only_its_own_text_values(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    # Categoricals share one set of categories in the process; a file's dictionary must still
    # hold only the values of its own rows, not those another export brought into the process.
    other = write_export("other.csv", ["BSN;Gemeente", "999993653;Elders"])
    mine = write_export("mine.csv", ["BSN;Gemeente", "999991723;Assen"])
    pseudonymise_file(other, round_key, provider="P01", out=tmp_path / "other.parquet")
    pseudonymise_file(mine, round_key, provider="P02", out=tmp_path / "mine.parquet")
    table = pq.read_table(tmp_path / "mine.parquet")
    for name in ("provider", "municipality"):
        stored = table.column(name).combine_chunks()
        assert stored.dictionary.to_pylist() == [{"provider": "P02", "municipality": "Assen"}[name]]


def test_comma_files_read_a_decimal_point(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    path = write_export("export.csv", ["BSN,Kosten", '999993653,"1,234.50"', "999991723,99.95"])
    result = pseudonymise_file(path, round_key, provider="P01", out=tmp_path / "o.parquet")
    assert result.frame["cost"].to_list() == [1234.5, 99.95]
    assert result.manifest is not None
    assert result.manifest.extra["decimal_comma"] is None  # each value's last separator decides
    # a mapping may say otherwise
    mapping = parse_mapping({"version": 1, "input": {"decimal_comma": True}})
    path = write_export("export2.csv", ["BSN,Kosten", '999993653,"1.234,50"'])
    result = pseudonymise_file(
        path, round_key, provider="P01", out=tmp_path / "o2.parquet", mapping=mapping
    )
    assert result.frame["cost"].to_list() == [1234.5]


def test_excel_and_parquet_files(round_key: Key, tmp_path: Path) -> None:
    export = pl.DataFrame(
        {
            "BSN": [999993653, 999991723],
            "Startdatum": [date(2013, 1, 1), date(2013, 2, 1)],
            "Productcategorie": [45, 43],
        }
    )
    export.write_excel(tmp_path / "e.xlsx")
    export.write_parquet(tmp_path / "e.parquet")
    results = []
    for name in ("e.xlsx", "e.parquet"):
        out = tmp_path / f"{name}.out.parquet"
        results.append(pseudonymise_file(tmp_path / name, round_key, provider="P1", out=out))
        assert read_manifest(out).input_format == name.split(".")[1]
    expected = [oracle_pseudonym(round_key, "999993653"), oracle_pseudonym(round_key, "999991723")]
    for result in results:
        assert result.frame["pseudonym"].to_list() == expected
        assert result.frame["start_date"].to_list() == [date(2013, 1, 1), date(2013, 2, 1)]
        assert result.frame["product_category"].to_list() == ["45", "43"]


def test_a_failed_run_leaves_no_file(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    path = write_export("export.csv", ["Nummer;Sekse;Datum aanvang", "999993653;J;01-01-2013"])
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="product_category"):
        pseudonymise_file(path, round_key, provider="P1", out=out, mapping=MAPPING)
    with pytest.raises(InputError, match="provider code"):
        pseudonymise_file(path, round_key, provider="P 1", out=out)
    with pytest.raises(InputError, match="the output folder does not exist"):
        pseudonymise_file(
            write_export("ok.csv", ["BSN", "999993653"]),
            round_key,
            provider="P1",
            out=tmp_path / "missing" / "out.parquet",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "ok.csv"]


def test_the_default_mapping_is_recorded(round_key: Key, write_export: WriteExport) -> None:
    path = write_export("export.csv", ["BSN", "999993653"])
    result = pseudonymise_file(path, round_key, provider="P1", out=path.with_suffix(".parquet"))
    assert result.manifest is not None
    assert result.manifest.extra["mapping"] == ColumnMapping().source


def test_in_memory_dutch_costs_are_read_by_their_last_separator(round_key: Key) -> None:
    export = pl.DataFrame(
        {"bsn": ["999993653"] * 4, "kosten": ["1.234,56", "1,234.56", "12,5", "99.95"]}
    )
    out = pseudonymise(export, round_key, provider="P01")
    assert out["cost"].to_list() == [1234.56, 1234.56, 12.5, 99.95]


def test_a_constant_and_a_column_for_the_same_field_is_refused(round_key: Key) -> None:
    export = pl.DataFrame({"bsn": ["999993653"], "financiering": ["ZVW"]})
    mapping = parse_mapping({"version": 1, "constants": {"financing": "PGB"}})
    with pytest.raises(InputError, match=r"constants\.financing is given, but the file has"):
        pseudonymise(export, round_key, provider="P01", mapping=mapping)


def test_decimal_bsn_column_is_read_as_its_digits(round_key: Key) -> None:
    export = pl.DataFrame({"bsn": pl.Series([999993653, 0], dtype=pl.Decimal(12, 2))})
    out = pseudonymise(export, round_key, provider="P01")
    assert out["bsn_status"].to_list() == ["valid", "sentinel"]


def test_a_birth_date_outside_the_plausible_years_is_reported(round_key: Key) -> None:
    export = pl.DataFrame(
        {"bsn": ["999993653", "999991723"], "geboortedatum": ["1850-01-01", "2012-05-05"]}
    )
    result = pseudonymise_with_quality(export, round_key, provider="P01")
    assert result.frame["birth_year"].to_list() == [None, 2012]
    assert result.quality.field_issues["birth_year"] == {"out_of_range": 1}
    assert result.quality.example_rows["birth_year"]["out_of_range"] == [1]


# --- reading a column on its distinct values gives what reading it row by row gives --------------

# Messy written forms of every field; drawn with replacement, so values repeat as in real exports.
CELLS: dict[str, list[str | None]] = {
    "BSN": ["999993653", "9999.93.653", " 999991723 ", "999993654", "000000000", "", None, "12x"],
    "Geboortedatum": ["01-02-2010", "2010-02-01", "31-02-2010", "20100201", " ", None, "x"],
    "Geboortejaar": ["2010", " 2011 ", "1850", "twee", "", None],
    "Geslacht": ["V", "vrouw", " m ", "onbekend", "?", "J", "", None],
    "Gemeente": ["Assen", " Assen", "ASSEN", "Emmen ", "", None],
    "Domein": ["JH", "jeugdhulp", "jeugdbescherming", None],
    "Productcategorie": ["45", "43", " 45", "99", "", None],
    "Startdatum": ["2013-01-01", "01-01-2013", "01/02/2013", "2013-01-01 08:00", "nooit", None],
    "Einddatum": ["2012-12-31", "2013-02-01", "", None, "31.12.2013"],
    "Kosten": ["12,50", "1.000", "1.234,56", "99.95", "€ 5", "n.v.t.", "-7", "1e3", "", None],
    "Postcode": ["9401 ab", "9401AB", "nope", None],
}
#: Values already in canonical form: read on distinct values, such a column is passed through.
CLEAN: dict[str, list[str | None]] = {
    "Geslacht": ["M", "V", "X", None],
    "Gemeente": ["Assen", "Emmen", None],
    "Domein": ["jeugdhulp", "jeugdbescherming"],
    "Productcategorie": ["45", "43", None],
    "Startdatum": ["2013-01-01", "2013-02-01", None],
    "Einddatum": ["2013-01-01", None],
}
DERIVING = parse_mapping(
    {
        "version": 1,
        "values": {"sex": {"J": "M"}, "domain": {"JH": "jeugdhulp"}},
        "derive": {"care_form": {"from": "product_category", "map": {"45": "ambulant"}}},
        "constants": {"financing": "ZIN"},
        "fallback": {"fields": ["birth_date", "sex", "postcode"]},
    }
)


def messy_export(rng: random.Random, rows: int, *, clean: bool = False) -> pl.DataFrame:
    pools = CELLS | CLEAN if clean else CELLS
    return pl.DataFrame(
        {name: [rng.choice(cells) for _ in range(rows)] for name, cells in pools.items()},
        schema=dict.fromkeys(pools, pl.String),
    )


def read_both_ways(
    export: pl.DataFrame, key: Key, mapping: ColumnMapping | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[Pseudonymised, Pseudonymised]:
    module = sys.modules["factlab.steward._distinct"]
    results = []
    for share in (1.0, -1.0):  # every text column on its distinct values; none
        monkeypatch.setattr(module, "MAX_DISTINCT_SHARE", share)
        results.append(
            pseudonymise_with_quality(
                export,
                key,
                provider="P01",
                mapping=mapping,
                decimal_comma=True,
                allow_no_valid_bsn=True,  # a few random rows may hold none
            )
        )
    return results[0], results[1]


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 40),
    deriving=st.booleans(),
    clean=st.booleans(),
)
def test_distinct_values_and_row_by_row_agree(
    round_key: Key, seed: int, rows: int, deriving: bool, clean: bool
) -> None:
    export = messy_export(random.Random(seed), rows, clean=clean)
    mapping = DERIVING if deriving else None
    with pytest.MonkeyPatch.context() as monkeypatch:
        distinct, row_by_row = read_both_ways(export, round_key, mapping, monkeypatch)
    assert distinct.frame.equals(row_by_row.frame)
    assert distinct.quality == row_by_row.quality
    # a LazyFrame is always read row by row
    lazy = pseudonymise_with_quality(
        export.lazy(),
        round_key,
        provider="P01",
        mapping=mapping,
        decimal_comma=True,
        allow_no_valid_bsn=True,
    )
    assert lazy.frame.equals(distinct.frame)
    assert lazy.quality == distinct.quality


def test_a_large_export_is_read_on_distinct_values(
    round_key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules["factlab.steward._distinct"]
    steward = sys.modules["factlab.steward.plan"]
    spread: list[set[str]] = []
    by_distinct = steward.by_distinct

    def spy(*args: object) -> object:
        result = by_distinct(*args)
        spread.append(result[2])
        return result

    monkeypatch.setattr(steward, "by_distinct", spy)
    export = messy_export(random.Random(7), 4000)
    result = pseudonymise_with_quality(export, round_key, provider="P01", mapping=DERIVING)
    # every text column but the BSN (which is never read this way) had few distinct values
    assert spread == [set(CELLS) - {"BSN"}]
    monkeypatch.setattr(module, "MAX_DISTINCT_SHARE", -1.0)
    row_by_row = pseudonymise_with_quality(export, round_key, provider="P01", mapping=DERIVING)
    assert result.frame.equals(row_by_row.frame)
    assert result.quality == row_by_row.quality
    assert result.quality.field_issues["sex"]["unreadable"] > 0  # the data is messy indeed


def test_distinct_pseudonym_counts_match_the_pseudonyms(test_bsns: tuple[str, ...]) -> None:
    rng = random.Random(11)
    clients = rng.sample(test_bsns, 300)
    cells = [rng.choice(clients) for _ in range(1000)] + ["", "000000000", "999993654"]
    key = new_round_key("counts")
    result = pseudonymise_with_quality(pl.DataFrame({"BSN": cells}), key, provider="P01")
    per_pseudonym = Counter(result.frame["pseudonym"].drop_nulls().to_list())
    assert result.quality.distinct_pseudonyms == len(per_pseudonym)
    shared = sum(count for count in per_pseudonym.values() if count > 1)
    assert result.quality.duplicate_pseudonym_rows == shared


# --- hostile and faulty input (issue 14) --------------------------------------------------------

FIVE_CLIENTS = [999903974, 999903986, 999903998, 999904012, 999904024]


def test_a_float32_bsn_column_is_refused_not_merged(round_key: Key, tmp_path: Path) -> None:
    # #1: as Float32 the five clients hold one value (near 10^9 only multiples of 64)
    export = pl.DataFrame({"BSN": pl.Series(FIVE_CLIENTS, dtype=pl.Float32)})
    assert export["BSN"].n_unique() < 5
    for frame in (export, export.lazy()):
        with pytest.raises(InputError, match=r"'BSN' is stored as Float32.*export the BSN"):
            pseudonymise(frame, round_key, provider="P01")
    path = tmp_path / "export.parquet"
    export.write_parquet(path)
    with pytest.raises(InputError, match="Float32") as caught:
        pseudonymise_file(path, round_key, provider="P01", out=tmp_path / "out.parquet")
    assert not re.search(r"[0-9]{6}", str(caught.value))
    assert not (tmp_path / "out.parquet").exists()
    # as Float64 (what Excel gives) each client keeps a pseudonym of its own
    exact = pl.DataFrame({"BSN": pl.Series(FIVE_CLIENTS, dtype=pl.Float64)})
    assert pseudonymise(exact, round_key, provider="P01")["pseudonym"].n_unique() == 5


def test_text_and_numbers_get_one_pseudonym(round_key: Key) -> None:
    # #27: how a cell was typed does not change its status or pseudonym
    as_text = pl.DataFrame(
        {"BSN": ["999993653.0", "9.99993653E8", "-999993653", "0", "99999365.0"]}
    )
    as_numbers = pl.DataFrame({"BSN": [999993653.0, 999993653.0, -999993653.0, 0.0, 99999365.0]})
    text_out = pseudonymise(as_text, round_key, provider="P01")
    number_out = pseudonymise(as_numbers, round_key, provider="P01")
    assert text_out["bsn_status"].to_list() == number_out["bsn_status"].to_list()
    assert text_out["bsn_status"].to_list() == [
        "valid",
        "valid",
        "non_digit",
        "sentinel",
        "valid",
    ]
    assert text_out["pseudonym"].to_list() == number_out["pseudonym"].to_list()
    assert text_out["pseudonym"][0] == oracle_pseudonym(round_key, "999993653")
    assert text_out["pseudonym"][4] == oracle_pseudonym(round_key, "099999365")


def test_one_source_column_for_two_fields_is_refused() -> None:
    # #4: [columns] bsn = "BSN" and municipality = "BSN" would publish every BSN
    with pytest.raises(ConfigError, match=r"columns: bsn and municipality both name the column"):
        parse_mapping({"version": 1, "columns": {"bsn": "BSN", "municipality": "BSN"}})
    made_in_python = ColumnMapping(columns={"bsn": "BSN", "municipality": "BSN"})
    export = pl.DataFrame({"BSN": ["999993653"]})
    with pytest.raises(InputError, match="'BSN' is mapped to bsn and municipality"):
        pseudonymise(export, new_round_key("t"), provider="P01", mapping=made_in_python)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("share", [1.0, -1.0])  # read on distinct values; row by row
def test_a_text_field_holding_bsns_is_refused(
    round_key: Key, test_bsns: tuple[str, ...], lazy: bool, share: float
) -> None:
    # #4: the BSN and municipality columns swapped in the mapping
    rng = random.Random(4)
    bsns = rng.sample(test_bsns, 30)
    export = pl.DataFrame(
        {
            "BSN": [*bsns[:20], "999.993.653", "9999 1723", *bsns[22:]],
            "Gemeente": ["Assen"] * 15 + ["Emmen"] * 15,
        }
    )
    swapped = parse_mapping({"version": 1, "columns": {"bsn": "Gemeente", "municipality": "BSN"}})
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(sys.modules["factlab.steward._distinct"], "MAX_DISTINCT_SHARE", share)
        frame = export.lazy() if lazy else export
        with pytest.raises(InputError) as caught:
            pseudonymise(
                frame, round_key, provider="P01", mapping=swapped, allow_no_valid_bsn=True
            ).lazy().collect()
    message = str(caught.value)
    assert "column municipality: 29 row(s) (first rows: 1, 2, 3, 4, 5)" in message
    assert "looks like a BSN" in message
    assert not any(bsn in message for bsn in bsns)
    assert not re.search(r"[0-9]{4} ?[0-9]{4}", message)


def test_bsns_refused_in_every_text_field_however_they_arrive(round_key: Key) -> None:
    export = pl.DataFrame(
        {
            "BSN": ["999993653", "999991723"],
            "Zorgvorm": ["ambulant", "9.99993653E8"],  # written as a float
            "Productcategorie": ["45", "45"],
            "Domein": ["jeugdhulp", "jeugdhulp"],
        }
    )
    with pytest.raises(InputError, match=r"column care_form: 1 row\(s\) \(first rows: 2\)"):
        pseudonymise_with_quality(export, round_key, provider="P01")
    # through a value map, a derivation or a constant of the mapping
    for document in (
        {"values": {"domain": {"jeugdhulp": "999995078"}}},
        {"derive": {"financing": {"from": "product_category", "map": {"45": "999 995 078"}}}},
        {"constants": {"financing": "999995078"}},
    ):
        mapping = parse_mapping({"version": 1, **document})
        clean = export.with_columns(pl.lit("ambulant").alias("Zorgvorm"))
        with pytest.raises(InputError, match=r": 2 row\(s\)"):
            pseudonymise_with_quality(clean, round_key, provider="P01", mapping=mapping)
    # codes and names that are no BSN pass: 8 digits failing the proef, sentinels, short codes
    fine = export.with_columns(pl.Series("Zorgvorm", ["12345678", "000000000"]))
    pseudonymise_with_quality(fine, round_key, provider="P01")


def test_an_export_without_a_valid_bsn_is_refused_unless_allowed(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    # issue 14 "also seen": an all-invalid export wrote a file with only the usual summary
    export = pl.DataFrame({"BSN": ["999993654", "", "12345", None], "Gemeente": ["Assen"] * 4})
    for frame in (export, export.lazy()):
        with pytest.raises(InputError, match=r"none of the 4 row\(s\) has a valid BSN in column"):
            pseudonymise(frame, round_key, provider="P01").lazy().collect()
    out = pseudonymise(export, round_key, provider="P01", allow_no_valid_bsn=True)
    assert out["bsn_status"].to_list() == ["checksum", "missing", "bad_length", "missing"]
    path = write_export("e.csv", ["BSN;Gemeente", "999993654;Assen", ";Emmen"])
    target = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="allow_no_valid_bsn"):
        pseudonymise_file(path, round_key, provider="P01", out=target)
    assert not target.exists()
    result = pseudonymise_file(path, round_key, provider="P01", out=target, allow_no_valid_bsn=True)
    assert result.quality.rows_by_status["valid"] == 0
    assert target.exists()
    # an export without rows has nothing to refuse
    empty = pl.DataFrame({"BSN": pl.Series([], dtype=pl.String)})
    assert pseudonymise(empty, round_key, provider="P01").height == 0


def test_the_sealed_header_holds_no_digest_of_the_export(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    # #5: the clear header showed the export's SHA-256; a one-row export was found back by
    # hashing candidate exports, one per BSN
    from factlab.keys.recipients import new_recipient
    from factlab.keys.seal import read_sealed_header, seal

    path = write_export("export.csv", ["BSN;Gemeente", "999993653;Assen"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    out = tmp_path / "P01.parquet"
    result = pseudonymise_file(path, round_key.provider_key(), provider="P01", out=out)
    _, public = new_recipient("ttp")
    sealed = tmp_path / "P01.sealed"
    seal(out, public, sealed)
    header = read_sealed_header(sealed)
    assert "input_sha256" not in header.manifest.to_json()
    for blob in (sealed.read_bytes(), out.read_bytes()):
        assert digest.encode() not in blob
        assert bytes.fromhex(digest) not in blob
    assert result.input_sha256 == digest  # for the steward's audit log


@pytest.mark.parametrize("provider", ["P01\n", "P01\r\n", "\nP01", "P01 ", "P\u00f801", ""])
def test_a_provider_code_with_a_trailing_newline_is_refused(round_key: Key, provider: str) -> None:
    # #14: "$" in re.match accepted "P01\n", a second provider beside "P01"
    export = pl.DataFrame({"BSN": ["999993653"]})
    with pytest.raises(InputError, match="provider code must be"):
        pseudonymise(export, round_key, provider=provider)


def test_the_export_is_never_replaced_by_its_pseudonymised_rows(tmp_path: Path) -> None:
    # issue 14.25: `pseudonymise --out` equal to its input replaced the raw export
    export = tmp_path / "export.parquet"
    pl.DataFrame({"BSN": ["999993653", "999991723"], "Gemeente": ["Assen", "Emmen"]}).write_parquet(
        export
    )
    raw = export.read_bytes()
    with pytest.raises(InputError, match="is also an input"):
        pseudonymise_file(export, new_round_key("t").provider_key(), provider="P01", out=export)
    assert export.read_bytes() == raw


def test_the_preview_is_the_file_that_would_be_written(
    round_key: Key, write_export: WriteExport, tmp_path: Path
) -> None:
    lines = ["BSN;Zorgvorm;Startdatum"]
    lines += [
        f"{bsn};ambulant;01-0{1 + i % 9}-2025"
        for i, bsn in enumerate(("999993653", "999991723") * 5)
    ]
    path = write_export("export.csv", lines)
    shown = preview_file(path, round_key, provider="P01", rows=4)
    out = tmp_path / "P01.parquet"
    written = pseudonymise_file(path, round_key, provider="P01", out=out)
    assert shown.rows.equals(pl.read_parquet(out).head(4))
    assert shown.quality == written.quality
    assert shown.problems == ()
    assert shown.read_as["delimiter"] == ";"
    # what the contract refuses is told, not raised, and nothing is written
    contract = parse_contract({"version": 1, "required": ["bsn", "municipality", "financing"]})
    out.unlink()
    refused = preview_file(path, round_key, provider="P01", contract=contract)
    assert refused.would_be_refused
    (problem,) = refused.problems
    assert "the round requires municipality, financing" in problem
    assert refused.rows.height == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]
