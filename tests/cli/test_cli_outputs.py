"""How every writing command treats its outputs (issue 14: 6, 7, 9, 11, 12, 16, 17, 24, 25, 26).

Each command: never writes over one of its inputs (also through a symbolic or hard link, also
with --force), replaces an existing output only with --force, names a missing folder or a folder
given as --out in one line, leaves nothing behind when stopped, publishes nothing whose audit line
could not be written. Synthetic data only: BSNs from the test range, made-up pseudonyms.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from click.testing import CliRunner, Result

import factlab.result_files
from factlab import schema
from factlab.analysis.count_files import write_counts
from factlab.analysis.counts import count
from factlab.audit import read_audit_log
from factlab.cli import main
from factlab.errors import InputError
from factlab.io import write_parquet
from factlab.keys.recipients import new_recipient, write_recipient
from factlab.keys.seal import seal
from factlab.manifest import Manifest
from factlab.outputs import FORMULA_PREFIX
from factlab.steward.pseudonymise import pseudonymise_file

if TYPE_CHECKING:
    from conftest import KeyFiles

#: Labels that a spreadsheet would run, one per dangerous first character, and harmless ones.
FORMULAS = tuple(f"{prefix}cmd|' /C calc'!A0" for prefix in FORMULA_PREFIX)
MUNICIPALITIES = (*FORMULAS, "Assen", "Emmen")
SECRET = "my secret pass"


@dataclass(frozen=True)
class Round:
    """Every file a round's commands read, in one folder."""

    folder: Path
    keys: KeyFiles
    export: Path
    pseudonymised: Path
    sealed: Path
    recipient: Path
    public: Path
    linked: Path
    counts: Path
    corrections: Path

    def inputs(self) -> list[Path]:
        found = [p for p in self.folder.rglob("*") if p.is_file()]
        return [p for p in found if p.name != "audit.jsonl"]


def _linked_frame(rows: int = 60) -> pl.DataFrame:
    clients = [i % 40 for i in range(rows)]
    return pl.DataFrame(
        {
            "provider": [("P01", "P02", "P03")[i % 3] for i in range(rows)],
            "pseudonym": [hashlib.sha256(f"client-{c}".encode()).hexdigest()[:32] for c in clients],
            "bsn_status": pl.Series(["valid"] * rows, dtype=schema.STATUS_DTYPE),
            "municipality": [MUNICIPALITIES[c % len(MUNICIPALITIES)] for c in clients],
            "care_form": [("ambulant", "verblijf")[i % 2] for i in range(rows)],
            "financing": [("ZIN", "PGB")[c % 2] for c in clients],
            "birth_year": pl.Series([2010 + c % 8 for c in clients], dtype=pl.Int16),
            "start_date": [date(2024 + i % 2, 1 + i % 12, 1) for i in range(rows)],
            "end_date": pl.Series([None] * rows, dtype=pl.Date),
            "cost": [100.0 + i for i in range(rows)],
        }
    )


@pytest.fixture
def round_files(tmp_path: Path, key_files: KeyFiles) -> Round:
    folder = tmp_path / "round"
    folder.mkdir()
    export = folder / "export.csv"
    export.write_text(
        "BSN;Gemeente;Zorgvorm\n999993653;Assen;ambulant\n999991723;Emmen;verblijf\n"
        "999995078;Assen;ambulant\n",
        encoding="utf-8",
    )
    pseudonymised = folder / "P01.parquet"
    pseudonymise_file(export, key_files.key.provider_key(), provider="P01", out=pseudonymised)
    private, public = new_recipient("ttp")
    recipient, public_path = write_recipient(private, folder)
    sealed = folder / "P01.sealed"
    seal(pseudonymised, public, sealed)
    frame = _linked_frame()
    linked = folder / "linked.parquet"
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="test-2026",
        key_id="k",
        key_fingerprint="f",
        rows=frame.height,
        rows_by_status={"valid": frame.height},
    )
    write_parquet(frame, linked, manifest)
    counts = folder / "counts.csv"
    write_counts(count(linked, by=("care_form", "financing")), counts)
    corrections = folder / "corrections.toml"
    corrections.write_text(
        'version = 1\ntitle = "t"\nbase = "sum_of_cells"\nrow_dimension = "care_form"\n'
        'column_dimension = "financing"\n\n[[adjustment]]\nname = "pgb"\nkind = "factor"\n'
        'select = { financing = "PGB" }\nfactor = 0.5\nsource = "s"\nnote = "n"\n',
        encoding="utf-8",
    )
    return Round(
        folder=folder,
        keys=key_files,
        export=export,
        pseudonymised=pseudonymised,
        sealed=sealed,
        recipient=recipient,
        public=public_path,
        linked=linked,
        counts=counts,
        corrections=corrections,
    )


