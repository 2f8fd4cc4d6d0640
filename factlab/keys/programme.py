"""Programme keys: one round key for the years of a monitoring programme.

A monitor follows the same youths from year to year, so its pseudonyms must stay the same over
the years: the programme uses one round key, whose round name is the programme's name, e.g.
``drenthe-2021-2025``. Nothing in the key derivation changes (:mod:`factlab.keys.round_keys`):
the name is part of every HKDF label, so two programmes' keys never make the same pseudonyms.

The name states the years the key may serve, and the monitor holds it to them: a delivery for a
year outside the programme is refused (:mod:`factlab.monitor.store`). A key's life is bounded by
its name, and the next programme starts with a new key (docs/threat-model.md, "Key life of a
monitoring programme").
"""

from __future__ import annotations

import re
from typing import Final

from factlab.errors import KeyFileError
from factlab.keys.round_keys import Key, new_round_key

__all__ = ["MAX_PROGRAMME_YEARS", "new_programme_key", "programme_round", "programme_years"]

#: The longest programme one key may serve: every year more is a year more of exposure.
MAX_PROGRAMME_YEARS: Final = 10
_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_PROGRAMME = re.compile(
    r"(?P<region>[a-z0-9]+(?:-[a-z0-9]+)*?)-(?P<first>[0-9]{4})-(?P<last>[0-9]{4})"
)


def programme_round(region: str, first_year: int, last_year: int) -> str:
    """The round name of a programme: ``<region>-<first year>-<last year>``.

    Raises:
        KeyFileError: the region is not lowercase letters, digits and single hyphens, or the
            years are out of order or span more than :data:`MAX_PROGRAMME_YEARS`.

    Example:
        >>> programme_round("drenthe", 2021, 2025)
        'drenthe-2021-2025'
    """
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise KeyFileError(
            "programme region: lowercase letters and digits, words joined by single hyphens"
        )
    if not (1900 <= first_year <= last_year < first_year + MAX_PROGRAMME_YEARS):
        raise KeyFileError(
            f"programme years: in order, at most {MAX_PROGRAMME_YEARS} years from 1900 on"
        )
    return f"{region}-{first_year}-{last_year}"


def programme_years(round_name: str) -> tuple[int, int] | None:
    """The first and last year of a programme's round name; None for another round name.

    Example:
        >>> programme_years("drenthe-2021-2025"), programme_years("2025")
        ((2021, 2025), None)
    """
    match = _PROGRAMME.fullmatch(round_name)
    if match is None:
        return None
    first, last = int(match.group("first")), int(match.group("last"))
    if not first <= last < first + MAX_PROGRAMME_YEARS:
        return None
    return first, last


def new_programme_key(region: str, first_year: int, last_year: int) -> Key:
    """A new round key for a programme (256 bits from the operating system's CSPRNG).

    Example:
        >>> new_programme_key("drenthe", 2021, 2025).round
        'drenthe-2021-2025'
    """
    return new_round_key(programme_round(region, first_year, last_year))
