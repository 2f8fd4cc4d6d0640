"""The monitor's growing store: parts per batch, coverage across parts, replacement."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from delivery_helpers import (
    clients_in,
    deliver_periods,
    delivery_rows,
    episodes_frame,
    pseudonym,
    write_delivery,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factlab.analysis.link import link
from factlab.errors import InputError, LinkError
from factlab.monitor.series import programme_periods, series
from factlab.monitor.store import append_to_store, open_store, scan_store
from factlab.periods import parse_period

YEARS = programme_periods(2021, 2024)
LABELS = [period.label for period in YEARS]


def programme(seed: int, size: int = 40) -> pl.DataFrame:
    """Episodes of a small programme, from a seed (plain Python random)."""
    import random

    rng = random.Random(seed)
    records = []
    for _ in range(size):
        start = date(2021, 1, 1) + timedelta(days=rng.randrange(0, 1400))
        end = None if rng.random() < 0.3 else start + timedelta(days=rng.randrange(0, 600))
        records.append(
            (rng.randrange(25), rng.choice("AB"), rng.choice(["ambulant", "verblijf"]), start, end)
        )
    return episodes_frame(records).unique(
        subset=["pseudonym", "provider", "care_form", "start_date"], keep="first"
    )


def add_years(store: Path, folder: Path, episodes: pl.DataFrame, labels: list[str]) -> None:
    for label in labels:
        batch = deliver_periods(folder, episodes, [label])
        append_to_store(store, [path for path, _ in batch], periods=dict(batch))


def totals(source: object) -> list[int]:
    table = series(source, YEARS).table  # type: ignore[arg-type]
    return table.filter(pl.col("dimension") == "total")["unique_clients"].to_list()


def test_a_store_grows_by_a_part_per_year(tmp_path: Path) -> None:
    episodes = programme(1)
    store = tmp_path / "store"
    add_years(store, tmp_path, episodes, LABELS)
    opened = open_store(store)
    assert [part["file"] for part in opened.parts] == [
        f"parts/part-{n:04d}.parquet" for n in range(1, 5)
    ]
    assert [
        (unit["provider"], unit["period"], unit["covers_from"], unit["covers_to"])
        for unit in opened.parts[0]["covers"]
    ] == [
        ("A", "2021", "2021-01-01", "2021-12-31"),
        ("B", "2021", "2021-01-01", "2021-12-31"),
    ]
    assert totals(store) == [len(clients_in(episodes, period)) for period in YEARS]
    # the store's figures are those of one link of every delivery at once
    everything = deliver_periods(tmp_path, episodes, LABELS, prefix="all-")
    linked = tmp_path / "linked.parquet"
    link([path for path, _ in everything], linked, periods=dict(everything))
    assert totals(store) == totals(linked)
    assert scan_store(store).frame.collect().height == pl.read_parquet(linked).height


def test_adding_a_year_reads_no_earlier_part(tmp_path: Path) -> None:
    episodes = programme(2)
    store = tmp_path / "store"
    add_years(store, tmp_path, episodes, LABELS[:3])
    # an earlier part made unreadable: appending does not open it
    first = store / "parts" / "part-0001.parquet"
    saved = first.read_bytes()
    first.write_bytes(b"not parquet")
    add_years(store, tmp_path, episodes, LABELS[3:])
    first.write_bytes(saved)
    assert len(open_store(store).parts) == 4


def test_a_batch_covering_stored_days_is_refused_unless_replace(tmp_path: Path) -> None:
    episodes = programme(3)
    store = tmp_path / "store"
    add_years(store, tmp_path, episodes, LABELS[:2])
    again = deliver_periods(tmp_path, episodes, ["2022H2"], prefix="fix-")
    with pytest.raises(LinkError, match="overlaps"):
        append_to_store(store, [path for path, _ in again], periods=dict(again))
    assert len(open_store(store).parts) == 2
    assert not (store / "parts" / "part-0003.parquet").exists()
    append_to_store(store, [path for path, _ in again], periods=dict(again), replace=True)
    document = json.loads((store / "store.json").read_text())
    unit = next(unit for unit in document["parts"][1]["covers"] if unit["provider"] == "A")
    assert (unit["covers_from"], unit["covers_to"]) == ("2022-01-01", "2022-06-30")
    assert (unit["from"], unit["to"]) == ("2022-01-01", "2022-12-31")
    assert {"provider": "A", "period": "2022-07-01..2022-12-31", "by": "part-0003"} in document[
        "parts"
    ][1]["replaced"]


def test_a_batch_of_another_programme_key_is_refused(tmp_path: Path) -> None:
    episodes = programme(4)
    store = tmp_path / "store"
    add_years(store, tmp_path, episodes, LABELS[:1])
    rows = delivery_rows(episodes, parse_period("2022"), "A")
    other = write_delivery(tmp_path, "other.parquet", rows, key_fingerprint="another")
    with pytest.raises(LinkError, match="key_fingerprint"):
        append_to_store(store, [other], periods={other: "2022"})


def test_a_store_needs_periods(tmp_path: Path) -> None:
    rows = delivery_rows(programme(5), parse_period("2022"), "A")
    path = write_delivery(tmp_path, "a.parquet", rows)
    with pytest.raises(LinkError, match="states no period"):
        append_to_store(tmp_path / "store", [path])


def test_a_folder_that_is_no_store(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match="not a monitor store"):
        open_store(tmp_path)
    rows = delivery_rows(programme(5), parse_period("2022"), "A")
    path = write_delivery(tmp_path, "a.parquet", rows)
    with pytest.raises(InputError, match="not an empty folder"):
        append_to_store(tmp_path, [path], periods={path: "2022"})


@st.composite
def corrections(draw: st.DrawFn) -> tuple[int, int, list[tuple]]:
    """A seed, the corrected year's index, and episodes wholly inside that year to add."""
    year = draw(st.integers(0, len(YEARS) - 1))
    added = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.dates(YEARS[year].start, YEARS[year].end))
        end = draw(st.dates(start, YEARS[year].end))
        added.append((draw(st.integers(0, 40)), draw(st.sampled_from("AB")), "crisis", start, end))
    return draw(st.integers(0, 1000)), year, added


