"""How every file factlab writes comes to be: checked first, written beside, then published.

The rules, in the order they apply (``factlab.io``'s writers and the command-line tool follow them
through :func:`check_output` and the functions below):

1. **Checked before any work.** An output is refused when its folder does not exist, when it
   names a folder, when it is one of the command's inputs (compared as resolved paths and as
   files, so a symbolic or hard link to an input is caught too), and, unless replacing was asked
   for (``--force``), when a file, or a symbolic link even to nothing, already has its name.
2. **Written beside, under a temporary name** ``.NAME.<host>-<pid>.<random>.tmp`` in the same
   folder. The name tells which process wrote it: temporaries of a process that no longer
   exists (killed with ``kill -9``, or by a power cut) are removed when the same output is
   written again (:func:`sweep_stale`).
3. **Published whole.** A complete file gets its name by a hard link, which fails when a file of
   that name appeared meanwhile (two runs to one output: the second is refused, not lost), or
   by a rename when replacing was asked for. Where the file system has no hard links, the name
   is checked and the file renamed.
4. **Held until the audit line is written.** Inside :func:`held_outputs` (which
   :func:`factlab.audit.audited` opens around a command), finished files wait under their
   temporary names; they are published only after the command's audit line is written, and
   removed if it cannot be.

Text written into CSV files is made inert for spreadsheets here as well (:func:`csv_safe`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from factlab.errors import InputError

__all__ = [
    "FORMULA_PREFIX",
    "HeldOutputs",
    "check_output",
    "csv_safe",
    "held_outputs",
    "holding",
    "new_temporary",
    "os_failure",
    "publish",
    "same_file",
    "sweep_stale",
    "uncsv_safe",
    "write_failure",
]

# ---- rule 1: checks ------------------------------------------------------------------------


def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two paths name one file: the same resolved path, or the same device and inode.

    The resolved path catches ``a/../x`` and symbolic links, also to a file that does not exist
    yet; the inode catches hard links.

    Example:
        >>> import tempfile, pathlib, os
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.csv").write_text("x")
        >>> os.link(folder / "a.csv", folder / "b.csv")
        >>> same_file(folder / "a.csv", folder / "b.csv"), same_file(folder / "a.csv", folder / "c")
        (True, False)
    """
    try:
        if os.path.realpath(first) == os.path.realpath(second):
            return True
        return os.path.samefile(first, second)
    except (OSError, ValueError):  # a path that does not exist, or holds a NUL byte
        return False


def check_output(
    target: str | Path, *, inputs: Iterable[str | Path] = (), overwrite: bool = False
) -> Path:
    """Refuse an output before any work is done; return it as a Path.

    Args:
        target: the file to write.
        inputs: every file the command reads (data, keys, configuration, the audit log). The
            output may never be one of them, whatever ``overwrite`` says.
        overwrite: replace an existing file (``--force``).

    Raises:
        InputError: the folder does not exist, ``target`` is a folder or one of ``inputs``, or
            it exists (also as a dangling symbolic link) and ``overwrite`` is not set.

    Example:
        >>> check_output("no-such-folder/out.csv")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: no-such-folder/out.csv: the output folder does not exist
    """
    target = Path(target)
    if not target.parent.is_dir():
        raise InputError(f"{target}: the output folder does not exist")
    if target.is_dir():
        raise InputError(f"{target}: is a folder; give a file name")
    for item in inputs:
        if same_file(target, item):
            raise InputError(
                f"{target}: is also an input of this command ({item}); write the output elsewhere"
            )
    if not overwrite and os.path.lexists(target):
        what = "exists" if target.exists() else "exists as a symbolic link to nothing"
        raise InputError(f"{target}: {what} (use --force to overwrite)")
    return target


# ---- rule 2: temporaries -------------------------------------------------------------------

# Which machine wrote a temporary: a process id is only meaningful on the host that made it.
_HOST: Final = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
# When this process began writing (roughly): an old-style temporary without an owner that is
# older than this was left by an earlier run.
_STARTED: Final = time.time()
# mkstemp's random part: eight characters of this alphabet.
_RANDOM: Final = r"[a-z0-9_]{8}"


def _owner() -> str:
    # read at each call: a forked process writes under its own id
    return f"{_HOST}-{os.getpid()}"


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else, or cannot be asked: keep its file
        return True
    return True


