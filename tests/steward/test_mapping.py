"""Column mappings: validation, all problems at once; resolving columns."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Sequence
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab.errors import ConfigError, InputError
from factlab.keys.round_keys import Key
from factlab.steward import mapping as mapping_module
from factlab.steward.fields import apply_value_map
from factlab.steward.mapping import (
    ColumnMapping,
    closest_columns,
    load_mapping,
    parse_mapping,
    resolve_columns,
)
from factlab.steward.pseudonymise import pseudonymise_with_quality
from factlab.steward.value_maps import ValueMap

ROOT = Path(__file__).resolve().parents[2]

FULL = """
version = 1

[input]
delimiter = ";"
encoding = "CP1252"
decimal_comma = true
sheet = "Cliënten"

[columns]
bsn = "BSN cliënt"
start_date = "Datum aanvang"

[date_formats]
start_date = "%d-%m-%Y"

[values.sex]
J = "jongen"
M = "meisje"

[derive.care_form]
from = "product_category"
map = { "45" = "ambulant", "43" = "verblijf" }

[constants]
financing = "ZIN"

[fallback]
fields = ["birth_date", "sex", "postcode"]
"""


def problems_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_mapping(document, source="m.toml")
    assert error.value.source == "m.toml"
    assert str(error.value).startswith(f"m.toml: {len(error.value.problems)} problem(s): ")
    return error.value.problems


# --- validation ----------------------------------------------------------------------------------


def test_a_full_mapping_is_read() -> None:
    mapping = parse_mapping(tomllib.loads(FULL), source="m.toml")
    assert dict(mapping.columns) == {"bsn": "BSN cliënt", "start_date": "Datum aanvang"}
    assert dict(mapping.date_formats) == {"start_date": "%d-%m-%Y"}
    assert dict(mapping.values["sex"]) == {"J": "jongen", "M": "meisje"}  # as written
    assert mapping.derive["care_form"].source == "product_category"
    assert dict(mapping.derive["care_form"].values) == {"45": "ambulant", "43": "verblijf"}
    assert dict(mapping.constants) == {"financing": "ZIN"}
    assert (mapping.delimiter, mapping.encoding, mapping.decimal_comma, mapping.sheet) == (
        ";",
        "cp1252",
        True,
        "Cliënten",
    )
    assert mapping.fallback_fields == ("birth_date", "sex", "postcode")
    assert mapping.source == "m.toml"


def test_the_smallest_mapping_is_the_default() -> None:
    mapping = parse_mapping({"version": 1})
    assert mapping == ColumnMapping(source="mapping")
    assert mapping.fallback_fields is None
    assert mapping.delimiter is None


def test_a_mapping_is_immutable_and_its_document_untouched() -> None:
    document = tomllib.loads(FULL)
    before = copy.deepcopy(document)
    mapping = parse_mapping(document)
    assert document == before
    with pytest.raises(FrozenInstanceError):
        mapping.delimiter = ","  # type: ignore[misc]
    with pytest.raises(TypeError):
        mapping.columns["bsn"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        mapping.values["sex"]["J"] = "x"  # type: ignore[index]
    document["columns"]["bsn"] = "changed later"
    assert mapping.columns["bsn"] == "BSN cliënt"


def test_all_problems_are_reported_at_once_with_their_paths() -> None:
    document = {
        "colums": {},
        "input": {"delimiter": ";;", "encoding": "ebcdic", "quote": '"', "decimal_comma": "yes"},
        "columns": {"bsn": 3, "shoe_size": "Maat"},
        "date_formats": {"cost": "%d", "start_date": "dd-mm-yyyy"},
        "values": {"bsn": {"1": "2"}, "sex": {"J": 1}},
        "derive": {
            "care_form": {"from": "care_form", "map": {}, "extra": 1},
            "domain": {"from": "nothing", "map": {"a": "b"}},
        },
        "constants": {"financing": 5, "birth_date": "2000-01-01"},
        "fallback": {"fields": ["birth_date", "bsn", "birth_date"], "salt": "x"},
    }
    problems = problems_of(document)
    expected_paths = [
        "colums: unknown key",
        "version: required",
        "input.delimiter: must be one character",
        "input.encoding: must be one of",
        "input.quote: unknown key",
        "input.decimal_comma: must be a bool",
        "columns.bsn: must be a string",
        "columns.shoe_size: unknown field",
        "date_formats.cost: not a date field",
        "date_formats.start_date: not a strftime format",
        "values.bsn: value maps apply to",
        "values.sex.J: must be a string",
        "derive.care_form.extra: unknown key",
        "derive.care_form.from: a field cannot be derived from itself",
        "derive.care_form.map: required",
        "derive.domain.from: must name one of",
        "constants.financing: must be a string",
        "constants.birth_date: constants apply to",
        "fallback.salt: unknown key",
        "fallback.fields[1]: must be one of",
        "fallback.fields: a field is named twice",
    ]
    for path in expected_paths:
        assert sum(problem.startswith(path) for problem in problems) == 1, (path, problems)
    assert len(problems) == len(expected_paths), problems


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"version": 2}, "version: unsupported (2)"),
        ({"version": "1"}, "version: unsupported ('1')"),
        ({"version": True}, "version: unsupported (True)"),
        ({"version": 1.0}, "version: unsupported (1.0)"),
        ({"version": 1, "columns": "bsn"}, "columns: must be a table"),
        ({"version": 1, "input": []}, "input: must be a table"),
        ({"version": 1, "derive": {"care_form": "product_category"}}, "derive.care_form:"),
        ({"version": 1, "fallback": {"fields": []}}, "fallback.fields: must be a non-empty list"),
        ({"version": 1, "fallback": {"fields": "sex"}}, "fallback.fields: must be a non-empty"),
        (
            {"version": 1, "columns": {"financing": "F"}, "constants": {"financing": "ZIN"}},
            "constants.financing: also given in columns or derive",
        ),
        (
            {
                "version": 1,
                "derive": {"care_form": {"from": "product_category", "map": {"45": "a"}}},
                "constants": {"care_form": "ambulant"},
            },
            "constants.care_form: also given in columns or derive",
        ),
    ],
)
def test_single_problems(document: dict[str, Any], problem: str) -> None:
    problems = problems_of(document)
    assert any(p.startswith(problem) for p in problems), problems


def test_unknown_key_is_named_by_its_path() -> None:
    assert problems_of({"version": 1, "colums": {"bsn": "BSN"}}) == ["colums: unknown key"]


# --- files ---------------------------------------------------------------------------------------


def test_load_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(FULL, encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping.source == str(path)
    assert mapping.columns["bsn"] == "BSN cliënt"


def test_load_mapping_problems(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="mapping file not found"):
        load_mapping(tmp_path / "none.toml")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("version = 1\n[columns\n")
    with pytest.raises(ConfigError, match="not valid TOML") as error:
        load_mapping(bad_toml)
    assert error.value.source == str(bad_toml)
    not_utf8 = tmp_path / "cp1252.toml"
    not_utf8.write_bytes('version = 1\n[columns]\nbsn = "BSN cliënt"\n'.encode("cp1252"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_mapping(not_utf8)
    invalid = tmp_path / "invalid.toml"
    invalid.write_text('version = 1\n[columns]\nbsn = "BSN"\nnaam = "Naam"\n')
    with pytest.raises(ConfigError, match=r"invalid\.toml: 1 problem\(s\): columns\.naam"):
        load_mapping(invalid)


def _toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, re.DOTALL)


def test_the_documented_mappings_are_valid() -> None:
    # the steward's guide in Dutch (steward.md) and in English (steward.en.md)
    guides = [ROOT / "docs" / "steward.md", ROOT / "docs" / "steward.en.md"]
    blocks = [
        block for guide in guides for block in _toml_blocks(guide.read_text(encoding="utf-8"))
    ]
    assert len(blocks) >= 4  # each guide shows a full mapping and one with code lists
    docstring = mapping_module.__doc__ or ""
    example = docstring.split("Example mapping (``version`` is required)::", 1)[1]
    blocks.append(example.split('"""')[0])
    assert len(blocks) >= 2
    for block in blocks:
        mapping = parse_mapping(tomllib.loads(block), source="doc")
        assert mapping.columns  # a documented example shows at least the column names