def check_replacement(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[int, int, list[tuple]], drop: int
) -> None:
    """A correction of one year, appended with replace, changes that year's figure only."""
    seed, year, added = case
    folder = tmp_path_factory.mktemp("replace")
    truth = programme(seed)
    period = YEARS[year]
    # the correction: episodes added, and some taken out that start or end in the year (one
    # that runs through the year from before to after it cannot be corrected by the year
    # alone: the deliveries on both sides still show it)
    starts = (pl.col("start_date") >= period.start) & (pl.col("start_date") <= period.end)
    ends = (pl.col("end_date") >= period.start) & (pl.col("end_date") <= period.end)
    inside = starts | ends
    removed = truth.filter(inside).head(drop)
    corrected = (
        pl.concat([truth.join(removed, on=truth.columns, how="anti"), episodes_frame(added)])
        if added
        else truth.join(removed, on=truth.columns, how="anti")
    )
    store = folder / "store"
    add_years(store, folder, truth, LABELS)
    before = totals(store)
    fix = deliver_periods(folder, corrected, [period.label], prefix="fix-")
    if not fix:
        return
    append_to_store(store, [path for path, _ in fix], periods=dict(fix), replace=True)
    after = totals(store)
    for index, label in enumerate(LABELS):
        if index == year:
            # the providers that delivered a correction; a provider without rows that year
            # keeps its original delivery
            fixed = {path.name.split("-")[1] for path, _ in fix}
            kept = truth.filter(~pl.col("provider").is_in(fixed))
            mixed = pl.concat([corrected.filter(pl.col("provider").is_in(fixed)), kept])
            assert after[index] == len(clients_in(mixed, YEARS[index])), label
        else:
            assert after[index] == before[index], label


_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=5, deadline=None, suppress_health_check=_QUIET)
@given(case=corrections(), drop=st.integers(0, 3))
def test_replacing_a_period_changes_only_that_period(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[int, int, list[tuple]], drop: int
) -> None:
    check_replacement(tmp_path_factory, case, drop)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=_QUIET)
@given(case=corrections(), drop=st.integers(0, 3))
def test_replacing_a_period_changes_only_that_period_many(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[int, int, list[tuple]], drop: int
) -> None:
    check_replacement(tmp_path_factory, case, drop)


def test_a_programme_key_serves_its_years_only(tmp_path: Path) -> None:
    rows = delivery_rows(programme(6), parse_period("2022"), "A")
    inside = write_delivery(tmp_path, "in.parquet", rows, round="drenthe-2021-2022")
    append_to_store(tmp_path / "store", [inside], periods={inside: "2022"})
    later = delivery_rows(programme(6), parse_period("2023"), "A")
    outside = write_delivery(tmp_path, "out.parquet", later, round="drenthe-2021-2022")
    with pytest.raises(LinkError, match="outside the programme's years 2021-2022"):
        append_to_store(tmp_path / "store", [outside], periods={outside: "2023"})


def test_a_refused_first_batch_leaves_no_store_behind(tmp_path: Path) -> None:
    rows = delivery_rows(programme(5), parse_period("2022"), "A")
    path = write_delivery(tmp_path, "a.parquet", rows)
    store = tmp_path / "store"
    with pytest.raises(LinkError, match="states no period"):
        append_to_store(store, [path])
    assert not store.exists()
    append_to_store(store, [path], periods={path: "2022"})
    assert len(open_store(store).parts) == 1


