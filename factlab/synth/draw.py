"""Seeded synthetic provider exports, realistic and messy, together with their ground truth.

The generator draws clients, spreads them over providers with a controllable overlap, gives each
client-provider pair one or more care episodes, and writes one export per provider in the written
forms real exports come in (CSV with ``;`` or ``,``, UTF-8 with or without BOM or Windows-1252,
Excel, Parquet; Dutch or English column names; Dutch dates and decimal commas; BSNs with dots,
spaces, hyphens or stored as numbers). Messiness is switched on per kind, and the result says
exactly how many rows of each BSN status every file holds, so tests can check the steward.

This module draws the clients, providers and episodes and ties the parts together: the config
and its messiness (:mod:`factlab.synth.config`), BSNs and their written forms
(:mod:`factlab.synth.bsn`), and writing the files (:mod:`factlab.synth.write`). Their public
names are importable from here.

Everything is vectorised (NumPy and Polars), and the same seed gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from factlab.periods import parse_period
from factlab.synth.bsn import draw_bsns, render_rows
from factlab.synth.config import (
    DRENTHE_MUNICIPALITIES,
    DRENTHE_POPULATION,
    OUT_OF_REGION_MUNICIPALITIES,
    SynthConfig,
)
from factlab.synth.write import (
    SEX_CODES,
    ExportForm,
    ProviderExport,
    SynthResult,
    write_exports,
)

__all__ = [
    "provider_codes",
    "synth_frame",
    "synthesise",
]

IntArray = npt.NDArray[np.int64]

# iJw product categories (JZ020): code, care form, domain, tariff per day, mean episode days.
_PRODUCTS: Final[tuple[tuple[str, str, str, float, int], ...]] = (
    ("40", "ambulant", "jeugdhulp", 30.0, 300),
    ("41", "dagbehandeling", "jeugdhulp", 95.0, 200),
    ("42", "ambulant", "jeugdhulp", 20.0, 200),
    ("43", "verblijf", "jeugdhulp", 260.0, 250),
    ("44", "verblijf", "jeugdhulp", 160.0, 300),
    ("45", "ambulant", "jeugdhulp", 25.0, 180),
    ("46", "verblijf", "jeugdhulp", 320.0, 30),
    ("47", "JB/JR", "jeugdreclassering", 14.0, 300),
    ("48", "JB/JR", "jeugdbescherming", 16.0, 400),
    ("49", "JB/JR", "jeugdbescherming", 10.0, 120),
    ("50", "ambulant", "jeugdhulp", 30.0, 180),
    ("51", "ambulant", "ggz", 8.0, 120),
    ("52", "ambulant", "ggz", 22.0, 240),
    ("53", "ambulant", "jeugdhulp", 18.0, 90),
    ("54", "ambulant", "ggz", 20.0, 200),
    ("55", "verblijf", "jeugdhulp", 350.0, 300),
)
_PRODUCT_INDEX: Final = {product[0]: index for index, product in enumerate(_PRODUCTS)}
# Provider kinds: weights of the products they deliver, and a domain that overrides the product's.
_PROVIDER_KINDS: Final[dict[str, tuple[dict[str, float], str | None]]] = {
    "jeugdhulp": ({"45": 5, "50": 1, "41": 1, "43": 1, "44": 1, "46": 0.3, "55": 0.1}, None),
    "ggz": ({"51": 3, "52": 3, "54": 2, "41": 0.3}, None),
    "gi": ({"48": 2, "47": 1, "49": 0.3}, None),
    "lvb": ({"45": 2, "40": 1, "41": 1, "44": 1, "42": 0.2}, "lvb"),
    "praktijk": ({"45": 3, "51": 2, "53": 1}, None),
}
_KIND_CYCLE: Final = ("jeugdhulp", "ggz", "gi", "lvb", "praktijk", "jeugdhulp", "ggz", "praktijk")


# ---------------------------------------------------------------------------------------------
# Planning the written forms


def _pick(rng: np.random.Generator, total: int, share: float) -> npt.NDArray[np.bool_]:
    chosen = np.zeros(total, dtype=bool)
    chosen[rng.permutation(total)[: round(share * total)]] = True
    return chosen


def _kinds(providers: int) -> list[str]:
    return [_KIND_CYCLE[index % len(_KIND_CYCLE)] for index in range(providers)]


def _no_bsn_index(config: SynthConfig) -> int | None:
    if not config.messiness.no_bsn_provider:
        return None
    kinds = _kinds(config.providers)
    return kinds.index("ggz") if "ggz" in kinds else 0


def _plan_forms(config: SynthConfig, rng: np.random.Generator) -> tuple[ExportForm, ...]:
    mess, count = config.messiness, config.providers
    formats = [mess.file_formats[i % len(mess.file_formats)] for i in rng.permutation(count)]
    dialects = (
        [(",", "utf-8"), (";", "cp1252"), (",", "utf-8-sig"), (";", "utf-8")]
        if mess.csv_dialects
        else [(",", "utf-8")]
    )
    dutch = _pick(rng, count, mess.dutch_names)
    dutch_dates = _pick(rng, count, mess.dutch_dates)
    numbers = _pick(rng, count, mess.number_providers)
    no_bsn = _no_bsn_index(config)
    forms = []
    for index in range(count):
        csv = formats[index] == "csv"
        csv_number = formats[:index].count("csv")
        # Delimiter, encoding, date text and decimal comma only exist in a CSV.
        delimiter, encoding = dialects[csv_number % len(dialects)] if csv else (",", "utf-8")
        if dutch[index]:
            names = ("dutch", "dutch_alt")[index % 2]
        else:
            names = ("canonical", "english")[index % 2] if mess.csv_dialects else "canonical"
        forms.append(
            ExportForm(
                file_format=formats[index],
                delimiter=delimiter,
                encoding=encoding,
                names=names,
                date_format=("%d-%m-%Y", "%d/%m/%Y", "%Y%m%d")[csv_number % 3]
                if dutch_dates[index] and csv
                else "%Y-%m-%d",
                decimal_comma=mess.decimal_comma and delimiter == ";",
                thousands=index % 2 == 1,
                bsn_as_number=bool(numbers[index]) and index != no_bsn,
                no_bsn=index == no_bsn,
                birth="year" if mess.varied_fields and index % 4 == 3 else "date",
                sex_codes=SEX_CODES[index % len(SEX_CODES)] if mess.varied_fields else SEX_CODES[0],
            )
        )
    return tuple(forms)


# ---------------------------------------------------------------------------------------------
# Drawing clients, providers and episodes


def _providers_per_client(config: SynthConfig, rng: np.random.Generator) -> IntArray:
    counts = np.ones(config.clients, dtype=np.int64)
    order = rng.permutation(config.clients)
    position = 0
    for level, share in enumerate(config.overlap):
        size = round(share * config.clients)
        counts[order[position : position + size]] = level + 2
        position += size
    return counts


def _distinct_providers(
    size: int, at: int, weights: npt.NDArray[np.float64], rng: np.random.Generator
) -> IntArray:
    """``size`` rows of ``at`` distinct providers, drawn by weight without replacement."""
    if at * at <= len(weights):
        # Few repeats expected: draw with replacement, then again for rows with a repeat.
        chosen = rng.choice(len(weights), size=(size, at), p=weights)
        while at > 1:
            ordered = np.sort(chosen, axis=1)
            again = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
            if len(again) == 0:
                break
            chosen[again] = rng.choice(len(weights), size=(len(again), at), p=weights)
        return chosen.astype(np.int64)
    # Many repeats expected: every provider gets an exponential arrival time with its weight as
    # rate, and the first ``at`` arrivals win. A chunk of rows at a time bounds the memory.
    parts = []
    for start in range(0, size, max(1, 8_000_000 // len(weights))):
        rows = min(size - start, max(1, 8_000_000 // len(weights)))
        keys = rng.standard_exponential(size=(rows, len(weights)), dtype=np.float32)
        parts.append(np.argpartition(keys / weights.astype(np.float32), at - 1, axis=1)[:, :at])
    return np.concatenate(parts).astype(np.int64)


def _client_provider_pairs(
    config: SynthConfig, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """(client, provider) pairs: each client at as many distinct providers as planned."""
    # A few large providers and many small ones.
    weights = 1.0 / np.arange(1, config.providers + 1, dtype=np.float64) ** 0.7
    weights = np.asarray(weights / weights.sum(), dtype=np.float64)
    wanted = _providers_per_client(config, rng)
    clients, providers = [], []
    for at in np.unique(wanted).tolist():
        group = np.flatnonzero(wanted == at)
        clients.append(np.repeat(group, at))
        providers.append(_distinct_providers(len(group), at, weights, rng).ravel())
    return np.concatenate(clients), np.concatenate(providers)


def _draw_products(kinds: IntArray, rng: np.random.Generator) -> IntArray:
    """A product per episode from what its provider's kind delivers (``kinds``: kind index)."""
    products = np.zeros(len(kinds), dtype=np.int64)
    for kind, (weights, _) in enumerate(_PROVIDER_KINDS.values()):
        rows = np.flatnonzero(kinds == kind)
        codes = np.array([_PRODUCT_INDEX[code] for code in weights], dtype=np.int64)
        chances = np.array(list(weights.values()), dtype=np.float64)
        products[rows] = rng.choice(codes, size=len(rows), p=chances / chances.sum())
    return products


