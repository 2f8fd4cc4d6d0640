"""The audit log: one JSON line for every command that reads or writes client data.

A line says who ran what, when, on which files (paths as given, SHA-256 of the bytes), with which
key (fingerprint only), how many rows, and how it ended. It never holds a client value or a
secret: arguments whose name marks them as secret are refused (those naming the environment
variable that holds one are recorded only as given or not), and the message of an exception
that is not a :class:`~factlab.errors.FactlabError` is not recorded, because third-party errors
(Polars, pyarrow) may quote the data they choked on.

Lines are appended with ``O_APPEND`` and a single ``write`` each, so concurrent commands writing
the same log do not interleave. The log is opened before the command does any work, and the
command's outputs are held back (:func:`factlab.outputs.held_outputs`) until its line is written:
a command whose audit line cannot be written leaves no output. See ``docs/audit-log.md``.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from factlab._export_checks import file_kind, open_regular
from factlab._version import __version__
from factlab.errors import FactlabError, InputError, Terminated
from factlab.io import file_sha256
from factlab.outputs import HeldOutputs, held_outputs

__all__ = [
    "AUDIT_ENV",
    "AUDIT_FILE_NAME",
    "AuditEvent",
    "AuditTrail",
    "audit_event",
    "audit_log_path",
    "audited",
    "read_audit_log",
]

#: Environment variable naming the audit log (overridden by an explicit ``log`` argument).
AUDIT_ENV: Final = "FACTLAB_AUDIT_LOG"
#: File name of the default audit log, written beside a command's output.
AUDIT_FILE_NAME: Final = "factlab-audit.jsonl"
#: Version of the line layout; bump it when a field changes meaning.
AUDIT_FORMAT: Final = 1

# Argument names that can only hold a secret: refused. A `*_env` name among them names the
# environment variable that holds the secret; its value is recorded only as given (true) or not
# (null), because a hurried user may have typed the passphrase itself where the name belongs.
_SECRET_WORDS: Final = (
    "passphrase",
    "password",
    "secret",
    "token",
    "private_key",
    "key_material",
    "credential",
)
_Scalar = str | int | float | bool | None


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AuditEvent:
    """One line of the audit log.

    Attributes:
        time: start of the command, ISO 8601 UTC with milliseconds.
        command: command name, e.g. ``seal``.
        arguments: non-secret arguments; paths exactly as given.
        inputs: ``{"path", "sha256"}`` per data file read (sha256 null if it could not be read).
        outputs: ``{"path", "sha256"}`` per file written (only when the command succeeded).
        key_fingerprint: fingerprint of the pseudonymisation key involved, if any.
        rows: row counts by label (e.g. ``total``, ``valid``).
        details: further non-secret facts (e.g. a recipient key id).
        outcome: ``ok`` or ``error``.
        error: ``{"class", "message", "exit_code"}`` when the outcome is ``error``.
        duration_s: wall-clock duration in seconds.
        factlab_version: version of factlab that ran the command.
        user: login name of the operator.
        host: host name of the machine.
        pid: process id.
        audit_format: version of this layout.
    """

    time: str
    command: str
    arguments: dict[str, Any]
    inputs: list[dict[str, str | None]]
    outputs: list[dict[str, str | None]]
    key_fingerprint: str | None
    rows: dict[str, int]
    details: dict[str, Any]
    outcome: str
    error: dict[str, Any] | None
    duration_s: float
    factlab_version: str = __version__
    user: str = field(default_factory=lambda: _operator())
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    audit_format: int = AUDIT_FORMAT

    def to_json(self) -> str:
        """The event as one line of compact, key-sorted JSON (no newline)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a container with an arbitrary uid
        return f"uid:{os.getuid()}"


