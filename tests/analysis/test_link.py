"""Tests of factlab.link and the ``factlab link`` command (synthetic data only)."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import factlab.cli.trusted  # noqa: F401  (registers the commands on factlab.cli.main)
from factlab import schema
from factlab.analysis.link import SINGLE_STAGE_WARNING, link
from factlab.cli import main
from factlab.errors import DataError, InputError, LinkError
from factlab.io import file_sha256, write_parquet
from factlab.manifest import Manifest, read_manifest

FINGERPRINT = "fp-test-0001"


def pseudonym(person: int) -> str:
    """A 32-hex pseudonym for a synthetic person (test data only, no key involved)."""
    return hashlib.sha256(f"synthetic-person-{person}".encode()).hexdigest()[:32]


def provider_frame(
    provider: str, people: list[int | None], statuses: list[str] | None = None, **fields: Any
) -> pl.DataFrame:
    """Rows of one provider: ``None`` in ``people`` is a row without a valid BSN."""
    if statuses is None:
        statuses = ["valid" if person is not None else "missing" for person in people]
    columns: dict[str, Any] = {
        "pseudonym": [pseudonym(person) if person is not None else None for person in people],
        "bsn_status": pl.Series(statuses, dtype=schema.STATUS_DTYPE),
        "provider": [provider] * len(people),
    }
    for name, values in fields.items():
        dtype = schema.FIELD_DTYPES.get(name)
        columns[name] = pl.Series(values, dtype=dtype) if dtype is not None else values
    return pl.DataFrame(columns)


def deliver(folder: Path, name: str, frame: pl.DataFrame, **overrides: Any) -> Path:
    """Write ``frame`` as a provider file whose manifest tells the truth unless overridden."""
    by_status = dict.fromkeys(schema.STATUSES, 0)
    if "bsn_status" in frame.columns:
        for status, rows in frame.group_by("bsn_status").len().iter_rows():
            by_status[status] = rows
    settings: dict[str, Any] = {
        "format": schema.FORMAT_PSEUDONYMISED,
        "scheme": schema.SCHEME,
        "round": "2025",
        "key_id": "round-2025",
        "key_fingerprint": FINGERPRINT,
        "rows": frame.height,
        "rows_by_status": by_status,
        "provider": frame["provider"][0] if frame.height else None,
    }
    settings.update(overrides)
    path = folder / name
    write_parquet(frame, path, Manifest(**settings))
    return path


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    """Three providers with overlapping clients and different column sets."""
    a = provider_frame(
        "A",
        [1, 2, 3, None],
        ["valid", "valid", "valid", "missing"],
        care_form=["ambulant", "ambulant", "verblijf", "ambulant"],
        birth_year=[2010, 2012, None, 2015],
        start_date=[date(2025, 1, 1), date(2025, 2, 1), None, date(2025, 3, 1)],
    )
    b = provider_frame(
        "B",
        [2, 4, None],
        ["valid", "valid", "sentinel"],
        municipality=["Assen", "Emmen", None],
        cost=[100.0, 250.5, 10.0],
    )
    c = provider_frame("C", [1, 5], financing=["ZIN", "PGB"], domain=["ggz", "lvb"])
    return [
        deliver(tmp_path, "a.parquet", a),
        deliver(tmp_path, "b.parquet", b),
        deliver(tmp_path, "c.parquet", c),
    ]


def test_link_keeps_every_row_and_field(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "linked.parquet"
    manifest = link(three, out)
    linked = pl.read_parquet(out)

    originals = [pl.read_parquet(path) for path in three]
    assert linked.height == sum(frame.height for frame in originals) == manifest.rows == 9
    expected_columns = [
        "provider",
        "pseudonym",
        "bsn_status",
        *[name for name in schema.FIELD_DTYPES if any(name in f.columns for f in originals)],
    ]
    assert linked.columns == expected_columns
    for name, dtype in schema.FIELD_DTYPES.items():
        if name in linked.columns:
            assert linked.schema[name] == dtype, name
    assert linked.schema["bsn_status"] == schema.STATUS_DTYPE
    # Every input row is there, with its own values and null for fields it did not deliver.
    for original in originals:
        provider = original["provider"][0]
        part = linked.filter(pl.col("provider") == provider)
        assert part["pseudonym"].to_list() == original["pseudonym"].to_list()
        for name in linked.columns:
            if name in original.columns:
                assert part[name].cast(pl.String).to_list() == (
                    original[name].cast(pl.String).to_list()
                )
            else:
                assert part[name].null_count() == part.height, (provider, name)


def test_files_with_text_columns_link_like_categorical_ones(
    three: list[Path], tmp_path: Path
) -> None:
    # Earlier versions wrote the text fields and the provider as String columns; such files
    # link to the same rows, with the linked file's Categorical dtypes.
    (tmp_path / "as_text").mkdir()
    as_text = []
    for path in three:
        frame = pl.read_parquet(path).with_columns(pl.col(pl.Categorical).cast(pl.String))
        as_text.append(deliver(tmp_path / "as_text", path.name, frame))
    assert any(pl.read_parquet(path).schema.get("care_form") == pl.String() for path in as_text)
    link(three, tmp_path / "linked.parquet")
    link(as_text, tmp_path / "linked_from_text.parquet")
    linked = pl.read_parquet(tmp_path / "linked.parquet")
    from_text = pl.read_parquet(tmp_path / "linked_from_text.parquet")
    assert from_text.equals(linked)
    assert from_text.schema == linked.schema
    for name in ("provider", "care_form", "municipality", "financing", "domain"):
        assert from_text.schema[name] == schema.TEXT_DTYPE, name


def test_link_manifest(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "linked.parquet"
    returned = link(three, out)
    stored = read_manifest(out)
    assert stored == returned
    assert stored.format == schema.FORMAT_LINKED
    assert stored.provider is None
    assert (stored.scheme, stored.round, stored.key_id, stored.key_fingerprint, stored.stage) == (
        schema.SCHEME,
        "2025",
        "round-2025",
        FINGERPRINT,
        1,
    )
    assert stored.rows_by_status == {
        "valid": 7,
        "missing": 1,
        "sentinel": 1,
        "bad_length": 0,
        "non_digit": 0,
        "checksum": 0,
    }
    assert [entry["provider"] for entry in stored.inputs] == ["A", "B", "C"]
    for entry, path in zip(stored.inputs, three, strict=True):
        source = read_manifest(path)
        assert entry["sha256"] == file_sha256(path)
        assert entry["rows"] == source.rows
        assert entry["rows_by_status"] == source.rows_by_status
        assert entry["created"] == source.created
    assert stored.extra == {"stages": "single-stage", "warning": SINGLE_STAGE_WARNING}
    assert stored.stage == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key_fingerprint", "fp-other-key"),
        ("key_id", "round-2025-b"),
        ("round", "2024"),
        ("scheme", "factlab-hmac-sha256-v0"),
        ("stage", 2),
    ],
)
def test_link_refuses_mixed_keys_rounds_and_schemes(tmp_path: Path, field: str, value: Any) -> None:
    first = deliver(tmp_path, "a.parquet", provider_frame("A", [1, 2]))
    second = deliver(tmp_path, "b.parquet", provider_frame("B", [2, 3]), **{field: value})
    out = tmp_path / "linked.parquet"
    with pytest.raises(LinkError) as caught:
        link([first, second], out)
    message = str(caught.value)
    assert field in message
    assert "a.parquet" in message
    assert "b.parquet" in message
    if field in ("key_fingerprint", "key_id"):
        assert FINGERPRINT not in message
        assert str(value) not in message
    assert not out.exists()
    assert list(tmp_path.glob(".linked*")) == []


def test_link_refuses_foreign_parquet(tmp_path: Path) -> None:
    good = deliver(tmp_path, "a.parquet", provider_frame("A", [1]))
    foreign = tmp_path / "foreign.parquet"
    provider_frame("B", [2]).write_parquet(foreign)
    out = tmp_path / "linked.parquet"
    with pytest.raises(InputError, match=r"foreign\.parquet.*not a factlab file"):
        link([good, foreign], out)
    not_parquet = tmp_path / "text.parquet"
    not_parquet.write_text("pseudonym,bsn_status\n")
    with pytest.raises(InputError, match=r"text\.parquet.*not a Parquet file"):
        link([good, not_parquet], out)
    assert not out.exists()


def test_link_refuses_other_factlab_formats(three: list[Path], tmp_path: Path) -> None:
    linked = tmp_path / "linked.parquet"
    link(three[:2], linked)
    with pytest.raises(LinkError, match=r"linked\.parquet.*factlab-linked"):
        link([three[2], linked], tmp_path / "again.parquet")
    assert not (tmp_path / "again.parquet").exists()


def test_link_refuses_duplicate_provider(tmp_path: Path) -> None:
    first = deliver(tmp_path, "a-jan.parquet", provider_frame("A", [1, 2]))
    other = deliver(tmp_path, "b.parquet", provider_frame("B", [3]))
    second = deliver(tmp_path, "a-feb.parquet", provider_frame("A", [1, 2, 4]))
    out = tmp_path / "linked.parquet"
    with pytest.raises(LinkError, match=r"provider 'A' in \S*a-jan\.parquet, \S*a-feb\.parquet"):
        link([first, other, second], out)
    assert not out.exists()


def test_link_replace_lets_later_delivery_supersede(tmp_path: Path) -> None:
    first = deliver(tmp_path, "a-jan.parquet", provider_frame("A", [1, 2]))
    other = deliver(tmp_path, "b.parquet", provider_frame("B", [3]))
    second = deliver(tmp_path, "a-feb.parquet", provider_frame("A", [5, 6, 7]))
    out = tmp_path / "linked.parquet"
    manifest = link([first, other, second], out, replace=True)
    linked = pl.read_parquet(out)
    assert set(linked["pseudonym"].to_list()) == {pseudonym(person) for person in (3, 5, 6, 7)}
    assert manifest.rows == linked.height == 4
    assert [(entry["provider"], entry["file"]) for entry in manifest.inputs] == [
        ("B", "b.parquet"),
        ("A", "a-feb.parquet"),
    ]
    (superseded,) = manifest.extra["superseded"]
    assert superseded["file"] == "a-jan.parquet"
    assert superseded["provider"] == "A"
    assert superseded["superseded_by"] == "a-feb.parquet"
    assert superseded["sha256"] == file_sha256(first)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"rows": 4}, "has 3 rows, its manifest says 4"),
        (
            {"rows_by_status": {"valid": 3, "missing": 0}},
            "has 2 rows with status valid, its manifest says 3",
        ),
        ({"provider": "Z"}, "name another provider"),
    ],
)
def test_link_refuses_files_that_disagree_with_their_manifest(
    tmp_path: Path, overrides: dict[str, Any], reason: str
) -> None:
    good = deliver(tmp_path, "b.parquet", provider_frame("B", [1]))
    tampered = deliver(tmp_path, "a.parquet", provider_frame("A", [1, 2, None]), **overrides)
    out = tmp_path / "linked.parquet"
    with pytest.raises(LinkError, match=reason):
        link([good, tampered], out)
    assert not out.exists()


def test_link_refuses_pseudonym_on_a_row_without_valid_bsn(tmp_path: Path) -> None:
    frame = provider_frame("A", [1, 2], ["valid", "checksum"])
    path = deliver(tmp_path, "a.parquet", frame)
    with pytest.raises(LinkError, match="does not match their status"):
        link([path], tmp_path / "linked.parquet")


def test_link_refuses_malformed_pseudonyms_without_echoing_them(tmp_path: Path) -> None:
    frame = provider_frame("A", [1]).with_columns(pl.lit("999993653").alias("pseudonym"))
    path = deliver(tmp_path, "a.parquet", frame)
    with pytest.raises(LinkError, match="not 32 hex characters") as caught:
        link([path], tmp_path / "linked.parquet")
    assert "999993653" not in str(caught.value)


def test_link_refuses_missing_columns_and_wrong_dtypes(tmp_path: Path) -> None:
    no_status = provider_frame("A", [1]).drop("bsn_status")
    bad_year = provider_frame("B", [2]).with_columns(pl.lit("2010").alias("birth_year"))
    paths = [
        deliver(tmp_path, "a.parquet", no_status, rows_by_status={}),
        deliver(tmp_path, "b.parquet", bad_year),
    ]
    with pytest.raises(LinkError) as caught:
        link(paths, tmp_path / "linked.parquet")
    message = str(caught.value)
    assert "a.parquet: lacks column(s) bsn_status" in message
    assert "b.parquet: column birth_year has dtype String" in message


def test_a_problem_of_many_files_is_told_once(tmp_path: Path) -> None:
    """Forty files with the same wrong dtypes give one line per problem, not one per file."""
    paths = [
        deliver(
            tmp_path,
            f"p{index:02d}.parquet",
            provider_frame(f"P{index:02d}", [index]).with_columns(
                pl.lit("2010").alias("birth_year"), pl.lit("x").alias("cost")
            ),
        )
        for index in range(1, 41)
    ]
    with pytest.raises(LinkError) as caught:
        link(paths, tmp_path / "linked.parquet")
    message = str(caught.value)
    assert message.count("in 40 files") == 2
    assert "column birth_year has dtype String, not Int16 in 40 files: " in message
    assert "p02.parquet, " in message
    assert "p03.parquet and 37 more" in message
    assert "p04.parquet" not in message
    assert not (tmp_path / "linked.parquet").exists()


def test_link_harmonises_dtypes(tmp_path: Path) -> None:
    wide = provider_frame("A", [1]).with_columns(
        pl.lit(2011, dtype=pl.Int64).alias("birth_year"),
        pl.lit(datetime(2025, 3, 4, 12, 0)).alias("start_date"),
        pl.lit(12, dtype=pl.Int32).alias("cost"),
    )
    narrow = provider_frame("B", [2], birth_year=[2012])
    out = tmp_path / "linked.parquet"
    link([deliver(tmp_path, "a.parquet", wide), deliver(tmp_path, "b.parquet", narrow)], out)
    linked = pl.read_parquet(out)
    assert linked.schema["birth_year"] == pl.Int16
    assert linked.schema["start_date"] == pl.Date
    assert linked.schema["cost"] == pl.Float64
    assert linked["birth_year"].to_list() == [2011, 2012]
    assert linked["start_date"].to_list() == [date(2025, 3, 4), None]


def test_link_reports_values_that_do_not_fit_without_echoing_them(tmp_path: Path) -> None:
    huge = provider_frame("A", [1]).with_columns(pl.lit(70_000, dtype=pl.Int64).alias("birth_year"))
    out = tmp_path / "linked.parquet"
    with pytest.raises(DataError, match="canonical dtype") as caught:
        link([deliver(tmp_path, "a.parquet", huge)], out)
    assert "70000" not in str(caught.value)
    assert not out.exists()


def test_link_refuses_to_overwrite_an_input(three: list[Path]) -> None:
    before = file_sha256(three[0])
    with pytest.raises(LinkError, match="overwrite this input"):
        link(three, three[0])
    assert file_sha256(three[0]) == before


def test_link_needs_files(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="no input files"):
        link([], tmp_path / "linked.parquet")


def test_cli_link(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "linked.parquet"
    result = CliRunner().invoke(main, ["link", *map(str, three), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert read_manifest(out).rows == 9
    assert "linked 3 provider file(s), 9 rows" in result.stderr
    assert result.stdout == ""


def test_cli_link_refusal_exit_code_and_no_output(tmp_path: Path) -> None:
    first = deliver(tmp_path, "a.parquet", provider_frame("A", [1]))
    second = deliver(tmp_path, "b.parquet", provider_frame("B", [2]), round="2024")
    out = tmp_path / "linked.parquet"
    result = CliRunner().invoke(main, ["link", str(first), str(second), "--out", str(out)])
    assert result.exit_code == LinkError.exit_code == 7
    assert result.stderr.strip().startswith("factlab: error: cannot link")
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]


def test_cli_link_replace(tmp_path: Path) -> None:
    first = deliver(tmp_path, "a-1.parquet", provider_frame("A", [1]))
    second = deliver(tmp_path, "a-2.parquet", provider_frame("A", [2, 3]))
    out = tmp_path / "linked.parquet"
    runner = CliRunner()
    refused = runner.invoke(main, ["link", str(first), str(second), "--out", str(out)])
    assert refused.exit_code == 7
    assert not out.exists()
    accepted = runner.invoke(
        main, ["link", str(first), str(second), "--out", str(out), "--replace"]
    )
    assert accepted.exit_code == 0, accepted.output
    assert "superseded: a-1.parquet (provider A) by a-2.parquet" in accepted.stderr
    assert read_manifest(out).rows == 2


# --- row checks in the writing pass (issue #7) ---------------------------------------------------


def test_a_failed_row_check_leaves_no_file_and_keeps_an_existing_one(tmp_path: Path) -> None:
    good = deliver(tmp_path, "b.parquet", provider_frame("B", [1, 2]))
    tampered = deliver(tmp_path, "a.parquet", provider_frame("A", [3, 4]), rows=5)
    out = tmp_path / "linked.parquet"
    with pytest.raises(LinkError, match="has 2 rows, its manifest says 5"):
        link([good, tampered], out)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]
    out.write_bytes(b"an earlier result")
    with pytest.raises(LinkError, match="has 2 rows, its manifest says 5"):
        link([good, tampered], out, replace=True, overwrite=True)
    assert out.read_bytes() == b"an earlier result"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "a.parquet",
        "b.parquet",
        "linked.parquet",
    ]


def test_link_reports_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    malformed = provider_frame("A", [1, 2]).with_columns(
        pl.Series("pseudonym", ["999993653", pseudonym(2)])
    )
    miscounted = provider_frame("B", [3, None])
    paths = [
        deliver(tmp_path, "a.parquet", malformed),
        deliver(tmp_path, "b.parquet", miscounted, rows_by_status={"valid": 2}),
    ]
    with pytest.raises(LinkError) as caught:
        link(paths, tmp_path / "linked.parquet")
    message = str(caught.value)
    assert "a.parquet: 1 pseudonyms are not 32 hex characters" in message
    assert "b.parquet: has 1 rows with status valid, its manifest says 2" in message
    assert "b.parquet: has 1 rows with status missing, its manifest says 0" in message
    assert "999993653" not in message


def test_link_reads_a_status_column_of_text(tmp_path: Path) -> None:
    as_enum = provider_frame("A", [1, None, 2], ["valid", "sentinel", "valid"])
    as_text = as_enum.with_columns(pl.col("bsn_status").cast(pl.String))
    linked_enum = link([deliver(tmp_path, "enum.parquet", as_enum)], tmp_path / "enum-linked.pq")
    linked_text = link([deliver(tmp_path, "text.parquet", as_text)], tmp_path / "text-linked.pq")
    assert linked_text.rows_by_status == linked_enum.rows_by_status
    assert pl.read_parquet(tmp_path / "text-linked.pq").equals(
        pl.read_parquet(tmp_path / "enum-linked.pq")
    )


def test_link_refuses_unknown_status_names(tmp_path: Path) -> None:
    frame = provider_frame("A", [1, 2, None]).with_columns(
        pl.Series("bsn_status", ["valid", "valid", "unheard-of"])
    )
    path = deliver(tmp_path, "a.parquet", frame, rows_by_status={"valid": 2})
    out = tmp_path / "linked.parquet"
    with pytest.raises(LinkError, match=r"a\.parquet: 1 rows have an unknown status") as caught:
        link([path], out)
    assert "unheard-of" not in str(caught.value)
    assert not out.exists()


def test_link_counts_values_that_do_not_fit_per_file_and_column(tmp_path: Path) -> None:
    wide = provider_frame("A", [1, 2, 3]).with_columns(
        pl.Series("birth_year", [70_000, 2010, -40_000], dtype=pl.Int64)
    )
    fitting = provider_frame("B", [4]).with_columns(pl.Series("birth_year", [2011], dtype=pl.Int64))
    paths = [deliver(tmp_path, "a.parquet", wide), deliver(tmp_path, "b.parquet", fitting)]
    out = tmp_path / "linked.parquet"
    with pytest.raises(DataError) as caught:
        link(paths, out)
    message = str(caught.value)
    assert "a.parquet: 2 value(s) of column birth_year do not fit its canonical dtype" in message
    assert "b.parquet" not in message
    assert "70000" not in message
    assert "40000" not in message
    assert not out.exists()


def test_values_that_do_not_fit_in_many_files_are_told_once_per_column(tmp_path: Path) -> None:
    paths = []
    for index in range(5):
        frame = provider_frame(f"P{index}", [10 * index + 1, 10 * index + 2]).with_columns(
            pl.Series("birth_year", [70_000 + index, 2010], dtype=pl.Int64),
            pl.Series("start_date", [datetime(2025, 1, 1), datetime(2025, 2, 1)]),
        )
        paths.append(deliver(tmp_path, f"p{index}.parquet", frame))
    with pytest.raises(DataError) as caught:
        link(paths, tmp_path / "linked.parquet")
    message = str(caught.value)
    assert message.count("birth_year") == 1
    assert "5 value(s) of column birth_year do not fit its canonical dtype Int16" in message
    assert re.search(
        r"p0\.parquet \(1\), \S*p1\.parquet \(1\), \S*p2\.parquet \(1\) and 2 more", message
    )
    assert "start_date" not in message  # a datetime becomes a date: it fits
    assert "70000" not in message


def test_a_manifest_mismatch_is_reported_before_values_that_do_not_fit(tmp_path: Path) -> None:
    both = provider_frame("A", [1]).with_columns(pl.lit(70_000, dtype=pl.Int64).alias("birth_year"))
    path = deliver(tmp_path, "a.parquet", both, rows=2)
    with pytest.raises(LinkError, match="has 1 rows, its manifest says 2"):
        link([path], tmp_path / "linked.parquet")


def test_link_takes_a_provider_file_without_rows(tmp_path: Path) -> None:
    empty = provider_frame("A", []).with_columns(
        pl.col("pseudonym").cast(pl.String), pl.col("provider").cast(pl.String)
    )
    other = provider_frame("B", [1, 2])
    paths = [
        deliver(tmp_path, "a.parquet", empty, provider="A"),
        deliver(tmp_path, "b.parquet", other),
    ]
    manifest = link(paths, tmp_path / "linked.parquet")
    assert manifest.rows == pl.read_parquet(tmp_path / "linked.parquet").height == 2
    assert [entry["rows"] for entry in manifest.inputs] == [0, 2]
    lying = deliver(tmp_path, "a-lying.parquet", empty, provider="A", rows=3)
    with pytest.raises(LinkError, match=r"a-lying\.parquet: has 0 rows, its manifest says 3"):
        link([lying, paths[1]], tmp_path / "again.parquet")


def test_link_refuses_a_column_name_it_reserves(tmp_path: Path) -> None:
    frame = provider_frame("A", [1]).with_columns(pl.lit(7).alias("factlab.link.file"))
    with pytest.raises(LinkError, match=r"column 'factlab\.link\.file' is not a column of a"):
        link([deliver(tmp_path, "a.parquet", frame)], tmp_path / "linked.parquet")


def test_link_refuses_unreadable_rows_with_an_input_error(tmp_path: Path) -> None:
    good = deliver(tmp_path, "b.parquet", provider_frame("B", [1, 2]))
    broken = deliver(tmp_path, "a.parquet", provider_frame("A", list(range(200))))
    data = bytearray(broken.read_bytes())
    # Zero the column chunks between the leading magic bytes and the footer, which stays readable.
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    data[4:footer_start] = bytes(footer_start - 4)
    broken.write_bytes(bytes(data))
    out = tmp_path / "linked.parquet"
    with pytest.raises(
        InputError, match=r"a\.parquet: cannot be read: the Parquet file is damaged"
    ):
        link([good, broken], out)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]


def test_the_linked_file_is_zstd_compressed(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "linked.parquet"
    link(three, out)
    metadata = pq.ParquetFile(out).metadata
    codecs = {
        metadata.row_group(group).column(column).compression
        for group in range(metadata.num_row_groups)
        for column in range(metadata.num_columns)
    }
    assert codecs == {"ZSTD"}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(schema.STATUSES), st.integers(0, 30), st.integers(2000, 2020)
            ),
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_link_rows_are_the_inputs_rows_in_order(
    deliveries: list[list[tuple[str, int, int]]],
) -> None:
    """Oracle: the linked rows are every input's rows, in input order, in plain Python."""
    with tempfile.TemporaryDirectory() as folder:
        paths, expected = [], []
        for number, rows in enumerate(deliveries):
            provider = f"P{number}"
            people = [person if status == "valid" else None for status, person, _ in rows]
            frame = provider_frame(
                provider,
                people,
                [status for status, _, _ in rows],
                birth_year=[year for _, _, year in rows],
            ).with_columns(pl.col("pseudonym").cast(pl.String), pl.col("provider").cast(pl.String))
            paths.append(deliver(Path(folder), f"{provider}.parquet", frame, provider=provider))
            expected += [
                (provider, pseudonym(person) if person is not None else None, status, year)
                for (status, _, year), person in zip(rows, people, strict=True)
            ]
        manifest = link(paths, Path(folder) / "linked.parquet")
        linked = pl.read_parquet(Path(folder) / "linked.parquet")
    assert linked.columns == ["provider", "pseudonym", "bsn_status", "birth_year"]
    assert linked.rows() == expected
    assert manifest.rows == len(expected)
    assert manifest.rows_by_status == {
        status: sum(1 for row in expected if row[2] == status) for status in schema.STATUSES
    }


