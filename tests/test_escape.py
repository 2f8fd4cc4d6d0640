"""Tests of factlab.escape: text from data rendered as exactly its characters, never as syntax.

The Markdown escape is checked against a CommonMark renderer (markdown-it-py): whatever the text,
it renders as one paragraph (or one table cell) holding that text and no element.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from factlab.escape import BIDI_CONTROLS, REPLACEMENT, markdown_text, plain_text

#: Hostile values seen in red-team runs, and their variants.
PAYLOADS = (
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "<!-- hidden -->",
    "![x](http://evil.example/pixel.png)",
    "![x][ref]\n\n[ref]: http://evil.example/pixel.png",
    "[click](javascript:alert(1))",
    "[click](  javascript:alert(1)  )",
    "<javascript:alert(1)>",
    "<http://evil.example>",
    "http://evil.example/a",
    "https://evil.example/a",
    "www.evil.example",
    "mail a@evil.example",
    "&lt;img src=x&gt;",
    "&#60;script&#62;",
    "`code` **bold** _em_ ~~gone~~",
    "$\\frac{1}{0}$",
    "# heading",
    "- item",
    "1. item",
    "> quote",
    "---",
    "| a | b |",
    "    indented code",
    "trailing backslash\\",
    ":smile: @someone #12",
)

_ELEMENT = re.compile(r"<(?!/?p>)[a-zA-Z/!]")


def commonmark() -> MarkdownIt:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def visible(text: str) -> str:
    """What a reader should see: the text with control characters made visible, no syntax."""
    return html.escape(plain_text(text).strip(" "), quote=True).replace("&#x27;", "'")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_renders_as_its_own_text(payload: str) -> None:
    rendered = commonmark().render(markdown_text(payload))
    assert rendered == f"<p>{visible(payload)}</p>\n"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_a_table_cell_and_a_list_item_stays_text(payload: str) -> None:
    text = markdown_text(payload)
    table = commonmark().render(f"| label |\n|---|\n| {text} |\n")
    assert f"<td>{visible(payload)}</td>" in table
    item = commonmark().render(f"- {text}\n")
    assert item == f"<ul>\n<li>{visible(payload)}</li>\n</ul>\n"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_gfm_autolink_mention_or_math_survives(payload: str) -> None:
    """Constructs CommonMark lacks but GitHub and others render: autolink literals, e-mail
    addresses, mentions, issue references, emoji codes and math."""
    text = markdown_text(payload)
    assert not re.search(r"(?<!\\)(https?:|javascript:|www\.)", text, re.IGNORECASE)
    assert not re.search(r"(?<!\\)[@#$:](?=\S)", text)
    assert not re.search(r"(?<!\\)[<>]", text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_renders_as_exactly_itself(text: str) -> None:
    expected = visible(text)
    rendered = commonmark().render(markdown_text(text))
    if not expected.strip():
        assert not _ELEMENT.search(rendered)
        return
    # A renderer may trim white space (a no-break space, say) at either end: that is no syntax.
    paragraph = re.fullmatch(r"<p>(.*)</p>\n", rendered, re.DOTALL)
    assert paragraph is not None, rendered
    assert paragraph.group(1).strip() == expected.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("-+=*_#>`[]()!|~\\ 1.):<&ab\t"), max_size=12))
def test_markdown_metacharacters_render_as_themselves(text: str) -> None:
    expected = visible(text)
    rendered = commonmark().render(markdown_text(text))
    if expected.strip():
        assert rendered == f"<p>{expected}</p>\n"


def test_plain_text_replaces_controls_and_bidi_overrides() -> None:
    text = "A\x00B\x1bC\x7fD\x85E\u202eF\u2066G\u200fH\nI\tJ"
    cleaned = plain_text(text)
    assert cleaned == "A?B?C?D E?F?G?H I J".replace("?", REPLACEMENT)
    for char in BIDI_CONTROLS:
        assert char not in plain_text(f"x{char}y")
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) < 0xA0 for c in plain_text(text))


def test_ordinary_text_keeps_its_look() -> None:
    assert markdown_text("Drenthe 2025: 12.5 % (care form × financing)") == (
        "Drenthe 2025: 12.5 % (care form × financing)"
    )
    assert markdown_text("created 2025-02-01T10:00:00+00:00") == "created 2025-02-01T10:00:00+00:00"
    assert markdown_text("-5") == "-5"
