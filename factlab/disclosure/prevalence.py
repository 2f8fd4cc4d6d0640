"""Prevalence: the share of a municipality's or region's youths in care, from protected counts.

:func:`prevalence` counts the unique clients per municipality and per group of a municipality
hierarchy (each group a union of clients, :mod:`factlab.reference.dimensions`), protects that
table as one under the disclosure rules (:func:`factlab.disclosure.protect.protect`, with the
hierarchy declared), and only then divides by the population (:mod:`factlab.reference.population`).
A suppressed count has no prevalence; a published one is the rounded count divided by the
population, as CBS computes percentages after rounding.

The interval is the exact (Clopper–Pearson) binomial interval, widened for the rounding: its
lower end is that of the smallest count that rounds to the published value, its upper end that
of the largest. Clopper–Pearson, not Wilson: it never covers less than the confidence asked,
where Wilson's coverage dips below it for small counts — and small counts are where an interval
matters. Computed from the published value, the interval reveals nothing the value does not.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl
from scipy.stats import beta

from factlab import schema
from factlab._checks import require_frame, require_type
from factlab._version import __version__
from factlab.analysis.counts import count
from factlab.disclosure.protect import ProtectedTable, protect
from factlab.disclosure.rules import DisclosureRules, preset
from factlab.errors import ConfigError, DataError, FactlabWarning
from factlab.manifest import now_iso
from factlab.periods import Period, parse_date, parse_period
from factlab.reference.config import Reference
from factlab.reference.dimensions import UNKNOWN, declared_for
from factlab.result_files import write_table

__all__ = ["PrevalenceResult", "prevalence", "write_prevalence"]

METADATA_KEY: Final = "factlab.prevalence"
_HINT: Final = "a factlab Reference (load one with factlab.load_reference(path))"
#: How the interval is computed (said in every output).
INTERVAL_METHOD: Final = (
    "Clopper-Pearson exact binomial, widened to every count that rounds to the published value"
)


@dataclass(frozen=True)
class PrevalenceResult:
    """Prevalence per municipality and group, from protected counts only.

    Attributes:
        frame: ``municipality`` (a municipality or a group; null = the total), ``level``
            (``municipality``, the level's name, or ``total``), ``clients`` (published, rounded;
            null when suppressed), ``clients_status``, ``population``, ``prevalence_pct``,
            ``lower_pct`` and ``upper_pct`` (null where the count is suppressed or there is no
            population).
        table: the protected count table the figures come from.
        confidence: the interval's confidence level.
        population_year: the year of the population figures.
        ages: the age band counted and divided by (None: every age).
        metadata_extra: provenance: the counted file, period, reference.
    """

    frame: pl.DataFrame
    table: ProtectedTable
    confidence: float
    population_year: int
    ages: tuple[int, int] | None
    metadata_extra: Mapping[str, Any]

    def metadata(self) -> dict[str, Any]:
        """What a prevalence output says about itself."""
        return {
            "format": "factlab-prevalence",
            "exact": False,
            "internal": False,
            "note": "counts protected under the rules below; prevalence from the published values",
            "confidence": self.confidence,
            "interval": INTERVAL_METHOD,
            "population_year": self.population_year,
            "ages": list(self.ages) if self.ages else None,
            "rules": self.table.rules.to_dict(),
            **dict(self.metadata_extra),
            "factlab_version": __version__,
            "created": now_iso(),
        }


def prevalence(
    source: pl.DataFrame | pl.LazyFrame | str | Path,
    reference: Reference,
    *,
    hierarchy: str | None = None,
    period: Period | str | None = None,
    on: date | str | None = None,
    rules: DisclosureRules | None = None,
    confidence: float = 0.95,
) -> PrevalenceResult:
    """Count, protect and divide: youths in care per municipality and group, with intervals.

    Args:
        source: a linked file or its rows.
        reference: reference data with a population (``[population]`` in the reference file).
        hierarchy: the municipality hierarchy whose groups to add (default: the only one whose
            leaves are municipalities, if there is one).
        period: count clients in care at any moment in this period; or
        on: count clients in care on this date. With an age band, one of them is needed: ages
            are computed at the period's last day or at this date, as ``count`` does.
        rules: disclosure rules (default: the ``cbs`` preset); the hierarchy is added to them.
        confidence: the interval's confidence level.

    Raises:
        ConfigError: no population, an unknown or unsuited hierarchy, an age band without a
            period or date, a confidence outside (0, 1).
        DataError: the data lack ``birth_year`` where an age band needs it; and as
            :func:`factlab.analysis.counts.count` and :func:`factlab.disclosure.protect.protect`.

    Example:
        >>> import polars as pl
        >>> from factlab import schema
        >>> from factlab.reference.config import reference_from_mapping
        >>> from factlab.reference.population import Population
        >>> reference = reference_from_mapping({"version": 1, "reference_year": 2024})
        >>> people = pl.DataFrame({"municipality": ["Assen"], "code": ["GM0106"],
        ...                        "population": [1000]})
        >>> reference = replace(reference, population=Population(people, 2024, None, "test"))
        >>> rows = pl.DataFrame({"pseudonym": [f"{i:032x}" for i in range(40)],
        ...     "bsn_status": pl.Series(["valid"] * 40, dtype=schema.STATUS_DTYPE),
        ...     "provider": ["A"] * 40, "municipality": ["Assen"] * 40})
        >>> result = prevalence(rows, reference, rules=DisclosureRules(rounding_base=1))
        >>> result.frame.select("municipality", "clients", "prevalence_pct").rows()
        [(None, 40, 4.0), ('Assen', 40, 4.0)]
    """
    require_frame(source, where="prevalence", name="source", path_ok=True)
    require_type(reference, Reference, where="prevalence", name="reference", hint=_HINT)
    population = reference.population
    problems: list[str] = []
    if population is None:
        problems.append("population: the reference file names no population file")
    if not 0 < confidence < 1:
        problems.append("confidence: must be between 0 and 1")
    chosen = _hierarchy(reference, hierarchy, problems)
    chosen_period = parse_period(period) if isinstance(period, str) else period
    on_date = parse_date(on, what="reference date") if isinstance(on, str) else on
    age_date = chosen_period.end if chosen_period is not None else on_date
    if population is not None and population.ages is not None and age_date is None:
        problems.append("ages: an age band needs a period or a reference date to compute ages at")
    if problems:
        raise ConfigError("prevalence", problems)
    assert population is not None
    if age_date is not None and age_date.year != population.year:
        warnings.warn(
            f"prevalence: the population is of {population.year}, the clients of {age_date.year}",
            FactlabWarning,
            stacklevel=2,
        )
    # count opens and checks the file (its manifest, digest and provenance) and applies the band
    rows = source.lazy() if isinstance(source, pl.DataFrame | pl.LazyFrame) else None
    no_birth_year = {"rows": 0, "clients": 0}
    band: pl.Expr | None = None
    if population.ages is not None:
        assert age_date is not None
        if "birth_year" not in _column_names(source):
            raise DataError("prevalence: an age band needs birth_year, and the data have none")
        lowest, highest = population.ages
        born = pl.col("birth_year").cast(pl.Int32)
        band = born.is_between(age_date.year - highest, age_date.year - lowest)
    by = [chosen] if chosen else ["municipality"]
    counted = count(
        source, by=by, period=chosen_period, on=on_date, reference=reference, where=band
    )
    if population.ages is not None:
        # the file, checked by count as a linked file: its rows again, for the rows left out
        no_birth_year = _without_birth_year(
            rows if rows is not None else pl.scan_parquet(Path(str(source)))
        )
        if no_birth_year["rows"]:
            warnings.warn(
                f"prevalence: {no_birth_year['rows']} row(s) of the data have no birth year and "
                f"are left out of the age band {population.ages[0]}-{population.ages[1]}; "
                f"{no_birth_year['clients']} client(s) have no row with one and are not counted "
                "anywhere (the metadata's no_birth_year says so too)",
                FactlabWarning,
                stacklevel=2,
            )
    table = counted.table.select("municipality", "unique_clients")
    base = rules or preset("cbs")
    declared = declared_for(table, reference, hierarchies=[chosen] if chosen else [])
    if declared:
        base = replace(base, hierarchy={**base.hierarchy, **declared})
    protected = protect(table, base).table
    frame = _rates(protected, reference, chosen, population.by_name(), confidence)
    extra = {
        **({"no_birth_year": no_birth_year} if population.ages is not None else {}),
        "source": counted.source,
        "period": chosen_period.label if chosen_period else None,
        "reference_date": on_date.isoformat() if on_date else None,
        "hierarchy": chosen,
        "population_source": Path(population.source).name,
        "reference": reference.to_dict(),
    }
    return PrevalenceResult(frame, protected, confidence, population.year, population.ages, extra)


def _hierarchy(reference: Reference, name: str | None, problems: list[str]) -> str | None:
    suited = [n for n, h in reference.hierarchies.items() if h.dimension == "municipality"]
    if name is None:
        return suited[0] if len(suited) == 1 else None
    if name not in suited:
        problems.append(
            f"hierarchy: {name!r} is not a hierarchy of municipalities "
            f"(those: {', '.join(suited) or 'none'})"
        )
        return None
    return name


def _column_names(source: pl.DataFrame | pl.LazyFrame | str | Path) -> list[str]:
    """The columns of the rows or of the file; for a file that cannot be read as Parquet,
    ``birth_year`` is taken as present, so that count says what is wrong with the file."""
    if isinstance(source, pl.DataFrame | pl.LazyFrame):
        return source.lazy().collect_schema().names()
    try:
        return pl.scan_parquet(Path(source)).collect_schema().names()
    except (OSError, pl.exceptions.PolarsError):
        return ["birth_year"]  # not known here: count refuses the file first


def _without_birth_year(rows: pl.LazyFrame) -> dict[str, int]:
    """Rows without a birth year (an age band cannot place them), and the clients none of whose
    rows has one (left out of every count of the band), over all rows of the data."""
    client = pl.col(schema.PSEUDONYM)
    missing = pl.col("birth_year").is_null()
    per_client = (
        rows.filter(client.is_not_null())
        .group_by(client)
        .agg(missing.all().alias("none"))
        .select(pl.col("none").sum().alias("clients"))
    )
    counted = pl.concat(
        [rows.select(missing.sum().alias("rows")), per_client], how="horizontal"
    ).collect()
    return {"rows": int(counted.item(0, "rows")), "clients": int(counted.item(0, "clients") or 0)}


def _rates(
    protected: ProtectedTable,
    reference: Reference,
    chosen: str | None,
    people: Mapping[str, int],
    confidence: float,
) -> pl.DataFrame:
    level_of: dict[str, str] = {}
    population: dict[str, int] = dict(people)
    if chosen:
        hierarchy = reference.hierarchies[chosen]
        for level in hierarchy.levels:
            sums: dict[str, int] = {}
            incomplete: set[str] = set()
            for leaf, group in hierarchy.leaf_map(level).items():
                level_of[group] = level
                if leaf in people:
                    sums[group] = sums.get(group, 0) + people[leaf]
                else:
                    incomplete.add(group)
            # A group with a leaf without figures has no population: a part would overstate it.
            population.update({g: n for g, n in sums.items() if g not in incomplete})
    frame = protected.frame.select("municipality", "unique_clients", "unique_clients_status")
    has_unknown = (
        frame.filter(pl.col("municipality") == UNKNOWN).get_column("unique_clients").fill_null(1)
        > 0
    ).any()
    leaves = _leaves(reference, chosen, people)
    leaves_total = (
        sum(people[leaf] for leaf in leaves) if all(leaf in people for leaf in leaves) else None
    )
    frame = frame.with_columns(
        pl.when(pl.col("municipality").is_null())
        .then(pl.lit("total"))
        .otherwise(pl.col("municipality").replace_strict(level_of, default="municipality"))
        .alias("level"),
        pl.when(pl.col("municipality").is_null())
        .then(pl.lit(None if has_unknown else leaves_total, dtype=pl.Int64))
        .otherwise(
            pl.col("municipality").replace_strict(population, default=None, return_dtype=pl.Int64)
        )
        .alias("population"),
    )
    base = protected.rules.rounding_base
    published = frame.get_column("unique_clients").to_numpy().astype(float)
    people_n = frame.get_column("population").to_numpy().astype(float)
    usable = ~np.isnan(published) & ~np.isnan(people_n) & (people_n > 0)
    lowest = np.maximum(0.0, np.ceil(published - base / 2))
    highest = np.minimum(people_n, np.ceil(published + base / 2) - 1)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(lowest > 0, beta.ppf(alpha / 2, lowest, people_n - lowest + 1), 0.0)
        upper = np.where(
            highest < people_n, beta.ppf(1 - alpha / 2, highest + 1, people_n - highest), 1.0
        )
        rate = published / people_n

    def percent(values: np.ndarray[Any, Any]) -> pl.Series:
        shown = np.where(usable, np.round(values * 100, 2), np.nan)
        return pl.Series(shown).fill_nan(None)

    return frame.select(
        "municipality",
        "level",
        pl.col("unique_clients").alias("clients"),
        pl.col("unique_clients_status").alias("clients_status"),
        "population",
    ).with_columns(
        percent(rate).alias("prevalence_pct"),
        percent(lower).alias("lower_pct"),
        percent(upper).alias("upper_pct"),
    )


def _leaves(reference: Reference, chosen: str | None, people: Mapping[str, int]) -> list[str]:
    if chosen:
        return list(reference.hierarchies[chosen].leaves)
    return list(people)


def write_prevalence(
    result: PrevalenceResult,
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = True,
) -> list[Path]:
    """Write the prevalence table (``.csv`` + ``.meta.json``, ``.parquet`` or ``.json``).

    Returns:
        The files written.
    """
    frame = result.frame.with_columns(pl.col("clients_status").cast(pl.String))
    return write_table(
        frame, path, result.metadata(), METADATA_KEY, inputs=inputs, overwrite=overwrite
    )
