"""What a protected table may not publish as a label: a value that looks like a BSN.

A count table's labels (its dimensions' values, and the labels of its parts) are published as
they are. A BSN among them means a field was filled from the BSN column (a mapping that names it
twice, two columns swapped) or a table was made by hand: disclosure control would publish it as
a row. Pseudonymising, linking and the report refuse such values too; this check stops a count
table that reached :func:`~factlab.disclosure.protect.protect` any other way.
"""

from __future__ import annotations

import polars as pl

from factlab.disclosure.lattice import Lattice
from factlab.errors import DataError
from factlab.steward.bsn import looks_like_bsn

__all__ = ["refuse_bsn_labels"]


def refuse_bsn_labels(lattice: Lattice, *, what: str = "protect") -> None:
    """Refuse a table whose labels hold a value that looks like a BSN; nothing is published.

    A label looks like a BSN by the rule of :func:`factlab.steward.bsn.looks_like_bsn`: the
    whole value, or a run of eight or nine digits anywhere in it, passes the elfproef.

    Raises:
        DataError: naming each such dimension (or the part column) with the number of such
            values, never a value.

    Example:
        >>> from factlab.disclosure.lattice import prepare
        >>> from factlab.disclosure.rules import PRESETS
        >>> counts = pl.DataFrame({"municipality": ["BSN 999993653", None],
        ...                        "unique_clients": [40, 40]})
        >>> refuse_bsn_labels(prepare(counts, PRESETS["cbs"]))
        Traceback (most recent call last):
        factlab.errors.DataError: protect: dimension municipality: 1 label value looks like a BSN (8 or 9 digits passing the elfproef); nothing is published: check the column mapping of this field
    """  # noqa: E501
    keys = [name for name in (lattice.part_column, *lattice.dimensions) if name is not None]
    problems = []
    for name in keys:
        # on the distinct labels: a table has few
        labels = lattice.cells.get_column(name).cast(pl.String).unique().drop_nulls()
        number = int(pl.select(looks_like_bsn(pl.lit(labels)).sum()).item())
        if number:
            which = "part column" if name == lattice.part_column else "dimension"
            values = "value looks" if number == 1 else "values look"
            problems.append(
                f"{which} {name}: {number} label {values} like a BSN "
                "(8 or 9 digits passing the elfproef)"
            )
    if problems:
        raise DataError(
            f"{what}: {'; '.join(problems)}; nothing is published: check the column mapping "
            "of this field"
        )