#: command -> (arguments before --out, the input an output may replace, the --out extension)
Command = Callable[[Round], tuple[list[str | Path], Path, str]]
COMMANDS: dict[str, Command] = {
    "pseudonymise": lambda r: (
        ["pseudonymise", r.export, "--key", r.keys.provider, "--provider", "P01"],
        r.export,
        ".parquet",
    ),
    "seal": lambda r: (["seal", r.pseudonymised, "--to", r.public], r.pseudonymised, ".sealed"),
    "unseal": lambda r: (["unseal", r.sealed, "--recipient", r.recipient], r.sealed, ".parquet"),
    "link": lambda r: (["link", r.pseudonymised, "--key", r.keys.link], r.pseudonymised, ".pq"),
    "count": lambda r: (["count", r.linked, "--by", "care_form"], r.linked, ".csv"),
    "overlap": lambda r: (["overlap", r.linked], r.linked, ".csv"),
    "flows": lambda r: (
        ["flows", r.linked, "--from", "2024", "--to", "2025", "--no-repeat"],
        r.linked,
        ".json",
    ),
    "costs": lambda r: (["costs", r.linked], r.linked, ".parquet"),
    "protect": lambda r: (["protect", r.counts], r.counts, ".csv"),
    "estimate": lambda r: (
        ["estimate", r.counts, "--corrections", r.corrections],
        r.counts,
        ".md",
    ),
    "report": lambda r: (["report", r.linked], r.linked, ".html"),
    "unseen": lambda r: (["unseen", r.linked], r.linked, ".json"),
    "export-provider": lambda r: (["key", "export-provider", r.keys.round], r.keys.round, ".key"),
}


def run(*args: object, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def snapshot(files: list[Path]) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in files}


def temporaries(folder: Path) -> list[Path]:
    return list(folder.rglob("*.tmp"))


