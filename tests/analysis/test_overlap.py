"""Tests of factlab.overlap and the ``factlab overlap`` command.

Synthetic data only: pseudonyms are SHA-256 digests of made-up client ids, no BSN is involved.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import factlab.cli.analysis  # noqa: F401  (registers the analysis commands on `main`)
from factlab import schema
from factlab.analysis.overlap import overlap, restrict_time, scan_linked
from factlab.cli import main
from factlab.errors import ConfigError, DataError, InputError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import active_in, parse_period

PROVIDERS = ("P1", "P2", "P3", "P4", "P5")
CARE_FORMS = ("ambulant", "dagbehandeling", "verblijf", "JB/JR")
INVALID = ("missing", "sentinel", "bad_length", "non_digit", "checksum")


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"synthetic-client-{client}".encode()).hexdigest()[:32]


def linked_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows of a linked file; ``client`` None means the row has no valid BSN."""
    return pl.DataFrame(
        {
            "pseudonym": [None if r["client"] is None else pseudonym(r["client"]) for r in records],
            "bsn_status": pl.Series(
                [
                    r.get("status", "valid" if r["client"] is not None else "missing")
                    for r in records
                ],
                dtype=schema.STATUS_DTYPE,
            ),
            "provider": [r["provider"] for r in records],
            "care_form": [r.get("care_form") for r in records],
            "start_date": pl.Series([r.get("start") for r in records], dtype=pl.Date),
            "end_date": pl.Series([r.get("end") for r in records], dtype=pl.Date),
        }
    )


def write_linked(frame: pl.DataFrame, path: Path, *, fmt: str = schema.FORMAT_LINKED) -> Path:
    counts = frame.group_by(pl.col("bsn_status").cast(pl.String)).len()
    by_status = dict.fromkeys(schema.STATUSES, 0)
    by_status.update(dict(counts.iter_rows()))
    manifest = Manifest(
        format=fmt,
        scheme=schema.SCHEME,
        round="test-round",
        key_id="test-key",
        key_fingerprint="0" * 16,
        rows=frame.height,
        rows_by_status=by_status,
        provider=None if fmt == schema.FORMAT_LINKED else "P1",
    )
    write_parquet(frame, path, manifest)
    return path


def seeded_records(seed: int, clients: int = 300) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for client in range(clients):
        for provider in rng.sample(PROVIDERS, k=rng.choice((1, 1, 1, 2, 2, 3))):
            for _ in range(rng.randint(1, 2)):
                start = date(2023, 1, 1) + timedelta(days=rng.randint(-400, 700))
                end = None if rng.random() < 0.3 else start + timedelta(days=rng.randint(0, 300))
                records.append(
                    {
                        "client": client,
                        "provider": provider,
                        "care_form": rng.choice(CARE_FORMS),
                        "start": None if rng.random() < 0.05 else start,
                        "end": end,
                    }
                )
    for _ in range(40):
        records.append(
            {
                "client": None,
                "status": rng.choice(INVALID),
                "provider": rng.choice(PROVIDERS),
                "care_form": rng.choice(CARE_FORMS),
                "start": date(2023, 6, 1),
                "end": None,
            }
        )
    rng.shuffle(records)
    return records


def in_period(record: dict[str, Any], start: date, end: date) -> bool:
    return (record["start"] is None or record["start"] <= end) and (
        record["end"] is None or record["end"] >= start
    )


def oracle_matrix(records: list[dict[str, Any]], by: str) -> dict[tuple[Any, Any], int]:
    clients: dict[Any, set[int]] = defaultdict(set)
    values = set()
    for record in records:
        values.add(record[by])
        if record["client"] is not None:
            clients[record[by]].add(record["client"])
    return {(a, b): len(clients[a] & clients[b]) for a in values for b in values}


def as_dict(matrix: pl.DataFrame, by: str) -> dict[tuple[Any, Any], int]:
    rows = matrix.select(f"{by}_a", f"{by}_b", "shared_clients").iter_rows()
    return {(a, b): shared for a, b, shared in rows}


