"""The monitor's linked store: a folder that grows by one linked part per batch of deliveries.

A monitoring programme links its providers' deliveries year after year. Linking every year
again from all raw files would read ten years to add one; the store instead keeps what earlier
batches made and adds a *part*:

```
store/
  store.json             the store's manifest: programme, key, every part and what it covers
  parts/part-0001.parquet   a factlab-linked file (link's own manifest inside: its deliveries,
  parts/part-0002.parquet   their SHA-256, periods and rows)
```

:func:`append_to_store` links a batch of deliveries (:func:`factlab.analysis.link.link`, with
their periods) into the next part and records in ``store.json`` which days of which provider
the part covers. Earlier parts and earlier raw files are not read: only the store's manifest.
A batch that covers days a part already covers for a provider is refused, unless ``replace``
is given: then the new part takes over exactly those days (the older part keeps the rest; the
rules of :mod:`factlab.analysis.deliveries`), and ``store.json`` says so. Parts are never
rewritten, so a figure made from the store names the parts and their digests, and the parts'
manifests name every delivery they were linked from: every figure can be made again from them.

:func:`scan_store` reads the parts as one linked frame, with the rules of deliveries applied
across parts (an episode delivered in two years kept once; the days a newer part took over
taken from it).

Every delivery in a store states its period: a store is a series of periods.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from factlab._checks import require_path, require_paths
from factlab.analysis._delivery_rows import (
    DECLARED_FROM,
    DECLARED_TO,
    PIECE_FROM,
    PIECE_TO,
    neighbour_coverage,
    neighbour_facts,
)
from factlab.analysis._link_entries import sha256_of
from factlab.analysis.deliveries import (
    COST_PIECES,
    Delivery,
    GivenPeriods,
    Planned,
    adjacency,
    delivery_facts,
    plan_coverage,
    resolve_rows,
)
from factlab.analysis.link import link
from factlab.errors import InputError, LinkError
from factlab.io import file_sha256
from factlab.keys.programme import programme_years
from factlab.keys.recipients import RecipientPrivateKey
from factlab.keys.round_keys import Key
from factlab.manifest import Manifest, now_iso, read_manifest
from factlab.monitor._partitions import in_partition
from factlab.periods import Period
from factlab.result_files import read_json, write_json

__all__ = [
    "STORE_FORMAT",
    "Store",
    "StoreRows",
    "append_to_store",
    "open_store",
    "scan_checked",
    "scan_store",
]

#: The ``format`` of a store's manifest.
STORE_FORMAT: Final = "factlab-monitor-store"
_MANIFEST: Final = "store.json"
_PARTS: Final = "parts"
_PART_NAME: Final = re.compile(r"part-[0-9]{4}\.parquet")
#: What every part must share with the store: its pseudonyms are comparable only then.
_IDENTITY: Final = ("scheme", "round", "key_id", "key_fingerprint", "stage")


@dataclass(frozen=True)
class Store:
    """An opened store: its folder and manifest (``store.json``).

    Attributes:
        folder: the store's folder.
        document: the manifest: ``format``, ``programme`` (the round of its key), ``scheme``,
            ``key_id``, ``key_fingerprint``, ``stage``, and ``parts``, one entry per part
            (``file``, ``sha256``, ``rows``, ``added``, ``covers``: per provider the first and
            last day the part still covers, or null when a newer part took all its days, and
            ``replaced``: the days newer parts took over).
    """

    folder: Path
    document: Mapping[str, Any]

    @property
    def parts(self) -> list[Mapping[str, Any]]:
        """The parts, oldest first."""
        return list(self.document.get("parts", []))

    def provenance(self) -> dict[str, Any]:
        """Non-secret facts that make a figure reproducible: the store and its parts' digests."""
        return {
            "store": str(self.folder),
            "format": STORE_FORMAT,
            "round": self.document.get("programme"),
            "scheme": self.document.get("scheme"),
            "stage": self.document.get("stage"),
            "key_id": self.document.get("key_id"),
            "key_fingerprint": self.document.get("key_fingerprint"),
            "parts": [
                {"file": part["file"], "sha256": part["sha256"], "rows": part["rows"]}
                for part in self.parts
            ],
        }


