"""Who may talk to the app: the steward's own browser, on this computer, and nothing else.

:class:`Guard` wraps the whole application (pure ASGI, so it sees every request before any
route does):

- **Host**: only ``127.0.0.1:PORT`` and ``localhost:PORT``. A web page elsewhere that points a
  name of its own at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
- **Token**: the address ``factlab app`` prints carries a one-time token. The first request
  with it gets a session cookie (``HttpOnly``, ``SameSite=Strict``) and is sent on to the same
  page without the token, which is then spent; every later request needs the cookie. Both are
  compared in constant time. Without them a request gets a short refusal page, nothing more.
- **Posts**: a request that changes something must come from the app's own pages: its
  ``Origin`` (and ``Sec-Fetch-Site``, where the browser sends them) must be the app's, and the
  form must carry the session's CSRF token (:meth:`Secrets.csrf_ok`, checked by each route
  after the form is read).
- **Headers** on every answer: a strict Content-Security-Policy (only the app's own script and
  stylesheet; no inline script, no frames, forms only to the app), ``X-Frame-Options: DENY``,
  ``Cache-Control: no-store``, a referrer only to the app itself (a form's ``Origin`` then
  names the app, where ``no-referrer`` would make it ``null``), no MIME sniffing.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

__all__ = ["SECURITY_HEADERS", "Guard", "Secrets"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Headers every answer carries.
SECURITY_HEADERS: Final = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Secrets:
    """The app's secrets for one run: the one-time token, the session cookie, the CSRF token.

    Attributes:
        port: the port the app listens on (part of the allowed hosts and the cookie's name).
    """

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    spent: bool = False
    #: called once when the token is spent (the launch page is then removed)
    on_spent: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cookie_name(self) -> str:
        """The session cookie's name (with the port: two apps on one machine keep theirs)."""
        return f"factlab_app_{self.port}"

    @property
    def hosts(self) -> frozenset[str]:
        """The Host headers the app answers."""
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        """The origins the app's own pages have."""
        return frozenset(f"http://{host}" for host in self.hosts)

    def use_token(self, given: str) -> bool:
        """Spend the one-time token: True once for the right token, never again."""
        with self._lock:
            if self.spent or not hmac.compare_digest(given.encode(), self.token.encode()):
                return False
            self.spent = True
        if self.on_spent is not None:
            self.on_spent()
        return True

    def session_ok(self, given: str | None) -> bool:
        """Whether a cookie value is the session's."""
        return given is not None and hmac.compare_digest(given.encode(), self.session.encode())

    def csrf_ok(self, given: object) -> bool:
        """Whether a form's CSRF field is the session's."""
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self.csrf.encode())


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _cookie(header: str, name: str) -> str | None:
    """One cookie's value from a Cookie header. Split by hand: the standard library's parser
    gives up on the whole header at the first cookie it dislikes, and other programs on
    127.0.0.1 (a notebook server, say) set cookies of their own there."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *extra,
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """The ASGI middleware that checks host, token or cookie, and origin (see the module)."""

    def __init__(self, app: ASGIApp, secrets_: Secrets) -> None:
        self.app = app
        self.secrets = secrets_

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets
            return
        headers = _headers(scope)
        guard = self.secrets
        if headers.get("host") not in guard.hosts:
            await _plain(send, 421, "factlab app: this address is not served here", [])
            return
        if not guard.session_ok(_cookie(headers.get("cookie", ""), guard.cookie_name)):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token", [""])[0]
            if scope["method"] == "GET" and given and guard.use_token(given):
                set_cookie = (
                    f"{guard.cookie_name}={guard.session}; HttpOnly; SameSite=Strict; Path=/"
                ).encode()
                path = scope.get("path", "/")
                location = path if path.startswith("/") and not path.startswith("//") else "/"
                await _plain(
                    send, 303, "", [(b"location", location.encode()), (b"set-cookie", set_cookie)]
                )
                return
            await _plain(
                send,
                403,
                "factlab app: open the app with the address `factlab app` printed (its token "
                "works once; start the app again for a new one).\n"
                "Open de app met het adres dat `factlab app` toonde (het token werkt één keer; "
                "start de app opnieuw voor een nieuw).",
                [],
            )
            return
        if scope["method"] in _UNSAFE_METHODS:
            origin = headers.get("origin")
            site = headers.get("sec-fetch-site")
            if (origin is not None and origin not in guard.origins) or (
                site is not None and site not in ("same-origin", "none")
            ):
                await _plain(send, 403, "factlab app: a request from another site is refused", [])
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in SECURITY_HEADERS}
                kept = [item for item in message.get("headers", []) if item[0].lower() not in names]
                message["headers"] = [*kept, *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
