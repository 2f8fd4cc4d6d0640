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

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from factlab._version import __version__
from factlab.errors import (
    ConfigError,
    DataError,
    FactlabError,
    InputError,
    KeyFileError,
    LinkError,
)

if TYPE_CHECKING:
    from factlab.corrections import corrections_2014, load_corrections
    from factlab.costs import CostResult, costs
    from factlab.counts import CountResult, count, write_counts
    from factlab.disclosure import (
        ProtectedTable,
        Protection,
        disclosure_2014,
        load_rules,
        preset,
        protect,
    )
    from factlab.estimation import Estimate, estimate
    from factlab.fallback import FallbackReport, fallback_report
    from factlab.flows import FlowResult, RepeatResult, flows, repeat_use
    from factlab.keys import Key, load_key, new_round_key, write_key
    from factlab.link import link
    from factlab.manifest import Manifest, read_manifest
    from factlab.mapping import ColumnMapping, load_mapping
    from factlab.overlap import OverlapResult, overlap
    from factlab.periods import Period, parse_period
    from factlab.pseudonymise import (
        Pseudonymised,
        Quality,
        pseudonymise,
        pseudonymise_file,
        second_stage,
    )
    from factlab.recipients import (
        load_recipient_private,
        load_recipient_public,
        new_recipient,
        write_recipient,
    )
    from factlab.seal import seal, unseal

# The public names below are imported on first use (PEP 562), so that ``import factlab`` and the
# command-line tool load only what a task needs: the disclosure, estimation and report modules
# pull in SciPy, NumPy, matplotlib and xlsxwriter, about a second of start-up together.
_LAZY: dict[str, str] = {
    "ColumnMapping": "factlab.mapping",
    "CostResult": "factlab.costs",
    "CountResult": "factlab.counts",
    "Estimate": "factlab.estimation",
    "FallbackReport": "factlab.fallback",
    "FlowResult": "factlab.flows",
    "Key": "factlab.keys",
    "Manifest": "factlab.manifest",
    "OverlapResult": "factlab.overlap",
    "Period": "factlab.periods",
    "ProtectedTable": "factlab.disclosure",
    "Protection": "factlab.disclosure",
    "Pseudonymised": "factlab.pseudonymise",
    "Quality": "factlab.pseudonymise",
    "RepeatResult": "factlab.flows",
    "corrections_2014": "factlab.corrections",
    "costs": "factlab.costs",
    "count": "factlab.counts",
    "disclosure_2014": "factlab.disclosure",
    "estimate": "factlab.estimation",
    "fallback_report": "factlab.fallback",
    "flows": "factlab.flows",
    "link": "factlab.link",
    "load_corrections": "factlab.corrections",
    "load_key": "factlab.keys",
    "load_mapping": "factlab.mapping",
    "load_recipient_private": "factlab.recipients",
    "load_recipient_public": "factlab.recipients",
    "load_rules": "factlab.disclosure",
    "new_recipient": "factlab.recipients",
    "new_round_key": "factlab.keys",
    "overlap": "factlab.overlap",
    "parse_period": "factlab.periods",
    "preset": "factlab.disclosure",
    "protect": "factlab.disclosure",
    "pseudonymise": "factlab.pseudonymise",
    "pseudonymise_file": "factlab.pseudonymise",
    "read_manifest": "factlab.manifest",
    "repeat_use": "factlab.flows",
    "seal": "factlab.seal",
    "second_stage": "factlab.pseudonymise",
    "unseal": "factlab.seal",
    "write_counts": "factlab.counts",
    "write_key": "factlab.keys",
    "write_recipient": "factlab.recipients",
}

#: Public functions named like the module that holds them (``factlab.seal`` is both).
_SHADOWED = frozenset(name for name, module in _LAZY.items() if module == f"factlab.{name}")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'factlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups no longer come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The factlab package, which keeps its public functions when a same-named module loads.

    Importing the submodule ``factlab.seal`` makes Python set the package attribute ``seal`` to
    that module, which would hide the public function ``factlab.seal`` (bound lazily, so not yet
    there). The module stays reachable as ``sys.modules["factlab.seal"]``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "ColumnMapping",
    "ConfigError",
    "CostResult",
    "CountResult",
    "DataError",
    "Estimate",
    "FactlabError",
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
