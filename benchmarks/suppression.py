"""Secondary suppression: the heuristic, the clean-up and the optimal search side by side.

Usage::

    .venv/bin/python benchmarks/suppression.py --quick          # tables up to ~400 cells
    .venv/bin/python benchmarks/suppression.py                  # and 20 × 8 × 3, 30 × 12 × 4
    .venv/bin/python benchmarks/suppression.py --report-rows 10000000   # also a report's tables

For every table and method it records the suppressed cells (primary and complementary), the
value the complements hide (first measure, every distinct cell once, margins included: what the
search minimises) and what the report calls information lost (the most detailed cells only),
whether the pattern passes the LP audit (the judge) and the integer audit (every secret value's
interval by integer programming), and the time the search took. The optimal search's loss is
the yardstick when it proves its pattern optimal: every other method's gap to it is shown.

``--report-rows N`` builds a linked round of N synthetic rows (``factlab.synth``; pseudonyms
are stand-ins, no key is used), makes a publication report of it (``build_report``: the year
with its halves by municipality, care form and financing, providers per client, the overlap
matrix, data quality) and times the disclosure control of its tables apart from the counting.

Results go to ``benchmarks/results-suppression.json`` and a Markdown table beside it. Only
synthetic data; no network.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from factlab.disclosure.audit import (  # noqa: E402
    audit_lattice,
    build_system,
    integer_interval,
    required_width,
)
from factlab.disclosure.hierarchy import roll_up, tree  # noqa: E402
from factlab.disclosure.lattice import Lattice, prepare  # noqa: E402
from factlab.disclosure.linked import LinkedTable, prepare_linked  # noqa: E402
from factlab.disclosure.rules import (  # noqa: E402
    DisclosureRules,
    MeasureRule,
    disclosure_2014,
)
from factlab.disclosure.suppress import costs, suppress  # noqa: E402
from factlab.errors import DataError  # noqa: E402

METHODS = ("heuristic", "cleanup", "optimal")
ADDITIVE = (MeasureRule("registrations", "additive"),)
EXACT = DisclosureRules(rounding_base=1, measures=ADDITIVE)
#: Tables larger than this get the integer audit of their secret values only in the full run.
INTEGER_CELLS = 800

Build = Callable[[DisclosureRules], tuple[Lattice, DisclosureRules]]


def additive_table(values: np.ndarray) -> pl.DataFrame:
    """A table from its interior cells; margins are sums (``registrations``)."""
    names = "abcde"[: values.ndim]
    rows = []
    for combo in itertools.product(*[[None, *range(n)] for n in values.shape]):
        index = tuple(slice(None) if c is None else c for c in combo)
        labels = [None if c is None else f"{names[k]}{c:02d}" for k, c in enumerate(combo)]
        rows.append((*labels, int(values[index].sum())))
    return pl.DataFrame(rows, schema=[*names, "registrations"], orient="row")


def skewed(shape: tuple[int, ...], seed: int, *, zeros: float = 0.1, mean: float = 2.0) -> Any:
    """Log-normal cells: many small, a few large; a share of zeros."""
    rng = np.random.default_rng(seed)
    values = np.floor(rng.lognormal(mean, 1.3, size=shape)).astype(int)
    values[rng.random(shape) < zeros] = 0
    return values


def clients_table(
    seed: int, municipalities: list[str], forms: list[str], size: int
) -> pl.DataFrame:
    """municipality × care form from synthetic clients: unique clients (a client in two care
    forms counts once in their total) and registrations, by plain-Python sets."""
    rng = random.Random(seed)
    weights = [rng.random() ** 2 for _ in municipalities]
    clients = []
    for _ in range(size):
        municipality = rng.choices(municipalities, weights)[0]
        chosen = rng.sample(forms, rng.choice([1, 1, 1, 2]))
        clients.append((municipality, {form: rng.randint(1, 3) for form in chosen}))
    rows = []
    for code in [*municipalities, None]:
        for form in [*forms, None]:
            ids, registrations = set(), 0
            for index, (municipality, own) in enumerate(clients):
                if code is not None and municipality != code:
                    continue
                for f, n in own.items():
                    if form is None or f == form:
                        ids.add(index)
                        registrations += n
            rows.append((code, form, len(ids), registrations))
    return pl.DataFrame(
        rows, schema=["municipality", "care_form", "unique_clients", "registrations"], orient="row"
    )


def plain(counts: pl.DataFrame) -> Build:
    return lambda rules: (prepare(counts, rules), rules)


DRENTHE = {
    "Noord-Midden-Drenthe": ["Aa en Hunze", "Assen", "Midden-Drenthe", "Noordenveld", "Tynaarlo"],
    "Zuid-Drenthe": [
        "Borger-Odoorn", "Coevorden", "De Wolden", "Emmen", "Hoogeveen", "Meppel", "Westerveld",
    ],
}  # fmt: skip
FORMS = ["ambulant", "crisis", "dagbehandeling", "jeugdreclassering", "verblijf", "ggz"]


def hierarchical(rules: DisclosureRules) -> tuple[Lattice, DisclosureRules]:
    """Drenthe's 12 municipalities in two purchasing regions × 6 care forms, one table."""
    municipalities = [m for members in DRENTHE.values() for m in members]
    counts = clients_table(12, municipalities, FORMS, 900)
    regions = tree("municipality", DRENTHE)
    # Municipality of residence: one per client, so both measures add up over it.
    rolled = roll_up(counts, regions, measures=["unique_clients", "registrations"])
    rules = dataclasses.replace(rules, hierarchy={"municipality": DRENTHE}, measures=None)
    return prepare(rolled, rules), rules


