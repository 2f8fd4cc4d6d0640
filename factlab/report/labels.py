"""Categories as a reader sees them: their order and label per dimension.

A report shows the values of a dimension in a fixed order and under a readable label. The round
configuration gives both per dimension (``[order]`` and ``[labels.<dimension>]``); what it does
not give falls back to defaults:

- order: age groups by age (``0-3``, ``4-11``, ``12-17``, ``18-22``, not as text), care forms
  and financing streams in the order of the 2014 table (ambulant, dagbehandeling, verblijf,
  JB/JR; Begroting, ZVW, AWBZ, then ZIN and PGB), any other value in natural order (numbers as
  numbers), ``unknown`` last;
- labels: ``JB/JR`` is "Jeugdbescherming / jeugdreclassering", ``V`` "vrouw/meisje", ``M``
  "man/jongen" and ``unknown`` "onbekend" in Dutch (English labels in an English report); any
  other value is shown as the data hold it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

__all__ = ["DEFAULT_LABELS", "DEFAULT_ORDER", "UNKNOWN", "value_labels", "value_order"]

#: The value a report gives a missing label (``provider_labels``, counts of a null value).
UNKNOWN: Final = "unknown"
#: Values in display order per dimension, before any other value (the 2014 table's order).
DEFAULT_ORDER: Final[Mapping[str, tuple[str, ...]]] = {
    "care_form": ("ambulant", "dagbehandeling", "verblijf", "JB/JR"),
    "financing": ("Begroting", "ZVW", "AWBZ", "ZIN", "PGB"),
    "sex": ("M", "V"),
}
#: Labels per language and dimension; ``*`` applies to every dimension.
DEFAULT_LABELS: Final[Mapping[str, Mapping[str, Mapping[str, str]]]] = {
    "nl": {
        "care_form": {"JB/JR": "Jeugdbescherming / jeugdreclassering"},
        "sex": {"V": "vrouw/meisje", "M": "man/jongen"},
        "*": {UNKNOWN: "onbekend"},
    },
    "en": {
        "sex": {"V": "female", "M": "male"},
        "*": {UNKNOWN: "unknown"},
    },
}
_NUMBER = re.compile(r"[0-9]+")


def _natural(value: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that reads the numbers in a text as numbers: ``4-11`` before ``12-17``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"([0-9]+)", value)
        if part
    )


def value_order(
    dimension: str, present: Iterable[str], given: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The values of ``dimension`` that are ``present``, in display order.

    The configured order comes first, then the default order of the dimension, then every
    other value in natural order (numbers as numbers), ``unknown`` last. A configured value that
    is not present is left out.

    Example:
        >>> value_order("age_group", ["12-17", "0-3", "18-22", "4-11"])
        ('0-3', '4-11', '12-17', '18-22')
        >>> value_order("care_form", ["verblijf", "JB/JR", "ambulant", "crisis"])
        ('ambulant', 'verblijf', 'JB/JR', 'crisis')
        >>> value_order("municipality", ["Emmen", "unknown", "Assen"], ["Emmen"])
        ('Emmen', 'Assen', 'unknown')
    """
    values = set(present)
    first = [v for v in (*(given or ()), *DEFAULT_ORDER.get(dimension, ())) if v in values]
    first = list(dict.fromkeys(first))
    rest = sorted((v for v in values if v not in first), key=lambda v: (v == UNKNOWN, _natural(v)))
    return (*first, *rest)


def value_labels(
    language: str, dimension: str, given: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Labels of the values of ``dimension``: the configured ones over the defaults.

    Example:
        >>> value_labels("nl", "care_form")["JB/JR"]
        'Jeugdbescherming / jeugdreclassering'
        >>> value_labels("nl", "municipality", {"Assen": "gemeente Assen"})
        {'unknown': 'onbekend', 'Assen': 'gemeente Assen'}
    """
    defaults = DEFAULT_LABELS.get(language, DEFAULT_LABELS["en"])
    return {**defaults.get("*", {}), **defaults.get(dimension, {}), **(given or {})}
