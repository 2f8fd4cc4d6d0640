"""Argument checks for the public functions: one clear TypeError instead of a crash inside.

A notebook user who passes ``None``, a path where a key belongs, or one file name where a list of
files belongs should learn so at the call, not from an AttributeError deep in Polars, and never
from a function that quietly iterates the characters of a file name. Each check names the
function and the argument and says what to pass; it shows the type of the value, never the value
(a value may be a BSN or a secret).

These are checks of the shared ground: they know no stage. The key and recipient-key checks live
with their types (:func:`factlab.keys.round_keys.require_key`,
:func:`factlab.keys.recipients.require_recipient`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from factlab.periods import Period

__all__ = [
    "as_date",
    "as_period",
    "require_frame",
    "require_names",
    "require_path",
    "require_paths",
    "require_text",
    "require_type",
    "type_name",
]


def type_name(value: object) -> str:
    """How a check names what it got: the type's name (``None`` for None), never the value."""
    return "None" if value is None else type(value).__name__


def _is_path(value: object) -> bool:
    return isinstance(value, str | os.PathLike) and not isinstance(value, bytes)


def require_path(value: object, *, where: str, name: str) -> Path:
    """``value`` as a Path if it is a ``str`` or path-like; TypeError otherwise.

    Example:
        >>> require_path(None, where="read_manifest", name="path")
        Traceback (most recent call last):
        TypeError: read_manifest: path must be a path (str or pathlib.Path); got None
    """
    if not _is_path(value):
        raise TypeError(
            f"{where}: {name} must be a path (str or pathlib.Path); got {type_name(value)}"
        )
    return Path(value)  # type: ignore[arg-type]


def require_paths(value: object, *, where: str, name: str) -> list[Path]:
    """``value`` as a list of Paths: any iterable (list, tuple, generator) of ``str`` or
    path-like values.

    A single ``str`` or Path is refused rather than iterated (a file name's characters are no
    files).

    Example:
        >>> require_paths("a.parquet", where="link", name="paths")
        Traceback (most recent call last):
        TypeError: link: paths must be a list of files; got one str (pass [path])
    """
    if _is_path(value):
        raise TypeError(
            f"{where}: {name} must be a list of files; got one {type_name(value)} (pass [path])"
        )
    if not isinstance(value, Iterable) or isinstance(value, bytes | Mapping):
        raise TypeError(f"{where}: {name} must be a list of files; got {type_name(value)}")
    items = list(value)
    for item in items:
        if not _is_path(item):
            raise TypeError(
                f"{where}: every item of {name} must be a path (str or pathlib.Path); "
                f"got {type_name(item)}"
            )
    return [Path(item) for item in items]


def require_frame(value: object, *, where: str, name: str, path_ok: bool = False) -> None:
    """Refuse anything but a Polars DataFrame or LazyFrame (or, with ``path_ok``, a path).

    Example:
        >>> require_frame(None, where="count", name="source", path_ok=True)
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: count: source must be a Polars DataFrame or LazyFrame, or the path ...; got None
    """
    import polars as pl  # here: the shared ground must not make `import factlab` load Polars

    if isinstance(value, pl.DataFrame | pl.LazyFrame) or (path_ok and _is_path(value)):
        return
    expected = "a Polars DataFrame or LazyFrame" + (", or the path of a file" if path_ok else "")
    raise TypeError(f"{where}: {name} must be {expected}; got {type_name(value)}")


def require_text(value: object, *, where: str, name: str, optional: bool = False) -> None:
    """Refuse anything but a ``str`` (or ``None`` when ``optional``).

    Example:
        >>> require_text(1, where="pseudonymise", name="provider")
        Traceback (most recent call last):
        TypeError: pseudonymise: provider must be a str; got int
    """
    if isinstance(value, str) or (optional and value is None):
        return
    raise TypeError(f"{where}: {name} must be a str; got {type_name(value)}")


def require_names(value: object, *, where: str, name: str) -> tuple[str, ...]:
    """A list or tuple of names as a tuple; a single ``str`` is refused rather than iterated.

    Example:
        >>> require_names("provider", where="count", name="by")
        Traceback (most recent call last):
        TypeError: count: by must be a list of names; got one str (pass [name])
    """
    if isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a list of names; got one str (pass [name])")
    if not isinstance(value, Iterable) or isinstance(value, bytes | Mapping):
        raise TypeError(f"{where}: {name} must be a list of names; got {type_name(value)}")
    names = tuple(value)
    for item in names:
        if not isinstance(item, str):
            raise TypeError(f"{where}: every item of {name} must be a str; got {type_name(item)}")
    return names


def as_period(value: object, *, where: str, name: str) -> Period:
    """A :class:`~factlab.periods.Period`, parsing a ``str`` (``"2025"``, ``"2025H1"``, …).

    Raises:
        TypeError: neither a Period nor a str.
        ConfigError: a str that is no period.

    Example:
        >>> as_period("2025H2", where="overlap", name="period").end
        datetime.date(2025, 12, 31)
    """
    from factlab.periods import Period, parse_period

    if isinstance(value, Period):
        return value
    if isinstance(value, str):
        return parse_period(value)
    raise TypeError(
        f"{where}: {name} must be a factlab Period or a str such as '2025' or '2025H1'; "
        f"got {type_name(value)}"
    )


def as_date(value: object, *, where: str, name: str) -> date:
    """A date, parsing an ISO ``str`` (``"2025-12-31"``).

    Raises:
        TypeError: neither a date nor a str.
        ConfigError: a str that is no ISO date.

    Example:
        >>> as_date("2025-12-31", where="overlap", name="on")
        datetime.date(2025, 12, 31)
    """
    from factlab.periods import parse_date

    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value, what=name)
    raise TypeError(
        f"{where}: {name} must be a datetime.date or a str such as '2025-12-31'; "
        f"got {type_name(value)}"
    )


def require_type(
    value: object, expected: type[Any] | tuple[type[Any], ...], *, where: str, name: str, hint: str
) -> None:
    """Refuse a value that is not an instance of ``expected``; ``hint`` says what to pass.

    Example:
        >>> require_type(None, dict, where="f", name="rules", hint="a mapping (load one with x)")
        Traceback (most recent call last):
        TypeError: f: rules must be a mapping (load one with x); got None
    """
    if not isinstance(value, expected):
        raise TypeError(f"{where}: {name} must be {hint}; got {type_name(value)}")
