"""An export dropped into the page: written only into the private folder, as it arrives, and
nothing kept of it when the upload cannot be used (review 17/20, defects 4 and 5)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import starlette.formparsers
from app_helpers import App, Round

from factlab.app.upload import upload_name


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def load_keys(app: App, round_: Round) -> None:
    response = app.client.post(
        "/keys",
        data={
            "csrf": app.secrets.csrf,
            "key": str(round_.key),
            "recipient": str(round_.pub),
            "provider": "P01",
            "passphrase": "",
        },
    )
    assert response.status_code == 200


def test_an_upload_before_the_keys_leaves_nothing(app: App) -> None:
    # review #5: POST /upload without keys redirected to /keys and kept uploads/upload-*/e.csv
    response = app.client.post(
        "/upload",
        data={"csrf": app.secrets.csrf},
        files={"export": ("e.csv", b"BSN;Gemeente\n999993653;Assen\n", "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/keys"
    assert files_under(app.state.private) == []


def test_a_large_upload_never_touches_the_system_temporary_folder(
    app: App, app_round: Round, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review #4: Starlette spooled an upload over 1 MiB to a file in the system's temp folder
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    load_keys(app, app_round)
    lines = app_round.export.read_bytes().splitlines(keepends=True)
    body = lines[0] + b"".join(lines[1:]) * 240  # about 2.4 MiB
    assert len(body) > 2 * 1024 * 1024

    def no_spool(*args: object, **kwargs: object) -> None:
        raise AssertionError("the upload went through Starlette's spooled temporary file")

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_spool)
    response = app.client.post(
        "/upload",
        data={"csrf": app.secrets.csrf},
        files={"export": ("groot.csv", body, "text/csv")},
    )
    assert response.url.path == "/mapping", response.text[:400]
    export = app.state.export
    assert export is not None
    assert app.state.private in export.path.parents
    assert export.path.read_bytes() == body
    assert files_under(system_temp) == []


def test_an_upload_with_a_wrong_csrf_token_is_refused_and_removed(
    app: App, app_round: Round
) -> None:
    load_keys(app, app_round)
    response = app.client.post(
        "/upload",
        data={"csrf": "not-the-token"},
        files={"export": ("e.csv", b"BSN;Gemeente\n999993653;Assen\n", "text/csv")},
    )
    assert response.status_code == 403
    assert files_under(app.state.private / "uploads") == []


def test_an_unreadable_upload_is_removed_and_a_missing_file_explained(
    app: App, app_round: Round
) -> None:
    load_keys(app, app_round)
    bad = app.client.post(
        "/upload",
        data={"csrf": app.secrets.csrf},
        files={"export": ("e.docx", b"PK\x03\x04 not an export", "application/octet-stream")},
    )
    assert bad.status_code == 400
    assert files_under(app.state.private / "uploads") == []
    none = app.client.post(
        "/upload",
        data={"csrf": app.secrets.csrf},
        files={"export": ("", b"", "application/octet-stream")},
    )
    assert none.status_code == 400
    assert "Er is geen bestand gekozen" in none.text
    assert files_under(app.state.private / "uploads") == []
    two = app.client.post(
        "/upload",
        data={"csrf": app.secrets.csrf},
        files=[("export", ("a.csv", b"BSN\n", "text/csv")), ("other", ("b.csv", b"x", "text/csv"))],
    )
    assert two.status_code == 403
    assert files_under(app.state.private / "uploads") == []


def test_upload_names_keep_only_safe_characters() -> None:
    assert upload_name("../../Cliënten 2026.csv") == "Cli_nten_2026.csv"
    assert upload_name("..\\x.csv") == "x.csv"
    assert upload_name(".hidden") == "hidden"
