"""Estimates as a report shows them: rounded, with nothing exact, in the report's language.

:func:`estimate_view` turns a corrections estimate (computed on exact counts) into an
:class:`~factlab.report.model.EstimateView`: every value rounded, an adjustment of a value the
protected base table suppresses not shown, the configured texts filled with the published values
(:func:`factlab.report.freetext.fill`). :func:`unseen_view` does the same for a capture-recapture
estimate (:class:`~factlab.report.model.UnseenView`): rounded, its interval widened outwards.
Only these functions make the two views.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from factlab.disclosure.rules import DisclosureRules
from factlab.estimation.estimate import Estimate
from factlab.estimation.unseen import UnseenEstimate
from factlab.report import i18n
from factlab.report.freetext import fill
from factlab.report.model import (
    _SEAL,  # the views' seal: only this module makes them
    EstimateLine,
    EstimateView,
    InternalTable,
    TableSource,
    UnseenView,
    check_source,
)

__all__ = ["SUPPRESSED_TEXT", "estimate_view", "unseen_view"]

#: How a value that is not shown is written in a text (as in the tables).
SUPPRESSED_TEXT: Final = "."
# The assumptions of capture-recapture (factlab.estimation.unseen.ASSUMPTIONS), by message key.
_ASSUMPTION_KEYS: Final = ("closed", "lists", "dependence", "heterogeneity")


def _round_to(value: float, base: int) -> int:
    # Half away from zero, like the corrections' own rounding; additions can be negative.
    return int(math.copysign(math.floor(abs(value) / base + 0.5) * base, value))


def _published(
    table: TableSource, where: Mapping[str, str | None], measure: str, part: str | None
) -> int | None:
    """The published value at ``where`` (other dimensions at their total); None if suppressed."""
    conditions = [
        pl.col(key).is_null() if where.get(key) is None else pl.col(key) == where[key]
        for key in table.dimensions
    ]
    if table.part_column is not None:
        conditions.append(pl.col(table.part_column) == part)
    rows = table.frame.filter(pl.all_horizontal(pl.lit(True), *conditions))
    if rows.height != 1 or rows[f"{measure}_status"][0] != "published":
        return None
    return int(rows[measure][0])


def _applies_to(
    language: str, kind: str, select: Mapping[str, str], base: str, order: Sequence[str]
) -> str:
    if kind == "absolute":
        return i18n.text(language, "est_fixed")
    if not select:
        return i18n.text(language, "est_all_cells" if base == "sum_of_cells" else "est_total")
    return ", ".join(
        f"{i18n.dimension_name(language, key)} = {select[key]}" for key in order if key in select
    )


def estimate_view(
    estimate: Estimate,
    base: TableSource,
    *,
    rounding: int,
    secret_max: int,
    part: str | None = None,
    language: str = "nl",
    title: str | None = None,
    texts: Mapping[str, Mapping[str, str]] | None = None,
) -> EstimateView:
    """Publishable view of an estimate; exact values only when ``base`` is internal.

    Args:
        estimate: the estimate, computed on exact counts by
        :func:`factlab.estimation.corrections.estimate`. base: the cross table of the corrections'
        two dimensions, protected (or internal), with
            the measures ``unique_clients`` and ``sum_of_cells``.
        rounding: round every value to a multiple of this (ignored for an internal base).
        secret_max: a rounded value whose size is 1..secret_max is not shown either.
        part: the part of ``base`` the estimate was computed on, when it has a part column.
        language: the report's language.
        title: the title shown (None: the model's own).
        texts: per adjustment name, ``label``, ``note`` and ``source`` shown instead of the
            model's own; their placeholders (:data:`factlab.report.freetext.PLACEHOLDERS`)
            are filled with the values this view shows, formatted in ``language``.

    Raises:
        TypeError: ``base`` is a raw frame.
        ConfigError: a text holds an unknown placeholder.
    """
    base = check_source(base, internal=True, what="corrections base")
    internal = isinstance(base, InternalTable)
    step = 1 if internal else rounding
    rows, columns = estimate.base_table.row_dimension, estimate.base_table.column_dimension
    measure = "sum_of_cells" if estimate.corrections.base == "sum_of_cells" else "unique_clients"

    def shown(value: float | None, *, published: bool = True) -> int | None:
        if value is None or not published:
            return None
        rounded = _round_to(value, step)
        return None if not internal and 1 <= abs(rounded) <= secret_max else rounded

    # The base total exactly as the base table publishes it, so the two never disagree.
    counted = _published(base, {}, measure, part)
    total, low, high = shown(estimate.total), shown(estimate.low), shown(estimate.high)

    def written(value: int | None) -> str:
        return SUPPRESSED_TEXT if value is None else i18n.number(language, value)

    lines = []
    for result in estimate.adjustments:
        adjustment = result.adjustment
        select = dict(adjustment.select)
        observed = _published(
            base, {rows: select.get(rows), columns: select.get(columns)}, measure, part
        )
        published = adjustment.kind == "absolute" or observed is not None
        value, line_low, line_high = (
            shown(v, published=published) for v in (result.value, result.low, result.high)
        )
        given = (texts or {}).get(adjustment.name, {})
        values = {
            "observed": written(observed),
            "value": written(value),
            "low": written(line_low),
            "high": written(line_high),
            "counted": written(counted),
            "total": written(total),
        }
        where = f"corrections.adjustment.{adjustment.name}"
        parameter_text = ""
        if adjustment.parameter is not None:
            name = i18n.text(language, f"param_{adjustment.kind}")
            parameter_text = f"{name} = {i18n.parameter(language, adjustment.parameter)}"
        lines.append(
            EstimateLine(
                name=adjustment.name,
                applies_to=_applies_to(
                    language, adjustment.kind, select, estimate.corrections.base, (rows, columns)
                ),
                formula=i18n.text(language, f"formula_{adjustment.kind}"),
                parameter=adjustment.parameter,
                value=value,
                low=line_low,
                high=line_high,
                source=fill(given.get("source", adjustment.source), values, what=f"{where}.source"),
                note=fill(given.get("note", adjustment.note), values, what=f"{where}.note"),
                label=given.get("label", adjustment.name.replace("_", " ")),
                parameter_text=parameter_text,
                observed=observed,
            )
        )
    unit = "registrations" if estimate.corrections.base == "sum_of_cells" else "persons"
    return EstimateView(
        title=title or estimate.corrections.title,
        unit=i18n.text(language, f"unit_{unit}_long"),
        base=i18n.text(
            language,
            "est_base",
            measure=i18n.text(language, f"measure_{measure}"),
            rows=i18n.dimension_name(language, rows),
            columns=i18n.dimension_name(language, columns),
        ),
        counted=counted,
        lines=tuple(lines),
        total=total,
        low=low,
        high=high,
        rounding=step,
        internal=internal,
        _seal=_SEAL,
        language=language,
        persons=unit == "persons",
    )


def unseen_view(
    result: UnseenEstimate,
    *,
    rounding: int,
    rules: DisclosureRules,
    internal: bool,
    labels: Mapping[str, str] | None = None,
    language: str = "nl",
) -> UnseenView | None:
    """Publishable view of a capture-recapture estimate; None when too few youths were seen.

    Args:
        result: the exact estimate (:func:`factlab.estimation.unseen.estimate_unseen`).
        rounding: published multiple of the estimate and its interval.
        rules: the disclosure rules (the youths seen are rounded by their base; a number of
            youths seen in the secret range is not published at all).
        internal: exact values for the trusted party.
        labels: names of the lists as the report shows them (anonymised providers).
        language: the report's language (the meaning and assumptions are written in it).
    """
    names = dict(labels or {})
    model = " + ".join(
        f"{names.get(first, first)}:{names.get(second, second)}"
        for first, second in result.interactions
    ) or i18n.text(language, "unseen_independence")
    meaning = i18n.text(language, "unseen_meaning")
    assumptions = tuple(i18n.text(language, f"unseen_assumption_{key}") for key in _ASSUMPTION_KEYS)
    if internal:
        return UnseenView(
            observed=result.observed,
            estimate=round(result.estimate),
            lower=math.floor(result.lower),
            upper=math.ceil(result.upper),
            model=model,
            lists=len(result.sources),
            rounding=1,
            internal=True,
            meaning=meaning,
            assumptions=assumptions,
            _seal=_SEAL,
            language=language,
        )
    if result.observed <= rules.secret_max:
        return None
    return UnseenView(
        observed=_round_to(result.observed, rules.rounding_base),
        estimate=_round_to(result.estimate, rounding),
        lower=math.floor(result.lower / rounding) * rounding,
        upper=math.ceil(result.upper / rounding) * rounding,
        model=model,
        lists=len(result.sources),
        rounding=rounding,
        internal=False,
        meaning=meaning,
        assumptions=assumptions,
        _seal=_SEAL,
        language=language,
    )
