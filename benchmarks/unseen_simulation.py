"""Simulation study of ``factlab unseen``: bias and coverage on closed populations of known size.

Each scenario draws a closed population of known size, lets each source see each person with a
known chance (with or without dependence between sources and heterogeneity between persons),
estimates the population from the capture histories with the default model search, and records
the estimate and whether the 95 % interval covers the truth. No network, no files read.

    python benchmarks/unseen_simulation.py --runs 200 --out benchmarks/results-unseen.json

The table in docs/unseen.md comes from such a run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from factlab.errors import DataError
from factlab.estimation.histories import Histories
from factlab.estimation.unseen import estimate_unseen

BoolArray = npt.NDArray[np.bool_]
Draw = Callable[[np.random.Generator], BoolArray]


@dataclass(frozen=True)
class Scenario:
    name: str
    size: int
    description: str
    draw: Draw


def independent(size: int, chances: tuple[float, ...]) -> Draw:
    def draw(rng: np.random.Generator) -> BoolArray:
        return rng.random((size, len(chances))) < np.array(chances)

    return draw


def dependent(size: int, *, positive: bool) -> Draw:
    """Four sources; B sees A's persons more (positive) or less (negative) often than others."""

    def draw(rng: np.random.Generator) -> BoolArray:
        a = rng.random(size) < 0.3
        if positive:
            b = np.where(a, rng.random(size) < 0.45, rng.random(size) < 0.12)
        else:
            b = np.where(a, rng.random(size) < 0.08, rng.random(size) < 0.3)
        c = rng.random(size) < 0.25
        d = rng.random(size) < 0.2
        return np.column_stack([a, b, c, d])

    return draw


def heterogeneous(size: int, spread: float) -> Draw:
    """Four independent sources; each person's chances scale with a lognormal visibility."""

    def draw(rng: np.random.Generator) -> BoolArray:
        visibility = rng.lognormal(mean=-(spread**2) / 2, sigma=spread, size=size)
        base = np.array([0.3, 0.2, 0.25, 0.2])
        chances = np.clip(visibility[:, None] * base[None, :], 0.0, 0.95)
        return rng.random((size, 4)) < chances

    return draw


SCENARIOS = (
    Scenario(
        "independent",
        2000,
        "4 independent sources, chances 0.30/0.20/0.25/0.15",
        independent(2000, (0.3, 0.2, 0.25, 0.15)),
    ),
    Scenario(
        "independent-small",
        300,
        "as above, population of 300",
        independent(300, (0.3, 0.2, 0.25, 0.15)),
    ),
    Scenario(
        "positive-dependence",
        2000,
        "B sees A's persons 0.45, others 0.12",
        dependent(2000, positive=True),
    ),
    Scenario(
        "negative-dependence",
        2000,
        "B sees A's persons 0.08, others 0.30",
        dependent(2000, positive=False),
    ),
    Scenario(
        "heterogeneity-mild", 2000, "lognormal visibility, sigma 0.5", heterogeneous(2000, 0.5)
    ),
    Scenario(
        "heterogeneity-strong", 2000, "lognormal visibility, sigma 1.2", heterogeneous(2000, 1.2)
    ),
)


def histories_of(seen: BoolArray) -> Histories:
    k = seen.shape[1]
    masks = (seen.astype(np.int64) * (1 << np.arange(k))).sum(axis=1)
    counts = np.bincount(masks, minlength=1 << k)
    counts[0] = 0
    return Histories(tuple("ABCDEFGH"[:k]), tuple(int(c) for c in counts))


def run(scenario: Scenario, runs: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    estimates, covered, widths, models = [], 0, [], {}
    refused = 0
    started = time.perf_counter()
    for _ in range(runs):
        histories = histories_of(scenario.draw(rng))
        try:
            result = estimate_unseen(histories)
        except DataError:
            refused += 1
            continue
        estimates.append(result.estimate)
        covered += result.lower <= scenario.size <= result.upper
        widths.append(result.upper - result.lower)
        models[result.model] = models.get(result.model, 0) + 1
    done = len(estimates)
    mean = float(np.mean(estimates)) if done else float("nan")
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "population": scenario.size,
        "runs": runs,
        "refused": refused,
        "mean_estimate": round(mean, 1),
        "relative_bias": round((mean - scenario.size) / scenario.size, 4),
        "coverage": round(covered / done, 3) if done else None,
        "mean_interval_width": round(float(np.mean(widths)), 1) if done else None,
        "most_chosen_model": max(models, key=lambda m: models[m]) if models else None,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results-unseen.json"))
    args = parser.parse_args()
    results = [run(s, args.runs, args.seed + i) for i, s in enumerate(SCENARIOS)]
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print("| scenario | N | refused | mean estimate | bias | coverage | width | model |")
    print("|---|--:|--:|--:|--:|--:|--:|---|")
    for r in results:
        print(
            f"| {r['scenario']} | {r['population']} | {r['refused']} | {r['mean_estimate']} | "
            f"{r['relative_bias']:+.1%} | {r['coverage']} | {r['mean_interval_width']} | "
            f"{r['most_chosen_model']} |"
        )


if __name__ == "__main__":
    main()
