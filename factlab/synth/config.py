"""What the synthetic generator makes: how many providers and clients, and how messy the exports.

A :class:`SynthConfig` describes the clients, their spread over providers and their care; its
:class:`Messiness` switches on, kind by kind, the mess real deliveries contain. Both are validated
up front, every bad field reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from factlab.errors import ConfigError
from factlab.periods import parse_period
from factlab.synth.write import FILE_FORMATS

__all__ = [
    "DRENTHE_MUNICIPALITIES",
    "DRENTHE_POPULATION",
    "OUT_OF_REGION_MUNICIPALITIES",
    "Messiness",
    "SynthConfig",
]

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
            file_formats=FILE_FORMATS,
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
        unknown = [name for name in mess.file_formats if name not in FILE_FORMATS]
        if unknown or not mess.file_formats:
            problems.append(f"messiness.file_formats: choose from {', '.join(FILE_FORMATS)}")
        if not self.municipalities:
            problems.append("municipalities: name at least one")
        if problems:
            raise ConfigError("synth config", problems)
