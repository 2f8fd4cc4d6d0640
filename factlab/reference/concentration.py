"""How concentrated care is: providers ranked by clients or cost, and their cumulative shares.

The input is one value per provider: unique clients (``factlab count --by provider``) or cost
(``factlab costs``). Providers are ranked from the largest down (ties by code, so the ranking
never depends on row order); each gets its share of the total and the cumulative share of it
and all larger ones. :attr:`Concentration.reach` says how many of the largest providers make up
80, 90 and 99 % (the smallest number whose cumulative share is at least that), and a turnover
threshold counts the providers below it.

By clients the total is the sum over providers: a client at two providers counts at both, so
the shares are shares of client–provider relations, not of unique clients. The figures are
exact and internal to the trusted party, as counts are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from factlab._checks import require_frame, require_text
from factlab._version import __version__
from factlab.errors import ConfigError, DataError
from factlab.manifest import now_iso
from factlab.reference.municipalities import shown_value
from factlab.reference.providers import ProviderRegistry, provider_key

__all__ = ["SHARES", "Concentration", "concentration", "with_registry"]

#: The cumulative shares :func:`concentration` reports by default.
SHARES: Final = (0.8, 0.9, 0.99)
NOTE: Final = (
    "exact figures per provider, internal to the trusted party; not for publication without "
    "disclosure control"
)


@dataclass(frozen=True)
class Concentration:
    """Providers ranked by a measure, with shares (made by :func:`concentration`).

    Attributes:
        measure: what was ranked (``unique_clients``, ``cost``).
        ranking: ``rank`` (1 = largest), the label column (``provider``), ``value``,
            ``share`` and ``cumulative_share`` (fractions of ``total``; null when it is 0).
        total: the sum of the values.
        reach: per share asked, the number of largest providers that reach it.
        threshold: the turnover threshold, or None.
        below_threshold: providers whose value is below the threshold (None without one).
        below_threshold_share: their share of the total (None without a threshold or total).
        source: facts about the input, for provenance.
    """

    measure: str
    ranking: pl.DataFrame
    total: float
    reach: dict[float, int]
    threshold: float | None = None
    below_threshold: int | None = None
    below_threshold_share: float | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The key figures as JSON-ready data."""
        return {
            "measure": self.measure,
            "providers": self.ranking.height,
            "total": self.total,
            "reach": {f"{share:.0%}": number for share, number in self.reach.items()},
            "threshold": self.threshold,
            "below_threshold": self.below_threshold,
            "below_threshold_share": self.below_threshold_share,
        }

    def metadata(self) -> dict[str, Any]:
        """What an output of the ranking says about itself."""
        return {
            "format": "factlab-concentration",
            "exact": True,
            "internal": True,
            "note": NOTE,
            **self.summary(),
            "source": dict(self.source),
            "factlab_version": __version__,
            "created": now_iso(),
        }


