"""`outside_period` (delivered rows not in care in the period they cover) against plain Python."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab.analysis.deliveries import outside_period
from factlab.periods import Period, parse_period

_DAY = st.one_of(st.none(), st.integers(0, 1200).map(lambda n: date(2022, 1, 1) + timedelta(n)))


def _outside(period: Period, start: date | None, end: date | None) -> bool:
    """By the book: in care when the interval overlaps the period; no start is from the
    beginning, no end is ongoing."""
    starts_in_time = start is None or start <= period.end
    ends_in_time = end is None or end >= period.start
    return not (starts_in_time and ends_in_time)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(_DAY, _DAY), max_size=20),
    columns=st.sampled_from(["both", "start only", "end only", "neither"]),
    as_datetime=st.booleans(),
    period=st.sampled_from(["2023", "2023H2", "2024Q1", "2024-03", "2022-05-01..2022-05-01"]),
)
def test_outside_period_is_plain_python(
    rows: list[tuple[date | None, date | None]],
    columns: str,
    as_datetime: bool,
    period: str,
) -> None:
    """Date or datetime columns, either of them missing (a file without it: open that side)."""
    asked = parse_period(period)
    dtype = pl.Datetime("us") if as_datetime else pl.Date

    def values(index: int) -> list[date | datetime | None]:
        return [
            None
            if row[index] is None
            else datetime.combine(row[index], datetime.min.time())
            if as_datetime
            else row[index]
            for row in rows
        ]

    data = {"id": pl.Series(range(len(rows)), dtype=pl.Int64)}
    if columns in ("both", "start only"):
        data["start_date"] = pl.Series(values(0), dtype=dtype)
    if columns in ("both", "end only"):
        data["end_date"] = pl.Series(values(1), dtype=dtype)
    frame = pl.DataFrame(data)
    # as link uses it: a column beside the file's own (a literal is spread over every row)
    found = frame.with_columns(outside_period(asked, frame.schema).alias("out"))["out"].to_list()
    expected = [
        _outside(
            asked,
            start if columns in ("both", "start only") else None,
            end if columns in ("both", "end only") else None,
        )
        for start, end in rows
    ]
    assert found == expected


def test_without_a_period_no_row_is_outside() -> None:
    frame = pl.DataFrame({"start_date": [date(1990, 1, 1)], "end_date": [date(1990, 1, 2)]})
    assert frame.select(outside_period(None, frame.schema)).to_series().to_list() == [False]
