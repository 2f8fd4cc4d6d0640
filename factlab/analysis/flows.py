"""Flows of clients between two periods, trajectories, and repeat use (herhaald beroep).

Flows compare the unique clients in care in two periods: *continuing* clients were in care in
both, *new* clients only in the second, *ended* clients only in the first. So, per group,
``continuing + ended`` is the number of clients in the first period and ``continuing + new`` the
number in the second. With a dimension, each value is its own set of clients: a client who moved
from ambulant care to residence is *ended* under ambulant and *new* under residence.

A trajectory is a continuous run of one care form at one provider for one client: episodes that
overlap or adjoin (the next starts at most one day after the run so far ends) are merged. The merge
is vectorised: sort the episodes (one sort of integers, see :mod:`factlab.analysis._clients`), take
the running maximum of the end date within each (client, provider, care form), and start a new run
where an episode begins after that reach.

A trajectory that starts in a period is *repeat use* when the client had youth care (any
trajectory, at any provider) that ended in the N years before the start (5 by default), with at
least one day without that care in between: the earlier end lies in
``[start - N years, start - 2 days]``. The check is an as-of join of each started trajectory on the
latest earlier end of the same client. Repeat use can only see history that is in the linked file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab._checks import as_period, require_frame, require_text
from factlab.analysis._clients import order_by_client
from factlab.analysis.coverage import check_coverage
from factlab.analysis.overlap import (
    INTERNAL_NOTICE,
    LinkedSource,
    check_dimension,
    dimension_value,
    linkable,
    reads_linked,
    rows_without_valid_bsn,
    scan_linked,
    status_counts,
)
from factlab.errors import ConfigError
from factlab.periods import Period, active_in

__all__ = [
    "DEFAULT_REPEAT_YEARS",
    "FlowResult",
    "RepeatResult",
    "flows",
    "look_back",
    "repeat_use",
    "trajectories",
]

#: Look-back of repeat use in years, as national statistics use it.
DEFAULT_REPEAT_YEARS: Final = 5

_CARE_FORM: Final = "care_form"
_TRAJECTORY_KEYS: Final = (schema.PSEUDONYM, schema.PROVIDER, _CARE_FORM)
_VALUE: Final = "_value"
# Stand-ins for an unknown start and an ongoing end while merging; never written out.
_FAR_PAST: Final = date(1, 1, 1)
_FAR_FUTURE: Final = date(9999, 12, 31)
# Packing of (group number, day number) into one Int64: 2**20 days reach back before year 1,
# and 2**22 lies above the day number of 9999-12-31 plus that offset.
_DAY_OFFSET: Final = 1 << 20
_GROUP_STRIDE: Final = 1 << 22

_FLOW_COUNTS: Final = ("clients_from", "clients_to", "continuing", "new", "ended")
_FLOW_LEFT_OUT: Final = ("rows_without_valid_bsn_from", "rows_without_valid_bsn_to")
_REPEAT_COUNTS: Final = (
    "trajectories_started",
    "trajectories_repeat",
    "clients_started",
    "clients_repeat",
    "rows_without_valid_bsn_started",
)


def _check_order(from_period: Period, to_period: Period) -> None:
    if to_period.start <= from_period.end:
        problem = f"to: period {to_period.label} must start after from: period {from_period.label}"
        raise ConfigError("arguments", [f"{problem} ends ({from_period.end.isoformat()})"])


def look_back(period: Period, years: int) -> Period:
    """The days repeat use reads for trajectories started in ``period``: from ``years`` years
    before its first day (29 February: the 28th) to its last day.

    Example:
        >>> from factlab.periods import parse_period
        >>> window = look_back(parse_period("2025"), 2)
        >>> window.start.isoformat(), window.end.isoformat()
        ('2023-01-01', '2025-12-31')
    """
    start = period.start
    try:
        first = start.replace(year=start.year - years)
    except ValueError:  # 29 February
        first = start.replace(year=start.year - years, day=28)
    label = f"{period.label} with its look-back of {years} year(s) ({first.isoformat()} on)"
    return Period(label, first, period.end)


def _check_look_back(source: object, period: Period, years: int, *, where: str, fewer: str) -> None:
    """Refuse a look-back some provider's deliveries do not cover: care that ended on days no
    delivery tells about is unknown, so repeat use would be counted too low (and an episode
    ongoing into such days is not known to be)."""
    try:
        check_coverage(source, [look_back(period, years)], where=where)
    except ConfigError as error:
        hint = f"{where}: repeat use looks back {years} year(s) before each start"
        hint += f"; ask for fewer {fewer}"
        raise ConfigError(where, [*error.problems, hint]) from None


def _check_years(years: int) -> None:
    if isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise ConfigError("arguments", ["repeat_years: must be a whole number of years >= 1"])


def _aggregate(frame: pl.LazyFrame, by: str | None, exprs: list[pl.Expr]) -> pl.LazyFrame:
    """Aggregate per value of ``by``, or into exactly one overall row when ``by`` is None."""
    if by is None:
        return frame.select(pl.lit(None, dtype=pl.String).alias(_VALUE), *exprs)
    return frame.group_by(_VALUE).agg(exprs)


def _merge_on_value(frames: list[pl.LazyFrame]) -> pl.LazyFrame:
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.join(frame, on=_VALUE, how="full", coalesce=True, nulls_equal=True)
    return merged


def _long_form(frame: pl.LazyFrame, counts: Iterable[str], *, share: bool = False) -> pl.LazyFrame:
    """Zero-fill the counts of labelled groups, add the repeat share, name the value column."""
    filled = frame.with_columns(pl.col(name).fill_null(0).cast(pl.Int64) for name in counts)
    if share:
        filled = filled.with_columns(
            pl.when(pl.col("trajectories_started") > 0)
            .then(pl.col("trajectories_repeat") / pl.col("trajectories_started"))
            .otherwise(None)
            .alias("repeat_share")
        )
    return filled.rename({_VALUE: "value"})


def _labelled(frame: pl.LazyFrame, by: str | None) -> pl.LazyFrame:
    return frame.with_columns(pl.lit("total" if by is None else by).alias("dimension"))


def _grouping_sets(frame: pl.LazyFrame, by: str | None) -> pl.LazyFrame:
    """Each row once under the total and, with ``by``, once more under its value.

    One aggregation over this frame gives every group, so the plan that produced ``frame`` runs
    once, however many groups there are.
    """
    labelled = frame.with_columns(
        pl.lit("total").alias("dimension"), pl.lit(None, dtype=pl.String).alias(_VALUE)
    )
    if by is None:
        return labelled
    return labelled.with_columns(
        pl.concat_list("dimension", pl.lit(by)).alias("dimension"),
        pl.concat_list(_VALUE, pl.col(by).cast(pl.String)).alias(_VALUE),
    ).explode("dimension", _VALUE)


def _trajectories(rows: pl.LazyFrame, keep: Iterable[str] = (), *, checked: bool) -> pl.LazyFrame:
    """Merge the linkable episodes into trajectories; ``keep`` takes the first episode's.

    ``checked``: the pseudonyms are a linked file's, validated by link (see
    :func:`factlab.analysis._clients.client_keys`).
    """
    extra = [name for name in dict.fromkeys(keep) if name not in _TRAJECTORY_KEYS]
    keys = list(_TRAJECTORY_KEYS)
    episodes = (
        rows.filter(linkable())
        .select(
            *keys,
            *extra,
            pl.col("start_date").fill_null(_FAR_PAST).alias("_start"),
            pl.col("end_date").fill_null(_FAR_FUTURE).alias("_end"),
            pl.col("start_date").is_null().alias("_unknown_start"),
            pl.col("end_date").is_null().alias("_ongoing"),
        )
        .collect()
        .rechunk()
    )
    # In the order (client, provider, care form, start, end), found with one sort of integers:
    # a sort on the text keys took most of the time.
    order = order_by_client(episodes, keys[0], [*keys[1:], "_start", "_end"], checked=checked)
    in_order = (
        episodes.select(pl.all().gather(order))
        .lazy()
        .with_columns(pl.struct(keys).rle_id().cast(pl.Int64).alias("_group"))
    )
    # A running maximum of the end date per (client, provider, care form) without a window
    # function, which is several times slower on three string keys: pack the group number above
    # the day number, so that the running maximum of the packed value never carries an end date
    # over from an earlier group.
    packed = pl.col("_group") * _GROUP_STRIDE + _day_number("_end")
    reach = packed.cum_max().shift(1) - pl.col("_group") * _GROUP_STRIDE
    same_group = (pl.col("_group") == pl.col("_group").shift(1)).fill_null(False)
    new_run = ~same_group | ((_day_number("_start") - reach) > 1)
    # A trajectory's rows are consecutive: its first row gives its keys, start and kept columns
    # (rows are sorted by start), its last row the running maximum of the end, and running counts
    # of rows, unknown starts and ongoing episodes tell the rest, without a group-by.
    marked = in_order.with_columns(
        new_run.alias("_first"),
        new_run.shift(-1).fill_null(True).alias("_last"),
        (packed.cum_max() - pl.col("_group") * _GROUP_STRIDE - _DAY_OFFSET).alias("_reach"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_position"),
        *(
            pl.col(flag).cum_sum().alias(f"{flag}_so_far")
            for flag in ("_unknown_start", "_ongoing")
        ),
    )
    firsts = marked.filter("_first").select(
        "_group",
        *keys,
        pl.col("_start").alias("_first_start"),
        *extra,
        pl.col("_position").alias("_from"),
        *(
            (pl.col(f"{flag}_so_far") - pl.col(flag)).alias(f"{flag}_before")
            for flag in ("_unknown_start", "_ongoing")
        ),
    )
    lasts = marked.filter("_last").select(
        "_reach", "_position", "_unknown_start_so_far", "_ongoing_so_far"
    )
    unknown_start = pl.col("_unknown_start_so_far") > pl.col("_unknown_start_before")
    ongoing = pl.col("_ongoing_so_far") > pl.col("_ongoing_before")
    return pl.concat([firsts, lasts], how="horizontal").select(
        "_group",
        *keys,
        pl.when(unknown_start).then(None).otherwise(pl.col("_first_start")).alias("start_date"),
        pl.when(ongoing)
        .then(None)
        .otherwise(pl.col("_reach").cast(pl.Int32).cast(pl.Date))
        .alias("end_date"),
        (pl.col("_position") - pl.col("_from") + 1).alias("episodes"),
        *extra,
    )


def _day_number(column: str) -> pl.Expr:
    """Days since 1970-01-01 plus an offset that makes every date from year 1 on non-negative."""
    return pl.col(column).cast(pl.Int32).cast(pl.Int64) + _DAY_OFFSET


@reads_linked
def trajectories(source: LinkedSource, *, keep: Iterable[str] = ()) -> pl.DataFrame:
    """Merge a linked file's episodes into trajectories (one care form at one provider).

    Only rows with a valid BSN take part. An unknown start (null) sorts first and stays null on
    the trajectory; an ongoing episode (null end) makes the trajectory ongoing.

    Args:
        source: a linked file or its rows; needs ``care_form``, ``start_date``, ``end_date``.
        keep: further columns to carry, taken from each trajectory's first episode.

    Returns:
        Columns ``pseudonym``, ``provider``, ``care_form``, ``start_date``, ``end_date``,
        ``episodes`` and the ``keep`` columns, sorted. The frame holds pseudonyms: it is for
        further analysis, not for output.

    Example:
        >>> import polars as pl
        >>> from datetime import date
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32] * 3, "bsn_status": ["valid"] * 3,
        ...     "provider": ["P1"] * 3, "care_form": ["ambulant"] * 3,
        ...     "start_date": [date(2024, 1, 1), date(2024, 3, 1), date(2024, 9, 1)],
        ...     "end_date": [date(2024, 4, 30), date(2024, 5, 31), None],
        ... })
        >>> merged = trajectories(rows)
        >>> [str(day) for day in merged["end_date"]], merged["episodes"].to_list()
        (['2024-05-31', 'None'], [2, 1])
    """
    keep = tuple(keep)
    linked = scan_linked(source, columns=(_CARE_FORM, *keep), dates=True)
    merged = _trajectories(linked.frame, keep, checked=linked.validated).collect()
    # The merge's order is the order asked for, but for a trajectory of unknown start: it comes
    # first in its (client, provider, care form) and goes last (nulls last). A stable sort on the
    # group number moves it.
    last = pl.col("_group") * 2 + pl.col("start_date").is_null()
    return merged.sort(last, maintain_order=True).drop("_group")


def _in_period(column: str, period: Period) -> pl.Expr:
    return pl.col(column).is_between(pl.lit(period.start), pl.lit(period.end))


def _flagged_starts(
    rows: pl.LazyFrame, period: Period, keep: Iterable[str], years: int, *, checked: bool
) -> pl.LazyFrame:
    """Trajectories starting in ``period``, with ``_repeat`` telling whether they are repeat use."""
    # Made once: both the started trajectories and the earlier ends come from it.
    trajectory = _trajectories(rows, keep, checked=checked).collect().drop("_group").lazy()
    started = trajectory.filter(_in_period("start_date", period)).with_columns(
        pl.col("start_date").dt.offset_by("-2d").alias("_latest_end"),
        pl.col("start_date").dt.offset_by(f"-{years}y").alias("_earliest_end"),
    )
    # Only ends that can fall in some started trajectory's look-back window matter.
    window_start = pl.lit(period.start).dt.offset_by(f"-{years}y")
    ended = (
        trajectory.filter(
            pl.col("end_date").is_between(window_start, pl.lit(period.end).dt.offset_by("-2d"))
        )
        .select(schema.PSEUDONYM, pl.col("end_date").alias("_previous_end"))
        .sort("_previous_end")
    )
    # The latest earlier end at least one day before the start decides: when it lies inside the
    # look-back window, some earlier care does; when it does not, none does.
    return (
        started.sort("_latest_end")
        .join_asof(
            ended,
            left_on="_latest_end",
            right_on="_previous_end",
            by=schema.PSEUDONYM,
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(
            (
                pl.col("_previous_end").is_not_null()
                & (pl.col("_previous_end") >= pl.col("_earliest_end"))
            ).alias("_repeat")
        )
    )


def _repeat_table(
    flagged: pl.LazyFrame, rows: pl.LazyFrame, period: Period, by: str | None
) -> pl.LazyFrame:
    """Repeat use of all groups (total first), in long form."""
    groups = ["dimension", _VALUE]
    counts = (
        _grouping_sets(flagged, by)
        .group_by(groups)
        .agg(
            pl.len().alias("trajectories_started"),
            pl.col("_repeat").sum().alias("trajectories_repeat"),
            pl.col(schema.PSEUDONYM).n_unique().alias("clients_started"),
            pl.col(schema.PSEUDONYM).filter(pl.col("_repeat")).n_unique().alias("clients_repeat"),
        )
    )
    left_out = (
        _grouping_sets(rows.filter(~linkable() & _in_period("start_date", period)), by)
        .group_by(groups)
        .agg(pl.len().alias("rows_without_valid_bsn_started"))
    )
    # The total row is there even when nothing started in the period.
    table = pl.LazyFrame(
        {"dimension": ["total"], _VALUE: [None]},
        schema={"dimension": pl.String, _VALUE: pl.String},
    )
    for frame in (counts, left_out):
        table = table.join(frame, on=groups, how="full", coalesce=True, nulls_equal=True)
    return _long_form(table, _REPEAT_COUNTS, share=True)


def _flow_table(rows: pl.LazyFrame, first: Period, second: Period, by: str | None) -> pl.LazyFrame:
    value = dimension_value(by)
    linked = rows.filter(linkable())
    tagged = pl.concat(
        [
            linked.filter(active_in(first)).select(
                schema.PSEUDONYM, value, _from=pl.lit(True), _to=pl.lit(False)
            ),
            linked.filter(active_in(second)).select(
                schema.PSEUDONYM, value, _from=pl.lit(False), _to=pl.lit(True)
            ),
        ]
    )
    per_client = tagged.group_by(schema.PSEUDONYM, _VALUE).agg(
        pl.col("_from").any(), pl.col("_to").any()
    )
    in_from, in_to = pl.col("_from"), pl.col("_to")
    counts = _aggregate(
        per_client,
        by,
        [
            in_from.sum().alias("clients_from"),
            in_to.sum().alias("clients_to"),
            (in_from & in_to).sum().alias("continuing"),
            (~in_from & in_to).sum().alias("new"),
            (in_from & ~in_to).sum().alias("ended"),
        ],
    )
    unlinkable = rows.filter(~linkable()).with_columns(value)
    left_from = _aggregate(
        unlinkable.filter(active_in(first)), by, [pl.len().alias(_FLOW_LEFT_OUT[0])]
    )
    left_to = _aggregate(
        unlinkable.filter(active_in(second)), by, [pl.len().alias(_FLOW_LEFT_OUT[1])]
    )
    return _merge_on_value([counts, left_from, left_to])


def _sorted_groups(frames: list[pl.LazyFrame]) -> pl.LazyFrame:
    table = pl.concat(frames, how="diagonal_relaxed")
    first = ["dimension", "value"]
    # The total row first, then the values in order.
    return table.sort(pl.col("dimension") != "total", "value", nulls_last=True).select(
        *first, pl.all().exclude(first)
    )


@dataclass(frozen=True)
class RepeatResult:
    """Repeat use among trajectories started in a period.

    Attributes:
        period: trajectories that start in this period are counted.
        by: the dimension of the per-value rows (the first episode's value), or None.
        years: the look-back in years.
        table: columns ``dimension`` (``total`` or the dimension's name), ``value`` (null on the
            total row), ``trajectories_started``, ``trajectories_repeat``, ``repeat_share``,
            ``clients_started``, ``clients_repeat``, ``rows_without_valid_bsn_started``.
        rows_without_valid_bsn: episodes starting in the period left out for want of a valid BSN,
            per status.
        source: non-secret facts about the input.
    """

    period: Period
    by: str | None
    years: int
    table: pl.DataFrame
    rows_without_valid_bsn: Mapping[str, int]
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-repeat-use",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {"period": self.period.label, "by": self.by, "years": self.years},
            "rows_without_valid_bsn": dict(self.rows_without_valid_bsn),
            "source": dict(self.source),
        }


@reads_linked
def repeat_use(
    source: LinkedSource,
    period: Period | str,
    *,
    by: str | None = None,
    years: int = DEFAULT_REPEAT_YEARS,
) -> RepeatResult:
    """Count trajectories started in ``period`` and how many of them are repeat use.

    Args:
        source: a linked file or its rows; needs ``care_form``, ``start_date``, ``end_date``.
        period: the period in which trajectories start.
        by: optional dimension for per-value rows besides the total.
        years: look-back for earlier care, in years.

    Raises:
        InputError: the input is not a linked file or lacks a needed column.
        ConfigError: ``by`` is not a dimension or ``years`` is not a whole number >= 1.

    Example:
        >>> import polars as pl
        >>> from datetime import date
        >>> from factlab.periods import parse_period
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32], "bsn_status": ["valid"] * 3,
        ...     "provider": ["P1", "P2", "P1"], "care_form": ["ambulant"] * 3,
        ...     "start_date": [date(2021, 1, 1), date(2025, 2, 1), date(2025, 3, 1)],
        ...     "end_date": [date(2022, 6, 30), None, None],
        ... })
        >>> result = repeat_use(rows, parse_period("2025"))
        >>> result.table.select("trajectories_started", "trajectories_repeat").row(0)
        (2, 1)
    """
    require_frame(source, where="repeat_use", name="source", path_ok=True)
    period = as_period(period, where="repeat_use", name="period")
    require_text(by, where="repeat_use", name="by", optional=True)
    _check_years(years)
    if by is not None:
        check_dimension(by)
    extra = (_CARE_FORM,) if by is None else (_CARE_FORM, by)
    linked = scan_linked(source, columns=extra, dates=True)
    check_coverage(source, [period], where="repeat_use")
    _check_look_back(source, period, years, where="repeat_use", fewer="years")
    rows = linked.frame
    flagged = _flagged_starts(
        rows, period, () if by is None else (by,), years, checked=linked.validated
    )
    table = _sorted_groups([_repeat_table(flagged, rows, period, by)]).select(
        "dimension", "value", *_REPEAT_COUNTS[:2], "repeat_share", *_REPEAT_COUNTS[2:]
    )
    starting = rows.filter(_in_period("start_date", period))
    table_df, status_df = pl.collect_all([table, rows_without_valid_bsn(starting)])
    return RepeatResult(
        period=period,
        by=by,
        years=years,
        table=table_df,
        rows_without_valid_bsn=status_counts(status_df),
        source=linked.provenance,
    )


@dataclass(frozen=True)
class FlowResult:
    """Clients continuing, new and ended between two periods (and repeat use in the second).

    Attributes:
        from_period: the first period.
        to_period: the second period; repeat use counts trajectories that start in it.
        by: the dimension of the per-value rows, or None for the total only.
        repeat_years: look-back of repeat use, or None when repeat use was not computed.
        table: columns ``dimension`` (``total`` or the dimension's name), ``value`` (null on the
            total row), ``clients_from``, ``clients_to``, ``continuing``, ``new``, ``ended``,
            ``rows_without_valid_bsn_from``, ``rows_without_valid_bsn_to`` and, with repeat use,
            the columns of :class:`RepeatResult`'s table.
        rows_without_valid_bsn: rows left out for want of a valid BSN, per status, under
            ``from``, ``to`` (rows in care in that period) and ``started`` (episodes starting in
            the second period; only with repeat use).
        source: non-secret facts about the input.
    """

    from_period: Period
    to_period: Period
    by: str | None
    repeat_years: int | None
    table: pl.DataFrame
    rows_without_valid_bsn: Mapping[str, Mapping[str, int]]
    source: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-flows",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {
                "from": self.from_period.label,
                "to": self.to_period.label,
                "by": self.by,
                "repeat_years": self.repeat_years,
            },
            "rows_without_valid_bsn": {
                name: dict(counts) for name, counts in self.rows_without_valid_bsn.items()
            },
            "source": dict(self.source),
        }


@reads_linked
def flows(
    source: LinkedSource,
    from_period: Period | str,
    to_period: Period | str,
    *,
    by: str | None = None,
    repeat_years: int | None = DEFAULT_REPEAT_YEARS,
) -> FlowResult:
    """Count unique clients continuing, new and ended between two periods.

    Args:
        source: a linked file or its rows; needs ``start_date`` and ``end_date`` (and
            ``care_form`` for repeat use).
        from_period: the first period.
        to_period: the second period; it starts after ``from_period`` ends.
        by: optional dimension for per-value rows besides the total.
        repeat_years: look-back of repeat use for trajectories started in ``to_period``;
            None leaves repeat use out.

    Raises:
        InputError: the input is not a linked file or lacks a needed column.
        ConfigError: ``to_period`` does not start after ``from_period`` ends, ``by`` is not a
            dimension, or ``repeat_years`` is not a whole number >= 1.

    Example:
        >>> import polars as pl
        >>> from datetime import date
        >>> from factlab.periods import parse_period
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "b" * 32, "c" * 32], "bsn_status": ["valid"] * 3,
        ...     "provider": ["P1"] * 3,
        ...     "start_date": [date(2023, 5, 1), date(2024, 3, 1), date(2025, 2, 1)],
        ...     "end_date": [None, date(2024, 9, 30), None],
        ... })
        >>> result = flows(rows, parse_period("2024"), parse_period("2025"), repeat_years=None)
        >>> result.table.select("continuing", "new", "ended").row(0)
        (1, 1, 1)
    """
    require_frame(source, where="flows", name="source", path_ok=True)
    from_period = as_period(from_period, where="flows", name="from_period")
    to_period = as_period(to_period, where="flows", name="to_period")
    _check_order(from_period, to_period)
    require_text(by, where="flows", name="by", optional=True)
    if repeat_years is not None:
        _check_years(repeat_years)
    if by is not None:
        check_dimension(by)
    extra = [] if by is None else [by]
    if repeat_years is not None:
        extra.append(_CARE_FORM)
    linked = scan_linked(source, columns=extra, dates=True)
    check_coverage(source, [from_period, to_period], where="flows")
    if repeat_years is not None:
        _check_look_back(
            source,
            to_period,
            repeat_years,
            where="flows",
            fewer="repeat_years (--repeat-years), or leave repeat use out (repeat_years=None, "
            "--no-repeat)",
        )
    rows = linked.frame
    groups = [None] if by is None else [None, by]
    table = _sorted_groups(
        [
            _long_form(
                _labelled(_flow_table(rows, from_period, to_period, group), group),
                (*_FLOW_COUNTS, *_FLOW_LEFT_OUT),
            )
            for group in groups
        ]
    )
    columns = ["dimension", "value", *_FLOW_COUNTS, *_FLOW_LEFT_OUT]
    if repeat_years is not None:
        flagged = _flagged_starts(
            rows, to_period, () if by is None else (by,), repeat_years, checked=linked.validated
        )
        repeat = _repeat_table(flagged, rows, to_period, by)
        table = table.join(
            repeat, on=["dimension", "value"], how="full", coalesce=True, nulls_equal=True
        ).with_columns(
            pl.col(name).fill_null(0) for name in (*_FLOW_COUNTS, *_FLOW_LEFT_OUT, *_REPEAT_COUNTS)
        )
        columns += [*_REPEAT_COUNTS[:2], "repeat_share", *_REPEAT_COUNTS[2:]]
    table = _sorted_groups([table]).select(columns)
    plans = [
        table,
        rows_without_valid_bsn(rows.filter(active_in(from_period))),
        rows_without_valid_bsn(rows.filter(active_in(to_period))),
    ]
    if repeat_years is not None:
        plans.append(rows_without_valid_bsn(rows.filter(_in_period("start_date", to_period))))
    table_df, *status_dfs = pl.collect_all(plans)
    names = ("from", "to", "started")
    return FlowResult(
        from_period=from_period,
        to_period=to_period,
        by=by,
        repeat_years=repeat_years,
        table=table_df,
        rows_without_valid_bsn={
            name: status_counts(frame) for name, frame in zip(names, status_dfs, strict=False)
        },
        source=linked.provenance,
    )
