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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab._checks import (
    as_date,
    as_period,
    require_frame,
    require_names,
    require_type,
)
from factlab._version import __version__
from factlab.analysis._count_input import (
    check_statuses,
    enums,
    latest_municipality,
    open_source,
    rows_and_clients,
)
from factlab.analysis._table import (
    CLIENT,
    PROVIDER,
    STATUS,
    TRAJECTORY,
    cell_table,
    enum_labels,
)
from factlab.analysis._trajectories import (
    END,
    INVERTED,
    START,
    with_dates,
    with_trajectories,
)
from factlab.analysis.overlap import OverlapResult, matrix_of_pairs, reads_linked
from factlab.errors import ConfigError, DataError
from factlab.manifest import now_iso
from factlab.periods import Period, active_in, active_on, parse_date, parse_period
from factlab.reference.config import Reference
from factlab.reference.dimensions import (
    Derivation,
    derivations,
    derived_dimensions,
    expand,
    prepare,
    stack,
)
from factlab.steward.fallback import fallback_report, resolve_fallback

__all__ = [
    "AGE_GROUPS",
    "DIMENSIONS",
    "NOTE",
    "UNKNOWN",
    "CountResult",
    "count",
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

# Age groups sort by age, not as text; unknown sorts after them.
_AGE_ORDER: Final = {label: index for index, (_, _, label) in enumerate(AGE_GROUPS)}
_NOT_VALID: Final = tuple(status for status in schema.STATUSES if status != "valid")


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
            :class:`factlab.steward.fallback.FallbackReport`); None when it was not used.
        overlap: the overlap between providers of the same rows, as
            :func:`factlab.analysis.overlap.overlap` gives it (made in the same pass, at little
            cost; a missing provider shows as ``unknown``); None when the fallback key was used,
            since the overlap links valid BSNs only.
        source_path: the file counted (None for a frame); :func:`write_counts` never writes
            over it.
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
    source_path: Path | None = field(default=None, repr=False, compare=False)
    reference: dict[str, Any] | None = None

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
            **({"reference": self.reference} if self.reference is not None else {}),
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


