"""Tests of factlab.costs and the ``factlab costs`` command.

Synthetic data only: pseudonyms are SHA-256 digests of made-up client ids, no BSN is involved.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import factlab.cli.analysis  # noqa: F401  (registers the analysis commands on `main`)
from factlab import schema
from factlab.analysis.costs import costs
from factlab.cli import main
from factlab.errors import ConfigError, DataError, InputError
from factlab.io import write_parquet
from factlab.manifest import Manifest
from factlab.periods import Period, parse_period

PROVIDERS = ("P1", "P2", "P3", "P4")
MUNICIPALITIES = ("Assen", "Emmen", "Hoogeveen")


def pseudonym(client: int) -> str:
    return hashlib.sha256(f"synthetic-client-{client}".encode()).hexdigest()[:32]


def linked_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows of a linked file; ``client`` None means the row has no valid BSN."""
    return pl.DataFrame(
        {
            "pseudonym": [None if r["client"] is None else pseudonym(r["client"]) for r in records],
            "bsn_status": pl.Series(
                ["valid" if r["client"] is not None else "sentinel" for r in records],
                dtype=schema.STATUS_DTYPE,
            ),
            "provider": [r["provider"] for r in records],
            "municipality": [r.get("municipality") for r in records],
            "start_date": pl.Series([r.get("start") for r in records], dtype=pl.Date),
            "end_date": pl.Series([r.get("end") for r in records], dtype=pl.Date),
            "cost": pl.Series([r.get("cost") for r in records], dtype=pl.Float64),
        }
    )


def write_linked(frame: pl.DataFrame, path: Path) -> Path:
    manifest = Manifest(
        format=schema.FORMAT_LINKED,
        scheme=schema.SCHEME,
        round="test-round",
        key_id="test-key",
        key_fingerprint="0" * 16,
        rows=frame.height,
        rows_by_status={"valid": frame.height},
        provider=None,
    )
    write_parquet(frame, path, manifest)
    return path


def seeded_records(seed: int, clients: int = 250) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for client in [*range(clients), *([None] * 25)]:
        for _ in range(rng.randint(1, 3)):
            start = date(2023, 1, 1) + timedelta(days=rng.randint(0, 700))
            records.append(
                {
                    "client": client,
                    "provider": rng.choice(PROVIDERS),
                    "municipality": rng.choice(MUNICIPALITIES),
                    "start": start,
                    "end": None if rng.random() < 0.3 else start + timedelta(days=90),
                    "cost": None if rng.random() < 0.1 else float(rng.randint(100, 20_000)),
                }
            )
    rng.shuffle(records)
    return records


def active(record: dict[str, Any], period: Period) -> bool:
    return record["start"] <= period.end and (
        record["end"] is None or record["end"] >= period.start
    )


def oracle(records: list[dict[str, Any]]) -> dict[str, Any]:
    linked = [r for r in records if r["client"] is not None]
    total = sum(r["cost"] for r in linked if r["cost"] is not None)
    with_cost = {r["client"] for r in linked if r["cost"] is not None}
    return {
        "rows": len(records),
        "total_cost": total,
        "unique_clients": len({r["client"] for r in linked}),
        "clients_with_cost": len(with_cost),
        "cost_per_client": total / len(with_cost) if with_cost else None,
        "rows_null_cost": sum(r["cost"] is None for r in records),
        "rows_without_valid_bsn": len(records) - len(linked),
        "cost_without_valid_bsn": sum(
            r["cost"] for r in records if r["client"] is None and r["cost"] is not None
        ),
    }


def check_against_oracle(table: pl.DataFrame, records: list[dict[str, Any]]) -> None:
    for row in table.iter_rows(named=True):
        dimension, value = row.pop("dimension"), row.pop("value")
        subset = records if dimension == "total" else [r for r in records if r[dimension] == value]
        expected = oracle(subset)
        assert row.keys() == expected.keys()
        for name, wanted in expected.items():
            if isinstance(wanted, float):
                assert row[name] == pytest.approx(wanted), (dimension, value, name)
            else:
                assert row[name] == wanted, (dimension, value, name)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_oracle_per_provider_and_municipality(seed: int) -> None:
    records = seeded_records(seed)
    result = costs(linked_frame(records))
    assert result.table["dimension"].unique(maintain_order=True).to_list() == [
        "total",
        "provider",
        "municipality",
    ]
    assert set(result.table.filter(pl.col("dimension") == "provider")["value"]) == set(PROVIDERS)
    check_against_oracle(result.table, records)
    assert result.rows_null_cost == sum(r["cost"] is None for r in records)
    assert sum(result.rows_without_valid_bsn.values()) == sum(r["client"] is None for r in records)
    assert result.rows_without_valid_bsn["sentinel"] > 0