def linked(rules: DisclosureRules) -> tuple[Lattice, DisclosureRules]:
    """municipality × care form and municipality × financing, sharing the municipality totals."""
    municipalities = [m for members in DRENTHE.values() for m in members]
    by_form = clients_table(20, municipalities, FORMS[:4], 600).drop("unique_clients")
    # The same registrations split by financing: each municipality's total kept.
    rng = np.random.default_rng(20)
    totals = by_form.filter(pl.col("care_form").is_null(), pl.col("municipality").is_not_null())
    split = {}
    for municipality, total in totals.select("municipality", "registrations").iter_rows():
        pgb = int(rng.binomial(total, 0.15))
        split[(municipality, "PGB")], split[(municipality, "ZIN")] = pgb, total - pgb
    rows = [
        (m, s, sum(v for (mm, ss), v in split.items() if m in (None, mm) and s in (None, ss)))
        for m in [*municipalities, None]
        for s in ["PGB", "ZIN", None]
    ]
    by_stream = pl.DataFrame(
        rows, schema=["municipality", "financing", "registrations"], orient="row"
    )
    lattice, _ = prepare_linked(
        {"form": LinkedTable(by_form), "stream": LinkedTable(by_stream)}, rules
    )
    return lattice, rules


def table_2014(kind: str) -> Build:
    """The 2014 round: care form × financing with the structural JB/JR empties."""

    def build(rules: DisclosureRules) -> tuple[Lattice, DisclosureRules]:
        from factlab.synth.round2014 import expected_2014

        cells = expected_2014()
        base = dataclasses.replace(
            disclosure_2014(), method=rules.method, time_limit=rules.time_limit
        )
        if kind == "demo":
            # What the demo protects: unique clients (union) and registrations of the round.
            counts = demo_counts()
            return prepare(counts, dataclasses.replace(base, dimensions=DIMS_2014)), base
        rows = cells.rows()
        rows += [(form, None, 0) for form in cells["care_form"].unique()]
        rows += [(None, stream, 0) for stream in cells["financing"].unique()]
        rows.append((None, None, 8241))
        counts = pl.DataFrame(rows, schema=cells.columns, orient="row")
        chosen = dataclasses.replace(
            base, measures=(MeasureRule("unique_clients", "sum_of_cells"),)
        )
        return prepare(counts, chosen), chosen

    return build


DIMS_2014 = ("care_form", "financing")
_DEMO: dict[str, pl.DataFrame] = {}


