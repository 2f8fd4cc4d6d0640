"""(Private) the rows a linked file keeps of deliveries with their coverage.

The rules are those of :mod:`factlab.analysis.deliveries` (which plans the coverage); this
module applies them to rows, lazily. Split from it to keep each module readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

import polars as pl

from factlab import schema
from factlab.analysis._clients import key_halves

__all__ = [
    "CLOSE_AT",
    "COST_PIECES",
    "COVERED_FROM",
    "COVERED_TO",
    "DECLARED_FROM",
    "DECLARED_TO",
    "DELIVERY",
    "EPISODE_FIELDS",
    "NEXT_ADJACENT",
    "NEXT_FROM",
    "PIECES_DTYPE",
    "PIECE_FROM",
    "PIECE_TO",
    "PREVIOUS_ADJACENT",
    "PREVIOUS_TO",
    "duplicate_report",
    "neighbour_coverage",
    "neighbour_facts",
    "own_pieces",
    "resolve_rows",
]

#: Per-row facts the resolution reads beside the linked columns (never written to a file):
#: the delivery (increasing in delivery order), the days it still covers, the days its costs
#: are of, whether another delivery of its provider covers the day before and the day after,
#: and the day an ongoing episode it lacks later is closed on.
DELIVERY: Final = "factlab.delivery.index"
COVERED_FROM: Final = "factlab.delivery.from"
COVERED_TO: Final = "factlab.delivery.to"
DECLARED_FROM: Final = "factlab.delivery.declared_from"
DECLARED_TO: Final = "factlab.delivery.declared_to"
PREVIOUS_ADJACENT: Final = "factlab.delivery.previous_adjacent"
NEXT_ADJACENT: Final = "factlab.delivery.next_adjacent"
CLOSE_AT: Final = "factlab.delivery.close_at"
#: The first day the provider's next delivery covers after this one, and the last day its
#: previous delivery covers before it (null: none), facts of the plan
#: (:func:`neighbour_coverage`, :func:`neighbour_facts`). Optional: without them the rows tell
#: (:func:`_neighbours_from_rows`), which misses a delivery that has no rows.
NEXT_FROM: Final = "factlab.delivery.next_from"
PREVIOUS_TO: Final = "factlab.delivery.previous_to"
_NEXT: Final = "factlab.delivery.next"
_PREVIOUS: Final = "factlab.delivery.previous"
#: When a row's cost is of other days than its interval in its delivery's period (a row of a
#: store's part, one per piece): those days.
PIECE_FROM: Final = "factlab.delivery.piece_from"
PIECE_TO: Final = "factlab.delivery.piece_to"
_NEWEST: Final = "factlab.delivery.newest"
_KEEP: Final = "factlab.delivery.keep"
_COPIES: Final = "factlab.delivery.copies"
_EPISODE: Final = "factlab.delivery.episode"
_CLOSED: Final = "factlab.delivery.closed"
_STARTED: Final = "factlab.delivery.started"
_IN_COVERAGE: Final = "factlab.delivery.in_coverage"
_CATEGORY_TAKEN: Final = "factlab.delivery.category_taken"
_CATEGORY_AMBIGUOUS: Final = "factlab.delivery.category_ambiguous"
_CATEGORY: Final = "product_category"

#: The column of a linked file (with periods and a cost) that keeps each delivery's cost with
#: the days it is of: a list of ``{from, to, cost}``; ``cost`` is their sum.
COST_PIECES: Final = "cost_pieces"
PIECES_DTYPE: Final = pl.List(pl.Struct({"from": pl.Date, "to": pl.Date, "cost": pl.Float64}))
_PIECES_DTYPE: Final = PIECES_DTYPE

#: The fields that together name one episode of care (besides the client and the provider).
EPISODE_FIELDS: Final = ("care_form", "product_category", "financing", "start_date")


_HIGH: Final = "factlab.delivery.high"
_LOW: Final = "factlab.delivery.low"


def _episode_key(present: Sequence[str]) -> list[str]:
    """The columns that name an episode; the client as the two 64-bit halves of its pseudonym
    (exact, and far cheaper to hash than the text: :mod:`factlab.analysis._clients`)."""
    return [schema.PROVIDER, _HIGH, _LOW, *(name for name in EPISODE_FIELDS if name in present)]


def _days(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    return (last - first).dt.total_days() + 1


def _own_piece(present: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """The first and last day a row's cost is of: the days it is in care in its delivery's
    period (``DECLARED_*``), or what an earlier link said (``PIECE_*``)."""
    if PIECE_FROM in present:
        return pl.col(PIECE_FROM), pl.col(PIECE_TO)
    start = pl.col("start_date") if "start_date" in present else pl.lit(None, dtype=pl.Date)
    end = pl.col("end_date") if "end_date" in present else pl.lit(None, dtype=pl.Date)
    return (
        pl.max_horizontal(start, pl.col(DECLARED_FROM)),
        pl.min_horizontal(end.fill_null(pl.col(DECLARED_TO)), pl.col(DECLARED_TO)),
    )


def _clipped_piece(present: Sequence[str]) -> list[pl.Expr]:
    """A row's cost piece cut to its delivery's remaining coverage: the cost of the days a newer
    delivery took over goes with them (prorated by day), the rest stays (``_PIECE`` struct)."""
    first, last = _own_piece(present)
    covered_from, covered_to = pl.col(COVERED_FROM), pl.col(COVERED_TO)
    kept_from = pl.max_horizontal(first, covered_from)
    kept_to = pl.min_horizontal(last, covered_to)
    whole, kept = _days(first, last), _days(kept_from, kept_to).clip(lower_bound=0)
    # Without dates (or a whole-round delivery) there is nothing to prorate by.
    share = pl.when(whole.is_null() | (whole <= 0) | covered_from.is_null()).then(1.0)
    cost = pl.col("cost").cast(pl.Float64) * share.otherwise(kept / whole)
    return [
        pl.when(first.is_null()).then(None).otherwise(kept_from).alias("_piece_from"),
        pl.when(last.is_null()).then(None).otherwise(kept_to).alias("_piece_to"),
        cost.alias("_piece_cost"),
    ]


def _piece(cost: pl.Expr) -> pl.Expr:
    return pl.struct(
        pl.col("_piece_from").alias("from"), pl.col("_piece_to").alias("to"), cost.alias("cost")
    )


def own_pieces(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` (one delivery per provider, nothing replaced) with each row's cost piece
    (``COST_PIECES``) and without the delivery facts: what link writes when nothing needs to be
    resolved but the deliveries have periods."""
    present = frame.collect_schema().names()
    columns = [name for name in present if not name.startswith("factlab.delivery.")]
    return (
        frame.with_columns(_clipped_piece(present))
        .with_columns(pl.concat_list(_piece(pl.col("_piece_cost"))).alias(COST_PIECES))
        .select(*columns, COST_PIECES)
    )


