"""Statistical disclosure control of count tables: suppression, rounding, and its audit.

``protect`` turns an exact count table (from ``factlab count``) into a :class:`ProtectedTable`:

1. *primary suppression*: a cell is secret when any of its counts is in 1..``secret_max`` (or 0,
   when zeros are secret, as CBS shows them);
2. *secondary suppression*: more cells are suppressed until the audit shows that no secret cell
   can be narrowed to an interval smaller than its protection width, from the published values
   and the relations between cells and margins (see :mod:`factlab.disclosure_audit`);
3. *rounding*: every published value is rounded half up to a multiple of ``rounding_base``.

The exact counts never leave this module: a :class:`ProtectedTable` holds only rounded
published values and a status per value, and it can only be made by :func:`protect` or
:func:`read_protected`, so a report cannot be produced from raw counts by accident.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

from factlab._version import __version__
from factlab.counts import CountResult
from factlab.disclosure_audit import (
    AuditResult,
    BoolArray,
    Lattice,
    audit,
    audit_lattice,
    build_system,
    integer_width,
    interval,
    prepare,
    required_width,
    round_to_base,
)
from factlab.errors import ConfigError, DataError, InputError
from factlab.io import atomic_path

__all__ = [
    "PRESETS",
    "AuditResult",
    "Counts",
    "DisclosureRules",
    "MeasureRule",
    "ProtectedTable",
    "Protection",
    "ProtectionReport",
    "audit",
    "load_rules",
    "preset",
    "protect",
    "read_protected",
    "rules_from_mapping",
    "write_protected",
]

#: Value of ``format`` in a protected table's metadata.
FORMAT_PROTECTED: Final = "factlab-protected"
#: Key of the metadata in a Parquet file's key-value metadata.
METADATA_KEY: Final = "factlab.protected"
#: How a margin relates to its cells.
MARGINS: Final = ("union", "additive", "sum_of_cells")
#: Status of a published value.
STATUS_DTYPE: Final = pl.Enum(["published", "suppressed"])
#: How a suppressed value is rendered.
SUPPRESSED_SYMBOL: Final = "."
_SEAL: Final = object()


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the rules file ({type(exc).__name__})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return rules_from_mapping(data, source=path.name)


def preset(name: str) -> DisclosureRules:
    """A built-in rule set: ``cbs``, ``threshold10`` or ``threshold3``.

    Example:
        >>> preset("threshold10").secret_max
        9
    """
    if name not in PRESETS:
        raise ConfigError("preset", [f"preset: unknown preset (choose {', '.join(PRESETS)})"])
    return PRESETS[name]


@dataclass(frozen=True)
class ProtectedTable:
    """A count table after disclosure control: safe to render and publish under its rules.

    Only :func:`protect` and :func:`read_protected` make one; constructing it directly raises
    TypeError, so raw counts cannot be passed off as protected.

    Attributes:
        frame: the key columns (dimensions; null = total; and the part column, if any), then per
            measure the rounded value (null when suppressed) and ``<measure>_status``
            (``published`` or ``suppressed``).
        dimensions: the dimension columns.
        measures: the measure columns.
        part_column: the column naming the table (e.g. a year and its halves), or None.
        rules: the rules applied.
    """

    frame: pl.DataFrame
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    part_column: str | None
    rules: DisclosureRules
    _seal: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError("a ProtectedTable is made by factlab.disclosure.protect, not by hand")

    @property
    def keys(self) -> tuple[str, ...]:
        """Key columns: the part column (if any) and the dimensions."""
        return ((self.part_column,) if self.part_column else ()) + self.dimensions

    def suppressed_cells(self) -> pl.DataFrame:
        """The key columns of the suppressed cells."""
        status = pl.col(f"{self.measures[0]}_status") == "suppressed"
        return self.frame.filter(status).select(self.keys)

    def with_percentages(self, over: str) -> ProtectedTable:
        """Add ``<measure>_pct``: each cell as a percentage of its margin over ``over``.

        Computed from the rounded values, as published (one decimal); null when the cell or
        its margin is suppressed, the margin is 0, or the row is itself a margin over ``over``.
        With union margins the percentages of a margin's cells can add up to more than 100.

        Example:
            >>> import polars as pl
            >>> counts = pl.DataFrame({"care_form": ["a", "b", None],
            ...                        "unique_clients": [40, 62, 97]})
            >>> table = protect(counts).table.with_percentages("care_form")
            >>> table.frame["unique_clients_pct"].to_list()
            [None, 42.1, 63.2]
        """
        if over not in self.dimensions:
            raise ConfigError("percentages", [f"{over}: not a dimension of the table"])
        others = [key for key in self.keys if key != over]
        margins = self.frame.filter(pl.col(over).is_null()).select(
            *others, *[pl.col(m).alias(f"_margin_{m}") for m in self.measures]
        )
        indexed = self.frame.with_row_index("_row")
        joined = (
            indexed.join(margins, on=others, how="left", nulls_equal=True)
            if others
            else indexed.join(margins, how="cross")
        )
        shares = [
            pl.when(pl.col(over).is_not_null() & (pl.col(f"_margin_{m}") > 0))
            .then((pl.col(m) * 100.0 / pl.col(f"_margin_{m}")).round(1))
            .alias(f"{m}_pct")
            for m in self.measures
        ]
        frame = (
            joined.sort("_row")
            .with_columns(shares)
            .drop("_row", *[f"_margin_{m}" for m in self.measures])
        )
        return replace(self, frame=frame)

    def render(self, *, total: str = "total") -> pl.DataFrame:
        """All columns as text: totals named ``total``, suppressed values shown as ``.``.

        Example:
            >>> import polars as pl
            >>> counts = pl.DataFrame({"care_form": ["a", "b", None],
            ...                        "unique_clients": [3, 62, 65]})
            >>> protect(counts).table.render()["unique_clients"].to_list()
            ['65', '.', '60']
        """
        shown = [pl.col(key).fill_null(total) for key in self.keys]
        values = []
        for m in self.measures:
            hidden = pl.col(f"{m}_status") == "suppressed"
            values.append(pl.col(m).cast(pl.String).fill_null(SUPPRESSED_SYMBOL))
            if f"{m}_pct" in self.frame.columns:
                text = pl.col(f"{m}_pct").cast(pl.String).fill_null("")
                values.append(
                    pl.when(hidden)
                    .then(pl.lit(SUPPRESSED_SYMBOL))
                    .otherwise(text)
                    .alias(f"{m}_pct")
                )
        return self.frame.select(*shown, *values)

    def metadata(self) -> dict[str, Any]:
        """What a protected file says about itself."""
        return {
            "format": FORMAT_PROTECTED,
            "factlab_version": __version__,
            "dimensions": list(self.dimensions),
            "measures": list(self.measures),
            "part_column": self.part_column,
            "rules": self.rules.to_dict(),
            "exact": False,
            "internal": False,
            "note": "disclosure-controlled: suppressed values are null (shown as '.'), "
            f"published values rounded to multiples of {self.rules.rounding_base}",
        }


@dataclass(frozen=True)
class ProtectionReport:
    """How a table was protected. Internal to the trusted party: it tells primary from
    secondary suppressions and how many clients they hold, which the public must not see.

    Attributes:
        rules: the rules applied.
        dimensions, measures: of the table; ``margins`` the relation per measure.
        additive_dimensions: per measure, the key columns whose margins are sums of cells
            (declared, or found to be so in the data and therefore assumed known).
        cells: number of cells (all levels, complete grid).
        primary, secondary: numbers of suppressed cells of each kind.
        rounds: secondary-suppression rounds until the audit passed.
        information_lost: per measure, the sum over the most detailed cells of what was
            suppressed, the total and the share.
        dropped_columns: input columns that were not published.
        audit: the final audit.
    """

    rules: DisclosureRules
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    margins: Mapping[str, str]
    additive_dimensions: Mapping[str, tuple[str, ...]]
    cells: int
    primary: int
    secondary: int
    rounds: int
    information_lost: Mapping[str, Mapping[str, float]]
    dropped_columns: tuple[str, ...]
    audit: AuditResult

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        suppressed = self.primary + self.secondary
        return {
            "internal": True,
            "note": "internal to the trusted party: not for publication",
            "rules": self.rules.to_dict(),
            "dimensions": list(self.dimensions),
            "measures": {m: self.margins[m] for m in self.measures},
            "additive_dimensions": {m: list(v) for m, v in self.additive_dimensions.items()},
            "cells": self.cells,
            "suppressed": {
                "primary": self.primary,
                "secondary": self.secondary,
                "share_of_cells": suppressed / self.cells if self.cells else 0.0,
            },
            "secondary_rounds": self.rounds,
            "information_lost": {m: dict(v) for m, v in self.information_lost.items()},
            "dropped_columns": list(self.dropped_columns),
            "audit": self.audit.to_dict(),
            "factlab_version": __version__,
        }


@dataclass(frozen=True)
class Protection:
    """Result of :func:`protect`: the publishable table and the internal report."""

    table: ProtectedTable
    report: ProtectionReport


def _neighbours(lattice: Lattice, cell: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Cells that share a relation group with ``cell``."""
    groups = np.union1d(
        np.flatnonzero(lattice.group_parent == cell),
        lattice.edge_group[lattice.edge_child == cell],
    )
    children = lattice.edge_child[np.isin(lattice.edge_group, groups)]
    return np.union1d(lattice.group_parent[groups], children)


