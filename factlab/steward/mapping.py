"""Which source column is which canonical field, and how its values are read.

Columns named like the canonical fields, or with a common Dutch name, are recognised without a
mapping (case, spaces, underscores, hyphens, dots and accents are ignored). A TOML mapping names
source columns explicitly, date formats, value maps (e.g. product category code → care form),
constants (e.g. the financing stream that comes with the whole file), and input options.

A column the mapping names is matched as leniently as recognised names are (``"clientnummer"``
finds ``Cliëntnummer``, ``"geb datum"`` finds ``Geb.datum``); one the file lacks is reported with
the file's closest column names. Value maps take exact codes, prefixes (``"45*"``) and ranges of
whole numbers (``"40-44"``): see :mod:`factlab.steward.value_maps`.

Example mapping (``version`` is required)::

    version = 1

    [input]
    delimiter = ";"          # default: detected from the header line
    encoding = "cp1252"      # default: UTF-8 (with or without BOM), else Windows-1252
    decimal_comma = true     # default: true for ';'-separated files
    sheet = "Cliënten"       # Excel only; default: the first sheet

    [columns]
    bsn = "BSN cliënt"
    start_date = "Datum aanvang"

    [date_formats]
    start_date = "%d-%m-%Y"  # default: ISO, DD-MM-YYYY, DD/MM/YYYY, YYYYMMDD are tried in turn

    [values.care_form]       # map source values to canonical values
    "ambu" = "ambulant"
    "45*" = "ambulant"       # a prefix: 45, 451, 45A01
    "43-44" = "verblijf"     # a range of whole numbers, both ends included

    [derive.care_form]       # fill a field from another one through a value map
    from = "product_category"
    map = { "45" = "ambulant", "41" = "dagbehandeling", "43" = "verblijf" }

    [constants]
    financing = "ZIN"

    [fallback]               # a keyed fallback pseudonym for rows without a valid BSN
    fields = ["birth_date", "sex", "postcode"]
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from factlab import schema
from factlab._checks import require_path
from factlab._export_checks import shown
from factlab.errors import ConfigError, InputError
from factlab.io import read_toml
from factlab.steward.value_maps import ValueMap, parse_value_map

__all__ = [
    "ALIASES",
    "ENCODINGS",
    "ColumnMapping",
    "closest_columns",
    "is_digit_name",
    "load_mapping",
    "resolve_columns",
    "simplify",
]

MAPPING_VERSION: Final = 1

#: Recognised source names per canonical field (compared after :func:`simplify`).
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "bsn": ("bsn", "burgerservicenummer", "bsnclient", "clientbsn", "sofinummer"),
    "birth_date": ("birthdate", "geboortedatum", "gebdatum", "dateofbirth"),
    "birth_year": ("birthyear", "geboortejaar"),
    "sex": ("sex", "gender", "geslacht"),
    "municipality": (
        "municipality",
        "gemeente",
        "woongemeente",
        "gemeentecode",
        "gemeentenaam",
        "woonplaatsbeginsel",
    ),
    "domain": ("domain", "domein"),
    "financing": ("financing", "financiering", "financieringsstroom", "financieringsvorm"),
    "care_form": ("careform", "zorgvorm", "hulpvorm"),
    "product_category": ("productcategory", "productcategorie", "productcategoriecode"),
    "start_date": ("startdate", "startdatum", "begindatum", "ingangsdatum", "aanvangsdatum"),
    "end_date": ("enddate", "einddatum", "afsluitdatum"),
    "cost": ("cost", "costs", "kosten", "bedrag", "totaalbedrag"),
    "postcode": ("postcode", "postalcode", "zipcode", "pc6"),
}

_INPUT_KEYS: Final = {"delimiter": str, "encoding": str, "decimal_comma": bool, "sheet": str}
_TOP_KEYS: Final = {
    "version",
    "input",
    "columns",
    "date_formats",
    "values",
    "derive",
    "constants",
    "fallback",
}
_DATE_FIELDS: Final = ("birth_date", "start_date", "end_date")
#: File columns listed when a mapped column is missing and none comes close.
_LISTED_COLUMNS: Final = 20
#: Encodings a mapping may name.
ENCODINGS: Final = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le", "utf-16-be")
_VALUE_FIELDS: Final = tuple(
    name for name in schema.INPUT_FIELDS if name not in (*_DATE_FIELDS, "bsn", "cost", "postcode")
)


def simplify(name: str) -> str:
    """A column name as recognition compares it: lower case, letters and digits only, accents off.

    Example:
        >>> simplify("Geb.datum"), simplify("Cliëntnummer"), simplify("BSN_cliënt ")
        ('gebdatum', 'clientnummer', 'bsnclient')
    """
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    return "".join(char for char in letters.lower() if char.isalnum())


@dataclass(frozen=True)
class Derivation:
    """Fill ``target`` from ``source`` through ``values`` (unmapped values become null)."""

    source: str
    values: MappingABC[str, str]


@dataclass(frozen=True)
class ColumnMapping:
    """A validated mapping (see the module docstring for the TOML form).

    Attributes:
        columns: canonical field → source column name.
        date_formats: canonical date field → strftime format.
        values: canonical field → value map (a :class:`~factlab.steward.value_maps.ValueMap`
            when parsed: exact codes, prefixes and ranges; a plain table is read as one).
        derive: canonical field → derivation from another canonical field.
        constants: canonical field → value for every row.
        delimiter, encoding, decimal_comma, sheet: input options (None: detect).
        fallback_fields: fields of the fallback pseudonym (None: no fallback pseudonym).
        source: where the mapping came from, for messages.
    """

    columns: MappingABC[str, str] = field(default_factory=lambda: MappingProxyType({}))
    date_formats: MappingABC[str, str] = field(default_factory=lambda: MappingProxyType({}))
    values: MappingABC[str, MappingABC[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    derive: MappingABC[str, Derivation] = field(default_factory=lambda: MappingProxyType({}))
    constants: MappingABC[str, str] = field(default_factory=lambda: MappingProxyType({}))
    delimiter: str | None = None
    encoding: str | None = None
    decimal_comma: bool | None = None
    sheet: str | None = None
    fallback_fields: tuple[str, ...] | None = None
    source: str = "default mapping"


#: strftime directives of a date: year, month, day, day of the year, weekday names, and the
#: shorthands %F (%Y-%m-%d), %D and %x (%m/%d/%y), %v (%e-%b-%Y). Time directives are refused (a
#: date with an hour cannot be read as a date), as is anything the date parser would not know.
_DATE_DIRECTIVE: Final = re.compile(r"%(?P<flag>[-_0]?)(?P<letter>[YyCmbBhdejaAFDxv%])")
_WHOLE_DATES: Final = frozenset("FDxv")


def _date_format_problem(fmt: str) -> str | None:
    """Why ``fmt`` is no date format (None when it is one); checked before any row is read."""
    letters = [match["letter"] for match in _DATE_DIRECTIVE.finditer(fmt)]
    rest = _DATE_DIRECTIVE.sub("", fmt)
    if "%" in rest:
        return "only date directives (%Y %y %m %b %B %d %e %j %F …) are allowed, no time or other"
    if not letters or letters == ["%"]:
        return "not a strftime format (e.g. %d-%m-%Y)"
    if not _WHOLE_DATES & set(letters):
        has_year = bool({"Y", "y"} & set(letters))
        has_day = bool({"d", "e"} & set(letters)) and bool({"m", "b", "B", "h"} & set(letters))
        if not has_year or not (has_day or "j" in letters):
            return "must name a year, a month and a day (or a day of the year with %j)"
    return None


def _columns_used_twice(columns: MappingABC[str, str]) -> dict[str, list[str]]:
    """Source columns named for more than one field, with those fields."""
    fields: dict[str, list[str]] = {}
    for name, column in columns.items():
        fields.setdefault(column, []).append(name)
    return {column: names for column, names in fields.items() if len(names) > 1}


def _check_table(value: Any, path: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(f"{path}: must be a table")
        return {}
    return value


def _string_map(value: Any, path: str, problems: list[str]) -> dict[str, str]:
    table = _check_table(value, path, problems)
    result: dict[str, str] = {}
    for key, mapped in table.items():
        if isinstance(mapped, str):
            result[str(key)] = mapped
        else:
            problems.append(f"{path}.{key}: must be a string")
    return result


def parse_mapping(document: dict[str, Any], *, source: str = "mapping") -> ColumnMapping:
    """Validate a mapping document (already parsed TOML); every problem is listed at once.

    Raises:
        ConfigError: with one line per problem, each starting with the path of the bad field.

    Example:
        >>> parse_mapping({"version": 1, "columns": {"bsn": "BSN cliënt"}}).columns["bsn"]
        'BSN cliënt'
        >>> parse_mapping({"version": 1, "colums": {}})  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.ConfigError: mapping: 1 problem(s): colums: unknown key
    """
    problems: list[str] = []
    for key in sorted(set(document) - _TOP_KEYS):
        problems.append(f"{key}: unknown key")
    version = document.get("version")
    if version is None:
        problems.append("version: required (this factlab reads version 1)")
    elif type(version) is not int or version != MAPPING_VERSION:  # TOML true or 1.0 is no version
        problems.append(f"version: unsupported ({version!r}); this factlab reads version 1")

    options = _check_table(document.get("input", {}), "input", problems)
    for key, value in options.items():
        expected = _INPUT_KEYS.get(key)
        if expected is None:
            problems.append(f"input.{key}: unknown key")
        elif not isinstance(value, expected):
            problems.append(f"input.{key}: must be a {expected.__name__}")
    delimiter = options.get("delimiter")
    if isinstance(delimiter, str) and len(delimiter) != 1:
        problems.append("input.delimiter: must be one character")
    encoding = options.get("encoding")
    if isinstance(encoding, str) and encoding.lower() not in ENCODINGS:
        problems.append(f"input.encoding: must be one of {', '.join(ENCODINGS)}")

    columns = _string_map(document.get("columns", {}), "columns", problems)
    for name in columns:
        if name not in schema.INPUT_FIELDS:
            problems.append(
                f"columns.{name}: unknown field (known: {', '.join(schema.INPUT_FIELDS)})"
            )

    for column, names in _columns_used_twice(columns).items():
        problems.append(
            f"columns: {' and '.join(names)} both name the column {column!r}; "
            "one source column feeds one field"
        )

    date_formats = _string_map(document.get("date_formats", {}), "date_formats", problems)
    for name, fmt in date_formats.items():
        if name not in _DATE_FIELDS:
            problems.append(f"date_formats.{name}: not a date field ({', '.join(_DATE_FIELDS)})")
        elif problem := _date_format_problem(fmt):
            problems.append(f"date_formats.{name}: {problem}")

    values: dict[str, ValueMap] = {}
    for name, table in _check_table(document.get("values", {}), "values", problems).items():
        if name not in _VALUE_FIELDS:
            problems.append(f"values.{name}: value maps apply to {', '.join(_VALUE_FIELDS)}")
        values[name] = parse_value_map(table, f"values.{name}", problems)

    derive: dict[str, Derivation] = {}
    for name, table in _check_table(document.get("derive", {}), "derive", problems).items():
        spec = _check_table(table, f"derive.{name}", problems)
        if name not in _VALUE_FIELDS:
            problems.append(f"derive.{name}: derivations fill {', '.join(_VALUE_FIELDS)}")
        for key in sorted(set(spec) - {"from", "map"}):
            problems.append(f"derive.{name}.{key}: unknown key")
        origin = spec.get("from")
        if not isinstance(origin, str) or origin not in _VALUE_FIELDS:
            problems.append(f"derive.{name}.from: must name one of {', '.join(_VALUE_FIELDS)}")
        elif origin == name:
            problems.append(f"derive.{name}.from: a field cannot be derived from itself")
        mapped = parse_value_map(spec.get("map", {}), f"derive.{name}.map", problems)
        if not mapped:
            problems.append(f"derive.{name}.map: required, a table of source value → value")
        derive[name] = Derivation(str(origin), mapped)

    constants = _string_map(document.get("constants", {}), "constants", problems)
    for name in constants:
        if name not in _VALUE_FIELDS:
            problems.append(f"constants.{name}: constants apply to {', '.join(_VALUE_FIELDS)}")
        if name in columns or name in derive:
            problems.append(f"constants.{name}: also given in columns or derive")

    fallback = _check_table(document.get("fallback", {}), "fallback", problems)
    for key in sorted(set(fallback) - {"fields"}):
        problems.append(f"fallback.{key}: unknown key")
    fallback_fields: tuple[str, ...] | None = None
    if "fields" in fallback:
        chosen = fallback["fields"]
        if not isinstance(chosen, list) or not chosen:
            problems.append("fallback.fields: must be a non-empty list of field names")
        else:
            for index, name in enumerate(chosen):
                if name not in schema.FALLBACK_CHOICES:
                    problems.append(
                        f"fallback.fields[{index}]: must be one of "
                        f"{', '.join(schema.FALLBACK_CHOICES)}"
                    )
            if len(set(map(str, chosen))) != len(chosen):
                problems.append("fallback.fields: a field is named twice")
            fallback_fields = tuple(str(name) for name in chosen)

    if problems:
        raise ConfigError(source, problems)
    return ColumnMapping(
        columns=MappingProxyType(columns),
        date_formats=MappingProxyType(date_formats),
        values=MappingProxyType(values),
        derive=MappingProxyType(derive),
        constants=MappingProxyType(constants),
        delimiter=delimiter if isinstance(delimiter, str) else None,
        encoding=encoding.lower() if isinstance(encoding, str) else None,
        decimal_comma=options.get("decimal_comma"),
        sheet=options.get("sheet"),
        fallback_fields=fallback_fields,
        source=source,
    )


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read and validate a TOML mapping file.

    Raises:
        InputError: the file is missing or unreadable.
        ConfigError: the file is not valid TOML or the mapping is invalid (all problems at once).
    """
    path = require_path(path, where="load_mapping", name="path")
    return parse_mapping(read_toml(path, what="mapping file"), source=str(path))