def _municipality_draw(config: SynthConfig, size: int, rng: np.random.Generator) -> IntArray:
    names = config.municipalities
    drenthe = names == DRENTHE_MUNICIPALITIES
    weights = np.array(DRENTHE_POPULATION) if drenthe else np.ones(len(names))
    return rng.choice(len(names), size=size, p=weights / weights.sum()).astype(np.int64)


def _episodes(config: SynthConfig, rng: np.random.Generator) -> pl.DataFrame:
    """One row per care episode, with the person index and every canonical field."""
    period = parse_period(config.period)
    first_day = (period.start - date(1970, 1, 1)).days
    last_day = (period.end - date(1970, 1, 1)).days
    clients = config.clients

    birth = last_day - rng.integers(0, 18 * 365, size=clients)
    sex = rng.choice(4, size=clients, p=[0.505, 0.485, 0.005, 0.005])  # M, V, X, unknown
    names = (*config.municipalities, *OUT_OF_REGION_MUNICIPALITIES)
    home = _municipality_draw(config, clients, rng)
    away = rng.random(clients) < config.out_of_region
    home[away] = len(config.municipalities) + rng.integers(0, 3, size=int(away.sum()))
    moves = rng.random(clients) < config.movers
    step = rng.integers(1, max(2, len(config.municipalities)), size=clients)
    moved_to = np.where(home < len(config.municipalities), home + step, step)
    moved_to %= len(config.municipalities)
    move_day = rng.integers(first_day, last_day + 1, size=clients)

    pair_client, pair_provider = _client_provider_pairs(config, rng)
    draw = rng.random(len(pair_client))
    per_pair = 1 + (draw < config.repeat_episodes) + (draw < config.repeat_episodes / 5)
    client = np.repeat(pair_client, per_pair)
    provider = np.repeat(pair_provider, per_pair)
    rank = np.arange(len(client)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)

    kind_names = list(_PROVIDER_KINDS)
    kind = np.array([kind_names.index(name) for name in _kinds(config.providers)])[provider]
    product = _draw_products(kind, rng)
    mean_days = np.array([entry[4] for entry in _PRODUCTS], dtype=np.float64)
    length = 1 + rng.exponential(mean_days[product]).astype(np.int64)
    # Nobody is in care before birth.
    start = np.maximum(rng.integers(first_day - 365, last_day + 1, size=len(client)), birth[client])
    overlapping = rng.random(len(client)) < config.overlapping_episodes
    gap = rng.integers(1, 181, size=len(client))
    share = rng.random(len(client))
    # A later episode follows the one before it: overlapping (same product) or after a gap.
    for later in range(1, int(rank.max()) + 1):
        rows = np.flatnonzero(rank == later)
        before = rows - 1
        same = overlapping[rows]
        product[rows[same]] = product[before[same]]
        start[rows] = np.where(
            same,
            start[before] + (share[rows] * length[before]).astype(np.int64),
            start[before] + length[before] + gap[rows],
        )
    end = start + length - 1

    domains = sorted({entry[2] for entry in _PRODUCTS} | {"lvb"})
    domain = np.array([domains.index(entry[2]) for entry in _PRODUCTS], dtype=np.int64)[product]
    for index, (_, override) in enumerate(_PROVIDER_KINDS.values()):
        if override is not None:
            domain[kind == index] = domains.index(override)
    is_justice = np.array([entry[1] == "JB/JR" for entry in _PRODUCTS])[product]
    personal_budget = (rng.random(len(client)) < config.pgb) & ~is_justice
    tariffs = np.array([entry[3] for entry in _PRODUCTS])
    billed_days = np.minimum(end, last_day) - start + 1
    noise = rng.lognormal(0.0, 0.25, size=len(client))
    cost = np.round(tariffs[product] * billed_days * noise, 2)
    moved = moves[client] & (start >= move_day[client])
    municipality = np.where(moved, moved_to[client], home[client])
    bsn = draw_bsns(clients, rng)
    # Rows grouped by provider, in random order within each, as an export lists its clients.
    rows = rng.permutation(np.flatnonzero(start <= last_day))
    small = np.int16 if config.providers < 2**15 else np.int32  # numpy radix-sorts 16-bit keys
    rows = rows[np.argsort(provider[rows].astype(small), kind="stable")]
    person = client[rows]

    frame = pl.DataFrame(
        {
            "provider": provider[rows].astype(np.int32),
            "person": person.astype(np.int32),
            "bsn": bsn[person],
            "birth_date": birth[person].astype(np.int32),
            "sex": sex[person].astype(np.int32),
            "municipality": municipality[rows].astype(np.int32),
            "domain": domain[rows].astype(np.int32),
            "financing": personal_budget[rows].astype(np.int32),
            "product": product[rows].astype(np.int32),
            "start_date": start[rows].astype(np.int32),
            "end_date": end[rows].astype(np.int32),
            "ongoing": (end > last_day)[rows],
            "cost": cost[rows],
        }
    )
    return frame.select(
        pl.col("provider", "person", "bsn"),
        pl.col("birth_date").cast(pl.Date),
        _lookup("sex", ["M", "V", "X", None]),
        _lookup("municipality", names),
        _lookup("domain", domains),
        _lookup("financing", ["ZIN", "PGB"]),
        _lookup("product", [entry[1] for entry in _PRODUCTS]).alias("care_form"),
        _lookup("product", [entry[0] for entry in _PRODUCTS]).alias("product_category"),
        pl.col("start_date").cast(pl.Date),
        pl.when(pl.col("ongoing"))
        .then(None)
        .otherwise(pl.col("end_date").cast(pl.Date))
        .alias("end_date"),
        pl.col("cost"),
    )


