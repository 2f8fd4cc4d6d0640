"""What every factlab output file says about itself.

A manifest is a small JSON document stored in the Parquet file's key-value metadata under
:data:`factlab.schema.MANIFEST_KEY`. It holds no secret and no client value: the scheme version,
round, key id and key fingerprint (never the key), provider, row counts by status, the SHA-256 of
the input, the factlab version and the creation time. Linking reads manifests before any row.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factlab import schema
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
        input_sha256: SHA-256 of the input file the rows were read from, when there was one.
        input_format: ``csv``, ``xlsx``, ``parquet`` or ``dataframe``.
        field_issues: per output column, counts of values that could not be read, by reason.
        inputs: for a linked file, one entry per input file (provider, sha256, rows, by status).
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
    input_sha256: str | None = None
    input_format: str | None = None
    field_issues: dict[str, dict[str, int]] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
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
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_parquet_metadata(self) -> dict[str, str]:
        """The key-value metadata to store in a Parquet file."""
        return {schema.MANIFEST_KEY: self.to_json()}


def read_manifest(path: str | Path) -> Manifest:
    """Read the manifest of a factlab Parquet file without reading any row.

    Raises:
        InputError: the file is missing, not Parquet, or not written by factlab.

    Example:
        >>> read_manifest("does-not-exist.parquet")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: does-not-exist.parquet: file not found
    """
    import pyarrow.parquet as pq  # here, not at the top: writing a manifest does not need pyarrow

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        metadata = pq.ParquetFile(path).metadata.metadata or {}
    except Exception as exc:  # pyarrow raises several types for non-Parquet input
        raise InputError(f"{path}: not a Parquet file") from exc
    raw = metadata.get(schema.MANIFEST_KEY.encode())
    if raw is None:
        raise InputError(f"{path}: not a factlab file (no factlab manifest in its metadata)")
    return Manifest.from_json(raw.decode("utf-8"), source=str(path))