@dataclass(frozen=True)
class StoreRows:
    """The rows of a store as one linked frame, lazily, with the store's provenance."""

    frame: pl.LazyFrame
    name: str
    provenance: dict[str, Any]


def open_store(folder: str | Path) -> Store:
    """Open a store by its manifest, checking that its parts are where it says.

    Raises:
        InputError: no store manifest, a damaged one, or a part missing or of another name.

    Example:
        >>> open_store("no-such-store")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.InputError: no-such-store: not a monitor store (no store.json)
    """
    folder = require_path(folder, where="open_store", name="folder")
    manifest = folder / _MANIFEST
    if not manifest.is_file():
        raise InputError(f"{folder}: not a monitor store (no {_MANIFEST})")
    document = read_json(manifest, what="store manifest")
    if document.get("format") != STORE_FORMAT or not isinstance(document.get("parts"), list):
        raise InputError(f"{manifest}: not a {STORE_FORMAT} manifest")
    for part in document["parts"]:
        name = str(part.get("file", ""))
        if not _PART_NAME.fullmatch(Path(name).name) or Path(name).parent != Path(_PARTS):
            raise InputError(f"{manifest}: a part has a file name factlab does not write")
        if not (folder / name).is_file():
            raise InputError(f"{folder / name}: a part of the store is missing")
    return Store(folder, document)


def _covers(manifest: Manifest) -> list[dict[str, Any]]:
    """What a new part covers: one unit per delivery it still uses, with the days it covers
    (``from``, ``to``: its rows' costs are of them) and still covers (``covers_from``,
    ``covers_to``: null once newer parts took all of them)."""
    units = []
    for entry in manifest.inputs:
        if entry.get("covers_from") is None:
            raise LinkError(
                f"cannot add to the store: {entry.get('file')} states no period; every delivery "
                "in a monitor store covers a period (give it with periods)"
            )
        units.append(
            {
                "provider": str(entry["provider"]),
                "file": entry.get("file"),
                "period": entry.get("period"),
                "from": entry["covers_from"],
                "to": entry["covers_to"],
                "covers_from": entry["covers_from"],
                "covers_to": entry["covers_to"],
                "created": entry.get("created"),
            }
        )
    return units


@dataclass(frozen=True)
class _Unit:
    """One delivery in one part, as the store's rules of deliveries see it."""

    part: int
    provider: str
    declared: tuple[date, date]
    covers: tuple[date, date] | None
    created: date | None


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _units(parts: Sequence[Mapping[str, Any]]) -> list[_Unit]:
    """Every delivery of every part and the days it covers, oldest part first."""
    units = []
    for index, part in enumerate(parts):
        for unit in part["covers"]:
            covers = None
            if unit.get("covers_from") is not None:
                covers = (
                    date.fromisoformat(unit["covers_from"]),
                    date.fromisoformat(unit["covers_to"]),
                )
            units.append(
                _Unit(
                    index,
                    str(unit["provider"]),
                    (date.fromisoformat(unit["from"]), date.fromisoformat(unit["to"])),
                    covers,
                    _day(unit.get("created")),
                )
            )
    return units


