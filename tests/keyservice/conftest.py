"""The ``services`` fixture: key services started in threads, all stopped at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from keyservice_helpers import Running, start

from factlab.keys.shares import KeyShare


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start services; every one started is stopped at the end."""
    running: list[Running] = []

    def make(share: KeyShare, name: str = "svc", **kwargs: object) -> Running:
        service = start(share, tmp_path / f"{name}.sqlite", **kwargs)  # type: ignore[arg-type]
        running.append(service)
        return service

    yield make
    for service in running:
        if service.running:
            service.stop()
