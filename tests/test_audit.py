"""The audit log: fields, outcomes, where it goes, no secrets, concurrent appends."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factlab._version import __version__
from factlab.audit import (
    AUDIT_ENV,
    AuditEvent,
    audit_event,
    audit_log_path,
    audited,
    read_audit_log,
)
from factlab.errors import InputError, LinkError
from factlab.io import file_sha256
from factlab.result_files import write_json

#: The documented fields of an audit line (docs/audit-log.md).
FIELDS = {
    "time",
    "command",
    "arguments",
    "inputs",
    "outputs",
    "key_fingerprint",
    "rows",
    "details",
    "outcome",
    "error",
    "duration_s",
    "factlab_version",
    "user",
    "host",
    "pid",
    "audit_format",
}
TEST_BSN = "999993653"


@pytest.fixture(autouse=True)
def _no_audit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AUDIT_ENV, raising=False)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    first = tmp_path / "a.parquet"
    second = tmp_path / "b.parquet"
    first.write_bytes(b"first input")
    second.write_bytes(b"second input")
    return first, second, tmp_path / "linked.parquet"


def test_ok_line_has_documented_fields(files: tuple[Path, Path, Path]) -> None:
    first, second, out = files
    with audited(
        "link",
        inputs=[first, second],
        output=out,
        arguments={"inputs": [first, second], "out": out, "stage2": True},
    ) as trail:
        out.write_bytes(b"linked")
        trail.set_key_fingerprint("aaaa-bbbb-cccc-dddd-eeee")
        trail.add_rows({"total": 12, "valid": 10})
        trail.add_detail("providers", 2)
    (event,) = read_audit_log(out.parent / "factlab-audit.jsonl")
    assert set(event) == FIELDS
    assert event["command"] == "link"
    assert event["outcome"] == "ok"
    assert event["error"] is None
    assert event["arguments"] == {
        "inputs": [str(first), str(second)],
        "out": str(out),
        "stage2": True,
    }
    assert event["inputs"] == [
        {"path": str(first), "sha256": file_sha256(first)},
        {"path": str(second), "sha256": file_sha256(second)},
    ]
    assert event["outputs"] == [{"path": str(out), "sha256": file_sha256(out)}]
    assert event["key_fingerprint"] == "aaaa-bbbb-cccc-dddd-eeee"
    assert event["rows"] == {"total": 12, "valid": 10}
    assert event["details"] == {"providers": 2}
    assert event["factlab_version"] == __version__
    assert event["audit_format"] == 1
    started = datetime.fromisoformat(event["time"])
    assert started.utcoffset() is not None
    assert started.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs((datetime.now(UTC) - started).total_seconds()) < 60
    assert event["duration_s"] >= 0


def test_paths_recorded_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("in.csv").write_text("x")
    with audited("demo", inputs=["in.csv"], output="out.txt", arguments={"file": "in.csv"}):
        Path("out.txt").write_text("y")
    (event,) = read_audit_log("factlab-audit.jsonl")
    assert event["inputs"][0]["path"] == "in.csv"
    assert event["outputs"][0]["path"] == "out.txt"


def _fail_after_writing(out: Path) -> None:
    out.write_bytes(b"partial")  # a failed command's output is not vouched for
    raise LinkError("b.parquet: mixed keys (fingerprints differ)")


def test_error_outcome_recorded_and_reraised(files: tuple[Path, Path, Path]) -> None:
    first, _, out = files
    with pytest.raises(LinkError, match="mixed keys"), audited("link", inputs=[first], output=out):
        _fail_after_writing(out)
    (event,) = read_audit_log(out.parent / "factlab-audit.jsonl")
    assert event["outcome"] == "error"
    assert event["error"] == {
        "class": "LinkError",
        "message": "b.parquet: mixed keys (fingerprints differ)",
        "exit_code": LinkError.exit_code,
    }
    assert event["outputs"] == []
    assert event["inputs"][0]["sha256"] == file_sha256(first)


def test_foreign_error_message_not_recorded(files: tuple[Path, Path, Path]) -> None:
    first, _, out = files
    with pytest.raises(ValueError, match=TEST_BSN), audited("demo", inputs=[first], output=out):
        # Third-party errors can quote a data value; only the class may be logged.
        raise ValueError(f"could not parse {TEST_BSN!r} in column 'bsn'")
    text = (out.parent / "factlab-audit.jsonl").read_text()
    assert TEST_BSN not in text
    (event,) = read_audit_log(out.parent / "factlab-audit.jsonl")
    assert event["error"] == {"class": "ValueError", "message": None, "exit_code": None}


def test_interrupt_is_recorded(files: tuple[Path, Path, Path]) -> None:
    _, _, out = files
    with pytest.raises(KeyboardInterrupt), audited("demo", output=out):
        raise KeyboardInterrupt
    (event,) = read_audit_log(out.parent / "factlab-audit.jsonl")
    assert (event["outcome"], event["error"]["class"]) == ("error", "KeyboardInterrupt")


def test_missing_input_has_no_hash(files: tuple[Path, Path, Path]) -> None:
    _, _, out = files
    with pytest.raises(InputError), audited("demo", inputs=[out.parent / "nope.csv"], output=out):
        raise InputError("nope.csv: file not found")
    (event,) = read_audit_log(out.parent / "factlab-audit.jsonl")
    assert event["inputs"] == [{"path": str(out.parent / "nope.csv"), "sha256": None}]


@pytest.mark.parametrize(
    "name", ["passphrase", "new_passphrase", "key_secret", "Password", "private_key", "api_token"]
)
def test_secret_arguments_refused(tmp_path: Path, name: str) -> None:
    ran = False
    with (
        pytest.raises(TypeError, match="looks secret"),
        audited("demo", output=tmp_path / "x", arguments={name: "hunter2-hunter2"}),
    ):
        ran = True
    assert not ran
    assert not (tmp_path / "factlab-audit.jsonl").exists()


@pytest.mark.parametrize("value", [b"\x00" * 32, {"nested": "dict"}, object()])
def test_non_plain_argument_values_refused(tmp_path: Path, value: object) -> None:
    with (
        pytest.raises(TypeError, match="only strings"),
        audited("demo", output=tmp_path / "x", arguments={"thing": value}),
    ):
        pass


def test_secret_details_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(TypeError, match="looks secret"),
        audited("demo", output=tmp_path / "x") as trail,
    ):
        trail.add_detail("passphrase", "hunter2-hunter2")
    (event,) = read_audit_log(tmp_path / "factlab-audit.jsonl")
    assert event["outcome"] == "error"
    assert "hunter2" not in (tmp_path / "factlab-audit.jsonl").read_text()


def test_passphrase_env_is_logged_as_given_never_its_value(tmp_path: Path) -> None:
    # A passphrase typed where the variable's name belongs must not reach the log (issue 14.16).
    arguments = {
        "passphrase_env": "my secret pass",
        "recipient_passphrase_env": None,
        "out_passphrase_env": "MY_VAR",
    }
    with audited("demo", output=tmp_path / "x", arguments=arguments):
        pass
    assert read_audit_log(tmp_path / "factlab-audit.jsonl")[0]["arguments"] == {
        "passphrase_env": True,
        "recipient_passphrase_env": None,
        "out_passphrase_env": True,
    }
    text = (tmp_path / "factlab-audit.jsonl").read_text()
    assert "my secret pass" not in text
    assert "MY_VAR" not in text


def test_undigested_output(tmp_path: Path) -> None:
    secret_file = tmp_path / "ttp.recipient.key"
    with audited("demo", output=tmp_path) as trail:
        secret_file.write_text("secret material")
        trail.add_output(secret_file, digest=False)
    (event,) = read_audit_log(tmp_path / "factlab-audit.jsonl")
    assert event["outputs"] == [{"path": str(secret_file), "sha256": None}]


def test_log_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    assert audit_log_path() == Path("factlab-audit.jsonl")
    assert audit_log_path("out/x.parquet") == Path("out/factlab-audit.jsonl")
    assert audit_log_path("out") == Path("out/factlab-audit.jsonl")
    monkeypatch.setenv(AUDIT_ENV, str(tmp_path / "env.jsonl"))
    assert audit_log_path("out/x.parquet") == tmp_path / "env.jsonl"
    assert audit_log_path("out/x.parquet", log="explicit.jsonl") == Path("explicit.jsonl")
    with audited("demo", output="out/x.parquet"):
        pass
    assert read_audit_log(tmp_path / "env.jsonl")[0]["command"] == "demo"
    assert not Path("out/factlab-audit.jsonl").exists()


def test_unwritable_log_stops_the_command_before_it_runs(tmp_path: Path) -> None:
    ran = False
    with (
        pytest.raises(InputError, match="cannot open the audit log"),
        audited("demo", output=tmp_path / "x", log=tmp_path / "missing" / "audit.jsonl"),
    ):
        ran = True
    assert not ran


def _write_audited(out: Path, log: str | Path | None = None, *, overwrite: bool = True) -> None:
    with audited("demo", output=out, log=log, overwrite=overwrite):
        write_json(out, {"counts": 1})


def test_an_output_is_not_published_when_its_audit_line_cannot_be_written(
    tmp_path: Path, full_disk_log: Path
) -> None:
    # the log opens for appending, but every write fails (disk full): the documented promise is
    # that such a command leaves no output (issue 14.9)
    out = tmp_path / "counts.json"
    with pytest.raises(InputError, match="cannot write to the audit log"):
        _write_audited(out, full_disk_log)
    assert list(tmp_path.iterdir()) == []


def test_outputs_appear_only_after_the_audit_line(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    out = tmp_path / "counts.json"
    seen: list[bool] = []
    with audited("demo", output=out, log=log):
        write_json(out, {"counts": 1})
        seen.append(out.exists())
    (line,) = read_audit_log(log)
    assert seen == [False]
    assert line["outputs"] == [{"path": str(out), "sha256": file_sha256(out)}]


def test_a_failed_publication_is_recorded_after_the_ok_line(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    out = tmp_path / "counts.json"

    def other_run_finishes_first() -> None:
        with audited("demo", output=out, log=log, overwrite=False):
            write_json(out, {"counts": 1})
            # held: a concurrent run publishes the same name after this one's check
            _write_audited(out, log)

    with pytest.raises(InputError, match="appeared while this command ran"):
        other_run_finishes_first()
    assert [e["outcome"] for e in read_audit_log(log)] == ["ok", "ok", "error"]
    assert json.loads(out.read_text()) == {"counts": 1}


def test_a_missing_output_folder_is_not_called_an_audit_log_problem(tmp_path: Path) -> None:
    # issue 14.26: the default log goes beside the output, so its folder failed first
    out = tmp_path / "missing" / "counts.json"
    with pytest.raises(InputError) as raised:
        _write_audited(out)
    assert str(raised.value) == f"{out}: the output folder does not exist"


def test_appends_and_reads_back(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    for number in range(3):
        with audited(f"step-{number}", output=tmp_path / "x", log=log):
            pass
    assert [e["command"] for e in read_audit_log(log)] == ["step-0", "step-1", "step-2"]
    log.write_text(log.read_text() + "{not json\n")
    with pytest.raises(InputError, match="line 4 is not valid JSON"):
        read_audit_log(log)


def _write_many(log: str, writer: int, count: int) -> None:
    padding = "x" * 6000  # long lines make interleaving likely if appends were not atomic
    for number in range(count):
        event = AuditEvent(
            time="2026-01-01T00:00:00.000+00:00",
            command="concurrent",
            arguments={"writer": writer, "number": number, "padding": padding},
            inputs=[],
            outputs=[],
            key_fingerprint=None,
            rows={},
            details={},
            outcome="ok",
            error=None,
            duration_s=0.0,
        )
        audit_event(event, log)


def test_concurrent_writers_do_not_interleave(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    writers, count = 4, 150
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_write_many, args=(str(log), writer, count))
        for writer in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    lines = log.read_text().splitlines()
    assert len(lines) == writers * count
    seen = {(e["arguments"]["writer"], e["arguments"]["number"]) for e in map(json.loads, lines)}
    assert seen == {(w, n) for w in range(writers) for n in range(count)}


def test_inputs_hashed_by_the_command(files: tuple[Path, Path, Path]) -> None:
    first, second, out = files
    log = out.parent / "factlab-audit.jsonl"
    reported = "ab" * 32  # what the command says it read; the log takes its word
    with audited("pseudonymise", inputs=[first, second], output=out, hash_inputs=False) as trail:
        # an input the command hashed itself is not read again; one it did not report is
        # hashed when the line is written, after the command's work
        trail.set_input_sha256(first, reported)
        second.write_bytes(b"changed by the command")
        out.write_bytes(b"done")
    (event,) = read_audit_log(log)
    assert event["inputs"] == [
        {"path": str(first), "sha256": reported},
        {"path": str(second), "sha256": file_sha256(second)},
    ]
    with (
        pytest.raises(InputError),
        audited("pseudonymise", inputs=[first], log=log, hash_inputs=False),
    ):
        raise InputError("a.parquet: cannot be read as csv (ComputeError)")
    failed = read_audit_log(log)[-1]
    assert failed["outcome"] == "error"
    assert failed["inputs"] == [{"path": str(first), "sha256": file_sha256(first)}]
