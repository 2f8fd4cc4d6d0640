"""Corrections model: from counted youths to a planning estimate, one declared step at a time.

A count of a factlab round misses youths: providers that did not take part, small providers that
were never asked, youths on a personal budget (PGB) who never appear in a provider's file. A
planning estimate adds corrections for these. Here every correction is a declared, sourced
*adjustment* in a versioned TOML file, applied to a counts table of one row dimension by one
column dimension (e.g. ``care_form`` × ``financing``), and the result shows the arithmetic of
every step.

Rules of the arithmetic (see ``docs/corrections.md``):

* Every adjustment refers to *observed* values of the base table, never to another adjustment's
  result, so the order of the adjustments does not matter.
* ``absolute`` adds a fixed number; ``factor`` adds ``factor × observed``; ``coverage`` grosses up
  an observed value seen at a known coverage: it adds ``observed × (1 − coverage) / coverage``.
* Each addition is computed exactly (rational arithmetic on the parameters as written) and then
  rounded to a whole youth, halves away from zero (half up for positive additions).
* With ``base = "sum_of_cells"`` the measure is the sum of the table's cells (a youth in two cells
  counts twice, as in the 2014 table); row and column totals are sums of cells. With
  ``base = "unique_clients"`` it is the count of persons, and row, column and grand totals are taken
  from the counts table's margin rows (unions).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, TypeGuard

import polars as pl

from factlab._version import __version__
from factlab.errors import ConfigError, DataError, InputError
from factlab.io import atomic_path, file_sha256
from factlab.manifest import now_iso

__all__ = [
    "Adjustment",
    "AdjustmentResult",
    "BaseTable",
    "Corrections",
    "Estimate",
    "corrections_2014",
    "estimate",
    "load_corrections",
    "parse_corrections",
    "read_counts_table",
    "write_estimate",
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
#: Output formats of :func:`write_estimate`, by file extension.
OUTPUT_FORMATS: Final = (".json", ".csv", ".md")

ROUNDING: Final = (
    "each adjustment is computed exactly from the parameters as written and rounded to a whole "
    "youth, halves away from zero (half up); the total is the base plus the rounded adjustments"
)
INTERNAL_NOTE: Final = (
    "the base table holds exact counts internal to the trusted party; "
    "not for publication without disclosure control"
)

_UNITS: Final = {
    "sum_of_cells": "cell registrations: a youth in two cells counts twice",
    "unique_clients": "persons: each youth counts once",
}
_PARAMETER_KEYS: Final = {"absolute": "value", "factor": "factor", "coverage": "coverage"}
_FORMULAS: Final = {
    "absolute": "value",
    "factor": "observed × factor",
    "coverage": "observed × (1 − coverage) / coverage",
}
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

    def to_dict(self) -> dict[str, Any]:
        """The adjustment as it is written in a corrections file."""
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind != "absolute":
            data["select"] = dict(self.select)
        data[_PARAMETER_KEYS.get(self.kind, "value")] = self.parameter
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


def _parse_toml(text: bytes, source: str) -> Corrections:
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(source, ["file: not UTF-8 text"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"file: not valid TOML ({exc})"]) from exc
    return parse_corrections(data, source=source)


def load_corrections(path: str | Path) -> Corrections:
    """Read and validate a corrections TOML file.

    Raises:
        InputError: the file does not exist.
        ConfigError: the file is not TOML or the model is invalid (all problems at once).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.toml"
        >>> _ = p.write_text('version = 1\\ntitle = "t"\\nbase = "sum_of_cells"\\n'
        ...     'row_dimension = "care_form"\\ncolumn_dimension = "financing"\\n')
        >>> load_corrections(p).adjustments
        ()
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    return _parse_toml(path.read_bytes(), str(path))


def corrections_2014() -> Corrections:
    """The packaged model behind Drenthe's 2015 estimate (11,245 counted → 15,158).

    Example:
        >>> [a.name for a in corrections_2014().adjustments]
        ['non_participation', 'ggz_small_providers', 'pgb']
    """
    resource = resources.files("factlab.data").joinpath("corrections_2014.toml")
    return _parse_toml(resource.read_bytes(), "factlab/data/corrections_2014.toml")


