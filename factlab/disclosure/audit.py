"""The audit of a suppression pattern by linear programming.

The audit asks, for every suppressed cell of a count table's lattice (see
:mod:`factlab.disclosure.lattice`), what an attacker can derive: the smallest and the largest
value the cell can take given every published value (known only to within the rounding
interval), the relations between cells and margins, non-negativity, and the publication rule
itself (a published value is never secret). These are two linear programmes per cell, solved
with HiGHS through :func:`scipy.optimize.linprog`. Whatever holds in the true data may be assumed
by the attacker too: a union relation that happens to be additive for a whole dimension (e.g. one
municipality per client) and an ordering between measures (unique clients <= registrations) are
added as constraints, which can only narrow the intervals and so only make the audit stricter.
So is a declared structural empty: a cell that is 0 by definition is fixed at 0.

Two attackers are modelled (``docs/disclosure.md``): the *LP* attacker solves the programmes
over the real numbers and moves both ends inward to whole numbers afterwards; the *integer*
attacker solves them over whole numbers (:func:`integer_interval`, HiGHS' branch and bound
through :func:`scipy.optimize.milp`). Every integer interval lies inside the LP one, so a
pattern the integer audit passes also passes the LP audit; the converse does not hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from factlab.disclosure.lattice import (
    BoolArray,
    FloatArray,
    IntArray,
    Lattice,
    mask_of,
    prepare,
)
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import DataError

__all__ = [
    "AuditResult",
    "audit",
    "audit_lattice",
    "integer_interval",
]

# Numerical slack when comparing LP optima with integers.
_TOLERANCE = 1e-6
# Largest constraint matrix (entries) passed to the solver as a dense array.
_DENSE_LIMIT = 1_000_000
# Branch-and-bound nodes one integer programme of the integer audit may take (then its best
# points are used). A count of work, not seconds: the result is the same on every machine, so
# the pattern the search settles on (and the audit's verdict) never depends on the clock.
INTEGER_NODE_LIMIT = 20_000


def round_to_base(values: IntArray, base: int) -> IntArray:
    """Round half up to a multiple of ``base`` (base 1 leaves values as they are)."""
    return np.asarray((values + base // 2) // base * base, dtype=np.int64)


def published_bounds(
    lattice: Lattice, suppressed: BoolArray, rules: DisclosureRules
) -> tuple[FloatArray, FloatArray]:
    """What an attacker knows of each value: [lower, upper], shape (measures, cells)."""
    base = rules.rounding_base
    rounded = round_to_base(lattice.values, base)
    lower = np.maximum(rounded - base // 2, 0).astype(np.float64)
    upper = (rounded + (base + 1) // 2 - 1).astype(np.float64)
    # A published value is never secret: it is 0 (when zeros are shown) or above secret_max.
    # (Unless the pattern audited publishes a secret cell: then that knowledge is false.)
    zero_possible = (lower == 0) & (not rules.zero_is_secret)
    tightened = np.where(zero_possible, 0.0, np.maximum(lower, rules.secret_max + 1.0))
    lower = np.where(lattice.primary, lower, tightened)
    # Zeros shown and a published value that could only be 0 or secret: it is 0.
    only_zero = zero_possible & (upper <= rules.secret_max) & ~lattice.primary
    upper = np.where(only_zero, 0.0, upper)
    hidden = np.broadcast_to(suppressed, lower.shape)
    lower = np.where(hidden, 0.0, lower)
    upper = np.where(hidden, np.inf, upper)
    # A structural empty is 0 by definition, which everyone knows, shown or not.
    empty = np.broadcast_to(lattice.structural, lower.shape)
    return np.where(empty, 0.0, lower), np.where(empty, 0.0, upper)


@dataclass(frozen=True)
class System:
    """The attacker's programme: ``a_ub x <= b_ub``, ``a_eq x = b_eq``, bounds per variable
    (one variable per measure and cell, measure-major)."""

    a_ub: Any
    b_ub: FloatArray
    a_eq: Any
    b_eq: FloatArray
    bounds: FloatArray


class _Rows:
    """Constraint rows collected as (row, column, coefficient) triplets."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.columns: list[IntArray] = []
        self.coefficients: list[FloatArray] = []
        self.rhs: list[FloatArray] = []
        self.count = 0

    def add(
        self, rows: IntArray, columns: IntArray, coefficients: FloatArray, rhs: FloatArray
    ) -> None:
        """Add ``rhs.size`` rows; ``rows`` numbers them from 0."""
        self.rows.append(rows + self.count)
        self.columns.append(columns)
        self.coefficients.append(coefficients)
        self.rhs.append(rhs)
        self.count += rhs.size

    def matrix(self, size: int) -> Any:
        empty = np.zeros(0, dtype=np.int64)
        return sparse.csr_array(
            (
                np.concatenate([np.zeros(0), *self.coefficients]),
                (np.concatenate([empty, *self.rows]), np.concatenate([empty, *self.columns])),
            ),
            shape=(self.count, size),
        )

    def vector(self) -> FloatArray:
        return np.concatenate([np.zeros(0), *self.rhs])