def one_line_error(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("factlab: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --- 6, 25: never over an input, an existing output only with --force ----------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("how", ["same path", "symbolic link", "hard link"])
def test_no_command_writes_over_its_input(round_files: Round, name: str, how: str) -> None:
    arguments, source, suffix = COMMANDS[name](round_files)
    if how == "same path":
        if name in ("report", "unseen"):
            pytest.skip("this command's output extension is never its input's")
        out = source
    else:
        out = round_files.folder / f"out{suffix}"
        if how == "symbolic link":
            out.symlink_to(source)
        else:
            os.link(source, out)
    before = snapshot(round_files.inputs())
    result = run(*arguments, "--out", out, "--force")
    assert result.exit_code == InputError.exit_code, result.output
    assert "is also an input of this command" in one_line_error(result)
    assert snapshot(round_files.inputs()) == before
    assert temporaries(round_files.folder) == []


def test_pseudonymise_never_replaces_the_raw_export(round_files: Round) -> None:
    # issue 14.25: `pseudonymise --out` equal to its input replaced the raw export
    export = round_files.export
    raw = export.read_bytes()
    for extra in ([], ["--force"]):
        result = run(*COMMANDS["pseudonymise"](round_files)[0], "--out", export, *extra)
        assert result.exit_code == InputError.exit_code
        assert export.read_bytes() == raw


@pytest.mark.parametrize(
    ("name", "key_option"),
    [("link", "--key"), ("unseal", "--recipient"), ("seal", "--to"), ("pseudonymise", "--key")],
)
def test_a_key_file_is_an_input_too(round_files: Round, name: str, key_option: str) -> None:
    arguments, _, _ = COMMANDS[name](round_files)
    key = Path(arguments[arguments.index(key_option) + 1])
    before = key.read_bytes()
    result = run(*arguments, "--out", key, "--force")
    assert result.exit_code == InputError.exit_code
    assert key.read_bytes() == before


def test_a_counts_tables_sidecar_is_an_input_too(round_files: Round) -> None:
    sidecar = round_files.folder / "counts.csv.meta.json"
    before = sidecar.read_bytes()
    result = run("protect", round_files.counts, "--out", sidecar, "--force")
    assert result.exit_code == InputError.exit_code
    assert "is also an input" in one_line_error(result)
    assert sidecar.read_bytes() == before


def test_the_audit_log_is_never_an_output(round_files: Round, audit_log: Path) -> None:
    audit_log.write_text("")
    arguments, _, _ = COMMANDS["seal"](round_files)
    result = run(*arguments, "--out", audit_log, "--force")
    assert result.exit_code == InputError.exit_code
    assert audit_log.read_text() == ""


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"export-provider"}))
def test_an_existing_output_is_replaced_only_with_force(round_files: Round, name: str) -> None:
    arguments, _, suffix = COMMANDS[name](round_files)
    out = round_files.folder / f"earlier{suffix}"
    out.write_bytes(b"an earlier result")
    refused = run(*arguments, "--out", out)
    assert refused.exit_code == InputError.exit_code, refused.output
    assert one_line_error(refused) == f"factlab: error: {out}: exists (use --force to overwrite)"
    assert out.read_bytes() == b"an earlier result"
    forced = run(*arguments, "--out", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() != b"an earlier result"
    assert temporaries(round_files.folder) == []


@pytest.mark.parametrize("name", ["count", "protect", "overlap"])
def test_an_existing_sidecar_is_an_existing_output(round_files: Round, name: str) -> None:
    arguments, _, _ = COMMANDS[name](round_files)
    out = round_files.folder / "new.csv"
    stale = round_files.folder / "new.csv.meta.json"
    stale.write_text("{}")
    result = run(*arguments, "--out", out)
    assert result.exit_code == InputError.exit_code
    assert not out.exists()
    assert stale.read_text() == "{}"


@pytest.mark.parametrize("name", ["count", "unseal", "report"])
def test_a_dangling_symbolic_link_is_not_replaced_silently(round_files: Round, name: str) -> None:
    arguments, _, suffix = COMMANDS[name](round_files)
    out = round_files.folder / f"dangling{suffix}"
    out.symlink_to(round_files.folder / "elsewhere")
    result = run(*arguments, "--out", out)
    assert result.exit_code == InputError.exit_code
    assert "symbolic link to nothing" in one_line_error(result)
    assert out.is_symlink()
    assert not (round_files.folder / "elsewhere").exists()


def test_report_outputs_named_twice_are_refused(round_files: Round) -> None:
    out = round_files.folder / "r.html"
    result = run("report", round_files.linked, "--out", out, "--out", f"{out.parent}/./r.html")
    assert result.exit_code == InputError.exit_code
    assert "given twice" in one_line_error(result)
    assert not out.exists()


def test_protect_writes_table_and_report_together(round_files: Round) -> None:
    out = round_files.folder / "protected.csv"
    report = round_files.folder / "protection.json"
    report.write_text("earlier")
    refused = run("protect", round_files.counts, "--out", out, "--report", report)
    assert refused.exit_code == InputError.exit_code
    assert not out.exists()
    assert report.read_text() == "earlier"
    done = run("protect", round_files.counts, "--out", out, "--report", report, "--force")
    assert done.exit_code == 0, done.output
    assert out.exists()
    assert report.read_text() != "earlier"


# --- 24: two runs to one output ------------------------------------------------------------


def test_a_file_that_appears_while_the_command_runs_is_not_replaced(
    round_files: Round, monkeypatch: pytest.MonkeyPatch, audit_log: Path
) -> None:
    out = round_files.folder / "counts-new.csv"
    csv_safe = factlab.result_files.csv_safe

    def other_run_finishes_first(frame: pl.DataFrame) -> pl.DataFrame:
        out.write_text("the other run's counts")
        return csv_safe(frame)

    monkeypatch.setattr(factlab.result_files, "csv_safe", other_run_finishes_first)
    result = run("count", round_files.linked, "--by", "care_form", "--out", out)
    assert result.exit_code == InputError.exit_code
    assert "exists" in one_line_error(result)
    assert out.read_text() == "the other run's counts"
    assert not (round_files.folder / "counts-new.csv.meta.json").exists()
    assert temporaries(round_files.folder) == []
    assert read_audit_log(audit_log)[-1]["outcome"] == "error"


# --- 7: stopped runs leave nothing ---------------------------------------------------------


def test_sigterm_removes_the_partial_output_and_is_audited(
    round_files: Round, monkeypatch: pytest.MonkeyPatch, audit_log: Path
) -> None:
    out = round_files.folder / "cells.csv"
    csv_safe = factlab.result_files.csv_safe
    handler = signal.getsignal(signal.SIGTERM)

    def stopped_while_writing(frame: pl.DataFrame) -> pl.DataFrame:
        assert temporaries(round_files.folder)  # the partial output exists now
        os.kill(os.getpid(), signal.SIGTERM)
        return csv_safe(frame)

    monkeypatch.setattr(factlab.result_files, "csv_safe", stopped_while_writing)
    result = run("count", round_files.linked, "--by", "municipality", "--out", out)
    assert result.exit_code == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in one_line_error(result)
    assert not out.exists()
    assert temporaries(round_files.folder) == []
    line = read_audit_log(audit_log)[-1]
    assert (line["command"], line["outcome"], line["error"]["class"]) == (
        "count",
        "error",
        "Terminated",
    )
    assert signal.getsignal(signal.SIGTERM) is handler  # restored after the command


def test_a_killed_runs_temporary_is_swept_by_the_next_run(round_files: Round) -> None:
    out = round_files.folder / "P01-again.parquet"
    code = (
        "import os, signal, sys\n"
        "from factlab.outputs import new_temporary\n"
        "descriptor, path = new_temporary(sys.argv[1])\n"
        "os.write(descriptor, b'pseudonymised rows, half written')\n"
        "print(path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, check=False
    )
    left = Path(killed.stdout.strip())
    assert killed.returncode == -signal.SIGKILL
    assert left.exists()
    arguments, _, _ = COMMANDS["pseudonymise"](round_files)
    result = run(*arguments, "--out", out)
    assert result.exit_code == 0, result.output
    assert not left.exists()
    assert temporaries(round_files.folder) == []


# --- 9: no output without its audit line ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["pseudonymise", "seal", "unseal", "link", "count", "overlap", "costs", "report"]
)
def test_no_output_when_the_audit_line_cannot_be_written(
    round_files: Round, name: str, full_disk_log: Path
) -> None:
    # the log opens for appending, then every write fails with ENOSPC
    arguments, _, suffix = COMMANDS[name](round_files)
    out = round_files.folder / f"new{suffix}"
    result = run(*arguments, "--out", out, "--audit-log", full_disk_log)
    assert result.exit_code == InputError.exit_code
    assert "cannot write to the audit log" in one_line_error(result)
    assert sorted(p.name for p in round_files.folder.iterdir() if p.name.startswith("new")) == []
    assert temporaries(round_files.folder) == []


