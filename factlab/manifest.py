"""What every factlab output file says about itself.

A manifest is a small JSON document stored in the Parquet file's key-value metadata under
:data:`factlab.schema.MANIFEST_KEY`. It holds no secret and no client value: the scheme version,
round, key id and key fingerprint (never the key), provider, row counts by status, the factlab
version and the creation time. Linking reads manifests before any row.

It holds no unkeyed digest of client data either: a sealed file shows its manifest in the clear,
and the SHA-256 of a small raw export is reversed by trying every BSN. The export's digest stays
in the steward's audit log. (Digests of pseudonymised files, in a linked file's ``inputs``, are
of keyed data and cannot be enumerated.)
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from factlab import schema
from factlab._checks import require_path
from factlab._export_checks import open_regular
from factlab._version import __version__
from factlab.errors import InputError

__all__ = ["Manifest", "now_iso", "read_manifest"]


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Manifest:
    """Self-description of a factlab Parquet file.

    Attributes:
        format: ``factlab-pseudonymised`` (one provider's file) or ``factlab-linked``.
        scheme: pseudonymisation scheme version, e.g. ``factlab-hmac-sha256-v1``.
        round: name of the counting round the key belongs to.
        key_id: identifier of the round key.
        key_fingerprint: public fingerprint of the first-stage key (never the key itself).
        rows: number of rows in the file.
        rows_by_status: row counts per BSN status (all statuses present, zeros included).
        provider: provider code (one provider's file) or None (linked file).
        stage: 1 for first-stage pseudonyms, 2 after the trusted party's second stage.
        input_format: ``csv``, ``xlsx``, ``parquet`` or ``dataframe``.
        field_issues: per output column, counts of values that could not be read, by reason.
        inputs: for a linked file, one entry per input file (provider, sha256, rows, by status).
        columns: for a steward's file, every column of the export and the fields it fed (none:
            dropped), then the mapping's constants (``docs/formats.md``); names only.
        unmapped_values: for a steward's file, per code field the values that were not mapped
            or not accepted, with row counts (at most 20 each; values that could identify a
            client are counted, never stored: see :mod:`factlab.steward.columns`).
        contract: the round's contract the file was checked against (its ``sha256`` and
            ``document``), with the share of unusable rows per required field (``check``);
            None when there was no contract.
        extra: further non-secret facts a stage wants to record.
        factlab_version: version of factlab that wrote the file.
        created: creation time, ISO 8601 UTC.
    """

    format: str
    scheme: str
    round: str
    key_id: str
    key_fingerprint: str
    rows: int
    rows_by_status: dict[str, int]
    provider: str | None = None
    stage: int = 1
    input_format: str | None = None
    field_issues: dict[str, dict[str, int]] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    columns: list[dict[str, str | list[str]]] = field(default_factory=list)
    unmapped_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    contract: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    factlab_version: str = __version__
    created: str = field(default_factory=now_iso)

    def to_json(self) -> str:
        """Serialise to compact, key-sorted JSON."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, *, source: str = "manifest") -> Manifest:
        """Parse a manifest; raise :class:`InputError` naming ``source`` when it is malformed."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}: the factlab manifest is not valid JSON") from exc
        if not isinstance(data, dict):
            raise InputError(f"{source}: the factlab manifest is not a JSON object")
        known = set(cls.__dataclass_fields__)
        missing = [
            name
            for name in ("format", "scheme", "round", "key_id", "key_fingerprint", "rows")
            if name not in data
        ]
        if missing:
            raise InputError(f"{source}: the factlab manifest lacks {', '.join(missing)}")
        fields = {key: value for key, value in data.items() if key in known}
        _check_types(fields, source)
        return cls(**fields)

    def to_parquet_metadata(self) -> dict[str, str]:
        """The key-value metadata to store in a Parquet file."""
        return {schema.MANIFEST_KEY: self.to_json()}


#: Stages a file can be at: 1 (the stewards' pseudonyms) or 2 (after the trusted party's stage).
_STAGES: Final = (1, 2)


def _check_types(fields: dict[str, Any], source: str) -> None:
    """Refuse fields whose JSON values do not have the types of :class:`Manifest`'s attributes.

    A forged or damaged manifest (``"rows": "1500"``, ``"rows_by_status": "x"``) must be refused
    where it is read, not crash the command that later adds up its counts. Every count is a whole
    number of at least 0 (``true`` is not a number). The types are taken from the attributes'
    annotations, so a field added to the manifest is checked as well. Values are never shown:
    the message names the file and the fields.
    """
    hints = typing.get_type_hints(Manifest)
    problems = [
        f"{name} must be {'1 or 2' if name == 'stage' else _describe(hints[name])}"
        for name, value in fields.items()
        if not _conforms(value, hints[name]) or (name == "stage" and value not in _STAGES)
    ]
    if problems:
        raise InputError(f"{source}: damaged factlab manifest: {'; '.join(problems)}")


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type ``hint`` (ints are whole numbers of at least 0)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(key, args[0]) and _conforms(item, args[1]) for key, item in value.items()
        )
    if origin is list:
        return isinstance(value, list) and all(_conforms(item, args[0]) for item in value)
    if hint is int:
        return type(value) is int and value >= 0
    return isinstance(hint, type) and isinstance(value, hint)


def _describe(hint: Any, *, plural: bool = False) -> str:
    """``hint`` in words, for a message.

    Example:
        >>> _describe(dict[str, dict[str, int]])
        'an object of objects of whole numbers (at least 0)'
        >>> _describe(str | None)
        'text or null'
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg, plural=plural) for arg in args)
    if origin is dict:
        inner = "" if args[1] is Any else f" of {_describe(args[1], plural=True)}"
        return ("objects" if plural else "an object") + inner
    if origin is list:
        return ("lists" if plural else "a list") + f" of {_describe(args[0], plural=True)}"
    words = {
        str: ("text", "text"),
        int: ("a whole number (at least 0)", "whole numbers (at least 0)"),
        type(None): ("null", "nulls"),
    }
    return words.get(hint, ("a value", "values"))[plural]


def read_manifest(path: str | Path) -> Manifest:
    """Read the manifest of a factlab Parquet file without reading any row.

    Raises:
        InputError: the file is missing, no regular file (a FIFO, a device), not Parquet, not
            written by factlab, or its manifest is damaged (not JSON, or a field of the wrong type).

    Example:
        >>> read_manifest("does-not-exist.parquet")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: does-not-exist.parquet: file not found
    """
    import pyarrow.parquet as pq  # here, not at the top: writing a manifest does not need pyarrow

    path = require_path(path, where="read_manifest", name="path")
    # a regular file only: a FIFO would wait for a writer forever, a device never end
    with open_regular(path, what="file") as handle:
        try:
            metadata = pq.ParquetFile(handle).metadata.metadata or {}
        except Exception as exc:  # pyarrow raises several types for non-Parquet input
            raise InputError(f"{path}: not a Parquet file") from exc
    raw = metadata.get(schema.MANIFEST_KEY.encode())
    if raw is None:
        raise InputError(f"{path}: not a factlab file (no factlab manifest in its metadata)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the factlab manifest is not valid UTF-8") from None
    return Manifest.from_json(text, source=str(path))
