"""Overlap between providers (or any dimension) in a linked file: clients they share.

The overlap matrix answers "how many unique clients did provider A and provider B both serve?".
It is computed from each client's distinct values: each provider's unique clients form the
diagonal, and every ordered pair of values of a client seen at more than one value adds to the
shared counts. Only clients at several values make pairs, so there are the sum of k² - k over
those clients (k = number of values a client has), which stays small next to the rows.

This module also holds the input handling that the analyses of linked rows share (overlap, flows,
costs): opening a linked file after checking its manifest, restricting rows to a period or a
reference date, and accounting for the rows that cannot be linked because they carry no valid BSN.
Those rows are never silently dropped: every result says how many were left out, by BSN status.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeAlias, TypeVar

import polars as pl

from factlab import schema
from factlab._checks import as_date, as_period, require_frame, require_text
from factlab.analysis._clients import client_keys, client_order
from factlab.analysis.coverage import check_coverage
from factlab.errors import ConfigError, DataError, FactlabError, InputError
from factlab.io import check_parquet_readable, file_sha256
from factlab.manifest import read_manifest
from factlab.periods import Period, active_in, active_on

__all__ = [
    "INTERNAL_NOTICE",
    "LinkedInput",
    "LinkedSource",
    "OverlapResult",
    "linkable",
    "matrix_of_pairs",
    "overlap",
    "reads_linked",
    "restrict_time",
    "rows_without_valid_bsn",
    "scan_linked",
]

#: A linked file on disk, or its rows as a frame.
LinkedSource: TypeAlias = str | Path | pl.DataFrame | pl.LazyFrame

#: What every analysis output says about itself: the figures are exact and not yet protected.
INTERNAL_NOTICE: Final = (
    "Exact, unrounded counts for internal use only. Not for publication without disclosure "
    "control (rounding and suppression of small cells)."
)

#: Columns a figure can be broken down by: the provider and the fields that classify care.
#: Every other column identifies a client or classifies its BSN (pseudonyms, the status), holds
#: amounts or dates, or is no column of a linked file at all (a raw ``bsn`` in a file made
#: elsewhere): grouping by it would put its values in an output file.
_DIMENSION_COLUMNS: Final = (
    schema.PROVIDER,
    *(name for name, dtype in schema.FIELD_DTYPES.items() if dtype == schema.TEXT_DTYPE),
    "birth_year",
)
_REQUIRED: Final = (schema.PSEUDONYM, schema.STATUS, schema.PROVIDER)
_DATE_COLUMNS: Final = ("start_date", "end_date")
_VALUE: Final = "_value"
_LINKABLE: Final = "_linkable"


@dataclass(frozen=True)
class LinkedInput:
    """Rows of a linked file, ready to scan, with where they came from.

    Attributes:
        frame: the rows, lazily.
        name: the file path, or ``"frame"`` for rows passed in memory (used in error messages).
        provenance: non-secret facts about the input for output metadata: path, SHA-256, round,
            scheme, stage, key id and key fingerprint (never a key), rows, providers.
    """

    frame: pl.LazyFrame
    name: str
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def validated(self) -> bool:
        """The rows are a linked file's, whose pseudonyms link validated (32 lowercase hex
        characters each), so they can be read as integers without checking them again."""
        return self.provenance.get("format") == schema.FORMAT_LINKED


def scan_linked(
    source: LinkedSource, *, columns: Iterable[str] = (), dates: bool = False
) -> LinkedInput:
    """Open linked rows after checking that they can answer the question.

    A path must be a factlab Parquet file whose manifest says ``factlab-linked``; its manifest is
    read before any row. A DataFrame or LazyFrame is taken as linked rows as it is.

    Args:
        source: path of a linked file, or its rows.
        columns: columns the analysis needs besides ``pseudonym``, ``bsn_status``, ``provider``.
        dates: whether ``start_date`` and ``end_date`` are needed (they must be Date columns).

    Raises:
        InputError: the file is missing, not a linked factlab file, or lacks a needed column.
        DataError: a date column is not of type Date.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({"pseudonym": ["a" * 32], "bsn_status": ["valid"],
        ...                      "provider": ["P1"]})
        >>> scan_linked(rows).name
        'frame'
    """
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        frame, name = source.lazy(), "frame"
        provenance: dict[str, Any] = {"format": "dataframe"}
    else:
        path = Path(source)
        manifest = read_manifest(path)
        if manifest.format != schema.FORMAT_LINKED:
            raise InputError(
                f"{path}: a {schema.FORMAT_LINKED} file is needed, this is {manifest.format!r}"
            )
        frame, name = pl.scan_parquet(path), str(path)
        provenance = {
            "path": str(path),
            "sha256": file_sha256(path),
            "format": manifest.format,
            "round": manifest.round,
            "scheme": manifest.scheme,
            "stage": manifest.stage,
            "key_id": manifest.key_id,
            "key_fingerprint": manifest.key_fingerprint,
            "rows": manifest.rows,
            "providers": sorted(
                str(entry["provider"]) for entry in manifest.inputs if entry.get("provider")
            ),
        }
    present = frame.collect_schema()
    # A canonical column that is null throughout (a field no provider delivered) may arrive
    # untyped; give it its canonical type so that it behaves like an empty field.
    untyped = {
        name: dtype
        for name, dtype in schema.FIELD_DTYPES.items()
        if name in present and present[name] == pl.Null()
    }
    if untyped:
        frame = frame.with_columns(pl.col(name).cast(dtype) for name, dtype in untyped.items())
        present = frame.collect_schema()
    needed = [*_REQUIRED, *columns, *(_DATE_COLUMNS if dates else ())]
    missing = [column for column in dict.fromkeys(needed) if column not in present]
    if missing:
        raise InputError(f"{name}: lacks column(s) {', '.join(missing)}")
    if dates:
        wrong = [column for column in _DATE_COLUMNS if present[column] != pl.Date()]
        if wrong:
            raise DataError(f"{name}: column(s) {', '.join(wrong)} must be of type Date")
    return LinkedInput(frame, name, provenance)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def reads_linked(analysis: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate an analysis whose first argument (``source``) is a linked file or its rows: a
    failure that comes from a damaged file becomes one :class:`InputError` naming the file.

    Polars finds a damaged data page only when it decodes it, deep in the analysis, and raises
    its own error (or, from a panic in its Rust code, a PanicException, which is no Exception).
    On such a failure the file is read once more on its own: if that fails too, the file is
    named; otherwise the original error stands, so a fault of factlab's is not passed off as the
    file's. Nothing is read twice on the way to a result.
    """

    @functools.wraps(analysis)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return analysis(*args, **kwargs)
        except (Exception, pl.exceptions.PanicException) as exc:
            source = args[0] if args else kwargs.get("source")
            if isinstance(exc, FactlabError) or not isinstance(source, str | os.PathLike):
                raise
            path = Path(source)
            if path.is_file():
                check_parquet_readable(path)
            raise

    return wrapper


