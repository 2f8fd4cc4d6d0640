"""What link checks before it reads a row: manifests, the key, and each file's columns.

Split from :mod:`factlab.analysis.link` to keep it readable; link also checks the rows, in the
pass that writes the linked file. Every problem of every file is collected and told at once, a
problem of many files once with the files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab.errors import LinkError
from factlab.keys.round_keys import Key
from factlab.manifest import Manifest
from factlab.steward.bsn import looks_like_bsn

__all__ = ["REQUIRED", "LinkInput", "check_columns", "check_key", "check_manifests", "name_files"]

#: Manifest fields that must be equal in every input for their pseudonyms to be comparable.
_MUST_AGREE: Final = ("scheme", "stage", "round", "key_id", "key_fingerprint")
#: Fields whose values are identifiers of keys: errors name the files that differ, not the values.
_QUIET_FIELDS: Final = frozenset({"key_id", "key_fingerprint"})
#: Columns every input must have.
REQUIRED: Final = (schema.PROVIDER, schema.PSEUDONYM, schema.STATUS)


@dataclass(frozen=True)
class LinkInput:
    """One input of link: where its rows are read, its manifest, and its name for messages."""

    path: Path  # where the rows are read (a private decrypted copy for a sealed input)
    manifest: Manifest
    shown: Path  # the path the user gave, for messages and the manifest


def check_key(key: Key, inputs: Sequence[LinkInput]) -> None:
    """The key must be the round key (or its link key) that the inputs were made under."""
    first = inputs[0].manifest
    problems = [
        name
        for name, ours in (
            ("round", key.round),
            ("key id", key.key_id),
            ("key fingerprint", key.fingerprint),
            ("scheme", key.scheme),
        )
        if ours != getattr(first, name.replace(" ", "_"))
    ]
    if problems:
        raise LinkError(
            f"cannot link: the key does not belong to the files' round ({', '.join(problems)} "
            "differ); use the round key or link key of the round the files were made in"
        )
    if any(item.manifest.stage != 1 for item in inputs):
        raise LinkError("cannot link: the second stage applies to first-stage files only")


def check_manifests(inputs: Sequence[LinkInput], out: Path) -> None:
    """Refuse inputs that cannot be linked by their manifests alone, or would be overwritten.

    Every file must be a steward's file naming a valid provider code (matched whole: a code
    with a line break after it would count as a second provider) that does not look like a
    BSN, and all must agree in scheme, stage, round and key.
    """
    problems: list[str] = []
    for item in inputs:
        if item.manifest.format != schema.FORMAT_PSEUDONYMISED:
            problems.append(
                f"{item.shown}: format is {item.manifest.format!r}, "
                f"expected {schema.FORMAT_PSEUDONYMISED!r}"
            )
        if not item.manifest.provider:
            problems.append(f"{item.shown}: the manifest names no provider")
        elif not re.fullmatch(schema.PROVIDER_CODE_PATTERN, item.manifest.provider):
            # The code is not shown: it may hold control characters or a line break.
            problems.append(
                f"{item.shown}: the manifest's provider code is not valid (1-64 letters, digits, "
                "'_', '.' or '-', starting with a letter or digit)"
            )
    providers = [str(item.manifest.provider) for item in inputs]
    bsn_like = pl.select(looks_like_bsn(pl.lit(pl.Series(providers, dtype=pl.String)))).to_series()
    for item, suspect in zip(inputs, bsn_like, strict=True):
        if suspect:
            problems.append(
                f"{item.shown}: the manifest's provider code looks like a BSN (eight or nine "
                "digits passing the elfproef); use another code"
            )
    for name in _MUST_AGREE:
        groups: dict[Any, list[str]] = defaultdict(list)
        for item in inputs:
            groups[getattr(item.manifest, name)].append(str(item.shown))
        if len(groups) > 1:
            if name in _QUIET_FIELDS:
                parts = [", ".join(files) for files in groups.values()]
            else:
                parts = [f"{value!r} in {', '.join(files)}" for value, files in groups.items()]
            problems.append(f"the files differ in {name}: " + " vs ".join(parts))
    resolved_out = out.resolve()
    for item in inputs:
        if item.shown.resolve() == resolved_out:
            problems.append(f"{item.shown}: the output would overwrite this input")
    if problems:
        raise LinkError("cannot link: " + "; ".join(problems))


def _castable(source: pl.DataType, target: pl.DataType) -> bool:
    if source == target:
        return True
    if target in (pl.String(), schema.TEXT_DTYPE):
        return isinstance(source, pl.String | pl.Categorical | pl.Enum)
    if target == pl.Date():
        return isinstance(source, pl.Date | pl.Datetime)
    if target.is_integer():
        return source.is_integer()
    if target.is_float():
        return source.is_numeric()
    return False


def check_columns(schemas: dict[Path, pl.Schema], shown: dict[Path, Path]) -> None:
    """Refuse files that lack a required column, have one of a dtype that cannot become its
    canonical dtype, or have a column that a steward does not write.

    ``schemas`` is keyed by where each file is read; ``shown`` names it for messages.
    """
    # The same problem in several files is told once, with the files.
    found: dict[str, list[str]] = defaultdict(list)
    foreign = False  # a file has a column a steward does not write
    expected = {
        schema.PROVIDER: schema.TEXT_DTYPE,
        schema.PSEUDONYM: pl.String(),
        schema.FALLBACK_PSEUDONYM: pl.String(),
        schema.STATUS: pl.String(),
        **schema.FIELD_DTYPES,
    }
    for read_path, file_schema in schemas.items():
        path = str(shown[read_path])
        missing = [name for name in REQUIRED if name not in file_schema]
        if missing:
            found[f"lacks column(s) {', '.join(missing)}"].append(path)
        for name, target in expected.items():
            if name in file_schema and not _castable(file_schema[name], target):
                wanted = "text" if target in (pl.String(), schema.TEXT_DTYPE) else target
                found[f"column {name} has dtype {file_schema[name]}, not {wanted}"].append(path)
        # Refused, not dropped: a steward writes no other column, so a file with one was made or
        # changed by something else, and its other columns may not be all that is wrong with it.
        for name in file_schema:
            if name not in schema.PSEUDONYMISED_COLUMNS:
                unexpected = f"column {_column_name(name)} is not a column of a pseudonymised file"
                found[unexpected].append(path)
                foreign = True
    problems = [_in_files(problem, paths) for problem, paths in found.items()]
    if foreign:
        problems.append(
            "a pseudonymised file holds only the columns "
            + ", ".join(schema.PSEUDONYMISED_COLUMNS)
            + " (a raw BSN or a copy of a pseudonym would re-identify the linked file)"
        )
    if problems:
        raise LinkError("cannot link: " + "; ".join(problems))


def _column_name(name: str) -> str:
    """A column name for a message: quoted, control characters escaped, a BSN-like name hidden.

    A column's name is no client value, but a file written without a header row has its first
    row's values as names.

    Example:
        >>> _column_name("bsn"), _column_name("note\\n")
        ("'bsn'", "'note\\\\n'")
        >>> _column_name("9999.93.653")
        '(a name that looks like a BSN)'
    """
    if pl.select(looks_like_bsn(pl.lit(name, dtype=pl.String))).item():
        return "(a name that looks like a BSN)"
    return repr(name)


#: Files named in a problem told for several files; the rest are counted.
_FILES_SHOWN: Final = 3


def _in_files(problem: str, paths: list[str]) -> str:
    """``problem`` with the files it was found in (a few named, the rest counted).

    Example:
        >>> _in_files("lacks column(s) provider", ["a.parquet"])
        'a.parquet: lacks column(s) provider'
        >>> _in_files("lacks column(s) provider", [f"{n}.parquet" for n in "abcde"])
        'lacks column(s) provider in 5 files: a.parquet, b.parquet, c.parquet and 2 more'
    """
    if len(paths) == 1:
        return f"{paths[0]}: {problem}"
    return f"{problem} in {len(paths)} files: {name_files(paths)}"


def name_files(paths: list[str]) -> str:
    """A few of ``paths`` by name, the rest counted."""
    more = len(paths) - _FILES_SHOWN
    return ", ".join(paths[:_FILES_SHOWN]) + (f" and {more} more" if more > 0 else "")
