"""Capture histories: which sources saw each client, as counts per pattern.

A source is a provider, or a group of providers the user declares. A client's history is the set
of sources that served them; the table of histories holds, for every non-empty pattern of the
``k`` sources, how many clients have exactly that pattern. Clients no source saw have the empty
pattern, which cannot be observed: :mod:`factlab.estimation.unseen` estimates it.

Histories come from a linked file (only rows with a valid BSN can be linked to a client) or from a
table given directly: one 0/1 column per source and a ``count`` column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab.analysis.coverage import check_coverage
from factlab.analysis.overlap import (
    LinkedSource,
    check_dimension,
    linkable,
    reads_linked,
    restrict_time,
    scan_linked,
)
from factlab.errors import ConfigError, DataError, InputError
from factlab.periods import Period
from factlab.result_files import read_table

__all__ = [
    "COUNT",
    "MAX_SOURCES",
    "Histories",
    "histories_from_frame",
    "histories_from_linked",
    "read_histories",
]

#: Name of the column that holds the number of clients with a pattern.
COUNT: Final = "count"
#: The most sources a table may have: 2^12 patterns. The model search is meant for about eight.
MAX_SOURCES: Final = 12
#: Stratum of a client whose covariate is missing.
UNKNOWN: Final = "unknown"
_SOURCE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_MASK: Final = "_mask"
_STRATUM: Final = "_stratum"


@dataclass(frozen=True)
class Histories:
    """The capture histories of one population (or one stratum of it).

    Attributes:
        sources: the source names, in column order.
        counts: clients per pattern, indexed by the pattern's bit mask (bit ``i`` set when source
            ``i`` saw the client); index 0, the empty pattern, is always 0 (unobservable).
        stratum: the covariate value of this stratum, or None for the whole population.
        dropped_sources: sources that saw no client, left out (they carry no information).
        notes: what was left out on the way, in words (never client data).
    """

    sources: tuple[str, ...]
    counts: tuple[int, ...]
    stratum: str | None = None
    dropped_sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def observed(self) -> int:
        """Clients seen by at least one source."""
        return sum(self.counts)

    @property
    def overlapping(self) -> int:
        """Clients seen by two or more sources."""
        return sum(c for mask, c in enumerate(self.counts) if mask.bit_count() >= 2)

    def pair_count(self, first: int, second: int) -> int:
        """Clients seen by both source ``first`` and source ``second`` (by index)."""
        both = (1 << first) | (1 << second)
        return sum(c for mask, c in enumerate(self.counts) if mask & both == both)

    def to_frame(self) -> pl.DataFrame:
        """One row per non-empty pattern: a 0/1 column per source and ``count``.

        Example:
            >>> Histories(("A", "B"), (0, 5, 3, 2)).to_frame().rows()
            [(1, 0, 5), (0, 1, 3), (1, 1, 2)]
        """
        masks = range(1, len(self.counts))
        columns: dict[str, list[int]] = {
            name: [(mask >> index) & 1 for mask in masks] for index, name in enumerate(self.sources)
        }
        columns[COUNT] = [self.counts[mask] for mask in masks]
        return pl.DataFrame(
            columns, schema={**dict.fromkeys(self.sources, pl.Int8), COUNT: pl.Int64}
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the sources and the patterns with their counts."""
        return {
            "sources": list(self.sources),
            "stratum": self.stratum,
            "observed": self.observed,
            "dropped_sources": list(self.dropped_sources),
            "notes": list(self.notes),
            "patterns": [
                {"sources": [s for i, s in enumerate(self.sources) if mask >> i & 1], COUNT: c}
                for mask, c in enumerate(self.counts)
                if mask
            ],
        }


def _check_source_names(names: Sequence[str], where: str) -> None:
    problems = [
        f"{where}: source name {name!r} must be 1-64 letters, digits, '_', '.', '-'"
        for name in names
        if not _SOURCE_NAME.fullmatch(name)
    ]
    if len(set(names)) != len(names):
        problems.append(f"{where}: source names must differ")
    if problems:
        raise ConfigError(where, problems)


