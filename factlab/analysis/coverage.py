"""Which days a linked file's deliveries cover, per provider, and refusing what they do not.

``link`` with periods lists in the manifest which delivery covers which days of which provider
(``extra.deliveries``, see :mod:`factlab.analysis.deliveries`). An episode delivered as ongoing
stays open in the linked file until a later delivery of its provider says otherwise; where no
delivery covers a stretch of days (a gap, or the time after the last delivery), nothing tells
whether it still was in care then. A count of such days would take the episode as in care: an
analysis of a period or reference date therefore refuses what is not covered by every provider
whose deliveries have periods, naming the providers and the days missing, rather than give a
figure that looks exact and is not.

A file linked without periods lists no coverage: nothing is checked, as before periods existed.
The monitor refuses the same periods for the same reason (:mod:`factlab.monitor`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeAlias

from factlab.errors import ConfigError
from factlab.manifest import Manifest, read_manifest
from factlab.periods import Period

__all__ = [
    "Coverage",
    "Span",
    "check_coverage",
    "coverage_of",
    "linked_coverage",
    "manifest_coverage",
]

#: A stretch of days, first and last included.
Span: TypeAlias = tuple[date, date]


@dataclass(frozen=True)
class Coverage:
    """The days each provider's deliveries cover.

    Attributes:
        spans: per provider, the days covered as disjoint spans, oldest first.
        known_until: the last day every provider's deliveries tell about: per provider the end
            of its last delivery's coverage, or the day that delivery was made when earlier
            (what was ongoing then was known to be in care up to then); None when not known.

    Example:
        >>> from datetime import date
        >>> from factlab.periods import parse_period
        >>> covered = coverage_of([("A", "2023-01-01", "2023-12-31", None),
        ...                        ("A", "2025-01-01", "2025-12-31", None)])
        >>> covered.uncovered(parse_period("2023H2"))
        {}
        >>> covered.uncovered(parse_period("2024-07-01..2025-06-30"))
        {'A': [(datetime.date(2024, 7, 1), datetime.date(2024, 12, 31))]}
    """

    spans: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    known_until: date | None = None

    def __bool__(self) -> bool:
        return bool(self.spans)

    def uncovered(self, period: Period) -> dict[str, list[Span]]:
        """Per provider whose deliveries leave days of ``period`` uncovered, those days."""
        missing: dict[str, list[Span]] = {}
        for provider, spans in sorted(self.spans.items()):
            gaps = _minus(period.start, period.end, spans)
            if gaps:
                missing[provider] = gaps
        return missing

    def problems(
        self, periods: Sequence[Period] = (), *, on: date | None = None, where: str
    ) -> list[str]:
        """One line per period (and reference date ``on``) some provider's deliveries do not
        cover wholly; none when all are covered."""
        asked = [(f"period {period.label}", period) for period in periods]
        if on is not None:
            asked.append((f"reference date {on.isoformat()}", Period(on.isoformat(), on, on)))
        lines = []
        for what, period in asked:
            missing = self.uncovered(period)
            if not missing:
                continue
            told = "; ".join(
                f"provider {provider!r} lacks {', '.join(_span_text(gap) for gap in gaps)}"
                for provider, gaps in missing.items()
            )
            lines.append(
                f"{where}: {what} is not covered by the deliveries ({told}); an episode delivered "
                "as ongoing would count as in care on days no delivery tells about. Link their "
                f"deliveries for it, or ask for days every provider's deliveries cover "
                f"({self.common_text()})"
            )
        return lines

    def check(self, periods: Sequence[Period] = (), *, on: date | None = None, where: str) -> None:
        """Refuse periods and a reference date that are not wholly covered.

        Raises:
            ConfigError: every uncovered period at once, naming providers and days.
        """
        problems = self.problems(periods, on=on, where=where)
        if problems:
            raise ConfigError(where, problems)

    def common(self) -> list[Span]:
        """The days every provider's deliveries cover, as disjoint spans."""
        providers = iter(self.spans.values())
        common = list(next(providers, ()))
        for spans in providers:
            common = [
                (max(first, other_first), min(last, other_last))
                for first, last in common
                for other_first, other_last in spans
                if max(first, other_first) <= min(last, other_last)
            ]
        return common

    def common_text(self) -> str:
        """:meth:`common` as text: ``2023-01-01–2023-12-31, …`` (``none`` when empty)."""
        return ", ".join(_span_text(span) for span in self.common()) or "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per provider its spans as ``[from, to]`` ISO dates, and ``known_until``."""
        return {
            "spans": {
                provider: [[first.isoformat(), last.isoformat()] for first, last in spans]
                for provider, spans in sorted(self.spans.items())
            },
            "known_until": None if self.known_until is None else self.known_until.isoformat(),
        }


