"""Counting unique clients, registrations and trajectories in a linked file.

The rules (see ``docs/counting.md``):

- A unique client is a distinct pseudonym of a row whose ``bsn_status`` is ``valid``. Rows without a
  valid BSN cannot be linked; they give the bounds ``unique_clients_lower`` (none of them is a new
  person) and ``unique_clients_upper`` (each of them is a new person).
- A period counts every row in care at any moment in it; a reference date counts the rows in care on
  that day (:mod:`factlab.periods`).
- A trajectory is a run of one client's episodes of one care form at one provider that overlap or
  touch (the next starts at most one day after the run so far ends). Each row without a valid BSN
  is a trajectory of its own: it cannot be joined to any other.
- In a table by dimensions every subset of the dimensions gets its rows, with the omitted
  dimensions null; a margin counts a client once however many cells they are in. Missing values
  show as ``unknown``, so null always means "total over this dimension".
- By municipality, a client who moved counts in the municipality of their most recent row.

Counts are exact and meant for the trusted party only: publication needs disclosure control.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab._clients import HIGH, LOW, client_keys, client_order, key_halves
from factlab._version import __version__
from factlab.errors import ConfigError, DataError, InputError
from factlab.fallback import fallback_report, resolve_fallback
from factlab.io import atomic_path, file_sha256
from factlab.manifest import now_iso, read_manifest
from factlab.overlap import OverlapResult, matrix_of_pairs
from factlab.periods import Period, active_in, active_on, parse_date, parse_period

__all__ = [
    "AGE_GROUPS",
    "DIMENSIONS",
    "NOTE",
    "UNKNOWN",
    "CountResult",
    "count",
    "count_output_format",
    "write_counts",
]

#: Dimensions a table can be broken down by (each needs its field in the linked file;
#: ``age_group`` needs ``birth_year`` and a period or reference date).
DIMENSIONS: Final = (
    "municipality",
    "care_form",
    "financing",
    "domain",
    "product_category",
    "provider",
    "sex",
    "birth_year",
    "age_group",
)
#: Age groups as (lowest age, highest age or None, label); age = reference year − birth year.
AGE_GROUPS: Final[tuple[tuple[int, int | None, str], ...]] = (
    (0, 3, "0-3"),
    (4, 11, "4-11"),
    (12, 17, "12-17"),
    (18, 22, "18-22"),
    (23, None, "23+"),
)
#: Shown for a missing value in a dimension, so that null only ever means "total".
UNKNOWN: Final = "unknown"
#: What every count output says about itself.
NOTE: Final = (
    "exact counts, internal to the trusted party; not for publication without disclosure control"
)
#: Key of the counts' metadata in a Parquet output's key-value metadata.
METADATA_KEY: Final = "factlab.counts"

# Age groups sort by age, not as text; unknown sorts after them.
_AGE_ORDER: Final = {label: index for index, (_, _, label) in enumerate(AGE_GROUPS)}
_OUTPUT_FORMATS: Final = {".json": "json", ".csv": "csv", ".parquet": "parquet"}
_NOT_VALID: Final = tuple(status for status in schema.STATUSES if status != "valid")
# Days since 1970 of an unknown start and an open end: before and after every real date.
_EARLIEST: Final = -(2**31)
_LATEST: Final = 2**31
# Wider than any day range above, so a group number times it keeps groups apart (see below).
_GROUP_STRIDE: Final = 2**33
# Packed (number, cell) pairs must stay below this (UInt64).
_PACKED_LIMIT: Final = 2**64

# Internal columns; a leading underscore keeps them apart from any dimension name.
_CLIENT: Final = "_client"
_STATUS: Final = "_status"
_PROVIDER: Final = "_provider"
_TRAJECTORY: Final = "_trajectory"
_START: Final = "_start"
_END: Final = "_end"
_INVERTED: Final = "_end_before_start"

_MEASURES: Final = (
    "unique_clients",
    "unique_clients_upper",
    "sum_of_cells",
    "registrations",
    "trajectories",
    "rows_without_valid_bsn",
    "rows_sentinel",
)


@dataclass(frozen=True)
class CountResult:
    """Exact counts of one linked file, for one period, reference date or all rows.

    Attributes:
        by: the dimensions of ``table``, in the order asked.
        period: the period counted (clients in care at any moment in it), or None.
        reference_date: the reference date counted (clients in care on it), or None.
        table: one row per cell and per margin: a column per dimension (null = total over it),
            then ``unique_clients``, ``unique_clients_upper``, ``sum_of_cells`` (sum of the
            unique clients of the finest cells inside the row), ``registrations``,
            ``trajectories``, ``rows_without_valid_bsn`` and ``rows_sentinel``. Without
            dimensions it has one row, the total.
        unique_clients: distinct valid pseudonyms counted.
        registrations: rows counted, whatever their BSN status.
        trajectories: merged episodes (see the module docstring).
        sum_of_cells: sum over the finest cells of their unique clients (a client in two cells
            counts twice); equal to ``unique_clients`` without dimensions.
        unique_clients_lower: lower bound of the persons counted (= ``unique_clients``).
        unique_clients_upper: upper bound: lower plus every row without a valid BSN.
        rows_without_valid_bsn: rows counted whose status is not ``valid``.
        rows_sentinel: of those, rows whose BSN was a sentinel (unknown / unborn child).
        rows_by_status: rows counted per BSN status (all statuses, zeros included).
        rows_without_valid_bsn_by_provider: per provider, rows per non-valid status.
        clients_multi_provider: clients counted at two or more providers.
        share_multi_provider: their share of ``unique_clients`` (None when there are none).
        clients_by_provider_count: number of clients by their number of providers (1, 2, ...).
        rows_end_before_start: rows counted whose end date was before their start date; they
            were counted as lasting their start day only.
        source: non-secret facts about the counted file (from its manifest), if it was a file.
        fallback: when the fallback key was used, what it linked (see
            :class:`factlab.fallback.FallbackReport`); None when it was not used.
        overlap: the overlap between providers of the same rows, as
            :func:`factlab.overlap.overlap` gives it (made in the same pass, at little cost; a
            missing provider shows as ``unknown``); None when the fallback key was used, since
            the overlap links valid BSNs only.
    """

    by: tuple[str, ...]
    period: Period | None
    reference_date: date | None
    table: pl.DataFrame
    unique_clients: int
    registrations: int
    trajectories: int
    sum_of_cells: int
    unique_clients_lower: int
    unique_clients_upper: int
    rows_without_valid_bsn: int
    rows_sentinel: int
    rows_by_status: dict[str, int]
    rows_without_valid_bsn_by_provider: dict[str, dict[str, int]]
    clients_multi_provider: int
    share_multi_provider: float | None
    clients_by_provider_count: dict[int, int]
    rows_end_before_start: int
    source: dict[str, Any] = field(default_factory=dict)
    fallback: dict[str, Any] | None = None
    overlap: OverlapResult | None = None

    def metadata(self) -> dict[str, Any]:
        """What an output of these counts says about itself (exact, internal, provenance)."""
        return {
            "exact": True,
            "internal": True,
            "note": NOTE,
            "by": list(self.by),
            "period": self.period.label if self.period else None,
            "reference_date": self.reference_date.isoformat() if self.reference_date else None,
            "linked_by_fallback": self.fallback is not None,
            "source": dict(self.source),
            "factlab_version": __version__,
            "created": now_iso(),
        }

    def summary(self) -> dict[str, Any]:
        """The totals as a JSON-ready object with stable names (see ``docs/counting.md``).

        Example:
            >>> import polars as pl
            >>> from factlab import schema
            >>> frame = pl.DataFrame({
            ...     "pseudonym": ["a" * 32, None],
            ...     "bsn_status": pl.Series(["valid", "missing"], dtype=schema.STATUS_DTYPE),
            ...     "provider": ["A", "B"],
            ... })
            >>> summary = count(frame).summary()
            >>> (summary["unique_clients_lower"], summary["unique_clients_upper"])
            (1, 2)
        """
        return {
            "unique_clients": self.unique_clients,
            "registrations": self.registrations,
            "trajectories": self.trajectories,
            "sum_of_cells": self.sum_of_cells,
            "clients_multi_provider": self.clients_multi_provider,
            "share_multi_provider": self.share_multi_provider,
            "unique_clients_lower": self.unique_clients_lower,
            "unique_clients_upper": self.unique_clients_upper,
            "rows_without_valid_bsn": self.rows_without_valid_bsn,
            "rows_sentinel": self.rows_sentinel,
            "rows_end_before_start": self.rows_end_before_start,
            "rows_by_status": dict(self.rows_by_status),
            "rows_without_valid_bsn_by_provider": {
                provider: dict(statuses)
                for provider, statuses in self.rows_without_valid_bsn_by_provider.items()
            },
            "clients_by_provider_count": {
                str(number): clients for number, clients in self.clients_by_provider_count.items()
            },
            "by": list(self.by),
            "period": self.period.label if self.period else None,
            "period_start": self.period.start.isoformat() if self.period else None,
            "period_end": self.period.end.isoformat() if self.period else None,
            "reference_date": self.reference_date.isoformat() if self.reference_date else None,
            "fallback": dict(self.fallback) if self.fallback is not None else None,
            "metadata": self.metadata(),
        }


def count(
    source: pl.DataFrame | pl.LazyFrame | str | Path,
    *,
    by: Sequence[str] = (),
    period: Period | str | None = None,
    on: date | str | None = None,
    use_fallback: bool = False,
) -> CountResult:
    """Count unique clients, registrations and trajectories, in total or by dimensions.

    Args:
        source: linked rows, or the path of a linked file (its manifest is checked first).
        by: dimensions of the table, from :data:`DIMENSIONS` (each present in the data).
        period: count clients in care at any moment in this period (e.g. ``"2025"``,
            ``"2025H1"``); ``age_group`` then uses the period's last day.
        on: count clients in care on this reference date (``"2025-12-31"``).
        use_fallback: link rows without a valid BSN through the keyed fallback pseudonym
            (:mod:`factlab.fallback`); the result's ``fallback`` then says how many rows and
            clients that concerned. Off by default.

    Returns:
        The counts; ``table`` holds every cell and margin.

    Raises:
        ConfigError: unknown, absent or repeated dimensions, both ``period`` and ``on``, or
            ``age_group`` without a period or reference date.
        InputError: the path is not a linked factlab file, or lacks a required column.
        DataError: a period or reference date is asked of data without care dates.

    Example:
        >>> import polars as pl
        >>> from factlab import schema
        >>> frame = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32],
        ...     "bsn_status": pl.Series(["valid"] * 3, dtype=schema.STATUS_DTYPE),
        ...     "provider": ["A", "B", "B"],
        ...     "care_form": ["ambulant", "verblijf", "ambulant"],
        ... })
        >>> result = count(frame, by=["care_form"])
        >>> (result.unique_clients, result.sum_of_cells, result.clients_multi_provider)
        (2, 3, 1)
        >>> result.table.select("care_form", "unique_clients").rows()
        [('ambulant', 2), ('verblijf', 1), (None, 2)]
    """
    frame, facts, digest = _open(source)
    fallback: dict[str, Any] | None = None
    if use_fallback:
        if schema.FALLBACK_PSEUDONYM not in frame.collect_schema().names():
            raise DataError(
                "use_fallback: the data hold no fallback_pseudonym column "
                "(stewards pseudonymise with --fallback to deliver one)"
            )
        fallback = fallback_report(frame).to_dict()
        frame = resolve_fallback(frame)
    columns = frame.collect_schema()
    _check_statuses(frame, columns)
    chosen_period = parse_period(period) if isinstance(period, str) else period
    reference = parse_date(on, what="reference date") if isinstance(on, str) else on
    dims = _check_request(tuple(by), columns, chosen_period, reference)

    frame = _with_dates(frame, columns, timed=chosen_period is not None or reference is not None)
    if chosen_period is not None:
        frame = frame.filter(active_in(chosen_period))
    elif reference is not None:
        frame = frame.filter(active_on(reference))
    age_date = chosen_period.end if chosen_period is not None else reference
    has_care_form = "care_form" in columns
    # The one pass over the file: the rows counted, with only the columns needed.
    needed = [_STATUS, _PROVIDER, _START, _END, _INVERTED]
    needed += ["care_form"] if has_care_form else []
    needed += ["birth_year" if dim == "age_group" else dim for dim in dims]
    # Provider, care form and the plain dimensions become Enums: integer codes from here on.
    plain = [dim for dim in dims if dim not in ("age_group", "municipality")]
    coded = list(dict.fromkeys([_PROVIDER, *(["care_form"] if has_care_form else []), *plain]))
    rows, high, low = _rows_and_clients(
        _with_identity(frame),
        list(dict.fromkeys(needed)),
        coded=coded,
        # Pseudonyms of a linked file were validated by link; those of a frame are checked here.
        checked=bool(facts) and not use_fallback,
    )
    rows = _enums(rows, coded)
    # Trajectories first: they turn pseudonyms into small client numbers, which makes the
    # per-client municipality window in _with_dimensions much cheaper. From here on the rows are
    # in client order.
    rows = _with_trajectories(rows, high, low, has_care_form=has_care_form)
    del high, low
    columns_kept = (*dims, _CLIENT, _STATUS, _PROVIDER, _TRAJECTORY, _INVERTED)
    compact = _with_dimensions(rows, dims, age_date).select(columns_kept).collect().rechunk()
    del rows
    # The other dimensions as Enums too: the group-bys below then hash small integers.
    work = _enums(compact, dims)
    del compact
    table = _packed_table(work, dims)
    if table is None:
        table = _margins(dims, *pl.collect_all(_cell_queries(work.lazy(), dims)))
    provider_labels = _categories(work, _PROVIDER)
    # Each client's distinct providers: one UInt64 per (client, provider). The rows are in
    # client order and, within a client, in provider order (the provider leads the secondary key
    # of the trajectories), so equal pairs are next to each other without a sort.
    pair = pl.col(_CLIENT).cast(pl.UInt64) * len(provider_labels) + pl.col(
        _PROVIDER
    ).to_physical().cast(pl.UInt64)
    client_providers, by_provider_status = pl.collect_all(
        [
            work.lazy()
            .select(pair.drop_nulls().alias("pair"))
            .filter(pl.col("pair").ne_missing(pl.col("pair").shift(1)))
            .select(
                (pl.col("pair") // len(provider_labels)).alias("client"),
                (pl.col("pair") % len(provider_labels)).alias("a"),
            ),
            work.lazy()
            .group_by(_PROVIDER, _STATUS)
            .agg(
                pl.len().alias("rows"),
                pl.col(_INVERTED).sum().alias("end_before_start"),
                pl.col(_CLIENT).is_null().sum().alias("without_client"),
            ),
        ]
    )
    client_providers = client_providers.rechunk()
    # A client's providers are one run of rows: its run length is its number of providers.
    runs = client_providers.get_column("client").rle().struct.field("len")
    providers_per_client = (
        runs.alias("providers").to_frame().group_by("providers").agg(pl.len().alias("clients"))
    )
    shared = None
    if not use_fallback:
        shared = _provider_overlap(
            client_providers, provider_labels, by_provider_status, chosen_period, reference, facts
        )
    del work
    total = table.filter(
        pl.all_horizontal(pl.lit(True), *[pl.col(dim).is_null() for dim in dims])
    ).row(0, named=True)

    rows_by_status = dict.fromkeys(schema.STATUSES, 0)
    without_valid: dict[str, dict[str, int]] = {}
    for provider, status, rows, *_ in by_provider_status.sort(_PROVIDER, _STATUS).iter_rows():
        rows_by_status[status] += rows
        per_provider = without_valid.setdefault(provider, dict.fromkeys(_NOT_VALID, 0))
        if status != "valid":
            per_provider[status] += rows
    distribution = {
        int(providers): int(clients)
        for providers, clients in providers_per_client.sort("providers").iter_rows()
    }
    unique_clients = int(total["unique_clients"])
    multi = sum(clients for providers, clients in distribution.items() if providers >= 2)
    if digest is not None:
        facts["sha256"] = digest.result()
    return CountResult(
        by=dims,
        period=chosen_period,
        reference_date=reference,
        table=table,
        unique_clients=unique_clients,
        registrations=int(total["registrations"]),
        trajectories=int(total["trajectories"]),
        sum_of_cells=int(total["sum_of_cells"]),
        unique_clients_lower=unique_clients,
        unique_clients_upper=int(total["unique_clients_upper"]),
        rows_without_valid_bsn=int(total["rows_without_valid_bsn"]),
        rows_sentinel=int(total["rows_sentinel"]),
        rows_by_status=rows_by_status,
        rows_without_valid_bsn_by_provider=without_valid,
        clients_multi_provider=multi,
        share_multi_provider=multi / unique_clients if unique_clients else None,
        clients_by_provider_count=distribution,
        rows_end_before_start=int(by_provider_status["end_before_start"].sum()),
        source=facts,
        fallback=fallback,
        overlap=shared,
    )


def _provider_overlap(
    client_providers: pl.DataFrame,
    providers: pl.Series,
    by_provider_status: pl.DataFrame,
    period: Period | None,
    on: date | None,
    source: dict[str, Any],
) -> OverlapResult:
    """The provider overlap of the rows counted, from each client's distinct providers."""
    left_out = by_provider_status.filter(pl.col("without_client") > 0)
    per_status = dict(
        left_out.group_by(pl.col(_STATUS).cast(pl.String))
        .agg(pl.col("without_client").sum())
        .rows()
    )
    by_value = (
        left_out.group_by(pl.col(_PROVIDER).cast(pl.String).alias(schema.PROVIDER))
        .agg(pl.col("without_client").sum().cast(pl.Int64).alias("rows_without_valid_bsn"))
        .sort(schema.PROVIDER)
    )
    used = by_provider_status.select(pl.col("rows").sum() - pl.col("without_client").sum()).item()
    return OverlapResult(
        by=schema.PROVIDER,
        matrix=matrix_of_pairs(client_providers, providers, schema.PROVIDER),
        rows_used=int(used),
        rows_without_valid_bsn=dict.fromkeys(_NOT_VALID, 0) | per_status,
        left_out_by_value=by_value,
        period=period,
        on=on,
        source=source,
    )