# --- the counts table ----------------------------------------------------------------------------


def read_counts_table(path: str | Path) -> pl.DataFrame:
    """Read a counts table written by ``factlab count`` (CSV, Parquet or JSON).

    CSV is read as text (an empty field is null: a margin); JSON is an object with ``rows`` (a list
    of row objects) or a bare list of row objects.

    Raises:
        InputError: the file is missing, unreadable or of an unknown format.

    Example:
        >>> read_counts_table("missing.csv")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.csv: file not found
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema=False)
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data.get("rows") if isinstance(data, dict) else data
            if not isinstance(rows, list):
                raise InputError(f"{path}: a JSON counts table needs a list of rows under 'rows'")
            return pl.from_dicts(rows, infer_schema_length=None)
    except InputError:
        raise
    except Exception as exc:  # readers raise many types; the message names file and reason only
        raise InputError(f"{path}: cannot read the counts table ({type(exc).__name__})") from exc
    raise InputError(f"{path}: unsupported counts format {suffix!r} (use .csv, .parquet or .json)")


# --- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseTable:
    """The observed table the corrections start from.

    Attributes:
        row_dimension: name of the row dimension.
        column_dimension: name of the column dimension.
        rows: row values in display order.
        columns: column values in display order.
        cells: ``(row, column, unique clients)`` for every cell present in the counts table.
        row_totals: per row (aligned with ``rows``), the measure being corrected: the sum of the
            row's cells (``sum_of_cells``) or the row's unique clients (``unique_clients``).
        column_totals: per column, likewise.
        total: the base total: sum of cells or unique clients.
        sum_of_cells: sum of all cells.
        unique_clients: unique clients behind the table (its grand-total row), when it has one.
    """

    row_dimension: str
    column_dimension: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[str, str, int], ...]
    row_totals: tuple[int, ...]
    column_totals: tuple[int, ...]
    total: int
    sum_of_cells: int
    unique_clients: int | None

    def cell(self, row: str, column: str) -> int:
        """The value of a cell; 0 when the counts table has no such cell."""
        return next((v for r, c, v in self.cells if (r, c) == (row, column)), 0)

    def to_frame(self) -> pl.DataFrame:
        """Rows × columns with a ``total`` column and a ``total`` row; null where no cell."""
        long = pl.DataFrame(
            {
                "row": [cell[0] for cell in self.cells],
                "column": [cell[1] for cell in self.cells],
                "value": [cell[2] for cell in self.cells],
            },
            schema={"row": pl.String, "column": pl.String, "value": pl.Int64},
        )
        grid = (
            pl.DataFrame({"row": list(self.rows)}, schema={"row": pl.String})
            .join(
                pl.DataFrame({"column": list(self.columns)}, schema={"column": pl.String}),
                how="cross",
            )
            .join(long, on=["row", "column"], how="left")
        )
        wide = grid.pivot(on="column", index="row", values="value", on_columns=list(self.columns))
        body = wide.with_columns(pl.Series("total", list(self.row_totals), dtype=pl.Int64))
        footer = pl.DataFrame(
            [["total", *self.column_totals, self.total]], schema=body.schema, orient="row"
        )
        return pl.concat([body, footer]).rename({"row": self.row_dimension})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "row_dimension": self.row_dimension,
            "column_dimension": self.column_dimension,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "cells": [
                {self.row_dimension: r, self.column_dimension: c, VALUE_COLUMN: v}
                for r, c, v in self.cells
            ],
            "row_totals": dict(zip(self.rows, self.row_totals, strict=True)),
            "column_totals": dict(zip(self.columns, self.column_totals, strict=True)),
            "total": self.total,
            "sum_of_cells": self.sum_of_cells,
            "unique_clients": self.unique_clients,
        }


@dataclass(frozen=True)
class AdjustmentResult:
    """One adjustment applied: what it was applied to, the arithmetic, and the whole youths added.

    Attributes:
        adjustment: the declared adjustment.
        applies_to: readable selection, e.g. ``financing = ZVW`` or ``total``.
        observed: the observed value it was applied to (None for ``absolute``).
        formula: the formula, e.g. ``observed × factor``.
        arithmetic: the formula with numbers, e.g. ``5,411 × 0.2 = 1,082.2 → 1,082``.
        value: youths added (rounded).
        low: smallest addition over the parameter range (None without a range).
        high: largest addition over the parameter range (None without a range).
        arithmetic_low: arithmetic at the parameter's ``low`` end (None without it).
        arithmetic_high: arithmetic at the parameter's ``high`` end (None without it).
    """

    adjustment: Adjustment
    applies_to: str
    observed: int | None
    formula: str
    arithmetic: str
    value: int
    low: int | None = None
    high: int | None = None
    arithmetic_low: str | None = None
    arithmetic_high: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        a = self.adjustment
        return {
            "name": a.name,
            "kind": a.kind,
            "select": dict(a.select),
            "applies_to": self.applies_to,
            "observed": self.observed,
            "formula": self.formula,
            "parameter": a.parameter,
            "parameter_low": a.low,
            "parameter_high": a.high,
            "arithmetic": self.arithmetic,
            "arithmetic_low": self.arithmetic_low,
            "arithmetic_high": self.arithmetic_high,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "source": a.source,
            "note": a.note,
        }


@dataclass(frozen=True)
class Estimate:
    """A corrected total with every step shown.

    Attributes:
        corrections: the model applied.
        base_table: the observed table (cells, row and column totals, total).
        adjustments: each adjustment applied, in the model's order.
        total: base total plus the rounded adjustments.
        low: base plus every adjustment at its lowest (None when no adjustment has a range).
        high: base plus every adjustment at its highest (None when no adjustment has a range).
        counts_source: the counts file the base table came from (``counts table`` for a frame).
        counts_sha256: SHA-256 of the counts file, when it was a file.
    """

    corrections: Corrections
    base_table: BaseTable
    adjustments: tuple[AdjustmentResult, ...]
    total: int
    low: int | None
    high: int | None
    counts_source: str = "counts table"
    counts_sha256: str | None = None

    @property
    def unit(self) -> str:
        """What the total counts: persons or cell registrations."""
        return self.corrections.unit

    @property
    def arithmetic(self) -> str:
        """The total as a sum, e.g. ``11,245 + 601 + 1,082 + 2,230 = 15,158``."""
        terms = "".join(
            f" {'−' if r.value < 0 else '+'} {abs(r.value):,}" for r in self.adjustments
        )
        return f"{self.base_table.total:,}{terms} = {self.total:,}"

    def to_frame(self) -> pl.DataFrame:
        """The ledger: one row for the base, one per adjustment, one for the estimate.

        Example:
            >>> import polars as pl
            >>> table = pl.DataFrame({"care_form": ["ambulant"], "financing": ["ZVW"],
            ...                       "unique_clients": [900]})
            >>> e = estimate(table, Corrections(title="t", base="sum_of_cells",
            ...     row_dimension="care_form", column_dimension="financing", adjustments=(
            ...     Adjustment("gross_up", "coverage", 0.9, source="s", note="n",
            ...                select={"financing": "ZVW"}),)))
            >>> e.to_frame()["value"].to_list()
            [900, 100, 1000]
        """
        base = self.base_table
        has_range = self.low is not None
        lines: list[dict[str, Any]] = [
            {
                "line": "base",
                "name": "observed",
                "kind": None,
                "applies_to": "all cells" if self.corrections.base == "sum_of_cells" else "total",
                "observed": base.total,
                "formula": "sum of cells"
                if self.corrections.base == "sum_of_cells"
                else "unique clients",
                "value": base.total,
                "low": base.total if has_range else None,
                "high": base.total if has_range else None,
                "arithmetic": f"{base.total:,}",
            }
        ]
        for result in self.adjustments:
            row = result.to_dict()
            lines.append({"line": "adjustment", **row})
        lines.append(
            {
                "line": "estimate",
                "name": "corrected total",
                "formula": "base + adjustments",
                "value": self.total,
                "low": self.low,
                "high": self.high,
                "arithmetic": self.arithmetic,
                "note": self.unit,
            }
        )
        schema = {
            "line": pl.String,
            "name": pl.String,
            "kind": pl.String,
            "applies_to": pl.String,
            "observed": pl.Int64,
            "formula": pl.String,
            "parameter": pl.Float64,
            "parameter_low": pl.Float64,
            "parameter_high": pl.Float64,
            "arithmetic": pl.String,
            "value": pl.Int64,
            "low": pl.Int64,
            "high": pl.Int64,
            "source": pl.String,
            "note": pl.String,
        }
        return pl.DataFrame(
            [{key: line.get(key) for key in schema} for line in lines], schema=schema
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: model, base table, adjustments with arithmetic, total and range."""
        c = self.corrections
        return {
            "title": c.title,
            "description": c.description,
            "corrections_version": c.version,
            "corrections_source": c.source,
            "counts_source": self.counts_source,
            "counts_sha256": self.counts_sha256,
            "base": c.base,
            "unit": self.unit,
            "rounding": ROUNDING,
            "base_table": self.base_table.to_dict(),
            "adjustments": [result.to_dict() for result in self.adjustments],
            "total": self.total,
            "low": self.low,
            "high": self.high,
            "arithmetic": self.arithmetic,
        }

    def to_markdown(self) -> str:
        """A readable Markdown page: base table, ledger, notes and sources."""
        return _markdown(self)


