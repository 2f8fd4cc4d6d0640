"""``factlab estimate``: apply a corrections model to a counts table and show every step."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from factlab.cli import main
from factlab.cli._common import force_option, guarded, info, refuse_existing
from factlab.estimation.corrections import corrections_2014, load_corrections
from factlab.estimation.estimate import ROUNDING, Estimate, estimate, write_estimate
from factlab.estimation.unseen import read_unseen

_BUILTIN = {"2014": corrections_2014}


def _number(value: object) -> Text:
    # Text, never a str: rich would read "[/]" or "[link=...]" in a label as markup.
    return Text("" if value is None else f"{value:,}" if isinstance(value, int) else str(value))


def _range(low: int | None, high: int | None) -> str:
    return "" if low is None or high is None else f"{low:,}–{high:,}"


def _show(result: Estimate, console: Console) -> None:
    """Print the base table, the ledger and the notes as readable tables."""
    base = result.base_table
    frame = base.to_frame()
    title = f"Base: {result.corrections.base} of {base.row_dimension} × {base.column_dimension}"
    table = Table(title=Text(title), title_justify="left")
    for index, name in enumerate(frame.columns):
        table.add_column(Text(name), justify="left" if index == 0 else "right")
    for row in frame.iter_rows():
        table.add_row(*(_number(value) for value in row))
    console.print(table)
    if base.unique_clients is not None:
        console.print(f"Unique clients behind the table: {base.unique_clients:,}", markup=False)

    ledger = Table(title="Corrections", title_justify="left")
    headers: tuple[tuple[str, JustifyMethod], ...] = (
        ("adjustment", "left"),
        ("applies to", "left"),
        ("arithmetic", "left"),
        ("adds", "right"),
        ("range", "right"),
    )
    for name, justify in headers:
        ledger.add_column(name, justify=justify)
    ledger.add_row(
        "observed",
        "all cells" if result.corrections.base == "sum_of_cells" else "total",
        "",
        f"{base.total:,}",
        "",
    )
    for item in result.adjustments:
        ledger.add_row(
            Text(item.adjustment.name),
            Text(item.applies_to),
            Text(item.arithmetic),
            f"{item.value:+,}",
            _range(item.low, item.high),
        )
    ledger.add_row(
        "corrected total",
        "",
        Text(result.arithmetic),
        f"{result.total:,}",
        _range(result.low, result.high),
        style="bold",
    )
    console.print(ledger)
    console.print(f"Estimate: {result.total:,} ({result.unit})", markup=False)
    if result.low is not None:
        console.print(
            f"Range {_range(result.low, result.high)}: every adjustment at the low or the high "
            "end of its parameter range at once",
            markup=False,
        )
    console.print(f"Rounding: {ROUNDING}", markup=False)
    for item in result.adjustments:
        a = item.adjustment
        console.print(f"- {a.name}: {a.note} Source: {a.source}", markup=False)
    beside = result.capture_recapture
    if beside is not None:
        console.print(
            f"Beside it, capture–recapture: {beside.estimate:,.0f} (95 % interval "
            f"{beside.lower:,.0f}–{beside.upper:,.0f}; {beside.observed:,} seen by at least one "
            f"provider; model {beside.model}).",
            markup=False,
        )
        console.print(
            f"It estimates {beside.meaning}. The corrected total counts {result.unit}; the two "
            "answer different questions and are not added up.",
            markup=False,
        )


@main.command("estimate")
@click.argument("counts", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--corrections",
    "corrections_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Corrections model (TOML).",
)
@click.option(
    "--builtin",
    type=click.Choice(sorted(_BUILTIN)),
    default=None,
    help="Use a packaged corrections model instead of a file (2014: Drenthe's 2015 estimate).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the estimate: .json (everything), .csv (the ledger) or .md.",
)
@click.option(
    "--unseen",
    "unseen_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Show a capture-recapture estimate (from `factlab unseen`) beside the corrected total.",
)
@force_option
@guarded
def estimate_command(
    counts: Path,
    corrections_path: Path | None,
    builtin: str | None,
    out: Path | None,
    unseen_path: Path | None,
    force: bool,
) -> None:
    """Apply a corrections model to a COUNTS table (from `factlab count --by ROW,COLUMN`).

    Prints the base table, every adjustment with its arithmetic, the corrected total and its
    range on stdout.
    """
    if (corrections_path is None) == (builtin is None):
        raise click.UsageError("give exactly one of --corrections FILE or --builtin NAME")
    if out is not None:
        refuse_existing(out, force, inputs=[counts, corrections_path, unseen_path])
    model = (
        load_corrections(corrections_path)
        if corrections_path is not None
        else _BUILTIN[str(builtin)]()
    )
    result = estimate(counts, model)
    if unseen_path is not None:
        result = replace(result, capture_recapture=read_unseen(unseen_path))
    if out is not None:
        read = [counts, *([corrections_path] if corrections_path is not None else [])]
        read += [unseen_path] if unseen_path is not None else []
        write_estimate(result, out, inputs=read, overwrite=force)
        info(f"estimate: wrote {out}")
    # Off a terminal rich would wrap at 80 columns; the arithmetic column needs more.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    _show(result, console)
