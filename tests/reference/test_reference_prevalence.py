"""Prevalence from protected counts, against figures computed by hand."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import date
from itertools import count as numbers

import polars as pl
import pytest
from reference_data import NORTH, SOUTH, drenthe_reference
from scipy.stats import binom

from factlab import schema
from factlab.disclosure.prevalence import prevalence
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import ConfigError, DataError, FactlabWarning
from factlab.reference.config import Reference
from factlab.reference.municipalities import drenthe_municipalities
from factlab.reference.population import Population

CLIENTS = {
    "Assen": 40, "Aa en Hunze": 20, "Tynaarlo": 30, "Noordenveld": 10, "Midden-Drenthe": 50,
    "Borger-Odoorn": 50, "Emmen": 60, "Coevorden": 3, "Hoogeveen": 30, "Meppel": 20,
    "De Wolden": 15, "Westerveld": 12,
}  # fmt: skip


def rows(clients: dict[str, int], *, birth_year: int = 2012) -> pl.DataFrame:
    """One row per client, each client a distinct pseudonym in one municipality."""
    serial = numbers(1)
    records = [
        (f"{next(serial):032x}", name) for name, number in clients.items() for _ in range(number)
    ]
    return pl.DataFrame(
        {
            "pseudonym": [pseudonym for pseudonym, _ in records],
            "bsn_status": pl.Series(["valid"] * len(records), dtype=schema.STATUS_DTYPE),
            "provider": ["P01"] * len(records),
            "municipality": [name for _, name in records],
            "birth_year": pl.Series([birth_year] * len(records), dtype=pl.Int16),
            "start_date": [date(2024, 3, 1)] * len(records),
            "end_date": [date(2024, 9, 1)] * len(records),
        }
    )


def with_population(reference: Reference, ages: tuple[int, int] | None = None) -> Reference:
    codes = drenthe_municipalities().codes(2024)
    people = codes.select(
        pl.col("name").alias("municipality"), "code", pl.lit(1000).alias("population")
    )
    return replace(reference, population=Population(people, 2024, ages, "bevolking.csv"))


EXACT = DisclosureRules(rounding_base=1, zero_is_secret=False, method="cleanup")


def by_label(frame: pl.DataFrame) -> dict[str | None, dict[str, object]]:
    return {row["municipality"]: row for row in frame.iter_rows(named=True)}


def test_prevalence_per_municipality_and_region_by_hand() -> None:
    reference = with_population(drenthe_reference())
    result = by_label(prevalence(rows(CLIENTS), reference, period="2024", rules=EXACT).frame)
    assert result["Assen"]["clients"] == 40
    assert result["Assen"]["prevalence_pct"] == 4.0  # 40 / 1000
    assert result["Midden-Drenthe"]["prevalence_pct"] == 5.0  # 50 / 1000
    assert result["Noord- en Midden-Drenthe"]["population"] == 6000
    assert result["Noord- en Midden-Drenthe"]["prevalence_pct"] == 3.33  # 200 / 6000
    assert result["Noord- en Midden-Drenthe"]["level"] == "purchasing_region"
    assert result["Jeugdregio Drenthe"]["prevalence_pct"] == 2.83  # 340 / 12000
    assert result[None]["level"] == "total"
    assert result[None]["population"] == 12000


def test_a_suppressed_count_has_no_prevalence() -> None:
    reference = with_population(drenthe_reference())
    frame = prevalence(rows(CLIENTS), reference, period="2024", rules=EXACT).frame
    coevorden = by_label(frame)["Coevorden"]
    assert coevorden["clients_status"] == "suppressed"
    assert coevorden["clients"] is None
    assert coevorden["prevalence_pct"] is None
    assert coevorden["lower_pct"] is None
    hidden = frame.filter(pl.col("clients_status") == "suppressed")
    assert hidden.height >= 2  # a complement keeps Coevorden's 3 from its region's margin
    assert hidden.get_column("prevalence_pct").null_count() == hidden.height


def clopper_pearson_holds(lower: float, upper: float, low: int, high: int, n: int) -> bool:
    """The defining equations of the exact interval, with the binomial distribution."""
    lower_tail = binom.sf(low - 1, n, lower / 100)  # P(X >= low | p = lower)
    upper_tail = binom.cdf(high, n, upper / 100)  # P(X <= high | p = upper)
    return abs(lower_tail - 0.025) < 0.002 and abs(upper_tail - 0.025) < 0.002


def test_the_interval_is_clopper_pearson_of_the_published_count() -> None:
    reference = with_population(drenthe_reference())
    assen = by_label(prevalence(rows(CLIENTS), reference, period="2024", rules=EXACT).frame)[
        "Assen"
    ]
    assert clopper_pearson_holds(assen["lower_pct"], assen["upper_pct"], 40, 40, 1000)
    assert assen["lower_pct"] < 4.0 < assen["upper_pct"]


def test_rounding_widens_the_interval_to_every_count_that_rounds_alike() -> None:
    reference = with_population(drenthe_reference())
    rounded = replace(EXACT, rounding_base=5)
    clients = {**CLIENTS, "Assen": 41}  # published as 40: the truth may be 38..42
    assen = by_label(prevalence(rows(clients), reference, period="2024", rules=rounded).frame)[
        "Assen"
    ]
    assert assen["clients"] == 40
    assert assen["prevalence_pct"] == 4.0
    assert clopper_pearson_holds(assen["lower_pct"], assen["upper_pct"], 38, 42, 1000)


def test_an_age_band_counts_only_the_youths_in_it() -> None:
    reference = with_population(drenthe_reference(), ages=(0, 17))
    young = rows({"Assen": 40})
    old = rows({"Assen": 25}, birth_year=2000).with_columns(
        pl.Series("pseudonym", [f"{9999 + i:032x}" for i in range(25)])
    )
    result = prevalence(pl.concat([young, old]), reference, period="2024", rules=EXACT)
    assert by_label(result.frame)["Assen"]["clients"] == 40
    assert result.metadata()["ages"] == [0, 17]
    assert result.metadata()["interval"].startswith("Clopper-Pearson")


def test_refusals() -> None:
    with pytest.raises(ConfigError, match="names no population file"):
        prevalence(rows(CLIENTS), drenthe_reference(), period="2024")
    banded = with_population(drenthe_reference(), ages=(0, 17))
    with pytest.raises(ConfigError, match="an age band needs a period or a reference date"):
        prevalence(rows(CLIENTS), banded)
    with pytest.raises(DataError, match="needs birth_year"):
        prevalence(rows(CLIENTS).drop("birth_year"), banded, period="2024")
    with pytest.raises(ConfigError, match="'care' is not a hierarchy of municipalities"):
        prevalence(rows(CLIENTS), with_population(drenthe_reference()), hierarchy="care")


def test_the_groups_cover_the_regions_in_the_test_data() -> None:
    assert set(CLIENTS) == set(NORTH) | set(SOUTH)


def test_a_population_of_another_year_is_warned_about() -> None:
    reference = with_population(drenthe_reference())
    with pytest.warns(FactlabWarning, match="population is of 2024, the clients of 2023"):
        prevalence(rows(CLIENTS), reference, period="2023", rules=EXACT)


def test_rows_without_a_birth_year_are_counted_and_warned_about() -> None:
    # review 17/20 #10: the age band dropped them silently
    reference = with_population(drenthe_reference(), ages=(0, 17))
    young = rows({"Assen": 40})
    unknown = rows({"Assen": 7}).with_columns(
        pl.Series("pseudonym", [f"{5000 + i:032x}" for i in range(7)]),
        pl.lit(None, dtype=pl.Int16).alias("birth_year"),
    )
    # one client of the 40 has a second row without a birth year: a row left out, still counted
    extra = young.head(1).with_columns(pl.lit(None, dtype=pl.Int16).alias("birth_year"))
    with pytest.warns(FactlabWarning, match=r"8 row\(s\) of the data have no birth year") as seen:
        result = prevalence(
            pl.concat([young, unknown, extra]), reference, period="2024", rules=EXACT
        )
    assert "7 client(s) have no row with one" in str(seen[0].message)
    assert by_label(result.frame)["Assen"]["clients"] == 40
    assert result.metadata()["no_birth_year"] == {"rows": 8, "clients": 7}


def test_no_warning_when_every_row_has_a_birth_year() -> None:
    reference = with_population(drenthe_reference(), ages=(0, 17))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FactlabWarning)
        result = prevalence(rows({"Assen": 40}), reference, period="2024", rules=EXACT)
    assert result.metadata()["no_birth_year"] == {"rows": 0, "clients": 0}


def test_count_where_counts_only_the_rows_kept() -> None:
    from factlab.analysis.counts import count

    frame = pl.concat([rows({"Assen": 10}), rows({"Emmen": 5}, birth_year=2000)])
    young = pl.col("birth_year") >= 2005
    kept = count(frame, by=["municipality"], where=young)
    filtered = count(frame.filter(young), by=["municipality"])
    assert kept.unique_clients == filtered.unique_clients == 10
    assert kept.table.equals(filtered.table)
    with pytest.raises(TypeError, match="where must be a Polars expression"):
        count(frame, where="birth_year >= 2005")  # type: ignore[arg-type]
