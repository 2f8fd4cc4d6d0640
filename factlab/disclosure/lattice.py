"""The structure of a count table for disclosure control: its lattice of cells and relations.

A count table (see :mod:`factlab.disclosure.protect`) is a lattice of cells: every combination of
dimension values at every level of aggregation, where a null dimension means "total over it".
Each cell is tied to the cells one level below it by a *relation* per measure:

* **union** (unique clients): every child <= the margin <= the sum of the children;
* **additive** (registrations, or margins defined as sums of cells): the margin = the sum.

Tables of a year and its halves are one lattice with one more key column (the part column,
null for the whole year): the year is the union of its halves (never their sum, even where the
counts happen to add up: no one outside can know that no client spans both halves), except in
the cells of a dimension chosen per period (the rules' ``period_valued``: a client who moved
counts in the most recent municipality of each period). There only what the counting rule
guarantees is used, whatever the data: where every other dimension is a total, the year's
unique clients are at most the sum of its halves' (the row that decides a client's municipality
for the year decides it for the half it falls in); in the other such cells (a municipality by
care form, or registrations) nothing, and nowhere is a half known to be at most the year. A
relation read off the exact counts would show in the pattern (a pattern the search could only
have chosen with it).

A dimension with a declared hierarchy (:mod:`factlab.disclosure.hierarchy`) relates each group
to its children, and the total to the top-level codes, so a region is one cell, a margin of its
municipalities and a child of the total. Tables that share margins (municipality × care form
and municipality × financing) are one lattice too: a cell both tables have (a municipality's
total) is one cell.

Cells the rules declare empty by definition (structural empties) are marked; they must count 0
and are public knowledge. :func:`prepare` validates a count table and builds its lattice
(:func:`factlab.disclosure.linked.prepare_linked` does so for tables published side by side);
the audit (:mod:`factlab.disclosure.audit`) and the search (:mod:`factlab.disclosure.suppress`)
work on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from factlab.disclosure.grid import (
    check_frame,
    complete_grid,
    detail_mask,
    order_by,
    sums_of_cells,
)
from factlab.disclosure.hierarchy import Hierarchy, tree
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import DataError, InputError

__all__ = ["KNOWN_MEASURES", "Lattice", "grand_totals", "mask_of", "prepare"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Count columns a count table may carry besides its dimensions.
KNOWN_MEASURES: Final = frozenset(
    {
        "unique_clients",
        "registrations",
        "trajectories",
        "sum_of_cells",
        "unique_clients_lower",
        "unique_clients_upper",
        "rows_without_valid_bsn",
        "rows_sentinel",
    }
)
#: Numeric columns that are dimensions, not counts.
NUMERIC_DIMENSIONS: Final = frozenset({"birth_year"})
#: The measures protected when the rules name none, with their margin relation.
DEFAULT_MEASURES: Final = (("unique_clients", "union"), ("registrations", "additive"))

_CELL = "_cell"


@dataclass(frozen=True)
class Lattice:
    """A count table prepared for disclosure control: complete grid, cell order, relations.

    Internal to the disclosure step (holds the exact counts); built by :func:`prepare`.

    Attributes:
        cells: one row per cell in a stable order: the key columns (part column first, when
            there are parts, null for the whole table), then the exact measures.
        dimensions: the table's dimensions.
        part_column: name of the part column, or None for a single table.
        whole_label: label of the whole table (used for the part column in outputs).
        measures: protected measures, in order.
        margins: margin relation per measure (``union``, ``additive`` or ``sum_of_cells``).
        values: exact counts, shape (measures, cells).
        primary: cells that are secret under the primary rule (never a structural empty).
        structural: cells that are empty by definition (the rules' ``structural_empty``): 0 in
            every measure, known to everyone, never suppressed.
        structural_matches: per declared selection, the number of cells it matches (0 when it
            names a dimension the table lacks or a value that does not occur).
        edge_child, edge_group: one entry per (child cell, relation group).
        group_parent, group_key: parent cell and key column index of each relation group.
        group_equal: per measure and group, whether the relation is an equality.
        group_upper: per measure and group, whether the parent is at most the sum of its
            children: always, but over the part column of a period-valued cell, where only
            a union measure (unique clients) in a cell whose other dimensions are all totals
            is (by the counting rule).
        edge_lower: per measure and edge, whether the child is at most its parent (in a union
            group): always, but in the groups over the part column of a period-valued cell.
        additive_keys: per measure, the key columns over which margins are sums of cells.
        dominance: pairs (a, b) of measure indexes with measure a <= measure b in every cell.
        dropped_columns: input columns that are neither dimensions nor protected measures.
        detail: the most detailed cells (every dimension of their table at a leaf), over which
            the information lost is summed.
        hierarchies: the declared hierarchies of the dimensions that have one.
    """

    cells: pl.DataFrame
    dimensions: tuple[str, ...]
    part_column: str | None
    whole_label: str
    measures: tuple[str, ...]
    margins: tuple[str, ...]
    values: IntArray
    primary: BoolArray
    structural: BoolArray
    structural_matches: tuple[int, ...]
    edge_child: IntArray
    edge_group: IntArray
    group_parent: IntArray
    group_key: IntArray
    group_equal: BoolArray
    group_upper: BoolArray
    edge_lower: BoolArray
    additive_keys: tuple[tuple[str, ...], ...]
    dominance: tuple[tuple[int, int], ...]
    dropped_columns: tuple[str, ...]
    detail: BoolArray
    hierarchies: Mapping[str, Hierarchy]

    @property
    def keys(self) -> tuple[str, ...]:
        """Key columns: the part column (if any) and the dimensions."""
        part = (self.part_column,) if self.part_column else ()
        return (*part, *self.dimensions)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.cells.height

    def key_frame(self) -> pl.DataFrame:
        """The key columns in cell order, with the whole table's label filled in."""
        frame = self.cells.select(self.keys)
        if self.part_column:
            frame = frame.with_columns(pl.col(self.part_column).fill_null(self.whole_label))
        return frame


def collect(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """A count table in memory (it is small: one row per cell)."""
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def resolve_measures(
    columns: Sequence[str], rules: DisclosureRules
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The measures to protect and their margin relations (the rules', else the defaults)."""
    if rules.measures is not None:
        chosen = [(rule.name, rule.margins) for rule in rules.measures]
    else:
        chosen = [(name, relation) for name, relation in DEFAULT_MEASURES if name in columns]
        if not chosen:
            raise InputError("count table: no unique_clients or registrations column to protect")
    missing = [name for name, _ in chosen if name not in columns]
    if missing:
        raise InputError(f"count table: lacks the measure column(s) {', '.join(missing)}")
    return tuple(name for name, _ in chosen), tuple(margin for _, margin in chosen)


def resolve_dimensions(
    frame: pl.DataFrame, measures: Sequence[str], rules: DisclosureRules
) -> tuple[str, ...]:
    """The dimension columns: the rules', else every text column (and ``birth_year``)."""
    if rules.dimensions is not None:
        missing = [name for name in rules.dimensions if name not in frame.columns]
        if missing:
            raise InputError(f"count table: lacks the dimension column(s) {', '.join(missing)}")
        return rules.dimensions
    # A numeric column that is not a known dimension is taken for a count: never publish it
    # as a label. Known count columns that are not protected are dropped for the same reason.
    return tuple(
        name
        for name, dtype in frame.schema.items()
        if name not in measures
        and name not in KNOWN_MEASURES
        and (not dtype.is_numeric() or name in NUMERIC_DIMENSIONS)
    )


def _structural(
    cells: pl.DataFrame,
    keys: Sequence[str],
    dims: Sequence[str],
    measures: Sequence[str],
    rules: DisclosureRules,
) -> tuple[BoolArray, tuple[int, ...]]:
    """Mark the cells of declared structural empties; refuse one that holds clients."""
    selections = rules.structural_empty
    if not selections:
        return np.zeros(cells.height, dtype=bool), ()
    # A selection naming a dimension this table lacks says nothing about its cells: in a table
    # by care form alone, JB/JR is the total over financing, which is not empty.
    conditions = [
        pl.all_horizontal(pl.col(name).eq(value) for name, value in selection.items()).fill_null(
            False
        )
        if all(name in dims for name in selection)
        else pl.lit(False)
        for selection in selections
    ]
    hits = cells.select(
        *[condition.alias(f"_s{index}") for index, condition in enumerate(conditions)],
        pl.any_horizontal(pl.col(m) != 0 for m in measures).alias("_occupied"),
    )
    by_selection = hits.select(pl.exclude("_occupied")).to_numpy().astype(bool)
    marked: BoolArray = np.asarray(by_selection.any(axis=1), dtype=bool)
    wrong = np.flatnonzero(marked & hits.get_column("_occupied").to_numpy().astype(bool))
    if wrong.size:
        first = int(wrong[0])
        row = cells.row(first, named=True)
        where = ", ".join(f"{k}={row[k]}" for k in keys if row[k] is not None)
        declared = int(np.argmax(by_selection[first])) + 1
        raise DataError(
            f"count table: cell {where} is declared structurally empty "
            f"(structural_empty[{declared}]) but its count is not 0 ({wrong.size} such "
            "cell(s)): the declaration or the data is wrong"
        )
    return marked, tuple(int(n) for n in by_selection.sum(axis=0))


def _edges(
    cells: pl.DataFrame, keys: Sequence[str], trees: Mapping[str, Hierarchy]
) -> tuple[IntArray, IntArray, IntArray]:
    """(child, parent, key index) for every cell and every non-null key column of it.

    The parent over a key is the same cell with that key one level up: its group in a declared
    hierarchy, else the total (null).
    """
    parents = cells.select(*keys, pl.col(_CELL).alias("_parent"))
    pieces = []
    for index, name in enumerate(keys):
        up = (
            pl.col(name).replace_strict(trees[name].parent, default=None, return_dtype=pl.String)
            if name in trees
            else pl.lit(None, dtype=pl.String)
        )
        children = cells.filter(pl.col(name).is_not_null()).select(
            *[up.alias(k) if k == name else pl.col(k) for k in keys],
            pl.col(_CELL).alias("_child"),
        )
        joined = children.join(parents, on=list(keys), how="inner", nulls_equal=True)
        pieces.append(
            joined.select("_child", "_parent", pl.lit(index, dtype=pl.Int64).alias("_key"))
        )
    if not pieces:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    edges = pl.concat(pieces).sort("_parent", "_key", "_child")
    return (
        edges.get_column("_child").to_numpy().astype(np.int64),
        edges.get_column("_parent").to_numpy().astype(np.int64),
        edges.get_column("_key").to_numpy().astype(np.int64),
    )


def declared_trees(dims: Sequence[str], rules: DisclosureRules) -> dict[str, Hierarchy]:
    """The declared hierarchies of these dimensions (validated with the rules)."""
    return {name: tree(name, rules.hierarchy[name]) for name in dims if name in rules.hierarchy}


def table_cells(
    frames: Mapping[str | None, pl.DataFrame],
    dims: tuple[str, ...],
    measures: tuple[str, ...],
    margins: tuple[str, ...],
    trees: Mapping[str, Hierarchy],
    *,
    label: str,
    part_column: str | None,
    what: str = "count table",
) -> pl.DataFrame:
    """One table (and its parts, keyed by label; None is the whole) checked and completed."""
    if part_column is not None and any(part_column in f.columns for f in frames.values()):
        raise DataError(f"{what}: already has a column {part_column!r}; name the parts otherwise")
    normalised = []
    for name, frame in frames.items():
        shown = name or label
        missing = [column for column in (*dims, *measures) if column not in frame.columns]
        if missing:
            raise InputError(f"{what} {shown}: lacks the column(s) {', '.join(missing)}")
        check_frame(frame, shown, dims, measures)
        selected = frame.select(
            *[pl.col(d).cast(pl.String) for d in dims],
            *[pl.col(m).cast(pl.Int64) for m in measures],
        )
        if part_column is not None:
            selected = selected.with_columns(pl.lit(name, dtype=pl.String).alias(part_column))
        normalised.append(selected)
    labels = list(frames) if part_column is not None else [None]
    cells = complete_grid(pl.concat(normalised), dims, part_column, measures, labels, trees)
    for measure, margin in zip(measures, margins, strict=True):
        if margin == "sum_of_cells":
            cells = sums_of_cells(cells, dims, part_column, measure, trees)
    return cells


def prepare(
    counts: pl.DataFrame | pl.LazyFrame,
    rules: DisclosureRules,
    *,
    parts: Mapping[str, pl.DataFrame | pl.LazyFrame] | None = None,
    label: str = "whole",
    part_column: str = "period",
) -> Lattice:
    """Validate a count table (and its parts) and build its lattice of cells and relations.

    Raises:
        InputError: a dimension or measure column is missing.
        DataError: bad counts, duplicate cells, missing margin levels, counts that break
            the relations (e.g. a margin larger than the sum of its cells), a count other
            than 0 in a declared structural empty, or a value outside a declared hierarchy.
        ConfigError: a declared hierarchy is not a tree.
    """
    whole = collect(counts)
    measures, margins = resolve_measures(whole.columns, rules)
    dims = resolve_dimensions(whole, measures, rules)
    frames: dict[str | None, pl.DataFrame] = {None: whole}
    for part_name, part_frame in (parts or {}).items():
        frames[part_name] = collect(part_frame)
    part = part_column if parts else None
    trees = declared_trees(dims, rules)
    cells = table_cells(frames, dims, measures, margins, trees, label=label, part_column=part)
    dropped = tuple(c for c in whole.columns if c not in (*dims, *measures))
    keys = [*([part] if part else []), *dims]
    return assemble(
        cells, dims, part, label, measures, margins, rules, trees, dropped, keys, [dims]
    )


def assemble(
    cells: pl.DataFrame,
    dims: tuple[str, ...],
    part: str | None,
    label: str,
    measures: tuple[str, ...],
    margins: tuple[str, ...],
    rules: DisclosureRules,
    trees: Mapping[str, Hierarchy],
    dropped: tuple[str, ...],
    keys: Sequence[str],
    table_dims: Sequence[Sequence[str]],
) -> Lattice:
    """The lattice of completed cells: order, structural empties, relations, checks."""
    cells = (
        order_by(cells, keys, trees)
        .with_row_index(_CELL)
        .with_columns(pl.col(_CELL).cast(pl.Int64))
    )
    structural, matches = _structural(cells, keys, dims, measures, rules)
    child, parent, key = _edges(cells, keys, trees)
    # One relation group per (parent cell, key column): the parent and its children over it.
    group_ids, edge_group = np.unique(parent * max(len(keys), 1) + key, return_inverse=True)
    group_parent = (group_ids // max(len(keys), 1)).astype(np.int64)
    group_key = (group_ids % max(len(keys), 1)).astype(np.int64)
    values = np.vstack([cells.get_column(m).to_numpy().astype(np.int64) for m in measures])
    chosen = [d for d in rules.period_valued if d in dims]
    counted = [d for d in rules.period_counted if d in dims and d not in chosen]

    def any_set(names: Sequence[str]) -> BoolArray:
        # with_columns, not select: without such a dimension the bare literal needs a row a cell
        return (
            cells.with_columns(
                pl.any_horizontal(pl.lit(False), *[pl.col(d).is_not_null() for d in names]).alias(
                    "_set"
                )
            )
            .get_column("_set")
            .to_numpy()
            .astype(bool)
        )

    free = any_set(counted)
    moving = any_set(chosen) | free
    # The cells where the year is at most the sum of its halves by the counting rule: a
    # period-valued dimension set, no period-counted one, and every other dimension a total.
    others = [d for d in dims if d not in chosen]
    bounded = (
        moving
        & ~free
        & cells.select(pl.all_horizontal(pl.lit(True), *[pl.col(d).is_null() for d in others]))
        .to_series()
        .to_numpy()
        .astype(bool)
    )
    equal, upper, lower, additive_keys = _relations(
        cells,
        values,
        child,
        edge_group.astype(np.int64),
        group_parent,
        group_key,
        keys,
        measures,
        margins,
        part,
        moving,
        bounded,
    )
    # The most detailed cells of each table: its dimensions at leaves, the others totals.
    detail = np.zeros(cells.height, dtype=bool)
    for own in table_dims:
        others = [d for d in dims if d not in own]
        in_table = cells.select(
            pl.all_horizontal(pl.lit(True), *[pl.col(d).is_null() for d in others])
        ).to_series()
        detail |= detail_mask(cells, own, trees) & in_table.to_numpy().astype(bool)
    return Lattice(
        cells=cells.drop(_CELL),
        dimensions=dims,
        part_column=part,
        whole_label=label,
        measures=measures,
        margins=margins,
        values=values,
        primary=_primary(values, rules) & ~structural,
        structural=structural,
        structural_matches=matches,
        edge_child=child,
        edge_group=edge_group.astype(np.int64),
        group_parent=group_parent,
        group_key=group_key,
        group_equal=equal,
        group_upper=upper,
        edge_lower=lower,
        additive_keys=additive_keys,
        dominance=_dominance(values),
        dropped_columns=dropped,
        detail=detail,
        hierarchies=trees,
    )


def _relations(
    cells: pl.DataFrame,
    values: IntArray,
    child: IntArray,
    edge_group: IntArray,
    group_parent: IntArray,
    group_key: IntArray,
    keys: Sequence[str],
    measures: Sequence[str],
    margins: Sequence[str],
    part: str | None,
    moving: BoolArray,
    bounded: BoolArray,
) -> tuple[BoolArray, BoolArray, BoolArray, tuple[tuple[str, ...], ...]]:
    """Check the relations on the exact counts; decide which groups are equalities, and which
    inequalities hold in the groups whose union relation is not guaranteed.

    Returns:
        (equal, upper, lower, additive keys): ``equal`` and ``upper`` per measure and group,
        ``lower`` per measure and edge (see :class:`Lattice`).
    """
    groups = group_parent.size
    equal = np.zeros((len(measures), groups), dtype=bool)
    upper = np.ones((len(measures), groups), dtype=bool)
    lower = np.ones((len(measures), child.size), dtype=bool)
    additive_keys = []
    # Parts of a period share clients, so over the part column a margin is always a union...
    regular = group_key != (list(keys).index(part) if part else -1)
    # ... except in a cell of a dimension chosen per period: a client who moved counts in one
    # municipality in the first half and another for the year. Only what the counting rule
    # guarantees is used, never what the data happen to show: the search would choose its
    # pattern with it, and the pattern would tell (a half larger than its year, say). Where
    # every other dimension is a total, the year's deciding row decides the half it falls in,
    # so the year's clients are at most the sum of its halves' (checked); elsewhere nothing
    # holds: the client's care form for the year may come from a row of the other half, and
    # its registrations of the first half count in the year's municipality, not the half's.
    loose = ~regular & moving[group_parent]
    for m, (measure, margin) in enumerate(zip(measures, margins, strict=True)):
        child_values = values[m, child]
        sums = np.bincount(edge_group, weights=child_values, minlength=groups)
        largest = np.zeros(groups, dtype=np.int64)
        np.maximum.at(largest, edge_group, child_values)
        parent_values = values[m, group_parent]
        is_sum = sums == parent_values
        capped = loose & bounded[group_parent] & (margin == "union")
        upper[m] = ~loose | capped
        lower[m] = ~loose[edge_group]
        _raise_broken(
            cells,
            keys,
            measure,
            capped & (parent_values > sums),
            group_parent,
            group_key,
            "at most the sum",
        )
        if margin != "union":
            broken = regular & ~is_sum
            _raise_broken(cells, keys, measure, broken, group_parent, group_key, "equal to the sum")
        broken = (
            ~(regular & (margin != "union"))
            & ~loose
            & ((parent_values < largest) | (parent_values > sums))
        )
        _raise_broken(
            cells,
            keys,
            measure,
            broken,
            group_parent,
            group_key,
            "between the largest cell and the sum",
            part,
        )
        additive = []
        for index, name in enumerate(keys):
            in_key = group_key == index
            forced = name != part and margin != "union"
            # Never over the part column from the data: halves that add up to their year
            # (no client in both) are not something an outsider can know.
            if forced or (name != part and bool(np.all(is_sum[in_key]))):
                equal[m, in_key] = True
                additive.append(name)
        additive_keys.append(tuple(additive))
    return equal, upper, lower, tuple(additive_keys)


def _raise_broken(
    cells: pl.DataFrame,
    keys: Sequence[str],
    measure: str,
    broken: BoolArray,
    group_parent: IntArray,
    group_key: IntArray,
    expected: str,
    part: str | None = None,
) -> None:
    if not broken.any():
        return
    first = int(np.argmax(broken))
    row = cells.row(int(group_parent[first]), named=True)
    where = ", ".join(f"{k}={row[k]}" for k in keys if row[k] is not None) or "grand total"
    over = keys[group_key[first]]
    # Over the part column the likely cause is a dimension chosen per period that the rules
    # do not name (a region counted in its own column follows the most recent municipality).
    hint = (
        "; a dimension whose value per client is chosen per period (as the most recent "
        "municipality) belongs in the rules' table.period_valued"
        if over == part
        else ""
    )
    raise DataError(
        f"count table: {measure}: {int(broken.sum())} margin(s) over {over} "
        f"not {expected} of their cells (first at {where}){hint}"
    )


def _dominance(values: IntArray) -> tuple[tuple[int, int], ...]:
    count = values.shape[0]
    return tuple(
        (a, b)
        for a in range(count)
        for b in range(count)
        if a != b and bool(np.all(values[a] <= values[b]))
    )


def _primary(values: IntArray, rules: DisclosureRules) -> BoolArray:
    small = (values >= 1) & (values <= rules.secret_max)
    zero = (values == 0) if rules.zero_is_secret else np.zeros_like(small)
    return np.asarray((small | zero).any(axis=0), dtype=bool)


def grand_totals(lattice: Lattice) -> BoolArray:
    """A boolean per cell: the grand total (of each part), every dimension a total."""
    totals = lattice.cells.with_columns(
        pl.all_horizontal(pl.lit(True), *[pl.col(d).is_null() for d in lattice.dimensions]).alias(
            "_total"
        )
    )
    return np.asarray(totals.get_column("_total").to_numpy(), dtype=bool)


def mask_of(lattice: Lattice, cells: pl.DataFrame) -> BoolArray:
    """A boolean per lattice cell: listed in ``cells`` (matched on the key columns)."""
    keys = list(lattice.keys)
    missing = [k for k in keys if k not in cells.columns]
    if missing:
        raise InputError(f"suppressed cells: lack the column(s) {', '.join(missing)}")
    listed = cells.select(pl.col(k).cast(pl.String) for k in keys).unique()
    marked = (
        lattice.key_frame()
        .with_row_index("_row")
        .join(
            listed.with_columns(pl.lit(True).alias("_hit")), on=keys, how="left", nulls_equal=True
        )
        .sort("_row")
    )
    if marked.height != lattice.size:
        raise DataError("suppressed cells: ambiguous key columns")
    return marked.get_column("_hit").fill_null(False).to_numpy().astype(bool)
