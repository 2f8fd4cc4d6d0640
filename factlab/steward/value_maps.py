"""Value maps: which source code becomes which canonical value, by exact code, prefix or range.

A value map is a table of ``key = value`` (``[values.care_form]``, or the ``map`` of a
``[derive.…]`` table in a mapping file). Each key is one of three kinds:

- an **exact code**: ``"45" = "ambulant"``, ``"Ambu" = "ambulant"`` (compared as written, after
  the surrounding spaces of the value are removed);
- a **prefix**, a key ending in ``*``: ``"45*" = "ambulant"`` matches ``45``, ``451`` and
  ``45A01`` (an iJw product code starts with its two-digit category);
- a **range** of whole numbers, two numbers joined by ``-``, both ends included:
  ``"40-44" = "verblijf"`` matches ``40``, ``41``, … ``44`` and ``040``, not ``40A`` or ``44.5``.

When several keys match a value, the exact code wins, then the longest prefix, then the range.
What could be read two ways is refused when the map is read, every problem at once with the path
of its key: ranges that overlap, a range that runs backwards, a ``*`` elsewhere than at the end
or on its own (it would match every value), and two keys that differ only by surrounding spaces.

The map is applied as Polars expressions (:func:`factlab.steward.fields.apply_value_map`): one
hash lookup for the exact codes, one per prefix length, one comparison per range; the steward's
step runs them on a column's distinct values where it has few (:mod:`factlab.steward._distinct`),
never in Python per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from factlab.errors import ConfigError

__all__ = ["WHOLE_NUMBER", "ValueMap", "is_exact_key", "key_path", "parse_value_map"]

#: A range key: whole numbers, both ends included (``40-44``, ``040 - 044``).
_RANGE: Final = re.compile(r"([0-9]{1,18})\s*-\s*([0-9]{1,18})")
#: A value that a range can match: digits only (after surrounding spaces are removed).
WHOLE_NUMBER: Final = r"^[0-9]{1,18}$"
#: A TOML key that needs no quotes.
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def key_path(path: str, key: str) -> str:
    """The path of ``key`` under ``path`` as it is written in TOML (quoted where it must be).

    Example:
        >>> key_path("values.care_form", "45*"), key_path("values.sex", "J")
        ('values.care_form."45*"', 'values.sex.J')
    """
    if _BARE_KEY.fullmatch(key):
        return f"{path}.{key}"
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}."{quoted}"'


@dataclass(frozen=True)
class ValueMap(MappingABC[str, str]):
    """A validated value map. As a mapping it is the table as written (key → value).

    Attributes:
        exact: exact code → value.
        prefixes: (prefix, value), longest prefix first.
        ranges: (first, last, value), by first number; they do not overlap.
    """

    entries: MappingABC[str, str] = field(default_factory=lambda: MappingProxyType({}))
    exact: MappingABC[str, str] = field(default_factory=lambda: MappingProxyType({}))
    prefixes: tuple[tuple[str, str], ...] = ()
    ranges: tuple[tuple[int, int, str], ...] = ()

    def __getitem__(self, key: str) -> str:
        return self.entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def of(cls, table: MappingABC[str, str], *, path: str = "values") -> ValueMap:
        """A value map from a plain table (a ValueMap is returned as it is).

        Raises:
            ConfigError: with every problem of the table, each with the path of its key.

        Example:
            >>> ValueMap.of({"45*": "ambulant", "40-44": "verblijf", "41": "dag"}).lookup("41")
            'dag'
        """
        if isinstance(table, ValueMap):
            return table
        problems: list[str] = []
        value_map = parse_value_map(table, path, problems)
        if problems:
            raise ConfigError(path, problems)
        return value_map

    def lookup(self, value: str | None) -> str | None:
        """The value one source value maps to (None: no key matches), as
        :func:`factlab.steward.fields.apply_value_map` maps a column.

        Example:
            >>> codes = ValueMap.of({"45*": "ambulant", "4-5": "x", "451": "y"})
            >>> [codes.lookup(v) for v in ["451", "45A01", "4", "05", "46", None]]
            ['y', 'ambulant', 'x', 'x', None, None]
        """
        if value is None:
            return None
        text = value.strip()
        if text in self.exact:
            return self.exact[text]
        for prefix, mapped in self.prefixes:
            if text.startswith(prefix):
                return mapped
        if re.fullmatch(WHOLE_NUMBER, text):
            number = int(text)
            for first, last, mapped in self.ranges:
                if first <= number <= last:
                    return mapped
        return None


def is_exact_key(code: str) -> bool:
    """Whether ``code``, written as a key, is read as exactly that code (not a prefix or range).

    Example:
        >>> [is_exact_key(code) for code in ["45", "45A01", "45*", "40-44", "a-b", " 45", ""]]
        [True, True, False, False, True, False, False]
    """
    stripped = code.strip()
    return bool(code) and stripped == code and "*" not in code and not _RANGE.fullmatch(code)


def _kind_problem(key: str) -> str | None:
    """Why ``key`` (without surrounding spaces) cannot be read as one kind of key."""
    if not key:
        return "an empty code; remove it"
    if key == "*":
        return "a lone '*' would match every value; write a prefix before it (\"45*\")"
    if "*" in key[:-1]:
        return "'*' stands only at the end of a prefix (\"45*\")"
    return None


def parse_value_map(table: Any, path: str, problems: list[str]) -> ValueMap:
    """Validate one value map; problems are appended to ``problems`` with the path of each key.

    Example:
        >>> found: list[str] = []
        >>> _ = parse_value_map({"40-44": "a", "43-45": "b", "4*5": "c"}, "values.care_form", found)
        >>> found  # doctest: +NORMALIZE_WHITESPACE
        ['values.care_form."4*5": \\'*\\' stands only at the end of a prefix ("45*")',
         'values.care_form.43-45: overlaps the range 40-44; ranges may not overlap']
    """
    if not isinstance(table, MappingABC):
        problems.append(f"{path}: must be a table")
        return ValueMap()
    entries: dict[str, str] = {}
    exact: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    ranges: list[tuple[int, int, str, str]] = []
    written_as: dict[str, str] = {}  # key without surrounding spaces → key as written
    for raw_key, value in table.items():
        key = str(raw_key)
        where = key_path(path, key)
        if not isinstance(value, str):
            problems.append(f"{where}: must be a string")
            continue
        entries[key] = value
        stripped = key.strip()
        if stripped in written_as:
            problems.append(
                f"{where}: the same code as {key_path(path, written_as[stripped])} (values are "
                "compared without surrounding spaces); keep one"
            )
            continue
        written_as[stripped] = key
        if problem := _kind_problem(stripped):
            problems.append(f"{where}: {problem}")
        elif stripped.endswith("*"):
            prefixes[stripped[:-1]] = value
        elif bounds := _RANGE.fullmatch(stripped):
            first, last = int(bounds[1]), int(bounds[2])
            if first > last:
                problems.append(f"{where}: the range runs backwards; write {last}-{first}")
            else:
                ranges.append((first, last, value, key))
        else:
            exact[stripped] = value
    ranges.sort()
    reach: tuple[int, str] | None = None  # the furthest last number so far, and its key
    for first, last, _, key in ranges:
        if reach is not None and first <= reach[0]:
            problems.append(
                f"{key_path(path, key)}: overlaps the range {reach[1].strip()}; "
                "ranges may not overlap"
            )
        if reach is None or last > reach[0]:
            reach = (last, key)
    return ValueMap(
        entries=MappingProxyType(entries),
        exact=MappingProxyType(exact),
        prefixes=tuple(sorted(prefixes.items(), key=lambda item: -len(item[0]))),
        ranges=tuple((first, last, value) for first, last, value, _ in ranges),
    )
