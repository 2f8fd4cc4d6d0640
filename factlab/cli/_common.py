"""Shared plumbing of the command-line tool: error handling, progress, output to stderr."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from factlab.errors import FactlabError, InputError, KeyFileError
from factlab.keys.round_keys import Key

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


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a FactlabError into a one-line message on stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except FactlabError as exc:
            click.echo(f"factlab: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


@contextmanager
def progress(description: str, *, total: float | None = None) -> Iterator[Callable[[float], None]]:
    """A progress display on stderr; yields ``advance(steps)``.

    It is transient and only shown on a terminal, so logs and tests stay clean.
    """
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
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


def passphrase_from(env_var: str | None, *, prompt: bool, confirm: bool = False) -> str | None:
    """A passphrase from the environment variable named ``env_var``, or an interactive prompt.

    Never from a command-line value: those end up in shell histories and process lists.
    """
    import os

    if env_var is not None:
        value = os.environ.get(env_var)
        if not value:
            raise KeyFileError(f"environment variable {env_var} is not set or empty")
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
    help="Name of an environment variable that holds the passphrase (never the passphrase itself).",
)


def refuse_existing(path: Path, force: bool) -> None:
    """An existing output is only overwritten with ``--force``."""
    if path.exists() and not force:
        raise InputError(f"{path}: exists (use --force to overwrite)")
