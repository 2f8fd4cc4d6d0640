"""No derived number of a public report narrows what its tables publish (review of #16).

The oracle: an attacker knows the published table and the published corrections. Enumerate every
exact value of the cell under attack, protect the table made with it and build the view exactly
as the report does; keep the values whose published table and view both match what was
published. The corrections must not narrow the set the table alone leaves open.
"""

from __future__ import annotations

import math
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab.disclosure.protect import ProtectedTable, protect
from factlab.estimation.corrections import Adjustment, Corrections
from factlab.estimation.estimate import estimate
from factlab.estimation.histories import histories_from_linked
from factlab.estimation.unseen import estimate_unseen
from factlab.report.config import RoundConfig
from factlab.report.grid import estimate_grid, unseen_grid
from factlab.report.model import EstimateView
from factlab.report.protect import hide
from factlab.report.views import estimate_view, unseen_view

DIMS = {"care_form": pl.String, "financing": pl.String, "unique_clients": pl.Int64}


def counts(cells: dict[tuple[str, str], int]) -> pl.DataFrame:
    """A care form × financing table with its margins (one cell per youth: unions are sums)."""
    rows: list[tuple[str | None, str | None, int]] = [(r, c, v) for (r, c), v in cells.items()]
    for row in sorted({r for r, _ in cells}):
        rows.append((row, None, sum(v for (r, _), v in cells.items() if r == row)))
    for column in sorted({c for _, c in cells}):
        rows.append((None, column, sum(v for (_, c), v in cells.items() if c == column)))
    rows.append((None, None, sum(cells.values())))
    return pl.DataFrame(rows, schema=DIMS, orient="row")


def model(*adjustments: Adjustment) -> Corrections:
    return Corrections(
        title="t",
        base="unique_clients",
        row_dimension="care_form",
        column_dimension="financing",
        adjustments=adjustments,
    )


def published(
    cells: dict[tuple[str, str], int], corrections: Corrections
) -> tuple[ProtectedTable, EstimateView]:
    """The table and the corrections as a public report publishes them."""
    frame = counts(cells)
    table = protect(frame).table
    return table, estimate_view(estimate(frame, corrections), table, rounding=10, language="en")


def consistent(
    cells: dict[tuple[str, str], int],
    cell: tuple[str, str],
    candidates: range,
    corrections: Corrections,
) -> tuple[set[int], set[int]]:
    """Values of ``cell`` consistent with the published table, and with table and view."""
    table, view = published(cells, corrections)
    by_table, by_both = set(), set()
    for value in candidates:
        other_table, other_view = published({**cells, cell: value}, corrections)
        if other_table.frame.equals(table.frame):
            by_table.add(value)
            if other_view == view:
                by_both.add(value)
    return by_table, by_both


@pytest.mark.parametrize(
    ("adjustment", "exact"),
    [
        # The demo's PGB line: factor 2 in 1.5-2.5 on a cell published as 1,115.
        (Adjustment("pgb", "factor", 2, "s", "n", {"financing": "Y"}, low=1.5, high=2.5), 1114),
        # A large factor on a column total (review repro 2: 10 × 4,719 published as 47,190).
        (Adjustment("big", "factor", 10, "s", "n", {"financing": "Y"}), 1114),
    ],
)
def test_corrections_narrow_nothing_the_table_publishes(adjustment: Adjustment, exact: int) -> None:
    cells = {("a", "X"): 2000, ("a", "Y"): exact, ("b", "X"): 903, ("b", "Y"): 447}
    by_table, by_both = consistent(
        cells, ("a", "Y"), range(exact - 5, exact + 6), model(adjustment)
    )
    assert exact in by_both
    # Every exact value the table leaves open stays open (before the fix: 10 × the exact cell).
    assert by_both == by_table
    assert len(by_table) >= 2


def test_a_hidden_adjustment_hides_the_total_and_its_range() -> None:
    corrections = model(
        Adjustment("small", "factor", 3, "s", "n", {"care_form": "b", "financing": "Y"}),
        Adjustment("big", "factor", 0.5, "s", "n", {"financing": "X"}, low=0.4, high=0.6),
    )
    cells = {("a", "X"): 2000, ("a", "Y"): 1114, ("b", "X"): 903, ("b", "Y"): 3}
    _, view = published(cells, corrections)
    small = next(line for line in view.lines if line.name == "small")
    assert small.observed is None
    assert small.value is None
    assert (view.total, view.low, view.high) == (None, None, None)
    assert estimate_grid(view).rows[-1][4] is None  # the estimate row shows "."
    by_table, by_both = consistent(cells, ("b", "Y"), range(0, 16), corrections)
    assert 3 in by_both
    assert by_both == by_table