def test_the_example_mapping_is_valid() -> None:
    mapping = load_mapping(ROOT / "examples" / "steward" / "mapping.toml")
    assert mapping.columns
    assert mapping.date_formats
    assert mapping.values
    assert mapping.derive
    assert mapping.constants


# --- resolving columns ---------------------------------------------------------------------------


def test_dutch_names_are_recognised() -> None:
    columns = [
        "Naam",
        "BSN",
        "Geboortedatum",
        "Geslacht",
        "Woongemeente",
        "Domein",
        "Financieringsvorm",
        "Zorgvorm",
        "Productcategorie",
        "Begindatum",
        "Einddatum",
        "Kosten",
        "Postcode",
        "Opmerking",
    ]
    assert resolve_columns(columns, ColumnMapping()) == {
        "bsn": "BSN",
        "birth_date": "Geboortedatum",
        "sex": "Geslacht",
        "municipality": "Woongemeente",
        "domain": "Domein",
        "financing": "Financieringsvorm",
        "care_form": "Zorgvorm",
        "product_category": "Productcategorie",
        "start_date": "Begindatum",
        "end_date": "Einddatum",
        "cost": "Kosten",
        "postcode": "Postcode",
    }


@pytest.mark.parametrize(
    "name",
    [
        "BSN cliënt",
        "bsn_client",
        "Client-BSN",
        "B.S.N.",
        " bsn ",
        "Burgerservicenummer",
        "BSNCLIËNT",
    ],
)
def test_case_spaces_punctuation_and_accents_are_ignored(name: str) -> None:
    assert resolve_columns(["x", name], ColumnMapping()) == {"bsn": name}