def audit_log_path(output: str | Path | None = None, log: str | Path | None = None) -> Path:
    """Where a command's audit line goes.

    The explicit ``log`` wins; then the environment variable ``FACTLAB_AUDIT_LOG``; then
    ``factlab-audit.jsonl`` beside ``output``; then ``factlab-audit.jsonl`` in the working folder.

    Example:
        >>> audit_log_path("out/linked.parquet", log="/var/log/factlab.jsonl").as_posix()
        '/var/log/factlab.jsonl'
    """
    if log is not None:
        return Path(log)
    from_env = os.environ.get(AUDIT_ENV, "").strip()
    if from_env:
        return Path(from_env)
    if output is not None:
        output = Path(output)
        # A folder output (e.g. the folder new key files go to) holds the log itself.
        folder = output if output.is_dir() else output.parent
        return folder / AUDIT_FILE_NAME
    return Path(AUDIT_FILE_NAME)


def _check_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in arguments.items():
        lowered = name.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            if not lowered.endswith("_env"):
                raise TypeError(f"audit argument {name!r} looks secret; it must not be logged")
            cleaned[name] = True if value else None
            continue
        cleaned[name] = _plain(name, value)
    return cleaned


def _plain(name: str, value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, _Scalar):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str | Path | _Scalar) for v in value):
        return [str(v) if isinstance(v, Path) else v for v in value]
    # Anything else (bytes, frames, key objects) could carry data or a secret into the log.
    raise TypeError(f"audit argument {name!r}: only strings, numbers, paths or lists of them")


def _file_entry(path: str | Path, held: HeldOutputs | None = None) -> dict[str, str | None]:
    # A held output is hashed under its temporary name: the bytes that will be published.
    waiting = held.temporary_of(path) if held is not None else None
    try:
        digest: str | None = file_sha256(waiting or path)
    except (OSError, InputError):  # missing, unreadable, or no regular file (a FIFO would hang)
        digest = None
    return {"path": str(path), "sha256": digest}


def _check_output_folder(output: str | Path | None) -> None:
    """A missing output folder is named as such, not as an audit log that cannot be opened."""
    if output is None:
        return
    output = Path(output)
    folder = output if output.is_dir() else output.parent
    if not folder.is_dir():
        raise InputError(f"{output}: the output folder does not exist")


def _error_entry(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, FactlabError | Terminated):  # factlab's own text: never a value
        return {"class": type(exc).__name__, "message": str(exc), "exit_code": exc.exit_code}
    # A foreign error's message may quote a data value: record its class only.
    return {"class": type(exc).__name__, "message": None, "exit_code": None}


def _not_a_file(path: Path, mode: int) -> InputError:
    return InputError(f"{path}: {file_kind(mode)}, not a file; the audit log must be a file")


