"""The presentation keys of a round configuration, read and checked (every problem collected).

``language``, ``[publication]`` (source, contact, status, date), ``delivery_date``,
``[labels.<dimension>]``, ``[order]``, ``[[structural_empty]]``, ``[data_quality]`` and the
corrections' texts (``[corrections] title``, ``[corrections.adjustment.<name>]``), plus the
small readers that :mod:`factlab.report.config` uses for every key. See ``docs/reports.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from factlab.analysis.counts import DIMENSIONS
from factlab.errors import ConfigError
from factlab.periods import parse_date
from factlab.report import i18n

__all__ = [
    "read_corrections_text",
    "read_presentation",
    "read_structural_empties",
    "table_of",
    "text_value",
    "unknown_keys",
]

#: Dimensions a report can tabulate (``provider`` appears only under its labels).
REPORT_DIMENSIONS: Final = tuple(name for name in DIMENSIONS if name != "provider")


_PUBLICATION_KEYS: Final = ("source", "contact", "status", "date")
_STATUSES: Final = {
    "voorlopig": "provisional",
    "provisional": "provisional",
    "definitief": "final",
    "final": "final",
}
_ADJUSTMENT_TEXT_KEYS: Final = ("label", "note", "source")


def unknown_keys(data: Mapping[str, Any], known: Sequence[str], prefix: str) -> list[str]:
    return [f"{prefix}{key}: unknown key" for key in data if key not in known]


def text_value(data: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: must be non-empty text")
        return None
    return value


def table_of(data: Mapping[str, Any], key: str, problems: list[str]) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        problems.append(f"{key}: must be a table ([{key}])")
        return {}
    return value


def _mapping_of_text(value: Any, path: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: must be a table of text")
        return {}
    found = {}
    for key, text in value.items():
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}.{key}: must be non-empty text")
        else:
            found[str(key)] = text
    return found


def read_presentation(
    data: Mapping[str, Any], problems: list[str], *, extra: Sequence[str] = ()
) -> dict[str, Any]:
    """Language, publication lines, labels, order and the data-quality rounding.

    ``extra`` names dimensions beyond the report's own that labels and order may name (the
    levels a reference file declares).
    """
    found: dict[str, Any] = {}
    language = data.get("language", "nl")
    if language not in i18n.LANGUAGES:
        problems.append(f"language: must be one of {', '.join(i18n.LANGUAGES)}")
        language = "nl"
    found["language"] = language
    publication = table_of(data, "publication", problems)
    problems += unknown_keys(publication, _PUBLICATION_KEYS, "publication.")
    for key, attribute in (("source", "source_text"), ("contact", "contact")):
        if key in publication:
            found[attribute] = text_value(publication, key, problems)
    status = publication.get("status", "voorlopig")
    if status not in _STATUSES:
        problems.append("publication.status: must be voorlopig or definitief")
        status = "voorlopig"
    found["status"] = _STATUSES[status]
    for key, section, attribute in (
        ("date", publication, "publication_date"),
        ("delivery_date", data, "delivery_date"),
    ):
        value = section.get(key)
        if value is None:
            continue
        if isinstance(value, date) and not isinstance(value, datetime):
            found[attribute] = value
        elif isinstance(value, str):
            try:
                found[attribute] = parse_date(value, what=key)
            except ConfigError as exc:
                problems += [
                    f"publication.{p}" if section is publication else p for p in exc.problems
                ]
        else:
            problems.append(f"{key}: must be a date (YYYY-MM-DD)")
    labels = table_of(data, "labels", problems)
    found["labels"] = {
        str(dimension): _mapping_of_text(values, f"labels.{dimension}", problems)
        for dimension, values in labels.items()
    }
    order: dict[str, tuple[str, ...]] = {}
    for dimension, values in table_of(data, "order", problems).items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"order.{dimension}: must be a list of values")
        else:
            order[str(dimension)] = tuple(values)
    found["order"] = order
    for dimension in (*labels, *order):
        if dimension not in (*REPORT_DIMENSIONS, *extra, "provider", "providers"):
            problems.append(f"labels/order: unknown dimension {dimension!r}")
    quality = table_of(data, "data_quality", problems)
    problems += unknown_keys(quality, ("rounding",), "data_quality.")
    rounding = quality.get("rounding")
    if rounding is not None and (
        isinstance(rounding, bool) or not isinstance(rounding, int) or rounding < 1
    ):
        problems.append("data_quality.rounding: must be a whole number >= 1")
        rounding = None
    found["data_quality_rounding"] = rounding
    return found


def read_structural_empties(
    data: Mapping[str, Any], problems: list[str]
) -> tuple[dict[str, str], ...]:
    """``[[structural_empty]]``: cells that cannot hold a client, added to the rules' own."""
    value = data.get("structural_empty", [])
    if not isinstance(value, list):
        problems.append("structural_empty: must be an array of tables ([[structural_empty]])")
        return ()
    cells = []
    for index, selection in enumerate(value, start=1):
        path = f"structural_empty[{index}]"
        cell = _mapping_of_text(selection, path, problems)
        if not cell:
            if isinstance(selection, Mapping) and not selection:
                problems.append(f"{path}: must name at least one dimension")
            continue
        unknown = [key for key in cell if key not in REPORT_DIMENSIONS]
        problems += [f"{path}.{key}: unknown dimension" for key in unknown]
        if not unknown:
            cells.append(cell)
    return tuple(cells)


def read_corrections_text(
    corrections: Mapping[str, Any], problems: list[str]
) -> tuple[str | None, dict[str, dict[str, str]]]:
    """The corrections' title and, per adjustment, its ``label``, ``note`` and ``source``."""
    title = text_value(corrections, "title", problems) if "title" in corrections else None
    texts: dict[str, dict[str, str]] = {}
    raw = corrections.get("adjustment", {})
    if not isinstance(raw, Mapping):
        problems.append("corrections.adjustment: a table per adjustment name")
        return title, texts
    for name, entry in raw.items():
        path = f"corrections.adjustment.{name}"
        text = _mapping_of_text(entry, path, problems)
        problems += [
            f"{path}.{key}: unknown key" for key in text if key not in _ADJUSTMENT_TEXT_KEYS
        ]
        texts[str(name)] = {k: v for k, v in text.items() if k in _ADJUSTMENT_TEXT_KEYS}
    return title, texts
