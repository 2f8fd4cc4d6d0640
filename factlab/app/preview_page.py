"""The preview page (step 4): the quality summary, the round contract's check, what became of
every column, the values not mapped, and the first rows of the output.

No BSN reaches the page: the column report and the values not mapped never hold one
(:mod:`factlab.steward.columns`), and the first rows hold pseudonyms, shortened, with any text of
six or more digits masked (:func:`factlab.steward.preview.shown_rows`, as the command shows
them).

In a blind round the preview asks no key service (:func:`factlab.steward.preview.preview_file`
leaves the pseudonyms empty), and the page says so beside it; the number of distinct clients is
known only once the services have answered, at the delivery.
"""

from __future__ import annotations

from typing import Final

from factlab import schema
from factlab.app.flow import ExportChoice
from factlab.app.layout import Lang, e, field_name, hidden_csrf, table, text_input
from factlab.app.pages import blind_notice
from factlab.steward.blind import BlindService
from factlab.steward.preview import Preview, shown_rows

__all__ = ["preview_body"]

_STATUS: Final = {
    "valid": ("geldig BSN", "valid BSN"),
    "missing": ("BSN ontbreekt", "BSN missing"),
    "sentinel": ("code 000000000 of 999999999", "code 000000000 or 999999999"),
    "bad_length": ("ongeldig: verkeerde lengte", "invalid: wrong length"),
    "non_digit": ("ongeldig: andere tekens dan cijfers", "invalid: not only digits"),
    "checksum": ("ongeldig: elfproef klopt niet", "invalid: fails the elfproef"),
}


_TITLES: Final = {
    schema.PSEUDONYM: ("pseudoniem", "pseudonym"),
    schema.FALLBACK_PSEUDONYM: ("terugvalpseudoniem", "fallback pseudonym"),
    schema.STATUS: ("BSN-status", "BSN status"),
    schema.PROVIDER: ("aanbieder", "provider"),
}


_REASONS: Final = {
    "empty": ("leeg", "empty"),
    "unreadable": ("niet te lezen", "unreadable"),
    "out_of_range": ("buiten het bereik", "out of range"),
    "not_mapped": ("niet omgezet", "not mapped"),
    "unmapped": ("niet in de codelijst", "not in the code list"),
    "not_accepted": ("niet geaccepteerd door de ronde", "not accepted by the round"),
    "before_start_date": ("einddatum vóór de begindatum", "end date before the start date"),
    "negative": ("negatief", "negative"),
    "too_large": ("te groot", "too large"),
    "not_finite": ("geen getal", "not a number"),
    "incomplete": ("onvolledig", "incomplete"),
}
_DATE_FIELDS: Final = ("start_date", "end_date", "birth_year")


_NOTES: Final = {
    "a birth date: only its year is kept": (
        "een geboortedatum: alleen het jaar wordt bewaard",
        "a birth date: only its year is kept",
    ),
    "a postcode, read only for the fallback pseudonym of --fallback": (
        "een postcode: alleen gelezen voor een terugvalpseudoniem, niet gebruikt",
        "a postcode: read only for a fallback pseudonym, not used",
    ),
    "a constant of the mapping": ("één waarde voor het hele bestand", "one value for the file"),
}


def _note(note: str, lang: Lang) -> str:
    """A note of the column report in the page's words (one the app does not know, as is)."""
    words = _NOTES.get(note)
    if words is not None:
        return lang(*words)
    if note.startswith("of type ") and note.endswith(": no field is read from it"):
        kind = note.removeprefix("of type ").removesuffix(": no field is read from it")
        return lang(f"van het type {kind}: geen veld leest eruit", note)
    return note


def _reason(reason: str, lang: Lang) -> str:
    """Why a value could not be used, in the page's words."""
    words = _REASONS.get(reason)
    return lang(*words) if words is not None else reason.replace("_", " ")