# --- arithmetic ----------------------------------------------------------------------------------


def _exact(value: float) -> Fraction:
    # repr gives the shortest decimal that reads back as the same float: what the user wrote.
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _round_half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def _text(value: Fraction) -> tuple[str, bool]:
    """Decimal text of ``value`` (exact up to 4 decimals, else rounded to 2) and whether exact."""
    for places in range(5):
        scaled = value * 10**places
        if scaled.denominator == 1:
            text = f"{abs(scaled.numerator) // 10**places:,}"
            if places:
                fraction = abs(scaled.numerator) % 10**places
                text += ("." + f"{fraction:0{places}d}".rstrip("0")) if fraction else ""
            return ("-" if value < 0 else "") + text, True
    hundredths = _round_half_away(value * 100)
    whole, part = divmod(abs(hundredths), 100)
    return f"{'-' if hundredths < 0 else ''}{whole:,}.{part:02d}", False


def _addition(kind: str, observed: int | None, parameter: float) -> tuple[int, str]:
    """The rounded addition and its arithmetic."""
    p = _exact(parameter)
    p_text = _text(p)[0]
    if kind == "absolute":
        exact, shown = p, p_text
    elif kind == "factor":
        exact = (observed or 0) * p
        shown = f"{observed or 0:,} × {p_text}"
    else:
        exact = (observed or 0) * (1 - p) / p
        shown = f"{observed or 0:,} × {_text(1 - p)[0]} / {p_text}"
    rounded = _round_half_away(exact)
    exact_text, is_exact = _text(exact)
    if kind == "absolute" and exact == rounded:
        return rounded, shown
    steps = f"{shown} {'=' if is_exact else '≈'} {exact_text}"
    if exact != rounded:
        steps += f" → {rounded:,}"
    return rounded, steps


