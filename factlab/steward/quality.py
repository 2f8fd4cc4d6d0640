"""What the steward's step saw in an export, and what stops it: the quality summary and the checks.

Once the export is read and pseudonymised in memory (before anything is written), this module
counts what came out — rows by BSN status, values that could not be read, distinct clients — and
makes the checks that refuse a file:

- a text or number field holding values that look like a BSN (it would carry raw BSNs up to
  published tables: a cost column mapped onto the BSN column holds ``9.99993653e8``), and a file
  in which no row has a valid BSN (:func:`refuse_unsafe`);
- against the round's contract (:mod:`factlab.steward.contract`): a required field of which more
  than the contract's share of rows cannot be used — empty, unreadable, not mapped, or not a value
  the round accepts (:func:`check_contract`).

Every message names columns, counts and row numbers, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab.errors import InputError
from factlab.steward.bsn import looks_like_bsn
from factlab.steward.columns import ColumnUse, UnmappedValues
from factlab.steward.contract import Contract

__all__ = [
    "ContractCheck",
    "ContractRefused",
    "FieldShare",
    "Quality",
    "check_contract",
    "compute_quality",
    "number_looks_like_bsn",
    "refusal_message",
    "refuse_unsafe",
]

#: Column of the row number (1 = first data row) in the frame the checks read.
ROW: Final = "_row"
#: Column of the valid BSN as a number (null elsewhere): distinct clients are counted on it.
NUMBER: Final = "_bsn_number"
EXAMPLE_ROWS: Final = 5
#: Reasons of :attr:`Quality.field_issues` whose rows hold no value in the output (null).
NULLING_REASONS: Final = frozenset(
    # negative, too_large, not_finite: a cost read but no row's cost (fields.cost_issues)
    {"unreadable", "unmapped", "out_of_range", "negative", "too_large", "not_finite"}
)
#: Reasons whose rows keep a value the round cannot use as it is.
KEPT_REASONS: Final = frozenset({"not_mapped", "not_accepted"})
#: A required field that may be empty without harm: an empty end date means the care goes on.
EMPTY_ALLOWED: Final = frozenset({"end_date"})


@dataclass(frozen=True)
class FieldShare:
    """How many rows of one required field the round cannot use.

    Attributes:
        field: the field.
        rows: rows whose value is empty, unreadable, not mapped or not accepted (for ``bsn``:
            rows without a valid BSN).
        share: ``rows`` as a share of all rows (0 for a file without rows).
        limit: the contract's largest share for the field.
        reasons: rows by reason (``empty``, ``unreadable``, ``unmapped``, ``not_mapped``,
            ``not_accepted``, ``out_of_range``; for ``bsn`` the statuses); a row may have two.
        first_rows: the first such rows (1 = first data row).
        waived: the limit does not apply (``bsn`` with ``allow_no_valid_bsn``).
    """

    field: str
    rows: int
    share: float
    limit: float
    reasons: dict[str, int]
    first_rows: list[int]
    waived: bool = False

    @property
    def over_limit(self) -> bool:
        """Whether the share is above the limit (and the limit applies)."""
        return not self.waived and self.share > self.limit

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and manifests."""
        return {
            "rows": self.rows,
            "share": round(self.share, 6),
            "limit": self.limit,
            "reasons": dict(self.reasons),
            "first_rows": list(self.first_rows),
            "waived": self.waived,
        }

    def describe(self) -> str:
        """The share in words, with the first rows; never a value.

        Example:
            >>> FieldShare("start_date", 40, 0.04, 0.05, {"unreadable": 40}, [3, 8]).describe()
            'start_date: 40 row(s) (4.0 %) cannot be used: 40 unreadable (first rows: 3, 8); \
the round allows 5.0 %'
        """
        parts = ", ".join(
            f"{count} {reason.replace('_', ' ')}" for reason, count in self.reasons.items()
        )
        return (
            f"{self.field}: {self.rows} row(s) ({_percent(self.share)}) cannot be used: "
            f"{parts}{row_list(self.first_rows)}; the round allows {_percent(self.limit)}"
        )

    def problem(self) -> str:
        """:meth:`describe` and what to do about it, for a refusal."""
        return f"{self.describe()}: {self.advice()}"

    def advice(self) -> str:
        """What the steward can do about the unusable rows, by their reasons."""
        advice: list[str] = []
        reasons = set(self.reasons)
        if self.field == "bsn":
            advice.append("check the BSN column of the export (the mapping's [columns] bsn)")
        if "unreadable" in reasons and self.field in _DATES:
            advice.append(
                f"give the dates' format in the mapping ([date_formats] {self.field} = "
                '"%d-%m-%Y", say)'
            )
        elif reasons & (NULLING_REASONS - {"unmapped"}):
            advice.append(f"check the column of {self.field} (the mapping's [columns])")
        if reasons & {"unmapped", "not_mapped", "not_accepted"}:
            advice.append(
                f"map the values listed under 'values not mapped' to the round's values in the "
                f"mapping ([values.{self.field}], or the code list of [derive.{self.field}])"
            )
        if "empty" in reasons:
            advice.append(f"fill in {self.field} in the export, or name another column for it")
        return "; ".join(advice) or "check the export"