def check_dimension(by: str, *, option: str = "by") -> None:
    """Refuse a grouping column that would reveal identifiers or is not a category.

    Raises:
        ConfigError: ``by`` is not the provider, a text field or the birth year (e.g. the
            pseudonym, the BSN status, a date, the cost, or a column a linked file never has).
    """
    if by not in _DIMENSION_COLUMNS:
        raise ConfigError(
            "arguments",
            [
                f"{option}: {by!r} cannot be used as a dimension "
                f"(use one of {', '.join(_DIMENSION_COLUMNS)})"
            ],
        )


def check_time(period: Period | None, on: date | None) -> None:
    """Refuse a period together with a reference date: the figure would be ambiguous.

    Raises:
        ConfigError: both were given.
    """
    if period is not None and on is not None:
        raise ConfigError("arguments", ["period/on: give a period or a reference date, not both"])


def restrict_time(
    frame: pl.LazyFrame, *, period: Period | None = None, on: date | None = None
) -> pl.LazyFrame:
    """Keep the rows in care during ``period`` or on the reference date ``on`` (not both).

    Raises:
        ConfigError: both a period and a reference date were given.

    Example:
        >>> import polars as pl
        >>> from datetime import date
        >>> rows = pl.LazyFrame({"start_date": [date(2024, 1, 1), date(2025, 3, 1)],
        ...                      "end_date": [date(2024, 6, 30), None]})
        >>> restrict_time(rows, on=date(2025, 6, 1)).collect().height
        1
    """
    check_time(period, on)
    if period is not None:
        return frame.filter(active_in(period))
    if on is not None:
        return frame.filter(active_on(on))
    return frame


