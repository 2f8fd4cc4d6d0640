"""protect publishes no label that looks like a BSN (factlab.disclosure.labels).

Synthetic data only: BSNs from the test range 999900000-999999999 that pass the elfproef.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from factlab.cli import main
from factlab.disclosure.linked import protect_together
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import DisclosureRules
from factlab.errors import DataError

#: A BSN inside a label, written as the red-team run wrote them (issue 14 follow-up, item 1).
BSN_IN_LABELS = (
    "999993653",
    "BSN 999993653",
    "999.993.653,",
    "'999993653",
    "999,993,653",
    "999_993_653",
    "999/993/653",
    "0999991723",
    "\u0669\u0669\u0669\u0669\u0669\u0663\u0666\u0665\u0663",  # Arabic-Indic digits
)


def counts_by(labels: list[str], column: str = "municipality") -> pl.DataFrame:
    """A count table by one dimension: each label with 40 clients, and the total."""
    return pl.DataFrame(
        {
            column: [*labels, None],
            "unique_clients": [40] * len(labels) + [40 * len(labels)],
        }
    )


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize("label", BSN_IN_LABELS)
def test_protect_refuses_a_bsn_in_a_label(label: str) -> None:
    with pytest.raises(DataError) as raised:
        protect(counts_by(["Assen", label, "Emmen"]))
    message = str(raised.value)
    assert message.startswith("protect: dimension municipality: 1 label value looks like a BSN")
    assert "nothing is published" in message
    assert label not in message
    assert "999" not in digits_of(message)


def test_protect_counts_the_values_per_dimension_and_checks_parts_and_every_dimension() -> None:
    counts = pl.DataFrame(
        {
            "municipality": ["BSN 999993653", "999/991/723", "Assen", None],
            "unique_clients": [40, 40, 40, 120],
        }
    )
    with pytest.raises(DataError, match="dimension municipality: 2 label values look like"):
        protect(counts)
    # a part's label is published too
    whole = counts_by(["Assen", "Emmen"])
    with pytest.raises(DataError, match="part column period: 1 label value looks like"):
        protect(whole, parts={"999993653": whole}, label="2025")
    # a numeric dimension is a label as well
    years = counts_by(["2010", "2011"], "birth_year").with_columns(
        pl.col("birth_year").cast(pl.Int64)
    )
    assert protect(years).table.frame.height == 3
    with pytest.raises(DataError, match="dimension birth_year"):
        protect(years.with_columns(pl.Series("birth_year", [999993653, 2011, None])))


def test_protect_together_refuses_a_bsn_in_a_label() -> None:
    by_form = counts_by(["ambulant", "verblijf"], "care_form")
    by_stream = counts_by(["PGB", "ZIN 999.993.653"], "financing")
    with pytest.raises(DataError, match="protect_together: dimension financing: 1 label"):
        protect_together({"one": by_form, "two": by_stream}, DisclosureRules(rounding_base=1))


def test_digits_that_are_no_bsn_are_labels_like_any_other() -> None:
    labels = ["999993654", "000000000", "12345678", "2013-2014", "1999993653"]
    table = protect(counts_by(labels), DisclosureRules(rounding_base=1)).table
    assert table.frame.get_column("municipality").drop_nulls().to_list() == sorted(labels)


def test_cli_protect_refuses_a_bsn_in_a_label_in_one_line(tmp_path: Path) -> None:
    counts = tmp_path / "counts.json"
    rows = counts_by(["Assen", "BSN 999993653"]).to_dicts()
    counts.write_text(json.dumps({"metadata": {}, "rows": rows}), encoding="utf-8")
    out = tmp_path / "protected.csv"
    result = CliRunner().invoke(main, ["protect", str(counts), "--out", str(out)])
    assert result.exit_code == DataError.exit_code, result.output
    assert "dimension municipality: 1 label value looks like a BSN" in result.output
    assert "999993653" not in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
