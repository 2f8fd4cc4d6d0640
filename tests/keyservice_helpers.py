"""Key services for tests (tests/keyservice and tests/app): real uvicorn servers in threads on
127.0.0.1 at a free port."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from factlab.keys.blind import BlindRound
from factlab.keys.shares import KeyShare, new_share
from factlab.keyservice.serve import ServiceConfig, bound_port, make_server, start_in_thread
from factlab.keyservice.store import Store
from factlab.steward.blind import BlindService, ServiceEndpoint


@dataclass
class Running:
    """A key service running in a thread of the test process."""

    share: KeyShare
    db: Path
    server: uvicorn.Server
    store: Store
    thread: threading.Thread
    scheme: str = "http"
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{bound_port(self.server)}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.store.close()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


def start(
    share: KeyShare,
    db: Path,
    *,
    port: int = 0,
    certfile: Path | None = None,
    keyfile: Path | None = None,
) -> Running:
    store = Store(db)
    server = make_server(share, store, ServiceConfig("127.0.0.1", port, certfile, keyfile))
    server.config.log_level = "warning"
    thread = start_in_thread(server)
    return Running(share, db, server, store, thread, "https" if certfile else "http")


def client_for(
    round_name: str,
    running: list[Running],
    provider: str,
    *,
    retries: int = 0,
    batch_size: int = 500,
    ca_file: Path | None = None,
    workers: int = 1,
) -> BlindService:
    """A steward's client of ``running`` services, with ``provider``'s tokens."""
    endpoints = tuple(
        ServiceEndpoint(
            service.share.service,
            service.url,
            service.share.public_share,
            ca_file,
            service.tokens[provider],
        )
        for service in running
    )
    blind_round = BlindRound(round_name, tuple(s.share.public_share for s in running))
    return BlindService(
        blind_round,
        endpoints,
        batch_size=batch_size,
        timeout=10,
        retries=retries,
        backoff=0.05,
        workers=workers,
    )


def enrol(service: Running, provider: str, round_name: str, quota: int) -> None:
    """Issue ``provider`` a token and a quota on ``service``."""
    service.tokens[provider] = service.store.add_provider(provider)
    service.store.set_quota(provider, round_name, quota)


def proef_bsns(count: int) -> list[str]:
    """The first ``count`` numbers of the test range 999900000-999999999 passing the elfproef."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    found: list[str] = []
    for number in range(999_900_000, 1_000_000_000):
        digits = str(number)
        if sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0:
            found.append(digits)
            if len(found) == count:
                break
    return found


def two_shares(round_name: str = "r2026") -> tuple[KeyShare, KeyShare]:
    return new_share(round_name, "A"), new_share(round_name, "B")
