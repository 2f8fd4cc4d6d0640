"""Cost per unique client, per provider, per municipality and overall.

The cost of an episode is summed as delivered: an episode that overlaps the chosen period counts
in full (there is no pro-rating by days). Each row's cost goes to the provider and the
municipality on that row, so a client who moved counts once in each municipality that paid for
them, and the per-value client counts add up to more than the overall count.

Only rows with a valid BSN can be linked into unique clients, so only their cost enters the cost
per client; the rows without a valid BSN and their cost are reported beside it. Rows with a null
cost are counted: they add nothing to the total, and ``cost_per_client`` divides by the clients
with at least one known cost, so a provider that delivered no costs shows no figure rather than
zero euros per client.

A cost that cannot be a row's cost is refused, never summed: a negative cost, one above
:data:`factlab.schema.MAX_ROW_COST` (10^9 euros; infinity included), and NaN. (The steward
already turns such a cost into an empty one, with a field issue; a linked file made otherwise may
still hold one.) The error counts the rows of each
kind among the rows in scope (never a value); correct them at the source, or leave the cost empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab._checks import as_date, as_period, require_frame, require_names
from factlab.analysis.coverage import check_coverage
from factlab.analysis.overlap import (
    INTERNAL_NOTICE,
    LinkedSource,
    check_dimension,
    check_time,
    dimension_value,
    linkable,
    reads_linked,
    restrict_time,
    rows_without_valid_bsn,
    scan_linked,
    status_counts,
    time_parameters,
)
from factlab.errors import DataError, InputError
from factlab.periods import Period

__all__ = ["DEFAULT_COST_DIMENSIONS", "CostResult", "costs"]

#: The dimensions costs are broken down by unless told otherwise.
DEFAULT_COST_DIMENSIONS: Final = (schema.PROVIDER, "municipality")

_COST: Final = "cost"
_VALUE: Final = "_value"
_COUNTS: Final = (
    "rows",
    "unique_clients",
    "clients_with_cost",
    "rows_null_cost",
    "rows_without_valid_bsn",
)


@dataclass(frozen=True)
class CostResult:
    """Total cost and cost per unique client, overall and per value of each dimension.

    Attributes:
        by: the dimensions of the per-value rows.
        table: columns ``dimension`` (``total`` or a dimension's name), ``value`` (null on the
            total row), ``rows``, ``total_cost`` (known costs of rows with a valid BSN),
            ``unique_clients``, ``clients_with_cost`` (unique clients with at least one known
            cost), ``cost_per_client`` (``total_cost / clients_with_cost``, null when there is
            none), ``rows_null_cost``, ``rows_without_valid_bsn``, ``cost_without_valid_bsn``.
        rows_without_valid_bsn: rows left out of the client figures, per BSN status.
        rows_null_cost: rows in scope whose cost is null.
        period: the period the rows were restricted to, if any.
        on: the reference date the rows were restricted to, if any.
        source: non-secret facts about the input.
    """

    by: tuple[str, ...]
    table: pl.DataFrame
    rows_without_valid_bsn: Mapping[str, int]
    rows_null_cost: int
    period: Period | None = None
    on: date | None = None
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-costs",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {"by": list(self.by), **time_parameters(self.period, self.on)},
            "rows_without_valid_bsn": dict(self.rows_without_valid_bsn),
            "rows_null_cost": self.rows_null_cost,
            "source": dict(self.source),
        }


def _cost_table(rows: pl.LazyFrame, by: str | None) -> pl.LazyFrame:
    is_linked, cost = pl.col("_linked"), pl.col(_COST)
    pseudonym = pl.col(schema.PSEUDONYM)
    exprs = [
        pl.len().alias("rows"),
        cost.filter(is_linked).sum().alias("total_cost"),
        pseudonym.filter(is_linked).n_unique().alias("unique_clients"),
        pseudonym.filter(is_linked & cost.is_not_null()).n_unique().alias("clients_with_cost"),
        cost.is_null().sum().alias("rows_null_cost"),
        (~is_linked).sum().alias("rows_without_valid_bsn"),
        cost.filter(~is_linked).sum().alias("cost_without_valid_bsn"),
    ]
    prepared = rows.with_columns(dimension_value(by), linkable().alias("_linked"))
    grouped = (
        prepared.select(pl.lit(None, dtype=pl.String).alias(_VALUE), *exprs)
        if by is None
        else prepared.group_by(_VALUE).agg(exprs)
    )
    return grouped.with_columns(
        pl.lit("total" if by is None else by).alias("dimension"),
        pl.col(_VALUE).alias("value"),
        *(pl.col(name).cast(pl.Int64) for name in _COUNTS),
        pl.when(pl.col("clients_with_cost") > 0)
        .then(pl.col("total_cost") / pl.col("clients_with_cost"))
        .otherwise(None)
        .alias("cost_per_client"),
    ).drop(_VALUE)


def _implausible(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Rows whose cost is negative, above :data:`~factlab.schema.MAX_ROW_COST`, or NaN: one row
    of counts."""
    cost = pl.col(_COST)
    # Polars orders NaN above every number, so it is kept out of the comparison.
    return rows.select(
        (cost < 0).sum().alias("negative"),
        ((cost > schema.MAX_ROW_COST) & cost.is_not_nan())
        .sum()
        .alias(f"above {schema.MAX_ROW_COST:,}"),
        cost.is_nan().sum().alias("not a number (NaN)"),
    )