def _secondary(lattice: Lattice, rules: DisclosureRules) -> tuple[BoolArray, int]:
    """Suppress complementary cells until every required interval is wide enough.

    Each round audits the cells still failing. A failing cell's candidates are the published
    cells whose bounds limit its interval (for any measure), else its relation neighbours,
    else all published cells. The round suppresses a small set of candidates that holds one
    of every failing cell's: greedily the candidate shared by most failing cells, then of
    smallest value (first measure), then first in cell order. Suppressing more only widens
    intervals, so a cell that passed once keeps passing.
    """
    size = lattice.size
    suppressed = lattice.primary.copy()
    all_zero = np.all(lattice.values == 0, axis=0)
    # With zeros shown, a zero cell is never a complement: "." must mean "not zero".
    eligible = ~all_zero if not rules.zero_is_secret else np.ones(size, dtype=bool)
    need = required_width(lattice, rules)
    cost = lattice.values[0]
    pending = [
        (int(c), m) for c in np.flatnonzero(lattice.primary) for m in range(len(lattice.measures))
    ]
    rounds = 0
    while pending:
        system = build_system(lattice, suppressed, rules)
        failing: list[tuple[int, int, set[int]]] = []
        for cell, m in pending:
            low, high, binding = interval(system, m * size + cell)
            if integer_width(low, high) < need[m, cell] - 1e-9:
                failing.append((cell, m, binding))
        if not failing:
            break
        rounds += 1
        open_cells = ~suppressed & eligible
        limiting: dict[int, set[int]] = {}
        for cell, _, binding in failing:
            limiting.setdefault(cell, set()).update(
                v % size for v in binding if open_cells[v % size]
            )
        for cell, choices in limiting.items():
            if not choices:
                choices.update(int(j) for j in _neighbours(lattice, cell) if open_cells[j])
            if not choices:
                choices.update(int(j) for j in np.flatnonzero(open_cells))
            if not choices:
                raise DataError("protect: no cell left to suppress, yet the audit fails")
        # Greedy hitting set: a complement that limits several failing cells serves them all.
        added: set[int] = set()
        uncovered = set(limiting)
        while uncovered:
            hits: dict[int, int] = {}
            for cell in uncovered:
                for j in limiting[cell]:
                    hits[j] = hits.get(j, 0) + 1
            pick = min(hits, key=lambda j: (-hits[j], int(cost[j]), j))
            added.add(pick)
            uncovered = {cell for cell in uncovered if pick not in limiting[cell]}
        suppressed[sorted(added)] = True
        pending = [(cell, m) for cell, m, _ in failing]
        if rules.protect_secondary:
            pending += [(a, m) for a in sorted(added) for m in range(len(lattice.measures))]
    return suppressed, rounds


