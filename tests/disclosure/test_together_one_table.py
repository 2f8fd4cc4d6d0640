"""protect_together with one table: its membership mask has one value per cell.

It used to be a single value (a bare literal selected on its own), and the protection report of a
table with a suppression then failed with an IndexError.
"""

from __future__ import annotations

import polars as pl

from factlab.disclosure.linked import protect_together
from factlab.disclosure.protect import protect
from factlab.disclosure.rules import DisclosureRules, MeasureRule


def test_one_table_with_a_suppression_is_protected_as_protect_does() -> None:
    counts = pl.DataFrame({"care_form": ["a", "b", "c", None], "unique_clients": [3, 40, 50, 93]})
    rules = DisclosureRules(measures=(MeasureRule("unique_clients", "union"),))
    together = protect_together({"only": counts}, rules)["only"]
    alone = protect(counts, rules)
    assert together.table.frame.equals(alone.table.frame)
    assert (together.report.primary, together.report.secondary) == (
        alone.report.primary,
        alone.report.secondary,
    )
    assert together.report.audit.cells.height == alone.report.audit.cells.height