def test_the_result_follows_the_canonical_field_order() -> None:
    found = resolve_columns(["Kosten", "Gemeente", "BSN", "Geb. datum"], ColumnMapping())
    assert list(found) == ["bsn", "birth_date", "municipality", "cost"]


def test_two_columns_that_look_alike_are_ambiguous() -> None:
    with pytest.raises(InputError) as error:
        resolve_columns(["BSN", "Burgerservicenummer", "Naam"], ColumnMapping(), source="e.csv")
    message = str(error.value)
    assert message.startswith("e.csv: ")
    assert "'BSN'" in message
    assert "'Burgerservicenummer'" in message
    assert "look like bsn" in message
    with pytest.raises(InputError, match="look like birth_date"):
        resolve_columns(["BSN", "Geboortedatum", "geb_datum"], ColumnMapping())


def test_the_mapping_settles_ambiguity_and_wins_over_names() -> None:
    mapping = parse_mapping({"version": 1, "columns": {"bsn": "Burgerservicenummer"}})
    found = resolve_columns(["BSN", "Burgerservicenummer"], mapping)
    assert found == {"bsn": "Burgerservicenummer"}
    mapping = parse_mapping({"version": 1, "columns": {"bsn": "Nummer", "cost": "Bedrag incl"}})
    found = resolve_columns(["Nummer", "BSN", "Bedrag incl", "Kosten"], mapping)
    assert found["bsn"] == "Nummer"
    assert found["cost"] == "Bedrag incl"


def test_a_mapped_column_must_exist() -> None:
    mapping = parse_mapping({"version": 1, "columns": {"bsn": "BSN cliënt", "sex": "Sekse"}})
    with pytest.raises(InputError) as error:
        resolve_columns(["BSN"], mapping, source="e.csv")
    message = str(error.value)
    assert "mapped column 'BSN cliënt' for bsn is not in the file" in message
    assert "mapped column 'Sekse' for sex is not in the file" in message


def test_no_bsn_column() -> None:
    with pytest.raises(InputError, match=r"e\.csv: no BSN column"):
        resolve_columns(["Naam", "Gemeente"], ColumnMapping(), source="e.csv")


def test_resolve_does_not_consume_its_input() -> None:
    columns = iter(["BSN", "Gemeente"])
    assert resolve_columns(columns, ColumnMapping()) == {"bsn": "BSN", "municipality": "Gemeente"}


# --- hostile and faulty mappings (issue 14) -------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("%Y-%m-%d %H", "only date directives"),  # ended in a Polars traceback
        ("%Y-%m-%d %p", "only date directives"),  # so did this
        ("%d-%m-%Y %H:%M", "only date directives"),
        ("%Y-%m-%dT%z", "only date directives"),
        ("%s", "only date directives"),
        ("%Y%", "only date directives"),
        ("%d-%m", "must name a year, a month and a day"),  # read as the year 1, silently
        ("%Y", "must name a year, a month and a day"),
        ("%m/%Y", "must name a year, a month and a day"),
        ("dd-mm-yyyy", "not a strftime format"),
        ("%%", "not a strftime format"),
    ],
)
def test_date_formats_hold_only_date_directives(fmt: str, problem: str) -> None:
    # #19: the bad format is found up front, with the path of its field
    document = {"version": 1, "date_formats": {"start_date": fmt, "end_date": "%d-%m-%Y"}}
    with pytest.raises(ConfigError) as caught:
        parse_mapping(document)
    (line,) = caught.value.problems  # end_date's format is fine
    assert line.startswith(f"date_formats.start_date: {problem}")


