"""Counting periods and reference dates.

National statistics count youths "in care at any moment in the period": a registration counts for
a period when its care interval ``[start_date, end_date]`` overlaps the period. An open end
(``end_date`` null) means the care is ongoing. A missing start date means the start is unknown;
such a row is taken to have been in care from the beginning of time (it was delivered as a current
client), which errs towards counting rather than silently dropping a client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from factlab.errors import ConfigError

__all__ = ["Period", "active_in", "active_on", "parse_date", "parse_period"]

# Matched with fullmatch ("$" would let a trailing newline through) and ASCII digits (\d also
# takes other scripts' digits, which int() reads).
_YEAR = re.compile(r"([0-9]{4})")
_HALF = re.compile(r"([0-9]{4})[Hh]([12])")
_QUARTER = re.compile(r"([0-9]{4})[Qq]([1-4])")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_RANGE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\s*\.\.\s*([0-9]{4}-[0-9]{2}-[0-9]{2})")


@dataclass(frozen=True)
class Period:
    """A closed interval of days, ``start`` to ``end`` inclusive.

    Attributes:
        label: how the period was written (``2025``, ``2025H1``, ``2025Q3``, ``2025-03``, or
            ``2025-01-01..2025-06-30``).
        start: first day in the period.
        end: last day in the period.

    Example:
        >>> p = parse_period("2025H1")
        >>> (p.start.isoformat(), p.end.isoformat())
        ('2025-01-01', '2025-06-30')
    """

    label: str
    start: date
    end: date

    def halves(self) -> tuple[Period, Period]:
        """The two halves of a calendar year period (raises ConfigError for other periods)."""
        match = _YEAR.fullmatch(self.label)
        if match is None:
            raise ConfigError("period", [f"{self.label}: only a year has halves"])
        year = match.group(1)
        return parse_period(f"{year}H1"), parse_period(f"{year}H2")


def _month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def parse_date(text: str, *, what: str = "date") -> date:
    """Parse an ISO date (``YYYY-MM-DD``); raise ConfigError naming ``what`` otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(what, [f"{what}: not an ISO date (YYYY-MM-DD)"]) from exc


def parse_period(text: str) -> Period:
    """Parse a period: a year, half-year, quarter, month or explicit ``from..to`` range.

    Raises:
        ConfigError: the text is none of these forms, or the range ends before it starts.

    Example:
        >>> parse_period("2024Q4").end
        datetime.date(2024, 12, 31)
        >>> parse_period("2025-02-01..2025-02-28").label
        '2025-02-01..2025-02-28'
    """
    if not isinstance(text, str):
        raise TypeError(
            f"parse_period: text must be a str such as '2025'; got {type(text).__name__}"
        )
    label = text.strip()
    if m := _YEAR.fullmatch(label):
        year = int(m.group(1))
        return Period(label, date(year, 1, 1), date(year, 12, 31))
    if m := _HALF.fullmatch(label):
        year, half = int(m.group(1)), int(m.group(2))
        first = 1 if half == 1 else 7
        return Period(label.upper(), date(year, first, 1), _month_end(year, first + 5))
    if m := _QUARTER.fullmatch(label):
        year, quarter = int(m.group(1)), int(m.group(2))
        first = 3 * quarter - 2
        return Period(label.upper(), date(year, first, 1), _month_end(year, first + 2))
    if m := _MONTH.fullmatch(label):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ConfigError("period", [f"{label}: month must be 01..12"])
        return Period(label, date(year, month, 1), _month_end(year, month))
    if m := _RANGE.fullmatch(label):
        start = parse_date(m.group(1), what="period start")
        end = parse_date(m.group(2), what="period end")
        if end < start:
            raise ConfigError("period", [f"{label}: the period ends before it starts"])
        return Period(f"{start.isoformat()}..{end.isoformat()}", start, end)
    raise ConfigError(
        "period",
        [f"{label!r}: expected YYYY, YYYYH1/H2, YYYYQ1..Q4, YYYY-MM or YYYY-MM-DD..YYYY-MM-DD"],
    )


def active_in(
    period: Period, *, start: pl.Expr | None = None, end: pl.Expr | None = None
) -> pl.Expr:
    """Boolean expression: the row's care interval overlaps ``period``.

    Uses the canonical ``start_date`` and ``end_date`` columns (both Date), or the Date
    expressions ``start`` and ``end`` when given (a delivery's own columns, read leniently). A
    null end date is ongoing care; a null start date counts as started before the period.

    Example:
        >>> rows = pl.DataFrame({"start_date": [date(2023, 12, 1), None],
        ...                      "end_date": [date(2023, 12, 31), date(2023, 6, 30)]})
        >>> rows.select(active_in(parse_period("2024"))).to_series().to_list()
        [False, False]
        >>> rows.select(active_in(parse_period("2023H1"))).to_series().to_list()
        [False, True]
    """
    start = pl.col("start_date") if start is None else start
    end = pl.col("end_date") if end is None else end
    starts_before_end = start.is_null() | (start <= period.end)
    ends_after_start = end.is_null() | (end >= period.start)
    return starts_before_end & ends_after_start


def active_on(day: date) -> pl.Expr:
    """Boolean expression: the row's client was in care on ``day`` (a reference date, peildatum)."""
    return active_in(Period(day.isoformat(), day, day))