def _lookup(column: str, values: Sequence[str | None]) -> pl.Expr:
    """Replace an index column by the values it points at (vectorised, no Python strings)."""
    return pl.lit(pl.Series(values, dtype=pl.String)).gather(pl.col(column)).alias(column)


def provider_codes(count: int) -> tuple[str, ...]:
    """Provider codes ``P01``, ``P02``, ...

    Example:
        >>> provider_codes(3)
        ('P01', 'P02', 'P03')
    """
    width = max(2, len(str(count)))
    return tuple(f"P{index:0{width}d}" for index in range(1, count + 1))


def _generate(config: SynthConfig, seed: int) -> tuple[pl.DataFrame, tuple[ExportForm, ...]]:
    config.validate()
    rng = np.random.default_rng(seed)
    forms = _plan_forms(config, rng)
    episodes = _episodes(config, rng)
    codes = provider_codes(config.providers)
    return render_rows(episodes, forms, codes, config.messiness, rng), forms


def synth_frame(config: SynthConfig | None = None, *, seed: int = 0) -> pl.DataFrame:
    """The rows :func:`synthesise` writes for the same config and seed, before writing.

    One row per delivered row: ``provider``, ``person`` (a person index), ``bsn`` (the true BSN,
    nine digits), ``bsn_written`` (as the export writes it; null when missing),
    ``bsn_status`` (what the steward should find), and the canonical fields. Oracles use it.

    Example:
        >>> rows = synth_frame(SynthConfig(providers=2, clients=50, overlap=(0.2,)), seed=1)
        >>> rows["person"].n_unique(), rows["bsn_status"].unique().to_list()
        (50, ['valid'])
    """
    frame, _ = _generate(config or SynthConfig(), seed)
    return frame


def synthesise(
    outdir: str | Path,
    config: SynthConfig | None = None,
    *,
    seed: int = 0,
    on_file: Callable[[ProviderExport], None] | None = None,
) -> SynthResult:
    """Generate and write one export per provider into ``outdir``; return the ground truth.

    The same config and seed give the same bytes. ``on_file`` is called after each file.

    Raises:
        ConfigError: the config is invalid (every problem listed), or an Excel export would
            exceed a sheet.

    Example:
        >>> import tempfile
        >>> from factlab.synth.config import Messiness
        >>> mess = Messiness.realistic()
        >>> config = SynthConfig(providers=3, clients=200, overlap=(0.2,), messiness=mess)
        >>> result = synthesise(tempfile.mkdtemp(), config, seed=7)
        >>> [export.path.name for export in result.exports]  # doctest: +SKIP
        ['P01.parquet', 'P02.csv', 'P03.xlsx']
        >>> result.truth.unique_persons
        200
    """
    frame, forms = _generate(config or SynthConfig(), seed)
    return write_exports(frame, forms, outdir, seed=seed, on_file=on_file)