# --- hostile and damaged inputs (issue 14) ------------------------------------------------------

#: Test-range BSNs that pass the elfproef (synthetic).
BSNS = (999993653, 999991723, 999995078)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("bsn", [BSNS[0], BSNS[1]]),  # a raw BSN column
        ("pseudonym_stage1", [pseudonym(1), pseudonym(2)]),  # a copy of the stage-1 pseudonym
        ("note", ["a", "b"]),  # anything else
    ],
)
def test_link_refuses_columns_a_steward_does_not_write(
    tmp_path: Path, name: str, values: list[Any]
) -> None:
    """Only the pseudonymised file's columns pass stage 2; others are refused, not dropped."""
    good = deliver(tmp_path, "b.parquet", provider_frame("B", [3], care_form=["ambulant"]))
    extra = provider_frame("A", [1, 2]).with_columns(pl.Series(name, values))
    out = tmp_path / "linked.parquet"
    with pytest.raises(LinkError) as caught:
        link([good, deliver(tmp_path, "a.parquet", extra)], out)
    message = str(caught.value)
    assert f"a.parquet: column '{name}' is not a column of a pseudonymised file" in message
    assert "b.parquet" not in message
    assert str(BSNS[0]) not in message
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]


def test_link_hides_a_column_name_that_looks_like_a_bsn(tmp_path: Path) -> None:
    """A file written without a header row has a client's BSN as a column name."""
    extra = provider_frame("A", [1]).with_columns(pl.lit("x").alias(f"{BSNS[0]}"))
    with pytest.raises(LinkError, match="a name that looks like a BSN") as caught:
        link([deliver(tmp_path, "a.parquet", extra)], tmp_path / "linked.parquet")
    assert str(BSNS[0]) not in str(caught.value)


