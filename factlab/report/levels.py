"""A reference hierarchy in a report: one count, one protection, a table per level.

A round config with ``reference = "reference.toml"`` may tabulate the levels of the reference's
hierarchies (``purchasing_region``, ``youth_care_region``, a group of care forms, ...) or name a
hierarchy (``region``: its leaf dimension and every level). Every level of a hierarchy is a union
of the clients of its children, so the tables of one hierarchy are linked: a region's total minus
its published municipalities bounds a suppressed municipality. The report therefore counts each
hierarchy used **once**, stacked (:func:`factlab.reference.dimensions.stack`: the leaves and the
groups of every level in the leaf's column), protects that table as one hierarchical table
together with the report's other one-dimension tables, and only then splits it into a table per
level (:func:`split`). A split keeps the statuses the joint protection gave, so what one level's
table publishes was audited against every other level's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from factlab.disclosure.protect import ProtectedTable
from factlab.errors import ConfigError, FactlabError
from factlab.io import file_sha256
from factlab.reference.config import PROVIDER_GROUP, Reference, load_reference
from factlab.reference.dimensions import UNKNOWN, derivations
from factlab.reference.hierarchy import ReferenceHierarchy
from factlab.report.model import InternalTable, TableSource
from factlab.report.presentation import REPORT_DIMENSIONS

__all__ = [
    "dimension_problem",
    "expand_dimensions",
    "hierarchy_problems",
    "leaf_columns",
    "level_order",
    "members",
    "read_reference",
    "split",
    "split_counts",
    "used_hierarchies",
]


def expand_dimensions(dims: Sequence[str], reference: Reference | None) -> tuple[str, ...]:
    """``dims`` with each hierarchy's name replaced by its leaf dimension and its levels.

    Example:
        >>> from factlab.reference.config import reference_from_mapping
        >>> reference = reference_from_mapping({"version": 1, "reference_year": 2024,
        ...     "hierarchy": {"care": {"dimension": "care_form", "levels": ["care_group"],
        ...         "care_group": {"stay": ["verblijf"]}}}})
        >>> expand_dimensions(["sex", "care"], reference)
        ('sex', 'care_form', 'care_group')
    """
    if reference is None:
        return tuple(dims)
    found: list[str] = []
    for name in dims:
        hierarchy = reference.hierarchies.get(name)
        found += [hierarchy.dimension, *hierarchy.levels] if hierarchy is not None else [name]
    return tuple(dict.fromkeys(found))


def dimension_problem(
    name: str, reference: Reference | None, *, overlap: bool = True
) -> str | None:
    """Why ``name`` cannot be a table of a report, or None when it can.

    ``overlap`` says whether the report publishes the provider overlap matrix, beside which
    ``provider_group`` cannot be published (see :class:`~factlab.report.config.RoundConfig`).

    Example:
        >>> dimension_problem("purchasing_region", None)[:63]
        "dimensions: 'purchasing_region' (table by-purchasing_region) is"
        >>> dimension_problem("care_form", None) is None
        True
    """
    if name == "provider":
        return (
            "dimensions: 'provider' is not tabulated; providers appear in the overlap and "
            "data-quality sections under their labels"
        )
    over_providers = reference is not None and any(
        hierarchy.dimension == "provider" and name in (hierarchy.name, *hierarchy.levels)
        for hierarchy in reference.hierarchies.values()
    )
    if over_providers:
        # Stacked in the provider column, which a report does not tabulate.
        return (
            f"dimensions: {name!r} (table by-{name}) is not tabulated in a report: groups of "
            "providers are, only as the registry's provider_group (with overlap = false under "
            f"[providers]); count and protect it with factlab count --reference --by {name} "
            "and factlab protect"
        )
    if name == PROVIDER_GROUP and overlap:
        # A group's clients are a union of providers whose overlap the report publishes
        # (protected on its own): a group of two gives a + b - shared(a, b) away.
        return (
            f"dimensions: {name!r} (table by-{name}) is not tabulated in a report that "
            "publishes the provider overlap: a group is the union of its providers, so a group "
            "of two gives a + b - shared(a, b) away; set overlap = false under [providers] to "
            "leave the overlap out"
        )
    if name in REPORT_DIMENSIONS:
        return None
    if reference is None:
        return (
            f"dimensions: {name!r} (table by-{name}) is no dimension of a report without "
            f"reference data: choose from {', '.join(REPORT_DIMENSIONS)}, or name a reference "
            'file (reference = "reference.toml") that declares it as a hierarchy level'
        )
    if name in reference.dimensions() or name in reference.hierarchies:
        return None
    declared = [*reference.hierarchies, *reference.dimensions()]
    return (
        f"dimensions: unknown dimension {name!r} (table by-{name}): choose from "
        f"{', '.join((*REPORT_DIMENSIONS, *declared))}"
    )


def read_reference(
    data: Mapping[str, Any], base_dir: Path, problems: list[str], files: list[tuple[str, str]]
) -> Reference | None:
    """The reference file a round config names (``reference``, relative to the config), read
    and checked; its problems are added to ``problems``, the file to ``files``."""
    name = data.get("reference")
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        problems.append("reference: must be the path of a reference file (reference.toml)")
        return None
    path = base_dir / name
    try:
        reference = load_reference(path)
    except FactlabError as exc:
        details = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
        problems += [f"reference: {detail}" for detail in details]
        return None
    files.append(("reference", f"{path.name} (sha256 {file_sha256(path)})"))
    return reference


def used_hierarchies(
    dims: Sequence[str], reference: Reference | None
) -> tuple[ReferenceHierarchy, ...]:
    """The hierarchies of which ``dims`` (expanded) tabulate at least one level."""
    if reference is None:
        return ()
    return tuple(
        hierarchy
        for hierarchy in reference.hierarchies.values()
        if any(level in dims for level in hierarchy.levels)
    )


def members(hierarchy: ReferenceHierarchy, dims: Sequence[str]) -> tuple[str, ...]:
    """The columns of ``hierarchy`` (leaf, then levels) that ``dims`` tabulate."""
    return tuple(name for name in (hierarchy.dimension, *hierarchy.levels) if name in dims)


def hierarchy_problems(
    dims: Sequence[str], cross: Sequence[str], reference: Reference | None
) -> list[str]:
    """What keeps the hierarchies of ``dims`` from being protected as one table each.

    A hierarchy's leaf or level in the cross table would be protected apart from the other
    levels (the cross table has a lattice of its own); two hierarchies over one leaf dimension
    cannot both be declared on that column.

    Example:
        >>> from factlab.reference.config import reference_from_mapping
        >>> reference = reference_from_mapping({"version": 1, "reference_year": 2024,
        ...     "hierarchy": {"care": {"dimension": "care_form", "levels": ["care_group"],
        ...         "care_group": {"stay": ["verblijf"]}}}})
        >>> hierarchy_problems(["care_form", "care_group"], ["care_form", "financing"],
        ...     reference)  # doctest: +ELLIPSIS
        ['cross: care_form is in hierarchy care, whose level care_group is tabulated: ...']
    """
    problems: list[str] = []
    leaves: dict[str, str] = {}
    for hierarchy in used_hierarchies(dims, reference):
        levels = ", ".join(level for level in hierarchy.levels if level in dims)
        problems += [
            f"cross: {name} is in hierarchy {hierarchy.name}, whose level {levels} is "
            "tabulated: the levels are protected as one table, which the cross table cannot "
            "join; choose another cross table (or cross = [])"
            for name in (hierarchy.dimension, *hierarchy.levels)
            if name in cross
        ]
        if hierarchy.dimension in leaves:
            problems.append(
                f"dimensions: hierarchies {leaves[hierarchy.dimension]} and {hierarchy.name} "
                f"both group {hierarchy.dimension}; a report tabulates the levels of one of them"
            )
        leaves[hierarchy.dimension] = hierarchy.name
    return problems


def leaf_columns(reference: Reference | None) -> dict[str, str]:
    """Each dimension the reference adds, with the column of the linked file it comes from.

    Example:
        >>> from factlab.reference.config import reference_from_mapping
        >>> leaf_columns(reference_from_mapping({"version": 1, "reference_year": 2024,
        ...     "hierarchy": {"region": {"dimension": "municipality", "levels": ["area"],
        ...         "area": {"North": ["Assen"]}}}}))
        {'area': 'municipality'}
    """
    if reference is None:
        return {}
    return {name: rule.base for name, rule in derivations(reference).items()}


def level_order(dimension: str, reference: Reference | None) -> tuple[str, ...]:
    """The values of ``dimension`` in the order the reference declares them.

    A level's groups in the order of its table; a hierarchy's leaf (the municipalities) group by
    group of its first level, so a region's municipalities stand together.

    Example:
        >>> from factlab.reference.config import reference_from_mapping
        >>> reference = reference_from_mapping({"version": 1, "reference_year": 2024,
        ...     "hierarchy": {"region": {"dimension": "municipality", "levels": ["area"],
        ...         "area": {"South": ["Emmen"], "North": ["Tynaarlo", "Assen"]}}}})
        >>> level_order("area", reference), level_order("municipality", reference)
        (('South', 'North'), ('Emmen', 'Tynaarlo', 'Assen'))
    """
    if reference is None:
        return ()
    for hierarchy in reference.hierarchies.values():
        for index, level in enumerate(hierarchy.levels):
            if level == dimension:
                return tuple(hierarchy.groups[index])
        if hierarchy.dimension == dimension and hierarchy.levels:
            return tuple(leaf for children in hierarchy.groups[0].values() for leaf in children)
    return ()


def _codes(hierarchy: ReferenceHierarchy, name: str) -> list[str]:
    """The values of the stacked column that belong to ``name`` (a level, or the leaf)."""
    if name == hierarchy.dimension:
        return [*hierarchy.leaves, UNKNOWN]
    return list(hierarchy.groups[hierarchy.levels.index(name)])


def _rows_of(frame: pl.DataFrame, hierarchy: ReferenceHierarchy, name: str) -> pl.DataFrame:
    """The rows of ``name`` (and the totals) of a stacked frame, its column renamed."""
    column = pl.col(hierarchy.dimension)
    kept = frame.filter(column.is_null() | column.cast(pl.String).is_in(_codes(hierarchy, name)))
    return kept if name == hierarchy.dimension else kept.rename({hierarchy.dimension: name})


def split_counts(
    frame: pl.DataFrame, hierarchy: ReferenceHierarchy, dims: Sequence[str]
) -> dict[str, pl.DataFrame]:
    """An exact stacked count table as one count table per tabulated member of ``hierarchy``.

    Example:
        >>> from factlab.reference.hierarchy import hierarchy_from_mapping
        >>> rule = hierarchy_from_mapping("care", {"dimension": "care_form",
        ...     "levels": ["care_group"], "care_group": {"g": ["a", "b"]}})
        >>> stacked = pl.DataFrame({"care_form": ["a", "b", "g", None],
        ...     "unique_clients": [3, 4, 6, 6]})
        >>> split_counts(stacked, rule, ["care_group"])["care_group"].rows()
        [('g', 6), (None, 6)]
    """
    return {name: _rows_of(frame, hierarchy, name) for name in members(hierarchy, dims)}


def split(
    table: TableSource, hierarchy: ReferenceHierarchy, dims: Sequence[str]
) -> dict[str, TableSource]:
    """A protected (or internal) stacked table as one table per tabulated member.

    The statuses are those the one protection of the whole hierarchy gave; only rows are left
    out, so each table shows a subset of what was audited together.
    """
    found: dict[str, TableSource] = {}
    for name in members(hierarchy, dims):
        frame = _rows_of(table.frame, hierarchy, name)
        if isinstance(table, ProtectedTable):
            found[name] = replace(table, frame=frame, dimensions=(name,))
        else:
            found[name] = InternalTable(frame, (name,), table.measures, table.part_column)
    return found