def _verdict(over: bool, reasons: dict[str, int], field: str, lang: Lang) -> str:
    """A required field's check: fine, or too many unusable rows and what to do about it."""
    if not over:
        return lang("in orde", "fine")
    advice = []
    if "unreadable" in reasons and field in _DATE_FIELDS:
        advice.append(lang("kies de datumnotatie", "choose the date format"))
    if set(reasons) & {"unmapped", "not_mapped", "not_accepted"}:
        advice.append(
            lang(
                "zet de codes om naar de waarden van de ronde",
                "map the codes to the round's values",
            )
        )
    if "empty" in reasons or set(reasons) - {
        "unmapped",
        "not_mapped",
        "not_accepted",
        "unreadable",
    }:
        advice.append(lang("controleer de kolom van dit veld", "check this field's column"))
    why = ", ".join(
        f"{lang.number(count)} {_reason(reason, lang)}" for reason, count in reasons.items()
    )
    return f"<strong>{lang('te veel', 'too many')}</strong> ({e(why)}): " + e("; ".join(advice))


def _column_title(name: str, lang: Lang) -> str:
    """A column of the output, in the page's words (its name in the file under it)."""
    words = _TITLES.get(name)
    title = e(lang(*words)) if words is not None else field_name(name, lang)
    return f"{title}<br><code>{e(name)}</code>"


def _blind_preview_note(lang: Lang) -> str:
    return (
        "<p class='phone' id='blind-preview'>"
        + lang(
            "Blinde ronde: deze proefdraai heeft de sleuteldiensten niets gevraagd en niets "
            "buiten deze computer verstuurd. Daarom zijn de pseudoniemen hieronder leeg; de "
            "app vraagt ze pas op bij de levering.",
            "Blind round: this preview asked the key services nothing and sent nothing off this "
            "computer. That is why the pseudonyms below are empty; the app asks for them only "
            "at the delivery.",
        )
        + "</p>"
    )


