"""Linking rows without a valid BSN through the keyed fallback pseudonym — only when asked.

Stewards may deliver a fallback pseudonym (birth date, sex and postcode under its own key, see
docs/scheme.md) beside the BSN pseudonym. At the trusted party:

- a fallback pseudonym seen on rows of exactly one BSN client links rows without a valid BSN to
  that client;
- a fallback pseudonym seen with several BSN clients is a **conflict** (twins, or a shared birth
  date in one postcode): rows without a BSN that carry it stay unlinked;
- a fallback pseudonym seen with no BSN client makes a **fallback-only client**: all rows that
  carry it count as one person.

Counting uses this only when asked (``count(..., use_fallback=True)``), and then says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from factlab import schema
from factlab._checks import require_frame

__all__ = ["FallbackReport", "fallback_report", "resolve_fallback"]

_MATCH = "_fallback_match"
_CONFLICT = "_fallback_conflict"


@dataclass(frozen=True)
class FallbackReport:
    """How far the fallback pseudonym links rows without a valid BSN.

    Attributes:
        clients_by_bsn: distinct valid BSN pseudonyms.
        rows_without_valid_bsn: rows whose BSN status is not valid.
        rows_with_fallback: of those, rows that carry a fallback pseudonym.
        rows_linked_to_bsn_client: rows linked to exactly one BSN client by the fallback key.
        rows_fallback_only: rows whose fallback key matches no BSN client.
        clients_fallback_only: distinct fallback keys among those (persons counted only by it).
        conflicts: fallback keys carried by rows of two or more BSN clients.
        rows_in_conflict: rows without a valid BSN whose fallback key is a conflict (unlinked).
    """

    clients_by_bsn: int
    rows_without_valid_bsn: int
    rows_with_fallback: int
    rows_linked_to_bsn_client: int
    rows_fallback_only: int
    clients_fallback_only: int
    conflicts: int
    rows_in_conflict: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and manifests."""
        return asdict(self)


def _matches(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Per fallback key seen on valid rows: its BSN client, or a conflict flag."""
    valid = pl.col(schema.STATUS) == "valid"
    return (
        frame.filter(valid & pl.col(schema.FALLBACK_PSEUDONYM).is_not_null())
        .group_by(schema.FALLBACK_PSEUDONYM)
        .agg(
            pl.col(schema.PSEUDONYM).first().alias(_MATCH),
            (pl.col(schema.PSEUDONYM).n_unique() > 1).alias(_CONFLICT),
        )
    )


def _annotated(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.join(_matches(frame), on=schema.FALLBACK_PSEUDONYM, how="left")


def fallback_report(frame: pl.DataFrame | pl.LazyFrame) -> FallbackReport:
    """Count what the fallback key would link (one pass over two columns).

    Example:
        >>> import polars as pl
        >>> from factlab import schema
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, None, None, None],
        ...     "fallback_pseudonym": ["f1", "f1", "f2", None],
        ...     "bsn_status": pl.Series(["valid", "missing", "missing", "checksum"],
        ...                             dtype=schema.STATUS_DTYPE),
        ... })
        >>> report = fallback_report(rows)
        >>> report.rows_linked_to_bsn_client, report.clients_fallback_only
        (1, 1)
    """
    require_frame(frame, where="fallback_report", name="frame")
    lazy = frame.lazy()
    if schema.FALLBACK_PSEUDONYM not in lazy.collect_schema().names():
        lazy = lazy.with_columns(pl.lit(None, dtype=pl.String).alias(schema.FALLBACK_PSEUDONYM))
    valid = pl.col(schema.STATUS) == "valid"
    unlinked = ~valid
    has_fallback = unlinked & pl.col(schema.FALLBACK_PSEUDONYM).is_not_null()
    linked = has_fallback & pl.col(_MATCH).is_not_null() & ~pl.col(_CONFLICT).fill_null(False)
    conflict = has_fallback & pl.col(_CONFLICT).fill_null(False)
    alone = has_fallback & pl.col(_MATCH).is_null()
    facts = (
        _annotated(lazy)
        .select(
            pl.col(schema.PSEUDONYM).filter(valid).n_unique().alias("clients_by_bsn"),
            unlinked.sum().alias("rows_without_valid_bsn"),
            has_fallback.sum().alias("rows_with_fallback"),
            linked.sum().alias("rows_linked_to_bsn_client"),
            alone.sum().alias("rows_fallback_only"),
            pl.col(schema.FALLBACK_PSEUDONYM)
            .filter(alone)
            .n_unique()
            .alias("clients_fallback_only"),
            conflict.sum().alias("rows_in_conflict"),
        )
        .collect()
        .row(0, named=True)
    )
    conflicts = _matches(lazy).select(pl.col(_CONFLICT).sum()).collect().item() or 0
    return FallbackReport(
        **{key: int(value or 0) for key, value in facts.items()}, conflicts=int(conflicts)
    )


def resolve_fallback(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Rows without a valid BSN take the client their fallback key links them to.

    A row linked to a BSN client gets that client's pseudonym; a row whose fallback key matches no
    BSN client gets the fallback pseudonym as its client key; both then count as ``valid``. Rows in
    conflict, and rows without a fallback key, are left as they were. Without a
    ``fallback_pseudonym`` column the frame is returned unchanged.

    Example:
        >>> import polars as pl
        >>> from factlab import schema
        >>> rows = pl.LazyFrame({
        ...     "pseudonym": ["a" * 32, None],
        ...     "fallback_pseudonym": ["f1", "f1"],
        ...     "bsn_status": pl.Series(["valid", "missing"], dtype=schema.STATUS_DTYPE),
        ... })
        >>> resolve_fallback(rows).collect()["pseudonym"].to_list() == ["a" * 32] * 2
        True
    """
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    if schema.FALLBACK_PSEUDONYM not in names:
        return lazy
    unlinked = pl.col(schema.STATUS) != "valid"
    usable = unlinked & pl.col(schema.FALLBACK_PSEUDONYM).is_not_null()
    usable = usable & ~pl.col(_CONFLICT).fill_null(False)
    client = pl.coalesce(pl.col(_MATCH), pl.col(schema.FALLBACK_PSEUDONYM))
    return (
        _annotated(lazy)
        .with_columns(
            pl.when(usable)
            .then(client)
            .otherwise(pl.col(schema.PSEUDONYM))
            .alias(schema.PSEUDONYM),
            pl.when(usable)
            .then(pl.lit("valid", dtype=schema.STATUS_DTYPE))
            .otherwise(pl.col(schema.STATUS))
            .alias(schema.STATUS),
        )
        .select(names)
    )
