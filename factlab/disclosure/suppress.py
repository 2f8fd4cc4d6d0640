"""How secondary suppressions are found: a greedy heuristic, a clean-up, an optimal search.

A pattern is *safe* when the audit (:mod:`factlab.disclosure.audit`) gives every secret value an
interval at least its protection width wide. Among safe patterns, one that hides less is better:
every cell suppressed without need is a number a municipality does not get. The rules choose
(``[suppression]``, see ``docs/disclosure.md``):

- ``heuristic``: the greedy loop of factlab 0.x: while a secret value fails, suppress a small
  published cell that limits its interval, then audit again;
- ``cleanup``: the heuristic, then every complementary suppression tried again, largest cost
  first: dropped when the pattern stays safe without it (so none is redundant at the end);
- ``optimal`` (default): a mixed-integer search for the safe pattern of least cost
  (:mod:`factlab.disclosure.optimise`), with ``cleanup`` as the fallback when the search
  reaches its work limits (rounds, nodes; never the clock, so the pattern is the same on every
  machine; past the rules' time limit protecting is an error).

The cost of a pattern is summed over its complementary suppressions (primary cells are hidden in
every pattern): ``value`` (the first measure, so the sum is what the pattern hides beyond the
secret cells), ``cells``, or ``log`` (log(1 + value), between the two). Ties go to interior cells
rather than margins (see :func:`costs`); the search is deterministic. Whatever it returns,
:func:`factlab.disclosure.protect.protect` audits again from scratch before anything is published.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from factlab.disclosure.attack import Attacker
from factlab.disclosure.audit import build_system, integer_width, interval, required_width
from factlab.disclosure.lattice import BoolArray, FloatArray, IntArray, Lattice, grand_totals
from factlab.disclosure.optimise import Optimum, optimise
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import DataError

__all__ = ["Search", "clean_up", "costs", "heuristic", "suppress"]


def costs(lattice: Lattice, name: str) -> FloatArray:
    """What suppressing each cell costs, by the rules' ``cost`` (``value``, ``cells``, ``log``).

    Tie-breakers are added that never outweigh the cost itself: a cell costs a little more the
    more of its dimensions are totals or groups, so an interior cell is hidden rather than a
    margin of the same value, and for ``cells`` a smaller value is hidden rather than a larger.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure.lattice import prepare
        >>> counts = pl.DataFrame({"care_form": ["a", "b", None], "registrations": [3, 20, 23]})
        >>> lattice = prepare(counts, DisclosureRules())
        >>> costs(lattice, "value").round(2).tolist(), costs(lattice, "cells").round(2).tolist()
        ([23.25, 3.12, 20.12], [1.49, 1.07, 1.43])
    """
    value = lattice.values[0].astype(np.float64)
    dims = lattice.dimensions
    margins = np.zeros(lattice.size)
    for d in dims:
        groups = list(lattice.hierarchies[d].groups) if d in lattice.hierarchies else []
        column = lattice.cells.get_column(d)
        margins += (column.is_null() | column.is_in(groups)).to_numpy().astype(np.float64)
    # Below one in total over all cells: never worth a unit of value.
    tie = (1.0 + margins) / ((len(dims) + 1.0) * (lattice.size + 1.0))
    result: FloatArray
    if name == "value":
        result = value + tie
    elif name == "cells":
        result = 1.0 + (value + tie) / (float(value.sum()) + 1.0)
    elif name == "log":
        result = np.log1p(value) + 1e-6 * (value + tie) / (float(value.sum()) + 1.0)
    else:
        raise ValueError(f"unknown cost {name!r} (value, cells or log)")
    return result


def _neighbours(lattice: Lattice, cell: int) -> IntArray:
    """Cells that share a relation group with ``cell``."""
    groups = np.union1d(
        np.flatnonzero(lattice.group_parent == cell),
        lattice.edge_group[lattice.edge_child == cell],
    )
    children = lattice.edge_child[np.isin(lattice.edge_group, groups)]
    return np.union1d(lattice.group_parent[groups], children)


def heuristic(
    lattice: Lattice, rules: DisclosureRules, *, start: BoolArray | None = None
) -> tuple[BoolArray, int]:
    """Suppress complementary cells until every required interval is wide enough.

    The greedy heuristic of factlab 0.x (``method = "heuristic"``), from the primary cells or
    from ``start`` (a pattern that suppresses them). Returns the pattern and its rounds.

    Each round audits the cells still failing. A failing cell's candidates are the published
    cells whose bounds limit its interval (for any measure), else its relation neighbours,
    else all published cells. The round suppresses a small set of candidates that holds one
    of every failing cell's: greedily the candidate shared by most failing cells, then of
    smallest value (first measure), then first in cell order. Suppressing more only widens
    intervals, so a cell that passed once keeps passing.
    """
    size = lattice.size
    suppressed = lattice.primary.copy() if start is None else start | lattice.primary
    all_zero = np.all(lattice.values == 0, axis=0)
    # With zeros shown, a zero cell is never a complement: "." must mean "not zero". Nor is a
    # structural empty: everyone knows it is 0, so hiding it would protect nothing.
    eligible = ~all_zero if not rules.zero_is_secret else np.ones(size, dtype=bool)
    eligible &= ~lattice.structural
    # A kept grand total (keep_total) is a complement of last resort: taken only when no
    # other cell that limits the failing value, or shares a relation with it, is open.
    preferred = eligible & ~grand_totals(lattice) if rules.keep_total else eligible
    need = required_width(lattice, rules)
    cost = lattice.values[0]
    required = lattice.primary | (suppressed if rules.protect_secondary else False)
    pending = [(int(c), m) for c in np.flatnonzero(required) for m in range(len(lattice.measures))]
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
        limiting_all: dict[int, set[int]] = {}
        for cell, _, binding in failing:
            limiting_all.setdefault(cell, set()).update(v % size for v in binding)
            limiting.setdefault(cell, set())
        for cell in limiting:
            limiting_all[cell] = {j for j in sorted(limiting_all[cell]) if open_cells[j]}
        for cell, choices in limiting.items():
            near = [int(j) for j in _neighbours(lattice, cell)]
            anywhere = [int(j) for j in np.flatnonzero(open_cells)]
            for pool, allowed in (
                (limiting_all[cell], open_cells & preferred),
                (near, open_cells & preferred),
                (limiting_all[cell], open_cells),
                (near, open_cells),
                (anywhere, open_cells & preferred),
                (anywhere, open_cells),
            ):
                if not choices:
                    choices.update(j for j in pool if allowed[j])
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


def clean_up(pattern: BoolArray, attacker: Attacker, cost: FloatArray) -> BoolArray:
    """Drop complementary suppressions the pattern does not need, largest cost first.

    Each is dropped when the pattern without it is still safe (asked of ``attacker``, whose
    witnesses answer most of these questions without a programme). A cell kept once is tried
    no more: dropping others only narrows intervals.
    """
    pattern = np.asarray(pattern, dtype=bool).copy()
    lattice = attacker.lattice
    secondary = np.flatnonzero(pattern & ~lattice.primary)
    for cell in secondary[np.lexsort((secondary, -cost[secondary]))]:
        pattern[cell] = False
        # Most complements cannot be dropped: ask first about the values that share a
        # relation with the cell, which it most likely protects (a few programmes, not all).
        near = set(_neighbours(lattice, int(cell)).tolist())
        pairs = attacker.pairs(pattern)
        ordered = [p for p in pairs if p[0] in near] + [p for p in pairs if p[0] not in near]
        if attacker.failures(pattern, first=True, pairs=ordered):
            pattern[cell] = True
    return pattern


@dataclass(frozen=True)
class Search:
    """How a suppression pattern was found (part of the protection report).

    Attributes:
        method: the method the rules asked for.
        used: whose pattern is published: ``optimal``, ``cleanup`` or ``heuristic``.
        cost: the cost minimised (``value``, ``cells`` or ``log``).
        costs: the cost of each pattern found, by method (rounded to 3 decimals).
        proven_optimal: the optimal search finished: no safe pattern costs less (under the LP
            attacker with whole-number ends; see ``docs/disclosure.md``).
        stopped: why the optimal search ended without a proof (``round_limit``,
            ``node_limit``), or None.
        rounds: rounds of the heuristic, or of the optimal search (mixed-integer solves).
        dropped: complementary suppressions the clean-up dropped.
        programmes: linear and integer programmes the search solved (the audit's not counted).
        seconds: time taken (not in :meth:`to_dict`: a report is the same on every run).
    """

    method: str
    used: str
    cost: str
    costs: Mapping[str, float]
    proven_optimal: bool
    stopped: str | None
    rounds: int
    dropped: int = 0
    programmes: int = 0
    seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the time taken)."""
        return {
            "method": self.method,
            "used": self.used,
            "cost": self.cost,
            "costs": dict(self.costs),
            "proven_optimal": self.proven_optimal,
            "stopped": self.stopped,
            "rounds": self.rounds,
            "dropped": self.dropped,
        }


def _total(cost: FloatArray, pattern: BoolArray, lattice: Lattice) -> float:
    return round(float(cost[pattern & ~lattice.primary].sum()), 3)


def suppress(
    lattice: Lattice, rules: DisclosureRules, *, method: str | None = None
) -> tuple[BoolArray, Search]:
    """A safe suppression pattern for ``lattice`` by the rules' method (or ``method``).

    With ``attacker = "integer"`` the pattern is made safe against the integer attacker too.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure.lattice import prepare
        >>> counts = pl.DataFrame({"care_form": ["a", "b", "c", "d", None],
        ...                        "registrations": [3, 40, 30, 50, 123]})
        >>> rules = DisclosureRules(rounding_base=1)
        >>> pattern, search = suppress(prepare(counts, rules), rules)
        >>> pattern.tolist(), search.used, search.proven_optimal
        ([False, True, False, True, False], 'optimal', True)
    """
    method = method or rules.method
    started = time.perf_counter()
    plain = costs(lattice, rules.cost)
    # keep_total: a kept grand total costs more than every other cell together, so a pattern
    # hides one only when no pattern without it is safe (align_totals then hides it in every
    # table that shows it).
    penalty = float(plain.sum()) + 1.0 if rules.keep_total else 0.0
    cost = plain + penalty * grand_totals(lattice)
    integer = rules.attacker == "integer"
    needed = method != "heuristic" or integer
    attacker = Attacker(lattice, rules, integer=integer) if needed else None
    found: dict[str, float] = {}

    def report(used: str, rounds: int, best: Optimum | None = None, dropped: int = 0) -> Search:
        return Search(
            method=method,
            used=used,
            cost=rules.cost,
            costs=dict(found),
            proven_optimal=best is not None and best.proven and used == "optimal",
            stopped=best.stopped if best is not None else None,
            rounds=rounds,
            dropped=dropped,
            programmes=attacker.programmes if attacker is not None else 0,
            seconds=time.perf_counter() - started,
        )

    best: Optimum | None = None
    optimum: BoolArray | None = None
    if method == "optimal" and attacker is not None:
        best = optimise(lattice, attacker, cost, deadline=started + rules.time_limit)
        if best.pattern is not None:
            optimum = best.pattern if best.proven else clean_up(best.pattern, attacker, cost)
            found["optimal"] = _total(plain, optimum, lattice)
            if best.proven:
                return optimum, report("optimal", best.rounds, best)
    pattern, rounds = heuristic(lattice, rules)
    found["heuristic"] = _total(plain, pattern, lattice)
    used, dropped = "heuristic", 0
    if attacker is not None and integer:
        pattern = attacker.repair(pattern, cost)
    if method != "heuristic" and attacker is not None:
        cleaned = clean_up(pattern, attacker, cost)
        dropped = int((pattern & ~cleaned).sum())
        pattern, used = cleaned, "cleanup"
        found["cleanup"] = _total(plain, pattern, lattice)
    if (
        optimum is not None
        and best is not None
        and _total(cost, optimum, lattice) <= _total(cost, pattern, lattice)
    ):
        return optimum, report("optimal", best.rounds, best)
    return pattern, report(used, rounds, best, dropped)