def sweep_stale(target: str | Path) -> list[Path]:
    """Remove temporaries of ``target`` that a process which no longer exists left behind.

    A temporary is stale when its name says it was made on this host by a process that has
    ended, or when it has the older name without an owner and was last changed before this
    process started. Temporaries of running processes and every other file are left alone.

    Returns:
        The files removed.
    """
    target = Path(target)
    folder = target.parent
    lead = f".{target.name}."
    owned = re.compile(rf"([0-9a-f]{{8}})-(\d+)\.{_RANDOM}\.tmp")
    legacy = re.compile(rf"{_RANDOM}\.tmp")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(lead):
            continue
        rest = entry.name[len(lead) :]
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            mine = owned.fullmatch(rest)
            if mine is not None:
                stale = mine[1] == _HOST and not _alive(int(mine[2]))
            else:
                stale = (
                    legacy.fullmatch(rest) is not None
                    and entry.stat(follow_symlinks=False).st_mtime < _STARTED
                )
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # gone meanwhile, or not ours to remove: not this command's problem
            continue
    return removed


def new_temporary(target: str | Path) -> tuple[int, Path]:
    """Make an empty temporary file beside ``target`` (mode 0600); return its descriptor and path.

    Stale temporaries of the same target are swept first (:func:`sweep_stale`).

    Raises:
        InputError: the folder does not exist or cannot be written (the reason is given).
    """
    target = Path(target)
    sweep_stale(target)
    try:
        descriptor, name = tempfile.mkstemp(
            prefix=f".{target.name}.{_owner()}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        if not target.parent.is_dir():
            raise InputError(f"{target}: the output folder does not exist") from None
        # the error names the temporary (a read-only folder, say): the user named the output
        made = Path(exc.filename) if exc.filename is not None else None
        raise InputError(os_failure(target, exc, made)) from None
    return descriptor, Path(name)


# ---- rule 3: publication -------------------------------------------------------------------


def _exists_error(target: Path) -> InputError:
    return InputError(
        f"{target}: exists (a file of that name appeared while this command ran; "
        "use --force to overwrite)"
    )


def publish(temporary: Path, target: Path, *, overwrite: bool) -> None:
    """Give the complete file ``temporary`` the name ``target``; its temporary name goes.

    Without ``overwrite`` an existing ``target`` is never replaced, not even one that appeared
    a moment ago: the file is hard-linked to its name, which fails if the name is taken.

    Raises:
        FileExistsError: ``target`` exists and ``overwrite`` is not set.
        OSError: the file system refused (the caller names the file).
    """
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "file exists", str(target)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        # A file system without hard links: check, then rename (a short window for a race).
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists", str(target)) from None
        os.replace(temporary, target)
        return
    temporary.unlink(missing_ok=True)


_OS_ERROR_IN_TEXT: Final = re.compile(r"\(os error (\d+)\)")
# What only goes wrong while writing: full disk or quota, file too large, read-only file system.
_WRITE_ERRORS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def _errno_of(exc: BaseException) -> int | None:
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    # Polars reports the operating system's error in its message: "... (os error 28)".
    found = _OS_ERROR_IN_TEXT.search(str(exc))
    return int(found[1]) if found else None


def os_failure(target: str | Path, exc: BaseException, temporary: Path | None = None) -> str:
    """One line for an operating-system error about ``target``: the path and the reason.

    The path is the file the error names, unless that is the temporary (then ``target``).
    Works for :class:`OSError` and for Polars errors that carry one (``... (os error 28)``).

    Example:
        >>> import errno, os
        >>> os_failure("out.csv", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        'out.csv: cannot be written (No space left on device)'
    """
    number = _errno_of(exc)
    reason = (
        exc.strerror
        if isinstance(exc, OSError) and exc.strerror
        else os.strerror(number)
        if number is not None
        else type(exc).__name__
    )
    named = exc.filename if isinstance(exc, OSError) else None
    if named is not None and temporary is not None and same_file(named, temporary):
        named = None
    return f"{named or target}: cannot be written ({reason})"


def write_failure(exc: BaseException, temporary: Path | None = None) -> bool:
    """Whether ``exc`` is an operating-system error of writing (and not, say, of reading an
    input): it names ``temporary``, or it is a full disk, a quota, a file too large or a
    read-only file system. Polars errors that report one count too.
    """
    if isinstance(exc, OSError) and exc.filename is not None:
        return temporary is not None and same_file(exc.filename, temporary)
    if not isinstance(exc, OSError | pl.exceptions.PolarsError):
        return False
    return _errno_of(exc) in _WRITE_ERRORS


# ---- rule 4: held outputs ------------------------------------------------------------------


@dataclass(frozen=True)
class _Held:
    temporary: Path
    target: Path
    overwrite: bool


class HeldOutputs:
    """Finished outputs that wait under their temporary names until :meth:`publish`.

    Made by :func:`held_outputs`; factlab's writers hand their files to it instead of
    publishing them while it is open.
    """

    def __init__(self, *, overwrite: bool, inputs: Sequence[str | Path]) -> None:
        self._overwrite = overwrite
        self._inputs = tuple(inputs)
        self._held: list[_Held] = []

    def hold(self, temporary: Path, target: Path, *, overwrite: bool) -> None:
        """Keep a finished file for publication; checks ``target`` again first.

        Raises:
            InputError: the command writes ``target`` twice, or :func:`check_output` refuses it.
        """
        if any(same_file(item.target, target) for item in self._held):
            raise InputError(f"{target}: written twice by this command; give distinct outputs")
        replace = overwrite and self._overwrite
        check_output(target, inputs=self._inputs, overwrite=replace)
        self._held.append(_Held(temporary, target, replace))

    def temporary_of(self, target: str | Path) -> Path | None:
        """The temporary file that will become ``target``, or None if it is not held."""
        for item in self._held:
            if same_file(item.target, target):
                return item.temporary
        return None

    def targets(self) -> list[Path]:
        """The outputs held, in the order they were finished."""
        return [item.target for item in self._held]

    def publish(self) -> None:
        """Publish every held file; if one cannot be, none of those that replaced nothing stays.

        Raises:
            InputError: a target appeared meanwhile (without overwrite) or cannot be written.
        """
        done: list[_Held] = []
        try:
            for item in self._held:
                try:
                    publish(item.temporary, item.target, overwrite=item.overwrite)
                except FileExistsError:
                    raise _exists_error(item.target) from None
                except OSError as exc:
                    raise InputError(os_failure(item.target, exc, item.temporary)) from None
                done.append(item)
        except BaseException:
            for item in done:
                if not item.overwrite:  # made by this call, so it is ours to take back
                    item.target.unlink(missing_ok=True)
            raise
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove every held file that was not published."""
        for item in self._held:
            item.temporary.unlink(missing_ok=True)
        self._held.clear()


_HOLDING: ContextVar[HeldOutputs | None] = ContextVar("factlab_held_outputs", default=None)


@contextlib.contextmanager
def held_outputs(
    *, overwrite: bool = True, inputs: Sequence[str | Path] = ()
) -> Iterator[HeldOutputs]:
    """Hold back every output factlab's writers finish in this block until ``publish()``.

    What is not published when the block ends is removed. ``overwrite=False`` publishes every
    output without replacing an existing file, whatever the writer was asked; ``inputs`` are
    never written over.

    Example:
        >>> import tempfile, pathlib
        >>> from factlab.result_files import write_json
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.json"
        >>> with held_outputs() as held:
        ...     write_json(out, {"a": 1})
        ...     waiting = out.exists()
        ...     held.publish()
        >>> waiting, out.exists()
        (False, True)
    """
    held = HeldOutputs(overwrite=overwrite, inputs=inputs)
    token = _HOLDING.set(held)
    try:
        yield held
    finally:
        _HOLDING.reset(token)
        held.discard()


def holding() -> HeldOutputs | None:
    """The outputs held in the current block (see :func:`held_outputs`), or None."""
    return _HOLDING.get()


# ---- CSV text that a spreadsheet would run -------------------------------------------------

#: A text cell starting with one of these is a formula (or a DDE call) to a spreadsheet program.
FORMULA_PREFIX: Final = "=+-@\t\r"
_TRIGGER: Final = "[=+\\-@\\t\\r]"
# Text that gets a quote: a trigger, or quotes before one (so that reading back is exact).
_NEEDS_QUOTE: Final = f"^'*{_TRIGGER}"
_QUOTED: Final = f"^'+{_TRIGGER}"


def _inert(name: str) -> str:
    return "'" + name if re.match(_NEEDS_QUOTE, name) else name


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell and column name that a spreadsheet would take for a
    formula prefixed by a single quote (the OWASP rule), ready for ``write_csv``.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or with quotes
    before one of these) gets one more quote in front; numbers, dates and other text are left as
    they are. :func:`uncsv_safe` takes the quote off again, so the table reads back exactly.

    Example:
        >>> frame = pl.DataFrame({"label": ["=1+1", "-x", "'=y", "Assen"], "n": [-5, 1, 2, 3]})
        >>> csv_safe(frame).rows()
        [("'=1+1", -5), ("'-x", 1), ("''=y", 2), ('Assen', 3)]
    """
    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    cells = [
        pl.when(pl.col(name).cast(pl.String).str.contains(_NEEDS_QUOTE))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in text
    ]
    safe = frame.with_columns(cells) if cells else frame
    return safe.rename({name: _inert(name) for name in safe.columns if _inert(name) != name})


def uncsv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Undo :func:`csv_safe` on a table read back as text.

    Example:
        >>> frame = pl.DataFrame({"label": ["=1+1", "-x", "'=y", "'plain"]})
        >>> uncsv_safe(csv_safe(frame)).equals(frame)
        True
    """
    cells = [
        pl.when(pl.col(name).str.contains(_QUOTED))
        .then(pl.col(name).str.slice(1))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    ]
    plain = frame.with_columns(cells) if cells else frame
    names = {name: name[1:] for name in plain.columns if re.match(_QUOTED, name)}
    return plain.rename(names) if names else plain
