"""A blind round in the app (issue 21): the service configuration instead of a provider key, the
key services asked at the delivery only, their refusals in plain words, and nothing secret in any
page or log. The key services are real ones, started on 127.0.0.1 (tests/keyservice_helpers.py).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from app_helpers import App, Round
from click.testing import CliRunner
from keyservice_helpers import Running, enrol, start, two_shares
from test_flow_http import HAND_MAPPING, files_in, fixed_form, text_of

from factlab import schema
from factlab.app.problems import explain
from factlab.cli import main
from factlab.errors import ConfigError, ServiceError
from factlab.keys.blind import BlindRound
from factlab.manifest import read_manifest

ROUND = "app-blind-2026"
QUOTA = 5_000


@dataclass
class Blind:
    """A blind round on the steward's computer: the services, the configuration, the export."""

    round: Round
    config: Path
    services: list[Running]

    @property
    def tokens(self) -> list[str]:
        return [service.tokens["P01"] for service in self.services]


def write_config(folder: Path, services: list[Running]) -> Path:
    """The steward's service configuration, with a token file per service (mode 0600)."""
    shares = tuple(service.share.public_share for service in services)
    public = BlindRound(ROUND, shares).public_key.hex()
    tables = ""
    for service in services:
        name = service.share.service
        token = folder / f"P01-{name}.token"
        token.write_text(service.tokens["P01"] + "\n")
        os.chmod(token, 0o600)
        tables += (
            f'[[services]]\nname = "{name}"\nurl = "{service.url}"\n'
            f'public_share = "{service.share.public_share.hex()}"\n'
            f'token_file = "{token.name}"\n\n'
        )
    config = folder / "services-2026.toml"
    config.write_text(
        f'version = 1\nround = "{ROUND}"\npublic_key = "{public}"\n\n{tables}'
        "[client]\nretries = 0\ntimeout = 10\nworkers = 1\nbatch_size = 100\n"
    )
    return config


@pytest.fixture
def blind(app_round: Round, tmp_path: Path) -> Iterator[Blind]:
    running: list[Running] = []
    try:
        for share in two_shares(ROUND):
            service = start(share, tmp_path / f"{share.service}.sqlite")
            running.append(service)
            enrol(service, "P01", ROUND, QUOTA)
        config = write_config(app_round.key.parent, running)
        yield Blind(app_round, config, running)
    finally:
        for service in running:
            if service.running:
                service.stop()


def load_blind(app: App, blind: Blind) -> str:
    response = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "source": "blind",
            "key": "",
            "services": str(blind.config),
            "recipient": str(blind.round.pub),
            "provider": "P01",
            "passphrase": "",
        },
    )
    assert response.status_code == 200, text_of(response.text)
    return response.text


def to_preview(app: App, blind: Blind) -> str:
    app.client.post("/export", data={"csrf": app.secrets.csrf, "path": str(blind.round.export)})
    response = app.client.post("/mapping", data={**fixed_form(app), "action": "preview"})
    assert response.url.path == "/preview", text_of(response.text)
    return response.text


def deliver(app: App, blind: Blind, folder: Path | None = None) -> str:
    folder = folder or blind.round.out
    app.client.post("/deliver", data={"csrf": app.secrets.csrf, "folder": str(folder)})
    assert app.state.delivery is not None
    app.state.delivery.wait(120)
    return app.client.get("/delivery").text


def valid_bsns(export: Path) -> set[str]:
    from test_flow_http import plain_valid_bsn

    lines = export.read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(";")[0] for line in lines if plain_valid_bsn(line.split(";")[0])}


