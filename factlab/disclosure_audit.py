"""The structure of a count table and the audit of a suppression pattern by linear programming.

A count table (see :mod:`factlab.disclosure`) is a lattice of cells: every combination of
dimension values at every level of aggregation, where a null dimension means "total over it".
Each cell is tied to the cells one level below it by a *relation* per measure:

* **union** (unique clients): every child <= the margin <= the sum of the children;
* **additive** (registrations, or margins defined as sums of cells): the margin = the sum.

Tables of a year and its halves are one lattice with one more key column (the part column,
null for the whole year): the year is the union of its halves.

The audit asks, for every suppressed cell, what an attacker can derive: the smallest and the
largest value the cell can take given every published value (known only to within the rounding
interval), the relations above, non-negativity, and the publication rule itself (a published
value is never secret). These are two linear programmes per cell, solved with HiGHS through
:func:`scipy.optimize.linprog`. Whatever holds in the true data may be assumed by the attacker
too: a union relation that happens to be additive for a whole dimension (e.g. one municipality
per client) and an ordering between measures (unique clients <= registrations) are added as
constraints, which can only narrow the intervals and so only make the audit stricter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import sparse
from scipy.optimize import linprog

from factlab.errors import DataError, InputError

if TYPE_CHECKING:
    from factlab.disclosure import DisclosureRules

__all__ = ["AuditResult", "Lattice", "audit", "audit_lattice", "prepare"]

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
_LEVEL = "_level"
# Numerical slack when comparing LP optima with integers.
_TOLERANCE = 1e-6
# Largest constraint matrix (entries) passed to the solver as a dense array.
_DENSE_LIMIT = 1_000_000


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
        primary: cells that are secret under the primary rule.
        edge_child, edge_group: one entry per (child cell, relation group).
        group_parent, group_key: parent cell and key column index of each relation group.
        group_equal: per measure and group, whether the relation is an equality.
        additive_keys: per measure, the key columns over which margins are sums of cells.
        dominance: pairs (a, b) of measure indexes with measure a <= measure b in every cell.
        dropped_columns: input columns that are neither dimensions nor protected measures.
    """

    cells: pl.DataFrame
    dimensions: tuple[str, ...]
    part_column: str | None
    whole_label: str
    measures: tuple[str, ...]
    margins: tuple[str, ...]
    values: IntArray
    primary: BoolArray
    edge_child: IntArray
    edge_group: IntArray
    group_parent: IntArray
    group_key: IntArray
    group_equal: BoolArray
    additive_keys: tuple[tuple[str, ...], ...]
    dominance: tuple[tuple[int, int], ...]
    dropped_columns: tuple[str, ...]

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


