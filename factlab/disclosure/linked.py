"""Tables published side by side, protected together: one lattice, each shared cell once.

A municipality × care form table and a municipality × financing table both publish every
municipality's total. Protected one at a time, each table's audit assumes the other publishes
nothing, and a total one table hides the other may show; and the suppression in one table can
be undone with the other's margins. :func:`protect_together` builds one lattice of both (a cell
is identified by its non-total key values, so a shared margin is one cell, one variable of the
audit), searches one pattern for it, and cuts a protected table per input table out of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from factlab.analysis.counts import CountResult
from factlab.disclosure.labels import refuse_bsn_labels
from factlab.disclosure.lattice import (
    BoolArray,
    Lattice,
    assemble,
    collect,
    declared_trees,
    resolve_dimensions,
    resolve_measures,
    table_cells,
)
from factlab.disclosure.protect import Protection, judged, protected_table
from factlab.disclosure.protection_report import protection_report
from factlab.disclosure.rules import PRESETS, DisclosureRules
from factlab.disclosure.suppress import suppress
from factlab.errors import ConfigError, DataError

__all__ = ["LinkedTable", "prepare_linked", "protect_together"]


def _table(counts: pl.DataFrame | pl.LazyFrame | CountResult) -> pl.DataFrame | pl.LazyFrame:
    return counts.table if isinstance(counts, CountResult) else counts


@dataclass(frozen=True)
class LinkedTable:
    """One of several tables protected together (see :func:`prepare_linked`).

    Attributes:
        counts: the count table.
        dimensions: its dimensions (None: from the rules, those the table has, else every
            non-numeric column).
        parts: count tables of parts of its period, by label (the same labels for every table).
    """

    counts: pl.DataFrame | pl.LazyFrame | CountResult
    dimensions: tuple[str, ...] | None = None
    parts: Mapping[str, pl.DataFrame | pl.LazyFrame | CountResult] | None = None

    def frame(self) -> pl.DataFrame:
        """The count table in memory."""
        return collect(_table(self.counts))

    def dims(self) -> tuple[str, ...] | None:
        """The dimensions given, or those of a CountResult."""
        if self.dimensions is not None:
            return tuple(self.dimensions)
        return self.counts.by if isinstance(self.counts, CountResult) else None


def prepare_linked(
    tables: Mapping[str, LinkedTable],
    rules: DisclosureRules,
    *,
    label: str = "whole",
    part_column: str = "period",
) -> tuple[Lattice, dict[str, tuple[BoolArray, tuple[str, ...]]]]:
    """One lattice for tables that share margins, and each table's cells and dimensions in it.

    A cell is identified by its non-total key values, so municipality=Assen (total over care
    form) in a municipality × care form table and municipality=Assen (total over financing) in
    a municipality × financing table are one cell: both tables must count it the same.

    Raises:
        ConfigError: the tables have different parts, or fewer than one table is given.
        DataError: as :func:`prepare`, or two tables count a shared cell differently.
    """
    if not tables:
        raise ConfigError("tables", ["tables: give at least one table"])
    frames = {name: table.frame() for name, table in tables.items()}
    first = next(iter(frames.values()))
    measures, margins = resolve_measures(first.columns, rules)
    dimensions: dict[str, tuple[str, ...]] = {}
    for name, table in tables.items():
        given = table.dims()
        if given is not None:
            dimensions[name] = given
        elif rules.dimensions is not None:
            dimensions[name] = tuple(d for d in rules.dimensions if d in frames[name].columns)
        else:
            dimensions[name] = resolve_dimensions(frames[name], measures, rules)
    labels = {name: tuple(table.parts or {}) for name, table in tables.items()}
    if len(set(labels.values())) > 1:
        raise ConfigError("parts", ["parts: tables protected together need the same parts"])
    part = part_column if next(iter(labels.values())) else None
    every_dim = tuple(dict.fromkeys(d for dims in dimensions.values() for d in dims))
    trees = declared_trees(every_dim, rules)
    pieces = []
    for name, table in tables.items():
        table_frames: dict[str | None, pl.DataFrame] = {None: frames[name]}
        table_frames.update({p: collect(_table(f)) for p, f in (table.parts or {}).items()})
        dims = dimensions[name]
        cells = table_cells(
            table_frames,
            dims,
            measures,
            margins,
            {d: t for d, t in trees.items() if d in dims},
            label=label,
            part_column=part,
            what=f"count table {name}",
        )
        pieces.append(
            cells.with_columns(
                pl.lit(None, dtype=pl.String).alias(d) for d in every_dim if d not in dims
            ).with_columns(pl.lit(name).alias("_table"))
        )
    keys = [*([part] if part else []), *every_dim]
    stacked = pl.concat([piece.select(*keys, *measures, "_table") for piece in pieces])
    disagree = stacked.group_by(keys, maintain_order=True).agg(
        pl.any_horizontal(pl.col(m).n_unique() > 1 for m in measures).alias("_differ"),
        pl.col("_table").unique(maintain_order=True).alias("_tables"),
    )
    differ = disagree.filter(pl.col("_differ")).sort(keys, nulls_last=True)
    if differ.height:
        row = differ.row(0, named=True)
        where = ", ".join(f"{k}={row[k]}" for k in keys if row[k] is not None) or "grand total"
        raise DataError(
            f"count tables {' and '.join(row['_tables'])} share the cell {where} but count it "
            f"differently ({differ.height} such cell(s)): tables protected together must "
            "count the same clients"
        )
    cells = stacked.unique(keys, keep="first", maintain_order=True).drop("_table")
    dropped = tuple(
        dict.fromkeys(
            c
            for name, frame in frames.items()
            for c in frame.columns
            if c not in (*dimensions[name], *measures)
        )
    )
    lattice = assemble(
        cells,
        every_dim,
        part,
        label,
        measures,
        margins,
        rules,
        trees,
        dropped,
        keys,
        list(dimensions.values()),
    )
    members = {
        name: (
            np.asarray(
                # with_columns, not select: a table with every dimension has no condition,
                # and the bare literal must still give one value per cell
                lattice.cells.with_columns(
                    pl.all_horizontal(
                        pl.lit(True), *[pl.col(d).is_null() for d in every_dim if d not in dims]
                    ).alias("_member")
                ).get_column("_member"),
                dtype=bool,
            ),
            dims,
        )
        for name, dims in dimensions.items()
    }
    return lattice, members


def protect_together(
    tables: Mapping[str, LinkedTable | pl.DataFrame | pl.LazyFrame | CountResult],
    rules: DisclosureRules | None = None,
    *,
    label: str = "whole",
    part_column: str = "period",
) -> dict[str, Protection]:
    """Protect tables that share margins as one: a shared cell has one status everywhere.

    Args:
        tables: the tables by name: count tables, results of ``count`` (their dimensions
            come with them) or :class:`LinkedTable` (with dimensions or parts).
        rules: the rules (default: ``cbs``); ``table.dimensions`` in the rules, if given, is
            cut down to the dimensions each table has.
        label: the label of the whole period in the part column (with parts).
        part_column: name of the part column (with parts).

    Returns:
        A :class:`~factlab.disclosure.protect.Protection` per table, in the order given. Each
        report counts that table's cells (a shared cell in each table it belongs to); its
        ``search`` is that of the tables together.

    Raises:
        ConfigError: no table, or tables with different parts. DataError: as ``protect``, or
            two tables that count a shared cell differently.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure.rules import DisclosureRules
        >>> municipality = ["A", "A", "B", "B", "A", "B", None, None, None]
        >>> by_form = pl.DataFrame({"municipality": municipality,
        ...     "care_form": ["f", "g", "f", "g", None, None, "f", "g", None],
        ...     "registrations": [3, 30, 40, 50, 33, 90, 43, 80, 123]})
        >>> by_stream = pl.DataFrame({"municipality": municipality,
        ...     "financing": ["PGB", "ZIN", "PGB", "ZIN", None, None, "PGB", "ZIN", None],
        ...     "registrations": [13, 20, 30, 60, 33, 90, 43, 80, 123]})
        >>> result = protect_together({"form": by_form, "stream": by_stream},
        ...                           DisclosureRules(rounding_base=1))
        >>> result["form"].table.render()["registrations"].to_list()
        ['123', '43', '80', '33', '.', '.', '90', '.', '.']
        >>> result["stream"].report.shared_cells  # the grand total and the two municipalities
        3
    """
    rules = rules or PRESETS["cbs"]
    given = {
        name: table if isinstance(table, LinkedTable) else LinkedTable(table)
        for name, table in tables.items()
    }
    lattice, members = prepare_linked(given, rules, label=label, part_column=part_column)
    refuse_bsn_labels(lattice, what="protect_together")  # never a BSN as a label
    pattern, search = suppress(lattice, rules)
    pattern, result, integer = judged(lattice, pattern, rules)
    protected: dict[str, Protection] = {}
    for name, (within, dims) in members.items():
        others = np.zeros(lattice.size, dtype=bool)
        for other, (cells, _) in members.items():
            if other != name:
                others |= cells
        table = protected_table(lattice, pattern, rules, within=within, dimensions=dims)
        report = protection_report(
            lattice,
            pattern,
            rules,
            result,
            search,
            integer,
            within=within,
            dimensions=dims,
            linked_with=tuple(other for other in members if other != name),
            shared=int((within & others).sum()),
        )
        protected[name] = Protection(table, report)
    return protected
