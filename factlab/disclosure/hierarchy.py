"""Declared hierarchies of a dimension: codes grouped into larger ones (municipality -> region).

A hierarchy is a plain mapping *parent -> children* per dimension, as a rules file declares it
(``[hierarchy.municipality]``, see ``docs/disclosure.md``) or as reference data give it::

    {"municipality": {"Drenthe": ["Noord-Midden", "Zuid"],
                      "Noord-Midden": ["Assen", "Tynaarlo"], "Zuid": ["Emmen", "Coevorden"]}}

A code without a parent sits at the top level, just below the dimension's total (null in a count
table); a code without children is a leaf. ``code = []`` declares a leaf at the top level (e.g.
``unknown``). The mapping must be a tree: one parent per code, no cycle. A count table with a
hierarchical dimension has rows for the codes of every level in that one column, so each cell
is one row and one variable of the audit, however many levels it is a margin of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import polars as pl

from factlab.errors import ConfigError

__all__ = [
    "Hierarchy",
    "freeze_hierarchies",
    "hierarchy_problems",
    "roll_up",
    "tree",
]

#: A hierarchy as declared: parent code -> its child codes.
Declared = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Hierarchy:
    """A validated tree of the codes of one dimension (built by :func:`tree`).

    Attributes:
        dimension: the dimension it groups.
        parent: each code that has a parent -> that parent (top-level codes are absent).
        children: each code with children -> its children, as declared.
        codes: every code, depth first: a group, then its children, groups in declared order.

    Example:
        >>> regions = tree("municipality", {"North": ["Assen", "Tynaarlo"], "South": ["Emmen"]})
        >>> regions.codes
        ('North', 'Assen', 'Tynaarlo', 'South', 'Emmen')
        >>> regions.ancestors("Assen"), regions.is_leaf("North")
        (('North',), False)
    """

    dimension: str
    parent: Mapping[str, str]
    children: Mapping[str, tuple[str, ...]]
    codes: tuple[str, ...]

    def ancestors(self, code: str) -> tuple[str, ...]:
        """The groups above ``code``, nearest first (not the dimension's total)."""
        found: list[str] = []
        while code in self.parent:
            code = self.parent[code]
            found.append(code)
        return tuple(found)

    def is_leaf(self, code: str) -> bool:
        """Whether ``code`` has no children."""
        return not self.children.get(code)

    @property
    def leaves(self) -> tuple[str, ...]:
        """The codes without children, in tree order."""
        return tuple(code for code in self.codes if self.is_leaf(code))

    @property
    def groups(self) -> tuple[str, ...]:
        """The codes with children, in tree order."""
        return tuple(code for code in self.codes if not self.is_leaf(code))

    def rank(self) -> dict[str, int]:
        """Position of every code in tree order (how a protected table sorts the dimension)."""
        return {code: index for index, code in enumerate(self.codes)}


def hierarchy_problems(declared: Any, path: str) -> list[str]:
    """Every problem of one dimension's declared hierarchy, each with the path of its field.

    Example:
        >>> hierarchy_problems({"A": ["a", "b"], "B": ["b"], "a": ["A"]}, "hierarchy.m")
        ['hierarchy.m.B: b is already a child of A', 'hierarchy.m.a: a cycle (A -> a -> A)']
    """
    if not isinstance(declared, Mapping):
        return [f"{path}: must be a table of parent = [children]"]
    problems: list[str] = []
    parent_of: dict[str, str] = {}
    for parent, children in declared.items():
        where = f"{path}.{parent}"
        if not isinstance(parent, str) or not parent:
            problems.append(f"{path}: a code must be non-empty text")
            continue
        if isinstance(children, str) or not isinstance(children, Sequence):
            problems.append(f"{where}: must be a list of codes (its children)")
            continue
        seen: set[str] = set()
        for child in children:
            if not isinstance(child, str) or not child:
                problems.append(f"{where}: a child must be non-empty text")
            elif child == parent:
                problems.append(f"{where}: a code cannot be its own child")
            elif child in seen:
                problems.append(f"{where}: names {child} more than once")
            elif child in parent_of:
                problems.append(f"{where}: {child} is already a child of {parent_of[child]}")
            else:
                seen.add(child)
                parent_of[child] = parent
    reported: set[str] = set()
    for start in declared:
        if not isinstance(start, str) or start in reported:
            continue
        chain = [start]
        while chain[-1] in parent_of and parent_of[chain[-1]] not in chain:
            chain.append(parent_of[chain[-1]])
        if chain[-1] in parent_of:  # the next parent is already in the chain: a cycle
            loop = chain[chain.index(parent_of[chain[-1]]) :]
            if not reported.intersection(loop):
                first = loop.index(min(loop))
                rotated = loop[first:] + loop[:first]
                cycle = " -> ".join([*rotated, rotated[0]])
                problems.append(f"{path}.{parent_of[rotated[0]]}: a cycle ({cycle})")
            reported.update(loop)
    return problems


def tree(dimension: str, declared: Declared, *, source: str = "hierarchy") -> Hierarchy:
    """Validate a declared hierarchy (parent -> children) and build its tree.

    Raises:
        ConfigError: every problem at once, each with its path, e.g.
            ``hierarchy.municipality.South: Assen is already a child of North``.

    Example:
        >>> tree("care_form", {"residential": ["verblijf", "crisis"]}).parent["crisis"]
        'residential'
        >>> try:
        ...     tree("m", {"North": ["Assen"], "South": ["Assen"]})
        ... except ConfigError as error:
        ...     print(error.problems)
        ['hierarchy.m.South: Assen is already a child of North']
    """
    problems = hierarchy_problems(declared, f"hierarchy.{dimension}")
    if problems:
        raise ConfigError(source, problems)
    children = {parent: tuple(kids) for parent, kids in declared.items()}
    parent = {child: group for group, kids in children.items() for child in kids}
    order: list[str] = []

    def visit(code: str) -> None:
        order.append(code)
        for child in children.get(code, ()):
            visit(child)

    for code in children:
        if code not in parent:
            visit(code)
    return Hierarchy(
        dimension,
        MappingProxyType(parent),
        MappingProxyType({group: kids for group, kids in children.items() if kids}),
        tuple(order),
    )


def freeze_hierarchies(
    hierarchies: Mapping[str, Declared],
) -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    """A read-only copy of declared hierarchies (dimension -> parent -> children)."""
    return MappingProxyType(
        {
            dimension: MappingProxyType({p: tuple(c) for p, c in declared.items()})
            for dimension, declared in hierarchies.items()
        }
    )


def roll_up(counts: pl.DataFrame, hierarchy: Hierarchy, *, measures: Sequence[str]) -> pl.DataFrame:
    """Add the rows of every group of a hierarchy to a count table, as sums of its leaves.

    Only right for measures that add up over the dimension: registrations, or unique clients
    by a dimension each client has one value of (the municipality of residence, the most
    recent one). For unique clients by care form a client in two forms of a group would be
    counted twice: count the groups instead (map the codes, count, and stack the tables).
    ``protect`` checks that every group lies between its largest child and the sum of its
    children, but cannot tell a sum from a union that happens to be a sum.

    Example:
        >>> import polars as pl
        >>> counts = pl.DataFrame({"municipality": ["Assen", "Emmen", "Meppel", None],
        ...                        "registrations": [10, 20, 30, 60]})
        >>> regions = tree("municipality", {"North": ["Assen", "Emmen"], "South": ["Meppel"]})
        >>> roll_up(counts, regions, measures=["registrations"]).sort("municipality")
        shape: (6, 2)
        ┌──────────────┬───────────────┐
        │ municipality ┆ registrations │
        │ ---          ┆ ---           │
        │ str          ┆ i64           │
        ╞══════════════╪═══════════════╡
        │ null         ┆ 60            │
        │ Assen        ┆ 10            │
        │ Emmen        ┆ 20            │
        │ Meppel       ┆ 30            │
        │ North        ┆ 30            │
        │ South        ┆ 30            │
        └──────────────┴───────────────┘
    """
    name = hierarchy.dimension
    # The other dimensions: text columns, and birth_year. Counts not named stay null in the
    # rows added, so protect refuses them rather than publish a wrong sum.
    others = [
        column
        for column, dtype in counts.schema.items()
        if column != name and (not dtype.is_numeric() or column == "birth_year")
    ]
    pairs = pl.DataFrame(
        [(leaf, group) for leaf in hierarchy.leaves for group in hierarchy.ancestors(leaf)],
        schema={name: pl.String, "_group": pl.String},
        orient="row",
    )
    groups = (
        counts.with_columns(pl.col(name).cast(pl.String))
        .join(pairs, on=name, how="inner")
        .group_by(["_group", *others], maintain_order=True)
        .agg(pl.col(m).sum() for m in measures)
        .rename({"_group": name})
    )
    kept = counts.filter(~pl.col(name).is_in(list(hierarchy.groups)) | pl.col(name).is_null())
    return pl.concat([kept, groups], how="diagonal_relaxed").select(counts.columns)