def coverage_of(units: Iterable[tuple[Any, Any, Any, Any]]) -> Coverage:
    """The coverage of deliveries given as (provider, covers_from, covers_to, created).

    ``covers_from``/``covers_to`` are ISO dates (None: a delivery without a period, which covers
    nothing in particular and is left out); ``created`` is its manifest's timestamp or None.
    """
    found: dict[str, list[tuple[date, date, date | None]]] = {}
    for provider, first, last, created in units:
        if first is None or last is None:
            continue
        found.setdefault(str(provider), []).append(
            (date.fromisoformat(str(first)), date.fromisoformat(str(last)), _day(created))
        )
    return Coverage(
        spans={provider: _merged(spans) for provider, spans in found.items()},
        known_until=min((_known(spans) for spans in found.values()), default=None),
    )


def manifest_coverage(manifest: Manifest) -> Coverage:
    """What a linked file's deliveries cover, from its manifest (empty: linked without periods).

    Superseded deliveries (replaced wholly by a later one) cover nothing.
    """
    deliveries = manifest.extra.get("deliveries")
    if not isinstance(deliveries, list):
        return Coverage()
    made = {
        (entry.get("provider"), entry.get("file")): entry.get("created")
        for entry in manifest.inputs
    }
    return coverage_of(
        (
            entry.get("provider"),
            entry.get("covers_from"),
            entry.get("covers_to"),
            made.get((entry.get("provider"), entry.get("file"))),
        )
        for entry in deliveries
        if isinstance(entry, dict) and not entry.get("superseded")
    )


def linked_coverage(path: str | Path) -> Coverage:
    """What the deliveries of the linked file at ``path`` cover (see :func:`manifest_coverage`)."""
    return manifest_coverage(read_manifest(Path(path)))


def check_coverage(
    source: object, periods: Sequence[Period] = (), *, on: date | None = None, where: str
) -> None:
    """Refuse periods and a reference date that the deliveries of a linked file (a path) do
    not cover; rows handed in as a frame carry no manifest and are not checked.

    Raises:
        ConfigError: every uncovered period at once, naming providers and days.

    Example:
        >>> import polars as pl
        >>> from factlab.periods import parse_period
        >>> check_coverage(pl.DataFrame(), [parse_period("2030")], where="count")  # a frame
    """
    if isinstance(source, str | Path):
        linked_coverage(source).check(periods, on=on, where=where)


def _minus(first: date, last: date, spans: Iterable[Span]) -> list[Span]:
    """The days of ``[first, last]`` outside ``spans`` (disjoint, sorted), as spans."""
    gaps: list[Span] = []
    cursor = first
    for start, end in spans:
        if end < cursor:
            continue
        if start > last:
            break
        if start > cursor:
            gaps.append((cursor, start - timedelta(days=1)))
        cursor = end + timedelta(days=1)
        if cursor > last:
            return gaps
    if cursor <= last:
        gaps.append((cursor, last))
    return gaps


def _merged(spans: list[tuple[date, date, date | None]]) -> tuple[Span, ...]:
    """Days covered as disjoint spans, oldest first (touching spans joined)."""
    merged: list[Span] = []
    # by the days alone: two deliveries of the same days, one without a creation date, tie
    for first, last, _ in sorted(spans, key=lambda span: (span[0], span[1])):
        if merged and first <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _known(spans: list[tuple[date, date, date | None]]) -> date:
    first, last, made = max(spans, key=lambda span: span[1])
    return last if made is None else max(first, min(last, made))


def _day(text: object) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _span_text(span: Span) -> str:
    first, last = span
    return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