def demo_counts() -> pl.DataFrame:
    """The demo's count table (the 2014 round pseudonymised, linked and counted), once."""
    if "cells" not in _DEMO:
        from factlab.demo import run_demo

        with tempfile.TemporaryDirectory() as folder:
            _DEMO["cells"] = run_demo(Path(folder) / "round").cells.table
    return _DEMO["cells"]


def tables(quick: bool) -> dict[str, tuple[str, Build, DisclosureRules]]:
    """name -> (description, builder, base rules)."""
    cbs5 = DisclosureRules(measures=ADDITIVE)
    cbs = DisclosureRules()
    table = additive_table
    municipalities = [f"m{i:02d}" for i in range(12)]
    found: dict[str, tuple[str, Build, DisclosureRules]] = {
        "2d-small": ("6 × 5, additive, no rounding", plain(table(skewed((6, 5), 1))), EXACT),
        "2d-clients": (
            "12 municipalities × 6 care forms, 900 clients, unique (union) + registrations, CBS",
            plain(clients_table(3, municipalities, FORMS, 900)),
            cbs,
        ),
        "2d-skewed": ("15 × 10 skewed, no rounding", plain(table(skewed((15, 10), 11))), EXACT),
        "3d": ("6 × 5 × 3, additive, no rounding", plain(table(skewed((6, 5, 3), 2))), EXACT),
        "3d-rounded": ("6 × 5 × 3, additive, CBS", plain(table(skewed((6, 5, 3), 2))), cbs5),
        "zeros": (
            "10 × 6, 40 % zeros (secret under CBS), no rounding",
            plain(table(skewed((10, 6), 4, zeros=0.4))),
            EXACT,
        ),
        "small-margins": (
            "12 × 4, small cells and small row totals, no rounding",
            plain(table(skewed((12, 4), 5, mean=0.8))),
            EXACT,
        ),
        "hierarchical": (
            "Drenthe: 12 municipalities, 2 regions × 6 care forms, CBS",
            hierarchical,
            cbs,
        ),
        "linked": ("municipality × care form + × financing, together", linked, EXACT),
        "skewed-10x6x2": (
            "10 × 6 × 2 skewed, no rounding",
            plain(table(skewed((10, 6, 2), 6))),
            EXACT,
        ),
        "skewed-10x8x3": (
            "10 × 8 × 3 skewed, no rounding",
            plain(table(skewed((10, 8, 3), 7))),
            EXACT,
        ),
        "2014-demo": ("2014 round as the demo counts it", table_2014("demo"), cbs),
        "2014-sum-of-cells": ("2014 table, margins as sums of cells", table_2014("sum"), cbs),
    }
    if not quick:
        found["skewed-20x8x3"] = (
            "20 × 8 × 3 skewed, no rounding",
            plain(additive_table(skewed((20, 8, 3), 8))),
            EXACT,
        )
        found["skewed-30x12x4"] = (
            "30 × 12 × 4 skewed, no rounding",
            plain(additive_table(skewed((30, 12, 4), 9))),
            EXACT,
        )
    return found


def integer_check(
    lattice: Lattice, pattern: np.ndarray, rules: DisclosureRules, budget: float
) -> tuple[bool | None, int]:
    """Every secret value's interval by integer programming: passed?, values checked.

    None when the budget ran out first (the values checked so far all passed).
    """
    system = build_system(lattice, pattern, rules)
    need = required_width(lattice, rules)
    started = time.perf_counter()
    checked = 0
    for cell in np.flatnonzero(lattice.primary):
        for m in range(len(lattice.measures)):
            if time.perf_counter() - started > budget:
                return None, checked
            low, high, _ = integer_interval(system, m * lattice.size + int(cell))
            checked += 1
            if high - low < need[m, cell] - 1e-6:
                return False, checked
    return True, checked


