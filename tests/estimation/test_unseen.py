"""Capture-recapture: histories from linked rows, log-linear estimates, intervals, refusals, CLI."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab.cli import main
from factlab.errors import ConfigError, DataError, InputError
from factlab.estimation.histories import (
    Histories,
    histories_from_frame,
    histories_from_linked,
    read_histories,
)
from factlab.estimation.unlinked import estimate_unlinked
from factlab.estimation.unseen import estimate_unseen, estimate_unseen_strata, parse_model
from factlab.io import write_parquet
from factlab.manifest import Manifest


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"synthetic-client-{client}".encode()).hexdigest()[:32]


def linked_rows(records: list[tuple[int | None, str, str | None, date | None]]) -> pl.DataFrame:
    """Rows (client or None for a row without a valid BSN, provider, municipality, start)."""
    return pl.DataFrame(
        {
            "pseudonym": [None if c is None else pseudonym(c) for c, _, _, _ in records],
            "bsn_status": pl.Series(
                ["valid" if c is not None else "missing" for c, _, _, _ in records],
                dtype=schema.STATUS_DTYPE,
            ),
            "provider": [p for _, p, _, _ in records],
            "municipality": [m for _, _, m, _ in records],
            "start_date": pl.Series([s for _, _, _, s in records], dtype=pl.Date),
            "end_date": pl.Series([None] * len(records), dtype=pl.Date),
        }
    )


def write_linked(frame: pl.DataFrame, path: Path) -> Path:
    by_status = dict.fromkeys(schema.STATUSES, 0)
    by_status.update(dict(frame.group_by(pl.col("bsn_status").cast(pl.String)).len().iter_rows()))
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="test-round",
        key_id="test-key",
        key_fingerprint="0" * 16,
        rows=frame.height,
        rows_by_status=by_status,
    )
    write_parquet(frame, path, manifest)
    return path


def simulated(seed: int, size: int, chances: tuple[float, ...]) -> Histories:
    """Histories of a closed population of ``size`` with independent sources."""
    rng = np.random.default_rng(seed)
    seen = rng.random((size, len(chances))) < np.array(chances)
    masks = (seen * (1 << np.arange(len(chances)))).sum(axis=1)
    counts = np.bincount(masks, minlength=1 << len(chances))
    counts[0] = 0
    names = tuple("ABCDEFGH"[: len(chances)])
    return Histories(names, tuple(int(c) for c in counts))


# --- two sources: Lincoln-Petersen ---------------------------------------------------------------


def test_two_sources_independence_is_lincoln_petersen() -> None:
    # n1 = 80 on list A, n2 = 60 on list B, m = 20 on both: N = n1 n2 / m = 240.
    result = estimate_unseen(Histories(("A", "B"), (0, 60, 40, 20)), model="independence")
    assert result.observed == 120
    assert result.estimate == pytest.approx(80 * 60 / 20, rel=1e-9)
    chapman = (80 + 1) * (60 + 1) / (20 + 1) - 1
    assert chapman == pytest.approx(234.29, abs=0.01)
    assert abs(result.estimate - chapman) / chapman < 0.03  # Chapman's small-sample correction
    assert result.model == "independence"
    assert result.df == 0


def _closed_form_profile(n1: int, n2: int, m: int) -> tuple[float, float]:
    """The profile-likelihood interval of N for two independent lists, from the closed form."""
    from scipy.special import gammaln

    n = n1 + n2 - m
    total = np.arange(n + 0.005, 20 * n, 0.005)
    p1, p2 = n1 / total, n2 / total
    values = (
        gammaln(total + 1)
        - gammaln(total - n + 1)
        + n1 * np.log(p1)
        + (total - n1) * np.log1p(-p1)
        + n2 * np.log(p2)
        + (total - n2) * np.log1p(-p2)
    )
    inside = total[2 * (values.max() - values) <= 3.841458820694124]
    return float(inside.min()), float(inside.max())


@pytest.mark.parametrize(("n1", "n2", "m"), [(80, 60, 20), (300, 250, 90), (40, 35, 9)])
def test_profile_interval_matches_the_closed_form(n1: int, n2: int, m: int) -> None:
    counts = (0, n1 - m, n2 - m, m)
    result = estimate_unseen(Histories(("A", "B"), counts), model="independence")
    low, high = _closed_form_profile(n1, n2, m)
    assert result.lower == pytest.approx(low, abs=0.05)
    assert result.upper == pytest.approx(high, abs=0.05)
    assert result.lower < result.estimate < result.upper


# --- several sources: model search ----------------------------------------------------------------


def test_independent_sources_are_found_independent_and_cover_the_truth() -> None:
    histories = simulated(3, 20_000, (0.3, 0.2, 0.25, 0.15))
    result = estimate_unseen(histories)
    assert result.model == "independence"
    assert result.lower <= 20_000 <= result.upper
    assert len(result.candidates) == 64  # every subset of the 6 interactions


def test_a_dependence_between_two_sources_is_modelled() -> None:
    # Source B mostly sees clients that A saw too (referrals): positive dependence.
    rng = np.random.default_rng(11)
    size = 20_000
    a = rng.random(size) < 0.3
    b = np.where(a, rng.random(size) < 0.5, rng.random(size) < 0.1)
    c = rng.random(size) < 0.25
    masks = a * 1 + b * 2 + c * 4
    counts = np.bincount(masks, minlength=8)
    counts[0] = 0
    histories = Histories(("A", "B", "C"), tuple(int(x) for x in counts))
    independent = estimate_unseen(histories, model="independence")
    searched = estimate_unseen(histories)
    assert searched.interactions == (("A", "B"),)
    assert searched.lower <= size <= searched.upper
    # Ignoring the dependence underestimates, as the method's literature says it must.
    assert independent.estimate < searched.estimate
    assert independent.upper < size


def test_the_stepwise_search_runs_beyond_the_exhaustive_limit() -> None:
    histories = simulated(5, 30_000, (0.2, 0.15, 0.25, 0.1, 0.2))  # 10 interactions: stepwise
    result = estimate_unseen(histories, criterion="aic")
    assert result.lower <= 30_000 <= result.upper
    assert len(result.candidates) < 1024


def test_a_given_model_is_fitted_as_given() -> None:
    histories = simulated(8, 5_000, (0.3, 0.3, 0.3))
    result = estimate_unseen(histories, model="C:A")
    assert result.interactions == (("A", "C"),)
    assert result.model == "A:C"
    assert result.candidates == ()


@settings(max_examples=15, deadline=None)
@given(
    counts=st.lists(st.integers(0, 400), min_size=7, max_size=7),
    order=st.permutations(range(3)),
)
def test_properties_of_the_estimate(counts: list[int], order: list[int]) -> None:
    histories = Histories(("A", "B", "C"), (0, *counts))
    try:
        result = estimate_unseen(histories, model="independence")
    except DataError:
        return  # refused: no overlap, a source that saw no one, or unbounded
    assert result.estimate >= result.observed
    assert result.lower <= result.estimate <= result.upper
    # Permuting the sources changes nothing.
    permuted_counts = [0] * 8
    for mask, count in enumerate(histories.counts):
        permuted_counts[sum(1 << order.index(i) for i in range(3) if mask >> i & 1)] = count
    names = tuple(histories.sources[order[j]] for j in range(3))
    permuted = estimate_unseen(Histories(names, tuple(permuted_counts)), model="independence")
    assert permuted.estimate == pytest.approx(result.estimate, rel=1e-6)
    assert permuted.upper == pytest.approx(result.upper, rel=1e-4)
    # A fourth source that saw no one changes nothing (it is left out, and said so).
    table = histories.to_frame().with_columns(pl.lit(0).alias("D"))
    widened = histories_from_frame(table, sources=["A", "B", "C", "D"])
    assert widened.dropped_sources == ("D",)
    again = estimate_unseen(widened, model="independence")
    assert again.estimate == pytest.approx(result.estimate, rel=1e-9)


# --- refusals ------------------------------------------------------------------------------------


def test_refusals() -> None:
    with pytest.raises(DataError, match="at least two sources"):
        estimate_unseen(Histories(("A",), (0, 50)))
    with pytest.raises(DataError, match="no client was seen by two sources"):
        estimate_unseen(Histories(("A", "B"), (0, 50, 40, 0)))
    with pytest.raises(DataError, match="cannot be estimated"):
        # A and B share no one: their interaction runs off to infinity.
        estimate_unseen(Histories(("A", "B", "C"), (0, 10, 10, 0, 10, 5, 5, 0)), model="A:B")
    with pytest.raises(ConfigError, match="not a source"):
        parse_model("A:Z", ["A", "B"])
    with pytest.raises(ConfigError, match="criterion"):
        estimate_unseen(Histories(("A", "B"), (0, 6, 4, 2)), criterion="cp")  # type: ignore[arg-type]


def test_an_interval_without_upper_end_is_refused() -> None:
    # One client on both lists among thousands: the data cannot bound the unseen.
    with pytest.raises(DataError, match="unbounded"):
        estimate_unseen(Histories(("A", "B"), (0, 5000, 5000, 1)), model="independence")


def test_histories_table_checks() -> None:
    good = pl.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [5, 3, 2]})
    assert histories_from_frame(good).counts == (0, 5, 3, 2)
    twice = pl.concat([good, good])
    assert histories_from_frame(twice).counts == (0, 10, 6, 4)
    with pytest.raises(DataError, match=r"column A: 1 row\(s\) not 0 or 1 \(first: row 2\)"):
        histories_from_frame(good.with_columns(pl.Series("A", [1, 2, 1])))
    with pytest.raises(DataError, match="count"):
        histories_from_frame(good.with_columns(pl.Series("count", [5, -3, 2])))
    with pytest.raises(DataError, match="row 4 counts clients seen by no source"):
        histories_from_frame(pl.concat([good, pl.DataFrame({"A": [0], "B": [0], "count": [7]})]))
    with pytest.raises(InputError, match="count"):
        histories_from_frame(good.drop("count"))
    with pytest.raises(ConfigError, match="source name"):
        histories_from_frame(good.rename({"A": "a b"}))


# --- from a linked file --------------------------------------------------------------------------


def test_histories_from_linked_rows_match_plain_sets(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    records: list[tuple[int | None, str, str | None, date | None]] = []
    for client in range(400):
        for provider in ("P1", "P2", "P3"):
            if rng.random() < 0.35:
                for _ in range(int(rng.integers(1, 3))):
                    records.append((client, provider, "Assen", date(2024, 1, 1)))
    records += [(None, "P2", "Assen", date(2024, 1, 1))] * 3
    path = write_linked(linked_rows(records), tmp_path / "linked.parquet")
    (histories,) = histories_from_linked(path)
    seen: dict[int, set[str]] = {}
    for client, provider, _, _ in records:
        if client is not None:
            seen.setdefault(client, set()).add(provider)
    expected = [0] * 8
    for providers in seen.values():
        expected[sum(1 << ("P1", "P2", "P3").index(p) for p in providers)] += 1
    assert histories.sources == ("P1", "P2", "P3")
    assert list(histories.counts) == expected
    assert histories.notes == ("3 row(s) without a valid BSN left out: they link to no client",)


def test_groups_and_strata_from_linked_rows() -> None:
    rows = linked_rows(
        [
            (1, "P1", "Assen", date(2024, 1, 1)),
            (1, "P3", "Emmen", date(2024, 6, 1)),  # latest row: Emmen
            (2, "P2", "Assen", date(2024, 1, 1)),
            (2, "P3", "Assen", date(2024, 2, 1)),
            (3, "P4", "Emmen", date(2024, 1, 1)),  # P4 is in no source
            (4, "P1", None, date(2024, 1, 1)),
        ]
    )
    strata = histories_from_linked(rows, groups={"X": ["P1", "P2"], "Y": ["P3"]}, by="municipality")
    by_stratum = {h.stratum: h for h in strata}
    assert sorted(by_stratum) == ["Assen", "Emmen", "unknown"]
    assert by_stratum["Emmen"].counts == (0, 0, 0, 1)  # client 1: X and Y
    assert by_stratum["Assen"].counts == (0, 0, 0, 1)  # client 2: X and Y
    # No client of this stratum is in Y: the source is left out there, and said so.
    assert by_stratum["unknown"].sources == ("X",)
    assert by_stratum["unknown"].counts == (0, 1)
    assert by_stratum["unknown"].dropped_sources == ("Y",)
    assert "1 row(s) of providers in no declared source left out" in strata[0].notes
    with pytest.raises(ConfigError, match="already in X"):
        histories_from_linked(rows, groups={"X": ["P1"], "Y": ["P1"]})
    with pytest.raises(ConfigError, match="cannot be used as a dimension"):
        histories_from_linked(rows, by="pseudonym")


def test_stratified_estimates_add_up() -> None:
    strata = [
        Histories(h.sources, h.counts, stratum=name)
        for name, h in (
            ("a", simulated(1, 4000, (0.3, 0.4))),
            ("b", simulated(2, 3000, (0.5, 0.2))),
        )
    ]
    result = estimate_unseen_strata(strata, by="municipality")
    assert result.estimate == pytest.approx(sum(s.estimate for s in result.strata))
    assert result.observed == sum(s.observed for s in result.strata)
    assert result.lower < result.estimate < result.upper
    assert result.lower > max(s.lower for s in result.strata)


# --- rows without a valid BSN ---------------------------------------------------------------------


def test_unlinked_rows_estimate_from_the_providers_rates() -> None:
    records: list[tuple[int | None, str, str | None, date | None]] = [
        (1, "P1", None, None),
        (1, "P1", None, None),
        (2, "P1", None, None),
        (2, "P2", None, None),  # client 2 is also at P2
        (3, "P2", None, None),
        (None, "P1", None, None),
        (None, "P1", None, None),
        (None, "P1", None, None),
        (None, "P3", None, None),  # P3 has no valid BSN at all: pooled rates
    ]
    result = estimate_unlinked(linked_rows(records))
    assert (result.lower, result.upper) == (3, 7)
    # P1: 3 linked rows of 2 clients -> 3 unlinked rows ~ 2 persons; half of P1's clients are
    # elsewhere -> 1 new. P3: pooled 4 clients / 5 rows and 2 of 4 elsewhere -> 0.8 x 0.5 = 0.4.
    per = {row["provider"]: row for row in result.per_provider.to_dicts()}
    assert per["P1"]["persons"] == pytest.approx(2.0)
    assert per["P1"]["new_persons"] == pytest.approx(1.0)
    assert per["P3"]["new_persons"] == pytest.approx(0.4)
    assert result.estimate == pytest.approx(3 + 1.0 + 0.4)
    assert result.lower <= result.low <= result.estimate <= result.high <= result.upper


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(0, 20)), st.sampled_from(["P1", "P2", "P3"])),
        min_size=1,
        max_size=60,
    )
)
def test_unlinked_estimate_stays_within_the_bounds(rows: list[tuple[int | None, str]]) -> None:
    result = estimate_unlinked(linked_rows([(c, p, None, None) for c, p in rows]))
    assert result.lower <= result.low <= result.estimate <= result.high <= result.upper


# --- command line --------------------------------------------------------------------------------


def run(arguments: list[str]) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, arguments)
    return outcome.exit_code, outcome.output


def test_cli_on_a_linked_file_and_on_histories(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    records: list[tuple[int | None, str, str | None, date | None]] = []
    for client in range(3000):
        for provider, chance in (("P1", 0.3), ("P2", 0.25), ("P3", 0.2)):
            if rng.random() < chance:
                records.append((client, provider, "Assen", date(2024, 3, 1)))
    records.append((None, "P1", "Assen", date(2024, 3, 1)))
    linked = write_linked(linked_rows(records), tmp_path / "linked.parquet")
    out = tmp_path / "unseen.json"
    log = tmp_path / "audit.jsonl"
    code, output = run(
        [
            "unseen",
            str(linked),
            "--period",
            "2024",
            "--out",
            str(out),
            "--audit-log",
            str(log),
        ]
    )
    assert code == 0, output
    document: dict[str, Any] = json.loads(out.read_text())
    for key in ("observed", "estimate", "lower", "upper", "model", "method", "assumptions"):
        assert key in document
    assert document["lower"] <= 3000 <= document["upper"]  # the population drawn from
    assert document["metadata"]["format"] == "factlab-unseen"
    assert document["rows_without_valid_bsn"]["unique_clients_upper"] == document["observed"] + 1

    histories = tmp_path / "histories.csv"
    (histories).write_text("A,B,count\n1,0,60\n0,1,40\n1,1,20\n")
    out2 = tmp_path / "h.json"
    code, output = run(
        [
            "unseen",
            "--histories",
            str(histories),
            "--model",
            "independence",
            "--out",
            str(out2),
            "--audit-log",
            str(log),
        ]
    )
    assert code == 0, output
    assert json.loads(out2.read_text())["estimate"] == pytest.approx(240)
    assert read_histories(histories).counts == (0, 60, 40, 20)


def test_cli_refusals(tmp_path: Path) -> None:
    histories = tmp_path / "histories.csv"
    histories.write_text("A,B,count\n1,0,60\n0,1,40\n")
    log = tmp_path / "audit.jsonl"
    code, output = run(
        [
            "unseen",
            "--histories",
            str(histories),
            "--out",
            str(tmp_path / "u.json"),
            "--audit-log",
            str(log),
        ]
    )
    assert code != 0
    assert "no client was seen by two sources" in output
    assert not (tmp_path / "u.json").exists()
    code, output = run(["unseen", "--out", str(tmp_path / "u.json")])
    assert code != 0
    assert "give a LINKED file or --histories" in output
    code, output = run(["unseen", "--histories", str(histories), "--out", str(tmp_path / "u.csv")])
    assert code != 0
    assert ".json" in output


# --- published data ------------------------------------------------------------------------------

#: The Korea table of the R package SparseMSE (three lists b, c, d), and its result for the model
#: [12,3] (an interaction of b and c) in the package's documentation of
#: estimate_population_stepwise: dark figure 145.7778, total 268.7778.
KOREA = Histories(("b", "c", "d"), (0, 5, 5, 54, 41, 6, 0, 12))

#: Killings in Kosovo, 20 March - 22 June 1999, on four lists (Ball et al. 2002, American
#: Association for the Advancement of Science; the table as SparseMSE ships it): exhumations
#: (EXH), ABA/CEELI (ABA), OSCE, Human Rights Watch (HRW). 4,400 observed.
KOSOVO_PATTERNS = {
    "1000": 1131, "0100": 845, "0010": 936, "0001": 306, "1100": 177, "1010": 228, "1001": 106,
    "0110": 217, "0101": 31, "0011": 123, "1110": 181, "1101": 18, "1011": 42, "0111": 32,
    "1111": 27,
}  # fmt: skip


def kosovo() -> Histories:
    counts = [0] * 16
    for pattern, count in KOSOVO_PATTERNS.items():
        counts[sum(1 << i for i, bit in enumerate(pattern) if bit == "1")] = count
    return Histories(("EXH", "ABA", "OSCE", "HRW"), tuple(counts))


def test_korea_reproduces_sparsemse() -> None:
    result = estimate_unseen(KOREA, model="b:c")
    assert result.unseen == pytest.approx(145.7778, abs=1e-3)
    assert result.estimate == pytest.approx(268.7778, abs=1e-3)


def test_kosovo_independence_agrees_with_a_direct_maximisation() -> None:
    from scipy.optimize import minimize

    histories = kosovo()
    assert histories.observed == 4400
    result = estimate_unseen(histories, model="independence")
    masks = np.arange(1, 16)
    design = np.column_stack([np.ones(15), *(((masks >> i) & 1) for i in range(4))])
    y = np.asarray(histories.counts[1:], dtype=float)

    def negative_loglik(beta: np.ndarray) -> float:
        eta = design @ beta
        return float(np.sum(np.exp(eta) - y * eta))

    start = np.array([np.log(y.mean()), 0.0, 0.0, 0.0, 0.0])
    direct = minimize(negative_loglik, start, method="BFGS", options={"gtol": 1e-9})
    assert result.unseen == pytest.approx(math.exp(direct.x[0]), rel=1e-5)
    searched = estimate_unseen(histories)
    # The lists depend on each other: the search keeps interactions and the estimate grows.
    assert searched.interactions
    assert searched.estimate > result.upper


# --- beside the corrected total -------------------------------------------------------------------


def test_estimate_shows_the_unseen_estimate_beside_the_corrected_total(tmp_path: Path) -> None:
    from factlab.estimation.unseen import read_unseen

    histories = tmp_path / "histories.csv"
    histories.write_text("A,B,count\n1,0,60\n0,1,40\n1,1,20\n")
    unseen = tmp_path / "unseen.json"
    log = tmp_path / "audit.jsonl"
    code, output = run(
        [
            "unseen",
            "--histories",
            str(histories),
            "--model",
            "independence",
            "--out",
            str(unseen),
            "--audit-log",
            str(log),
        ]
    )
    assert code == 0, output
    summary = read_unseen(unseen)
    assert (round(summary.estimate), summary.observed) == (240, 120)
    counts = tmp_path / "cells.csv"
    counts.write_text("care_form,financing,unique_clients\nambulant,ZVW,5411\nambulant,AWBZ,1115\n")
    model = tmp_path / "corrections.toml"
    model.write_text(
        'title = "t"\nversion = 1\nbase = "sum_of_cells"\nrow_dimension = "care_form"\n'
        'column_dimension = "financing"\n\n[[adjustment]]\nname = "pgb"\nkind = "factor"\n'
        'factor = 2\nsource = "s"\nnote = "n"\nselect = { financing = "AWBZ" }\n'
    )
    out = tmp_path / "estimate.json"
    code, output = run(
        [
            "estimate",
            str(counts),
            "--corrections",
            str(model),
            "--unseen",
            str(unseen),
            "--out",
            str(out),
        ]
    )
    assert code == 0, output
    assert "Beside it, capture–recapture: 240 (95 % interval" in output
    assert "not added up" in output
    document = json.loads(out.read_text())
    assert document["estimate"]["total"] == 5411 + 1115 + 2230
    assert document["estimate"]["capture_recapture"]["estimate"] == pytest.approx(240)
    markdown = tmp_path / "estimate.md"
    code, output = run(
        [
            "estimate",
            str(counts),
            "--corrections",
            str(model),
            "--unseen",
            str(unseen),
            "--out",
            str(markdown),
        ]
    )
    assert code == 0, output
    assert "## Beside it: capture–recapture" in markdown.read_text()


def test_read_unseen_refuses_what_is_not_an_unseen_estimate(tmp_path: Path) -> None:
    from factlab.estimation.unseen import read_unseen

    path = tmp_path / "u.json"
    path.write_text(json.dumps({"metadata": {"format": "factlab-estimate"}}))
    with pytest.raises(InputError, match="not a result of factlab unseen"):
        read_unseen(path)
    path.write_text(
        json.dumps(
            {
                "metadata": {"format": "factlab-unseen"},
                "observed": 10,
                "estimate": "12",
                "lower": 11,
                "upper": True,
            }
        )
    )
    with pytest.raises(InputError, match="not a number: estimate, upper"):
        read_unseen(path)
    path.write_text(
        json.dumps(
            {
                "metadata": {"format": "factlab-unseen"},
                "observed": 10,
                "estimate": 30,
                "lower": 11,
                "upper": 20,
            }
        )
    )
    with pytest.raises(InputError, match="outside its interval"):
        read_unseen(path)
    path.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        read_unseen(path)
