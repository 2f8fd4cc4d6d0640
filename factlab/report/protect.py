"""Disclosure control for what a report publishes beyond plain count tables.

:func:`factlab.disclosure.protect.protect` protects one table at a time. A report publishes several,
and two kinds of knowledge cross those boundaries; this module accounts for both, and it only
ever *hides* more values of a :class:`~factlab.disclosure.protect.ProtectedTable`, never adds one.

- **Shared totals.** Every table of a round has the same grand total of unique clients. If one
  table suppresses it and another publishes it, the first table's audit assumed a secret that the
  second gives away; :func:`align_totals` hides such a total in every table.
- **The overlap matrix is symmetric**, and its diagonal equals each provider's margin: shared(A, B)
  = shared(B, A) and shared(A, A) = clients(A). The plain audit treats these as unrelated cells, so
  :func:`protect_symmetric` makes the suppression pattern close under these equalities and audits
  it again with them as constraints, suppressing further (smallest published cell that limits a
  failing interval, with its mirror) until every secret cell is protected. When no pattern
  protects them all, no cell of the matrix is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import sparse

from factlab.disclosure.audit import build_system, integer_width, interval, required_width
from factlab.disclosure.lattice import grand_totals, prepare
from factlab.disclosure.protect import STATUS_DTYPE, ProtectedTable, protect
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import DataError

__all__ = ["align_totals", "hide", "protect_symmetric"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
_TOLERANCE = 1e-9


def hide(table: ProtectedTable, mask: pl.Series | BoolArray) -> ProtectedTable:
    """Suppress every measure of the rows where ``mask`` is true (published values become ".").

    Hiding a published value never tells an attacker more, so the table stays protected.

    Example:
        >>> import polars as pl
        >>> counts = pl.DataFrame({"care_form": ["a", "b", None],
        ...                        "unique_clients": [40, 62, 97]})
        >>> table = protect(counts).table
        >>> hide(table, table.frame["care_form"].is_null()).render()["unique_clients"].to_list()
        ['.', '40', '60']
    """
    hidden = pl.Series("_hide", mask, dtype=pl.Boolean)
    if hidden.len() != table.frame.height:
        raise ValueError("hide: the mask must have one value per row of the table")
    frame = table.frame.with_columns(hidden).with_columns(
        *[
            expression
            for m in table.measures
            for expression in (
                pl.when(pl.col("_hide")).then(None).otherwise(pl.col(m)).alias(m),
                pl.when(pl.col("_hide"))
                .then(pl.lit("suppressed"))
                .otherwise(pl.col(f"{m}_status").cast(pl.String))
                .cast(STATUS_DTYPE)
                .alias(f"{m}_status"),
            )
        ]
    )
    return replace(table, frame=frame.drop("_hide"))


def _total_rows(table: ProtectedTable, label: str | None) -> pl.DataFrame:
    """Part label and published flag of the table's grand total rows (one per part)."""
    is_total = pl.all_horizontal(pl.lit(True), *[pl.col(d).is_null() for d in table.dimensions])
    part = (
        pl.col(table.part_column)
        if table.part_column is not None
        else pl.lit(label or "", dtype=pl.String)
    )
    published = pl.col(f"{table.measures[0]}_status") == "published"
    return table.frame.filter(is_total).select(part.alias("part"), published.alias("published"))


def align_totals(
    tables: Sequence[tuple[ProtectedTable, str | None]],
) -> list[ProtectedTable]:
    """Hide a grand total of unique clients in every table when any table suppresses it.

    Args:
        tables: each table with the part label of its total when it has no part column (a
            table with a part column has a total per part). The first measure of every table
            must be the unique clients of the same rows.

    Returns:
        The tables in the same order, with the totals hidden where needed.
    """
    totals = pl.concat([_total_rows(table, label) for table, label in tables])
    hidden = set(totals.filter(~pl.col("published"))["part"].to_list())
    result = []
    for table, label in tables:
        is_total = pl.all_horizontal(pl.lit(True), *[pl.col(d).is_null() for d in table.dimensions])
        part = (
            pl.col(table.part_column)
            if table.part_column is not None
            else pl.lit(label or "", dtype=pl.String)
        )
        mask = table.frame.select(is_total & part.is_in(list(hidden))).to_series()
        result.append(hide(table, mask) if mask.any() else table)
    return result


