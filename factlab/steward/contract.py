"""The round's contract: which fields a steward's file must hold, and which code values it may hold.

The trusted party writes the contract as a TOML file and embeds it in the provider key file it
hands out (``factlab key export-provider --contract contract.toml``), where the key file's check
value binds it (:mod:`factlab.keys.round_keys`): an edited contract makes the key file refuse to
load. ``factlab pseudonymise`` then refuses a file that lacks a required field, or in which more
than the contract's share of a required field's rows cannot be used, and records the contract in
the file's manifest. Without a contract (older key files, the library without one) nothing of
this applies.

::

    version = 1
    round = "drenthe-2026"    # optional: the round of the key it is embedded in
    required = ["bsn", "municipality", "care_form", "financing", "start_date", "end_date"]
    max_unusable_share = 0.05 # default 0.05: of all rows, a required field may be this share
                              # empty, unreadable, not mapped or not an accepted value

    [max_unusable_share_by_field]
    end_date = 0.10

    [values]                  # the values a code field may hold in the file, as written there
    care_form = ["ambulant", "dagbehandeling", "verblijf", "JB/JR"]
    financing = ["ZIN", "PGB"]
    product_category = ["40-55"]    # exact codes, prefixes ("45*") and ranges ("40-55")

Values are compared as the file holds them (after the steward's mapping), case and all: counting
groups by them, so ``Ambulant`` and ``ambulant`` would be two cells. Prefixes and ranges read as
in a value map (:mod:`factlab.steward.value_maps`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab._checks import require_path
from factlab.errors import ConfigError
from factlab.io import read_toml
from factlab.keys.round_keys import contract_digest
from factlab.steward.fields import apply_value_map
from factlab.steward.value_maps import ValueMap, parse_value_map

__all__ = ["Contract", "load_contract", "parse_contract"]

CONTRACT_VERSION: Final = 1
#: Default largest share of a required field's rows that may be unusable.
DEFAULT_MAX_SHARE: Final = 0.05
#: Fields a contract may require: every field a steward's file can hold.
REQUIRABLE: Final = ("bsn", *schema.FIELD_DTYPES)
#: Fields whose values a contract may list (``sex`` is always M, V or X).
VALUE_FIELDS: Final = ("municipality", "domain", "financing", "care_form", "product_category")
_MAX_VALUES: Final = 2000
_MAX_VALUE_LENGTH: Final = 100
_TOP_KEYS: Final = frozenset(
    {"version", "round", "required", "max_unusable_share", "max_unusable_share_by_field", "values"}
)


@dataclass(frozen=True)
class Contract:
    """A validated contract (see the module for its TOML form).

    Attributes:
        required: fields the file must hold, in the order given.
        values: code field → the values it may hold (exact codes, prefixes, ranges).
        max_unusable_share: largest share of rows of a required field that may be unusable.
        max_unusable_share_by_field: that share for single fields.
        round: the round it is written for (None: not said).
        source: where it came from, for messages.
    """

    required: tuple[str, ...] = ()
    values: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    max_unusable_share: float = DEFAULT_MAX_SHARE
    max_unusable_share_by_field: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({})
    )
    round: str | None = None
    source: str = field(default="contract", compare=False)

    def to_document(self) -> dict[str, Any]:
        """The contract as plain data: the form embedded in key files and manifests.

        Reading it back with :func:`parse_contract` gives the same contract.
        """
        document: dict[str, Any] = {
            "version": CONTRACT_VERSION,
            "required": list(self.required),
            "max_unusable_share": self.max_unusable_share,
            "max_unusable_share_by_field": dict(self.max_unusable_share_by_field),
            "values": {name: list(values) for name, values in self.values.items()},
        }
        if self.round is not None:
            document["round"] = self.round
        return document

    @property
    def sha256(self) -> str:
        """Digest of :meth:`to_document` (canonical JSON), the contract's identity."""
        return contract_digest(self.to_document())

    def limit(self, name: str) -> float:
        """The largest share of unusable rows allowed for the field ``name``."""
        return self.max_unusable_share_by_field.get(name, self.max_unusable_share)

    def accepted(self, name: str, text: pl.Expr) -> pl.Expr | None:
        """True where ``text`` (a field's values) is a value the round accepts for ``name``; None
        when the contract lists no values for it (every value is accepted)."""
        values = self.values.get(name)
        if values is None:
            return None
        table = ValueMap.of({value: value for value in values}, path=f"values.{name}")
        return apply_value_map(text.cast(pl.String), table, keep_unmapped=False).is_not_null()

    def accepts(self, name: str, value: str) -> bool:
        """Whether one value (a constant of a mapping, say) is accepted for the field ``name``."""
        values = self.values.get(name)
        if values is None:
            return True
        table = ValueMap.of({item: item for item in values}, path=f"values.{name}")
        return table.lookup(value) is not None

    def summary_lines(self) -> list[str]:
        """The contract in a few lines, for ``factlab key show`` and the steward's summary.

        Example:
            >>> values = {"care_form": ("ambulant",)}
            >>> contract = Contract(required=("bsn", "care_form"), values=values)
            >>> for line in contract.summary_lines()[1:]:
            ...     print(line)
              required fields: bsn, care_form
              unusable rows allowed per required field: 5.0 %
              accepted values: care_form: ambulant
        """
        by_field = "".join(
            f", {name} {share * 100:.1f} %"
            for name, share in self.max_unusable_share_by_field.items()
        )
        lines = [
            f"round contract {self.sha256[:16]} (sha256 {self.sha256})",
            f"  required fields: {', '.join(self.required) or '(none)'}",
            f"  unusable rows allowed per required field: "
            f"{self.max_unusable_share * 100:.1f} %{by_field}",
        ]
        for name, values in self.values.items():
            shown = ", ".join(values[:12]) + (
                f", … ({len(values)} in all)" if len(values) > 12 else ""
            )
            lines.append(f"  accepted values: {name}: {shown}")
        if self.round is not None:
            lines.insert(1, f"  round: {self.round}")
        return lines