def _applies_to(adjustment: Adjustment, corrections: Corrections) -> str:
    if adjustment.kind == "absolute":
        return "fixed number"
    if not adjustment.select:
        return "total"
    order = (corrections.row_dimension, corrections.column_dimension)
    return ", ".join(
        f"{key} = {adjustment.select[key]}" for key in order if key in adjustment.select
    )


def _apply(adjustment: Adjustment, table: BaseTable, corrections: Corrections) -> AdjustmentResult:
    select = adjustment.select
    row = select.get(corrections.row_dimension)
    column = select.get(corrections.column_dimension)
    observed: int | None
    if adjustment.kind == "absolute":
        observed = None
    elif row is not None and column is not None:
        observed = table.cell(row, column)
    elif row is not None:
        observed = table.row_totals[table.rows.index(row)]
    elif column is not None:
        observed = table.column_totals[table.columns.index(column)]
    else:
        observed = table.total
    value, arithmetic = _addition(adjustment.kind, observed, adjustment.parameter)
    ends = {
        key: _addition(adjustment.kind, observed, bound)
        for key, bound in (("low", adjustment.low), ("high", adjustment.high))
        if bound is not None
    }
    low = high = None
    if ends:
        # The additions are monotone in the parameter, so their range is reached at its ends.
        at_ends = [ends.get("low", (value, ""))[0], ends.get("high", (value, ""))[0]]
        low, high = min(at_ends), max(at_ends)
    return AdjustmentResult(
        adjustment=adjustment,
        applies_to=_applies_to(adjustment, corrections),
        observed=observed,
        formula=_FORMULAS[adjustment.kind],
        arithmetic=arithmetic,
        value=value,
        low=low,
        high=high,
        arithmetic_low=ends["low"][1] if "low" in ends else None,
        arithmetic_high=ends["high"][1] if "high" in ends else None,
    )


