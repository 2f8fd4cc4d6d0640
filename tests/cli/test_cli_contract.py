"""The round's contract on the command line, the column report, ``--preview``, and what the steward
checks by phone: exit codes, messages, files (none after a refusal), audit lines.

``key export-provider --contract`` embeds the contract, ``key show`` prints it, ``pseudonymise``
refuses (exit 3, no file) or warns (exit 0, a ``factlab: warning:`` line, the share in the
manifest); ``inspect`` reads a sealed file's header without a key, ``key show`` a ``.pub``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from click.testing import CliRunner, Result

import factlab.cli.keys
import factlab.cli.seal
import factlab.cli.steward  # registers the commands on main
from factlab.audit import read_audit_log
from factlab.cli import main
from factlab.errors import ConfigError, InputError, KeyFileError
from factlab.keys.recipients import load_recipient_public
from factlab.manifest import read_manifest

if TYPE_CHECKING:
    from conftest import KeyFiles

assert factlab.cli.keys  # imported for their side effect
assert factlab.cli.seal
assert factlab.cli.steward

BSNS = ("999993653", "999991723", "999995078", "999994451")

CONTRACT = """\
version = 1
round = "test-2026"
required = ["bsn", "municipality", "care_form", "financing", "start_date", "end_date"]
max_unusable_share = 0.05

[max_unusable_share_by_field]
end_date = 0.10

[values]
care_form = ["ambulant", "dagbehandeling", "verblijf", "JB/JR"]
financing = ["ZIN", "PGB"]
product_category = ["40-55", "45A*"]
"""

#: The export of the issue: its own column names, Windows-1252, dates as dd-mm-jjjj.
HEADER = (
    "Cliëntnummer;Burgerservicenummer;Geb.datum;Woonplaats gemeente;Productcode;Ingangsdatum;"
    "Einddatum;Bedrag"
)


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def error_line(result: Result) -> str:
    (line,) = [line for line in lines(result.stderr) if line.startswith("factlab: error: ")]
    assert "Traceback" not in result.output
    return line


@pytest.fixture
def contract_file(tmp_path: Path) -> Path:
    path = tmp_path / "contract.toml"
    path.write_text(CONTRACT, encoding="utf-8")
    return path


@pytest.fixture
def provider_key(key_files: KeyFiles, contract_file: Path, tmp_path: Path) -> Path:
    out = tmp_path / "keys" / "provider-contract.key"
    result = run(
        "key", "export-provider", key_files.round, "--out", out, "--contract", contract_file
    )
    assert result.exit_code == 0, result.output
    return out


def write_issue_export(
    folder: Path, *, rows: int = 40, unreadable_start: int = 0, codes: str = "45"
) -> Path:
    """The issue's export: ``unreadable_start`` rows with a start date no format reads."""
    body = [HEADER]
    for index in range(rows):
        start = "31-31-2025" if index < unreadable_start else f"{1 + index % 28:02d}-01-2025"
        body.append(f"K{index};{BSNS[index % 4]};14-03-2009;Assen;{codes};{start};;1.234,56")
    path = folder / "export.csv"
    path.write_bytes(("\r\n".join(body) + "\r\n").encode("cp1252"))
    return path


def write_mapping(folder: Path, derive: str = '"4*" = "ambulant"', extra: str = "") -> Path:
    path = folder / "mapping.toml"
    path.write_text(
        "version = 1\n"
        "[columns]\n"
        'municipality = "Woonplaats gemeente"\n'
        'product_category = "Productcode"\n'
        "[date_formats]\n"
        'start_date = "%d-%m-%Y"\n'
        'end_date = "%d-%m-%Y"\n'
        "[derive.care_form]\n"
        'from = "product_category"\n'
        f"map = {{ {derive} }}\n"
        "[constants]\n"
        'financing = "ZIN"\n' + extra,
        encoding="utf-8",
    )
    return path


def pseudonymise(export: Path, key: Path, out: Path, *extra: object) -> Result:
    return run("pseudonymise", export, "--key", key, "--provider", "P01", "--out", out, *extra)


# --- the trusted party: the contract goes out with the provider key -------------------------


