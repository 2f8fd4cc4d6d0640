"""Shared plumbing of the command-line tool: error handling, progress, output to stderr."""

from __future__ import annotations

import functools
import re
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, ParamSpec, TextIO, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from factlab.audit import audit_log_path
from factlab.errors import (
    ConfigError,
    FactlabError,
    FactlabWarning,
    InputError,
    KeyFileError,
    Terminated,
)
from factlab.io import sidecar_path
from factlab.keys.round_keys import Key
from factlab.outputs import check_output, same_file

if TYPE_CHECKING:
    from factlab.keys.recipients import RecipientPrivateKey

P = ParamSpec("P")
R = TypeVar("R")

#: Everything that is not a command's result goes to stderr.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    """Print a progress or summary line on stderr."""
    err_console.print(message, markup=False)


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    err_console.print(f"factlab: warning: {message}", markup=False)


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show each FactlabWarning as one ``factlab: warning:`` line, not Python's two-line form
    with a source location; other warnings are shown as Python would."""
    with warnings.catch_warnings():
        python_show = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, FactlabWarning):
                warn(str(message))
            else:
                python_show(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


# Signals that stop a command politely: raised as Terminated (no FactlabError, so no handler of
# a parser's failures takes it for one), so that every `finally` runs (no temporary file stays
# behind) and the audit log records the command as stopped.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, frame: FrameType | None) -> None:
    # Once is enough: a second signal while cleaning up stops the process the hard way.
    signal.signal(signum, signal.SIG_DFL)
    raise Terminated(signum)


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP raise Terminated (a signal the process was told
    to ignore, e.g. under nohup, stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (a test runner's thread, say)
        return
    previous: dict[int, Any] = {}
    for number in _STOP_SIGNALS:
        before = signal.getsignal(number)
        if before is not signal.SIG_IGN:
            previous[number] = before
            signal.signal(number, _stop)
    try:
        yield
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)


def _os_error_line(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return f"{exc.filename}: {reason}" if exc.filename is not None else reason


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a FactlabError, an interrupt or an operating-system error into one line on stderr
    and a non-zero exit code, never a traceback; show a FactlabWarning as one line. SIGTERM and
    SIGHUP stop the command the same way (see :class:`Terminated`)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with _stop_signals_raise(), _warnings_as_lines():
                return func(*args, **kwargs)
        except FactlabError as exc:
            click.echo(f"factlab: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except Terminated as exc:
            click.echo(f"factlab: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("factlab: error: interrupted", err=True)
            sys.exit(128 + signal.SIGINT)
        except OSError as exc:  # a last resort: the library names paths and reasons itself
            click.echo(f"factlab: error: {_os_error_line(exc)}", err=True)
            sys.exit(InputError.exit_code)

    return wrapper


@contextmanager
def progress(description: str, *, total: float | None = None) -> Iterator[Callable[[float], None]]:
    """A progress display on stderr; yields ``advance(steps)``.

    It is transient and only shown on a terminal, so logs and tests stay clean.
    """
    columns = (
        SpinnerColumn(),
        # a description holds file names: shown as they are, never read as rich markup
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=err_console, transient=True, disable=not err_console.is_terminal
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(steps: float = 1) -> None:
            bar.advance(task, steps)

        yield advance


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def variable_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: accept only an environment variable's name, and never echo what was given.

    Someone in a hurry may type the passphrase itself where the variable's name belongs; it must
    then not appear in the error, the terminal's scrollback or the audit log.
    """
    if value is not None and not _VARIABLE_NAME.fullmatch(value):
        raise click.BadParameter(
            "not a variable name; give the NAME of an environment variable that holds the "
            "passphrase, never the passphrase itself"
        )
    return value


def passphrase_from(
    env_var: str | None,
    *,
    prompt: bool,
    confirm: bool = False,
    option: str = "--passphrase-env",
) -> str | None:
    """A passphrase from the environment variable named ``env_var``, or an interactive prompt.

    Never from a command-line value: those end up in shell histories and process lists. The
    variable's name is not repeated in an error either (it may be a mistyped passphrase);
    ``option`` names the option that gave it.
    """
    import os

    if env_var is not None:
        if not _VARIABLE_NAME.fullmatch(env_var):
            raise KeyFileError(f"{option}: not a variable name")
        value = os.environ.get(env_var)
        if not value:
            raise KeyFileError(f"{option}: the environment variable it names is not set or empty")
        return value
    if prompt:
        if not sys.stdin.isatty():
            raise KeyFileError(
                "a passphrase is needed but there is no terminal to ask; use --passphrase-env VAR"
            )
        value = click.prompt(
            "Passphrase", hide_input=True, confirmation_prompt=confirm, err=True, type=str
        )
        return str(value)
    return None


