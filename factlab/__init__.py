"""factlab: privacy-preserving record linkage and counting of youth-care client data.

The public API, in the order data flows::

    keys          new_round_key, load_key, write_key, Key
    steward       pseudonymise, pseudonymise_file, load_mapping, read_manifest
    trusted party link, count, overlap, flows, repeat_use, costs, write_counts
    estimates     estimate, load_corrections, corrections_2014
    publication   protect, preset, load_rules
    transport     new_recipient, write_recipient, load_recipient_public, load_recipient_private,
                  seal, unseal
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
    from factlab.periods import Period, parse_period
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
    "ColumnMapping": "factlab.steward.mapping",
    "CostResult": "factlab.analysis.costs",
    "CountResult": "factlab.analysis.counts",
    "Estimate": "factlab.estimation.estimate",
    "FallbackReport": "factlab.steward.fallback",
    "FlowResult": "factlab.analysis.flows",
    "Key": "factlab.keys.round_keys",
    "Manifest": "factlab.manifest",
    "OverlapResult": "factlab.analysis.overlap",
    "Period": "factlab.periods",
    "ProtectedTable": "factlab.disclosure.protect",
    "Protection": "factlab.disclosure.protect",
    "Pseudonymised": "factlab.steward.pseudonymise",
    "Quality": "factlab.steward.quality",
    "RepeatResult": "factlab.analysis.flows",
    "corrections_2014": "factlab.estimation.corrections",
    "costs": "factlab.analysis.costs",
    "count": "factlab.analysis.counts",
    "disclosure_2014": "factlab.disclosure.rules",
    "estimate": "factlab.estimation.estimate",
    "fallback_report": "factlab.steward.fallback",
    "flows": "factlab.analysis.flows",
    "link": "factlab.analysis.link",
    "load_corrections": "factlab.estimation.corrections",
    "load_key": "factlab.keys.round_keys",
    "load_mapping": "factlab.steward.mapping",
    "load_recipient_private": "factlab.keys.recipients",
    "load_recipient_public": "factlab.keys.recipients",
    "load_rules": "factlab.disclosure.rules",
    "new_recipient": "factlab.keys.recipients",
    "new_round_key": "factlab.keys.round_keys",
    "overlap": "factlab.analysis.overlap",
    "parse_period": "factlab.periods",
    "preset": "factlab.disclosure.rules",
    "protect": "factlab.disclosure.protect",
    "pseudonymise": "factlab.steward.pseudonymise",
    "pseudonymise_file": "factlab.steward.pseudonymise",
    "read_manifest": "factlab.manifest",
    "repeat_use": "factlab.analysis.flows",
    "seal": "factlab.keys.seal",
    "second_stage": "factlab.keys.pseudonym",
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
    "ColumnMapping",
    "ConfigError",
    "CostResult",
    "CountResult",
    "DataError",
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
    "ProtectedTable",
    "Protection",
    "Pseudonymised",
    "Quality",
    "RepeatResult",
    "__version__",
    "corrections_2014",
    "costs",
    "count",
    "disclosure_2014",
    "estimate",
    "fallback_report",
    "flows",
    "link",
    "load_corrections",
    "load_key",
    "load_mapping",
    "load_recipient_private",
    "load_recipient_public",
    "load_rules",
    "new_recipient",
    "new_round_key",
    "overlap",
    "parse_period",
    "preset",
    "protect",
    "pseudonymise",
    "pseudonymise_file",
    "read_manifest",
    "repeat_use",
    "seal",
    "second_stage",
    "unseal",
    "write_counts",
    "write_key",
    "write_recipient",
]
