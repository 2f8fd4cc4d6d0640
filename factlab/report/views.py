"""Estimates as a report shows them: rounded, with nothing exact, in the report's language.

:func:`estimate_view` turns a corrections estimate into an
:class:`~factlab.report.model.EstimateView`. In a public report every value is computed again
from the protected base table's *published* values (never from the exact counts the estimate
saw), so a reader can recompute it and learns nothing the tables do not publish; an adjustment
of a value the table suppresses is not shown, and then neither is the total (the total minus
the shown lines would give the hidden one back). The configured texts are filled with the
published values (:func:`factlab.report.freetext.fill`). :func:`unseen_view` does the same for a
capture-recapture estimate (:class:`~factlab.report.model.UnseenView`): rounded, its interval
widened outwards.
Only these functions make the two views.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
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

__all__ = ["SUPPRESSED_TEXT", "estimate_view", "published_value", "unseen_view"]

#: How a value that is not shown is written in a text (as in the tables).
SUPPRESSED_TEXT: Final = "."
# The assumptions of capture-recapture (factlab.estimation.unseen.ASSUMPTIONS), by message key.
_ASSUMPTION_KEYS: Final = ("closed", "lists", "dependence", "heterogeneity")


def _round_to(value: float, base: int) -> int:
    # Half away from zero, like the corrections' own rounding; additions can be negative.
    return int(math.copysign(math.floor(abs(value) / base + 0.5) * base, value))


def _addition(kind: str, observed: int | None, parameter: float) -> int:
    """One adjustment on ``observed``, as :func:`factlab.estimation.corrections` defines it:
    exact rational arithmetic on the parameter as written, rounded to a whole, half away."""
    p = Fraction(repr(parameter)) if isinstance(parameter, float) else Fraction(parameter)
    if kind == "absolute":
        exact = p
    elif kind == "factor":
        exact = (observed or 0) * p
    else:
        exact = (observed or 0) * (1 - p) / p
    magnitude = math.floor(abs(exact) + Fraction(1, 2))
    return magnitude if exact >= 0 else -magnitude


def published_value(
    table: TableSource, where: Mapping[str, str | None], measure: str, part: str | None
) -> int | None:
    """The published value at ``where`` (other dimensions at their total); None if suppressed.

    ``where`` maps a dimension to a value, or to None for its total; ``part`` picks the part
    (the whole period's label) when the table has a part column.
    """
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
    part: str | None = None,
    language: str = "nl",
    title: str | None = None,
    texts: Mapping[str, Mapping[str, str]] | None = None,
) -> EstimateView:
    """Publishable view of an estimate; exact values only when ``base`` is internal.

    With a protected ``base`` every number is a function of the numbers the base table
    publishes: each adjustment is applied to the *published* value it refers to (the
    corrections' arithmetic, :func:`factlab.estimation.estimate.estimate`), the total is the
    published base total plus those additions, and all are rounded to ``rounding``. An
    adjustment of a suppressed value is not shown, and then the total and its range are not
    shown either; nor are they when the base total itself is suppressed.

    Args:
        estimate: the estimate of :func:`factlab.estimation.estimate.estimate` (its model and,
            for an internal base, its exact values).
        base: the cross table of the corrections' two dimensions, protected (or internal), with
            the measures ``unique_clients`` and ``sum_of_cells``.
        rounding: round every value to a multiple of this (ignored for an internal base).
        part: the part of ``base`` the estimate was computed on, when it has a part column.
        language: the report's language.
        title: the title shown (None: the model's own).
        texts: per adjustment name, ``label``, ``note`` and ``source`` shown instead of the
            model's own; their placeholders (:data:`factlab.report.freetext.PLACEHOLDERS`)
            are filled with the values this view shows, formatted in ``language``.

    Raises:
        TypeError: ``base`` is a raw frame.
        ConfigError: a text holds an unknown placeholder.

    Example:
        >>> _addition("factor", 1115, 2), _addition("coverage", 5410, 0.9)
        (2230, 601)
    """
    base = check_source(base, internal=True, what="corrections base")
    internal = isinstance(base, InternalTable)
    step = 1 if internal else rounding
    rows, columns = estimate.base_table.row_dimension, estimate.base_table.column_dimension
    measure = "sum_of_cells" if estimate.corrections.base == "sum_of_cells" else "unique_clients"

    def shown(value: int | None) -> int | None:
        return None if value is None else _round_to(value, step)

    # The base total exactly as the base table publishes it, so the two never disagree.
    counted = published_value(base, {}, measure, part)
    # Per adjustment: the value it refers to as published, and its addition (value, low, high)
    # computed from that; exact (from the estimate) only in an internal report.
    observed_values: list[int | None] = []
    additions: list[tuple[int, int, int] | None] = []
    ranged = False
    for result in estimate.adjustments:
        adjustment = result.adjustment
        select = dict(adjustment.select)
        observed = published_value(
            base, {rows: select.get(rows), columns: select.get(columns)}, measure, part
        )
        observed_values.append(observed)
        ranged = ranged or adjustment.low is not None or adjustment.high is not None
        if adjustment.kind != "absolute" and observed is None:
            additions.append(None)
            continue
        if internal:
            value = result.value
            low, high = result.low, result.high
        else:
            value = _addition(adjustment.kind, observed, adjustment.parameter)
            ends = [
                _addition(adjustment.kind, observed, bound)
                for bound in (adjustment.low, adjustment.high)
                if bound is not None
            ]
            # The additions are monotone in the parameter: the range is reached at its ends.
            low = min([*ends, value]) if ends else None
            high = max([*ends, value]) if ends else None
        additions.append((value, value if low is None else low, value if high is None else high))

    total = low_total = high_total = None
    if counted is not None and all(addition is not None for addition in additions):
        known = [addition for addition in additions if addition is not None]
        total = shown(counted + sum(value for value, _, _ in known))
        if ranged:
            low_total = shown(counted + sum(low for _, low, _ in known))
            high_total = shown(counted + sum(high for _, _, high in known))

    def written(value: int | None) -> str:
        return SUPPRESSED_TEXT if value is None else i18n.number(language, value)

    lines = []
    for result, observed, addition in zip(
        estimate.adjustments, observed_values, additions, strict=True
    ):
        adjustment = result.adjustment
        line_value: int | None = None
        line_low: int | None = None
        line_high: int | None = None
        if addition is not None:
            line_value = shown(addition[0])
            if adjustment.low is not None or adjustment.high is not None:
                line_low, line_high = shown(addition[1]), shown(addition[2])
        given = (texts or {}).get(adjustment.name, {})
        values = {
            "observed": written(observed),
            "value": written(line_value),
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
                    language,
                    adjustment.kind,
                    dict(adjustment.select),
                    estimate.corrections.base,
                    (rows, columns),
                ),
                formula=i18n.text(language, f"formula_{adjustment.kind}"),
                parameter=adjustment.parameter,
                value=line_value,
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
        low=low_total,
        high=high_total,
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
    total_published: bool = True,
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
        total_published: whether the report publishes its grand total of unique youths; when
            it hides it, the youths seen (nearly that total) are not shown either.
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
        observed=_round_to(result.observed, rules.rounding_base) if total_published else None,
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
