"""Partitions by client with many rows without a valid BSN (review of #19, session 7).

Such rows belong to no client; they used to go all to partition 0, which made that partition as
large as a provider without BSNs (and the peak memory follows the largest partition). They now
go by their row number in their file. The oracle is the one-pass result, on an adversarial
programme: a third of the rows without a valid BSN (ongoing ones delivered again in every
delivery), one provider delivering per half-year, a year without the product category, an
episode delivered twice in one delivery, and a correction that replaces a year.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from delivery_helpers import pseudonym, write_delivery
from polars.testing import assert_frame_equal
from test_monitor_partitions import YEARS, assert_same, few_figures, figures

import factlab.analysis.overlap as overlap
from factlab import schema
from factlab.analysis.link import link
from factlab.monitor._partitions import PARTITION, client_partition, in_partition
from factlab.monitor._source import open_partitions
from factlab.monitor.series import series
from factlab.monitor.store import append_to_store, open_store, scan_store
from factlab.periods import parse_period


def adversarial_episodes(seed: int, records: int = 160, clients: int = 45) -> pl.DataFrame:
    """Episodes at three providers; about a third without a valid BSN (no pseudonym)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(records):
        valid = rng.random() > 0.35
        start = date(2021, 1, 1) + timedelta(days=rng.randrange(0, 1400))
        end = None if rng.random() < 0.3 else start + timedelta(days=rng.randrange(0, 600))
        rows.append(
            {
                schema.PSEUDONYM: pseudonym(rng.randrange(clients)) if valid else None,
                schema.STATUS: "valid" if valid else rng.choice(["missing", "checksum"]),
                schema.PROVIDER: rng.choice("ABC"),
                "care_form": rng.choice(["ambulant", "verblijf"]),
                "financing": rng.choice(["ZIN", "PGB"]),
                "product_category": rng.choice(["45A", "45B"]),
                "start_date": start,
                "end_date": end,
            }
        )
    frame = pl.DataFrame(
        rows,
        schema={
            schema.PSEUDONYM: pl.String,
            schema.STATUS: schema.STATUS_DTYPE,
            schema.PROVIDER: pl.String,
            "care_form": pl.String,
            "financing": pl.String,
            "product_category": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
        },
    )
    key = [schema.PSEUDONYM, schema.PROVIDER, "care_form", "financing", "start_date"]
    return pl.concat(
        [
            frame.filter(pl.col(schema.STATUS) == "valid").unique(
                subset=key, keep="first", maintain_order=True
            ),
            frame.filter(pl.col(schema.STATUS) != "valid"),
        ]
    )


def delivered(episodes: pl.DataFrame, label: str, provider: str, *, costs: bool) -> pl.DataFrame:
    """What ``provider`` delivers for ``label``: its episodes in care then, as known then."""
    period = parse_period(label)
    start, end = pl.col("start_date"), pl.col("end_date")
    active = (start <= period.end) & (end.is_null() | (end >= period.start))
    rows = episodes.filter((pl.col(schema.PROVIDER) == provider) & active)
    if costs:
        first = pl.max_horizontal(start, pl.lit(period.start))
        last = pl.min_horizontal(end.fill_null(pl.lit(period.end)), pl.lit(period.end))
        days = (last - first).dt.total_days() + 1
        rows = rows.with_columns(days.cast(pl.Float64).mul(10.0).alias("cost"))
    return rows.with_columns(pl.when(end > period.end).then(None).otherwise(end).alias("end_date"))


def adversarial_store(folder: Path, seed: int, *, costs: bool) -> tuple[Path, Path]:
    """A store of four years (and a correction of 2023 that replaces provider C's year) and
    the linked file of the same deliveries (without the correction)."""
    episodes = adversarial_episodes(seed)
    store, everything = folder / "store", []
    for year in YEARS:
        batch = []
        for provider in "ABC":
            halves = [f"{year.label}H1", f"{year.label}H2"]
            for label in halves if provider == "B" else [year.label]:
                rows = delivered(episodes, label, provider, costs=costs)
                if provider == "C" and label == "2022":
                    rows = rows.drop("product_category")
                if provider == "A" and label == "2021":
                    rows = pl.concat([rows, rows.head(3)])
                if rows.height:
                    path = write_delivery(folder, f"{provider}-{label}.parquet", rows)
                    batch.append((path, label))
        append_to_store(store, [path for path, _ in batch], periods=dict(batch))
        everything.extend(batch)
    fix = delivered(episodes, "2023", "C", costs=costs).with_row_index("i")
    fix = fix.filter(pl.col("i") % 3 != 0).drop("i")
    path = write_delivery(folder, "fix-C-2023.parquet", fix)
    append_to_store(store, [path], periods={path: "2023"}, replace=True)
    linked = folder / "linked.parquet"
    link([path for path, _ in everything], linked, periods=dict(everything))
    return store, linked