def preview_body(
    lang: Lang,
    csrf: str,
    preview: Preview,
    export: ExportChoice,
    folder: str,
    *,
    blind: BlindService | None = None,
) -> str:
    """Step 4: the quality summary, the contract's check, the column report, the values not
    mapped and the first rows; then the folder and the button that makes the delivery (in a
    blind round with what the delivery will ask of the key services)."""
    quality = preview.quality
    by_status = quality.rows_by_status
    parts = [_blind_preview_note(lang)] if blind is not None else []
    if preview.would_be_refused:
        problems = "".join(f"<li>{e(problem)}</li>" for problem in preview.problems)
        parts.append(
            "<section class='problem' role='alert' aria-labelledby='refused'>"
            "<h2 id='refused'>"
            + lang("De ronde zou dit bestand weigeren", "The round would refuse this file")
            + "</h2><p>"
            + lang(
                "Er wordt niets geschreven. Ga terug naar de mapping: kies de ontbrekende "
                "kolommen, zet de codes hieronder om en controleer de datumnotatie.",
                "Nothing is written. Go back to the mapping: choose the missing columns, map the "
                "codes below and check the date format.",
            )
            + f"</p><details><summary>{lang('Technische melding', 'Technical message')}</summary>"
            f"<ul class='detail'>{problems}</ul></details></section>"
        )
    else:
        parts.append(
            "<p class='ok'>"
            + lang("Dit bestand kan geleverd worden.", "This file can be delivered.")
            + "</p>"
        )
    status_rows = [[lang("Rijen", "Rows"), lang.number(quality.rows)]]
    status_rows += [
        [e(lang(*_STATUS[name])), lang.number(by_status.get(name, 0))] for name in schema.STATUSES
    ]
    status_rows.append(
        [
            lang("Verschillende cliënten (pseudoniemen)", "Distinct clients (pseudonyms)"),
            lang.number(quality.distinct_pseudonyms)
            if blind is None
            else lang("bekend na de levering", "known after the delivery"),
        ]
    )
    issues = [
        [field_name(column, lang), e(_reason(reason, lang)), lang.number(count)]
        for column, reasons in quality.field_issues.items()
        for reason, count in reasons.items()
    ]
    parts.append(
        "<section aria-labelledby='quality-title'><h2 id='quality-title'>"
        f"{lang('Kwaliteit', 'Quality')}</h2>"
        + table(
            lang("BSN per rij", "BSN per row"),
            [lang("Wat", "What"), lang("Rijen", "Rows")],
            status_rows,
            label=lang("Kwaliteit", "Quality"),
        )
        + (
            table(
                lang("Waarden die niet gelezen konden worden", "Values that could not be read"),
                [lang("Veld", "Field"), lang("Reden", "Reason"), lang("Rijen", "Rows")],
                issues,
                label=lang("Problemen per veld", "Problems per field"),
            )
            if issues
            else ""
        )
        + "</section>"
    )
    if quality.contract is not None:
        checks = [
            [
                field_name(entry.field, lang),
                f"{entry.share * 100:.1f} %",
                f"{entry.limit * 100:.1f} %",
                _verdict(entry.over_limit, entry.reasons, entry.field, lang),
            ]
            for entry in quality.contract.fields
        ]
        parts.append(
            "<section aria-labelledby='contract-title'><h2 id='contract-title'>"
            f"{lang('Het contract van de ronde', 'The round contract')}</h2>"
            + table(
                lang("Onbruikbare rijen per verplicht veld", "Unusable rows per required field"),
                [
                    lang("Veld", "Field"),
                    lang("Onbruikbaar", "Unusable"),
                    lang("Toegestaan", "Allowed"),
                    "",
                ],
                checks,
                label=lang("Contract", "Contract"),
            )
            + "</section>"
        )
    columns = [
        [
            e(use.column)
            if use.column is not None
            else lang("(vaste waarde)", "(constant)") + f" <code>{e(use.constant)}</code>",
            ", ".join(field_name(name, lang) for name in use.fields)
            or lang("niet gebruikt, niet geleverd", "not used, not delivered"),
            e(_note(use.note, lang)),
        ]
        for use in quality.columns
    ]
    parts.append(
        "<section aria-labelledby='report-title'><h2 id='report-title'>"
        f"{lang('Wat er van elke kolom wordt', 'What becomes of every column')}</h2>"
        + table(
            lang("Kolommen", "Columns"),
            [lang("Kolom", "Column"), lang("Wordt", "Becomes"), lang("Opmerking", "Note")],
            columns,
            label=lang("Kolomoverzicht", "Column report"),
        )
        + "</section>"
    )
    unmapped = []
    for name, entry in quality.unmapped_values.items():
        for value, count in entry.values:
            unmapped.append(
                [field_name(name, lang), f"<code>{e(value)}</code>", lang.number(count)]
            )
        if entry.hidden_values:
            unmapped.append(
                [
                    field_name(name, lang),
                    lang("(lijkt op een BSN, niet getoond)", "(looks like a BSN, not shown)"),
                    lang.number(entry.hidden_rows),
                ]
            )
        if entry.more_values:
            unmapped.append(
                [
                    field_name(name, lang),
                    lang(f"en nog {entry.more_values}", f"and {entry.more_values} more"),
                    lang.number(entry.more_rows),
                ]
            )
    if unmapped:
        parts.append(
            "<section aria-labelledby='unmapped-title'><h2 id='unmapped-title'>"
            f"{lang('Waarden die niet zijn omgezet', 'Values not mapped')}</h2>"
            + table(
                lang("Niet omgezet", "Not mapped"),
                [lang("Veld", "Field"), lang("Waarde", "Value"), lang("Rijen", "Rows")],
                unmapped,
                label=lang("Niet omgezet", "Not mapped"),
            )
            + "</section>"
        )
    shown = shown_rows(preview.rows)
    head = [_column_title(name, lang) for name in shown.columns]
    rows = [["" if cell is None else e(cell) for cell in row] for row in shown.iter_rows()]
    parts.append(
        "<section aria-labelledby='rows-title'><h2 id='rows-title'>"
        ""
        + lang(
            "De eerste rijen zoals ze geleverd worden", "The first rows as they will be delivered"
        )
        + "</h2>"
        + table(
            lang("Geen BSN: alleen pseudoniemen", "No BSN: pseudonyms only"),
            head,
            rows,
            label=lang("Eerste rijen", "First rows"),
        )
        + "</section>"
    )
    disabled = " disabled" if preview.would_be_refused else ""
    parts.append(
        "<form method='post' action='/deliver' class='stack'>"
        + hidden_csrf(csrf)
        + f"<h2>{lang('De levering maken', 'Make the delivery')}</h2>"
        + text_input(
            "folder", lang("Map voor het verzegelde bestand", "Folder for the sealed file"), folder
        )
        + (blind_notice(blind, lang) if blind is not None else "")
        + "<p class='actions'><a href='/mapping'>"
        + lang("Mapping aanpassen", "Change the mapping")
        + f"</a> "
        f"<button type='submit' id='deliver'{disabled}>"
        f"{lang('Pseudonimiseren en verzegelen', 'Pseudonymise and seal')}</button></p></form>"
    )
    return "".join(parts)
