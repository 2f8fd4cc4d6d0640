"""The published pattern does not depend on the clock.

Two builds of the same table, one on a busy machine, must publish the same pattern: two
different safe patterns published side by side can together narrow a secret that each hides
alone. The optimal search therefore falls back on work limits (rounds, nodes), and the rules'
time limit is a runaway guard that raises instead of changing the pattern.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import polars as pl
import pytest

from factlab.disclosure import optimise as optimise_module
from factlab.disclosure import suppress as suppress_module
from factlab.disclosure.lattice import BoolArray, Lattice, prepare
from factlab.disclosure.rules import DisclosureRules, MeasureRule
from factlab.disclosure.suppress import suppress
from factlab.errors import DataError

RULES = DisclosureRules(measures=(MeasureRule("registrations", "additive"),), rounding_base=1)


def table(towns: int = 8, seed: int = 2) -> pl.DataFrame:
    """Municipality x care form with its margins: many small cells, a search of a few rounds."""
    rng = np.random.default_rng(seed)
    forms = ["ambulant", "verblijf", "crisis", "pleeg", "overig"]
    cells = pl.DataFrame(
        [
            (f"m{t:02d}", form, int(rng.choice([0, 1, 2, 3, 5, 8, 12, 20, 40])))
            for t in range(towns)
            for form in forms
        ],
        schema={"municipality": pl.String, "care_form": pl.String, "registrations": pl.Int64},
        orient="row",
    )
    by_town = cells.group_by("municipality").agg(pl.col("registrations").sum())
    by_form = cells.group_by("care_form").agg(pl.col("registrations").sum())
    return pl.concat(
        [
            cells,
            by_town.with_columns(care_form=pl.lit(None, pl.String)).select(cells.columns),
            by_form.with_columns(municipality=pl.lit(None, pl.String)).select(cells.columns),
            pl.DataFrame(
                {
                    "municipality": [None],
                    "care_form": [None],
                    "registrations": [int(cells["registrations"].sum())],
                },
                schema=cells.schema,
            ),
        ]
    )


def _pattern_or_error(lattice: Lattice, rules: DisclosureRules) -> BoolArray | str:
    """The pattern, or the message of the DataError that stopped the search."""
    try:
        return suppress(lattice, rules)[0]
    except DataError as error:
        return str(error)


@pytest.fixture(scope="module")
def lattice() -> Lattice:
    return prepare(table(), RULES)


def _slow_clock(monkeypatch: pytest.MonkeyPatch, step: float) -> None:
    """Every reading of the clock is ``step`` seconds after the last: a slow machine."""
    now = [0.0]

    def perf_counter() -> float:
        now[0] += step
        return now[0]

    fake = types.SimpleNamespace(perf_counter=perf_counter)
    monkeypatch.setattr(optimise_module, "time", fake)
    monkeypatch.setattr(suppress_module, "time", fake)


@pytest.mark.parametrize("step", [0.001, 1.0, 50.0, 1e6])
def test_a_slow_machine_publishes_the_same_pattern_or_none(
    lattice: Lattice, monkeypatch: pytest.MonkeyPatch, step: float
) -> None:
    reference, search = suppress(lattice, RULES)
    assert search.used == "optimal"
    # The clean-up's pattern differs: a fallback forced by the clock would show.
    cleanup, _ = suppress(lattice, RULES, method="cleanup")
    assert not np.array_equal(cleanup, reference)
    _slow_clock(monkeypatch, step)
    outcome = _pattern_or_error(lattice, RULES)
    if isinstance(outcome, str):
        # Past the time limit: an error naming it, never a different pattern.
        assert "time limit" in outcome
        assert step >= 50.0
    else:
        assert np.array_equal(outcome, reference)


@pytest.mark.parametrize("limit", [0.0001, 0.05, 600.0])
def test_the_time_limit_never_changes_the_pattern(lattice: Lattice, limit: float) -> None:
    reference, _ = suppress(lattice, RULES)
    outcome = _pattern_or_error(lattice, dataclasses.replace(RULES, time_limit=limit))
    if isinstance(outcome, str):
        assert "time_limit" in outcome
    else:
        assert np.array_equal(outcome, reference)


def test_the_work_limits_decide_the_fallback(
    lattice: Lattice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one round allowed the search falls back, the same way on every run."""
    monkeypatch.setattr(suppress_module, "optimise", _one_round)
    first, search = suppress(lattice, RULES)
    _slow_clock(monkeypatch, 1.0)
    second, again = suppress(lattice, RULES)
    assert search.stopped == again.stopped == "round_limit"
    assert np.array_equal(first, second)


def _one_round(*args: object, **kwargs: object) -> optimise_module.Optimum:
    return optimise_module.optimise(*args, rounds=1, **kwargs)  # type: ignore[arg-type]
