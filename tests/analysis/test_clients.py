"""Clients as integers (factlab.analysis._clients) and the counts and overlaps built on them.

The fast path reads a pseudonym's two 64-bit halves as integers and sorts once, on a 128-bit key
of the pseudonym's bits and the order within a client, checking for clients the key cannot tell
apart. These tests force every branch: shared first halves, clients the key cannot tell apart
(the exact route), text that is not a pseudonym, and the validated pseudonyms of a linked file.
"""

from __future__ import annotations

import importlib
import itertools
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab.analysis._clients import client_keys, client_order, order_by_client
from factlab.analysis.counts import count
from factlab.periods import parse_period

test_counts = importlib.import_module("test_counts")
test_overlap = importlib.import_module("test_overlap")
test_flows = importlib.import_module("test_flows")
flows_module = importlib.import_module("factlab.analysis.flows")
overlap_module = importlib.import_module("factlab.analysis.overlap")


def collide(pseudonym: str | None) -> str | None:
    """The same client, but with the first 64 bits every client shares."""
    return None if pseudonym is None else "0" * 16 + pseudonym[16:]


def as_text(pseudonym: str | None) -> str | None:
    """The same client as text that is not a pseudonym (mixed case and another length)."""
    return None if pseudonym is None else f"Client-{pseudonym[:20].upper()}"


@pytest.mark.parametrize("form", [collide, as_text])
@pytest.mark.parametrize(
    ("seed", "dims", "period"),
    [(21, ("care_form", "financing"), "2025"), (22, ("municipality", "provider"), None)],
)
def test_counts_match_the_oracle_whatever_the_pseudonyms_look_like(
    form: object, seed: int, dims: tuple[str, ...], period: str | None
) -> None:
    rows = test_counts.synthetic_rows(seed)
    frame = test_counts.frame_of(rows).with_columns(
        pl.col("pseudonym").map_elements(form, return_dtype=pl.String)
    )
    expected = test_counts.oracle(rows, dims, parse_period(period) if period else None)
    assert test_counts.table_as_dict(count(frame, by=dims, period=period)) == expected


def exact_route(high: pl.Series, low: pl.Series, within: pl.Series) -> pl.DataFrame:
    """client_order as if the one sort could not tell some clients apart."""
    clients_module = importlib.import_module("factlab.analysis._clients")
    return clients_module._order_on_all_keys(
        pl.DataFrame({"high": high, "low": low, "within": within})
    )


@pytest.mark.parametrize(
    ("seed", "dims", "period"),
    [(32, ("care_form", "financing"), "2025"), (33, ("municipality", "provider"), None)],
)
def test_counts_match_the_oracle_on_the_exact_route(
    monkeypatch: pytest.MonkeyPatch, seed: int, dims: tuple[str, ...], period: str | None
) -> None:
    monkeypatch.setattr(
        importlib.import_module("factlab.analysis._trajectories"), "client_order", exact_route
    )
    monkeypatch.setattr(overlap_module, "client_order", exact_route)
    rows = test_counts.synthetic_rows(seed)
    frame = test_counts.frame_of(rows)
    expected = test_counts.oracle(rows, dims, parse_period(period) if period else None)
    counted = count(frame, by=dims, period=period)
    assert test_counts.table_as_dict(counted) == expected
    assert counted.overlap is not None
    chosen = parse_period(period) if period else None
    assert counted.overlap.matrix.equals(overlap_module.overlap(frame, period=chosen).matrix)


def test_collisions_in_a_linked_file_are_resolved(tmp_path: Path) -> None:
    """A linked file's pseudonyms skip the format check; shared first halves are still found."""
    rows = test_counts.synthetic_rows(23)
    frame = test_counts.frame_of(rows).with_columns(
        pl.col("pseudonym").map_elements(collide, return_dtype=pl.String)
    )
    path = test_overlap.write_linked(frame, tmp_path / "linked.parquet")
    result = count(path, by=("care_form",), period="2025")
    expected = test_counts.oracle(rows, ("care_form",), parse_period("2025"))
    assert test_counts.table_as_dict(result) == expected
    records = test_overlap.seeded_records(24)
    linked = test_overlap.linked_frame(records).with_columns(
        pl.col("pseudonym").map_elements(collide, return_dtype=pl.String)
    )
    path = test_overlap.write_linked(linked, tmp_path / "overlap.parquet")
    matrix = overlap_module.overlap(path).matrix
    assert test_overlap.as_dict(matrix, "provider") == test_overlap.oracle_matrix(
        records, "provider"
    )


