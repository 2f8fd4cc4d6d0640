"""The steward's step as the app walks it: keys, export, mapping, preview; each a library call.

Every step calls what the command-line tool calls (``load_key``, ``key_file_contract`` and
``parse_contract`` as ``factlab pseudonymise``; ``propose_mapping`` as ``factlab mapping
propose``; ``preview_file`` under the same audit line as ``pseudonymise --preview``), so the app
reads, checks and refuses exactly what the command does. What the app adds is the form: the
steward's choices (:class:`MappingChoice`) become a mapping document that
:func:`factlab.steward.mapping.parse_mapping` validates like a mapping file, and that is saved as
one for next year (:func:`mapping_toml`). The delivery itself is in :mod:`factlab.app.delivery`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from factlab import schema
from factlab.audit import audit_log_path, audited
from factlab.errors import FactlabWarning, InputError
from factlab.keys.recipients import RecipientPublicKey, load_recipient_public
from factlab.keys.round_keys import Key, is_protected, key_file_contract, load_key, read_key_header
from factlab.steward.audit_lines import key_details, pseudonymised_details
from factlab.steward.blind import BlindService, load_service_config
from factlab.steward.contract import Contract, parse_contract
from factlab.steward.mapping import ENCODINGS, ColumnMapping, parse_mapping, simplify
from factlab.steward.plan import check_provider
from factlab.steward.preview import Preview, preview_file
from factlab.steward.proposal import MappingProposal, toml_string
from factlab.steward.propose import KNOWN_VALUES, propose_mapping
from factlab.steward.value_maps import ValueMap, is_exact_key

__all__ = [
    "APP_FORM",
    "DATE_CHOICES",
    "ExportChoice",
    "KeyChoice",
    "MappingChoice",
    "choose_blind",
    "choose_export",
    "choose_keys",
    "code_options",
    "date_example",
    "initial_choice",
    "mapping_document",
    "mapping_toml",
    "run_preview",
    "unmet_required",
]

#: Date formats the steward can pick (the default formats, then some more); "" lets factlab try
#: its default formats in turn.
DATE_CHOICES: Final = (
    "%d-%m-%Y",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%Y/%m/%d",
    "%d-%m-%y",
    "%m/%d/%Y",
)
_DATE_FIELDS: Final = ("birth_date", "start_date", "end_date")
_SEX_VALUES: Final = ("M", "V", "X")


@dataclass(frozen=True)
class KeyChoice:
    """The provider key (or a blind round's key services) and the trusted party's public key,
    loaded and checked.

    Attributes:
        key_path, recipient_path: the files as chosen (``key_path``: the service
            configuration in a blind round).
        key: the provider key (its secret stays in the object; never shown), or the blind
            round's key services (:class:`~factlab.steward.blind.BlindService`; their tokens
            stay in the object).
        contract: the round's contract the key file carries (None: none; a blind round's
            service configuration carries none).
        check: the key file's check value (compared by phone), None in old files.
        recipient: the trusted party's public key.
        provider: the provider code.
        warnings: what factlab warned about while loading (a key file others may read).
    """

    key_path: Path
    key: Key | BlindService
    contract: Contract | None
    check: str | None
    recipient_path: Path
    recipient: RecipientPublicKey
    provider: str
    warnings: tuple[str, ...] = ()

    @property
    def blind(self) -> BlindService | None:
        """The key services of a blind round (None: a provider key)."""
        return self.key if isinstance(self.key, BlindService) else None

    @property
    def required(self) -> tuple[str, ...]:
        """Fields the delivery must hold: the BSN and what the round's contract requires."""
        return tuple(dict.fromkeys(("bsn", *(self.contract.required if self.contract else ()))))