@pytest.mark.parametrize(
    "fmt",
    [
        "%Y-%m-%d",
        "%d-%m-%Y",
        "%d/%m/%Y",
        "%Y%m%d",
        "%d.%m.%Y",
        "%-d-%-m-%Y",
        "%e %B %Y",
        "%F",
        "%y%m%d",
        "%Y-%j",
        "%a %d %b %Y",
        "%d-%m-%Y (%%)",
    ],
)
def test_date_formats_that_read_dates_are_accepted(fmt: str) -> None:
    mapping = parse_mapping({"version": 1, "date_formats": {"birth_date": fmt}})
    assert mapping.date_formats["birth_date"] == fmt


def test_a_source_column_feeds_one_field() -> None:
    # #4: a text field mapped onto the BSN column would publish every BSN
    document = {"version": 1, "columns": {"bsn": "BSN", "municipality": "BSN", "sex": "G"}}
    with pytest.raises(ConfigError) as caught:
        parse_mapping(document)
    assert caught.value.problems == [
        "columns: bsn and municipality both name the column 'BSN'; one source column feeds one "
        "field"
    ]
    # a mapping made in Python, past parse_mapping, is refused where columns are resolved
    mapping = ColumnMapping(columns={"bsn": "BSN", "municipality": "BSN"})
    with pytest.raises(InputError, match="column 'BSN' is mapped to bsn and municipality"):
        resolve_columns(["BSN", "Gemeente"], mapping)
    # a mapped column is not taken by a recognised name as well
    mapping = ColumnMapping(columns={"municipality": "BSN"})
    with pytest.raises(InputError, match="no BSN column"):
        resolve_columns(["BSN", "Gemeente"], mapping)


# --- value maps: exact codes, prefixes and ranges (issue 15) --------------------------------------

CODES = {
    "45": "exact 45",
    "45*": "prefix 45",
    "451*": "prefix 451",
    "4*": "prefix 4",
    "40-44": "range 40-44",
    "46 - 49": "range 46-49",
    "100-199": "range 100-199",
}


def mapped(values: Sequence[str | None], table: dict[str, str], *, keep: bool = True) -> list[Any]:
    frame = pl.DataFrame({"v": list(values)}, schema={"v": pl.String})
    expr = apply_value_map(pl.col("v"), table, keep_unmapped=keep)
    return frame.select(expr.alias("out"))["out"].to_list()


def test_exact_beats_the_longest_prefix_which_beats_a_range() -> None:
    values = ["45", "45A01", "4512", "451", "41", "4", "47", "150", "041", "50", "x45", None]
    assert mapped(values, CODES) == [
        "exact 45",  # exact, though three prefixes and no range match too
        "prefix 45",
        "prefix 451",  # the longest prefix
        "prefix 451",  # a prefix matches the code itself
        "prefix 4",  # a prefix beats the range 40-44
        "prefix 4",
        "prefix 4",
        "range 100-199",
        "range 40-44",  # ranges compare numbers: 041 is 41 (no prefix "0" here)
        "50",  # no key matches: kept as written
        "x45",  # a prefix is matched at the start only
        None,
    ]
    assert mapped(["50", "150", None], CODES, keep=False) == [None, "range 100-199", None]


def test_ranges_hold_both_ends_and_only_whole_numbers() -> None:
    table = {"40-44": "in", "7-7": "seven"}
    values = ["39", "40", "44", "45", "42.0", "42A", "-42", "7", "0007", "4 2", ""]
    assert mapped(values, table, keep=False) == [
        None,
        "in",
        "in",
        None,
        None,
        None,
        None,
        "seven",
        "seven",
        None,
        None,
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789A*-", max_size=6),
            st.integers(0, 300).map(str),
        ),
        max_size=40,
    )
)
def test_the_expression_agrees_with_lookup(values: list[str]) -> None:
    # the Polars expression and the plain-Python reading of one value give the same answer
    value_map = ValueMap.of(CODES)
    assert mapped(values, CODES, keep=False) == [value_map.lookup(v) for v in values]


