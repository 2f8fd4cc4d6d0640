"""What became of every column of an export, and which code values were not mapped.

Nothing is dropped silently: the steward's summary, ``factlab inspect`` and the manifest list
every source column with the fields it fed (``bsn <- Burgerservicenummer``,
``birth_year <- Geb.datum``) or ``dropped``, and the mapping's constants. For the code fields
(municipality, domain, financing, care form, product category, sex) they list the distinct
values that were not mapped — not in the value map, not in a derivation's code list, no sex code,
or not a value the round's contract accepts — with their row counts, at most
:data:`MAX_VALUES` per field, then "and N more". Never for the BSN, dates, costs or free text.

These lists travel in the manifest, which a sealed file shows in the clear, so what is shown is
what is stored, and a value is **not shown** (only counted, with its first rows) when

- it holds :data:`MIN_HIDDEN_DIGITS` or more digits, or a Dutch postcode, or looks like a BSN
  (:func:`factlab.escape.may_identify`, the rule of every stage): a BSN, a date, a phone number or
  a postcode in a code field is personal data, not a code;
- it occurs for a single client only (on one row, or on rows of one BSN) and is no code: a
  misspelt municipality recurs among clients, while a name or a note that a wrong column brought
  into a code field is one client's. A code — a short word of letters and digits with a digit in
  it and no space, such as ``50``, ``45A01`` or ``GM0106``, but no postcode — is shown for one
  client too: it is not a person's;

and a shown value is cut to :data:`MAX_VALUE_LENGTH` characters, with control characters made
visible (:func:`factlab.escape.plain_text`). Column names follow the same rule: a file without a
header line has a client's values for names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab.escape import MIN_HIDDEN_DIGITS, POSTCODE_PATTERN, may_identify, plain_text
from factlab.steward.bsn import looks_like_bsn
from factlab.steward.mapping import ColumnMapping

__all__ = [
    "CODE_FIELDS",
    "ColumnUse",
    "UnmappedValues",
    "column_lines",
    "column_report",
    "find_unmapped",
    "shown_text",
    "unmapped_lines",
]

#: Fields whose values are codes: their values that were not mapped are listed.
CODE_FIELDS: Final = ("sex", "municipality", "domain", "financing", "care_form", "product_category")
#: Values listed per field; the rest are counted ("and N more").
MAX_VALUES: Final = 20
#: Longest value shown, in characters; a longer one is cut and ends in "…".
MAX_VALUE_LENGTH: Final = 40
#: Longest column name shown.
MAX_NAME_LENGTH: Final = 80
_FIRST_ROWS: Final = 5
#: A code: letters and digits with at least one digit, no space, at most 10 characters.
_CODE: Final = r"^[\p{L}\p{N}._/-]{0,9}\p{N}[\p{L}\p{N}._/-]{0,9}$"
#: A Dutch postcode (``9401AB``, ``9401 ab``) anywhere: never shown, on one row or many.
_POSTCODE: Final = POSTCODE_PATTERN


def _looks_like_bsn(texts: Sequence[str]) -> list[bool]:
    if not texts:
        return []
    return (
        pl.select(looks_like_bsn(pl.lit(pl.Series(texts, dtype=pl.String)))).to_series().to_list()
    )


def shown_text(text: str, *, limit: int = MAX_VALUE_LENGTH) -> str | None:
    """``text`` as it may be shown and stored, or None when it must not be (see the module).

    Example:
        >>> shown_text("Súdwest-Fryslân"), shown_text("999 993 653"), shown_text("01-02-2010")
        ('Súdwest-Fryslân', None, None)
        >>> shown_text("45A01"), shown_text("9401 AB")
        ('45A01', None)
        >>> shown_text("x" * 50)
        'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
    """
    if may_identify(text) or _looks_like_bsn([text])[0]:
        return None
    text = plain_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _column_name(name: str, position: int) -> str:
    shown = shown_text(name, limit=MAX_NAME_LENGTH)
    return shown if shown is not None else f"(column {position}: its name is like a number)"


@dataclass(frozen=True)
class ColumnUse:
    """One source column (or constant of the mapping) and the fields it fed.

    Attributes:
        column: the column's name as shown (see the module); None for a constant.
        fields: the output fields it fed, in output order; empty when it was dropped.
        note: how it was used or why it was dropped, in words.
        constant: the constant's value (a code of the mapping, not client data).
    """

    column: str | None
    fields: tuple[str, ...] = ()
    note: str = ""
    constant: str | None = None

    def to_dict(self) -> dict[str, str | list[str]]:
        """Plain data for JSON and manifests."""
        entry: dict[str, str | list[str]] = {"fields": list(self.fields)}
        if self.column is not None:
            entry["column"] = self.column
        if self.constant is not None:
            entry["constant"] = self.constant
        if self.note:
            entry["note"] = self.note
        return entry

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> ColumnUse:
        """The entry as :meth:`to_dict` wrote it (a manifest's ``columns``)."""
        column, constant = entry.get("column"), entry.get("constant")
        return cls(
            column=None if column is None else str(column),
            fields=tuple(str(name) for name in entry.get("fields", ())),
            note=str(entry.get("note", "")),
            constant=None if constant is None else str(constant),
        )


def column_report(
    source_columns: Sequence[str],
    found: Mapping[str, str],
    mapping: ColumnMapping,
    *,
    fallback_fields: Sequence[str] = (),
    dropped_types: Mapping[str, str] | None = None,
) -> tuple[ColumnUse, ...]:
    """Every source column with the fields it fed, then the mapping's constants.

    Args:
        source_columns: the export's columns, in the file's order.
        found: field → source column, as :func:`factlab.steward.mapping.resolve_columns` gives.
        mapping: the mapping (its derivations and constants).
        fallback_fields: fields of the fallback pseudonym, when one is written.
        dropped_types: Parquet columns of a type no field is read from, with their type.

    Example:
        >>> found = {"bsn": "BSN", "birth_date": "Geb.datum"}
        >>> report = column_report(["Nr", "BSN", "Geb.datum"], found, ColumnMapping())
        >>> [(use.column, use.fields) for use in report]
        [('Nr', ()), ('BSN', ('bsn',)), ('Geb.datum', ('birth_year',))]
    """
    written = set(schema.FIELD_DTYPES) | {"bsn"}
    fed: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    constant_fields = {name: [name] for name in mapping.constants}
    for name, column in found.items():
        if name in written:
            fed.setdefault(column, []).append(name)
        elif name == "birth_date":
            fed.setdefault(column, []).append("birth_year")
            notes.setdefault(column, []).append("a birth date: only its year is kept")
        if name in fallback_fields:
            fed.setdefault(column, []).append(schema.FALLBACK_PSEUDONYM)
    for target, derivation in mapping.derive.items():
        origin = found.get(derivation.source)
        if origin is not None:
            fed.setdefault(origin, []).append(target)
            notes.setdefault(origin, []).append(f"{target} through [derive.{target}]")
        elif derivation.source in constant_fields:
            constant_fields[derivation.source].append(target)
    order = {name: index for index, name in enumerate(("bsn", *schema.FIELD_DTYPES))}
    order[schema.FALLBACK_PSEUDONYM] = len(order)
    report: list[ColumnUse] = []
    for position, column in enumerate(source_columns, start=1):
        fields = tuple(sorted(dict.fromkeys(fed.get(column, [])), key=order.__getitem__))
        note = "; ".join(notes.get(column, []))
        if not fields and found.get("postcode") == column:
            note = "a postcode, read only for the fallback pseudonym of --fallback"
        report.append(ColumnUse(_column_name(column, position), fields, note))
    for position, (column, dtype) in enumerate((dropped_types or {}).items(), len(report) + 1):
        note = f"of type {dtype}: no field is read from it"
        report.append(ColumnUse(_column_name(column, position), (), note))
    for name, value in mapping.constants.items():
        fields = tuple(sorted(constant_fields[name], key=order.__getitem__))
        report.append(ColumnUse(None, fields, "a constant of the mapping", constant=value))
    return tuple(report)


def column_lines(report: Iterable[ColumnUse]) -> list[str]:
    """The column report in words, one line per column; the dropped ones on one line.

    Example:
        >>> column_lines([ColumnUse("BSN", ("bsn",)), ColumnUse("Naam"), ColumnUse("Nr")])
        ['columns:', '  bsn <- BSN', '  dropped: Naam, Nr']
    """
    lines = ["columns:"]
    dropped: list[str] = []
    for use in report:
        if use.constant is not None:
            lines.append(f'  {", ".join(use.fields)} = "{plain_text(use.constant)}" ({use.note})')
        elif use.fields:
            note = f" ({use.note})" if use.note else ""
            lines.append(f"  {', '.join(use.fields)} <- {use.column}{note}")
        else:
            dropped.append(f"{use.column} ({use.note})" if use.note else str(use.column))
    if dropped:
        lines.append(f"  dropped: {', '.join(dropped)}")
    return lines


@dataclass(frozen=True)
class UnmappedValues:
    """The values of one code field that were not mapped or not accepted.

    Attributes:
        source: the column they come from (as shown); None when the field is a constant.
        rows: rows whose value was not mapped.
        values: (value as shown, rows), most rows first, at most :data:`MAX_VALUES`.
        more_values, more_rows: values (and their rows) beyond those listed.
        hidden_values, hidden_rows: values (and their rows) not shown (see the module).
        hidden_first_rows: the first rows of those, so the steward can find them.
    """

    source: str | None
    rows: int
    values: tuple[tuple[str, int], ...] = ()
    more_values: int = 0
    more_rows: int = 0
    hidden_values: int = 0
    hidden_rows: int = 0
    hidden_first_rows: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and manifests (``values`` as a list of ``[value, rows]``)."""
        return {
            "source": self.source,
            "rows": self.rows,
            "values": [[value, rows] for value, rows in self.values],
            "more_values": self.more_values,
            "more_rows": self.more_rows,
            "hidden_values": self.hidden_values,
            "hidden_rows": self.hidden_rows,
            "hidden_first_rows": list(self.hidden_first_rows),
        }

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> UnmappedValues:
        """The entry as :meth:`to_dict` wrote it (a manifest's ``unmapped_values``)."""
        source = entry.get("source")
        return cls(
            source=None if source is None else str(source),
            rows=int(entry.get("rows", 0)),
            values=tuple((str(value), int(rows)) for value, rows in entry.get("values", ())),
            more_values=int(entry.get("more_values", 0)),
            more_rows=int(entry.get("more_rows", 0)),
            hidden_values=int(entry.get("hidden_values", 0)),
            hidden_rows=int(entry.get("hidden_rows", 0)),
            hidden_first_rows=tuple(int(row) for row in entry.get("hidden_first_rows", ())),
        )


def _unmapped_of(
    values: pl.Series, rows: pl.Series, clients: pl.Series, source: str | None
) -> UnmappedValues:
    """Count the distinct values of the flagged rows, and keep what may be shown.

    ``clients`` tells the rows' clients apart (the valid BSN as a number, null without one: such
    a row counts as a client of its own).
    """
    frame = pl.DataFrame(
        {"value": values.cast(pl.String), "row": rows, "client": clients.cast(pl.Int64)}
    )
    client = pl.coalesce(pl.col("client"), -pl.col("row").cast(pl.Int64))
    counts = (
        frame.drop_nulls("value")
        .group_by("value")
        .agg(pl.len().alias("rows"), client.n_unique().alias("clients"))
        .with_columns(
            hidden=(
                (pl.col("clients") == 1)
                & ~(pl.col("value").str.contains(_CODE) & (pl.col("value").str.len_chars() <= 10))
            )
            | (pl.col("value").str.count_matches(r"\d") >= MIN_HIDDEN_DIGITS)
            | pl.col("value").str.contains(_POSTCODE)
            | looks_like_bsn(pl.col("value"))
        )
    )
    shown = counts.filter(~pl.col("hidden")).sort(["rows", "value"], descending=[True, False])
    listed, rest = shown.head(MAX_VALUES), shown.slice(MAX_VALUES)
    hidden = counts.filter(pl.col("hidden"))
    hidden_rows = frame.filter(pl.col("value").is_in(hidden.get_column("value").implode()))
    return UnmappedValues(
        source=source,
        rows=frame.height,
        values=tuple(
            (shown_text(value) or "", int(count))
            for value, count in listed.select("value", "rows").iter_rows()
        ),
        more_values=rest.height,
        more_rows=int(rest.get_column("rows").sum()),
        hidden_values=hidden.height,
        hidden_rows=int(hidden.get_column("rows").sum()),
        hidden_first_rows=tuple(
            int(row) for row in hidden_rows.get_column("row").head(_FIRST_ROWS)
        ),
    )


def find_unmapped(
    rows: pl.DataFrame,
    read_values: Callable[[str, pl.Series], pl.Series],
    fields: Sequence[tuple[str, str | None, Sequence[str]]],
    *,
    source_columns: Sequence[str],
    row_column: str,
    client_column: str,
) -> dict[str, UnmappedValues]:
    """The values not mapped of each code field, counted on its flagged rows only.

    Args:
        rows: the pseudonymised rows with ``row_column`` (1 = first row of the export) and the
            flag columns.
        read_values: ``read_values(column, row_numbers)``: the export's text of ``column`` on
            those rows.
        fields: (field, source column or None, flag columns that mark a value not mapped).
        source_columns: the export's columns, for the position of a column whose name is hidden.
        row_column: the row-number column of ``rows``.
        client_column: the column of ``rows`` that tells clients apart (null: no valid BSN).
    """
    found: dict[str, UnmappedValues] = {}
    for name, column, flags in fields:
        if not flags:
            continue
        picked = rows.select(pl.col(row_column, client_column).filter(pl.any_horizontal(flags)))
        flagged = picked.get_column(row_column)
        if flagged.is_empty():
            continue
        if column is None:
            found[name] = UnmappedValues(source=None, rows=flagged.len())
            continue
        position = list(source_columns).index(column) + 1
        values = read_values(column, flagged)
        clients = picked.get_column(client_column)
        found[name] = _unmapped_of(values, flagged, clients, _column_name(column, position))
    return found


def unmapped_lines(unmapped: Mapping[str, UnmappedValues]) -> list[str]:
    """The values not mapped, in words: one line per field.

    Example:
        >>> entry = UnmappedValues("Code", 7, (("45A01", 5),), 0, 0, 1, 2, (3, 9))
        >>> for line in unmapped_lines({"care_form": entry}):
        ...     print(line)
        values not mapped:
          care_form (from Code), 7 row(s): "45A01" 5; 1 value not shown (a word of one client, \
a number, a date or a postcode; first rows: 3, 9)
    """
    if not unmapped:
        return []
    lines = ["values not mapped:"]
    for name, entry in unmapped.items():
        where = f" (from {entry.source})" if entry.source else " (a constant)"
        parts = [", ".join(f'"{value}" {count}' for value, count in entry.values)]
        if entry.more_values:
            parts.append(f"and {entry.more_values} more ({entry.more_rows} row(s))")
        if entry.hidden_values:
            first = ", ".join(map(str, entry.hidden_first_rows))
            parts.append(
                f"{entry.hidden_values} value{'s' if entry.hidden_values > 1 else ''} not shown "
                f"(a word of one client, a number, a date or a postcode; first rows: {first})"
            )
        text = "; ".join(part for part in parts if part)
        lines.append(f"  {name}{where}, {entry.rows} row(s): {text}".rstrip(": "))
    return lines
