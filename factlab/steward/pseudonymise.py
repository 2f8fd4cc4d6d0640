"""The steward's step: canonicalise, validate, pseudonymise and minimise a provider export.

The pseudonym of a valid BSN is ``HMAC-SHA-256(key, bsn)`` truncated to 128 bits, as 32 lowercase
hex characters, where ``bsn`` is the nine ASCII digits of the canonical BSN and ``key`` is the ASCII
hex form (64 characters) of the round's BSN pseudonym subkey (see :mod:`factlab.keys.round_keys` and
docs/scheme.md). The computation runs inside Polars (the polars-hash plugin), never row by row in
Python.

Every input row becomes one output row (rows in = rows out): rows without a valid BSN keep a null
pseudonym and their status, so later counts can report them.

The export is read and pseudonymised in memory (:mod:`factlab.steward.plan` builds the work, one
Polars plan collected once), checked (:mod:`factlab.steward.quality`: BSNs where none belong, the
round's contract) and described (:mod:`factlab.steward.columns`: every column and what became of
it, the code values not mapped) before anything is written; the preview
(:mod:`factlab.steward.preview`) stops there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, overload

import polars as pl

from factlab import schema
from factlab._checks import (
    require_frame,
    require_names,
    require_path,
    require_text,
    type_name,
)
from factlab.errors import InputError
from factlab.io import Export, inputs_and_sidecars, load_export, write_parquet
from factlab.keys.round_keys import Key, require_key
from factlab.manifest import Manifest
from factlab.outputs import check_output
from factlab.periods import Period, parse_period
from factlab.steward.blind import BlindService, blind_column
from factlab.steward.columns import find_unmapped
from factlab.steward.contract import Contract
from factlab.steward.fields import read_text
from factlab.steward.mapping import ColumnMapping, resolve_columns
from factlab.steward.plan import check_provider, make_plan
from factlab.steward.quality import (
    NUMBER,
    ROW,
    ContractRefused,
    Quality,
    check_contract,
    compute_quality,
    refusal_message,
    refuse_unsafe,
)

__all__ = [
    "Pseudonymised",
    "pseudonymise",
    "pseudonymise_file",
    "pseudonymise_with_quality",
]

#: zstd level of the written file: level 1 takes about two thirds of the CPU time of the default
#: level 3, for a file about 2 % larger (docs/performance.md).
_ZSTD_LEVEL: Final = 1
#: Arguments that may come from a file, named by their ``source``: never written over.
_LOADED: Final = (ColumnMapping, Contract)


@dataclass(frozen=True)
class Pseudonymised:
    """A pseudonymised, minimised frame with its quality summary (and manifest once written).

    Attributes:
        input_sha256: SHA-256 of the raw export that was read, for the steward's audit log only.
            It is never written into the output or its manifest: the digest of a small export
            can be reversed by trying every BSN (issue 14, #5).
    """

    frame: pl.DataFrame
    quality: Quality
    manifest: Manifest | None = None
    input_sha256: str | None = field(default=None, repr=False)


def _check_arguments(
    where: str, key: object, provider: object, mapping: object, *, blind: bool = False
) -> None:
    """One clear TypeError for a wrong argument of a public function (see factlab._checks).

    With ``blind`` the key services of a blind round (:class:`BlindService`) may stand for the
    key.
    """
    if not (blind and isinstance(key, BlindService)):
        require_key(key, where=where)
    require_text(provider, where=where, name="provider")
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        raise TypeError(
            f"{where}: mapping must be a ColumnMapping (load one with factlab.load_mapping(path)) "
            f"or None; got {type_name(mapping)}"
        )


@overload
def pseudonymise(
    frame: pl.DataFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    allow_no_valid_bsn: bool = False,
) -> pl.DataFrame: ...
@overload
def pseudonymise(
    frame: pl.LazyFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    allow_no_valid_bsn: bool = False,
) -> pl.LazyFrame: ...
def pseudonymise(
    frame: pl.DataFrame | pl.LazyFrame,
    key: Key,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    allow_no_valid_bsn: bool = False,
) -> pl.DataFrame | pl.LazyFrame:
    """Pseudonymise and minimise an export held in memory; a LazyFrame stays lazy.

    Columns are recognised by name (or named in ``mapping``); the result holds only the
    pseudonym, the BSN status, the provider and the canonical fields found.

    Raises:
        InputError: as :func:`pseudonymise_file`; for a LazyFrame, the checks on the rows (BSNs
            in text fields, no valid BSN) are made when the result is collected.

    Example:
        >>> from factlab.keys.round_keys import new_round_key
        >>> key = new_round_key("doc")
        >>> export = pl.DataFrame({"BSN": ["9999.93.653", "999993653", ""], "Naam": list("abc")})
        >>> out = pseudonymise(export, key, provider="P01")
        >>> out.columns
        ['pseudonym', 'bsn_status', 'provider']
        >>> out["bsn_status"].to_list()
        ['valid', 'valid', 'missing']
        >>> out["pseudonym"][0] == out["pseudonym"][1]
        True
    """
    require_frame(frame, where="pseudonymise", name="frame")
    _check_arguments("pseudonymise", key, provider, mapping)
    plan = make_plan(
        frame,
        key,
        provider=provider,
        mapping=mapping or ColumnMapping(),
        source="input",
        decimal_comma=mapping.decimal_comma if mapping else None,
    )
    checked = [*plan.columns, schema.STATUS, ROW, *(flag for _, flag in plan.bsn_like)]
    checked = list(dict.fromkeys(checked))

    def refused(result: pl.DataFrame) -> pl.DataFrame:
        refuse_unsafe(
            result,
            plan.bsn_like,
            plan.bsn_column,
            source="input",
            allow_no_valid_bsn=allow_no_valid_bsn,
        )
        return result.select(plan.columns)

    if isinstance(frame, pl.DataFrame):
        return refused(plan.frame.select(checked).collect(engine="streaming"))
    result_schema = plan.frame.select(plan.columns).collect_schema()
    return plan.frame.select(checked).map_batches(refused, schema=result_schema)


def _fill_blind(collected: pl.DataFrame, service: BlindService) -> pl.DataFrame:
    """Stage-1 pseudonyms from the key services: each distinct valid BSN (and fallback message)
    is sent once, blinded; the results are spread back to the rows."""
    canonical = collected.get_column(NUMBER).cast(pl.String).str.zfill(9)
    messages = (
        collected.get_column(schema.FALLBACK_PSEUDONYM)
        if schema.FALLBACK_PSEUDONYM in collected.columns
        else None
    )
    # the quota is checked for both columns together before either is sent, so a run whose
    # fallback messages would exhaust it costs nothing
    needed = canonical.drop_nulls().n_unique()
    if messages is not None:
        needed += messages.drop_nulls().n_unique()
    service.check_services(needed)  # once: blind_column does not ask again
    filled = [blind_column(canonical, service, "bsn", checked=True).alias(schema.PSEUDONYM)]
    if messages is not None:
        filled.append(blind_column(messages, service, "fallback", checked=True))
    return collected.with_columns(filled)


def _checked(
    frame: pl.DataFrame | pl.LazyFrame,
    key: Key | BlindService,
    *,
    provider: str,
    mapping: ColumnMapping,
    source: str,
    decimal_comma: bool | None,
    fallback: tuple[str, ...] | None,
    allow_no_valid_bsn: bool,
    contract: Contract | None,
    dropped_types: dict[str, str] | None = None,
    refuse: bool = True,
    contact_services: bool = True,
) -> tuple[Pseudonymised, tuple[str, ...]]:
    """Pseudonymise in memory, check, and describe; with the contract's problems.

    With ``refuse`` a file the contract refuses raises :class:`ContractRefused` (before any row
    is read when a required field has no column); without, the problems are returned (a preview).
    In a blind round (``key`` is a :class:`BlindService`) the key services are asked for the
    pseudonyms once the rows are read; a preview (``contact_services`` false) leaves them null.
    """
    plan = make_plan(
        frame,
        key,
        provider=provider,
        mapping=mapping,
        source=source,
        decimal_comma=decimal_comma,
        fallback=fallback,
        contract=contract,
        dropped_types=dropped_types,
    )
    if plan.contract_problems and refuse:
        raise ContractRefused(refusal_message(source, plan.contract_problems), columns=plan.report)
    collected = plan.frame.collect(engine="streaming")
    if isinstance(key, BlindService):
        if contact_services:
            collected = _fill_blind(collected, key)
        elif schema.FALLBACK_PSEUDONYM in collected.columns:  # never show a message
            collected = collected.with_columns(
                pl.lit(None, dtype=pl.String).alias(schema.FALLBACK_PSEUDONYM)
            )
    refuse_unsafe(
        collected,
        plan.bsn_like,
        plan.bsn_column,
        source=source,
        allow_no_valid_bsn=allow_no_valid_bsn,
    )
    source_schema = frame.collect_schema()

    def read_values(column: str, rows: pl.Series) -> pl.Series:
        """The text of ``column`` on the rows numbered ``rows`` (1 = first row)."""
        if isinstance(frame, pl.LazyFrame):
            values = frame.select(pl.col(column)).collect().get_column(column)
        else:
            values = frame.get_column(column)
        picked = pl.DataFrame({column: values.gather(rows - 1)})
        return picked.select(read_text(pl.col(column), source_schema[column])).to_series()

    unmapped = find_unmapped(
        collected,
        read_values,
        plan.not_mapped_flags(),
        source_columns=source_schema.names(),
        row_column=ROW,
        client_column=NUMBER,
    )
    check = None
    if contract is not None:
        check = check_contract(
            collected, contract, plan.issues, allow_no_valid_bsn=allow_no_valid_bsn
        )
    quality = replace(
        compute_quality(collected, plan.issues),
        columns=plan.report,
        unmapped_values=unmapped,
        contract=check,
    )
    refused = check.refused if check is not None else ()
    problems = (*plan.contract_problems, *(entry.problem() for entry in refused))
    if problems and refuse:
        raise ContractRefused(refusal_message(source, problems), quality, columns=plan.report)
    # Indexing keeps the columns as they are; a select would copy them into one chunk each.
    return Pseudonymised(frame=collected[plan.columns], quality=quality), problems


def pseudonymise_with_quality(
    frame: pl.DataFrame | pl.LazyFrame,
    key: Key | BlindService,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    source: str = "input",
    decimal_comma: bool | None = None,
    fallback: tuple[str, ...] | None = None,
    allow_no_valid_bsn: bool = False,
    contract: Contract | None = None,
) -> Pseudonymised:
    """Like :func:`pseudonymise`, collected, with the quality summary.

    With a ``contract`` (the round's, from the provider key file: see
    :mod:`factlab.steward.contract`) the file is checked against it and the check is in
    :attr:`Quality.contract`.

    Raises:
        InputError: as :func:`pseudonymise_file`.
        ContractRefused: the contract refuses the file (an :class:`InputError`).

    Example:
        >>> from factlab.keys.round_keys import new_round_key
        >>> export = pl.DataFrame({"bsn": ["999993653", "999993654", None]})
        >>> result = pseudonymise_with_quality(export, new_round_key("doc"), provider="P01")
        >>> result.quality.rows_by_status["checksum"], result.quality.example_rows["bsn"]
        (1, {'missing': [3], 'checksum': [2]})
    """
    mapping = mapping or ColumnMapping()
    if decimal_comma is None:
        decimal_comma = mapping.decimal_comma
    result, _ = _checked(
        frame,
        key,
        provider=provider,
        mapping=mapping,
        source=source,
        decimal_comma=decimal_comma,
        fallback=fallback,
        allow_no_valid_bsn=allow_no_valid_bsn,
        contract=contract,
    )
    return result


@dataclass(frozen=True)
class CheckedExport:
    """An export read, pseudonymised in memory and checked; nothing written yet.

    Attributes:
        export: the export as read (its frame, how it was read, its SHA-256).
        result: the pseudonymised rows and their quality summary.
        decimal_comma: how amounts were read.
        problems: why the contract refuses the file (empty: it does not).
    """

    export: Export
    result: Pseudonymised
    decimal_comma: bool | None
    problems: tuple[str, ...]


def read_and_check(
    input_path: str | Path,
    key: Key | BlindService,
    *,
    provider: str,
    mapping: ColumnMapping | None = None,
    fallback: tuple[str, ...] | None = None,
    allow_no_valid_bsn: bool = False,
    contract: Contract | None = None,
    refuse: bool = True,
    where: str = "pseudonymise_file",
    contact_services: bool = True,
) -> CheckedExport:
    """Read an export and pseudonymise it in memory: all of :func:`pseudonymise_file` but the
    writing (for it and the preview, :mod:`factlab.steward.preview`).

    Raises:
        InputError, ConfigError, ContractRefused: as :func:`pseudonymise_file`; with ``refuse``
            false, what the contract refuses is returned in :attr:`CheckedExport.problems`.
    """
    require_path(input_path, where=where, name="input_path")
    _check_arguments(where, key, provider, mapping, blind=True)
    if fallback is not None:
        fallback = require_names(fallback, where=where, name="fallback")
    if contract is not None and not isinstance(contract, Contract):
        raise TypeError(
            f"{where}: contract must be a Contract (factlab.steward.contract.load_contract) "
            f"or None; got {type_name(contract)}"
        )
    mapping = mapping or ColumnMapping()
    input_path = Path(input_path)
    check_provider(provider)
    export = load_export(
        input_path, delimiter=mapping.delimiter, encoding=mapping.encoding, sheet=mapping.sheet
    )
    if export.dropped_columns:  # Parquet columns no field can be read from: refused if used
        dropped = export.dropped_columns
        fed = resolve_columns([*export.frame.columns, *dropped], mapping, source=str(input_path))
        for name, column in fed.items():
            if column in dropped:
                raise InputError(
                    f"{input_path}: column {column!r} for {name} is of type {dropped[column]}; "
                    "fields are read from text, numbers, booleans or dates"
                )
    decimal_comma = mapping.decimal_comma
    if decimal_comma is None and export.facts.get("delimiter") == ";":
        decimal_comma = True  # the Dutch CSV convention: ';' between fields, ',' in numbers
    result, problems = _checked(
        export.frame,
        key,
        provider=provider,
        mapping=mapping,
        source=str(input_path),
        decimal_comma=decimal_comma,
        fallback=fallback,
        allow_no_valid_bsn=allow_no_valid_bsn,
        contract=contract,
        dropped_types={name: str(dtype) for name, dtype in export.dropped_columns.items()},
        refuse=refuse,
        contact_services=contact_services,
    )
    return CheckedExport(export, result, decimal_comma, problems)


def file_manifest(
    checked: CheckedExport,
    key: Key | BlindService,
    *,
    provider: str,
    mapping: ColumnMapping | None,
    contract: Contract | None,
    period: Period | None = None,
) -> Manifest:
    """The manifest of the file :func:`pseudonymise_file` writes for ``checked``.

    With a ``period``, ``extra.period`` states the days the delivery covers (its label, e.g.
    ``2024``), which ``link`` and ``monitor add`` read (:mod:`factlab.analysis.deliveries`).
    """
    quality, facts = checked.result.quality, checked.export.facts
    return Manifest(
        format=schema.FORMAT_PSEUDONYMISED,
        scheme=key.scheme,
        round=key.round,
        key_id=key.key_id,
        key_fingerprint=key.fingerprint,
        rows=quality.rows,
        rows_by_status=quality.rows_by_status,
        provider=provider,
        stage=1,
        input_format=facts["format"],
        field_issues=quality.field_issues,
        columns=[use.to_dict() for use in quality.columns],
        unmapped_values={name: entry.to_dict() for name, entry in quality.unmapped_values.items()},
        contract=None
        if contract is None or quality.contract is None
        else {
            "sha256": contract.sha256,
            "document": contract.to_document(),
            "check": quality.contract.to_dict(),
        },
        extra={
            "read_as": {k: v for k, v in facts.items() if k not in ("format", "blank_rows")},
            "blank_rows_skipped": checked.export.blank_rows,
            "decimal_comma": checked.decimal_comma,
            "mapping": (mapping or ColumnMapping()).source,
            "distinct_pseudonyms": quality.distinct_pseudonyms,
            "duplicate_pseudonym_rows": quality.duplicate_pseudonym_rows,
            **_custody(key),
            # the key link reads (factlab.analysis.deliveries.PERIOD_KEY)
            **({"period": period.label} if period is not None else {}),
        },
    )


def _custody(key: Key | BlindService) -> dict[str, object]:
    """Who could compute the file's stage-1 pseudonyms: every manifest of a blind round says
    whether its key was split between two services or held by one (docs/threat-model.md)."""
    if not isinstance(key, BlindService):
        return {}
    return {
        "custody": key.custody,
        "key_services": [endpoint.name for endpoint in key.services],
    }


def pseudonymise_file(
    input_path: str | Path,
    key: Key | BlindService,
    *,
    provider: str,
    out: str | Path,
    mapping: ColumnMapping | None = None,
    fallback: tuple[str, ...] | None = None,
    allow_no_valid_bsn: bool = False,
    contract: Contract | None = None,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    period: Period | str | None = None,
) -> Pseudonymised:
    """The steward's whole step: read an export, pseudonymise, write Parquet with its manifest.

    The output is written atomically: on any error no file is left at ``out``. The manifest holds
    no digest of the export (a small export's could be reversed by trying every BSN); the
    export's SHA-256 is returned in :attr:`Pseudonymised.input_sha256`, for the steward's audit
    log. The manifest lists every column of the export and what became of it, the code values
    that were not mapped, and, with a ``contract``, the contract and the file's check against it.

    ``period`` (``2024``, ``2024H1``, ``2024-01-01..2024-06-30``, …; :func:`factlab.periods.
    parse_period`) is the period the delivery covers; the manifest states it (``extra.period``)
    and ``link`` then knows which days of the provider this file covers.

    ``out`` is never a file the step read: the export, the mapping's or the contract's file,
    or one of ``inputs`` (the key's file: a key does not know its file, so pass it). An existing
    ``out`` is replaced only with ``overwrite``, and refused before any work otherwise.

    Raises:
        InputError: the export cannot be read, has no BSN column, or the provider code is bad;
            the BSN column is of a type that cannot hold a BSN exactly (Float32); a text field
            holds values that look like a BSN; or no row has a valid BSN and
            ``allow_no_valid_bsn`` is false.
        ContractRefused: (an InputError) the ``contract`` requires a field the export does not
            feed, or more than its share of a required field's rows cannot be used; its
            ``quality`` says what was found.
        ConfigError: the mapping is invalid, or ``period`` is not a period.

    Example:
        >>> import tempfile, pathlib
        >>> from factlab.keys.round_keys import new_round_key
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "export.csv").write_text("BSN;Gemeente\\n999993653;Assen\\n")
        >>> key = new_round_key("doc")
        >>> result = pseudonymise_file(
        ...     folder / "export.csv", key, provider="P01", out=folder / "p01.parquet"
        ... )
        >>> result.manifest.rows, result.manifest.rows_by_status["valid"]
        (1, 1)
        >>> pseudonymise_file(folder / "export.csv", key, provider="P01", period="2024h2",
        ...     out=folder / "p01-2024h2.parquet").manifest.extra["period"]
        '2024H2'
    """
    require_path(out, where="pseudonymise_file", name="out")
    require_path(input_path, where="pseudonymise_file", name="input_path")
    covered = parse_period(period) if isinstance(period, str) else period
    if covered is not None and not isinstance(covered, Period):
        raise TypeError("pseudonymise_file: period must be a Period, text such as '2024', or None")
    # never over a file it read, whatever the caller asks; over no file unless asked
    sources = (item.source for item in (mapping, contract) if isinstance(item, _LOADED))
    read = [input_path, *inputs, *(Path(name) for name in sources if Path(name).is_file())]
    check_output(out, inputs=inputs_and_sidecars(read), overwrite=overwrite)
    checked = read_and_check(
        input_path,
        key,
        provider=provider,
        mapping=mapping,
        fallback=fallback,
        allow_no_valid_bsn=allow_no_valid_bsn,
        contract=contract,
    )
    manifest = file_manifest(
        checked, key, provider=provider, mapping=mapping, contract=contract, period=covered
    )
    frame = checked.result.frame
    write_parquet(
        frame, out, manifest, compression_level=_ZSTD_LEVEL, inputs=read, overwrite=overwrite
    )
    return Pseudonymised(
        frame=frame,
        quality=checked.result.quality,
        manifest=manifest,
        input_sha256=checked.export.sha256,
    )