#: What :func:`protect` takes: a count table, or the result of :func:`factlab.counts.count`.
Counts = pl.DataFrame | pl.LazyFrame | CountResult


def _unwrap(
    counts: Counts,
) -> tuple[pl.DataFrame | pl.LazyFrame, tuple[str, ...] | None, str | None]:
    if isinstance(counts, CountResult):
        when = counts.period.label if counts.period else None
        if when is None and counts.reference_date is not None:
            when = counts.reference_date.isoformat()
        return counts.table, counts.by, when
    return counts, None, None


def protect(
    counts: Counts,
    rules: DisclosureRules | None = None,
    *,
    parts: Mapping[str, Counts] | None = None,
    label: str | None = None,
    part_column: str = "period",
) -> Protection:
    """Apply disclosure control to an exact count table.

    Args:
        counts: a count table: one column per dimension (null = total over it), the measures
            (``unique_clients``, ``registrations``), and every margin row.
        rules: the rules (default: the ``cbs`` preset).
        parts: count tables of parts of the same period (e.g. its two halves), by label;
            they share clients with ``counts`` and are protected together with it.
        label: the label of ``counts`` in the part column (with ``parts``; default: the
            period of a CountResult, else ``whole``).
        part_column: name of the column that tells the tables apart (with ``parts``).

    Returns:
        The protected table and the internal protection report.

    Raises:
        InputError: a column is missing. DataError: the counts are not a valid count table.

    Example:
        >>> import polars as pl
        >>> counts = pl.DataFrame({
        ...     "care_form": ["ambulant", "verblijf", "crisis", None],
        ...     "registrations": [120, 41, 3, 164]})
        >>> result = protect(counts)  # rounding to 5 alone hides crisis well enough
        >>> result.table.frame["registrations"].to_list()
        [165, 120, None, 40]
        >>> exact = protect(counts, DisclosureRules(rounding_base=1))
        >>> exact.table.render()["registrations"].to_list()
        ['164', '120', '.', '.']
        >>> exact.report.primary, exact.report.secondary
        (1, 1)
    """
    rules = rules or PRESETS["cbs"]
    frame, by, when = _unwrap(counts)
    label = label or when or "whole"
    if by is not None and rules.dimensions is None:
        rules = replace(rules, dimensions=by)
    part_frames = {name: _unwrap(part)[0] for name, part in (parts or {}).items()}
    if label in part_frames:
        raise ConfigError("parts", [f"{label}: the whole table and a part have the same label"])
    lattice = prepare(frame, rules, parts=part_frames, label=label, part_column=part_column)
    suppressed, rounds = _secondary(lattice, rules)
    result = audit_lattice(lattice, suppressed, rules)
    if not result.passed:
        raise DataError("protect: the final audit failed; nothing is published")
    rounded = round_to_base(lattice.values, rules.rounding_base)
    exact = pl.DataFrame(
        {"_hidden": suppressed, **{m: rounded[i] for i, m in enumerate(lattice.measures)}}
    )
    status = pl.when(pl.col("_hidden")).then(pl.lit("suppressed")).otherwise(pl.lit("published"))
    values = exact.select(
        *[
            expression
            for m in lattice.measures
            for expression in (
                pl.when(pl.col("_hidden")).then(None).otherwise(pl.col(m)).alias(m),
                status.cast(STATUS_DTYPE).alias(f"{m}_status"),
            )
        ]
    )
    keys = lattice.key_frame()
    frame = pl.concat([keys, values], how="horizontal") if keys.width else values
    table = ProtectedTable(
        frame, lattice.dimensions, lattice.measures, lattice.part_column, rules, _SEAL
    )
    return Protection(table, _report(lattice, suppressed, rounds, rules, result))