# --- building the base table ---------------------------------------------------------------------


def _values_in_order(
    frame: pl.DataFrame, column: str, declared: tuple[str, ...] | None
) -> tuple[str, ...]:
    found = tuple(frame.get_column(column).drop_nulls().unique(maintain_order=True).to_list())
    return declared if declared is not None else found


def _read_table(
    table: pl.DataFrame | pl.LazyFrame, corrections: Corrections, source: str
) -> pl.DataFrame:
    """The counts table reduced to the two dimensions and a whole-number value column."""
    rows, columns = corrections.row_dimension, corrections.column_dimension
    names = table.lazy().collect_schema().names()
    missing = [name for name in (rows, columns, VALUE_COLUMN) if name not in names]
    if missing:
        raise InputError(
            f"{source}: lacks column(s) {', '.join(missing)} (found: {', '.join(names)})"
        )
    raw = pl.col(VALUE_COLUMN)
    number = raw.cast(pl.Float64, strict=False)
    frame = (
        table.lazy()
        .select(
            pl.col(rows).cast(pl.String),
            pl.col(columns).cast(pl.String),
            number.cast(pl.Int64, strict=False).alias("_value"),
            (
                raw.is_not_null() & (number.is_null() | (number != number.floor()) | (number < 0))
            ).alias("_bad"),
        )
        .collect()
    )
    bad = frame.filter(pl.col("_bad"))
    if bad.height:
        where = ", ".join(f"({r}, {c})" for r, c in bad.select(rows, columns).head(5).iter_rows())
        raise DataError(
            f"{source}: column {VALUE_COLUMN}: {bad.height} row(s) without a whole, non-negative "
            f"number, at ({rows}, {columns}) = {where}"
        )
    return frame.drop("_bad")


def _keyed(
    frame: pl.DataFrame, keys: Sequence[str], what: str, source: str
) -> dict[tuple[str, ...], int]:
    """One value per key; a duplicate key means the table was counted by more dimensions."""
    duplicated = frame.filter(pl.struct(*keys).is_duplicated()).select(keys).unique().rows()
    if duplicated:
        shown = ", ".join(" × ".join(map(str, key)) for key in sorted(duplicated)[:5])
        raise DataError(
            f"{source}: {what} {shown} appear(s) more than once; count by exactly the row and "
            "column dimensions of the corrections model"
        )
    return {tuple(key): value for *key, value in frame.select(*keys, "_value").rows()}


