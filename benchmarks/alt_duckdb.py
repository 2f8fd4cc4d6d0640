"""The same work in DuckDB SQL.

DuckDB has ``sha256`` but no HMAC with a custom key, so the HMAC is built in SQL from its
definition (RFC 2104): ``sha256((K ^ opad) || unhex(sha256((K ^ ipad) || message)))``, where the
two 64-byte padded keys are constants computed once in Python. The key text (64 hex characters)
is exactly one SHA-256 block, so no key hashing is needed. The pseudonyms are byte-identical to
factlab's (the benchmark checks this). DuckDB's ``\\s`` is ASCII white space only; the synthetic
exports hold no other kind, so canonical forms agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

_EARLIEST = -(2**31)
_LATEST = 2**31


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database that uses every core."""
    return duckdb.connect(":memory:")


def hmac_sql(message: str, key_hex: str) -> str:
    """SQL for the 32-hex-character HMAC pseudonym of a VARCHAR expression."""
    key = key_hex.encode()
    inner = bytes(byte ^ 0x36 for byte in key).hex()
    outer = bytes(byte ^ 0x5C for byte in key).hex()
    return (
        f"left(sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || "
        f"CAST({message} AS BLOB)))), 32)"
    )


def status_sql(canonical: str) -> str:
    """SQL for factlab's BSN status of a canonical VARCHAR, in factlab's order of checks."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = " + ".join(
        f"{weight} * CAST(substr({canonical}, {position + 1}, 1) AS INTEGER)"
        for position, weight in enumerate(weights)
    )
    return (
        f"CASE WHEN {canonical} IS NULL OR {canonical} = '' THEN 'missing' "
        f"WHEN NOT regexp_full_match({canonical}, '[0-9]+') THEN 'non_digit' "
        f"WHEN length({canonical}) <> 9 THEN 'bad_length' "
        f"WHEN {canonical} IN ('000000000', '999999999') THEN 'sentinel' "
        f"WHEN ({total}) % 11 <> 0 THEN 'checksum' ELSE 'valid' END"
    )


def canonical_sql(written: str) -> str:
    """SQL for the canonical BSN: separators stripped, eight digits padded to nine."""
    stripped = f"regexp_replace({written}, '[\\s.\\-]', '', 'g')"
    return f"CASE WHEN length({stripped}) = 8 THEN '0' || {stripped} ELSE {stripped} END"


def pseudonymise_relation(con: duckdb.DuckDBPyConnection, source: str, key_hex: str) -> str:
    """SQL selecting pseudonym and status of the ``bsn`` column of ``source``."""
    return (
        "WITH c AS (SELECT *, "
        f"{canonical_sql('bsn')} AS _canonical FROM {source}), "
        f"s AS (SELECT *, {status_sql('_canonical')} AS bsn_status FROM c) "
        f"SELECT CASE WHEN bsn_status = 'valid' THEN {hmac_sql('_canonical', key_hex)} END "
        "AS pseudonym, bsn_status FROM s"
    )


def pseudonymise_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    form: Any,
    names: dict[str, str],
    provider: str,
    key_hex: str,
    out: Path,
) -> None:
    """Read one export (its dialect given), pseudonymise, parse the dates, write Parquet."""
    encoding = {"utf-8-sig": "utf-8", "cp1252": "latin-1"}.get(form.encoding, form.encoding)
    header = con.sql(
        f"SELECT * FROM read_csv('{path}', delim='{form.delimiter}', encoding='{encoding}', "
        "all_varchar=true, header=true) LIMIT 0"
    ).columns
    canonical = {written: field for field, written in names.items()}
    renamed = []
    for column in header:
        field = canonical.get(column, column)
        if field in ("start_date", "end_date", "birth_date"):
            renamed.append(f"try_strptime(\"{column}\", '{form.date_format}')::DATE AS {field}")
        elif field != "bsn":
            renamed.append(f'"{column}" AS "{field}"')
        else:
            renamed.append(f'"{column}" AS bsn')
    source = (
        f"(SELECT {', '.join(renamed)} FROM read_csv('{path}', delim='{form.delimiter}', "
        f"encoding='{encoding}', all_varchar=true, header=true))"
    )
    query = (
        f"WITH c AS (SELECT *, {canonical_sql('bsn')} AS _canonical FROM {source}), "
        f"s AS (SELECT *, {status_sql('_canonical')} AS bsn_status FROM c) "
        f"SELECT CASE WHEN bsn_status = 'valid' THEN {hmac_sql('_canonical', key_hex)} END "
        f"AS pseudonym, bsn_status, '{provider}' AS provider, "
        "* EXCLUDE (bsn, _canonical, bsn_status) FROM s"
    )
    con.sql(f"COPY ({query}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")


def link(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], out: Path, key_hex: str) -> None:
    """Union the provider files and apply the second stage (HMAC of the pseudonym)."""
    files = ", ".join(f"'{path}'" for path in paths)
    query = (
        f"SELECT {hmac_sql('pseudonym', key_hex)} AS pseudonym, * EXCLUDE (pseudonym) "
        f"FROM read_parquet([{files}], union_by_name=true)"
    )
    con.sql(f"COPY ({query}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")


def load(con: duckdb.DuckDBPyConnection, path: Path, period: tuple[str, str]) -> None:
    """Create the view ``rows``: the linked rows in care during the period, counting columns."""
    start = f"coalesce(date_diff('day', DATE '1970-01-01', start_date), {_EARLIEST})"
    end_raw = f"coalesce(date_diff('day', DATE '1970-01-01', end_date), {_LATEST})"
    first, last = period
    con.sql(
        "CREATE OR REPLACE TEMP VIEW rows AS "
        "WITH d AS (SELECT *, "
        f"{start} AS _start, greatest({end_raw}, {start}) AS _end FROM read_parquet('{path}')) "
        "SELECT CASE WHEN CAST(bsn_status AS VARCHAR) = 'valid' THEN pseudonym END AS client, "
        "provider, coalesce(care_form, 'unknown') AS care_form, "
        "coalesce(financing, 'unknown') AS financing, _start, _end FROM d "
        f"WHERE _start <= date_diff('day', DATE '1970-01-01', DATE '{last}') "
        f"AND _end >= date_diff('day', DATE '1970-01-01', DATE '{first}')"
    )


def count(con: duckdb.DuckDBPyConnection, dims: Sequence[str]) -> dict[str, Any]:
    """Unique clients, registrations, trajectories per cell and margin; multi-provider spread."""
    con.sql(
        "CREATE OR REPLACE TEMP TABLE t AS "
        # a row number breaks ties, so both windows see equal rows in the same order
        "WITH r AS (SELECT *, row_number() OVER () AS _row FROM rows), "
        "o AS (SELECT *, max(_end) OVER (PARTITION BY client, provider, care_form "
        "ORDER BY _start, _end, _row ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) "
        "AS _previous FROM r) "
        "SELECT *, sum(CASE WHEN client IS NULL OR _previous IS NULL "
        "OR _start > _previous + 1 THEN 1 ELSE 0 END) OVER (ORDER BY client, provider, "
        "care_form, _start, _end, _row ROWS UNBOUNDED PRECEDING) AS trajectory FROM o"
    )
    group = f"GROUP BY CUBE ({', '.join(dims)})" if dims else ""
    columns = ", ".join(dims) + ", " if dims else ""
    table = con.sql(
        f"SELECT {columns}count(DISTINCT client) AS unique_clients, count(*) AS registrations, "
        f"count(DISTINCT trajectory) AS trajectories FROM t {group}"
    ).fetchall()
    total = next(row for row in table if all(value is None for value in row[: len(dims)]))
    finest = [row for row in table if all(value is not None for value in row[: len(dims)])]
    spread = con.sql(
        "SELECT providers, count(*) FROM (SELECT client, count(DISTINCT provider) AS providers "
        "FROM t WHERE client IS NOT NULL GROUP BY client) GROUP BY providers ORDER BY providers"
    ).fetchall()
    offset = len(dims)
    return {
        "unique_clients": int(total[offset]),
        "registrations": int(total[offset + 1]),
        "trajectories": int(total[offset + 2]),
        "sum_of_cells": int(sum(row[offset] for row in finest)) if dims else None,
        "table_rows": len(table),
        "clients_by_provider_count": {str(k): int(v) for k, v in spread},
    }


def overlap(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Clients shared by each pair of providers (diagonal: each provider's unique clients)."""
    con.sql(
        "CREATE OR REPLACE TEMP TABLE pairs AS "
        "SELECT DISTINCT client, provider FROM rows WHERE client IS NOT NULL"
    )
    diagonal = con.sql("SELECT provider, count(*) FROM pairs GROUP BY provider").fetchall()
    shared = con.sql(
        "WITH several AS (SELECT * FROM pairs WHERE client IN "
        "(SELECT client FROM pairs GROUP BY client HAVING count(*) > 1)) "
        "SELECT a.provider, b.provider, count(*) FROM several a JOIN several b "
        "ON a.client = b.client AND a.provider <> b.provider GROUP BY ALL"
    ).fetchall()
    # like factlab's matrix, a provider whose rows all lack a valid BSN still counts
    providers = con.sql("SELECT count(DISTINCT provider) FROM rows").fetchall()[0][0]
    return {
        "diagonal_sum": int(sum(row[1] for row in diagonal)),
        "off_diagonal_sum": int(sum(row[2] for row in shared)),
        "providers": int(providers),
    }