@reads_linked
def count(
    source: pl.DataFrame | pl.LazyFrame | str | Path,
    *,
    by: Sequence[str] = (),
    period: Period | str | None = None,
    on: date | str | None = None,
    use_fallback: bool = False,
    reference: Reference | None = None,
    where: pl.Expr | None = None,
) -> CountResult:
    """Count unique clients, registrations and trajectories, in total or by dimensions.

    Args:
        source: linked rows, or the path of a linked file (its manifest is checked first).
        by: dimensions of the table, from :data:`DIMENSIONS` (each present in the data).
        period: count clients in care at any moment in this period (e.g. ``"2025"``,
            ``"2025H1"``); ``age_group`` then uses the period's last day.
        on: count clients in care on this reference date (``"2025-12-31"``).
        use_fallback: link rows without a valid BSN through the keyed fallback pseudonym
            (:mod:`factlab.steward.fallback`); the result's ``fallback`` then says how many rows and
            clients that concerned. Off by default.
        reference: reference data (:func:`factlab.reference.config.load_reference`): the
            municipalities become those of its reference year (unknown ones are refused), and
            ``by`` may name its levels (``purchasing_region``), ``provider_group``, or a
            hierarchy (``region``: its leaf dimension with every level stacked in its column,
            each a union of clients; see :mod:`factlab.reference.dimensions`).
        where: count only the rows for which this expression is true (prevalence's age band);
            the file is still opened and checked, and described in ``source``, as a whole;
            its coverage too (every provider's deliveries must cover the period, also those of
            a provider the expression leaves out: link only the providers wanted instead).

    Returns:
        The counts; ``table`` holds every cell and margin.

    Raises:
        ConfigError: unknown, absent or repeated dimensions, both ``period`` and ``on``, or
            ``age_group`` without a period or reference date; or, for a file linked with
            delivery periods, a period or reference date that some provider's deliveries do
            not cover (:mod:`factlab.analysis.coverage`): its ongoing episodes would count as
            in care on days nothing was delivered for.
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
    require_frame(source, where="count", name="source", path_ok=True)
    by = require_names(by, where="count", name="by")
    period = None if period is None else as_period(period, where="count", name="period")
    on = None if on is None else as_date(on, where="count", name="on")
    if reference is not None:
        require_type(
            reference,
            Reference,
            where="count",
            name="reference",
            hint="a factlab Reference (load one with factlab.load_reference(path))",
        )
    if where is not None and not isinstance(where, pl.Expr):
        raise TypeError(f"count: where must be a Polars expression or None; got {where!r}")
    frame, facts, digest, coverage = open_source(source)
    if period is None or on is None:  # both: refused with the other request problems below
        # Days no delivery of a provider tells about would count its ongoing episodes as in care;
        # refused before the file is read.
        problems = coverage.problems([] if period is None else [period], on=on, where="count")
        if problems and where is not None:
            # ``where`` is any expression: which providers it keeps cannot be told reliably, so
            # every provider's coverage counts. Linking only the providers wanted is the way.
            problems.append(
                "count: where is not analysed, so every provider in the file must cover the "
                "period, also one the filter leaves out; to count some providers only, link "
                "only their deliveries (factlab link) and count that file"
            )
        if problems:
            raise ConfigError("count", problems)
    if where is not None:
        frame = frame.filter(where)
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
    check_statuses(frame, columns)
    chosen_period = parse_period(period) if isinstance(period, str) else period
    on_date = parse_date(on, what="reference date") if isinstance(on, str) else on
    asked, stacks = expand(by, reference)
    derived = derivations(reference) if reference is not None else {}
    dims = _check_request(asked, columns, chosen_period, on_date, derived)
    if reference is not None:
        span = (
            (chosen_period.start, chosen_period.end)
            if chosen_period is not None
            else (on_date, on_date)
            if on_date is not None
            else None
        )
        frame = prepare(frame, reference, dims, source=facts.get("file", "frame"), span=span)

    frame = with_dates(frame, columns, timed=chosen_period is not None or on_date is not None)
    if chosen_period is not None:
        frame = frame.filter(active_in(chosen_period))
    elif on_date is not None:
        frame = frame.filter(active_on(on_date))
    age_date = chosen_period.end if chosen_period is not None else on_date
    has_care_form = "care_form" in columns
    # The one pass over the file: the rows counted, with only the columns needed.
    needed = [STATUS, PROVIDER, START, END, INVERTED]
    needed += ["care_form"] if has_care_form else []
    from_reference, derived_exprs = derived_dimensions(
        dims, derived, municipality=latest_municipality(), provider=PROVIDER
    )
    needed += [_leaf(dim) for dim in dims if dim not in derived] + from_reference
    # Provider, care form and the plain dimensions become Enums: integer codes from here on.
    plain = [dim for dim in dims if dim not in ("age_group", "municipality", *derived)]
    coded = list(dict.fromkeys([PROVIDER, *(["care_form"] if has_care_form else []), *plain]))
    rows, high, low = rows_and_clients(
        _with_identity(frame),
        list(dict.fromkeys(needed)),
        coded=coded,
        # Pseudonyms of a linked file were validated by link; those of a frame are checked here.
        checked=bool(facts) and not use_fallback,
    )
    rows = enums(rows, coded)
    # Trajectories first: they turn pseudonyms into small client numbers, which makes the
    # per-client municipality window in _with_dimensions much cheaper. From here on the rows are
    # in client order.
    rows = with_trajectories(rows, high, low, has_care_form=has_care_form)
    del high, low
    columns_kept = (*dims, CLIENT, STATUS, PROVIDER, TRAJECTORY, INVERTED)
    compact = (
        _with_dimensions(rows, dims, age_date, derived_exprs)
        .select(columns_kept)
        .collect()
        .rechunk()
    )
    del rows
    # The other dimensions as Enums too: the group-bys below then hash small integers.
    work = enums(compact, dims)
    del compact
    table = cell_table(work, dims, orders={"age_group": _AGE_ORDER})
    for hierarchy in stacks:
        table = stack(table, hierarchy)
    provider_labels = enum_labels(work, PROVIDER)
    # Each client's distinct providers: one UInt64 per (client, provider). The rows are in
    # client order and, within a client, in provider order (the provider leads the secondary key
    # of the trajectories), so equal pairs are next to each other without a sort.
    pair = pl.col(CLIENT).cast(pl.UInt64) * len(provider_labels) + pl.col(
        PROVIDER
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
            .group_by(PROVIDER, STATUS)
            .agg(
                pl.len().alias("rows"),
                pl.col(INVERTED).sum().alias("end_before_start"),
                pl.col(CLIENT).is_null().sum().alias("without_client"),
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
            client_providers, provider_labels, by_provider_status, chosen_period, on_date, facts
        )
    del work
    dims = tuple(dim for dim in dims if dim in table.columns)
    total = table.filter(
        pl.all_horizontal(pl.lit(True), *[pl.col(dim).is_null() for dim in dims])
    ).row(0, named=True)

    rows_by_status = dict.fromkeys(schema.STATUSES, 0)
    without_valid: dict[str, dict[str, int]] = {}
    for provider, status, rows, *_ in by_provider_status.sort(PROVIDER, STATUS).iter_rows():
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
        reference_date=on_date,
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
        source_path=None if isinstance(source, pl.DataFrame | pl.LazyFrame) else Path(source),
        reference=reference.to_dict() if reference is not None else None,
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
        left_out.group_by(pl.col(STATUS).cast(pl.String)).agg(pl.col("without_client").sum()).rows()
    )
    by_value = (
        left_out.group_by(pl.col(PROVIDER).cast(pl.String).alias(schema.PROVIDER))
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


def _check_request(
    by: tuple[str, ...],
    columns: pl.Schema,
    period: Period | None,
    reference: date | None,
    derived: dict[str, Derivation],
) -> tuple[str, ...]:
    available = [
        dim
        for dim in (*DIMENSIONS, *derived)
        if (dim == "age_group" and "birth_year" in columns)
        or (derived[dim].base if dim in derived else dim) in columns
    ]
    problems: list[str] = []
    for dim in by:
        if dim not in DIMENSIONS and dim not in derived:
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


def _with_identity(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the client (pseudonym of valid rows only), status and provider as plain columns."""
    status = pl.col(schema.STATUS).cast(schema.STATUS_DTYPE)
    valid = (status == "valid") & pl.col(schema.PSEUDONYM).is_not_null()
    return frame.with_columns(
        pl.when(valid).then(pl.col(schema.PSEUDONYM).cast(pl.String)).alias(CLIENT),
        status.alias(STATUS),
        # Categorical, as a linked file holds it: no text per row is made
        pl.col(schema.PROVIDER).cast(schema.TEXT_DTYPE).fill_null(UNKNOWN).alias(PROVIDER),
    )


