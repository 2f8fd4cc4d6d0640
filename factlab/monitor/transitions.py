"""Transitions between two periods as a matrix per dimension; turning 18; re-entry after care.

**Transitions.** Every client in care in either period gets one value of the dimension per
period: with ``rule="combined"`` the distinct values of their rows in the period, sorted and
joined with ``" + "`` (a client on PGB and care in kind is ``PGB + ZIN``, the third group of the
national statistics); with ``rule="latest"`` the value of their latest row in the period (the
row that ends last, ongoing last of all, then the one that started last), as national
statistics take the municipality. A client in the first period only goes to ``(ended)`` — or to
``(ended at 18)`` when they turned 18 between the periods —, a client in the second only comes
from ``(new)``. So the matrix's rows (without ``(new)``) add up to the first period's clients,
its columns (without the ended ones) to the second period's, per value as well as in total.

**Turning 18.** A client's age at the end of a period is the period's end year minus their
birth year (the linked file has no birth date). A client who is under 18 at the end of the
first period and 18 or older at the end of the second turned 18: each cell counts them
(``turned_18``), and those who left care are their own column.

**Re-entry.** A client's care is the union of all their rows, at any provider; a *spell* is a
stretch of it without a day's gap. A spell that ends in a period is followed by re-entry within
N months when the client's next spell starts within N months (calendar months) after that end.
A spell whose N months reach beyond ``until`` (the end of what the data can tell) and that was
not (yet) followed by re-entry is counted apart (``window_open``): it is neither a re-entry nor
a proven absence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

import polars as pl

from factlab import schema
from factlab._checks import as_date, as_period
from factlab.analysis.flows import trajectories
from factlab.analysis.overlap import INTERNAL_NOTICE, check_dimension
from factlab.errors import ConfigError
from factlab.monitor._source import (
    FAR_FUTURE,
    HIGH,
    LOW,
    PERIOD,
    MonitorRows,
    MonitorSource,
    check_series_periods,
    in_periods,
    open_partitions,
    period_columns,
    require_source,
    with_client,
)
from factlab.periods import Period, active_in

__all__ = [
    "ENDED",
    "ENDED_AT_18",
    "MATRIX_COLUMNS",
    "NEW",
    "REENTRY_COLUMNS",
    "ReentryResult",
    "TransitionResult",
    "reentry",
    "transitions",
]

#: The row of clients who were not in care in the first period.
NEW: Final = "(new)"
#: The column of clients who were not in care in the second period.
ENDED: Final = "(ended)"
#: The column of clients who left care and turned 18 between the periods.
ENDED_AT_18: Final = "(ended at 18)"
#: The columns of a transition matrix in long form, in order.
MATRIX_COLUMNS: Final = ("from", "to", "clients", "turned_18")
#: The columns of a re-entry table, in order.
REENTRY_COLUMNS: Final = (
    "period",
    "period_start",
    "period_end",
    "spells_ended",
    "reentered",
    "window_open",
    "share_reentered",
)
#: The value of a client whose rows in a period have no value of the dimension.
UNKNOWN: Final = "(unknown)"
_ADULT: Final = 18


@dataclass(frozen=True)
class TransitionResult:
    """A transition matrix in long form, and its margins.

    Attributes:
        from_period, to_period: the periods.
        by: the dimension.
        rule: ``combined`` or ``latest`` (see the module).
        matrix: columns ``from``, ``to``, ``clients``, ``turned_18``; one row per non-empty cell.
        summary: ``clients_from``, ``clients_to``, ``continuing``, ``new``, ``ended``,
            ``ended_at_18``, ``turned_18``, ``turned_18_continuing``, ``changed_value``.
        source: non-secret facts about the input.
    """

    from_period: Period
    to_period: Period
    by: str
    rule: str
    matrix: pl.DataFrame
    summary: Mapping[str, int]
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-monitor-transitions",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {
                "from": self.from_period.label,
                "to": self.to_period.label,
                "by": self.by,
                "rule": self.rule,
            },
            "summary": dict(self.summary),
            "source": dict(self.source),
        }

    def wide(self) -> pl.DataFrame:
        """The matrix as a grid: one row per ``from`` value, one column per ``to`` value.

        Example:
            >>> result = TransitionResult(
            ...     Period("2024", date(2024, 1, 1), date(2024, 12, 31)),
            ...     Period("2025", date(2025, 1, 1), date(2025, 12, 31)), "financing", "combined",
            ...     pl.DataFrame({"from": ["PGB", "PGB", NEW], "to": ["ZIN", ENDED, "ZIN"],
            ...                   "clients": [3, 1, 2], "turned_18": [0, 1, 0]}), {})
            >>> result.wide().rows()
            [('(new)', 0, 2), ('PGB', 1, 3)]
        """
        return (
            self.matrix.pivot(on="to", index="from", values="clients", sort_columns=True)
            .fill_null(0)
            .sort("from")
        )


def _client_values(rows: pl.LazyFrame, period: Period, by: str, rule: str) -> pl.LazyFrame:
    """One value of ``by`` per client in care in ``period`` (columns HIGH, LOW, value, birth)."""
    value = pl.col(by).cast(pl.String).fill_null(UNKNOWN)
    active = rows.filter(pl.col(HIGH).is_not_null() & active_in(period))
    birth = pl.col("birth_year").max().alias("birth_year")
    if rule == "combined":
        chosen = value.unique().sort().str.join(" + ").alias("value")
    else:
        ends = pl.col("end_date").fill_null(FAR_FUTURE)
        starts = pl.col("start_date").fill_null(date(1, 1, 1))
        chosen = value.sort_by([ends, starts, value]).last().alias("value")
    return active.group_by(HIGH, LOW).agg(chosen, birth)


def transitions(
    source: MonitorSource,
    from_period: Period | str,
    to_period: Period | str,
    *,
    by: str,
    rule: Literal["combined", "latest"] = "combined",
    partitions: int | None = None,
) -> TransitionResult:
    """The transition matrix of ``by`` between two periods, with new, ended and turning 18.

    Args:
        source: a linked file, its rows, or a monitor store.
        from_period: the first period.
        to_period: the second; it starts after the first ends.
        by: the dimension (financing, care form, municipality, provider, …).
        rule: how a client with several values in a period gets one (see the module).
        partitions: read the input in this many partitions by client (default: one per 5
            million rows of a store or linked file); the figures do not depend on it.

    Raises:
        InputError: the source lacks a needed column.
        ConfigError: the periods overlap or are in the wrong order; ``by`` is not a
            dimension; ``rule`` is unknown; ``partitions`` is not from 1 to 4096.

    Example:
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32, "c" * 32],
        ...     "bsn_status": ["valid"] * 4, "provider": ["P1"] * 4,
        ...     "financing": ["PGB", "ZIN", "PGB", "ZIN"], "birth_year": [2010, 2010, 2006, 2012],
        ...     "start_date": [date(2023, 1, 1), date(2024, 2, 1), date(2023, 3, 1),
        ...                    date(2024, 5, 1)],
        ...     "end_date": [date(2023, 12, 31), None, date(2023, 9, 30), None]})
        >>> result = transitions(rows, "2023", "2024", by="financing")
        >>> result.matrix.rows()
        [('(new)', 'ZIN', 1, 0), ('PGB', '(ended at 18)', 1, 1), ('PGB', 'ZIN', 1, 0)]
    """
    require_source(source, where="transitions")
    first = as_period(from_period, where="transitions", name="from_period")
    second = as_period(to_period, where="transitions", name="to_period")
    check_series_periods([first, second])
    check_dimension(by)
    if rule not in ("combined", "latest"):
        raise ConfigError("rule", [f"rule: {rule!r} is neither 'combined' nor 'latest'"])
    parts = open_partitions(source, partitions, columns=(by,), dates=True, where="transitions")
    rows = parts[0]
    rows.check_covered([first, second], where="transitions")
    present = rows.frame.collect_schema().names()
    births = [pl.col("birth_year")] if "birth_year" in present else []
    birth = births or [pl.lit(None, dtype=pl.Int16).alias("birth_year")]
    # one partition at a time, each read once (both periods come from it) and counted before
    # the next is read
    counted = [
        _flows(
            with_client(part.frame, validated=part.validated)
            .select(HIGH, LOW, pl.col(by), "start_date", "end_date", *birth)
            .collect()
            .lazy(),
            first,
            second,
            by,
            rule,
        ).collect()
        for part in parts
    ]
    # a client is in one partition: the partitions' cells add up to the whole input's
    matrix = (
        pl.concat(counted, how="vertical")
        .group_by("from", "to")
        .agg(pl.col("clients").sum(), pl.col("turned_18").sum())
        .with_columns(pl.col("clients", "turned_18").cast(pl.UInt32))
        .sort("from", "to")
        .select(MATRIX_COLUMNS)
    )
    return TransitionResult(first, second, by, rule, matrix, _summary(matrix), rows.provenance)


def _flows(frame: pl.LazyFrame, first: Period, second: Period, by: str, rule: str) -> pl.LazyFrame:
    """The matrix's cells (columns ``from``, ``to``, ``clients``, ``turned_18``) of ``frame``
    (columns HIGH, LOW, ``by``, the dates and ``birth_year``)."""
    before = _client_values(frame, first, by, rule)
    after = _client_values(frame, second, by, rule)
    joined = before.join(after, on=[HIGH, LOW], how="full", coalesce=True, suffix="_to")
    birth = pl.coalesce("birth_year", "birth_year_to")
    turned = (
        (pl.lit(first.end.year) - birth < _ADULT) & (pl.lit(second.end.year) - birth >= _ADULT)
    ).fill_null(False)
    ended_to = pl.when(turned).then(pl.lit(ENDED_AT_18)).otherwise(pl.lit(ENDED))
    flows = joined.select(
        pl.col("value").fill_null(NEW).alias("from"),
        pl.when(pl.col("value_to").is_null())
        .then(ended_to)
        .otherwise(pl.col("value_to"))
        .alias("to"),
        turned.alias("_turned"),
    )
    return flows.group_by("from", "to").agg(
        pl.len().cast(pl.UInt32).alias("clients"),
        pl.col("_turned").sum().cast(pl.UInt32).alias("turned_18"),
    )


def _summary(matrix: pl.DataFrame) -> dict[str, int]:
    def total(condition: pl.Expr, column: str = "clients") -> int:
        return int(matrix.filter(condition).get_column(column).sum())

    came, went = pl.col("from"), pl.col("to")
    ended = went.is_in([ENDED, ENDED_AT_18])
    return {
        "clients_from": total(came != NEW),
        "clients_to": total(~ended),
        "continuing": total((came != NEW) & ~ended),
        "new": total(came == NEW),
        "ended": total(went == ENDED),
        "ended_at_18": total(went == ENDED_AT_18),
        "turned_18": total(pl.lit(True), "turned_18"),
        "turned_18_continuing": total((came != NEW) & ~ended, "turned_18"),
        "changed_value": total((came != NEW) & ~ended & (came != went)),
    }


@dataclass(frozen=True)
class ReentryResult:
    """Re-entry after care ended, per period.

    Attributes:
        periods: the periods.
        months: the window.
        until: the last day the data can tell about.
        table: per period: ``spells_ended`` (spells of care that ended in it), ``reentered``
            (followed by a new spell within the window), ``window_open`` (not followed yet, and
            the window reaches beyond ``until``), ``share_reentered`` (of the spells whose
            outcome is known: ended minus open).
        source: non-secret facts about the input.
    """

    periods: tuple[Period, ...]
    months: int
    until: date
    table: pl.DataFrame
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-monitor-reentry",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {
                "periods": [period.label for period in self.periods],
                "months": self.months,
                "until": self.until.isoformat(),
            },
            "source": dict(self.source),
        }


def spells(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Each client's spells of care (all rows, any provider, merged where they touch or
    overlap): columns ``pseudonym``, ``start`` (null: unknown), ``end`` (null: ongoing) and
    ``next_start`` (the client's next spell's start, null for the last).

    ``frame`` holds ``pseudonym``, ``bsn_status``, ``start_date`` and ``end_date``. A spell is a
    trajectory (:func:`factlab.analysis.flows.trajectories`: the same merging of intervals)
    with one provider and one care form for all rows.
    """
    merged = trajectories(
        frame.select(schema.PSEUDONYM, schema.STATUS, "start_date", "end_date").with_columns(
            pl.lit("").alias(schema.PROVIDER), pl.lit("").alias("care_form")
        )
    )
    # trajectories come grouped by client, in order of start but for one of unknown start
    # (at most one a client: the first), which comes last: sorted by start again, within client
    client = pl.col(schema.PSEUDONYM).rle_id().alias("_client")
    ordered = (
        merged.lazy()
        .with_columns(client)
        .sort("_client", pl.col("start_date").fill_null(date(1, 1, 1)), maintain_order=True)
    )
    same_next = pl.col("_client") == pl.col("_client").shift(-1)
    return ordered.select(
        schema.PSEUDONYM,
        pl.col("start_date").alias("start"),
        pl.col("end_date").alias("end"),
        pl.when(same_next.fill_null(False))
        .then(pl.col("start_date").shift(-1))
        .alias("next_start"),
    )


