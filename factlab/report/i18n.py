"""The words and number forms of a report, in the reader's language: one home for every label.

A report speaks Dutch by default (``language = "nl"`` in the round configuration) or English
(``"en"``). Every fixed word a report shows (headings, notes, chart text, sheet names, the
legend of symbols) is a message here, looked up by key with :func:`text`; numbers, percentages
and dates are formatted with Babel in the form the reader knows: ``8.240``, ``35,7 %`` and
``1 januari 2013`` in Dutch, ``8,240``, ``35.7%`` and ``1 January 2013`` in English. Period
labels of the configuration (``2013H1``) are named as CBS names them (``2013 1e halfjaar``).

Text from data and configuration (labels, titles, notes) is not translated: the round
configuration gives labels per dimension (see :mod:`factlab.report.labels`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Final, Literal

from babel.dates import format_date
from babel.numbers import format_decimal

from factlab.report.messages import MESSAGES

__all__ = [
    "LANGUAGES",
    "Language",
    "day",
    "dimension_name",
    "number",
    "parameter",
    "percent",
    "period_name",
    "sheet_name",
    "text",
]

Language = Literal["nl", "en"]
#: Languages a report can be written in; the first is the default.
LANGUAGES: Final = ("nl", "en")
_LOCALES: Final = {"nl": "nl_NL", "en": "en_GB"}
_ORDINAL_NL: Final = {1: "1e", 2: "2e", 3: "3e", 4: "4e"}
_ORDINAL_EN: Final = {1: "first", 2: "second", 3: "third", 4: "fourth"}
_YEAR = re.compile(r"([0-9]{4})")
_HALF = re.compile(r"([0-9]{4})H([12])")
_QUARTER = re.compile(r"([0-9]{4})Q([1-4])")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RANGE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\.\.([0-9]{4}-[0-9]{2}-[0-9]{2})")


def _locale(language: str) -> str:
    try:
        return _LOCALES[language]
    except KeyError:
        raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}") from None


def text(language: str, key: str, /, **values: object) -> str:
    """The message ``key`` in ``language``, with ``{name}`` fields filled from ``values``.

    Raises:
        ValueError: an unknown language or key (a missing translation is a bug, never a
            silent English word in a Dutch report).

    Example:
        >>> text("nl", "key_figures")
        'Kerncijfers'
        >>> text("en", "corrections_title", title="Plan")
        'Corrections: Plan'
    """
    _locale(language)
    table = MESSAGES[language]
    if key not in table:
        raise ValueError(f"no message {key!r} in language {language!r}")
    message = table[key]
    return message.format(**values) if values else message


def number(language: str, value: float, *, decimals: int = 0) -> str:
    """A number as the reader writes it: ``8.240`` (nl), ``8,240`` (en).

    Example:
        >>> number("nl", 8240), number("en", 8240), number("nl", -601)
        ('8.240', '8,240', '-601')
        >>> number("nl", 0.25, decimals=2)
        '0,25'
    """
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=_locale(language))


def parameter(language: str, value: float) -> str:
    """A model parameter with as many decimals as it has (``0,9``, ``2``, ``1,33``).

    Example:
        >>> parameter("nl", 0.9), parameter("en", 2.0), parameter("nl", 1.3333)
        ('0,9', '2', '1,333')
    """
    return format_decimal(value, format="0.###", locale=_locale(language))


def percent(language: str, value: float) -> str:
    """A percentage with one decimal: ``35,7 %`` (nl, as CBS writes it), ``35.7%`` (en).

    Example:
        >>> percent("nl", 35.7) == "35,7\u00a0%", percent("en", 35.7)
        (True, '35.7%')
    """
    shown = format_decimal(value, format="0.0", locale=_locale(language))
    return f"{shown}\u00a0%" if language == "nl" else f"{shown}%"


def day(language: str, when: date) -> str:
    """A date written out: ``1 januari 2013`` (nl), ``1 January 2013`` (en).

    Example:
        >>> from datetime import date
        >>> day("nl", date(2013, 1, 1))
        '1 januari 2013'
    """
    return format_date(when, format="d MMMM y", locale=_locale(language))


def period_name(language: str, label: str) -> str:
    """A period label of the configuration in words.

    ``2013`` stays ``2013``; ``2013H1`` is ``2013 1e halfjaar`` (nl) or ``2013 first half``
    (en); ``2013Q3`` is ``2013 3e kwartaal``; ``2013-03`` is ``maart 2013``; a reference date
    ``2013-01-01`` is ``1 januari 2013``; a range is written as two dates. Any other text (a
    label of data) is returned as it is.

    Example:
        >>> period_name("nl", "2013H1"), period_name("nl", "2013-01-01")
        ('2013 1e halfjaar', '1 januari 2013')
        >>> period_name("en", "2013Q4")
        '2013 fourth quarter'
    """
    locale = _locale(language)
    ordinal = _ORDINAL_NL if language == "nl" else _ORDINAL_EN
    if _YEAR.fullmatch(label):
        return label
    if m := _HALF.fullmatch(label):
        return text(language, "half_year", year=m.group(1), nth=ordinal[int(m.group(2))])
    if m := _QUARTER.fullmatch(label):
        return text(language, "quarter", year=m.group(1), nth=ordinal[int(m.group(2))])
    if (m := _MONTH.fullmatch(label)) and 1 <= int(m.group(2)) <= 12:
        return format_date(date(int(m.group(1)), int(m.group(2)), 1), "MMMM y", locale=locale)
    try:
        if _DAY.fullmatch(label):
            return day(language, date.fromisoformat(label))
        if m := _RANGE.fullmatch(label):
            first, last = (date.fromisoformat(m.group(i)) for i in (1, 2))
            return text(language, "date_range", start=day(language, first), end=day(language, last))
    except ValueError:
        return label
    return label


def sheet_name(language: str, table_id: str) -> str:
    """The name of a table's sheet in an Excel workbook (at most 31 characters).

    Example:
        >>> sheet_name("nl", "key-figures"), sheet_name("nl", "by-municipality")
        ('kerncijfers', 'naar gemeente')
    """
    names: Mapping[str, str] = {
        "about": text(language, "sheet_about"),
        "key-figures": text(language, "sheet_key_figures"),
        "cross": text(language, "sheet_cross"),
        "providers-per-client": text(language, "sheet_providers_per_client"),
        "overlap": text(language, "sheet_overlap"),
        "data-quality": text(language, "sheet_data_quality"),
        "corrections": text(language, "sheet_corrections"),
        "capture-recapture": text(language, "sheet_capture_recapture"),
        "provenance": text(language, "sheet_provenance"),
    }
    if table_id in names:
        return names[table_id]
    if table_id.startswith("by-"):
        dimension = table_id.removeprefix("by-")
        return text(language, "sheet_by", dimension=dimension_name(language, dimension))[:31]
    return table_id[:31]


def dimension_name(language: str, dimension: str) -> str:
    """A dimension in words: ``care_form`` is ``zorgvorm`` (nl), ``care form`` (en).

    Example:
        >>> dimension_name("nl", "care_form"), dimension_name("en", "age_group")
        ('zorgvorm', 'age group')
    """
    _locale(language)
    key = f"dim_{dimension}"
    if key in MESSAGES[language]:
        return text(language, key)
    return dimension.replace("_", " ")
