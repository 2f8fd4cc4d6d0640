"""The protection report: how a table was protected, for the trusted party only.

It tells primary from secondary suppressions and how many clients they hold, which the public
must not see; :func:`factlab.disclosure.protect.protect` returns it beside the protected table,
and ``factlab protect --report`` writes it as JSON (see ``docs/disclosure.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from factlab._version import __version__
from factlab.disclosure.audit import AuditResult
from factlab.disclosure.lattice import BoolArray, Lattice
from factlab.disclosure.rules import DisclosureRules
from factlab.disclosure.suppress import Search

__all__ = ["ProtectionReport", "protection_report"]


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
        structural: number of cells published as structural empties.
        structural_unmatched: the declared structural empties (numbered from 1) that match no
            cell of the table: they name a dimension it lacks or a value that does not occur.
        search: how the pattern was found (method, cost, whether proven optimal).
        hidden: per measure, over every distinct suppressed cell at every level (a region
            or a margin shared by tables protected together counts once): ``cells``, the
            ``value`` they hold, the part of it the audit derives exactly (``derivable``: a
            complement narrowed to one value hides nothing) and the rest (``hidden``).
        integer_audit: the audit by the integer attacker, when the rules ask for it.
        linked_with: the other tables protected together with this one.
        shared_cells: cells of this table that are also cells of those tables.
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
    structural: int = 0
    structural_unmatched: tuple[int, ...] = ()
    search: Search | None = None
    hidden: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    integer_audit: AuditResult | None = None
    linked_with: tuple[str, ...] = ()
    shared_cells: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        suppressed = self.primary + self.secondary
        extra: dict[str, Any] = {}
        if self.search is not None:
            extra["search"] = self.search.to_dict()
        if self.hidden:
            extra["hidden"] = {m: dict(v) for m, v in self.hidden.items()}
        if self.integer_audit is not None:
            extra["integer_audit"] = self.integer_audit.to_dict()
        if self.linked_with:
            extra["linked"] = {"with": list(self.linked_with), "shared_cells": self.shared_cells}
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
            "structural_empty": {
                "cells": self.structural,
                "unmatched_declarations": list(self.structural_unmatched),
            },
            "secondary_rounds": self.rounds,
            "information_lost": {m: dict(v) for m, v in self.information_lost.items()},
            "dropped_columns": list(self.dropped_columns),
            "audit": self.audit.to_dict(),
            **extra,
            "factlab_version": __version__,
        }


def _hidden(
    lattice: Lattice, suppressed: BoolArray, result: AuditResult, within: BoolArray
) -> dict[str, dict[str, float]]:
    """Per measure: distinct suppressed cells, their value, and what of it is derivable."""
    cells = within & suppressed
    exact = result.cells.select(pl.col("width") == 0).to_series().to_numpy().astype(bool)
    measure_of = result.cells.get_column("measure").to_list()
    order = np.flatnonzero(suppressed)
    hidden: dict[str, dict[str, float]] = {}
    for m, measure in enumerate(lattice.measures):
        rows = np.array([name == measure for name in measure_of], dtype=bool)
        known = np.zeros(lattice.size, dtype=bool)
        known[order[exact[rows]]] = True
        value = int(lattice.values[m, cells].sum())
        derivable = int(lattice.values[m, cells & known].sum())
        hidden[measure] = {
            "cells": int(cells.sum()),
            "value": value,
            "derivable": derivable,
            "hidden": value - derivable,
        }
    return hidden


def protection_report(
    lattice: Lattice,
    suppressed: BoolArray,
    rules: DisclosureRules,
    result: AuditResult,
    search: Search,
    integer: AuditResult | None = None,
    *,
    within: BoolArray | None = None,
    dimensions: tuple[str, ...] | None = None,
    linked_with: tuple[str, ...] = (),
    shared: int = 0,
) -> ProtectionReport:
    """The internal report of a protected lattice (or of one table ``within`` it)."""
    inside = np.ones(lattice.size, dtype=bool) if within is None else within
    detail = lattice.detail & inside
    lost: dict[str, dict[str, float]] = {}
    for m, measure in enumerate(lattice.measures):
        total = int(lattice.values[m, detail].sum())
        lost_value = int(lattice.values[m, detail & suppressed].sum())
        lost[measure] = {
            "suppressed": lost_value,
            "total": total,
            "share": lost_value / total if total else 0.0,
        }
    primary = int((lattice.primary & inside).sum())
    hidden = _hidden(lattice, suppressed, result, inside)
    if within is not None:
        keep = pl.Series(within[np.flatnonzero(suppressed)]).repeat_by(len(lattice.measures))
        dims = dimensions or lattice.dimensions
        part = [lattice.part_column] if lattice.part_column else []
        columns = [c for c in result.cells.columns if c not in lattice.keys]
        result = replace(
            result,
            cells=result.cells.filter(keep.explode()).select(*part, *dims, *columns),
        )
    return ProtectionReport(
        rules=rules,
        dimensions=lattice.dimensions if dimensions is None else dimensions,
        measures=lattice.measures,
        margins=dict(zip(lattice.measures, lattice.margins, strict=True)),
        additive_dimensions=dict(zip(lattice.measures, lattice.additive_keys, strict=True)),
        cells=int(inside.sum()),
        primary=primary,
        secondary=int((suppressed & inside).sum()) - primary,
        rounds=search.rounds,
        information_lost=lost,
        dropped_columns=lattice.dropped_columns,
        audit=result,
        structural=int((lattice.structural & inside).sum()),
        structural_unmatched=tuple(
            index for index, n in enumerate(lattice.structural_matches, start=1) if n == 0
        ),
        search=search,
        hidden=hidden,
        integer_audit=integer,
        linked_with=linked_with,
        shared_cells=shared,
    )