def _with_empty_sources_dropped(
    sources: tuple[str, ...], counts: list[int], stratum: str | None, notes: tuple[str, ...]
) -> Histories:
    """Drop sources that saw no one, renumbering the patterns over the remaining sources."""
    caught = [any(c for mask, c in enumerate(counts) if mask >> i & 1) for i in range(len(sources))]
    kept = [i for i, yes in enumerate(caught) if yes]
    dropped = tuple(s for i, s in enumerate(sources) if not caught[i])
    if not dropped:
        return Histories(sources, tuple(counts), stratum, (), notes)
    new_counts = [0] * (1 << len(kept))
    for mask, c in enumerate(counts):
        if c:
            new_counts[sum(1 << j for j, i in enumerate(kept) if mask >> i & 1)] += c
    return Histories(tuple(sources[i] for i in kept), tuple(new_counts), stratum, dropped, notes)


def histories_from_frame(
    table: pl.DataFrame | pl.LazyFrame,
    *,
    sources: Sequence[str] | None = None,
    where: str = "histories",
) -> Histories:
    """Capture histories from a table of patterns: a 0/1 column per source and ``count``.

    Patterns given more than once are added up; patterns not given have count 0. A row with no
    source set is refused (clients no source saw cannot have been counted).

    Args:
        table: the patterns.
        sources: the source columns, in order (default: every column but ``count``).
        where: names the table in error messages.

    Raises:
        InputError: ``count`` or a source column is missing, or there are too many sources.
        DataError: a value is not 0/1, a count is not a whole number >= 0, or a row has no source.

    Example:
        >>> t = pl.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [5, 3, 2]})
        >>> histories_from_frame(t).counts
        (0, 5, 3, 2)
    """
    frame = table.lazy().collect()
    if COUNT not in frame.columns:
        raise InputError(f"{where}: lacks the column {COUNT!r}")
    names = tuple(sources) if sources is not None else tuple(c for c in frame.columns if c != COUNT)
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise InputError(f"{where}: lacks source column(s) {', '.join(missing)}")
    if not 1 <= len(names) <= MAX_SOURCES:
        raise InputError(
            f"{where}: {len(names)} sources; between 1 and {MAX_SOURCES} are supported"
        )
    _check_source_names(names, where)
    as_int = {name: pl.col(name).cast(pl.String).str.strip_chars() for name in (*names, COUNT)}
    cells = frame.select(
        *[
            pl.when(as_int[name].is_in(["0", "1", "true", "false"]))
            .then(as_int[name].replace({"true": "1", "false": "0"}).cast(pl.Int64))
            .alias(name)
            for name in names
        ],
        as_int[COUNT].cast(pl.Int64, strict=False).alias(COUNT),
    ).with_row_index("_row", offset=1)
    problems = []
    for name in names:
        bad = cells.filter(pl.col(name).is_null())["_row"]
        if bad.len():
            problems.append(f"column {name}: {bad.len()} row(s) not 0 or 1 (first: row {bad[0]})")
    bad = cells.filter(pl.col(COUNT).is_null() | (pl.col(COUNT) < 0))["_row"]
    if bad.len():
        problems.append(
            f"column {COUNT}: {bad.len()} row(s) without a whole number >= 0 (first: row {bad[0]})"
        )
    if problems:
        raise DataError(f"{where}: " + "; ".join(problems))
    mask = pl.sum_horizontal(pl.col(name) * (1 << i) for i, name in enumerate(names))
    patterns = cells.select(mask.alias(_MASK), pl.col(COUNT), pl.col("_row"))
    empty = patterns.filter((pl.col(_MASK) == 0) & (pl.col(COUNT) > 0))["_row"]
    if empty.len():
        raise DataError(
            f"{where}: row {empty[0]} counts clients seen by no source; such clients cannot be "
            "observed (leave that row out)"
        )
    by_mask = patterns.group_by(_MASK).agg(pl.col(COUNT).sum())
    counts = [0] * (1 << len(names))
    for mask_value, total in by_mask.iter_rows():
        if mask_value:
            counts[mask_value] = int(total)
    return _with_empty_sources_dropped(names, counts, None, ())


def read_histories(path: str | Path, *, sources: Sequence[str] | None = None) -> Histories:
    """Read capture histories from a CSV, Parquet or JSON table (see :func:`histories_from_frame`).

    Raises:
        InputError: the file cannot be read or lacks a column.
        DataError: a value is not 0/1 or a count is not a whole number.
    """
    frame, _ = read_table(path, what="capture histories")
    return histories_from_frame(frame, sources=sources, where=str(path))