def _refuse_implausible(name: str, found: pl.DataFrame) -> None:
    counts = {kind: int(number) for kind, number in found.row(0, named=True).items() if number}
    if counts:
        kinds = ", ".join(
            f"{number:,} {'row' if number == 1 else 'rows'} {kind}"
            for kind, number in counts.items()
        )
        raise DataError(
            f"{name}: column cost: {kinds}; such a cost is never summed: correct it at the "
            "source or leave it empty"
        )


@reads_linked
def costs(
    source: LinkedSource,
    *,
    by: Iterable[str] = DEFAULT_COST_DIMENSIONS,
    period: Period | str | None = None,
    on: date | str | None = None,
) -> CostResult:
    """Total cost, unique clients and cost per unique client, overall and per dimension value.

    Args:
        source: a linked file (checked through its manifest) or its rows; needs ``cost`` and
            the columns in ``by``.
        by: dimensions for per-value rows; provider and municipality by default.
        period: use only rows in care during this period.
        on: use only rows in care on this reference date.

    Raises:
        InputError: the input is not a linked file or lacks ``cost`` or a ``by`` column.
        DataError: ``cost`` is not numeric, or a row in scope has a negative cost, one above
            :data:`~factlab.schema.MAX_ROW_COST`, or NaN (the error counts them).
        ConfigError: a ``by`` is not a dimension, or both ``period`` and ``on`` were given.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32, None],
        ...     "bsn_status": ["valid", "valid", "valid", "missing"],
        ...     "provider": ["P1", "P2", "P1", "P1"],
        ...     "cost": [1000.0, 500.0, 300.0, 200.0],
        ... })
        >>> result = costs(rows, by=["provider"])
        >>> result.table.select("value", "total_cost", "unique_clients", "cost_per_client").rows()
        [(None, 1800.0, 2, 900.0), ('P1', 1300.0, 2, 650.0), ('P2', 500.0, 1, 500.0)]
    """
    require_frame(source, where="costs", name="source", path_ok=True)
    period = None if period is None else as_period(period, where="costs", name="period")
    on = None if on is None else as_date(on, where="costs", name="on")
    dimensions = tuple(dict.fromkeys(require_names(by, where="costs", name="by")))
    for dimension in dimensions:
        check_dimension(dimension)
    check_time(period, on)
    linked = scan_linked(source, columns=dimensions, dates=period is not None or on is not None)
    check_coverage(source, [] if period is None else [period], on=on, where="costs")
    present = linked.frame.collect_schema()
    if _COST not in present:
        raise InputError(f"{linked.name}: lacks column cost, which costs per client need")
    if not present[_COST].is_numeric():
        raise DataError(f"{linked.name}: column cost must be numeric")
    rows = restrict_time(linked.frame, period=period, on=on).with_columns(
        pl.col(_COST).cast(pl.Float64)
    )
    table = (
        pl.concat(
            [
                _cost_table(rows, group).with_columns(pl.lit(order).alias("_order"))
                for order, group in enumerate((None, *dimensions))
            ],
            how="vertical",
        )
        .sort("_order", "value", nulls_last=True)
        .select(
            "dimension",
            "value",
            "rows",
            "total_cost",
            "unique_clients",
            "clients_with_cost",
            "cost_per_client",
            "rows_null_cost",
            "rows_without_valid_bsn",
            "cost_without_valid_bsn",
        )
    )
    table_df, status_df, implausible = pl.collect_all(
        [table, rows_without_valid_bsn(rows), _implausible(rows)]
    )
    _refuse_implausible(linked.name, implausible)
    overall = table_df.filter(pl.col("dimension") == "total")
    return CostResult(
        by=dimensions,
        table=table_df,
        rows_without_valid_bsn=status_counts(status_df),
        rows_null_cost=int(overall["rows_null_cost"].item()),
        period=period,
        on=on,
        source=linked.provenance,
    )
