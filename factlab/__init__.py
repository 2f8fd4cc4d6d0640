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

from factlab._version import __version__
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
from factlab.errors import (
    ConfigError,
    DataError,
    FactlabError,
    InputError,
    KeyFileError,
    LinkError,
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
