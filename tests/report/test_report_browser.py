"""The HTML report in a real browser: headless Chromium renders it, and every table and chart
must be in the DOM it builds; a screenshot must come out.

Skipped when Chromium is not installed (CI installs Debian's ``chromium`` package). Chromium
starts background requests of its own (update checks, account lookups) even with
``--disable-background-networking``, so the test also sends every host name to NOTFOUND and every
request to a dead local proxy: nothing leaves the machine. Synthetic data only: pseudonyms are
digests of made-up client numbers.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from factlab import schema
from factlab.estimation.corrections import load_corrections
from factlab.periods import parse_period
from factlab.report.build import build_report, write_report
from factlab.report.config import RoundConfig
from factlab.report.model import INTERNAL_MARK, Report

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_TIMEOUT = 30


@pytest.fixture(scope="module")
def chromium() -> str:
    found = next((path for name in _BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def _rows(seed: int = 11, clients: int = 200) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    providers = ("P1", "P2", "P3")
    rows = []
    for client in range(clients):
        home = ("Assen", "Emmen", "Meppel")[int(rng.integers(0, 3))]
        chosen = rng.choice(3, size=int(rng.choice([1, 2], p=[0.75, 0.25])), replace=False)
        for provider in chosen:
            start = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 330)))
            rows.append(
                (
                    hashlib.sha256(f"browser-client-{client}".encode()).hexdigest()[:32],
                    "valid",
                    providers[int(provider)],
                    home,
                    ("ambulant", "verblijf")[int(rng.integers(0, 2))],
                    "PGB" if rng.random() < 0.1 else "ZIN",
                    start,
                    start + timedelta(days=int(rng.integers(10, 200))),
                )
            )
    frame = pl.DataFrame(
        rows,
        schema=[
            "pseudonym",
            "bsn_status",
            "provider",
            "municipality",
            "care_form",
            "financing",
            "start_date",
            "end_date",
        ],
        orient="row",
    )
    return frame.with_columns(pl.col("bsn_status").cast(schema.STATUS_DTYPE))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("browser")
    corrections = folder / "corrections.toml"
    corrections.write_text(
        'version = 1\ntitle = "Estimate"\nbase = "unique_clients"\nrow_dimension = "care_form"\n'
        'column_dimension = "financing"\n[[adjustment]]\nname = "pgb"\nkind = "factor"\n'
        'select = { financing = "PGB" }\nfactor = 2\nsource = "s"\nnote = "n"\n',
        encoding="utf-8",
    )
    config = RoundConfig(
        title="Browser test round",
        period=parse_period("2024"),
        parts=(parse_period("2024H1"), parse_period("2024H2")),
        corrections=load_corrections(corrections),
    )
    return build_report(_rows(), config, generated="2025-01-01T00:00:00+00:00")


def _run(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-pings",
        # Belt and braces: no name resolves and every request goes to a closed local port.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=_TIMEOUT, check=False, cwd=profile
    )


class _Dom(HTMLParser):
    """Ids of tables and figures, and the svg elements inside each figure."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.svgs_in: dict[str, int] = {}
        self.ids: set[str] = set()
        self.external: list[str] = []
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        ident = values.get("id") or ""
        self.ids.add(ident)
        if tag == "table":
            self.tables.append(ident)
        elif tag == "figure":
            self._figure = ident
            self.svgs_in[ident] = 0
        elif tag == "svg" and self._figure is not None:
            self.svgs_in[self._figure] += 1
        for name in ("src", "href", "xlink:href"):
            value = values.get(name)
            if value is not None and not value.startswith("#"):
                self.external.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None


def test_every_table_and_chart_is_rendered(chromium: str, report: Report, tmp_path: Path) -> None:
    page = write_report(report, tmp_path / "report.html")
    profile = tmp_path / "profile"
    profile.mkdir()
    result = _run(chromium, profile, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _Dom()
    dom.feed(result.stdout)
    expected_tables = ["table-key-figures", *(f"table-{t.id}" for t in report.tables)]
    assert dom.tables == [*expected_tables, "table-corrections"]
    assert dom.svgs_in == {
        "chart-by-financing": 1,
        "chart-providers-per-client": 1,
        "chart-overlap": 1,
        "chart-corrections": 1,
    }
    assert dom.external == []
    assert "internal-mark" not in dom.ids


def test_screenshot_and_internal_mark(chromium: str, report: Report, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    internal = replace(report, internal=True)  # the same protected tables, marked internal
    page = write_report(internal, tmp_path / "internal.html")
    shot = tmp_path / "shot.png"
    result = _run(
        chromium, profile, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    dump = _run(chromium, profile, "--dump-dom", page.as_uri())
    dom = _Dom()
    dom.feed(dump.stdout)
    assert "internal-mark" in dom.ids
    assert INTERNAL_MARK in dump.stdout
