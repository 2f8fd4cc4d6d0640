"""A proposed mapping file: what :func:`factlab.steward.propose.propose_mapping` found, as TOML.

:class:`MappingProposal` holds the findings (columns recognised and guessed, date formats with an
example each, the codes of each code column with their row counts, suggestions for code lists);
:meth:`MappingProposal.to_toml` writes them as a commented mapping file that
:func:`factlab.steward.mapping.load_mapping` reads as it is. What is sure is written as a setting,
what is a guess or a suggestion as a comment the steward can take over by removing its ``#``.

Every text from the export (column names, codes, date examples) is written as a TOML string with
its control and bidirectional-control characters escaped, also inside comments, so no value can
end a comment or change what the file says. No BSN is ever written: the proposal holds no value
of the BSN column, and codes that look like a BSN are counted, not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from factlab import schema
from factlab.escape import BIDI_CONTROLS
from factlab.steward.mapping import ENCODINGS
from factlab.steward.value_maps import is_exact_key

__all__ = [
    "Code",
    "CodeList",
    "ColumnChoice",
    "DateFormat",
    "Derivation",
    "MappingProposal",
    "Suggestion",
    "toml_string",
]

#: Written beside a column line: what each kind of choice means.
_HOW: Final = {
    "recognised": "recognised",
    "guessed": "guessed",
    "unsure": "a guess: check it, then remove the '#'",
}
_ESCAPED: Final = frozenset(BIDI_CONTROLS) | {"\u2028", "\u2029", "\ufeff"}
#: What a field is, for the comment of a field the export lacks.
_FIELD_NOTES: Final = {
    "bsn": "required: name the column that holds the BSN",
    "birth_date": "only the birth year is written",
    "postcode": "only read for --fallback, never written",
    "end_date": "empty means the care goes on",
}
#: Column at which the comment of a setting starts.
_COMMENT_WIDTH: Final = 40


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string; control and bidirectional-control characters escaped.

    Example:
        >>> toml_string('Cliënt "nr"'), toml_string("a\\nb\\u202e")
        ('"Cliënt \\\\"nr\\\\""', '"a\\\\u000Ab\\\\u202E"')
    """
    escaped = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            escaped.append("\\" + char)
        elif code < 0x20 or 0x7F <= code < 0xA0 or char in _ESCAPED:
            escaped.append(f"\\u{code:04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class ColumnChoice:
    """One field and the export column proposed for it.

    Attributes:
        field: the canonical field.
        column: the export's column.
        how: ``recognised`` (a known name), ``guessed`` (a close name whose values fit: written
            as a setting) or ``unsure`` (a guess written as a comment).
        score: similarity of the name to the closest known name (1.0 when recognised).
        like: that known name (as compared: lower case, letters and digits).
        fit: share of the sample's values that read as the field (None: the column is empty).
        others: other columns that look like the same field (recognised twice).
    """

    field: str
    column: str
    how: Literal["recognised", "guessed", "unsure"]
    score: float
    like: str
    fit: float | None = None
    others: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Written as a setting (else as a comment)."""
        return self.how != "unsure"


@dataclass(frozen=True)
class DateFormat:
    """The date format found for a date field.

    Attributes:
        field, column: the field and its column.
        format: the strftime format that reads most sample values; None when the column holds
            dates already (``native``), when no format reads a value, or when the values are
            written in several forms (the default formats, tried in turn, read more).
        read: sample values the format reads (or the defaults, when ``format`` is None).
        present: sample values that are not empty.
        example: one value as written that the format reads (None: none to show).
        native: the column holds dates (Excel and Parquet), no format is needed.
    """

    field: str
    column: str
    format: str | None
    read: int
    present: int
    example: str | None
    native: bool = False


@dataclass(frozen=True)
class Code:
    """One distinct value of a code column.

    Attributes:
        value: the value as factlab reads it (surrounding spaces removed).
        rows: rows that hold it.
        reads_as: what factlab makes of it without a value map, when that is worth saying (sex:
            ``M``, ``V``, ``X`` or ``unknown``; other fields: the canonical value it is).
        mapped_to: a value-map entry written as a setting, where the code maps obviously (the
            canonical value written in other capitals).
        accepted: whether the round accepts the value as it is (None: the round lists none).
    """

    value: str
    rows: int
    reads_as: str | None = None
    mapped_to: str | None = None
    accepted: bool | None = None


@dataclass(frozen=True)
class CodeList:
    """The distinct values of a code column with their rows, most frequent first.

    Attributes:
        field, column: the field and its column.
        codes: at most the proposal's limit of values.
        more_values, more_rows: the values (and their rows) beyond the limit.
        empty_rows: rows without a value.
        hidden_values, hidden_rows: values that look like a BSN, never shown.
        accepted: the values the round accepts (None: it lists none).
    """

    field: str
    column: str
    codes: tuple[Code, ...]
    more_values: int = 0
    more_rows: int = 0
    empty_rows: int = 0
    hidden_values: int = 0
    hidden_rows: int = 0
    accepted: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Suggestion:
    """One suggested entry of a code list (``key = value``), written as a comment.

    Attributes:
        key: an exact code, a prefix (``45*``) or a range (``31-34``).
        value: the suggested canonical value.
        note: what the code means (the product category's name).
        rows: rows it would map.
    """

    key: str
    value: str
    note: str
    rows: int


@dataclass(frozen=True)
class Derivation:
    """A suggested ``[derive.FIELD]`` table: the field from another one through a code list.

    Attributes:
        field: the field to fill (``care_form``, ``domain``).
        source: the field it comes from (``product_category``).
        entries: suggested entries.
        without: codes (with their rows) for which there is no suggestion.
    """

    field: str
    source: str
    entries: tuple[Suggestion, ...]
    without: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class MappingProposal:
    """What factlab found in an export, to be written as a mapping file (:meth:`to_toml`).

    Attributes:
        export: the export's file name.
        format: ``csv``, ``xlsx`` or ``parquet``.
        encoding, delimiter: how a CSV export was read (None otherwise).
        rows: data rows of the export.
        sample_rows: the first rows on which columns, date formats and amounts were judged.
        columns: one choice per field found, in the canonical field order.
        unused: columns no field reads (dropped when pseudonymising).
        digit_names: columns whose names are eight or more digits (not shown: the file may have
            no header line, and its first row is data).
        dates: the date format of each date field found.
        decimal_comma: amounts written with a decimal comma (True), point (False), or unclear.
        codes: the distinct values of each code column.
        derive: suggested code lists from the product category.
        required: fields the round requires (its contract), empty when none is known.
        factlab_version: the version that made the proposal.
    """

    export: str
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int
    sample_rows: int
    columns: tuple[ColumnChoice, ...]
    unused: tuple[str, ...] = ()
    digit_names: int = 0
    dates: tuple[DateFormat, ...] = ()
    decimal_comma: bool | None = None
    codes: tuple[CodeList, ...] = ()
    derive: tuple[Derivation, ...] = ()
    required: tuple[str, ...] = ()
    factlab_version: str = ""
    sheet: str | None = field(default=None)

    @property
    def fields(self) -> dict[str, str]:
        """Field → column of the choices written as settings."""
        return {choice.field: choice.column for choice in self.columns if choice.active}

    def to_toml(self, name: str = "mapping.toml") -> str:
        """The proposal as a commented mapping file (version 1) that :func:`load_mapping` reads;
        ``name`` is the file's name, for the command it shows.

        Example:
            >>> choice = ColumnChoice("bsn", "BSN cliënt", "recognised", 1.0, "bsnclient", 1.0)
            >>> text = MappingProposal("e.csv", "csv", "utf-8", ";", 10, 10, (choice,)).to_toml()
            >>> [line[:18] for line in text.splitlines() if line.startswith("bsn")]
            ['bsn = "BSN cliënt"']
        """
        return "".join(f"{line}\n" for line in _lines(self, name))

    def summary_lines(self) -> list[str]:
        """What the proposal found, in a few lines for the steward's terminal: column names,
        date formats with their example, and how many codes each code column has.

        Example:
            >>> choice = ColumnChoice("bsn", "BSN cliënt", "recognised", 1.0, "bsnclient", 1.0)
            >>> MappingProposal("e.csv", "csv", "utf-8", ";", 10, 10, (choice,)).summary_lines()[1]
            '  recognised: bsn ← "BSN cliënt"'
        """
        lines = [f"proposed from {self.export} ({_rows(self.rows)}, {self.format})"]
        for how, title in (
            ("recognised", "recognised"),
            ("guessed", "guessed"),
            ("unsure", "unsure, written as comments"),
        ):
            found = [
                f"{choice.field} ← {toml_string(choice.column)}"
                + (f" ({choice.score:.2f})" if how != "recognised" else "")
                for choice in self.columns
                if choice.how == how
            ]
            if found:
                lines.append(f"  {title}: {', '.join(found)}")
        if self.unused:
            lines.append(f"  not read: {', '.join(toml_string(name) for name in self.unused)}")
        if "bsn" not in self.fields:
            lines.append("  no BSN column found: name it in [columns] before you pseudonymise")
        missing = [name for name in self.required if name not in self.fields]
        if missing:
            lines.append(f"  required by the round, not found: {', '.join(missing)}")
        for date in self.dates:
            if date.format is not None:
                example = f", e.g. {toml_string(date.example)}" if date.example else ""
                lines.append(
                    f"  {date.field}: {date.format} (reads {date.read} of {date.present}{example})"
                )
        for codes in self.codes:
            count = len(codes.codes) + codes.more_values
            rejected = sum(code.accepted is False for code in codes.codes)
            note = f", {rejected} not accepted by the round" if rejected else ""
            lines.append(f"  {codes.field}: {count} distinct value(s){note}")
        return lines


# --- writing ---------------------------------------------------------------------------------


def _setting(key: str, value: str, comment: str = "", *, active: bool = True) -> str:
    line = f"{key} = {value}"
    if not active:
        line = f"# {line}"
    return _commented(line, comment)


def _commented(line: str, comment: str) -> str:
    return f"{line.ljust(_COMMENT_WIDTH - 2)}  # {comment}" if comment else line


def _header(proposal: MappingProposal, name: str) -> list[str]:
    read_as = proposal.format
    if proposal.encoding:
        read_as += f", {proposal.encoding}, delimiter {toml_string(proposal.delimiter or '')}"
    judged = min(proposal.rows, proposal.sample_rows)
    return [
        f"# Mapping for {toml_string(proposal.export)}, proposed by factlab "
        f"{proposal.factlab_version} (factlab mapping propose).",
        "# Read it line by line and correct what is wrong. A line starting with '#' is a",
        "# comment: remove the '#' to use it. Then run",
        f"#   factlab pseudonymise {toml_string(proposal.export)} --mapping {toml_string(name)} "
        "--key … --provider … --out …",
        "# It shows codes and dates of the export: keep it on your own computer.",
        f"# Read: {_rows(proposal.rows)} ({read_as}). Columns, date formats and amounts were",
        f"# judged on the first {_rows(judged)}; the code lists count every row.",
        "version = 1",
    ]


def _input(proposal: MappingProposal) -> list[str]:
    lines = ["", _commented("[input]", "how the export is read")]
    if proposal.delimiter is not None:
        lines.append(_setting("delimiter", toml_string(proposal.delimiter), "detected"))
    if proposal.encoding is not None:
        supported = proposal.encoding in ENCODINGS
        lines.append(
            _setting(
                "encoding",
                toml_string(proposal.encoding),
                "detected" if supported else "detected; not one a mapping names: left out",
                active=supported,
            )
        )
    if proposal.decimal_comma is True:
        lines.append(_setting("decimal_comma", "true", "amounts such as 1.234,56 were found"))
    elif proposal.decimal_comma is False:
        lines.append(_setting("decimal_comma", "false", "amounts such as 1234.56 were found"))
    elif proposal.delimiter is not None:
        default = "true" if proposal.delimiter == ";" else "decided per value"
        lines.append(
            _setting("decimal_comma", "true", f"unclear; default: {default}", active=False)
        )
    if proposal.format == "xlsx":
        name = toml_string(proposal.sheet) if proposal.sheet else '"…"'
        lines.append(_setting("sheet", name, "default: the first sheet", active=False))
    return lines


def _column_comment(choice: ColumnChoice, required: bool) -> str:
    parts = []
    if choice.how == "recognised":
        parts.append("recognised")
    else:
        parts.append(
            f"{_HOW[choice.how]} (name like {toml_string(choice.like)}, "
            f"similarity {choice.score:.2f})"
        )
    if choice.others:
        others = ", ".join(toml_string(other) for other in choice.others)
        parts.append(f"CHECK: {others} looks like this field too")
    if choice.fit is not None and choice.fit < 0.9:
        what = "are valid BSNs" if choice.field == "bsn" else "read"
        parts.append(f"{choice.fit:.0%} of the sample's values {what}")
    if choice.field in _FIELD_NOTES and choice.field != "bsn":
        parts.append(_FIELD_NOTES[choice.field])
    if required:
        parts.append("REQUIRED by the round")
    return "; ".join(parts)


def _columns(proposal: MappingProposal, fields: tuple[str, ...]) -> list[str]:
    lines = ["", _commented("[columns]", "field = column of the export")]
    by_field = {choice.field: choice for choice in proposal.columns}
    for name in fields:
        choice = by_field.get(name)
        if choice is not None:
            comment = _column_comment(choice, name in proposal.required)
            lines.append(_setting(name, toml_string(choice.column), comment, active=choice.active))
    missing = [name for name in fields if name not in by_field]
    for name in missing:  # a line to fill in for the BSN and each field the round requires
        if name == "bsn":
            lines.append(_setting(name, '"…"', _FIELD_NOTES["bsn"], active=False))
        elif name in proposal.required:
            lines.append(_setting(name, '"…"', "REQUIRED by the round: not found", active=False))
    others = [name for name in missing if name not in proposal.required and name != "bsn"]
    if others:
        lines.append(f"# Not found in the export: {', '.join(others)}.")
    if proposal.unused:
        names = ", ".join(toml_string(name) for name in proposal.unused)
        lines.append(f"# Not read (dropped, never written): {names}.")
    if proposal.digit_names:
        lines.append(
            f"# {proposal.digit_names} column name(s) of eight or more digits, not shown: does the "
            "export start with a header line?"
        )
    return lines


def _dates(proposal: MappingProposal) -> list[str]:
    if not proposal.dates:
        return []
    lines = ["", _commented("[date_formats]", "only this format is read")]
    for date in proposal.dates:
        example = f"e.g. {toml_string(date.example)}; " if date.example is not None else ""
        reads = f"reads {date.read:,} of {date.present:,} sample values"
        if date.native:
            lines.append(f"# {date.field}: the column holds dates, no format is needed")
        elif date.format is not None:
            lines.append(_setting(date.field, toml_string(date.format), f"{example}{reads}"))
        elif not date.present:
            lines.append(f"# {date.field}: empty in the sample; no format is needed yet")
        elif date.read:
            lines.append(
                f"# {date.field}: written in several forms; the default formats (ISO, "
                f"DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, YYYYMMDD) are tried in turn: {reads}"
            )
        else:
            lines.append(
                f'# {date.field}: no date format reads these values: name one, e.g. "%d-%m-%Y"'
            )
    return lines


def _code_line(code: Code, field_name: str) -> str:
    key = toml_string(code.value)
    if code.mapped_to is not None:
        return _setting(key, toml_string(code.mapped_to), f"{_rows(code.rows)}; obvious")
    if not is_exact_key(code.value):
        return f"#   {key}: {_rows(code.rows)} (written like a prefix or a range: no key maps it)"
    if field_name == "sex":
        reads = {
            None: "NOT read: map it to M, V or X",
            "unknown": "read as unknown",
        }.get(code.reads_as, f"read as {code.reads_as}")
        note = f"; {reads}"
    elif code.accepted is True:
        note = "; accepted by the round"
    elif code.accepted is False:
        note = "; NOT accepted by the round: map it"
    elif code.reads_as is not None:
        note = "; a known value"
    else:
        note = ""
    return _setting(key, toml_string(code.value), f"{_rows(code.rows)}{note}", active=False)


_CODE_HEADERS: Final = {
    "sex": "M/man/jongen/1 read as M, V/vrouw/meisje/F/2 as V, X/overig/3 as X",
    "municipality": "the municipality of residence, as written",
    "care_form": "e.g. ambulant, dagbehandeling, verblijf, JB/JR",
    "financing": "e.g. ZIN (care in kind), PGB (personal budget)",
    "domain": "e.g. jeugdhulp, jeugdbescherming, jeugdreclassering",
    "product_category": "iJw product categories (code list JZ020)",
}


def _code_lists(proposal: MappingProposal) -> list[str]:
    if not proposal.codes:
        return []
    lines = [
        "",
        "# Value maps: source code = value to write. Each code of the export is listed with its",
        "# rows; remove the '#' and write the value on the right. A key ending in '*' is a prefix",
        '# ("45*" = 45, 451, 45A01), two numbers are a range ("40-44", both ends included); an',
        "# exact code wins over the longest prefix, which wins over a range. Codes no entry maps",
        "# are written as they are.",
    ]
    for codes in proposal.codes:
        lines += [
            "",
            _commented(f"[values.{codes.field}]", _CODE_HEADERS[codes.field]),
        ]
        if codes.accepted is not None:
            shown = ", ".join(toml_string(value) for value in codes.accepted[:20])
            more = f" and {len(codes.accepted) - 20} more" if len(codes.accepted) > 20 else ""
            lines.append(f"# the round accepts: {shown}{more}")
        lines += [_code_line(code, codes.field) for code in codes.codes]
        if codes.more_values:
            lines.append(f"# and {codes.more_values:,} more value(s) in {_rows(codes.more_rows)}")
        if codes.empty_rows:
            lines.append(f"# empty: {_rows(codes.empty_rows)}")
        if codes.hidden_values:
            lines.append(
                f"# {codes.hidden_values} value(s) in {_rows(codes.hidden_rows)} look like a BSN "
                "and are not shown: is the right column named?"
            )
    return lines


def _derivations(proposal: MappingProposal) -> list[str]:
    lines: list[str] = []
    for derivation in proposal.derive:
        lines += [
            "",
            f"# Suggested code list: {derivation.field} from {derivation.source}. NOT",
            "# standardised: what product categories 40-55 mean is agreed per round. Agree it with",
            "# the trusted party, then remove the '#' of the three table lines and of the entries",
            "# you keep.",
            f"# [derive.{derivation.field}]",
            f"# from = {toml_string(derivation.source)}",
            f"# [derive.{derivation.field}.map]",
        ]
        for entry in derivation.entries:
            comment = f"{toml_string(entry.note)}; {_rows(entry.rows)}"
            lines.append(
                _setting(toml_string(entry.key), toml_string(entry.value), comment, active=False)
            )
        if derivation.without:
            listed = ", ".join(
                f"{toml_string(code)} ({_rows(rows)})" for code, rows in derivation.without
            )
            lines.append(f"# no suggestion for: {listed}")
    return lines


def _constants(proposal: MappingProposal) -> list[str]:
    found = proposal.fields
    if "financing" in found or any(d.field == "financing" for d in proposal.derive):
        return []
    return [
        "",
        "# The financing stream is not in the export: if the whole file has one, name it here.",
        "# [constants]",
        _setting("financing", '"ZIN"', "ZIN (care in kind) or PGB (personal budget)", active=False),
    ]


def _lines(proposal: MappingProposal, name: str) -> list[str]:
    return [
        *_header(proposal, name),
        *_input(proposal),
        *_columns(proposal, schema.INPUT_FIELDS),
        *_dates(proposal),
        *_code_lists(proposal),
        *_derivations(proposal),
        *_constants(proposal),
    ]