def _report(
    lattice: Lattice,
    suppressed: BoolArray,
    rounds: int,
    rules: DisclosureRules,
    result: AuditResult,
) -> ProtectionReport:
    detail = np.ones(lattice.size, dtype=bool)
    for name in lattice.dimensions:
        detail &= lattice.cells.get_column(name).is_not_null().to_numpy()
    lost: dict[str, dict[str, float]] = {}
    for m, measure in enumerate(lattice.measures):
        total = int(lattice.values[m, detail].sum())
        hidden = int(lattice.values[m, detail & suppressed].sum())
        lost[measure] = {
            "suppressed": hidden,
            "total": total,
            "share": hidden / total if total else 0.0,
        }
    primary = int(lattice.primary.sum())
    return ProtectionReport(
        rules=rules,
        dimensions=lattice.dimensions,
        measures=lattice.measures,
        margins=dict(zip(lattice.measures, lattice.margins, strict=True)),
        additive_dimensions=dict(zip(lattice.measures, lattice.additive_keys, strict=True)),
        cells=lattice.size,
        primary=primary,
        secondary=int(suppressed.sum()) - primary,
        rounds=rounds,
        information_lost=lost,
        dropped_columns=lattice.dropped_columns,
        audit=result,
    )


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".json"):
        raise InputError(f"{path}: unknown table format (use .csv, .parquet or .json)")
    return suffix


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def write_protected(table: ProtectedTable, path: str | Path) -> list[Path]:
    """Write a protected table atomically; the format follows the extension.

    ``.json``: ``{"metadata": ..., "rows": [...]}``; ``.parquet``: the table with the metadata
    as JSON under the key-value metadata key ``factlab.protected``; ``.csv``: the table (an
    empty value is a total or a suppressed value, see the status columns) and beside it
    ``<name>.meta.json`` with ``{"metadata": ...}``.

    Returns:
        The files written.

    Example:
        >>> import pathlib, tempfile
        >>> import polars as pl
        >>> counts = pl.DataFrame({"care_form": ["a", "b", None], "unique_clients": [3, 62, 65]})
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "protected.csv"
        >>> [p.name for p in write_protected(protect(counts).table, out)]
        ['protected.csv', 'protected.csv.meta.json']
        >>> read_protected(out).frame["unique_clients_status"].to_list()
        ['published', 'suppressed', 'published']
    """
    path = Path(path)
    suffix = _suffix(path)
    frame = table.frame.with_columns(pl.col(f"{m}_status").cast(pl.String) for m in table.measures)
    metadata = table.metadata()
    described = json.dumps({"metadata": metadata}, indent=1, ensure_ascii=False) + "\n"
    if suffix == ".csv":
        with atomic_path(path) as temporary, atomic_path(_sidecar(path)) as temporary_sidecar:
            frame.write_csv(temporary)
            temporary_sidecar.write_text(described, encoding="utf-8")
        return [path, _sidecar(path)]
    with atomic_path(path) as temporary:
        if suffix == ".parquet":
            frame.write_parquet(temporary, metadata={METADATA_KEY: json.dumps(metadata)})
        else:
            document = {"metadata": metadata, "rows": frame.to_dicts()}
            text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
            temporary.write_text(text, encoding="utf-8")
    return [path]