def _open(
    source: pl.DataFrame | pl.LazyFrame | str | Path,
) -> tuple[pl.LazyFrame, dict[str, Any], Future[str] | None]:
    """The rows, the source's facts, and the SHA-256 of a file, being computed beside the count."""
    digest: Future[str] | None = None
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
    return frame, facts, digest


def _check_statuses(frame: pl.LazyFrame, columns: pl.Schema) -> None:
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


def _check_request(
    by: tuple[str, ...], columns: pl.Schema, period: Period | None, reference: date | None
) -> tuple[str, ...]:
    available = [
        dim
        for dim in DIMENSIONS
        if (dim == "age_group" and "birth_year" in columns) or dim in columns
    ]
    problems: list[str] = []
    for dim in by:
        if dim not in DIMENSIONS:
            problems.append(f"by: unknown dimension {dim!r}; valid: {', '.join(available)}")
        elif dim not in available:
            problems.append(
                f"by: dimension {dim!r} is not in the data; valid: {', '.join(available)}"
            )
    repeated = sorted({dim for dim in by if by.count(dim) > 1})
    if repeated:
        problems.append(f"by: dimension(s) given twice: {', '.join(repeated)}")
    if period is not None and reference is not None:
        problems.append("period/on: give a period or a reference date, not both")
    if "age_group" in by and period is None and reference is None:
        problems.append("by: age_group needs a period or a reference date to compute ages at")
    if problems:
        raise ConfigError("count", problems)
    return by


