"""The mapping page (step 3): every column with what it becomes, the date formats with an
example each, and the codes of the code columns with the round's values to map them to.

Form fields refer to columns and codes by their position in the proposal, never by a name from
the export. The button to go on is disabled while a required field has no column (the page's
script follows the choices as they change; the server checks the same on every post).
"""

from __future__ import annotations

from typing import Final

from factlab import schema
from factlab.app.flow import (
    DATE_CHOICES,
    ExportChoice,
    KeyChoice,
    MappingChoice,
    code_options,
    date_example,
)
from factlab.app.layout import FIELD_NAMES, Lang, e, field_name, hidden_csrf, options, table
from factlab.steward.proposal import DateFormat
from factlab.steward.value_maps import is_exact_key

__all__ = ["mapping_body"]

_HOW: Final = {
    "recognised": ("herkend", "recognised"),
    "guessed": ("geraden", "guessed"),
    "unsure": ("onzeker: controleer", "unsure: check it"),
}


def mapping_body(
    lang: Lang,
    csrf: str,
    export: ExportChoice,
    keys: KeyChoice,
    choice: MappingChoice,
    unmet: list[str],
) -> str:
    """Step 3: every column with what it becomes, the date formats, the codes; the button to go
    on stays disabled until the round's required fields are fed."""
    proposal = export.proposal
    by_column = {c.column: c for c in proposal.columns}
    fields = [("", lang("— niet gebruiken —", "— not used —"))]
    fields += [(name, field_name(name, lang)) for name in schema.INPUT_FIELDS]
    rows = []
    for index, column in enumerate(export.columns):
        found = by_column.get(column)
        note = ""
        if found is not None:
            note = e(lang(*_HOW[found.how]))
            if found.field in keys.required:
                note += " · " + lang("verplicht", "required")
        label = lang(f"Kolom {column} wordt", f"Column {column} becomes")
        select = (
            f"<select name='col-{index}' data-role aria-label='{e(label)}'>"
            f"{options(fields, choice.columns.get(column, ''))}</select>"
        )
        rows.append([f"<span class='name'>{e(column)}</span>", select, note])
    hidden = ""
    if proposal.digit_names:
        hidden = (
            "<p class='note'>"
            + lang(
                f"{proposal.digit_names} kolomnaam/-namen van acht of meer cijfers worden niet "
                "getoond (een BSN?): begint de export met een regel kolomnamen?",
                f"{proposal.digit_names} column name(s) of eight or more digits are not shown (a "
                "BSN?): does the export start with a line of column names?",
            )
            + "</p>"
        )
    required = "".join(
        f"<li data-required='{e(name)}' class='{'unmet' if name in unmet else 'met'}'>"
        f"{field_name(name, lang)}</li>"
        for name in keys.required
    )
    parts = [
        "<p>"
        + lang(
            f"Voorstel voor <strong>{e(export.name)}</strong> ({lang.number(proposal.rows)} rijen, "
            f"{e(proposal.format)}). Controleer elke keuze en pas aan wat niet klopt.",
            f"Proposal for <strong>{e(export.name)}</strong> ({lang.number(proposal.rows)} rows, "
            f"{e(proposal.format)}). Check every choice and change what is wrong.",
        )
        + "</p>",
        "<form method='post' action='/mapping' id='mapping-form' class='stack'>",
        hidden_csrf(csrf),
        f"<section aria-labelledby='required-title'><h2 id='required-title'>"
        f"{lang('Verplicht voor deze ronde', 'Required by this round')}</h2>"
        f"<ul class='required' id='required-list'>{required}</ul>"
        f"<p class='note' id='required-help'>"
        + lang(
            "Kies voor elk verplicht veld een kolom; pas dan kunt u verder.",
            "Choose a column for every required field; only then can you go on.",
        )
        + "</p></section>",
        "<section aria-labelledby='columns-title'><h2 id='columns-title'>"
        f"{lang('Kolommen', 'Columns')}</h2>",
        table(
            lang("Elke kolom van de export en wat hij wordt", "Every column and what it becomes"),
            [lang("Kolom", "Column"), lang("Wordt", "Becomes"), lang("Opmerking", "Note")],
            rows,
            label=lang("Kolommen", "Columns"),
        ),
        hidden,
        _constant("financing", lang, choice, keys),
        "</section>",
        _dates_section(lang, export, choice),
        _codes_section(lang, export, keys, choice),
        "<p class='actions'>"
        f"<button type='submit' name='action' value='check' class='secondary'>"
        f"{lang('Keuzes controleren', 'Check the choices')}</button> "
        f"<button type='submit' name='action' value='preview' id='continue'"
        f"{' disabled' if unmet else ''} aria-describedby='required-help'>"
        f"{lang('Verder: proefdraai', 'Next: preview')}</button></p></form>",
    ]
    return "".join(parts)


