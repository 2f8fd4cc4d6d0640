"""Result tables and JSON documents on disk: counts, protected tables, analyses, estimates.

A result table is written with its metadata as CSV with a ``<name>.meta.json`` sidecar, as Parquet
with the metadata in the file's key-value metadata, or as one JSON document; every write goes
through :func:`factlab.io.atomic_path` (atomic, never over an input, no-replace publishing).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab import schema
from factlab._export_checks import open_regular, read_regular
from factlab.errors import InputError
from factlab.io import atomic_path, inputs_and_sidecars, sidecar_path
from factlab.outputs import check_output, csv_safe, held_outputs, holding, uncsv_safe

__all__ = [
    "TABLE_FORMATS",
    "read_json",
    "read_table",
    "table_files",
    "write_json",
    "write_table",
]


#: File name extensions of result tables, see :func:`write_table`.
TABLE_FORMATS: Final = (".csv", ".parquet", ".json")
# Parquet key-value metadata keys of result tables start with this (the manifest's does too).
_TABLE_METADATA_PREFIX: Final = "factlab."


def _table_suffix(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise InputError(
            f"{path}: unsupported {what} format {suffix!r} (use {', '.join(TABLE_FORMATS)})"
        )
    return suffix


def table_files(path: str | Path) -> list[Path]:
    """The files :func:`write_table` writes for ``path``: the table, and for CSV its sidecar.

    Example:
        >>> [p.name for p in table_files("out/cells.csv")], [p.name for p in table_files("t.json")]
        (['cells.csv', 'cells.csv.meta.json'], ['t.json'])
    """
    path = Path(path)
    return [path, sidecar_path(path)] if path.suffix.lower() == ".csv" else [path]


def write_table(
    frame: pl.DataFrame,
    path: str | Path,
    metadata: Mapping[str, Any],
    metadata_key: str,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = True,
) -> list[Path]:
    """Write a result table and its metadata atomically; the format follows the extension.

    ``.csv``: the table, and beside it ``<name>.meta.json`` holding the metadata; ``.parquet``:
    the table with the metadata as JSON under ``metadata_key`` in its key-value metadata;
    ``.json``: ``{"metadata": ..., "rows": [...]}``. On any error nothing is written.

    In CSV, text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return) gets a leading single quote (see
    :func:`factlab.outputs.csv_safe`); :func:`read_table` removes it again.

    Args:
        frame: the table.
        path: the file to write (.csv, .parquet or .json).
        metadata: what the table says about itself.
        metadata_key: the Parquet key-value metadata key of ``metadata``.
        inputs: the files the table was made from: neither they nor their sidecars are ever
            written over.
        overwrite: replace existing files (else an existing file is refused, see
            :func:`atomic_path`).

    Returns:
        The files written.

    Raises:
        InputError: the extension is not .csv, .parquet or .json, the folder does not exist, or
            an output is refused (see :func:`atomic_path`).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
        >>> frame = pl.DataFrame({"care_form": ["ambulant"], "unique_clients": [12]})
        >>> [p.name for p in write_table(frame, out, {"exact": True}, "factlab.example")]
        ['table.csv', 'table.csv.meta.json']
        >>> read_table(out)[1]
        {'exact': True}
    """
    path = Path(path)
    suffix = _table_suffix(path, "table")
    text = json.dumps(metadata, sort_keys=True, ensure_ascii=False, indent=2)
    files = table_files(path)
    sources = inputs_and_sidecars(inputs)
    for file in files:  # both refused before either is written
        check_output(file, inputs=sources, overwrite=overwrite)
    if suffix == ".csv":
        # The table and its sidecar appear together or not at all: held and published as one
        # (within a command that holds its outputs already, with its other outputs).
        together = held_outputs() if holding() is None else contextlib.nullcontext(None)
        with together as held:
            with atomic_path(path, inputs=sources, overwrite=overwrite) as temporary:
                csv_safe(frame).write_csv(temporary)
            with atomic_path(files[1], inputs=sources, overwrite=overwrite) as temporary:
                temporary.write_text(text + "\n", encoding="utf-8")
            if held is not None:
                held.publish()
        return files
    if suffix == ".json":
        write_json(
            path,
            {"metadata": metadata, "rows": frame.to_dicts()},
            inputs=sources,
            overwrite=overwrite,
        )
    else:
        with atomic_path(path, inputs=sources, overwrite=overwrite) as temporary:
            frame.write_parquet(temporary, metadata={metadata_key: text})
    return files


def write_json(
    path: str | Path,
    document: Any,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = True,
) -> None:
    """Write ``document`` atomically as indented UTF-8 JSON (values JSON lacks, such as dates,
    as text). ``inputs`` and ``overwrite`` are as for :func:`atomic_path`.

    Example:
        >>> import tempfile, pathlib, datetime
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "truth.json"
        >>> write_json(out, {"reference_date": datetime.date(2013, 1, 1), "gemeente": "Súdwest"})
        >>> out.read_text(encoding="utf-8").splitlines()[1]
        '  "reference_date": "2013-01-01",'
    """
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    with atomic_path(path, inputs=inputs, overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")


def _unwrap(document: Any) -> dict[str, Any]:
    """The metadata in a sidecar or Parquet entry: the object itself, or its ``metadata``."""
    if not isinstance(document, dict):
        return {}
    inner = document.get("metadata")
    return dict(inner) if isinstance(inner, dict) else document


def read_table(path: str | Path, *, what: str = "table") -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a result table and its metadata, as :func:`write_table` and ``factlab count`` write.

    CSV is read as text (an empty field is null: a margin or a suppressed value), without the
    quote :func:`write_table` puts before formula-like text, its metadata from the sidecar if
    there is one. Parquet metadata is the entry under a ``factlab.`` key of
    its key-value metadata (not the manifest). JSON is ``{"metadata": ..., "rows": [...]}`` or a
    bare list of rows. Where the stored object holds a ``metadata`` object (as ``factlab count``
    writes it, beside a ``summary``), that is the metadata. A table without metadata gets ``{}``.

    Args:
        path: a .csv, .parquet or .json file.
        what: what the table is, for error messages (e.g. ``counts``).

    Raises:
        InputError: unsupported extension, file missing, unreadable or no regular file (a FIFO,
            a device), or JSON without rows.

    Example:
        >>> read_table("missing.csv")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: missing.csv: file not found
    """
    path = Path(path)
    suffix = _table_suffix(path, what)
    try:
        if suffix == ".csv":
            # Dimension values such as product categories look numeric: every column is text.
            # The quote write_table put before formula-like text comes off again.
            with open_regular(path, what=f"{what} file") as handle:
                frame = uncsv_safe(pl.read_csv(handle, infer_schema=False))
            sidecar = sidecar_path(path)
            # a sidecar that exists is read, also to refuse a FIFO or device in its place
            stored = json.loads(read_regular(sidecar, what="sidecar")) if sidecar.exists() else {}
            return frame, _unwrap(stored)
        if suffix == ".parquet":
            with open_regular(path, what=f"{what} file") as handle:
                entries = pl.read_parquet_metadata(handle)
                handle.seek(0)
                frame = pl.read_parquet(handle)
            keys = [
                key
                for key in entries
                if key.startswith(_TABLE_METADATA_PREFIX) and key != schema.MANIFEST_KEY
            ]
            stored = json.loads(entries[keys[0]]) if keys else {}
            return frame, _unwrap(stored)
        document = json.loads(read_regular(path, what=f"{what} file"))
        rows = document.get("rows") if isinstance(document, dict) else document
        if not isinstance(rows, list):
            raise InputError(
                f"{path}: no table rows (a table in JSON needs a list of rows under 'rows'; "
                "factlab count writes one with --by)"
            )
        metadata = document.get("metadata") if isinstance(document, dict) else None
        return pl.from_dicts(rows, infer_schema_length=None), _unwrap(metadata)
    except InputError:
        raise
    except Exception as exc:  # readers raise many types; the message names file and reason only
        raise InputError(f"{path}: cannot read the {what} file ({type(exc).__name__})") from None


def read_json(path: str | Path, *, what: str = "file") -> dict[str, Any]:
    """The JSON object in a file factlab wrote (an estimate, an unseen estimate).

    Raises:
        InputError: the file is missing, unreadable, no regular file (a FIFO, a device), larger
            than 16 MiB, not UTF-8 or not a JSON object.
    """
    path = Path(path)
    data = read_regular(path, what=what)  # a FIFO or device is refused, not waited on
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError(f"{path}: the {what} is not a JSON document") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: the {what} is not a JSON object")
    return document
