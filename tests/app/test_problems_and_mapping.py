"""Errors in plain words; the mapping the app builds, saves and reads again."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import CONTRACT

from factlab.app.flow import (
    ExportChoice,
    MappingChoice,
    build_mapping,
    initial_choice,
    mapping_document,
    mapping_toml,
)
from factlab.app.problems import explain
from factlab.errors import ConfigError, DataError, InputError, KeyFileError
from factlab.io import parse_toml
from factlab.steward.mapping import load_mapping, parse_mapping
from factlab.steward.propose import propose_mapping

#: Messages the library gives (as the command line prints them), and a word of the Dutch title.
KNOWN = [
    (KeyFileError("k.key: wrong passphrase or damaged key file"), "wachtwoordzin klopt niet"),
    (
        KeyFileError("k.key: the key file is passphrase-protected; a passphrase is needed"),
        "heeft een wachtwoordzin",
    ),
    (KeyFileError("k.key: key file is open to other users (mode 0640): run"), "Andere gebruikers"),
    (KeyFileError("k.key: key file altered: contract does not match its secret"), "veranderd"),
    (KeyFileError("t.pub: not a factlab recipient public key file"), ".pub"),
    (InputError("out/P01.sealed: exists (use --force to overwrite)"), "al een bestand"),
    (InputError("out/x: the output folder does not exist"), "map voor het resultaat"),
    (InputError("e.docx: unsupported file type '.docx'; expected .csv"), "soort bestand"),
    (InputError("e.csv: line 3: not valid UTF-8 at byte 7; save as UTF-8"), "tekens"),
    (InputError("e.csv: the file has no data rows"), "geen gegevens"),
    (InputError("input: no BSN column (looked for bsn, …)"), "kolom met het BSN"),
    (InputError("e.csv: none of the 4 row(s) has a valid BSN in column 'X'"), "geldig BSN"),
    (InputError("e.csv: Naam hold a value that looks like a BSN (eight or nine…)"), "op een BSN"),
    (
        InputError("e.csv: the round's contract refuses this file, nothing was written: x"),
        "weigert",
    ),
    (InputError("provider code must be 1-64 characters"), "code van de aanbieder"),
    (InputError("e.csv: file not found"), "niet gevonden"),
]


@pytest.mark.parametrize(("error", "words"), KNOWN)
def test_known_problems_are_told_in_dutch_with_what_to_do(error: Exception, words: str) -> None:
    problem = explain(error)
    assert words in problem.title
    assert problem.advice
    assert problem.detail == str(error)
    english = explain(error, "en")
    assert english.title != problem.title
    assert english.advice != problem.advice


@pytest.mark.parametrize(
    "error",
    [InputError("x: something new"), KeyFileError("x: odd"), DataError("odd"), ValueError("x")],
)
def test_an_unknown_problem_still_gets_dutch_words(error: Exception) -> None:
    problem = explain(error)
    assert problem.title.endswith(".")
    assert problem.advice
    assert problem.title in {
        "Het bestand kan niet gebruikt worden.",
        "Het sleutelbestand kan niet gebruikt worden.",
        "Dit lukte niet.",
    }


def test_a_foreign_error_shows_its_class_only() -> None:
    assert explain(ValueError("999993653 broke it")).detail == "ValueError"


def test_a_mapping_problem_lists_every_problem() -> None:
    problem = explain(ConfigError("mapping", ["columns.x: unknown field", "version: required"]))
    assert problem.title == "De mapping klopt niet."
    assert problem.items == ("columns.x: unknown field", "version: required")


def export_of(path: Path) -> ExportChoice:
    proposal = propose_mapping(path, required=CONTRACT["required"], accepted=CONTRACT["values"])
    columns = tuple(c.column for c in proposal.columns) + proposal.unused
    return ExportChoice(path, path.name, proposal, columns)


def test_the_saved_mapping_reads_back_as_the_same_mapping(tmp_path: Path) -> None:
    export = tmp_path / "e.csv"
    export.write_text(
        'BSN;Zorgvorm;Startdatum;Cliënt "naam"\n999993653;ambu;03/25/2024;a\n'
        "999991723;verblijf;04/01/2024;b\n"
    )
    chosen = export_of(export)
    choice = MappingChoice(
        columns={"BSN": "bsn", "Zorgvorm": "care_form", "Startdatum": "start_date"},
        date_formats={"start_date": "%m/%d/%Y"},
        values={"care_form": {"ambu": "ambulant"}},
        constants={"financing": "ZIN"},
    )
    document = mapping_document(choice, chosen)
    # a field with a value map keeps the codes left as written
    assert document["values"] == {"care_form": {"ambu": "ambulant", "verblijf": "verblijf"}}
    saved = tmp_path / "mapping.toml"
    saved.write_text(mapping_toml(document, export="e.csv"))
    assert parse_toml(saved.read_bytes(), source="m") == document
    assert load_mapping(saved) == parse_mapping(document, source=str(saved))
    assert build_mapping(choice, chosen, source=str(saved)) == load_mapping(saved)
    # next year: the saved mapping comes back as the choices
    again = initial_choice(chosen, load_mapping(saved))
    assert again.fields == choice.fields
    assert again.date_formats == {"start_date": "%m/%d/%Y"}
    assert again.values["care_form"]["ambu"] == "ambulant"
    assert again.constants == {"financing": "ZIN"}


def test_a_refused_choice_raises_the_mappings_error(tmp_path: Path) -> None:
    export = tmp_path / "e.csv"
    export.write_text("BSN;Startdatum\n999993653;03/25/2024\n")
    choice = MappingChoice(
        columns={"BSN": "bsn", "Startdatum": "start_date"},
        date_formats={"start_date": "%H:%M"},
    )
    with pytest.raises(ConfigError, match=r"date_formats\.start_date"):
        build_mapping(choice, export_of(export), source="app")