def is_digit_name(name: str) -> bool:
    """A column name of eight or more digits (separators aside): in a file without a header
    line the first row's cells are the names, so it may be a client's BSN, never shown."""
    return re.search(r"[0-9]{8,}", re.sub(r"[\s.\-]", "", name)) is not None


def closest_columns(name: str, columns: Iterable[str], *, limit: int = 3) -> list[str]:
    """The columns whose names come closest to ``name`` (compared as recognition compares names:
    without case, spaces, punctuation and accents), best first; names of digits are left out.

    Example:
        >>> closest_columns("Geboorte datum", ["BSN", "Geb.datum", "Geboortedatum", "Gemeente"])
        ['Geboortedatum', 'Geb.datum']
    """
    by_simple: dict[str, str] = {}
    for column in columns:
        if not is_digit_name(column):
            by_simple.setdefault(simplify(column), column)
    close = difflib.get_close_matches(simplify(name), list(by_simple), n=limit, cutoff=0.6)
    return [by_simple[simple] for simple in close]


def _missing_column(name: str, column: str, columns: list[str]) -> str:
    """The problem of a mapped column the file lacks, with the closest names (names only)."""
    problem = f"mapped column {column!r} for {name} is not in the file"
    close = closest_columns(column, columns)
    if close:
        return f"{problem}; did you mean {' or '.join(shown(other) for other in close)}?"
    names = [shown(other) for other in columns if not is_digit_name(other)]
    listed = ", ".join(names[:_LISTED_COLUMNS])
    if len(names) > _LISTED_COLUMNS:
        listed += f" and {len(names) - _LISTED_COLUMNS} more"
    hidden = len(columns) - len(names)
    if hidden:
        listed += f"{', ' if names else ''}{hidden} name(s) of digits (has the file a header line?)"
    return f"{problem}; its columns: {listed}"