def test_link_keeps_the_fallback_pseudonym_and_refuses_other_values_in_it(tmp_path: Path) -> None:
    fallback = [pseudonym(100), None]
    with_fallback = provider_frame("A", [1, None]).with_columns(
        pl.Series(schema.FALLBACK_PSEUDONYM, fallback)
    )
    without = provider_frame("B", [2])
    paths = [deliver(tmp_path, "a.parquet", with_fallback), deliver(tmp_path, "b.parquet", without)]
    link(paths, tmp_path / "linked.parquet")
    linked = pl.read_parquet(tmp_path / "linked.parquet")
    assert linked.columns == ["provider", "pseudonym", "bsn_status", schema.FALLBACK_PSEUDONYM]
    assert linked[schema.FALLBACK_PSEUDONYM].to_list() == [*fallback, None]

    raw = with_fallback.with_columns(pl.Series(schema.FALLBACK_PSEUDONYM, [None, str(BSNS[0])]))
    out = tmp_path / "raw.parquet"
    with pytest.raises(LinkError, match="1 fallback pseudonyms are not 32 hex") as caught:
        link([deliver(tmp_path, "a-raw.parquet", raw)], out)
    assert str(BSNS[0]) not in str(caught.value)
    assert not out.exists()


@pytest.mark.parametrize(
    "written",
    [
        str(BSNS[0]),
        "9999.93.653",
        "999 993 653",
        "999-993-653",
        " 999993653 ",
        # inside a text, or written with other separators or digits
        "BSN 999993653",
        "'999993653",
        "999,993,653",
        "999/993/653",
        "0999993653",
        "\u0669\u0669\u0669\u0669\u0669\u0663\u0666\u0665\u0663",
    ],
)
def test_link_refuses_bsns_in_a_text_field(tmp_path: Path, written: str) -> None:
    """A BSN column mapped onto a text field too would publish BSNs (issue 14, defect 4)."""
    frame = provider_frame(
        "A",
        [1, 2, 3],
        municipality=[written, written, "Assen"],
        care_form=["ambulant", str(BSNS[1]), "verblijf"],
    )
    good = provider_frame("B", [4], municipality=["Emmen"], care_form=["ambulant"])
    out = tmp_path / "linked.parquet"
    paths = [deliver(tmp_path, "a.parquet", frame), deliver(tmp_path, "b.parquet", good)]
    with pytest.raises(LinkError) as caught:
        link(paths, out)
    message = str(caught.value)
    assert "a.parquet: 2 rows of column municipality hold values that look like BSNs" in message
    assert "a.parquet: 1 rows of column care_form hold values that look like BSNs" in message
    assert "b.parquet" not in message
    for bsn in BSNS:
        assert str(bsn) not in message
    assert written.strip() not in message
    assert not out.exists()


