"""The app's pages for the keys, the export and the delivery (steps 1, 2 and 5).

Each function returns the body of one page (:func:`factlab.app.layout.page` adds the frame);
values from files are escaped (:func:`~factlab.app.layout.e`). The mapping and the preview have
modules of their own (:mod:`factlab.app.mapping_page`, :mod:`factlab.app.preview_page`).
"""

from __future__ import annotations

from typing import Any, Final

from factlab.app.delivery import SERVICES, Delivered, Delivery
from factlab.app.flow import KeyChoice
from factlab.app.layout import Lang, e, facts_table, field_name, hidden_csrf, text_input
from factlab.app.problems import explain
from factlab.errors import KeyFileError
from factlab.steward.blind import BlindService

__all__ = [
    "PHONE",
    "blind_notice",
    "custody_words",
    "delivery_body",
    "export_body",
    "keys_body",
    "phase_label",
    "status_label",
]

#: The words that go with every fingerprint the steward checks.
PHONE: Final = (
    "Controleer deze telefonisch bij de vertrouwde partij",
    "Check these by phone with the trusted party",
)


# --- 1. keys ---------------------------------------------------------------------------------


def custody_words(service: BlindService, lang: Lang) -> str:
    """Who could compute the pseudonyms, in words (the manifest's ``custody``)."""
    if service.custody == "split":
        return lang(
            "gedeeld over twee sleuteldiensten: geen van beide kan alleen een pseudoniem berekenen",
            "split over two key services: neither can compute a pseudonym on its own",
        )
    return lang(
        "één sleuteldienst: de beheerder daarvan kan elk pseudoniem berekenen (voor kleine "
        "rondes; het manifest zegt het)",
        "one key service: its operator could compute every pseudonym (for small rounds; the "
        "manifest says so)",
    )


def blind_notice(service: BlindService, lang: Lang) -> str:
    """What the app will send where, said before anything is sent."""
    names = ", ".join(
        f"{e(endpoint.name)} (<code>{e(endpoint.url)}</code>)" for endpoint in service.services
    )
    return (
        "<p class='phone' id='blind-notice'>"
        + lang(
            "<strong>Bij de levering vraagt de app de sleuteldiensten om de pseudoniemen</strong>"
            f": {names}. Ze krijgen alleen geblindeerde waarden, nooit een BSN, en kunnen daaruit "
            "niets over uw cliënten afleiden. Dit is het enige dat de app buiten deze computer "
            "verstuurt. De proefdraai vraagt de sleuteldiensten niets.",
            "<strong>At the delivery the app asks the key services for the pseudonyms</strong>"
            f": {names}. They receive blinded values only, never a BSN, and learn nothing about "
            "your clients from them. This is the only thing the app sends off this computer. "
            "The preview asks the key services nothing.",
        )
        + "</p>"
    )


def _blind_loaded(lang: Lang, keys: KeyChoice, service: BlindService) -> str:
    """A blind round's service configuration, loaded: what to check by phone, what is sent."""
    rows = [
        [lang("Ronde", "Round"), e(service.round)],
        [lang("Key id van de ronde", "Round key id"), f"<code>{e(service.key_id)}</code>"],
        [lang("Vingerafdruk", "Fingerprint"), f"<code>{e(service.fingerprint)}</code>"],
        [lang("Sleutelbewaring", "Key custody"), e(custody_words(service, lang))],
    ]
    rows += [
        [
            lang(f"Sleuteldienst {index}", f"Key service {index}"),
            f"{e(endpoint.name)}: <code>{e(endpoint.url)}</code>",
        ]
        for index, endpoint in enumerate(service.services, start=1)
    ]
    rows += [
        [lang("Vertrouwde partij", "Trusted party"), e(keys.recipient.name)],
        [
            lang("Key id van de vertrouwde partij", "Trusted party's key id"),
            f"<code>{e(keys.recipient.key_id)}</code>",
        ],
        [lang("Aanbieder", "Provider"), e(keys.provider)],
    ]
    return (
        "<section class='done' aria-labelledby='loaded'>"
        "<h2 id='loaded'>"
        + lang(
            "Serviceconfiguratie geladen (blinde ronde)",
            "Service configuration loaded (blind round)",
        )
        + f"</h2><p class='phone'><strong>{lang(*PHONE)}</strong>: "
        + lang(
            "bel zelf, op een nummer dat u al kende. Klopt iets niet, ga dan niet verder.",
            "call them yourself, on a number you already knew. If anything differs, stop.",
        )
        + "</p>"
        + facts_table(rows, label=lang("Gegevens van de ronde", "Round details"))
        + _warnings(keys, lang)
        + blind_notice(service, lang)
        + "<p><a class='button' href='/export'>"
        + lang("Verder: kies de export", "Next: choose the export")
        + "</a></p></section>"
    )


