"""Reference data as dimensions of a count: the values mapped, the levels derived, stacked.

:func:`factlab.analysis.counts.count` uses these with ``reference=``:

1. :func:`expand` turns a hierarchy's name in ``by`` into its leaf dimension and its levels;
2. :func:`prepare` maps the municipalities as delivered to those of the reference year, and
   refuses, all at once, values that no hierarchy or registry places;
3. :func:`derive` gives each level's value from its leaf, as a Polars expression. A level of the
   municipality is derived from the client's municipality *after* the rule that a client who
   moved counts in their most recent municipality, so each client has one purchasing region
   as they have one municipality; a level of any other dimension (care form, provider) is
   derived per row, so a client in two groups counts in both and a group's total is the union
   of its clients;
4. :func:`stack` puts every level of a hierarchy in the leaf's column, one row per code of
   every level, the table :mod:`factlab.disclosure` protects as one.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import polars as pl

from factlab.errors import ConfigError, DataError, FactlabWarning
from factlab.periods import Period, active_in
from factlab.reference.config import PROVIDER_GROUP, Reference
from factlab.reference.hierarchy import ReferenceHierarchy
from factlab.reference.municipalities import municipality_mapping, shown_value
from factlab.reference.providers import provider_key

__all__ = [
    "Derivation",
    "declared_for",
    "derivations",
    "derive",
    "derived_dimensions",
    "expand",
    "prepare",
    "stack",
    "tree_of",
]

#: Shown for a missing value, as count shows it.
UNKNOWN: Final = "unknown"
_SHOWN: Final = 20


@dataclass(frozen=True)
class Derivation:
    """How one derived dimension follows from its leaf dimension.

    Attributes:
        base: the leaf dimension (``municipality``, ``care_form``, ``provider``).
        mapping: leaf value -> value of this dimension (for providers: keyed by
            :func:`factlab.reference.providers.provider_key`).
    """

    base: str
    mapping: dict[str, str]


def derivations(reference: Reference) -> dict[str, Derivation]:
    """Every dimension ``reference`` adds, and how it is derived.

    Example:
        >>> from factlab.reference.config import reference_from_mapping
        >>> reference = reference_from_mapping({"version": 1, "reference_year": 2024,
        ...     "hierarchy": {"care": {"dimension": "care_form", "levels": ["care_group"],
        ...         "care_group": {"outpatient": ["ambulant"], "stay": ["verblijf"]}}}})
        >>> derivations(reference)["care_group"]
        Derivation(base='care_form', mapping={'ambulant': 'outpatient', 'verblijf': 'stay'})
    """
    found = {
        level: Derivation(hierarchy.dimension, hierarchy.leaf_map(level))
        for hierarchy in reference.hierarchies.values()
        for level in hierarchy.levels
    }
    if reference.providers is not None:
        groups = reference.providers.groups()
        found[PROVIDER_GROUP] = Derivation(
            "provider", {key: groups[code] for key, code in reference.providers.lookup().items()}
        )
    return found


def expand(
    by: Sequence[str], reference: Reference | None
) -> tuple[tuple[str, ...], tuple[ReferenceHierarchy, ...]]:
    """The dimensions to count for ``by``, and the hierarchies to stack afterwards.

    A hierarchy's name stands for its leaf dimension and all its levels.

    Raises:
        ConfigError: a hierarchy's dimension or levels are also named on their own.

    Example:
        >>> expand(["care_form"], None)
        (('care_form',), ())
    """
    if reference is None:
        return tuple(by), ()
    dims: list[str] = []
    stacks: list[ReferenceHierarchy] = []
    problems: list[str] = []
    for name in by:
        hierarchy = reference.hierarchies.get(name)
        if hierarchy is None:
            dims.append(name)
            continue
        clash = [dim for dim in (hierarchy.dimension, *hierarchy.levels) if dim in by]
        if clash:
            problems.append(
                f"by: {name} already counts {', '.join(clash)}; name the hierarchy or its "
                "dimensions, not both"
            )
        dims.extend((hierarchy.dimension, *hierarchy.levels))
        stacks.append(hierarchy)
    if problems:
        raise ConfigError("count", problems)
    return tuple(dims), tuple(stacks)


def prepare(
    frame: pl.LazyFrame,
    reference: Reference,
    dims: Sequence[str],
    *,
    source: str = "data",
    span: tuple[date, date] | None = None,
) -> pl.LazyFrame:
    """``frame`` with its municipalities those of the reference year, checked for ``dims``.

    Args:
        frame: the linked rows.
        reference: the reference data.
        dims: the dimensions to count (after :func:`expand`).
        source: the rows' file name, for messages.
        span: the first and last day counted; providers in the data that the registry has not
            contracted at any time in it are warned about (``FactlabWarning``).

    Raises:
        DataError: every value the reference cannot place, at once: municipalities the table
            does not know (with their first row), leaves no hierarchy holds, providers the
            registry does not know.
    """
    derived = derivations(reference)
    wanted = {dim: derived[dim] for dim in dims if dim in derived}
    names = frame.collect_schema().names()
    problems: list[str] = []
    if "municipality" in names and (
        "municipality" in dims or any(d.base == "municipality" for d in wanted.values())
    ):
        # Unknown names are reported with the problems below, all at once.
        mapped, unplaced = municipality_mapping(
            frame, "municipality", reference.municipalities, reference.year, source=source
        )
        problems += [unplaced] if unplaced is not None else []
        frame = frame.with_columns(
            pl.col("municipality")
            .cast(pl.String)
            .replace_strict(mapped.get_column("value"), mapped.get_column("name"), default=None)
            .alias("municipality")
        )
    # the distinct values of every base column in one pass over the rows, not one per column
    bases = sorted({d.base for d in wanted.values() if d.base in names})
    distinct = dict(zip(bases, pl.collect_all([_distinct(frame, b) for b in bases]), strict=True))
    for dim, derivation in wanted.items():
        base = derivation.base
        if base not in names:
            continue  # count refuses a dimension whose leaf is not in the data
        present = distinct[base]
        keys = (
            present.select(provider_key(pl.col("value"))).to_series()
            if base == "provider"
            else present.get_column("value")
        )
        missing = present.filter(~keys.is_in(list(derivation.mapping)))
        what = (
            "not a provider of the registry"
            if dim == PROVIDER_GROUP
            else f"in no group of {dim} (hierarchy of {base})"
        )
        problems.extend(
            f"{source}: row {row['first'] + 1}, column {base}: "
            f"{shown_value(row['value'], row['rows'])} ({row['rows']} row(s)): {what}"
            for row in missing.head(_SHOWN).iter_rows(named=True)
        )
        if missing.height > _SHOWN:
            problems.append(
                f"{source}: column {base}: and {missing.height - _SHOWN} more value(s) {what}"
            )
        if dim == PROVIDER_GROUP and missing.is_empty() and reference.providers is not None:
            _warn_uncontracted(frame, reference, names, source, span)
    if problems:
        raise DataError("; ".join(problems))
    return frame


def derived_dimensions(
    dims: Sequence[str],
    derived: Mapping[str, Derivation],
    *,
    municipality: pl.Expr,
    provider: str,
) -> tuple[list[str], dict[str, pl.Expr]]:
    """What a count needs for the derived dimensions among ``dims``: the columns they are read
    from, and an expression for each.

    A level of the municipality (a region) follows ``municipality`` — the count passes each
    client's most recent municipality, so a client who moved counts in one region, as in one
    municipality; a group of care forms follows the row's care form; a provider group the row's
    provider, read from the count's own ``provider`` column.

    Example:
        >>> import polars as pl
        >>> rules = {"care_group": Derivation("care_form", {"ambulant": "home"})}
        >>> columns, exprs = derived_dimensions(
        ...     ["care_group", "sex"], rules, municipality=pl.col("municipality"), provider="_p")
        >>> columns, list(exprs)
        (['care_form'], ['care_group'])
    """
    columns: list[str] = []
    expressions: dict[str, pl.Expr] = {}
    for dim in dims:
        rule = derived.get(dim)
        if rule is None:
            continue
        column = provider if rule.base == "provider" else rule.base
        columns.append(column)
        leaf = municipality if rule.base == "municipality" else pl.col(column)
        expressions[dim] = derive(rule, leaf).alias(dim)
    return list(dict.fromkeys(columns)), expressions


def derive(derivation: Derivation, leaf: pl.Expr) -> pl.Expr:
    """A derived dimension's value from its leaf's value (null and unmapped: ``unknown``).

    Example:
        >>> import polars as pl
        >>> rule = Derivation("care_form", {"ambulant": "outpatient"})
        >>> pl.select(derive(rule, pl.lit(pl.Series(["ambulant", None])))).to_series().to_list()
        ['outpatient', 'unknown']
    """
    text = leaf.cast(pl.String)
    if derivation.base == "provider":
        text = provider_key(text)
    return text.replace_strict(derivation.mapping, default=UNKNOWN, return_dtype=pl.String)


def stack(table: pl.DataFrame, hierarchy: ReferenceHierarchy) -> pl.DataFrame:
    """Every level of ``hierarchy`` in its leaf's column: a row per code of every level.

    ``table`` is a count table by the leaf dimension, the levels and any other dimensions (null
    = total over a dimension); the rows kept are those where at most one of the hierarchy's
    columns is not null, each a union of clients as counted. ``unknown`` stays a leaf only.

    Example:
        >>> import polars as pl
        >>> table = pl.DataFrame({"care_form": ["a", "b", None, "a", "b", None],
        ...     "care_group": [None, None, "g", "g", "g", None],
        ...     "unique_clients": [3, 4, 6, 3, 4, 6]})
        >>> from factlab.reference.hierarchy import hierarchy_from_mapping
        >>> rule = hierarchy_from_mapping("care", {"dimension": "care_form",
        ...     "levels": ["care_group"], "care_group": {"g": ["a", "b"]}})
        >>> stack(table, rule).rows()
        [('a', 3), ('b', 4), ('g', 6), (None, 6)]
    """
    columns = [hierarchy.dimension, *hierarchy.levels]
    others = [name for name in table.columns if name not in columns]
    parts = []
    for index, name in enumerate(columns):
        alone = pl.col(name).is_not_null()
        for other in columns:
            if other != name:
                alone = alone & pl.col(other).is_null()
        if index > 0:
            alone = alone & (pl.col(name) != UNKNOWN)
        parts.append(
            table.filter(alone).select(pl.col(name).cast(pl.String).alias(columns[0]), *others)
        )
    totals = table.filter(pl.all_horizontal(pl.col(name).is_null() for name in columns))
    parts.append(totals.select(pl.col(columns[0]).cast(pl.String), *others))
    stacked = pl.concat(parts, how="vertical")
    # A group nobody is in has no row in a count table; disclosure needs a row for every group.
    present = set(stacked.get_column(columns[0]).drop_nulls().to_list())
    empty = [group for group in hierarchy.declared() if group not in present]
    if empty:
        zeros = pl.DataFrame({columns[0]: empty}).with_columns(
            # Measures are 0; dimensions (text, and birth_year) are totals (null).
            pl.lit(0 if dtype.is_numeric() and name != "birth_year" else None, dtype=dtype).alias(
                name
            )
            for name, dtype in stacked.schema.items()
            if name != columns[0]
        )
        stacked = pl.concat([stacked, zeros.select(stacked.columns)], how="vertical")
    return stacked


def tree_of(
    hierarchy: ReferenceHierarchy, tables: Sequence[pl.DataFrame]
) -> dict[str, tuple[str, ...]]:
    """The tree to declare for ``hierarchy``'s stacked count tables (a period and its parts).

    ``unknown`` is declared as a leaf at the top level when any of ``tables`` holds it: a
    client without a municipality in one half only is ``unknown`` in that half alone.

    Example:
        >>> import polars as pl
        >>> from factlab.reference.hierarchy import hierarchy_from_mapping
        >>> care = hierarchy_from_mapping("care", {"dimension": "care_form",
        ...     "levels": ["care_group"], "care_group": {"stay": ["verblijf"]}})
        >>> whole = pl.DataFrame({"care_form": ["verblijf", "stay", None]})
        >>> half = pl.DataFrame({"care_form": ["verblijf", "stay", "unknown", None]})
        >>> tree_of(care, [whole]), tree_of(care, [whole, half])
        ({'stay': ('verblijf',)}, {'stay': ('verblijf',), 'unknown': ()})
    """
    column = hierarchy.dimension
    unknown = any(
        column in table.columns and table.get_column(column).cast(pl.String).eq(UNKNOWN).any()
        for table in tables
    )
    return dict(hierarchy.declared()) | ({UNKNOWN: ()} if unknown else {})


def declared_for(
    table: pl.DataFrame,
    reference: Reference,
    *,
    hierarchies: Sequence[str] | None = None,
    parts: Sequence[pl.DataFrame] = (),
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The hierarchies a stacked count table needs declared for its protection.

    Args:
        table: the stacked count table.
        reference: the reference data.
        hierarchies: the names of the hierarchies the table was counted by (a count's ``by``);
            None: every hierarchy whose leaf dimension is a column of ``table`` holding one of
            its groups and no value that is not one of its codes (or ``unknown``).
        parts: the count tables of the parts of its period: ``unknown`` is declared (as a leaf
            at the top level) when ``table`` or any part holds it.

    Raises:
        ConfigError: two hierarchies over one column both fit ``table`` and ``hierarchies``
            does not say which one it was counted by.

    Example:
        >>> import polars as pl
        >>> from factlab.reference.config import reference_from_mapping
        >>> reference = reference_from_mapping({"version": 1, "reference_year": 2024,
        ...     "hierarchy": {"care": {"dimension": "care_form", "levels": ["care_group"],
        ...         "care_group": {"stay": ["verblijf"]}}}})
        >>> table = pl.DataFrame({"care_form": ["verblijf", "stay", "unknown", None]})
        >>> declared_for(table, reference)
        {'care_form': {'stay': ('verblijf',), 'unknown': ()}}
    """
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    chosen: dict[str, str] = {}
    problems: list[str] = []
    for hierarchy in reference.hierarchies.values():
        column = hierarchy.dimension
        if column not in table.columns:
            continue
        if hierarchies is not None:
            if hierarchy.name not in hierarchies:
                continue
        else:
            # It fits when the column holds a group of it and nothing but its codes.
            present = set(table.get_column(column).cast(pl.String).drop_nulls().to_list())
            codes = {*hierarchy.declared(), *hierarchy.leaves, UNKNOWN}
            if not present.intersection(hierarchy.declared()) or not present <= codes:
                continue
        if column in chosen:
            problems.append(
                f"{column}: hierarchies {chosen[column]} and {hierarchy.name} both fit the "
                "count table; say which one it was counted by (its metadata's by)"
            )
            continue
        chosen[column] = hierarchy.name
        found[column] = tree_of(hierarchy, [table, *parts])
    if problems:
        raise ConfigError("reference", problems)
    return found


