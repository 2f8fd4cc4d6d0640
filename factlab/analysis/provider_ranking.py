"""How concentrated care is across providers, from a linked file: one library call.

:func:`provider_concentration` counts the unique clients per provider
(:func:`factlab.analysis.counts.count`) or sums the cost per provider
(:func:`factlab.analysis.costs.costs`, the cost of rows without a valid BSN included: it is spent
all the same), ranks them with :func:`factlab.reference.concentration.concentration`, and names
their groups from a provider registry when one is given. ``factlab concentration`` is this call
and a write. Exact and internal, as counts are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Final

import polars as pl

from factlab.analysis.costs import costs
from factlab.analysis.counts import count
from factlab.errors import ConfigError
from factlab.periods import Period
from factlab.reference.concentration import SHARES, Concentration, concentration, with_registry
from factlab.reference.providers import ProviderRegistry

__all__ = ["MEASURES", "provider_concentration"]

#: What providers can be ranked by.
MEASURES: Final = ("clients", "cost")


def provider_concentration(
    linked: str | Path | pl.DataFrame | pl.LazyFrame,
    *,
    measure: str = "clients",
    period: Period | str | None = None,
    on: date | str | None = None,
    shares: Sequence[float] = SHARES,
    threshold: float | None = None,
    registry: ProviderRegistry | None = None,
) -> Concentration:
    """Providers ranked by unique clients or by cost, with their cumulative shares.

    Args:
        linked: a linked file (or its rows).
        measure: ``clients`` (unique clients per provider) or ``cost`` (total cost per provider,
            rows without a valid BSN included).
        period: count or sum the rows in care in this period; or
        on: the rows in care on this date.
        shares: the cumulative shares to report how many providers reach.
        threshold: also count the providers below this value (a turnover threshold).
        registry: name each provider's group (unknown providers are refused).

    Raises:
        ConfigError: an unknown measure; and as
            :func:`~factlab.reference.concentration.concentration`.
        InputError, DataError: as ``count`` and ``costs``.

    Example:
        >>> from factlab import schema
        >>> rows = pl.DataFrame({
        ...     "pseudonym": [f"{i:032x}" for i in range(10)],
        ...     "bsn_status": pl.Series(["valid"] * 10, dtype=schema.STATUS_DTYPE),
        ...     "provider": ["A"] * 7 + ["B"] * 2 + ["C"]})
        >>> result = provider_concentration(rows, shares=(0.8,))
        >>> result.ranking.select("provider", "value").rows(), result.reach
        ([('A', 7.0), ('B', 2.0), ('C', 1.0)], {0.8: 2})
    """
    if measure not in MEASURES:
        raise ConfigError("concentration", [f"by: {measure!r} is not one of {', '.join(MEASURES)}"])
    if measure == "clients":
        counted = count(linked, by=["provider"], period=period, on=on)
        values = counted.table.filter(pl.col("provider").is_not_null()).select(
            "provider", pl.col("unique_clients").alias("clients")
        )
        facts = dict(counted.source)
    else:
        summed = costs(linked, by=["provider"], period=period, on=on)
        values = summed.table.filter(pl.col("dimension") == "provider").select(
            pl.col("value").alias("provider"),
            (pl.col("total_cost") + pl.col("cost_without_valid_bsn").fill_null(0)).alias("cost"),
        )
        facts = dict(summed.source)
    result = concentration(values, value=measure, shares=shares, threshold=threshold, source=facts)
    return with_registry(result, registry) if registry is not None else result