def _reentered(
    rows: MonitorRows, chosen: Sequence[Period], months: int, horizon: date
) -> pl.LazyFrame:
    """Per period: spells ended, re-entered and with the window open, of ``rows``."""
    window_end = pl.col("end").dt.offset_by(f"{months}mo")
    ended = (
        spells(rows.frame)
        .filter(pl.col("end").is_not_null())
        .with_columns(
            (pl.col("next_start").is_not_null() & (pl.col("next_start") <= window_end)).alias(
                "_reentered"
            ),
            (window_end > pl.lit(horizon)).alias("_beyond"),
        )
        .with_columns((~pl.col("_reentered") & pl.col("_beyond")).alias("_open"))
    )
    # a spell ends in a period when its last day is in it: spread over periods on [end, end]
    return (
        in_periods(ended, chosen, start="end", end="end")
        .group_by(PERIOD)
        .agg(
            pl.len().cast(pl.UInt32).alias("spells_ended"),
            pl.col("_reentered").sum().cast(pl.UInt32).alias("reentered"),
            pl.col("_open").sum().cast(pl.UInt32).alias("window_open"),
        )
    )


def reentry(
    source: MonitorSource,
    periods: Sequence[Period | str],
    *,
    months: int = 12,
    until: date | str | None = None,
    partitions: int | None = None,
) -> ReentryResult:
    """Spells of care ending in each period, and how many were followed by re-entry within
    ``months`` months.

    Args:
        source: a linked file, its rows, or a monitor store.
        periods: the periods, in order and not overlapping.
        months: the window, 1 to 120 months.
        until: the last day the data tells about (default: the last day every provider's
            deliveries cover; for rows without a manifest, the last day of the last period).
        partitions: read the input in this many partitions by client (default: one per 5
            million rows of a store or linked file); the figures do not depend on it.

    Raises:
        ConfigError: ``months`` out of range, periods overlapping, a period (or ``until``)
            the deliveries do not cover for every provider, ``partitions`` not from 1 to 4096.

    Example:
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32], "bsn_status": ["valid"] * 3,
        ...     "provider": ["P1", "P2", "P1"],
        ...     "start_date": [date(2023, 1, 1), date(2023, 9, 1), date(2023, 2, 1)],
        ...     "end_date": [date(2023, 3, 31), None, date(2023, 5, 31)]})
        >>> reentry(rows, ["2023"], months=6, until="2024-12-31").table.select(
        ...     "spells_ended", "reentered", "window_open").rows()
        [(2, 1, 0)]
    """
    require_source(source, where="reentry")
    chosen = tuple(as_period(period, where="reentry", name="periods") for period in periods)
    check_series_periods(chosen)
    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 120:
        raise ConfigError("months", ["months: a whole number of months from 1 to 120"])
    parts = open_partitions(source, partitions, dates=True, where="reentry")
    rows = parts[0]
    given = None if until is None else as_date(until, where="reentry", name="until")
    rows.check_covered(chosen, until=given, where="reentry")
    # what the data can tell ends where the deliveries end (not where the periods asked end)
    horizon = given or rows.last_covered() or chosen[-1].end
    figures = ("spells_ended", "reentered", "window_open")
    # one partition at a time; a client's spells are all in one, so the counts add up
    counted = (
        pl.concat(
            [_reentered(part, chosen, months, horizon).collect() for part in parts],
            how="vertical",
        )
        .group_by(PERIOD)
        .agg(pl.col(figures).sum())
        .with_columns(pl.col(figures).cast(pl.UInt32))
    )
    table = (
        period_columns(chosen)
        .join(counted, on=PERIOD, how="left")
        .with_columns(pl.col("spells_ended", "reentered", "window_open").fill_null(0))
        .with_columns(
            pl.when(pl.col("spells_ended") > pl.col("window_open"))
            .then(pl.col("reentered") / (pl.col("spells_ended") - pl.col("window_open")))
            .alias("share_reentered")
        )
        .select(REENTRY_COLUMNS)
    )
    return ReentryResult(chosen, months, horizon, table, rows.provenance)
