"""The provider registry: codes, names, aliases, groups and contracted periods.

A registry says, per provider code, its name, the other ways the provider is written in
deliveries (aliases), its group (``top 5``, ``GI``, ``JZ+``, ``other``: the dimension
``provider_group`` of a count) and the periods in which it is contracted. It is a TOML file::

    version = 1

    [[provider]]
    code = "P01"
    name = "Accare"
    aliases = ["ACCARE kinder- en jeugdpsychiatrie"]
    group = "top 5"
    contracted = [{ from = 2018-01-01, until = 2021-01-01 }, { from = 2022-01-01 }]

or a CSV file with the columns ``code``, ``name``, ``aliases`` (separated by ``|``), ``group``,
``contracted_from``, ``contracted_until`` and one row per contracted period (``docs/reference.md``).
``until`` is the first day no longer contracted; an open end is still contracted.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, cast

import polars as pl

from factlab._export_checks import read_regular
from factlab.errors import ConfigError, InputError
from factlab.io import parse_toml

__all__ = [
    "Provider",
    "ProviderRegistry",
    "load_providers",
    "provider_key",
    "providers_from_mapping",
]

CSV_COLUMNS: Final = ("code", "name", "aliases", "group", "contracted_from", "contracted_until")


def provider_key(value: pl.Expr) -> pl.Expr:
    """The matching key of a provider code, name or alias: case and spacing do not matter.

    Example:
        >>> import polars as pl
        >>> pl.select(provider_key(pl.lit("  Accare  Kinder "))).item()
        'accare kinder'
    """
    return value.cast(pl.String).str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def _key(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Provider:
    """One provider of the registry.

    Attributes:
        code: the provider code, as in the linked file.
        name: its name.
        group: its group (the value of ``provider_group``).
        aliases: other ways deliveries write it.
        contracted: the contracted periods as (from, until); until None = open.
    """

    code: str
    name: str
    group: str
    aliases: tuple[str, ...] = ()
    contracted: tuple[tuple[date, date | None], ...] = ()

    def contracted_between(self, start: date, end: date) -> bool:
        """Whether any contracted period overlaps ``start``..``end`` (both days included)."""
        return any(
            begin <= end and (until is None or until > start) for begin, until in self.contracted
        )


@dataclass(frozen=True)
class ProviderRegistry:
    """The providers by code (built by :func:`load_providers` or :func:`providers_from_mapping`).

    Example:
        >>> registry = providers_from_mapping({"version": 1, "provider": [
        ...     {"code": "P01", "name": "Accare", "group": "top 5", "aliases": ["ACCARE"]}]})
        >>> registry.lookup()["accare"], registry.groups()
        ('P01', {'P01': 'top 5'})
    """

    providers: Mapping[str, Provider]
    source: str = "providers"

    def lookup(self) -> dict[str, str]:
        """Every key (code, name, alias; see :func:`provider_key`) -> its provider's code."""
        found: dict[str, str] = {}
        for provider in self.providers.values():
            for text in (provider.code, provider.name, *provider.aliases):
                found[_key(text)] = provider.code
        return found

    def groups(self) -> dict[str, str]:
        """Code -> group."""
        return {code: provider.group for code, provider in self.providers.items()}

    def not_contracted(self, codes: list[str], start: date, end: date) -> list[str]:
        """Those of ``codes`` (registry codes) not contracted at any time in ``start``..``end``."""
        return sorted(
            code for code in codes if not self.providers[code].contracted_between(start, end)
        )

    def to_dict(self) -> dict[str, Any]:
        """The registry as JSON-ready data (codes and groups; for the metadata of outputs)."""
        return {"source": self.source, "groups": self.groups()}


def load_providers(path: str | Path) -> ProviderRegistry:
    """Read and check a provider registry (``.toml`` or ``.csv``).

    Raises:
        InputError: the file is missing, unreadable, or neither TOML nor CSV.
        ConfigError: every problem at once, each with its row or path.

    Example:
        >>> load_providers("missing.toml")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.toml: provider registry not found
    """
    suffix = Path(path).suffix.lower()
    if suffix not in (".toml", ".csv"):
        raise InputError(f"{path}: a provider registry is a .toml or .csv file")
    data = read_regular(path, what="provider registry")
    if suffix == ".toml":
        return providers_from_mapping(parse_toml(data, source=str(path)), source=str(path))
    return _from_csv(data, str(path))


