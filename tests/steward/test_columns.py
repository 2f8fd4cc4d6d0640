"""Nothing is dropped silently: every source column and what became of it, and the code values
that were not mapped (with what may never be shown), on hand-made and messy synthetic exports."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from factlab import schema
from factlab.keys.round_keys import Key
from factlab.manifest import read_manifest
from factlab.steward.columns import (
    MAX_VALUES,
    ColumnUse,
    UnmappedValues,
    column_lines,
    shown_text,
    unmapped_lines,
)
from factlab.steward.contract import parse_contract
from factlab.steward.mapping import parse_mapping
from factlab.steward.pseudonymise import pseudonymise_file, pseudonymise_with_quality
from factlab.steward.quality import ContractRefused
from factlab.synth import draw
from factlab.synth.config import Messiness, SynthConfig
from factlab.synth.write import COLUMN_NAMES, SynthResult

BSN = "999993653"
BSNS = ("999993653", "999991723", "999995078", "999994451")


def clients(rows: int) -> list[str]:
    """A BSN per row, four clients taking turns."""
    return [BSNS[index % len(BSNS)] for index in range(rows)]


def test_every_column_is_named_with_what_became_of_it(round_key: Key) -> None:
    # the export of the issue: its own names, a product code, a client number
    export = pl.DataFrame(
        {
            "Cliëntnummer": ["K1", "K2"],
            "Burgerservicenummer": [BSN, BSN],
            "Geb.datum": ["01-02-2010", "01-02-2010"],
            "Woonplaats gemeente": ["Assen", "Emmen"],
            "Productcode": ["45", "43"],
            "Ingangsdatum": ["01-01-2025", "01-02-2025"],
            "Postcode": ["9401AB", "9401AB"],
        }
    )
    mapping = parse_mapping(
        {
            "version": 1,
            "columns": {"municipality": "Woonplaats gemeente", "product_category": "Productcode"},
            "derive": {"care_form": {"from": "product_category", "map": {"4*": "ambulant"}}},
            "constants": {"financing": "ZIN"},
        }
    )
    result = pseudonymise_with_quality(export, round_key, provider="P01", mapping=mapping)
    report = {use.column: use for use in result.quality.columns if use.column is not None}
    assert list(report) == list(export.columns)  # every column, in the file's order
    assert report["Burgerservicenummer"].fields == ("bsn",)
    assert report["Geb.datum"].fields == ("birth_year",)
    assert report["Productcode"].fields == ("care_form", "product_category")
    assert report["Cliëntnummer"].fields == ()
    assert report["Postcode"].fields == ()  # read only for the fallback pseudonym
    (constant,) = [use for use in result.quality.columns if use.column is None]
    assert (constant.fields, constant.constant) == (("financing",), "ZIN")
    lines = column_lines(result.quality.columns)
    assert "  bsn <- Burgerservicenummer" in lines
    assert "  birth_year <- Geb.datum (a birth date: only its year is kept)" in lines
    assert '  financing = "ZIN" (a constant of the mapping)' in lines
    assert lines[-1].startswith("  dropped: Cliëntnummer, Postcode (a postcode")
    # with the fallback pseudonym the postcode (and the birth date) feed it
    with_fallback = pseudonymise_with_quality(
        export, round_key, provider="P01", mapping=mapping, fallback=("birth_date", "postcode")
    )
    fed = {use.column: use.fields for use in with_fallback.quality.columns}
    assert fed["Postcode"] == (schema.FALLBACK_PSEUDONYM,)
    assert fed["Geb.datum"] == ("birth_year", schema.FALLBACK_PSEUDONYM)


def test_a_column_name_like_a_value_is_not_shown(round_key: Key) -> None:
    # a file without its header line: the first client's values are the column names
    export = pl.DataFrame({"BSN": [BSN], "999991723": ["x"], "01-02-2010": ["y"], "Zoë": ["z"]})
    result = pseudonymise_with_quality(export, round_key, provider="P01")
    names = [use.column for use in result.quality.columns]
    assert names == [
        "BSN",
        "(column 2: its name is like a number)",
        "(column 3: its name is like a number)",
        "Zoë",
    ]


def unmapped_of(round_key: Key, values: list[str]) -> UnmappedValues:
    mapping = parse_mapping({"version": 1, "values": {"municipality": {"GM0106": "Assen"}}})
    export = pl.DataFrame({"BSN": clients(len(values)), "Gemeente": values})
    result = pseudonymise_with_quality(export, round_key, provider="P01", mapping=mapping)
    return result.quality.unmapped_values["municipality"]


def test_values_not_mapped_are_listed_with_their_rows(round_key: Key) -> None:
    values = ["GM0106"] * 5 + ["Asen"] * 3 + ["Emen"] * 2 + ["Assen"]
    entry = unmapped_of(round_key, values)
    assert entry.source == "Gemeente"
    assert entry.rows == 5
    # most rows first; "Assen" is the map's own value, so it is mapped
    assert entry.values == (("Asen", 3), ("Emen", 2))
    assert (entry.more_values, entry.hidden_values) == (0, 0)


def test_at_most_twenty_values_then_and_n_more(round_key: Key) -> None:
    values = [f"Plaats{chr(65 + i)}" for i in range(26) for _ in range(2 + i)]
    entry = unmapped_of(round_key, values)
    assert len(entry.values) == MAX_VALUES
    assert entry.values[0] == ("PlaatsZ", 27)
    assert entry.more_values == 6
    assert entry.more_rows == sum(2 + i for i in range(6))
    line = unmapped_lines({"municipality": entry})[1]
    assert "and 6 more (27 row(s))" in line


def test_what_could_identify_a_client_is_counted_never_shown(round_key: Key) -> None:
    values = [
        *["999993654"] * 2,  # nine digits (failing the elfproef), of two clients
        *["01-02-2010"] * 2,  # a date
        *["9401 AB"] * 2,  # a postcode
        "Zoë Testpersoon",  # a name on one row
        *["Asen"] * 2,  # a misspelling recurs among clients: shown
        "50",  # a code of one client: shown
        "x" * 60,  # long: cut
        "x" * 60,
    ]
    entry = unmapped_of(round_key, values)
    shown = dict(entry.values)
    assert shown == {"Asen": 2, "x" * 39 + "…": 2, "50": 1}
    assert (entry.hidden_values, entry.hidden_rows) == (4, 7)
    assert entry.hidden_first_rows == (1, 2, 3, 4, 5)
    text = "\n".join(unmapped_lines({"municipality": entry}))
    for secret in ("999", "01-02", "9401", "Zoë"):
        assert secret not in text


def test_a_value_of_one_client_is_not_shown_however_many_rows(round_key: Key) -> None:
    # a wrong column in a code field: each client's name on each of their registrations
    names = ["Zoë Testpersoon", "Daan Testpersoon", "Zoë Testpersoon", "Daan Testpersoon"]
    mapping = parse_mapping({"version": 1, "values": {"municipality": {"GM0106": "Assen"}}})
    export = pl.DataFrame({"BSN": [BSNS[0], BSNS[1], BSNS[0], BSNS[1]], "Gemeente": names})
    result = pseudonymise_with_quality(export, round_key, provider="P01", mapping=mapping)
    entry = result.quality.unmapped_values["municipality"]
    assert (entry.values, entry.hidden_values, entry.hidden_rows) == ((), 2, 4)
    # the same text at two clients is a shared value (a misspelt municipality), and shown
    shared = export.with_columns(BSN=pl.Series(clients(4)))
    result = pseudonymise_with_quality(shared, round_key, provider="P01", mapping=mapping)
    assert result.quality.unmapped_values["municipality"].values == (
        ("Daan Testpersoon", 2),
        ("Zoë Testpersoon", 2),
    )


def test_sex_codes_and_derivations_name_their_source_values(round_key: Key) -> None:
    export = pl.DataFrame(
        {
            "BSN": clients(6),
            "Geslacht": ["M", "?", "?", "V", "V", "V"],
            "Productcategorie": ["45", "45", "50", "50", "99", "99"],
        }
    )
    mapping = parse_mapping(
        {
            "version": 1,
            "derive": {"care_form": {"from": "product_category", "map": {"45": "ambulant"}}},
        }
    )
    result = pseudonymise_with_quality(export, round_key, provider="P01", mapping=mapping)
    unmapped = result.quality.unmapped_values
    assert unmapped["sex"].values == (("?", 2),)
    assert unmapped["care_form"].source == "Productcategorie"
    assert unmapped["care_form"].values == (("50", 2), ("99", 2))
    assert "product_category" not in unmapped  # kept as written, and no map or contract for it


def test_values_the_contract_does_not_accept_are_listed(round_key: Key) -> None:
    contract = parse_contract(
        {"version": 1, "values": {"care_form": ["ambulant", "verblijf"]}, "required": ["bsn"]}
    )
    export = pl.DataFrame(
        {"BSN": clients(4), "Zorgvorm": ["ambulant", "Ambulant", "Ambulant", "x"]}
    )
    result = pseudonymise_with_quality(export, round_key, provider="P01", contract=contract)
    entry = result.quality.unmapped_values["care_form"]
    assert entry.values == (("Ambulant", 2),)
    assert entry.hidden_values == 1  # "x": a word of one client
    assert result.quality.field_issues["care_form"] == {"not_accepted": 3}
    # a field that is not required is listed, not refused
    assert result.quality.contract is not None
    assert result.quality.contract.refused == ()


def test_entries_read_back_from_the_manifest(round_key: Key, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    pl.DataFrame({"BSN": clients(3), "Zorgvorm": ["ambu"] * 3, "Naam": ["a", "b", "c"]}).write_csv(
        path
    )
    mapping = parse_mapping({"version": 1, "values": {"care_form": {"amb": "ambulant"}}})
    out = tmp_path / "P01.parquet"
    done = pseudonymise_file(path, round_key, provider="P01", out=out, mapping=mapping)
    manifest = read_manifest(out)
    assert [ColumnUse.from_dict(entry) for entry in manifest.columns] == list(done.quality.columns)
    assert manifest.columns[2] == {"column": "Naam", "fields": []}
    assert {
        name: UnmappedValues.from_dict(entry) for name, entry in manifest.unmapped_values.items()
    } == dict(done.quality.unmapped_values)
    assert manifest.unmapped_values["care_form"]["values"] == [["ambu", 3]]


def test_shown_text_makes_control_characters_visible() -> None:
    assert shown_text("As\u202esen") == "As\ufffdsen"
    assert shown_text("Assen\n") == "Assen "


# --- the messy synthetic exports ------------------------------------------------------------


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    config = SynthConfig(providers=8, clients=600, messiness=Messiness.realistic())
    return draw.synthesise(tmp_path_factory.mktemp("messy"), config, seed=5)


def test_the_column_report_of_every_messy_export(
    messy: SynthResult, round_key: Key, tmp_path: Path
) -> None:
    forms = set()
    for export in messy.exports:
        forms.add(export.form.file_format)
        out = tmp_path / f"{export.provider}.parquet"
        done = pseudonymise_file(
            export.path, round_key, provider=export.provider, out=out, allow_no_valid_bsn=True
        )
        written = set(pl.read_parquet_schema(out))
        report = done.quality.columns
        names = COLUMN_NAMES[export.form.names]
        # every column of the export is there once, and what it fed is what the file holds
        sources = [use.column for use in report]
        assert len(sources) == len(set(sources))
        fed = {field for use in report for field in use.fields}
        assert fed - {"bsn"} == written - {"pseudonym", "bsn_status", "provider"}
        for use in report:
            assert use.fields, f"{export.path.name}: {use.column} dropped"
            (field,) = set(use.fields)
            source_field = "birth_date" if field == "birth_year" else field
            assert use.column in (names[field], names.get(source_field))
        # the synthetic codes are canonical: nothing to list, and nothing like a BSN anywhere
        assert done.quality.unmapped_values == {}
        assert read_manifest(out).columns == [use.to_dict() for use in report]
    assert forms == {"csv", "xlsx", "parquet"}


def test_a_contract_on_the_messy_exports(
    messy: SynthResult, round_key: Key, tmp_path: Path
) -> None:
    contract = parse_contract(
        {
            "version": 1,
            "required": ["bsn", "municipality", "care_form", "financing", "start_date"],
            "values": {
                "care_form": ["ambulant", "dagbehandeling", "verblijf"],  # no JB/JR here
                "financing": ["ZIN", "PGB"],
                "product_category": ["40-55"],
            },
        }
    )
    refused: list[str] = []
    written: list[str] = []
    for export in messy.exports:
        out = tmp_path / f"{export.provider}.parquet"
        done = None
        message = ""
        try:
            done = pseudonymise_file(
                export.path,
                round_key,
                provider=export.provider,
                out=out,
                contract=contract,
                allow_no_valid_bsn=True,
            )
        except ContractRefused as exc:  # the refusal is what is tested
            message = str(exc)
        if done is None:
            assert "care_form:" in message
            assert "cannot be used" in message
            assert not out.exists()
            refused.append(export.provider)
            continue
        written.append(export.provider)
        check = done.quality.contract
        assert check is not None
        assert check.refused == ()
        care = done.quality.unmapped_values.get("care_form")
        if care is not None:  # a provider with a little JB/JR: listed and counted
            assert dict(care.values) == {"JB/JR": care.rows}
    # the justice provider (JB/JR only) is refused; the others deliver
    assert refused
    assert written