def test_a_middle_year_of_a_batch_can_be_corrected(tmp_path: Path) -> None:
    """Review #19, should-fix 6 (repro r3): coverage is kept per delivery, not per part."""
    episodes = episodes_frame(
        [
            (1, "A", "ambulant", date(2021, 3, 1), None),
            (2, "A", "ambulant", date(2022, 3, 1), date(2022, 5, 1)),
        ]
    )
    batch = [
        (
            write_delivery(
                tmp_path, f"a{y}.parquet", delivery_rows(episodes, parse_period(y), "A")
            ),
            y,
        )
        for y in ("2021", "2022", "2023")
    ]
    store = tmp_path / "store"
    append_to_store(store, [path for path, _ in batch], periods=dict(batch))
    rows = delivery_rows(episodes, parse_period("2022"), "A")
    fix = write_delivery(
        tmp_path, "fix22.parquet", rows.filter(pl.col("pseudonym") != pseudonym(2))
    )
    append_to_store(store, [fix], periods={fix: "2022"}, replace=True)
    years = [parse_period(label) for label in ("2021", "2022", "2023")]
    table = series(store, years).table.filter(pl.col("dimension") == "total")
    assert table["unique_clients"].to_list() == [1, 1, 1]
    # client 1's cost: each year's delivered cost once (10 a day), 2022 from the correction
    frame = scan_store(store).frame.collect()
    assert frame.height == 1
    assert frame["cost"][0] == pytest.approx(10.0 * (306 + 365 + 365))


def test_a_swapped_part_is_refused(tmp_path: Path) -> None:
    """Review #19, should-fix 7: scan_store checks each part's digest and manifest."""
    episodes = programme(7)
    store = tmp_path / "store"
    add_years(store, tmp_path, episodes, LABELS[:2])
    other = deliver_periods(tmp_path, programme(8), ["2021"], prefix="other-")
    fake = tmp_path / "fake.parquet"
    link([path for path, _ in other], fake, periods=dict(other))
    (store / "parts" / "part-0001.parquet").write_bytes(fake.read_bytes())
    with pytest.raises(InputError, match="SHA-256 differs"):
        scan_store(store)


def test_a_round_that_is_no_programme_is_refused_unless_allowed(tmp_path: Path) -> None:
    """Review #19, should-fix 8: without a programme name nothing bounds the key's years."""
    rows = delivery_rows(programme(6), parse_period("2022"), "A")
    for name in ("drenthe-2021-2035", "drenthe-monitor"):
        path = write_delivery(tmp_path, f"{name}.parquet", rows, round=name)
        with pytest.raises(LinkError, match="not a programme name"):
            append_to_store(tmp_path / name, [path], periods={path: "2022"})
        assert not (tmp_path / name).exists()
        append_to_store(tmp_path / name, [path], periods={path: "2022"}, any_round=True)


def test_a_part_in_the_making_is_not_taken_by_a_second_add(tmp_path: Path) -> None:
    """Review #19, should-fix 16: the part file is created exclusively before linking."""
    episodes = programme(9)
    store = tmp_path / "store"
    add_years(store, tmp_path, episodes, LABELS[:1])
    (store / "parts" / "part-0002.parquet").write_bytes(b"")  # another add is running
    batch = deliver_periods(tmp_path, episodes, [LABELS[1]])
    with pytest.raises(InputError, match="another add is running"):
        append_to_store(store, [path for path, _ in batch], periods=dict(batch))
    assert (store / "parts" / "part-0002.parquet").read_bytes() == b""
    assert len(open_store(store).parts) == 1


def test_a_store_without_costs_equals_one_link(tmp_path: Path) -> None:
    """Parts without a cost column (so without cost pieces): a multi-year batch, a later year,
    and a row without a valid BSN that spans two years are read as one link reads them."""
    episodes = programme(10)
    made = []
    for label in LABELS:
        for provider in ("A", "B"):
            rows = delivery_rows(episodes, parse_period(label), provider).drop("cost")
            if label in ("2021", "2022") and provider == "A":
                extra = rows.head(1).with_columns(
                    pl.lit(None, dtype=pl.String).alias("pseudonym"),
                    pl.lit("missing").cast(rows.schema["bsn_status"]).alias("bsn_status"),
                    pl.lit(date(2021, 6, 1)).alias("start_date"),
                    pl.lit(None, dtype=pl.Date).alias("end_date"),
                )
                rows = pl.concat([rows, extra])
            made.append((write_delivery(tmp_path, f"{provider}{label}.parquet", rows), label))
    store = tmp_path / "store"
    first = [item for item in made if item[1] in LABELS[:3]]
    append_to_store(store, [path for path, _ in first], periods=dict(first))
    rest = [item for item in made if item[1] == LABELS[3]]
    append_to_store(store, [path for path, _ in rest], periods=dict(rest))
    linked = tmp_path / "linked.parquet"
    link([path for path, _ in made], linked, periods=dict(made))
    assert totals(store) == totals(linked)
    stored = scan_store(store).frame.collect()
    assert stored.height == pl.read_parquet(linked).height
    assert stored.filter(pl.col("bsn_status") == "missing").height == 2