def concentration(
    values: pl.DataFrame,
    *,
    value: str,
    label: str = "provider",
    shares: Sequence[float] = SHARES,
    threshold: float | None = None,
    source: dict[str, Any] | None = None,
) -> Concentration:
    """Rank the rows of ``values`` by ``value`` and compute cumulative shares.

    Args:
        values: one row per provider.
        value: the column to rank by (non-negative numbers).
        label: the column naming the provider.
        shares: cumulative shares to report the reach of (each in (0, 1]).
        threshold: count the providers whose value is below this (a turnover threshold).
        source: facts about the input for the metadata.

    Raises:
        ConfigError: a column is missing, a share is outside (0, 1], a negative threshold.
        DataError: a provider on two rows, or a value that is null or negative.

    Example:
        >>> import polars as pl
        >>> table = pl.DataFrame({"provider": ["A", "B", "C", "D"], "cost": [50.0, 30, 15, 5]})
        >>> result = concentration(table, value="cost", threshold=10)
        >>> result.reach, result.below_threshold
        ({0.8: 2, 0.9: 3, 0.99: 4}, 1)
        >>> result.ranking.get_column("cumulative_share").to_list()
        [0.5, 0.8, 0.95, 1.0]
    """
    require_frame(values, where="concentration", name="values")
    require_text(value, where="concentration", name="value")
    problems = [f"{name}: no such column" for name in (label, value) if name not in values.columns]
    problems += [f"shares: {share} is not in (0, 1]" for share in shares if not 0 < share <= 1]
    if threshold is not None and threshold < 0:
        problems.append("threshold: must be 0 or more")
    if problems:
        raise ConfigError("concentration", problems)
    frame = values.select(pl.col(label), pl.col(value).cast(pl.Float64).alias("value"))
    bad = frame.filter(pl.col("value").is_null() | (pl.col("value") < 0)).height
    doubled = frame.filter(pl.col(label).is_duplicated()).get_column(label).unique()
    if bad or doubled.len():
        reasons = [f"{bad} row(s) with a null or negative {value}"] if bad else []
        if doubled.len():
            reasons.append(f"{doubled.len()} {label}(s) on more than one row")
        raise DataError(f"concentration: {'; '.join(reasons)}")
    total = float(frame.get_column("value").sum())
    # Rounded to 12 places: a share is a ratio of sums, not a float's last bits.
    share = (pl.col("value") / total).round(12) if total > 0 else pl.lit(None, pl.Float64)
    ranking = (
        frame.sort(["value", label], descending=[True, False])
        .with_row_index("rank", offset=1)
        .with_columns(share.alias("share"))
        .with_columns(
            (
                (pl.col("value").cum_sum() / total).round(12)
                if total > 0
                else pl.lit(None, pl.Float64)
            ).alias("cumulative_share")
        )
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
    cumulative = ranking.get_column("value").cum_sum().to_list()
    reach: dict[float, int] = {}
    for wanted in shares:
        # Compared on the sums, not on rounded fractions: 80 of 100 reaches 80 %.
        target = wanted * total
        reach[wanted] = (
            next(
                (index + 1 for index, running in enumerate(cumulative) if running >= target - 1e-9),
                len(cumulative),
            )
            if total > 0
            else 0
        )
    below = below_share = None
    if threshold is not None:
        small = frame.filter(pl.col("value") < threshold)
        below = small.height
        below_share = float(small.get_column("value").sum()) / total if total > 0 else None
    return Concentration(
        value, ranking, total, reach, threshold, below, below_share, dict(source or {})
    )


def with_registry(result: Concentration, registry: ProviderRegistry) -> Concentration:
    """The ranking with each provider's ``name`` and ``group`` from the registry.

    Raises:
        DataError: providers the registry does not know, all of them at once.

    Example:
        >>> import polars as pl
        >>> from factlab.reference.providers import providers_from_mapping
        >>> registry = providers_from_mapping({"version": 1, "provider": [
        ...     {"code": "P1", "name": "Accare", "group": "top 5"}]})
        >>> ranked = concentration(pl.DataFrame({"provider": ["P1"], "clients": [9]}),
        ...                        value="clients")
        >>> with_registry(ranked, registry).ranking.select("provider", "name", "group").row(0)
        ('P1', 'Accare', 'top 5')
    """
    lookup = registry.lookup()
    label = result.ranking.columns[1]
    keys = result.ranking.select(provider_key(pl.col(label))).to_series().to_list()
    unknown = [
        text
        for text, key in zip(result.ranking.get_column(label).to_list(), keys, strict=True)
        if key not in lookup
    ]
    if unknown:
        raise DataError(
            f"concentration: {len(unknown)} provider(s) the registry ({registry.source}) does not "
            f"know: {', '.join(shown_value(text) for text in unknown[:20])}"
        )
    codes = [lookup[key] for key in keys]
    ranking = result.ranking.with_columns(
        pl.Series("name", [registry.providers[code].name for code in codes], dtype=pl.String),
        pl.Series("group", [registry.providers[code].group for code in codes], dtype=pl.String),
    )
    return Concentration(
        result.measure,
        ranking,
        result.total,
        result.reach,
        result.threshold,
        result.below_threshold,
        result.below_threshold_share,
        {**result.source, "registry": registry.source},
    )