def test_period_restricts_rows() -> None:
    records = seeded_records(4)
    period = parse_period("2024H1")
    result = costs(linked_frame(records), by=["provider"], period=period)
    check_against_oracle(result.table, [r for r in records if active(r, period)])
    assert result.metadata()["parameters"]["period"]["label"] == "2024H1"


def test_known_figures_and_a_provider_without_costs() -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "municipality": "Assen", "cost": 1000.0},
        {"client": 1, "provider": "P1", "municipality": "Emmen", "cost": 500.0},
        {"client": 2, "provider": "P1", "municipality": "Assen", "cost": None},
        {"client": 1, "provider": "P2", "municipality": "Assen", "cost": None},
        {"client": None, "provider": "P2", "municipality": "Assen", "cost": 300.0},
    ]
    table = costs(linked_frame(records)).table
    columns = [
        "value",
        "total_cost",
        "unique_clients",
        "clients_with_cost",
        "cost_per_client",
        "rows_null_cost",
        "rows_without_valid_bsn",
        "cost_without_valid_bsn",
    ]
    assert table.select(columns).rows() == [
        (None, 1500.0, 2, 1, 1500.0, 2, 1, 300.0),
        ("P1", 1500.0, 2, 1, 1500.0, 1, 0, 0.0),
        ("P2", 0.0, 1, 0, None, 1, 1, 300.0),
        ("Assen", 1000.0, 2, 1, 1000.0, 2, 1, 300.0),
        ("Emmen", 500.0, 1, 1, 500.0, 0, 0, 0.0),
    ]


def test_integer_costs_and_custom_dimensions() -> None:
    records = seeded_records(5)
    frame = linked_frame(records).with_columns(pl.col("cost").round().cast(pl.Int64))
    result = costs(frame, by=["municipality"])
    assert result.by == ("municipality",)
    assert result.table.filter(pl.col("dimension") == "provider").height == 0
    check_against_oracle(result.table, records)


def test_errors() -> None:
    frame = linked_frame(seeded_records(6))
    with pytest.raises(InputError, match="cost"):
        costs(frame.drop("cost"))
    with pytest.raises(InputError, match="municipality"):
        costs(frame.drop("municipality"))
    with pytest.raises(DataError, match="cost"):
        costs(frame.with_columns(pl.col("cost").cast(pl.String)))
    with pytest.raises(ConfigError, match="pseudonym"):
        costs(frame, by=["pseudonym"])
    with pytest.raises(ConfigError, match="not both"):
        costs(frame, period=parse_period("2024"), on=date(2024, 1, 1))


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (-5.0, "1 row negative"),
        (-0.01, "1 row negative"),
        (1e300, "1 row above 1,000,000,000"),
        (1_000_000_000.01, "1 row above 1,000,000,000"),
        (float("inf"), "1 row above 1,000,000,000"),
        (float("-inf"), "1 row negative"),
        (float("nan"), "1 row not a number"),
    ],
)
def test_implausible_costs_are_refused_with_counts(bad: float, kind: str) -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "municipality": "Assen", "cost": 1000.0},
        {"client": 2, "provider": "P2", "municipality": "Emmen", "cost": bad},
    ]
    with pytest.raises(DataError, match="column cost") as raised:
        costs(linked_frame(records))
    assert kind in str(raised.value)


def test_every_kind_of_implausible_cost_is_counted_at_once() -> None:
    bad = [-5.0, -1.0, 1e300, float("inf"), float("nan"), 1e12]
    records: list[dict[str, Any]] = [
        {"client": index, "provider": "P1", "municipality": "Assen", "cost": cost}
        for index, cost in enumerate([*bad, 100.0, None])
    ]
    with pytest.raises(DataError) as raised:
        costs(linked_frame(records))
    message = str(raised.value)
    assert "2 rows negative" in message
    assert "3 rows above 1,000,000,000" in message
    assert "1 row not a number (NaN)" in message
    assert "1e+300" not in message  # counts, never values
    assert "-5" not in message