def _constant(name: str, lang: Lang, choice: MappingChoice, keys: KeyChoice) -> str:
    values = "".join(f"<option value='{e(value)}'></option>" for value in code_options(name, keys))
    return (
        "<div class='field'>"
        f"<label for='const-{name}'>"
        + lang(
            f"Staat {field_name(name, lang)} niet in de export, maar geldt één waarde voor het "
            "hele bestand? Vul die hier in (bijvoorbeeld ZIN of PGB).",
            f"Is the {field_name(name, lang)} not in the export, but one value holds for the "
            "whole file? Fill it in here (e.g. ZIN or PGB).",
        )
        + f"</label><input type='text' id='const-{name}' name='const-{name}' "
        f"value='{e(choice.constants.get(name, ''))}' list='list-{name}' data-constant='{name}'>"
        f"<datalist id='list-{name}'>{values}</datalist></div>"
    )


def _dates_section(lang: Lang, export: ExportChoice, choice: MappingChoice) -> str:
    fields = choice.fields
    # the proposal's finding for a date field, if its column is still the one it judged
    found = {
        date.field: date for date in export.proposal.dates if fields.get(date.field) == date.column
    }
    shown = [
        found.get(name) or DateFormat(name, fields[name], None, 0, 0, None)
        for name in ("birth_date", "start_date", "end_date")
        if name in fields
    ]
    shown = [date for date in shown if not date.native]
    if not shown:
        return ""
    blocks = []
    for date in shown:
        selected = choice.date_formats.get(date.field, "")
        choices = [
            (
                "",
                lang(
                    "automatisch (de gangbare notaties om de beurt)",
                    "automatic (the usual formats in turn)",
                ),
            )
        ]
        for fmt in DATE_CHOICES:
            read = date_example(date.example, fmt)
            reads = lang(f"leest het voorbeeld als {read}", f"reads the example as {read}")
            if read is None:
                reads = lang("leest het voorbeeld niet", "does not read the example")
            choices.append((fmt, f"{e(_readable_format(fmt, lang))} — {e(reads)}"))
        example = (
            lang(
                f"voorbeeld uit de export: <code>{e(date.example)}</code>",
                f"example from the export: <code>{e(date.example)}</code>",
            )
            if date.example
            else lang("geen voorbeeld gevonden", "no example found")
        )
        reads_now = lang(
            f"het voorstel leest {lang.number(date.read)} van {lang.number(date.present)} waarden",
            f"the proposal reads {lang.number(date.read)} of {lang.number(date.present)} values",
        )
        if not date.present:
            reads_now = lang(
                "de proefdraai laat zien wat er gelezen wordt", "the preview shows what is read"
            )
        blocks.append(
            "<div class='field'>"
            f"<label for='date-{date.field}'>{field_name(date.field, lang)} "
            f"("
            + lang("kolom", "column")
            + f" {e(fields[date.field])}): {example}; {e(reads_now)}</label>"
            f"<select id='date-{date.field}' name='date-{date.field}'>"
            f"{options(choices, selected)}</select></div>"
        )
    return (
        "<section aria-labelledby='dates-title'><h2 id='dates-title'>"
        f"{lang('Datumnotatie', 'Date formats')}</h2>{''.join(blocks)}</section>"
    )