def _find_mapped(
    name: str, column: str, columns: list[str], by_simple: dict[str, list[str]]
) -> tuple[str | None, str | None]:
    """The file's column a mapping names: the exact name, else the one name that matches as
    recognition matches (case, spaces, punctuation and accents ignored); or the problem."""
    if column in columns:
        return column, None
    candidates = by_simple.get(simplify(column), [])
    if len(candidates) == 1:
        return candidates[0], None
    if candidates:
        return None, (
            f"mapped column {column!r} for {name} matches {', '.join(map(shown, candidates))} "
            "once case, spaces and accents are ignored; write the name exactly as in the file"
        )
    return None, _missing_column(name, column, columns)


def resolve_columns(
    source_columns: Iterable[str], mapping: ColumnMapping, *, source: str = "input"
) -> dict[str, str]:
    """Canonical field → source column, from the mapping first, then by recognised names.

    A column the mapping names is found as written, or else leniently, as recognised names are:
    ``"clientnummer"`` finds ``Cliëntnummer`` and ``"geb datum"`` finds ``Geb.datum``. A column
    the file lacks is named with the file's closest column names ("did you mean …"), never a
    value.

    Raises:
        InputError: no BSN column, a mapped column that the input lacks, one source column
            mapped to two fields (a text field fed from the BSN column would publish BSNs), or
            two source columns that both look like the same field.

    Example:
        >>> resolve_columns(["BSN", "Geboortedatum", "Zorgvorm", "Opmerking"], ColumnMapping())
        {'bsn': 'BSN', 'birth_date': 'Geboortedatum', 'care_form': 'Zorgvorm'}
        >>> lenient = ColumnMapping(columns={"bsn": "bsn client"})
        >>> resolve_columns(["BSN cliënt", "Geb.datum"], lenient)
        {'bsn': 'BSN cliënt', 'birth_date': 'Geb.datum'}
        >>> mapping = ColumnMapping(columns={"bsn": "BSN", "birth_date": "Geboortedatm"})
        >>> resolve_columns(["BSN", "Geboortedatum", "Gemeente"], mapping)
        Traceback (most recent call last):
        factlab.errors.InputError: input: mapped column 'Geboortedatm' for birth_date is not \
in the file; did you mean 'Geboortedatum'?
    """
    columns = list(source_columns)
    problems: list[str] = []
    resolved: dict[str, str] = {}
    all_by_simple: dict[str, list[str]] = {}
    for column in columns:
        all_by_simple.setdefault(simplify(column), []).append(column)
    for name, column in mapping.columns.items():
        found, problem = _find_mapped(name, column, columns, all_by_simple)
        if found is not None:
            resolved[name] = found
        elif problem is not None:
            problems.append(problem)
    # parse_mapping refuses this too; a ColumnMapping can also be made in Python
    for column, names in _columns_used_twice(mapping.columns).items():
        problems.append(f"column {column!r} is mapped to {' and '.join(names)}; one field each")
    for column, names in _columns_used_twice(resolved).items():
        if len({mapping.columns[name] for name in names}) > 1:  # two ways of writing it
            problems.append(
                f"column {shown(column)} is mapped to {' and '.join(names)}; one field each"
            )
    taken = set(resolved.values())
    by_simple: dict[str, list[str]] = {}
    for column in columns:
        if column not in taken:
            by_simple.setdefault(simplify(column), []).append(column)
    for name, aliases in ALIASES.items():
        if name in resolved:
            continue
        candidates = [column for alias in aliases for column in by_simple.get(alias, [])]
        if len(candidates) > 1:
            problems.append(
                f"columns {', '.join(map(repr, candidates))} all look like {name}; "
                f"name one in the mapping's [columns]"
            )
        elif candidates:
            resolved[name] = candidates[0]
    if "bsn" not in resolved and not problems:
        problems.append(
            "no BSN column (looked for bsn, burgerservicenummer, …); "
            'name it in a mapping: [columns] bsn = "…"'
        )
    if problems:
        raise InputError(f"{source}: " + "; ".join(problems))
    return {name: resolved[name] for name in schema.INPUT_FIELDS if name in resolved}