def providers_from_mapping(
    data: Mapping[str, Any], *, source: str = "providers"
) -> ProviderRegistry:
    """Check a registry given as TOML data (``version = 1`` and ``[[provider]]`` tables).

    Raises:
        ConfigError: every problem at once, each with its path (``provider[2].group``).
    """
    problems: list[str] = []
    if data.get("version") != 1:
        problems.append("version: must be 1")
    for key in data:
        if key not in ("version", "provider"):
            problems.append(f"{key}: unknown field (expected version and [[provider]])")
    entries = data.get("provider")
    if not isinstance(entries, list) or not entries:
        problems.append("provider: give at least one [[provider]] table")
        raise ConfigError(source, problems)
    providers: list[tuple[str, Provider]] = []
    for index, entry in enumerate(entries):
        where = f"provider[{index + 1}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a table")
            continue
        for key in entry:
            if key not in ("code", "name", "aliases", "group", "contracted"):
                problems.append(f"{where}.{key}: unknown field")
        text = {
            key: value.strip() if isinstance(value := entry.get(key), str) else None
            for key in ("code", "name", "group")
        }
        for key, value in text.items():
            if not value:
                problems.append(f"{where}.{key}: must be non-empty text")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(
            isinstance(alias, str) and alias.strip() for alias in aliases
        ):
            problems.append(f"{where}.aliases: must be a list of non-empty texts")
            aliases = []
        periods: list[tuple[date, date | None]] = []
        contracted = entry.get("contracted", [])
        if not isinstance(contracted, list):
            problems.append(f"{where}.contracted: must be a list of {{from, until}} tables")
            contracted = []
        for number, period in enumerate(contracted):
            at = f"{where}.contracted[{number + 1}]"
            if not isinstance(period, Mapping) or set(period) - {"from", "until"}:
                problems.append(f"{at}: must be a table with from and (optionally) until")
                continue
            begin, until = period.get("from"), period.get("until")
            if not _is_day(begin) or (until is not None and not _is_day(until)):
                problems.append(f"{at}: from and until must be dates (from = 2024-01-01)")
                continue
            periods.append((cast(date, begin), cast("date | None", until)))
        if all(text.values()):
            providers.append(
                (
                    where,
                    Provider(
                        str(text["code"]),
                        str(text["name"]),
                        str(text["group"]),
                        tuple(alias.strip() for alias in aliases),
                        tuple(sorted(periods, key=lambda span: span[0])),
                    ),
                )
            )
    problems.extend(_registry_problems(providers))
    if problems:
        raise ConfigError(source, problems)
    return ProviderRegistry({provider.code: provider for _, provider in providers}, source)


def _is_day(value: Any) -> bool:
    return isinstance(value, date) and not hasattr(value, "hour")


def _registry_problems(providers: list[tuple[str, Provider]]) -> list[str]:
    problems: list[str] = []
    owner: dict[str, tuple[str, str]] = {}
    codes: dict[str, str] = {}
    for where, provider in providers:
        if provider.code in codes:
            problems.append(f"{where}.code: {provider.code} is also {codes[provider.code]}")
            continue
        codes[provider.code] = where
        for begin, until in provider.contracted:
            if until is not None and until <= begin:
                problems.append(f"{where}.contracted: a period ends ({until}) before it starts")
        spans = provider.contracted
        for (_, until), (begin, _) in itertools.pairwise(spans):
            if until is None or until > begin:
                problems.append(f"{where}.contracted: periods overlap (from {begin})")
        # A key may name one provider only: the same text for two would be a guess.
        for text in dict.fromkeys(
            _key(t) for t in (provider.code, provider.name, *provider.aliases)
        ):
            if text in owner and owner[text][0] != provider.code:
                problems.append(f"{where}: {text!r} also names {owner[text][0]} ({owner[text][1]})")
            owner.setdefault(text, (provider.code, where))
    return problems


def _from_csv(data: bytes, source: str) -> ProviderRegistry:
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(f"{source}: not a readable CSV file ({type(exc).__name__})") from None
    frame = frame.rename({name: name.strip().lower() for name in frame.columns})
    missing = [name for name in ("code", "name", "group") if name not in frame.columns]
    if missing:
        raise ConfigError(source, [f"columns: lacks {', '.join(missing)}"])
    problems: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    for index, row in enumerate(frame.iter_rows(named=True)):
        where = f"row {index + 2}"
        code = (row.get("code") or "").strip()
        if not code:
            problems.append(f"{where}, column code: empty")
            continue
        entry = entries.setdefault(
            code,
            {
                "code": code,
                "name": row.get("name"),
                "group": row.get("group"),
                "aliases": [],
                "contracted": [],
                "row": where,
            },
        )
        for column in ("name", "group"):
            if not (row.get(column) or "").strip():
                problems.append(f"{where}, column {column}: empty")
            elif (row.get(column) or "").strip() != (entry[column] or "").strip():
                problems.append(
                    f"{where}, column {column}: differs from {entry['row']} of the same code"
                )
        for alias in (row.get("aliases") or "").split("|"):
            if alias.strip() and alias.strip() not in entry["aliases"]:
                entry["aliases"].append(alias.strip())
        begin, until = row.get("contracted_from"), row.get("contracted_until")
        if begin or until:
            try:
                start = date.fromisoformat((begin or "").strip())
                end = date.fromisoformat(until.strip()) if until and until.strip() else None
            except ValueError:
                problems.append(
                    f"{where}, columns contracted_from/contracted_until: not dates (YYYY-MM-DD)"
                )
                continue
            entry["contracted"].append({"from": start, "until": end} if end else {"from": start})
    if problems:
        raise ConfigError(source, problems)
    mapping = {
        "version": 1,
        "provider": [
            {key: value for key, value in entry.items() if key != "row"}
            for entry in entries.values()
        ],
    }
    return providers_from_mapping(mapping, source=source)
