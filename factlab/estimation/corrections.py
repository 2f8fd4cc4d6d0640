"""Corrections model: the declared, sourced steps from counted youths to a planning estimate.

A count of a factlab round misses youths: providers that did not take part, small providers that
were never asked, youths on a personal budget (PGB) who never appear in a provider's file. A
planning estimate adds corrections for these. Here every correction is a declared, sourced
*adjustment* in a versioned TOML file, meant for a counts table of one row dimension by one
column dimension (e.g. ``care_form`` × ``financing``):

* ``absolute`` adds a fixed number;
* ``factor`` adds ``factor × observed``;
* ``coverage`` grosses up an observed value seen at a known coverage: it adds
  ``observed × (1 − coverage) / coverage``.

This module holds the model: its dataclasses, reading and validating corrections files (every
problem at once, with its field path) and the packaged 2014 model. Applying a model to a counts
table, with the arithmetic of every step, is :mod:`factlab.estimation.estimate` (see
``docs/corrections.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, TypeGuard

from factlab._checks import require_path
from factlab.errors import ConfigError
from factlab.io import parse_toml, read_toml

__all__ = [
    "Adjustment",
    "Corrections",
    "corrections_2014",
    "load_corrections",
    "parse_corrections",
]

Kind = Literal["absolute", "factor", "coverage"]
Base = Literal["sum_of_cells", "unique_clients"]

#: Versions of the corrections file format this module reads.
SUPPORTED_VERSIONS: Final = (1,)
#: Measures a corrections model can correct.
BASES: Final = ("sum_of_cells", "unique_clients")
#: Kinds of adjustment.
KINDS: Final = ("absolute", "factor", "coverage")
#: Column of the counts table whose cells the model corrects.
VALUE_COLUMN: Final = "unique_clients"

_UNITS: Final = {
    "sum_of_cells": "cell registrations: a youth in two cells counts twice",
    "unique_clients": "persons: each youth counts once",
}
_PARAMETER_KEYS: Final = {"absolute": "value", "factor": "factor", "coverage": "coverage"}

_TOP_KEYS: Final = (
    "version",
    "title",
    "description",
    "base",
    "row_dimension",
    "column_dimension",
    "row_values",
    "column_values",
    "adjustment",
)
_ADJUSTMENT_KEYS: Final = (
    "name",
    "kind",
    "select",
    "coverage",
    "factor",
    "value",
    "low",
    "high",
    "source",
    "note",
)


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    """One declared correction.

    Attributes:
        name: unique name, e.g. ``non_participation``.
        kind: ``absolute`` (add ``parameter``), ``factor`` (add ``parameter × observed``) or
            ``coverage`` (add ``observed × (1 − parameter) / parameter``).
        parameter: the value, factor or coverage (as written in the file).
        source: where the figure comes from.
        note: what the adjustment assumes and why.
        select: the observed value it applies to: ``{}`` the total, one dimension a row or
            column, both dimensions a cell. Empty for ``absolute``.
        low: optional lower end of the parameter's plausible range.
        high: optional upper end of the parameter's plausible range.
    """

    name: str
    kind: Kind
    parameter: float
    source: str
    note: str
    select: Mapping[str, str] = field(default_factory=dict)
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        # A read-only copy, so a caller who later changes their dict cannot change the model.
        object.__setattr__(self, "select", MappingProxyType(dict(self.select)))

    @property
    def parameter_key(self) -> str:
        """The key of :attr:`parameter` in a corrections file: ``value``, ``factor`` or
        ``coverage``."""
        return _PARAMETER_KEYS.get(self.kind, "value")

    def to_dict(self) -> dict[str, Any]:
        """The adjustment as it is written in a corrections file."""
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind != "absolute":
            data["select"] = dict(self.select)
        data[self.parameter_key] = self.parameter
        if self.low is not None:
            data["low"] = self.low
        if self.high is not None:
            data["high"] = self.high
        data["source"] = self.source
        data["note"] = self.note
        return data


@dataclass(frozen=True)
class Corrections:
    """A validated corrections model (construct it directly or with :func:`load_corrections`).

    Attributes:
        title: what the estimate is.
        base: ``sum_of_cells`` or ``unique_clients``: the measure being corrected.
        row_dimension: counts-table column that forms the rows, e.g. ``care_form``.
        column_dimension: counts-table column that forms the columns, e.g. ``financing``.
        adjustments: the corrections, applied independently to observed values.
        row_values: optional declared row values (display order; selections and the counts
            table must keep to them).
        column_values: optional declared column values, likewise.
        description: free text.
        version: corrections file format version.
        source: where the model was read from (used in error messages).

    Raises:
        ConfigError: with every problem at once, when the model is invalid.

    Example:
        >>> c = Corrections(
        ...     title="t", base="sum_of_cells", row_dimension="care_form",
        ...     column_dimension="financing",
        ...     adjustments=(Adjustment("x", "absolute", 250, source="s", note="n"),),
        ... )
        >>> c.unit
        'cell registrations: a youth in two cells counts twice'
    """

    title: str
    base: Base
    row_dimension: str
    column_dimension: str
    adjustments: tuple[Adjustment, ...] = ()
    row_values: tuple[str, ...] | None = None
    column_values: tuple[str, ...] | None = None
    description: str = ""
    version: int = 1
    source: str = field(default="corrections", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "adjustments", tuple(self.adjustments))
        for name in ("row_values", "column_values"):
            if (values := getattr(self, name)) is not None:
                object.__setattr__(self, name, tuple(values))
        problems = _problems(self.to_dict())
        if problems:
            raise ConfigError(self.source, problems)

    @property
    def unit(self) -> str:
        """What the corrected total counts: persons or cell registrations."""
        return _UNITS[self.base]

    def to_dict(self) -> dict[str, Any]:
        """The model as it is written in a corrections file (TOML-shaped)."""
        data: dict[str, Any] = {
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "base": self.base,
            "row_dimension": self.row_dimension,
            "column_dimension": self.column_dimension,
        }
        if self.row_values is not None:
            data["row_values"] = list(self.row_values)
        if self.column_values is not None:
            data["column_values"] = list(self.column_values)
        data["adjustment"] = [adjustment.to_dict() for adjustment in self.adjustments]
        return data


# --- validation ----------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    # TOML has inf and nan; neither is a usable parameter. bool is an int subclass in Python.
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _is_text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.strip() != ""


def _unknown_keys(data: Mapping[str, Any], known: Sequence[str], prefix: str) -> list[str]:
    return [
        f"{prefix}{key}: unknown key (known: {', '.join(known)})"
        for key in data
        if key not in known
    ]


def _check_values(data: Mapping[str, Any], key: str) -> list[str]:
    values = data.get(key)
    if values is None:
        return []
    if not isinstance(values, list) or not values:
        return [f"{key}: must be a non-empty list of strings"]
    problems = [
        f"{key}[{index}]: must be a non-empty string"
        for index, value in enumerate(values, start=1)
        if not _is_text(value)
    ]
    texts = [value for value in values if isinstance(value, str)]
    problems += [
        f"{key}: {value!r} is listed twice"
        for value in sorted(set(texts))
        if texts.count(value) > 1
    ]
    return problems


def _check_parameter(kind: str, path: str, key: str, value: float) -> list[str]:
    if kind == "coverage" and not 0 < value <= 1:
        return [f"{path}.{key}: must be in (0, 1], got {value!r}"]
    return []


def _check_select(
    select: object, path: str, dimensions: Mapping[str, list[str] | None]
) -> list[str]:
    if not isinstance(select, dict):
        return [f'{path}.select: must be a table, e.g. {{ financing = "ZVW" }} or {{}}']
    problems = []
    for key, value in select.items():
        where = f"{path}.select.{key}"
        if key not in dimensions:
            known = ", ".join(dimensions) or "none valid"
            problems.append(f"{where}: unknown dimension (dimensions: {known})")
        elif not _is_text(value):
            problems.append(f"{where}: must be a non-empty string")
        elif (declared := dimensions[key]) is not None and value not in declared:
            problems.append(f"{where}: {value!r} is not a declared value ({', '.join(declared)})")
    return problems


def _check_adjustment(
    index: int, adjustment: object, dimensions: Mapping[str, list[str] | None]
) -> list[str]:
    path = f"adjustment[{index}]"
    if not isinstance(adjustment, dict):
        return [f"{path}: must be a table ([[adjustment]])"]
    problems = _unknown_keys(adjustment, _ADJUSTMENT_KEYS, f"{path}.")
    for key in ("name", "kind", "source", "note"):
        if key not in adjustment:
            problems.append(f"{path}.{key}: missing (required)")
        elif not _is_text(adjustment[key]):
            problems.append(f"{path}.{key}: must be a non-empty string")
    kind = adjustment.get("kind")
    if isinstance(kind, str) and kind not in KINDS:
        problems.append(f"{path}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    if kind not in KINDS:
        return problems
    parameter_key = _PARAMETER_KEYS[kind]
    for other in sorted(set(_PARAMETER_KEYS.values()) - {parameter_key}):
        if other in adjustment:
            problems.append(f"{path}.{other}: not used by kind {kind!r} (use {parameter_key})")
    if kind == "absolute":
        if "select" in adjustment:
            problems.append(f"{path}.select: not used by kind 'absolute' (it adds a fixed number)")
    elif "select" not in adjustment:
        problems.append(f"{path}.select: missing (required; {{}} selects the total)")
    else:
        problems += _check_select(adjustment["select"], path, dimensions)
    numbers: dict[str, float] = {}
    for key in (parameter_key, "low", "high"):
        if key not in adjustment:
            if key == parameter_key:
                problems.append(f"{path}.{key}: missing (required for kind {kind!r})")
            continue
        if not _is_number(adjustment[key]):
            problems.append(f"{path}.{key}: must be a finite number")
            continue
        numbers[key] = float(adjustment[key])
        problems += _check_parameter(kind, path, key, numbers[key])
    point = numbers.get(parameter_key)
    if point is not None and "low" in numbers and numbers["low"] > point:
        problems.append(f"{path}.low: must not exceed {parameter_key} ({point!r})")
    if point is not None and "high" in numbers and numbers["high"] < point:
        problems.append(f"{path}.high: must not be below {parameter_key} ({point!r})")
    return problems


def _problems(data: Mapping[str, Any]) -> list[str]:
    """Every problem of a TOML-shaped corrections mapping, each prefixed by its field path."""
    problems = _unknown_keys(data, _TOP_KEYS, "")
    version = data.get("version")
    if "version" not in data:
        problems.append("version: missing (required)")
    elif not isinstance(version, int) or isinstance(version, bool):
        problems.append("version: must be an integer")
    elif version not in SUPPORTED_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_VERSIONS))
        problems.append(f"version: unsupported version {version} (supported: {supported})")
    for key in ("title", "base", "row_dimension", "column_dimension"):
        if key not in data:
            problems.append(f"{key}: missing (required)")
        elif not _is_text(data[key]):
            problems.append(f"{key}: must be a non-empty string")
    if "description" in data and not isinstance(data["description"], str):
        problems.append("description: must be a string")
    base = data.get("base")
    if isinstance(base, str) and base.strip() and base not in BASES:
        problems.append(f"base: {base!r} is not one of {', '.join(BASES)}")
    dimensions: dict[str, list[str] | None] = {}
    for axis in ("row", "column"):
        name = data.get(f"{axis}_dimension")
        if name == VALUE_COLUMN:
            problems.append(f"{axis}_dimension: {VALUE_COLUMN!r} is the counted measure")
        value_problems = _check_values(data, f"{axis}_values")
        problems += value_problems
        if _is_text(name) and name not in dimensions:
            values = data.get(f"{axis}_values")
            dimensions[name] = list(values) if values is not None and not value_problems else None
    if len(dimensions) == 1 and data.get("row_dimension") == data.get("column_dimension"):
        problems.append("column_dimension: must differ from row_dimension")
    adjustments = data.get("adjustment", [])
    if not isinstance(adjustments, list):
        return [*problems, "adjustment: must be an array of tables ([[adjustment]])"]
    first_index: dict[str, int] = {}
    for index, adjustment in enumerate(adjustments, start=1):
        problems += _check_adjustment(index, adjustment, dimensions)
        name = adjustment.get("name") if isinstance(adjustment, dict) else None
        if isinstance(name, str):
            if name in first_index:
                problems.append(
                    f"adjustment[{index}].name: duplicate name {name!r} "
                    f"(also adjustment[{first_index[name]}])"
                )
            first_index.setdefault(name, index)
    return problems


def parse_corrections(data: Mapping[str, Any], *, source: str = "corrections") -> Corrections:
    """Validate a TOML-shaped mapping and build a :class:`Corrections`.

    Raises:
        ConfigError: listing every problem at once, each with the path of the bad field
            (adjustments are numbered from 1 in file order, e.g. ``adjustment[2].coverage``).

    Example:
        >>> parse_corrections({"version": 1, "title": "t", "base": "sum_of_cells",
        ...     "row_dimension": "care_form", "column_dimension": "financing",
        ...     "adjustment": [{"name": "g", "kind": "coverage", "select": {}, "coverage": 1.5,
        ...                     "source": "s", "note": "n"}]})
        Traceback (most recent call last):
        factlab.errors.ConfigError: corrections: 1 problem(s): adjustment[1].coverage: must be in (0, 1], got 1.5
    """  # noqa: E501
    problems = _problems(data)
    if problems:
        raise ConfigError(source, problems)
    adjustments = tuple(
        Adjustment(
            name=raw["name"],
            kind=raw["kind"],
            parameter=float(raw[_PARAMETER_KEYS[raw["kind"]]]),
            source=raw["source"],
            note=raw["note"],
            select=dict(raw.get("select", {})),
            low=None if "low" not in raw else float(raw["low"]),
            high=None if "high" not in raw else float(raw["high"]),
        )
        for raw in data.get("adjustment", [])
    )
    row_values, column_values = data.get("row_values"), data.get("column_values")
    return Corrections(
        title=data["title"],
        base=data["base"],
        row_dimension=data["row_dimension"],
        column_dimension=data["column_dimension"],
        adjustments=adjustments,
        row_values=None if row_values is None else tuple(row_values),
        column_values=None if column_values is None else tuple(column_values),
        description=data.get("description", ""),
        version=data["version"],
        source=source,
    )


def load_corrections(path: str | Path) -> Corrections:
    """Read and validate a corrections TOML file.

    Raises:
        InputError: the file is missing, unreadable or not UTF-8 text.
        ConfigError: the file is not TOML or the model is invalid (all problems at once).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.toml"
        >>> _ = p.write_text('version = 1\\ntitle = "t"\\nbase = "sum_of_cells"\\n'
        ...     'row_dimension = "care_form"\\ncolumn_dimension = "financing"\\n')
        >>> load_corrections(p).adjustments
        ()
    """
    path = require_path(path, where="load_corrections", name="path")
    return parse_corrections(read_toml(path, what="corrections file"), source=str(path))


def corrections_2014() -> Corrections:
    """The packaged model behind Drenthe's 2015 estimate (11,245 counted → 15,158).

    Example:
        >>> [a.name for a in corrections_2014().adjustments]
        ['non_participation', 'ggz_small_providers', 'pgb']
    """
    source = "factlab/data/corrections_2014.toml"
    resource = resources.files("factlab.data").joinpath("corrections_2014.toml")
    data = parse_toml(resource.read_bytes(), source=source, what="corrections file")
    return parse_corrections(data, source=source)