def test_known_overlaps() -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1"},
        {"client": 1, "provider": "P2"},
        {"client": 1, "provider": "P2"},
        {"client": 2, "provider": "P1"},
        {"client": 3, "provider": "P2"},
        {"client": 3, "provider": "P3"},
        {"client": 4, "provider": "P1"},
        {"client": 4, "provider": "P2"},
        {"client": 4, "provider": "P3"},
        {"client": None, "status": "checksum", "provider": "P4"},
        {"client": None, "status": "missing", "provider": "P1"},
    ]
    result = overlap(linked_frame(records))
    assert result.matrix.columns == ["provider_a", "provider_b", "shared_clients"]
    assert result.matrix.rows() == [
        ("P1", "P1", 3),
        ("P1", "P2", 2),
        ("P1", "P3", 1),
        ("P1", "P4", 0),
        ("P2", "P1", 2),
        ("P2", "P2", 3),
        ("P2", "P3", 2),
        ("P2", "P4", 0),
        ("P3", "P1", 1),
        ("P3", "P2", 2),
        ("P3", "P3", 2),
        ("P3", "P4", 0),
        ("P4", "P1", 0),
        ("P4", "P2", 0),
        ("P4", "P3", 0),
        ("P4", "P4", 0),
    ]
    assert result.unique_clients() == {"P1": 3, "P2": 3, "P3": 2, "P4": 0}
    assert result.rows_used == 9
    assert result.rows_without_valid_bsn == {
        "missing": 1,
        "sentinel": 0,
        "bad_length": 0,
        "non_digit": 0,
        "checksum": 1,
    }
    assert result.left_out_by_value.rows() == [("P1", 1), ("P4", 1)]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("by", ["provider", "care_form"])
def test_matches_set_oracle(seed: int, by: str) -> None:
    records = seeded_records(seed)
    result = overlap(linked_frame(records), by=by)
    assert as_dict(result.matrix, by) == oracle_matrix(records, by)
    assert result.rows_used == sum(r["client"] is not None for r in records)
    assert sum(result.rows_without_valid_bsn.values()) == 40


@pytest.mark.parametrize("seed", [4, 5])
def test_period_and_reference_date_restrict_rows(seed: int) -> None:
    records = seeded_records(seed)
    frame = linked_frame(records)
    period = parse_period("2024H1")
    in_2024h1 = [r for r in records if in_period(r, period.start, period.end)]
    result = overlap(frame, period=period)
    assert as_dict(result.matrix, "provider") == oracle_matrix(in_2024h1, "provider")
    assert sum(result.rows_without_valid_bsn.values()) == sum(
        r["client"] is None for r in in_2024h1
    )
    day = date(2023, 9, 15)
    on_day = [r for r in records if in_period(r, day, day)]
    assert as_dict(overlap(frame, on=day).matrix, "provider") == oracle_matrix(on_day, "provider")


def test_null_value_is_its_own_category() -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "care_form": "ambulant"},
        {"client": 1, "provider": "P1", "care_form": None},
        {"client": 2, "provider": "P1", "care_form": None},
    ]
    result = overlap(linked_frame(records), by="care_form")
    assert as_dict(result.matrix, "care_form") == {
        ("ambulant", "ambulant"): 1,
        ("ambulant", None): 1,
        (None, "ambulant"): 1,
        (None, None): 2,
    }


def test_status_as_plain_string_column() -> None:
    frame = linked_frame(seeded_records(6)).with_columns(pl.col("bsn_status").cast(pl.String))
    expected = overlap(linked_frame(seeded_records(6)))
    assert overlap(frame).matrix.equals(expected.matrix)


def test_does_not_change_its_input() -> None:
    frame = linked_frame(seeded_records(7))
    copy = frame.clone()
    overlap(frame, by="care_form", period=parse_period("2024"))
    assert frame.equals(copy)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 25),
            st.sampled_from(PROVIDERS),
            st.sampled_from(("valid", "valid", "valid", "missing", "checksum")),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_matrix_is_symmetric_with_unique_clients_on_diagonal(
    rows: list[tuple[int, str, str]],
) -> None:
    records: list[dict[str, Any]] = [
        {"client": client if status == "valid" else None, "status": status, "provider": provider}
        for client, provider, status in rows
    ]
    shared = as_dict(overlap(linked_frame(records)).matrix, "provider")
    unique: dict[str, set[int]] = defaultdict(set)
    for record in records:
        if record["client"] is not None:
            unique[record["provider"]].add(record["client"])
    values = {provider for _, provider, _ in rows}
    assert set(shared) == set(itertools.product(values, values))
    for a, b in shared:
        assert shared[a, b] == shared[b, a]
        assert shared[a, b] <= min(shared[a, a], shared[b, b])
    for value in values:
        assert shared[value, value] == len(unique[value])