def _base_table(frame: pl.DataFrame, corrections: Corrections, source: str) -> BaseTable:
    rows, columns = corrections.row_dimension, corrections.column_dimension
    row_set, column_set = pl.col(rows).is_not_null(), pl.col(columns).is_not_null()
    cells_frame = frame.filter(row_set & column_set)
    empty = cells_frame.filter(pl.col("_value").is_null()).select(rows, columns).rows()
    if empty:
        shown = ", ".join(f"{r} × {c}" for r, c in empty[:5])
        raise DataError(f"{source}: column {VALUE_COLUMN} is empty in cell(s) {shown}")
    cell_values = _keyed(cells_frame, (rows, columns), "cell(s)", source)
    row_order = _values_in_order(frame, rows, corrections.row_values)
    column_order = _values_in_order(frame, columns, corrections.column_values)
    grand = frame.filter(~row_set & ~column_set).get_column("_value").to_list()
    unique_total = grand[0] if len(grand) == 1 else None
    if corrections.base == "sum_of_cells":
        row_sums = _keyed(cells_frame.group_by(rows).agg(pl.col("_value").sum()), (rows,), "", "")
        column_sums = _keyed(
            cells_frame.group_by(columns).agg(pl.col("_value").sum()), (columns,), "", ""
        )
        total = int(cells_frame.get_column("_value").sum())
    else:
        margin = "margin row(s) of"
        row_sums = _keyed(frame.filter(row_set & ~column_set), (rows,), margin, source)
        column_sums = _keyed(frame.filter(~row_set & column_set), (columns,), margin, source)
        lacking = [f"{rows} = {v}" for v in row_order if row_sums.get((v,)) is None]
        lacking += [f"{columns} = {v}" for v in column_order if column_sums.get((v,)) is None]
        if unique_total is None:
            lacking.append("the grand total")
        if lacking:
            raise DataError(
                f"{source}: base 'unique_clients' needs the counts table's margin rows; it lacks "
                f"{'; '.join(lacking[:5])}{' …' if len(lacking) > 5 else ''}"
            )
        total = int(unique_total or 0)
    cells = tuple(
        (r, c, cell_values[r, c]) for r in row_order for c in column_order if (r, c) in cell_values
    )
    return BaseTable(
        row_dimension=rows,
        column_dimension=columns,
        rows=row_order,
        columns=column_order,
        cells=cells,
        row_totals=tuple(int(row_sums.get((v,)) or 0) for v in row_order),
        column_totals=tuple(int(column_sums.get((v,)) or 0) for v in column_order),
        total=total,
        sum_of_cells=sum(value for _, _, value in cells),
        unique_clients=unique_total,
    )


def _fit_problems(frame: pl.DataFrame, corrections: Corrections) -> list[str]:
    """Where the counts table and the model do not fit: undeclared or unknown values."""
    problems = []
    known: dict[str, tuple[str, ...]] = {}
    for axis, dimension, declared in (
        ("row", corrections.row_dimension, corrections.row_values),
        ("column", corrections.column_dimension, corrections.column_values),
    ):
        found = _values_in_order(frame, dimension, None)
        known[dimension] = declared if declared is not None else found
        if declared is not None:
            problems += [
                f"{axis}_values: the counts table has {dimension} value {value!r}, "
                "which the model does not list"
                for value in found
                if value not in declared
            ]
    for index, adjustment in enumerate(corrections.adjustments, start=1):
        for key, value in adjustment.select.items():
            if value not in known[key]:
                problems.append(
                    f"adjustment[{index}].select.{key}: {value!r} is not a value of {key} in the "
                    f"counts table ({', '.join(known[key]) or 'none'})"
                )
    return problems


def estimate(
    table: pl.DataFrame | pl.LazyFrame | str | Path, corrections: Corrections | str | Path
) -> Estimate:
    """Apply a corrections model to a counts table.

    Args:
        table: a counts table (one column per dimension, ``unique_clients``; margin rows have the
            dimension null), or the path of one written by ``factlab count``.
        corrections: a model, or the path of a corrections TOML file.

    Raises:
        InputError: the counts file cannot be read or lacks a column.
        DataError: a count is not a whole number, or the table has cells more than once.
        ConfigError: the model names values the table does not have (all at once).

    Example:
        >>> import polars as pl
        >>> table = pl.DataFrame({"care_form": ["ambulant", "ambulant"],
        ...                       "financing": ["ZVW", "AWBZ"], "unique_clients": [5411, 1115]})
        >>> e = estimate(table, Corrections(title="t", base="sum_of_cells",
        ...     row_dimension="care_form", column_dimension="financing", adjustments=(
        ...     Adjustment("pgb", "factor", 2, source="s", note="n",
        ...                select={"financing": "AWBZ"}),)))
        >>> e.adjustments[0].arithmetic, e.total
        ('1,115 × 2 = 2,230', 8756)
    """
    if not isinstance(corrections, Corrections):
        corrections = load_corrections(corrections)
    counts_source, counts_sha256 = "counts table", None
    if isinstance(table, str | Path):
        counts_source, counts_sha256 = str(table), None
        table = read_counts_table(counts_source)
        counts_sha256 = file_sha256(counts_source)
    frame = _read_table(table, corrections, counts_source)
    problems = _fit_problems(frame, corrections)
    if problems:
        raise ConfigError(corrections.source, problems)
    base_table = _base_table(frame, corrections, counts_source)
    results = tuple(_apply(a, base_table, corrections) for a in corrections.adjustments)
    total = base_table.total + sum(r.value for r in results)
    low = high = None
    if any(r.low is not None for r in results):
        low = base_table.total + sum(r.value if r.low is None else r.low for r in results)
        high = base_table.total + sum(r.value if r.high is None else r.high for r in results)
    return Estimate(
        corrections=corrections,
        base_table=base_table,
        adjustments=results,
        total=total,
        low=low,
        high=high,
        counts_source=counts_source,
        counts_sha256=counts_sha256,
    )


