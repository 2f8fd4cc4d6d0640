"""Deliveries per period: which delivery of a provider covers which days, and the rows kept.

A provider may deliver a round in parts: a year, a half-year, or a correction of one period.
Each delivery declares the period it covers (:class:`factlab.periods.Period`); a delivery
without a period covers the whole round, as before deliveries had periods.

The rules, per provider, in delivery order:

- deliveries whose periods do not overlap are all used;
- a later delivery whose period overlaps an earlier one is refused, unless ``replace`` is given:
  then it replaces exactly the days it covers, and the earlier delivery keeps covering the rest
  (its *remaining coverage*); a delivery with nothing left is superseded wholly;
- the remaining coverage of a delivery must stay one interval: a correction of 2024Q2 inside a
  delivery of the year 2024 would leave two, and is refused (deliver 2024H1 or the year again);
- a delivery without a period and one with a period of the same provider cannot be combined.

Rows follow their delivery's remaining coverage (:func:`resolve_rows`): a row whose care
interval lies wholly in a replaced part is dropped. A registration that runs across periods is
delivered again in each period it touches; the same *episode* (client, provider, care form,
product category, financing and start date) in several deliveries of one provider is kept once,
as the delivery with the latest coverage tells it (its end date is the most recent knowledge).
A row without a product category takes the one the provider's other deliveries name for the
same episode when they name exactly one and its own delivery names none for it (a provider that
left out the column one year); where they name several it stays an episode of its own. Both are
counted per provider in the manifest (``categories_taken``, ``categories_ambiguous``).

Costs: a delivery's cost of a row is the cost of the row's days in the delivery's period. The
kept row keeps each copy's cost with the days it is of (``cost_pieces``: a list of
``{from, to, cost}``; ``cost`` is their sum, and stays unknown when no copy knows it), so that a
cost per period is the delivered one (:func:`factlab.monitor.cost_change.cost_change`). When a
newer delivery takes over some of a delivery's days, the older delivery's cost of a row is
prorated by day to the days it still covers.

Where the deliveries around an episode do not have it, the episode is cut to what they say:

- an episode a delivery reports as ongoing (or ending later) that the provider's delivery
  covering the very next day does not have has ended within that delivery's coverage: its end
  date becomes the last day of that coverage, or the day the delivery was made when that is
  earlier (``created`` in its manifest);
- an episode whose first delivery covers days after its start, while the provider's delivery
  covering the day before does not have it, started within that first delivery's coverage:
  its start date becomes the first day of that coverage;
- across a gap in a provider's coverage (no delivery covers some days): an episode ongoing
  before the gap that the provider's first delivery after the gap does not have ends the day
  before that delivery's coverage starts (an end delivered within the gap stays), and an
  episode first delivered after the gap with an earlier start, that the delivery before the
  gap does not have, starts the day after that delivery's coverage. The gap's own days are
  listed in the manifest (``extra.coverage_gaps``), and counts refuse periods in it
  (:mod:`factlab.analysis.coverage`).

These rows are counted in the linked file's manifest (``extra.duplicate_episodes``), never
dropped or changed silently. An episode that the provider's deliveries on both sides of a
corrected period still show runs through the corrected period, even when the correction leaves
it out: such a correction has to correct the neighbouring periods as well.

Example:
    >>> from factlab.periods import parse_period
    >>> plan = plan_coverage(
    ...     [Delivery("a23", "A", parse_period("2023")), Delivery("a24", "A", parse_period("2024")),
    ...      Delivery("a24h2", "A", parse_period("2024H2"))], replace=True)
    >>> [(entry.delivery.name, entry.covers) for entry in plan]  # doctest: +NORMALIZE_WHITESPACE
    [('a23', (datetime.date(2023, 1, 1), datetime.date(2023, 12, 31))),
     ('a24', (datetime.date(2024, 1, 1), datetime.date(2024, 6, 30))),
     ('a24h2', (datetime.date(2024, 7, 1), datetime.date(2024, 12, 31)))]
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final, TypeAlias

import polars as pl

from factlab.analysis._delivery_rows import (
    CLOSE_AT,
    COST_PIECES,
    COVERED_FROM,
    COVERED_TO,
    DECLARED_FROM,
    DECLARED_TO,
    DELIVERY,
    EPISODE_FIELDS,
    NEXT_ADJACENT,
    PREVIOUS_ADJACENT,
    duplicate_report,
    own_pieces,
    resolve_rows,
)
from factlab.analysis._link_checks import LinkInput, name_files
from factlab.errors import LinkError
from factlab.periods import Period, active_in, parse_period

__all__ = [
    "COST_PIECES",
    "COVERED_FROM",
    "COVERED_TO",
    "DELIVERY",
    "EPISODE_FIELDS",
    "Delivery",
    "GivenPeriods",
    "Planned",
    "adjacency",
    "coverage_entries",
    "coverage_gaps",
    "delivery_facts",
    "delivery_period",
    "duplicate_report",
    "link_deliveries",
    "needs_resolution",
    "outside_period",
    "own_pieces",
    "plan_coverage",
    "resolve_rows",
]

#: The period of each delivery as given by the caller: period labels by path.
GivenPeriods: TypeAlias = Mapping[str, str] | Mapping[Path, str] | Mapping[str | Path, str]

#: The key under which a steward's (or any) manifest may state the period a delivery covers.
PERIOD_KEY: Final = "period"


@dataclass(frozen=True)
class Delivery:
    """One delivery as the coverage plan sees it.

    Attributes:
        name: how messages and the manifest name it (the file name the user gave).
        provider: the provider code of its manifest.
        period: the period it covers; None is the whole round.
    """

    name: str
    provider: str
    period: Period | None


@dataclass(frozen=True)
class Planned:
    """A delivery with the days it still covers.

    Attributes:
        delivery: the delivery.
        covers: the first and last day it still covers; None when it covers the whole round
            (no period) and nothing replaced it.
        superseded: nothing is left of it: a later delivery covers all its days.
        replaced: (period label, name of the replacing delivery) for each later delivery that
            took over some of its days.
    """

    delivery: Delivery
    covers: tuple[date, date] | None
    superseded: bool
    replaced: tuple[tuple[str, str], ...]


def delivery_period(label: str | None, *, name: str) -> Period | None:
    """The period a delivery covers, from its label (``2024``, ``2024H1``, ``2024-01-01..…``).

    Raises:
        LinkError: the label is not a period.

    Example:
        >>> delivery_period("2024h2", name="a.parquet").label
        '2024H2'
        >>> delivery_period(None, name="a.parquet") is None
        True
    """
    if label is None:
        return None
    if not isinstance(label, str):
        raise LinkError(f"{name}: the delivery's period must be text such as '2024'")
    try:
        return parse_period(label)
    except Exception:
        raise LinkError(
            f"{name}: the delivery's period is not a period (YYYY, YYYYH1/H2, YYYYQ1..Q4, "
            "YYYY-MM or YYYY-MM-DD..YYYY-MM-DD)"
        ) from None


def link_deliveries(
    opened: Sequence[LinkInput],
    paths: Sequence[str | Path],
    periods: GivenPeriods | None,
) -> list[Delivery]:
    """Each input as a delivery: its provider and the period it covers.

    The period is the one ``periods`` gives for the path (as the user wrote it, or the same
    file by another name), else the one its manifest states, else none (the whole round).
    """
    given = {Path(path).resolve(): label for path, label in (periods or {}).items()}
    resolved = {Path(path).resolve() for path in paths}
    unknown = [str(path) for path in (periods or {}) if Path(path).resolve() not in resolved]
    if unknown:
        raise LinkError(
            f"cannot link: a period is given for {name_files(unknown)}, which is not an input"
        )
    deliveries = []
    for item, path in zip(opened, paths, strict=True):
        label: str | None = given.get(Path(path).resolve(), item.manifest.extra.get(PERIOD_KEY))
        deliveries.append(
            Delivery(
                item.shown.name,
                str(item.manifest.provider),
                delivery_period(label, name=str(item.shown)),
            )
        )
    return deliveries


def needs_resolution(plan: Sequence[Planned]) -> bool:
    """Whether any provider has several deliveries, or one that was partly replaced."""
    providers = [entry.delivery.provider for entry in plan]
    return len(set(providers)) < len(providers) or any(entry.replaced for entry in plan)


def outside_period(period: Period | None, file_schema: pl.Schema) -> pl.Expr:
    """Whether a row of a delivery is not in care in the period it covers (never, without one).

    The file's own date columns are cast leniently: a date that cannot be read is told as unfit
    for its dtype, not as outside the period. A row is in care as
    :func:`factlab.periods.active_in` says; a file without a date column is taken to leave it
    open (a row with neither date is in care in every period).

    Example:
        >>> rows = pl.DataFrame({"start_date": [date(2022, 3, 1), date(2024, 2, 1), None]})
        >>> rows.select(outside_period(parse_period("2023"), rows.schema)).to_series().to_list()
        [False, True, False]
    """
    if period is None:
        return pl.lit(False)
    start, end = (
        pl.col(name).cast(pl.Date, strict=False)
        if name in file_schema
        else pl.lit(None, dtype=pl.Date)
        for name in ("start_date", "end_date")
    )
    return ~active_in(period, start=start, end=end)


def _overlaps(first: tuple[date, date], second: tuple[date, date]) -> bool:
    return first[0] <= second[1] and second[0] <= first[1]


def _minus(pieces: list[tuple[date, date]], cut: tuple[date, date]) -> list[tuple[date, date]]:
    """The days of ``pieces`` outside ``cut``."""
    left: list[tuple[date, date]] = []
    for start, end in pieces:
        if not _overlaps((start, end), cut):
            left.append((start, end))
            continue
        if start < cut[0]:
            left.append((start, cut[0] - timedelta(days=1)))
        if cut[1] < end:
            left.append((cut[1] + timedelta(days=1), end))
    return left


def plan_coverage(deliveries: Sequence[Delivery], *, replace: bool) -> list[Planned]:
    """Which days each delivery covers, per provider, in delivery order (the rules above).

    Raises:
        LinkError: periods of one provider overlap without ``replace``; a replacement would
            leave a delivery two separate parts; a provider mixes deliveries with and without a
            period. Every problem is told at once, with the files and periods (never a value).
    """
    by_provider: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(deliveries):
        by_provider[item.provider].append(index)
    problems: list[str] = []
    planned: dict[int, Planned] = {}
    for provider, indices in by_provider.items():
        items = [deliveries[index] for index in indices]
        with_period = [item for item in items if item.period is not None]
        if with_period and len(with_period) < len(items):
            problems.append(
                f"provider {provider!r} has deliveries with a period and without one "
                f"({', '.join(item.name for item in items if item.period is None)} without); "
                "give every delivery of a provider its period"
            )
            continue
        for position, index in enumerate(indices):
            item = deliveries[index]
            later = [deliveries[other] for other in indices[position + 1 :]]
            if item.period is None:
                if later and not replace and position == 0:
                    problems.append(
                        f"the same provider appears more than once (provider {provider!r} in "
                        f"{', '.join(other.name for other in items)}); pass replace to let the "
                        "later delivery supersede the earlier, or give each delivery its period"
                    )
                replaced = tuple(("whole round", later[-1].name) for _ in later[-1:])
                planned[index] = Planned(item, None, bool(later), replaced)
                continue
            own = (item.period.start, item.period.end)
            pieces = [own]
            replaced_parts: list[tuple[str, str]] = []
            for other in later:
                if other.period is None:  # cannot be: a provider's deliveries all have one here
                    continue
                cut = (other.period.start, other.period.end)
                if not _overlaps(own, cut):
                    continue
                if not replace:
                    problems.append(
                        f"provider {provider!r}: {other.name} (period {other.period.label}) "
                        f"overlaps {item.name} (period {item.period.label}); pass replace to "
                        "let the later delivery replace the period it covers"
                    )
                    continue
                pieces = _minus(pieces, cut)
                replaced_parts.append((other.period.label, other.name))
            if len(pieces) > 1:
                problems.append(
                    f"provider {provider!r}: the later deliveries would leave {item.name} "
                    f"(period {item.period.label}) covering {len(pieces)} separate parts; "
                    "deliver a correction that reaches one end of the period, or the whole "
                    "period again"
                )
                continue
            planned[index] = Planned(
                item, pieces[0] if pieces else None, not pieces, tuple(replaced_parts)
            )
    if problems:
        raise LinkError("cannot link: " + "; ".join(problems))
    return [planned[index] for index in range(len(deliveries))]


def adjacency(plan: Sequence[Planned]) -> list[tuple[bool, bool]]:
    """Per delivery, whether another delivery of its provider covers the day just before its
    remaining coverage, and the day just after (a gap between them: no).

    Example:
        >>> from factlab.periods import parse_period
        >>> adjacency(plan_coverage([Delivery("a", "A", parse_period("2023")),
        ...                          Delivery("b", "A", parse_period("2024")),
        ...                          Delivery("c", "A", parse_period("2026"))], replace=False))
        [(False, True), (True, False), (False, False)]
    """
    ends: dict[str, set[date]] = defaultdict(set)
    starts: dict[str, set[date]] = defaultdict(set)
    for entry in plan:
        if entry.covers is not None and not entry.superseded:
            starts[entry.delivery.provider].add(entry.covers[0])
            ends[entry.delivery.provider].add(entry.covers[1])
    result = []
    for entry in plan:
        if entry.covers is None or entry.superseded:
            result.append((False, False))
            continue
        provider = entry.delivery.provider
        result.append(
            (
                entry.covers[0] - timedelta(days=1) in ends[provider],
                entry.covers[1] + timedelta(days=1) in starts[provider],
            )
        )
    return result


def coverage_gaps(plan: Sequence[Planned]) -> dict[str, list[list[str]]]:
    """Per provider with a gap between its deliveries' coverage, the days no delivery covers.

    Example:
        >>> from factlab.periods import parse_period
        >>> coverage_gaps(plan_coverage([Delivery("a", "A", parse_period("2023")),
        ...                              Delivery("b", "A", parse_period("2025"))], replace=False))
        {'A': [['2024-01-01', '2024-12-31']]}
    """
    spans: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for entry in plan:
        if entry.covers is not None and not entry.superseded:
            spans[entry.delivery.provider].append(entry.covers)
    gaps: dict[str, list[list[str]]] = {}
    for provider, provider_spans in sorted(spans.items()):
        provider_spans.sort()
        holes = [
            [
                (earlier[1] + timedelta(days=1)).isoformat(),
                (later[0] - timedelta(days=1)).isoformat(),
            ]
            for earlier, later in itertools.pairwise(provider_spans)
            if later[0] > earlier[1] + timedelta(days=1)
        ]
        if holes:
            gaps[provider] = holes
    return gaps


def delivery_facts(
    index: int,
    entry: Planned,
    adjacent: tuple[bool, bool],
    created: date | None,
    declared: tuple[date, date] | None = None,
) -> list[pl.Expr]:
    """The per-row facts :func:`resolve_rows` reads of one delivery, as literal columns.

    Args:
        index: the delivery's number (increasing in delivery order).
        entry: its plan: the days it still covers.
        adjacent: from :func:`adjacency`.
        created: the day it was made (its manifest's ``created``): an episode it reports as
            ongoing was known to be in care up to then, not necessarily to its coverage's end.
        declared: the days its rows' costs are of (default: its period).
    """
    covers = entry.covers or (None, None)
    period = entry.delivery.period
    own = declared or ((period.start, period.end) if period is not None else (None, None))
    close_at = covers[1]
    if close_at is not None and created is not None and covers[0] is not None:
        close_at = max(covers[0], min(close_at, created))
    return [
        pl.lit(index, dtype=pl.UInt32).alias(DELIVERY),
        pl.lit(covers[0], dtype=pl.Date).alias(COVERED_FROM),
        pl.lit(covers[1], dtype=pl.Date).alias(COVERED_TO),
        pl.lit(own[0], dtype=pl.Date).alias(DECLARED_FROM),
        pl.lit(own[1], dtype=pl.Date).alias(DECLARED_TO),
        pl.lit(adjacent[0]).alias(PREVIOUS_ADJACENT),
        pl.lit(adjacent[1]).alias(NEXT_ADJACENT),
        pl.lit(close_at, dtype=pl.Date).alias(CLOSE_AT),
    ]


def coverage_entries(plan: Sequence[Planned]) -> list[dict[str, Any]]:
    """What the manifest says of each delivery: its provider, period and the days it covers.

    Example:
        >>> from factlab.periods import parse_period
        >>> coverage_entries(plan_coverage([Delivery("a.parquet", "A", parse_period("2024H1"))],
        ...                                replace=False))  # doctest: +NORMALIZE_WHITESPACE
        [{'provider': 'A', 'file': 'a.parquet', 'period': '2024H1', 'covers_from': '2024-01-01',
          'covers_to': '2024-06-30', 'superseded': False, 'replaced': []}]
    """
    return [
        {
            "provider": entry.delivery.provider,
            "file": entry.delivery.name,
            "period": None if entry.delivery.period is None else entry.delivery.period.label,
            "covers_from": None if entry.covers is None else entry.covers[0].isoformat(),
            "covers_to": None if entry.covers is None else entry.covers[1].isoformat(),
            "superseded": entry.superseded,
            "replaced": [{"period": label, "by": name} for label, name in entry.replaced],
        }
        for entry in plan
    ]