def test_value_maps_with_prefixes_and_ranges_are_parsed() -> None:
    document = {
        "version": 1,
        "values": {"care_form": {"45*": "ambulant", "43-44": "verblijf", "41": "dag"}},
        "derive": {"domain": {"from": "product_category", "map": {"47-48": "jb", "5*": "jh"}}},
    }
    mapping = parse_mapping(document)
    care_form = mapping.values["care_form"]
    assert isinstance(care_form, ValueMap)
    assert dict(care_form) == {"45*": "ambulant", "43-44": "verblijf", "41": "dag"}
    assert care_form.prefixes == (("45", "ambulant"),)
    assert care_form.ranges == ((43, 44, "verblijf"),)
    assert dict(care_form.exact) == {"41": "dag"}
    domain = ValueMap.of(mapping.derive["domain"].values)
    assert (domain.lookup("48"), domain.lookup("51"), domain.lookup("49")) == ("jb", "jh", None)


def test_ambiguous_value_maps_are_refused_at_once_with_the_path_of_each_key() -> None:
    document = {
        "version": 1,
        "values": {
            "care_form": {
                "40-44": "a",
                "43-45": "b",  # overlaps 40-44
                "44-40": "c",  # backwards
                "*": "d",  # matches everything
                "4*5": "e",  # a star inside
                "45**": "f",
                "": "g",
                " 41": "h",
                "41": "i",  # the same code as " 41"
            },
            "domain": {"1-100": "x", "20-30": "y", "50-60": "z"},  # both inside 1-100
        },
        "derive": {"financing": {"from": "product_category", "map": {"1-5": "a", "5-9": "b"}}},
    }
    problems = problems_of(document)
    expected = [
        "values.care_form.43-45: overlaps the range 40-44",
        "values.care_form.44-40: the range runs backwards",
        'values.care_form."*": a lone',
        "values.care_form.\"4*5\": '*' stands only at the end",
        "values.care_form.\"45**\": '*' stands only at the end",
        'values.care_form."": an empty code',
        'values.care_form.41: the same code as values.care_form." 41"',
        "values.domain.20-30: overlaps the range 1-100",
        "values.domain.50-60: overlaps the range 1-100",
        "derive.financing.map.5-9: overlaps the range 1-5",
    ]
    for start in expected:
        assert sum(problem.startswith(start) for problem in problems) == 1, (start, problems)
    assert len(problems) == len(expected), problems


def test_a_plain_table_is_checked_where_it_is_applied() -> None:
    with pytest.raises(ConfigError, match=r"values\.44-50: overlaps the range 40-44"):
        ValueMap.of({"40-44": "a", "44-50": "b"})
    with pytest.raises(ConfigError, match="a lone"):
        apply_value_map(pl.col("v"), {"*": "x"})


def test_prefixes_and_ranges_in_the_steward_step(round_key: Key) -> None:
    # the same answers whether a column is read on its distinct values (few of them) or row by
    # row (many): both paths of factlab.steward._distinct
    mapping = parse_mapping(
        {
            "version": 1,
            "values": {"domain": {"J*": "jeugdhulp", "GGZ-*": "ggz"}},
            "derive": {
                "care_form": {
                    "from": "product_category",
                    "map": {"45*": "ambulant", "43-44": "verblijf", "41": "dagbehandeling"},
                }
            },
        }
    )
    codes = ["45A01", "45", "043", "44", "41", "41A01", "99", "JH"]
    expected = ["ambulant", "ambulant", "verblijf", "verblijf", "dagbehandeling", None, None, None]
    domains = ["JH", "J", "GGZ-1", "GGZ", "x", None, "JB", "jeugd"]
    expected_domains = ["jeugdhulp", "jeugdhulp", "ggz", "GGZ", "x", None, "jeugdhulp", "jeugd"]
    # 2000 rows of 8 values are read on the distinct values; 8 rows of 8 distinct values (more
    # than an eighth distinct) row by row
    for repeat in (250, 1):
        export = pl.DataFrame(
            {
                "bsn": ["999993653"] * 8 * repeat,
                "product_category": codes * repeat,
                "domain": domains * repeat,
            }
        )
        out = pseudonymise_with_quality(export, round_key, provider="P", mapping=mapping)
        assert out.frame["care_form"].to_list() == expected * repeat
        assert out.frame["domain"].to_list() == expected_domains * repeat
        assert out.quality.field_issues["care_form"] == {"unmapped": 3 * repeat}