def test_the_largest_plausible_cost_and_zero_are_summed() -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "municipality": "Assen", "cost": 1_000_000_000.0},
        {"client": 2, "provider": "P1", "municipality": "Assen", "cost": 0.0},
    ]
    total = costs(linked_frame(records), by=["provider"]).table.row(0, named=True)
    assert total["total_cost"] == 1_000_000_000.0


def test_only_rows_in_scope_are_checked() -> None:
    """A credit note of another period is not summed, so it does not stop this period's costs."""
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "cost": 100.0, "start": date(2024, 2, 1), "end": None},
        {
            "client": 2,
            "provider": "P1",
            "cost": -5.0,
            "start": date(2022, 1, 1),
            "end": date(2022, 3, 1),
        },
    ]
    frame = linked_frame(records)
    assert costs(frame, by=["provider"], period=parse_period("2024")).table["total_cost"][0] == 100
    with pytest.raises(DataError, match="negative"):
        costs(frame, by=["provider"])


def test_cli_refuses_implausible_costs_in_one_line(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [
        {"client": 1, "provider": "P1", "municipality": "Assen", "cost": -5.0},
        {"client": 2, "provider": "P1", "municipality": "Assen", "cost": 1e300},
    ]
    linked = write_linked(linked_frame(records), tmp_path / "linked.parquet")
    result = run("costs", linked, "--out", tmp_path / "c.csv")
    assert result.exit_code == DataError.exit_code
    assert "1 row negative" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "c.csv").exists()


def test_does_not_change_its_input() -> None:
    frame = linked_frame(seeded_records(7))
    copy = frame.clone()
    costs(frame, period=parse_period("2024"))
    assert frame.equals(copy)


# --- command line ---------------------------------------------------------------------------


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_cli_writes_costs(tmp_path: Path, suffix: str) -> None:
    records = seeded_records(8)
    linked = write_linked(linked_frame(records), tmp_path / "linked.parquet")
    out = tmp_path / f"costs{suffix}"
    result = run("costs", linked, "--out", out)
    assert result.exit_code == 0, result.output
    assert "null cost" in result.output
    if suffix == ".csv":
        table = pl.read_csv(out, schema_overrides={"value": pl.String})
        metadata = json.loads((tmp_path / "costs.csv.meta.json").read_text())
    elif suffix == ".parquet":
        table = pl.read_parquet(out)
        metadata = json.loads(pq.read_metadata(out).metadata[b"factlab.analysis"])
    else:
        document = json.loads(out.read_text())
        table, metadata = pl.DataFrame(document["rows"]), document["metadata"]
    check_against_oracle(table, records)
    assert metadata["kind"] == "factlab-costs"
    assert metadata["exact"] is True
    assert "not for publication" in metadata["notice"].lower()
    assert metadata["rows_null_cost"] == sum(r["cost"] is None for r in records)
    assert metadata["source"]["key_fingerprint"] == "0" * 16
    text = out.read_bytes()
    assert not any(pseudonym(client).encode() in text for client in range(250))


def test_cli_by_option(tmp_path: Path) -> None:
    linked = write_linked(linked_frame(seeded_records(9)), tmp_path / "linked.parquet")
    out = tmp_path / "costs.parquet"
    result = run("costs", linked, "--by", "provider", "--on", "2024-01-01", "--out", out)
    assert result.exit_code == 0, result.output
    assert set(pl.read_parquet(out)["dimension"]) == {"total", "provider"}


@pytest.mark.parametrize(
    ("frame_change", "args", "code"),
    [
        ("drop_cost", ["--out", "{tmp}/c.csv"], 3),
        ("text_cost", ["--out", "{tmp}/c.csv"], 6),
        (None, ["--by", "bsn_status", "--out", "{tmp}/c.csv"], 4),
        (None, ["--period", "2024", "--on", "2024-01-01", "--out", "{tmp}/c.json"], 4),
        (None, ["--out", "{tmp}/c"], 4),
    ],
)
def test_cli_errors_write_nothing(
    tmp_path: Path, frame_change: str | None, args: list[str], code: int
) -> None:
    frame = linked_frame(seeded_records(10))
    if frame_change == "drop_cost":
        frame = frame.drop("cost")
    elif frame_change == "text_cost":
        frame = frame.with_columns(pl.col("cost").cast(pl.String))
    linked = write_linked(frame, tmp_path / "linked.parquet")
    result = run("costs", linked, *(arg.format(tmp=tmp_path) for arg in args))
    assert result.exit_code == code, result.output
    assert "factlab: error:" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["linked.parquet"]
