"""A command stopped by SIGTERM stops at once (issue 14, follow-up of 7).

``Terminated`` used to be a FactlabError, so the broad handlers that turn a parser's failure
into an InputError caught it: SIGTERM during the CSV parse of ``pseudonymise`` ended 4 s later
in exit 3, "cannot be read as csv (Terminated)", after a diagnostic second reading of the file;
during link's pass in "cannot read or combine the inputs' rows (Terminated)", after reading every
input again. Now it passes every such handler: exit 143, the audit line records the stop, no
temporary stays, and nothing is read again. Synthetic data only (BSNs of the test range).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from click.testing import CliRunner, Result

import factlab._exports
import factlab.analysis.link
from factlab.audit import read_audit_log
from factlab.cli import main
from factlab.errors import FactlabError, Terminated

if TYPE_CHECKING:
    from conftest import KeyFiles

BSNS = ("999993653", "999991723", "999995078")


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def stopped_while(call: Callable[..., Any]) -> Callable[..., Any]:
    """``call``, with a SIGTERM sent to this process from another thread while it runs."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sender = threading.Thread(
            target=lambda: (time.sleep(0.01), os.kill(os.getpid(), signal.SIGTERM))
        )
        sender.start()
        result = call(*args, **kwargs)  # the signal arrives while this works, or just after
        sender.join()  # at the latest, the handler raises here: still inside the call's handlers
        return result

    return wrapper


def never(name: str) -> Callable[..., Any]:
    def called(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{name} ran after the signal: the stopped command read on")

    return called


def assert_stopped(result: Result, folder: Path, log: Path, command: str) -> None:
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["factlab: error: stopped by SIGTERM"]
    assert list(folder.rglob("*.tmp")) == []
    line = read_audit_log(log)[-1]
    assert (line["command"], line["outcome"], line["outputs"]) == (command, "error", [])
    assert line["error"] == {
        "class": "Terminated",
        "message": "stopped by SIGTERM",
        "exit_code": 143,
    }


def test_terminated_is_no_error_of_the_input() -> None:
    # what lets it pass `except Exception` and `except FactlabError` handlers
    stop = Terminated(signal.SIGHUP)
    assert not isinstance(stop, Exception | FactlabError)
    assert (str(stop), stop.exit_code) == ("stopped by SIGHUP", 128 + signal.SIGHUP)


def test_sigterm_during_the_csv_parse_stops_pseudonymise_at_once(
    tmp_path: Path, key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "export.csv"
    rows = [f"{BSNS[i % 3]};Assen;ambulant;{i}" for i in range(300_000)]
    export.write_text("BSN;Gemeente;Zorgvorm;Regel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out, log = tmp_path / "P01.parquet", tmp_path / "audit.jsonl"
    monkeypatch.setattr(factlab._exports.pl, "read_csv", stopped_while(pl.read_csv))
    monkeypatch.setattr(factlab._exports, "diagnose_csv", never("the CSV diagnosis"))
    result = run(
        "pseudonymise", export, "--key", key_files.provider, "--provider", "P01",
        "--out", out, "--audit-log", log,
    )  # fmt: skip
    assert_stopped(result, tmp_path, log, "pseudonymise")
    assert not out.exists()


def test_sigterm_during_links_pass_stops_it_at_once(
    tmp_path: Path, key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factlab.steward.pseudonymise import pseudonymise_file

    files = []
    for provider in ("P01", "P02"):
        export = tmp_path / f"{provider}.csv"
        export.write_text("BSN;Gemeente\n" + "".join(f"{b};Assen\n" for b in BSNS))
        files.append(tmp_path / f"{provider}.parquet")
        pseudonymise_file(export, key_files.key.provider_key(), provider=provider, out=files[-1])
    out, log = tmp_path / "linked.parquet", tmp_path / "audit.jsonl"
    monkeypatch.setattr(pl, "collect_all", stopped_while(pl.collect_all))
    monkeypatch.setattr(
        factlab.analysis.link, "check_parquet_readable", never("the inputs' second reading")
    )
    result = run("link", *files, "--key", key_files.link, "--out", out, "--audit-log", log)
    assert_stopped(result, tmp_path, log, "link")
    assert not out.exists()
