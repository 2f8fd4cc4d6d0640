"""Proposed mappings (``factlab.steward.propose``): every synthetic export form, round trips through
the steward's step, guesses, code lists, the round's contract, and never a BSN in a proposal."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import polars as pl
import pytest

from factlab._version import __version__
from factlab.errors import InputError
from factlab.keys.round_keys import Key
from factlab.steward.mapping import load_mapping, parse_mapping
from factlab.steward.proposal import MappingProposal, toml_string
from factlab.steward.propose import propose_mapping, write_proposal
from factlab.steward.pseudonymise import Pseudonymised, pseudonymise_file
from factlab.synth.config import Messiness, SynthConfig
from factlab.synth.draw import synth_frame, synthesise
from factlab.synth.write import ExportForm, write_export

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "steward"

#: Every way the synthetic generator writes an export: formats, encodings, delimiters, column
#: names, date forms, decimal commas, BSNs as numbers or absent, birth year, sex codes.
FORMS = {
    "csv-canonical": ExportForm(),
    "csv-english-bom": ExportForm(names="english", encoding="utf-8-sig"),
    "csv-dutch-cp1252-ddmmyyyy": ExportForm(
        delimiter=";",
        encoding="cp1252",
        names="dutch",
        date_format="%d-%m-%Y",
        decimal_comma=True,
        thousands=True,
    ),
    "csv-dutch-alt-slashes": ExportForm(
        delimiter=";", names="dutch_alt", date_format="%d/%m/%Y", decimal_comma=True
    ),
    "csv-yyyymmdd-numbers-year": ExportForm(
        names="english",
        date_format="%Y%m%d",
        bsn_as_number=True,
        birth="year",
        sex_codes=("man", "vrouw", "X"),
    ),
    "csv-no-bsn": ExportForm(names="dutch", no_bsn=True, sex_codes=("m", "f", "X")),
    "xlsx-dutch": ExportForm(file_format="xlsx", names="dutch"),
    "xlsx-english-numbers-year": ExportForm(
        file_format="xlsx", names="english", bsn_as_number=True, birth="year"
    ),
    "parquet-canonical": ExportForm(file_format="parquet"),
    "parquet-dutch-alt-numbers": ExportForm(
        file_format="parquet", names="dutch_alt", bsn_as_number=True
    ),
}
#: Digits only: a BSN stored as a number must still be a number.
MESS = Messiness(missing=0.02, sentinel=0.01, checksum=0.01, bad_length=0.01)


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    # out of the region: Súdwest-Fryslân, so a Windows-1252 file is one
    config = SynthConfig(providers=1, clients=400, overlap=(), out_of_region=0.3, messiness=MESS)
    frame = synth_frame(config, seed=15)
    return frame.filter(pl.col("provider") == pl.col("provider").first())


def passes_elfproef(digits: str) -> bool:
    """The BSN elfproef in plain Python: 9·d1 + … + 2·d8 − 1·d9 ≡ 0 (mod 11)."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def canary(text: str, rows: pl.DataFrame) -> None:
    """No BSN of the export, in any written form, and no nine-digit number passing the elfproef."""
    for number in re.findall(r"(?<![0-9])[0-9]{9}(?![0-9])", text):
        assert not passes_elfproef(number) or number == "000000000", "a BSN in the proposal"
    written = rows.select(pl.col("bsn_written").drop_nulls().unique()).to_series().to_list()
    for value in [*written, *rows["bsn"].drop_nulls().unique().to_list()]:
        if len(value) >= 8:
            assert value not in text


def round_trip(
    path: Path, key: Key, folder: Path
) -> tuple[MappingProposal, Pseudonymised, Pseudonymised]:
    """Propose, write, load; pseudonymise with factlab's own recognition and with the proposal."""
    proposal = propose_mapping(path)
    mapping_path = folder / f"{path.stem}.toml"
    write_proposal(proposal, mapping_path, inputs=[path])
    mapping = load_mapping(mapping_path)  # the proposal as written, unedited
    auto = pseudonymise_file(
        path, key, provider="P01", out=folder / f"{path.stem}-auto.parquet", allow_no_valid_bsn=True
    )
    proposed = pseudonymise_file(
        path,
        key,
        provider="P01",
        out=folder / f"{path.stem}-proposed.parquet",
        mapping=mapping,
        allow_no_valid_bsn=True,
    )
    return proposal, auto, proposed