# --- lenient column names and "did you mean" (issue 15) ------------------------------------------


@pytest.mark.parametrize(
    ("written", "column"),
    [
        ("clientnummer", "Cliëntnummer"),
        ("CLIENTNUMMER", "Cliëntnummer"),
        ("geb datum", "Geb.datum"),
        ("geb_datum", "Geb.datum"),
        ("Woonplaats-gemeente", "Woonplaats gemeente"),
        ("woonplaatsgemeente", "Woonplaats gemeente"),
        ("Productcode ", "Productcode"),
    ],
)
def test_mapped_columns_match_as_leniently_as_recognition(written: str, column: str) -> None:
    columns = ["Cliëntnummer", "BSN", "Geb.datum", "Woonplaats gemeente", "Productcode"]
    field = {
        "Cliëntnummer": "postcode",  # any field: only the name matters here
        "Geb.datum": "birth_date",
        "Woonplaats gemeente": "municipality",
        "Productcode": "product_category",
    }[column]
    mapping = parse_mapping({"version": 1, "columns": {field: written}})
    assert resolve_columns(columns, mapping)[field] == column


def test_an_exact_name_wins_over_a_lenient_one() -> None:
    mapping = parse_mapping({"version": 1, "columns": {"municipality": "gemeente"}})
    found = resolve_columns(["BSN", "Gemeente", "gemeente"], mapping)
    assert found["municipality"] == "gemeente"


def test_a_lenient_name_that_fits_two_columns_is_refused() -> None:
    mapping = parse_mapping({"version": 1, "columns": {"municipality": "GEMEENTE"}})
    with pytest.raises(InputError) as caught:
        resolve_columns(["BSN", "Gemeente", "gemeente"], mapping, source="e.csv")
    message = str(caught.value)
    assert "mapped column 'GEMEENTE' for municipality matches 'Gemeente', 'gemeente'" in message
    assert "write the name exactly as in the file" in message


def test_two_fields_mapped_leniently_onto_one_column_are_refused() -> None:
    # different spellings pass parse_mapping, and meet in the same column of the file
    mapping = parse_mapping({"version": 1, "columns": {"bsn": "BSN", "municipality": "b.s.n."}})
    with pytest.raises(InputError, match="column 'BSN' is mapped to bsn and municipality"):
        resolve_columns(["BSN", "Gemeente"], mapping)


def test_a_missing_column_says_did_you_mean_with_the_closest_names() -> None:
    mapping = parse_mapping(
        {"version": 1, "columns": {"bsn": "Burgerservicenumer", "start_date": "Ingangsdatm"}}
    )
    columns = ["Cliëntnummer", "Burgerservicenummer", "Ingangsdatum", "Einddatum", "Bedrag"]
    with pytest.raises(InputError) as caught:
        resolve_columns(columns, mapping, source="e.csv")
    message = str(caught.value)
    assert message.startswith("e.csv: ")
    assert (
        "mapped column 'Burgerservicenumer' for bsn is not in the file; "
        "did you mean 'Burgerservicenummer'?"
    ) in message
    assert "for start_date is not in the file; did you mean 'Ingangsdatum'" in message
    assert "'Bedrag'" not in message  # only the close names


def test_a_missing_column_without_close_names_lists_the_files_columns() -> None:
    mapping = parse_mapping({"version": 1, "columns": {"bsn": "Sofi"}})
    columns = ["Naam", "Nummer", *(f"Kolom {index}" for index in range(30))]
    with pytest.raises(InputError) as caught:
        resolve_columns(columns, mapping)
    message = str(caught.value)
    assert "mapped column 'Sofi' for bsn is not in the file; its columns: 'Naam', 'Nummer'" in (
        message
    )
    assert "and 12 more" in message


def test_names_of_digits_are_never_shown(test_bsns: tuple[str, ...]) -> None:
    # a file without a header line: its first row (with a BSN in it) is taken for the names
    mapping = parse_mapping({"version": 1, "columns": {"bsn": "BSN"}})
    columns = [test_bsns[0], "Assen", f"{test_bsns[1][:3]} {test_bsns[1][3:]}"]
    with pytest.raises(InputError) as caught:
        resolve_columns(columns, mapping)
    message = str(caught.value)
    assert test_bsns[0] not in message
    assert test_bsns[1][3:] not in message
    assert "2 name(s) of digits (has the file a header line?)" in message
    assert closest_columns(test_bsns[0][:8], columns) == []
