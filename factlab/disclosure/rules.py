"""Rules of disclosure control: what is secret, how counts are rounded, how wide protection is.

Rules come from a built-in preset (``cbs``, ``threshold10``, ``threshold3``) or a versioned TOML
rules file that starts from a preset and overrides some of it (see ``docs/disclosure.md``). They
are validated up front; every problem is reported at once, with the path of its field.

Rules may also declare *structural empties*: cells that are empty by definition (e.g. youth
protection financed from the health insurance act), which are published as known zeros instead
of being treated as secret zeros; *hierarchies* of a dimension's codes (municipality -> region,
see :mod:`factlab.disclosure.hierarchy`); and how the secondary suppressions are searched for
(method, cost, time limit) and which attacker the audit assumes (linear or integer).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from factlab._checks import require_path
from factlab.disclosure.hierarchy import Declared, freeze_hierarchies, hierarchy_problems
from factlab.errors import ConfigError
from factlab.io import parse_toml, read_toml

__all__ = [
    "ATTACKERS",
    "COSTS",
    "MARGINS",
    "METHODS",
    "PRESETS",
    "DisclosureRules",
    "MeasureRule",
    "disclosure_2014",
    "load_rules",
    "preset",
    "rules_from_mapping",
]

#: How a margin relates to its cells.
MARGINS: Final = ("union", "additive", "sum_of_cells")
#: How secondary suppressions are found (see :mod:`factlab.disclosure.suppress`).
METHODS: Final = ("optimal", "cleanup", "heuristic")
#: What a suppressed cell costs: its value, one per cell, or the logarithm of its value.
COSTS: Final = ("value", "cells", "log")
#: The attacker the audit assumes: linear programming, or integer programming.
ATTACKERS: Final = ("lp", "integer")
#: Dimensions chosen per client per period by the counts (``factlab.analysis.counts``): a client
#: who moved counts in their most recent municipality of each period. A hierarchy declared on it
#: (regions in the municipality column) follows it. (``age_group`` is not one: its age is that
#: reached in the calendar year of the period's last day, the same for a year and its halves;
#: parts that end in other calendar years are refused by reports, and a broken union stops
#: ``protect``, since a client's age group there differs between the parts.)
PERIOD_VALUED: Final = ("municipality",)
#: Dimensions computed from all of a client's rows in the period: the number of providers of a
#: report's providers-per-client table. A client at one provider in each half is at two for the
#: year, so over the part column such a cell is related to its parts in no way at all.
PERIOD_COUNTED: Final = ("providers",)


@dataclass(frozen=True)
class MeasureRule:
    """A measure to protect and publish.

    Attributes:
        name: column of the count table, e.g. ``unique_clients``.
        margins: ``union`` (a margin is the union of its cells: <= their sum, as unique
            clients), ``additive`` (a margin is the sum of its cells, checked), or
            ``sum_of_cells`` (margins are replaced by the sums of the most detailed cells).
    """

    name: str
    margins: str = "union"


@dataclass(frozen=True)
class DisclosureRules:
    """Rules of disclosure control; validated on construction (ConfigError with every problem).

    Attributes:
        name: preset name or a label of the rules file.
        secret_max: counts 1..secret_max are secret (primary suppression).
        zero_is_secret: whether a count of 0 is secret too (CBS: yes, so "." means 0-7).
        rounding_base: published counts are rounded half up to a multiple of this (1: none).
        min_width: a secret cell's feasible interval must be at least this wide ...
        protection_percent: ... and at least this percentage of its value.
        protect_secondary: require the protection width for secondary suppressions too.
        measures: measures to protect (None: ``unique_clients`` as union and
            ``registrations`` as additive, those present).
        dimensions: dimension columns (None: the non-numeric columns, and ``birth_year``).
        period_valued: dimensions whose value per client is chosen per period (the most
            recent municipality), so that a period is not the union of its parts in their
            cells: a client in Assen in the first half
            and in Emmen in the second counts in Emmen for the year. Over the part column such
            a cell is related to its parts only as the counting rule guarantees, never as the
            data happen to show: period <= sum of its parts where every other dimension is a
            total, nothing elsewhere; see docs/disclosure.md.
        period_counted: dimensions computed from all of a client's rows in the period (the
            number of providers): over the part column such a cell has no relation to its
            parts (a client at one provider in each half is at two for the year).
        keep_total: suppress the grand total (of each part) as a complement only when no
            safe pattern without it exists (a half whose total is secret). For a
            table protected on its own whose grand total other tables publish too (a report's
            tables): a total hidden in one table as a complement would be a secret the others
            may give away (a table with one category shows it as that category).
        structural_empty: cells that are empty by definition, each a partial cell selection
            (dimension -> value): a cell matches when it has every named value (it may be a
            total over the dimensions not named). A matching cell must count 0; it is published
            as a known structural zero and never suppressed. A selection naming a dimension
            that a table lacks does not apply to that table.
        hierarchy: per dimension, its codes grouped (parent -> children; see
            :mod:`factlab.disclosure.hierarchy`): a table has rows for the codes of every
            level, and the groups are margins of their children. Validated as trees.
        method: how secondary suppressions are found: ``optimal`` (a mixed-integer search for
            the pattern of least cost, with ``cleanup`` as its fallback), ``cleanup`` (the
            heuristic, then redundant complements dropped, largest first) or ``heuristic``.
        cost: what the search minimises: ``value`` (the suppressed cells' values of the first
            measure), ``cells`` (their number) or ``log`` (the sum of log(1 + value)).
        time_limit: seconds the ``optimal`` search may take; past them protecting is an
            error (the pattern never depends on the clock: the search falls back to
            ``cleanup`` on work limits, rounds and nodes, instead).
        attacker: ``lp`` (the audit bounds every suppressed value by linear programming) or
            ``integer`` (also by integer programming, which can only narrow the intervals).

    Example:
        >>> DisclosureRules(secret_max=3, zero_is_secret=False).rounding_base
        5
        >>> rules = DisclosureRules(structural_empty=({"care_form": "JB/JR", "financing": "ZVW"},))
        >>> dict(rules.structural_empty[0])
        {'care_form': 'JB/JR', 'financing': 'ZVW'}
    """

    name: str = "cbs"
    secret_max: int = 7
    zero_is_secret: bool = True
    rounding_base: int = 5
    min_width: float = 7
    protection_percent: float = 30
    protect_secondary: bool = False
    measures: tuple[MeasureRule, ...] | None = None
    dimensions: tuple[str, ...] | None = None
    period_valued: tuple[str, ...] = PERIOD_VALUED
    period_counted: tuple[str, ...] = PERIOD_COUNTED
    keep_total: bool = False
    structural_empty: tuple[Mapping[str, str], ...] = ()
    hierarchy: Mapping[str, Declared] = field(default_factory=lambda: MappingProxyType({}))
    method: str = "optimal"
    cost: str = "value"
    time_limit: float = 120
    attacker: str = "lp"

    def __post_init__(self) -> None:
        problems = _rule_problems(self.to_dict(), "")
        names = [rule.name for rule in self.measures or ()]
        if len(set(names)) != len(names):
            problems.append("measures: names a measure more than once")
        if problems:
            raise ConfigError("disclosure rules", problems)
        # Read-only copies: a caller's later change to its dict must not change the rules.
        frozen = tuple(MappingProxyType(dict(selection)) for selection in self.structural_empty)
        object.__setattr__(self, "structural_empty", frozen)
        object.__setattr__(self, "hierarchy", freeze_hierarchies(self.hierarchy))
        object.__setattr__(self, "period_valued", tuple(self.period_valued))
        object.__setattr__(self, "period_counted", tuple(self.period_counted))

    def __hash__(self) -> int:
        # The selections are mappings, which do not hash; the rules file form does.
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """The rules in the shape of a rules file (see docs/disclosure.md)."""
        data: dict[str, Any] = {
            "version": 1,
            "name": self.name,
            "primary": {"secret_max": self.secret_max, "zero_is_secret": self.zero_is_secret},
            "rounding": {"base": self.rounding_base},
            "protection": {
                "min_width": self.min_width,
                "percent": self.protection_percent,
                "protect_secondary": self.protect_secondary,
                "attacker": self.attacker,
            },
            "suppression": {
                "method": self.method,
                "cost": self.cost,
                "time_limit": self.time_limit,
            },
        }
        if self.measures is not None:
            data["measures"] = {rule.name: rule.margins for rule in self.measures}
        table: dict[str, Any] = {}
        if self.dimensions is not None:
            table["dimensions"] = list(self.dimensions)
        if tuple(self.period_valued) != PERIOD_VALUED:
            table["period_valued"] = list(self.period_valued)
        if tuple(self.period_counted) != PERIOD_COUNTED:
            table["period_counted"] = list(self.period_counted)
        if self.keep_total:
            table["keep_total"] = True
        if table:
            data["table"] = table
        if self.structural_empty:
            data["structural_empty"] = _selections_as_data(self.structural_empty)
        if self.hierarchy:
            data["hierarchy"] = _hierarchies_as_data(self.hierarchy)
        return data


def _selections_as_data(selections: Any) -> Any:
    """Selections as a rules file holds them (anything else is passed on to be reported)."""
    if not isinstance(selections, list | tuple):
        return selections
    return [dict(item) if isinstance(item, Mapping) else item for item in selections]


def _hierarchies_as_data(hierarchies: Any) -> Any:
    """Hierarchies as a rules file holds them (anything else is passed on to be reported)."""
    if not isinstance(hierarchies, Mapping):
        return hierarchies
    return {
        dimension: (
            {p: list(c) if isinstance(c, tuple) else c for p, c in declared.items()}
            if isinstance(declared, Mapping)
            else declared
        )
        for dimension, declared in hierarchies.items()
    }


_SECTIONS: Final[dict[str, dict[str, str]]] = {
    "primary": {"secret_max": "count", "zero_is_secret": "bool"},
    "rounding": {"base": "base"},
    "protection": {
        "min_width": "number",
        "percent": "number",
        "protect_secondary": "bool",
        "attacker": "attacker",
    },
    "suppression": {"method": "method", "cost": "cost", "time_limit": "number"},
    "table": {
        "dimensions": "names",
        "period_valued": "names",
        "period_counted": "names",
        "keep_total": "bool",
    },
}
_TOP: Final = (
    "version", "preset", "name", "measures", *_SECTIONS, "structural_empty", "hierarchy",
)  # fmt: skip
_CHOICES: Final = {"method": METHODS, "cost": COSTS, "attacker": ATTACKERS}


def _type_problem(kind: str, value: Any) -> str | None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_number = (is_int or isinstance(value, float)) and not isinstance(value, bool)
    if kind in _CHOICES:
        return None if value in _CHOICES[kind] else f"must be one of {', '.join(_CHOICES[kind])}"
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "count":
        return None if is_int and value >= 0 else "must be a whole number >= 0"
    if kind == "base":
        return None if is_int and value >= 1 else "must be a whole number >= 1"
    if kind == "number":
        ok = is_number and math.isfinite(value) and value >= 0
        return None if ok else "must be a number >= 0"
    names_ok = isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value)
    if not names_ok:
        return "must be a list of column names"
    return None if len(set(value)) == len(value) else "names a column more than once"


def _rule_problems(data: Mapping[str, Any], prefix: str) -> list[str]:
    """Every problem of a rules mapping, each with the path of the bad field."""
    problems = [f"{prefix}{key}: unknown key" for key in data if key not in _TOP]
    if data.get("version", 1) != 1:
        problems.append(f"{prefix}version: unsupported version (supported: 1)")
    if "preset" in data and data["preset"] not in PRESETS:
        problems.append(f"{prefix}preset: unknown preset (choose {', '.join(PRESETS)})")
    if "name" in data and not isinstance(data["name"], str):
        problems.append(f"{prefix}name: must be text")
    for section, fields in _SECTIONS.items():
        if section not in data:
            continue
        content = data[section]
        if not isinstance(content, Mapping):
            problems.append(f"{prefix}{section}: must be a table")
            continue
        for key, value in content.items():
            path = f"{prefix}{section}.{key}"
            if key not in fields:
                problems.append(f"{path}: unknown key")
            elif (problem := _type_problem(fields[key], value)) is not None:
                problems.append(f"{path}: {problem}")
    if "measures" in data:
        measures = data["measures"]
        if not isinstance(measures, Mapping) or not measures:
            problems.append(f"{prefix}measures: must be a table naming at least one measure")
        else:
            problems.extend(
                f"{prefix}measures.{name}: must be one of {', '.join(MARGINS)}"
                for name, margins in measures.items()
                if margins not in MARGINS
            )
    if "structural_empty" in data:
        problems.extend(_structural_problems(data["structural_empty"], prefix))
    if "hierarchy" in data:
        declared = data["hierarchy"]
        if not isinstance(declared, Mapping):
            problems.append(f"{prefix}hierarchy: must be a table of [hierarchy.<dimension>] tables")
        else:
            for dimension, tree in declared.items():
                problems.extend(hierarchy_problems(tree, f"{prefix}hierarchy.{dimension}"))
    return problems


def _structural_problems(selections: Any, prefix: str) -> list[str]:
    """Problems of ``[[structural_empty]]`` tables: any key names a dimension, values are text."""
    path = f"{prefix}structural_empty"
    if not isinstance(selections, list | tuple):
        return [f"{path}: must be an array of tables ([[structural_empty]])"]
    problems: list[str] = []
    seen: dict[tuple[tuple[str, str], ...], int] = {}
    for index, selection in enumerate(selections, start=1):
        where = f"{path}[{index}]"
        if not isinstance(selection, Mapping):
            problems.append(f"{where}: must be a table of dimension = value")
            continue
        found = [] if selection else [f"{where}: names no dimension"]
        for key, value in selection.items():
            if not isinstance(key, str) or not key:
                found.append(f"{where}: a dimension name must be non-empty text")
            elif not isinstance(value, str) or not value:
                found.append(f"{where}.{key}: must be non-empty text (a value of {key})")
        problems += found
        if found:
            continue
        canonical = tuple(sorted(selection.items()))
        if canonical in seen:
            problems.append(f"{where}: the same cells as {path}[{seen[canonical]}]")
        else:
            seen[canonical] = index
    return problems


#: Built-in rule sets: CBS (1-7 and 0 secret), ACRO (below 10, zeros secret), sdcTable (<= 3).
PRESETS: Final[Mapping[str, DisclosureRules]] = {
    "cbs": DisclosureRules(name="cbs"),
    "threshold10": DisclosureRules(name="threshold10", secret_max=9, min_width=9),
    "threshold3": DisclosureRules(
        name="threshold3", secret_max=3, zero_is_secret=False, min_width=3
    ),
}


def rules_from_mapping(data: Mapping[str, Any], *, source: str = "rules") -> DisclosureRules:
    """Build rules from a parsed rules file: a preset (default ``cbs``) with overrides.

    Raises:
        ConfigError: listing every problem at once, each with the path of its field.

    Example:
        >>> rules_from_mapping({"version": 1, "preset": "threshold3"}).secret_max
        3
        >>> try:
        ...     rules_from_mapping({"version": 1, "rounding": {"base": 0}, "colour": 1})
        ... except ConfigError as error:
        ...     print(error.problems)
        ['colour: unknown key', 'rounding.base: must be a whole number >= 1']
    """
    problems = [] if "version" in data else ["version: missing (use version = 1)"]
    problems += _rule_problems(data, "")
    if problems:
        raise ConfigError(source, problems)
    base = PRESETS[data.get("preset", "cbs")]
    primary = data.get("primary", {})
    rounding = data.get("rounding", {})
    protection = data.get("protection", {})
    table = data.get("table", {})
    suppression = data.get("suppression", {})
    measures = data.get("measures")
    structural = data.get("structural_empty", base.structural_empty)
    overridden = any(
        key in data for key in (*_SECTIONS, "measures", "structural_empty", "hierarchy")
    )
    return DisclosureRules(
        name=data.get("name", f"{base.name}+{source}" if overridden else base.name),
        secret_max=primary.get("secret_max", base.secret_max),
        zero_is_secret=primary.get("zero_is_secret", base.zero_is_secret),
        rounding_base=rounding.get("base", base.rounding_base),
        min_width=protection.get("min_width", base.min_width),
        protection_percent=protection.get("percent", base.protection_percent),
        protect_secondary=protection.get("protect_secondary", base.protect_secondary),
        measures=(
            tuple(MeasureRule(name, margins) for name, margins in measures.items())
            if measures is not None
            else base.measures
        ),
        dimensions=tuple(table["dimensions"]) if "dimensions" in table else base.dimensions,
        period_valued=tuple(table.get("period_valued", base.period_valued)),
        period_counted=tuple(table.get("period_counted", base.period_counted)),
        keep_total=table.get("keep_total", base.keep_total),
        structural_empty=tuple(structural),
        hierarchy=data.get("hierarchy", base.hierarchy),
        method=suppression.get("method", base.method),
        cost=suppression.get("cost", base.cost),
        time_limit=suppression.get("time_limit", base.time_limit),
        attacker=protection.get("attacker", base.attacker),
    )


def load_rules(path: str | Path) -> DisclosureRules:
    """Read and validate a TOML rules file (see docs/disclosure.md).

    Raises:
        InputError: the file is missing or unreadable.
        ConfigError: it is not valid TOML or breaks the rules schema (all problems at once).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "rules.toml"
        >>> _ = path.write_text('version = 1\\npreset = "threshold10"\\n[rounding]\\nbase = 1\\n')
        >>> rules = load_rules(path)
        >>> rules.secret_max, rules.rounding_base
        (9, 1)
    """
    path = require_path(path, where="load_rules", name="path")
    return rules_from_mapping(read_toml(path, what="rules file"), source=path.name)


def preset(name: str) -> DisclosureRules:
    """A built-in rule set: ``cbs``, ``threshold10`` or ``threshold3``.

    Example:
        >>> preset("threshold10").secret_max
        9
    """
    if name not in PRESETS:
        raise ConfigError("preset", [f"preset: unknown preset (choose {', '.join(PRESETS)})"])
    return PRESETS[name]


def disclosure_2014() -> DisclosureRules:
    """The rules of the 2014 Drenthe table: CBS rules, with JB/JR × ZVW and × AWBZ empty.

    JB/JR (youth protection and probation) was financed only from the provincial budget, so the
    published table leaves those two cells blank; they are declared structural empties.

    Example:
        >>> rules = disclosure_2014()
        >>> rules.secret_max
        7
        >>> [cell["financing"] for cell in rules.structural_empty if cell["care_form"] == "JB/JR"]
        ['ZVW', 'AWBZ']
    """
    source = "factlab/data/disclosure_2014.toml"
    resource = resources.files("factlab.data").joinpath("disclosure_2014.toml")
    data = parse_toml(resource.read_bytes(), source=source, what="rules file")
    return rules_from_mapping(data, source=source)
