"""A real browser for the UI tests: Debian's Chromium driven by Playwright.

Playwright is told to use the system Chromium (``executable_path``) instead of downloading its
own; the flags keep Chromium from reaching for the network at start (this machine and CI have no
network but the package registries). Tests that need it take the ``browser`` fixture of
``tests/conftest.py`` and are skipped, with the reason, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: Names under which Debian and other systems install Chromium.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

#: Headless, no sandbox (CI runs as root), and none of the background connections Chromium makes
#: at start: on a closed network they fail, many at a time.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-pings",
    # Belt and braces: no name but localhost resolves, and every request that is not to the
    # loopback goes to a closed local port (loopback bypasses the proxy by default).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
)


def chromium_path() -> str | None:
    """Where the system Chromium is, or None."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@contextmanager
def launch() -> Iterator[Browser]:
    """A headless system Chromium under Playwright; raises LookupError when either is missing."""
    path = chromium_path()
    if path is None:
        raise LookupError("chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - dev extra installs it
        raise LookupError("playwright is not installed (pip install -e '.[dev]')") from error
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """The axe-core violations of the given impacts on the page, run inside Chromium.

    axe-core comes with ``axe-playwright-python`` (its script is injected into the page; nothing
    is fetched).
    """
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations: list[Any] = results.response["violations"]
    return [violation for violation in violations if violation.get("impact") in impacts]
