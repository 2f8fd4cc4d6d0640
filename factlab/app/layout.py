"""The frame every page of the app shares, the two languages, and escaping.

Every text that does not come from this file (file names, column names, codes, messages) goes
through :func:`e`: control and bidirectional-control characters made visible
(:func:`factlab.escape.plain_text`), then HTML-escaped, quotes included. Pages load one
stylesheet and one script from the package (``/static/``); there is no inline script or style,
so the Content-Security-Policy can forbid both.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Final

from babel.numbers import format_decimal

from factlab.app.problems import Problem
from factlab.escape import plain_text

__all__ = [
    "FIELD_NAMES",
    "Lang",
    "e",
    "facts_table",
    "field_name",
    "hidden_csrf",
    "options",
    "page",
    "problem_block",
    "table",
    "text_input",
]

#: Field names as the steward reads them: (Dutch, English).
FIELD_NAMES: Final[dict[str, tuple[str, str]]] = {
    "bsn": ("BSN", "BSN"),
    "birth_date": (
        "geboortedatum (alleen het jaar wordt bewaard)",
        "birth date (only the year is kept)",
    ),
    "birth_year": ("geboortejaar", "birth year"),
    "sex": ("geslacht", "sex"),
    "municipality": ("gemeente", "municipality"),
    "domain": ("domein", "domain"),
    "financing": ("financiering", "financing"),
    "care_form": ("zorgvorm", "care form"),
    "product_category": ("productcategorie", "product category"),
    "start_date": ("begindatum", "start date"),
    "end_date": ("einddatum", "end date"),
    "cost": ("kosten", "cost"),
    "postcode": ("postcode (alleen voor een terugvalpseudoniem)", "postcode (fallback only)"),
}
#: The steps of the flow: path, (Dutch, English).
STEPS: Final = (
    ("/keys", ("Sleutels", "Keys")),
    ("/export", ("Export", "Export")),
    ("/mapping", ("Mapping", "Mapping")),
    ("/preview", ("Proefdraai", "Preview")),
    ("/delivery", ("Levering", "Delivery")),
)


#: The locale of each language of the pages, for numbers.
_LOCALES: Final = {"nl": "nl_NL", "en": "en_GB"}


class Lang:
    """The page's language: ``lang("Dutch", "English")`` picks one.

    Example:
        >>> Lang("en")("Sleutels", "Keys"), Lang("nl")("Sleutels", "Keys")
        ('Keys', 'Sleutels')
    """

    def __init__(self, code: str) -> None:
        self.code = "en" if code == "en" else "nl"

    def __call__(self, dutch: str, english: str) -> str:
        return english if self.code == "en" else dutch

    def number(self, value: int) -> str:
        """A count grouped as the language writes it (Babel's CLDR data).

        Example:
            >>> Lang("nl").number(1_000_000), Lang("en").number(1_000_000)
            ('1.000.000', '1,000,000')
        """
        return str(format_decimal(value, locale=_LOCALES[self.code]))


def e(value: object) -> str:
    """Text from outside this file, safe in HTML text and in a quoted attribute.

    Example:
        >>> e('<b title="x">Zoë\\u202e</b>')
        '&lt;b title=&quot;x&quot;&gt;Zoë�&lt;/b&gt;'
    """
    return html.escape(plain_text(value), quote=True)


def field_name(name: str, lang: Lang) -> str:
    """A field's name in the page's language (escaped)."""
    dutch, english = FIELD_NAMES.get(name, (name, name))
    return e(lang(dutch, english))


def hidden_csrf(csrf: str) -> str:
    """The form field that carries the session's CSRF token."""
    return f"<input type='hidden' name='csrf' value='{e(csrf)}'>"


def table(caption: str, head: list[str], rows: list[list[str]], *, label: str) -> str:
    """A table in a scrollable, focusable region (caption and cells already escaped)."""
    header = "".join(f"<th scope='col'>{cell}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f"<div class='scroll' role='region' tabindex='0' aria-label='{e(label)}'>"
        f"<table><caption>{caption}</caption><thead><tr>{header}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def facts_table(rows: list[list[str]], *, label: str) -> str:
    """A two-column table of facts, a heading cell and its value (already escaped)."""
    cells = "".join(f"<tr><th scope='row'>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return (
        f"<div class='scroll' role='region' tabindex='0' aria-label='{e(label)}'>"
        f"<table class='facts'>{cells}</table></div>"
    )


def text_input(name: str, label: str, value: str) -> str:
    """A labelled text field."""
    return (
        f"<div class='field'><label for='{name}'>{label}</label>"
        f"<input type='text' id='{name}' name='{name}' value='{e(value)}' spellcheck='false'>"
        "</div>"
    )


def options(choices: list[tuple[str, str]], selected: str) -> str:
    """The options of a select (labels already escaped), ``selected`` marked."""
    return "".join(
        f"<option value='{e(value)}'{' selected' if value == selected else ''}>{label}</option>"
        for value, label in choices
    )


def problem_block(problem: Problem, lang: Lang) -> str:
    """A problem as the page shows it: what is wrong, what to do, and the technical line."""
    items = "".join(f"<li>{e(item)}</li>" for item in problem.items)
    detail = ""
    if problem.detail or items:
        detail = (
            f"<details><summary>{lang('Technische melding', 'Technical message')}</summary>"
            f"<p class='detail'>{e(problem.detail)}</p>"
            + (f"<ul class='detail'>{items}</ul>" if items else "")
            + "</details>"
        )
    return (
        f"<section class='problem' role='alert' aria-labelledby='problem-title'>"
        f"<h2 id='problem-title'>{e(problem.title)}</h2>"
        f"<p><strong>{lang('Wat u kunt doen:', 'What to do:')}</strong> {e(problem.advice)}</p>"
        f"{detail}</section>"
    )


def _steps(current: str, reached: Iterable[str], lang: Lang) -> str:
    open_steps = set(reached)
    items = []
    for number, (path, names) in enumerate(STEPS, start=1):
        label = f"{number}. {e(lang(*names))}"
        if path == current:
            items.append(f"<li aria-current='step'><span>{label}</span></li>")
        elif path in open_steps:
            items.append(f"<li><a href='{path}'>{label}</a></li>")
        else:
            items.append(f"<li class='later'><span>{label}</span></li>")
    steps = "".join(items)
    return f"<nav aria-label='{lang('Stappen', 'Steps')}'><ol class='steps'>{steps}</ol></nav>"


def page(
    *,
    title: str,
    body: str,
    lang: Lang,
    csrf: str,
    current: str,
    reached: Iterable[str] = (),
    problems: Iterable[Problem] = (),
    refresh: int | None = None,
) -> str:
    """A whole page: header with the language switch, the steps, the problems, the body."""
    other, other_name = ("nl", "Nederlands") if lang.code == "en" else ("en", "English")
    switch = (
        "<form method='post' action='/lang' class='lang'>"
        f"<input type='hidden' name='csrf' value='{e(csrf)}'>"
        f"<input type='hidden' name='lang' value='{other}'>"
        f"<input type='hidden' name='next' value='{e(current)}'>"
        f"<button type='submit' lang='{other}'>{other_name}</button></form>"
    )
    # without JavaScript the page reloads itself while a delivery runs
    noscript = (
        f"<noscript><meta http-equiv='refresh' content='{refresh}'></noscript>" if refresh else ""
    )
    shown = "".join(problem_block(problem, lang) for problem in problems)
    return (
        "<!doctype html>"
        f"<html lang='{lang.code}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)} · factlab</title>"
        "<link rel='stylesheet' href='/static/app.css'>"
        "<script src='/static/app.js' defer></script>"
        f"{noscript}</head><body>"
        "<header class='top'><p class='brand'>factlab <span>"
        f"{lang('gegevens aanleveren', 'deliver your data')}</span></p>{switch}</header>"
        f"{_steps(current, reached, lang)}"
        f"<main id='main'><h1>{e(title)}</h1>{shown}{body}</main>"
        "<footer><p>"
        + lang(
            "Deze app draait alleen op uw eigen computer (127.0.0.1) en stuurt niets het "
            "internet op. Sluit het venster van de opdrachtregel om de app te stoppen.",
            "This app runs on your own computer only (127.0.0.1) and sends nothing to the "
            "internet. Close the command-line window to stop the app.",
        )
        + "</p></footer></body></html>"
    )