def test_a_suppressed_base_total_hides_the_total() -> None:
    frame = counts({("a", "X"): 40, ("a", "Y"): 30})
    table = protect(frame).table
    table = hide(table, table.frame["care_form"].is_null() & table.frame["financing"].is_null())
    corrections = model(Adjustment("fixed", "absolute", 100, "s", "n"))
    view = estimate_view(estimate(frame, corrections), table, rounding=10)
    assert view.counted is None
    assert (view.total, view.low, view.high) == (None, None, None)
    assert view.lines[0].value == 100  # a fixed number is no count


def test_the_youths_seen_are_hidden_with_the_grand_total() -> None:
    import hashlib

    import numpy as np

    from factlab import schema

    rng = np.random.default_rng(3)
    clients: list[int] = []
    providers: list[str] = []
    for provider, chance in (("P1", 0.4), ("P2", 0.3)):
        seen = np.flatnonzero(rng.random(600) < chance).tolist()
        clients += seen
        providers += [provider] * len(seen)
    rows = pl.DataFrame(
        {
            "pseudonym": [hashlib.sha256(str(c).encode()).hexdigest()[:32] for c in clients],
            "bsn_status": pl.Series(["valid"] * len(clients), dtype=schema.STATUS_DTYPE),
            "provider": providers,
        }
    )
    (histories,) = histories_from_linked(rows)
    result = estimate_unseen(histories, model="independence")
    rules = RoundConfig(language="en").rules
    shown = unseen_view(result, rounding=50, rules=rules, internal=False)
    hidden = unseen_view(result, rounding=50, rules=rules, internal=False, total_published=False)
    assert shown is not None
    assert hidden is not None
    assert shown.observed is not None
    assert hidden.observed is None
    assert unseen_grid(hidden).rows[0][1] is None
    assert hidden.estimate == shown.estimate


def test_data_quality_rows_do_not_bound_a_suppressed_client_count() -> None:
    """Review #16 item 4: a provider with 3 youths, one row each; its rows were published
    exactly ("geldig 3"), bounding its secret diagonal in the overlap table by 3."""
    import hashlib

    from factlab import schema
    from factlab.report.build import build_report
    from factlab.report.config import RoundConfig

    ids = [*range(300), 1150, 1151, 1152]
    rows = pl.DataFrame(
        {
            "pseudonym": [hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in ids],
            "bsn_status": pl.Series(["valid"] * len(ids), dtype=schema.STATUS_DTYPE),
            "provider": ["P1" if i < 160 else "P2" if i < 300 else "P3" for i in ids],
            "care_form": ["ambulant" if i % 3 else "verblijf" for i in ids],
        }
    )
    config = RoundConfig(language="en", dimensions=("care_form",))
    public = build_report(rows, config)
    exact = build_report(rows, config, internal=True)
    shown = next(t for t in public.tables if t.id == "data-quality").source.frame
    counted = next(t for t in exact.tables if t.id == "data-quality").source.frame
    joined = shown.join(counted, on=[schema.PROVIDER, schema.STATUS], suffix="_exact")
    small = joined.filter(pl.col("provider") == "C", pl.col(schema.STATUS) == "valid")
    assert small["rows_exact"].to_list() == [3]
    assert small["rows"].to_list() == [None]  # secret, as a count of 1..7 is
    rules = config.rules
    for value, real in joined.select("rows", "rows_exact").iter_rows():
        if value is None:
            continue
        assert value % rules.rounding_base == 0
        assert abs(value - real) <= rules.rounding_base // 2
        assert real == 0 or real > rules.secret_max
    # Zeros stay visible: a provider that delivered no valid BSN must show.
    assert (joined.filter(pl.col("rows_exact") == 0)["rows"] == 0).all()


def test_data_quality_rounding_below_the_rules_base_is_refused() -> None:
    from factlab.errors import ConfigError
    from factlab.report.config import parse_round_config

    with pytest.raises(ConfigError, match=r"data_quality\.rounding: must be at least"):
        parse_round_config({"version": 1, "data_quality": {"rounding": 1}})
    config = parse_round_config({"version": 1, "data_quality": {"rounding": 10}})
    assert config.data_quality_rounding == 10


# --- free text: an allow-list (review #16 item 5) -------------------------------------------------


