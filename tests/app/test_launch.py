"""The launch page the browser is started with: in the user's data folder (browsers installed as
a snap or a flatpak cannot read the system's temporary folder), 0600, and removed as soon as the
token is spent (review 17/20, defect 3)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from factlab.app.launch import launch_folder, write_launch_page
from factlab.app.security import Secrets


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG data folder")
def test_the_launch_page_is_in_the_data_folder_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = "http://127.0.0.1:8765/?token=abc"
    page = write_launch_page(url, 8765)
    assert page == tmp_path / "data" / "factlab" / "open-8765.html"
    assert launch_folder() == page.parent
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert stat.S_IMODE(page.parent.stat().st_mode) == 0o700
    assert url in page.read_text()
    # a page left by an app that was killed is replaced, not an error
    assert write_launch_page(url.replace("abc", "def"), 8765) == page
    assert "def" in page.read_text()
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert launch_folder() == tmp_path / "home" / ".local" / "share" / "factlab"


def test_the_page_is_removed_when_the_token_is_spent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    secrets = Secrets(port=8765)
    page = write_launch_page(f"http://127.0.0.1:8765/?token={secrets.token}", 8765)
    secrets.on_spent = lambda: page.unlink(missing_ok=True)
    assert not secrets.use_token("wrong")
    assert page.exists()
    assert secrets.use_token(secrets.token)
    assert not page.exists()
    assert not secrets.use_token(secrets.token)
