"""Seeded synthetic provider exports, realistic and messy, together with their ground truth.

The generator draws clients, spreads them over providers with a controllable overlap, gives each
client-provider pair one or more care episodes, and writes one export per provider in the written
forms real exports come in (CSV with ``;`` or ``,``, UTF-8 with or without BOM or Windows-1252,
Excel, Parquet; Dutch or English column names; Dutch dates and decimal commas; BSNs with dots,
spaces, hyphens or stored as numbers). Messiness is switched on per kind, and the result says
exactly how many rows of each BSN status every file holds, so tests can check the steward.

BSNs come from the test range 999900000–999999999 (the 9,091 numbers there that pass the
elfproef) when the number of clients allows. Larger runs draw proef-valid numbers from the whole
nine-digit space; those are random numbers with no data of any real person attached. Such draws
never start with ``00``: a number stored as an integer then loses at most one leading zero, which
the steward restores (an eight-digit number gets one leading zero), so no generated value depends
on how a reader treats shorter numbers.

Everything is vectorised (NumPy and Polars), and the same seed gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from xlsxwriter import Workbook

from factlab import schema
from factlab.errors import ConfigError
from factlab.io import atomic_path
from factlab.periods import parse_period

__all__ = [
    "DRENTHE_MUNICIPALITIES",
    "DRENTHE_POPULATION",
    "OUT_OF_REGION_MUNICIPALITIES",
    "ExportForm",
    "GroundTruth",
    "Messiness",
    "ProviderExport",
    "SynthConfig",
    "SynthResult",
    "bsns_in_test_range",
    "provider_codes",
    "render_rows",
    "synth_frame",
    "synthesise",
    "write_export",
    "write_exports",
]

IntArray = npt.NDArray[np.int64]

#: Drenthe's twelve municipalities.
DRENTHE_MUNICIPALITIES: Final = (
    "Aa en Hunze",
    "Assen",
    "Borger-Odoorn",
    "Coevorden",
    "De Wolden",
    "Emmen",
    "Hoogeveen",
    "Meppel",
    "Midden-Drenthe",
    "Noordenveld",
    "Tynaarlo",
    "Westerveld",
)
#: Rough populations (thousands): Emmen and Assen deliver most clients, as in reality.
DRENTHE_POPULATION: Final = (
    25.5,
    67.0,
    26.0,
    35.5,
    24.0,
    108.0,
    55.0,
    33.0,
    33.0,
    31.0,
    33.0,
    19.0,
)
#: Neighbouring municipalities outside Drenthe; the first exercises Windows-1252 characters.
OUT_OF_REGION_MUNICIPALITIES: Final = ("Súdwest-Fryslân", "Ooststellingwerf", "Hardenberg")

#: The 9,091 numbers of the test range that pass the elfproef are enough for this many clients.
TEST_RANGE_CLIENTS: Final = 9091
#: An Excel sheet holds this many data rows below its header.
XLSX_MAX_ROWS: Final = 1_048_575
_FILE_FORMATS: Final = ("csv", "xlsx", "parquet")
_ENCODINGS: Final = ("utf-8", "utf-8-sig", "cp1252")
_BSN_STYLES: Final = ("plain", "dots", "spaces", "hyphens")
_CSV_CHUNK: Final = 500_000
# Excel files embed their creation time; a fixed one keeps the bytes reproducible.
_XLSX_CREATED: Final = datetime(2000, 1, 1)
_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2)
_STATUS_INDEX: Final = {status: index for index, status in enumerate(schema.STATUSES)}

# Column names per field in each naming style: canonical, English, Dutch, another Dutch.
_NAMES: Final = {
    "bsn": ("bsn", "BSN", "BSN", "BSN cliënt"),
    "birth_date": ("birth_date", "Birth date", "Geboortedatum", "geboorte_datum"),
    "birth_year": ("birth_year", "Birth year", "Geboortejaar", "geboorte-jaar"),
    "sex": ("sex", "Sex", "Geslacht", "geslacht"),
    "municipality": ("municipality", "Municipality", "Woongemeente", "gemeente"),
    "domain": ("domain", "Domain", "Domein", "domein"),
    "financing": ("financing", "Financing", "Financieringsstroom", "financiering"),
    "care_form": ("care_form", "Care form", "Zorgvorm", "zorg vorm"),
    "product_category": (
        "product_category",
        "Product category",
        "Productcategorie",
        "product-categorie",
    ),
    "start_date": ("start_date", "Start date", "Begindatum", "Start datum"),
    "end_date": ("end_date", "End date", "Einddatum", "Eind datum"),
    "cost": ("cost", "Cost", "Bedrag", "Kosten"),
}
#: Column names per naming style; the steward recognises all of them without a mapping.
COLUMN_NAMES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        style: MappingProxyType({field: names[index] for field, names in _NAMES.items()})
        for index, style in enumerate(("canonical", "english", "dutch", "dutch_alt"))
    }
)
#: How sex is written: codes for male, female, other (unknown is always an empty cell).
SEX_CODES: Final = (("M", "V", "X"), ("man", "vrouw", "X"), ("m", "f", "X"))

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


@dataclass(frozen=True)
class Messiness:
    """Which kinds of mess the exports contain; everything is off by default.

    Row rates are shares of all rows; provider shares are rounded to a number of providers.

    Attributes:
        missing: rows with an empty BSN.
        sentinel: rows with ``000000000`` or ``999999999`` (only the latter where BSNs are numbers).
        checksum: rows whose BSN fails the elfproef (one digit changed).
        bad_length: rows whose BSN has 7 or 10 digits.
        non_digit: rows whose BSN has a letter in it (not where BSNs are stored as numbers).
        formatted: BSNs written with dots (``9999.93.653``), spaces or hyphens.
        number_providers: share of providers that store the BSN as a number (leading zero lost).
        no_bsn_provider: one provider (a GGZ provider) delivers no BSNs at all.
        file_formats: file formats, dealt out over the providers.
        csv_dialects: vary CSV delimiter (``;``, ``,``), encoding (UTF-8, UTF-8 with BOM,
            Windows-1252 with CRLF line ends) and English column-name style.
        dutch_names: share of providers with Dutch column names.
        dutch_dates: share of providers writing dates as DD-MM-YYYY, DD/MM/YYYY or YYYYMMDD.
        decimal_comma: ``;``-separated CSVs write costs with a decimal comma (``1.234,56``).
        varied_fields: vary how sex is written (M/V, man/vrouw, m/f) and give some providers a
            birth year instead of a birth date.

    Example:
        >>> Messiness.realistic().no_bsn_provider
        True
    """

    missing: float = 0.0
    sentinel: float = 0.0
    checksum: float = 0.0
    bad_length: float = 0.0
    non_digit: float = 0.0
    formatted: float = 0.0
    number_providers: float = 0.0
    no_bsn_provider: bool = False
    file_formats: tuple[str, ...] = ("csv",)
    csv_dialects: bool = False
    dutch_names: float = 0.0
    dutch_dates: float = 0.0
    decimal_comma: bool = False
    varied_fields: bool = False

    @classmethod
    def realistic(cls) -> Messiness:
        """Every kind of mess switched on, at rates seen in real deliveries."""
        return cls(
            missing=0.01,
            sentinel=0.003,
            checksum=0.004,
            bad_length=0.002,
            non_digit=0.002,
            formatted=0.05,
            number_providers=0.25,
            no_bsn_provider=True,
            file_formats=_FILE_FORMATS,
            csv_dialects=True,
            dutch_names=0.5,
            dutch_dates=0.5,
            decimal_comma=True,
            varied_fields=True,
        )

    def row_rates(self) -> dict[str, float]:
        """Row rates per BSN status other than ``valid``."""
        return {
            "missing": self.missing,
            "sentinel": self.sentinel,
            "checksum": self.checksum,
            "bad_length": self.bad_length,
            "non_digit": self.non_digit,
        }


@dataclass(frozen=True)
class SynthConfig:
    """What to generate.

    Attributes:
        providers: number of providers (one export each).
        clients: number of distinct clients (persons).
        period: the counting period (``2024``, ``2024H1``, ...); episodes start from a year
            before it, and those still running at its end are ongoing (no end date).
        overlap: shares of clients at exactly 2, 3, ... providers; the rest is at one.
        repeat_episodes: share of client-provider pairs with more than one episode.
        overlapping_episodes: share of those later episodes that overlap the one before
            (same product, so trajectory merging has work to do).
        movers: share of clients who move to another municipality during the period.
        out_of_region: share of clients living outside the municipalities listed.
        pgb: share of episodes paid from a personal budget (PGB) instead of in kind (ZIN).
        municipalities: municipalities of residence (drawn with Drenthe's population weights
            when they are Drenthe's twelve, uniformly otherwise).
        messiness: which kinds of mess the exports contain.

    Example:
        >>> SynthConfig(providers=3, clients=100, overlap=(0.2,)).clients
        100
    """

    providers: int = 5
    clients: int = 1000
    period: str = "2024"
    overlap: tuple[float, ...] = (0.25, 0.08, 0.02)
    repeat_episodes: float = 0.15
    overlapping_episodes: float = 0.4
    movers: float = 0.05
    out_of_region: float = 0.0
    pgb: float = 0.05
    municipalities: tuple[str, ...] = DRENTHE_MUNICIPALITIES
    messiness: Messiness = Messiness()

    def validate(self) -> None:
        """Raise one ConfigError listing every bad field."""
        problems: list[str] = []
        if self.providers < 1:
            problems.append("providers: must be at least 1")
        if self.clients < 1:
            problems.append("clients: must be at least 1")
        if self.clients > 50_000_000:
            problems.append("clients: at most 50,000,000")
        try:
            parse_period(self.period)
        except ConfigError as exc:
            problems.extend(f"period: {problem}" for problem in exc.problems)
        if any(not 0 <= share <= 1 for share in self.overlap) or sum(self.overlap) > 1:
            problems.append("overlap: shares must be in 0..1 and sum to at most 1")
        deepest = max((level + 2 for level, s in enumerate(self.overlap) if s > 0), default=1)
        if deepest > self.providers:
            problems.append(f"overlap: clients at {deepest} providers need that many providers")
        rates = {
            "repeat_episodes": self.repeat_episodes,
            "overlapping_episodes": self.overlapping_episodes,
            "movers": self.movers,
            "out_of_region": self.out_of_region,
            "pgb": self.pgb,
        }
        mess = self.messiness
        rates.update({f"messiness.{name}": rate for name, rate in mess.row_rates().items()})
        for name in ("formatted", "number_providers", "dutch_names", "dutch_dates"):
            rates[f"messiness.{name}"] = getattr(mess, name)
        problems.extend(f"{name}: must be in 0..1" for name, r in rates.items() if not 0 <= r <= 1)
        if sum(mess.row_rates().values()) > 1:
            problems.append("messiness: the BSN status rates sum to more than 1")
        unknown = [name for name in mess.file_formats if name not in _FILE_FORMATS]
        if unknown or not mess.file_formats:
            problems.append(f"messiness.file_formats: choose from {', '.join(_FILE_FORMATS)}")
        if not self.municipalities:
            problems.append("municipalities: name at least one")
        if problems:
            raise ConfigError("synth config", problems)


@dataclass(frozen=True)
class ExportForm:
    """How one provider writes its export.

    Attributes:
        file_format: ``csv``, ``xlsx`` or ``parquet``.
        delimiter: CSV field separator.
        encoding: CSV encoding: ``utf-8``, ``utf-8-sig`` (with BOM) or ``cp1252`` (CRLF lines).
        names: column-name style, a key of :data:`COLUMN_NAMES`.
        date_format: strftime format of dates in a CSV (Excel and Parquet hold native dates).
        decimal_comma: costs in a CSV as ``1234,56`` (every other provider adds thousand dots).
        thousands: write a thousands separator with the decimal comma (``1.234,56``).
        bsn_as_number: the BSN column holds numbers, so a leading zero is lost.
        no_bsn: the BSN column is there but empty.
        birth: ``date`` (a birth-date column) or ``year`` (a birth-year column).
        sex_codes: how male, female and other are written.
        bsn_style: how this provider writes every BSN (``plain``: nine digits, except the
            share :attr:`Messiness.formatted` written with dots, spaces or hyphens at random).
    """

    file_format: str = "csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    names: str = "canonical"
    date_format: str = "%Y-%m-%d"
    decimal_comma: bool = False
    thousands: bool = False
    bsn_as_number: bool = False
    no_bsn: bool = False
    birth: Literal["date", "year"] = "date"
    sex_codes: tuple[str, str, str] = ("M", "V", "X")
    bsn_style: Literal["plain", "dots", "spaces", "hyphens"] = "plain"

    @property
    def extension(self) -> str:
        """File name extension (without the dot)."""
        return self.file_format

    def problems(self) -> list[str]:
        """What is wrong with this form, one line per bad field (empty when it can be written)."""
        checks = {
            "file_format": self.file_format in _FILE_FORMATS,
            "delimiter": len(self.delimiter) == 1 and self.delimiter not in '\r\n"',
            "encoding": self.encoding in _ENCODINGS,
            "names": self.names in COLUMN_NAMES,
            "birth": self.birth in ("date", "year"),
            "bsn_style": self.bsn_style in _BSN_STYLES,
            "sex_codes": len(self.sex_codes) == 3,
        }
        return [
            f"{name}: {getattr(self, name)!r} is not allowed"
            for name, ok in checks.items()
            if not ok
        ]


@dataclass(frozen=True)
class ProviderExport:
    """One written export and the ground truth of what is in it.

    Attributes:
        provider: provider code, e.g. ``P01``.
        path: the file written.
        form: how it was written.
        rows: number of data rows.
        rows_by_status: rows per BSN status the steward should find (every status, zeros too).
        persons: distinct persons in the file.
        valid_persons: distinct persons with at least one row with a valid BSN.
    """

    provider: str
    path: Path
    form: ExportForm
    rows: int
    rows_by_status: Mapping[str, int]
    persons: int
    valid_persons: int


@dataclass(frozen=True)
class GroundTruth:
    """What an oracle needs about all exports together.

    Attributes:
        rows: rows over all files.
        rows_by_status: rows per BSN status over all files.
        unique_persons: distinct persons over all files.
        linkable_persons: distinct persons with at least one valid BSN row (what linking on
            pseudonyms can find).
        persons_by_provider_count: number of persons at exactly k providers, per k.
    """

    rows: int
    rows_by_status: Mapping[str, int]
    unique_persons: int
    linkable_persons: int
    persons_by_provider_count: Mapping[int, int]


@dataclass(frozen=True)
class SynthResult:
    """The exports a generator wrote and their ground truth.

    Attributes:
        outdir: folder the files are in.
        seed: the seed used.
        exports: one entry per provider, in provider order.
        truth: ground truth over all exports.
    """

    outdir: Path
    seed: int
    exports: tuple[ProviderExport, ...]
    truth: GroundTruth

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (file names relative to ``outdir``; no BSN anywhere)."""
        return {
            "seed": self.seed,
            "exports": [
                {
                    "provider": export.provider,
                    "file": export.path.name,
                    "form": asdict(export.form),
                    "rows": export.rows,
                    "rows_by_status": dict(export.rows_by_status),
                    "persons": export.persons,
                    "valid_persons": export.valid_persons,
                }
                for export in self.exports
            ],
            "truth": {
                "rows": self.truth.rows,
                "rows_by_status": dict(self.truth.rows_by_status),
                "unique_persons": self.truth.unique_persons,
                "linkable_persons": self.truth.linkable_persons,
                "persons_by_provider_count": {
                    str(k): v for k, v in self.truth.persons_by_provider_count.items()
                },
            },
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# BSNs


def _check_digits(first8: IntArray) -> IntArray:
    """The ninth digit that makes the elfproef hold (10 where no digit can)."""
    rest = first8.copy()
    total = np.zeros_like(first8)
    for weight in _WEIGHTS[::-1]:  # from the eighth digit (weight 2) to the first (weight 9)
        total += (rest % 10) * weight
        rest //= 10
    return total % 11


def bsns_in_test_range() -> IntArray:
    """The 9,091 numbers in 999900000–999999999 that pass the elfproef, ascending.

    Example:
        >>> pool = bsns_in_test_range()
        >>> len(pool), int(pool[0]) in pool, 999993653 in pool
        (9091, True, True)
    """
    first8 = np.arange(99_990_000, 100_000_000, dtype=np.int64)
    check = _check_digits(first8)
    keep = check < 10
    return first8[keep] * 10 + check[keep]


def _draw_bsns(count: int, rng: np.random.Generator) -> IntArray:
    """``count`` distinct proef-valid BSNs, in random order."""
    if count <= TEST_RANGE_CLIENTS:
        return rng.permutation(bsns_in_test_range())[:count]
    drawn = np.empty(0, dtype=np.int64)
    while len(drawn) < count:
        # From 01000000: never two leading zeros, never the sentinel 000000000. About one draw
        # in eleven has no check digit and a few repeat, hence the margin.
        first8 = rng.integers(1_000_000, 100_000_000, size=count + count // 6 + 1000)
        check = _check_digits(first8)
        fresh = first8[check < 10] * 10 + check[check < 10]
        # sort and drop neighbours: np.unique is many times slower on millions of int64
        drawn = np.sort(np.concatenate([drawn, fresh]))
        drawn = drawn[np.concatenate([[True], drawn[1:] != drawn[:-1]])]
    return rng.permutation(drawn)[:count]


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
    bsn = _draw_bsns(clients, rng)
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


# ---------------------------------------------------------------------------------------------
# BSN statuses and written forms

_LETTERS: Final = ("O", "l", "I", "S", "B", "x")
# Statuses whose written form is not just the zero-padded number.
_SPECIAL: Final = ("missing", "non_digit")


def _statuses(
    provider: IntArray, forms: Sequence[ExportForm], mess: Messiness, rng: np.random.Generator
) -> IntArray:
    """Index into :data:`schema.STATUSES` of the status each row is meant to have."""
    rates = mess.row_rates()
    thresholds = np.cumsum(list(rates.values()))
    codes = np.array([_STATUS_INDEX[name] for name in rates] + [_STATUS_INDEX["valid"]])
    status = codes[np.searchsorted(thresholds, rng.random(len(provider)), side="right")]
    no_bsn = np.array([form.no_bsn for form in forms])[provider]
    numbers = np.array([form.bsn_as_number for form in forms])[provider]
    status[no_bsn] = _STATUS_INDEX["missing"]
    # A number column cannot hold a letter.
    status[numbers & (status == _STATUS_INDEX["non_digit"])] = _STATUS_INDEX["valid"]
    return status


def _written_parts(
    bsn: IntArray,
    status: IntArray,
    provider: IntArray,
    forms: Sequence[ExportForm],
    formatted: float,
    rng: np.random.Generator,
) -> dict[str, npt.NDArray[Any]]:
    """Per row: the number to write, its zero-padded width, letter position and style."""
    rows = len(bsn)
    numbers = np.array([form.bsn_as_number for form in forms])[provider]
    value = bsn.copy()
    width = np.full(rows, 9, dtype=np.int64)

    check = status == _STATUS_INDEX["checksum"]
    last = bsn % 10
    changed = (last + rng.integers(1, 10, size=rows)) % 10
    # 99999999x with x changed to 9 would be the unborn sentinel instead of a checksum error.
    changed[(bsn // 10 == 99_999_999) & (changed == 9)] = 5
    value[check] = (bsn - last + changed)[check]

    sentinel = status == _STATUS_INDEX["sentinel"]
    # 0 in a number column reads as a one-digit number, not as 000000000: only 999999999 there.
    unborn = (rng.random(rows) < 0.5) | numbers
    value[sentinel] = np.where(unborn, 999_999_999, 0)[sentinel]

    bad = status == _STATUS_INDEX["bad_length"]
    longer = rng.random(rows) < 0.5
    lead = rng.integers(1, 10, size=rows)
    value[bad & longer] = (lead * 1_000_000_000 + bsn)[bad & longer]
    width[bad & longer] = 10
    value[bad & ~longer] = (bsn // 100)[bad & ~longer]
    width[bad & ~longer] = 7

    value[status == _STATUS_INDEX["missing"]] = -1
    own_style = np.array([_BSN_STYLES.index(form.bsn_style) for form in forms])[provider]
    random_style = np.where(rng.random(rows) < formatted, rng.integers(1, 4, size=rows), 0)
    style = np.where(own_style > 0, own_style, random_style)
    style[numbers | ~((status == _STATUS_INDEX["valid"]) | check)] = 0
    return {
        "_value": value,
        "_width": width,
        "_number": numbers,
        "_style": style,
        "_letter_at": rng.integers(0, 9, size=rows),
        "_letter": rng.integers(0, len(_LETTERS), size=rows),
    }


def _digits() -> pl.Expr:
    """The digits to write: zero-padded to their width, unless the column holds numbers."""
    digits = pl.col("_value").cast(pl.String)
    return pl.when(pl.col("_number")).then(digits).otherwise(digits.str.zfill(pl.col("_width")))


def _written_bsn() -> pl.Expr:
    """The BSN as the provider writes it, from the columns :func:`_written_parts` made."""
    text = pl.col("_text")
    at = pl.col("_letter_at")
    letter = pl.lit(pl.Series(_LETTERS)).gather(pl.col("_letter"))
    with_letter = text.str.slice(0, at) + letter + text.str.slice(at + 1)

    def grouped(sizes: tuple[int, ...], separator: str) -> pl.Expr:
        offsets = np.cumsum((0, *sizes[:-1]))
        parts = [text.str.slice(int(o), size) for o, size in zip(offsets, sizes, strict=True)]
        return pl.concat_str(parts, separator=separator)

    status = pl.col(schema.STATUS)
    return (
        pl.when(status == "missing")
        .then(None)
        .when(status == "non_digit")
        .then(with_letter)
        .when(pl.col("_style") == 1)
        .then(grouped((4, 2, 3), "."))
        .when(pl.col("_style") == 2)
        .then(grouped((3, 3, 3), " "))
        .when(pl.col("_style") == 3)
        .then(grouped((3, 3, 3), "-"))
        .otherwise(text)
        .alias("bsn_written")
    )


def render_rows(
    frame: pl.DataFrame,
    forms: Sequence[ExportForm],
    codes: Sequence[str],
    mess: Messiness,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Give drawn rows their BSN statuses and written BSNs, in the shape of :func:`synth_frame`.

    A building block for other generators (the 2014 round uses it).

    Args:
        frame: one row per delivered row, grouped by provider: ``provider`` (index into
            ``forms`` and ``codes``), ``person``, ``bsn`` (Int64, proef-valid), then the
            canonical fields, which are kept as they are.
        forms: written form per provider.
        codes: provider code per provider.
        mess: the row rates of BSN statuses and of formatted BSNs.
        rng: the generator's random numbers.
    """
    provider = frame["provider"].to_numpy()
    bsn = frame["bsn"].to_numpy()
    status = _statuses(provider, forms, mess, rng)
    parts = _written_parts(bsn, status, provider, forms, mess.formatted, rng)
    statuses = pl.lit(pl.Series(schema.STATUSES, dtype=pl.String))
    rendered = frame.with_columns(
        pl.Series(schema.STATUS, status),
        *(pl.Series(name, values) for name, values in parts.items()),
    ).with_columns(
        statuses.gather(pl.col(schema.STATUS)).cast(schema.STATUS_DTYPE).alias(schema.STATUS),
        _digits().alias("_text"),
    )
    # Most rows are written as their plain digits; only the few others are worked on.
    special = (parts["_style"] > 0) | np.isin(status, [_STATUS_INDEX[s] for s in _SPECIAL])
    at = np.flatnonzero(special)
    written = rendered["_text"].alias("bsn_written")
    if len(at):
        subset = rendered.select("_text", "_style", "_letter_at", "_letter", schema.STATUS)[at]
        written = written.scatter(at, subset.select(_written_bsn()).to_series())
    return rendered.with_columns(written).select(
        pl.lit(pl.Series(list(codes), dtype=pl.String))
        .gather(pl.col("provider"))
        .alias("provider"),
        pl.col("person"),
        pl.col("bsn").cast(pl.String).str.zfill(9),
        pl.col("bsn_written", schema.STATUS),
        pl.exclude("provider", "person", "bsn", "bsn_written", schema.STATUS, "^_.*$"),
    )


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


# ---------------------------------------------------------------------------------------------
# Writing


def _dutch_amount(expr: pl.Expr, *, thousands: bool) -> pl.Expr:
    """Euros as Dutch text: ``1234,56``, or ``1.234,56`` with thousand separators."""
    cents = (expr * 100).round(0).cast(pl.Int64)
    euros = cents // 100
    fraction = (cents % 100).cast(pl.String).str.zfill(2)

    def group(value: pl.Expr) -> pl.Expr:
        return (value % 1000).cast(pl.String).str.zfill(3)

    whole = euros.cast(pl.String)
    if thousands:
        whole = (
            pl.when(euros >= 1_000_000)
            .then(
                pl.concat_str(
                    [euros // 1_000_000, group(euros // 1000), group(euros)], separator="."
                )
            )
            .when(euros >= 1000)
            .then(pl.concat_str([euros // 1000, group(euros)], separator="."))
            .otherwise(whole)
        )
    return pl.when(expr.is_null()).then(None).otherwise(whole + "," + fraction)


def _export_frame(rows: pl.DataFrame, form: ExportForm) -> pl.DataFrame:
    """The columns a provider delivers, typed and named as it writes them."""
    names = COLUMN_NAMES[form.names]
    if form.no_bsn:
        bsn = pl.lit(None, dtype=pl.String)
    elif form.bsn_as_number:
        bsn = pl.col("bsn_written").cast(pl.Int64)
    else:
        bsn = pl.col("bsn_written")
    male, female, other = form.sex_codes
    columns: dict[str, pl.Expr] = {
        "bsn": bsn,
        "birth_date": pl.col("birth_date"),
        "birth_year": pl.col("birth_date").dt.year().cast(pl.Int16),
        "sex": pl.col("sex").replace_strict(
            {"M": male, "V": female, "X": other}, default=None, return_dtype=pl.String
        ),
    }
    del columns["birth_year" if form.birth == "date" else "birth_date"]
    fields = (*columns, *(name for name in schema.FIELD_DTYPES if name not in columns))
    present = [name for name in fields if name in columns or name in rows.columns]
    exprs = [columns.get(name, pl.col(name)).alias(names[name]) for name in present]
    if form.file_format == "csv" and form.decimal_comma and "cost" in present:
        exprs[present.index("cost")] = _dutch_amount(
            pl.col("cost"), thousands=form.thousands
        ).alias(names["cost"])
    return rows.select(exprs)


def _write_csv(frame: pl.DataFrame, target: Path, form: ExportForm) -> None:
    options: dict[str, Any] = {
        "separator": form.delimiter,
        "date_format": form.date_format,
        "float_precision": 2,
    }
    if form.encoding != "cp1252":
        frame.write_csv(target, include_bom=form.encoding == "utf-8-sig", **options)
        return
    with open(target, "wb") as handle:
        # Chunks keep memory bounded; each is encoded to Windows-1252 whole, not row by row.
        for offset in range(0, max(frame.height, 1), _CSV_CHUNK):
            text = frame.slice(offset, _CSV_CHUNK).write_csv(
                None, include_header=offset == 0, line_terminator="\r\n", **options
            )
            handle.write(text.encode("cp1252"))


def _write_xlsx(frame: pl.DataFrame, target: Path) -> None:
    options = {"strings_to_formulas": False, "strings_to_urls": False}
    with Workbook(str(target), options) as workbook:
        workbook.set_properties({"created": _XLSX_CREATED})
        frame.write_excel(workbook, worksheet="Cliënten", autofilter=False, float_precision=2)


def write_export(rows: pl.DataFrame, path: str | Path, form: ExportForm) -> None:
    """Write one provider's rows (as :func:`synth_frame` gives them) in its written form.

    The file appears atomically: a failed write leaves nothing behind.

    Raises:
        ConfigError: the form is invalid, or a CSV in Windows-1252 cannot hold a character of
            the data.
    """
    path = Path(path)
    if problems := form.problems():
        raise ConfigError(f"export form of {path.name}", problems)
    frame = _export_frame(rows, form)
    with atomic_path(path) as temporary:
        if form.file_format == "csv":
            try:
                _write_csv(frame, temporary, form)
            except UnicodeEncodeError as exc:
                problem = f"{path.name}: a value cannot be written in Windows-1252 ({exc.reason})"
                raise ConfigError("synth export", [problem]) from exc
        elif form.file_format == "xlsx":
            _write_xlsx(frame, temporary)
        else:
            frame.write_parquet(temporary, compression="zstd")


def _status_counts(frame: pl.DataFrame) -> dict[str, int]:
    counts = dict.fromkeys(schema.STATUSES, 0)
    table = frame[schema.STATUS].cast(pl.String).value_counts()
    counts.update(zip(table[schema.STATUS].to_list(), table["count"].to_list(), strict=True))
    return counts


def _provider_runs(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Provider rows as consecutive runs (sorted first if they are not)."""
    runs = frame["provider"].rle().struct.unnest()
    if runs["value"].is_duplicated().any():
        frame = frame.sort("provider", maintain_order=True)
        runs = frame["provider"].rle().struct.unnest()
    return frame, runs.with_columns(offset=pl.col("len").cum_sum() - pl.col("len"))


def write_exports(
    frame: pl.DataFrame,
    forms: Sequence[ExportForm],
    outdir: str | Path,
    *,
    seed: int,
    on_file: Callable[[ProviderExport], None] | None = None,
) -> SynthResult:
    """Write every provider's export of ``frame`` and summarise what was written.

    ``frame`` is shaped as :func:`synth_frame` returns it; ``forms`` holds one written form per
    provider, in sorted order of the provider codes. Files are named ``<provider>.<format>``.

    Raises:
        ConfigError: the forms do not match the providers, or an Excel export would have more
            rows than a sheet holds (checked before anything is written).
    """
    outdir = Path(outdir)
    frame, runs = _provider_runs(frame)
    runs = runs.sort("value")
    if runs.height != len(forms):
        raise ConfigError("synth export", [f"{len(forms)} forms for {runs.height} providers"])
    slices = list(zip(runs["value"], runs["offset"], runs["len"], forms, strict=True))
    too_big = [
        f"{code}: {length} rows do not fit an Excel sheet ({XLSX_MAX_ROWS})"
        for code, _, length, form in slices
        if form.file_format == "xlsx" and length > XLSX_MAX_ROWS
    ]
    if too_big:
        raise ConfigError("messiness.file_formats", too_big)
    outdir.mkdir(parents=True, exist_ok=True)
    person = frame["person"].to_numpy()
    valid = (frame[schema.STATUS] == "valid").to_numpy()
    persons = int(person.max()) + 1 if len(person) else 0
    providers_of = np.zeros(persons, dtype=np.int32)
    linkable = np.zeros(persons, dtype=bool)
    exports = []
    for code, offset, length, form in slices:
        rows = frame.slice(offset, length)
        path = outdir / f"{code}.{form.extension}"
        write_export(rows, path, form)
        # Marks per person, one provider at a time: vectorised, and no sort of all rows.
        here = np.zeros(persons, dtype=bool)
        here[person[offset : offset + length]] = True
        valid_here = np.zeros(persons, dtype=bool)
        valid_here[person[offset : offset + length][valid[offset : offset + length]]] = True
        providers_of += here
        linkable |= valid_here
        export = ProviderExport(
            provider=code,
            path=path,
            form=form,
            rows=length,
            rows_by_status=MappingProxyType(_status_counts(rows)),
            persons=int(here.sum()),
            valid_persons=int(valid_here.sum()),
        )
        exports.append(export)
        if on_file is not None:
            on_file(export)
    spread = np.bincount(providers_of)
    truth = GroundTruth(
        rows=frame.height,
        rows_by_status=MappingProxyType(_status_counts(frame)),
        unique_persons=int((providers_of > 0).sum()),
        linkable_persons=int(linkable.sum()),
        persons_by_provider_count=MappingProxyType(
            {k: int(n) for k, n in enumerate(spread) if k > 0 and n > 0}
        ),
    )
    return SynthResult(outdir=outdir, seed=seed, exports=tuple(exports), truth=truth)


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