def append_to_store(
    folder: str | Path,
    paths: Sequence[str | Path],
    *,
    periods: GivenPeriods | None = None,
    replace: bool = False,
    key: Key | None = None,
    recipient: RecipientPrivateKey | None = None,
    inputs: Iterable[str | Path] = (),
    any_round: bool = False,
) -> Store:
    """Link a batch of deliveries into the store's next part (a new store if there is none).

    Args:
        folder: the store's folder (made when it does not exist; it must then be empty).
        paths: the batch's deliveries, as for :func:`factlab.analysis.link.link`.
        periods: the period each delivery covers (else its manifest's), as for link.
        replace: let the batch take over days an earlier part (or batch file) covers.
        key, recipient, inputs: as for link.
        any_round: accept deliveries whose round is not a programme name
            (``<region>-<first year>-<last year>``, :mod:`factlab.keys.programme`); the store
            then holds no bound on the years its key serves.

    Returns:
        The store, opened again.

    Raises:
        LinkError: link refuses the batch; the batch covers days of a provider that a part
            covers (without ``replace``); its deliveries state no period; its key, scheme,
            round or stage differ from the store's; its round is no programme name (without
            ``any_round``) or the programme's years do not include its periods.

    Example:
        >>> import tempfile, pathlib
        >>> store = pathlib.Path(tempfile.mkdtemp()) / "store"
        >>> append_to_store(store, [])  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        factlab.errors.LinkError: link: no input files given
    """
    folder = require_path(folder, where="append_to_store", name="folder")
    paths = require_paths(paths, where="append_to_store", name="paths")
    if (
        folder.exists()
        and not (folder / _MANIFEST).is_file()
        and (not folder.is_dir() or any(folder.iterdir()))
    ):
        raise InputError(f"{folder}: not a monitor store, and not an empty folder")
    existing = open_store(folder) if (folder / _MANIFEST).is_file() else None
    parts = [dict(part) for part in existing.parts] if existing else []
    made_folder = not folder.exists()
    made_parts = not (folder / _PARTS).exists()
    (folder / _PARTS).mkdir(parents=True, exist_ok=True)
    name = f"{_PARTS}/part-{len(parts) + 1:04d}.parquet"
    part_path = folder / name
    try:
        # made exclusively: of two adds at once, the second finds the part taken and stops
        # before it links (and before it could write a manifest that drops the first's part)
        os.close(os.open(part_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise InputError(
            f"{part_path}: exists but the store's manifest does not list it (another add is "
            "running, or an earlier add was stopped before it finished); when none is running, "
            "remove the file and add the batch again"
        ) from None
    try:
        manifest = link(
            paths,
            part_path,
            overwrite=True,  # the placeholder made above, nothing else
            replace=replace,
            key=key,
            recipient=recipient,
            inputs=inputs,
            periods=periods,
        )
        covers = _covers(manifest)
        _check_programme(manifest.round, covers, any_round=any_round)
        if existing is not None:
            _check_identity(existing, manifest)
        parts = _take_over(parts, covers, len(parts) + 1, replace=replace)
        parts.append(_part_entry(name, part_path, manifest, covers))
        document = {
            "format": STORE_FORMAT,
            "version": 2,
            "programme": manifest.round,
            **{
                field: getattr(manifest, field) for field in ("scheme", "key_id", "key_fingerprint")
            },
            "stage": manifest.stage,
            "parts": parts,
        }
        write_json(folder / _MANIFEST, document, overwrite=True)
    except BaseException:
        # nothing of a refused batch stays: a store is its manifest and the parts it lists
        part_path.unlink(missing_ok=True)
        for made, where in ((made_parts, folder / _PARTS), (made_folder, folder)):
            if made:
                with contextlib.suppress(OSError):
                    where.rmdir()
        raise
    return open_store(folder)


def _part_entry(
    name: str, path: Path, manifest: Manifest, covers: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the store's manifest says of a new part."""
    return {
        "file": name,
        "sha256": file_sha256(path),
        "rows": manifest.rows,
        "added": now_iso(),
        "covers": covers,
        "replaced": [],
        "deliveries": _deliveries(manifest),
    }


def _deliveries(manifest: Manifest) -> list[dict[str, Any]]:
    return [
        {name: entry.get(name) for name in ("provider", "file", "sha256", "period", "rows")}
        for entry in manifest.inputs
    ]


def _check_programme(
    round_name: str, covers: Sequence[Mapping[str, Any]], *, any_round: bool
) -> None:
    """A programme's key serves its years only (:mod:`factlab.keys.programme`)."""
    years = programme_years(round_name)
    if years is None:
        if any_round:
            return
        raise LinkError(
            "cannot add to the store: the deliveries' round is not a programme name "
            "(<region>-<first year>-<last year>, at most 10 years), so nothing bounds the years "
            "its key serves; make a programme key (factlab keys programme), or accept any round "
            "explicitly (any_round, --any-round)"
        )
    outside = sorted(
        {
            str(unit["provider"])
            for unit in covers
            if int(unit["from"][:4]) < years[0] or int(unit["to"][:4]) > years[1]
        }
    )
    if outside:
        raise LinkError(
            f"cannot add to the store: deliveries of {', '.join(outside)} cover days outside the "
            f"programme's years {years[0]}-{years[1]}; a later year starts the next programme, "
            "with a new key"
        )


def _check_identity(store: Store, manifest: Manifest) -> None:
    differ = [
        name
        for name in _IDENTITY
        if store.document.get("programme" if name == "round" else name) != getattr(manifest, name)
    ]
    if differ:
        raise LinkError(
            f"cannot add to the store: the batch differs from the store in {', '.join(differ)}; "
            "a store holds one programme's pseudonyms, made with one key"
        )


def _plan(units: Sequence[_Unit], *, replace: bool) -> list[Planned]:
    """The rules of deliveries over units: a unit still covers what no newer unit took."""
    return plan_coverage(
        [
            Delivery(f"part {unit.part + 1} ({unit.provider})", unit.provider, _span(unit.covers))
            for unit in units
            if unit.covers is not None
        ],
        replace=replace,
    )


def _take_over(
    parts: list[dict[str, Any]], covers: list[dict[str, Any]], number: int, *, replace: bool
) -> list[dict[str, Any]]:
    """The parts with the days the new part covers taken from them (refused without replace)."""
    new_part = {"covers": covers}
    units = _units([*parts, new_part])
    live = [unit for unit in units if unit.covers is not None]
    plan = _plan(units, replace=replace)
    updated = [dict(part, covers=[dict(unit) for unit in part["covers"]]) for part in parts]
    positions = [
        (index, position)
        for index, part in enumerate(parts)
        for position, unit in enumerate(part["covers"])
        if unit.get("covers_from") is not None
    ]
    for (index, position), unit, entry in zip(positions, live, plan, strict=False):
        if not entry.replaced:
            continue
        part = updated[index]
        part["covers"][position]["covers_from"] = (
            None if entry.covers is None else entry.covers[0].isoformat()
        )
        part["covers"][position]["covers_to"] = (
            None if entry.covers is None else entry.covers[1].isoformat()
        )
        part["replaced"] = [
            *part.get("replaced", []),
            *(
                {"provider": unit.provider, "period": label, "by": f"part-{number:04d}"}
                for label, _ in entry.replaced
            ),
        ]
    return updated


def _span(span: tuple[date, date]) -> Period:
    return Period(f"{span[0].isoformat()}..{span[1].isoformat()}", span[0], span[1])


def scan_store(source: str | Path | Store, *, part: tuple[int, int] | None = None) -> StoreRows:
    """The store's rows as one linked frame, lazily, with the rules of deliveries across parts.

    Every part is checked against the store's manifest before a row is read: its SHA-256, its
    rows, its key, round, scheme and stage, and the deliveries it was linked from.

    ``part`` ``(index, count)``: only the rows of that partition by client
    (:func:`factlab.monitor._partitions.client_partition`), read that way from each part before
    the rules run. A partition holds all rows of an episode or none: the rules compare an
    episode's copies (and a row without a valid BSN only with its own copies).

    Raises:
        InputError: not a store, a part missing, or a part whose digest or manifest differs
            from what the store's manifest says.
    """
    store = source if isinstance(source, Store) else open_store(source)
    if not store.parts:
        raise InputError(f"{store.folder}: the store has no parts yet")
    _check_parts(store)
    return scan_checked(store, part=part)


def scan_checked(store: Store, *, part: tuple[int, int] | None = None) -> StoreRows:
    """:func:`scan_store` of a store whose parts the caller has just checked (by a
    :func:`scan_store` of the same opened :class:`Store`): an analysis that reads the store
    once per partition checks the parts' digests once, not once per partition."""
    if not store.parts:
        raise InputError(f"{store.folder}: the store has no parts yet")
    units = _units(store.parts)
    live = [unit for unit in units if unit.covers is not None]
    plan = _plan(units, replace=True)
    adjacent = adjacency(plan)
    parts_of: dict[str, set[int]] = {}
    for unit in live:
        parts_of.setdefault(unit.provider, set()).add(unit.part)
    # A part was resolved when it was linked; the rules run again only across parts, or where a
    # newer part took over days of an older one.
    several = any(len(found) > 1 for found in parts_of.values()) or any(
        unit.covers != unit.declared for unit in live
    )
    paths = [store.folder / part["file"] for part in store.parts]

    def scan(path: Path) -> pl.LazyFrame:
        return in_partition(pl.scan_parquet(path), part)

    if not several:
        union = pl.concat([scan(path) for path in paths], how="diagonal_relaxed")
        return StoreRows(union, str(store.folder), store.provenance())
    # each delivery's neighbouring coverage from the plan, as link gives it: a delivery without
    # rows still ends (or starts) what its provider's other deliveries hold across a gap
    neighbours = neighbour_coverage([(entry.delivery.provider, entry.covers) for entry in plan])
    facts = [
        pl.DataFrame({"_provider": [unit.provider]}).with_columns(
            *delivery_facts(number, entry, adjacent[number], unit.created, unit.declared),
            *neighbour_facts(neighbours[number]),
        )
        for number, (unit, entry) in enumerate(zip(live, plan, strict=True))
    ]
    table = pl.concat(facts).with_columns(pl.Series("_part", [unit.part for unit in live]))
    frames = []
    for index, path in enumerate(paths):
        frame = scan(path)
        mine = table.filter(pl.col("_part") == index).drop("_part").lazy()
        with_pieces = COST_PIECES in frame.collect_schema().names()
        if with_pieces:
            # one row per delivery the row's cost came from: the copies the rules merge again
            piece = pl.col(COST_PIECES).struct
            frame = (
                frame.explode(COST_PIECES)
                .with_columns(
                    piece.field("from").alias(PIECE_FROM),
                    piece.field("to").alias(PIECE_TO),
                    piece.field("cost").alias("cost"),
                )
                .drop(COST_PIECES)
            )
            anchor = pl.col(PIECE_FROM)
            belongs = (anchor >= pl.col(DECLARED_FROM)) & (anchor <= pl.col(DECLARED_TO))
        else:
            # without costs, a row is a copy in each delivery it is in care in; the rules merge
            # the copies of an episode again
            frame = frame.with_row_index("_row")
            belongs = (
                pl.col("start_date").is_null() | (pl.col("start_date") <= pl.col(DECLARED_TO))
            ) & (pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col(DECLARED_FROM)))
        copies = (
            frame.with_columns(pl.col("provider").cast(pl.String).alias("_provider"))
            .join(mine, on="_provider")
            .filter(belongs)
            .drop("_provider")
        )
        if not with_pieces:
            # a row without a valid BSN has no episode to merge into: it stays in the last
            # delivery it is in care in only
            last = pl.col(DECLARED_FROM) == pl.col(DECLARED_FROM).max().over("_row")
            valid = pl.col("bsn_status").cast(pl.String) == "valid"
            copies = copies.filter(valid | last).drop("_row")
        frames.append(copies)
    union = pl.concat(frames, how="diagonal_relaxed")
    return StoreRows(resolve_rows(union), str(store.folder), store.provenance())


def _check_parts(store: Store) -> None:
    """Each part is what the store's manifest says: digest, rows, identity and deliveries."""
    paths = [store.folder / part["file"] for part in store.parts]
    digests = sha256_of(paths)
    for part, path in zip(store.parts, paths, strict=True):
        if digests[path] != part["sha256"]:
            raise InputError(
                f"{path}: the part's SHA-256 differs from the store's manifest; the part was "
                "changed or replaced after it was added"
            )
        manifest = read_manifest(path)
        identity = [
            name
            for name in _IDENTITY
            if store.document.get("programme" if name == "round" else name)
            != getattr(manifest, name)
        ]
        if (
            identity
            or manifest.rows != part["rows"]
            or _deliveries(manifest) != part.get("deliveries")
        ):
            raise InputError(f"{path}: the part's manifest does not match the store's manifest")