def test_a_linked_file_whose_pseudonyms_are_not_hex_is_counted_from_its_text(
    tmp_path: Path,
) -> None:
    """count reads a linked file's pseudonyms as integers in its scan; text that does not read as
    32 hex characters (a hand-made file: link refuses such pseudonyms) sends it back to the text."""
    rows = test_counts.synthetic_rows(34)
    frame = test_counts.frame_of(rows).with_columns(
        pl.col("pseudonym").map_elements(as_text, return_dtype=pl.String)
    )
    path = test_overlap.write_linked(frame, tmp_path / "linked.parquet")
    for dims, period in ((("care_form", "financing"), "2025"), (("municipality",), None)):
        expected = test_counts.oracle(rows, dims, parse_period(period) if period else None)
        assert test_counts.table_as_dict(count(path, by=dims, period=period)) == expected


@pytest.mark.parametrize("form", [collide, as_text])
@pytest.mark.parametrize("by", ["provider", "care_form"])
def test_overlap_matches_the_oracle_whatever_the_pseudonyms_look_like(
    form: object, by: str
) -> None:
    records = test_overlap.seeded_records(25)
    frame = test_overlap.linked_frame(records).with_columns(
        pl.col("pseudonym").map_elements(form, return_dtype=pl.String)
    )
    result = overlap_module.overlap(frame, by=by)
    assert test_overlap.as_dict(result.matrix, by) == test_overlap.oracle_matrix(records, by)


def test_a_client_at_many_providers_pairs_with_each() -> None:
    """A client with k values adds k² - k ordered pairs; a client with one value none."""
    providers = [f"P{index:02d}" for index in range(12)]
    frame = pl.DataFrame(
        {
            "pseudonym": ["a" * 32] * 12 + ["b" * 32],
            "bsn_status": ["valid"] * 13,
            "provider": [*providers, "P00"],
        }
    )
    matrix = overlap_module.overlap(frame).matrix
    shared = {(a, b): n for a, b, n in matrix.iter_rows()}
    assert shared[("P00", "P00")] == 2
    assert all(shared[(a, b)] == 1 for a in providers for b in providers if (a, b) != ("P00",) * 2)
    assert matrix.height == 144


def test_client_keys_read_halves_or_rank_text() -> None:
    keys = client_keys(pl.Series(["0" * 15 + "f" + "0" * 15 + "1", None]), checked=False)
    assert [key.to_list() for key in keys] == [[15, None], [1, None]]
    high, low = client_keys(pl.Series(["b", None, "a", "b"]), checked=False)
    assert high.to_list() == [2, None, 1, 2]
    assert low.to_list() == [0, None, 0, 0]
    # Upper case is not a pseudonym: "AA..." and "aa..." are different clients.
    high, _ = client_keys(pl.Series(["A" * 32, "a" * 32]), checked=False)
    assert high[0] != high[1]


def check_order(texts: list[str | None], within: list[int]) -> pl.DataFrame:
    """client_order of ``texts`` and ``within``, checked against the order a plain sort gives."""
    high, low = client_keys(pl.Series(texts, dtype=pl.String), checked=True)
    ordered = client_order(high, low, pl.Series(within, dtype=pl.UInt64))
    order = ordered["row"].to_list()
    assert sorted(order) == list(range(len(texts)))
    keyed = [(texts[row] is None, texts[row] or "", within[row]) for row in order]
    # Clients in sorted order of their keys, no client last, and "within" sorted per client.
    assert [key[:2] for key in keyed] == sorted(key[:2] for key in keyed)
    for first, second in itertools.pairwise(keyed):
        if first[:2] == second[:2] and not first[0]:
            assert first[2] <= second[2]
    assert ordered["known"].to_list() == [not key[0] for key in keyed]
    known = [index for index, key in enumerate(keyed) if not key[0]]
    assert [ordered["within"][index] for index in known] == [keyed[index][2] for index in known]
    # "first" marks exactly the first row of each client.
    expected = [
        not key[0] and (index == 0 or keyed[index - 1][:2] != key[:2])
        for index, key in enumerate(keyed)
    ]
    assert ordered["first"].to_list() == expected
    return ordered


@settings(max_examples=60, deadline=None)
@given(
    clients=st.lists(st.integers(0, 5), min_size=0, max_size=40),
    shared_prefix=st.booleans(),
    data=st.data(),
)
def test_client_order_groups_each_client_and_sorts_within(
    clients: list[int], shared_prefix: bool, data: st.DataObject
) -> None:
    within = data.draw(st.lists(st.integers(0, 3), min_size=len(clients), max_size=len(clients)))
    prefix = "0" * 16 if shared_prefix else None
    texts = [
        None if client == 0 else (prefix or f"{client:016x}") + f"{client * 7:016x}"
        for client in clients
    ]
    check_order(texts, within)