def read_protected(path: str | Path) -> ProtectedTable:
    """Read a protected table written by :func:`write_protected`.

    Raises:
        InputError: the file is missing, unreadable, or not a protected table (e.g. raw counts).
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    metadata: dict[str, Any] = {}
    try:
        if suffix == ".csv":
            frame = pl.read_csv(path, infer_schema=False)
            if _sidecar(path).is_file():
                metadata = json.loads(_sidecar(path).read_text("utf-8"))["metadata"]
        elif suffix == ".parquet":
            frame = pl.read_parquet(path)
            raw = pl.read_parquet_metadata(path).get(METADATA_KEY)
            metadata = json.loads(raw) if raw else {}
        else:
            document = json.loads(path.read_text("utf-8"))
            metadata = document["metadata"]
            frame = pl.from_dicts(document["rows"], infer_schema_length=None)
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{path}: cannot read a protected table ({type(exc).__name__})") from None
    if metadata.get("format", FORMAT_PROTECTED) != FORMAT_PROTECTED:
        raise InputError(f"{path}: not a protected table (format {metadata.get('format')!r})")
    measures = tuple(
        metadata.get("measures") or [c for c in frame.columns if f"{c}_status" in frame.columns]
    )
    if not measures or any(f"{m}_status" not in frame.columns for m in measures):
        raise InputError(f"{path}: not a protected table (no <measure>_status columns)")
    part = metadata.get("part_column")
    taken = {*measures, *(f"{m}_{suffix}" for m in measures for suffix in ("status", "pct")), part}
    dims = tuple(metadata.get("dimensions") or [c for c in frame.columns if c not in taken])
    problems = []
    for m in measures:
        status = frame.get_column(f"{m}_status").cast(pl.String)
        if not status.is_in(["published", "suppressed"]).all():
            problems.append(f"column {m}_status: values other than published/suppressed")
        elif not ((status == "suppressed") == frame.get_column(m).is_null()).all():
            problems.append(
                f"column {m}: a value is present where suppressed or missing where published"
            )
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    rules = (
        rules_from_mapping(metadata["rules"], source=str(path))
        if "rules" in metadata
        else PRESETS["cbs"]
    )
    frame = frame.with_columns(
        *[pl.col(d).cast(pl.String) for d in ((part,) if part else ()) + dims],
        *[pl.col(m).cast(pl.Int64) for m in measures],
        *[pl.col(f"{m}_status").cast(STATUS_DTYPE) for m in measures],
        *[pl.col(f"{m}_pct").cast(pl.Float64) for m in measures if f"{m}_pct" in frame.columns],
    )
    return ProtectedTable(frame, dims, measures, part, rules, _SEAL)
