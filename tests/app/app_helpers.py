"""Helpers of the app's tests: a round's key files with a contract, the trusted party's key pair,
an export that needs two fixes (a care-form code the round does not accept, and dates written
month first), all with BSNs from the test range; the command-line path on the same export; and
the trusted party's link and count of a sealed file.
"""

from __future__ import annotations

import random
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl

# Starlette's test client asks for httpx2; httpx still works, and the warning is not ours.
warnings.filterwarnings("ignore", message=".*httpx.*")
from starlette.testclient import TestClient  # noqa: E402

from factlab.app.security import Secrets  # noqa: E402
from factlab.app.state import AppState  # noqa: E402
from factlab.keys.recipients import (  # noqa: E402
    RecipientPrivateKey,
    new_recipient,
    write_recipient,
)
from factlab.keys.round_keys import Key, new_round_key, write_key  # noqa: E402

CONTRACT = {
    "version": 1,
    "required": ["bsn", "municipality", "care_form", "financing", "start_date"],
    "values": {
        "care_form": ["ambulant", "dagbehandeling", "verblijf", "JB/JR"],
        "financing": ["ZIN", "PGB"],
    },
}


@dataclass(frozen=True)
class Round:
    """The files of one round on the steward's computer, and the trusted party's keys."""

    folder: Path
    round_key: Key
    key: Path
    pub: Path
    private: RecipientPrivateKey
    export: Path
    out: Path


def write_export(path: Path, bsns: tuple[str, ...], rows: int, *, seed: int = 7) -> None:
    """An export with ';' between fields: about a fifth of the care forms are written 'ambu'
    (not a value of the round), and start dates month first (03/25/2024)."""
    draw = random.Random(seed)
    lines = ["BSN;Gemeente;Zorgvorm;Financiering;Startdatum;Naam"]
    for number in range(rows):
        bsn = draw.choice(bsns[:400])
        form = draw.choice(["ambulant", "verblijf", "ambu", "dagbehandeling", "ambulant"])
        month, day = draw.randint(1, 12), draw.randint(1, 28)
        lines.append(
            f"{bsn};{draw.choice(['Assen', 'Emmen', 'Meppel'])};{form};"
            f"{draw.choice(['ZIN', 'PGB'])};{month:02d}/{day:02d}/2024;Client {number}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_round(
    folder: Path, bsns: tuple[str, ...], *, rows: int = 200, passphrase: str | None = None
) -> Round:
    folder.mkdir(parents=True, exist_ok=True)
    keys = folder / "keys"
    keys.mkdir(mode=0o700)
    round_key = new_round_key("app-test-2026")
    write_key(
        round_key.provider_key(), keys / "provider.key", contract=CONTRACT, passphrase=passphrase
    )
    private, _ = new_recipient("ttp-2026")
    _, pub = write_recipient(private, keys)
    export = folder / "export.csv"
    write_export(export, bsns, rows)
    out = folder / "out"
    out.mkdir()
    return Round(folder, round_key, keys / "provider.key", pub, private, export, out)


@dataclass
class App:
    client: TestClient
    secrets: Secrets
    state: AppState


def cli_delivery(round_: Round, mapping: Path, folder: Path) -> Path:
    """The same export through the command line: pseudonymise with the mapping, then seal."""
    from click.testing import CliRunner

    from factlab.cli import main

    runner = CliRunner()
    parquet, sealed = folder / "P01.parquet", folder / "P01.sealed"
    done = runner.invoke(
        main,
        [
            "pseudonymise",
            str(round_.export),
            "--key",
            str(round_.key),
            "--provider",
            "P01",
            "--out",
            str(parquet),
            "--mapping",
            str(mapping),
        ],
    )
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        main, ["seal", str(parquet), "--to", str(round_.pub), "--out", str(sealed)]
    )
    assert done.exit_code == 0, done.output
    return sealed


def linked_counts(round_: Round, sealed: Path, folder: Path) -> dict[str, object]:
    """The trusted party's view: link the sealed file (second stage) and count it."""
    from factlab.analysis.counts import count
    from factlab.analysis.link import link

    linked = folder / "linked.parquet"
    link([sealed], linked, key=round_.round_key.link_key(), recipient=round_.private)
    result = count(linked, by=("care_form", "municipality"))
    rows = pl.read_parquet(linked)
    return {
        "rows": rows.sort(rows.columns).to_dicts(),
        "unique_clients": result.unique_clients,
        "registrations": result.registrations,
        "trajectories": result.trajectories,
        "table": result.table.sort(result.table.columns[0], nulls_last=True).to_dicts(),
    }


class LiveApp:
    """``factlab app --no-browser`` in its own process; ``url`` is the address it printed."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        import os
        import subprocess
        import sys

        self.process = subprocess.Popen(
            [sys.executable, "-c", "from factlab.cli import main; main(['app', '--no-browser'])"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
            env={**os.environ, **env},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("factlab app: open http://127.0.0.1:"), line
        self.url = line.split("open ", 1)[1].strip()

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    def stop(self) -> str:
        """Stop the app (as Ctrl+C does) and return what it wrote on stderr."""
        import signal

        self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=20)
        except Exception:
            self.process.kill()
            _, err = self.process.communicate()
        return err


def page_form(page: str, **changes: str) -> dict[str, str]:
    """A page's form as the browser would send it unchanged (each select at its selected
    option, the CSRF token), with ``changes``."""
    form = {"csrf": re.findall(r"name='csrf' value='([^']+)'", page)[0]}
    for name, options in re.findall(
        r"<select (?:id='[^']+' )?name='([^']+)'[^>]*>(.*?)</select>", page
    ):
        chosen = re.search(r"<option value='([^']*)' selected>", options)
        form[name] = chosen.group(1) if chosen else ""
    form.update(changes)
    return form


def code_select(page: str, value: str) -> str:
    """The name of the select that maps the code ``value``."""
    found = re.search(
        rf"<code>{re.escape(value)}</code></td><td>[0-9.,]+</td><td><select name='([^']+)'", page
    )
    assert found is not None, value
    return found.group(1)
