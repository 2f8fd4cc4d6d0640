"""The reference file (``reference.toml``): which tables, hierarchies and registry a round uses.

::

    version = 1
    reference_year = 2024            # municipalities as on 1 January of this year

    [municipalities]                 # optional: the packaged Drenthe table by default
    table = "gemeenten.csv"          # paths relative to this file
    changes = "gemeentewijzigingen.csv"
    aliases = "gemeentealiassen.csv"

    [providers]
    registry = "aanbieders.toml"     # or .csv: codes, names, aliases, groups, contracts

    [population]
    file = "bevolking.csv"           # CBS StatLine layout
    year = 2024                      # default: reference_year
    ages = [0, 17]
    select = { Geslacht = "Totaal mannen en vrouwen" }

    [hierarchy.region]               # any number of hierarchies (factlab.reference.hierarchy)
    dimension = "municipality"
    levels = ["purchasing_region", "youth_care_region"]
    ...

Everything is read and checked when the file is loaded, and every problem of every part is
reported at once. ``docs/reference.md`` describes each part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from factlab._checks import require_path
from factlab.errors import ConfigError
from factlab.io import file_sha256, read_toml
from factlab.reference.hierarchy import (
    RESERVED,
    ReferenceHierarchy,
    Resolver,
    hierarchy_problems,
)
from factlab.reference.municipalities import (
    MunicipalityTable,
    load_municipalities,
    municipality_key,
    municipality_lookup,
)
from factlab.reference.population import Population, load_population
from factlab.reference.providers import ProviderRegistry, load_providers

__all__ = ["PROVIDER_GROUP", "Reference", "load_reference", "reference_from_mapping"]

#: The dimension a provider registry adds: each provider's group.
PROVIDER_GROUP: Final = "provider_group"
#: How the municipality table names its packaged files.
_PACKAGED: Final = "factlab/data/"
_SECTIONS: Final = (
    "version",
    "reference_year",
    "municipalities",
    "providers",
    "population",
    "hierarchy",
)


@dataclass(frozen=True)
class Reference:
    """A round's reference data, checked (made by :func:`load_reference`).

    Attributes:
        year: the reference year: municipalities are those of 1 January of it.
        municipalities: the municipality table.
        hierarchies: the declared hierarchies, by name.
        providers: the provider registry, or None.
        population: the population denominators, or None.
        source: the reference file (or ``reference`` for data given in code).
        sha256: the SHA-256 of the reference file, for provenance (None for data).
        files: the tables it names (municipality table, changes, aliases, provider registry,
            population), each as (kind, ``name (sha256 ...)``), for provenance.

    Example:
        >>> reference = reference_from_mapping({"version": 1, "reference_year": 2024,
        ...     "hierarchy": {"region": {"dimension": "municipality", "levels": ["area"],
        ...         "area": {"North": ["Assen", "Gieten"], "South": ["GM0114"]}}}})
        >>> reference.hierarchies["region"].declared()
        {'North': ('Assen', 'Aa en Hunze'), 'South': ('Emmen',)}
        >>> reference.dimensions()
        ('area',)
    """

    year: int
    municipalities: MunicipalityTable
    hierarchies: Mapping[str, ReferenceHierarchy] = field(
        default_factory=lambda: MappingProxyType({})
    )
    providers: ProviderRegistry | None = None
    population: Population | None = None
    source: str = "reference"
    sha256: str | None = None
    files: tuple[tuple[str, str], ...] = ()

    def dimensions(self) -> tuple[str, ...]:
        """The dimensions it adds to a count: every level, and ``provider_group``."""
        levels = [level for h in self.hierarchies.values() for level in h.levels]
        return (*levels, *([PROVIDER_GROUP] if self.providers is not None else []))

    def to_dict(self) -> dict[str, Any]:
        """What an output made with this reference says about it."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "reference_year": self.year,
            "files": [{"kind": kind, "file": text} for kind, text in self.files],
            "municipality_tables": list(self.municipalities.sources),
            "hierarchies": {name: h.to_dict() for name, h in self.hierarchies.items()},
            "providers": self.providers.to_dict() if self.providers is not None else None,
            "population": None
            if self.population is None
            else {
                "source": self.population.source,
                "year": self.population.year,
                "ages": list(self.population.ages) if self.population.ages else None,
            },
        }