def _collect(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _resolve_measures(
    columns: Sequence[str], rules: DisclosureRules
) -> tuple[tuple[str, ...], tuple[str, ...]]:
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


def _resolve_dimensions(
    frame: pl.DataFrame, measures: Sequence[str], rules: DisclosureRules
) -> tuple[str, ...]:
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


def _check_frame(
    frame: pl.DataFrame, label: str, keys: Sequence[str], measures: Sequence[str]
) -> None:
    problems: list[str] = []
    for name in measures:
        column = frame.get_column(name)
        if not (column.dtype.is_integer() or column.dtype.is_float() or column.dtype == pl.Null):
            problems.append(f"column {name}: not numeric")
            continue
        checks = (
            (column.is_null(), "missing value"),
            (column.cast(pl.Float64) < 0, "negative count"),
            (column.cast(pl.Float64) != column.cast(pl.Float64).round(0), "not a whole number"),
        )
        for mask, reason in checks:
            rows = mask.fill_null(False).arg_true()
            if rows.len():
                problems.append(f"row {rows[0] + 1}, column {name}: {reason}")
    if not keys and frame.height != 1:
        problems.append("a table without dimensions must have exactly one row")
    duplicated = frame.select(keys).is_duplicated().arg_true() if keys else pl.Series([])
    if duplicated.len():
        problems.append(f"row {duplicated[0] + 1}: dimension values occur more than once")
    if problems:
        raise DataError(f"count table {label}: " + "; ".join(problems))


def _level_expr(keys: Sequence[str]) -> pl.Expr:
    terms = [
        pl.col(name).is_not_null().cast(pl.Int64) * (1 << bit) for bit, name in enumerate(keys)
    ]
    return pl.sum_horizontal(terms) if terms else pl.lit(0, dtype=pl.Int64)


def _complete_grid(
    frame: pl.DataFrame,
    dims: Sequence[str],
    part_column: str | None,
    measures: Sequence[str],
    labels: Sequence[str | None],
) -> pl.DataFrame:
    """Every combination of dimension values at every level; a combination not counted is 0."""
    # Absence of a row is itself information, so the protected table always spans the grid.
    present = frame.select(
        *([pl.col(part_column)] if part_column else []), _level_expr(dims).alias(_LEVEL)
    ).unique()
    full = (1 << len(dims)) - 1
    for label in labels:
        have = (
            present
            if part_column is None
            else present.filter(pl.col(part_column).eq_missing(pl.lit(label, dtype=pl.String)))
        )
        found = set(have.get_column(_LEVEL).to_list())
        for level in range(full + 1):
            if level not in found:
                named = [dims[bit] for bit in range(len(dims)) if level >> bit & 1] or ["none"]
                table = "" if part_column is None else f" {label or 'whole'}"
                raise DataError(
                    f"count table{table}: no rows for the level with dimensions "
                    f"{', '.join(named)} given (all margin rows must be present)"
                )
    values = {name: frame.get_column(name).drop_nulls().unique().sort() for name in dims}
    pieces = []
    for level in range(full + 1):
        grid = pl.DataFrame({"_one": [1]})
        for bit, name in enumerate(dims):
            column = values[name] if level >> bit & 1 else pl.Series(name, [None], pl.String)
            grid = grid.join(column.to_frame(name), how="cross")
        pieces.append(grid)
    grid = pl.concat(pieces)
    if part_column is not None:
        grid = pl.DataFrame({part_column: pl.Series(list(labels), dtype=pl.String)}).join(
            grid, how="cross"
        )
    keys = [*([part_column] if part_column else []), *dims]
    if not keys:
        return frame  # a single total, checked to be one row
    grid = grid.drop("_one")
    return grid.join(frame, on=keys, how="left", nulls_equal=True).with_columns(
        pl.col(name).fill_null(0) for name in measures
    )


def _sums_of_cells(
    cells: pl.DataFrame, dims: Sequence[str], part_column: str | None, measure: str
) -> pl.DataFrame:
    """Replace the margins of ``measure`` by sums of the most detailed cells."""
    detail = cells.filter(pl.all_horizontal(pl.col(name).is_not_null() for name in dims))
    part = [part_column] if part_column else []
    sums = []
    for level in range(1 << len(dims)):
        kept = [name for bit, name in enumerate(dims) if level >> bit & 1]
        dropped = [name for name in dims if name not in kept]
        grouped = detail.group_by([*part, *kept]).agg(pl.col(measure).sum().alias("_sum"))
        sums.append(grouped.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in dropped))
    keys = [*part, *dims]
    table = pl.concat([frame.select(*keys, "_sum") for frame in sums])
    return (
        cells.join(table, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("_sum").fill_null(0).alias(measure))
        .drop("_sum")
    )


