"""(Private) what the monitor's analyses read: a linked file, its rows, or a monitor store.

Every analysis of the monitor opens its input here, so that a linked file is checked through
its manifest (as the analyses of :mod:`factlab.analysis` do) and a store through its own
manifest and its parts' (:mod:`factlab.monitor.store`). Clients are told apart by the two 64-bit
halves of their pseudonym, as in :mod:`factlab.analysis._clients`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final, TypeAlias

import polars as pl

from factlab import schema
from factlab._checks import require_frame
from factlab.analysis._clients import HIGH, LOW, key_halves
from factlab.analysis.overlap import LinkedSource, linkable, scan_linked
from factlab.errors import ConfigError, DataError, InputError
from factlab.manifest import read_manifest
from factlab.monitor.store import Store, open_store, scan_store
from factlab.periods import Period

__all__ = [
    "FAR_FUTURE",
    "HIGH",
    "LOW",
    "PERIOD",
    "MonitorRows",
    "MonitorSource",
    "check_series_periods",
    "in_periods",
    "open_rows",
    "period_columns",
    "require_source",
    "with_client",
]

#: A linked file, its rows, or a monitor store (its folder, or the opened :class:`Store`).
MonitorSource: TypeAlias = LinkedSource | Store

#: The column that holds the index of a row's period, once rows are spread over periods.
PERIOD: Final = "_period"
_FAR_PAST: Final = date(1, 1, 1)
#: The end of an ongoing interval where a day is needed (sorts after every real day).
FAR_FUTURE: Final = date(9999, 12, 31)


@dataclass(frozen=True)
class MonitorRows:
    """Rows to analyse, lazily: where they came from, and whether link checked their pseudonyms.

    Attributes:
        frame: the rows.
        name: the file or store, or ``"frame"``, for messages.
        provenance: non-secret facts about the input for output metadata.
        validated: the pseudonyms were checked by link (a linked file, a store's parts).
    """

    frame: pl.LazyFrame
    name: str
    provenance: Mapping[str, Any]
    validated: bool
    coverage: Mapping[str, tuple[tuple[date, date], ...]] | None = None
    known_until: date | None = None

    def last_covered(self) -> date | None:
        """The last day every provider's deliveries tell about (None: not known).

        Per provider that is the end of its last delivery's coverage, or the day that delivery
        was made when it is earlier: what was ongoing then was known to be in care up to then.
        """
        return self.known_until

    def check_covered(
        self, periods: Sequence[Period], *, until: date | None = None, where: str
    ) -> None:
        """Refuse periods (and an ``until``) the deliveries do not cover for every provider:
        an episode delivered as ongoing would otherwise count on beyond what was delivered.

        Raises:
            ConfigError: every problem at once, naming the periods and providers.
        """
        if not self.coverage:
            return
        problems = []
        for period in periods:
            missing = sorted(
                provider
                for provider, spans in self.coverage.items()
                if not any(first <= period.start and period.end <= last for first, last in spans)
            )
            if missing:
                problems.append(
                    f"{where}: {period.label} is not covered by the deliveries of "
                    f"{', '.join(missing)}; add their deliveries for it, or ask for covered periods"
                )
        last = self.last_covered()
        if until is not None and last is not None and until > last:
            problems.append(
                f"{where}: until {until.isoformat()} is after {last.isoformat()}, the last day "
                "every provider's deliveries cover"
            )
        if problems:
            raise ConfigError("periods", problems)


def require_source(source: object, *, where: str) -> None:
    """Refuse anything but a linked file, its rows, or a store: one clear TypeError.

    Example:
        >>> require_source(None, where="series")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: series: source must be a Polars DataFrame or LazyFrame, or the path ...; got None
    """
    if not isinstance(source, Store):
        require_frame(source, where=where, name="source", path_ok=True)


def open_rows(
    source: MonitorSource, *, columns: Iterable[str] = (), dates: bool = True
) -> MonitorRows:
    """The rows of ``source``, lazily, checked to have the columns an analysis needs.

    A row that ends before it starts is taken to last its start day only, as
    :func:`factlab.analysis.counts.count` takes it (it would otherwise be in care in a year but
    in neither of its halves).

    Raises:
        InputError: not a linked file or store, or a needed column is missing.
        DataError: a date column is not of type Date.
    """
    rows = _open(source, columns=columns, dates=dates)
    if not dates:
        return rows
    start, end = pl.col("start_date"), pl.col("end_date")
    ordered = rows.frame.with_columns(
        pl.when(end < start).then(start).otherwise(end).alias("end_date")
    )
    return MonitorRows(
        ordered, rows.name, rows.provenance, rows.validated, rows.coverage, rows.known_until
    )


def _merged(spans: list[tuple[date, date, date | None]]) -> tuple[tuple[date, date], ...]:
    """Days covered as disjoint intervals, oldest first."""
    spans.sort()
    merged: list[tuple[date, date]] = []
    for first, last, _ in spans:
        if merged and first <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _known(spans: list[tuple[date, date, date | None]]) -> date:
    """The last day a provider's deliveries tell about: the end of the last one's coverage, or
    the day it was made when that is earlier (but within its coverage)."""
    first, last, made = max(spans, key=lambda span: span[1])
    return last if made is None else max(first, min(last, made))


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


_Coverage: TypeAlias = tuple[dict[str, tuple[tuple[date, date], ...]], date | None]


def _coverage(spans: Iterable[tuple[str, Any, Any, Any]]) -> _Coverage:
    """Per provider, the days its deliveries cover, and the last day all of them tell about,
    from (provider, from, to, created)."""
    found: dict[str, list[tuple[date, date, date | None]]] = {}
    for provider, first, last, created in spans:
        if first is None or last is None:
            continue
        found.setdefault(str(provider), []).append(
            (date.fromisoformat(first), date.fromisoformat(last), _day(created))
        )
    coverage = {provider: _merged(list(spans_)) for provider, spans_ in found.items()}
    known = min((_known(spans_) for spans_ in found.values()), default=None)
    return coverage, known


def _store_coverage(store: Store) -> _Coverage:
    return _coverage(
        (unit["provider"], unit.get("covers_from"), unit.get("covers_to"), unit.get("created"))
        for part in store.parts
        for unit in part["covers"]
    )


def _linked_coverage(path: Path) -> _Coverage:
    """What a linked file's deliveries cover (None: linked without periods)."""
    manifest = read_manifest(path)
    deliveries = manifest.extra.get("deliveries")
    if not isinstance(deliveries, list):
        return {}, None
    made = {
        (entry.get("provider"), entry.get("file")): entry.get("created")
        for entry in manifest.inputs
    }
    return _coverage(
        (
            entry["provider"],
            entry.get("covers_from"),
            entry.get("covers_to"),
            made.get((entry.get("provider"), entry.get("file"))),
        )
        for entry in deliveries
        if not entry.get("superseded")
    )


def _open(source: MonitorSource, *, columns: Iterable[str], dates: bool) -> MonitorRows:
    if isinstance(source, Store) or (isinstance(source, str | Path) and Path(source).is_dir()):
        store = source if isinstance(source, Store) else open_store(source)
        rows = scan_store(store)
        try:
            checked = scan_linked(rows.frame, columns=columns, dates=dates)
        except (InputError, DataError) as exc:
            # told of the store, not of the frame its parts were read into
            raise type(exc)(str(exc).replace("frame: ", f"{rows.name}: ", 1)) from None
        # a store's parts are linked files: link checked every pseudonym
        coverage, known = _store_coverage(store)
        return MonitorRows(checked.frame, rows.name, rows.provenance, True, coverage, known)
    linked = scan_linked(source, columns=columns, dates=dates)
    coverage, known = (
        _linked_coverage(Path(source)) if isinstance(source, str | Path) else ({}, None)
    )
    return MonitorRows(
        linked.frame, linked.name, linked.provenance, linked.validated, coverage or None, known
    )


def with_client(frame: pl.LazyFrame, *, validated: bool) -> pl.LazyFrame:
    """``frame`` with a client key (``HIGH``, ``LOW``) on its linkable rows, null elsewhere.

    A linked file's pseudonyms were checked by link and are read as two integers; rows handed
    in as a frame are ranked on their text instead, which is as exact and slower.
    """
    pseudonym = pl.when(linkable()).then(pl.col(schema.PSEUDONYM))
    if validated:
        return frame.with_columns(key_halves(pseudonym))
    return frame.with_columns(
        pseudonym.rank("dense").cast(pl.UInt64).alias(HIGH),
        pl.when(linkable()).then(pl.lit(0, dtype=pl.UInt64)).alias(LOW),
    )


def check_series_periods(periods: Sequence[Period]) -> None:
    """Periods of a series must be given, in order, and must not overlap."""
    if not periods:
        raise ConfigError("periods", ["periods: give at least one period"])
    problems = [
        f"periods: {later.label} does not start after {earlier.label} ends"
        for earlier, later in itertools.pairwise(periods)
        if later.start <= earlier.end
    ]
    if problems:
        raise ConfigError("periods", problems)


def in_periods(
    frame: pl.LazyFrame, periods: Sequence[Period], start: str = "start_date", end: str = "end_date"
) -> pl.LazyFrame:
    """One row per row of ``frame`` and period it is in care in, with the period's index
    (``PERIOD``).

    A row is in care in a period when ``[start, end]`` overlaps it (a null start: from the
    beginning; a null end: ongoing), as :func:`factlab.periods.active_in` says. The periods are
    found by a binary search on their bounds, so a row costs a few steps, not one per period.
    """
    starts = pl.Series([period.start for period in periods], dtype=pl.Date)
    ends = pl.Series([period.end for period in periods], dtype=pl.Date)
    first = pl.lit(ends).search_sorted(pl.col(start).fill_null(_FAR_PAST), side="left")
    last = pl.lit(starts).search_sorted(pl.col(end).fill_null(FAR_FUTURE), side="right")
    return (
        frame.with_columns(pl.int_ranges(first, last, dtype=pl.UInt32).alias(PERIOD))
        .explode(PERIOD)
        .filter(pl.col(PERIOD).is_not_null())
    )


def period_columns(periods: Sequence[Period]) -> pl.DataFrame:
    """The periods as a frame: ``PERIOD`` (index), ``period``, ``period_start``, ``period_end``."""
    return pl.DataFrame(
        {
            PERIOD: pl.Series(range(len(periods)), dtype=pl.UInt32),
            "period": [period.label for period in periods],
            "period_start": pl.Series([period.start for period in periods], dtype=pl.Date),
            "period_end": pl.Series([period.end for period in periods], dtype=pl.Date),
        }
    )