def load_reference(path: str | Path) -> Reference:
    """Read and check a reference file and every table it names.

    Raises:
        InputError: a file is missing or unreadable.
        ConfigError: every problem of the file and its tables at once.

    Example:
        >>> load_reference("missing.toml")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.toml: reference file not found
    """
    path = require_path(path, where="load_reference", name="path")
    data = read_toml(path, what="reference file")
    return reference_from_mapping(
        data, base=Path(path).parent, source=str(path), sha256=file_sha256(path)
    )


def reference_from_mapping(
    data: Mapping[str, Any],
    *,
    base: str | Path = ".",
    source: str = "reference",
    sha256: str | None = None,
) -> Reference:
    """Check reference data given as a mapping (a parsed ``reference.toml``).

    Args:
        data: the document.
        base: the folder that relative paths are relative to.
        source: its name in messages.
        sha256: the file's digest, for provenance.

    Raises:
        ConfigError: every problem at once.
    """
    problems: list[str] = []
    folder = Path(base)
    if data.get("version") != 1:
        problems.append("version: must be 1")
    for key in data:
        if key not in _SECTIONS:
            problems.append(f"{key}: unknown section (expected {', '.join(_SECTIONS[1:])})")
    year = data.get("reference_year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2100:
        problems.append("reference_year: must be a year (e.g. 2024)")
        year = None
    table = _municipalities(data.get("municipalities", {}), folder, problems)
    providers = _providers(data.get("providers"), folder, problems)
    hierarchies: dict[str, ReferenceHierarchy] = {}
    declared = data.get("hierarchy", {})
    if not isinstance(declared, Mapping):
        problems.append("hierarchy: must be a table of [hierarchy.<name>] tables")
        declared = {}
    used: dict[str, str] = {PROVIDER_GROUP: "the provider registry"} if providers else {}
    for name, entry in declared.items():
        if name in RESERVED or name in used or not name.isidentifier():
            problems.append(f"hierarchy.{name}: cannot name a hierarchy (a dimension or level)")
            continue
        resolve = None
        if isinstance(entry, Mapping) and entry.get("dimension") == "municipality":
            if table is None or year is None:
                problems.append(f"hierarchy.{name}: needs the municipality table and a year")
                continue
            resolve = _municipality_resolver(table, year)
        hierarchy, found = hierarchy_problems(
            name, entry, path=f"hierarchy.{name}", resolve=resolve
        )
        problems.extend(found)
        if hierarchy is None:
            continue
        for level in hierarchy.levels:
            if level in declared:
                problems.append(f"hierarchy.{name}.levels: {level} is also a hierarchy's name")
            elif level in used:
                problems.append(
                    f"hierarchy.{name}.levels: {level} is also a level of {used[level]}"
                )
            used[level] = f"hierarchy.{name}"
        hierarchies[name] = hierarchy
    population = None
    if "population" in data and table is not None and year is not None:
        population = _population(data["population"], folder, table, year, problems)
    if problems or table is None or year is None:
        raise ConfigError(source, problems)
    return Reference(
        year,
        table,
        MappingProxyType(hierarchies),
        providers,
        population,
        source,
        sha256,
        _digests(table, providers, population),
    )


def _digests(
    table: MunicipalityTable, providers: ProviderRegistry | None, population: Population | None
) -> tuple[tuple[str, str], ...]:
    """Each table the reference read, with the SHA-256 of its bytes (the packaged ones too)."""
    kinds = ("municipality table", "municipality changes", "municipality aliases")
    named = list(zip(kinds, table.sources, strict=False))
    named += [("provider registry", providers.source)] if providers is not None else []
    named += [("population", population.source)] if population is not None else []
    found = []
    for kind, source in named:
        if source == "(none)":
            continue
        if source.startswith(_PACKAGED):
            data = resources.files("factlab.data").joinpath(source[len(_PACKAGED) :])
            digest = hashlib.sha256(data.read_bytes()).hexdigest()
        else:
            digest = file_sha256(source)
        found.append((kind, f"{Path(source).name} (sha256 {digest})"))
    return tuple(found)


def _municipalities(section: Any, folder: Path, problems: list[str]) -> MunicipalityTable | None:
    if not isinstance(section, Mapping):
        problems.append("municipalities: must be a table")
        return None
    paths: dict[str, Path | None] = {}
    for key, value in section.items():
        if key not in ("table", "changes", "aliases"):
            problems.append(f"municipalities.{key}: unknown field (table, changes, aliases)")
        elif not isinstance(value, str) or not value:
            problems.append(f"municipalities.{key}: must be a file path")
        else:
            paths[key] = folder / value
    try:
        return load_municipalities(paths.get("table"), paths.get("changes"), paths.get("aliases"))
    except ConfigError as error:
        problems.extend(f"municipalities: {problem}" for problem in error.problems)
    return None


def _providers(section: Any, folder: Path, problems: list[str]) -> ProviderRegistry | None:
    if section is None:
        return None
    if not isinstance(section, Mapping) or set(section) != {"registry"}:
        problems.append("providers: must be a table with registry = <file>")
        return None
    if not isinstance(section["registry"], str):
        problems.append("providers.registry: must be a file path")
        return None
    try:
        return load_providers(folder / section["registry"])
    except ConfigError as error:
        problems.extend(f"providers: {error.source}: {problem}" for problem in error.problems)
    return None


def _population(
    section: Any, folder: Path, table: MunicipalityTable, year: int, problems: list[str]
) -> Population | None:
    if not isinstance(section, Mapping):
        problems.append("population: must be a table")
        return None
    found: list[str] = []
    for key in section:
        if key not in ("file", "year", "ages", "value_column", "select"):
            found.append(f"population.{key}: unknown field")
    path = section.get("file")
    if not isinstance(path, str) or not path:
        found.append("population.file: must be a file path")
    figures_year = section.get("year", year)
    if not isinstance(figures_year, int) or isinstance(figures_year, bool):
        found.append("population.year: must be a year")
    ages = section.get("ages")
    if ages is not None and not (
        isinstance(ages, list)
        and len(ages) == 2
        and all(isinstance(age, int) and not isinstance(age, bool) for age in ages)
        and 0 <= ages[0] <= ages[1]
    ):
        found.append("population.ages: must be [lowest, highest] (e.g. [0, 17])")
    value = section.get("value_column")
    if value is not None and not isinstance(value, str):
        found.append("population.value_column: must be a column name")
    select = section.get("select", {})
    if not isinstance(select, Mapping) or not all(isinstance(v, str) for v in select.values()):
        found.append('population.select: must be a table of column = "value"')
    problems.extend(found)
    if found:
        return None
    try:
        return load_population(
            folder / str(path),
            year=int(figures_year),
            municipalities=table,
            reference_year=year,
            ages=(ages[0], ages[1]) if ages else None,
            value_column=value,
            select=select,
        )
    except ConfigError as error:
        problems.extend(error.problems)
    return None


def _municipality_resolver(table: MunicipalityTable, year: int) -> Resolver:
    lookup = municipality_lookup(table, year)
    by_key = {row["key"]: row for row in lookup.iter_rows(named=True)}

    def resolve(written: Sequence[str], where: str) -> tuple[dict[str, str], list[str]]:
        keys = pl.select(municipality_key(pl.lit(pl.Series(list(written), dtype=pl.String))))
        labels: dict[str, str] = {}
        problems: list[str] = []
        for text, key in zip(written, keys.to_series().to_list(), strict=True):
            row = by_key.get(key)
            if row is None or row["name"] is None:
                reason = row["reason"] if row else "not a municipality of the reference table"
                problems.append(f"{where}: {text!r} {reason}")
            else:
                labels[text] = row["name"]
        return labels, problems

    return resolve