def _readable_format(fmt: str, lang: Lang) -> str:
    day, month, year = lang("dd", "dd"), lang("mm", "mm"), lang("jjjj", "yyyy")
    return (
        fmt.replace("%d", day)
        .replace("%m", month)
        .replace("%Y", year)
        .replace("%y", lang("jj", "yy"))
    )


def _codes_section(lang: Lang, export: ExportChoice, keys: KeyChoice, choice: MappingChoice) -> str:
    fields = choice.fields
    blocks = []
    for codes in export.proposal.codes:
        if codes.field not in fields:
            continue
        targets = code_options(codes.field, keys)
        mapped = choice.values.get(codes.field, {})
        rows = []
        for index, code in enumerate(codes.codes):
            current = mapped.get(code.value, "")
            choices = [("", lang("zoals geschreven", "as written"))]
            choices += [(value, e(value)) for value in targets]
            if current and current not in targets:
                choices.append((current, e(current)))
            state = ""
            if code.accepted is False and not current:
                state = (
                    "<span class='badge'>"
                    + lang(
                        "niet geaccepteerd door de ronde: kies een waarde",
                        "not accepted by the round: choose a value",
                    )
                    + "</span>"
                )
            elif codes.field == "sex" and code.reads_as is None and not current:
                state = (
                    "<span class='badge'>"
                    + lang("niet gelezen: kies M, V of X", "not read: choose M, V or X")
                    + "</span>"
                )
            label = lang(
                f"Code {code.value} van {FIELD_NAMES[codes.field][0]} wordt",
                f"Code {code.value} of {FIELD_NAMES[codes.field][1]} becomes",
            )
            if is_exact_key(code.value):
                control = (
                    f"<select name='code-{codes.field}-{index}' aria-label='{e(label)}'>"
                    f"{options(choices, current)}</select>"
                )
            else:
                control = lang("(kan niet worden omgezet)", "(cannot be mapped)")
            rows.append([f"<code>{e(code.value)}</code>", lang.number(code.rows), control, state])
        notes = []
        if codes.more_values:
            notes.append(
                lang(
                    f"en nog {lang.number(codes.more_values)} waarde(n) in "
                    f"{lang.number(codes.more_rows)} rijen",
                    f"and {lang.number(codes.more_values)} more value(s) in "
                    f"{lang.number(codes.more_rows)} rows",
                )
            )
        if codes.empty_rows:
            notes.append(
                lang(
                    f"leeg: {(empty := lang.number(codes.empty_rows))} rijen",
                    f"empty: {empty} rows",
                )
            )
        if codes.hidden_values:
            notes.append(
                lang(
                    f"{codes.hidden_values} waarde(n) lijken op een BSN en worden niet getoond: "
                    "is de goede kolom gekozen?",
                    f"{codes.hidden_values} value(s) look like a BSN and are not shown: is the "
                    "right column chosen?",
                )
            )
        caption = lang(
            f"{FIELD_NAMES[codes.field][0]} (kolom {codes.column})",
            f"{FIELD_NAMES[codes.field][1]} (column {codes.column})",
        )
        blocks.append(
            table(
                e(caption),
                [lang("Code", "Code"), lang("Rijen", "Rows"), lang("Wordt", "Becomes"), ""],
                rows,
                label=caption,
            )
            + "".join(f"<p class='note'>{e(note)}</p>" for note in notes)
        )
    if not blocks:
        return ""
    return (
        "<section aria-labelledby='codes-title'><h2 id='codes-title'>"
        f"{lang('Codes omzetten naar de waarden van de ronde', 'Map codes to the round’s values')}"
        f"</h2>{''.join(blocks)}</section>"
    )