def measure(
    name: str, build: Build, base: DisclosureRules, time_limit: float, integer_budget: float
) -> list[dict[str, Any]]:
    found = []
    for method in METHODS:
        rules = dataclasses.replace(base, method=method, time_limit=time_limit)
        lattice, rules = build(rules)
        started = time.perf_counter()
        try:
            pattern, search = suppress(lattice, rules)
        except DataError as error:
            # past the time limit the search refuses rather than publish a pattern that depends
            # on the machine's speed (docs/disclosure.md): a result of its own here
            found.append(
                {
                    "table": name,
                    "method": method,
                    "cells": lattice.size,
                    "primary": int(lattice.primary.sum()),
                    "seconds": round(time.perf_counter() - started, 2),
                    "refused": str(error),
                }
            )
            print(json.dumps(found[-1]), flush=True)
            continue
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        lp = audit_lattice(lattice, pattern, rules).passed
        audit_seconds = time.perf_counter() - started
        integer: bool | None = None
        checked = 0
        if lattice.size <= INTEGER_CELLS or integer_budget > 60:
            integer, checked = integer_check(lattice, pattern, rules, integer_budget)
        secondary = pattern & ~lattice.primary
        first = lattice.values[0]
        found.append(
            {
                "table": name,
                "method": method,
                "cells": lattice.size,
                "primary": int(lattice.primary.sum()),
                "secondary": int(secondary.sum()),
                "value_lost": int(first[secondary].sum()),
                "detail_lost": int(first[lattice.detail & pattern].sum()),
                "detail_total": int(first[lattice.detail].sum()),
                "cost": round(float(costs(lattice, rules.cost)[secondary].sum()), 3),
                "lp_audit": lp,
                "integer_audit": integer,
                "integer_values_checked": checked,
                "seconds": round(seconds, 2),
                "audit_seconds": round(audit_seconds, 2),
                "used": search.used,
                "proven_optimal": search.proven_optimal,
                "stopped": search.stopped,
                "rounds": search.rounds,
                "dropped": search.dropped,
                "programmes": search.programmes,
            }
        )
        print(json.dumps(found[-1]), flush=True)
    best = next((r for r in found if r["method"] == "optimal" and "refused" not in r), None)
    for row in found:
        row["gap_to_optimal"] = (
            round((row["value_lost"] - best["value_lost"]) / best["value_lost"], 4)
            if best is not None
            and "refused" not in row
            and best["proven_optimal"]
            and best["value_lost"]
            else None
        )
    return found