def _equal_groups(keys: pl.DataFrame, a: str, b: str) -> IntArray:
    """A group number per cell; cells known to be equal share it.

    shared(x, y) = shared(y, x), and shared(x, x) = margin(x, total) = margin(total, x).
    """
    indexed = keys.with_row_index("_cell").with_columns(pl.col("_cell").cast(pl.Int64))
    mirror = indexed.select(pl.col(b).alias(a), pl.col(a).alias(b), pl.col("_cell").alias("_m"))
    pairs = indexed.join(mirror, on=[a, b], how="inner", nulls_equal=True).select("_cell", "_m")
    diagonal = indexed.filter(pl.col(a) == pl.col(b)).select(pl.col(a).alias("_v"), "_cell")
    margins = indexed.filter(pl.col(a).is_null() ^ pl.col(b).is_null()).select(
        pl.coalesce(a, b).alias("_v"), pl.col("_cell").alias("_m")
    )
    pairs = pl.concat([pairs, diagonal.join(margins, on="_v").select("_cell", "_m")])
    group = np.arange(keys.height, dtype=np.int64)
    first = pairs["_cell"].to_numpy().astype(np.int64)
    second = pairs["_m"].to_numpy().astype(np.int64)
    # Few cells: relabel to the smallest member until nothing changes (connected components).
    while True:
        low = np.minimum(group[first], group[second])
        updated = group.copy()
        np.minimum.at(updated, first, low)
        np.minimum.at(updated, second, low)
        updated = updated[updated]
        if np.array_equal(updated, group):
            return group
        group = updated


def _with_equalities(system: Any, groups: IntArray) -> Any:
    """Add ``x[cell] == x[group leader]`` for every cell that is not its group's leader."""
    members = np.flatnonzero(groups != np.arange(groups.size))
    size = system.bounds.shape[0]
    rows = np.zeros((members.size, size))
    rows[np.arange(members.size), members] = 1.0
    rows[np.arange(members.size), groups[members]] = -1.0
    if sparse.issparse(system.a_eq):
        a_eq = sparse.vstack([system.a_eq, sparse.csr_array(rows)]).tocsr()
    else:
        a_eq = np.vstack([system.a_eq, rows])
    return replace(system, a_eq=a_eq, b_eq=np.concatenate([system.b_eq, np.zeros(members.size)]))


def protect_symmetric(
    counts: pl.DataFrame, rules: DisclosureRules, *, a: str, b: str
) -> ProtectedTable:
    """Protect a symmetric matrix (e.g. clients shared by providers ``a`` and ``b``).

    Args:
        counts: a count table with dimensions ``a`` and ``b``, one union measure, the margins
            (null = total) and every cell of the matrix in both orders.
        rules: rules naming that one measure, with ``a`` and ``b`` as dimensions.

    Returns:
        The protected matrix; when no symmetric pattern protects every secret cell (e.g. no
        client is shared at all, so the margins add up), every cell but the grand total hidden.

    Raises:
        DataError: the counts are not a valid count table.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure.rules import MeasureRule
        >>> counts = pl.DataFrame({
        ...     "a": ["A", "A", "B", "B", "A", "B", None, None, None],
        ...     "b": ["A", "B", "A", "B", None, None, "A", "B", None],
        ...     "shared": [40, 3, 3, 50, 40, 50, 40, 50, 87]})
        >>> rules = DisclosureRules(measures=(MeasureRule("shared"),), dimensions=("a", "b"))
        >>> table = protect_symmetric(counts, rules, a="a", b="b")
        >>> table.frame.filter(pl.col("a") == "A", pl.col("b") == "B")["shared_status"][0]
        'suppressed'
    """
    table = protect(counts, rules).table
    lattice = prepare(counts, rules)
    if len(lattice.measures) != 1 or not lattice.key_frame().equals(table.frame.select(table.keys)):
        raise DataError("protect_symmetric: expected one measure and the lattice's cell order")
    groups = _equal_groups(lattice.key_frame(), a, b)
    hidden = (table.frame[f"{table.measures[0]}_status"] == "suppressed").to_numpy().copy()
    values = lattice.values[0]
    need = required_width(lattice, rules)[0]
    zeros_shown = not rules.zero_is_secret
    eligible = ~(values == 0) if zeros_shown else np.ones(lattice.size, dtype=bool)
    if rules.keep_total:
        eligible &= ~grand_totals(lattice)
    for _ in range(lattice.size + 1):
        # A value hidden in one place must be hidden wherever it is known to reappear.
        hidden = np.isin(groups, groups[hidden])
        system = _with_equalities(build_system(lattice, hidden, rules), groups)
        required = hidden & (lattice.primary | rules.protect_secondary)
        limiting: set[int] = set()
        failing = False
        for cell in np.flatnonzero(required):
            low, high, binding = interval(system, int(cell))
            if integer_width(low, high) < need[cell] - _TOLERANCE:
                failing = True
                limiting.update(v for v in binding if not hidden[v] and eligible[v])
        if not failing:
            return hide(table, hidden)
        candidates = limiting or set(np.flatnonzero(~hidden & eligible).tolist())
        if not candidates:
            break
        pick = min(candidates, key=lambda cell: (int(values[cell]), cell))
        hidden[pick] = True
    # No pattern protects every cell once the equalities are known: typically a matrix without
    # any shared client, whose margins then add up and give every zero away. Publish none of it
    # (the grand total keeps the status protect() gave it; it is shown in other tables).
    everything = table.frame.select(
        pl.any_horizontal(pl.col(a).is_not_null(), pl.col(b).is_not_null())
    ).to_series()
    return hide(table, everything)
