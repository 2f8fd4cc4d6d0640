"""The words of a report: provenance, how to read the numbers, warnings, notes, the legend.

Every sentence is a message of :mod:`factlab.report.messages` in the report's language; numbers
and dates in it are formatted with :mod:`factlab.report.i18n`.

Provenance holds no count in a public report: the key fingerprint (never a key), versions, the
configuration and the rules. Row counts of the inputs and the label of each provider are added
only in an internal report, and so are the SHA-256 digests of the inputs (pseudonymised files):
whoever holds the provider key could match a small provider file's digest by rebuilding the file
for one BSN after another. A public report shows the linked file's digest only when the linked
file is of the second stage, whose key the stewards lack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final

from factlab._version import __version__
from factlab.manifest import Manifest
from factlab.reference.config import Reference
from factlab.report import i18n
from factlab.report.config import RoundConfig
from factlab.report.model import INTERNAL_MARK
from factlab.report.tables import Timing

__all__ = [
    "dimension_notes",
    "legend",
    "overlap_notes",
    "phrase",
    "provenance",
    "reading_notes",
    "warnings",
]

_FILE_KINDS: Final = {
    "round config": "file_round_config",
    "disclosure rules": "file_disclosure_rules",
    "corrections": "file_corrections",
    "reference": "file_reference",
    "municipality table": "file_municipality_table",
    "municipality changes": "file_municipality_changes",
    "municipality aliases": "file_municipality_aliases",
    "provider registry": "file_provider_registry",
    "population": "file_population",
}


def _reference_rows(config: RoundConfig, word: Callable[..., str]) -> list[tuple[str, str]]:
    """The reference data's year and the tables it read, each with its digest."""
    reference = config.reference
    if reference is None:
        return []
    return [
        (word("file_reference_year"), str(reference.year)),
        *((word(_FILE_KINDS[kind]), text) for kind, text in reference.files),
    ]


def phrase(language: str, timing: Timing) -> str:
    """Which clients are counted, in words: ``in zorg op 1 januari 2013``."""
    if timing.period is not None:
        return i18n.text(
            language, "phrase_period", period=i18n.period_name(language, timing.period.label)
        )
    if timing.on is not None:
        return i18n.text(language, "phrase_reference", date=i18n.day(language, timing.on))
    return i18n.text(language, "phrase_all")


