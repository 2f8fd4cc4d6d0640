"""Free text in a public report: no exact count slips through a note, a source or a title.

Configuration texts (the round's title and source line, the corrections' title, each
adjustment's label, note and source) are written by people who know the exact counts. A note
such as "5,411 × 0.1 / 0.9 = 601" printed under a table that publishes 5,410 and 600 would undo
the rounding. So, in a public report:

- ``{observed}``, ``{value}``, ``{low}``, ``{high}``, ``{counted}`` and ``{total}`` in an
  adjustment's texts are filled with the published values (:func:`fill`);
- every number written in a text must be on an allow-list (:func:`refuse_unlisted`): a value
  the report publishes (the filled placeholders among them), a year (four digits from 1900 to
  2099) or the day of a written date (``1 januari``), or a number from the corrections model's
  parameters: a parameter or an end of its range, as written (``0,9``, ``factor 2``) or as a
  percentage (``90 %``), its complement (``0,1``, ``10 %``), inverse, odds (``(1 − p) / p``),
  share of the corrected total (``p / (1 + p)``), or the ratio of two values of one
  adjustment (``0,8`` = 2 / 2,5), to the precision written. Anything else (a decimal derived
  from a count such as ``601,22``, an exact count, a percentage of counts) stops the report
  with a :class:`~factlab.errors.ConfigError` naming the text and which number, never its
  value.

What counts as a number: digits, with ``.``/``,`` (or a thin, no-break or plain space) between
groups of three read as thousands (``5,411``, ``5.411`` and ``5 411`` are 5411); a last group of
another length is a decimal part (``0,9``, ``1.234,5``). A token that reads either way
(``0,125``) passes when either reading does. A count written as a word ("twice", "tweemaal")
is not seen: write counts as placeholders. In every report, internal ones too, a text that
holds a BSN is refused (:func:`refuse_bsn`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import polars as pl

from factlab.errors import ConfigError
from factlab.steward.bsn import looks_like_bsn

__all__ = [
    "PLACEHOLDERS",
    "fill",
    "numbers_in",
    "parameter_values",
    "refuse_bsn",
    "refuse_unlisted",
]

#: Placeholders an adjustment's texts may hold, filled with published values.
PLACEHOLDERS: Final = ("observed", "value", "low", "high", "counted", "total")
_MONTHS: Final = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "january|february|march|may|june|july|august|october"
)
_DATE_DAY = re.compile(rf"\b[0-9]{{1,2}}(?=\s+(?:{_MONTHS})\b)", re.IGNORECASE)
_TOKEN = re.compile(r"(?<![0-9])[0-9]+(?:[.,\u00a0\u202f][0-9]+)*(?:\s*%)?")
_SEPARATORS = re.compile(r"[.,\u00a0\u202f]")
# A plain space between a group of one to three digits and groups of exactly three: thousands.
_SPACED = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?: [0-9]{3})+(?![0-9])")


@dataclass(frozen=True)
class _Number:
    """A number as written: its readings (one, or two when ambiguous), and whether a %."""

    readings: tuple[tuple[Fraction, int], ...]  # (value, decimals written)
    percent: bool
    year: bool = False


def _numbers(text: str) -> list[_Number]:
    """Every number written in ``text`` (the days of written dates left out), in order."""
    text = _DATE_DAY.sub("", text)
    text = _SPACED.sub(lambda m: m.group(0).replace(" ", "\u202f"), text)
    found = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        percent = token.rstrip().endswith("%")
        digits = token.rstrip().rstrip("%").rstrip()
        groups = _SEPARATORS.split(digits)
        readings: list[tuple[Fraction, int]] = []
        if len(groups) == 1:
            found.append(
                _Number(
                    ((Fraction(int(digits)), 0),),
                    percent,
                    year=not percent and len(digits) == 4 and 1900 <= int(digits) <= 2099,
                )
            )
            continue
        if 1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:]):
            readings.append((Fraction(int("".join(groups))), 0))
        if len(groups[-1]) != 3 or len(groups) == 2:
            whole, part = "".join(groups[:-1]), groups[-1]
            readings.append(
                (Fraction(int(whole)) + Fraction(int(part), 10 ** len(part)), len(part))
            )
        found.append(_Number(tuple(readings), percent))
    return found


def numbers_in(text: str) -> list[int]:
    """The whole numbers written in ``text`` that could be counts, in order: neither a
    percentage, a year, the day of a date, nor a decimal number.

    Example:
        >>> numbers_in("5,411 × 0.1 / 0.9 = 601; 10 % assumed, 2015 estimate, 1 januari 2013")
        [5411, 601]
        >>> numbers_in("8.240 jeugdigen, 1 353 of 1\u00a0353, ZVW: 5 411")
        [8240, 1353, 1353, 5411]
    """
    return [
        int(number.readings[0][0])
        for number in _numbers(text)
        if not number.percent and not number.year and number.readings[0][1] == 0
    ]


def parameter_values(parameters: Iterable[Sequence[float]]) -> set[Fraction]:
    """The numbers a text may take from a corrections model, per adjustment's values
    (parameter and range ends): each value, its complement, inverse, odds and share of the
    corrected total, and the ratio of two values of one adjustment.

    Example:
        >>> values = parameter_values([(0.9, 0.85, 0.95), (2, 1.5, 2.5)])
        >>> Fraction(1, 10) in values, Fraction(4, 5) in values, Fraction(601) in values
        (True, True, False)
    """
    found: set[Fraction] = set()
    for values in parameters:
        exact = [Fraction(repr(v)) if isinstance(v, float) else Fraction(v) for v in values]
        for p in exact:
            found.update((p, 1 - p, p / (1 + p)) if p != -1 else (p, 1 - p))
            if p:
                found.update((1 / p, (1 - p) / p))
        found.update(a / b for a in exact for b in exact if b and a != b)
    return found


def _allowed(number: _Number, published: set[int], parameters: set[Fraction]) -> bool:
    for value, decimals in number.readings:
        unit = Fraction(1, 10**decimals)
        if number.percent:
            if any(abs(value - 100 * p) < unit for p in parameters):
                return True
            continue
        if number.year or (decimals == 0 and value in published):
            return True
        if any(abs(value - p) < unit for p in parameters):
            return True
    return False


def fill(text: str, values: Mapping[str, str], *, what: str) -> str:
    """Fill ``{placeholder}`` fields of ``text`` with ``values`` (already formatted).

    Raises:
        ConfigError: naming ``what``, for a placeholder that is not one of
            :data:`PLACEHOLDERS` or has no value here.

    Example:
        >>> fill("{observed} × 0,1 / 0,9 ≈ {value}", {"observed": "5.410", "value": "600"},
        ...      what="note")
        '5.410 × 0,1 / 0,9 ≈ 600'
    """
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    unknown = sorted({name for name in names if name not in values})
    if unknown:
        raise ConfigError(
            what,
            [
                f"{what}: placeholder {{{name}}} is not available here (use "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                + ")"
                for name in unknown
            ],
        )
    try:
        return text.format_map(values)
    except (ValueError, IndexError) as exc:
        raise ConfigError(what, [f"{what}: braces must hold a placeholder ({exc})"]) from None


def refuse_bsn(texts: Sequence[tuple[str, str]]) -> None:
    """Raise when a text holds a number that looks like a BSN (any report, internal too).

    Raises:
        ConfigError: naming each such text, never its value.

    Example:
        >>> refuse_bsn([("title", "Report 2025"), ("contact", "call 999993653")])
        Traceback (most recent call last):
        factlab.errors.ConfigError: free text of the report: 1 problem(s): contact: holds a number that looks like a BSN (8 or 9 digits passing the elfproef); a report never shows one
    """  # noqa: E501
    if not texts:
        return
    frame = pl.DataFrame(
        {"what": [what for what, _ in texts], "text": [text for _, text in texts]},
        schema={"what": pl.String, "text": pl.String},
    )
    flagged = frame.filter(looks_like_bsn(pl.col("text")))["what"].to_list()
    if flagged:
        raise ConfigError(
            "free text of the report",
            [
                f"{what}: holds a number that looks like a BSN (8 or 9 digits passing the "
                "elfproef); a report never shows one"
                for what in flagged
            ],
        )


def refuse_unlisted(
    texts: Sequence[tuple[str, str]],
    published: Iterable[int],
    parameters: Iterable[Sequence[float]] = (),
) -> None:
    """Raise when a text holds a number that is not on the public report's allow-list.

    Args:
        texts: (what, text) pairs, ``what`` naming the text for the error (e.g.
            ``corrections.adjustment.pgb.note``).
        published: every value the report publishes (placeholders are filled with these).
        parameters: per adjustment, its parameter and range ends (:func:`parameter_values`).

    Raises:
        ConfigError: one problem per text, naming it and which number (1st, 2nd, ...) in it,
            never the value.

    Example:
        >>> refuse_unlisted([("note", "5.410 × 0,1 / 0,9 ≈ 600 in 2014 (10 %)")], {5410, 600},
        ...                 [(0.9,)])
        >>> refuse_unlisted([("note", "5.410 × 0,1 / 0,9 = 601,22 (35,72 %)")], {5410, 600},
        ...                 [(0.9,)])
        Traceback (most recent call last):
        factlab.errors.ConfigError: free text of the report: 1 problem(s): note: numbers 4, 5 of 5 in the text are neither published values, years or dates, nor taken from the corrections' parameters; write a count as a placeholder ({observed}, {value}, {low}, {high}, {counted}, {total}) or leave the number out
    """  # noqa: E501
    shown = set(published)
    allowed = parameter_values(parameters)
    problems = []
    for what, text in texts:
        numbers = _numbers(text)
        hits = [
            index
            for index, number in enumerate(numbers, start=1)
            if not _allowed(number, shown, allowed)
        ]
        if hits:
            which = ", ".join(str(index) for index in hits)
            noun, verb = ("numbers", "are neither") if len(hits) > 1 else ("number", "is neither")
            problems.append(
                f"{what}: {noun} {which} of {len(numbers)} in the text {verb} published values, "
                "years or dates, nor taken from the corrections' parameters; write a count as a "
                "placeholder (" + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + ") or leave the "
                "number out"
            )
    if problems:
        raise ConfigError("free text of the report", problems)


def refuse_exact(
    texts: Sequence[tuple[str, str]], exact: Iterable[int], published: Iterable[int]
) -> None:
    """Raise when a text holds a number that equals an exact, unpublished count (the
    narrower check of the monitor report; a round's report uses :func:`refuse_unlisted`).

    Args:
        texts: (what, text) pairs, ``what`` naming the text for the error (e.g.
            ``corrections.adjustment.pgb.note``).
        exact: every exact count (and value derived from counts) behind the report.
        published: every value the report publishes; such a number may be written.

    Raises:
        ConfigError: one problem per text, naming it and which number (1st, 2nd, ...) in it,
            never the value.

    Example:
        >>> refuse_exact([("note", "5,411 × 0.1 / 0.9 = 601")], {5411, 601, 8}, {5410, 600})
        Traceback (most recent call last):
        factlab.errors.ConfigError: free text of the report: 1 problem(s): note: numbers 1, 2 of 2 in the text equal an exact count that the report does not publish; write the published value as a placeholder ({observed}, {value}, {low}, {high}, {counted}, {total}) or leave the number out
    """  # noqa: E501
    secret = set(exact) - set(published)
    problems = []
    for what, text in texts:
        numbers = numbers_in(text)
        hits = [index for index, n in enumerate(numbers, start=1) if n in secret]
        if hits:
            which = ", ".join(str(index) for index in hits)
            noun, verb = ("numbers", "equal") if len(hits) > 1 else ("number", "equals")
            problems.append(
                f"{what}: {noun} {which} of {len(numbers)} in the text {verb} an exact count "
                "that the report does not publish; write the published value as a placeholder "
                "(" + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + ") or leave the number out"
            )
    if problems:
        raise ConfigError("free text of the report", problems)
