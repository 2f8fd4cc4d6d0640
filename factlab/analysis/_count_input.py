"""Reading the rows a count works on: the source opened with its facts, the statuses checked,
the rows and their clients as integer keys, text columns as Enums, each client's latest
municipality.

Split from :mod:`factlab.analysis.counts`, which builds the tables from what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from factlab import schema
from factlab.analysis._clients import HIGH, LOW, client_keys, key_halves
from factlab.analysis._table import CLIENT
from factlab.analysis._trajectories import END, START
from factlab.analysis.coverage import Coverage, manifest_coverage
from factlab.errors import DataError, InputError
from factlab.io import file_sha256
from factlab.manifest import read_manifest

__all__ = [
    "check_statuses",
    "enums",
    "latest_municipality",
    "open_source",
    "rows_and_clients",
]


def open_source(
    source: pl.DataFrame | pl.LazyFrame | str | Path,
) -> tuple[pl.LazyFrame, dict[str, Any], Future[str] | None, Coverage]:
    """The rows, the source's facts, the SHA-256 of a file (being computed beside the count),
    and the days its deliveries cover (empty for a frame, or a file linked without periods)."""
    digest: Future[str] | None = None
    coverage = Coverage()
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        frame, facts = source.lazy(), {}
    else:
        path = Path(source)
        manifest = read_manifest(path)
        if manifest.format != schema.FORMAT_LINKED:
            raise InputError(
                f"{path}: format is {manifest.format!r}, expected {schema.FORMAT_LINKED!r} "
                "(link the provider files first)"
            )
        coverage = manifest_coverage(manifest)
        frame = pl.scan_parquet(path)
        # Hashing the file for provenance overlaps with counting it.
        hasher = ThreadPoolExecutor(max_workers=1)
        digest = hasher.submit(file_sha256, path)
        hasher.shutdown(wait=False)
        facts = {
            "file": path.name,
            "sha256": None,  # filled in from ``digest`` when the counts are done
            "format": manifest.format,
            "scheme": manifest.scheme,
            "stage": manifest.stage,
            "round": manifest.round,
            "key_id": manifest.key_id,
            "key_fingerprint": manifest.key_fingerprint,
            "rows": manifest.rows,
            "providers": [entry.get("provider") for entry in manifest.inputs],
        }
    columns = frame.collect_schema()
    missing = [
        name for name in (schema.PSEUDONYM, schema.STATUS, schema.PROVIDER) if name not in columns
    ]
    if missing:
        raise InputError(f"{source if facts else 'frame'}: lacks column(s) {', '.join(missing)}")
    return frame, facts, digest, coverage


def check_statuses(frame: pl.LazyFrame, columns: pl.Schema) -> None:
    """Refuse a status column (of a frame) with values that are not BSN statuses, or nulls."""
    if columns[schema.STATUS] == schema.STATUS_DTYPE:
        bad = frame.select(pl.col(schema.STATUS).is_null().sum()).collect().item()
    else:
        status = pl.col(schema.STATUS).cast(pl.String)
        unknown = status.is_null() | ~status.is_in(schema.STATUSES)
        bad = frame.select(unknown.sum()).collect().item()
    if bad:
        raise DataError(
            f"column {schema.STATUS}: {bad} row(s) without a BSN status "
            f"(expected one of {', '.join(schema.STATUSES)})"
        )


def enums(rows: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """``rows`` with the text columns among ``names`` as Enums of their own values, sorted."""
    # a column with no value at all (dtype Null) is an Enum with no categories
    text = [
        name for name in names if rows.schema[name] in (pl.String(), pl.Categorical(), pl.Null())
    ]
    return rows.with_columns(
        pl.col(name).cast(pl.Enum(rows[name].unique().drop_nulls().sort().cast(pl.String)))
        for name in text
    )


def rows_and_clients(
    frame: pl.LazyFrame, needed: list[str], *, coded: list[str], checked: bool
) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """The rows with the ``needed`` columns, and their clients as two ``UInt64`` keys.

    A linked file's pseudonyms (``checked``) are read as integers within the scan, so their text is
    never held in memory; should one not read as 32 hex characters after all, the text is read again
    and keyed as :func:`factlab.analysis._clients.client_keys` keys an analyst's frame. Text columns
    among ``coded`` are read as Categoricals (which :func:`enums` turns into Enums faster).
    """
    columns = frame.collect_schema()
    read = [
        pl.col(name).cast(pl.Categorical())
        if name in coded and columns[name] == pl.String()
        else name
        for name in needed
    ]
    if checked:
        halves = key_halves(pl.col(CLIENT))
        unread = (halves[0].is_null() | halves[1].is_null()) & pl.col(CLIENT).is_not_null()
        # One chunk per column: a scan yields one per morsel, and gathers across many chunks
        # are several times slower.
        rows = frame.select(*halves, *read, unread.alias("_unread")).collect().rechunk()
        if not rows.get_column("_unread").any():
            return rows.select(needed), rows.get_column(HIGH), rows.get_column(LOW)
    rows = frame.select(CLIENT, *read).collect().rechunk()
    high, low = client_keys(rows.get_column(CLIENT), checked=False)
    return rows.select(needed), high, low


def latest_municipality() -> pl.Expr:
    """Each client's municipality: that of their known-municipality row that started last.

    Ties go to the row that ends last (ongoing counts as last), then to the alphabetically last
    municipality, so the choice never depends on row order. Rows without a valid BSN keep their own.
    """
    municipality = pl.col("municipality").cast(pl.String)
    latest = (
        municipality.sort_by(
            [municipality.is_not_null(), pl.col(START), pl.col(END), municipality],
            nulls_last=False,
        )
        .last()
        .over(CLIENT)
    )
    return pl.when(pl.col(CLIENT).is_not_null()).then(latest).otherwise(municipality)
