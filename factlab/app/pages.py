"""The app's pages for the keys, the export and the delivery (steps 1, 2 and 5).

Each function returns the body of one page (:func:`factlab.app.layout.page` adds the frame);
values from files are escaped (:func:`~factlab.app.layout.e`). The mapping and the preview have
modules of their own (:mod:`factlab.app.mapping_page`, :mod:`factlab.app.preview_page`).
"""

from __future__ import annotations

from typing import Final

from factlab.app.delivery import Delivered, Delivery
from factlab.app.flow import KeyChoice
from factlab.app.layout import Lang, e, facts_table, field_name, hidden_csrf, text_input
from factlab.app.problems import explain
from factlab.errors import KeyFileError

__all__ = ["PHONE", "delivery_body", "export_body", "keys_body", "phase_label"]

#: The words that go with every fingerprint the steward checks.
PHONE: Final = (
    "Controleer deze telefonisch bij de vertrouwde partij",
    "Check these by phone with the trusted party",
)


# --- 1. keys ---------------------------------------------------------------------------------


def keys_body(lang: Lang, csrf: str, keys: KeyChoice | None, defaults: dict[str, str]) -> str:
    """Step 1: the key files and the provider code; once loaded, what to check by phone."""
    parts = []
    if keys is not None:
        key = keys.key
        contract = keys.contract
        rows = [
            [lang("Ronde", "Round"), e(key.round)],
            [lang("Key id van uw sleutel", "Key id of your key"), f"<code>{e(key.key_id)}</code>"],
            [lang("Vingerafdruk", "Fingerprint"), f"<code>{e(key.fingerprint)}</code>"],
        ]
        if keys.check:
            rows.append(
                [lang("Controlegetal (check)", "Check value"), f"<code>{e(keys.check)}</code>"]
            )
        if contract is not None:
            rows.append(
                [
                    lang("Contract van de ronde", "Round contract"),
                    f"<code>{e(contract.sha256[:16])}</code>; "
                    + lang("verplicht: ", "required: ")
                    + ", ".join(field_name(name, lang) for name in contract.required),
                ]
            )
        rows += [
            [lang("Vertrouwde partij", "Trusted party"), e(keys.recipient.name)],
            [
                lang("Key id van de vertrouwde partij", "Trusted party's key id"),
                f"<code>{e(keys.recipient.key_id)}</code>",
            ],
            [lang("Aanbieder", "Provider"), e(keys.provider)],
        ]
        warnings = "".join(
            f"<li><strong>{e(found.title)}</strong> {e(found.advice)} "
            f"<span class='detail'>{e(text)}</span></li>"
            for text in keys.warnings
            for found in (explain(KeyFileError(text), lang.code),)
        )
        parts.append(
            "<section class='done' aria-labelledby='loaded'>"
            f"<h2 id='loaded'>{lang('Sleutels geladen', 'Keys loaded')}</h2>"
            f"<p class='phone'><strong>{lang(*PHONE)}</strong>: "
            + lang(
                "bel zelf, op een nummer dat u al kende. Klopt iets niet, ga dan niet verder.",
                "call them yourself, on a number you already knew. If anything differs, stop.",
            )
            + "</p>"
            + facts_table(rows, label=lang("Sleutelgegevens", "Key details"))
            + (f"<ul class='warn'>{warnings}</ul>" if warnings else "")
            + "<p><a class='button' href='/export'>"
            + lang("Verder: kies de export", "Next: choose the export")
            + "</a></p></section>"
        )
    parts.append(
        "<form method='post' action='/keys' class='stack'>"
        + hidden_csrf(csrf)
        + f"<h2>{lang('Kies de sleutels', 'Choose the keys')}</h2>"
        + "<p>"
        + lang(
            "Eén keer per ronde: de app onthoudt de plaats van de bestanden in een "
            "instellingenbestand naast uw sleutel (nooit de sleutel zelf).",
            "Once per round: the app remembers where the files are in a settings file beside "
            "your key (never the key itself).",
        )
        + "</p>"
        + text_input(
            "key",
            lang(
                "Uw sleutelbestand (volledig pad, bijvoorbeeld …/provider-2026.key)",
                "Your key file (full path, e.g. …/provider-2026.key)",
            ),
            defaults.get("key", ""),
        )
        + "<div class='field'><label for='passphrase'>"
        + lang(
            "Wachtwoordzin (alleen als uw sleutel er een heeft)",
            "Passphrase (only if your key has one)",
        )
        + "</label><input type='password' id='passphrase' name='passphrase' "
        "autocomplete='off'></div>"
        + text_input(
            "recipient",
            lang(
                "Publieke sleutel van de vertrouwde partij (….pub)",
                "The trusted party's public key (….pub)",
            ),
            defaults.get("recipient", ""),
        )
        + text_input(
            "provider",
            lang("Uw code als aanbieder (bijvoorbeeld P01)", "Your provider code (e.g. P01)"),
            defaults.get("provider", ""),
        )
        + f"<p><button type='submit'>{lang('Sleutels laden', 'Load the keys')}</button></p></form>"
    )
    return "".join(parts)


# --- 2. export -------------------------------------------------------------------------------