def test_link_refuses_bsns_in_a_text_field_of_text_dtype(tmp_path: Path) -> None:
    """Files of earlier versions, with String text fields, are checked alike."""
    frame = provider_frame("A", [1, 2]).with_columns(
        pl.Series("sex", [str(BSNS[2]), "F"], dtype=pl.String),
        pl.col("provider").cast(pl.String),
    )
    with pytest.raises(LinkError, match="1 rows of column sex hold values that look like BSNs"):
        link([deliver(tmp_path, "a.parquet", frame)], tmp_path / "linked.parquet")


def test_link_takes_digits_that_are_no_bsn(tmp_path: Path) -> None:
    """Numbers that fail the elfproef, sentinels and short codes are ordinary text."""
    values = [str(BSNS[0] + 1), "000000000", "45", "0106"]
    frame = provider_frame("A", [1, 2, 3, 4], product_category=values)
    link([deliver(tmp_path, "a.parquet", frame)], tmp_path / "linked.parquet")
    linked = pl.read_parquet(tmp_path / "linked.parquet")
    assert linked["product_category"].cast(pl.String).to_list() == values


def test_link_refuses_a_provider_code_that_looks_like_a_bsn(tmp_path: Path) -> None:
    frame = provider_frame(str(BSNS[0]), [1])
    with pytest.raises(LinkError, match="provider code looks like a BSN") as caught:
        link([deliver(tmp_path, "a.parquet", frame)], tmp_path / "linked.parquet")
    assert str(BSNS[0]) not in str(caught.value)