def choose_keys(
    key_path: str | Path, recipient_path: str | Path, provider: str, passphrase: str | None
) -> KeyChoice:
    """Load the provider key (with its passphrase when protected), its contract and the
    recipient's public key, and check the provider code, as ``factlab pseudonymise`` and
    ``factlab seal`` do.

    Raises:
        KeyFileError: a key file is missing, damaged, altered, or the passphrase is wrong.
        InputError: the provider code cannot be used.
    """
    key_path, recipient_path = Path(key_path), Path(recipient_path)
    check_provider(provider)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FactlabWarning)
        protected = is_protected(key_path)
        key = load_key(key_path, passphrase=(passphrase or None) if protected else None)
    document = key_file_contract(key_path, key)
    contract = None
    if document is not None:
        contract = parse_contract(document, source=f"{key_path}: contract")
    header = read_key_header(key_path)
    recipient = load_recipient_public(recipient_path)
    return KeyChoice(
        key_path=key_path,
        key=key,
        contract=contract,
        check=header.get("check"),
        recipient_path=recipient_path,
        recipient=recipient,
        provider=provider,
        warnings=tuple(str(item.message) for item in caught),
    )


def choose_blind(config_path: str | Path, recipient_path: str | Path, provider: str) -> KeyChoice:
    """A blind round: load the steward's service configuration (with its token files) and the
    recipient's public key, and check the provider code, as ``factlab pseudonymise --blind``
    and ``factlab seal`` do. No key service is asked here: the delivery asks them.

    Raises:
        ConfigError: the service configuration is invalid (every problem at once).
        InputError: a file cannot be read, or the provider code cannot be used.
        KeyFileError: the recipient's public key is damaged.
    """
    config_path, recipient_path = Path(config_path), Path(recipient_path)
    check_provider(provider)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FactlabWarning)
        service = load_service_config(config_path)
    recipient = load_recipient_public(recipient_path)
    return KeyChoice(
        key_path=config_path,
        key=service,
        contract=None,
        check=None,
        recipient_path=recipient_path,
        recipient=recipient,
        provider=provider,
        warnings=tuple(str(item.message) for item in caught),
    )


@dataclass(frozen=True)
class ExportChoice:
    """The export and what :func:`propose_mapping` found in it.

    Attributes:
        path: where the export is read (the steward's own file, or the private upload folder).
        name: its name as the steward knows it.
        proposal: the proposed mapping.
        columns: the export's columns that can be shown (not those named like a BSN).
    """

    path: Path
    name: str
    proposal: MappingProposal
    columns: tuple[str, ...]


def choose_export(path: str | Path, keys: KeyChoice, *, name: str | None = None) -> ExportChoice:
    """Propose a mapping for the export, marking what the round requires and accepts (as
    ``factlab mapping propose --key``)."""
    path = Path(path)
    contract = keys.contract
    proposal = propose_mapping(
        path,
        required=contract.required if contract else (),
        accepted=contract.values if contract else None,
    )
    seen = dict.fromkeys(
        [
            *(choice.column for choice in proposal.columns),
            *(other for choice in proposal.columns for other in choice.others),
            *proposal.unused,
        ]
    )
    return ExportChoice(path, name or path.name, proposal, tuple(seen))