def _distinct(frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """The distinct non-null values of ``column`` (as text), each with its first row and count
    (a plan: :func:`prepare` collects those of all columns at once)."""
    return (
        frame.select(pl.col(column).cast(pl.String).alias("value"))
        .with_row_index("row")
        .filter(pl.col("value").is_not_null())
        .group_by("value")
        .agg(pl.col("row").min().alias("first"), pl.len().alias("rows"))
        .sort("first")
    )


def _warn_uncontracted(
    frame: pl.LazyFrame,
    reference: Reference,
    names: list[str],
    source: str,
    span: tuple[date, date] | None,
) -> None:
    """Warn about providers with rows in ``span`` that the registry has not contracted in it."""
    registry = reference.providers
    if span is None or registry is None:
        return
    if "start_date" in names and "end_date" in names:
        frame = frame.filter(active_in(Period("span", span[0], span[1])))
    keys = _distinct(frame, "provider").collect().select(provider_key(pl.col("value"))).to_series()
    lookup = registry.lookup()
    codes = sorted({lookup[key] for key in keys.to_list() if key in lookup})
    absent = registry.not_contracted(codes, *span)
    if absent:
        warnings.warn(
            f"{source}: provider(s) {', '.join(absent)} have rows between {span[0]} and "
            f"{span[1]} but no contract in that time in {registry.source}",
            FactlabWarning,
            stacklevel=4,
        )
