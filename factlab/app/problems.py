"""What went wrong, in the steward's words: every error the library raises, explained in Dutch
(or English) with what to do about it.

The library's messages are English, one line, naming file, row, column and reason and never a
value (:mod:`factlab.errors`). The app shows them to stewards who may not read English, so
:func:`explain` matches the message against the known problems below and puts a plain sentence
and the advice on top; the library's own line stays under it ("technische melding"), since it
names the file and the row. A message no pattern knows still gets a plain sentence by its error
class and general advice, so no problem reaches the page without words the steward can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from factlab.errors import ConfigError, FactlabError, InputError, KeyFileError, ServiceError

__all__ = ["Problem", "explain"]


@dataclass(frozen=True)
class Problem:
    """A problem as the page shows it.

    Attributes:
        title: what is wrong, in one plain sentence.
        advice: what the steward can do about it.
        detail: the library's own message (names files, rows and columns, never a value).
        items: further lines (one per problem of a mapping or contract).
    """

    title: str
    advice: str
    detail: str = ""
    items: tuple[str, ...] = ()


# (pattern, (title nl, title en), (advice nl, advice en)); the first match wins. The key
# services' messages (factlab.steward.blind) come first: each names the service, never a value.
_KNOWN: Final[tuple[tuple[str, tuple[str, str], tuple[str, str]], ...]] = (
    (
        r"^key service .* cannot be reached",
        (
            "Een sleuteldienst is niet bereikbaar; er is niets geschreven.",
            "A key service cannot be reached; nothing was written.",
        ),
        (
            "Controleer de internetverbinding van deze computer en probeer het over een tijdje "
            "opnieuw. Blijft het misgaan, bel dan de vertrouwde partij; de technische melding "
            "noemt welke sleuteldienst het is.",
            "Check this computer's internet connection and try again in a while. If it keeps "
            "failing, call the trusted party; the technical message names the key service.",
        ),
    ),
    (
        r"^key service .* refused the token",
        (
            "Een sleuteldienst weigert uw toegangscode (token); er is niets geschreven.",
            "A key service refuses your access code (token); nothing was written.",
        ),
        (
            "Controleer of de serviceconfiguratie naar de goede tokenbestanden wijst: één per "
            "sleuteldienst, voor uw code als aanbieder. Klopt dat, maak dan een nieuw token "
            "(factlab keyserver token --new-for-steward) en geef alleen de SHA-256 ervan aan de "
            "beheerder van die sleuteldienst.",
            "Check that the service configuration points to the right token files: one per key "
            "service, for your provider code. If it does, make a new token (factlab keyserver "
            "token --new-for-steward) and give only its SHA-256 to that key service's operator.",
        ),
    ),
    (
        r"^key service .* quota",
        (
            "Uw quotum bij een sleuteldienst is op; er is niets geschreven.",
            "Your quota at a key service is used up; nothing was written.",
        ),
        (
            "Elk BSN kost één opvraging, en het quotum geldt voor de hele ronde. Vraag de "
            "beheerder van die sleuteldienst het quotum te verhogen en maak de levering daarna "
            "opnieuw.",
            "Every BSN costs one request, and the quota covers the whole round. Ask that key "
            "service's operator to raise the quota, then make the delivery again.",
        ),
    ),
    (
        r"^key service .* proof does not verify",
        (
            "Het antwoord van een sleuteldienst is niet te vertrouwen (het bewijs klopt niet); er "
            "is niets geschreven.",
            "A key service's answer cannot be trusted (its proof fails); nothing was written.",
        ),
        (
            "Ga niet verder en bel de vertrouwde partij op een nummer dat u al kende: de dienst "
            "rekent met een andere sleutel dan de serviceconfiguratie noemt.",
            "Do not go on, and call the trusted party on a number you already knew: the service "
            "computes with another key than the service configuration names.",
        ),
    ),
    (
        r"^key service .* (serves another round|serves under another public share)",
        (
            "Een sleuteldienst hoort niet bij deze ronde; er is niets geschreven.",
            "A key service does not belong to this round; nothing was written.",
        ),
        (
            "Controleer of u de serviceconfiguratie van deze ronde koos. Klopt dat, ga dan niet "
            "verder en bel de vertrouwde partij.",
            "Check that you chose this round's service configuration. If you did, do not go on "
            "and call the trusted party.",
        ),
    ),
    (
        r"problem\(s\):.*(token_file|public_share|public_key:|services(\[\d+\])?[.:]|client\.)",
        ("De serviceconfiguratie klopt niet.", "The service configuration is not right."),
        (
            "Kies het bestand (….toml) dat u van de vertrouwde partij kreeg, met de "
            "tokenbestanden ernaast zoals het ze noemt. Pas het niet zelf aan; bel bij twijfel "
            "de vertrouwde partij.",
            "Choose the file (….toml) the trusted party gave you, with the token files beside "
            "it as it names them. Do not change it yourself; if in doubt, call the trusted party.",
        ),
    ),
    (
        r"wrong passphrase",
        ("De wachtwoordzin klopt niet.", "The passphrase is wrong."),
        (
            "Typ de wachtwoordzin opnieuw; let op hoofdletters. Weet u hem niet meer, vraag dan "
            "de vertrouwde partij om een nieuw sleutelbestand.",
            "Type the passphrase again, minding capitals. If you no longer know it, ask the "
            "trusted party for a new key file.",
        ),
    ),
    (
        r"passphrase is needed|needs a passphrase|protected.*passphrase",
        ("Dit sleutelbestand heeft een wachtwoordzin.", "This key file has a passphrase."),
        ("Vul de wachtwoordzin in en probeer opnieuw.", "Fill in the passphrase and try again."),
    ),
    (
        r"key file altered|not the key file this key was loaded from",
        (
            "Het sleutelbestand is veranderd nadat de vertrouwde partij het maakte.",
            "The key file was changed after the trusted party made it.",
        ),
        (
            "Ga niet verder. Bel de vertrouwde partij op een nummer dat u al kende en vraag om "
            "een nieuw sleutelbestand.",
            "Do not go on. Call the trusted party on a number you already knew and ask for a new "
            "key file.",
        ),
    ),
    (
        r"token file is open to other users",
        (
            "Andere gebruikers van deze computer kunnen een tokenbestand lezen.",
            "Other users of this computer can read a token file.",
        ),
        (
            "Wie het token kan lezen, kan uw quotum bij de sleuteldienst opmaken. Zet het bestand "
            "in een map die alleen u kunt lezen (Linux/macOS: chmod 600 BESTAND).",
            "Whoever can read the token can spend your quota at the key service. Put the file in "
            "a folder only you can read (Linux/macOS: chmod 600 FILE).",
        ),
    ),
    (
        r"readable by every user|open to other users",
        (
            "Andere gebruikers van deze computer kunnen het sleutelbestand lezen.",
            "Other users of this computer can read the key file.",
        ),
        (
            "Zet het bestand in een map die alleen u kunt lezen (Linux/macOS: chmod 600 "
            "BESTAND) en kies het opnieuw.",
            "Put the file in a folder only you can read (Linux/macOS: chmod 600 FILE) and choose "
            "it again.",
        ),
    ),
    (
        r"not a factlab recipient|recipient key version",
        (
            "Dit is niet de publieke sleutel (.pub) van de vertrouwde partij.",
            "This is not the trusted party's public key (.pub).",
        ),
        (
            "Kies het bestand dat eindigt op .pub dat u van de vertrouwde partij kreeg.",
            "Choose the file ending in .pub that the trusted party gave you.",
        ),
    ),
    (
        r"not a factlab key file|damaged key file|unsupported key file|unknown key kind",
        (
            "Dit is geen (heel) sleutelbestand van factlab.",
            "This is not a (whole) factlab key file.",
        ),
        (
            "Kies het sleutelbestand dat u van de vertrouwde partij kreeg (meestal "
            "provider-….key). Is het beschadigd, vraag dan om een nieuw.",
            "Choose the key file the trusted party gave you (usually provider-….key). If it is "
            "damaged, ask for a new one.",
        ),
    ),
    (
        r"the output folder does not exist",
        ("De map voor het resultaat bestaat niet.", "The folder for the result does not exist."),
        ("Kies een map die bestaat.", "Choose a folder that exists."),
    ),
    (
        r"exists \(|file exists|appeared while",
        (
            "Er staat al een bestand met die naam; de app overschrijft nooit een bestand.",
            "A file of that name exists already; the app never replaces a file.",
        ),
        (
            "Kies een andere map, of verplaats of hernoem het bestaande bestand eerst.",
            "Choose another folder, or move or rename the existing file first.",
        ),
    ),
    (
        r"is also an input of this command",
        (
            "Het resultaat zou een bestand overschrijven dat de app leest.",
            "The result would replace a file the app reads.",
        ),
        ("Kies een andere map voor het resultaat.", "Choose another folder for the result."),
    ),
    (
        r"file not found|not found$|no such file",
        ("Het bestand is niet gevonden.", "The file was not found."),
        (
            "Controleer het pad (de volledige plaats van het bestand, bijvoorbeeld "
            "C:\\Gegevens\\export.csv of /home/u/export.csv), of sleep het bestand in het vak.",
            "Check the path (the file's full location, e.g. C:\\Data\\export.csv or "
            "/home/u/export.csv), or drop the file into the box.",
        ),
    ),
    (
        r"permission denied",
        (
            "U hebt geen toegang tot dit bestand of deze map.",
            "You may not open this file or folder.",
        ),
        (
            "Kies een bestand of map waar u bij kunt, of vraag uw beheerder om toegang.",
            "Choose a file or folder you can reach, or ask your administrator for access.",
        ),
    ),
    (
        r"unsupported file type",
        ("Dit soort bestand kan factlab niet lezen.", "factlab cannot read this kind of file."),
        (
            "Sla de export op als CSV (.csv), Excel (.xlsx) of Parquet (.parquet).",
            "Save the export as CSV (.csv), Excel (.xlsx) or Parquet (.parquet).",
        ),
    ),
    (
        r"the file is empty|has no data rows|the sheet is empty|no column names",
        ("De export bevat geen gegevens.", "The export holds no data."),
        (
            "Maak de export opnieuw, met een eerste regel met kolomnamen en daaronder de rijen.",
            "Make the export again, with a first line of column names and the rows below it.",
        ),
    ),
    (
        r"not valid UTF-8|cannot be read as (?!xlsx)|UTF-16|unknown encoding",
        (
            "De tekens in de export kunnen niet goed gelezen worden.",
            "The characters of the export cannot be read properly.",
        ),
        (
            "Sla de export opnieuw op als 'CSV UTF-8' (in Excel: Opslaan als, CSV UTF-8).",
            "Save the export again as 'CSV UTF-8' (in Excel: Save as, CSV UTF-8).",
        ),
    ),
    (
        r"cannot be read as xlsx|damaged",
        ("Het bestand is beschadigd of onvolledig.", "The file is damaged or incomplete."),
        (
            "Maak de export opnieuw en kies het nieuwe bestand.",
            "Make the export again and choose the new file.",
        ),
    ),
    (
        r"line \d+:",
        (
            "Een regel van de export past niet bij de andere regels.",
            "A line of the export does not fit the other lines.",
        ),
        (
            "Open de export en kijk naar de genoemde regel (een scheidingsteken of "
            "aanhalingsteken te veel?). Maak de export zo nodig opnieuw.",
            "Open the export at the line named (a delimiter or quote too many?). Make the export "
            "again if needed.",
        ),
    ),
    (
        r"no BSN column",
        ("De app vindt geen kolom met het BSN.", "The app finds no column with the BSN."),
        (
            "Kies bij 'Kolommen' welke kolom het BSN bevat.",
            "Choose under 'Columns' which column holds the BSN.",
        ),
    ),
    (
        r"has a valid BSN",
        (
            "Geen enkele rij heeft een geldig BSN in de gekozen BSN-kolom.",
            "No row has a valid BSN in the chosen BSN column.",
        ),
        (
            "Controleer of de goede kolom als BSN is gekozen, en of de export de BSN's niet heeft "
            "verminkt (bijvoorbeeld als getal met de voorloopnul eraf of in wetenschappelijke "
            "notatie).",
            "Check that the right column is chosen as the BSN, and that the export did not spoil "
            "the BSNs (a number that lost its leading zero, or in scientific notation).",
        ),
    ),
    (
        r"looks like a BSN",
        (
            "Een kolom die geen BSN hoort te bevatten, bevat iets dat op een BSN lijkt.",
            "A column that must not hold a BSN holds something that looks like one.",
        ),
        (
            "Kijk bij 'Kolommen' of de BSN-kolom niet ook voor een ander veld is gekozen.",
            "Check under 'Columns' that the BSN column is not chosen for another field too.",
        ),
    ),
    (
        r"contract refuses",
        (
            "De ronde weigert dit bestand zoals het nu is; er is niets geschreven.",
            "The round refuses this file as it is; nothing was written.",
        ),
        (
            "Kies de ontbrekende kolommen, zet codes om naar de waarden van de ronde en "
            "controleer de datumnotatie. Bekijk daarna de proefdraai opnieuw.",
            "Choose the missing columns, map codes to the round's values and check the date "
            "format. Then look at the preview again.",
        ),
    ),
    (
        r"provider code",
        ("De code van de aanbieder is niet bruikbaar.", "The provider code cannot be used."),
        (
            "Gebruik de code die de vertrouwde partij u gaf, zoals P01: letters, cijfers, '_', "
            "'.' of '-'.",
            "Use the code the trusted party gave you, such as P01: letters, digits, '_', '.' "
            "or '-'.",
        ),
    ),
    (
        r"mapped column .* is not in the file|is mapped to|all look like",
        (
            "De kolomkeuze past niet bij deze export.",
            "The choice of columns does not fit this export.",
        ),
        (
            "Kies bij 'Kolommen' voor elk veld hoogstens één kolom.",
            "Choose at most one column for each field under 'Columns'.",
        ),
    ),
    (
        r"changed while",
        (
            "Het bestand veranderde terwijl de app het las.",
            "The file changed while the app read it.",
        ),
        (
            "Wacht tot het bestand klaar is (sluit het in Excel) en probeer opnieuw.",
            "Wait until the file is finished (close it in Excel) and try again.",
        ),
    ),
)

_BY_CLASS: Final[dict[type[FactlabError], tuple[tuple[str, str], tuple[str, str]]]] = {
    ServiceError: (
        (
            "Een sleuteldienst gaf geen bruikbaar antwoord; er is niets geschreven.",
            "A key service gave no usable answer; nothing was written.",
        ),
        (
            "Probeer het over een tijdje opnieuw. Blijft het misgaan, bel dan de vertrouwde "
            "partij; de technische melding noemt welke sleuteldienst het is.",
            "Try again in a while. If it keeps failing, call the trusted party; the technical "
            "message names the key service.",
        ),
    ),
    KeyFileError: (
        ("Het sleutelbestand kan niet gebruikt worden.", "The key file cannot be used."),
        (
            "Controleer of u het goede bestand koos; bel anders de vertrouwde partij.",
            "Check that you chose the right file; otherwise call the trusted party.",
        ),
    ),
    ConfigError: (
        ("De mapping klopt niet.", "The mapping is not right."),
        (
            "Pas de genoemde keuzes aan en probeer opnieuw.",
            "Change the choices named and try again.",
        ),
    ),
    InputError: (
        ("Het bestand kan niet gebruikt worden.", "The file cannot be used."),
        (
            "Lees de technische melding hieronder: die noemt het bestand, de regel of de kolom. "
            "Pas de export aan en probeer opnieuw.",
            "Read the technical message below: it names the file, the line or the column. Fix "
            "the export and try again.",
        ),
    ),
}
_GENERAL: Final = (
    ("Dit lukte niet.", "This did not work."),
    (
        "Lees de technische melding hieronder en probeer opnieuw; blijft het misgaan, neem dan "
        "contact op met de vertrouwde partij.",
        "Read the technical message below and try again; if it keeps failing, contact the "
        "trusted party.",
    ),
)


def explain(error: BaseException, lang: str = "nl") -> Problem:
    """The error as the page shows it, in ``lang`` (``nl`` or ``en``).

    Only factlab's own messages are shown: another exception's text may quote a data value
    (Polars and pyarrow do), so it is named by its class alone.

    Example:
        >>> from factlab.errors import InputError
        >>> problem = explain(InputError("out/P01.sealed: the output folder does not exist"))
        >>> problem.title, problem.advice
        ('De map voor het resultaat bestaat niet.', 'Kies een map die bestaat.')
        >>> explain(ValueError("999993653 is bad"), "en").detail
        'ValueError'
    """
    index = 1 if lang == "en" else 0
    if not isinstance(error, FactlabError):
        title, advice = _GENERAL
        return Problem(title[index], advice[index], type(error).__name__)
    message = str(error)
    items = tuple(error.problems) if isinstance(error, ConfigError) else ()
    for pattern, title, advice in _KNOWN:
        if re.search(pattern, message, flags=re.IGNORECASE):
            return Problem(title[index], advice[index], message, items)
    for kind, (title, advice) in _BY_CLASS.items():
        if isinstance(error, kind):
            return Problem(title[index], advice[index], message, items)
    title, advice = _GENERAL
    return Problem(title[index], advice[index], message, items)
