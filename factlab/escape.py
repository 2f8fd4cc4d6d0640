"""Text from data made inert for the formats factlab writes.

A report or an estimate writes values that factlab does not choose: labels from the linked data
(municipalities, care forms, provider codes), titles and notes from configuration files, file
names. Each renderer passes every such value through the function for its format here, so that
no value can change the page it is written on (see ``docs/reports.md``):

- :func:`plain_text` (every format: HTML, Markdown, Excel, the text of charts): control
  characters (C0 and C1, DEL, NUL included) and the Unicode bidirectional controls (U+061C,
  U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) become U+FFFD, the replacement character "�";
  line breaks and tabs become a space. A label with a NUL byte or a right-to-left override then
  shows that something was there, instead of hiding or reordering the text around it.
- :func:`markdown_text`: :func:`plain_text`, then ``&``, ``<`` and ``>`` as HTML entities (no
  tag, comment or entity from data) and a backslash before every character that could start
  Markdown syntax (links, images, emphasis, code, tables, math, mentions, autolinks, lists).

HTML itself is escaped with :func:`html.escape` by its renderer; this module gives it
:func:`plain_text`.

Whether a value from data may be shown in a message or on a page at all is one rule for every
stage (the steward's column report and values not mapped, the reference layer's refusals):
:func:`may_identify` (six digits or more, or a Dutch postcode) and :func:`looks_like_code`.
"""

from __future__ import annotations

import html
import re
from typing import Final

__all__ = ["looks_like_code", "markdown_text", "may_identify", "plain_text"]

#: What a hidden or reordering character becomes: visible, and never part of any syntax.
REPLACEMENT: Final = "\ufffd"
#: Unicode bidirectional formatting characters: marks, embeddings, overrides and isolates.
BIDI_CONTROLS: Final = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Line and paragraph breaks (C0, C1 and Unicode) and tabs: a space keeps the words apart.
_BREAKS: Final = "\t\n\x0b\x0c\r\x85\u2028\u2029"
_CONTROLS: Final = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))
_PLAIN: Final = str.maketrans(
    {
        **dict.fromkeys(_CONTROLS, REPLACEMENT),
        **{ord(char): REPLACEMENT for char in BIDI_CONTROLS},
        **{ord(char): " " for char in _BREAKS},
    }
)

# Characters that start Markdown syntax anywhere in a line: backslash (escapes), code spans,
# emphasis and strikethrough, links and images, table cells, headings' closing run and issue
# references, math, mentions and e-mail autolinks, attribute lists and templates, superscript.
_ALWAYS: Final = re.compile(r"([\\`*_\[\]!|~#$@{}^])")
# A colon followed by more than white space: URL schemes (``javascript:``, ``http://``) and
# emoji shortcodes. "Region: Drenthe" and a time such as 10:30 keep their colon as written.
_SCHEME: Final = re.compile(r"(?<!\d):(?=\S)|(?<=\d):(?=[^\s\d])")
# A dot inside a word: domain names that linkifying renderers turn into links (``www.x.nl``,
# ``evil.com``); numbers such as 12.5 keep their dot as written.
_DOMAIN: Final = re.compile(r"(?<=[0-9A-Za-z])\.(?=[A-Za-z])")
# What starts a block at the beginning of a line: a list item (``- x``, ``+ x``, ``1. x``,
# ``1) x``), a thematic break or a setext heading underline (``---``, ``===``). "-5" or "24.2"
# start no block and keep their characters as written.
_LINE_START: Final = re.compile(r"^(\s*)([-+=](?=[-+=\s]|$)|\d+[.)](?=\s|$))")


#: A value from data with this many digits (of any script) is never shown: a BSN, a date of
#: birth, a telephone or client number.
MIN_HIDDEN_DIGITS: Final = 6
#: A Dutch postcode anywhere in a value (``9401AB``, ``9401 ab``); also a pattern for Polars.
POSTCODE_PATTERN: Final = r"\b[1-9][0-9]{3} ?[A-Za-z]{2}\b"
_POSTCODE: Final = re.compile(POSTCODE_PATTERN)
_CODE_CHARACTERS: Final = frozenset("._/-")


def may_identify(text: str) -> bool:
    """Whether a value from data could identify someone and must not be shown.

    True for :data:`MIN_HIDDEN_DIGITS` or more digits anywhere in it (a BSN however written, a
    date of birth, a telephone or client number) and for a Dutch postcode anywhere in it.

    Example:
        >>> [may_identify(t) for t in ("Assen", "9401 AB", "Assen 9401AB", "1234567", "GM0106")]
        [False, True, True, True, False]
    """
    return sum(char.isdigit() for char in text) >= MIN_HIDDEN_DIGITS or bool(_POSTCODE.search(text))


def looks_like_code(text: str) -> bool:
    """Whether a value is a short code (``45A01``, ``GM0106``, ``P-12``): at most ten letters,
    digits, ``.``, ``_``, ``/`` or ``-``, with at least one digit, and no space.

    Example:
        >>> [looks_like_code(t) for t in ("45A01", "GM0106", "Assen", "Jan 12", "12345678901")]
        [True, True, False, False, False]
    """
    return (
        0 < len(text) <= 10
        and any(char.isdigit() for char in text)
        and all(char.isalnum() or char in _CODE_CHARACTERS for char in text)
    )


def plain_text(text: object) -> str:
    """``text`` as a string without control or bidirectional-control characters.

    Example:
        >>> plain_text("Assen\\u202egnp.exe\\x00")
        'Assen�gnp.exe�'
        >>> plain_text("two\\nlines")
        'two lines'
    """
    return str(text).translate(_PLAIN)


def markdown_text(text: object) -> str:
    """``text`` as Markdown that renders as exactly these characters, and as nothing else.

    Example:
        >>> markdown_text('<img src=x onerror="alert(1)">')
        '&lt;img src=x onerror="alert(1)"&gt;'
        >>> markdown_text("![x](http://example.org/a.png)")
        '\\\\!\\\\[x\\\\](http\\\\://example\\\\.org/a\\\\.png)'
        >>> markdown_text("care_form | 12.5")
        'care\\\\_form \\\\| 12.5'
    """
    # Markdown drops spaces around a paragraph or a cell anyway; four at a line start would
    # make a code block.
    escaped = html.escape(plain_text(text).strip(" "), quote=False)
    escaped = _ALWAYS.sub(r"\\\1", escaped)
    escaped = _SCHEME.sub(r"\\:", escaped)
    escaped = _DOMAIN.sub(r"\\.", escaped)
    return _LINE_START.sub(_escape_line_start, escaped, count=1)


def _escape_line_start(match: re.Match[str]) -> str:
    space, mark = match.groups()
    return f"{space}{mark[:-1]}\\{mark[-1]}"