def linkable() -> pl.Expr:
    """Boolean expression: the row has a valid BSN, so its pseudonym can be linked.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({"pseudonym": ["a" * 32, None], "bsn_status": ["valid", "missing"]})
        >>> rows.select(linkable()).to_series().to_list()
        [True, False]
    """
    return (pl.col(schema.STATUS) == "valid") & pl.col(schema.PSEUDONYM).is_not_null()


def rows_without_valid_bsn(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Per BSN status, the number of rows that cannot be linked (columns ``status``, ``rows``).

    Example:
        >>> import polars as pl
        >>> rows = pl.LazyFrame({"pseudonym": [None, None, "a" * 32],
        ...                      "bsn_status": ["missing", "missing", "valid"]})
        >>> rows_without_valid_bsn(rows).collect().rows()
        [('missing', 2)]
    """
    return (
        frame.filter(~linkable())
        .group_by(pl.col(schema.STATUS).cast(pl.String).alias("status"))
        .agg(pl.len().cast(pl.Int64).alias("rows"))
    )


def status_counts(counts: pl.DataFrame) -> dict[str, int]:
    """Turn :func:`rows_without_valid_bsn` output into a dict with every invalid status present."""
    result = {status: 0 for status in schema.STATUSES if status != "valid"}
    for status, rows in counts.select("status", "rows").iter_rows():
        result[str(status)] = int(rows)
    return result


def dimension_value(by: str | None) -> pl.Expr:
    """The grouping value as a string column (null for the overall figure)."""
    if by is None:
        return pl.lit(None, dtype=pl.String).alias(_VALUE)
    return pl.col(by).cast(pl.String).alias(_VALUE)


def time_parameters(period: Period | None, on: date | None) -> dict[str, Any]:
    """The time restriction, as JSON-ready values for output metadata."""
    return {
        "period": None
        if period is None
        else {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "on": None if on is None else on.isoformat(),
    }


@dataclass(frozen=True)
class OverlapResult:
    """Exact overlap between the values of a dimension (by default: providers).

    Attributes:
        by: the dimension, e.g. ``provider`` or ``care_form``.
        matrix: long form, columns ``<by>_a``, ``<by>_b``, ``shared_clients`` (Int64); every
            ordered pair of values is present, zeros included; the diagonal holds each value's
            unique clients. A null value (the field was empty) is a value of its own.
        rows_used: rows with a valid BSN that the matrix is built from.
        rows_without_valid_bsn: rows left out because they carry no valid BSN, per status.
        left_out_by_value: the same rows per value: columns ``<by>``, ``rows_without_valid_bsn``.
        period: the period the rows were restricted to, if any.
        on: the reference date the rows were restricted to, if any.
        source: non-secret facts about the input (see :class:`LinkedInput`).
    """

    by: str
    matrix: pl.DataFrame
    rows_used: int
    rows_without_valid_bsn: Mapping[str, int]
    left_out_by_value: pl.DataFrame
    period: Period | None = None
    on: date | None = None
    source: Mapping[str, Any] = field(default_factory=dict)

    def unique_clients(self) -> dict[str | None, int]:
        """Unique clients per value: the diagonal of the matrix."""
        a, b = f"{self.by}_a", f"{self.by}_b"
        diagonal = self.matrix.filter(pl.col(a).eq_missing(pl.col(b)))
        return dict(zip(diagonal[a].to_list(), diagonal["shared_clients"].to_list(), strict=True))

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the figures, for the output file."""
        return {
            "kind": "factlab-overlap",
            "exact": True,
            "internal": True,
            "notice": INTERNAL_NOTICE,
            "parameters": {"by": self.by, **time_parameters(self.period, self.on)},
            "rows_used": self.rows_used,
            "rows_without_valid_bsn": dict(self.rows_without_valid_bsn),
            "rows_without_valid_bsn_by_value": self.left_out_by_value.rename(
                {self.by: "value"}
            ).to_dicts(),
            "source": dict(self.source),
        }


@reads_linked
def overlap(
    source: LinkedSource,
    *,
    by: str = schema.PROVIDER,
    period: Period | str | None = None,
    on: date | str | None = None,
) -> OverlapResult:
    """Count the unique clients that each pair of values of ``by`` share.

    Args:
        source: a linked file (checked through its manifest) or its rows.
        by: the dimension; ``provider`` by default, or e.g. ``care_form``.
        period: count only rows in care during this period (or its text, e.g. ``"2025H1"``).
        on: count only rows in care on this reference date (or ``"2025-12-31"``).

    Returns:
        The matrix in long form with its accounting of rows left out.

    Raises:
        InputError: the input is not a linked file or lacks a needed column.
        ConfigError: ``by`` is not a dimension, or both ``period`` and ``on`` were given.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({
        ...     "pseudonym": ["a" * 32, "a" * 32, "b" * 32, None],
        ...     "bsn_status": ["valid", "valid", "valid", "missing"],
        ...     "provider": ["P1", "P2", "P1", "P2"],
        ... })
        >>> result = overlap(rows)
        >>> result.matrix.rows()
        [('P1', 'P1', 2), ('P1', 'P2', 1), ('P2', 'P1', 1), ('P2', 'P2', 1)]
        >>> result.rows_without_valid_bsn["missing"]
        1
    """
    require_frame(source, where="overlap", name="source", path_ok=True)
    period = None if period is None else as_period(period, where="overlap", name="period")
    on = None if on is None else as_date(on, where="overlap", name="on")
    require_text(by, where="overlap", name="by")
    check_dimension(by)
    check_time(period, on)
    linked = scan_linked(source, columns=(by,), dates=period is not None or on is not None)
    check_coverage(source, [] if period is None else [period], on=on, where="overlap")
    rows = restrict_time(linked.frame, period=period, on=on)
    # The one pass over the file; the rest works on these rows in memory.
    collected = rows.select(
        schema.PSEUDONYM, schema.STATUS, by, linkable().alias(_LINKABLE)
    ).collect()
    rows = collected.lazy()
    matrix = _matrix(collected, by, checked=linked.validated).lazy()
    left_out = rows.filter(~pl.col(_LINKABLE))
    by_value = (
        left_out.group_by(pl.col(by).alias(by))
        .agg(pl.len().cast(pl.Int64).alias("rows_without_valid_bsn"))
        .sort(by, nulls_last=True)
    )
    used = rows.filter(_LINKABLE).select(pl.len().cast(pl.Int64).alias("rows"))
    matrix_df, status_df, by_value_df, used_df = pl.collect_all(
        [matrix, rows_without_valid_bsn(rows), by_value, used]
    )
    return OverlapResult(
        by=by,
        matrix=matrix_df,
        rows_used=int(used_df.item()),
        rows_without_valid_bsn=status_counts(status_df),
        left_out_by_value=by_value_df.with_columns(_as_text(by_value_df.get_column(by))),
        period=period,
        on=on,
        source=linked.provenance,
    )


def _matrix(rows: pl.DataFrame, by: str, *, checked: bool) -> pl.DataFrame:
    """The overlap matrix in long form: every ordered pair of values of ``by`` present.

    The rows are sorted by client and value code on integers (:mod:`factlab.analysis._clients`),
    which is far cheaper than grouping by the 32-character pseudonyms; a client's distinct values
    are then the rows where the client or the value changes. A client with k values adds the k² - k
    ordered pairs of its own values off the diagonal; clients with one value add only to the
    diagonal, so those pairs stay few next to the rows. Values seen only on rows without a valid BSN
    stay in the matrix (with zeros), so a provider that delivered no BSNs shows up instead of
    vanishing.
    """
    values = rows.get_column(by)
    distinct = values.unique().drop_nulls().sort()
    # Codes 0..k-1 for the values present, k for a missing value.
    code = values.replace_strict(
        distinct, pl.int_range(len(distinct), dtype=pl.UInt64, eager=True), default=None
    ).fill_null(len(distinct))
    pseudonyms = rows.get_column(schema.PSEUDONYM).cast(pl.String).set(~rows[_LINKABLE], None)
    high, low = client_keys(pseudonyms, checked=checked)
    ordered = client_order(high, low, code)
    # In client order, a client's distinct values are the rows where the client or value changes.
    pairs = (
        ordered.lazy()
        .filter("known")
        .filter(pl.col("first") | pl.col("within").ne_missing(pl.col("within").shift(1)))
        .select(pl.col("first").cum_sum().alias("client"), pl.col("within").alias("a"))
        .collect()
    )
    labels = (
        pl.concat([distinct, pl.Series([None], dtype=distinct.dtype)])
        if values.null_count()
        else distinct
    )
    return matrix_of_pairs(pairs, _as_text(labels), by)


def _as_text(values: pl.Series) -> pl.Series:
    """Values for a result table: a Categorical column (as the linked file's text fields are,
    :data:`factlab.schema.TEXT_DTYPE`) becomes String, as in every result table; others stay.

    Example:
        >>> _as_text(pl.Series(["P1"], dtype=pl.Categorical)).dtype
        String
    """
    return values.cast(pl.String) if isinstance(values.dtype, pl.Categorical) else values


def matrix_of_pairs(pairs: pl.DataFrame, labels: pl.Series, by: str) -> pl.DataFrame:
    """The overlap matrix from each client's distinct values.

    Args:
        pairs: columns ``client`` and ``a`` (a value's code: its index in ``labels``), one row per
            distinct (client, value), each client's rows together.
        labels: the values, by code; every one of them gets its row and column in the matrix.
        by: the dimension's name, for the columns ``<by>_a`` and ``<by>_b``.

    Example:
        >>> pairs = pl.DataFrame({"client": [1, 1, 2], "a": [0, 1, 1]})
        >>> matrix_of_pairs(pairs, pl.Series(["P1", "P2"]), "provider").rows()
        [('P1', 'P1', 1), ('P1', 'P2', 1), ('P2', 'P1', 1), ('P2', 'P2', 2)]
    """
    a, b = f"{by}_a", f"{by}_b"
    pairs = pairs.select(pl.col("client"), pl.col("a").cast(pl.UInt64))
    diagonal = pairs.group_by("a").agg(pl.len().alias("shared_clients")).with_columns(b=pl.col("a"))
    counted = pl.concat(
        [diagonal.select("a", "b", "shared_clients"), _pairs_of_values(pairs)],
        how="vertical_relaxed",
    )
    present = pl.DataFrame(
        {"code": pl.int_range(len(labels), dtype=pl.UInt64, eager=True), "value": labels}
    )
    return (
        present.select(pl.col("code").alias("a"), pl.col("value").alias(a))
        .join(present.select(pl.col("code").alias("b"), pl.col("value").alias(b)), how="cross")
        .join(counted, on=["a", "b"], how="left")
        .select(a, b, pl.col("shared_clients").fill_null(0).cast(pl.Int64))
        .sort(a, b, nulls_last=True)
    )


def _pairs_of_values(pairs: pl.DataFrame) -> pl.DataFrame:
    """Clients per ordered pair of different values (``a``, ``b``, ``shared_clients``).

    ``pairs`` holds each client's distinct values, one row each, a client's rows together. Every
    client with k values gives the k² - k ordered pairs of them: row i with row i + j of the same
    client, for j = 1, 2, ..., in both orders. Step j keeps only the clients with more than j
    values, so the work is that of the pairs made, not a join of all multi-value clients.
    """
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    first = pl.col("client").ne_missing(pl.col("client").shift(1))
    last = pl.col("client").ne_missing(pl.col("client").shift(-1))
    runs = pairs.with_columns(
        (row - pl.when(first).then(row).forward_fill()).alias("position"),
        (
            pl.when(last).then(row).backward_fill() - pl.when(first).then(row).forward_fill() + 1
        ).alias("values"),
    ).filter(pl.col("values") > 1)
    found: list[pl.DataFrame] = []
    step = 1
    while runs.height:
        # Shift before filtering: the partner is the row ``step`` further down the same client.
        made = runs.select(
            "a",
            pl.col("a").shift(-step).alias("b"),
            (pl.col("position") + step < pl.col("values")).alias("same_client"),
        ).filter("same_client")
        found += [
            made.select("a", "b"),
            made.select(pl.col("b").alias("a"), pl.col("a").alias("b")),
        ]
        step += 1
        runs = runs.filter(pl.col("values") > step)
    if not found:
        return pl.DataFrame(schema={"a": pl.UInt64, "b": pl.UInt64, "shared_clients": pl.UInt32})
    return pl.concat(found).group_by("a", "b").agg(pl.len().alias("shared_clients"))