def test_reads_a_linked_file_and_records_provenance(tmp_path: Path) -> None:
    frame = linked_frame(seeded_records(8))
    path = write_linked(frame, tmp_path / "linked.parquet")
    from_file = overlap(path)
    assert from_file.matrix.equals(overlap(frame).matrix)
    # Categorical values (as a linked file holds them) give the same text tables
    categorical = frame.with_columns(pl.col("provider", "care_form").cast(schema.TEXT_DTYPE))
    for by in ("provider", "care_form"):
        expected, got = overlap(frame, by=by), overlap(categorical, by=by)
        assert got.matrix.equals(expected.matrix)
        assert got.matrix.schema == expected.matrix.schema
        assert got.left_out_by_value.equals(expected.left_out_by_value)
        assert got.left_out_by_value.schema[by] == pl.String()
    assert from_file.source["format"] == schema.FORMAT_LINKED
    assert from_file.source["key_fingerprint"] == "0" * 16
    assert len(from_file.source["sha256"]) == 64
    metadata = from_file.metadata()
    assert metadata["exact"] is True
    assert metadata["internal"] is True
    assert "disclosure control" in metadata["notice"]


def test_refuses_a_file_that_is_not_linked(tmp_path: Path) -> None:
    path = write_linked(
        linked_frame(seeded_records(9)), tmp_path / "p1.parquet", fmt=schema.FORMAT_PSEUDONYMISED
    )
    with pytest.raises(InputError, match="factlab-linked"):
        overlap(path)


def test_missing_and_wrongly_typed_columns() -> None:
    frame = linked_frame(seeded_records(10))
    with pytest.raises(InputError, match="municipality"):
        overlap(frame, by="municipality")
    with pytest.raises(InputError, match="start_date"):
        overlap(frame.drop("start_date"), period=parse_period("2024"))
    with pytest.raises(DataError, match="end_date"):
        overlap(frame.with_columns(pl.col("end_date").cast(pl.String)), on=date(2024, 1, 1))


def test_untyped_empty_column_is_taken_as_its_canonical_type() -> None:
    frame = linked_frame(seeded_records(11)).with_columns(end_date=pl.lit(None))
    assert frame.schema["end_date"] == pl.Null()
    scanned = scan_linked(frame, dates=True)
    assert scanned.frame.collect_schema()["end_date"] == pl.Date()


def test_refuses_identifying_dimensions_and_ambiguous_time() -> None:
    frame = linked_frame(seeded_records(12))
    for column in ("pseudonym", "bsn_status", "cost"):
        with pytest.raises(ConfigError, match=column):
            overlap(frame, by=column)
    with pytest.raises(ConfigError, match="not both"):
        overlap(frame, period=parse_period("2024"), on=date(2024, 1, 1))


def test_restrict_time_is_active_in() -> None:
    frame = linked_frame(seeded_records(13)).lazy()
    period = parse_period("2023Q3")
    assert (
        restrict_time(frame, period=period)
        .collect()
        .equals(frame.filter(active_in(period)).collect())
    )
    assert restrict_time(frame).collect().height == frame.collect().height


# --- command line ---------------------------------------------------------------------------


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_cli_writes_matrix_with_metadata(tmp_path: Path, suffix: str) -> None:
    records = seeded_records(14)
    linked = write_linked(linked_frame(records), tmp_path / "linked.parquet")
    out = tmp_path / f"overlap{suffix}"
    result = run("overlap", linked, "--by", "care_form", "--out", out)
    assert result.exit_code == 0, result.output
    if suffix == ".csv":
        table = pl.read_csv(out)
        metadata = json.loads((tmp_path / "overlap.csv.meta.json").read_text())
    elif suffix == ".parquet":
        table = pl.read_parquet(out)
        metadata = json.loads(pq.read_metadata(out).metadata[b"factlab.analysis"])
    else:
        document = json.loads(out.read_text())
        table, metadata = pl.DataFrame(document["rows"]), document["metadata"]
    assert as_dict(table, "care_form") == oracle_matrix(records, "care_form")
    assert metadata["kind"] == "factlab-overlap"
    assert metadata["exact"] is True
    assert metadata["internal"] is True
    assert metadata["parameters"]["by"] == "care_form"
    assert sum(metadata["rows_without_valid_bsn"].values()) == 40
    text = out.read_bytes()
    assert not any(
        pseudonym(r["client"]).encode() in text for r in records if r["client"] is not None
    )


