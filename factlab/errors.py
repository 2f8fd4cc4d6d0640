"""One exception tree for the whole library, with the exit code the CLI uses for each.

Every message names what is wrong and where (file, row, column, field) but never a value of a
client: an identifier must not leak through an error, a log line or a traceback.
"""

from __future__ import annotations

import signal

__all__ = [
    "ConfigError",
    "DataError",
    "FactlabError",
    "FactlabWarning",
    "InputError",
    "KeyFileError",
    "LinkError",
    "ServiceError",
    "Terminated",
]


class FactlabError(Exception):
    """Base class of every error factlab raises on purpose.

    Attributes:
        exit_code: the process exit code the command-line tool uses for this error.
    """

    exit_code: int = 1


class FactlabWarning(UserWarning):
    """Something factlab can go on with but the user should fix (e.g. a key file others may read).

    The command-line tool prints each as one ``factlab: warning: …`` line on stderr; in Python
    they are ordinary warnings (:mod:`warnings`), which a caller may turn into errors.
    """


class InputError(FactlabError):
    """An input file is missing, unreadable, empty, of an unknown format, or lacks a column."""

    exit_code = 3


class ConfigError(FactlabError):
    """A configuration (mapping, corrections, disclosure rules) is invalid.

    All problems are collected and reported at once; ``problems`` holds one line per problem,
    each starting with the path of the bad field.
    """

    exit_code = 4

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "; ".join(self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s): {lines}")


class KeyFileError(FactlabError):
    """A key file is missing, malformed, of the wrong kind, or its passphrase is wrong."""

    exit_code = 5


class DataError(FactlabError):
    """Data cannot be processed as asked (e.g. a field of the wrong type)."""

    exit_code = 6


class LinkError(FactlabError):
    """Files cannot be linked: mixed keys, rounds or schemes, foreign files, duplicate providers."""

    exit_code = 7


class ServiceError(FactlabError):
    """A key service did not give what was asked: unreachable, refused (a wrong token, an
    exhausted quota), or its answer failed its proof (docs/keyservice.md)."""

    exit_code = 8


class Terminated(BaseException):
    """The command was stopped by a signal (SIGTERM, SIGHUP) and cleans up after itself.

    The command-line tool raises it from its signal handler. Like :class:`KeyboardInterrupt` it
    is a BaseException and no FactlabError: a handler that turns a parser's failure into an
    InputError (``except Exception``) lets it pass, so a stopped command stops at once instead
    of working on and reporting an input error. Every ``finally`` runs, temporaries are removed,
    and the audit line records it (class ``Terminated``, with this message and exit code).

    Attributes:
        exit_code: 128 + the signal's number (143 for SIGTERM), as a shell reports it.

    Example:
        >>> stop = Terminated(signal.SIGTERM)
        >>> str(stop), stop.exit_code, isinstance(stop, Exception)
        ('stopped by SIGTERM', 143, False)
    """

    def __init__(self, signal_number: int = signal.SIGTERM) -> None:
        # the number is the exception's argument, so that a copy (pickle) is the same stop
        super().__init__(int(signal_number))
        self.signal_number = int(signal_number)
        self.exit_code = 128 + self.signal_number

    def __str__(self) -> str:
        return f"stopped by {signal.Signals(self.signal_number).name}"