def assert_at_least_as_good(auto: Pseudonymised, proposed: Pseudonymised) -> None:
    """The same rows and statuses, every column of the recognition with the same values, and no
    more unreadable values in any of them; the proposal may read more columns."""
    assert proposed.quality.rows == auto.quality.rows
    assert proposed.quality.rows_by_status == auto.quality.rows_by_status
    assert proposed.quality.distinct_pseudonyms == auto.quality.distinct_pseudonyms
    assert set(auto.frame.columns) <= set(proposed.frame.columns)
    common = auto.frame.columns
    assert proposed.frame.select(common).equals(auto.frame.select(common))
    for column in common:
        for reason, count in proposed.quality.field_issues.get(column, {}).items():
            assert count <= auto.quality.field_issues.get(column, {}).get(reason, 0)


# --- every export form -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORMS))
def test_every_export_form_round_trips(
    name: str, rows: pl.DataFrame, round_key: Key, tmp_path: Path
) -> None:
    form = FORMS[name]
    path = tmp_path / f"{name}.{form.extension}"
    write_export(rows, path, form)
    proposal, auto, proposed = round_trip(path, round_key, tmp_path)
    assert_at_least_as_good(auto, proposed)

    birth = "birth_date" if form.birth == "date" else "birth_year"
    expected = {"bsn", birth, "sex", "municipality", "domain", "financing", "care_form"}
    expected |= {"product_category", "start_date", "end_date", "cost"}
    assert set(proposal.fields) == expected
    assert all(choice.how == "recognised" for choice in proposal.columns)
    assert proposal.unused == ()
    if form.file_format == "csv":
        assert (proposal.encoding, proposal.delimiter) == (form.encoding, form.delimiter)
        assert proposal.decimal_comma is form.decimal_comma
    else:
        assert (proposal.encoding, proposal.delimiter, proposal.decimal_comma) == (None,) * 3
    by_field = {date.field: date for date in proposal.dates}
    start = by_field["start_date"]
    if form.file_format == "csv":
        assert start.format == form.date_format
        assert start.read == start.present > 0
        assert start.example is not None
    elif form.file_format == "parquet":
        assert start.native
    else:  # Excel dates are read as text, 2013-01-01 00:00:00
        assert start.format == "%Y-%m-%d"
    text = (tmp_path / f"{name}.toml").read_text(encoding="utf-8")
    canary(text, rows)
    mapping = parse_mapping(tomllib.loads(text))
    assert dict(mapping.columns) == proposal.fields


def test_the_realistic_round_round_trips(tmp_path: Path, round_key: Key) -> None:
    # every kind of mess at once, the formats dealt over eight providers as the generator does
    config = SynthConfig(providers=8, clients=600, messiness=Messiness.realistic())
    result = synthesise(tmp_path / "exports", config, seed=4)
    rows = synth_frame(config, seed=4)
    formats = set()
    for export in result.exports:
        proposal, auto, proposed = round_trip(export.path, round_key, tmp_path)
        assert_at_least_as_good(auto, proposed)
        assert dict(proposed.quality.rows_by_status) == dict(export.rows_by_status)
        canary(proposal.to_toml(), rows)
        formats.add((export.form.file_format, export.form.names, export.form.encoding))
    assert {file_format for file_format, _, _ in formats} == {"csv", "xlsx", "parquet"}