def test_a_blind_delivery_gives_what_the_command_line_gives(
    app: App, blind: Blind, tmp_path: Path
) -> None:
    page = load_blind(app, blind)
    keys = app.state.keys
    assert keys is not None
    assert keys.blind is not None
    shown = text_of(page)
    assert ROUND in shown
    assert keys.blind.key_id in shown
    assert keys.blind.fingerprint in shown
    assert "gedeeld over twee sleuteldiensten" in shown
    for service in blind.services:
        assert service.url in shown
    assert "Sleuteldienst 1 A:" in shown
    assert "Sleuteldienst 2 B:" in shown
    assert "Bij de levering vraagt de app de sleuteldiensten om de pseudoniemen" in shown
    assert "nooit een BSN" in shown
    assert "Dit is het enige dat de app buiten deze computer verstuurt" in shown
    # the preview asks no service: nothing is charged, and the page says so
    preview = text_of(to_preview(app, blind))
    assert "deze proefdraai heeft de sleuteldiensten niets gevraagd" in preview
    assert "bekend na de levering" in preview
    assert "Bij de levering vraagt de app de sleuteldiensten" in preview  # beside the button
    for service in blind.services:
        assert service.store.usage("P01", ROUND) == (0, QUOTA)
    done = deliver(app, blind)
    assert "De levering is klaar" in done, text_of(done)
    assert "gedeeld over twee sleuteldiensten (A, B)" in text_of(done)
    assert files_in(blind.round.out) == ["P01.parquet", "P01.sealed", "P01.sealed.manifest.json"]
    # the progress counted the distinct BSNs the services answered
    distinct = len(valid_bsns(blind.round.export))
    status = app.client.get("/progress").json()
    assert (status["answered"], status["to_answer"]) == (distinct, distinct)
    for service in blind.services:
        assert service.store.usage("P01", ROUND) == (distinct, QUOTA)
    # the command line on the same export, with a mapping written by hand
    by_hand = tmp_path / "by-hand.toml"
    by_hand.write_text(HAND_MAPPING, encoding="utf-8")
    cli_out = tmp_path / "cli" / "P01.parquet"
    cli_out.parent.mkdir()
    result = CliRunner().invoke(
        main,
        [
            "pseudonymise",
            str(blind.round.export),
            "--blind",
            str(blind.config),
            "--provider",
            "P01",
            "--out",
            str(cli_out),
            "--mapping",
            str(by_hand),
        ],
    )
    assert result.exit_code == 0, result.output
    app_rows, cli_rows = pl.read_parquet(blind.round.out / "P01.parquet"), pl.read_parquet(cli_out)
    assert app_rows.equals(cli_rows)
    pseudonyms = app_rows[schema.PSEUDONYM]
    assert pseudonyms.drop_nulls().n_unique() == distinct
    assert (
        pseudonyms.null_count()
        == app_rows.height - app_rows.filter(pl.col(schema.STATUS) == "valid").height
    )
    app_manifest, cli_manifest = (
        read_manifest(blind.round.out / "P01.parquet"),
        read_manifest(cli_out),
    )
    assert app_manifest.scheme == cli_manifest.scheme == schema.BLIND_SCHEME
    assert app_manifest.key_fingerprint == cli_manifest.key_fingerprint == keys.blind.fingerprint
    assert app_manifest.rows_by_status == cli_manifest.rows_by_status
    assert app_manifest.extra["custody"] == cli_manifest.extra["custody"] == "split"
    assert app_manifest.extra["key_services"] == ["A", "B"]
    # the mapping was saved beside the service configuration, for next year
    assert (blind.config.parent / "mapping-P01.toml").is_file()


@pytest.mark.parametrize(
    ("trouble", "dutch", "english"),
    [
        ("down", "Een sleuteldienst is niet bereikbaar", "A key service cannot be reached"),
        ("quota", "Uw quotum bij een sleuteldienst is op", "Your quota at a key service"),
        ("token", "Een sleuteldienst weigert uw toegangscode", "refuses your access code"),
        ("round", "Een sleuteldienst hoort niet bij deze ronde", "does not belong to this round"),
    ],
)
def test_a_key_service_that_fails_is_explained_and_nothing_is_written(
    app: App, blind: Blind, trouble: str, dutch: str, english: str
) -> None:
    if trouble == "token":  # another token for service B than the one it issued
        (blind.config.parent / "P01-B.token").write_text("not-the-token-b-issued\n")
    load_blind(app, blind)
    to_preview(app, blind)
    if trouble == "down":
        blind.services[1].stop()
    elif trouble == "quota":  # fewer evaluations left than the export has distinct BSNs
        blind.services[0].store.set_quota("P01", ROUND, 10)
    elif trouble == "round":  # B's operator serves another round's share at the same address
        port = int(blind.services[1].url.rsplit(":", 1)[1])
        blind.services[1].stop()
        other = two_shares("another-round")[1]
        blind.services[1] = start(other, blind.services[1].db, port=port)
    page = deliver(app, blind)
    response = app.client.get("/delivery")
    assert response.status_code == 400
    assert dutch in page, text_of(page)
    assert "er is niets geschreven" in page
    assert "Wat u kunt doen:" in page
    assert files_in(blind.round.out) == []
    assert not (blind.config.parent / "mapping-P01.toml").exists()
    english_page = app.client.post(
        "/lang", data={"csrf": app.secrets.csrf, "lang": "en", "next": "/delivery"}
    ).text
    assert english in english_page
    assert "nothing was written" in english_page
    # the steward can try again once the trouble is over: the delivery is not stuck
    assert app.client.get("/preview").status_code == 200