def provenance(
    linked: Mapping[str, Any],
    manifest: Manifest | None,
    labels: Mapping[str, str],
    config: RoundConfig,
    dims: Sequence[str],
    internal: bool,
    generated: str,
    delivered: date | None = None,
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Where the report's numbers come from, in groups of (label, value) lines."""
    language = config.language

    def word(key: str, **values: object) -> str:
        return i18n.text(language, key, **values)

    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if manifest is not None:
        stage = (
            word("stage_two") if manifest.stage == 2 else word("stage_one", stage=manifest.stage)
        )
        digest = str(linked.get("sha256", ""))
        if not internal and manifest.stage != 2:
            digest = word("prov_digest_internal")
        groups.append(
            (
                word("prov_linked_file"),
                (
                    (word("prov_file"), Path(str(linked.get("path", ""))).name),
                    (word("prov_sha256"), digest),
                    (word("prov_format"), manifest.format),
                    (word("prov_scheme"), manifest.scheme),
                    *_custody(manifest, word),
                    (word("prov_stage"), stage),
                    (word("prov_round"), manifest.round),
                    (word("prov_key_id"), manifest.key_id),
                    (word("prov_key_fingerprint"), manifest.key_fingerprint),
                    (word("prov_written_by"), manifest.factlab_version),
                    (word("prov_created"), manifest.created),
                ),
            )
        )
        inputs = []
        for entry in manifest.inputs:
            code = str(entry.get("provider"))
            label = labels.get(code, code)
            if internal:
                text = word(
                    "prov_input_internal",
                    sha256=entry.get("sha256", ""),
                    code=code,
                    rows=entry.get("rows"),
                    created=entry.get("created"),
                )
                inputs.append((label, text))
            else:  # no digest of a pseudonymised file in public (see the module)
                inputs.append((label, word("prov_input_public")))
        groups.append((word("prov_inputs"), tuple(sorted(inputs))))
    else:
        groups.append((word("prov_linked_rows"), ((word("prov_source"), word("prov_in_memory")),)))
    rules = config.rules
    settings = [
        (word("prov_version"), __version__),
        (word("prov_generated"), generated),
        (word("prov_configuration"), Path(config.source).name if config.files else config.source),
        *(
            (word(_FILE_KINDS[what]) if what in _FILE_KINDS else what, t)
            for what, t in config.files
        ),
        *_reference_rows(config, word),
        (word("prov_language"), language),
        (word("prov_counted"), config.time_text(language)),
        (
            word("prov_dimensions"),
            ", ".join(i18n.dimension_name(language, d) for d in dims) or word("prov_none"),
        ),
        (
            word("prov_labels"),
            word("labels_anonymised") if config.anonymise_providers else word("labels_codes"),
        ),
    ]
    if delivered is not None:
        settings.append((word("prov_delivery"), i18n.day(language, delivered)))
    if internal:
        settings.append((word("prov_disclosure"), word("disclosure_none", mark=INTERNAL_MARK)))
        if config.anonymise_providers:
            mapping = ", ".join(f"{label} = {code}" for code, label in labels.items())
            settings.append((word("prov_label_map"), mapping))
    else:
        settings.append(
            (
                word("prov_disclosure"),
                word(
                    "disclosure_rules",
                    rules=rules.name,
                    zero=word("zero_and") if rules.zero_is_secret else "",
                    secret_max=rules.secret_max,
                    base=rules.rounding_base,
                    width=i18n.parameter(language, rules.min_width),
                    percent=i18n.parameter(language, rules.protection_percent),
                ),
            )
        )
    if config.corrections is not None:
        title = config.corrections_title or config.corrections.title
        settings.append((word("prov_corrections"), title))
    groups.append((word("prov_this_report"), tuple(settings)))
    return tuple(groups)


def _custody(manifest: Manifest, word: Callable[..., str]) -> tuple[tuple[str, str], ...]:
    """The custody of a blind round's inputs (two key services or one), when any input has one.

    Each steward's manifest says it (``extra.custody``) and link keeps it per input; a public
    fact (who could compute the pseudonyms), so public reports show it too.
    """
    kinds = [entry.get("custody") for entry in manifest.inputs]
    if not any(kind in ("split", "single") for kind in kinds):
        return ()
    services = ", ".join(
        sorted({str(name) for entry in manifest.inputs for name in entry.get("key_services", [])})
    )
    single = kinds.count("single")
    if single:
        text = word("custody_single", count=single, total=len(kinds), services=services)
    else:
        text = word("custody_split", services=services)
    return ((word("prov_custody"), text),)


def reading_notes(config: RoundConfig, internal: bool, has_estimate: bool) -> tuple[str, ...]:
    """How to read the numbers: disclosure control, cells and totals, rounding of estimates."""
    language, rules = config.language, config.rules
    notes = [i18n.text(language, "note_cells"), i18n.text(language, "note_valid")]
    if internal:
        notes.insert(0, i18n.text(language, "note_exact", mark=INTERNAL_MARK))
    else:
        notes.insert(
            0,
            i18n.text(
                language,
                "note_disclosure",
                rules=rules.name,
                zero=i18n.text(language, "zero_and") if rules.zero_is_secret else "",
                secret_max=rules.secret_max,
                base=rules.rounding_base,
            ),
        )
        notes.append(i18n.text(language, "note_percentages"))
    if has_estimate:
        step = 1 if internal else config.corrections_rounding
        if step > 1:
            notes.append(i18n.text(language, "note_estimate_rounded", step=step))
        else:
            notes.append(i18n.text(language, "note_estimate"))
        if not internal:
            notes.append(i18n.text(language, "note_estimate_protected"))
    return tuple(notes)


def legend(config: RoundConfig, internal: bool) -> tuple[str, ...]:
    """The explanation of symbols (Verklaring van tekens), one line each."""
    language = config.language
    lines = [
        i18n.text(language, "legend_suppressed"),
        i18n.text(language, "legend_nil"),
        i18n.text(language, "legend_structural"),
    ]
    if internal:
        return (*lines, i18n.text(language, "legend_exact"))
    lines.append(i18n.text(language, "legend_rounded", base=config.rules.rounding_base))
    base = config.rules.rounding_base
    lines.append(
        i18n.text(
            language,
            "legend_quality_rounded",
            base=max(config.data_quality_rounding or base, base),
            secret_max=config.rules.secret_max,
        )
    )
    return tuple(lines)


def warnings(manifest: Manifest | None, language: str = "nl") -> tuple[str, ...]:
    """Warnings about the provenance: no manifest, single-stage pseudonyms, or inputs made in
    a blind round's single-service mode (one key service could compute every pseudonym)."""
    if manifest is None:
        return (i18n.text(language, "warn_no_manifest"),)
    found = []
    if manifest.stage == 1:
        found.append(i18n.text(language, "warn_single_stage"))
    single = sum(1 for entry in manifest.inputs if entry.get("custody") == "single")
    if single:
        total = len(manifest.inputs)
        found.append(i18n.text(language, "warn_single_service", count=single, total=total))
    return tuple(found)


def dimension_notes(
    dim: str, timing: Timing, language: str = "nl", reference: Reference | None = None
) -> tuple[str, ...]:
    """The notes under a table of one dimension (a level of ``reference``: how it groups)."""
    key = "note_dimension_parts" if timing.parts else "note_dimension"
    notes = [i18n.text(language, key, phrase=phrase(language, timing))]
    below = _level_below(dim, reference)
    if below is not None and reference is not None:
        notes.append(
            i18n.text(
                language,
                "note_level",
                dimension=i18n.dimension_name(language, dim),
                children=i18n.dimension_name(language, below),
                year=reference.year,
            )
        )
        if any(
            h.dimension == "municipality" and dim in h.levels
            for h in reference.hierarchies.values()
        ):
            notes.append(i18n.text(language, "note_municipality"))
    elif dim == "municipality":
        notes.append(i18n.text(language, "note_municipality"))
        if reference is not None:
            notes.append(i18n.text(language, "note_municipality_reference", year=reference.year))
    else:
        notes.append(
            i18n.text(language, "note_several", dimension=i18n.dimension_name(language, dim))
        )
    return tuple(notes)


def _level_below(dim: str, reference: Reference | None) -> str | None:
    """The dimension whose values a level of ``reference`` groups (None: not a level)."""
    for hierarchy in reference.hierarchies.values() if reference is not None else ():
        if dim in hierarchy.levels:
            index = hierarchy.levels.index(dim)
            return hierarchy.dimension if index == 0 else hierarchy.levels[index - 1]
    return None


def overlap_notes(config: RoundConfig, timing: Timing) -> tuple[str, ...]:
    """The notes under the overlap matrix."""
    language = config.language
    notes = [i18n.text(language, "note_overlap", phrase=phrase(language, timing))]
    if config.anonymise_providers:
        notes.append(i18n.text(language, "note_overlap_anonymised"))
    return tuple(notes)
