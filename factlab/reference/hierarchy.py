"""Hierarchies as configuration: the codes of a dimension grouped level by level.

A hierarchy names a *dimension* (its leaves: municipality, care form, provider, ...) and its
*levels*, lowest first; each level maps its groups to their children on the level below::

    [hierarchy.region]
    dimension = "municipality"
    levels = ["purchasing_region", "youth_care_region", "province"]

    [hierarchy.region.purchasing_region]
    "Noord- en Midden-Drenthe" = ["Assen", "Tynaarlo", ...]
    "Zuid-Drenthe" = ["Emmen", "Coevorden", ...]

Each level becomes a dimension of a count (``purchasing_region``), computed from the leaf of
each row, so its totals are unions of clients; and the hierarchy's name (``region``) asks for
every level stacked in the leaf's column, the form in which :mod:`factlab.disclosure` protects
a hierarchical table as one. The declaration must be a tree: every child in exactly one group,
every group of a level a child on the level above (up to the top level), and no code on two
levels. What breaks this is refused with the codes named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from factlab import schema
from factlab.errors import ConfigError

__all__ = [
    "BASE_DIMENSIONS",
    "ReferenceHierarchy",
    "Resolver",
    "hierarchy_from_mapping",
    "hierarchy_problems",
]

#: Dimensions of a count a hierarchy can group (the leaves' dimension).
BASE_DIMENSIONS: Final = (
    "municipality",
    "care_form",
    "financing",
    "domain",
    "product_category",
    "provider",
)
#: Names a level cannot take: dimensions of a count and words with a meaning in the table,
#: and the columns of linked rows, count tables and reports (a level becomes a column beside
#: them: ``period`` is the part column, ``providers`` the distribution's dimension).
RESERVED: Final = frozenset(
    {
        *BASE_DIMENSIONS,
        *schema.PSEUDONYMISED_COLUMNS,
        *schema.INPUT_FIELDS,
        "sex",
        "birth_year",
        "age_group",
        "unknown",
        "total",
        "dimension",
        "levels",
        "end_date",
        "period",
        "providers",
        "provider_a",
        "provider_b",
        "unique_clients",
        "unique_clients_lower",
        "unique_clients_upper",
        "registrations",
        "trajectories",
        "sum_of_cells",
        "shared_clients",
        "rows",
        "rows_without_valid_bsn",
        "rows_sentinel",
    }
)

#: Resolves a hierarchy's leaves as written (e.g. municipality names) to their labels; returns
#: the labels found and a problem line per leaf that cannot be resolved.
Resolver = Callable[[Sequence[str], str], tuple[dict[str, str], list[str]]]


@dataclass(frozen=True)
class ReferenceHierarchy:
    """A validated hierarchy of one dimension's codes (built by :func:`hierarchy_from_mapping`).

    Attributes:
        name: its name in the configuration (``region``).
        dimension: the dimension of its leaves (``municipality``).
        levels: the level names, lowest first.
        groups: per level, group -> its children on the level below (in declared order).

    Example:
        >>> regions = hierarchy_from_mapping("region", {
        ...     "dimension": "care_form", "levels": ["care_group"],
        ...     "care_group": {"without stay": ["ambulant", "day"], "with stay": ["verblijf"]}})
        >>> regions.leaf_map("care_group")["day"]
        'without stay'
        >>> regions.declared()["without stay"]
        ('ambulant', 'day')
    """

    name: str
    dimension: str
    levels: tuple[str, ...]
    groups: tuple[Mapping[str, tuple[str, ...]], ...]

    @property
    def leaves(self) -> tuple[str, ...]:
        """The leaves, in declared order."""
        return tuple(child for children in self.groups[0].values() for child in children)

    def leaf_map(self, level: str) -> dict[str, str]:
        """Each leaf -> its group on ``level``."""
        index = self.levels.index(level)
        mapping = {leaf: leaf for leaf in self.leaves}
        for depth in range(index + 1):
            parent = {child: group for group, kids in self.groups[depth].items() for child in kids}
            mapping = {leaf: parent[code] for leaf, code in mapping.items()}
        return mapping

    def declared(self) -> dict[str, tuple[str, ...]]:
        """The whole tree as parent -> children, as disclosure rules declare a hierarchy."""
        return {group: kids for level in self.groups for group, kids in level.items()}

    def to_dict(self) -> dict[str, Any]:
        """The hierarchy as JSON-ready data (for the metadata of outputs)."""
        return {
            "dimension": self.dimension,
            "levels": list(self.levels),
            **{
                level: {group: list(kids) for group, kids in groups.items()}
                for level, groups in zip(self.levels, self.groups, strict=True)
            },
        }


def hierarchy_from_mapping(
    name: str,
    data: Any,
    *,
    path: str | None = None,
    resolve: Resolver | None = None,
) -> ReferenceHierarchy:
    """Check one declared hierarchy and build it.

    Args:
        name: the hierarchy's name.
        data: its table: ``dimension``, ``levels`` and one table per level.
        path: the path of the table in its file, for messages (default ``hierarchy.<name>``).
        resolve: turns the leaves as written into labels (the municipality table does this for
            municipalities: old names and codes become the reference year's names).

    Raises:
        ConfigError: every problem at once, each with its path: a missing or unknown field, a
            level without a table, a child in two groups, a group of one level that no group of
            the level above holds, a child that is no group of the level below, a code on two
            levels, a leaf that cannot be resolved.

    Example:
        >>> hierarchy_from_mapping("care", {"dimension": "care_form", "levels": ["group"],
        ...     "group": {"A": ["x"], "B": ["x"]}})  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.ConfigError: reference: 1 problem(s): hierarchy.care.group.B: ...
    """
    where = path or f"hierarchy.{name}"
    hierarchy, problems = _build(name, data, where, resolve)
    if problems or hierarchy is None:
        raise ConfigError("reference", problems)
    return hierarchy


def hierarchy_problems(
    name: str, data: Any, *, path: str, resolve: Resolver | None = None
) -> tuple[ReferenceHierarchy | None, list[str]]:
    """The hierarchy and every problem of its declaration (for a loader that collects them)."""
    return _build(name, data, path, resolve)


def _build(
    name: str, data: Any, where: str, resolve: Resolver | None
) -> tuple[ReferenceHierarchy | None, list[str]]:
    if not isinstance(data, Mapping):
        return None, [f"{where}: must be a table with dimension, levels and a table per level"]
    problems: list[str] = []
    dimension = data.get("dimension")
    if dimension not in BASE_DIMENSIONS:
        problems.append(f"{where}.dimension: must be one of {', '.join(BASE_DIMENSIONS)}")
    levels = data.get("levels")
    if (
        not isinstance(levels, list)
        or not levels
        or not all(isinstance(level, str) and level for level in levels)
    ):
        return None, [*problems, f"{where}.levels: must be a non-empty list of level names"]
    for level in sorted({level for level in levels if levels.count(level) > 1}):
        problems.append(f"{where}.levels: {level} is named twice")
    for level in levels:
        if level in RESERVED or level.endswith("_status") or not level.isidentifier():
            problems.append(
                f"{where}.levels: {level!r} cannot name a level (a dimension or reserved word, "
                "or not a plain name)"
            )
    for key in data:
        if key not in ("dimension", "levels", *levels):
            problems.append(f"{where}.{key}: not a level of this hierarchy (levels: {levels})")
    tables: list[dict[str, tuple[str, ...]]] = []
    for level in levels:
        declared = data.get(level)
        if not isinstance(declared, Mapping) or not declared:
            problems.append(f"{where}.{level}: missing; give a table of group = [children]")
            tables.append({})
            continue
        groups: dict[str, tuple[str, ...]] = {}
        for group, children in declared.items():
            if isinstance(children, str) or not isinstance(children, list) or not children:
                problems.append(f"{where}.{level}.{group}: must be a non-empty list of codes")
                continue
            if not all(isinstance(child, str) and child.strip() for child in children):
                problems.append(f"{where}.{level}.{group}: a child must be non-empty text")
                continue
            groups[group] = tuple(child.strip() for child in children)
        tables.append(groups)
    if problems:
        return None, problems
    if resolve is not None:
        written = [child for kids in tables[0].values() for child in kids]
        labels, unresolved = resolve(written, f"{where}.{levels[0]}")
        problems.extend(unresolved)
        tables[0] = {
            group: tuple(labels.get(child, child) for child in kids)
            for group, kids in tables[0].items()
        }
    problems.extend(_tree_problems(where, levels, tables))
    if problems:
        return None, problems
    frozen = tuple(MappingProxyType(dict(table)) for table in tables)
    return ReferenceHierarchy(name, str(dimension), tuple(levels), frozen), []


def _tree_problems(
    where: str, levels: list[str], tables: list[dict[str, tuple[str, ...]]]
) -> list[str]:
    """What makes the declared levels not a tree, each with its path and the codes named."""
    problems: list[str] = []
    seen_on: dict[str, str] = {}
    leaves = [child for kids in tables[0].values() for child in kids]
    for leaf in leaves:
        seen_on.setdefault(leaf, "leaves")
    for index, (level, table) in enumerate(zip(levels, tables, strict=True)):
        parent_of: dict[str, str] = {}
        for group, children in table.items():
            for child in children:
                if child in parent_of:
                    problems.append(
                        f"{where}.{level}.{group}: {child} is already a child of "
                        f"{parent_of[child]} (a code has one group on each level)"
                    )
                else:
                    parent_of[child] = group
            if group in seen_on:
                problems.append(
                    f"{where}.{level}.{group}: {group} is also a code on {seen_on[group]} "
                    "(a code may stand on one level only)"
                )
            else:
                seen_on[group] = level
        if index > 0:
            below = tables[index - 1]
            unknown = [child for child in parent_of if child not in below]
            if unknown:
                problems.append(
                    f"{where}.{level}: {', '.join(unknown)} not group(s) of {levels[index - 1]}"
                )
            orphans = [group for group in below if group not in parent_of]
            if orphans:
                problems.append(
                    f"{where}.{level}: {levels[index - 1]} group(s) {', '.join(orphans)} "
                    f"have no group on {level}"
                )
    return problems
