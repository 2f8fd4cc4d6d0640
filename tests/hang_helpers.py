"""A guard for tests of calls that could hang (a FIFO, a device, an endless stream)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def finishes(call: Callable[[], object], seconds: float = 20) -> BaseException | None:
    """Run ``call`` in a thread; fail the test if it has not finished in time (it would hang).

    Returns the exception the call raised, or None when it returned.
    """
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call hangs"
    return outcome[0]
