"""Reading manifests: a forged or damaged field is refused where it is read (issue 14, 18)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from factlab import schema
from factlab.errors import InputError
from factlab.io import write_parquet
from factlab.manifest import Manifest, read_manifest


def manifest(**overrides: Any) -> Manifest:
    settings: dict[str, Any] = {
        "format": schema.FORMAT_PSEUDONYMISED,
        "scheme": schema.SCHEME,
        "round": "2025",
        "key_id": "k",
        "key_fingerprint": "f",
        "rows": 2,
        "rows_by_status": {"valid": 2},
        "provider": "P01",
        "field_issues": {"cost": {"unreadable": 1}},
        "inputs": [{"provider": "P01", "rows": 2}],
        "extra": {"encoding": "utf-8"},
    }
    return Manifest(**(settings | overrides))


def document_with(field: str, value: Any) -> str:
    data = json.loads(manifest().to_json())
    data[field] = value
    return json.dumps(data)


# Each field with values of the wrong JSON type, or out of range.
FORGED = {
    "format": [1, None, ["factlab-pseudonymised"]],
    "scheme": [1.5, {}],
    "round": [2025, None],
    "key_id": [True],
    "key_fingerprint": [{"a": 1}],
    "rows": ["1500", 1500.0, True, -1, None, [2]],
    "rows_by_status": ["x", [1], {"valid": "2"}, {"valid": -2}, {"valid": None}, {"1": 2.5}],
    "provider": [5, ["P01"]],
    "stage": ["1", 0, 3, True, 1.0],
    "field_issues": [[1], "x", {"cost": 1}, {"cost": {"unreadable": "1"}}, {"cost": []}],
    "inputs": ["x", {"a": 1}, [1], ["a.parquet"]],
    "extra": [[], "x", 1],
    "factlab_version": [1],
    "created": [None, 20250101],
}
CASES = [(field, value) for field, values in FORGED.items() for value in values]


@pytest.mark.parametrize(("field", "value"), CASES)
def test_a_field_of_the_wrong_type_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InputError) as caught:
        Manifest.from_json(document_with(field, value), source="a.parquet")
    message = str(caught.value)
    assert message.startswith(f"a.parquet: damaged factlab manifest: {field} must be ")
    assert "\n" not in message


def test_every_bad_field_is_told_at_once() -> None:
    data = json.loads(manifest().to_json()) | {"rows": "2", "rows_by_status": "x"}
    with pytest.raises(InputError, match=r"rows must be .*; rows_by_status must be an object"):
        Manifest.from_json(json.dumps(data), source="a.parquet")


def test_the_messages_say_what_is_expected() -> None:
    expected = {
        "rows": "a whole number (at least 0)",
        "rows_by_status": "an object of whole numbers (at least 0)",
        "field_issues": "an object of objects of whole numbers (at least 0)",
        "provider": "text or null",
        "stage": "1 or 2",
        "inputs": "a list of objects",
        "extra": "an object",
    }
    for field, words in expected.items():
        with pytest.raises(InputError, match=rf": {field} must be {re.escape(words)}$"):
            Manifest.from_json(document_with(field, [1.5]), source="a.parquet")


def test_well_formed_manifests_still_read() -> None:
    for written in (
        manifest(),
        manifest(provider=None, stage=2, rows=0, rows_by_status={}, field_issues={}),
        manifest(inputs=[], extra={"nested": {"any": [1, "x", None]}}),
    ):
        assert Manifest.from_json(written.to_json()) == written


def test_read_manifest_refuses_a_forged_file(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    write_parquet(pl.DataFrame({"pseudonym": [None, None]}), path, manifest())
    metadata = {schema.MANIFEST_KEY.encode(): document_with("rows", "1500").encode()}
    pq.write_table(pq.read_table(path).replace_schema_metadata(metadata), path)
    with pytest.raises(InputError, match=rf"{path}: damaged factlab manifest: rows must be"):
        read_manifest(path)


def test_read_manifest_refuses_a_manifest_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    write_parquet(pl.DataFrame({"pseudonym": [None, None]}), path, manifest())
    metadata = {schema.MANIFEST_KEY.encode(): b'{"format": "\xff"}'}
    pq.write_table(pq.read_table(path).replace_schema_metadata(metadata), path)
    with pytest.raises(InputError, match="not valid UTF-8"):
        read_manifest(path)
