"""Counts on disk: the output formats of :func:`factlab.analysis.counts.count` and their writer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from factlab._checks import require_path, require_type
from factlab.analysis.counts import CountResult
from factlab.errors import ConfigError
from factlab.result_files import write_json, write_table

__all__ = ["METADATA_KEY", "count_output_format", "write_counts"]

#: Key of the counts' metadata in a Parquet output's key-value metadata.
METADATA_KEY: Final = "factlab.counts"
_OUTPUT_FORMATS: Final = {".json": "json", ".csv": "csv", ".parquet": "parquet"}


def count_output_format(path: str | Path) -> str:
    """``json``, ``csv`` or ``parquet`` from the output file's name; ConfigError otherwise.

    Example:
        >>> count_output_format("counts.csv")
        'csv'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _OUTPUT_FORMATS:
        raise ConfigError(
            "out", [f"out: {Path(path).name}: expected a .json, .csv or .parquet file"]
        )
    return _OUTPUT_FORMATS[suffix]


def write_counts(
    result: CountResult,
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
) -> list[Path]:
    """Write counts to ``path`` atomically; the format follows the extension.

    - ``.json`` without dimensions: the :meth:`CountResult.summary` object.
    - ``.json`` with dimensions: ``{"metadata": ..., "summary": ..., "rows": [...]}``.
    - ``.parquet``: the table, with ``{"metadata": ..., "summary": ...}`` as JSON under the
      key-value metadata key ``factlab.counts``.
    - ``.csv``: the table (an empty cell in a dimension column is a total; text a spreadsheet
      would run as a formula gets a leading quote, see
      :func:`factlab.result_files.write_table`), and beside it ``<name>.meta.json`` with
      ``{"metadata": ..., "summary": ...}``.

    The counted file (and any of ``inputs``) is never written over; an existing file is
    replaced only with ``overwrite`` (see :func:`factlab.io.atomic_path`), as the command line
    replaces one only with ``--force``.

    Returns:
        The files written.

    Raises:
        InputError: an output is refused or cannot be written.

    Example:
        >>> import tempfile, pathlib, json
        >>> import polars as pl
        >>> from factlab import schema
        >>> frame = pl.DataFrame({
        ...     "pseudonym": ["a" * 32],
        ...     "bsn_status": pl.Series(["valid"], dtype=schema.STATUS_DTYPE),
        ...     "provider": ["A"],
        ... })
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "counts.json"
        >>> from factlab.analysis.counts import count
        >>> _ = write_counts(count(frame), out)
        >>> json.loads(out.read_text())["metadata"]["exact"]
        True
    """
    require_type(result, CountResult, where="write_counts", name="result", hint="a CountResult")
    path = require_path(path, where="write_counts", name="path")
    kind = count_output_format(path)
    sources = [*inputs, *([result.source_path] if result.source_path is not None else [])]
    summary = result.summary()
    metadata = summary.pop("metadata")
    described = {"metadata": metadata, "summary": summary}
    if kind == "json":
        document = (
            summary | {"metadata": metadata}
            if not result.by
            else described | {"rows": result.table.to_dicts()}
        )
        write_json(path, document, inputs=sources, overwrite=overwrite)
        return [path]
    return write_table(
        result.table, path, described, METADATA_KEY, inputs=sources, overwrite=overwrite
    )