def test_no_recipient_key_without_its_audit_line(tmp_path: Path, full_disk_log: Path) -> None:
    result = run("key", "new-recipient", "ttp", "--out-dir", tmp_path, "--audit-log", full_disk_log)
    assert result.exit_code == InputError.exit_code
    assert list(tmp_path.iterdir()) == []


# --- 26, 17: folders, and errors of the operating system -----------------------------------


@pytest.mark.parametrize("name", ["pseudonymise", "count", "seal", "report"])
def test_a_missing_output_folder_is_named_as_such(
    round_files: Round, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FACTLAB_AUDIT_LOG")  # the log goes beside the output by default
    arguments, _, suffix = COMMANDS[name](round_files)
    out = round_files.folder / "missing" / f"out{suffix}"
    result = run(*arguments, "--out", out)
    assert result.exit_code == InputError.exit_code
    assert one_line_error(result) == f"factlab: error: {out}: the output folder does not exist"


@pytest.mark.parametrize("name", ["link", "count", "protect", "unseal", "costs", "estimate"])
def test_a_folder_as_out_is_one_line(round_files: Round, name: str) -> None:
    arguments, _, suffix = COMMANDS[name](round_files)
    folder = round_files.folder / f"folder{suffix}"
    folder.mkdir()
    result = run(*arguments, "--out", folder, "--force")
    assert result.exit_code != 0
    message = result.stderr if result.exit_code != 2 else result.output
    assert "Traceback" not in result.output
    assert folder.is_dir()
    assert "folder" in message or "directory" in message


def test_a_full_disk_is_one_line(round_files: Round, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: pl.DataFrame, *args: object, **kwargs: object) -> None:
        raise OSError("No space left on device (os error 28)")  # as Polars raises it

    monkeypatch.setattr(pl.DataFrame, "write_csv", full)
    out = round_files.folder / "cells.csv"
    result = run("count", round_files.linked, "--by", "care_form", "--out", out)
    assert result.exit_code == InputError.exit_code
    assert one_line_error(result) == (
        f"factlab: error: {out}: cannot be written (No space left on device)"
    )
    assert not out.exists()
    assert temporaries(round_files.folder) == []


def test_a_read_only_folder_is_one_line(
    round_files: Round, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(factlab.outputs.tempfile, "mkstemp", refused)
    out = round_files.folder / "sealed"
    result = run(*COMMANDS["seal"](round_files)[0], "--out", out)
    assert result.exit_code == InputError.exit_code
    assert one_line_error(result) == f"factlab: error: {out}: cannot be written (Permission denied)"


def test_any_other_os_error_is_one_line_without_traceback(
    round_files: Round, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error", "/mnt/broken/linked.parquet")

    monkeypatch.setattr("factlab.cli.analysis.costs", broken)
    result = run("costs", round_files.linked, "--out", round_files.folder / "c.csv")
    assert result.exit_code == InputError.exit_code
    assert one_line_error(result) == (
        "factlab: error: /mnt/broken/linked.parquet: Input/output error"
    )


# --- 16: a passphrase where a variable's name belongs ----------------------------------------


Arguments = Callable[[Round], list[str | Path]]
PASSPHRASE_OPTIONS: list[tuple[str, Arguments]] = [
    (
        "--passphrase-env",
        lambda r: ["unseal", r.sealed, "--recipient", r.recipient, "--out", r.folder / "x.pq"],
    ),
    (
        "--passphrase-env",
        lambda r: ["link", r.pseudonymised, "--key", r.keys.link, "--out", r.folder / "l.pq"],
    ),
    (
        "--recipient-passphrase-env",
        lambda r: [
            *("link", r.sealed, "--recipient", r.recipient),
            *("--key", r.keys.link, "--out", r.folder / "l.pq"),
        ],
    ),
    (
        "--passphrase-env",
        lambda r: [*COMMANDS["pseudonymise"](r)[0], "--out", r.folder / "p.pq"],
    ),
    ("--passphrase-env", lambda r: ["key", "new", r.folder / "new.key", "--round", "r"]),
    ("--passphrase-env", lambda r: ["key", "new-recipient", "other", "--out-dir", r.folder]),
    (
        "--passphrase-env",
        lambda r: ["key", "export-provider", r.keys.round, "--out", r.folder / "p.key"],
    ),
    (
        "--out-passphrase-env",
        lambda r: ["key", "export-link", r.keys.round, "--out", r.folder / "l.key"],
    ),
]


@pytest.mark.parametrize(("option", "arguments"), PASSPHRASE_OPTIONS)
def test_a_passphrase_given_as_variable_name_is_never_echoed_or_logged(
    round_files: Round, option: str, arguments: Arguments, audit_log: Path
) -> None:
    result = run(*arguments(round_files), option, SECRET)
    assert result.exit_code == 2  # a usage error, before anything is read or logged
    assert "not a variable name" in result.output
    assert SECRET not in result.output
    assert not audit_log.exists() or SECRET not in audit_log.read_text()


def test_a_passphrase_variables_name_is_checked_in_the_library_too() -> None:
    from factlab.cli._common import passphrase_from
    from factlab.errors import KeyFileError

    with pytest.raises(KeyFileError) as raised:
        passphrase_from(SECRET, prompt=False)
    assert str(raised.value) == "--passphrase-env: not a variable name"


# --- 11: values shown on a terminal are text, never markup -------------------------------------


def test_estimate_shows_labels_as_they_are(round_files: Round) -> None:
    counts = round_files.folder / "markup.csv"
    counts.write_text(
        "care_form,financing,unique_clients\n"
        "[/],ZIN,10\n"
        "[link=https://example.invalid]ambulant[/link],PGB,5\n"
        "[bold red]x,[/],3\n",
        encoding="utf-8",
    )
    result = run("estimate", counts, "--corrections", round_files.corrections)
    assert result.exit_code == 0, result.output
    assert "[link=https://example.invalid]ambulant[/link]" in result.stdout
    assert "[bold red]x" in result.stdout
    assert "\x1b]8;" not in result.stdout  # no live hyperlink


# --- 12: text a spreadsheet would run, in every CSV meant for reading ------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        ["count", "{linked}", "--by", "municipality,care_form"],
        ["overlap", "{linked}", "--by", "municipality"],
        ["costs", "{linked}", "--by", "municipality"],
        [
            "flows",
            "{linked}",
            "--from",
            "2024",
            "--to",
            "2025",
            "--by",
            "municipality",
            "--no-repeat",
        ],
    ],
)
def test_no_csv_cell_starts_a_formula(round_files: Round, arguments: list[str]) -> None:
    filled = [a.format(linked=round_files.linked) for a in arguments]
    out = round_files.folder / "table.csv"
    result = run(*filled, "--out", out)
    assert result.exit_code == 0, result.output
    raw = pl.read_csv(out, infer_schema=False)
    text = raw.select(pl.col(pl.String))
    cells = [*raw.columns, *(v for column in text.iter_columns() for v in column.drop_nulls())]
    assert not [c for c in cells if c.startswith(tuple(FORMULA_PREFIX)) and not _number(c)]
    quoted = {c for c in cells if c.startswith("'")}
    assert quoted  # the labels are there, made inert
    if arguments[0] == "count":
        protected = round_files.folder / "protected.csv"
        done = run("protect", out, "--out", protected)
        assert done.exit_code == 0, done.output
        published = pl.read_csv(protected, infer_schema=False)
        labels = published["municipality"].drop_nulls().to_list()
        assert labels
        assert all(not v.startswith(tuple(FORMULA_PREFIX)) for v in labels)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_progress_shows_file_names_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    import factlab.cli._common as common

    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    monkeypatch.setattr(common, "err_console", terminal)
    name = "pseudonymising [/]x[link=https://example.invalid]y[/link].csv"
    with common.progress(name) as advance:
        advance(1)
    assert "[/]x[link=https://example.invalid]y[/link].csv" in buffer.getvalue()
