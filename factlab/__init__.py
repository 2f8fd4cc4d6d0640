"""factlab: privacy-preserving record linkage and counting of youth-care client data.

The public API, in the order data flows::

    keys          new_round_key, load_key, write_key, Key
    steward       pseudonymise, pseudonymise_file, load_mapping, read_manifest;
                  blind rounds: load_service_config, BlindService (docs/keyservice.md)
    trusted party link, count, overlap, flows, repeat_use, costs, write_counts
    estimates     estimate, load_corrections, corrections_2014
    publication   protect, preset, load_rules, prevalence
    reference     load_reference, map_municipalities, concentration
    transport     new_recipient, write_recipient, load_recipient_public, load_recipient_private,
                  seal, unseal
    monitor       append_to_store, open_store, series, transitions, reentry, durations,
                  cost_change
    synthetic     the synth module (seeded provider exports, the 2014 round)

Every public function checks the types of its arguments first and raises one ``TypeError`` that
says what to pass (``link("a.parquet", ...)`` asks for a list; a path where a key belongs asks for
``factlab.load_key(path)``). Problems with files and data raise the ``FactlabError`` subclasses;
what factlab can go on with but you should fix is a ``FactlabWarning``.

Example:
    >>> import polars as pl
    >>> import factlab
    >>> key = factlab.new_round_key("notebook-2026")
    >>> rows = factlab.pseudonymise(
    ...     pl.DataFrame({"bsn": ["999993653", "9999 91 723"]}), key, provider="P01"
    ... )
    >>> factlab.count(rows).unique_clients
    2
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

from factlab._version import __version__
from factlab.errors import (
    ConfigError,
    DataError,
    FactlabError,
    FactlabWarning,
    InputError,
    KeyFileError,
    LinkError,
)

if TYPE_CHECKING:
    from factlab.analysis.costs import CostResult, costs
    from factlab.analysis.count_files import write_counts
    from factlab.analysis.counts import CountResult, count
    from factlab.analysis.flows import FlowResult, RepeatResult, flows, repeat_use
    from factlab.analysis.link import link
    from factlab.analysis.overlap import OverlapResult, overlap
    from factlab.disclosure.prevalence import PrevalenceResult, prevalence
    from factlab.disclosure.protect import ProtectedTable, Protection, protect
    from factlab.disclosure.rules import disclosure_2014, load_rules, preset
    from factlab.estimation.corrections import corrections_2014, load_corrections
    from factlab.estimation.estimate import Estimate, estimate
    from factlab.keys.pseudonym import second_stage
    from factlab.keys.recipients import (
        load_recipient_private,
        load_recipient_public,
        new_recipient,
        write_recipient,
    )
    from factlab.keys.round_keys import Key, load_key, new_round_key, write_key
    from factlab.keys.seal import seal, unseal
    from factlab.manifest import Manifest, read_manifest
    from factlab.monitor.cost_change import CostChangeResult, cost_change
    from factlab.monitor.durations import DurationResult, durations
    from factlab.monitor.series import SeriesResult, series
    from factlab.monitor.store import Store, append_to_store, open_store
    from factlab.monitor.transitions import ReentryResult, TransitionResult, reentry, transitions
    from factlab.periods import Period, parse_period
    from factlab.reference.concentration import Concentration, concentration
    from factlab.reference.config import Reference, load_reference
    from factlab.reference.municipalities import map_municipalities
    from factlab.steward.blind import BlindService, load_service_config
    from factlab.steward.fallback import FallbackReport, fallback_report
    from factlab.steward.mapping import ColumnMapping, load_mapping
    from factlab.steward.pseudonymise import (
        Pseudonymised,
        pseudonymise,
        pseudonymise_file,
    )
    from factlab.steward.quality import Quality

# The public names below are imported on first use (PEP 562), so that ``import factlab`` and the
# command-line tool load only what a task needs: the disclosure, estimation and report modules
# pull in SciPy, NumPy, matplotlib and xlsxwriter, about a second of start-up together.
_LAZY: dict[str, str] = {
    "BlindService": "factlab.steward.blind",
    "ColumnMapping": "factlab.steward.mapping",
    "Concentration": "factlab.reference.concentration",
    "CostChangeResult": "factlab.monitor.cost_change",
    "CostResult": "factlab.analysis.costs",
    "CountResult": "factlab.analysis.counts",
    "DurationResult": "factlab.monitor.durations",
    "Estimate": "factlab.estimation.estimate",
    "FallbackReport": "factlab.steward.fallback",
    "FlowResult": "factlab.analysis.flows",
    "Key": "factlab.keys.round_keys",
    "Manifest": "factlab.manifest",
    "OverlapResult": "factlab.analysis.overlap",
    "Period": "factlab.periods",
    "PrevalenceResult": "factlab.disclosure.prevalence",
    "ProtectedTable": "factlab.disclosure.protect",
    "Protection": "factlab.disclosure.protect",
    "Pseudonymised": "factlab.steward.pseudonymise",
    "Quality": "factlab.steward.quality",
    "ReentryResult": "factlab.monitor.transitions",
    "Reference": "factlab.reference.config",
    "RepeatResult": "factlab.analysis.flows",
    "SeriesResult": "factlab.monitor.series",
    "Store": "factlab.monitor.store",
    "TransitionResult": "factlab.monitor.transitions",
    "append_to_store": "factlab.monitor.store",
    "concentration": "factlab.reference.concentration",
    "corrections_2014": "factlab.estimation.corrections",
    "cost_change": "factlab.monitor.cost_change",
    "costs": "factlab.analysis.costs",
    "count": "factlab.analysis.counts",
    "disclosure_2014": "factlab.disclosure.rules",
    "durations": "factlab.monitor.durations",
    "estimate": "factlab.estimation.estimate",
    "fallback_report": "factlab.steward.fallback",
    "flows": "factlab.analysis.flows",
    "link": "factlab.analysis.link",
    "load_corrections": "factlab.estimation.corrections",
    "load_key": "factlab.keys.round_keys",
    "load_mapping": "factlab.steward.mapping",
    "load_recipient_private": "factlab.keys.recipients",
    "load_recipient_public": "factlab.keys.recipients",
    "load_reference": "factlab.reference.config",
    "load_rules": "factlab.disclosure.rules",
    "load_service_config": "factlab.steward.blind",
    "map_municipalities": "factlab.reference.municipalities",
    "new_recipient": "factlab.keys.recipients",
    "new_round_key": "factlab.keys.round_keys",
    "open_store": "factlab.monitor.store",
    "overlap": "factlab.analysis.overlap",
    "parse_period": "factlab.periods",
    "preset": "factlab.disclosure.rules",
    "prevalence": "factlab.disclosure.prevalence",
    "protect": "factlab.disclosure.protect",
    "pseudonymise": "factlab.steward.pseudonymise",
    "pseudonymise_file": "factlab.steward.pseudonymise",
    "read_manifest": "factlab.manifest",
    "reentry": "factlab.monitor.transitions",
    "repeat_use": "factlab.analysis.flows",
    "seal": "factlab.keys.seal",
    "second_stage": "factlab.keys.pseudonym",
    "series": "factlab.monitor.series",
    "transitions": "factlab.monitor.transitions",
    "unseal": "factlab.keys.seal",
    "write_counts": "factlab.analysis.count_files",
    "write_key": "factlab.keys.round_keys",
    "write_recipient": "factlab.keys.recipients",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'factlab' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later look-ups no longer come here
    return value


def __dir__() -> list[str]:
    # The public API, and nothing of the machinery behind it.
    return sorted(__all__)


__all__ = [
    "BlindService",
    "ColumnMapping",
    "Concentration",
    "ConfigError",
    "CostChangeResult",
    "CostResult",
    "CountResult",
    "DataError",
    "DurationResult",
    "Estimate",
    "FactlabError",
    "FactlabWarning",
    "FallbackReport",
    "FlowResult",
    "InputError",
    "Key",
    "KeyFileError",
    "LinkError",
    "Manifest",
    "OverlapResult",
    "Period",
    "PrevalenceResult",
    "ProtectedTable",
    "Protection",
    "Pseudonymised",
    "Quality",
    "ReentryResult",
    "Reference",
    "RepeatResult",
    "SeriesResult",
    "Store",
    "TransitionResult",
    "__version__",
    "append_to_store",
    "concentration",
    "corrections_2014",
    "cost_change",
    "costs",
    "count",
    "disclosure_2014",
    "durations",
    "estimate",
    "fallback_report",
    "flows",
    "link",
    "load_corrections",
    "load_key",
    "load_mapping",
    "load_recipient_private",
    "load_recipient_public",
    "load_reference",
    "load_rules",
    "load_service_config",
    "map_municipalities",
    "new_recipient",
    "new_round_key",
    "open_store",
    "overlap",
    "parse_period",
    "preset",
    "prevalence",
    "protect",
    "pseudonymise",
    "pseudonymise_file",
    "read_manifest",
    "reentry",
    "repeat_use",
    "seal",
    "second_stage",
    "series",
    "transitions",
    "unseal",
    "write_counts",
    "write_key",
    "write_recipient",
]