def test_cli_period_option(tmp_path: Path) -> None:
    records = seeded_records(15)
    linked = write_linked(linked_frame(records), tmp_path / "linked.parquet")
    out = tmp_path / "overlap.parquet"
    assert run("overlap", linked, "--period", "2024", "--out", out).exit_code == 0
    period = parse_period("2024")
    expected = oracle_matrix(
        [r for r in records if in_period(r, period.start, period.end)], "provider"
    )
    assert as_dict(pl.read_parquet(out), "provider") == expected


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--out", "{tmp}/o.txt"], 4),
        (["--by", "pseudonym", "--out", "{tmp}/o.csv"], 4),
        (["--by", "municipality", "--out", "{tmp}/o.csv"], 3),
        (["--period", "2024", "--on", "2024-01-01", "--out", "{tmp}/o.csv"], 4),
        (["--period", "last year", "--out", "{tmp}/o.csv"], 4),
        (["--on", "2024-13-01", "--out", "{tmp}/o.csv"], 4),
        (["--out", "{tmp}/no-such-folder/o.csv"], 3),
    ],
)
def test_cli_errors_write_nothing(tmp_path: Path, args: list[str], code: int) -> None:
    linked = write_linked(linked_frame(seeded_records(16)), tmp_path / "linked.parquet")
    result = run("overlap", linked, *(arg.format(tmp=tmp_path) for arg in args))
    assert result.exit_code == code, result.output
    assert "factlab: error:" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["linked.parquet"]


def test_cli_input_errors(tmp_path: Path) -> None:
    missing = run("overlap", tmp_path / "absent.parquet", "--out", tmp_path / "o.csv")
    assert missing.exit_code == 3
    provider_file = write_linked(
        linked_frame(seeded_records(17)), tmp_path / "p.parquet", fmt=schema.FORMAT_PSEUDONYMISED
    )
    wrong = run("overlap", provider_file, "--out", tmp_path / "o.csv")
    assert wrong.exit_code == 3
    assert "factlab-linked" in wrong.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["p.parquet"]


@pytest.mark.parametrize("by", ["bsn", "fallback_pseudonym", "note"])
def test_no_analysis_groups_by_a_column_a_linked_file_should_not_hold(
    tmp_path: Path, by: str
) -> None:
    """A linked file from elsewhere may hold a raw ``bsn``: it must never become a row label."""
    from factlab.analysis.costs import costs
    from factlab.analysis.flows import flows

    bsn = "999993653"  # synthetic, test range
    rows = pl.DataFrame(
        {
            "pseudonym": [pseudonym(1), pseudonym(1)],
            "bsn_status": ["valid", "valid"],
            "provider": ["P1", "P2"],
            "start_date": [date(2024, 1, 1), date(2025, 1, 1)],
            "end_date": [None, None],
            "cost": [1.0, 2.0],
            by: [bsn, bsn],
        }
    )
    runs = [
        lambda: overlap(rows, by=by),
        lambda: costs(rows, by=[by]),
        lambda: flows(rows, "2024", "2025", by=by),
    ]
    for run in runs:
        with pytest.raises(ConfigError, match="cannot be used as a dimension") as caught:
            run()
        assert bsn not in str(caught.value)


def test_every_analysis_names_a_damaged_linked_file(tmp_path: Path) -> None:
    """A damaged data page: one InputError naming the file, not polars' error (issue 14, 18)."""
    from factlab.analysis.costs import costs
    from factlab.analysis.counts import count
    from factlab.analysis.flows import flows

    rows = 3000
    frame = pl.DataFrame(
        {
            "pseudonym": [pseudonym(n % 1000) for n in range(rows)],
            "bsn_status": pl.Series(["valid"] * rows, dtype=schema.STATUS_DTYPE),
            "provider": pl.Series(["P1", "P2", "P3"] * (rows // 3), dtype=schema.TEXT_DTYPE),
            "care_form": pl.Series(["ambulant", "verblijf"] * (rows // 2), dtype=schema.TEXT_DTYPE),
            "start_date": [date(2024, 1, 1) + timedelta(days=n % 700) for n in range(rows)],
            "end_date": pl.Series([None] * rows, dtype=pl.Date),
            "cost": [1.0] * rows,
        }
    )
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="r",
        key_id="k",
        key_fingerprint="f",
        rows=rows,
        rows_by_status={"valid": rows},
    )
    path = tmp_path / "linked.parquet"
    write_parquet(frame, path, manifest)
    data = bytearray(path.read_bytes())
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    data[4:footer_start] = bytes(footer_start - 4)  # the column chunks; the footer stays
    path.write_bytes(bytes(data))
    runs = [
        lambda: count(path, by=["care_form"]),
        lambda: overlap(path),
        lambda: costs(path, by=["care_form"]),
        lambda: flows(path, "2024", "2025"),
    ]
    for run in runs:
        with pytest.raises(InputError, match=r"linked\.parquet: cannot be read: the Parquet file"):
            run()