def report_protection(rows: int) -> dict[str, Any]:
    """Time a publication report of a synthetic round, and its disclosure control apart."""
    from common import config_for

    import factlab.report.build as build_module
    import factlab.report.tables as tables_module
    from factlab import schema
    from factlab.periods import parse_period
    from factlab.report.build import build_report
    from factlab.report.config import RoundConfig
    from factlab.synth.draw import synth_frame

    started = time.perf_counter()
    frame = synth_frame(config_for(rows), seed=7)
    # Stand-in pseudonyms (one per person): the report only needs them to tell clients apart.
    linked = frame.filter(pl.col("bsn_status") == "valid").select(
        pl.format("{}{}", pl.col("person").hash(1), pl.col("person").hash(2))
        .str.zfill(40)
        .str.slice(0, 32)
        .alias("pseudonym"),
        pl.col("bsn_status").cast(schema.STATUS_DTYPE),
        "provider", "municipality", "care_form", "financing", "start_date", "end_date",
    )  # fmt: skip
    made = time.perf_counter() - started
    spent: list[dict[str, Any]] = []
    plain_protect, symmetric = tables_module.protect, build_module.protect_symmetric

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = plain_protect(*args, **kwargs)
        report = result.report
        spent.append(
            {
                "table": "+".join(report.dimensions),
                "cells": report.cells,
                "primary": report.primary,
                "secondary": report.secondary,
                "used": report.search.used if report.search else None,
                "proven_optimal": report.search.proven_optimal if report.search else None,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        return result

    def timed_symmetric(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = symmetric(*args, **kwargs)
        spent.append(
            {
                "table": "overlap matrix (protect_symmetric)",
                "cells": result.frame.height,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        return result

    tables_module.protect = timed
    build_module.protect_symmetric = timed_symmetric
    try:
        config = RoundConfig(
            period=parse_period("2024"), parts=(parse_period("2024H1"), parse_period("2024H2"))
        )
        started = time.perf_counter()
        build_report(linked, config)
        total = time.perf_counter() - started
    finally:
        tables_module.protect, build_module.protect_symmetric = plain_protect, symmetric
    protecting = sum(entry["seconds"] for entry in spent)
    return {
        "rows": linked.height,
        "seconds_to_make_rows": round(made, 1),
        "report_seconds": round(total, 1),
        "protection_seconds": round(protecting, 2),
        "tables": spent,
    }


def markdown(results: list[dict[str, Any]], report: dict[str, Any] | None, head: str) -> str:
    lines = [head, ""]
    lines.append(
        "| table | cells | primary | method | complements | value lost | gap | detail lost "
        "| LP audit | integer audit | s | proven |"
    )
    lines.append("|---|--:|--:|---|--:|--:|--:|--:|---|---|--:|---|")
    for row in results:
        if "refused" in row:
            lines.append(
                f"| {row['table']} | {row['cells']} | {row['primary']} | {row['method']} "
                f"| – | – | – | – | – | – | {row['seconds']:.2f} | refused: time limit |"
            )
            continue
        gap = "–" if row["gap_to_optimal"] is None else f"{row['gap_to_optimal']:+.1%}"
        integer = {True: "passed", False: "FAILED", None: "not run"}[row["integer_audit"]]
        if row["integer_audit"] is None and row["integer_values_checked"]:
            integer = f"{row['integer_values_checked']} passed, then time"
        proven = "yes" if row["proven_optimal"] else (row["stopped"] or "")
        if row["method"] != "optimal":
            proven = ""
        lines.append(
            f"| {row['table']} | {row['cells']} | {row['primary']} | {row['method']} "
            f"| {row['secondary']} | {row['value_lost']} | {gap} | {row['detail_lost']} "
            f"| {'passed' if row['lp_audit'] else 'FAILED'} | {integer} | {row['seconds']:.2f} "
            f"| {proven} |"
        )
    if report is not None:
        lines += [
            "",
            f"Report of {report['rows']:,} linked rows: build_report {report['report_seconds']} s, "
            f"of which disclosure control {report['protection_seconds']} s.",
            "",
            "| table | cells | primary | complements | pattern | s |",
            "|---|--:|--:|--:|---|--:|",
        ]
        for entry in report["tables"]:
            lines.append(
                f"| {entry['table']} | {entry['cells']} | {entry.get('primary', '')} "
                f"| {entry.get('secondary', '')} | {entry.get('used') or ''} | {entry['seconds']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tables up to ~400 cells")
    parser.add_argument("--time-limit", type=float, default=120.0, help="optimal search, s")
    parser.add_argument("--integer-budget", type=float, default=120.0, help="per pattern, s")
    parser.add_argument("--tables", default="*", help="only these tables (comma-separated)")
    parser.add_argument("--report-rows", type=int, default=0, help="also time a report's tables")
    parser.add_argument("--out", type=Path, default=HERE / "results-suppression.json")
    arguments = parser.parse_args()
    chosen = tables(arguments.quick)
    if arguments.tables != "*":
        chosen = {k: v for k, v in chosen.items() if k in arguments.tables.split(",")}
    results: list[dict[str, Any]] = []
    for name, (description, build, base) in chosen.items():
        print(f"# {name}: {description}", flush=True)
        for row in measure(name, build, base, arguments.time_limit, arguments.integer_budget):
            row["description"] = description
            results.append(row)
    report = report_protection(arguments.report_rows) if arguments.report_rows else None
    versions = ", ".join(
        f"{package} {metadata.version(package)}"
        for package in ("factlab", "scipy", "polars", "numpy")
    )
    head = (
        f"Machine: {platform.machine()}, python {platform.python_version()}, {versions}; "
        f"time limit of the optimal search {arguments.time_limit:.0f} s"
    )
    document = {"machine": head, "results": results, "report": report}
    arguments.out.write_text(json.dumps(document, indent=2) + "\n")
    arguments.out.with_suffix(".md").write_text(markdown(results, report, head))
    print(markdown(results, report, head))


if __name__ == "__main__":
    main()