@pytest.mark.parametrize("provider", ["P01\n", "P01 ", "", "-P01", "P" * 65, "P01\r\nB"])
def test_link_refuses_provider_codes_that_are_not_codes(tmp_path: Path, provider: str) -> None:
    """A trailing newline made a second provider "P01\\n" (issue 14, defect 14)."""
    good = deliver(tmp_path, "b.parquet", provider_frame("P01", [2]))
    odd = deliver(tmp_path, "a.parquet", provider_frame(provider, [1]), provider=provider)
    with pytest.raises(LinkError) as caught:
        link([good, odd], tmp_path / "linked.parquet")
    message = str(caught.value)
    assert "a.parquet: the manifest" in message
    assert "\n" not in message
    assert "\r" not in message
    assert "b.parquet" not in message


def forge_manifest(path: Path, field: str, value: Any) -> None:
    """Replace one field of the manifest stored in ``path``, as a hostile editor could."""
    table = pq.read_table(path)
    document = json.loads(pq.ParquetFile(path).metadata.metadata[schema.MANIFEST_KEY.encode()])
    document[field] = value
    metadata = {schema.MANIFEST_KEY.encode(): json.dumps(document).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)


FORGED = [
    ("rows", "1500"),
    ("rows", 2.0),
    ("rows", True),
    ("rows", -1),
    ("rows_by_status", "x"),
    ("rows_by_status", {"valid": "2"}),
    ("field_issues", [1]),
    ("field_issues", {"cost": {"unreadable": None}}),
    ("provider", 5),
    ("stage", "1"),
    ("stage", 3),
    ("inputs", "x"),
    ("extra", []),
    ("created", None),
    ("key_fingerprint", {"a": 1}),
]