def load_key_interactive(path: str, env_var: str | None) -> Key:
    """Load a key file, asking for the passphrase only when the file is protected."""
    from factlab.keys.round_keys import is_protected, load_key

    passphrase = passphrase_from(env_var, prompt=is_protected(path) and env_var is None)
    return load_key(path, passphrase=passphrase)


#: ``--audit-log PATH``: where the audit line goes (else $FACTLAB_AUDIT_LOG, else beside output).
audit_log_option = click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Audit log to append to (default: $FACTLAB_AUDIT_LOG, else beside the output).",
)

#: ``--passphrase-env VAR``: the name of an environment variable holding a passphrase.
passphrase_env_option = click.option(
    "--passphrase-env",
    metavar="VAR",
    callback=variable_name,
    help="Name of an environment variable that holds the passphrase (never the passphrase itself).",
)


def recipient_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--recipient PATH`` and ``--recipient-passphrase-env VAR``: the trusted party's private
    recipient key, to open sealed files (read with :func:`open_recipient`)."""
    command = click.option(
        "--recipient-passphrase-env",
        metavar="VAR",
        callback=variable_name,
        help="Environment variable holding the recipient key's passphrase.",
    )(command)
    return click.option(
        "--recipient",
        type=click.Path(dir_okay=False),
        help="The trusted party's private recipient key, to open sealed files.",
    )(command)


def open_recipient(recipient: str | None, passphrase_env: str | None) -> RecipientPrivateKey | None:
    """The private key ``--recipient`` names (None without one), asking for its passphrase on
    the terminal when the key is protected and no ``--recipient-passphrase-env`` names one."""
    if not recipient:
        return None
    # imported here: the cryptography it needs is not loaded for commands that open nothing
    from factlab.keys.recipients import load_recipient_private, recipient_is_protected

    asked = recipient_is_protected(recipient) and passphrase_env is None
    passphrase = passphrase_from(passphrase_env, prompt=asked, option="--recipient-passphrase-env")
    return load_recipient_private(recipient, passphrase)


#: ``--force``: replace existing outputs (never an input).
force_option = click.option(
    "--force", is_flag=True, help="Overwrite existing output files (never an input)."
)


def refuse_existing(
    outputs: Path | Iterable[Path],
    force: bool,
    *,
    inputs: Iterable[Path | str | None] = (),
    audit_log: Path | bool | None = False,
) -> None:
    """Refuse the outputs of a command before it does any work.

    Each output must be in an existing folder, not a folder itself, not one of ``inputs`` (nor
    an input's ``.meta.json`` sidecar, nor the audit log), also not through a link; and it must
    not exist unless ``force``. No file may be named twice.

    Args:
        outputs: the files the command writes.
        force: ``--force`` was given.
        inputs: every file the command reads (data, keys, configuration); None is skipped.
        audit_log: the ``--audit-log`` value of a command that keeps one (None: its default
            place, beside the first output, counts); False for a command without an audit line.

    Raises:
        InputError: see above.
    """
    targets = [outputs] if isinstance(outputs, Path) else list(outputs)
    read = [Path(item) for item in inputs if item is not None]
    read += [sidecar_path(item) for item in read]
    if audit_log is not False and targets:
        read.append(audit_log_path(targets[0], audit_log if isinstance(audit_log, Path) else None))
    for index, target in enumerate(targets):
        if any(same_file(target, other) for other in targets[:index]):
            raise InputError(f"{target}: given twice as an output")
        check_output(target, inputs=read, overwrite=force)


def delivery_periods(given: tuple[str, ...]) -> dict[str, str]:
    """``--period FILE=PERIOD`` options (link, monitor add) as a mapping; link checks them."""
    periods: dict[str, str] = {}
    for text in given:
        path, separator, label = text.rpartition("=")
        if not separator or not path or not label.strip():
            raise ConfigError("period", [f"--period {text!r}: expected FILE=PERIOD"])
        if path in periods:
            raise ConfigError("period", [f"--period: {path} is given more than once"])
        periods[path] = label.strip()
    return periods
