"""Reading a column on its distinct values: each value parsed once, the result spread to the rows.

A column of an export is parsed on its distinct values when a sample suggests few of them (dates,
codes, municipalities: a few thousand in millions of rows). Both ways give the same values; only
the time differs, and a column of mostly distinct values (amounts) is faster read row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import polars as pl

from factlab import schema

__all__ = ["MAX_DISTINCT_SHARE", "TEXT_FIELDS", "Derived", "by_distinct", "few_distinct"]


@dataclass
class Derived:
    """Columns that each depend on one source column only: the parsed fields and their flags.

    Every field of an export is read from one column (the BSN aside), so everything costly is
    such a column. Each entry is (source column, stage, expression); an expression refers to its
    source and to entries of the same source from earlier stages.
    """

    entries: dict[str, tuple[str, int, pl.Expr]] = field(default_factory=dict)

    def source_of(self, expr: pl.Expr) -> str | None:
        """The one source column ``expr`` depends on through entries, if it is one."""
        sources = {self.entries[r][0] for r in expr.meta.root_names() if r in self.entries}
        return sources.pop() if len(sources) == 1 else None

    def add(self, source: str, name: str, expr: pl.Expr) -> pl.Expr:
        """Register ``expr`` as the entry ``name`` of ``source`` and return its column.

        An expression that also depends on another column is returned as it is, to be computed
        row by row where it is used.
        """
        stages = []
        for root in expr.meta.root_names():
            if root != source:
                entry = self.entries.get(root)
                if entry is None or entry[0] != source:
                    return expr
                stages.append(entry[1])
        self.entries[name] = (source, 1 + max(stages, default=-1), expr)
        return pl.col(name)

    def stages(self, sources: set[str]) -> list[dict[str, pl.Expr]]:
        """The entries of ``sources``, by stage."""
        stages: list[dict[str, pl.Expr]] = []
        for name, (source, stage, expr) in self.entries.items():
            if source in sources:
                stages += [{} for _ in range(stage + 1 - len(stages))]
                stages[stage][name] = expr
        return stages


_SAMPLE_ROWS: Final = 65_536
MAX_DISTINCT_SHARE: Final = 0.125
#: The text fields of the output (Categorical, see :data:`factlab.schema.TEXT_DTYPE`).
TEXT_FIELDS: Final = frozenset(
    name for name, dtype in schema.FIELD_DTYPES.items() if dtype == schema.TEXT_DTYPE
)


def few_distinct(frame: pl.DataFrame, sources: list[str]) -> list[str]:
    """The text columns among ``sources`` that a sample suggests hold few distinct values."""
    if not sources or frame.height == 0:
        return []
    sample = frame.head(_SAMPLE_ROWS).select(pl.col(sources).n_unique()).row(0)
    limit = MAX_DISTINCT_SHARE * min(frame.height, _SAMPLE_ROWS)
    return [source for source, count in zip(sources, sample, strict=True) if count <= limit]


def _categories(dtype: pl.DataType) -> pl.Categories:
    assert isinstance(dtype, pl.Categorical)
    return dtype.categories


def by_distinct(
    frame: pl.DataFrame,
    derived: Derived,
    sources: list[str],
    needed: set[str],
    categorical: set[str],
) -> tuple[pl.DataFrame, dict[str, pl.Expr], set[str]]:
    """Compute the derived columns of ``sources`` on their distinct values, then spread them.

    Each source is coded once as a Categorical with categories of its own, so its distinct values
    and each row's position among them come from one pass (a ``unique`` and a lookup would hash
    every value twice). The columns named in ``categorical`` (text fields of the output) are
    spread as Categoricals, which only copies a small code per row; the others as they are.

    Returns the frame with the ``needed`` columns spread to the rows, expressions for the needed
    columns that need no column of their own (a text already in canonical form is its source; a
    flag that is false on every value is a constant), and the sources done this way.
    """
    coded = frame.select(pl.col(s).cast(pl.Categorical(pl.Categories.random())) for s in sources)
    # Category i is the value coded i. (A category may be null: a code the categories reserved
    # and never gave a value; no row holds it.)
    values = {s: _categories(coded.schema[s]).to_series() for s in sources}
    sources = [s for s in sources if values[s].len() <= MAX_DISTINCT_SHARE * frame.height]
    shortcuts: dict[str, pl.Expr] = {}
    tables: dict[str, list[pl.Series]] = {}
    for source in sources:
        # Row i holds the i-th distinct value and what is derived from it; the last row holds
        # null, for the rows where the source is null.
        table = pl.DataFrame({source: values[source].extend_constant(None, 1)})
        for stage in derived.stages({source}):
            table = table.with_columns(expr.alias(name) for name, expr in stage.items())
        for name in table.columns[1:]:
            if name not in needed:
                continue
            column = table.get_column(name)
            if name in categorical:
                tables.setdefault(source, []).append(column.cast(schema.TEXT_DTYPE))
            elif column.dtype == pl.String and column.equals(table.get_column(source)):
                shortcuts[name] = pl.col(source)
            elif column.dtype == pl.Boolean and column.null_count() == 0 and not column.any():
                shortcuts[name] = pl.lit(False)
            else:
                tables.setdefault(source, []).append(column)
    # Each row's position in its source's table.
    codes = coded.select(pl.col(s).to_physical().fill_null(values[s].len()) for s in tables)
    spread = [
        column.gather(codes.get_column(source))
        for source, columns in tables.items()
        for column in columns
    ]
    return frame.hstack(spread), shortcuts, set(sources)  # hstack: no copy of the columns
