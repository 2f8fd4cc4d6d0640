"""How many clients hide behind the rows without a valid BSN: a point estimate between the bounds.

Rows without a valid BSN cannot be linked, so a count gives bounds: ``unique_clients_lower`` (none
of those rows is a new person) and ``unique_clients_upper`` (each is a new person). The estimate
here assumes that a provider's rows without a BSN behave like its rows with one:

- they hold as many rows per client as the provider's linked rows do, so they stand for
  ``rows × clients / linked rows`` persons of that provider;
- of those persons, the same share is also a client of another provider (and so may already be
  counted, under their BSN there) as among the provider's linked clients; the rest are new.

A provider without any valid BSN (as the GGZ provider of Drenthe in 2016) takes the pooled rates
of the other providers. The 95 % interval reflects the sampling variation of the two rates
(normal approximations, providers independent); it cannot reflect whether the assumption holds,
which the result says. The estimate and its interval are kept within the bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab.analysis.coverage import check_coverage
from factlab.analysis.overlap import LinkedSource, linkable, restrict_time, scan_linked
from factlab.periods import Period

__all__ = ["ASSUMPTION", "UnlinkedEstimate", "estimate_unlinked"]

#: What the estimate assumes, in every result.
ASSUMPTION: Final = (
    "a provider's rows without a valid BSN hold as many rows per client, and as large a share "
    "of clients also seen at another provider, as its rows with a valid BSN"
)
_Z95: Final = 1.959963984540054


@dataclass(frozen=True)
class UnlinkedEstimate:
    """Unique clients with the rows without a valid BSN accounted for.

    Attributes:
        lower: unique clients of the linked rows (no unlinked row is a new person).
        upper: ``lower`` plus every row without a valid BSN (each a new person).
        estimate: the point estimate, between the bounds.
        low, high: its 95 % interval (sampling variation of the rates only).
        per_provider: per provider: rows without a valid BSN, linked rows and clients, clients
            also seen elsewhere, persons behind the unlinked rows and the new ones among them.
    """

    lower: int
    upper: int
    estimate: float
    low: float
    high: float
    per_provider: pl.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the assumption."""
        return {
            "unique_clients_lower": self.lower,
            "unique_clients_upper": self.upper,
            "estimate": round(self.estimate, 3),
            "lower": round(self.low, 3),
            "upper": round(self.high, 3),
            "interval": "95 %, sampling variation of the per-provider rates only",
            "assumption": ASSUMPTION,
            "per_provider": self.per_provider.to_dicts(),
        }


def estimate_unlinked(
    source: LinkedSource, *, period: Period | None = None, on: date | None = None
) -> UnlinkedEstimate:
    """Estimate the unique clients including those behind rows without a valid BSN.

    Args:
        source: a linked file or its rows.
        period: only rows in care in this period.
        on: only rows in care on this reference date.

    Raises:
        ConfigError: the period or reference date is not covered by every provider's
            deliveries (:mod:`factlab.analysis.coverage`).

    Example:
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32, None, None],
        ...     "bsn_status": ["valid", "valid", "valid", "missing", "missing"],
        ...     "provider": ["P1", "P1", "P1", "P1", "P1"]})
        >>> result = estimate_unlinked(rows)  # 3 rows for 2 clients: 2 rows ~ 1.33 persons
        >>> result.lower, result.upper, round(result.estimate, 2)
        (2, 4, 3.33)
    """
    linked = scan_linked(source, dates=period is not None or on is not None)
    # A period or day some provider's deliveries do not cover would count its ongoing episodes
    # as in care: refused as count refuses it.
    check_coverage(source, [] if period is None else [period], on=on, where="estimate_unlinked")
    frame = restrict_time(linked.frame, period=period, on=on)
    rows = frame.select(
        pl.col(schema.PROVIDER).cast(pl.String).fill_null("unknown").alias("provider"),
        pl.when(linkable()).then(pl.col(schema.PSEUDONYM).cast(pl.String)).alias("client"),
    ).collect()
    clients = rows.drop_nulls("client")
    providers_per_client = clients.group_by("client").agg(
        pl.col("provider").n_unique().alias("providers")
    )
    per_client_at_provider = (
        clients.group_by("provider", "client")
        .agg(pl.len().alias("rows"))
        .join(providers_per_client, on="client")
    )
    linked_stats = per_client_at_provider.group_by("provider").agg(
        pl.col("rows").sum().alias("linked_rows"),
        pl.len().alias("linked_clients"),
        (pl.col("providers") >= 2).sum().alias("clients_elsewhere"),
        pl.col("rows").var(ddof=1).fill_null(0.0).alias("_rows_variance"),
    )
    unlinked_rows = rows.group_by("provider").agg(
        pl.col("client").is_null().sum().alias("rows_without_valid_bsn")
    )
    table = unlinked_rows.join(linked_stats, on="provider", how="left").with_columns(
        pl.col("linked_rows", "linked_clients", "clients_elsewhere").fill_null(0)
    )
    pooled_rate = _ratio(table["linked_clients"].sum(), table["linked_rows"].sum())
    pooled_share = _ratio(table["clients_elsewhere"].sum(), table["linked_clients"].sum())
    has_own = pl.col("linked_clients") > 0
    rate = pl.when(has_own).then(pl.col("linked_clients") / pl.col("linked_rows"))
    share = pl.when(has_own).then(pl.col("clients_elsewhere") / pl.col("linked_clients"))
    # Variances of the two rates (delta method for clients per row = 1 / mean rows per client).
    rate_var = pl.when(has_own).then(rate**4 * pl.col("_rows_variance") / pl.col("linked_clients"))
    share_var = pl.when(has_own).then(share * (1 - share) / pl.col("linked_clients"))
    table = (
        table.with_columns(
            rate.fill_null(pooled_rate).alias("_rate"),
            share.fill_null(pooled_share).alias("_share"),
            rate_var.fill_null(0.0).alias("_rate_var"),
            share_var.fill_null(0.0).alias("_share_var"),
        )
        .with_columns(
            (pl.col("rows_without_valid_bsn") * pl.col("_rate")).alias("persons"),
        )
        .with_columns(
            (pl.col("persons") * (1 - pl.col("_share"))).alias("new_persons"),
            (
                pl.col("rows_without_valid_bsn") ** 2
                * (
                    (1 - pl.col("_share")) ** 2 * pl.col("_rate_var")
                    + pl.col("_rate") ** 2 * pl.col("_share_var")
                )
            ).alias("_variance"),
        )
        .sort("provider")
    )
    lower = clients["client"].n_unique()
    upper = lower + int(table["rows_without_valid_bsn"].sum())
    added = float(table["new_persons"].sum())
    spread = _Z95 * math.sqrt(float(table["_variance"].sum()))
    estimate = min(max(lower + added, float(lower)), float(upper))
    return UnlinkedEstimate(
        lower=lower,
        upper=upper,
        estimate=estimate,
        low=max(float(lower), estimate - spread),
        high=min(float(upper), estimate + spread),
        per_provider=table.select(
            "provider",
            "rows_without_valid_bsn",
            "linked_rows",
            "linked_clients",
            "clients_elsewhere",
            pl.col("persons").round(3),
            pl.col("new_persons").round(3),
        ),
    )


def _ratio(numerator: object, denominator: object) -> float:
    top, bottom = float(numerator or 0), float(denominator or 0)  # type: ignore[arg-type]
    return top / bottom if bottom else 0.0
