"""Tests of the corrections model and ``factlab estimate`` (synthetic tables only, no BSNs)."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import factlab.cli.estimate  # noqa: F401  (registers the command on factlab.cli.main)
from factlab import schema
from factlab.cli import main
from factlab.errors import ConfigError, DataError, InputError
from factlab.estimation.base_table import read_counts_table
from factlab.estimation.corrections import (
    Adjustment,
    Corrections,
    corrections_2014,
    load_corrections,
    parse_corrections,
)
from factlab.estimation.estimate import Estimate, estimate, write_estimate

# The February 2014 round (DOMAIN.md §1): youths per cell of care form × financing.
CELLS_2014: dict[tuple[str, str], int] = {
    ("ambulant", "Begroting"): 2986,
    ("ambulant", "ZVW"): 5280,
    ("ambulant", "AWBZ"): 473,
    ("dagbehandeling", "Begroting"): 150,
    ("dagbehandeling", "ZVW"): 2,
    ("dagbehandeling", "AWBZ"): 334,
    ("verblijf", "Begroting"): 601,
    ("verblijf", "ZVW"): 129,
    ("verblijf", "AWBZ"): 308,
    ("JB/JR", "Begroting"): 982,
}
ROWS_2014 = ("ambulant", "dagbehandeling", "verblijf", "JB/JR")
COLUMNS_2014 = ("Begroting", "ZVW", "AWBZ")
DATA_FILE = Path(__file__).parents[2] / "factlab" / "data" / "corrections_2014.toml"


def table_2014(*, margins: bool = False) -> pl.DataFrame:
    """The 2014 table as ``factlab count`` writes it; margins are unions, below the sums."""
    rows: list[tuple[str | None, str | None, int]] = [(r, c, v) for (r, c), v in CELLS_2014.items()]
    if margins:
        # Made-up unions: each a little below its sum of cells, as unions of real clients are.
        row_sums: defaultdict[str, int] = defaultdict(int)
        column_sums: defaultdict[str, int] = defaultdict(int)
        for (r, c), v in CELLS_2014.items():
            row_sums[r] += v
            column_sums[c] += v
        rows += [(r, None, total - 100) for r, total in row_sums.items()]
        rows += [(None, c, total - 50) for c, total in column_sums.items()]
        rows.append((None, None, 8241))
    return pl.DataFrame(
        rows,
        schema={"care_form": pl.String, "financing": pl.String, "unique_clients": pl.Int64},
        orient="row",
    ).with_columns(registrations=pl.col("unique_clients") + 7)


def model(*adjustments: Adjustment, base: str = "sum_of_cells", **extra: Any) -> Corrections:
    return Corrections(
        title="test model",
        base=base,  # type: ignore[arg-type]
        row_dimension="care_form",
        column_dimension="financing",
        adjustments=adjustments,
        **extra,
    )


def coverage(name: str, value: float, select: dict[str, str], **kw: Any) -> Adjustment:
    return Adjustment(name, "coverage", value, source="s", note="n", select=select, **kw)


def factor(name: str, value: float, select: dict[str, str], **kw: Any) -> Adjustment:
    return Adjustment(name, "factor", value, source="s", note="n", select=select, **kw)


def absolute(name: str, value: float, **kw: Any) -> Adjustment:
    return Adjustment(name, "absolute", value, source="s", note="n", **kw)


VALID_TOML = """
version = 1
title = "t"
base = "sum_of_cells"
row_dimension = "care_form"
column_dimension = "financing"