def _percent(share: float) -> str:
    return f"{share * 100:.1f} %"


_DATES: Final = frozenset({"start_date", "end_date", "birth_year"})


def refusal_message(source: str, problems: Sequence[str]) -> str:
    """The one line that says why the round's contract refuses a file, and what to do."""
    return (
        f"{source}: the round's contract refuses this file, nothing was written: "
        f"{'; '.join(problems)}. Fix the mapping or the export, check with --preview, and run "
        "again"
    )


@dataclass(frozen=True)
class ContractCheck:
    """The file checked against the round's contract.

    Attributes:
        sha256: digest of the contract checked against.
        fields: one entry per required field, in the contract's order.
    """

    sha256: str
    fields: tuple[FieldShare, ...]

    @property
    def refused(self) -> tuple[FieldShare, ...]:
        """The fields above their limit: the file is not written."""
        return tuple(entry for entry in self.fields if entry.over_limit)

    @property
    def warnings(self) -> tuple[FieldShare, ...]:
        """The fields with unusable rows within their limit: written, with a warning."""
        return tuple(entry for entry in self.fields if entry.rows and not entry.over_limit)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and manifests: field → its share."""
        return {entry.field: entry.to_dict() for entry in self.fields}

    @classmethod
    def from_dict(cls, sha256: str, data: Mapping[str, Any]) -> ContractCheck:
        """The check as :meth:`to_dict` wrote it (a manifest's ``contract.check``)."""
        fields = tuple(
            FieldShare(
                field=str(name),
                rows=int(entry.get("rows", 0)),
                share=float(entry.get("share", 0.0)),
                limit=float(entry.get("limit", 0.0)),
                reasons={str(k): int(v) for k, v in dict(entry.get("reasons", {})).items()},
                first_rows=[int(row) for row in entry.get("first_rows", [])],
                waived=bool(entry.get("waived", False)),
            )
            for name, entry in data.items()
        )
        return cls(sha256=sha256, fields=fields)

    def lines(self) -> list[str]:
        """The check in words: one line for the contract, one per field with unusable rows."""
        verdict = "refused" if self.refused else "met"
        required = ", ".join(entry.field for entry in self.fields) or "none"
        lines = [f"round contract {self.sha256[:16]}: {verdict} (required: {required})"]
        for entry in self.fields:
            if entry.rows:
                waived = " (waived: --allow-no-valid-bsn)" if entry.waived else ""
                lines.append(f"  {entry.describe()}{waived}")
        return lines


class ContractRefused(InputError):
    """The file does not meet the round's contract: a required field is missing or too often
    unusable. Nothing is written.

    Attributes:
        quality: the quality summary of the refused file (values not mapped, the contract
            check), for the steward to see what to fix; None when the file was refused before
            its rows were read (a required field without a column).
        columns: every column of the export and the fields it fed.
    """

    def __init__(
        self,
        message: str,
        quality: Quality | None = None,
        *,
        columns: tuple[ColumnUse, ...] = (),
    ) -> None:
        super().__init__(message)
        self.quality = quality
        self.columns = columns


@dataclass(frozen=True)
class Quality:
    """What the steward's step saw in the export: the short quality summary.

    Attributes:
        rows: rows read (= rows written).
        rows_by_status: rows per BSN status, every status present.
        field_issues: per output column, values that could not be read, by reason.
        example_rows: per column and reason, the first few data rows (1 = first data row) — row
            numbers only, never values.
        distinct_pseudonyms: distinct valid pseudonyms in the file.
        duplicate_pseudonym_rows: rows whose pseudonym occurs on more than one row (several
            registrations of one client are normal; this is for the steward's eye).
        columns: every source column and the fields it fed (none: dropped), then the constants.
        unmapped_values: per code field, the values that were not mapped or not accepted.
        contract: the file checked against the round's contract (None: no contract).
    """

    rows: int
    rows_by_status: dict[str, int]
    field_issues: dict[str, dict[str, int]] = field(default_factory=dict)
    example_rows: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    distinct_pseudonyms: int = 0
    duplicate_pseudonym_rows: int = 0
    columns: tuple[ColumnUse, ...] = ()
    unmapped_values: Mapping[str, UnmappedValues] = field(default_factory=dict)
    contract: ContractCheck | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and manifests."""
        return {
            "rows": self.rows,
            "rows_by_status": dict(self.rows_by_status),
            "field_issues": {k: dict(v) for k, v in self.field_issues.items()},
            "example_rows": {
                k: {r: list(x) for r, x in v.items()} for k, v in self.example_rows.items()
            },
            "distinct_pseudonyms": self.distinct_pseudonyms,
            "duplicate_pseudonym_rows": self.duplicate_pseudonym_rows,
            "columns": [entry.to_dict() for entry in self.columns],
            "unmapped_values": {k: v.to_dict() for k, v in self.unmapped_values.items()},
            "contract": None if self.contract is None else self.contract.to_dict(),
        }


def row_list(rows: Sequence[int]) -> str:
    """`` (first rows: 3, 17)``, or nothing without rows."""
    return f" (first rows: {', '.join(map(str, rows))})" if rows else ""


def first_rows(frame: pl.DataFrame, condition: pl.Expr) -> list[int]:
    """Row numbers of the first rows meeting ``condition`` (only the row column is filtered)."""
    rows = frame.select(pl.col(ROW).filter(condition).head(EXAMPLE_ROWS)).to_series()
    return [int(row) for row in rows]


def number_looks_like_bsn(expr: pl.Expr) -> pl.Expr:
    """True where a number reads as a BSN; False elsewhere (never null).

    A whole number of eight or nine digits (either sign) whose digits, as a BSN, pass the elfproef
    (eight as a BSN that lost its leading zero) — the rule of
    :func:`~factlab.steward.bsn.looks_like_bsn` for the number written out. Only such numbers are
    read as text, so a column of amounts costs one comparison per row.

    Example:
        >>> s = pl.Series([999993653.0, 99999365.0, 999993653.5, 1234.5, None, 999993654.0])
        >>> pl.select(number_looks_like_bsn(pl.lit(s))).to_series().to_list()
        [True, True, False, False, False, False]
    """
    size = expr.cast(pl.Float64).abs()
    whole = (size >= 1e7) & (size < 1e9) & (size == size.floor())
    # strict=False: the cast runs on every row, also those the condition leaves out
    digits = pl.when(whole).then(size.cast(pl.Int64, strict=False).cast(pl.String).str.zfill(9))
    return looks_like_bsn(digits)


def _number_fields(frame: pl.DataFrame) -> list[str]:
    """The output fields of ``frame`` that hold numbers wide enough for a BSN."""
    return [
        name
        for name in schema.FIELD_DTYPES
        if name in frame.columns
        and frame.schema[name].is_numeric()
        and frame.schema[name] not in (pl.Int8(), pl.Int16(), pl.UInt8(), pl.UInt16())
    ]


def refuse_unsafe(
    frame: pl.DataFrame,
    bsn_like: Sequence[tuple[str, str]],
    bsn_column: str,
    *,
    source: str,
    allow_no_valid_bsn: bool,
) -> None:
    """Refuse a result that would publish BSNs, or that holds no client at all.

    Args:
        frame: the pseudonymised rows with their flag columns and :data:`ROW`.
        bsn_like: (text field, flag column): rows whose value looks like a BSN.
        bsn_column: the export's BSN column, for the message.
        source: the export, for the message.
        allow_no_valid_bsn: write a file in which no row has a valid BSN.

    Raises:
        InputError: a text field holds values that look like a BSN, or a number field (the cost)
            numbers that read as one (:func:`number_looks_like_bsn`) — column, row count and
            first row numbers, never a value; or no row has a valid BSN while
            ``allow_no_valid_bsn`` is false (a wrong column taken for the BSN, or a BSN column
            spoilt on export).
    """
    numbers = _number_fields(frame)
    if numbers:
        flagged = frame.select(
            pl.col(ROW), *(number_looks_like_bsn(pl.col(name)).alias(name) for name in numbers)
        )
        sums = flagged.select(pl.col(numbers).sum()).row(0)
        found = [
            f"column {name}: {int(total)} row(s){row_list(first_rows(flagged, pl.col(name)))}"
            for name, total in zip(numbers, sums, strict=True)
            if total
        ]
        if found:
            raise InputError(
                f"{source}: {'; '.join(found)} hold a number that looks like a BSN (eight or "
                "nine digits passing the elfproef); a number field must never hold one. Is a "
                "field mapped onto the BSN column (the mapping's [columns])?"
            )
    if bsn_like:
        sums = frame.select(pl.col(flag).sum() for _, flag in bsn_like).row(0)
        found = [
            f"column {name}: {int(total)} row(s){row_list(first_rows(frame, pl.col(flag)))}"
            for (name, flag), total in zip(bsn_like, sums, strict=True)
            if total
        ]
        if found:
            raise InputError(
                f"{source}: {'; '.join(found)} hold a value that looks like a BSN (eight or nine "
                "digits passing the elfproef); a text field must never hold one. Is a field "
                "mapped onto the BSN column (the mapping's [columns])?"
            )
    valid = int(frame.select((pl.col(schema.STATUS) == "valid").sum()).item())
    if frame.height and not valid and not allow_no_valid_bsn:
        by_status = frame.get_column(schema.STATUS).value_counts(sort=True).iter_rows()
        counts = ", ".join(f"{status} {count}" for status, count in by_status)
        raise InputError(
            f"{source}: none of the {frame.height} row(s) has a valid BSN in column "
            f"{bsn_column!r} ({counts}); is it the BSN column (the mapping's [columns] "
            "bsn)? To write the file anyway: allow_no_valid_bsn=True (--allow-no-valid-bsn)"
        )


def _distinct_clients(frame: pl.DataFrame) -> tuple[int, int]:
    """Distinct valid BSNs, and rows whose valid BSN occurs on more than one row.

    Counted on the BSNs as numbers, sorted (much cheaper than hashing 32-character pseudonyms):
    distinct BSNs have distinct pseudonyms, so these are the counts of the pseudonyms too.
    """
    numbers = frame.get_column(NUMBER).drop_nulls().sort()
    first = numbers.ne_missing(numbers.shift(1))  # the first row of a run of equal numbers
    last = numbers.ne_missing(numbers.shift(-1))
    distinct, alone, rows = first.sum(), (first & last).sum(), numbers.len()
    return int(distinct), int(rows) - int(alone)


def compute_quality(frame: pl.DataFrame, issues: Sequence[tuple[str, str, str]]) -> Quality:
    """The quality summary of pseudonymised rows.

    Args:
        frame: the rows with :data:`ROW`, :data:`NUMBER`, the status and the flag columns.
        issues: (output column, reason, flag column) of each kind of value that was not read.
    """
    status = frame[schema.STATUS]
    by_status = dict.fromkeys(schema.STATUSES, 0)
    for row in status.value_counts().iter_rows():
        by_status[str(row[0])] = int(row[1])
    field_issues: dict[str, dict[str, int]] = {}
    example_rows: dict[str, dict[str, list[int]]] = {}
    if issues:
        sums = frame.select(pl.col(flag).sum() for _, _, flag in issues).row(0)
        for (name, reason, flag), total in zip(issues, sums, strict=True):
            if total:
                field_issues.setdefault(name, {})[reason] = int(total)
                example_rows.setdefault(name, {})[reason] = first_rows(frame, pl.col(flag))
    for name in schema.STATUSES:
        if name != "valid" and by_status[name]:
            rows = first_rows(frame, pl.col(schema.STATUS) == name)
            example_rows.setdefault("bsn", {})[name] = rows
    distinct, duplicate_rows = _distinct_clients(frame)
    return Quality(
        rows=frame.height,
        rows_by_status=by_status,
        field_issues=field_issues,
        example_rows=example_rows,
        distinct_pseudonyms=distinct,
        duplicate_pseudonym_rows=duplicate_rows,
    )


def check_contract(
    frame: pl.DataFrame,
    contract: Contract,
    issues: Sequence[tuple[str, str, str]],
    *,
    allow_no_valid_bsn: bool,
) -> ContractCheck:
    """The share of rows of each required field that the round cannot use.

    A row cannot be used when the field is empty (but an empty ``end_date`` means ongoing care),
    could not be read, was not mapped, or holds a value the contract does not accept. For
    ``bsn`` it is a row without a valid BSN; with ``allow_no_valid_bsn`` its limit is waived.
    All is counted on the rows in memory, before anything is written.

    Args:
        frame: the pseudonymised rows with :data:`ROW` and the flag columns.
        contract: the round's contract.
        issues: (output column, reason, flag column), as for :func:`compute_quality`.
        allow_no_valid_bsn: the steward said the file is meant to have no valid BSNs.
    """
    entries: list[FieldShare] = []
    height = frame.height
    for name in contract.required:
        if name != "bsn" and name not in frame.columns:
            continue  # a required field nothing feeds: refused before the rows were read
        reasons: dict[str, pl.Expr] = {}
        if name == "bsn":
            status = pl.col(schema.STATUS)
            reasons = {s: status == s for s in schema.STATUSES if s != "valid"}
            unusable = status != "valid"
        else:
            flags = {
                reason: pl.col(flag)
                for column, reason, flag in issues
                if column == name and reason in NULLING_REASONS | KEPT_REASONS
            }
            if name not in EMPTY_ALLOWED:
                nulling = [flags[reason] for reason in flags if reason in NULLING_REASONS]
                read_but_lost = pl.any_horizontal(nulling) if nulling else pl.lit(False)
                reasons["empty"] = pl.col(name).is_null() & ~read_but_lost
            reasons |= flags
            unusable = pl.any_horizontal(list(reasons.values())) if reasons else pl.lit(False)
        counted = frame.select(
            unusable.sum().alias("_rows"),
            *(flag.sum().alias(reason) for reason, flag in reasons.items()),
        ).row(0, named=True)
        rows = int(counted.pop("_rows") or 0)
        entries.append(
            FieldShare(
                field=name,
                rows=rows,
                share=rows / height if height else 0.0,
                limit=contract.limit(name),
                reasons={reason: int(n) for reason, n in counted.items() if n},
                first_rows=first_rows(frame, unusable) if rows else [],
                waived=name == "bsn" and allow_no_valid_bsn,
            )
        )
    return ContractCheck(sha256=contract.sha256, fields=tuple(entries))