def export_body(lang: Lang, csrf: str, default_path: str) -> str:
    """Step 2: the export, by its path on this computer or dropped into the page."""
    return (
        "<p>"
        + lang(
            "Kies de export uit uw eigen systeem: CSV, Excel (.xlsx) of Parquet. Een bestand "
            "op uw computer wordt gelezen waar het staat; een gesleept bestand komt in een "
            "privémap die de app na de levering weer opruimt.",
            "Choose the export from your own system: CSV, Excel (.xlsx) or Parquet. A file on "
            "your computer is read where it is; a dropped file goes into a private folder the "
            "app removes after the delivery.",
        )
        + "</p><div class='two'>"
        "<form method='post' action='/export' class='stack'>"
        + hidden_csrf(csrf)
        + f"<h2>{lang('Bestand op deze computer', 'A file on this computer')}</h2>"
        + text_input(
            "path", lang("Volledig pad van de export", "Full path of the export"), default_path
        )
        + "<p><button type='submit'>"
        + lang("Deze export gebruiken", "Use this export")
        + "</button></p></form>"
        "<form method='post' action='/upload' enctype='multipart/form-data' class='stack' "
        "id='upload-form'>"
        + hidden_csrf(csrf)
        + f"<h2>{lang('Of sleep het bestand hierheen', 'Or drop the file here')}</h2>"
        "<div class='dropzone' data-dropzone>"
        f"<label for='export-file'>"
        + lang(
            "Sleep de export in dit vak, of kies hem", "Drop the export into this box, or choose it"
        )
        + f"</label>"
        "<input type='file' id='export-file' name='export' "
        "accept='.csv,.txt,.tsv,.xlsx,.parquet'>"
        "</div>"
        f"<p><button type='submit'>{lang('Bestand gebruiken', 'Use the file')}</button></p></form>"
        "</div>"
    )


# --- 5. delivery -----------------------------------------------------------------------------

_PHASES = {
    "pseudonymise": ("Lezen en pseudonimiseren…", "Reading and pseudonymising…"),
    "seal": ("Verzegelen…", "Sealing…"),
    "finish": ("Afronden: mapping bewaren…", "Finishing: saving the mapping…"),
    "done": ("Klaar", "Done"),
}


def phase_label(phase: str, lang: Lang) -> str:
    """The phase in words."""
    return lang(*_PHASES.get(phase, ("…", "…")))


def delivery_body(lang: Lang, csrf: str, delivery: Delivery) -> str:
    """Step 5: progress while the delivery runs; then where the files are and what to check."""
    status = delivery.status()
    if status["state"] != "done":  # a failure is shown by the server on the next load
        fraction = status["fraction"]
        value = "" if fraction is None else f" value='{fraction:.3f}'"
        return (
            f"<p id='phase' aria-live='polite'>{lang('Stap', 'Step')} {status['step']} / "
            f"{status['steps']}: {e(phase_label(status['phase'], lang))}</p>"
            f"<progress id='progress' max='1'{value} data-poll='/progress' "
            f"aria-labelledby='phase'></progress>"
            "<p class='note'>"
            + lang(
                "Een groot bestand kan enkele minuten duren. U kunt deze pagina open laten.",
                "A large file can take a few minutes. You can leave this page open.",
            )
            + "</p>"
        )
    result = delivery.result
    assert result is not None  # set before the state says done
    return _delivered(lang, csrf, result)


def _delivered(lang: Lang, csrf: str, result: Delivered) -> str:
    header = result.header
    manifest = header.manifest
    facts = [
        [lang("Aanbieder", "Provider"), e(manifest.provider)],
        [lang("Ronde", "Round"), e(manifest.round)],
        [lang("Rijen", "Rows"), lang.number(manifest.rows)],
        [lang("Verzegeld voor", "Sealed for"), e(header.recipient_name)],
        [
            lang("Key id van de vertrouwde partij", "Trusted party's key id"),
            f"<code>{e(header.recipient_key_id)}</code>",
        ],
    ]
    files = [
        [
            lang("Verzegeld bestand: dit verstuurt u", "Sealed file: send this one"),
            f"<code>{e(result.sealed)}</code>",
        ],
        [lang("Leesbaar manifest", "Readable manifest"), f"<code>{e(result.manifest)}</code>"],
        [
            lang("Onverzegeld bestand: niet versturen", "Unsealed file: do not send"),
            f"<code>{e(result.parquet)}</code>",
        ],
    ]
    if result.mapping is not None:
        files.append(
            [
                lang("Mapping voor volgend jaar", "Mapping for next year"),
                f"<code>{e(result.mapping)}</code>",
            ]
        )
    unsaved = (
        ""
        if result.mapping is not None
        else "<p class='warn'>"
        + lang("De mapping kon niet bewaard worden.", "The mapping could not be saved.")
        + "</p>"
    )
    return (
        f"<p class='ok' role='status'>{lang('De levering is klaar.', 'The delivery is ready.')}</p>"
        "<section aria-labelledby='files-title'><h2 id='files-title'>"
        + lang("Waar de bestanden staan", "Where the files are")
        + "</h2>"
        + facts_table(files, label=lang("Bestanden", "Files"))
        + unsaved
        + "</section>"
        f"<section aria-labelledby='check-title'><h2 id='check-title'>{lang(*PHONE)}</h2><p>"
        + lang(
            "Noem deze gegevens aan de telefoon; de vertrouwde partij ziet hetzelfde als het "
            "bestand binnenkomt. Verstuur daarna alleen het verzegelde bestand.",
            "Read these out on the phone; the trusted party sees the same when the file "
            "arrives. Then send the sealed file only.",
        )
        + "</p>"
        + facts_table(facts, label=lang("Manifest", "Manifest"))
        + "</section><form method='post' action='/restart'>"
        + hidden_csrf(csrf)
        + "<p><button type='submit' class='secondary'>"
        + lang("Nog een export leveren", "Deliver another export")
        + "</button></p></form>"
    )