@dataclass(frozen=True)
class MappingChoice:
    """What the steward chose on the mapping page.

    Attributes:
        columns: export column → field ("" or absent: not read).
        date_formats: date field → format ("" or absent: the default formats in turn).
        values: code field → export code → value to write ("" or absent: as written).
        constants: field → one value for every row.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    date_formats: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)

    @property
    def fields(self) -> dict[str, str]:
        """Field → export column."""
        return {name: column for column, name in self.columns.items() if name}


def initial_choice(export: ExportChoice, saved: ColumnMapping | None = None) -> MappingChoice:
    """The proposal as choices, with last year's saved mapping on top where it fits the export.

    Example:
        >>> import tempfile, pathlib
        >>> from factlab.steward.propose import propose_mapping
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "e.csv").write_text("BSN;Zorgvorm\\n999993653;Ambulant\\n")
        >>> proposal = propose_mapping(folder / "e.csv")
        >>> export = ExportChoice(folder / "e.csv", "e.csv", proposal, ("BSN", "Zorgvorm"))
        >>> choice = initial_choice(export)
        >>> choice.columns, choice.values
        ({'BSN': 'bsn', 'Zorgvorm': 'care_form'}, {'care_form': {'Ambulant': 'ambulant'}})
    """
    proposal = export.proposal
    columns = {choice.column: choice.field for choice in proposal.columns if choice.active}
    dates = {date.field: date.format for date in proposal.dates if date.format}
    values: dict[str, dict[str, str]] = {}
    for codes in proposal.codes:
        mapped = {code.value: code.mapped_to for code in codes.codes if code.mapped_to}
        if mapped:
            values[codes.field] = mapped
    constants: dict[str, str] = {}
    if saved is not None:
        by_simple = {simplify(column): column for column in export.columns}
        for name, column in saved.columns.items():
            found = column if column in export.columns else by_simple.get(simplify(column))
            if found is not None:
                columns = {c: f for c, f in columns.items() if f != name and c != found}
                columns[found] = name
        dates.update(saved.date_formats)
        for name, table in saved.values.items():
            exact = table.exact if isinstance(table, ValueMap) else dict(table)
            values[name] = {**values.get(name, {}), **exact}
        constants.update(saved.constants)
    return MappingChoice(columns=columns, date_formats=dates, values=values, constants=constants)


def unmet_required(choice: MappingChoice, keys: KeyChoice) -> list[str]:
    """Required fields the choices do not feed (by a column, or by one value for all rows).

    Example:
        >>> unmet_required(MappingChoice(columns={"BSN": "bsn"}), _keys_for_docs())
        ['care_form']
    """
    fed = set(choice.fields) | {name for name, value in choice.constants.items() if value}
    return [name for name in keys.required if name not in fed]


def code_options(field_name: str, keys: KeyChoice) -> tuple[str, ...]:
    """The values a code can be mapped to: the round's exact values, else the known ones.

    Example:
        >>> keys = _keys_for_docs()
        >>> code_options("sex", keys), code_options("care_form", keys)
        (('M', 'V', 'X'), ('ambulant', 'verblijf'))
    """
    if field_name == "sex":
        return _SEX_VALUES
    contract = keys.contract
    if contract is not None and field_name in contract.values:
        table = ValueMap.of({value: value for value in contract.values[field_name]})
        return tuple(table.exact)
    return tuple(KNOWN_VALUES.get(field_name, ()))


def date_example(example: str | None, fmt: str) -> str | None:
    """How ``fmt`` reads the example value, as ``YYYY-MM-DD`` (None: it does not read it).

    Example:
        >>> date_example("01-02-2025", "%d-%m-%Y"), date_example("01-02-2025", "%Y-%m-%d")
        ('2025-02-01', None)
    """
    if not example:
        return None
    try:
        return datetime.strptime(example.strip(), fmt).date().isoformat()
    except ValueError:
        return None


def mapping_document(choice: MappingChoice, export: ExportChoice) -> dict[str, Any]:
    """The choices as a mapping document (the form :func:`parse_mapping` validates).

    Example:
        >>> choice = MappingChoice(columns={"BSN": "bsn"}, date_formats={"start_date": ""})
        >>> proposal = MappingProposal("e.csv", "csv", "utf-8", ";", 1, 1, ())
        >>> mapping_document(choice, ExportChoice(Path("e.csv"), "e.csv", proposal, ("BSN",)))
        {'version': 1, 'input': {'delimiter': ';', 'encoding': 'utf-8'}, 'columns': {'bsn': 'BSN'}}
    """
    proposal = export.proposal
    document: dict[str, Any] = {"version": 1}
    options: dict[str, Any] = {}
    if proposal.delimiter is not None:
        options["delimiter"] = proposal.delimiter
    if proposal.encoding is not None and proposal.encoding in ENCODINGS:
        options["encoding"] = proposal.encoding
    if proposal.decimal_comma is not None:
        options["decimal_comma"] = proposal.decimal_comma
    if proposal.sheet is not None:
        options["sheet"] = proposal.sheet
    if options:
        document["input"] = options
    fields = choice.fields
    document["columns"] = {name: fields[name] for name in schema.INPUT_FIELDS if name in fields}
    dates = {name: fmt for name, fmt in choice.date_formats.items() if fmt and name in fields}
    if dates:
        document["date_formats"] = dates
    values = {
        name: {code: value for code, value in table.items() if value and is_exact_key(code)}
        for name, table in choice.values.items()
        if name in fields
    }
    values = {name: table for name, table in values.items() if table}
    # A field with a value map reads the codes the map lacks as "not mapped"; the codes the
    # steward kept "as written" are therefore written into it as themselves.
    for codes in proposal.codes:
        if codes.field in values:
            kept = {c.value: c.value for c in codes.codes if is_exact_key(c.value)}
            values[codes.field] = {**kept, **values[codes.field]}
    if values:
        document["values"] = values
    constants = {
        name: value for name, value in choice.constants.items() if value and name not in fields
    }
    if constants:
        document["constants"] = constants
    return document


def mapping_toml(document: Mapping[str, Any], *, export: str) -> str:
    """A mapping document as a mapping file that ``factlab pseudonymise --mapping`` reads.

    Example:
        >>> text = mapping_toml({"version": 1, "columns": {"bsn": "BSN"}}, export="e.csv")
        >>> text.splitlines()[-1]
        'bsn = "BSN"'
    """

    def key(name: str) -> str:
        return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else toml_string(name)

    def value(item: object) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        return toml_string(str(item))

    lines = [
        f"# Mapping saved by factlab app for {toml_string(export)}; it is read again next time.",
        "# It shows codes of the export: keep it on your own computer.",
        f"version = {int(document.get('version', 1))}",
    ]
    for table in ("input", "columns", "date_formats", "constants"):
        entries = document.get(table)
        if entries:
            lines += ["", f"[{table}]"]
            lines += [f"{key(k)} = {value(v)}" for k, v in entries.items()]
    for name, entries in (document.get("values") or {}).items():
        lines += ["", f"[values.{key(name)}]"]
        lines += [f"{key(k)} = {value(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


#: The source of a mapping made in the app's page (the audit line's and the manifest's
#: ``mapping``); the file it is saved to is recorded apart (``mapping_saved_to``).
APP_FORM: Final = "app form"


def build_mapping(choice: MappingChoice, export: ExportChoice, *, source: str) -> ColumnMapping:
    """The choices as a validated mapping.

    Raises:
        ConfigError: a choice the mapping refuses (every problem at once).
    """
    return parse_mapping(mapping_document(choice, export), source=source)


def run_preview(
    export: ExportChoice, keys: KeyChoice, mapping: ColumnMapping, *, out: Path | None
) -> Preview:
    """``factlab pseudonymise --preview``: the same library call under the same audit line;
    ``out`` (the file the delivery would write) only places the audit log, as for the command.
    In a blind round no key service is asked (the preview's pseudonyms are empty).

    Raises:
        InputError, ConfigError: as :func:`preview_file`.
    """
    if out is not None and not out.parent.is_dir():
        raise InputError(f"{out}: the output folder does not exist")
    arguments = {
        "input": export.path,
        "provider": keys.provider,
        "out": out,
        "mapping": mapping.source,
        "fallback": False,
        "allow_no_valid_bsn": False,
        "preview": True,
    }
    log = audit_log_path(out) if out is not None else None
    with audited(
        "pseudonymise", inputs=[export.path], arguments=arguments, log=log, hash_inputs=False
    ) as trail:
        key_details(trail, keys.key, keys.contract)
        shown = preview_file(
            export.path, keys.key, provider=keys.provider, mapping=mapping, contract=keys.contract
        )
        trail.add_detail("would_be_refused", shown.would_be_refused)
        trail.add_detail("face", "app")
        pseudonymised_details(trail, shown.quality)
    return shown


def _keys_for_docs() -> KeyChoice:
    """Keys for the examples: a fresh provider key, a contract requiring the care form."""
    from factlab.keys.recipients import new_recipient
    from factlab.keys.round_keys import new_round_key

    contract = Contract(
        required=("bsn", "care_form"), values={"care_form": ("ambulant", "verblijf")}
    )
    return KeyChoice(
        Path("provider.key"),
        new_round_key("doc").provider_key(),
        contract,
        None,
        Path("ttp.pub"),
        new_recipient("ttp")[1],
        "P01",
    )