def test_the_example_export_round_trips_and_reads_more(tmp_path: Path, round_key: Key) -> None:
    path = EXAMPLE / "export.csv"
    proposal, auto, proposed = round_trip(path, round_key, tmp_path)
    assert_at_least_as_good(auto, proposed)
    # the episode dates are not recognised names, but guessed: read with the proposal only
    assert {"start_date", "end_date"} - set(auto.frame.columns) == {"start_date", "end_date"}
    assert proposed.frame["start_date"].null_count() == 0
    guessed = {
        choice.field: choice.column for choice in proposal.columns if choice.how == "guessed"
    }
    assert guessed == {"start_date": "Datum aanvang", "end_date": "Datum einde"}
    assert set(proposal.unused) == {"Cliëntnummer", "Naam cliënt", "Opmerking"}
    assert (proposal.encoding, proposal.delimiter, proposal.decimal_comma) == ("cp1252", ";", True)


def test_the_shipped_proposal_is_what_the_command_proposes() -> None:
    # examples/steward/proposed-mapping.toml is generated by `factlab mapping propose`
    shipped = (EXAMPLE / "proposed-mapping.toml").read_text(encoding="utf-8")
    proposal = propose_mapping(EXAMPLE / "export.csv")
    now = proposal.to_toml("proposed-mapping.toml")
    version = re.compile(r"proposed by factlab \S+ ")
    assert version.sub("", shipped) == version.sub("", now)
    assert f"proposed by factlab {__version__} " in now
    assert load_mapping(EXAMPLE / "proposed-mapping.toml").columns["bsn"] == "BSN cliënt"


# --- guesses ---------------------------------------------------------------------------------

ISSUE_HEADER = (
    "Cliëntnummer;Burgerservicenummer;Geb.datum;Woonplaats gemeente;Productcode;Ingangsdatum;"
    "Einddatum;Bedrag"
)


@pytest.fixture
def issue_export(tmp_path: Path, test_bsns: tuple[str, ...]) -> Path:
    """The export of issue 15: its own column names, ';', Windows-1252, dd-mm-yyyy."""
    codes = ["45A01", "45A02", "43A11", "41A01", "47A01"]
    towns = ["Assen", "Emmen", "Súdwest-Fryslân"]
    lines = [ISSUE_HEADER]
    for index in range(60):
        lines.append(
            f"K{index:04d};{test_bsns[index % 20]};{index % 28 + 1:02d}-0{index % 9 + 1}-2010;"
            f"{towns[index % 3]};{codes[index % 5]};01-0{index % 9 + 1}-2025;;{index},50"
        )
    path = tmp_path / "issue.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def test_the_issue_export_gets_its_columns_named(issue_export: Path, round_key: Key) -> None:
    proposal, auto, proposed = round_trip(issue_export, round_key, issue_export.parent)
    assert_at_least_as_good(auto, proposed)
    choices = {choice.field: choice for choice in proposal.columns}
    assert choices["municipality"].column == "Woonplaats gemeente"
    assert choices["municipality"].how == "guessed"
    # like both productcategorie and postcode: written as a comment, codes listed all the same
    assert choices["product_category"].column == "Productcode"
    assert choices["product_category"].how == "unsure"
    assert proposal.unused == ("Cliëntnummer",)
    # the municipality was dropped without a word before; now it is read
    assert "municipality" not in auto.frame.columns
    assert proposed.frame["municipality"].null_count() == 0
    text = proposal.to_toml()
    assert '# product_category = "Productcode"' in text
    assert '# "45A01" = "45A01"' in text
    # iJw product codes start with their category: suggested as prefixes, as comments only
    assert re.search(r'^# "45\*" = "ambulant" +# "ambulant"; 24 rows$', text, re.MULTILINE)
    assert "[derive.care_form]" not in re.sub(r"^#.*$", "", text, flags=re.MULTILINE)


def test_a_guess_the_values_do_not_fit_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "BSN;Ingang zorg;Einddatum zorg;Opmerkingen\n"
        "999993653;vandaag;01-02-2025;bel moeder terug over de planning\n"
        "999991723;morgen;01-03-2025;wachtlijst, eerst intake in maart\n",
        encoding="utf-8",
    )
    proposal = propose_mapping(path)
    fields = {choice.field: choice.column for choice in proposal.columns}
    assert fields == {"bsn": "BSN", "end_date": "Einddatum zorg"}  # no date reads "vandaag"
    assert set(proposal.unused) == {"Ingang zorg", "Opmerkingen"}


