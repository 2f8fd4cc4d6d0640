"""The same work in plain pandas + hashlib, written as a careful analyst would write it.

Vectorised where pandas allows it (string methods, NumPy arithmetic for the elfproef, group-bys);
the HMAC runs in Python's ``hmac`` module over the *distinct* values only (a dict, then ``map``),
which is what a careful user does. The pseudonyms are byte-identical to factlab's (docs/scheme.md).
Only the fields the counts need are parsed (dates); the other columns are carried as text.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STATUSES = ("valid", "missing", "sentinel", "bad_length", "non_digit", "checksum")
_WEIGHTS = np.array([9, 8, 7, 6, 5, 4, 3, 2, -1], dtype=np.int64)
_POWERS = 10 ** np.arange(8, -1, -1, dtype=np.int64)
_EARLIEST = -(2**31)
_LATEST = 2**31


def hmac_hex(values: pd.Series, key_hex: str) -> pd.Series:
    """HMAC-SHA-256 under the hex key text, first 32 hex chars; each distinct value once."""
    key = key_hex.encode()
    distinct = values.dropna().unique()
    table = {
        value: hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32] for value in distinct
    }
    return values.map(table)


def canonical_status(written: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Canonical BSN text and status per row, with factlab's rules and order of checks."""
    text = written.astype("string").str.replace(r"[\s.\-]", "", regex=True)
    text = text.where(text.str.len() != 8, "0" + text)
    missing = text.isna() | (text == "")
    digits = text.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    nine = digits & (text.str.len() == 9).fillna(False).astype(bool)
    number = pd.to_numeric(text.where(nine), errors="coerce").fillna(-1).to_numpy(np.int64)
    checksum_ok = (((number[:, None] // _POWERS) % 10) @ _WEIGHTS) % 11 == 0
    sentinel = (number == 0) | (number == 999_999_999)
    status = np.select(
        [missing.to_numpy(bool), ~digits.to_numpy(), ~nine.to_numpy(), sentinel, ~checksum_ok],
        ["missing", "non_digit", "bad_length", "sentinel", "checksum"],
        default="valid",
    )
    return text, pd.Series(status, index=written.index, dtype="category")


def pseudonymise_series(written: pd.Series, key_hex: str) -> pd.DataFrame:
    """Pseudonym (valid rows only) and status of written BSNs."""
    text, status = canonical_status(written)
    pseudonym = hmac_hex(text.where(status == "valid"), key_hex)
    return pd.DataFrame({"pseudonym": pseudonym, "bsn_status": status})


def pseudonymise_file(
    path: Path, form: Any, names: dict[str, str], provider: str, key_hex: str, out: Path
) -> int:
    """Read one export (its dialect given), pseudonymise, parse the dates, write Parquet."""
    frame = pd.read_csv(
        path, sep=form.delimiter, encoding=form.encoding, dtype=str, keep_default_na=False
    )
    canonical = {written: field for field, written in names.items() if written in frame.columns}
    frame = frame.rename(columns=canonical).replace("", None)
    result = pseudonymise_series(frame.pop("bsn"), key_hex)
    for name in ("start_date", "end_date", "birth_date"):
        if name in frame:
            frame[name] = pd.to_datetime(frame[name], format=form.date_format, errors="coerce")
    result["provider"] = provider
    result = pd.concat([result, frame], axis=1)
    result.to_parquet(out, compression="zstd", index=False)
    return len(result)


def link(paths: Sequence[Path], out: Path, key_hex: str) -> int:
    """Concatenate provider files and apply the second stage (HMAC of the pseudonym)."""
    frame = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
    frame["pseudonym"] = hmac_hex(frame["pseudonym"], key_hex)
    frame.to_parquet(out, compression="zstd", index=False)
    return len(frame)


def _days(column: pd.Series, missing: int) -> np.ndarray[Any, Any]:
    values = column.to_numpy("datetime64[D]")
    days = values.astype(np.int64)
    return np.where(np.isnat(values), missing, days)


def load(path: Path, period: tuple[str, str]) -> pd.DataFrame:
    """Rows of a linked file in care during the period, with the columns the counts need."""
    columns = ["pseudonym", "bsn_status", "provider", "care_form", "financing"]
    frame = pd.read_parquet(path, columns=[*columns, "start_date", "end_date"])
    start = _days(frame["start_date"], _EARLIEST)
    end = _days(frame["end_date"], _LATEST)
    end = np.where(end < start, start, end)  # an inverted episode lasts its start day
    first, last = (np.datetime64(day, "D").astype(np.int64) for day in period)
    keep = (start <= last) & (end >= first)
    frame = frame.loc[keep, columns].reset_index(drop=True)
    frame["_start"], frame["_end"] = start[keep], end[keep]
    valid = (frame["bsn_status"].astype(str) == "valid") & frame["pseudonym"].notna()
    frame["client"] = frame["pseudonym"].where(valid)
    for dim in ("care_form", "financing"):
        frame[dim] = frame[dim].fillna("unknown")
    return frame


def trajectories(frame: pd.DataFrame) -> pd.Series:
    """Trajectory number per row (factlab's rule: touching episodes of one key merge)."""
    keys = ["client", "provider", "care_form"]
    ordered = frame.sort_values([*keys, "_start", "_end"], na_position="last", kind="stable")
    changed = np.zeros(len(ordered), dtype=bool)
    for key in keys:
        values = ordered[key].fillna("\0").to_numpy()
        changed[1:] |= values[1:] != values[:-1]
    changed[0] = True
    new_key = changed | ordered["client"].isna().to_numpy()
    group = np.cumsum(new_key)
    ends = pd.Series(ordered["_end"].to_numpy(), index=ordered.index)
    previous = ends.groupby(group).cummax().groupby(group).shift(1).to_numpy()
    starts_new = new_key | (ordered["_start"].to_numpy() > np.nan_to_num(previous, nan=0) + 1)
    return pd.Series(np.cumsum(starts_new), index=ordered.index).sort_index()


def count(frame: pd.DataFrame, dims: Sequence[str]) -> dict[str, Any]:
    """Unique clients, registrations, trajectories per cell and margin; multi-provider spread."""
    frame = frame.assign(trajectory=trajectories(frame))
    cells = []
    for size in range(len(dims), -1, -1):
        for subset in itertools.combinations(dims, size):
            if subset:
                grouped = frame.groupby(list(subset), observed=True).agg(
                    unique_clients=("client", "nunique"),
                    registrations=("client", "size"),
                    trajectories=("trajectory", "nunique"),
                )
                cells.append(grouped.reset_index())
            else:
                totals = {
                    "unique_clients": frame["client"].nunique(),
                    "registrations": len(frame),
                    "trajectories": frame["trajectory"].nunique(),
                }
                cells.append(pd.DataFrame([totals]))
    table = pd.concat(cells, ignore_index=True)
    finest = cells[0]
    spread = (
        frame.dropna(subset=["client"])
        .groupby("client")["provider"]
        .nunique()
        .value_counts()
        .sort_index()
    )
    total = cells[-1].iloc[0]
    return {
        "unique_clients": int(total["unique_clients"]),
        "registrations": int(total["registrations"]),
        "trajectories": int(total["trajectories"]),
        "sum_of_cells": int(finest["unique_clients"].sum()) if dims else None,
        "table_rows": len(table),
        "clients_by_provider_count": {str(k): int(v) for k, v in spread.items()},
    }


def overlap(frame: pd.DataFrame) -> dict[str, Any]:
    """Clients shared by each pair of providers (diagonal: each provider's unique clients)."""
    pairs = frame.dropna(subset=["client"])[["client", "provider"]].drop_duplicates()
    diagonal = pairs["provider"].value_counts()
    several = pairs[pairs.groupby("client")["provider"].transform("size") > 1]
    joined = several.merge(several, on="client")
    joined = joined[joined["provider_x"] != joined["provider_y"]]
    shared = joined.groupby(["provider_x", "provider_y"]).size()
    return {
        "diagonal_sum": int(diagonal.sum()),
        "off_diagonal_sum": int(shared.sum()),
        # like factlab's matrix, a provider whose rows all lack a valid BSN still counts
        "providers": int(frame["provider"].nunique()),
    }
