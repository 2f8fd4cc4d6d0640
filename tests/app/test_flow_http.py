"""The app's flow over HTTP (Starlette's test client): keys, export, mapping, preview, delivery;
what it writes, what it refuses, and that it shows no BSN, key or passphrase."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from app_helpers import App, Round, cli_delivery, linked_counts, make_round

from factlab.audit import read_audit_log
from factlab.keys.round_keys import Key

#: The test export's mapping, written by hand (review 17/20 #13: not the app's own output).
HAND_MAPPING = """\
version = 1
[columns]
bsn = "BSN"
municipality = "Gemeente"
care_form = "Zorgvorm"
financing = "Financiering"
start_date = "Startdatum"
[date_formats]
start_date = "%m/%d/%Y"
[values.care_form]
ambu = "ambulant"
ambulant = "ambulant"
verblijf = "verblijf"
dagbehandeling = "dagbehandeling"
"""


def plain_valid_bsn(text: str) -> bool:
    """The elfproef in plain Python, without the sentinels."""
    if len(text) != 9 or not text.isdigit() or text in ("000000000", "999999999"):
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(text, weights, strict=True)) % 11 == 0


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def load_keys(app: App, round_: Round, passphrase: str = "") -> str:
    response = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "key": str(round_.key),
            "recipient": str(round_.pub),
            "provider": "P01",
            "passphrase": passphrase,
        },
    )
    assert response.status_code == 200, text_of(response.text)
    return response.text


def choose_export(app: App, path: Path) -> str:
    response = app.client.post("/export", data={"csrf": app.secrets.csrf, "path": str(path)})
    return response.text


def mapping_form(app: App, **changes: str) -> dict[str, str]:
    """The mapping form as the page shows it (every select at its selected option), changed."""
    page = app.client.get("/mapping").text
    form = {"csrf": app.secrets.csrf}
    for name, options in re.findall(r"<select name='([^']+)'[^>]*>(.*?)</select>", page):
        chosen = re.search(r"<option value='([^']*)' selected>", options)
        form[name] = chosen.group(1) if chosen else ""
    for name, options in re.findall(r"<select id='[^']+' name='([^']+)'>(.*?)</select>", page):
        chosen = re.search(r"<option value='([^']*)' selected>", options)
        form[name] = chosen.group(1) if chosen else ""
    form.update(changes)
    return form


def code_field(app: App, field: str, value: str) -> str:
    export = app.state.export
    assert export is not None
    codes = next(codes for codes in export.proposal.codes if codes.field == field)
    index = next(i for i, code in enumerate(codes.codes) if code.value == value)
    return f"code-{field}-{index}"


def fixed_form(app: App) -> dict[str, str]:
    """The two fixes of the test export: 'ambu' is 'ambulant', dates are month first."""
    return mapping_form(
        app,
        **{code_field(app, "care_form", "ambu"): "ambulant", "date-start_date": "%m/%d/%Y"},
    )


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_the_whole_flow_delivers_what_the_command_line_delivers(
    app: App, app_round: Round, tmp_path: Path
) -> None:
    load_keys(app, app_round)
    page = choose_export(app, app_round.export)
    assert "niet geaccepteerd door de ronde" in page
    # unfixed: the preview says the round would refuse the file, and the button is disabled
    unfixed = mapping_form(app, action="preview")
    response = app.client.post("/mapping", data=unfixed)
    assert response.url.path == "/preview"
    assert "De ronde zou dit bestand weigeren" in response.text
    assert "zet de codes om naar de waarden van de ronde" in response.text  # care form
    assert "kies de datumnotatie" in response.text  # start dates read day first
    assert "id='deliver' disabled" in response.text
    # fixed: the preview is clean
    response = app.client.post("/mapping", data={**fixed_form(app), "action": "preview"})
    assert response.url.path == "/preview", text_of(response.text)
    assert "Dit bestand kan geleverd worden" in response.text
    assert "id='deliver' disabled" not in response.text
    response = app.client.post(
        "/deliver", data={"csrf": app.secrets.csrf, "folder": str(app_round.out)}
    )
    delivery = app.state.delivery
    assert delivery is not None
    delivery.wait(60)
    done = app.client.get("/delivery").text
    assert "De levering is klaar" in done, text_of(done)
    assert files_in(app_round.out) == ["P01.parquet", "P01.sealed", "P01.sealed.manifest.json"]
    for path in app_round.out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    mapping = app_round.key.parent / "mapping-P01.toml"
    assert mapping.is_file()
    assert str(mapping) in text_of(done)
    # the command line with a mapping written by hand (not the one the app saved), on the same
    # export, counts the same; and the clients are the export's valid BSNs, counted in Python
    cli_folder = tmp_path / "cli"
    cli_folder.mkdir()
    by_hand = tmp_path / "by-hand.toml"
    by_hand.write_text(HAND_MAPPING, encoding="utf-8")
    cli_sealed = cli_delivery(app_round, by_hand, cli_folder)
    (tmp_path / "trusted").mkdir()
    app_counts = linked_counts(app_round, app_round.out / "P01.sealed", tmp_path / "trusted")
    cli_counts = linked_counts(app_round, cli_sealed, cli_folder)
    assert app_counts == cli_counts
    assert app_counts["registrations"] == 200
    lines = app_round.export.read_text(encoding="utf-8").splitlines()[1:]
    valid = {line.split(";")[0] for line in lines if plain_valid_bsn(line.split(";")[0])}
    assert app_counts["unique_clients"] == len(valid)


def test_the_audit_log_gets_the_command_lines_and_progress_is_reported(
    app: App, app_round: Round, audit_log: Path
) -> None:
    assert app.client.get("/progress").json() == {"state": "none"}
    load_keys(app, app_round)
    choose_export(app, app_round.export)
    app.client.post("/mapping", data={**fixed_form(app), "action": "preview"})
    app.client.post(
        "/deliver",
        data={"csrf": app.secrets.csrf, "folder": str(app_round.out)},
        follow_redirects=False,
    )
    status = app.client.get("/progress").json()
    assert status["state"] in ("running", "done")
    assert status["steps"] == 3
    assert status["label"]
    assert app.state.delivery is not None
    app.state.delivery.wait(60)
    assert app.client.get("/progress").json()["state"] == "done"
    lines = read_audit_log(audit_log)
    assert [(line["command"], line["outcome"]) for line in lines] == [
        ("pseudonymise", "ok"),
        ("pseudonymise", "ok"),
        ("seal", "ok"),
    ]
    preview, written, sealed = lines
    assert preview["arguments"]["preview"] is True
    assert preview["outputs"] == []
    assert written["arguments"]["out"] == str(app_round.out / "P01.parquet")
    assert written["inputs"][0]["sha256"] is not None
    assert written["key_fingerprint"] == app.state.keys.key.fingerprint  # type: ignore[union-attr]
    assert {entry["path"] for entry in sealed["outputs"]} == {
        str(app_round.out / "P01.sealed"),
        str(app_round.out / "P01.sealed.manifest.json"),
    }
    assert sealed["details"]["recipient_key_id"] == app.state.keys.recipient.key_id  # type: ignore[union-attr]


def test_a_required_field_without_a_column_cannot_go_on(app: App, app_round: Round) -> None:
    load_keys(app, app_round)
    choose_export(app, app_round.export)
    export = app.state.export
    assert export is not None
    municipality = f"col-{export.columns.index('Gemeente')}"
    form = {**fixed_form(app), municipality: "", "action": "preview"}
    response = app.client.post("/mapping", data=form)
    assert response.status_code == 400
    assert "Verplichte velden zonder kolom: gemeente" in response.text
    assert "id='continue' disabled" in response.text
    assert "data-required='municipality' class='unmet'" in response.text
    assert app.state.preview is None
    assert app.client.get("/preview", follow_redirects=False).status_code == 303
    # a column chosen for two fields is refused too
    form = {**fixed_form(app), municipality: "care_form", "action": "preview"}
    response = app.client.post("/mapping", data=form)
    assert response.status_code == 400
    assert "meer dan één kolom" in response.text


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("export.docx", b"BSN;Gemeente\n", "Dit soort bestand kan factlab niet lezen"),
        ("empty.csv", b"", "De export bevat geen gegevens"),
        ("quote.csv", b'BSN;Gemeente\n"999993653;Assen\n', "past niet bij de andere regels"),
        ("missing.csv", None, "Het bestand is niet gevonden"),
    ],
)
def test_a_bad_export_is_explained_and_nothing_is_written(
    app: App, app_round: Round, tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    load_keys(app, app_round)
    folder = tmp_path / "bad"
    folder.mkdir()
    path = folder / name
    if content is not None:
        path.write_bytes(content)
    before = files_in(tmp_path)
    response = app.client.post("/export", data={"csrf": app.secrets.csrf, "path": str(path)})
    assert response.status_code == 400
    assert expected in response.text
    assert "Wat u kunt doen:" in response.text
    assert app.state.export is None
    assert files_in(tmp_path) == before


def test_a_delivery_into_a_folder_with_the_files_is_refused_and_writes_nothing(
    app: App, app_round: Round
) -> None:
    load_keys(app, app_round)
    choose_export(app, app_round.export)
    app.client.post("/mapping", data={**fixed_form(app), "action": "preview"})
    (app_round.out / "P01.sealed").write_bytes(b"earlier")
    app.client.post("/deliver", data={"csrf": app.secrets.csrf, "folder": str(app_round.out)})
    assert app.state.delivery is not None
    app.state.delivery.wait(60)
    page = app.client.get("/delivery")
    assert page.status_code == 400
    assert "Er staat al een bestand met die naam" in page.text
    assert files_in(app_round.out) == ["P01.sealed"]
    assert (app_round.out / "P01.sealed").read_bytes() == b"earlier"
    missing = app.client.post(
        "/deliver", data={"csrf": app.secrets.csrf, "folder": str(app_round.out / "nope")}
    )
    assert missing.status_code == 400
    assert "De map voor het resultaat bestaat niet" in missing.text


def test_an_upload_is_removed_after_the_delivery_and_its_mapping_proposed_again(
    app: App, app_round: Round
) -> None:
    load_keys(app, app_round)
    response = app.client.post(
        "/upload",
        data={"csrf": app.secrets.csrf},
        files={"export": ("../../Cliënten 2026.csv", app_round.export.read_bytes(), "text/csv")},
    )
    assert response.url.path == "/mapping", text_of(response.text)
    export = app.state.export
    assert export is not None
    assert app.state.private in export.path.parents
    assert export.path.name == "Cli_nten_2026.csv"
    assert stat.S_IMODE(export.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(export.path.parent.stat().st_mode) == 0o700
    assert "Cliënten 2026.csv" in response.text
    app.client.post("/mapping", data={**fixed_form(app), "action": "preview"})
    app.client.post("/deliver", data={"csrf": app.secrets.csrf, "folder": str(app_round.out)})
    assert app.state.delivery is not None
    app.state.delivery.wait(60)
    assert "De levering is klaar" in app.client.get("/delivery").text
    assert not export.path.exists()
    # another delivery: the mapping saved with this one is proposed again
    app.client.post("/restart", data={"csrf": app.secrets.csrf})
    choose_export(app, app_round.export)
    form = mapping_form(app)
    assert form[code_field(app, "care_form", "ambu")] == "ambulant"
    assert form["date-start_date"] == "%m/%d/%Y"


def test_the_settings_beside_the_key_hold_paths_only_and_fill_the_next_start(
    app: App, app_round: Round, key_secret_forms: Callable[[Key], list[str]]
) -> None:
    load_keys(app, app_round)
    settings = app_round.key.parent / "factlab-app.toml"
    text = settings.read_text()
    assert str(app_round.pub.resolve()) in text
    assert 'provider = "P01"' in text
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    assert not any(form in text for form in key_secret_forms(app_round.round_key))
    app.state.keys = None  # a new start: the key remembered, the rest from beside it
    page = app.client.get("/keys").text
    assert f"value='{app_round.key.resolve()}'" in page
    assert f"value='{app_round.pub.resolve()}'" in page
    assert "value='P01'" in page


def test_no_bsn_key_or_passphrase_in_any_response_or_log(
    tmp_path: Path,
    test_bsns: tuple[str, ...],
    app: App,
    key_secret_forms: Callable[[Key], list[str]],
    audit_log: Path,
    fast_argon2: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    passphrase = "correct horse battery staple 17"
    round_ = make_round(tmp_path / "protected", test_bsns, passphrase=passphrase)
    pages = []
    wrong = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "key": str(round_.key),
            "recipient": str(round_.pub),
            "provider": "P01",
            "passphrase": "not it at all",
        },
    )
    assert wrong.status_code == 400
    assert "De wachtwoordzin klopt niet" in wrong.text
    pages.append(wrong.text)
    pages.append(load_keys(app, round_, passphrase))
    pages.append(choose_export(app, round_.export))
    pages.append(app.client.post("/mapping", data={**fixed_form(app), "action": "preview"}).text)
    pages.append(app.client.get("/preview").text)
    app.client.post("/deliver", data={"csrf": app.secrets.csrf, "folder": str(round_.out)})
    assert app.state.delivery is not None
    app.state.delivery.wait(60)
    pages.append(app.client.get("/progress").text)
    pages.append(app.client.get("/delivery").text)
    pages.append(app.client.get("/static/app.js").text)
    logs = caplog.text + "".join(capfd.readouterr())
    settings = (
        "".join(path.read_text() for path in round_.key.parent.glob("*.toml"))
        + (round_.out / "P01.sealed.manifest.json").read_text()
    )
    everything = "\n".join([*pages, logs, audit_log.read_text(), settings])
    assert "De levering is klaar" in pages[-2]
    export_bsns = {line.split(";")[0] for line in round_.export.read_text().splitlines()[1:]}
    assert export_bsns
    leaked = [bsn for bsn in export_bsns if bsn in everything]
    assert leaked == []
    assert passphrase not in everything
    assert not any(form in everything for form in key_secret_forms(round_.round_key))
    assert app.secrets.token not in everything


def test_the_language_switches_to_english_with_one_click(app: App, app_round: Round) -> None:
    load_keys(app, app_round)
    response = app.client.post(
        "/lang", data={"csrf": app.secrets.csrf, "lang": "en", "next": "/keys"}
    )
    assert "<html lang='en'>" in response.text
    assert "Check these by phone with the trusted party" in response.text
    back = app.client.post("/lang", data={"csrf": app.secrets.csrf, "lang": "nl", "next": "/keys"})
    assert "Controleer deze telefonisch bij de vertrouwde partij" in back.text


def test_key_files_others_may_read_are_explained(app: App, app_round: Round) -> None:
    os.chmod(app_round.key, 0o644)
    response = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "key": str(app_round.key),
            "recipient": str(app_round.pub),
            "provider": "P01",
            "passphrase": "",
        },
    )
    assert response.status_code == 400
    assert "Andere gebruikers van deze computer kunnen het sleutelbestand lezen" in response.text


def test_checking_the_choices_shows_a_date_format_for_a_column_made_a_date(
    app: App, app_round: Round
) -> None:
    load_keys(app, app_round)
    choose_export(app, app_round.export)
    export = app.state.export
    assert export is not None
    assert "date-end_date" not in app.client.get("/mapping").text
    name = f"col-{export.columns.index('Naam')}"
    response = app.client.post("/mapping", data={**fixed_form(app), name: "end_date"})
    assert response.status_code == 200  # checked, not sent on
    assert "<select id='date-end_date' name='date-end_date'>" in response.text
    assert app.state.preview is None


def test_a_key_file_the_group_may_read_loads_with_a_dutch_warning(
    app: App, app_round: Round
) -> None:
    os.chmod(app_round.key, 0o640)
    load_keys(app, app_round)
    page = app.client.get("/keys").text
    assert "Andere gebruikers van deze computer kunnen het sleutelbestand lezen" in page
    assert "chmod 600" in page


def test_another_round_key_forgets_the_export_and_its_preview(
    app: App, app_round: Round, tmp_path: Path, test_bsns: tuple[str, ...]
) -> None:
    load_keys(app, app_round)
    choose_export(app, app_round.export)
    app.client.post("/mapping", data={**fixed_form(app), "action": "preview"})
    assert app.state.preview is not None
    load_keys(app, app_round)  # the same keys again: the export stays, the preview is redone
    assert app.state.export is not None
    assert app.state.preview is None
    other = make_round(tmp_path / "other", test_bsns, rows=5)
    load_keys(app, other)
    assert app.state.export is None
    assert app.client.get("/mapping", follow_redirects=False).headers["location"] == "/export"


def test_a_cost_column_holding_bsns_is_refused_and_never_shown(
    app: App, app_round: Round, test_bsns: tuple[str, ...], tmp_path: Path
) -> None:
    # review 17/20 #1: a number column of BSNs mapped to cost reached the preview and the file
    bsns = test_bsns[:20]
    export = tmp_path / "bedrag.csv"
    export.write_text(
        "BSN;Gemeente;Zorgvorm;Financiering;Startdatum;Bedrag\n"
        + "".join(f"{bsn};Assen;ambulant;ZIN;2024-01-02;{bsn}\n" for bsn in bsns)
    )
    load_keys(app, app_round)
    pages = [choose_export(app, export)]
    state_export = app.state.export
    assert state_export is not None
    cost = f"col-{state_export.columns.index('Bedrag')}"
    form = mapping_form(app, **{cost: "cost", "date-start_date": "%Y-%m-%d", "action": "preview"})
    response = app.client.post("/mapping", data=form)
    pages += [response.text, app.client.get("/preview").text]
    assert "op een BSN lijkt" in response.text, text_of(response.text)
    assert app.state.preview is None
    response = app.client.post(
        "/deliver", data={"csrf": app.secrets.csrf, "folder": str(app_round.out)}
    )
    pages.append(response.text)
    assert app.state.delivery is None
    everything = "\n".join(pages)
    assert not any(bsn in everything or bsn[1:] in everything for bsn in bsns)
    assert files_in(app_round.out) == []


def test_the_preview_masks_a_long_number_as_the_command_does(
    app: App, app_round: Round, test_bsns: tuple[str, ...], tmp_path: Path
) -> None:
    export = tmp_path / "bedrag.csv"
    export.write_text(
        "BSN;Gemeente;Zorgvorm;Financiering;Startdatum;Bedrag\n"
        + "".join(f"{bsn};Assen;ambulant;ZIN;2024-01-02;123456789\n" for bsn in test_bsns[:5])
    )
    load_keys(app, app_round)
    choose_export(app, export)
    state_export = app.state.export
    assert state_export is not None
    cost = f"col-{state_export.columns.index('Bedrag')}"
    form = mapping_form(app, **{cost: "cost", "date-start_date": "%Y-%m-%d", "action": "preview"})
    page = app.client.post("/mapping", data=form).text
    assert "*******.0" in page, text_of(page)
    assert "23456789" not in page


def test_a_provider_code_refused_as_a_bsn_is_not_sent_back(app: App, app_round: Round) -> None:
    # review 17/20 #15: the refused code was echoed into the form's value=
    response = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "key": str(app_round.key),
            "recipient": str(app_round.pub),
            "provider": "999993653",
            "passphrase": "",
        },
    )
    assert response.status_code == 400
    assert "999993653" not in response.text
    assert "id='provider' name='provider' value=''" in response.text
    # another refusal keeps what was typed
    other = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "key": str(app_round.key),
            "recipient": str(app_round.pub),
            "provider": "P 01",
            "passphrase": "",
        },
    )
    assert other.status_code == 400
    assert "value='P 01'" in other.text


def test_counts_are_grouped_as_the_page_language_writes_them(
    app: App, test_bsns: tuple[str, ...], tmp_path: Path
) -> None:
    # review 17/20 #17: the Dutch pages said "1,200 rijen"
    round_ = make_round(tmp_path / "big", test_bsns, rows=1200)
    load_keys(app, round_)
    page = choose_export(app, round_.export)
    assert "1.200 rijen" in text_of(page)
    assert "1,200" not in page
    response = app.client.post(
        "/lang", data={"csrf": app.secrets.csrf, "lang": "en", "next": "/mapping"}
    )
    assert "1,200 rows" in text_of(response.text)


def test_the_app_and_the_command_line_write_the_same_audit_details(
    app: App, app_round: Round, tmp_path: Path, audit_log: Path
) -> None:
    # review 17/20 #6: the app copied the command's audit lines, and left out some details
    load_keys(app, app_round)
    choose_export(app, app_round.export)
    app.client.post("/mapping", data={**fixed_form(app), "action": "preview"})
    app.client.post("/deliver", data={"csrf": app.secrets.csrf, "folder": str(app_round.out)})
    assert app.state.delivery is not None
    app.state.delivery.wait(60)
    mapping = app_round.key.parent / "mapping-P01.toml"
    cli_folder = tmp_path / "cli"
    cli_folder.mkdir()
    cli_delivery(app_round, mapping, cli_folder)
    preview, app_written, app_sealed, cli_written, cli_sealed = read_audit_log(audit_log)

    def facts(line: dict[str, object]) -> tuple[object, ...]:
        details = dict(line["details"])  # type: ignore[call-overload]
        details.pop("face", None)
        return line["command"], details, line["rows"], line["key_fingerprint"]

    assert facts(app_written) == facts(cli_written)
    assert facts(app_sealed) == facts(cli_sealed)
    assert "contract_sha256" in app_written["details"]
    assert app_written["details"]["face"] == "app"
    # review #16: the mapping came from the page; the file it was saved to is said apart
    assert preview["arguments"]["mapping"] == "app form"
    assert app_written["arguments"]["mapping"] == "app form"
    assert app_written["arguments"]["mapping_saved_to"] == str(mapping)
    assert cli_written["arguments"]["mapping"] == str(mapping)
