"""A missing product category does not make a second episode when it is unambiguous (#19)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from click.testing import CliRunner
from delivery_helpers import day, delivery_rows, episodes_frame, pseudonym, write_delivery

import factlab.cli.trusted  # noqa: F401  (registers the commands on factlab.cli.main)
from factlab.analysis.counts import count
from factlab.analysis.link import link
from factlab.cli import main
from factlab.periods import parse_period

EPISODES = episodes_frame(
    [
        (1, "A", "ambulant", day("2023-03-01"), day("2024-05-31")),  # in both years
        (2, "A", "ambulant", day("2023-06-01"), None),  # ongoing through both
        (3, "A", "verblijf", day("2024-02-01"), None),  # only 2024
    ]
)
CATEGORIES = {pseudonym(1): "45", pseudonym(2): "40", pseudonym(3): "44"}


def _with_category(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        pl.col("pseudonym").replace_strict(CATEGORIES, default=None).alias("product_category")
    )


def _deliveries(folder: Path, first: pl.DataFrame, second: pl.DataFrame) -> Path:
    a23 = write_delivery(folder, "a23.parquet", first)
    a24 = write_delivery(folder, "a24.parquet", second)
    linked = folder / "linked.parquet"
    link([a23, a24], linked, periods={a23: "2023", a24: "2024"})
    return linked


def test_a_year_delivered_without_the_column_makes_no_second_episode(tmp_path: Path) -> None:
    """Before the fix clients 1 and 2 were two episodes (registrations) each in 2024."""
    first = delivery_rows(EPISODES, parse_period("2023"), "A")  # no product_category column
    second = _with_category(delivery_rows(EPISODES, parse_period("2024"), "A"))
    linked = _deliveries(tmp_path, first, second)
    rows = pl.read_parquet(linked)
    assert rows.height == 3  # one row per episode
    assert dict(rows.select("pseudonym", "product_category").iter_rows()) == CATEGORIES
    counted = count(linked, period="2024")
    assert (counted.registrations, counted.trajectories, counted.unique_clients) == (3, 3, 3)
    from factlab.manifest import read_manifest

    report = read_manifest(linked).extra["duplicate_episodes"]["A"]
    assert report["categories_taken"] == 2  # the 2023 rows of clients 1 and 2
    assert report["categories_ambiguous"] == 0
    assert report["episodes_repeated"] == 2


def test_the_newest_delivery_without_a_category_keeps_the_named_one(tmp_path: Path) -> None:
    first = _with_category(delivery_rows(EPISODES, parse_period("2023"), "A"))
    second = delivery_rows(EPISODES, parse_period("2024"), "A")
    rows = pl.read_parquet(_deliveries(tmp_path, first, second))
    assert rows.height == 3
    named = dict(rows.select("pseudonym", "product_category").iter_rows())
    assert named == {pseudonym(1): "45", pseudonym(2): "40", pseudonym(3): None}
    # the newest delivery's end date is kept: client 1 ended in 2024
    ends = dict(rows.select("pseudonym", "end_date").iter_rows())
    assert ends[pseudonym(1)] == day("2024-05-31")


def test_several_named_categories_leave_the_row_apart(tmp_path: Path) -> None:
    """Client 2 is delivered in 2023 as two products (40 and 41, same start): the 2024 row
    without a category could be either, so it stays an episode of its own, and is counted."""
    first = _with_category(delivery_rows(EPISODES, parse_period("2023"), "A"))
    other = first.filter(pl.col("pseudonym") == pseudonym(2)).with_columns(
        pl.lit("41").alias("product_category")
    )
    first = pl.concat([first, other])
    second = delivery_rows(EPISODES, parse_period("2024"), "A")
    linked = _deliveries(tmp_path, first, second)
    rows = pl.read_parquet(linked)
    of_two = rows.filter(pl.col("pseudonym") == pseudonym(2))
    assert sorted(of_two["product_category"].to_list(), key=str) == ["40", "41", None]
    from factlab.manifest import read_manifest

    report = read_manifest(linked).extra["duplicate_episodes"]["A"]
    assert (report["categories_taken"], report["categories_ambiguous"]) == (1, 1)


def test_two_rows_of_one_delivery_are_never_made_one(tmp_path: Path) -> None:
    """In one delivery a row with and one without a category are two registrations."""
    first = _with_category(delivery_rows(EPISODES, parse_period("2023"), "A"))
    twin = first.filter(pl.col("pseudonym") == pseudonym(2)).with_columns(
        pl.lit(None, dtype=pl.String).alias("product_category")
    )
    first = pl.concat([first, twin])
    second = _with_category(delivery_rows(EPISODES, parse_period("2024"), "A"))
    rows = pl.read_parquet(_deliveries(tmp_path, first, second))
    of_two = rows.filter(pl.col("pseudonym") == pseudonym(2))
    assert sorted(of_two["product_category"].to_list(), key=str) == ["40", None]


def test_link_prints_what_it_took(tmp_path: Path) -> None:
    first = delivery_rows(EPISODES, parse_period("2023"), "A")
    second = _with_category(delivery_rows(EPISODES, parse_period("2024"), "A"))
    a23 = write_delivery(tmp_path, "a23.parquet", first)
    a24 = write_delivery(tmp_path, "a24.parquet", second)
    out = tmp_path / "linked.parquet"
    result = CliRunner().invoke(
        main,
        [
            "link",
            str(a23),
            str(a24),
            "--out",
            str(out),
            f"--period={a23}=2023",
            f"--period={a24}=2024",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "provider A: 2 row(s) without a product category took the one" in result.output