def _with_dates(frame: pl.LazyFrame, columns: pl.Schema, *, timed: bool) -> pl.LazyFrame:
    missing = [name for name in ("start_date", "end_date") if name not in columns]
    if missing and timed:
        raise DataError(
            f"the data lack {', '.join(missing)}: a period or reference date cannot be applied"
        )
    wrong = [
        name for name in ("start_date", "end_date") if columns.get(name, pl.Date()) != pl.Date()
    ]
    if wrong:
        raise DataError(f"column(s) {', '.join(wrong)} must be of dtype Date")
    # Without dates every row is one undated episode: all of a client's episodes overlap.
    frame = frame.with_columns(pl.lit(None, dtype=pl.Date()).alias(name) for name in missing)
    start, end = pl.col("start_date"), pl.col("end_date")
    # An episode that ends before it starts would count in a year but in neither of its halves;
    # it is taken to last its start day only, and such rows are reported.
    frame = frame.with_columns((end < start).fill_null(False).alias(_INVERTED)).with_columns(
        pl.when(pl.col(_INVERTED)).then(start).otherwise(end).alias("end_date")
    )
    return frame.with_columns(
        start.cast(pl.Int64).fill_null(_EARLIEST).alias(_START),
        end.cast(pl.Int64).fill_null(_LATEST).alias(_END),
    )