def test_no_token_bsn_or_share_in_any_page_settings_or_log(
    app: App,
    blind: Blind,
    audit_log: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and uvicorn at their most talkative
    pages = [load_blind(app, blind), app.client.get("/keys").text, to_preview(app, blind)]
    pages.append(app.client.get("/preview").text)
    pages.append(deliver(app, blind))
    pages.append(app.client.get("/progress").text)
    blind.services[1].stop()  # and a failure's page
    app.client.post("/restart", data={"csrf": app.secrets.csrf})
    pages.append(to_preview(app, blind))
    again = blind.round.folder / "again"
    again.mkdir()
    pages.append(deliver(app, blind, again))
    assert files_in(again) == []
    assert "niet bereikbaar" in pages[-1]
    config_home = Path(os.environ["XDG_CONFIG_HOME"])
    settings = "".join(
        path.read_text()
        for path in [*blind.config.parent.glob("factlab-app.toml"), *config_home.rglob("*.toml")]
    )
    assert str(blind.config.resolve()) in settings  # the configuration's path is remembered
    logs = caplog.text + "".join(capfd.readouterr())
    everything = "\n".join(
        [
            *pages,
            logs,
            audit_log.read_text(),
            settings,
            (blind.round.out / "P01.sealed.manifest.json").read_text(),
        ]
    )
    bsns = {line.split(";")[0] for line in blind.round.export.read_text().splitlines()[1:]}
    assert [bsn for bsn in bsns if bsn in everything] == []
    for token in blind.tokens:
        assert token not in everything
    for service in blind.services:
        secret = service.share._secret
        for form in (secret.hex(), base64.b64encode(secret).decode(), secret.hex().upper()):
            assert form not in everything
    assert app.secrets.token not in everything


def test_the_service_configuration_is_remembered_for_the_next_start(app: App, blind: Blind) -> None:
    load_blind(app, blind)
    remembered = Path(os.environ["XDG_CONFIG_HOME"]) / "factlab" / "app.toml"
    text = remembered.read_text()
    assert f'service_config = "{blind.config.resolve()}"' in text
    assert 'last = "blind"' in text
    beside = (blind.config.parent / "factlab-app.toml").read_text()
    assert 'provider = "P01"' in beside
    assert str(blind.round.pub.resolve()) in beside
    assert not any(token in text + beside for token in blind.tokens)
    app.state.keys = None  # a new start
    page = app.client.get("/keys").text
    assert "id='source-blind' name='source' value='blind' checked" in page
    assert f"value='{blind.config.resolve()}'" in page
    assert f"value='{blind.round.pub.resolve()}'" in page
    assert "value='P01'" in page


def test_a_broken_service_configuration_is_explained(app: App, blind: Blind) -> None:
    blind.config.write_text(blind.config.read_text().replace('token_file = "P01-B.token"', ""))
    response = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "source": "blind",
            "services": str(blind.config),
            "recipient": str(blind.round.pub),
            "provider": "P01",
        },
    )
    assert response.status_code == 400
    assert "De serviceconfiguratie klopt niet" in response.text
    assert "services[1].token_file" in response.text
    assert app.state.keys is None
    empty = app.client.post(
        "/keys", data={"csrf": app.secrets.csrf, "source": "blind", "provider": "P01"}
    )
    assert empty.status_code == 400
    assert "de serviceconfiguratie van de ronde" in empty.text
    # the configuration filled in, the key file left empty, the choice not made: a blind round
    write_config(blind.config.parent, blind.services)
    unchosen = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "key": "",
            "services": str(blind.config),
            "recipient": str(blind.round.pub),
            "provider": "P01",
        },
    )
    assert unchosen.status_code == 200, text_of(unchosen.text)
    assert app.state.keys is not None
    assert app.state.keys.blind is not None


@pytest.mark.parametrize(
    ("message", "dutch", "english"),
    [
        (
            "key service A (https://ks-a.example.org) cannot be reached (ConnectError) after 5 "
            "tries; nothing was written",
            "niet bereikbaar",
            "cannot be reached",
        ),
        (
            "key service A refused the token (wrong or revoked token file?); nothing was written",
            "weigert uw toegangscode",
            "refuses your access code",
        ),
        (
            "key service B refused: the provider's quota for this round is exhausted (or not "
            "set); ask the trusted party; nothing was written",
            "quotum",
            "quota",
        ),
        (
            "key service 2's proof does not verify: its answers were not made with the public "
            "share of the round's service configuration; nothing was written",
            "bewijs klopt niet",
            "proof fails",
        ),
        (
            "key service B serves another round, not 'r26'",
            "hoort niet bij deze ronde",
            "does not belong to this round",
        ),
        (
            "key service A gave a malformed answer; nothing was written",
            "geen bruikbaar antwoord",
            "no usable answer",
        ),
    ],
)
def test_every_key_service_error_has_a_plain_sentence(
    message: str, dutch: str, english: str
) -> None:
    nl, en = explain(ServiceError(message)), explain(ServiceError(message), "en")
    assert dutch in nl.title
    assert "niets geschreven" in nl.title
    assert english in en.title
    assert "nothing was written" in en.title
    assert nl.advice
    assert en.advice
    assert nl.detail == message


def test_a_service_configuration_problem_is_not_called_a_mapping_problem() -> None:
    error = ConfigError("s.toml", ["services[0].url: an https:// URL is required"])
    assert explain(error).title == "De serviceconfiguratie klopt niet."
    assert explain(error, "en").title == "The service configuration is not right."
    mapping = ConfigError("m.toml", ["columns.bsn: not a column"])
    assert explain(mapping).title == "De mapping klopt niet."


def test_a_token_file_others_may_read_is_warned_about_in_dutch(app: App, blind: Blind) -> None:
    os.chmod(blind.config.parent / "P01-A.token", 0o644)
    page = text_of(load_blind(app, blind))
    assert "Andere gebruikers van deze computer kunnen een tokenbestand lezen" in page
    assert "uw quotum bij de sleuteldienst opmaken" in page
    assert blind.tokens[0] not in page
