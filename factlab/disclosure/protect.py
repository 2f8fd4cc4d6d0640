"""Statistical disclosure control of count tables: suppression, rounding, and its audit.

``protect`` turns an exact count table (from ``factlab count``) into a :class:`ProtectedTable`:

1. *primary suppression*: a cell is secret when any of its counts is in 1..``secret_max`` (or 0,
   when zeros are secret, as CBS shows them);
2. *secondary suppression*: more cells are suppressed until the audit shows that no secret cell
   can be narrowed to an interval smaller than its protection width, from the published values
   and the relations between cells and margins (see :mod:`factlab.disclosure.audit`); which
   cells, the search decides (:mod:`factlab.disclosure.suppress`: by default the pattern of
   least cost), and the audit from scratch judges the result before anything is published;
3. *rounding*: every published value is rounded half up to a multiple of ``rounding_base``.

Cells the rules declare empty by definition (``structural_empty``) must count 0; they are
published as known zeros with the status ``structural``, never suppressed, and the audit knows
them to be 0.

The exact counts never leave this module: a :class:`ProtectedTable` holds only rounded
published values and a status per value, and it can only be made by :func:`protect` or
:func:`read_protected`, so a report cannot be produced from raw counts by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, cast

import polars as pl

from factlab._checks import require_text, require_type
from factlab._version import __version__
from factlab.analysis.counts import CountResult
from factlab.disclosure.audit import (
    AuditResult,
    audit_lattice,
    round_to_base,
)
from factlab.disclosure.grid import order_by
from factlab.disclosure.labels import refuse_bsn_labels
from factlab.disclosure.lattice import BoolArray, Lattice, prepare
from factlab.disclosure.protection_report import ProtectionReport, protection_report
from factlab.disclosure.rules import (
    PRESETS,
    DisclosureRules,
    rules_from_mapping,
)
from factlab.disclosure.suppress import heuristic, suppress
from factlab.errors import ConfigError, DataError, InputError
from factlab.result_files import read_table, write_table

__all__ = [
    "Counts",
    "ProtectedTable",
    "Protection",
    "protect",
    "read_protected",
    "write_protected",
]

#: Value of ``format`` in a protected table's metadata.
FORMAT_PROTECTED: Final = "factlab-protected"
#: Key of the metadata in a Parquet file's key-value metadata.
METADATA_KEY: Final = "factlab.protected"
#: Status of a value: published (rounded), suppressed, or a structural empty (0 by definition).
STATUSES: Final = ("published", "suppressed", "structural")
STATUS_DTYPE: Final = pl.Enum(STATUSES)
#: How a suppressed value is rendered.
SUPPRESSED_SYMBOL: Final = "."
#: How a structural empty is rendered: empty by definition, not a secret.
STRUCTURAL_SYMBOL: Final = "-"
_SEAL: Final = object()


@dataclass(frozen=True)
class ProtectedTable:
    """A count table after disclosure control: safe to render and publish under its rules.

    Only :func:`protect` and :func:`read_protected` make one; constructing it directly raises
    TypeError, so raw counts cannot be passed off as protected.

    Attributes:
        frame: the key columns (dimensions; null = total; and the part column, if any), then per
            measure the rounded value (null when suppressed, 0 for a structural empty) and
            ``<measure>_status`` (``published``, ``suppressed`` or ``structural``).
        dimensions: the dimension columns.
        measures: the measure columns.
        part_column: the column naming the table (e.g. a year and its halves), or None.
        rules: the rules applied.
    """

    frame: pl.DataFrame
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    part_column: str | None
    rules: DisclosureRules
    _seal: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError(
                "a ProtectedTable is made by factlab.disclosure.protect.protect, not by hand"
            )

    @property
    def keys(self) -> tuple[str, ...]:
        """Key columns: the part column (if any) and the dimensions."""
        return ((self.part_column,) if self.part_column else ()) + self.dimensions

    def suppressed_cells(self) -> pl.DataFrame:
        """The key columns of the suppressed cells."""
        status = pl.col(f"{self.measures[0]}_status") == "suppressed"
        return self.frame.filter(status).select(self.keys)

    def with_percentages(self, over: str) -> ProtectedTable:
        """Add ``<measure>_pct``: each cell as a percentage of its margin over ``over``.

        Computed from the rounded values, as published (one decimal); null when the cell or
        its margin is suppressed, the margin is 0, or the row is itself a margin over ``over``.
        With union margins the percentages of a margin's cells can add up to more than 100.

        Example:
            >>> import polars as pl
            >>> counts = pl.DataFrame({"care_form": ["a", "b", None],
            ...                        "unique_clients": [40, 62, 97]})
            >>> table = protect(counts).table.with_percentages("care_form")
            >>> table.frame["unique_clients_pct"].to_list()
            [None, 42.1, 63.2]
        """
        if over not in self.dimensions:
            raise ConfigError("percentages", [f"{over}: not a dimension of the table"])
        others = [key for key in self.keys if key != over]
        margins = self.frame.filter(pl.col(over).is_null()).select(
            *others, *[pl.col(m).alias(f"_margin_{m}") for m in self.measures]
        )
        indexed = self.frame.with_row_index("_row")
        joined = (
            indexed.join(margins, on=others, how="left", nulls_equal=True)
            if others
            else indexed.join(margins, how="cross")
        )
        shares = [
            pl.when(pl.col(over).is_not_null() & (pl.col(f"_margin_{m}") > 0))
            .then((pl.col(m) * 100.0 / pl.col(f"_margin_{m}")).round(1))
            .alias(f"{m}_pct")
            for m in self.measures
        ]
        frame = (
            joined.sort("_row")
            .with_columns(shares)
            .drop("_row", *[f"_margin_{m}" for m in self.measures])
        )
        return replace(self, frame=frame)

    def render(self, *, total: str = "total") -> pl.DataFrame:
        """All columns as text: totals named ``total``, suppressed values shown as ``.``,
        structural empties as ``-``.

        Example:
            >>> import polars as pl
            >>> counts = pl.DataFrame({"care_form": ["a", "b", None],
            ...                        "unique_clients": [3, 62, 65]})
            >>> protect(counts).table.render()["unique_clients"].to_list()
            ['65', '.', '60']
        """
        shown = [pl.col(key).fill_null(total) for key in self.keys]
        values = []
        for m in self.measures:
            hidden = pl.col(f"{m}_status") == "suppressed"
            empty = pl.col(f"{m}_status") == "structural"
            values.append(
                pl.when(empty)
                .then(pl.lit(STRUCTURAL_SYMBOL))
                .otherwise(pl.col(m).cast(pl.String).fill_null(SUPPRESSED_SYMBOL))
                .alias(m)
            )
            if f"{m}_pct" in self.frame.columns:
                text = pl.col(f"{m}_pct").cast(pl.String).fill_null("")
                values.append(
                    pl.when(hidden)
                    .then(pl.lit(SUPPRESSED_SYMBOL))
                    .when(empty)
                    .then(pl.lit(STRUCTURAL_SYMBOL))
                    .otherwise(text)
                    .alias(f"{m}_pct")
                )
        return self.frame.select(*shown, *values)

    def metadata(self) -> dict[str, Any]:
        """What a protected file says about itself."""
        return {
            "format": FORMAT_PROTECTED,
            "factlab_version": __version__,
            "dimensions": list(self.dimensions),
            "measures": list(self.measures),
            "part_column": self.part_column,
            "rules": self.rules.to_dict(),
            "exact": False,
            "internal": False,
            "note": "disclosure-controlled: suppressed values are null (shown as '.'), "
            f"published values rounded to multiples of {self.rules.rounding_base}"
            + (
                "; structural empties (0 by definition) have the status 'structural'"
                if self.rules.structural_empty
                else ""
            ),
        }


@dataclass(frozen=True)
class Protection:
    """Result of :func:`protect`: the publishable table and the internal report."""

    table: ProtectedTable
    report: ProtectionReport


#: What :func:`protect` takes: a count table, or the result of
#: :func:`factlab.analysis.counts.count`.
Counts = pl.DataFrame | pl.LazyFrame | CountResult


def _unwrap(
    counts: Counts,
) -> tuple[pl.DataFrame | pl.LazyFrame, tuple[str, ...] | None, str | None]:
    if isinstance(counts, CountResult):
        when = counts.period.label if counts.period else None
        if when is None and counts.reference_date is not None:
            when = counts.reference_date.isoformat()
        return counts.table, counts.by, when
    return counts, None, None


def _check_arguments(
    counts: object, rules: object, parts: object, label: object, part_column: object
) -> None:
    """One clear TypeError for a wrong argument of :func:`protect` (see factlab._checks)."""
    tables = (pl.DataFrame, pl.LazyFrame, CountResult)
    hint = "a CountResult (from factlab.count) or a Polars DataFrame or LazyFrame"
    require_type(counts, tables, where="protect", name="counts", hint=hint)
    rules_hint = "DisclosureRules (factlab.preset('cbs') or factlab.load_rules(path)) or None"
    require_type(
        rules, (DisclosureRules, type(None)), where="protect", name="rules", hint=rules_hint
    )
    if parts is not None:
        require_type(parts, Mapping, where="protect", name="parts", hint="a mapping label -> table")
        for part in cast(Mapping[str, object], parts).values():
            require_type(part, tables, where="protect", name="every value of parts", hint=hint)
    require_text(label, where="protect", name="label", optional=True)
    require_text(part_column, where="protect", name="part_column")


def protect(
    counts: Counts,
    rules: DisclosureRules | None = None,
    *,
    parts: Mapping[str, Counts] | None = None,
    label: str | None = None,
    part_column: str = "period",
) -> Protection:
    """Apply disclosure control to an exact count table.

    Args:
        counts: a count table: one column per dimension (null = total over it), the measures
            (``unique_clients``, ``registrations``), and every margin row.
        rules: the rules (default: the ``cbs`` preset).
        parts: count tables of parts of the same period (e.g. its two halves), by label;
            they share clients with ``counts`` and are protected together with it.
        label: the label of ``counts`` in the part column (with ``parts``; default: the
            period of a CountResult, else ``whole``).
        part_column: name of the column that tells the tables apart (with ``parts``).

    Returns:
        The protected table and the internal protection report.

    Raises:
        InputError: a column is missing. DataError: the counts are not a valid count table,
            or a declared structural empty holds clients.

    Example:
        >>> import polars as pl
        >>> counts = pl.DataFrame({
        ...     "care_form": ["ambulant", "verblijf", "crisis", None],
        ...     "registrations": [120, 41, 3, 164]})
        >>> result = protect(counts)  # rounding to 5 alone hides crisis well enough
        >>> result.table.frame["registrations"].to_list()
        [165, 120, None, 40]
        >>> exact = protect(counts, DisclosureRules(rounding_base=1))
        >>> exact.table.render()["registrations"].to_list()
        ['164', '120', '.', '.']
        >>> exact.report.primary, exact.report.secondary
        (1, 1)
    """
    _check_arguments(counts, rules, parts, label, part_column)
    rules = rules or PRESETS["cbs"]
    frame, by, when = _unwrap(counts)
    label = label or when or "whole"
    if by is not None and rules.dimensions is None:
        rules = replace(rules, dimensions=by)
    part_frames = {name: _unwrap(part)[0] for name, part in (parts or {}).items()}
    if label in part_frames:
        raise ConfigError("parts", [f"{label}: the whole table and a part have the same label"])
    lattice = prepare(frame, rules, parts=part_frames, label=label, part_column=part_column)
    refuse_bsn_labels(lattice)  # labels are published as they are: never a BSN
    suppressed, search = suppress(lattice, rules)
    suppressed, result, integer = judged(lattice, suppressed, rules)
    table = protected_table(lattice, suppressed, rules)
    report = protection_report(lattice, suppressed, rules, result, search, integer)
    return Protection(table, report)


def judged(
    lattice: Lattice, suppressed: BoolArray, rules: DisclosureRules
) -> tuple[BoolArray, AuditResult, AuditResult | None]:
    """Audit a pattern from scratch, the judge of every search: the LP audit must pass (and
    the integer one, if the rules ask for it), or nothing is published.

    Returns:
        The pattern (completed by the heuristic in the rare case that the search's and the
        audit's programmes disagree within their tolerances), its audit, its integer audit.
    """
    result = audit_lattice(lattice, suppressed, rules, attacker="lp")
    if not result.passed and result.primary_published == 0:
        suppressed, _ = heuristic(lattice, rules, start=suppressed)
        result = audit_lattice(lattice, suppressed, rules, attacker="lp")
    if not result.passed:
        raise DataError("protect: the final audit failed; nothing is published")
    integer = None
    if rules.attacker == "integer":
        integer = audit_lattice(lattice, suppressed, rules, attacker="integer")
        if not integer.passed:
            raise DataError("protect: the final integer audit failed; nothing is published")
    return suppressed, result, integer


def protected_table(
    lattice: Lattice,
    suppressed: BoolArray,
    rules: DisclosureRules,
    *,
    within: BoolArray | None = None,
    dimensions: tuple[str, ...] | None = None,
) -> ProtectedTable:
    """The publishable table of a lattice's cells (or of the cells ``within`` one of several
    tables protected together, with its ``dimensions``): rounded values and statuses only."""
    rounded = round_to_base(lattice.values, rules.rounding_base)
    exact = pl.DataFrame(
        {
            "_hidden": suppressed,
            "_empty": lattice.structural,
            **{m: rounded[i] for i, m in enumerate(lattice.measures)},
        }
    )
    status = (
        pl.when(pl.col("_empty"))
        .then(pl.lit("structural"))
        .when(pl.col("_hidden"))
        .then(pl.lit("suppressed"))
        .otherwise(pl.lit("published"))
    )
    values = exact.select(
        *[
            expression
            for m in lattice.measures
            for expression in (
                pl.when(pl.col("_hidden")).then(None).otherwise(pl.col(m)).alias(m),
                status.cast(STATUS_DTYPE).alias(f"{m}_status"),
            )
        ]
    )
    dims = lattice.dimensions if dimensions is None else dimensions
    keys = lattice.key_frame()
    frame = pl.concat([keys, values], how="horizontal") if keys.width else values
    if within is not None:
        part = [lattice.part_column] if lattice.part_column else []
        trees = {d: t for d, t in lattice.hierarchies.items() if d in dims}
        frame = order_by(
            frame.filter(pl.Series(within)).select(*part, *dims, *values.columns),
            [*part, *dims],
            trees,
        )
    return ProtectedTable(frame, dims, lattice.measures, lattice.part_column, rules, _SEAL)


def write_protected(
    table: ProtectedTable,
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = True,
) -> list[Path]:
    """Write a protected table atomically; the format follows the extension.

    ``.json``: ``{"metadata": ..., "rows": [...]}``; ``.parquet``: the table with the metadata
    as JSON under the key-value metadata key ``factlab.protected``; ``.csv``: the table (an
    empty value is a total or a suppressed value, see the status columns; a label a spreadsheet
    would run as a formula gets a leading quote) and beside it ``<name>.meta.json`` with the
    metadata (see :func:`factlab.result_files.write_table`, also for ``inputs`` and ``overwrite``).

    Returns:
        The files written.

    Example:
        >>> import pathlib, tempfile
        >>> import polars as pl
        >>> counts = pl.DataFrame({"care_form": ["a", "b", None], "unique_clients": [3, 62, 65]})
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "protected.csv"
        >>> [p.name for p in write_protected(protect(counts).table, out)]
        ['protected.csv', 'protected.csv.meta.json']
        >>> read_protected(out).frame["unique_clients_status"].to_list()
        ['published', 'suppressed', 'published']
    """
    frame = table.frame.with_columns(pl.col(f"{m}_status").cast(pl.String) for m in table.measures)
    return write_table(
        frame, path, table.metadata(), METADATA_KEY, inputs=inputs, overwrite=overwrite
    )


def read_protected(path: str | Path) -> ProtectedTable:
    """Read a protected table written by :func:`write_protected`.

    Raises:
        InputError: the file is missing, unreadable, or not a protected table (e.g. raw counts).
    """
    path = Path(path)
    frame, metadata = read_table(path, what="protected table")
    if metadata.get("format", FORMAT_PROTECTED) != FORMAT_PROTECTED:
        raise InputError(f"{path}: not a protected table (format {metadata.get('format')!r})")
    measures = tuple(
        metadata.get("measures") or [c for c in frame.columns if f"{c}_status" in frame.columns]
    )
    if not measures or any(f"{m}_status" not in frame.columns for m in measures):
        raise InputError(f"{path}: not a protected table (no <measure>_status columns)")
    part = metadata.get("part_column")
    taken = {*measures, *(f"{m}_{suffix}" for m in measures for suffix in ("status", "pct")), part}
    dims = tuple(metadata.get("dimensions") or [c for c in frame.columns if c not in taken])
    problems = []
    for m in measures:
        status = frame.get_column(f"{m}_status").cast(pl.String)
        if not status.is_in(STATUSES).all():
            problems.append(f"column {m}_status: values other than {'/'.join(STATUSES)}")
        elif not ((status == "suppressed") == frame.get_column(m).is_null()).all():
            problems.append(
                f"column {m}: a value is present where suppressed or missing where published"
            )
        elif not (frame.get_column(m).filter(status == "structural") == 0).all():
            problems.append(f"column {m}: a structural empty with a value other than 0")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    rules = (
        rules_from_mapping(metadata["rules"], source=str(path))
        if "rules" in metadata
        else PRESETS["cbs"]
    )
    frame = frame.with_columns(
        *[pl.col(d).cast(pl.String) for d in ((part,) if part else ()) + dims],
        *[pl.col(m).cast(pl.Int64) for m in measures],
        *[pl.col(f"{m}_status").cast(STATUS_DTYPE) for m in measures],
        *[pl.col(f"{m}_pct").cast(pl.Float64) for m in measures if f"{m}_pct" in frame.columns],
    )
    return ProtectedTable(frame, dims, measures, part, rules, _SEAL)
