"""Running a key service: uvicorn on 127.0.0.1 by default, TLS from the operator's certificate.

Two ways to reach a service from other machines are supported (docs/keyservice.md):

- TLS in the service itself: ``certfile`` and ``keyfile`` (PEM, the operator's certificate and
  its private key) go to uvicorn's ``ssl_certfile`` / ``ssl_keyfile``; the service then listens
  on HTTPS only.
- Behind a reverse proxy (nginx, Caddy) that terminates TLS: the service listens on 127.0.0.1
  over plain HTTP and the proxy forwards to it. Plain HTTP on any other address is refused
  unless ``allow_plain_http`` is set, so a token never crosses a network in the clear by mistake.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvicorn

from factlab.errors import ConfigError
from factlab.keys.shares import KeyShare
from factlab.keyservice.app import make_app
from factlab.keyservice.store import Store

__all__ = [
    "TLS_CIPHERS",
    "ServiceConfig",
    "bound_port",
    "make_server",
    "run_service",
    "start_in_thread",
]

#: TLS 1.2 cipher suites offered (TLS 1.3's are all AEAD): forward secret and AEAD only, no CBC.
TLS_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"


@dataclass(frozen=True)
class ServiceConfig:
    """Where and how a key service listens.

    Attributes:
        host: address to listen on; ``127.0.0.1`` unless the operator says otherwise.
        port: TCP port (0: any free port, for tests).
        certfile: PEM certificate (chain) for TLS, or None.
        keyfile: PEM private key of the certificate, or None.
        allow_plain_http: allow plain HTTP on an address other than the loopback.
    """

    host: str = "127.0.0.1"
    port: int = 8443
    certfile: Path | None = None
    keyfile: Path | None = None
    allow_plain_http: bool = False

    def check(self) -> None:
        """Refuse a configuration that would send tokens in the clear or is incomplete."""
        problems = []
        if (self.certfile is None) != (self.keyfile is None):
            problems.append("TLS needs both a certificate file and its key file")
        for name in ("certfile", "keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                problems.append(f"{name}: {path}: file not found")
        if self.certfile is None and not self.allow_plain_http and not _loopback(self.host):
            problems.append(
                f"plain HTTP on {self.host} would carry tokens in the clear: give a certificate "
                "(--certfile, --keyfile), listen on 127.0.0.1 behind a TLS reverse proxy, or "
                "pass --allow-plain-http"
            )
        if not 0 <= self.port <= 65535:
            problems.append("port must be 0-65535")
        if problems:
            raise ConfigError("key service", problems)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(share: KeyShare, store: Store, config: ServiceConfig) -> uvicorn.Server:
    """A uvicorn server for the service (not started): ``server.run()`` serves until stopped.

    Access logs name the path and status only; request bodies are never logged. With TLS only
    the cipher suites of :data:`TLS_CIPHERS` are offered in TLS 1.2.
    """
    config.check()
    app = make_app(share, store)
    uvicorn_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        ssl_certfile=str(config.certfile) if config.certfile else None,
        ssl_keyfile=str(config.keyfile) if config.keyfile else None,
        ssl_ciphers=TLS_CIPHERS,
        log_level="info",
        access_log=True,
        server_header=False,
        lifespan="off",
    )
    return uvicorn.Server(uvicorn_config)


def run_service(share: KeyShare, store: Store, config: ServiceConfig) -> None:
    """Serve until interrupted (SIGINT, SIGTERM)."""
    logging.getLogger("factlab.keyservice").setLevel(logging.INFO)
    server = make_server(share, store, config)
    try:
        server.run()
    finally:
        store.close()


def start_in_thread(server: uvicorn.Server) -> threading.Thread:
    """Start ``server`` in a daemon thread and wait until it listens (tests, benchmarks).

    Signals stay with the main thread (uvicorn only captures them there); stop the server
    with ``server.should_exit = True``.
    """
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise ConfigError("key service", ["it did not start (is the port free?)"])
        threading.Event().wait(0.02)
    return thread


def bound_port(server: uvicorn.Server) -> int:
    """The port a started server listens on (when it was asked for port 0)."""
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return port
