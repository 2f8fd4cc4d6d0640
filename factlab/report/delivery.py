"""Honest periods: what the data can say about the counted time.

A provider's delivery says nothing about the time after it, so an episode without an end date
ends on the delivery date (:func:`cap_open_episodes`): the round's ``delivery_date``, else the
latest creation date of the manifest's inputs (:func:`delivery_date`). A counted period, part
or reference date that begins after the delivery, runs on past it, begins after the last date
the data hold, or (the whole counted time) before their first start is warned about in the
report and on the command line (:func:`period_warnings`); a counted time or part in which
nobody is in care stops the report (:func:`refuse_empty`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from factlab import schema
from factlab.errors import DataError
from factlab.manifest import Manifest
from factlab.periods import active_in, active_on
from factlab.report import i18n
from factlab.report.config import RoundConfig

__all__ = ["cap_open_episodes", "delivery_date", "period_warnings", "refuse_empty"]


def delivery_date(manifest: Manifest | None, config: RoundConfig) -> date | None:
    """The day the data were delivered: the round's ``delivery_date``, else the latest
    creation date of the manifest's inputs (None when neither is known).

    Example:
        >>> delivery_date(None, RoundConfig(delivery_date=date(2014, 2, 1)))
        datetime.date(2014, 2, 1)
    """
    if config.delivery_date is not None:
        return config.delivery_date
    if manifest is None:
        return None
    days = []
    for entry in manifest.inputs:
        try:
            days.append(date.fromisoformat(str(entry.get("created", ""))[:10]))
        except ValueError:
            continue
    return max(days) if days else None


def cap_open_episodes(rows: pl.DataFrame, delivered: date | None) -> pl.DataFrame:
    """An episode without an end date ends on the delivery date: nothing is known after it.

    An open episode that starts after the delivery date (a data error) is left as it is.
    """
    if delivered is None or "end_date" not in rows.columns:
        return rows
    open_end = pl.col("end_date").is_null()
    if "start_date" in rows.columns:
        open_end = open_end & (pl.col("start_date").is_null() | (pl.col("start_date") <= delivered))
    return rows.with_columns(
        pl.when(open_end).then(pl.lit(delivered)).otherwise(pl.col("end_date")).alias("end_date")
    )


def _spans(config: RoundConfig) -> list[tuple[str, date, date]]:
    """The counted time and each of its parts: (words, first day, last day)."""
    language = config.language
    if config.period is not None:
        spans = [(config.time_text(language), config.period.start, config.period.end)]
        spans += [
            (
                i18n.text(language, "time_period", period=i18n.period_name(language, part.label)),
                part.start,
                part.end,
            )
            for part in config.parts
        ]
        return spans
    if config.reference_date is not None:
        day = config.reference_date
        return [(config.time_text(language), day, day)]
    return []


def period_warnings(
    rows: pl.DataFrame, config: RoundConfig, delivered: date | None
) -> tuple[str, ...]:
    """Warnings about the counted time and each of its parts: beginning after the delivery
    date, running on past it (with the share it covers), beginning after the last date the
    data hold (a manifest may be written long after its export), or before the data's first
    start.

    Example:
        >>> from factlab.periods import parse_period
        >>> config = RoundConfig(language="en", period=parse_period("2014"))
        >>> print(period_warnings(pl.DataFrame(), config, date(2014, 2, 28))[0])
        ... # doctest: +ELLIPSIS
        The counted time (period 2014) runs on after the last delivery (28 February 2014)...
    """
    spans = _spans(config)
    if not spans:
        return ()
    language = config.language
    last = None
    if "start_date" in rows.columns:
        dates = [pl.col("start_date").max()]
        if "end_date" in rows.columns:
            dates.append(pl.col("end_date").max())
        last = rows.select(pl.max_horizontal(dates)).item()
    found = []
    for what, first_day, last_day in spans:
        if delivered is not None and first_day > delivered:
            found.append(
                i18n.text(
                    language,
                    "warn_after_delivery",
                    what=what,
                    delivered=i18n.day(language, delivered),
                )
            )
        elif delivered is not None and last_day > delivered:
            covered = (delivered - first_day).days + 1
            share = 100.0 * covered / ((last_day - first_day).days + 1)
            found.append(
                i18n.text(
                    language,
                    "warn_partly_after_delivery",
                    what=what,
                    delivered=i18n.day(language, delivered),
                    share=i18n.percent(language, share),
                )
            )
        elif isinstance(last, date) and first_day > last:
            found.append(
                i18n.text(language, "warn_after_data", what=what, last=i18n.day(language, last))
            )
    if "start_date" in rows.columns:
        what, first_day, _ = spans[0]
        first = rows.get_column("start_date").min()
        if isinstance(first, date) and first_day < first:
            found.append(
                i18n.text(language, "warn_before_start", what=what, first=i18n.day(language, first))
            )
    return tuple(found)


def refuse_empty(rows: pl.DataFrame, config: RoundConfig, found: Sequence[str]) -> None:
    """Stop with the reason when no client is in care in the counted time or in one of its
    parts (nothing to count or protect there)."""
    if "start_date" not in rows.columns:
        return
    if config.period is not None:
        counted = [(config.time_label, active_in(config.period))]
        counted += [(f"part {part.label}", active_in(part)) for part in config.parts]
    elif config.reference_date is not None:
        counted = [(config.time_label, active_on(config.reference_date))]
    else:
        return
    valid = pl.col(schema.PSEUDONYM).is_not_null()
    for label, active in counted:
        if rows.filter(active & valid).height == 0:
            why = " ".join(found)
            raise DataError(
                f"no client with a valid BSN is in care in the counted time ({label})"
                + (f": {why}" if why else "")
            )