def _share(value: Any, path: str, problems: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(f"{path}: must be a share from 0 to 1 (0.05 is 5 %)")
        return None
    return float(value)


def _values(name: str, raw: Any, problems: list[str]) -> tuple[str, ...] | None:
    path = f"values.{name}"
    if name not in VALUE_FIELDS:
        problems.append(f"{path}: values are listed for {', '.join(VALUE_FIELDS)}")
        return None
    if not isinstance(raw, list) or not raw:
        problems.append(f"{path}: must be a non-empty list of values")
        return None
    if len(raw) > _MAX_VALUES:
        problems.append(f"{path}: at most {_MAX_VALUES} values")
        return None
    values: list[str] = []
    for index, value in enumerate(raw):
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_VALUE_LENGTH:
            problems.append(
                f"{path}[{index}]: must be a text of 1 to {_MAX_VALUE_LENGTH} characters"
            )
        elif value != value.strip():
            problems.append(f"{path}[{index}]: remove the spaces around the value")
        elif value in values:
            problems.append(f"{path}[{index}]: given twice")
        else:
            values.append(value)
    # prefixes and ranges as in a value map: the same checks (a lone '*', overlapping ranges)
    parse_value_map({value: value for value in values}, path, problems)
    return tuple(values)


def parse_contract(document: Mapping[str, Any], *, source: str = "contract") -> Contract:
    """Validate a contract document (parsed TOML, or the JSON of a key file); every problem at once.

    Raises:
        ConfigError: one line per problem, each starting with the path of the bad field.

    Example:
        >>> parse_contract({"version": 1, "required": ["bsn", "care_form"]}).required
        ('bsn', 'care_form')
        >>> parse_contract({"version": 1, "required": ["caer_form"]})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        factlab.errors.ConfigError: contract: 1 problem(s): required[0]: unknown field ...
    """
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise ConfigError(source, ["must be a table"])
    for key in sorted(set(document) - _TOP_KEYS):
        problems.append(f"{key}: unknown key")
    version = document.get("version")
    if version is None:
        problems.append("version: required (this factlab reads version 1)")
    elif type(version) is not int or version != CONTRACT_VERSION:
        problems.append(f"version: unsupported ({version!r}); this factlab reads version 1")
    round_name = document.get("round")
    if round_name is not None and (not isinstance(round_name, str) or not round_name.strip()):
        problems.append("round: must be the round's name")

    required: list[str] = []
    raw_required = document.get("required", [])
    if not isinstance(raw_required, list):
        problems.append("required: must be a list of field names")
        raw_required = []
    for index, name in enumerate(raw_required):
        if name not in REQUIRABLE:
            problems.append(
                f"required[{index}]: unknown field {name!r} (fields: {', '.join(REQUIRABLE)})"
            )
        elif name in required:
            problems.append(f"required[{index}]: {name} is named twice")
        else:
            required.append(name)

    share = _share(
        document.get("max_unusable_share", DEFAULT_MAX_SHARE), "max_unusable_share", problems
    )
    by_field: dict[str, float] = {}
    raw_by_field = document.get("max_unusable_share_by_field", {})
    if not isinstance(raw_by_field, Mapping):
        problems.append("max_unusable_share_by_field: must be a table of field = share")
        raw_by_field = {}
    for name, value in raw_by_field.items():
        path = f"max_unusable_share_by_field.{name}"
        if name not in required:
            problems.append(f"{path}: not a required field (required: {', '.join(required)})")
        elif (checked := _share(value, path, problems)) is not None:
            by_field[name] = checked

    values: dict[str, tuple[str, ...]] = {}
    raw_values = document.get("values", {})
    if not isinstance(raw_values, Mapping):
        problems.append("values: must be a table of field = [values]")
        raw_values = {}
    for name, raw in raw_values.items():
        if (listed := _values(str(name), raw, problems)) is not None:
            values[str(name)] = listed

    if problems:
        raise ConfigError(source, problems)
    return Contract(
        required=tuple(required),
        values=MappingProxyType(values),
        max_unusable_share=share if share is not None else DEFAULT_MAX_SHARE,
        max_unusable_share_by_field=MappingProxyType(by_field),
        round=round_name.strip() if isinstance(round_name, str) else None,
        source=source,
    )


def load_contract(path: str | Path) -> Contract:
    """Read and validate a TOML contract file.

    Raises:
        InputError: the file is missing or unreadable.
        ConfigError: not valid TOML, or the contract is invalid (all problems at once).
    """
    path = require_path(path, where="load_contract", name="path")
    return parse_contract(read_toml(path, what="contract file"), source=str(path))
