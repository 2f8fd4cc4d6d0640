"""The app in a real browser (Debian's Chromium under Playwright), against ``factlab app``
running in its own process: the steward's whole step, with an accessibility scan of every page,
and the trusted party's counts of what it delivered compared with the command line's."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from app_helpers import LiveApp, Round, cli_delivery, linked_counts
from browser_helpers import axe_violations

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: Set to a folder (docs/img) for screenshots of each step at 1280 and 390 px (each also checked
#: by axe-core at 390 px): FACTLAB_APP_SCREENSHOTS=docs/img pytest tests/app/test_browser.py
SCREENSHOTS_ENV = "FACTLAB_APP_SCREENSHOTS"


@pytest.fixture
def live_app(app_round: Round, tmp_path: Path, audit_log: Path) -> Iterator[LiveApp]:
    running = LiveApp(
        app_round.folder,
        {"XDG_CONFIG_HOME": str(tmp_path / "config"), "FACTLAB_AUDIT_LOG": str(audit_log)},
    )
    yield running
    err = running.stop()
    assert "Traceback" not in err


def small_png(png: bytes, target: Path) -> None:
    """A screenshot for the docs: a palette of 64 colours is plenty for these pages."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib brings Pillow along
        target.write_bytes(png)
        return
    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").quantize(colors=64).save(target, optimize=True)


def check_page(page: Page, name: str, shots: Path | None) -> None:
    """No serious or critical axe-core violations; with ``shots``, a screenshot of the page at
    1280 and at 390 px (the narrow one checked by axe-core too)."""
    found = axe_violations(page)
    assert found == [], [(item["id"], item["help"]) for item in found]
    if shots is None:
        return
    small_png(page.screenshot(full_page=True), shots / f"app-{name}-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    found = axe_violations(page)
    assert found == [], [(item["id"], item["help"]) for item in found]
    small_png(page.screenshot(full_page=True), shots / f"app-{name}-390.png")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_steward_delivers_in_the_browser(
    browser: Browser, live_app: LiveApp, app_round: Round, tmp_path: Path
) -> None:
    keep = os.environ.get(SCREENSHOTS_ENV)
    shots = Path(keep) if keep else None
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(live_app.url)
        assert page.url == f"{live_app.base}/keys"  # the token has left the address bar
        page.fill("#key", str(app_round.key))
        page.fill("#recipient", str(app_round.pub))
        page.fill("#provider", "P01")
        page.get_by_role("button", name="Sleutels laden").click()
        page.get_by_text("Controleer deze telefonisch bij de vertrouwde partij").wait_for(
            timeout=5000
        )
        check_page(page, "1-keys", shots)

        page.get_by_role("link", name="Verder: kies de export").click()
        check_page(page, "2-export", shots)
        page.set_input_files("#export-file", str(app_round.export))
        page.get_by_role("button", name="Bestand gebruiken").click()
        page.wait_for_url("**/mapping")
        page.get_by_text("niet geaccepteerd door de ronde").first.wait_for()

        # the button follows the required fields as they change
        continue_button = page.locator("#continue")
        assert continue_button.is_enabled()
        municipality = page.get_by_label("Kolom Gemeente wordt")
        municipality.select_option("")
        assert continue_button.is_disabled()
        assert page.locator("[data-required='municipality']").get_attribute("class") == "unmet"
        municipality.select_option("municipality")
        assert continue_button.is_enabled()

        # the two fixes: one code to the round's value, one date format
        page.get_by_label("Code ambu van zorgvorm wordt").select_option("ambulant")
        page.select_option("#date-start_date", "%m/%d/%Y")
        check_page(page, "3-mapping", shots)
        continue_button.click()
        page.wait_for_url("**/preview")
        page.get_by_text("Dit bestand kan geleverd worden.").wait_for()
        check_page(page, "4-preview", shots)

        page.fill("#folder", str(app_round.out))
        page.locator("#deliver").click()
        page.get_by_text("De levering is klaar.").wait_for(timeout=60_000)
        check_page(page, "5-delivery", shots)

        # English with one click
        page.get_by_role("button", name="English").click()
        page.get_by_text("The delivery is ready.").wait_for()
        assert page.locator("html").get_attribute("lang") == "en"
    except Exception:
        print(page.url, page.content()[:3000])
        raise
    finally:
        context.close()
    # nothing left the machine: every request went to the app itself
    assert requests
    assert all(url.startswith(live_app.base) for url in requests)

    sealed = app_round.out / "P01.sealed"
    assert sealed.is_file()
    cli_folder = tmp_path / "cli"
    cli_folder.mkdir()
    cli_sealed = cli_delivery(app_round, app_round.key.parent / "mapping-P01.toml", cli_folder)
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    assert linked_counts(app_round, sealed, trusted) == linked_counts(
        app_round, cli_sealed, cli_folder
    )