@pytest.fixture(scope="module")
def without_costs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return adversarial_store(tmp_path_factory.mktemp("no-bsn"), 5, costs=False)


def test_rows_without_a_pseudonym_spread_evenly_and_each_is_in_one_partition() -> None:
    rows = pl.DataFrame(
        {
            schema.PSEUDONYM: [pseudonym(n) if n % 3 else None for n in range(3000)],
            "n": range(3000),
        }
    )
    parts = [in_partition(rows.lazy(), (index, 7)).collect() for index in range(7)]
    # every row in exactly one partition
    assert sorted(pl.concat(parts)["n"].to_list()) == list(range(3000))
    without = [part[schema.PSEUDONYM].null_count() for part in parts]
    assert max(without) - min(without) <= 1  # a thousand rows over seven partitions
    sizes = [part.height for part in parts]
    assert max(sizes) / (sum(sizes) / 7) < 1.15
    # read again, the same rows go to the same partitions
    again = [in_partition(rows.lazy(), (index, 7)).collect() for index in range(7)]
    for first, second in zip(parts, again, strict=True):
        assert_frame_equal(first, second)
    # a client's rows stay together, whatever their row numbers
    placed = rows.with_columns(client_partition(7, pl.col("n")))
    per_client = placed.filter(pl.col(schema.PSEUDONYM).is_not_null())
    expected = [int(text[:16], 16) % 7 for text in per_client[schema.PSEUDONYM]]
    assert per_client[PARTITION].to_list() == expected


def test_a_store_s_rows_without_bsn_are_balanced_over_partitions(
    without_costs: tuple[Path, Path],
) -> None:
    store = open_store(without_costs[0])
    whole = scan_store(store).frame.collect()
    parts = [scan_store(store, part=(index, 4)).frame.collect() for index in range(4)]
    # the rules across parts give the same rows, read whole or a partition at a time
    assert sum(part.height for part in parts) == whole.height
    without = [part[schema.PSEUDONYM].null_count() for part in parts]
    assert sum(without) == whole[schema.PSEUDONYM].null_count() > 100
    mean = sum(without) / 4
    assert max(without) < 1.5 * mean
    assert min(without) > 0.5 * mean


@pytest.mark.parametrize("which", ["store", "linked"])
def test_many_rows_without_bsn_give_the_one_pass_figures(
    without_costs: tuple[Path, Path], which: str
) -> None:
    source = without_costs[0] if which == "store" else without_costs[1]
    assert_same(few_figures(source, 1, "care_form"), few_figures(source, 4, "care_form"))


@pytest.mark.slow
@pytest.mark.parametrize("costs", [False, True])
@pytest.mark.parametrize("seed", [5, 8])
def test_many_rows_without_bsn_give_the_one_pass_figures_all(
    tmp_path: Path, seed: int, costs: bool
) -> None:
    store, linked = adversarial_store(tmp_path, seed, costs=costs)
    for source in (store, linked):
        one_pass = figures(source, 1, "care_form")
        for partitions in (2, 5, 13):
            assert_same(one_pass, figures(source, partitions, "care_form"))


def test_a_linked_file_is_hashed_once_however_many_partitions(
    without_costs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    linked = without_costs[1]
    calls: list[Path] = []
    real = overlap.file_sha256

    def counted(path: Path) -> str:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(overlap, "file_sha256", counted)
    parts = open_partitions(linked, 6, where="series")
    assert len(parts) == 6
    assert calls == [linked]
    assert sum(part.frame.collect().height for part in parts) == pl.read_parquet(linked).height
    calls.clear()
    series(linked, YEARS, partitions=6)
    assert calls == [linked]
