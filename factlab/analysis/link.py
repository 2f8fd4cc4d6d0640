"""Linking pseudonymised provider files into one file (the trusted party's first step).

Linking is refused unless every input is a ``factlab-pseudonymised`` file and all inputs share the
pseudonymisation scheme, stage, round, key id and key fingerprint: pseudonyms made with different
keys never match, so linking them would silently count every client once per key. Manifests are
checked before any row is read; then each file's rows are checked against its own manifest, so a
truncated or edited file is refused as well.

The linked file is the union of the inputs' rows. Canonical fields keep the dtypes of
:data:`factlab.schema.FIELD_DTYPES` (text fields and the provider are Categorical; an input
with String columns, as earlier versions wrote, is read as well); a column one provider did not
deliver is null for its rows. Only the columns a steward writes
(:data:`factlab.schema.PSEUDONYMISED_COLUMNS`) pass: a file with any other column is refused,
not trimmed, since a raw BSN or a copy of a first-stage pseudonym in it would re-identify the
linked file, and a steward's file never has one. So is a text field (or provider code) with
values that look like BSNs (eight or nine digits passing the elfproef).
Rows are streamed from the inputs to the output, so files larger than memory can be linked. They
are read once: the row checks run in the pass that writes the linked file, which is written under
a temporary name and appears only when every check passed. Deliveries per period that need the
rules of :mod:`factlab.analysis.deliveries` (several deliveries of a provider, or a partial
replacement) are the exception: the rules compare rows across deliveries (window functions, which
do not stream), and the report of what they did is a pass of its own, so those inputs are read
twice and the resolution holds its rows in memory.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final, TypeVar

import polars as pl

from factlab import schema
from factlab._checks import require_path, require_paths
from factlab.analysis._delivery_rows import neighbour_coverage, neighbour_facts
from factlab.analysis._link_checks import (
    REQUIRED,
    LinkInput,
    check_columns,
    check_key,
    check_manifests,
    name_files,
)
from factlab.analysis._link_entries import (
    input_entry,
    resolution_totals,
    sha256_of,
    sum_field_issues,
    sum_statuses,
    superseded_entry,
)
from factlab.analysis.deliveries import (
    COST_PIECES,
    GivenPeriods,
    Planned,
    adjacency,
    coverage_entries,
    coverage_gaps,
    delivery_facts,
    duplicate_report,
    link_deliveries,
    needs_resolution,
    outside_period,
    own_pieces,
    plan_coverage,
    resolve_rows,
)
from factlab.errors import DataError, InputError, LinkError
from factlab.io import (
    check_parquet_readable,
    inputs_and_sidecars,
    sink_parquet_checked,
)
from factlab.keys.pseudonym import second_stage
from factlab.keys.recipients import RecipientPrivateKey, require_recipient
from factlab.keys.round_keys import Key, require_key
from factlab.keys.seal import is_sealed, read_sealed_manifest, unseal_to_temporary
from factlab.manifest import Manifest, read_manifest
from factlab.outputs import check_output, same_file
from factlab.steward.bsn import looks_like_bsn
from factlab.steward.fallback import fallback_report

__all__ = ["SINGLE_STAGE_WARNING", "link"]

#: Names of the per-row facts the row checks read beside the linked columns. No input column
#: has such a name: link refuses every column that a steward does not write.
_RESERVED: Final = "factlab.link."
_FILE: Final = _RESERVED + "file"
_OTHER_PROVIDER: Final = _RESERVED + "other_provider"
_DISTINCT: Final = _RESERVED + "distinct."
_UNFIT: Final = _RESERVED + "unfit."
_OUTSIDE: Final = _RESERVED + "outside_period"
#: zstd level of the linked file: level 1 writes in two thirds of the CPU time of the default
#: level (3) for a file 2 % larger; reading is as fast (docs/performance.md, "Link").
_ZSTD_LEVEL: Final = 1

_T = TypeVar("_T")


def link(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    replace: bool = False,
    key: Key | None = None,
    recipient: RecipientPrivateKey | None = None,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    periods: GivenPeriods | None = None,
) -> Manifest:
    """Link pseudonymised provider files into one linked Parquet file.

    Args:
        paths: the providers' pseudonymised files (plain or sealed), in delivery order.
        out: the linked file to write (atomically; nothing is written on any error).
        replace: let a later delivery of a provider (in ``paths`` order) replace exactly the
            period it covers of the provider's earlier deliveries; they keep covering the rest,
            and one with nothing left is superseded (recorded in the manifest's ``extra``).
            Without it, deliveries of one provider must cover periods that do not overlap
            (:mod:`factlab.analysis.deliveries`).
        key: the trusted party's round key or link key. With it, every pseudonym is replaced by a
            second-stage pseudonym and no first-stage pseudonym is kept (``stage`` 2). Without it
            the file is single-stage (``stage`` 1), for one organisation's own use only.
        recipient: the trusted party's private recipient key, to open sealed inputs.
        inputs: further files ``out`` must never replace: the files ``key`` and ``recipient``
            were loaded from (a key does not know its file; the command line passes them).
        overwrite: replace an existing ``out`` (never one of ``paths`` or ``inputs``); without
            it an existing file is refused before any work.
        periods: the period each delivery covers, by its path as given in ``paths`` (``2024``,
            ``2024H1``, …); a delivery not named here covers the period its manifest states
            under ``extra.period``, or else the whole round. A delivery's rows must be in care
            in its period.

    Returns:
        The manifest written into ``out``.

    Raises:
        InputError: a file is missing, not Parquet, not a factlab file, or its rows cannot be
            read; ``out`` is one of ``paths`` or ``inputs``, or exists without ``overwrite``.
        KeyFileError: a sealed input cannot be opened with ``recipient``.
        LinkError: the files cannot be linked (format, scheme, stage, round, key or provider
            conflicts, overlapping periods of a provider, a key of the wrong kind or round, a
            sealed file without a recipient, or a file whose rows do not match its manifest or
            lie outside its period).
        DataError: values of a field do not fit its canonical dtype (reported per column with
            the files and their counts, after any LinkError about the rows).

    Example:
        >>> import tempfile, hashlib, pathlib
        >>> import polars as pl
        >>> from factlab import io, schema
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> def deliver(provider):
        ...     frame = pl.DataFrame({
        ...         "pseudonym": [hashlib.sha256(b"client-1").hexdigest()[:32]],
        ...         "bsn_status": pl.Series(["valid"], dtype=schema.STATUS_DTYPE),
        ...         "provider": [provider],
        ...     })
        ...     by_status = {status: 0 for status in schema.STATUSES} | {"valid": 1}
        ...     manifest = Manifest(
        ...         format=schema.FORMAT_PSEUDONYMISED, scheme=schema.SCHEME, round="r",
        ...         key_id="k", key_fingerprint="fp", rows=1, rows_by_status=by_status,
        ...         provider=provider)
        ...     io.write_parquet(frame, folder / f"{provider}.parquet", manifest)
        ...     return folder / f"{provider}.parquet"
        >>> linked = link([deliver("A"), deliver("B")], folder / "linked.parquet")
        >>> (linked.format, linked.stage, linked.rows)
        ('factlab-linked', 1, 2)
        >>> [entry["provider"] for entry in linked.inputs]
        ['A', 'B']
    """
    paths = require_paths(paths, where="link", name="paths")
    require_path(out, where="link", name="out")
    if key is not None:
        require_key(key, where="link")
    if recipient is not None:
        require_recipient(recipient, RecipientPrivateKey, where="link")
    if not paths:
        raise LinkError("link: no input files given")
    # never over a file it reads (a delivery, a key file), and over no file unless asked
    clash = next((path for path in paths if same_file(out, path)), None)
    if clash is not None:
        raise LinkError(f"cannot link: {clash}: the output would overwrite this input")
    read = [*paths, *inputs]
    out = check_output(out, inputs=inputs_and_sidecars(read), overwrite=overwrite)
    if key is not None and not key.can_link:
        raise LinkError(
            f"a {key.kind} key cannot link: linking applies the second stage, which needs the "
            "trusted party's round key or link key"
        )
    with contextlib.ExitStack() as stack:
        opened = [_open_input(Path(path), recipient, stack, out) for path in paths]
        check_manifests(opened, out)
        if key is not None:
            check_key(key, opened)
        plan = plan_coverage(link_deliveries(opened, paths, periods), replace=replace)
        used = [item for item, entry in zip(opened, plan, strict=True) if not entry.superseded]
        used_plan = [entry for entry in plan if not entry.superseded]
        periods_given = any(entry.delivery.period is not None for entry in plan)
        superseded = [
            (item, entry) for item, entry in zip(opened, plan, strict=True) if entry.superseded
        ]
        schemas = {item.path: _file_schema(item) for item in used}
        check_columns(schemas, {item.path: item.shown for item in used})

        union, columns = _union(used, schemas, used_plan)
        extra: dict[str, Any] = {
            "stages": "two-stage" if key is not None else "single-stage",
        }
        dropped = dict.fromkeys(schema.STATUSES, 0)
        if needs_resolution(used_plan):
            report = _read_rows(lambda: duplicate_report(union).collect(), used)
            dropped, extra["duplicate_episodes"] = resolution_totals(used, report)
            frame = resolve_rows(union)
        elif periods_given and "cost" in columns:
            frame = own_pieces(union)
        else:
            frame = union
        # With periods and a cost, each row keeps its deliveries' costs with their days.
        columns = [*columns, COST_PIECES] if periods_given and "cost" in columns else columns
        frame = frame.select(columns)
        if periods_given:
            extra["deliveries"] = coverage_entries(plan)
            gaps = coverage_gaps(plan)
            if gaps:
                extra["coverage_gaps"] = gaps
        first = used[0].manifest
        if key is None:
            extra["warning"] = SINGLE_STAGE_WARNING
        if schema.FALLBACK_PSEUDONYM in columns:
            # What the fallback key would link; counts use it only when asked. Counted on the
            # first-stage pseudonyms: the second stage maps them one to one, so the counts are
            # the same without computing the second stage twice.
            extra["fallback"] = _read_rows(lambda: fallback_report(frame)).to_dict()
        if key is not None:
            frame = second_stage(frame, key)
        # Of each file as delivered: a sealed one's ciphertext, never its decrypted content
        # (a digest of a small stage-1 file is found back by any holder of the provider key).
        sha256 = sha256_of([item.shown for item in used] + [old.shown for old, _ in superseded])
        if superseded:
            extra["superseded"] = [
                superseded_entry(old, entry, sha256) for old, entry in superseded
            ]
        by_status = sum_statuses(item.manifest.rows_by_status for item in used)
        manifest = Manifest(
            format=schema.FORMAT_LINKED,
            scheme=first.scheme,
            round=first.round,
            key_id=first.key_id,
            key_fingerprint=first.key_fingerprint,
            rows=sum(item.manifest.rows for item in used) - sum(dropped.values()),
            rows_by_status={name: by_status[name] - dropped[name] for name in schema.STATUSES},
            provider=None,
            stage=2 if key is not None else 1,
            field_issues=sum_field_issues(used),
            inputs=[
                input_entry(item, sha256, entry)
                for item, entry in zip(used, used_plan, strict=True)
            ],
            extra=extra,
        )
        texts = [name for name in columns if schema.FIELD_DTYPES.get(name) == schema.TEXT_DTYPE]
        _write_checked(
            frame, out, manifest, _row_facts(union, texts), used, read=read, overwrite=overwrite
        )
    return manifest


#: What a single-stage linked file says about itself.
SINGLE_STAGE_WARNING: Final = (
    "single-stage: linked without the trusted party's key, so the pseudonyms are the stewards' "
    "first-stage pseudonyms; anyone holding the provider key can re-identify them. For one "
    "organisation's own use only."
)


def _open_input(
    path: Path, recipient: RecipientPrivateKey | None, stack: contextlib.ExitStack, out: Path
) -> LinkInput:
    """Read an input's manifest; a sealed input's header is checked, then it is decrypted.

    A sealed input is decrypted beside the output (on the storage the user chose for the linked
    file, not the system's temporary folder), where a killed link leaves nothing behind: see
    :func:`factlab.keys.seal.unseal_to_temporary`.
    """
    if not is_sealed(path):
        return LinkInput(path, read_manifest(path), path)
    if recipient is None:
        raise LinkError(f"{path}: the file is sealed; give the recipient's private key to open it")
    manifest = read_sealed_manifest(path, recipient)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{out}: the output folder does not exist")
    plain = stack.enter_context(unseal_to_temporary(path, recipient, folder=folder))
    return LinkInput(plain, manifest, path)


def _file_schema(item: LinkInput) -> pl.Schema:
    try:
        return pl.scan_parquet(item.path).collect_schema()
    # polars raises several types for unreadable files; a panic in its Rust code is no Exception
    except (Exception, pl.exceptions.PanicException) as exc:
        raise InputError(
            f"{item.shown}: cannot be read as Parquet ({type(exc).__name__})"
        ) from None


def _status_column(file_schema: pl.Schema) -> pl.Expr:
    """The status column with factlab's Enum dtype; a status that is not one of its names is null.

    A column that already has the Enum dtype (every file factlab writes) is taken as it is, which
    saves a pass over every row. Other columns are read as text and cast leniently: the row
    checks count the rows whose status is null (missing or unknown) and refuse the file.
    """
    if file_schema.get(schema.STATUS) == schema.STATUS_DTYPE:
        return pl.col(schema.STATUS)
    return pl.col(schema.STATUS).cast(pl.String).cast(schema.STATUS_DTYPE, strict=False)


def _union(
    used: Sequence[LinkInput],
    schemas: dict[Path, pl.Schema],
    plan: Sequence[Planned],
) -> tuple[pl.LazyFrame, list[str]]:
    """The inputs' rows in canonical dtypes, with per-row facts for the row checks.

    Returns the union and the linked file's columns (the union's other columns are the facts).
    Casts are lenient so that every problem is counted and reported at once (see
    :func:`_check_rows`); a value that does not fit its canonical dtype becomes null and is
    counted in ``_UNFIT`` + column name. Nothing is written unless no row has a problem.
    """
    present = {name for file_schema in schemas.values() for name in file_schema}
    fields = [name for name in schema.FIELD_DTYPES if name in present]
    # :func:`check_columns` let no other column through.
    fallback = [schema.FALLBACK_PSEUDONYM] if schema.FALLBACK_PSEUDONYM in present else []
    frames = []
    adjacent = adjacency(plan)
    neighbours = neighbour_coverage([(entry.delivery.provider, entry.covers) for entry in plan])
    for index, item in enumerate(used):
        file_schema = schemas[item.path]
        provider = pl.col(schema.PROVIDER).cast(schema.TEXT_DTYPE)
        canonical = [
            provider,
            pl.col(schema.PSEUDONYM).cast(pl.String),
            _status_column(file_schema),
        ]
        unfit = []
        for name in fields:
            target = schema.FIELD_DTYPES[name]
            if name not in file_schema:
                canonical.append(pl.lit(None, dtype=target).alias(name))
            elif file_schema[name] == target:
                canonical.append(pl.col(name))
            else:
                converted = pl.col(name).cast(target, strict=False)
                canonical.append(converted)
                unfit.append(
                    (pl.col(name).is_not_null() & converted.is_null()).alias(_UNFIT + name)
                )
        canonical.extend(
            pl.col(name).cast(pl.String)
            if name in file_schema
            else pl.lit(None, dtype=pl.String).alias(name)
            for name in fallback
        )
        entry = plan[index]
        facts = [
            pl.lit(index, dtype=pl.UInt32).alias(_FILE),
            provider.ne_missing(pl.lit(item.manifest.provider)).alias(_OTHER_PROVIDER),
            # the delivery, the days it still covers and its neighbours, for resolve_rows
            *delivery_facts(index, entry, adjacent[index], _created_day(item.manifest.created)),
            *neighbour_facts(neighbours[index]),
            outside_period(entry.delivery.period, file_schema).alias(_OUTSIDE),
            *unfit,
        ]
        frames.append(pl.scan_parquet(item.path).select(*canonical, *facts))
    # The ``_UNFIT`` facts differ per file; diagonal_relaxed fills the absent ones with null,
    # while the canonical columns already agree.
    return pl.concat(frames, how="diagonal_relaxed"), [*REQUIRED, *fields, *fallback]


def _created_day(created: object) -> date | None:
    """The day a delivery was made, from its manifest's ``created`` (None when unreadable)."""
    try:
        return date.fromisoformat(str(created)[:10])
    except ValueError:
        return None


def _row_facts(union: pl.LazyFrame, texts: Sequence[str]) -> pl.LazyFrame:
    """Per input (``_FILE``), the facts about its rows to compare with its manifest.

    They include the distinct values of each text column in ``texts`` (``_DISTINCT`` + name),
    for :func:`_bsn_like`. Grouping a Categorical column's values works on its codes, and in
    this one aggregation it keeps link's memory flat: a second group-by beside the pass that
    writes makes Polars hold rows in proportion to the inputs.
    """
    status = pl.col(schema.STATUS)
    valid = status == "valid"
    pseudonym = pl.col(schema.PSEUDONYM)
    names = union.collect_schema().names()
    unfit = [name for name in names if name.startswith(_UNFIT)]
    if schema.FALLBACK_PSEUDONYM in names:
        # Nothing checks these values later, and the second stage would hash anything.
        fallback = pl.col(schema.FALLBACK_PSEUDONYM)
        malformed_fallback = fallback.is_not_null() & ~fallback.str.contains(
            schema.PSEUDONYM_PATTERN
        )
    else:
        malformed_fallback = pl.lit(False)
    return union.group_by(_FILE).agg(
        pl.len().alias("rows"),
        *[(status == name).sum().alias(name) for name in schema.STATUSES],
        status.is_null().sum().alias("unknown_status"),
        pl.col(_OTHER_PROVIDER).sum().alias("other_provider"),
        pl.col(_OUTSIDE).sum().alias("outside_period"),
        (valid != pseudonym.is_not_null()).sum().alias("pseudonym_mismatch"),
        (valid & ~pseudonym.str.contains(schema.PSEUDONYM_PATTERN)).sum().alias("malformed"),
        malformed_fallback.sum().alias("fallback_malformed"),
        *[pl.col(name).sum() for name in unfit],
        *[pl.col(name).unique().alias(_DISTINCT + name) for name in texts],
    )


def _bsn_like(used: Sequence[LinkInput], found: pl.DataFrame) -> dict[int, list[tuple[str, int]]]:
    """Per input (by index), its text columns whose values look like BSNs, with their rows.

    A text field with BSNs in it (a source column mapped onto both the BSN and a text field, or
    a forged file) would put them in the linked file and from there in a report's labels. The
    test runs on the distinct values that :func:`_row_facts` collected, after the pass: inside
    it, the query optimiser would move a filter on a grouping column before the grouping, and
    so run it on every row. Rows are only counted, by reading the columns concerned again, for
    the files that are refused.
    """
    distinct = [name for name in found.columns if name.startswith(_DISTINCT)]
    if not distinct:
        return {}
    values = (
        found.select(_FILE, *distinct)
        .unpivot(index=_FILE, variable_name="column", value_name="value")
        .explode("value")
        .with_columns(pl.col("column").str.strip_prefix(_DISTINCT))
        .filter(looks_like_bsn(pl.col("value")))
    )
    suspect: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for (index, column), group in values.group_by(_FILE, "column", maintain_order=True):
        flagged = group.get_column("value").cast(pl.String)
        counted = (
            pl.scan_parquet(used[int(index)].path)
            .select(pl.col(str(column)).cast(pl.String).is_in(flagged.implode()).sum())
            .collect()
            .item()
        )
        suspect[int(index)].append((str(column), int(counted)))
    return suspect


def _write_checked(
    frame: pl.LazyFrame,
    out: Path,
    manifest: Manifest,
    facts: pl.LazyFrame,
    used: Sequence[LinkInput],
    *,
    read: Sequence[str | Path],
    overwrite: bool,
) -> None:
    """Write the linked file and check the inputs' rows in the same pass over them.

    The rows are read once here: polars streams them to the file and to the row checks
    (:func:`_row_facts`) together (deliveries that need the rules of deliveries were read once
    before, for their report). The file is written under a temporary name and only renamed
    to ``out`` when every check passed, so a refused link leaves nothing behind.
    """
    sink_parquet_checked(
        frame,
        out,
        manifest,
        alongside=[facts],
        check=lambda results: _check_rows(used, results[0]),
        run=lambda go: _read_rows(go, used),
        compression="zstd",
        compression_level=_ZSTD_LEVEL,
        inputs=[*read, *(item.shown for item in used)],
        overwrite=overwrite,
    )


def _read_rows(run: Callable[[], _T], used: Sequence[LinkInput] = ()) -> _T:
    """Run a pass over the inputs' rows; polars' errors become factlab's, without values.

    When the pass fails, each of ``used`` is read again on its own to name the file that cannot
    be read (a damaged data page, say): that costs a pass, but only on the way to an error.
    """
    try:
        return run()
    except InputError:
        raise  # already factlab's: the writer names the output it could not write (a full disk)
    except pl.exceptions.InvalidOperationError:
        # A cast failed; polars' message may quote the offending value, so it is dropped.
        raise DataError(
            "cannot link: a field of an input cannot be converted to its canonical dtype"
        ) from None
    except (Exception, pl.exceptions.PanicException) as exc:
        # polars raises several types for corrupt or unreadable files, and a panic in its Rust
        # code arrives as a PanicException, which is no Exception.
        for item in used:
            check_parquet_readable(item.path, name=item.shown)
        raise InputError(
            f"cannot link: cannot read or combine the inputs' rows ({type(exc).__name__})"
        ) from None


def _check_rows(used: Sequence[LinkInput], found: pl.DataFrame) -> None:
    """Refuse inputs whose rows disagree with their manifest or do not fit the linked file."""
    by_file = {row[_FILE]: row for row in found.iter_rows(named=True)}
    suspect = _read_rows(lambda: _bsn_like(used, found), used)
    problems: list[str] = []
    unfit: dict[str, list[tuple[str, int]]] = defaultdict(list)  # column: (file, values)
    for index, item in enumerate(used):
        # A file without rows has no group in the facts.
        row = by_file.get(index) or dict.fromkeys(found.columns, 0)
        declared = item.manifest
        if row["rows"] != declared.rows:
            problems.append(
                f"{item.shown}: has {row['rows']} rows, its manifest says {declared.rows}"
            )
        unknown = set(declared.rows_by_status) - set(schema.STATUSES)
        if unknown:
            problems.append(f"{item.shown}: manifest has unknown status(es) {sorted(unknown)}")
        for name in schema.STATUSES:
            stated = declared.rows_by_status.get(name, 0)
            if row[name] != stated:
                problems.append(
                    f"{item.shown}: has {row[name]} rows with status {name}, "
                    f"its manifest says {stated}"
                )
        if row["unknown_status"]:
            problems.append(f"{item.shown}: {row['unknown_status']} rows have an unknown status")
        if row["other_provider"]:
            problems.append(
                f"{item.shown}: {row['other_provider']} rows name another provider "
                "than its manifest"
            )
        if row["outside_period"]:
            problems.append(
                f"{item.shown}: {row['outside_period']} rows are not in care in the period the "
                "delivery covers"
            )
        if row["pseudonym_mismatch"]:
            problems.append(
                f"{item.shown}: {row['pseudonym_mismatch']} rows have a pseudonym that does not "
                "match their status (only valid rows carry one)"
            )
        if row["malformed"]:
            problems.append(
                f"{item.shown}: {row['malformed']} pseudonyms are not 32 hex characters"
            )
        if row["fallback_malformed"]:
            problems.append(
                f"{item.shown}: {row['fallback_malformed']} fallback pseudonyms are not 32 hex "
                "characters"
            )
        problems.extend(
            f"{item.shown}: {rows} rows of column {column} hold values that look like BSNs "
            "(eight or nine digits passing the elfproef); a text field must not hold BSNs"
            for column, rows in suspect.get(index, [])
        )
        for column in found.columns:
            if column.startswith(_UNFIT) and row[column]:
                unfit[column.removeprefix(_UNFIT)].append((str(item.shown), int(row[column])))
    if problems:
        raise LinkError("cannot link: " + "; ".join(problems))
    if unfit:
        raise DataError(
            "cannot link: " + "; ".join(_unfit(name, files) for name, files in unfit.items())
        )


def _unfit(name: str, files: list[tuple[str, int]]) -> str:
    """Values of column ``name`` that do not fit its dtype, told once for all files.

    Example:
        >>> _unfit("birth_year", [("a.parquet", 2)])
        'a.parquet: 2 value(s) of column birth_year do not fit its canonical dtype Int16'
        >>> told = _unfit("cost", [(name, 1) for name in "abcd"])
        >>> told.split(":")[0]
        '4 value(s) of column cost do not fit its canonical dtype Float64'
        >>> told.split(": ")[1]
        'a (1), b (1), c (1) and 1 more'
    """
    problem = (
        f"value(s) of column {name} do not fit its canonical dtype {schema.FIELD_DTYPES[name]}"
    )
    if len(files) == 1:
        return f"{files[0][0]}: {files[0][1]} {problem}"
    total = sum(values for _, values in files)
    return f"{total} {problem}: " + name_files([f"{path} ({values})" for path, values in files])