def _pairs(first: IntArray, second: IntArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Rows ``x[first[i]] - x[second[i]]``: (row numbers, columns, coefficients)."""
    index = np.arange(first.size)
    signs = np.concatenate([np.ones(first.size), -np.ones(first.size)])
    return np.concatenate([index, index]), np.concatenate([first, second]), signs


def build_system(lattice: Lattice, suppressed: BoolArray, rules: DisclosureRules) -> System:
    """The linear programme's constraints; one variable per (measure, cell)."""
    cells, count = lattice.size, len(lattice.measures)
    inequalities, equalities = _Rows(), _Rows()
    edge_parent = lattice.group_parent[lattice.edge_group]
    for m in range(count):
        offset = m * cells
        for is_equal, target in ((False, inequalities), (True, equalities)):
            # parent - sum(children) <= 0 (union) or == 0 (additive): one row per group (not
            # where a period-valued cell is not known to be at most the sum of its parts).
            chosen = lattice.group_equal[m] == is_equal
            if not is_equal:
                chosen &= lattice.group_upper[m]
            number = np.cumsum(chosen) - 1
            on_edges = chosen[lattice.edge_group]
            target.add(
                np.concatenate([number[chosen], number[lattice.edge_group[on_edges]]]),
                offset
                + np.concatenate([lattice.group_parent[chosen], lattice.edge_child[on_edges]]),
                np.concatenate([np.ones(int(chosen.sum())), -np.ones(int(on_edges.sum()))]),
                np.zeros(int(chosen.sum())),
            )
        # child - parent <= 0 in union groups (non-negativity implies it in additive ones),
        # where it holds (a half of a period-valued cell may exceed the year).
        union_edges = ~lattice.group_equal[m][lattice.edge_group] & lattice.edge_lower[m]
        rows, columns, signs = _pairs(lattice.edge_child[union_edges], edge_parent[union_edges])
        inequalities.add(rows, offset + columns, signs, np.zeros(int(union_edges.sum())))
    every = np.arange(cells)
    for a, b in lattice.dominance:
        rows, columns, signs = _pairs(a * cells + every, b * cells + every)
        inequalities.add(rows, columns, signs, np.zeros(cells))
    if not rules.zero_is_secret and not np.any(suppressed & np.all(lattice.values == 0, axis=0)):
        # Zeros are shown, so a suppressed cell is known not to be all zeros: its largest
        # measure (or else the sum of its measures) is at least 1.
        hidden = np.flatnonzero(suppressed)
        top = _top_measure(lattice)
        chosen_measures = [top] if top is not None else list(range(count))
        inequalities.add(
            np.tile(np.arange(hidden.size), len(chosen_measures)),
            np.concatenate([m * cells + hidden for m in chosen_measures]),
            -np.ones(hidden.size * len(chosen_measures)),
            -np.ones(hidden.size),
        )
    lower, upper = published_bounds(lattice, suppressed, rules)
    size = cells * count
    a_ub, a_eq = inequalities.matrix(size), equalities.matrix(size)
    if (inequalities.count + equalities.count) * size <= _DENSE_LIMIT:
        # linprog converts its input on every call; small dense matrices convert fastest.
        a_ub, a_eq = a_ub.toarray(), a_eq.toarray()
    bounds = np.column_stack([lower.reshape(-1), upper.reshape(-1)])
    return System(a_ub, inequalities.vector(), a_eq, equalities.vector(), bounds)


def _top_measure(lattice: Lattice) -> int | None:
    count = len(lattice.measures)
    for top in range(count):
        if all((other, top) in lattice.dominance for other in range(count) if other != top):
            return top
    return None


def solve_programme(system: System, objective: FloatArray, *, presolve: bool = True) -> Any:
    """Minimise ``objective`` over the system with HiGHS (``scipy.optimize.linprog``)."""
    return linprog(
        objective,
        A_ub=system.a_ub if system.a_ub.shape[0] else None,
        b_ub=system.b_ub if system.a_ub.shape[0] else None,
        A_eq=system.a_eq if system.a_eq.shape[0] else None,
        b_eq=system.b_eq if system.a_eq.shape[0] else None,
        bounds=system.bounds,
        method="highs",
        options={"presolve": presolve},
    )


def interval(system: System, variable: int) -> tuple[float, float, set[int]]:
    """Smallest and largest feasible value of one variable, and the variables whose published
    bounds limit it (non-zero reduced cost at either optimum)."""
    size = system.bounds.shape[0]
    found: list[float] = []
    binding: set[int] = set()
    for sign in (1.0, -1.0):
        objective = np.zeros(size)
        objective[variable] = sign
        result = solve_programme(system, objective)
        if result.status == 2:
            # The exact counts are a solution, so "infeasible" is HiGHS' presolve failing to
            # tell infeasible from unbounded; without presolve it tells.
            result = solve_programme(system, objective, presolve=False)
        if result.status == 3:
            found.append(-sign * math.inf)
            continue
        if result.status != 0:
            raise DataError(f"disclosure audit: the linear programme failed ({result.message})")
        found.append(sign * float(result.fun))
        reduced = np.abs(result.lower.marginals) + np.abs(result.upper.marginals)
        binding.update(int(v) for v in np.flatnonzero(reduced > _TOLERANCE))
    return found[0], found[1], binding


def integer_interval(
    system: System, variable: int, *, node_limit: int = INTEGER_NODE_LIMIT
) -> tuple[float, float, bool]:
    """Smallest and largest whole-number value of one variable when every variable is whole.

    Returns:
        (lower, upper, exact): ``exact`` is False when a programme hit ``node_limit``; then
        the ends are the most extreme whole-number solutions found, which can only make the
        interval narrower than the attacker's, never wider (the audit stays strict).
    """
    size = system.bounds.shape[0]
    constraints = []
    if system.a_ub.shape[0]:
        constraints.append(LinearConstraint(system.a_ub, -np.inf, system.b_ub))
    if system.a_eq.shape[0]:
        constraints.append(LinearConstraint(system.a_eq, system.b_eq, system.b_eq))
    bounds = Bounds(system.bounds[:, 0], system.bounds[:, 1])
    found: list[float] = []
    exact = True
    for sign in (1.0, -1.0):
        objective = np.zeros(size)
        objective[variable] = sign
        relaxed = solve_programme(system, objective)
        if relaxed.status == 2:
            relaxed = solve_programme(system, objective, presolve=False)
        if relaxed.status == 3:
            # The exact counts are a whole-number solution; with an unbounded relaxation,
            # whole-number solutions are unbounded too (rational data).
            found.append(-sign * math.inf)
            continue
        result = milp(
            objective,
            integrality=np.ones(size),
            bounds=bounds,
            constraints=constraints,
            options={"node_limit": node_limit, "mip_rel_gap": 0.0},
        )
        if result.status not in (0, 1) or result.x is None:
            raise DataError(f"disclosure audit: the integer programme failed ({result.message})")
        exact &= result.status == 0
        found.append(float(round(result.x[variable])))
    return found[0], found[1], exact


@dataclass(frozen=True)
class AuditResult:
    """What an attacker can derive about each suppressed cell, and whether that is too much.

    Internal to the trusted party: it names which cells are primary (secret) suppressions.

    Attributes:
        cells: one row per suppressed cell and measure: the key columns, ``measure``, ``reason``
            (``primary`` or ``secondary``), ``lower`` and ``upper`` (the feasible interval, whole
            numbers; ``upper`` is inf when unbounded), ``width``, ``required_width`` (null when
            no protection is required) and ``passed``.
        primary_published: number of secret cells that were not suppressed (must be 0).
        passed: no secret cell is published and every required interval is wide enough.
        attacker: ``lp`` or ``integer``: how the intervals were computed.
        exact: False when an integer programme hit its time limit (its interval is then the
            narrowest the attacker could have, so ``passed`` stays on the safe side).
    """

    cells: pl.DataFrame
    primary_published: int
    passed: bool
    attacker: str = "lp"
    exact: bool = True

    def failures(self) -> pl.DataFrame:
        """The rows of :attr:`cells` that did not pass."""
        return self.cells.filter(~pl.col("passed"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary with one entry per audited cell (inf shown as null)."""
        rows = self.cells.with_columns(
            pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("upper", "width")
        ).to_dicts()
        return {
            "passed": self.passed,
            "attacker": self.attacker,
            "exact": self.exact,
            "primary_published": self.primary_published,
            "cells_audited": self.cells.height,
            "cells_failed": self.failures().height,
            "cells": rows,
        }


def required_width(lattice: Lattice, rules: DisclosureRules) -> FloatArray:
    """The protection interval each value needs: max(min_width, percent % of the value)."""
    relative = lattice.values * (rules.protection_percent / 100.0)
    return np.asarray(np.maximum(relative, float(rules.min_width)), dtype=np.float64)


def audit_lattice(
    lattice: Lattice,
    suppressed: BoolArray,
    rules: DisclosureRules,
    *,
    attacker: str | None = None,
) -> AuditResult:
    """Audit a suppression pattern (a boolean per cell) on a prepared lattice.

    ``attacker`` is ``lp`` or ``integer`` (default: the rules' ``attacker``).
    """
    attacker = attacker or rules.attacker
    if attacker not in ("lp", "integer"):
        raise ValueError(f"audit: unknown attacker {attacker!r} (lp or integer)")
    system = build_system(lattice, suppressed, rules)
    need = required_width(lattice, rules)
    required = lattice.primary | (suppressed if rules.protect_secondary else False)
    hidden = np.flatnonzero(suppressed)
    records: list[tuple[int, str, str, float, float, float | None]] = []
    exact = True
    for cell in hidden:
        for m, measure in enumerate(lattice.measures):
            variable = m * lattice.size + int(cell)
            if attacker == "integer":
                low, high, solved = integer_interval(system, variable)
                exact &= solved
            else:
                low, high, _ = interval(system, variable)
            reason = "primary" if lattice.primary[cell] else "secondary"
            wanted = float(need[m, cell]) if required[cell] else None
            records.append((int(cell), measure, reason, low, high, wanted))
    result = _result(lattice, suppressed, records)
    return replace(result, attacker=attacker, exact=exact)


def integer_width(low: float, high: float) -> float:
    """Width of an LP interval once both ends are moved inward to whole numbers.

    The attacker knows counts are whole numbers, so [2.4, 9.6] tells as much as [3, 9].
    """
    if not math.isfinite(high):
        return math.inf
    return float(math.floor(high + _TOLERANCE) - math.ceil(low - _TOLERANCE))


def _result(
    lattice: Lattice,
    suppressed: BoolArray,
    records: Sequence[tuple[int, str, str, float, float, float | None]],
) -> AuditResult:
    lows = [math.ceil(r[3] - _TOLERANCE) for r in records]
    highs = [math.floor(r[4] + _TOLERANCE) if math.isfinite(r[4]) else math.inf for r in records]
    widths = [integer_width(r[3], r[4]) for r in records]
    passed = [
        r[5] is None or width >= r[5] - _TOLERANCE for r, width in zip(records, widths, strict=True)
    ]
    audited = pl.DataFrame(
        [
            pl.Series("measure", [r[1] for r in records], pl.String),
            pl.Series("reason", [r[2] for r in records], pl.String),
            pl.Series("lower", lows, pl.Float64),
            pl.Series("upper", highs, pl.Float64),
            pl.Series("width", widths, pl.Float64),
            pl.Series("required_width", [r[5] for r in records], pl.Float64),
            pl.Series("passed", passed, pl.Boolean),
        ]
    )
    if lattice.keys:
        keys = lattice.key_frame()[[r[0] for r in records]]
        audited = pl.concat([keys, audited], how="horizontal")
    primary_published = int((lattice.primary & ~suppressed).sum())
    return AuditResult(audited, primary_published, primary_published == 0 and all(passed))


def audit(
    counts: pl.DataFrame | pl.LazyFrame,
    suppressed: pl.DataFrame,
    rules: DisclosureRules | None = None,
    *,
    parts: Mapping[str, pl.DataFrame | pl.LazyFrame] | None = None,
    label: str = "whole",
    part_column: str = "period",
    attacker: str | None = None,
) -> AuditResult:
    """Audit a suppression pattern: can a suppressed cell be derived from what is published?

    Args:
        counts: the exact count table (dimensions, measures, all margin rows).
        suppressed: the key columns of the cells to suppress, one row per cell (in a
            table with ``parts``, the part column holds ``label`` for the whole table).
        rules: disclosure rules (default: the ``cbs`` preset).
        parts: tables of parts of the period of ``counts`` (e.g. its halves), by label.
        label: label of the whole table in the part column.
        part_column: name of the part column.
        attacker: ``lp`` (linear programming, then whole-number ends) or ``integer``
            (integer programming: every cell a whole number); default: the rules' attacker.

    Returns:
        The feasible interval of every suppressed cell and whether it is wide enough.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure.rules import DisclosureRules
        >>> counts = pl.DataFrame({"care_form": ["a", "b", "c", None],
        ...                        "registrations": [3, 20, 30, 53]})
        >>> rules = DisclosureRules(rounding_base=1)
        >>> result = audit(counts, pl.DataFrame({"care_form": ["a"]}), rules)
        >>> result.passed, result.cells.row(0, named=True)["width"]
        (False, 0.0)
    """
    rules = rules or DisclosureRules()
    lattice = prepare(counts, rules, parts=parts, label=label, part_column=part_column)
    return audit_lattice(lattice, mask_of(lattice, suppressed), rules, attacker=attacker)
