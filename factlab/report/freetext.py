"""Free text in a public report: no exact count slips through a note, a source or a title.

Configuration texts (the round's title and source line, the corrections' title, each
adjustment's label, note and source) are written by people who know the exact counts. A note
such as "5,411 × 0.1 / 0.9 = 601" printed under a table that publishes 5,410 and 600 would undo
the rounding. So, in a public report:

- ``{observed}``, ``{value}``, ``{low}``, ``{high}``, ``{counted}`` and ``{total}`` in an
  adjustment's texts are filled with the published values (:func:`fill`);
- every number written in a text is checked (:func:`refuse_exact`): a number that equals an
  exact count of the report (a cell, a margin, a sum of cells, an overlap, an adjustment or
  total of the corrections) and is not itself published stops the report with a
  :class:`~factlab.errors.ConfigError` naming the text, never the number.

What counts as a number: digits, with ``.``/``,`` (or a thin or no-break space) between groups of
three read as thousands (``5,411`` and ``5.411`` are 5411). Not checked: a decimal number
(``0.9``, ``1,33``: parameters), a number followed by ``%`` (a share or an assumption), a year
(four digits from 1900 to 2099 without separator) and the day of a written date (``1 januari``).
A count written as a word ("twice", "tweemaal") is not seen: write counts as placeholders. In
every report, internal ones too, a text that holds a BSN is refused (:func:`refuse_bsn`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import polars as pl

from factlab.errors import ConfigError
from factlab.steward.bsn import looks_like_bsn

__all__ = ["PLACEHOLDERS", "fill", "numbers_in", "refuse_bsn", "refuse_exact"]

#: Placeholders an adjustment's texts may hold, filled with published values.
PLACEHOLDERS: Final = ("observed", "value", "low", "high", "counted", "total")
_MONTHS: Final = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "january|february|march|may|june|july|august|october"
)
_DATE_DAY = re.compile(rf"\b[0-9]{{1,2}}(?=\s+(?:{_MONTHS})\b)", re.IGNORECASE)
_TOKEN = re.compile(r"(?<![0-9])[0-9]+(?:[.,\u00a0\u202f][0-9]+)*(?:\s*%)?")
_SEPARATORS = re.compile(r"[.,\u00a0\u202f]")


def numbers_in(text: str) -> list[int]:
    """The whole numbers written in ``text`` that could be counts, in order.

    Example:
        >>> numbers_in("5,411 × 0.1 / 0.9 = 601; 10 % assumed, 2015 estimate, 1 januari 2013")
        [5411, 601]
        >>> numbers_in("8.240 jeugdigen, 1 353 of 1\u00a0353")
        [8240, 1, 353, 1353]
    """
    found = []
    for match in _TOKEN.finditer(_DATE_DAY.sub("", text)):
        token = match.group(0)
        if token.rstrip().endswith("%"):
            continue
        groups = _SEPARATORS.split(token)
        if len(groups) == 1:
            if len(token) == 4 and 1900 <= int(token) <= 2099:
                continue  # a year
            found.append(int(token))
        elif 1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:]):
            found.append(int("".join(groups)))
        # otherwise a decimal number: a parameter, not a count
    return found


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


def refuse_exact(
    texts: Sequence[tuple[str, str]], exact: Iterable[int], published: Iterable[int]
) -> None:
    """Raise when a text holds a number that equals an exact, unpublished count.

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