def test_free_text_refuses_decimals_percentages_and_spaced_thousands() -> None:
    from factlab.errors import ConfigError
    from factlab.report.freetext import numbers_in, refuse_unlisted

    assert numbers_in("ZVW: 5 411") == [5411]
    published, parameters = {5410, 600}, [(0.9, 0.85, 0.95)]
    # The demo's kind of note: placeholders filled, parameters as decimals and percentages.
    refuse_unlisted(
        [("ok", "Aangenomen 10 % van 2014: 5.410 × 0,1 / 0,9 ≈ 600, dekking 85 % tot 95 %.")],
        published,
        parameters,
    )
    for leak in (
        "5.410 × 0,1 / 0,9 = 601,22",  # 601,22 × 9 = 5411
        "35,72 % van de ZVW",
        "ZVW: 5 411",
        "ZVW: 5\u00a0411",
        "1.353 extra",
    ):
        with pytest.raises(ConfigError, match=r"corrections\.adjustment\.x\.note: number"):
            refuse_unlisted([("corrections.adjustment.x.note", leak)], published, parameters)


def test_a_public_report_refuses_a_note_with_a_derived_decimal() -> None:
    import hashlib

    from factlab import schema
    from factlab.errors import ConfigError
    from factlab.report.build import build_report
    from factlab.report.config import RoundConfig

    ids = range(400)
    rows = pl.DataFrame(
        {
            "pseudonym": [hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in ids],
            "bsn_status": pl.Series(["valid"] * 400, dtype=schema.STATUS_DTYPE),
            "provider": ["P1" if i % 2 else "P2" for i in ids],
            "care_form": ["ambulant" if i % 3 else "verblijf" for i in ids],
            "financing": ["ZVW" if i % 5 else "AWBZ" for i in ids],
        }
    )
    corrections = Corrections(
        title="t",
        base="sum_of_cells",
        row_dimension="care_form",
        column_dimension="financing",
        adjustments=(Adjustment("gap", "coverage", 0.9, "s", "n", {"financing": "ZVW"}),),
    )

    def config(note: str) -> RoundConfig:
        return RoundConfig(
            language="en", corrections=corrections, adjustment_text={"gap": {"note": note}}
        )

    report = build_report(rows, config("{observed} × 0.1 / 0.9 ≈ {value} (90 % coverage)"))
    assert report.estimate is not None
    with pytest.raises(ConfigError, match=r"corrections\.adjustment\.gap\.note: number 1 of 1"):
        build_report(rows, config("about 35.56 youths"))  # 320 × 0.1 / 0.9 written out
    internal = build_report(rows, config("about 35.56 youths"), internal=True)
    assert internal.estimate is not None


@settings(max_examples=20, deadline=None)
@given(
    cells=st.lists(st.integers(0, 400), min_size=4, max_size=4),
    factor=st.sampled_from([0.5, 1, 2, 2.5, 10]),
    coverage=st.sampled_from([0.8, 0.9, 0.95]),
)
def test_every_corrections_figure_is_a_function_of_published_values(
    cells: list[int], factor: float, coverage: float
) -> None:
    """Property: the view made from the exact counts equals the view made from a table that
    holds only the published values (suppressed ones as 0); and the total is counted plus the
    additions computed in plain Python from the published values."""
    keys = [("a", "X"), ("a", "Y"), ("b", "X"), ("b", "Y")]
    frame = counts(dict(zip(keys, cells, strict=True)))
    table = protect(frame).table
    shown = table.frame.select("care_form", "financing", pl.col("unique_clients").fill_null(0))
    corrections = model(
        Adjustment("f", "factor", factor, "s", "n", {"financing": "Y"}),
        Adjustment("c", "coverage", coverage, "s", "n", {"care_form": "a"}),
    )
    view = estimate_view(estimate(frame, corrections), table, rounding=10)
    assert view == estimate_view(estimate(shown, corrections), table, rounding=10)

    def value(where: tuple[str | None, str | None]) -> int | None:
        row = table.frame.filter(
            pl.col("care_form").eq_missing(where[0]), pl.col("financing").eq_missing(where[1])
        )
        return None if row["unique_clients_status"][0] != "published" else row["unique_clients"][0]

    def rounded(x: Fraction, base: int = 1) -> int:
        return int(math.floor(x / base + Fraction(1, 2)) * base)

    counted, column, row = value((None, None)), value((None, "Y")), value(("a", None))
    assert view.counted == counted
    if counted is None or column is None or row is None:
        assert (view.total, view.low, view.high) == (None, None, None)
        return
    p = Fraction(repr(coverage))
    additions = [rounded(column * Fraction(repr(factor))), rounded(row * (1 - p) / p)]
    assert [line.value for line in view.lines] == [rounded(Fraction(a), 10) for a in additions]
    assert view.total == rounded(Fraction(counted + sum(additions)), 10)
