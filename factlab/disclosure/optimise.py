"""The safe suppression pattern of least cost, by a mixed-integer search with audit-driven cuts.

The model has one 0/1 variable per cell that may be suppressed (primary cells are fixed at 1,
structural empties and, where zeros are shown, zero cells at 0) and minimises the cost of the
suppressed cells. Whether a pattern is safe is not written into the model up front: it is asked
of the attacker (:class:`~factlab.disclosure.attack.Attacker`), and each secret value the attacker
narrows too much adds one inequality that every safe pattern satisfies (a cut from the duals of
its two linear programmes, as in Fischetti and Salazar's model for cell suppression). Then the
model is solved again (HiGHS through :func:`scipy.optimize.milp`)::

    pattern = the primary cells
    while the attacker narrows some secret value under pattern:
        add its cut; pattern = the cheapest pattern that satisfies every cut so far

The first pattern the attacker accepts is optimal: every safe pattern satisfies all the cuts,
and none of them is cheaper. Two things can weaken that statement, and the result says so:
a cut for a value whose linear interval is wide enough but whose whole-number ends are not (or
that the integer attacker narrows) asks for a little more than needed; and the search stops
after :data:`ROUNDS` rounds or when a solve reaches :data:`NODES` branch-and-bound nodes, when the
caller falls back. Those limits count work, not seconds: HiGHS is deterministic, so the same
table gives the same pattern on a busy machine and an idle one. (A pattern that depended on the
clock would be published differently by two runs, and the two together could narrow a secret.)
The rules' time limit only guards against a search that runs away: reaching it is an error
(:class:`~factlab.errors.DataError`), never a different pattern.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from factlab.disclosure.attack import Attacker, Failure
from factlab.disclosure.lattice import BoolArray, FloatArray, Lattice
from factlab.errors import DataError

__all__ = ["NODES", "ROUNDS", "Optimum", "optimise", "out_of_time"]

#: Most mixed-integer solves of one search.
ROUNDS: Final = 200
#: Most branch-and-bound nodes of one mixed-integer solve.
NODES: Final = 200_000
#: Relative optimality gap at which HiGHS stops (costs are whole values plus tie-breakers).
GAP: Final = 1e-6


@dataclass(frozen=True)
class Optimum:
    """The result of :func:`optimise`.

    Attributes:
        pattern: the safe pattern found (True = suppressed), or None when the search found
            none within its limits.
        proven: no safe pattern costs less (every cut valid, every solve to optimality).
        stopped: ``round_limit`` or ``node_limit`` when the search ended early (both count
            work, so the same table stops at the same point on every machine).
        rounds: mixed-integer solves.
        cuts: inequalities added.
    """

    pattern: BoolArray | None
    proven: bool
    stopped: str | None
    rounds: int
    cuts: int


class _Cuts:
    """The inequalities found so far, over the free cells (CSR rows, right-hand sides)."""

    def __init__(self, free: BoolArray) -> None:
        self.position = np.cumsum(free) - 1
        self.free = free
        self.rows: list[int] = []
        self.columns: list[int] = []
        self.values: list[float] = []
        self.rhs: list[float] = []
        self.exact = True

    def add(self, failure: Failure) -> None:
        if failure.rhs <= 0:
            return
        row = len(self.rhs)
        gains = np.minimum(failure.gains, failure.rhs)
        cells = np.flatnonzero(self.free & (gains > 1e-9))
        required = failure.cell
        if self.free[required]:
            # A complement that must be protected (protect_secondary) only needs its width
            # while it is suppressed: sum(gain * y) >= rhs * y[required].
            own = float(gains[required])
            cells = cells[cells != required]
            if failure.rhs - own <= 0:
                return
            self.rows += [row] * (cells.size + 1)
            self.columns += [*self.position[cells].tolist(), int(self.position[required])]
            rhs = failure.rhs - own
            self.values += [*np.minimum(gains[cells], rhs).tolist(), -rhs]
            self.rhs.append(0.0)
        else:
            self.rows += [row] * cells.size
            self.columns += self.position[cells].tolist()
            self.values += gains[cells].tolist()
            self.rhs.append(failure.rhs)
        self.exact &= failure.exact

    def constraint(self, width: int) -> LinearConstraint:
        matrix = sparse.csr_array(
            (self.values, (self.rows, self.columns)), shape=(len(self.rhs), width)
        )
        return LinearConstraint(matrix, np.asarray(self.rhs), np.inf)


def optimise(
    lattice: Lattice,
    attacker: Attacker,
    cost: FloatArray,
    *,
    deadline: float,
    rounds: int = ROUNDS,
    node_limit: int = NODES,
) -> Optimum:
    """The cheapest pattern the attacker accepts, found by cut generation (see the module).

    Args:
        lattice: the table.
        attacker: the attacker (its witnesses carry over between calls).
        cost: the cost of suppressing each cell.
        deadline: ``time.perf_counter()`` value past which the search is an error (a guard
            against a runaway search; it never changes the pattern).
        rounds: most mixed-integer solves.
        node_limit: most branch-and-bound nodes per solve.

    Raises:
        DataError: the deadline passed (see :func:`out_of_time`).

    Example:
        >>> import polars as pl, time
        >>> from factlab.disclosure.lattice import prepare
        >>> from factlab.disclosure.rules import DisclosureRules
        >>> counts = pl.DataFrame({"care_form": ["a", "b", "c", "d", None],
        ...                        "registrations": [3, 40, 30, 50, 123]})
        >>> rules = DisclosureRules(rounding_base=1)
        >>> lattice = prepare(counts, rules)
        >>> best = optimise(lattice, Attacker(lattice, rules), lattice.values[0] + 0.1,
        ...                 deadline=time.perf_counter() + 30)
        >>> best.pattern.tolist(), best.proven
        ([False, True, False, True, False], True)
    """
    free = attacker.free
    width = int(free.sum())
    pattern = lattice.primary.copy()
    cuts = _Cuts(free)
    failures = attacker.failures(pattern)
    if not failures:
        return Optimum(pattern, True, None, 0, 0)
    for failure in failures:
        cuts.add(failure)
    objective = cost[free]
    best: BoolArray | None = None
    best_cost = np.inf
    if width == 0:
        return Optimum(None, False, "no_cells", 0, 0)
    for solve in range(1, rounds + 1):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise out_of_time()
        result = milp(
            objective,
            integrality=np.ones(width),
            bounds=Bounds(0, 1),
            constraints=[cuts.constraint(width)],
            options={"time_limit": remaining, "mip_rel_gap": GAP, "node_limit": node_limit},
        )
        if time.perf_counter() >= deadline:
            # Whatever HiGHS returned may have been cut short by the clock, which differs
            # from machine to machine: never used.
            raise out_of_time()
        if result.x is None:
            # Infeasible cannot happen for valid cuts (suppressing every free cell is safe
            # or nothing is); with the node limit it is a stop.
            return Optimum(best, False, "node_limit", solve, len(cuts.rhs))
        finished = result.status == 0
        bound = float(result.fun) if finished else float(result.mip_dual_bound)
        if best is not None and best_cost <= bound + GAP * max(1.0, abs(bound)):
            # No pattern satisfying the cuts is cheaper than the safe one in hand.
            return Optimum(best, finished and cuts.exact, None, solve, len(cuts.rhs))
        pattern = lattice.primary.copy()
        pattern[np.flatnonzero(free)[result.x > 0.5]] = True
        failures = attacker.failures(pattern)
        if not failures:
            return Optimum(
                pattern,
                finished and cuts.exact,
                None if finished else "node_limit",
                solve,
                len(cuts.rhs),
            )
        for failure in failures:
            cuts.add(failure)
        # Complete the pattern greedily: a safe pattern in hand (the search may stop at it),
        # and more cuts from the patterns on the way.
        repaired = attacker.repair(pattern, cost, failures=failures, seen=cuts.add)
        if float(cost[repaired & free].sum()) < best_cost:
            best, best_cost = repaired, float(cost[repaired & free].sum())
    return Optimum(best, False, "round_limit", rounds, len(cuts.rhs))


def out_of_time() -> DataError:
    """The error for a search past the rules' time limit (a runaway guard, not a fallback)."""
    return DataError(
        "protect: the optimal search reached the rules' time limit "
        "([suppression] time_limit); the pattern must not depend on the machine's speed, so "
        "nothing is published: raise the limit, or choose method cleanup"
    )
