"""The round's contract: parsing (every problem at once), accepted values, the binding to the
provider key file, and the library's refusals and warnings against it."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from factlab.errors import ConfigError, InputError, KeyFileError
from factlab.keys.round_keys import (
    Key,
    check_value,
    contract_digest,
    key_file_contract,
    load_key,
    read_key_header,
    write_key,
)
from factlab.manifest import read_manifest
from factlab.steward.contract import load_contract, parse_contract
from factlab.steward.mapping import parse_mapping
from factlab.steward.pseudonymise import pseudonymise_file, pseudonymise_with_quality
from factlab.steward.quality import ContractRefused

BSNS = ("999993653", "999991723", "999995078", "999994451")

CONTRACT = {
    "version": 1,
    "round": "test-2026",
    "required": ["bsn", "care_form", "financing", "start_date", "end_date"],
    "max_unusable_share_by_field": {"end_date": 0.2},
    "values": {
        "care_form": ["ambulant", "dagbehandeling", "verblijf", "JB/JR"],
        "financing": ["ZIN", "PGB"],
        "product_category": ["40-55", "45A*"],
    },
}


def export(rows: int = 40, **columns: list[str | None]) -> pl.DataFrame:
    """A frame of ``rows`` rows with valid BSNs and good values, some columns replaced."""
    good: dict[str, list[str | None]] = {
        "BSN": [BSNS[i % len(BSNS)] for i in range(rows)],
        "Zorgvorm": ["ambulant"] * rows,
        "Financiering": ["ZIN"] * rows,
        "Startdatum": ["2025-01-01"] * rows,
        "Einddatum": [None] * rows,
    }
    good.update(columns)
    return pl.DataFrame(good)


def with_bad(rows: int, bad: int, good: str, wrong: str) -> list[str | None]:
    return [wrong if i < bad else good for i in range(rows)]


# --- parsing --------------------------------------------------------------------------------


def test_a_contract_reads_back_from_its_document() -> None:
    contract = parse_contract(CONTRACT)
    assert contract.required == ("bsn", "care_form", "financing", "start_date", "end_date")
    assert contract.limit("end_date") == 0.2
    assert contract.limit("care_form") == 0.05  # the default
    again = parse_contract(json.loads(json.dumps(contract.to_document())))
    assert again == contract
    assert again.sha256 == contract.sha256 == contract_digest(contract.to_document())


def test_every_problem_of_a_contract_is_listed_at_once() -> None:
    document = {
        "version": 2,
        "requried": [],
        "required": ["bsn", "caer_form", "bsn"],
        "max_unusable_share": 5,
        "max_unusable_share_by_field": {"cost": 0.1},
        "values": {"sex": ["M"], "care_form": ["ambulant", "ambulant", " verblijf", 45], "x": []},
    }
    with pytest.raises(ConfigError) as raised:
        parse_contract(document, source="contract.toml")
    problems = raised.value.problems
    assert "requried: unknown key" in problems
    assert any(p.startswith("version: unsupported") for p in problems)
    assert any(p.startswith("required[1]: unknown field 'caer_form'") for p in problems)
    assert "required[2]: bsn is named twice" in problems
    assert any(p.startswith("max_unusable_share: must be a share") for p in problems)
    assert any(p.startswith("max_unusable_share_by_field.cost: not a required") for p in problems)
    assert any(p.startswith("values.sex: values are listed for") for p in problems)
    assert "values.care_form[1]: given twice" in problems
    assert "values.care_form[2]: remove the spaces around the value" in problems
    assert any(p.startswith("values.care_form[3]: must be a text") for p in problems)
    assert any(p.startswith("values.x:") for p in problems)
    assert len(problems) == 11


def test_overlapping_ranges_are_refused_as_in_a_value_map() -> None:
    with pytest.raises(ConfigError, match="overlaps the range 40-55"):
        parse_contract({"version": 1, "values": {"product_category": ["40-55", "50-60"]}})


def test_a_contract_file(tmp_path: Path) -> None:
    path = tmp_path / "contract.toml"
    path.write_text(
        'version = 1\nrequired = ["bsn", "start_date"]\nmax_unusable_share = 0.1\n',
        encoding="utf-8",
    )
    contract = load_contract(path)
    assert contract.required == ("bsn", "start_date")
    assert contract.limit("start_date") == 0.1
    path.write_text("version = 1\nrequired = \n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_contract(path)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("45", True),
        ("040", True),  # a range reads whole numbers
        ("55", True),
        ("56", False),
        ("45A01", True),  # the prefix
        ("45B01", False),
        ("ambulant", False),
        (None, None),
    ],
)
def test_accepted_values_take_exact_codes_prefixes_and_ranges(
    value: str | None, accepted: bool | None
) -> None:
    contract = parse_contract(CONTRACT)
    expr = contract.accepted("product_category", pl.col("v"))
    assert expr is not None
    frame = pl.DataFrame({"v": [value]}, schema={"v": pl.String})
    result = frame.select(expr).item()
    assert (result or False) == bool(accepted)
    if value is not None:
        assert contract.accepts("product_category", value) == accepted
    assert contract.accepted("municipality", pl.col("v")) is None  # no list: every value


# --- the key file ---------------------------------------------------------------------------


def test_the_contract_is_embedded_and_bound_to_the_provider_key(
    round_key: Key, tmp_path: Path
) -> None:
    path = tmp_path / "provider.key"
    contract = parse_contract(CONTRACT)
    write_key(round_key.provider_key(), path, contract=contract.to_document())
    header = read_key_header(path)
    assert header["contract"] == contract.to_document()
    assert header["check"] == check_value(round_key.provider_key(), contract.to_document())
    assert header["check"] != check_value(round_key.provider_key())
    key = load_key(path)
    assert parse_contract(key_file_contract(path, key) or {}) == contract

    # an edited contract (a wider share, a value added) makes the key file refuse to load
    document = json.loads(path.read_text(encoding="utf-8"))
    document["contract"]["max_unusable_share"] = 0.5
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(KeyFileError, match=r"key file altered: .*contract does not match"):
        load_key(path)
    with pytest.raises(KeyFileError, match="key file altered"):
        key_file_contract(path, key)
    # and so does a contract taken out (the check value was made with it)
    del document["contract"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(KeyFileError, match="key file altered"):
        load_key(path)


def test_a_protected_key_file_binds_its_contract_too(
    round_key: Key, tmp_path: Path, fast_argon2: None
) -> None:
    path = tmp_path / "provider.key"
    contract = parse_contract(CONTRACT).to_document()
    write_key(round_key.provider_key(), path, passphrase="correct horse", contract=contract)
    assert key_file_contract(path, load_key(path, passphrase="correct horse")) == contract
    document = json.loads(path.read_text(encoding="utf-8"))
    document["contract"]["required"] = ["bsn"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(KeyFileError):
        load_key(path, passphrase="correct horse")


def test_a_contract_goes_with_a_provider_key_only(round_key: Key, tmp_path: Path) -> None:
    for key in (round_key, round_key.link_key()):
        with pytest.raises(KeyFileError, match="provider key only"):
            write_key(key, tmp_path / f"{key.kind}.key", contract={"version": 1})
    assert list(tmp_path.iterdir()) == []


def test_a_key_file_without_a_contract_has_none(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "provider.key"
    write_key(round_key.provider_key(), path)
    assert read_key_header(path)["contract"] is None
    assert key_file_contract(path, load_key(path)) is None


def test_a_contract_without_a_check_value_is_damaged(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "provider.key"
    write_key(round_key.provider_key(), path, contract={"version": 1})
    document = json.loads(path.read_text(encoding="utf-8"))
    del document["check"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(KeyFileError, match="a contract without a check value"):
        load_key(path)


# --- the library: refusals, warnings, and no contract ---------------------------------------


def test_a_required_field_without_a_column_is_refused_before_any_row(round_key: Key) -> None:
    contract = parse_contract(CONTRACT)
    frame = export().drop("Zorgvorm", "Financiering").with_columns(Code=pl.lit("45"))
    with pytest.raises(ContractRefused) as raised:
        pseudonymise_with_quality(frame, round_key, provider="P01", contract=contract)
    message = str(raised.value)
    assert "the round requires care_form, financing, which no column of the file feeds" in message
    assert "columns not used: Code" in message
    assert raised.value.quality is None
    assert [use.column for use in raised.value.columns if not use.fields] == ["Code"]
    assert isinstance(raised.value, InputError)


def test_a_constant_or_a_derivation_feeds_a_required_field(round_key: Key) -> None:
    contract = parse_contract(CONTRACT)
    mapping = parse_mapping(
        {
            "version": 1,
            "columns": {"product_category": "Code"},
            "derive": {"care_form": {"from": "product_category", "map": {"4*": "ambulant"}}},
            "constants": {"financing": "PGB"},
        }
    )
    frame = export().drop("Zorgvorm", "Financiering").with_columns(Code=pl.lit("45"))
    result = pseudonymise_with_quality(
        frame, round_key, provider="P01", mapping=mapping, contract=contract
    )
    assert result.quality.contract is not None
    assert result.quality.contract.refused == ()
    assert result.frame["care_form"].to_list() == ["ambulant"] * 40


def test_a_constant_the_round_does_not_accept_is_refused(round_key: Key) -> None:
    mapping = parse_mapping({"version": 1, "constants": {"financing": "Zin"}})
    frame = export().drop("Financiering")
    with pytest.raises(
        ContractRefused, match=r"constants\.financing of the mapping is not a value"
    ):
        pseudonymise_with_quality(
            frame, round_key, provider="P01", mapping=mapping, contract=parse_contract(CONTRACT)
        )


@pytest.mark.parametrize(
    ("column", "good", "wrong", "reason"),
    [
        ("Startdatum", "2025-01-01", "01/13/2025", "unreadable"),
        ("Startdatum", "2025-01-01", None, "empty"),
        ("Zorgvorm", "ambulant", "Ambulant", "not_accepted"),
        ("Financiering", "ZIN", "", "empty"),
        ("BSN", BSNS[0], "999993654", "checksum"),
    ],
)
def test_more_than_the_share_is_refused_and_up_to_it_warned(
    round_key: Key, column: str, good: str, wrong: str | None, reason: str
) -> None:
    contract = parse_contract(CONTRACT)
    field = {
        "Startdatum": "start_date",
        "Zorgvorm": "care_form",
        "Financiering": "financing",
        "BSN": "bsn",
    }[column]
    # 2 of 40 rows is 5 %: allowed, and told
    within = export(**{column: with_bad(40, 2, good, wrong)})  # type: ignore[arg-type]
    result = pseudonymise_with_quality(within, round_key, provider="P01", contract=contract)
    check = result.quality.contract
    assert check is not None
    assert check.refused == ()
    (warned,) = check.warnings
    assert (warned.field, warned.rows, warned.share) == (field, 2, 0.05)
    assert warned.reasons == {reason: 2}
    assert warned.first_rows == [1, 2]
    # 3 of 40 rows is 7.5 %: refused, nothing returned
    over = export(**{column: with_bad(40, 3, good, wrong)})  # type: ignore[arg-type]
    with pytest.raises(ContractRefused) as raised:
        pseudonymise_with_quality(over, round_key, provider="P01", contract=contract)
    message = str(raised.value)
    assert f"{field}: 3 row(s) (7.5 %) cannot be used" in message
    assert "the round allows 5.0 %" in message
    assert "nothing was written" in message
    refused = raised.value.quality
    assert refused is not None
    assert refused.contract is not None
    assert [entry.field for entry in refused.contract.refused] == [field]
    for value in (wrong or "", *BSNS):  # no value in the message, only counts and rows
        if value and value not in ("ZIN", "ambulant"):
            assert value not in message


def test_an_empty_end_date_is_ongoing_care_not_a_gap(round_key: Key) -> None:
    result = pseudonymise_with_quality(
        export(), round_key, provider="P01", contract=parse_contract(CONTRACT)
    )
    assert result.quality.contract is not None
    end = {entry.field: entry for entry in result.quality.contract.fields}["end_date"]
    assert end.rows == 0


def test_allow_no_valid_bsn_waives_the_bsn_share(round_key: Key) -> None:
    frame = export(BSN=[None] * 40)
    contract = parse_contract(CONTRACT)
    with pytest.raises(InputError, match="none of the 40 row"):
        pseudonymise_with_quality(frame, round_key, provider="P01", contract=contract)
    result = pseudonymise_with_quality(
        frame, round_key, provider="P01", contract=contract, allow_no_valid_bsn=True
    )
    assert result.quality.contract is not None
    bsn = result.quality.contract.fields[0]
    assert (bsn.field, bsn.rows, bsn.waived, bsn.over_limit) == ("bsn", 40, True, False)


def test_without_a_contract_nothing_is_refused(round_key: Key) -> None:
    frame = export(Startdatum=["31/31/2025"] * 40).drop("Zorgvorm")
    result = pseudonymise_with_quality(frame, round_key, provider="P01")
    assert result.quality.contract is None
    assert result.quality.field_issues == {"start_date": {"unreadable": 40}}


def test_the_manifest_records_the_contract_and_its_check(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    export(Startdatum=with_bad(40, 1, "2025-01-01", "x")).write_csv(path)
    contract = parse_contract(CONTRACT)
    out = tmp_path / "P01.parquet"
    pseudonymise_file(path, round_key, provider="P01", out=out, contract=contract)
    manifest = read_manifest(out)
    assert manifest.contract is not None
    assert manifest.contract["sha256"] == contract.sha256
    assert manifest.contract["document"] == contract.to_document()
    start = manifest.contract["check"]["start_date"]
    assert (start["rows"], start["share"], start["limit"]) == (1, 0.025, 0.05)
    assert start["reasons"] == {"unreadable": 1}
    # without a contract the field is null, as in files written before contracts
    plain = tmp_path / "plain.parquet"
    pseudonymise_file(path, round_key, provider="P01", out=plain)
    assert read_manifest(plain).contract is None


def test_a_refused_file_is_not_written(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    export(Zorgvorm=["Ambulant"] * 40).write_csv(path)
    out = tmp_path / "P01.parquet"
    with pytest.raises(ContractRefused):
        pseudonymise_file(
            path, round_key, provider="P01", out=out, contract=parse_contract(CONTRACT)
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]


def test_a_contract_must_be_a_contract(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    export().write_csv(path)
    with pytest.raises(TypeError, match="contract must be a Contract"):
        pseudonymise_file(
            path,
            round_key,
            provider="P01",
            out=tmp_path / "x.parquet",
            contract=CONTRACT,  # type: ignore[arg-type]
        )


def test_contract_summary_names_what_the_round_asks() -> None:
    lines = parse_contract(CONTRACT).summary_lines()
    assert lines[0].startswith("round contract ")
    assert "  required fields: bsn, care_form, financing, start_date, end_date" in lines
    assert "  unusable rows allowed per required field: 5.0 %, end_date 20.0 %" in lines
    assert "  accepted values: product_category: 40-55, 45A*" in lines