@pytest.mark.parametrize(("field", "value"), FORGED)
def test_link_refuses_forged_manifests(tmp_path: Path, field: str, value: Any) -> None:
    """Each forged field type is one InputError naming the file and the field (defect 18)."""
    good = deliver(tmp_path, "b.parquet", provider_frame("B", [3]))
    forged = deliver(tmp_path, "a.parquet", provider_frame("A", [1, 2]))
    forge_manifest(forged, field, value)
    out = tmp_path / "linked.parquet"
    with pytest.raises(InputError, match=rf"a\.parquet: damaged factlab manifest: {field} must be"):
        link([good, forged], out)
    assert not out.exists()


def corrupt_the_middle(path: Path) -> None:
    """Overwrite bytes in the middle of the column data; the footer stays readable."""
    data = bytearray(path.read_bytes())
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    middle = footer_start // 2
    data[middle - 128 : middle + 128] = bytes(
        byte ^ 0xFF for byte in data[middle - 128 : middle + 128]
    )
    path.write_bytes(bytes(data))


def test_link_names_a_file_whose_data_is_corrupted_in_the_middle(tmp_path: Path) -> None:
    good = deliver(tmp_path, "b.parquet", provider_frame("B", [1, 2]))
    broken = deliver(
        tmp_path,
        "a.parquet",
        provider_frame("A", list(range(2000)), birth_year=[2000 + n % 20 for n in range(2000)]),
    )
    corrupt_the_middle(broken)
    out = tmp_path / "linked.parquet"
    with pytest.raises(InputError) as caught:
        link([good, broken], out)
    message = str(caught.value)
    assert message.startswith(f"{broken}: cannot be read")
    assert "\n" not in message
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]


def test_link_turns_a_panic_of_the_reader_into_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A panic in polars' Rust code is a BaseException (pyo3's PanicException), not an Exception."""
    path = deliver(tmp_path, "a.parquet", provider_frame("A", [1]))

    def panics(*args: Any, **kwargs: Any) -> Any:
        raise pl.exceptions.PanicException("index out of bounds")

    monkeypatch.setattr(pl, "collect_all", panics)  # the pass that writes the linked file
    out = tmp_path / "linked.parquet"
    with pytest.raises(InputError, match=r"cannot read or combine the inputs' rows \(Panic"):
        link([path], out)
    assert not out.exists()
