"""The words of a report: provenance, how to read the numbers, warnings, notes on tables.

Provenance holds no count in a public report: the key fingerprint (never a key), versions, the
configuration and the rules. Row counts of the inputs and the label of each provider are added
only in an internal report, and so are the SHA-256 digests of the inputs (pseudonymised files):
whoever holds the provider key could match a small provider file's digest by rebuilding the file
for one BSN after another. A public report shows the linked file's digest only when the linked
file is of the second stage, whose key the stewards lack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from factlab._version import __version__
from factlab.manifest import Manifest
from factlab.report.config import RoundConfig
from factlab.report.model import INTERNAL_MARK
from factlab.report.tables import Timing

__all__ = [
    "dimension_name",
    "dimension_notes",
    "overlap_notes",
    "provenance",
    "reading_notes",
    "warnings",
]

_DIMENSION_NAMES: Final = {
    "municipality": "municipality",
    "care_form": "care form",
    "financing": "financing",
    "domain": "domain",
    "product_category": "product category",
    "sex": "sex",
    "birth_year": "birth year",
    "age_group": "age group",
    "provider": "provider",
}


def dimension_name(dimension: str) -> str:
    return _DIMENSION_NAMES.get(dimension, dimension.replace("_", " "))


def provenance(
    linked: Mapping[str, Any],
    manifest: Manifest | None,
    labels: Mapping[str, str],
    config: RoundConfig,
    dims: Sequence[str],
    internal: bool,
    generated: str,
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if manifest is not None:
        stage = "2 (two-stage)" if manifest.stage == 2 else f"{manifest.stage} (single-stage)"
        digest = str(linked.get("sha256", ""))
        if not internal and manifest.stage != 2:
            digest = "in the internal report only (single-stage: stage-1 pseudonyms)"
        groups.append(
            (
                "Linked file",
                (
                    ("file", Path(str(linked.get("path", ""))).name),
                    ("sha256", digest),
                    ("format", manifest.format),
                    ("pseudonymisation scheme", manifest.scheme),
                    ("stage", stage),
                    ("round", manifest.round),
                    ("key id", manifest.key_id),
                    ("key fingerprint", manifest.key_fingerprint),
                    ("written by factlab", manifest.factlab_version),
                    ("created", manifest.created),
                ),
            )
        )
        inputs = []
        for entry in manifest.inputs:
            code = str(entry.get("provider"))
            label = labels.get(code, code)
            if internal:
                parts = [
                    f"sha256 {entry.get('sha256', '')}",
                    f"code {code}",
                    f"rows {entry.get('rows')}",
                    f"created {entry.get('created')}",
                ]
                inputs.append((label, "; ".join(parts)))
            else:  # no digest of a pseudonymised file in public (see the module)
                inputs.append((label, "provider file; its SHA-256 in the internal report only"))
        groups.append(("Inputs", tuple(sorted(inputs))))
    else:
        groups.append(("Linked rows", (("source", "rows given in memory, no manifest"),)))
    rules = config.rules
    zero = "0 and " if rules.zero_is_secret else ""
    settings = [
        ("factlab version", __version__),
        ("generated", generated),
        ("configuration", Path(config.source).name if config.files else config.source),
        *((what, text) for what, text in config.files),
        ("counted", config.time_label),
        ("dimensions", ", ".join(dimension_name(d) for d in dims) or "none"),
        ("provider labels", "anonymised (A, B, ...)" if config.anonymise_providers else "codes"),
    ]
    if internal:
        settings.append(("disclosure control", f"none: {INTERNAL_MARK}"))
        if config.anonymise_providers:
            mapping = ", ".join(f"{label} = {code}" for code, label in labels.items())
            settings.append(("label of each provider", mapping))
    else:
        settings.append(
            (
                "disclosure control",
                f"rules {rules.name}: {zero}1–{rules.secret_max} secret, rounding to multiples "
                f"of {rules.rounding_base}, protection width at least {rules.min_width:g} and "
                f"{rules.protection_percent:g} %",
            )
        )
    if config.corrections is not None:
        settings.append(("corrections", config.corrections.title))
    groups.append(("This report", tuple(settings)))
    return tuple(groups)


def reading_notes(config: RoundConfig, internal: bool, has_estimate: bool) -> tuple[str, ...]:
    rules = config.rules
    notes = [
        "A client counts once in each cell and once in each total, so the cells of a table add "
        "up to more than its total; the sum of cells counts cell memberships, the total persons.",
        "Only rows with a valid BSN can be linked and counted as clients; the data-quality "
        "table shows the rows without one.",
    ]
    if internal:
        notes.insert(0, f"Exact counts without disclosure control: {INTERNAL_MARK}.")
    else:
        zero = "0 and " if rules.zero_is_secret else ""
        notes.insert(
            0,
            f"Disclosure control (rules {rules.name}): counts of {zero}1–{rules.secret_max} are "
            'shown as "."; further counts are suppressed so that no hidden count can be worked '
            f"out; every published count is rounded to a multiple of {rules.rounding_base}. "
            "Totals are rounded on their own and need not equal the sum of their rounded cells.",
        )
        notes.append(
            "Percentages and differences are computed from the published (rounded) values; a "
            'difference that falls in the secret range is shown as "." too.'
        )
    if has_estimate:
        step = 1 if internal else config.corrections_rounding
        notes.append(
            "Corrected totals are model estimates, not counts"
            + (f", rounded to multiples of {step}." if step > 1 else ".")
        )
    return tuple(notes)


def warnings(manifest: Manifest | None) -> tuple[str, ...]:
    if manifest is None:
        return ("The rows were given in memory without a manifest: their provenance is unknown.",)
    if manifest.stage == 1:
        return (
            "Single-stage pseudonymisation: this round was linked without the trusted party's "
            "second stage. Whoever holds the provider key can recompute these pseudonyms from "
            "BSNs (see docs/threat-model.md).",
        )
    return ()


def dimension_notes(dim: str, timing: Timing) -> tuple[str, ...]:
    notes = [f"Clients {timing.phrase}" + (", and in each part." if timing.parts else ".")]
    if dim == "municipality":
        notes.append(
            "By municipality of residence; a client who moved counts where they lived last."
        )
    else:
        notes.append(
            f"A client with care in several {dimension_name(dim)} values counts in each of them."
        )
    return tuple(notes)


def overlap_notes(config: RoundConfig, timing: Timing) -> tuple[str, ...]:
    notes = [
        f"Clients {timing.phrase} that two providers share; the diagonal holds each "
        "provider's own clients."
    ]
    if config.anonymise_providers:
        notes.append("Providers are labelled A, B, ... by the number of rows they delivered.")
    return tuple(notes)
