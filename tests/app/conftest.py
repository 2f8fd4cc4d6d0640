"""Fixtures of the app's tests (the helpers are in app_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import App, Round, make_round
from starlette.testclient import TestClient

from factlab.app.security import Secrets
from factlab.app.server import create_app
from factlab.app.state import AppState


@pytest.fixture
def app_round(tmp_path: Path, test_bsns: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> Round:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return make_round(tmp_path / "steward", test_bsns)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The app under Starlette's test client, signed in (its token spent, the cookie set)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    secrets = Secrets(port=8765)
    state = AppState(private=private)
    client = TestClient(create_app(secrets, state), base_url="http://127.0.0.1:8765")
    response = client.get(f"/?token={secrets.token}", follow_redirects=False)
    assert response.status_code == 303
    yield App(client, secrets, state)
    client.close()
