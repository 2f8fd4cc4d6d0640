"""The shared browser fixture drives the system Chromium and runs axe-core in it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from browser_helpers import axe_violations

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_browser_renders_and_axe_finds_a_missing_alt_text(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.set_content(
            "<!doctype html><html lang='nl'><head><title>t</title></head>"
            "<body><main><h1>Hallo</h1><img src='data:,'></main></body></html>"
        )
        assert page.locator("h1").inner_text() == "Hallo"
        found = {violation["id"] for violation in axe_violations(page, ("critical", "serious"))}
        assert "image-alt" in found
    finally:
        page.close()