def test_export_provider_embeds_the_contract_and_key_show_prints_it(
    key_files: KeyFiles, contract_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "keys" / "p.key"
    result = run(
        "key", "export-provider", key_files.round, "--out", out, "--contract", contract_file
    )
    assert result.exit_code == 0, result.output
    printed = lines(result.stdout)
    assert printed[0] == "round:       test-2026"
    assert printed[3].startswith("round contract ")
    digest = printed[3].split("(sha256 ")[1].rstrip(")")
    shown = run("key", "show", out)
    assert shown.exit_code == 0
    assert f"(sha256 {digest})" in shown.stdout
    assert "  required fields: bsn, municipality, care_form, financing, start_date, end_date" in (
        shown.stdout
    )
    assert "  unusable rows allowed per required field: 5.0 %, end_date 10.0 %" in shown.stdout
    assert "check:       " + printed[2].split()[-1] in shown.stdout
    # a key without a contract says so
    plain = run("key", "show", key_files.provider)
    assert "contract:    none" in plain.stdout


def test_a_bad_contract_is_refused_with_every_problem_and_no_key(
    key_files: KeyFiles, tmp_path: Path
) -> None:
    contract = tmp_path / "bad.toml"
    contract.write_text(
        'version = 1\nrequired = ["bsn", "gemeente"]\nmax_unusable_share = 1.5\n'
        '[values]\ncare_form = ["ambulant", "ambulant"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "keys" / "p.key"
    result = run("key", "export-provider", key_files.round, "--out", out, "--contract", contract)
    assert result.exit_code == ConfigError.exit_code
    assert "3 problem(s)" in error_line(result)
    assert not out.exists()


def test_a_contract_of_another_round_is_refused(
    key_files: KeyFiles, contract_file: Path, tmp_path: Path
) -> None:
    contract_file.write_text(CONTRACT.replace("test-2026", "other-2026"), encoding="utf-8")
    out = tmp_path / "keys" / "p.key"
    result = run(
        "key", "export-provider", key_files.round, "--out", out, "--contract", contract_file
    )
    assert result.exit_code == KeyFileError.exit_code
    assert "the contract is for round 'other-2026'" in error_line(result)
    assert not out.exists()


def test_an_edited_contract_makes_the_key_unusable(provider_key: Path, tmp_path: Path) -> None:
    document = json.loads(provider_key.read_text(encoding="utf-8"))
    document["contract"]["required"] = ["bsn"]  # a steward's system "simplifies" the round
    provider_key.write_text(json.dumps(document), encoding="utf-8")
    export = write_issue_export(tmp_path)
    out = tmp_path / "P01.parquet"
    result = pseudonymise(export, provider_key, out)
    assert result.exit_code == KeyFileError.exit_code
    assert "key file altered" in error_line(result)
    assert not out.exists()


# --- the steward: refusals ------------------------------------------------------------------


def test_a_required_field_without_a_column_is_refused(
    provider_key: Path, tmp_path: Path, audit_log: Path
) -> None:
    # the issue: Woonplaats gemeente and Productcode were dropped without a word
    export = write_issue_export(tmp_path)
    out = tmp_path / "P01.parquet"
    result = pseudonymise(export, provider_key, out)
    assert result.exit_code == InputError.exit_code
    message = error_line(result)
    assert "the round's contract refuses this file, nothing was written" in message
    assert "the round requires municipality, care_form, financing" in message
    assert "columns not used: Cliëntnummer, Woonplaats gemeente, Productcode" in message
    assert "mapping" in message  # says what to do
    # the column report comes first, so the steward sees what was read
    assert "  bsn <- Burgerservicenummer" in result.stderr
    assert "  dropped: Cliëntnummer, Woonplaats gemeente, Productcode" in result.stderr
    assert not out.exists()
    (event,) = read_audit_log(audit_log)
    assert event["outcome"] == "error"
    assert event["error"]["class"] == "ContractRefused"
    assert event["details"]["contract_sha256"]


def test_unreadable_dates_are_refused(provider_key: Path, tmp_path: Path) -> None:
    # the issue: a wrong date format left all start dates unreadable, exit 0
    export = write_issue_export(tmp_path)
    mapping = write_mapping(tmp_path)
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace("%d-%m-%Y", "%Y-%m-%d"), encoding="utf-8"
    )
    out = tmp_path / "P01.parquet"
    result = pseudonymise(export, provider_key, out, "--mapping", mapping)
    assert result.exit_code == InputError.exit_code
    message = error_line(result)
    assert "start_date: 40 row(s) (100.0 %) cannot be used: 40 unreadable" in message
    assert "[date_formats] start_date" in message
    assert "01-2025" not in message  # never a value
    assert not out.exists()


def test_a_code_list_that_matches_nothing_is_refused(provider_key: Path, tmp_path: Path) -> None:
    # the issue: a code list that matched nothing left all care forms unmapped, exit 0
    export = write_issue_export(tmp_path, codes="45A01")
    mapping = write_mapping(tmp_path, derive='"41" = "dagbehandeling", "43" = "verblijf"')
    out = tmp_path / "P01.parquet"
    result = pseudonymise(export, provider_key, out, "--mapping", mapping)
    assert result.exit_code == InputError.exit_code
    message = error_line(result)
    assert "care_form: 40 row(s) (100.0 %) cannot be used: 40 unmapped" in message
    assert "[derive.care_form]" in message
    assert "45A01" not in message
    # what was not mapped is listed above the error, for the steward to map
    assert '  care_form (from Productcode), 40 row(s): "45A01" 40' in result.stderr
    assert not out.exists()


# --- the steward: below the share, a warning and the share in the manifest ------------------


def test_a_few_unusable_values_are_warned_and_recorded(provider_key: Path, tmp_path: Path) -> None:
    export = write_issue_export(tmp_path, unreadable_start=2)
    mapping = write_mapping(tmp_path)
    out = tmp_path / "P01.parquet"
    result = pseudonymise(export, provider_key, out, "--mapping", mapping)
    assert result.exit_code == 0, result.output
    summary = lines(result.stderr)
    warning = [line for line in summary if line.startswith("factlab: warning: ")]
    assert warning == [
        "factlab: warning: start_date: 2 row(s) (5.0 %) cannot be used: 2 unreadable "
        "(first rows: 1, 2); the round allows 5.0 %: give the dates' format in the mapping "
        '([date_formats] start_date = "%d-%m-%Y", say)'
    ]
    assert any(line.startswith("round contract ") and ": met" in line for line in summary)
    # every column and what became of it
    assert "  municipality <- Woonplaats gemeente" in summary
    assert (
        "  care_form, product_category <- Productcode (care_form through [derive.care_form])"
        in (summary)
    )
    assert '  financing = "ZIN" (a constant of the mapping)' in summary
    assert "  dropped: Cliëntnummer" in summary
    manifest = read_manifest(out)
    assert manifest.contract is not None
    check = manifest.contract["check"]["start_date"]
    assert (check["rows"], check["share"]) == (2, 0.05)
    assert manifest.columns[0] == {"column": "Cliëntnummer", "fields": []}

    shown = run("inspect", out)
    assert shown.exit_code == 0
    assert "  bsn <- Burgerservicenummer" in shown.stdout
    assert "  dropped: Cliëntnummer" in shown.stdout
    assert "start_date: 2 row(s) (5.0 %) cannot be used" in shown.stdout
    as_json = json.loads(run("inspect", out, "--json").stdout)
    assert as_json["columns"] == manifest.columns
    assert as_json["contract"]["sha256"] == manifest.contract["sha256"]


def test_without_a_contract_the_run_is_as_before(key_files: KeyFiles, tmp_path: Path) -> None:
    export = write_issue_export(tmp_path, unreadable_start=40)
    out = tmp_path / "P01.parquet"
    result = pseudonymise(export, key_files.provider, out)
    assert result.exit_code == 0, result.output
    assert "factlab: warning" not in result.stderr
    assert "round contract" not in result.stderr
    assert read_manifest(out).contract is None
    # the columns are still told: nothing is dropped silently
    assert "  dropped: Cliëntnummer, Woonplaats gemeente, Productcode" in result.stderr


# --- --preview ------------------------------------------------------------------------------


def test_preview_shows_everything_and_writes_nothing(
    provider_key: Path, tmp_path: Path, audit_log: Path
) -> None:
    export = write_issue_export(tmp_path, unreadable_start=1)
    mapping = write_mapping(tmp_path)
    out = tmp_path / "P01.parquet"
    before = sorted(p.name for p in tmp_path.iterdir())
    result = pseudonymise(export, provider_key, out, "--mapping", mapping, "--preview")
    assert result.exit_code == 0, result.output
    shown = result.stdout
    assert shown.startswith("preview of export.csv: nothing is written")
    assert f"mapping: {mapping}" in shown
    assert "  municipality <- Woonplaats gemeente" in shown  # the mapping, as applied
    assert "rows: 40" in shown  # the quality summary
    assert "round contract " in shown
    assert "pseudonymise would write this file" in shown
    table = shown.split("as they would be written:\n")[1].splitlines()
    assert table[0].startswith("| pseudonym ")
    assert len(table) == 2 + 10  # header, rule, ten rows
    assert "| Assen " in table[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    (event,) = read_audit_log(audit_log)
    assert event["arguments"]["preview"] is True
    assert event["outputs"] == []
    assert event["outcome"] == "ok"
    assert event["details"]["would_be_refused"] is False


def test_preview_of_a_file_that_would_be_refused(provider_key: Path, tmp_path: Path) -> None:
    export = write_issue_export(tmp_path)
    result = run("pseudonymise", export, "--key", provider_key, "--provider", "P01", "--preview")
    assert result.exit_code == 0, result.output
    assert "pseudonymise would REFUSE this file, and write nothing:" in result.stdout
    assert "the round requires municipality, care_form, financing" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contract.toml", "export.csv", "keys"]


def test_out_is_needed_without_preview(provider_key: Path, tmp_path: Path) -> None:
    export = write_issue_export(tmp_path)
    result = run("pseudonymise", export, "--key", provider_key, "--provider", "P01")
    assert result.exit_code == 2
    assert "--out" in result.output


# --- what the steward hands over, checked by phone -----------------------------------------


def test_key_show_reads_a_recipients_public_key(tmp_path: Path) -> None:
    made = run("key", "new-recipient", "ttp-2026", "--out-dir", tmp_path)
    assert made.exit_code == 0, made.output
    told = dict(line.split(":", 1) for line in lines(made.stdout))["key id"].strip()
    result = run("key", "show", tmp_path / "ttp-2026.pub")
    assert result.exit_code == 0, result.output
    assert "recipient:   ttp-2026" in result.stdout
    assert f"key id:      {told}" in result.stdout
    assert told == load_recipient_public(tmp_path / "ttp-2026.pub").key_id
    private = run("key", "show", tmp_path / "ttp-2026.recipient.key")
    assert private.exit_code == 0
    assert f"key id:      {told}" in private.stdout
    assert "private_key" not in private.stdout  # the secret's field is never shown


def test_a_pub_file_whose_key_id_was_changed_is_refused(tmp_path: Path) -> None:
    run("key", "new-recipient", "ttp", "--out-dir", tmp_path)
    public = tmp_path / "ttp.pub"
    document = json.loads(public.read_text(encoding="utf-8"))
    document["key_id"] = "0000-" + document["key_id"][5:]
    public.write_text(json.dumps(document), encoding="utf-8")
    result = run("key", "show", public)
    assert result.exit_code == KeyFileError.exit_code
    assert "key id does not match the public key" in error_line(result)


def test_inspect_reads_a_sealed_file_without_the_private_key(
    provider_key: Path, tmp_path: Path
) -> None:
    export = write_issue_export(tmp_path)
    mapping = write_mapping(tmp_path)
    out = tmp_path / "P01.parquet"
    assert pseudonymise(export, provider_key, out, "--mapping", mapping).exit_code == 0
    recipients = tmp_path / "ttp"
    recipients.mkdir()
    run("key", "new-recipient", "ttp", "--out-dir", recipients)
    sealed = tmp_path / "P01.sealed"
    assert run("seal", out, "--to", recipients / "ttp.pub", "--out", sealed).exit_code == 0
    (recipients / "ttp.recipient.key").unlink()  # the steward never has it
    key_id = load_recipient_public(recipients / "ttp.pub").key_id

    result = run("inspect", sealed)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"sealed for:      ttp (recipient key id {key_id})" in text
    assert "provider:        P01" in text
    assert "round:           test-2026" in text
    assert "rows:            40" in text
    assert "distinct pseudonyms: 4; rows sharing a pseudonym: 40" in text
    assert "  bsn <- Burgerservicenummer" in text
    document = json.loads(run("inspect", sealed, "--json").stdout)
    assert document["recipient"] == {"name": "ttp", "key_id": key_id}
    assert document["verified"] is False
    assert document["manifest"] == json.loads(read_manifest(out).to_json())
    assert pl.read_parquet(out).height == 40


def test_preview_names_a_missing_output_folder(provider_key: Path, tmp_path: Path) -> None:
    export = write_issue_export(tmp_path)
    out = tmp_path / "missing" / "P01.parquet"
    result = pseudonymise(export, provider_key, out, "--preview")
    assert result.exit_code == InputError.exit_code
    assert error_line(result) == f"factlab: error: {out}: the output folder does not exist"
