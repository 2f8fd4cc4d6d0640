"""Rules of disclosure control: what is secret, how counts are rounded, how wide protection is.

Rules come from a built-in preset (``cbs``, ``threshold10``, ``threshold3``) or a versioned TOML
rules file that starts from a preset and overrides some of it (see ``docs/disclosure.md``). They
are validated up front; every problem is reported at once, with the path of its field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from factlab.errors import ConfigError
from factlab.io import read_toml

__all__ = [
    "MARGINS",
    "PRESETS",
    "DisclosureRules",
    "MeasureRule",
    "load_rules",
    "preset",
    "rules_from_mapping",
]

#: How a margin relates to its cells.
MARGINS: Final = ("union", "additive", "sum_of_cells")


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

    Example:
        >>> DisclosureRules(secret_max=3, zero_is_secret=False).rounding_base
        5
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

    def __post_init__(self) -> None:
        problems = _rule_problems(self.to_dict(), "")
        names = [rule.name for rule in self.measures or ()]
        if len(set(names)) != len(names):
            problems.append("measures: names a measure more than once")
        if problems:
            raise ConfigError("disclosure rules", problems)

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
            },
        }
        if self.measures is not None:
            data["measures"] = {rule.name: rule.margins for rule in self.measures}
        if self.dimensions is not None:
            data["table"] = {"dimensions": list(self.dimensions)}
        return data


_SECTIONS: Final[dict[str, dict[str, str]]] = {
    "primary": {"secret_max": "count", "zero_is_secret": "bool"},
    "rounding": {"base": "base"},
    "protection": {"min_width": "number", "percent": "number", "protect_secondary": "bool"},
    "table": {"dimensions": "names"},
}
_TOP: Final = ("version", "preset", "name", "measures", *_SECTIONS)


def _type_problem(kind: str, value: Any) -> str | None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_number = (is_int or isinstance(value, float)) and not isinstance(value, bool)
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
    measures = data.get("measures")
    overridden = any(key in data for key in (*_SECTIONS, "measures"))
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
    path = Path(path)
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