def test_a_bsn_column_is_never_guessed_as_another_field(
    tmp_path: Path, test_bsns: tuple[str, ...]
) -> None:
    path = tmp_path / "e.csv"
    lines = ["BSN;Gemeentenummer;Naam"]
    lines += [f"{bsn};{bsn};Naam {index}" for index, bsn in enumerate(test_bsns[:30])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proposal = propose_mapping(path)
    assert proposal.fields == {"bsn": "BSN"}
    assert "Gemeentenummer" in proposal.unused
    canary(proposal.to_toml(), pl.DataFrame({"bsn": test_bsns[:30], "bsn_written": test_bsns[:30]}))


# --- code lists ------------------------------------------------------------------------------


def test_code_lists_count_every_row_and_stop_at_the_limit(tmp_path: Path) -> None:
    towns = [f"Dorp {index:03d}" for index in range(250)]
    rows = 20_000  # more than the sample: the counts are over every row
    frame = pl.DataFrame(
        {
            "BSN": ["999993653"] * rows,
            "Gemeente": [towns[0]] * (rows - 300) + towns * 1 + [None] * 50,
            "Geslacht": ["J", "M", "V", "onbekend"] * (rows // 4),
        }
    )
    path = tmp_path / "e.parquet"
    frame.write_parquet(path)
    proposal = propose_mapping(path, max_codes=200)
    municipality, sex = proposal.codes
    assert municipality.codes[0].value == "Dorp 000"
    assert municipality.codes[0].rows == rows - 300 + 1
    assert len(municipality.codes) == 200
    assert (municipality.more_values, municipality.more_rows) == (50, 50)
    assert municipality.empty_rows == 50
    text = proposal.to_toml()
    assert "# and 50 more value(s) in 50 rows" in text
    assert "# empty: 50 rows" in text
    reads = {code.value: code.reads_as for code in sex.codes}
    assert reads == {"J": None, "M": "M", "V": "V", "onbekend": "unknown"}
    assert re.search(r'^# "J" = "J" +# 5,000 rows; NOT read: map it to M, V or X$', text, re.M)


def test_codes_that_look_like_a_bsn_are_counted_not_shown(
    tmp_path: Path, test_bsns: tuple[str, ...]
) -> None:
    # a BSN column mapped (by its name) as the municipality: pseudonymise refuses it later, and
    # the proposal must not show the BSNs meanwhile
    path = tmp_path / "e.csv"
    lines = ["BSN;Gemeente"] + [f"{bsn};{bsn}" for bsn in test_bsns[:40]] + ["999993653;Assen"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proposal = propose_mapping(path)
    (municipality,) = proposal.codes
    assert [code.value for code in municipality.codes] == ["Assen"]
    assert (municipality.hidden_values, municipality.hidden_rows) == (40, 40)
    text = proposal.to_toml()
    assert "40 value(s) in 40 rows look like a BSN and are not shown" in text
    canary(text, pl.DataFrame({"bsn": test_bsns[:40], "bsn_written": test_bsns[:40]}))


def test_hostile_names_and_codes_cannot_change_the_file(tmp_path: Path) -> None:
    # a column name and a code with line breaks, quotes and a right-to-left override: written
    # as TOML strings with escapes, in settings and comments alike
    hostile_name = 'Opm\n[columns]\nbsn = "Naam"'
    hostile_code = 'Assen"\n[constants]\nfinancing = "PGB"\u202e'
    frame = pl.DataFrame(
        {
            "BSN": ["999993653", "999991723"],
            "Gemeente": [hostile_code, "Emmen"],
            hostile_name: ["x", "y"],
            "Naam": ["a", "b"],
        }
    )
    path = tmp_path / "e.parquet"
    frame.write_parquet(path)
    text = propose_mapping(path).to_toml()
    document = tomllib.loads(text)
    assert document["columns"] == {"bsn": "BSN", "municipality": "Gemeente"}
    assert "constants" not in document
    assert "\u202e" not in text
    assert toml_string(hostile_code) in text
    assert all(not line.startswith("financing") for line in text.splitlines())


def test_a_file_without_a_header_line_shows_no_name_of_digits(
    tmp_path: Path, test_bsns: tuple[str, ...]
) -> None:
    path = tmp_path / "e.csv"
    lines = [f"{bsn};Assen;01-02-2010" for bsn in test_bsns[:5]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proposal = propose_mapping(path)
    assert proposal.digit_names >= 1
    assert "bsn" not in proposal.fields
    text = proposal.to_toml()
    assert test_bsns[0] not in text
    assert "does the export start with a header line?" in text
    assert re.search(r'^# bsn = "…" +# required: name the column that holds the BSN$', text, re.M)
    assert parse_mapping(tomllib.loads(text)).columns == {}


# --- the round's contract --------------------------------------------------------------------


def test_required_fields_and_accepted_values_are_marked(tmp_path: Path, round_key: Key) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "BSN;Zorgvorm;Datum aanvang\n"
        "999993653;Ambulant;01-02-2025\n"
        "999991723;verblijf;01-03-2025\n"
        "999995078;dag;01-03-2025\n",
        encoding="utf-8",
    )
    proposal = propose_mapping(
        path,
        required=("bsn", "care_form", "financing", "start_date"),
        accepted={"care_form": ("ambulant", "verblijf"), "financing": ("ZIN", "PGB")},
    )
    codes = {code.value: code for code in proposal.codes[0].codes}
    assert codes["Ambulant"].mapped_to == "ambulant"  # other capitals: mapped, as a setting
    assert codes["verblijf"].accepted is True
    assert codes["dag"].accepted is False
    text = proposal.to_toml()
    assert re.search(r'^"Ambulant" = "ambulant" +# 1 row; obvious$', text, re.M)
    assert re.search(r'^# "dag" = "dag" +# 1 row; NOT accepted by the round: map it$', text, re.M)
    assert re.search(r'^care_form = "Zorgvorm" +# recognised; REQUIRED by the round$', text, re.M)
    assert re.search(r'^# financing = "…" +# REQUIRED by the round: not found$', text, re.M)
    assert "REQUIRED by the round" in text.split("start_date =")[1].splitlines()[0]
    assert "required by the round, not found: financing" in "\n".join(proposal.summary_lines())
    mapping = parse_mapping(tomllib.loads(text))
    result = pseudonymise_file(
        path, round_key, provider="P01", out=tmp_path / "p.parquet", mapping=mapping
    )
    assert result.frame["care_form"].to_list() == ["ambulant", "verblijf", "dag"]


# --- writing ---------------------------------------------------------------------------------


def test_a_proposal_is_never_written_over_its_export_or_an_existing_file(
    tmp_path: Path,
) -> None:
    path = EXAMPLE / "export.csv"
    proposal = propose_mapping(path)
    with pytest.raises(InputError, match="is also an input"):
        write_proposal(proposal, path, inputs=[path], overwrite=True)
    out = tmp_path / "m.toml"
    out.write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="exists"):
        write_proposal(proposal, out, inputs=[path])
    assert out.read_text(encoding="utf-8") == "mine"
    write_proposal(proposal, out, inputs=[path], overwrite=True)
    assert load_mapping(out).columns["bsn"] == "BSN cliënt"
    assert list(tmp_path.iterdir()) == [out]  # no temporary left behind


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="propose_mapping: path must be a path"):
        propose_mapping(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        propose_mapping(EXAMPLE / "export.csv", sample_rows=0)
    with pytest.raises(InputError, match=r"none\.csv: "):
        propose_mapping(tmp_path / "none.csv")