def _edges(cells: pl.DataFrame, keys: Sequence[str]) -> tuple[IntArray, IntArray, IntArray]:
    """(child, parent, key index) for every cell and every non-null key column of it."""
    parents = cells.select(*keys, pl.col(_CELL).alias("_parent"))
    pieces = []
    for index, name in enumerate(keys):
        children = cells.filter(pl.col(name).is_not_null()).select(
            *[pl.lit(None, dtype=pl.String).alias(k) if k == name else pl.col(k) for k in keys],
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
        DataError: bad counts, duplicate cells, missing margin levels, or counts that break
            the relations (e.g. a margin larger than the sum of its cells).
    """
    whole = _collect(counts)
    measures, margins = _resolve_measures(whole.columns, rules)
    dims = _resolve_dimensions(whole, measures, rules)
    frames: dict[str | None, pl.DataFrame] = {None: whole}
    for part_name, part_frame in (parts or {}).items():
        frames[part_name] = _collect(part_frame)
    use_parts = bool(parts)
    if use_parts and any(part_column in frame.columns for frame in frames.values()):
        raise DataError(
            f"count table: already has a column {part_column!r}; name the parts otherwise"
        )
    normalised = []
    for name, frame in frames.items():
        shown = name or label
        missing = [column for column in (*dims, *measures) if column not in frame.columns]
        if missing:
            raise InputError(f"count table {shown}: lacks the column(s) {', '.join(missing)}")
        _check_frame(frame, shown, dims, measures)
        selected = frame.select(
            *[pl.col(d).cast(pl.String) for d in dims],
            *[pl.col(m).cast(pl.Int64) for m in measures],
        )
        if use_parts:
            selected = selected.with_columns(pl.lit(name, dtype=pl.String).alias(part_column))
        normalised.append(selected)
    part = part_column if use_parts else None
    labels: list[str | None] = list(frames) if use_parts else [None]
    cells = _complete_grid(pl.concat(normalised), dims, part, measures, labels)
    for measure, margin in zip(measures, margins, strict=True):
        if margin == "sum_of_cells":
            cells = _sums_of_cells(cells, dims, part, measure)
    keys = [*([part] if part else []), *dims]
    cells = (
        cells.sort(keys, nulls_last=False)
        .with_row_index(_CELL)
        .with_columns(pl.col(_CELL).cast(pl.Int64))
    )
    child, parent, key = _edges(cells, keys)
    # One relation group per (parent cell, key column): the parent and its children over it.
    group_ids, edge_group = np.unique(parent * max(len(keys), 1) + key, return_inverse=True)
    group_parent = (group_ids // max(len(keys), 1)).astype(np.int64)
    group_key = (group_ids % max(len(keys), 1)).astype(np.int64)
    values = np.vstack([cells.get_column(m).to_numpy().astype(np.int64) for m in measures])
    equal, additive_keys = _relations(
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
    )
    return Lattice(
        cells=cells.drop(_CELL),
        dimensions=dims,
        part_column=part,
        whole_label=label,
        measures=measures,
        margins=margins,
        values=values,
        primary=_primary(values, rules),
        edge_child=child,
        edge_group=edge_group.astype(np.int64),
        group_parent=group_parent,
        group_key=group_key,
        group_equal=equal,
        additive_keys=additive_keys,
        dominance=_dominance(values),
        dropped_columns=tuple(c for c in whole.columns if c not in (*dims, *measures)),
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
) -> tuple[BoolArray, tuple[tuple[str, ...], ...]]:
    """Check the relations on the exact counts; decide which groups are equalities."""
    groups = group_parent.size
    equal = np.zeros((len(measures), groups), dtype=bool)
    additive_keys = []
    # Parts of a period share clients, so over the part column a margin is always a union.
    regular = group_key != (list(keys).index(part) if part else -1)
    for m, (measure, margin) in enumerate(zip(measures, margins, strict=True)):
        child_values = values[m, child]
        sums = np.bincount(edge_group, weights=child_values, minlength=groups)
        largest = np.zeros(groups, dtype=np.int64)
        np.maximum.at(largest, edge_group, child_values)
        parent_values = values[m, group_parent]
        is_sum = sums == parent_values
        if margin != "union":
            broken = regular & ~is_sum
            _raise_broken(cells, keys, measure, broken, group_parent, group_key, "equal to the sum")
        broken = ~(regular & (margin != "union")) & (
            (parent_values < largest) | (parent_values > sums)
        )
        _raise_broken(
            cells,
            keys,
            measure,
            broken,
            group_parent,
            group_key,
            "between the largest cell and the sum",
        )
        additive = []
        for index, name in enumerate(keys):
            in_key = group_key == index
            forced = name != part and margin != "union"
            if forced or bool(np.all(is_sum[in_key])):
                equal[m, in_key] = True
                additive.append(name)
        additive_keys.append(tuple(additive))
    return equal, tuple(additive_keys)


def _raise_broken(
    cells: pl.DataFrame,
    keys: Sequence[str],
    measure: str,
    broken: BoolArray,
    group_parent: IntArray,
    group_key: IntArray,
    expected: str,
) -> None:
    if not broken.any():
        return
    first = int(np.argmax(broken))
    row = cells.row(int(group_parent[first]), named=True)
    where = ", ".join(f"{k}={row[k]}" for k in keys if row[k] is not None) or "grand total"
    raise DataError(
        f"count table: {measure}: {int(broken.sum())} margin(s) over {keys[group_key[first]]} "
        f"not {expected} of their cells (first at {where})"
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
    hidden = np.broadcast_to(suppressed, lower.shape)
    lower = np.where(hidden, 0.0, lower)
    upper = np.where(hidden, np.inf, upper)
    return lower, upper


@dataclass(frozen=True)
class _System:
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


def build_system(lattice: Lattice, suppressed: BoolArray, rules: DisclosureRules) -> _System:
    """The linear programme's constraints; one variable per (measure, cell)."""
    cells, count = lattice.size, len(lattice.measures)
    inequalities, equalities = _Rows(), _Rows()
    edge_parent = lattice.group_parent[lattice.edge_group]
    for m in range(count):
        offset = m * cells
        for is_equal, target in ((False, inequalities), (True, equalities)):
            # parent - sum(children) <= 0 (union) or == 0 (additive): one row per group.
            chosen = lattice.group_equal[m] == is_equal
            number = np.cumsum(chosen) - 1
            on_edges = chosen[lattice.edge_group]
            target.add(
                np.concatenate([number[chosen], number[lattice.edge_group[on_edges]]]),
                offset
                + np.concatenate([lattice.group_parent[chosen], lattice.edge_child[on_edges]]),
                np.concatenate([np.ones(int(chosen.sum())), -np.ones(int(on_edges.sum()))]),
                np.zeros(int(chosen.sum())),
            )
        # child - parent <= 0 in union groups (non-negativity implies it in additive ones).
        union_edges = ~lattice.group_equal[m][lattice.edge_group]
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
    return _System(a_ub, inequalities.vector(), a_eq, equalities.vector(), bounds)


def _top_measure(lattice: Lattice) -> int | None:
    count = len(lattice.measures)
    for top in range(count):
        if all((other, top) in lattice.dominance for other in range(count) if other != top):
            return top
    return None


def interval(system: _System, variable: int) -> tuple[float, float, set[int]]:
    """Smallest and largest feasible value of one variable, and the variables whose published
    bounds limit it (non-zero reduced cost at either optimum)."""
    size = system.bounds.shape[0]
    found: list[float] = []
    binding: set[int] = set()
    for sign in (1.0, -1.0):
        objective = np.zeros(size)
        objective[variable] = sign
        result = linprog(
            objective,
            A_ub=system.a_ub if system.a_ub.shape[0] else None,
            b_ub=system.b_ub if system.a_ub.shape[0] else None,
            A_eq=system.a_eq if system.a_eq.shape[0] else None,
            b_eq=system.b_eq if system.a_eq.shape[0] else None,
            bounds=system.bounds,
            method="highs",
        )
        if result.status == 3:
            found.append(-sign * math.inf)
            continue
        if result.status != 0:
            raise DataError(f"disclosure audit: the linear programme failed ({result.message})")
        found.append(sign * float(result.fun))
        reduced = np.abs(result.lower.marginals) + np.abs(result.upper.marginals)
        binding.update(int(v) for v in np.flatnonzero(reduced > _TOLERANCE))
    return found[0], found[1], binding


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
    """

    cells: pl.DataFrame
    primary_published: int
    passed: bool

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
            "primary_published": self.primary_published,
            "cells_audited": self.cells.height,
            "cells_failed": self.failures().height,
            "cells": rows,
        }


def required_width(lattice: Lattice, rules: DisclosureRules) -> FloatArray:
    """The protection interval each value needs: max(min_width, percent % of the value)."""
    relative = lattice.values * (rules.protection_percent / 100.0)
    return np.asarray(np.maximum(relative, float(rules.min_width)), dtype=np.float64)


def audit_lattice(lattice: Lattice, suppressed: BoolArray, rules: DisclosureRules) -> AuditResult:
    """Audit a suppression pattern (a boolean per cell) on a prepared lattice."""
    system = build_system(lattice, suppressed, rules)
    need = required_width(lattice, rules)
    required = lattice.primary | (suppressed if rules.protect_secondary else False)
    hidden = np.flatnonzero(suppressed)
    records: list[tuple[int, str, str, float, float, float | None]] = []
    for cell in hidden:
        for m, measure in enumerate(lattice.measures):
            low, high, _ = interval(system, m * lattice.size + int(cell))
            reason = "primary" if lattice.primary[cell] else "secondary"
            wanted = float(need[m, cell]) if required[cell] else None
            records.append((int(cell), measure, reason, low, high, wanted))
    return _result(lattice, suppressed, records)


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

    Returns:
        The feasible interval of every suppressed cell and whether it is wide enough.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure import DisclosureRules
        >>> counts = pl.DataFrame({"care_form": ["a", "b", "c", None],
        ...                        "registrations": [3, 20, 30, 53]})
        >>> rules = DisclosureRules(rounding_base=1)
        >>> result = audit(counts, pl.DataFrame({"care_form": ["a"]}), rules)
        >>> result.passed, result.cells.row(0, named=True)["width"]
        (False, 0.0)
    """
    from factlab.disclosure import DisclosureRules

    rules = rules or DisclosureRules()
    lattice = prepare(counts, rules, parts=parts, label=label, part_column=part_column)
    return audit_lattice(lattice, mask_of(lattice, suppressed), rules)


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