def _leaf(dim: str) -> str:
    """The column a dimension of its own is read from: its own, or birth_year."""
    return "birth_year" if dim == "age_group" else dim


def _with_dimensions(
    rows: pl.DataFrame,
    dims: tuple[str, ...],
    on: date | None,
    derived: dict[str, pl.Expr],
) -> pl.LazyFrame:
    expressions = []
    for dim in dims:
        if dim in derived:  # from the reference (derived_dimensions)
            expressions.append(derived[dim])
        elif dim == "age_group":
            assert on is not None  # _check_request refuses age_group without a date
            expressions.append(_age_group(pl.col("birth_year"), on).alias(dim))
        elif dim == "municipality":
            expressions.append(latest_municipality().fill_null(UNKNOWN).alias(dim))
        elif isinstance(dtype := rows.schema[dim], pl.Enum):
            # Widening the Enum by "unknown" keeps its codes: no text is made.
            categories = dtype.categories.to_list()
            widened = pl.Enum([*categories, *([UNKNOWN] if UNKNOWN not in categories else [])])
            expressions.append(pl.col(dim).cast(widened).fill_null(UNKNOWN).alias(dim))
        else:
            expressions.append(pl.col(dim).cast(pl.String).fill_null(UNKNOWN).alias(dim))
    return rows.lazy().with_columns(expressions)
