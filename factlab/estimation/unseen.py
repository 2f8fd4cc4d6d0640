"""How many clients did no source see? Multiple-systems estimation (capture-recapture).

Each source (a provider, or a declared group of providers) is a list of clients; the linked file
shows how the lists overlap. A Poisson log-linear model is fitted to the ``2^k - 1`` observable
cells of the table of capture histories (statsmodels' GLM); the model's prediction for the one
unobservable cell, the clients on no list, is the estimate of the unseen (Fienberg 1972; Bishop,
Fienberg and Holland 1975). The method behind the Home Office's 2014 estimate of victims of
modern slavery and the Dutch estimates of victims of trafficking.

- Models: main effects of every source (independence), plus any set of two-way interactions
  between sources (dependence between two lists). Higher-order interactions are not fitted.
- Model choice: ``"auto"`` searches the models by BIC (or AIC): every subset of the usable
  interactions when there are at most :data:`EXHAUSTIVE_PAIRS` of them, otherwise a stepwise
  search (add or remove one interaction at a time while the criterion improves), as SparseMSE's
  stepwise search does. An interaction is usable only when the two sources share clients and
  each has clients the other lacks; otherwise its estimate runs off to infinity.
- Interval: 95 % profile likelihood of the population size (Cormack 1992, as Rcapture computes
  it): the multinomial likelihood of the complete table, maximised over the model's parameters
  for each value of the unseen cell. It keeps the asymmetry of small counts, which a Wald
  interval loses, and needs no simulation, so it is reproducible.

Assumptions, said in every result: the population is closed in the period; the sources are
defined by the user; dependence between sources only as modelled (two-way interactions); every
client of a stratum has the same chance to be seen by a source (heterogeneity biases the
estimate, usually downwards).

statsmodels loads in about a second: this module is imported only where it is used.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from factlab.errors import ConfigError, DataError, InputError
from factlab.estimation.histories import Histories
from factlab.result_files import read_json

__all__ = [
    "ASSUMPTIONS",
    "EXHAUSTIVE_PAIRS",
    "MEANING",
    "METHOD",
    "StratifiedEstimate",
    "UnseenEstimate",
    "UnseenSummary",
    "estimate_unseen",
    "estimate_unseen_strata",
    "parse_model",
    "read_unseen",
]

Criterion = Literal["bic", "aic"]
Interaction = tuple[str, str]
FloatArray = npt.NDArray[np.float64]

#: Searches every subset of the usable interactions up to this many; stepwise beyond.
EXHAUSTIVE_PAIRS: Final = 6
#: What every result says about how it was computed.
METHOD: Final = (
    "Poisson log-linear model of the capture histories (statsmodels GLM); "
    "95 % profile-likelihood interval of the population size"
)
#: What every result assumes.
ASSUMPTIONS: Final = (
    "closed population: nobody enters or leaves the population within the period",
    "the sources are the lists the user defined; a client is on a list when the source served "
    "them in the period",
    "dependence between sources only as modelled: two-way interactions of the chosen model",
    "within a stratum every client has the same chance to be seen by a source; unequal chances "
    "(heterogeneity) usually make the estimate too low",
)
#: What a capture-recapture estimate means, next to a corrected total (which counts otherwise).
MEANING: Final = (
    "unique youths in care, those no provider saw included, estimated from how the providers' "
    "client lists overlap; it rests on the data and the assumptions listed, not on declared "
    "percentages, and it counts persons, not cell registrations"
)
_CHI2_95: Final = 3.841458820694124  # chi-square quantile, 1 degree of freedom, 0.95
# An unseen cell beyond this multiple of the observed is taken as unbounded.
_UNBOUNDED: Final = 1_000.0
_MAX_PARAMETER: Final = 25.0
# Log-likelihood given to a point where the model cannot be fitted: far outside any interval.
_FAILED: Final = -1e15


@dataclass(frozen=True)
class _Fit:
    interactions: tuple[Interaction, ...]
    unseen: float
    loglik: float
    parameters: int
    deviance: float
    df: int

    def criterion(self, kind: Criterion, cells: int) -> float:
        penalty = 2.0 if kind == "aic" else math.log(cells)
        return -2.0 * self.loglik + penalty * self.parameters


@dataclass(frozen=True)
class UnseenEstimate:
    """The estimate of one population (or one stratum) from its capture histories.

    Attributes:
        sources: the sources used.
        stratum: the stratum's covariate value, or None.
        observed: clients seen by at least one source.
        unseen: estimated clients seen by no source.
        estimate: estimated population size, ``observed + unseen``.
        lower, upper: the 95 % profile-likelihood interval of the population size.
        model: the model, e.g. ``independence`` or ``A:B + B:C``.
        interactions: the model's two-way interactions.
        criterion: ``bic`` or ``aic`` (the search's criterion), with its value.
        deviance, df: goodness of fit of the chosen model (df = cells - parameters).
        candidates: every model the search fitted, as (model, criterion value, unseen).
        dropped_sources: sources that saw no client, left out.
        notes: what was left out on the way.
    """

    sources: tuple[str, ...]
    stratum: str | None
    observed: int
    unseen: float
    estimate: float
    lower: float
    upper: float
    model: str
    interactions: tuple[Interaction, ...]
    criterion: str
    criterion_value: float
    deviance: float
    df: int
    candidates: tuple[tuple[str, float, float], ...] = ()
    dropped_sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the method and the assumptions."""
        return {
            "stratum": self.stratum,
            "sources": list(self.sources),
            "observed": self.observed,
            "unseen": round(self.unseen, 3),
            "estimate": round(self.estimate, 3),
            "lower": round(self.lower, 3),
            "upper": round(self.upper, 3),
            "model": self.model,
            "interactions": [list(pair) for pair in self.interactions],
            "criterion": self.criterion,
            "criterion_value": round(self.criterion_value, 4),
            "deviance": round(self.deviance, 4),
            "df": self.df,
            "method": METHOD,
            "interval": "95 % profile likelihood",
            "assumptions": list(ASSUMPTIONS),
            "candidates": [
                {"model": m, self.criterion: round(c, 4), "unseen": round(u, 3)}
                for m, c, u in self.candidates
            ],
            "dropped_sources": list(self.dropped_sources),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class StratifiedEstimate:
    """Estimates per stratum and their sum.

    The interval of the sum treats the strata as independent and combines each stratum's
    distance from its estimate to its lower (upper) end in quadrature: an approximation, said so
    in :attr:`interval`.
    """

    by: str
    strata: tuple[UnseenEstimate, ...]
    observed: int
    estimate: float
    lower: float
    upper: float
    interval: str = (
        "sum of the strata; its ends combine each stratum's profile-likelihood interval in "
        "quadrature (strata taken as independent)"
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "by": self.by,
            "observed": self.observed,
            "estimate": round(self.estimate, 3),
            "lower": round(self.lower, 3),
            "upper": round(self.upper, 3),
            "method": METHOD,
            "interval": self.interval,
            "assumptions": list(ASSUMPTIONS),
            "strata": [stratum.to_dict() for stratum in self.strata],
        }


def model_label(interactions: Sequence[Interaction]) -> str:
    """``independence``, or the interactions as ``A:B + B:C``.

    Example:
        >>> model_label([("A", "B"), ("B", "C")])
        'A:B + B:C'
    """
    return " + ".join(f"{a}:{b}" for a, b in interactions) or "independence"


def parse_model(text: str, sources: Sequence[str]) -> tuple[Interaction, ...] | None:
    """A model given as text: ``auto`` (None: search), ``independence``, or ``A:B,B:C``.

    Raises:
        ConfigError: a name is not a source, or an interaction is not of two different sources.

    Example:
        >>> parse_model("B:A, C:B", ["A", "B", "C"])
        (('A', 'B'), ('B', 'C'))
    """
    text = text.strip()
    if text == "auto":
        return None
    if text == "independence":
        return ()
    pairs: list[Interaction] = []
    problems = []
    for part in (p.strip() for p in text.split(",")):
        names = [n.strip() for n in part.split(":")]
        if len(names) != 2 or names[0] == names[1]:
            problems.append(f"model: {part!r} is not an interaction of two sources (A:B)")
            continue
        unknown = [n for n in names if n not in sources]
        if unknown:
            problems.append(
                f"model: {', '.join(map(repr, unknown))} is not a source ({', '.join(sources)})"
            )
            continue
        first, second = sorted(names, key=list(sources).index)
        pairs.append((first, second))
    if problems:
        raise ConfigError("model", problems)
    return tuple(
        sorted(set(pairs), key=lambda p: (list(sources).index(p[0]), list(sources).index(p[1])))
    )


def _design(k: int, pairs: Sequence[tuple[int, int]], *, with_empty: bool) -> FloatArray:
    """Design matrix over the patterns (1 .. 2^k - 1, and 0 first when ``with_empty``)."""
    masks = np.arange(0 if with_empty else 1, 1 << k)
    bits = (masks[:, None] >> np.arange(k)[None, :]) & 1
    columns = [np.ones(len(masks)), *bits.T, *(bits[:, a] * bits[:, b] for a, b in pairs)]
    return np.column_stack(columns).astype(np.float64)


def _glm(y: FloatArray, design: FloatArray) -> Any:
    """Fit a Poisson GLM; None when it does not converge or runs off to infinity."""
    import statsmodels.api as sm  # about a second to import: only here

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = sm.GLM(y, design, family=sm.families.Poisson()).fit()
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            return None
    params = np.asarray(result.params)
    if not result.converged or not np.all(np.isfinite(params)):
        return None
    if np.max(np.abs(params[1:]), initial=0.0) > _MAX_PARAMETER:
        return None
    return result


class _Problem:
    """One histories table, ready to fit models to."""

    def __init__(self, histories: Histories) -> None:
        self.histories = histories
        self.k = len(histories.sources)
        self.cells = (1 << self.k) - 1
        self.y = np.asarray(histories.counts[1:], dtype=np.float64)
        self.observed = float(self.y.sum())

    def index(self, pair: Interaction) -> tuple[int, int]:
        sources = self.histories.sources
        return sources.index(pair[0]), sources.index(pair[1])

    def usable(self, pair: Interaction) -> bool:
        """An interaction has a finite estimate only if the 2x2 margin's observed cells are > 0."""
        a, b = self.index(pair)
        masks = np.arange(1, 1 << self.k)
        in_a, in_b = (masks >> a) & 1 == 1, (masks >> b) & 1 == 1
        return all(
            self.y[selected].sum() > 0 for selected in (in_a & in_b, in_a & ~in_b, ~in_a & in_b)
        )

    def fit(self, interactions: tuple[Interaction, ...]) -> _Fit | None:
        pairs = [self.index(pair) for pair in interactions]
        design = _design(self.k, pairs, with_empty=False)
        if design.shape[1] > self.cells:
            return None
        result = _glm(self.y, design)
        if result is None:
            return None
        unseen = float(np.exp(result.params[0]))
        if not math.isfinite(unseen) or unseen > _UNBOUNDED * max(self.observed, 1.0):
            return None
        return _Fit(
            interactions=interactions,
            unseen=unseen,
            loglik=float(result.llf),
            parameters=design.shape[1],
            deviance=float(result.deviance),
            df=self.cells - design.shape[1],
        )

    def profile(self, interactions: tuple[Interaction, ...], unseen: float) -> tuple[float, float]:
        """The 95 % profile-likelihood interval of the unseen cell."""
        from scipy.optimize import brentq, minimize_scalar

        pairs = [self.index(pair) for pair in interactions]
        design = _design(self.k, pairs, with_empty=True)
        n = self.observed

        def loglik(n0: float) -> float:
            # The multinomial log-likelihood of the complete table with n0 on no list, maximised
            # over the model (through the Poisson fit of the complete table); constants dropped.
            y = np.concatenate([[n0], self.y])
            result = _glm(y, design)
            if result is None:
                return _FAILED
            mu = np.asarray(result.fittedvalues, dtype=np.float64)
            total = n + n0
            positive = y > 0
            return float(
                math.lgamma(total + 1)
                - math.lgamma(n0 + 1)
                + np.sum(y[positive] * np.log(mu[positive] / total))
            )

        ceiling = _UNBOUNDED * max(n, 1.0)
        best = minimize_scalar(
            lambda n0: -loglik(n0),
            bounds=(0.0, max(4.0 * unseen + 10.0, 1.0)),
            method="bounded",
            options={"xatol": 1e-4 * max(unseen, 1.0)},
        )
        top = max(-float(best.fun), loglik(unseen))
        n0_best = float(best.x) if -float(best.fun) >= loglik(unseen) else unseen

        def gap(n0: float) -> float:
            return 2.0 * (top - loglik(n0)) - _CHI2_95

        lower = 0.0 if gap(0.0) <= 0 else float(brentq(gap, 0.0, n0_best, xtol=1e-6))
        high = max(2.0 * n0_best, n0_best + 10.0)
        while gap(high) <= 0:
            if high > ceiling:
                raise DataError(
                    "the upper end of the interval is unbounded: the overlap between the sources "
                    "is too small to estimate from"
                )
            high *= 2.0
        upper = float(brentq(gap, n0_best, high, xtol=1e-6))
        return lower, upper


def _search(problem: _Problem, criterion: Criterion) -> tuple[_Fit, list[_Fit]]:
    sources = problem.histories.sources
    usable = [pair for pair in itertools.combinations(sources, 2) if problem.usable(pair)]
    fitted: dict[tuple[Interaction, ...], _Fit | None] = {}

    def fit(model: tuple[Interaction, ...]) -> _Fit | None:
        model = tuple(sorted(model, key=lambda p: (sources.index(p[0]), sources.index(p[1]))))
        if model not in fitted:
            fitted[model] = problem.fit(model)
        return fitted[model]

    def score(result: _Fit) -> tuple[float, int, str]:
        # Ties go to the smaller model, then to the label: the choice never depends on order.
        value = result.criterion(criterion, problem.cells)
        return (round(value, 9), len(result.interactions), model_label(result.interactions))

    if len(usable) <= EXHAUSTIVE_PAIRS:
        for size in range(len(usable) + 1):
            for model in itertools.combinations(usable, size):
                fit(model)
    else:
        current = fit(())
        if current is None:
            raise DataError("the independence model cannot be fitted to these histories")
        while True:
            chosen = set(current.interactions)
            moves = [tuple(chosen | {p}) for p in usable if p not in chosen]
            moves += [tuple(chosen - {p}) for p in chosen]
            options = [r for r in (fit(m) for m in moves) if r is not None]
            better = [r for r in options if score(r) < score(current)]
            if not better:
                break
            current = min(better, key=score)
    results = [r for r in fitted.values() if r is not None]
    if not results:
        raise DataError("no log-linear model could be fitted to these histories")
    return min(results, key=score), sorted(results, key=score)


def estimate_unseen(
    histories: Histories,
    *,
    model: Sequence[Interaction] | str | None = None,
    criterion: Criterion = "bic",
) -> UnseenEstimate:
    """Estimate the clients no source saw, with a 95 % profile-likelihood interval.

    Args:
        histories: the capture histories (:mod:`factlab.estimation.histories`).
        model: None or ``"auto"`` to search; ``"independence"`` or ``()`` for independence; or
            the two-way interactions, as pairs or as text ``"A:B,B:C"``.
        criterion: ``bic`` (default: it prefers smaller models) or ``aic``, for the search.

    Raises:
        DataError: fewer than two sources, no client seen by two sources, a model that does not
            converge, or an estimate or interval that is unbounded.
        ConfigError: the model names unknown sources.

    Example:
        >>> from factlab.estimation.histories import Histories
        >>> result = estimate_unseen(Histories(("A", "B"), (0, 60, 40, 20)), model="independence")
        >>> round(result.unseen), round(result.estimate)  # 60 x 40 / 20 = 120 no list saw
        (120, 240)
    """
    if criterion not in ("bic", "aic"):
        raise ConfigError("criterion", [f"criterion: {criterion!r} is not bic or aic"])
    where = f"stratum {histories.stratum}: " if histories.stratum is not None else ""
    if len(histories.sources) < 2:
        raise DataError(
            f"{where}capture-recapture needs at least two sources that saw clients "
            f"(found {len(histories.sources)})"
        )
    if histories.overlapping == 0:
        raise DataError(
            f"{where}no client was seen by two sources: without overlap the histories say "
            "nothing about those no source saw"
        )
    problem = _Problem(histories)
    chosen: tuple[Interaction, ...] | None
    if isinstance(model, str):
        chosen = parse_model(model, histories.sources)
    elif model is None:
        chosen = None
    else:
        chosen = parse_model(
            ",".join(f"{a}:{b}" for a, b in model) or "independence", histories.sources
        )
    candidates: list[_Fit] = []
    if chosen is None:
        best, candidates = _search(problem, criterion)
    else:
        unusable = [pair for pair in chosen if not problem.usable(pair)]
        if unusable:
            raise DataError(
                f"{where}interaction(s) {model_label(unusable)} cannot be estimated: the two "
                "sources must share clients and each must have clients the other lacks"
            )
        fitted = problem.fit(chosen)
        if fitted is None:
            raise DataError(
                f"{where}the model {model_label(chosen)} does not converge or gives an unbounded "
                "estimate"
            )
        best = fitted
    low, high = problem.profile(best.interactions, best.unseen)
    observed = histories.observed
    return UnseenEstimate(
        sources=histories.sources,
        stratum=histories.stratum,
        observed=observed,
        unseen=best.unseen,
        estimate=observed + best.unseen,
        lower=observed + low,
        upper=observed + high,
        model=model_label(best.interactions),
        interactions=best.interactions,
        criterion=criterion,
        criterion_value=best.criterion(criterion, problem.cells),
        deviance=best.deviance,
        df=best.df,
        candidates=tuple(
            (model_label(r.interactions), r.criterion(criterion, problem.cells), r.unseen)
            for r in candidates
        ),
        dropped_sources=histories.dropped_sources,
        notes=histories.notes,
    )


def estimate_unseen_strata(
    strata: Sequence[Histories],
    *,
    by: str,
    model: Sequence[Interaction] | str | None = None,
    criterion: Criterion = "bic",
) -> StratifiedEstimate:
    """Estimate each stratum on its own (its own model) and add them up.

    Raises:
        DataError: a stratum cannot be estimated (the message names it); merge small strata.
    """
    if not strata:
        raise DataError("no strata to estimate")
    results = tuple(estimate_unseen(h, model=model, criterion=criterion) for h in strata)
    total = sum(r.estimate for r in results)
    down = math.sqrt(sum((r.estimate - r.lower) ** 2 for r in results))
    up = math.sqrt(sum((r.upper - r.estimate) ** 2 for r in results))
    observed = sum(r.observed for r in results)
    return StratifiedEstimate(
        by=by,
        strata=results,
        observed=observed,
        estimate=total,
        lower=max(float(observed), total - down),
        upper=total + up,
    )


@dataclass(frozen=True)
class UnseenSummary:
    """The headline of a ``factlab unseen`` result, to show beside a corrected total.

    Attributes:
        observed: youths seen by at least one list.
        estimate: estimated youths, those no list saw included.
        lower, upper: the 95 % interval of the estimate.
        model: the log-linear model (or ``per stratum``).
        source: the file it was read from.
    """

    observed: int
    estimate: float
    lower: float
    upper: float
    model: str
    source: str
    assumptions: tuple[str, ...] = ASSUMPTIONS
    meaning: str = MEANING

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "observed": self.observed,
            "estimate": round(self.estimate, 3),
            "lower": round(self.lower, 3),
            "upper": round(self.upper, 3),
            "model": self.model,
            "source": self.source,
            "meaning": self.meaning,
            "method": METHOD,
            "assumptions": list(self.assumptions),
        }


def read_unseen(path: str | Path) -> UnseenSummary:
    """Read the headline of a result written by ``factlab unseen``.

    Raises:
        InputError: the file is not such a result, or a figure is missing or not a number.
    """
    document = read_json(path, what="unseen estimate")
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("format") != "factlab-unseen":
        raise InputError(f"{path}: not a result of factlab unseen (metadata.format)")
    figures: dict[str, float] = {}
    problems = []
    for key in ("observed", "estimate", "lower", "upper"):
        value = document.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            problems.append(key)
        else:
            figures[key] = float(value)
    if problems:
        raise InputError(f"{path}: missing or not a number: {', '.join(problems)}")
    if not figures["lower"] <= figures["estimate"] <= figures["upper"]:
        raise InputError(f"{path}: the estimate lies outside its interval")
    model = document.get("model")
    return UnseenSummary(
        observed=int(figures["observed"]),
        estimate=figures["estimate"],
        lower=figures["lower"],
        upper=figures["upper"],
        model=model if isinstance(model, str) else f"per {document.get('by', 'stratum')}",
        source=str(path),
    )