def _source_of(groups: Mapping[str, Sequence[str]] | None) -> tuple[pl.Expr, tuple[str, ...]]:
    """The source of each row: its provider, or the declared group its provider belongs to."""
    provider = pl.col(schema.PROVIDER).cast(pl.String)
    if groups is None:
        return provider, ()
    names = tuple(groups)
    _check_source_names(names, "sources")
    owner: dict[str, str] = {}
    problems = []
    for name, members in groups.items():
        if isinstance(members, str) or not members:
            problems.append(f"sources.{name}: give a non-empty list of provider codes")
            continue
        for member in members:
            if member in owner:
                problems.append(
                    f"sources.{name}: provider {member!r} is already in {owner[member]}"
                )
            owner[member] = name
    if problems:
        raise ConfigError("sources", problems)
    return provider.replace_strict(owner, default=None), names


@reads_linked
def histories_from_linked(
    source: LinkedSource,
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    by: str | None = None,
    period: Period | None = None,
    on: date | None = None,
) -> list[Histories]:
    """Capture histories of the clients in a linked file, overall or per stratum of ``by``.

    Only rows with a valid BSN link to a client; the others are left out and said so in
    ``notes``. With ``groups`` (source name -> provider codes), each group is one source and the
    rows of providers in no group are left out (and said so).

    A client's stratum is the value of ``by`` on their most recent row (latest start date; ties,
    and files without dates, go to the greatest value), or ``unknown``.

    Args:
        source: a linked file or its rows.
        groups: sources as groups of providers (default: each provider is a source).
        by: a covariate to stratify by (e.g. ``age_group`` is not stored; use ``municipality``).
        period: count the clients in care at any moment in this period.
        on: count the clients in care on this reference date.

    Returns:
        One :class:`Histories` per stratum (sorted by stratum), or one for the whole file.

    Raises:
        InputError: the file is not a linked file or lacks a column.
        ConfigError: the groups or ``by`` are not usable, or the period or reference date is
            not covered by every provider's deliveries (:mod:`factlab.analysis.coverage`).
        DataError: there are no linkable clients, or more sources than supported.
    """
    if by is not None:
        check_dimension(by)
    linked = scan_linked(
        source, columns=[by] if by else [], dates=period is not None or on is not None
    )
    # as count: days some provider's deliveries do not cover are refused, not counted
    check_coverage(source, [] if period is None else [period], on=on, where="histories")
    frame = restrict_time(linked.frame, period=period, on=on)
    source_expr, declared = _source_of(groups)
    has_dates = "start_date" in frame.collect_schema()
    stratum = (
        pl.col(by).cast(pl.String).fill_null(UNKNOWN) if by is not None else pl.lit(None, pl.String)
    )
    rows = frame.select(
        linkable().alias("_linkable"),
        pl.col(schema.PSEUDONYM).cast(pl.String).alias("_client"),
        source_expr.alias("_source"),
        stratum.alias(_STRATUM),
        (pl.col("start_date") if has_dates else pl.lit(None, pl.Date)).alias("_start"),
    ).collect()
    notes = []
    unlinkable = int((~rows["_linkable"]).sum())
    if unlinkable:
        notes.append(f"{unlinkable} row(s) without a valid BSN left out: they link to no client")
    rows = rows.filter(pl.col("_linkable"))
    outside = int(rows["_source"].null_count())
    if outside:
        notes.append(f"{outside} row(s) of providers in no declared source left out")
        rows = rows.drop_nulls("_source")
    names = declared or tuple(sorted(rows["_source"].unique().to_list()))
    if not names or rows.is_empty():
        raise DataError(f"{linked.name}: no client with a valid BSN to estimate from")
    if len(names) > MAX_SOURCES:
        raise DataError(
            f"{linked.name}: {len(names)} sources; at most {MAX_SOURCES} are supported "
            "(declare groups of providers as sources)"
        )
    code = pl.col("_source").cast(pl.Enum(names)).to_physical().cast(pl.Int64)
    per_client = (
        rows.with_columns(pl.lit(2, pl.Int64).pow(code).cast(pl.Int64).alias("_bit"))
        .group_by("_client")
        .agg(
            pl.col("_bit").unique().sum().alias(_MASK),
            pl.col(_STRATUM).sort_by(["_start", _STRATUM], nulls_last=False).last(),
        )
    )
    table = per_client.group_by(_STRATUM, _MASK).agg(pl.len().alias(COUNT)).sort(_STRATUM)
    result = []
    for (value,), part in table.group_by(_STRATUM, maintain_order=True):
        counts = [0] * (1 << len(names))
        for mask_value, total in part.select(_MASK, COUNT).iter_rows():
            counts[mask_value] = int(total)
        stratum_label = None if by is None else str(value)
        result.append(_with_empty_sources_dropped(names, counts, stratum_label, tuple(notes)))
    return result