[[adjustment]]
name = "a"
kind = "coverage"
select = { financing = "ZVW" }
coverage = 0.9
source = "s"
note = "n"
"""


# --- the 2014 seed ------------------------------------------------------------------------------


def test_shipped_2014_model_reproduces_the_seed() -> None:
    result = estimate(table_2014(), corrections_2014())
    values = {r.adjustment.name: r.value for r in result.adjustments}
    assert values == {"non_participation": 601, "ggz_small_providers": 1082, "pgb": 2230}
    assert result.base_table.total == 11245
    assert result.total == 15158
    assert result.arithmetic == "11,245 + 601 + 1,082 + 2,230 = 15,158"
    arithmetic = [r.arithmetic for r in result.adjustments]
    assert arithmetic[0].startswith("5,411 × 0.1 / 0.9")
    assert arithmetic[0].endswith("→ 601")
    assert arithmetic[1] == "5,411 × 0.2 = 1,082.2 → 1,082"
    assert arithmetic[2] == "1,115 × 2 = 2,230"
    assert "cell registrations" in result.unit
    assert "twice" in result.unit


def test_shipped_2014_model_ranges_bracket_the_seed() -> None:
    result = estimate(table_2014(), corrections_2014())
    ranges = {r.adjustment.name: (r.low, r.value, r.high) for r in result.adjustments}
    # coverage 0.95 / 0.85; factor 0.15 / 0.25 (0.25 = the gross-up from 80 % coverage); 1.5 / 2.5
    assert ranges == {
        "non_participation": (285, 601, 955),
        "ggz_small_providers": (812, 1082, 1353),
        "pgb": (1673, 2230, 2788),  # 1,672.5 and 2,787.5 round half up
    }
    assert (result.low, result.total, result.high) == (14015, 15158, 16341)


def test_packaged_file_and_loader_agree() -> None:
    assert load_corrections(DATA_FILE) == corrections_2014()
    assert corrections_2014().base == "sum_of_cells"


def test_sum_of_cells_ignores_margins_and_reports_unique_clients() -> None:
    plain = estimate(table_2014(), corrections_2014())
    with_margins = estimate(table_2014(margins=True), corrections_2014())
    assert with_margins.total == plain.total == 15158
    assert with_margins.base_table == replace(plain.base_table, unique_clients=8241)
    assert plain.base_table.unique_clients is None


def test_base_table_totals_match_a_plain_python_oracle() -> None:
    base = estimate(table_2014(margins=True), corrections_2014()).base_table
    for row, total in zip(base.rows, base.row_totals, strict=True):
        assert total == sum(v for (r, _), v in CELLS_2014.items() if r == row)
    for column, total in zip(base.columns, base.column_totals, strict=True):
        assert total == sum(v for (_, c), v in CELLS_2014.items() if c == column)
    assert base.rows == ROWS_2014
    assert base.columns == COLUMNS_2014
    assert base.cell("JB/JR", "ZVW") == 0
    frame = base.to_frame()
    assert frame.filter(pl.col("care_form") == "total").row(0) == ("total", 4719, 5411, 1115, 11245)
    assert frame.filter(pl.col("care_form") == "JB/JR")["ZVW"].to_list() == [None]


# --- base unique_clients ------------------------------------------------------------------------


def test_unique_clients_base_uses_the_margins() -> None:
    corrections = model(
        factor("col", 0.5, {"financing": "ZVW"}),
        factor("row", 1, {"care_form": "verblijf"}),
        factor("cell", 1, {"care_form": "verblijf", "financing": "AWBZ"}),
        factor("all", 0.1, {}),
        base="unique_clients",
    )
    result = estimate(table_2014(margins=True), corrections)
    observed = {r.adjustment.name: r.observed for r in result.adjustments}
    assert observed == {"col": 5411 - 50, "row": 1038 - 100, "cell": 308, "all": 8241}
    assert result.base_table.total == 8241
    # 5,361 × 0.5 = 2,680.5 rounds half up; 8,241 × 0.1 = 824.1
    assert [r.value for r in result.adjustments] == [2681, 938, 308, 824]
    assert result.total == 8241 + 2681 + 938 + 308 + 824
    assert "persons" in result.unit


def test_unique_clients_base_without_margins_is_refused() -> None:
    with pytest.raises(DataError, match="margin rows"):
        estimate(table_2014(), model(base="unique_clients"))


# --- validation ---------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "version": 2,
        "title": "",
        "base": "people",
        "row_dimension": "care_form",
        "column_dimension": "financing",
        "colour": "red",
        "adjustment": [
            {
                "name": "a",
                "kind": "coverage",
                "select": {"financing": "ZVW"},
                "coverage": 1.2,
                "source": "s",
                "note": "n",
            },
            {
                "name": "a",
                "kind": "coverage",
                "select": {"municipality": "Assen"},
                "coverage": 0,
                "source": "s",
                "note": "n",
            },
            {"name": "c", "kind": "factor", "select": {}, "factor": "two", "note": "n"},
            {
                "name": "d",
                "kind": "absolute",
                "value": 5,
                "coverage": 0.5,
                "source": "s",
                "note": "n",
                "typo": 1,
            },
            {"name": "e", "kind": "fudge", "source": "s", "note": "n"},
            {
                "name": "f",
                "kind": "coverage",
                "select": {},
                "coverage": -0.1,
                "source": "s",
                "note": "n",
            },
            {"name": "g", "kind": "factor", "factor": 1, "low": 2, "source": "s", "note": "n"},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        parse_corrections(data, source="bad.toml")
    problems = caught.value.problems
    expected = [
        "version: unsupported version 2",
        "title: must be a non-empty string",
        "base: 'people' is not one of",
        "colour: unknown key",
        "adjustment[1].coverage: must be in (0, 1], got 1.2",
        "adjustment[2].name: duplicate name 'a' (also adjustment[1])",
        "adjustment[2].select.municipality: unknown dimension",
        "adjustment[2].coverage: must be in (0, 1], got 0.0",
        "adjustment[3].source: missing",
        "adjustment[3].factor: must be a finite number",
        "adjustment[4].coverage: not used by kind 'absolute'",
        "adjustment[4].typo: unknown key",
        "adjustment[5].kind: 'fudge' is not one of",
        "adjustment[6].coverage: must be in (0, 1], got -0.1",
        "adjustment[7].select: missing",
        "adjustment[7].low: must not exceed factor",
    ]
    for fragment in expected:
        assert any(problem.startswith(fragment) for problem in problems), fragment
    assert len(problems) == len(expected)
    assert str(caught.value).startswith("bad.toml: 16 problem(s)")
    assert caught.value.exit_code == 4


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"version": True}, "version: must be an integer"),
        ({"version": None}, "version: missing"),
        ({"row_dimension": None}, "row_dimension: missing"),
        ({"column_dimension": "care_form"}, "column_dimension: must differ"),
        ({"row_dimension": "unique_clients"}, "row_dimension: 'unique_clients' is the counted"),
        ({"row_values": ["ambulant", "ambulant"]}, "row_values: 'ambulant' is listed twice"),
        ({"column_values": ["Begroting"]}, "adjustment[1].select.financing: 'ZVW' is not a decl"),
        ({"adjustment": {"name": "x"}}, "adjustment: must be an array of tables"),
        ({"adjustment": ["x"]}, "adjustment[1]: must be a table"),
    ],
)
def test_single_problems_are_named_by_path(change: dict[str, Any], fragment: str) -> None:
    import tomllib

    data = tomllib.loads(VALID_TOML)
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    with pytest.raises(ConfigError) as caught:
        parse_corrections(data)
    assert any(problem.startswith(fragment) for problem in caught.value.problems), (
        caught.value.problems
    )


@pytest.mark.parametrize(
    ("adjustment", "fragment"),
    [
        ({"coverage": float("nan")}, "adjustment[1].coverage: must be a finite number"),
        ({"coverage": True}, "adjustment[1].coverage: must be a finite number"),
        ({"coverage": 0.9, "high": 0.8}, "adjustment[1].high: must not be below coverage"),
        ({"coverage": 0.9, "high": 1.1}, "adjustment[1].high: must be in (0, 1]"),
        ({"coverage": 0.9, "select": {"financing": 3}}, "adjustment[1].select.financing: must be"),
        ({"coverage": 0.9, "select": "ZVW"}, "adjustment[1].select: must be a table"),
        ({"coverage": 0.9, "name": ""}, "adjustment[1].name: must be a non-empty string"),
    ],
)
def test_adjustment_problems(adjustment: dict[str, Any], fragment: str) -> None:
    raw = {
        "name": "a",
        "kind": "coverage",
        "select": {"financing": "ZVW"},
        "source": "s",
        "note": "n",
    } | adjustment
    data = {
        "version": 1,
        "title": "t",
        "base": "sum_of_cells",
        "row_dimension": "care_form",
        "column_dimension": "financing",
        "adjustment": [raw],
    }
    with pytest.raises(ConfigError) as caught:
        parse_corrections(data)
    assert [p for p in caught.value.problems if p.startswith(fragment)], caught.value.problems


def test_a_hand_built_model_is_validated_too() -> None:
    with pytest.raises(ConfigError, match=r"adjustment\[1\]\.coverage: must be in \(0, 1\]"):
        model(coverage("a", 1.5, {}))


def test_load_corrections_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_corrections(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_corrections(broken)
    good = tmp_path / "good.toml"
    good.write_text(VALID_TOML)
    assert load_corrections(good).adjustments[0].parameter == 0.9


def test_values_the_table_does_not_have_are_all_listed() -> None:
    corrections = model(
        factor("a", 1, {"financing": "PGB"}),
        factor("b", 1, {"care_form": "crisis", "financing": "ZVW"}),
    )
    with pytest.raises(ConfigError) as caught:
        estimate(table_2014(), corrections)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "adjustment[1].select.financing",
        "adjustment[2].select.care_form",
    ]


def test_a_table_value_the_model_does_not_declare_is_refused() -> None:
    extra = pl.concat([table_2014(), table_2014().head(1).with_columns(financing=pl.lit("PGB"))])
    with pytest.raises(ConfigError, match="column_values: the counts table has financing value"):
        estimate(extra, corrections_2014())


def test_table_problems() -> None:
    doubled = pl.concat([table_2014(), table_2014().head(2)])
    with pytest.raises(DataError, match="more than once"):
        estimate(doubled, corrections_2014())
    fractional = table_2014().with_columns(pl.col("unique_clients") / 2)
    with pytest.raises(DataError, match="whole, non-negative"):
        estimate(fractional, corrections_2014())
    negative = table_2014().with_columns(pl.col("unique_clients") - 3000)
    with pytest.raises(DataError, match="whole, non-negative"):
        estimate(negative, corrections_2014())
    with pytest.raises(InputError, match="lacks column"):
        estimate(table_2014().drop("financing"), corrections_2014())


# --- reading counts tables ----------------------------------------------------------------------


def test_counts_files_in_every_format(tmp_path: Path) -> None:
    table = table_2014(margins=True)
    csv, parquet, json_path, bare = (
        tmp_path / "c.csv",
        tmp_path / "c.parquet",
        tmp_path / "c.json",
        tmp_path / "bare.json",
    )
    table.write_csv(csv)
    table.write_parquet(parquet)
    json_path.write_text(json.dumps({"metadata": {"exact": True}, "rows": table.to_dicts()}))
    bare.write_text(json.dumps(table.to_dicts()))
    for path in (csv, parquet, json_path, bare):
        result = estimate(path, DATA_FILE)
        assert (result.total, result.base_table.unique_clients) == (15158, 8241), path
        assert result.counts_source == str(path)
        assert result.counts_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_counts_table(csv).filter(pl.col("financing").is_null()).height == 5
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported counts format"):
        read_counts_table(tmp_path / "c.txt")
    (tmp_path / "summary.json").write_text(json.dumps({"unique_clients": 3}))
    with pytest.raises(InputError, match="list of rows"):
        read_counts_table(tmp_path / "summary.json")


def test_estimate_on_factlab_count_output(tmp_path: Path) -> None:
    """Counts from ``factlab count`` of seeded linked rows, checked against plain-Python sets."""
    from factlab.analysis.count_files import write_counts
    from factlab.analysis.counts import count

    rng = random.Random(4)
    rows = []
    for person in range(300):
        pseudonym = hashlib.sha256(f"person-{person}".encode()).hexdigest()[:32]
        for _ in range(rng.randint(1, 3)):
            rows.append(
                (pseudonym, rng.choice("AB"), rng.choice(ROWS_2014), rng.choice(COLUMNS_2014))
            )
    frame = pl.DataFrame(
        rows, schema=["pseudonym", "provider", "care_form", "financing"], orient="row"
    ).with_columns(bsn_status=pl.lit("valid", dtype=schema.STATUS_DTYPE))
    cells: dict[tuple[str, str], set[str]] = defaultdict(set)
    for pseudonym, _, care_form, financing in rows:
        cells[care_form, financing].add(pseudonym)
    zvw = sum(len(people) for (_, f), people in cells.items() if f == "ZVW")
    out = tmp_path / "counts.csv"
    write_counts(count(frame, by=["care_form", "financing"]), out)
    result = estimate(out, model(factor("zvw", 0.5, {"financing": "ZVW"})))
    assert result.base_table.total == sum(len(people) for people in cells.values())
    assert result.base_table.unique_clients == len({row[0] for row in rows})
    assert result.adjustments[0].observed == zvw
    assert result.total == result.base_table.total + (zvw + 1) // 2


# --- arithmetic properties ----------------------------------------------------------------------

ROWS = ("ambulant", "verblijf", "JB/JR")
COLUMNS = ("Begroting", "ZVW", "AWBZ")


@st.composite
def tables(draw: st.DrawFn) -> pl.DataFrame:
    present = draw(
        st.lists(
            st.tuples(st.sampled_from(ROWS), st.sampled_from(COLUMNS)), min_size=1, unique=True
        )
    )
    values = draw(st.lists(st.integers(0, 20_000), min_size=len(present), max_size=len(present)))
    return pl.DataFrame(
        {
            "care_form": [r for r, _ in present],
            "financing": [c for _, c in present],
            "unique_clients": values,
        }
    )


def parameters(kind: str) -> st.SearchStrategy[float]:
    if kind == "coverage":
        return st.integers(1, 1000).map(lambda n: n / 1000)
    if kind == "factor":
        return st.integers(-3000, 3000).map(lambda n: n / 1000)
    return st.integers(-5000, 50_000).map(lambda n: n / 10)


@st.composite
def adjustments(draw: st.DrawFn, table: pl.DataFrame, name: str) -> Adjustment:
    kind = draw(st.sampled_from(("absolute", "factor", "coverage")))
    low, point, high = sorted(draw(st.lists(parameters(kind), min_size=3, max_size=3)))
    ranged = draw(st.booleans())
    select: dict[str, str] = {}
    if kind != "absolute":
        row, column = draw(st.sampled_from(table.select("care_form", "financing").rows()))
        if draw(st.booleans()):
            select["care_form"] = row
        if draw(st.booleans()):
            select["financing"] = column
    return Adjustment(
        name,
        kind,  # type: ignore[arg-type]
        point,
        source="s",
        note="n",
        select=select,
        low=low if ranged else None,
        high=high if ranged else None,
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[pl.DataFrame, tuple[Adjustment, ...]]:
    table = draw(tables())
    count = draw(st.integers(0, 5))
    return table, tuple(draw(adjustments(table, f"adj{i}")) for i in range(count))


def observed_oracle(table: pl.DataFrame, select: dict[str, str]) -> int:
    return sum(
        value
        for row, column, value in table.rows()
        if select.get("care_form", row) == row and select.get("financing", column) == column
    )


def rounded_oracle(exact: Fraction) -> int:
    with localcontext() as context:
        context.prec = 60
        decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
        return int(decimal.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@settings(max_examples=60, deadline=None)
@given(cases())
def test_total_is_base_plus_rounded_adjustments(
    case: tuple[pl.DataFrame, tuple[Adjustment, ...]],
) -> None:
    table, adjusts = case
    result = estimate(table, model(*adjusts))
    assert result.base_table.total == sum(table["unique_clients"])
    assert result.total == result.base_table.total + sum(r.value for r in result.adjustments)
    for item in result.adjustments:
        a = item.adjustment
        p = Fraction(str(a.parameter))
        if a.kind == "absolute":
            exact = p
        else:
            observed = observed_oracle(table, dict(a.select))
            assert item.observed == observed
            exact = observed * p if a.kind == "factor" else observed * (1 - p) / p
        assert item.value == rounded_oracle(exact)
        assert abs(item.value - exact) <= Fraction(1, 2)
    frame = result.to_frame()
    assert frame["value"].to_list() == [
        result.base_table.total,
        *(r.value for r in result.adjustments),
        result.total,
    ]
    json.dumps(result.to_dict())


@settings(max_examples=60, deadline=None)
@given(cases())
def test_range_brackets_the_point(case: tuple[pl.DataFrame, tuple[Adjustment, ...]]) -> None:
    table, adjusts = case
    result = estimate(table, model(*adjusts))
    for item in result.adjustments:
        if item.low is not None and item.high is not None:
            assert item.low <= item.value <= item.high
    if result.low is not None and result.high is not None:
        assert result.low <= result.total <= result.high
    else:
        assert all(r.low is None for r in result.adjustments)


@settings(max_examples=40, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_adjustments_are_independent_of_order(
    case: tuple[pl.DataFrame, tuple[Adjustment, ...]], rnd: random.Random
) -> None:
    table, adjusts = case
    shuffled = list(adjusts)
    rnd.shuffle(shuffled)
    first, second = estimate(table, model(*adjusts)), estimate(table, model(*shuffled))
    assert (first.total, first.low, first.high) == (second.total, second.low, second.high)
    by_name = {r.adjustment.name: (r.value, r.low, r.high) for r in second.adjustments}
    assert {r.adjustment.name: (r.value, r.low, r.high) for r in first.adjustments} == by_name


@settings(max_examples=40, deadline=None)
@given(tables(), st.data())
def test_neutral_parameters_add_nothing(table: pl.DataFrame, data: st.DataObject) -> None:
    row, column = data.draw(st.sampled_from(table.select("care_form", "financing").rows()))
    select = data.draw(
        st.sampled_from(
            [{}, {"care_form": row}, {"financing": column}, {"care_form": row, "financing": column}]
        )
    )
    result = estimate(
        table, model(coverage("full", 1, select), factor("none", 0, select), absolute("zero", 0))
    )
    assert [r.value for r in result.adjustments] == [0, 0, 0]
    assert result.total == result.base_table.total


@settings(max_examples=40, deadline=None)
@given(cases())
def test_model_round_trips_through_its_file_form(
    case: tuple[pl.DataFrame, tuple[Adjustment, ...]],
) -> None:
    corrections = model(*case[1])
    assert parse_corrections(corrections.to_dict()) == corrections


def test_half_rounds_up_and_negative_half_away_from_zero() -> None:
    table = pl.DataFrame({"care_form": ["ambulant"], "financing": ["ZVW"], "unique_clients": [5]})
    result = estimate(
        table, model(factor("up", 0.5, {}), factor("down", -0.5, {}), absolute("a", 2.5))
    )
    assert [r.value for r in result.adjustments] == [3, -3, 3]
    assert result.adjustments[0].arithmetic == "5 × 0.5 = 2.5 → 3"
    assert result.arithmetic == "5 + 3 − 3 + 3 = 8"


# --- outputs ------------------------------------------------------------------------------------


def test_write_estimate_by_extension(tmp_path: Path) -> None:
    result = estimate(table_2014(margins=True), corrections_2014())
    for suffix in (".json", ".csv", ".md"):
        write_estimate(result, tmp_path / f"e{suffix}")
    document = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert document["metadata"]["format"] == "factlab-estimate"
    assert document["metadata"]["internal"] is True
    assert document["estimate"]["total"] == 15158
    assert document["estimate"]["base_table"]["unique_clients"] == 8241
    assert [a["value"] for a in document["estimate"]["adjustments"]] == [601, 1082, 2230]
    ledger = pl.read_csv(tmp_path / "e.csv")
    assert ledger["line"].to_list() == [
        "base",
        "adjustment",
        "adjustment",
        "adjustment",
        "estimate",
    ]
    assert ledger["value"].to_list() == [11245, 601, 1082, 2230, 15158]
    markdown = (tmp_path / "e.md").read_text(encoding="utf-8")
    assert "**15,158**" in markdown
    assert "| JB/JR | 982 |  |  | 982 |" in markdown
    with pytest.raises(InputError, match="unsupported output format"):
        write_estimate(result, tmp_path / "e.xlsx")
    assert not (tmp_path / "e.xlsx").exists()


def test_estimate_result_is_frozen() -> None:
    result = estimate(table_2014(), corrections_2014())
    assert isinstance(result, Estimate)
    with pytest.raises(AttributeError):
        result.total = 1  # type: ignore[misc]


# --- CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def counts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "counts.csv"
    table_2014(margins=True).write_csv(path)
    return path


def test_cli_prints_and_writes(tmp_path: Path, counts_csv: Path) -> None:
    out = tmp_path / "estimate.json"
    outcome = CliRunner().invoke(
        main, ["estimate", str(counts_csv), "--corrections", str(DATA_FILE), "--out", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "15,158" in outcome.stdout
    assert "5,411 × 0.2 = 1,082.2 → 1,082" in outcome.stdout
    assert "cell registrations" in outcome.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["estimate"]["total"] == 15158


def test_cli_builtin_model_and_markdown(tmp_path: Path, counts_csv: Path) -> None:
    out = tmp_path / "estimate.md"
    outcome = CliRunner().invoke(
        main, ["estimate", str(counts_csv), "--builtin", "2014", "--out", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "15,158" in out.read_text(encoding="utf-8")


def test_cli_bad_config_exits_with_config_code(tmp_path: Path, counts_csv: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(VALID_TOML.replace("coverage = 0.9", "coverage = 0").replace("version = 1", ""))
    out = tmp_path / "estimate.json"
    outcome = CliRunner().invoke(
        main, ["estimate", str(counts_csv), "--corrections", str(bad), "--out", str(out)]
    )
    assert outcome.exit_code == 4
    assert "version: missing" in outcome.stderr
    assert "adjustment[1].coverage: must be in (0, 1]" in outcome.stderr
    assert len(outcome.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (["--builtin", "2014", "--corrections", str(DATA_FILE)], 2),
        ([], 2),
        (["--builtin", "2014", "--out", "{tmp}/e.xlsx"], 3),
    ],
)
def test_cli_usage_errors(
    tmp_path: Path, counts_csv: Path, arguments: list[str], code: int
) -> None:
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    outcome = CliRunner().invoke(main, ["estimate", str(counts_csv), *arguments])
    assert outcome.exit_code == code, outcome.output
    assert not (tmp_path / "e.xlsx").exists()


def test_cli_missing_counts_file(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        main, ["estimate", str(tmp_path / "none.csv"), "--builtin", "2014"]
    )
    assert outcome.exit_code == 3
    assert "file not found" in outcome.stderr


def test_an_estimate_is_never_written_over_its_counts_file(counts_csv: Path) -> None:
    # issue 14.6: every writer refuses its input as output, in the library too
    before = counts_csv.read_bytes()
    result = estimate(counts_csv, corrections_2014())
    with pytest.raises(InputError, match="is also an input"):
        write_estimate(result, counts_csv)
    assert counts_csv.read_bytes() == before


def test_the_ledger_csv_holds_no_formula(tmp_path: Path, counts_csv: Path) -> None:
    # issue 14.12: a note or source from the corrections file starting with "=" ran in a sheet
    model = corrections_2014()
    first = model.adjustments[0]
    model = replace(model, adjustments=(replace(first, note="=cmd|' /C calc'!A0"),))
    out = tmp_path / "ledger.csv"
    write_estimate(estimate(counts_csv, model), out)
    notes = pl.read_csv(out, infer_schema=False)["note"].drop_nulls().to_list()
    assert "'=cmd|' /C calc'!A0" in notes