def _warnings(keys: KeyChoice, lang: Lang) -> str:
    """What factlab warned about while loading (a file others may read), explained."""
    items = "".join(
        f"<li><strong>{e(found.title)}</strong> {e(found.advice)} "
        f"<span class='detail'>{e(text)}</span></li>"
        for text in keys.warnings
        for found in (explain(KeyFileError(text), lang.code),)
    )
    return f"<ul class='warn'>{items}</ul>" if items else ""


def _radio(value: str, label: str, checked: bool) -> str:
    mark = " checked" if checked else ""
    return (
        f"<div class='choice'><input type='radio' id='source-{value}' name='source' "
        f"value='{value}'{mark}><label for='source-{value}'>{label}</label></div>"
    )


def keys_body(lang: Lang, csrf: str, keys: KeyChoice | None, defaults: dict[str, str]) -> str:
    """Step 1: the key file (or a blind round's service configuration) and the provider code;
    once loaded, what to check by phone."""
    parts = []
    service = keys.blind if keys is not None else None
    if keys is not None and service is not None:
        parts.append(_blind_loaded(lang, keys, service))
    elif keys is not None:
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
        warnings = _warnings(keys, lang)
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
            + warnings
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
        + "<fieldset><legend>"
        + lang("Hoe maakt u de pseudoniemen?", "How are the pseudonyms made?")
        + "</legend>"
        + _radio(
            "key",
            lang(
                "Met het sleutelbestand van de vertrouwde partij",
                "With the trusted party's key file",
            ),
            defaults.get("source") != "blind",
        )
        + _radio(
            "blind",
            lang(
                "Via de sleuteldiensten van de ronde (blinde ronde: u hebt geen sleutel maar een "
                "serviceconfiguratie, ….toml)",
                "Through the round's key services (blind round: you have no key but a service "
                "configuration, ….toml)",
            ),
            defaults.get("source") == "blind",
        )
        + "</fieldset>"
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
            "services",
            lang(
                "Of, in een blinde ronde: de serviceconfiguratie (volledig pad, bijvoorbeeld "
                "…/services-2026.toml)",
                "Or, in a blind round: the service configuration (full path, e.g. "
                "…/services-2026.toml)",
            ),
            defaults.get("services", ""),
        )
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
    SERVICES: (
        "Pseudoniemen opvragen bij de sleuteldiensten…",
        "Asking the key services for the pseudonyms…",
    ),
    "seal": ("Verzegelen…", "Sealing…"),
    "finish": ("Afronden: mapping bewaren…", "Finishing: saving the mapping…"),
    "done": ("Klaar", "Done"),
}


def phase_label(phase: str, lang: Lang) -> str:
    """The phase in words."""
    return lang(*_PHASES.get(phase, ("…", "…")))


def status_label(status: dict[str, Any], lang: Lang) -> str:
    """The phase in words; in a blind round with the BSNs the key services have answered."""
    label = phase_label(status["phase"], lang)
    if status["phase"] == SERVICES and status.get("to_answer") is not None:
        answered, total = lang.number(status["answered"]), lang.number(status["to_answer"])
        label += lang(
            f" {answered} van {total} BSN's beantwoord", f" {answered} of {total} BSNs answered"
        )
    return label


def delivery_body(lang: Lang, csrf: str, delivery: Delivery) -> str:
    """Step 5: progress while the delivery runs; then where the files are and what to check."""
    status = delivery.status()
    if status["state"] != "done":  # a failure is shown by the server on the next load
        fraction = status["fraction"]
        value = "" if fraction is None else f" value='{fraction:.3f}'"
        return (
            f"<p id='phase' aria-live='polite'>{lang('Stap', 'Step')} {status['step']} / "
            f"{status['steps']}: {e(status_label(status, lang))}</p>"
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
        [lang("Vingerafdruk", "Fingerprint"), f"<code>{e(manifest.key_fingerprint)}</code>"],
        [lang("Verzegeld voor", "Sealed for"), e(header.recipient_name)],
        [
            lang("Key id van de vertrouwde partij", "Trusted party's key id"),
            f"<code>{e(header.recipient_key_id)}</code>",
        ],
    ]
    custody = manifest.extra.get("custody")
    if custody in ("split", "single"):
        services = manifest.extra.get("key_services")
        names = ", ".join(map(str, services)) if isinstance(services, list) else ""
        words = (
            lang("gedeeld over twee sleuteldiensten", "split over two key services")
            if custody == "split"
            else lang("één sleuteldienst", "one key service")
        )
        facts.append([lang("Sleutelbewaring", "Key custody"), e(f"{words} ({names})")])
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