def _enums(rows: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """``rows`` with the text columns among ``names`` as Enums of their own values, sorted."""
    text = [name for name in names if rows.schema[name] in (pl.String(), pl.Categorical())]
    return rows.with_columns(
        pl.col(name).cast(pl.Enum(rows[name].unique().drop_nulls().sort().cast(pl.String)))
        for name in text
    )


def _age_group(birth_year: pl.Expr, on: date) -> pl.Expr:
    age = pl.lit(on.year, dtype=pl.Int32) - birth_year.cast(pl.Int32)
    # A birth year after the reference year is a data error, not an age: it shows as unknown.
    labels = [
        pl.when(age >= lowest if highest is None else age.is_between(lowest, highest)).then(
            pl.lit(label)
        )
        for lowest, highest, label in AGE_GROUPS
    ]
    return pl.coalesce(*labels, pl.lit(UNKNOWN))


def _rows_and_clients(
    frame: pl.LazyFrame, needed: list[str], *, coded: list[str], checked: bool
) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """The rows with the ``needed`` columns, and their clients as two ``UInt64`` keys.

    A linked file's pseudonyms (``checked``) are read as integers within the scan, so their text is
    never held in memory; should one not read as 32 hex characters after all, the text is read
    again and keyed as :func:`factlab._clients.client_keys` keys an analyst's frame. Text columns
    among ``coded`` are read as Categoricals (which :func:`_enums` turns into Enums faster).
    """
    columns = frame.collect_schema()
    read = [
        pl.col(name).cast(pl.Categorical())
        if name in coded and columns[name] == pl.String()
        else name
        for name in needed
    ]
    if checked:
        halves = key_halves(pl.col(_CLIENT))
        unread = (halves[0].is_null() | halves[1].is_null()) & pl.col(_CLIENT).is_not_null()
        # One chunk per column: a scan yields one per morsel, and gathers across many chunks
        # are several times slower.
        rows = frame.select(*halves, *read, unread.alias("_unread")).collect().rechunk()
        if not rows.get_column("_unread").any():
            return rows.select(needed), rows.get_column(HIGH), rows.get_column(LOW)
    rows = frame.select(_CLIENT, *read).collect().rechunk()
    high, low = client_keys(rows.get_column(_CLIENT), checked=False)
    return rows.select(needed), high, low


def _with_identity(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the client (pseudonym of valid rows only), status and provider as plain columns."""
    status = pl.col(schema.STATUS).cast(schema.STATUS_DTYPE)
    valid = (status == "valid") & pl.col(schema.PSEUDONYM).is_not_null()
    return frame.with_columns(
        pl.when(valid).then(pl.col(schema.PSEUDONYM).cast(pl.String)).alias(_CLIENT),
        status.alias(_STATUS),
        # Categorical, as a linked file holds it: no text per row is made
        pl.col(schema.PROVIDER).cast(schema.TEXT_DTYPE).fill_null(UNKNOWN).alias(_PROVIDER),
    )


def _with_dimensions(rows: pl.DataFrame, dims: tuple[str, ...], on: date | None) -> pl.LazyFrame:
    expressions = []
    for dim in dims:
        if dim == "age_group":
            assert on is not None  # _check_request refuses age_group without a date
            expressions.append(_age_group(pl.col("birth_year"), on).alias(dim))
        elif dim == "municipality":
            expressions.append(_latest_municipality().fill_null(UNKNOWN).alias(dim))
        elif isinstance(dtype := rows.schema[dim], pl.Enum):
            # Widening the Enum by "unknown" keeps its codes: no text is made.
            categories = dtype.categories.to_list()
            widened = pl.Enum([*categories, *([UNKNOWN] if UNKNOWN not in categories else [])])
            expressions.append(pl.col(dim).cast(widened).fill_null(UNKNOWN).alias(dim))
        else:
            expressions.append(pl.col(dim).cast(pl.String).fill_null(UNKNOWN).alias(dim))
    return rows.lazy().with_columns(expressions)


def _latest_municipality() -> pl.Expr:
    """Each client's municipality: that of their known-municipality row that started last.

    Ties go to the row that ends last (ongoing counts as last), then to the alphabetically last
    municipality, so the choice never depends on row order. Rows without a valid BSN keep their own.
    """
    municipality = pl.col("municipality").cast(pl.String)
    latest = (
        municipality.sort_by(
            [municipality.is_not_null(), pl.col(_START), pl.col(_END), municipality],
            nulls_last=False,
        )
        .last()
        .over(_CLIENT)
    )
    return pl.when(pl.col(_CLIENT).is_not_null()).then(latest).otherwise(municipality)


def _with_trajectories(
    rows: pl.DataFrame, high: pl.Series, low: pl.Series, *, has_care_form: bool
) -> pl.DataFrame:
    """``rows`` in client order, each with its client number and trajectory number.

    A trajectory is one client's touching episodes of one form at one provider. In the order
    (client, provider and care form, start), a row starts a new trajectory when its key differs
    from the previous row's or when it starts more than a day after every earlier episode of its
    key has ended. That "latest end so far within the key" is a cumulative maximum that must
    restart at each key; instead of a per-group window, each key's ends are lifted by its group
    number times a stride wider than any day range, so one running maximum over the whole frame
    never carries a value from one key into the next. Rows with equal starts may come in any
    order: each of them starts no later than the others end, so none of them starts a trajectory
    after another.

    The order comes from one sort of integers (:func:`factlab._clients.client_order`, on the
    pseudonym's halves ``high`` and ``low`` and the key of :func:`_secondary_key`). The rows stay
    in that order: every later step is indifferent to row order, and the one that is not, each
    client's distinct providers, then needs no sort of its own.

    ``rows`` must hold the provider (and care form) as Enums. The client column is a small client
    number (null for rows without a valid BSN), numbered in client order.
    """
    secondary, first_day, span = _secondary_key(rows, has_care_form=has_care_form)
    ordered = client_order(high, low, secondary)
    # Gathered in one select: Polars moves the columns in parallel. The start is not moved: it is
    # read back from the sort key below.
    in_order = pl.concat(
        [ordered, rows.drop(_START).select(pl.all().gather(ordered.get_column("row")))],
        how="horizontal",
    )
    key = pl.col("within") // span
    day = (pl.col("within") % span).cast(pl.Int64)
    start = pl.when(day == 0).then(_EARLIEST).otherwise(day + (first_day - 1))
    no_client = ~pl.col("known")
    new_key = pl.col("first") | key.ne_missing(key.shift(1)).fill_null(True) | no_client
    group = new_key.cum_sum().cast(pl.Int64)
    lifted_end = group * _GROUP_STRIDE + (pl.col(_END) - _EARLIEST)
    previous_end = lifted_end.cum_max().shift(1) - group * _GROUP_STRIDE + _EARLIEST
    starts_new = new_key | (start > previous_end + 1)
    return in_order.with_columns(
        starts_new.cum_sum().alias(_TRAJECTORY),
        pl.when(~no_client).then(pl.col("first").cum_sum()).alias(_CLIENT),
        # Null on rows without a client (their keys are not kept); nothing reads it there.
        start.alias(_START),
    ).drop("row", "within", "first", "known")


def _secondary_key(rows: pl.DataFrame, *, has_care_form: bool) -> tuple[pl.Series, int, int]:
    """One ``UInt64`` per row ordering by (provider and care form, start day); the first day; the
    span of the day part.

    The key is ``code * span + day``: ``code`` numbers the (provider, care form) pair from the
    Enum codes of both, ``day`` counts from the earliest known start (``first_day`` is day 1;
    0 = unknown start, which sorts first), and ``span`` is the power of two just above the last
    day, so that the key takes as few bits as it can (:func:`factlab._clients.client_order` keeps
    more of the pseudonym the fewer bits the key needs).
    """
    code = rows[_PROVIDER].to_physical().cast(pl.UInt64)
    if has_care_form:
        dtype = rows.schema["care_form"]
        assert isinstance(dtype, pl.Enum)  # made one by count() before the trajectories
        forms = len(dtype.categories)
        # A missing care form is a key of its own, after the known ones.
        form = rows["care_form"].to_physical().cast(pl.UInt64).fill_null(forms)
        code = code * (forms + 1) + form
    start = rows[_START]
    known = start.filter(start != _EARLIEST)
    first_day = int(known.min()) if len(known) else 0  # type: ignore[arg-type]
    last_day = int(known.max()) - (first_day - 1) if len(known) else 0  # type: ignore[arg-type]
    span = 2 ** last_day.bit_length()
    day = rows.select(
        pl.when(pl.col(_START) == _EARLIEST)
        .then(0)
        .otherwise(pl.col(_START) - (first_day - 1))
        .cast(pl.UInt64)
    ).to_series()
    return code * span + day, first_day, span


def _categories(frame: pl.DataFrame, name: str) -> pl.Series:
    dtype = frame.schema[name]
    assert isinstance(dtype, pl.Enum)  # count() makes these columns Enums
    return dtype.categories


def _cell_queries(work: pl.LazyFrame, dims: tuple[str, ...]) -> list[pl.LazyFrame]:
    """Distinct (cell, client) and (cell, trajectory) pairs and rows per cell, for _margins."""
    return [
        work.filter(pl.col(_CLIENT).is_not_null()).select(*dims, _CLIENT).unique(),
        work.select(*dims, _TRAJECTORY).unique(),
        _group(
            work,
            dims,
            pl.len().alias("registrations"),
            pl.col(_CLIENT).is_null().sum().alias("rows_without_valid_bsn"),
            (pl.col(_STATUS) == "sentinel").sum().alias("rows_sentinel"),
        ),
    ]


def _packed_table(work: pl.DataFrame, dims: tuple[str, ...]) -> pl.DataFrame | None:
    """Every cell and margin, with the (cell, client) pairs packed into one ``UInt64`` each.

    A cell is numbered in mixed radix from its dimensions' Enum codes; a margin over a subset of
    the dimensions is the same number with the other dimensions' digits zeroed. Each distinct
    client of a cell or margin is then one distinct ``client * cells + cell``, and so for
    trajectories: integer uniques instead of group-bys over several columns. Client and
    trajectory numbers are dense (1, 2, ...), so the grand total needs no unique at all.

    Returns None when the numbers would not fit in 64 bits (very many dimensions with very many
    values); :func:`_margins` then does the same work on the columns.
    """
    cards = [len(_categories(work, dim)) for dim in dims]
    cells = math.prod(cards)
    clients = int(work.get_column(_CLIENT).max() or 0)  # type: ignore[arg-type]
    trajectories = int(work.get_column(_TRAJECTORY).max() or 0)  # type: ignore[arg-type]
    if (max(clients, trajectories) + 1) * cells >= _PACKED_LIMIT:
        return None
    radix = [math.prod(cards[index + 1 :]) for index in range(len(dims))]
    stride = pl.lit(cells, dtype=pl.UInt64)

    def margin(code: pl.Expr, subset: tuple[int, ...]) -> pl.Expr:
        """The cell number ``code`` with the digits of the dimensions not in ``subset`` zeroed."""
        digits = [code // radix[index] % cards[index] * radix[index] for index in subset]
        return pl.sum_horizontal(pl.lit(0, dtype=pl.UInt64), *digits)

    digits = [
        pl.col(dim).to_physical().cast(pl.UInt64) * factor
        for dim, factor in zip(dims, radix, strict=True)
    ]
    coded = work.lazy().select(
        pl.sum_horizontal(pl.lit(0, dtype=pl.UInt64), *digits).alias("cell"),
        pl.col(_CLIENT).cast(pl.UInt64).alias("client"),
        pl.col(_TRAJECTORY).cast(pl.UInt64).alias("trajectory"),
        (pl.col(_STATUS) == "sentinel").alias("sentinel"),
    )

    def distinct(number: str) -> pl.LazyFrame:
        """Distinct (number, cell) pairs, sorted; ``alone`` marks a number in one cell only."""
        pairs = (pl.col(number) * stride + pl.col("cell")).drop_nulls().sort().alias("pair")
        owner = pl.col("pair") // stride
        return (
            coded.select(pairs)
            .filter(pl.col("pair").ne_missing(pl.col("pair").shift(1)))
            .with_columns(
                (owner.ne_missing(owner.shift(1)) & owner.ne_missing(owner.shift(-1))).alias(
                    "alone"
                )
            )
        )

    client_pairs, trajectory_pairs, rows = pl.collect_all(
        [
            distinct("client"),
            distinct("trajectory"),
            coded.group_by("cell").agg(
                pl.len().alias("registrations"),
                pl.col("client").is_null().sum().alias("rows_without_valid_bsn"),
                pl.col("sentinel").sum().alias("rows_sentinel"),
            ),
        ]
    )

    def per_cell(pairs: pl.DataFrame, subset: tuple[int, ...], name: str) -> pl.LazyFrame:
        """Distinct numbers per cell of ``subset``. A number in one cell only is counted there
        without a unique; only the pairs of numbers in several cells are deduplicated."""
        cell = pl.col("pair") % stride
        if len(subset) == len(dims):
            return pairs.lazy().group_by(cell.alias("cell")).agg(pl.len().alias(name))
        alone = (
            pairs.lazy()
            .filter("alone")
            .group_by(margin(cell, subset).alias("cell"))
            .agg(pl.len().alias(name))
        )
        merged = (pl.col("pair") // stride * stride + margin(cell, subset)).unique() % stride
        several = (
            pairs.lazy()
            .filter(~pl.col("alone"))
            .select(merged.alias("cell"))
            .group_by("cell")
            .agg(pl.len().alias(name))
        )
        return pl.concat([alone, several]).group_by("cell").agg(pl.col(name).sum())

    finest = client_pairs.lazy().select((pl.col("pair") % stride).alias("cell"))
    sums = pl.col("registrations", "rows_without_valid_bsn", "rows_sentinel").sum()
    subsets = [
        subset
        for size in range(len(dims), -1, -1)
        for subset in itertools.combinations(range(len(dims)), size)
    ]
    queries = []
    for subset in subsets:
        if not subset:
            # The grand total: one row even when no row was counted.
            queries.append(
                rows.lazy().select(
                    pl.lit(0, dtype=pl.UInt64).alias("cell"),
                    sums,
                    pl.lit(client_pairs.height).alias("sum_of_cells"),
                    pl.lit(clients).alias("unique_clients"),
                    pl.lit(trajectories).alias("trajectories"),
                )
            )
            continue
        cell = margin(pl.col("cell"), subset).alias("cell")
        joined = (
            rows.lazy()
            .group_by(cell)
            .agg(sums)
            .join(finest.group_by(cell).agg(pl.len().alias("sum_of_cells")), on="cell", how="left")
        )
        for name, pairs in (
            ("unique_clients", client_pairs),
            ("trajectories", trajectory_pairs),
        ):
            joined = joined.join(per_cell(pairs, subset, name), on="cell", how="left")
        queries.append(joined)
    parts = []
    for subset, part in zip(subsets, pl.collect_all(queries), strict=True):
        code = part.get_column("cell")
        labels = [
            _categories(work, dim).gather(code // radix[index] % cards[index])
            if index in subset
            else pl.repeat(None, part.height, dtype=pl.String, eager=True)
            for index, dim in enumerate(dims)
        ]
        parts.append(
            part.with_columns(label.alias(dim) for label, dim in zip(labels, dims, strict=True))
        )
    return _finish_table(pl.concat(parts, how="diagonal_relaxed").lazy(), dims)


def _group(frame: pl.LazyFrame, keys: Sequence[str], *aggs: pl.Expr) -> pl.LazyFrame:
    """``group_by(keys).agg(aggs)``, or one row of ``aggs`` when there are no keys."""
    if keys:
        return frame.group_by(*keys).agg(*aggs)
    return frame.select(*aggs)


def _margins(
    dims: tuple[str, ...],
    cells_clients: pl.DataFrame,
    cells_trajectories: pl.DataFrame,
    cells_rows: pl.DataFrame,
) -> pl.DataFrame:
    finest = _group(cells_clients.lazy(), dims, pl.len().alias("unique_clients"))
    parts = []
    for size in range(len(dims), -1, -1):
        for subset in itertools.combinations(dims, size):
            keys = list(subset)
            rows = _group(
                cells_rows.lazy(),
                keys,
                *[
                    pl.col(name).sum()
                    for name in ("registrations", "rows_without_valid_bsn", "rows_sentinel")
                ],
            )
            pieces = [
                _group(
                    cells_clients.lazy(), keys, pl.col(_CLIENT).n_unique().alias("unique_clients")
                ),
                _group(
                    cells_trajectories.lazy(),
                    keys,
                    pl.col(_TRAJECTORY).n_unique().alias("trajectories"),
                ),
                _group(finest, keys, pl.col("unique_clients").sum().alias("sum_of_cells")),
            ]
            for piece in pieces:
                rows = (
                    rows.join(piece, on=keys, how="left")
                    if keys
                    else pl.concat([rows, piece], how="horizontal")
                )
            omitted = [
                pl.lit(None, dtype=pl.String()).alias(dim) for dim in dims if dim not in subset
            ]
            parts.append(
                rows.with_columns(*omitted, *[pl.col(dim).cast(pl.String) for dim in subset])
            )
    return _finish_table(pl.concat(parts, how="diagonal"), dims)


def _finish_table(table: pl.LazyFrame, dims: tuple[str, ...]) -> pl.DataFrame:
    """Measures as Int64 (0 where absent), the upper bound, the columns in order, rows sorted."""
    measures = [
        pl.col(name).fill_null(0).cast(pl.Int64)
        for name in (
            "unique_clients",
            "sum_of_cells",
            "registrations",
            "trajectories",
            "rows_without_valid_bsn",
            "rows_sentinel",
        )
    ]
    table = (
        table.with_columns(measures)
        .with_columns(
            (pl.col("unique_clients") + pl.col("rows_without_valid_bsn")).alias(
                "unique_clients_upper"
            )
        )
        .select(*dims, *_MEASURES)
    )
    order = [
        pl.when(pl.col(dim).is_not_null()).then(
            pl.col(dim).replace_strict(_AGE_ORDER, default=len(_AGE_ORDER))
        )
        if dim == "age_group"
        else pl.col(dim)
        for dim in dims
    ]
    sorted_table = table.sort(order, nulls_last=True) if dims else table
    result: pl.DataFrame = sorted_table.collect()
    return result


def count_output_format(path: str | Path) -> str:
    """``json``, ``csv`` or ``parquet`` from the output file's name; ConfigError otherwise.

    Example:
        >>> count_output_format("counts.csv")
        'csv'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _OUTPUT_FORMATS:
        raise ConfigError(
            "out", [f"out: {Path(path).name}: expected a .json, .csv or .parquet file"]
        )
    return _OUTPUT_FORMATS[suffix]


def write_counts(result: CountResult, path: str | Path) -> list[Path]:
    """Write counts to ``path`` atomically; the format follows the extension.

    - ``.json`` without dimensions: the :meth:`CountResult.summary` object.
    - ``.json`` with dimensions: ``{"metadata": ..., "summary": ..., "rows": [...]}``.
    - ``.parquet``: the table, with ``{"metadata": ..., "summary": ...}`` as JSON under the
      key-value metadata key ``factlab.counts``.
    - ``.csv``: the table (an empty cell in a dimension column is a total), and beside it
      ``<name>.meta.json`` with ``{"metadata": ..., "summary": ...}``.

    Returns:
        The files written.

    Example:
        >>> import tempfile, pathlib, json
        >>> import polars as pl
        >>> from factlab import schema
        >>> frame = pl.DataFrame({
        ...     "pseudonym": ["a" * 32],
        ...     "bsn_status": pl.Series(["valid"], dtype=schema.STATUS_DTYPE),
        ...     "provider": ["A"],
        ... })
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "counts.json"
        >>> _ = write_counts(count(frame), out)
        >>> json.loads(out.read_text())["metadata"]["exact"]
        True
    """
    path = Path(path)
    kind = count_output_format(path)
    summary = result.summary()
    metadata = summary.pop("metadata")
    described = {"metadata": metadata, "summary": summary}
    if kind == "json":
        document = (
            summary | {"metadata": metadata}
            if not result.by
            else described | {"rows": result.table.to_dicts()}
        )
        with atomic_path(path) as temporary:
            temporary.write_text(
                json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        return [path]
    if kind == "parquet":
        with atomic_path(path) as temporary:
            result.table.write_parquet(
                temporary, metadata={METADATA_KEY: json.dumps(described, sort_keys=True)}
            )
        return [path]
    sidecar = path.with_name(path.name + ".meta.json")
    with atomic_path(path) as temporary, atomic_path(sidecar) as temporary_sidecar:
        result.table.write_csv(temporary)
        temporary_sidecar.write_text(
            json.dumps(described, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return [path, sidecar]
