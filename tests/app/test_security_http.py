"""Who may talk to the app: token, cookie, host, origin, CSRF, and the headers of every answer."""

from __future__ import annotations

import contextlib
import re
import stat
from pathlib import Path

import httpx
import pytest
from app_helpers import App, LiveApp
from starlette.testclient import TestClient

from factlab.app.security import Secrets
from factlab.app.server import create_app
from factlab.app.state import AppState


def fresh(app: App) -> TestClient:
    """Another browser: the same app, without its cookie."""
    return TestClient(app.client.app, base_url="http://127.0.0.1:8765")


def test_without_the_token_or_with_a_wrong_one_the_app_refuses(app: App) -> None:
    other = fresh(app)
    for path in ("/", "/keys", "/static/app.css", "/progress", "/?token=wrong"):
        response = other.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert "<form" not in response.text
        assert app.secrets.csrf not in response.text
    assert other.post("/keys", data={"csrf": app.secrets.csrf}).status_code == 403


def test_the_token_works_once_and_sets_a_strict_cookie(tmp_path: Path) -> None:
    secrets = Secrets(port=8766)
    state = AppState(private=tmp_path)
    client = TestClient(create_app(secrets, state), base_url="http://127.0.0.1:8766")
    first = client.get(f"/keys?token={secrets.token}", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/keys"  # the token leaves the address bar
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    assert secrets.token not in cookie
    assert client.get("/keys").status_code == 200
    # spent: another browser with the same address is refused
    again = TestClient(client.app, base_url="http://127.0.0.1:8766")
    assert again.get(f"/?token={secrets.token}", follow_redirects=False).status_code == 403
    # a cookie of the right name with another value is refused
    again.cookies.set(secrets.cookie_name, "x" * 43)
    assert again.get("/keys").status_code == 403


@pytest.mark.parametrize(
    "host", ["evil.example:8765", "127.0.0.1:9999", "localhost", "127.0.0.1", "[::1]:8765", ""]
)
def test_another_host_header_is_refused(app: App, host: str) -> None:
    response = app.client.get("/keys", headers={"host": host})
    assert response.status_code == 421
    assert "<form" not in response.text


def test_localhost_with_the_port_is_served(app: App) -> None:
    assert app.client.get("/keys", headers={"host": "localhost:8765"}).status_code == 200


def test_a_post_from_another_site_or_without_the_csrf_token_is_refused(app: App) -> None:
    data = {"csrf": app.secrets.csrf, "lang": "en", "next": "/keys"}
    foreign = app.client.post("/lang", data=data, headers={"origin": "http://evil.example"})
    assert foreign.status_code == 403
    cross = app.client.post("/lang", data=data, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    missing = app.client.post("/lang", data={"lang": "en", "next": "/keys"})
    assert missing.status_code == 403
    wrong = app.client.post("/lang", data={**data, "csrf": "nope"})
    assert wrong.status_code == 403
    own = app.client.post(
        "/lang", data=data, headers={"origin": "http://127.0.0.1:8765"}, follow_redirects=False
    )
    assert own.status_code == 303


def test_every_answer_carries_the_security_headers(app: App) -> None:
    for response in (
        app.client.get("/keys"),
        app.client.get("/static/app.js"),
        app.client.get("/progress"),
        fresh(app).get("/keys"),
        app.client.get("/keys", headers={"host": "evil.example"}),
    ):
        headers = response.headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-content-type-options"] == "nosniff"


def test_pages_hold_no_inline_script_or_style(app: App) -> None:
    page = app.client.get("/keys").text
    assert "<script src='/static/app.js' defer></script>" in page
    assert page.count("<script") == 1
    assert "style=" not in page
    assert "<style" not in page
    assert re.search(r"\son[a-z]+\s*=", page) is None  # no event-handler attributes


def test_only_the_packaged_static_files_are_served(app: App) -> None:
    assert app.client.get("/static/app.css").headers["content-type"].startswith("text/css")
    for name in ("../server.py", "..%2Fserver.py", "server.py", "app.js.map"):
        assert app.client.get(f"/static/{name}").status_code == 404


def listening_addresses(port: int) -> set[str]:
    """The local addresses on which something listens at ``port`` (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if int(hex_port, 16) == port and state == "0A":
                    found.add(address)
    return found


def test_the_running_app_listens_on_127_0_0_1_only_and_checks_token_and_host(
    tmp_path: Path, audit_log: Path
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    live = LiveApp(
        tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "config"), "TMPDIR": str(temporary)}
    )
    try:
        port = int(live.base.rsplit(":", 1)[1])
        if Path("/proc/net/tcp").exists():
            assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        with httpx.Client(base_url=live.base) as client:
            assert client.get("/keys").status_code == 403
            private = list(temporary.glob("factlab-app-*"))
            assert len(private) == 1  # the private folder, while the app runs
            assert stat.S_IMODE(private[0].stat().st_mode) == 0o700
            assert client.get("/?token=wrong").status_code == 403
            token = live.url.split("token=", 1)[1]
            rebound = client.get(f"/?token={token}", headers={"host": f"evil.example:{port}"})
            assert rebound.status_code == 421
            first = client.get(f"/?token={token}")
            assert first.status_code == 303
            assert client.get("/keys").status_code == 200
            assert client.get("/keys", headers={"host": "evil.example"}).status_code == 421
        with httpx.Client(base_url=live.base) as other:
            assert other.get(f"/?token={token}").status_code == 403  # spent
    finally:
        err = live.stop()
    assert token not in err
    assert "Traceback" not in err
    assert "factlab app: stopped" in err
    assert list(temporary.glob("factlab-app-*")) == []  # the private folder went with the app


def test_the_session_cookie_is_found_among_cookies_of_other_local_programs(app: App) -> None:
    name = app.secrets.cookie_name
    header = f'_xsrf=2|a"b|c; other="unterminated; {name}={app.secrets.session}; x=1'
    other = fresh(app)
    assert other.get("/keys", headers={"cookie": header}).status_code == 200
    assert (
        other.get("/keys", headers={"cookie": f"{name}x={app.secrets.session}"}).status_code == 403
    )