def _annotated(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with the facts of the resolution per row.

    ``frame`` holds the linked columns and, per row, the facts of :func:`delivery_facts`.
    """
    frame = _with_neighbours(frame)
    present = frame.collect_schema().names()
    in_coverage = _row_in_coverage(present)
    # The newest delivery of an episode is the one whose coverage ends last; deliveries of one
    # provider never overlap, so there is no tie (whole-round deliveries go by delivery order).
    newest = pl.col(COVERED_TO).cast(pl.Int64).fill_null(0) * 65_536 + pl.col(DELIVERY).cast(
        pl.Int64
    )
    key = _episode_key(present)
    valid = pl.col(schema.STATUS) == "valid"
    # Rows without a valid BSN have no client to be the same episode of: each is its own.
    episode = pl.when(valid).then(pl.struct(key)).otherwise(None)
    annotated = frame.with_columns(
        in_coverage.alias(_IN_COVERAGE),
        newest.alias(_NEWEST),
        *(
            half.alias(name)
            for half, name in zip(key_halves(pl.col(schema.PSEUDONYM)), (_HIGH, _LOW), strict=True)
        ),
    ).filter(pl.col(_IN_COVERAGE))
    annotated = _with_categories(annotated, present)
    return annotated.with_columns(
        pl.when(valid).then(pl.col(DELIVERY).n_unique().over(key)).otherwise(1).alias(_COPIES),
        pl.when(valid)
        .then(pl.col(_NEWEST) == pl.col(_NEWEST).max().over(key))
        .otherwise(True)
        .alias(_KEEP),
        episode.alias(_EPISODE),
    )


def _with_categories(frame: pl.LazyFrame, present: Sequence[str]) -> pl.LazyFrame:
    """``frame`` with a missing product category taken from the provider's other deliveries of
    the same episode, when they name exactly one; flags of what was taken and left.

    An episode is named by its client, provider, care form, financing, start date and product
    category; a delivery made without the category (a provider that did not deliver the column
    one year) would otherwise make a second episode of the same care. A valid row takes the
    category when its delivery names none for that episode (so two rows of one delivery are
    never made one) and the other deliveries name exactly one; where they name several, which
    one is meant is unknown and the row stays an episode of its own (``_CATEGORY_AMBIGUOUS``).
    """
    if _CATEGORY not in present:
        return frame.with_columns(
            pl.lit(False).alias(_CATEGORY_TAKEN), pl.lit(False).alias(_CATEGORY_AMBIGUOUS)
        )
    coarse = [name for name in _episode_key(present) if name != _CATEGORY]
    category = pl.col(_CATEGORY)
    valid = pl.col(schema.STATUS) == "valid"
    # min and max skip nulls: one category named exactly when they agree
    named = pl.when(valid).then(category.cast(pl.String))
    lowest, highest = named.min().over(coarse), named.max().over(coarse)
    missing = valid & category.is_null() & named.max().over([*coarse, DELIVERY]).is_null()
    taken = missing & lowest.is_not_null() & (lowest == highest)
    ambiguous = missing & lowest.is_not_null() & (lowest != highest)
    dtype = frame.collect_schema()[_CATEGORY]
    return frame.with_columns(
        pl.when(taken).then(lowest.cast(dtype)).otherwise(category).alias(_CATEGORY),
        taken.alias(_CATEGORY_TAKEN),
        ambiguous.alias(_CATEGORY_AMBIGUOUS),
    )


def resolve_rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The rows a linked file keeps of deliveries with their coverage (the rules above).

    ``frame`` holds the linked columns and the facts of :func:`delivery_facts` per row; the
    result has the linked columns, and ``COST_PIECES`` when there is a cost.

    Example:
        >>> from datetime import date
        >>> from factlab.periods import parse_period
        >>> from factlab.analysis.deliveries import (
        ...     Delivery, adjacency, delivery_facts, plan_coverage)
        >>> plan = plan_coverage([Delivery("a", "A", parse_period("2023")),
        ...                       Delivery("b", "A", parse_period("2024"))], replace=False)
        >>> facts = [delivery_facts(i, entry, adjacent, None)
        ...          for i, (entry, adjacent) in enumerate(zip(plan, adjacency(plan)))]
        >>> rows = pl.concat([pl.LazyFrame({
        ...     "provider": ["A"], "pseudonym": ["a" * 32], "bsn_status": ["valid"],
        ...     "care_form": ["ambulant"], "start_date": [date(2023, 5, 1)],
        ...     "end_date": pl.Series([end], dtype=pl.Date), "cost": [cost]}).with_columns(fact)
        ...     for fact, end, cost in zip(facts, [None, date(2024, 3, 31)], [100.0, 40.0])])
        >>> resolved = resolve_rows(rows).collect()
        >>> resolved.select("end_date", "cost").rows()
        [(datetime.date(2024, 3, 31), 140.0)]
        >>> [(p["from"].isoformat(), p["cost"]) for p in resolved[COST_PIECES][0]]
        [('2023-05-01', 100.0), ('2024-01-01', 40.0)]
    """
    present = frame.collect_schema().names()
    columns = [name for name in present if not name.startswith("factlab.delivery.")]
    key = _episode_key(present)
    annotated = _annotated(frame)
    kept = pl.col(_KEEP)
    replacements: list[pl.Expr] = []
    if "start_date" in present:
        replacements.append(_started_at(key).alias("_start"))
    if "end_date" in present:
        replacements.append(
            pl.when(_closes())
            .then(pl.col(CLOSE_AT))
            .when(_closes_before_next())
            .then(pl.col(_NEXT) - timedelta(days=1))
            .otherwise(pl.col("end_date"))
            .alias("_end")
        )
    # The cost pieces are of the dates as delivered, before the rules below move them.
    if "cost" in present:
        annotated = annotated.with_columns(_clipped_piece(present))
    resolved = annotated.with_columns(replacements)
    if "start_date" in present:
        resolved = resolved.with_columns(pl.col("_start").alias("start_date"))
    if "end_date" in present:
        resolved = resolved.with_columns(pl.col("_end").cast(pl.Date).alias("end_date"))
    if "cost" not in present:
        return resolved.filter(kept).select(columns)
    # Each copy's cost is of its own days (its delivery's period, less what newer deliveries
    # took over); the kept row carries them all as pieces, shared when the newest delivery has
    # the episode on several rows. A cost no copy knows stays unknown.
    # The rows are used twice below (the kept ones, and the pieces of the others): cached, so
    # that the resolution is computed once.
    pieced = resolved.with_columns(kept.cast(pl.Int64).sum().over(key).alias("_kept_rows")).cache()
    others = (
        pieced.filter(~kept)
        .with_columns(pl.col("_piece_cost") / pl.col("_kept_rows"))
        .group_by(key)
        .agg(
            _piece(pl.col("_piece_cost")).alias("_other_pieces"),
            pl.col("_piece_cost").sum().alias("_other_cost"),
            pl.col("_piece_cost").is_not_null().any().alias("_other_known"),
        )
    )
    joined = pieced.filter(kept).join(others, on=key, how="left", nulls_equal=True)
    own_cost = pl.col("_piece_cost")
    cost = (
        pl.when(own_cost.is_null() & ~pl.col("_other_known").fill_null(False))
        .then(None)
        .otherwise(own_cost.fill_null(0.0) + pl.col("_other_cost").fill_null(0.0))
    )
    # the older deliveries' pieces first, then the kept (newest) one's
    pieces = pl.concat_list(
        pl.col("_other_pieces").fill_null(pl.lit([], dtype=_PIECES_DTYPE)), _piece(own_cost)
    )
    return joined.with_columns(cost.alias("cost"), pieces.alias(COST_PIECES)).select(
        *(name for name in columns if name != COST_PIECES), COST_PIECES
    )


def _moved_start() -> pl.Expr:
    """The start a row's delivery tells, when the provider's delivery before does not have the
    row although it started before this delivery's coverage (null: as delivered).

    The delivery just before (covering the day before): the row started within this coverage,
    on its first day. Across a gap (no delivery covers the days between), where the row started
    while the earlier delivery covered days: it started after that delivery's last day, at the
    earliest; the gap's days are unknown either way (refused: :mod:`factlab.analysis.coverage`).
    """
    start, covered_from = pl.col("start_date"), pl.col(COVERED_FROM)
    return (
        pl.when((start < covered_from) & pl.col(PREVIOUS_ADJACENT))
        .then(covered_from)
        .when((start <= pl.col(_PREVIOUS)) & ~pl.col(PREVIOUS_ADJACENT))
        .then(pl.col(_PREVIOUS) + timedelta(days=1))
    )


#: ``_first_copy`` packs a copy's coverage start and how far its moved start lies before it
#: into one integer, so that one minimum over the copies finds the first copy's both.
_SHIFT: Final = 2**22


def _first_copy(key: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """Per row, the start its episode's first copy tells (:func:`_moved_start`, or null) and
    whether it moved, from one minimum over the episode's copies (coverage starts differ
    between a provider's deliveries, so the minimum is one copy's)."""
    covered_from = pl.col(COVERED_FROM).cast(pl.Int32).cast(pl.Int64)
    moved = _moved_start().cast(pl.Int32).cast(pl.Int64)
    back = (covered_from - moved + 1).fill_null(0)  # 0: not moved; else days before, plus one
    code = covered_from.fill_null(-(2**30)) * _SHIFT + back
    valid = pl.col(schema.STATUS) == "valid"
    first = pl.when(valid).then(code.min().over(key)).otherwise(code)
    offset = first % _SHIFT
    start = ((first // _SHIFT) - offset + 1).cast(pl.Int32).cast(pl.Date)
    return pl.when(offset > 0).then(start), offset > 0


def _started_at(key: Sequence[str]) -> pl.Expr:
    """The start date an episode keeps: what its first copy tells when the delivery before
    lacks it (the mirror of closing, :func:`_moved_start`), else as delivered."""
    start, moved = _first_copy(key)
    return pl.when(moved).then(start).otherwise(pl.col("start_date"))


def _closes() -> pl.Expr:
    """An episode in care after its delivery's coverage that the delivery right after (of the
    same provider) does not repeat: that delivery is what tells the days after, and it does not
    have the episode."""
    return (
        (pl.col("end_date").is_null() | (pl.col("end_date") > pl.col(COVERED_TO)))
        & pl.col(COVERED_TO).is_not_null()
        & pl.col(NEXT_ADJACENT)
        & pl.col(_KEEP)
    )


def _closes_before_next() -> pl.Expr:
    """An episode in care on the first day of a later delivery of its provider that does not
    have it, across a gap (no delivery covers the days between): it ended in the gap or before,
    and ends at the latest the day before that delivery's coverage. The gap's days are unknown
    either way (analyses of them are refused: :mod:`factlab.analysis.coverage`); every covered
    period then counts what its deliveries say."""
    return (
        (pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col(_NEXT)))
        & pl.col(_NEXT).is_not_null()
        & ~pl.col(NEXT_ADJACENT)
        & pl.col(_KEEP)
    )


def neighbour_coverage(
    coverage: Sequence[tuple[str, tuple[date, date] | None]],
) -> list[tuple[date | None, date | None]]:
    """Per delivery (provider, days it still covers or None): the last day the provider's
    previous delivery covers before it, and the first day its next delivery covers after it
    (None: there is none, or the delivery has no coverage).

    Example:
        >>> from datetime import date
        >>> neighbour_coverage([("A", (date(2023, 1, 1), date(2023, 12, 31))),
        ...                     ("B", (date(2023, 1, 1), date(2023, 12, 31))),
        ...                     ("A", (date(2025, 1, 1), date(2025, 12, 31))), ("A", None)])
        ... # doctest: +NORMALIZE_WHITESPACE
        [(None, datetime.date(2025, 1, 1)), (None, None),
         (datetime.date(2023, 12, 31), None), (None, None)]
    """
    spans: dict[str, list[tuple[date, date]]] = {}
    for provider, covers in coverage:
        if covers is not None:
            spans.setdefault(provider, []).append(covers)
    result: list[tuple[date | None, date | None]] = []
    for provider, covers in coverage:
        if covers is None:
            result.append((None, None))
            continue
        others = spans[provider]
        result.append(
            (
                max((last for _, last in others if last < covers[0]), default=None),
                min((first for first, _ in others if first > covers[1]), default=None),
            )
        )
    return result


def neighbour_facts(neighbours: tuple[date | None, date | None]) -> list[pl.Expr]:
    """One delivery's :func:`neighbour_coverage` as the literal columns :func:`resolve_rows`
    reads (``PREVIOUS_TO``, ``NEXT_FROM``), beside the facts of
    :func:`factlab.analysis.deliveries.delivery_facts`."""
    previous_to, next_from = neighbours
    return [
        pl.lit(previous_to, dtype=pl.Date).alias(PREVIOUS_TO),
        pl.lit(next_from, dtype=pl.Date).alias(NEXT_FROM),
    ]


def _with_neighbours(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with ``_PREVIOUS`` and ``_NEXT`` (:func:`neighbour_coverage` per row), from
    ``PREVIOUS_TO`` and ``NEXT_FROM`` when the plan gave them, else from the rows."""
    present = frame.collect_schema().names()
    if NEXT_FROM in present and PREVIOUS_TO in present:
        return frame.with_columns(
            pl.col(PREVIOUS_TO).alias(_PREVIOUS), pl.col(NEXT_FROM).alias(_NEXT)
        )
    return frame.join(_neighbours_from_rows(frame), on=DELIVERY, how="left", maintain_order="left")


def _neighbours_from_rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Per delivery, its provider's neighbouring coverage as far as the rows show the
    deliveries: one without any row (or whose rows a filter left out) is not seen. A provider's
    deliveries with coverage never overlap: the next one by first day is the next one."""
    deliveries = (
        frame.select(schema.PROVIDER, DELIVERY, COVERED_FROM, COVERED_TO)
        .filter(pl.col(COVERED_FROM).is_not_null())
        .unique()
        .sort(schema.PROVIDER, COVERED_FROM)
    )
    return deliveries.select(
        DELIVERY,
        pl.col(COVERED_TO).shift(1).over(schema.PROVIDER).alias(_PREVIOUS),
        pl.col(COVERED_FROM).shift(-1).over(schema.PROVIDER).alias(_NEXT),
    )


def duplicate_report(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Per delivery (``DELIVERY``), what the resolution drops or changes, by BSN status.

    Columns: ``DELIVERY``, ``outside_coverage`` (rows wholly in a replaced part),
    ``duplicate_rows`` (rows of an episode a newer delivery repeats), ``episodes_repeated``
    (distinct episodes delivered more than once whose kept rows come from this delivery),
    ``episodes_closed`` (ongoing rows that no later delivery repeats), ``episodes_started``
    (rows whose start moved to their coverage's start, as the delivery before lacks them),
    ``categories_taken`` (rows without a product category that took the one the provider's
    other deliveries name for the episode), ``categories_ambiguous`` (rows left without one, as
    the other deliveries name several), and ``dropped.<status>`` per status.
    """
    present = frame.collect_schema().names()
    with_end = "end_date" in present
    with_start = "start_date" in present
    outside = frame.with_columns(
        pl.lit(True).alias("_outside"),
        pl.lit(False).alias(_KEEP),
        pl.lit(1, dtype=pl.UInt32).alias(_COPIES),
        pl.lit(False).alias(_CLOSED),
        pl.lit(False).alias(_STARTED),
        pl.lit(False).alias(_CATEGORY_TAKEN),
        pl.lit(False).alias(_CATEGORY_AMBIGUOUS),
    )
    annotated = _annotated(frame)
    key = _episode_key(present)
    annotated = annotated.with_columns(
        pl.lit(False).alias("_outside"),
        ((_closes() | _closes_before_next()) if with_end else pl.lit(False)).alias(_CLOSED),
        ((_first_copy(key)[1] if with_start else pl.lit(False)) & pl.col(_KEEP)).alias(_STARTED),
    )
    status = pl.col(schema.STATUS).cast(pl.String)
    dropped = ~pl.col(_KEEP)
    summary = [
        pl.col("_outside").sum().alias("outside_coverage"),
        (dropped & ~pl.col("_outside")).sum().alias("duplicate_rows"),
        pl.col(_CLOSED).sum().alias("episodes_closed"),
        pl.col(_STARTED).sum().alias("episodes_started"),
        pl.col(_CATEGORY_TAKEN).sum().alias("categories_taken"),
        pl.col(_CATEGORY_AMBIGUOUS).sum().alias("categories_ambiguous"),
        *[(dropped & (status == name)).sum().alias(f"dropped.{name}") for name in schema.STATUSES],
    ]
    # ``_annotated`` keeps only the rows in coverage; the rows outside are counted apart.
    outside_rows = outside.filter(~_row_in_coverage(present))
    repeated = (
        annotated.filter((pl.col(_COPIES) > 1) & pl.col(_KEEP) & pl.col(_EPISODE).is_not_null())
        .group_by(DELIVERY)
        .agg(pl.col(_EPISODE).n_unique().alias("episodes_repeated"))
    )
    facts = [
        DELIVERY,
        "_outside",
        _KEEP,
        _CLOSED,
        _STARTED,
        _CATEGORY_TAKEN,
        _CATEGORY_AMBIGUOUS,
        schema.STATUS,
    ]
    counts = (
        pl.concat(
            [outside_rows.select(facts), annotated.select(facts)],
            how="vertical_relaxed",
        )
        .group_by(DELIVERY)
        .agg(summary)
    )
    return (
        counts.join(repeated, on=DELIVERY, how="left")
        .with_columns(pl.col("episodes_repeated").fill_null(0))
        .sort(DELIVERY)
    )


def _row_in_coverage(present: Sequence[str]) -> pl.Expr:
    """A row in care on some day of its delivery's remaining coverage (null bounds: open)."""
    start = pl.col("start_date") if "start_date" in present else pl.lit(None, dtype=pl.Date)
    end = pl.col("end_date") if "end_date" in present else pl.lit(None, dtype=pl.Date)
    covered_from, covered_to = pl.col(COVERED_FROM), pl.col(COVERED_TO)
    return (covered_to.is_null() | start.is_null() | (start <= covered_to)) & (
        covered_from.is_null() | end.is_null() | (end >= covered_from)
    )
