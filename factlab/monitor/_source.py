"""(Private) what the monitor's analyses read: a linked file, its rows, or a monitor store.

Every analysis of the monitor opens its input here, so that a linked file is checked through
its manifest (as the analyses of :mod:`factlab.analysis` do) and a store through its own
manifest and its parts' (:mod:`factlab.monitor.store`). Clients are told apart by the two 64-bit
halves of their pseudonym, as in :mod:`factlab.analysis._clients`.

**Partitions by client.** Ten years of a national volume do not fit in memory at once. An
analysis reads its input in partitions instead (:func:`open_partitions`): a row's partition is
the first 64 bits of its pseudonym modulo the number of partitions, so all rows of a client, and
all copies of an episode, fall in one partition, and every count made per client is made whole
in one partition. A row without a valid BSN, which every rule and count takes on its own, goes
by its row number in its file instead (:mod:`factlab.monitor._partitions`).
The analyses add their partitions' counts (never averages or sums of costs:
those would change in their last digits with the order of adding), so their figures do not
depend on the number of partitions; tests prove it. The rules of deliveries across a store's
parts compare copies of one episode only, so they run per partition too.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, TypeAlias

import polars as pl

from factlab import schema
from factlab._checks import require_frame
from factlab.analysis._clients import HIGH, LOW, key_halves
from factlab.analysis.coverage import Coverage, coverage_of, linked_coverage
from factlab.analysis.overlap import LinkedSource, linkable, scan_linked
from factlab.errors import ConfigError, DataError, InputError
from factlab.manifest import read_manifest
from factlab.monitor._partitions import client_partition, in_partition
from factlab.monitor.store import Store, open_store, scan_checked, scan_store
from factlab.periods import Period

__all__ = [
    "FAR_FUTURE",
    "HIGH",
    "LOW",
    "PERIOD",
    "ROWS_PER_PARTITION",
    "MonitorRows",
    "MonitorSource",
    "check_series_periods",
    "client_partition",
    "in_periods",
    "open_partitions",
    "open_rows",
    "partition_count",
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
#: Rows per partition when an analysis chooses the number itself: a series peaked at 1.50 GiB
#: with 11 partitions of 5 × 10^7 stored rows and at 0.84 GiB with 2 of 5 × 10^6 (about a third
#: of a GiB per million rows of a partition; benchmarks/results-monitor.json,
#: docs/performance.md); each further partition reads the whole input once more.
ROWS_PER_PARTITION: Final = 5_000_000
_MAX_PARTITIONS: Final = 4096


@dataclass(frozen=True)
class MonitorRows:
    """Rows to analyse, lazily: where they came from, and whether link checked their pseudonyms.

    Attributes:
        frame: the rows.
        name: the file or store, or ``"frame"``, for messages.
        provenance: non-secret facts about the input for output metadata.
        validated: the pseudonyms were checked by link (a linked file, a store's parts).
        coverage: the days each provider's deliveries cover (empty: rows handed in as a frame,
            or linked without periods; nothing is checked then).
    """

    frame: pl.LazyFrame
    name: str
    provenance: Mapping[str, Any]
    validated: bool
    coverage: Coverage = field(default_factory=Coverage)

    def last_covered(self) -> date | None:
        """The last day every provider's deliveries tell about (None: not known).

        Per provider that is the end of its last delivery's coverage, or the day that delivery
        was made when it is earlier: what was ongoing then was known to be in care up to then
        (:attr:`factlab.analysis.coverage.Coverage.known_until`).
        """
        return self.coverage.known_until

    def check_covered(
        self, periods: Sequence[Period], *, until: date | None = None, where: str
    ) -> None:
        """Refuse periods (and an ``until``) the deliveries do not cover for every provider:
        an episode delivered as ongoing would otherwise count on beyond what was delivered.
        The periods are checked as ``count`` checks them (:mod:`factlab.analysis.coverage`).

        Raises:
            ConfigError: every problem at once, naming the periods, providers and days.
        """
        problems = self.coverage.problems(periods, where=where)
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


def partition_count(source: MonitorSource, partitions: int | None, *, where: str) -> int:
    """How many partitions an analysis of ``source`` reads: ``partitions`` when given, else one
    per :data:`ROWS_PER_PARTITION` rows of a store or linked file (one for rows in memory).

    Raises:
        ConfigError: ``partitions`` is not a whole number from 1 to 4096.

    Example:
        >>> partition_count(pl.DataFrame({"a": [1]}), None, where="series")
        1
        >>> partition_count(pl.DataFrame({"a": [1]}), 0, where="series")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        factlab.errors.ConfigError: ...partitions: a whole number from 1 to 4096...
    """
    if partitions is not None:
        if (
            not isinstance(partitions, int)
            or isinstance(partitions, bool)
            or not 1 <= partitions <= _MAX_PARTITIONS
        ):
            raise ConfigError(
                "partitions",
                [f"{where}: partitions: a whole number from 1 to {_MAX_PARTITIONS}"],
            )
        return partitions
    if isinstance(source, Store):
        rows = sum(int(part.get("rows", 0)) for part in source.parts)
    elif isinstance(source, str | Path) and Path(source).is_file():
        rows = read_manifest(Path(source)).rows
    else:
        return 1
    return min(max(1, -(-rows // ROWS_PER_PARTITION)), _MAX_PARTITIONS)


def open_partitions(
    source: MonitorSource,
    partitions: int | None,
    *,
    columns: Iterable[str] = (),
    dates: bool = True,
    where: str,
) -> list[MonitorRows]:
    """The rows of ``source`` as :func:`open_rows` gives them, in partitions by client
    (:func:`client_partition`; see the module): one lazy frame per partition, each read from
    the input when collected. The input is checked once: a store's parts, or a linked file's
    manifest and SHA-256.

    Raises:
        as :func:`open_rows` and :func:`partition_count`.
    """
    if isinstance(source, str | Path) and Path(source).is_dir():
        source = open_store(source)
    count = partition_count(source, partitions, where=where)
    if count == 1:
        return [open_rows(source, columns=columns, dates=dates)]
    if isinstance(source, Store):
        # the rules of deliveries across parts run per partition, on its rows only
        return [
            open_rows(source, columns=columns, dates=dates, part=(index, count), checked=index > 0)
            for index in range(count)
        ]
    # a linked file (or rows): opened and checked once, then read a partition at a time
    whole = open_rows(source, columns=columns, dates=dates)
    return [
        dataclasses.replace(whole, frame=in_partition(whole.frame, (index, count)))
        for index in range(count)
    ]


def open_rows(
    source: MonitorSource,
    *,
    columns: Iterable[str] = (),
    dates: bool = True,
    part: tuple[int, int] | None = None,
    checked: bool = False,
) -> MonitorRows:
    """The rows of ``source``, lazily, checked to have the columns an analysis needs.

    A row that ends before it starts is taken to last its start day only, as
    :func:`factlab.analysis.counts.count` takes it (it would otherwise be in care in a year but
    in neither of its halves).

    ``part`` ``(index, count)``: only the rows of that partition (:func:`client_partition`).
    ``checked``: a store's parts were checked by an earlier call on the same opened store.

    Raises:
        InputError: not a linked file or store, or a needed column is missing.
        DataError: a date column is not of type Date.
    """
    rows = _open(source, columns=columns, dates=dates, part=part, checked=checked)
    if not dates:
        return rows
    start, end = pl.col("start_date"), pl.col("end_date")
    ordered = rows.frame.with_columns(
        pl.when(end < start).then(start).otherwise(end).alias("end_date")
    )
    return MonitorRows(ordered, rows.name, rows.provenance, rows.validated, rows.coverage)


def _store_coverage(store: Store) -> Coverage:
    """What the deliveries of a store's parts cover (each part lists its deliveries' units)."""
    return coverage_of(
        (unit["provider"], unit.get("covers_from"), unit.get("covers_to"), unit.get("created"))
        for part in store.parts
        for unit in part["covers"]
    )


def _open(
    source: MonitorSource,
    *,
    columns: Iterable[str],
    dates: bool,
    part: tuple[int, int] | None,
    checked: bool,
) -> MonitorRows:
    if isinstance(source, Store) or (isinstance(source, str | Path) and Path(source).is_dir()):
        store = source if isinstance(source, Store) else open_store(source)
        rows = (
            scan_checked(store, part=part)
            if checked and isinstance(source, Store)
            else scan_store(store, part=part)
        )
        try:
            scanned = scan_linked(rows.frame, columns=columns, dates=dates)
        except (InputError, DataError) as exc:
            # told of the store, not of the frame its parts were read into
            raise type(exc)(str(exc).replace("frame: ", f"{rows.name}: ", 1)) from None
        # a store's parts are linked files: link checked every pseudonym
        return MonitorRows(scanned.frame, rows.name, rows.provenance, True, _store_coverage(store))
    linked = scan_linked(source, columns=columns, dates=dates)
    frame = in_partition(linked.frame, part)
    coverage = linked_coverage(source) if isinstance(source, str | Path) else Coverage()
    return MonitorRows(frame, linked.name, linked.provenance, linked.validated, coverage)


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