def test_clients_the_sort_key_cannot_tell_apart_are_sorted_on_all_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two clients that differ only in the last bits of the pseudonym, the bits the sort key
    gives to ``within`` and the row number: the one sort would interleave them, so the exact
    route takes over."""
    clients_module = importlib.import_module("factlab.analysis._clients")
    exact = clients_module._order_on_all_keys
    calls: list[int] = []

    def spy(keys: pl.DataFrame) -> pl.DataFrame:
        calls.append(keys.height)
        return exact(keys)

    monkeypatch.setattr(clients_module, "_order_on_all_keys", spy)
    a, b = "0" * 16 + "0" * 15 + "4", "0" * 16 + "0" * 15 + "5"  # differ in the last bit
    texts = [a, b, a, None, b, a]
    ordered = check_order(texts, [3, 0, 1, 2, 2, 0])
    assert calls == [6]
    assert ordered["first"].sum() == 2
    calls.clear()
    # 0x40 and 5 differ above the five bits the key gives to within (2) and the row (3).
    c = "0" * 16 + "0" * 14 + "40"
    check_order([c if text == a else text for text in texts], [3, 0, 1, 2, 2, 0])
    assert calls == []


@pytest.mark.parametrize(
    ("seed", "period", "on"), [(29, None, None), (30, "2025", None), (31, None, "2025-03-01")]
)
def test_count_gives_the_provider_overlap_of_its_rows(
    seed: int, period: str | None, on: str | None
) -> None:
    """The overlap made in count's pass is the one overlap() makes of the same rows."""
    frame = test_counts.frame_of(test_counts.synthetic_rows(seed))
    counted = count(frame, by=("care_form",), period=period, on=on)
    expected = overlap_module.overlap(
        frame,
        period=parse_period(period) if period else None,
        on=date.fromisoformat(on) if on else None,
    )
    assert counted.overlap is not None
    assert counted.overlap.matrix.equals(expected.matrix)
    assert counted.overlap.rows_used == expected.rows_used
    assert dict(counted.overlap.rows_without_valid_bsn) == dict(expected.rows_without_valid_bsn)
    assert counted.overlap.left_out_by_value.equals(expected.left_out_by_value)
    assert counted.overlap.period == expected.period
    assert counted.overlap.on == expected.on
    diagonal = counted.overlap.unique_clients()
    assert sum(diagonal.values()) == sum(
        providers * clients for providers, clients in counted.clients_by_provider_count.items()
    )


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([None, "a" * 32, "b" * 32, "0" * 31 + "1"]),
            st.sampled_from([None, "P1", "P2", "Q"]),
            st.one_of(st.none(), st.integers(-3, 3)),
        ),
        min_size=16,
        max_size=30,
    ),
    wide=st.booleans(),
)
def test_order_by_client_is_the_order_of_a_plain_sort(
    rows: list[tuple[str | None, str | None, int | None]], wide: bool
) -> None:
    """Rows equal in every column may come in any order, and so may rows without a client (they
    come last): the sorted values are compared."""
    frame = pl.DataFrame(
        rows, schema={"p": pl.String, "x": pl.String, "n": pl.Int64}, orient="row"
    ).with_columns(pl.int_range(pl.len()).alias(f"w{index}") for index in range(14))
    # wide: 14 more columns of up to 30 distinct values, 5 bits each: more than 64 bits to pack
    then = ["x", "n", *(f"w{index}" for index in range(14))] if wide else ["x", "n"]
    ordered = frame[order_by_client(frame, "p", then, checked=True)].select("p", *then)
    expected = frame.sort(["p", *then], nulls_last=True).select("p", *then)
    with_client = pl.col("p").is_not_null()
    assert ordered.filter(with_client).equals(expected.filter(with_client))
    assert ordered["p"].is_null().to_list() == expected["p"].is_null().to_list()


@pytest.mark.parametrize("form", [None, collide, as_text])
def test_trajectories_and_repeat_use_of_a_linked_file_match_the_oracles(
    tmp_path: Path, form: object
) -> None:
    """flows orders episodes with the integer sort; a linked file's pseudonyms take the fast
    route, other text is ranked, and clients sharing a first half stay apart."""
    records = test_flows.seeded_records(35)
    frame = test_flows.linked_frame(records)
    if form is not None:
        frame = frame.with_columns(pl.col("pseudonym").map_elements(form, return_dtype=pl.String))
    path = test_flows.write_linked(frame, tmp_path / "linked.parquet")
    client_of = {
        (form(test_flows.pseudonym(client)) if form else test_flows.pseudonym(client)): client
        for client in range(200)
    }
    result = flows_module.trajectories(path)
    expected = test_flows.oracle_trajectory_rows(records)
    assert test_flows.trajectory_rows(result, client_of) == expected
    # Sorted as documented: by pseudonym, provider, care form and start, unknown starts last.
    keys = ["pseudonym", "provider", "care_form", "start_date"]
    assert result.select(keys).equals(result.select(keys).sort(keys, nulls_last=True))
    period = parse_period("2024")
    total = test_flows.total_row(flows_module.repeat_use(path, period).table)
    assert (total["trajectories_started"], total["trajectories_repeat"]) == (
        test_flows.oracle_repeat(records, period, 5)
    )
