"""The exact tables of a report and how each is protected: one place for both.

:func:`factlab.report.build.build_report` counts through :class:`Timing` (a period with its parts, a
reference date or all rows) and turns every count table into what a report may show through
:class:`Publisher`: a :class:`~factlab.disclosure.protect.ProtectedTable` from
:func:`factlab.disclosure.protect.protect`, or, only in internal mode, an
:class:`~factlab.report.model.InternalTable`. The helpers below build the count tables that
``factlab count`` does not: clients by number of providers, the overlap matrix with its margins,
and rows per provider and BSN status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Final

import polars as pl

from factlab import schema
from factlab.analysis.counts import CountResult, count
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.errors import ConfigError
from factlab.periods import Period
from factlab.reference.config import Reference
from factlab.report.model import InternalTable, TableSource

__all__ = [
    "Publisher",
    "Timing",
    "check_dimensions",
    "distribution_counts",
    "needed_columns",
    "overlap_counts",
    "provider_labels",
    "quality_counts",
]

#: Clients at this many providers or more share one row of the distribution.
PROVIDERS_TOP: Final = 4
#: Name of the part column when a period is protected together with its parts.
PART: Final = "period"


def _spreadsheet_label(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: labels that never run out."""
    label = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        label = chr(ord("A") + remainder) + label
    return label


def provider_labels(rows: pl.DataFrame | pl.LazyFrame, *, anonymise: bool = True) -> dict[str, str]:
    """Labels for the providers of linked rows: ``A``, ``B``, ... or their own codes.

    The order is deterministic: by rows delivered, most first, then by code. A label says
    nothing the published data-quality table (rows per provider) does not already say.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({"provider": ["P2", "P1", "P2", "P3"]})
        >>> provider_labels(rows)
        {'P2': 'A', 'P1': 'B', 'P3': 'C'}
    """
    sizes = (
        rows.lazy()
        .group_by(pl.col(schema.PROVIDER).cast(pl.String).fill_null("unknown"))
        .agg(pl.len().alias("rows"))
        .sort(["rows", schema.PROVIDER], descending=[True, False])
        .collect()
    )
    codes = sizes.get_column(schema.PROVIDER).to_list()
    if not anonymise:
        return {code: code for code in codes}
    return {code: _spreadsheet_label(index) for index, code in enumerate(codes)}


@dataclass(frozen=True)
class Timing:
    """What is counted: a period (with its parts), a reference date, or every row.

    Example:
        >>> from factlab.periods import parse_period
        >>> Timing(parse_period("2025"), (parse_period("2025H1"),), None).column_order
        ('2025H1', '2025')
    """

    period: Period | None
    parts: tuple[Period, ...]
    on: date | None
    reference: Reference | None = None

    @property
    def label(self) -> str:
        """The label of the whole: the period, the reference date, or ``all rows``."""
        if self.period is not None:
            return self.period.label
        return self.on.isoformat() if self.on is not None else "all rows"

    @property
    def column_order(self) -> tuple[str, ...]:
        """The parts, then the whole: the order of period columns in a table."""
        return (*(part.label for part in self.parts), self.label)

    def count(
        self, rows: pl.DataFrame, by: Sequence[str]
    ) -> tuple[CountResult, dict[str, pl.DataFrame]]:
        """Exact counts by ``by`` for the whole, and the count tables of the parts by label."""
        reference = self.reference
        whole = count(rows, by=by, period=self.period, on=self.on, reference=reference)
        parts = {
            part.label: count(rows, by=by, period=part, reference=reference).table
            for part in self.parts
        }
        return whole, parts


@dataclass(frozen=True)
class Publisher:
    """Protects a count table, or wraps it as internal, the same way for every table.

    Attributes:
        rules: the round's disclosure rules; each table names its own measures and dimensions.
        internal: wrap exact counts as :class:`~factlab.report.model.InternalTable` instead.
        label: the label of the whole period in the part column.

    Example:
        >>> import polars as pl
        >>> from factlab.disclosure.rules import preset
        >>> counts = pl.DataFrame({"care_form": ["a", "b", None], "unique_clients": [3, 62, 65]})
        >>> table = Publisher(preset("cbs"), False, "2025").table(
        ...     counts, ["care_form"], [MeasureRule("unique_clients")])
        >>> table.frame["unique_clients"].to_list()
        [65, None, 60]
    """

    rules: DisclosureRules
    internal: bool
    label: str

    def table(
        self,
        counts: pl.DataFrame,
        dims: Sequence[str],
        measures: Sequence[MeasureRule],
        parts: Mapping[str, pl.DataFrame] | None = None,
    ) -> TableSource:
        """The table as a report may show it (parts, when given, protected with it)."""
        if self.internal:
            return InternalTable.from_counts(
                counts,
                dimensions=dims,
                measures=[rule.name for rule in measures],
                parts=parts or None,
                label=self.label,
                part_column=PART,
            )
        rules = replace(self.rules, measures=tuple(measures), dimensions=tuple(dims))
        return protect(counts, rules, parts=parts or None, label=self.label, part_column=PART).table