# --- writing -------------------------------------------------------------------------------------


def _range_text(low: int | None, high: int | None) -> str:
    return "" if low is None or high is None else f"{low:,}–{high:,}"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(result: Estimate) -> str:
    c, base = result.corrections, result.base_table
    lines = [
        f"# {_md(c.title)}",
        "",
        f"**Estimate: {result.total:,}** ({result.unit})"
        + (f", range {_range_text(result.low, result.high)}" if result.low is not None else ""),
        "",
        f"- Computation: {result.arithmetic}",
        f"- Base: {c.base} of {base.row_dimension} × {base.column_dimension}"
        + (
            f"; {base.unique_clients:,} unique clients behind the table"
            if base.unique_clients is not None
            else ""
        ),
        f"- Rounding: {ROUNDING}",
        "- Range: every adjustment at the low (high) end of its parameter range at once",
        f"- Counts: {result.counts_source}; corrections: {c.source} (version {c.version})",
        f"- Internal: {INTERNAL_NOTE}",
        "",
        "## Base table",
        "",
    ]
    frame = base.to_frame()
    lines.append("| " + " | ".join(_md(name) for name in frame.columns) + " |")
    lines.append("|---" + "|---:" * (frame.width - 1) + "|")
    lines += [
        "| "
        + " | ".join("" if v is None else _md(f"{v:,}" if isinstance(v, int) else v) for v in row)
        + " |"
        for row in frame.iter_rows()
    ]
    lines += [
        "",
        "## Corrections",
        "",
        "| adjustment | applies to | formula | arithmetic | adds | range |",
        "|---|---|---|---|---:|---|",
    ]
    lines += [
        f"| {_md(r.adjustment.name)} | {_md(r.applies_to)} | {_md(r.formula)} | "
        f"{_md(r.arithmetic)} | {r.value:,} | {_range_text(r.low, r.high)} |"
        for r in result.adjustments
    ]
    lines += [
        f"| **corrected total** | | | {_md(result.arithmetic)} | **{result.total:,}** | "
        f"{_range_text(result.low, result.high)} |",
        "",
        "## Notes and sources",
        "",
    ]
    for r in result.adjustments:
        a = r.adjustment
        key = _PARAMETER_KEYS[a.kind]
        ends = "; ".join(
            f"at {key} {_text(_exact(bound))[0]}: {arith}"
            for bound, arith in ((a.low, r.arithmetic_low), (a.high, r.arithmetic_high))
            if bound is not None and arith
        )
        lines.append(
            f"- **{_md(a.name)}** — {_md(a.note)} Source: {_md(a.source)}."
            + (f" Range: {_md(ends)}." if ends else "")
        )
    return "\n".join(lines) + "\n"


def write_estimate(result: Estimate, path: str | Path) -> None:
    """Write an estimate atomically; the format follows the extension (.json, .csv or .md).

    JSON holds ``{"metadata": …, "estimate": …}`` (everything), CSV the ledger of
    :meth:`Estimate.to_frame`, Markdown a readable page.

    Raises:
        InputError: unknown extension or missing output folder (nothing is written).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(
            f"{path}: unsupported output format {suffix!r} (use {', '.join(OUTPUT_FORMATS)})"
        )
    with atomic_path(path) as temporary:
        if suffix == ".json":
            metadata = {
                "format": "factlab-estimate",
                "factlab_version": __version__,
                "created": now_iso(),
                "internal": True,
                "note": INTERNAL_NOTE,
            }
            document = {"metadata": metadata, "estimate": result.to_dict()}
            temporary.write_text(
                json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        elif suffix == ".csv":
            result.to_frame().write_csv(temporary)
        else:
            temporary.write_text(result.to_markdown(), encoding="utf-8")