def _open_log(path: Path) -> int:
    """Open the log for appending; refuse anything but a regular file.

    Without blocking: opening a FIFO for writing otherwise waits for a reader forever. The type
    is checked on the opened descriptor: a device such as ``/dev/null`` would swallow every line.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o640)
    except OSError as exc:
        with contextlib.suppress(OSError):  # a FIFO without a reader: ENXIO; name it as such
            mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode):
                raise _not_a_file(path, mode) from None
        raise InputError(
            f"{path}: cannot open the audit log for appending ({exc.strerror})"
        ) from exc
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise _not_a_file(path, mode)
    return descriptor


def _append(descriptor: int, path: Path, event: AuditEvent) -> None:
    line = (event.to_json() + "\n").encode("utf-8")
    try:
        written = os.write(descriptor, line)
        # A regular file takes the whole line in one write; a short write is finished so the
        # line is complete, even if then no longer atomic.
        while written < len(line):
            written += os.write(descriptor, line[written:])
    except OSError as exc:
        raise InputError(f"{path}: cannot write to the audit log ({exc.strerror})") from exc


def audit_event(event: AuditEvent, log: str | Path | None = None) -> Path:
    """Append one event to the audit log; return the log's path.

    Raises:
        InputError: the log cannot be opened or written.

    Example:
        >>> import tempfile, pathlib
        >>> log = pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> event = AuditEvent(time="2026-01-01T00:00:00.000+00:00", command="demo",
        ...     arguments={}, inputs=[], outputs=[], key_fingerprint=None, rows={},
        ...     details={}, outcome="ok", error=None, duration_s=0.0)
        >>> audit_event(event, log) == log
        True
        >>> read_audit_log(log)[0]["command"]
        'demo'
    """
    path = audit_log_path(log=log)
    descriptor = _open_log(path)
    try:
        _append(descriptor, path, event)
    finally:
        os.close(descriptor)
    return path


class AuditTrail:
    """Facts a running command adds to its audit line (yielded by :func:`audited`).

    Only non-secret facts go in: a key fingerprint, row counts, identifiers of public keys.
    """

    def __init__(self) -> None:
        self._key_fingerprint: str | None = None
        self._rows: dict[str, int] = {}
        self._details: dict[str, Any] = {}
        self._outputs: list[tuple[str, bool]] = []
        self._input_sha256: dict[str, str] = {}

    def set_key_fingerprint(self, fingerprint: str | None) -> None:
        """Record the fingerprint of the pseudonymisation key the command used."""
        self._key_fingerprint = fingerprint

    def add_rows(self, counts: Mapping[str, int]) -> None:
        """Record row counts, e.g. ``{"total": 120, "valid": 117}``."""
        self._rows.update({str(label): int(count) for label, count in counts.items()})

    def add_detail(self, name: str, value: Any) -> None:
        """Record a further non-secret fact (same rules as command arguments)."""
        self._details.update(_check_arguments({name: value}))

    def set_input_sha256(self, path: str | Path, sha256: str) -> None:
        """Record the SHA-256 of an input as the command read it (see ``audited``'s
        ``hash_inputs``), so that the file need not be read a second time for the log."""
        self._input_sha256[str(path)] = sha256

    def add_output(self, path: str | Path, *, digest: bool = True) -> None:
        """Record a further file the command wrote, hashed when the command succeeds.

        Pass ``digest=False`` for a file that holds a secret (a private key file): its path is
        logged, its hash is not.
        """
        self._outputs.append((str(path), digest))


@contextlib.contextmanager
def audited(
    command: str,
    *,
    inputs: Sequence[str | Path] = (),
    output: str | Path | None = None,
    arguments: Mapping[str, Any] | None = None,
    log: str | Path | None = None,
    hash_inputs: bool = True,
    overwrite: bool = True,
    hold_outputs: bool = True,
) -> Iterator[AuditTrail]:
    """Run a command's body and append its audit line on the way out, whatever the outcome.

    Inputs are hashed on entry (what the command read); outputs are hashed only on success.
    An exception is recorded and re-raised. The log is opened first, so a command whose audit
    line could not be written does no work.

    The files factlab's writers finish in the body are held back under their temporary names
    (:func:`factlab.outputs.held_outputs`) and published only after the line saying the command
    succeeded is written; if it cannot be written they are removed, so no output exists without
    its audit line. Should publishing then fail (a file of that name appeared meanwhile), a
    second line records the error. A body that reads back what it wrote passes
    ``hold_outputs=False``; its files are then published as they are written.

    A command that hashes its inputs itself, from the very bytes it parses, passes
    ``hash_inputs=False`` and reports each digest with ``trail.set_input_sha256``: every file is
    then read once. An input it did not report (it failed before reading it) is hashed when the
    line is written.

    Args:
        command: command name.
        inputs: data files the command reads (not key files: only their key id is logged).
        output: the file (or folder) the command writes; also places the default log.
        arguments: non-secret arguments, paths as given.
        log: explicit log path (else ``FACTLAB_AUDIT_LOG``, else beside ``output``).
        hash_inputs: hash the inputs on entry (else see above).
        overwrite: let held outputs replace existing files (``--force``); without it an
            existing file, even one that appeared while the command ran, is never replaced.
        hold_outputs: hold outputs until the line is written (see above).

    Raises:
        InputError: the output folder does not exist, or the audit log cannot be opened or
            written (then no held output is published).
        TypeError: an argument looks secret or is not a plain value (a programming error).

    Example:
        >>> import tempfile, pathlib
        >>> from factlab.result_files import write_json
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with audited("demo", output=folder / "out.json") as trail:
        ...     write_json(folder / "out.json", {"done": True})
        ...     trail.add_rows({"total": 1})
        >>> line = read_audit_log(folder / "factlab-audit.jsonl")[-1]
        >>> line["outcome"], line["rows"], line["outputs"][0]["sha256"][:8]
        ('ok', {'total': 1}, 'db54d810')
    """
    checked = _check_arguments(arguments or {})
    _check_output_folder(output)
    path = audit_log_path(output, log)
    descriptor = _open_log(path)
    try:
        started, clock = _utc_now(), time.monotonic()
        on_entry = [_file_entry(item) for item in inputs] if hash_inputs else None
        trail = AuditTrail()

        def input_entries() -> list[dict[str, str | None]]:
            if on_entry is not None:
                return on_entry
            reported = trail._input_sha256
            return [
                {"path": str(item), "sha256": reported[str(item)]}
                if str(item) in reported
                else _file_entry(item)
                for item in inputs
            ]

        def failed(exc: BaseException, outputs: list[dict[str, str | None]]) -> None:
            try:
                _append(
                    descriptor,
                    path,
                    _event(
                        command,
                        started,
                        clock,
                        checked,
                        input_entries(),
                        outputs,
                        trail,
                        _error_entry(exc),
                    ),
                )
            except InputError as audit_failure:
                # The command's own error matters more to the operator; keep it on top.
                exc.add_note(f"factlab: also failed to write the audit line: {audit_failure}")

        holding = (
            held_outputs(overwrite=overwrite, inputs=inputs)
            if hold_outputs
            else contextlib.nullcontext(None)
        )
        with holding as held:
            try:
                yield trail
            except BaseException as exc:
                failed(exc, [])
                raise
            written = [] if output is None or Path(output).is_dir() else [(str(output), True)]
            written += trail._outputs
            outputs = [
                _file_entry(item, held) if digest else {"path": item, "sha256": None}
                for item, digest in written
            ]
            # Written before any held output is published: if it fails, they are removed.
            _append(
                descriptor,
                path,
                _event(command, started, clock, checked, input_entries(), outputs, trail, None),
            )
            if held is not None:
                try:
                    held.publish()
                except BaseException as exc:
                    failed(exc, [])
                    raise
    finally:
        os.close(descriptor)


def _event(
    command: str,
    started: str,
    clock: float,
    arguments: dict[str, Any],
    inputs: list[dict[str, str | None]],
    outputs: list[dict[str, str | None]],
    trail: AuditTrail,
    error: dict[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        time=started,
        command=command,
        arguments=arguments,
        inputs=inputs,
        outputs=outputs,
        key_fingerprint=trail._key_fingerprint,
        rows=dict(trail._rows),
        details=dict(trail._details),
        outcome="ok" if error is None else "error",
        error=error,
        duration_s=round(time.monotonic() - clock, 3),
    )


def read_audit_log(path: str | Path) -> list[dict[str, Any]]:
    """Read every line of an audit log as a dict (for inspection and tests).

    Raises:
        InputError: the file is missing, no regular file, or a line is not a JSON object.
    """
    path = Path(path)
    with open_regular(path, what="audit log") as handle:
        text = handle.read().decode("utf-8")
    events: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number} is not valid JSON") from exc
        if not isinstance(event, dict):
            raise InputError(f"{path}: line {number} is not a JSON object")
        events.append(event)
    return events