def _column_of(name: str, leaves: Mapping[str, str]) -> str:
    """The column of the linked file a dimension is read from."""
    return "birth_year" if name == "age_group" else leaves.get(name, name)


def check_dimensions(
    dims: Sequence[str], columns: Sequence[str], leaves: Mapping[str, str] | None = None
) -> None:
    """Raise one ConfigError naming every dimension the data do not hold.

    ``leaves`` gives, for a dimension of the reference (``purchasing_region``), the column it
    is derived from (``municipality``).

    Example:
        >>> check_dimensions(["area"], ["care_form"], {"area": "municipality"})
        Traceback (most recent call last):
        factlab.errors.ConfigError: dimensions: 1 problem(s): dimensions: 'area' (from municipality) is not in the linked data
    """  # noqa: E501
    leaves = leaves or {}
    problems = [
        f"dimensions: {name!r}"
        + (f" (from {leaves[name]})" if name in leaves else "")
        + " is not in the linked data"
        for name in dims
        if _column_of(name, leaves) not in columns
    ]
    if problems:
        raise ConfigError("dimensions", problems)


def needed_columns(
    dims: Sequence[str], columns: Sequence[str], leaves: Mapping[str, str] | None = None
) -> list[str]:
    """The columns a report reads: identity, dates and the dimensions (no other field)."""
    wanted = [schema.PSEUDONYM, schema.STATUS, schema.PROVIDER, "start_date", "end_date"]
    wanted += [_column_of(name, leaves or {}) for name in dims]
    return [name for name in dict.fromkeys(wanted) if name in columns]


def distribution_counts(result: CountResult, providers: int) -> pl.DataFrame:
    """Clients by number of providers, the tail as one row, with the total."""
    top = min(providers, PROVIDERS_TOP)
    buckets = {str(k): 0 for k in range(1, top)}
    tail = f"{top} or more" if providers > top else str(top)
    buckets[tail] = 0
    for number, clients in result.clients_by_provider_count.items():
        key = str(number) if number < top else tail
        buckets[key] += clients
    return pl.DataFrame(
        {
            "providers": [*buckets, None],
            "unique_clients": [*buckets.values(), result.unique_clients],
        },
        schema={"providers": pl.String, "unique_clients": pl.Int64},
    )


def overlap_counts(matrix: pl.DataFrame, total: int) -> pl.DataFrame:
    """The long overlap matrix with its margins (each provider's clients) and the total."""
    a, b, value = "provider_a", "provider_b", "shared_clients"
    diagonal = matrix.filter(pl.col(a) == pl.col(b))
    return pl.concat(
        [
            matrix,
            diagonal.select(a, pl.lit(None, dtype=pl.String).alias(b), value),
            diagonal.select(pl.lit(None, dtype=pl.String).alias(a), b, value),
            pl.DataFrame({a: [None], b: [None], value: [total]}, schema=matrix.schema),
        ]
    )


def quality_counts(rows: pl.DataFrame, providers: Sequence[str]) -> pl.DataFrame:
    """Rows per provider and BSN status (every status, zeros included), with margins."""
    status = pl.col(schema.STATUS).cast(pl.String)
    grid = pl.DataFrame({schema.PROVIDER: list(providers)}).join(
        pl.DataFrame({schema.STATUS: list(schema.STATUSES)}), how="cross"
    )
    cells = grid.join(
        rows.group_by(schema.PROVIDER, status.alias(schema.STATUS)).agg(pl.len().alias("rows")),
        on=[schema.PROVIDER, schema.STATUS],
        how="left",
    ).with_columns(pl.col("rows").fill_null(0).cast(pl.Int64))
    none = pl.lit(None, dtype=pl.String)
    return pl.concat(
        [
            cells,
            cells.group_by(schema.PROVIDER)
            .agg(pl.col("rows").sum())
            .with_columns(none.alias(schema.STATUS)),
            cells.group_by(schema.STATUS)
            .agg(pl.col("rows").sum())
            .with_columns(none.alias(schema.PROVIDER)),
            cells.select(none.alias(schema.PROVIDER), none.alias(schema.STATUS), "rows").sum(),
        ],
        how="diagonal",
    ).select(schema.PROVIDER, schema.STATUS, pl.col("rows").cast(pl.Int64))
