"""The attacker of many suppression patterns, for the search that tries them.

The audit (:mod:`factlab.disclosure.audit`) judges one pattern from scratch. A search asks the
same question of many patterns that differ in a few cells; :class:`Attacker` answers it faster
and tells more, under the same attacker model (the same constraints, the same published bounds):

- **Witnesses.** Every solution of an attacker's programme is a table that agrees with what a
  pattern publishes. It agrees with any other pattern that suppresses every cell where it leaves
  the published range. Two such tables whose values of a secret cell lie the required width
  apart prove that cell safe under the new pattern, without solving anything. A pattern that
  no witness proves safe is solved for, and the solutions join the witnesses.
- **Cuts.** When a cell's interval is too narrow, the dual solutions of its two programmes bound
  its width under *every* pattern (weak duality): suppressing cell j can widen it by at most a
  known amount, or without limit where a published upper bound of j limits it. So any safe
  pattern y satisfies ``sum_j coefficient_j * y_j >= rhs``, a constraint the mixed-integer
  search (:mod:`factlab.disclosure.optimise`) adds: the cut of Fischetti and Salazar's
  attacker subproblem, for the width requirement of this audit.

The constraint rows do not depend on the pattern (a row a pattern lacks is implied by the
published bounds of the cells it concerns), only the bounds do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from factlab.disclosure.audit import (
    INTEGER_NODE_LIMIT,
    System,
    build_system,
    integer_width,
    published_bounds,
    required_width,
    solve_programme,
)
from factlab.disclosure.lattice import BoolArray, FloatArray, IntArray, Lattice
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import DataError

__all__ = ["Attacker", "Failure", "candidates"]

_TOLERANCE: Final = 1e-6
# Witnesses kept (the oldest replaced first): each holds a value per required variable.
_POOL: Final = 1000


def candidates(lattice: Lattice, rules: DisclosureRules) -> BoolArray:
    """Cells a search may suppress as complements: not structural, not zero when zeros are
    shown ("." must then mean "not zero"), and not primary (those are suppressed anyway).

    A grand total the rules keep (``keep_total``) is still a candidate: the search avoids it
    by its cost (:func:`factlab.disclosure.suppress.costs`), and hides it only when no pattern
    without it is safe (a half with a secret total).
    """
    eligible = ~lattice.structural & ~lattice.primary
    if not rules.zero_is_secret:
        eligible &= ~np.all(lattice.values == 0, axis=0)
    return np.asarray(eligible, dtype=bool)


@dataclass(frozen=True)
class Failure:
    """A secret value whose interval is too narrow under a pattern, and what would widen it.

    Attributes:
        cell, measure: the value that failed.
        width: its interval's width under the pattern (whole-number ends).
        need: the width it needs.
        gains: per cell, an upper bound on how much suppressing that cell (with the rest of the
            pattern as it is) can widen the interval; inf where it may widen it without limit.
        rhs: every safe pattern y has ``sum(min(gains, rhs) * y) >= rhs`` over the cells that
            are not fixed (primary or structural), where y is 0 or 1 per cell.
        exact: the inequality follows from the linear programmes' duals (a valid cut). False
            when the linear interval is wide enough but its whole-number ends (or the integer
            attacker) are not: then it asks for more width than strictly needed.
    """

    cell: int
    measure: int
    width: float
    need: float
    gains: FloatArray
    rhs: float
    exact: bool


@dataclass(frozen=True)
class _Side:
    value: float
    point: FloatArray | None
    lower_marginals: FloatArray
    upper_marginals: FloatArray


class Attacker:
    """The attacker of one lattice, for any suppression pattern (a boolean per cell).

    Args:
        lattice: the prepared table.
        rules: the rules (what is published, how wide intervals must be).
        integer: also solve integer programmes (the integer attacker), not only linear ones.

    Example:
        >>> import numpy as np, polars as pl
        >>> from factlab.disclosure.lattice import prepare
        >>> counts = pl.DataFrame({"care_form": ["a", "b", "c", None],
        ...                        "registrations": [3, 20, 30, 53]})
        >>> rules = DisclosureRules(rounding_base=1)
        >>> lattice = prepare(counts, rules)
        >>> attacker = Attacker(lattice, rules)
        >>> [(f.width, f.need, f.rhs) for f in attacker.failures(lattice.primary)]
        [(0.0, 7.0, 7.0)]
        >>> attacker.failures(lattice.primary | np.array([False, False, True, False]))
        []
    """

    def __init__(self, lattice: Lattice, rules: DisclosureRules, *, integer: bool = False) -> None:
        self.lattice = lattice
        self.rules = rules
        self.integer = integer
        self.size = lattice.size
        self.free = candidates(lattice, rules)
        # Rows for every cell that may be hidden: a pattern's own rows are among them, and the
        # rest are implied by the published bounds of their cells.
        system = build_system(lattice, self.free | lattice.primary, rules)
        # The same matrices for every programme: HiGHS reads sparse ones fastest.
        self._system = replace(
            system, a_ub=sparse.csr_array(system.a_ub), a_eq=sparse.csr_array(system.a_eq)
        )
        nothing = np.zeros(self.size, dtype=bool)
        low, high = published_bounds(lattice, nothing, rules)
        self._published_low = low.reshape(-1)
        self._published_high = high.reshape(-1)
        self.need = required_width(lattice, rules)
        secondary = self.free if rules.protect_secondary else nothing
        required = lattice.primary | secondary
        measures = len(lattice.measures)
        self._required = [
            (int(cell), m) for cell in np.flatnonzero(required) for m in range(measures)
        ]
        self._column = {pair: index for index, pair in enumerate(self._required)}
        self._variables = np.array(
            [m * self.size + cell for cell, m in self._required], dtype=np.int64
        )
        self._outside = np.zeros((_POOL, self.size), dtype=bool)
        self._values = np.zeros((_POOL, len(self._required)))
        self._integral = np.zeros(_POOL, dtype=bool)
        self._filled = np.zeros(_POOL, dtype=bool)
        self._next = 0
        self.programmes = 0

    # --- witnesses ---------------------------------------------------------------------------

    def _witness(self, point: FloatArray, usable: BoolArray) -> None:
        """Keep a solution (it agrees with the pattern it solved for: mark it ``usable``)."""
        outside = (point < self._published_low - _TOLERANCE) | (
            point > self._published_high + _TOLERANCE
        )
        slot = self._next
        self._next = (slot + 1) % _POOL
        self._outside[slot] = outside.reshape(len(self.lattice.measures), self.size).any(axis=0)
        self._values[slot] = point[self._variables]
        self._integral[slot] = bool(np.all(np.abs(point - np.round(point)) <= _TOLERANCE))
        self._filled[slot] = True
        usable[slot] = self._integral[slot] or not self.integer

    def _usable(self, pattern: BoolArray) -> BoolArray:
        """The witnesses that agree with ``pattern`` (integral ones for the integer attacker)."""
        usable = self._filled & ~(self._outside & ~pattern).any(axis=1)
        return np.asarray(usable & self._integral if self.integer else usable, dtype=bool)

    def _proven(self, usable: BoolArray, column: int, need: float) -> bool:
        if not usable.any():
            return False
        values = self._values[usable, column]
        high, low = float(values.max()), float(values.min())
        return integer_width(low, high) >= need - _TOLERANCE

    # --- programmes --------------------------------------------------------------------------

    def system(self, pattern: BoolArray) -> System:
        """The attacker's programme under ``pattern``."""
        low, high = published_bounds(self.lattice, pattern, self.rules)
        return replace(self._system, bounds=np.column_stack([low.reshape(-1), high.reshape(-1)]))

    def _side(self, system: System, variable: int, sign: float) -> _Side:
        objective = np.zeros(system.bounds.shape[0])
        objective[variable] = sign
        self.programmes += 1
        result = solve_programme(system, objective)
        if result.status == 2:  # "infeasible" from presolve may mean unbounded (see audit)
            result = solve_programme(system, objective, presolve=False)
        empty = np.zeros(0)
        if result.status == 3:
            return _Side(-sign * math.inf, None, empty, empty)
        if result.status != 0:
            raise DataError(f"disclosure search: the linear programme failed ({result.message})")
        return _Side(
            sign * float(result.fun),
            np.asarray(result.x, dtype=np.float64),
            np.asarray(result.lower.marginals, dtype=np.float64),
            np.asarray(result.upper.marginals, dtype=np.float64),
        )

    def _integer_side(self, system: System, variable: int, sign: float, usable: BoolArray) -> float:
        size = system.bounds.shape[0]
        objective = np.zeros(size)
        objective[variable] = sign
        constraints = []
        if system.a_ub.shape[0]:
            constraints.append(LinearConstraint(system.a_ub, -np.inf, system.b_ub))
        if system.a_eq.shape[0]:
            constraints.append(LinearConstraint(system.a_eq, system.b_eq, system.b_eq))
        self.programmes += 1
        result = milp(
            objective,
            integrality=np.ones(size),
            bounds=Bounds(system.bounds[:, 0], system.bounds[:, 1]),
            constraints=constraints,
            options={"node_limit": INTEGER_NODE_LIMIT, "mip_rel_gap": 0.0},
        )
        if result.x is None or result.status not in (0, 1):
            raise DataError(f"disclosure search: the integer programme failed ({result.message})")
        point: FloatArray = np.round(np.asarray(result.x, dtype=np.float64)).astype(np.float64)
        self._witness(point, usable)
        # Stopped early, the solution found is still an attainable value: a narrower interval
        # than the attacker's at worst, which keeps the search on the safe side.
        return float(point[variable])

    # --- the question ------------------------------------------------------------------------

    def failures(
        self,
        pattern: BoolArray,
        *,
        first: bool = False,
        pairs: list[tuple[int, int]] | None = None,
    ) -> list[Failure]:
        """The secret values too narrowly bounded under ``pattern`` (empty: it is safe).

        Args:
            pattern: a boolean per cell, True where suppressed (primary cells must be).
            first: stop at the first failure (a yes/no question).
            pairs: (cell, measure) pairs to check (default: every required one; with
                ``protect_secondary`` the suppressed complements are required too).
        """
        pattern = np.asarray(pattern, dtype=bool)
        if np.any(self.lattice.primary & ~pattern):
            raise ValueError("a pattern must suppress every primary cell")
        if pairs is None:
            pairs = self.pairs(pattern)
        usable = self._usable(pattern)
        system: System | None = None
        found: list[Failure] = []
        for cell, m in pairs:
            need = float(self.need[m, cell])
            if self._proven(usable, self._column[(cell, m)], need):
                continue
            system = system or self.system(pattern)
            failure = self._check(system, pattern, usable, cell, m, need)
            if failure is not None:
                found.append(failure)
                if first:
                    break
        return found

    def pairs(self, pattern: BoolArray) -> list[tuple[int, int]]:
        """The (cell, measure) pairs that need their width under ``pattern``."""
        return [(c, m) for c, m in self._required if self.lattice.primary[c] or pattern[c]]

    def _check(
        self,
        system: System,
        pattern: BoolArray,
        usable: BoolArray,
        cell: int,
        m: int,
        need: float,
    ) -> Failure | None:
        """Solve for one value's interval (``usable`` gains the solutions as witnesses)."""
        variable = m * self.size + cell
        high = self._side(system, variable, -1.0)
        if high.point is not None:
            self._witness(high.point, usable)
        if math.isinf(high.value):
            return None
        if not self.integer:
            # The lowest value a witness of this pattern takes may already be low enough.
            lowest = float(self._values[usable, self._column[(cell, m)]].min())
            if integer_width(lowest, high.value) >= need - _TOLERANCE:
                return None
        low = self._side(system, variable, 1.0)
        if low.point is not None:
            self._witness(low.point, usable)
        width = integer_width(low.value, high.value)
        exact = True
        if width >= need - _TOLERANCE:
            if not self.integer:
                return None
            bottom = self._integer_side(system, variable, 1.0, usable)
            top = self._integer_side(system, variable, -1.0, usable)
            width = top - bottom
            if width >= need - _TOLERANCE:
                return None
            exact = False
        return self._cut(pattern, cell, m, low, high, width, need, exact)

    def _cut(
        self,
        pattern: BoolArray,
        cell: int,
        m: int,
        low: _Side,
        high: _Side,
        width: float,
        need: float,
        exact: bool,
    ) -> Failure:
        """The inequality every safe pattern satisfies, from the duals at ``pattern``.

        Both programmes' values are convex in the bounds, with the marginals as subgradients:
        hiding cell j lowers its lower bound from the published one to 0 (the interval can
        widen by at most the lower-bound marginals times that drop) and lifts its upper bound
        to infinity (without limit, if an upper-bound marginal is not zero).
        """
        measures = len(self.lattice.measures)
        lower_marginals = (low.lower_marginals + high.lower_marginals).reshape(measures, -1)
        upper_marginals = (low.upper_marginals + high.upper_marginals).reshape(measures, -1)
        drop = self._published_low.reshape(measures, -1)
        gains = np.sum(np.maximum(lower_marginals, 0.0) * drop, axis=0)
        opens = np.any(upper_marginals < -_TOLERANCE, axis=0) & ~pattern
        continuous = high.value - low.value
        # Valid: width(y) <= continuous + sum(gains * (y - pattern)) (+ inf where opened).
        target = need if exact else continuous + (need - width)
        free = self.free
        rhs = float(target - continuous + np.sum(gains[free & pattern]))
        gains = np.where(opens, math.inf, gains)
        gains = np.where(free, gains, 0.0)
        return Failure(cell, m, width, need, gains, rhs, exact)

    def repair(
        self,
        pattern: BoolArray,
        cost: FloatArray,
        *,
        failures: list[Failure] | None = None,
        seen: Callable[[Failure], None] | None = None,
    ) -> BoolArray:
        """Suppress more until no value fails: for each failing value, the cheapest cell
        that can widen it (the largest gain among equal costs), then ask again.

        Args:
            pattern: the pattern to complete.
            cost: what suppressing each cell costs.
            failures: the failures of ``pattern``, when known.
            seen: called with every failure found on the way (e.g. to keep its cut).
        """
        pattern = np.asarray(pattern, dtype=bool).copy()
        failures = self.failures(pattern) if failures is None else failures
        while failures:
            added: list[int] = []
            for failure in failures:
                if any(failure.gains[cell] > _TOLERANCE for cell in added):
                    continue  # a cell added for another value may widen this one too
                widening = np.flatnonzero(self.free & ~pattern & (failure.gains > _TOLERANCE))
                if not widening.size:
                    widening = np.flatnonzero(self.free & ~pattern)
                if not widening.size:
                    raise DataError("protect: no cell left to suppress, yet the audit fails")
                order: IntArray = np.lexsort((widening, -failure.gains[widening], cost[widening]))
                added.append(int(widening[order[0]]))
                pattern[added[-1]] = True
            failures = self.failures(pattern)
            if seen is not None:
                for failure in failures:
                    seen(failure)
        return pattern
