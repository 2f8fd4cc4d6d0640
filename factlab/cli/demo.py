"""``factlab demo``: the 2014 round of the Drenthe factlab, end to end, on built-in data."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import audit_log_option, err_console, guarded, info
from factlab.demo import DemoResult, check_2014, run_demo
from factlab.errors import InputError

__all__ = ["demo_command"]

_DEMO_PARTS = ("exports", "keys", "pseudonymised", "sealed", "trusted", "factlab-audit.jsonl")
_CARE_FORMS = ("ambulant", "dagbehandeling", "verblijf", "JB/JR")
_STREAMS = ("Begroting", "ZVW", "AWBZ")


def _clear(out: Path) -> None:
    """Remove an earlier demo's files (and nothing else) from ``out``."""
    strangers = [p.name for p in out.iterdir() if p.name not in _DEMO_PARTS]
    if strangers:
        raise InputError(f"{out}: holds files the demo did not make; choose another --out")
    for name in _DEMO_PARTS:
        part = out / name
        if part.is_dir():
            shutil.rmtree(part)
        elif part.exists():
            part.unlink()


def _cell_table(result: DemoResult) -> Table:
    cells = result.cells.table
    value = {
        (row["care_form"], row["financing"]): row["unique_clients"]
        for row in cells.iter_rows(named=True)
    }
    table = Table(
        title="Youths in care on 1 January 2013, by care form and financing (unique per cell)",
        title_justify="left",
    )
    table.add_column("care form")
    for stream in (*_STREAMS, "sum of cells"):
        table.add_column(stream, justify="right")
    for care_form in _CARE_FORMS:
        row = [value.get((care_form, stream)) for stream in _STREAMS]
        total = sum(number for number in row if number)
        table.add_row(care_form, *[f"{n:,}" if n else "" for n in row], f"{total:,}")
    column_sums = [
        sum(value.get((care_form, stream)) or 0 for care_form in _CARE_FORMS) for stream in _STREAMS
    ]
    table.add_row(
        "sum of cells",
        *[f"{n:,}" for n in column_sums],
        f"{result.cells.sum_of_cells:,}",
        style="bold",
    )
    return table


def _estimate_table(result: DemoResult) -> Table:
    estimate = result.estimate
    table = Table(
        title="From counted to estimated (shipped 2014 corrections)", title_justify="left"
    )
    table.add_column("step")
    table.add_column("arithmetic")
    table.add_column("youths", justify="right")
    table.add_row("counted (sum of cells)", "", f"{estimate.base_table.total:,}")
    for adjustment in estimate.adjustments:
        table.add_row(adjustment.adjustment.name, adjustment.arithmetic, f"+{adjustment.value:,}")
    table.add_row("estimate", estimate.arithmetic, f"{estimate.total:,}", style="bold")
    return table


@main.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("factlab-demo"),
    show_default=True,
    help="Folder for every file of the demo round.",
)
@click.option("--seed", type=int, default=2014, show_default=True, help="Seed of the exports.")
@click.option("--force", is_flag=True, help="Replace an earlier demo in --out.")
@audit_log_option
@guarded
def demo_command(out: Path, seed: int, force: bool, audit_log: Path | None) -> None:
    """Run the February 2014 round of the Drenthe factlab end to end on built-in data.

    Generates the 11 providers' exports, makes the keys, pseudonymises and seals every export as
    a steward would, links with the second stage, counts, estimates and protects, and checks the
    figures against the published ones (cells, 11,245, 8,241, 601, 1,082, 2,230, 15,158).
    """
    if out.exists() and any(out.iterdir()):
        if not force:
            raise InputError(f"{out}: not empty (use --force to replace an earlier demo)")
        _clear(out)
    out.mkdir(parents=True, exist_ok=True)
    # The demo reads back what it writes (it pseudonymises, then seals that file), so its files
    # are published as they are written; they are synthetic, made from built-in data.
    with audited(
        "demo",
        output=out,
        arguments={"out": out, "seed": seed},
        log=audit_log,
        hold_outputs=False,
    ) as trail:
        with err_console.status("starting") as status:
            result = run_demo(out, seed=seed, step=lambda text: status.update(escape(text)))
        check_2014(result)
        trail.set_key_fingerprint(result.linked_manifest.key_fingerprint)
        trail.add_rows({"linked": result.linked_manifest.rows})

    console = Console(highlight=False, soft_wrap=True)
    console.print(_cell_table(result))
    totals = result.totals
    share = totals.share_multi_provider or 0.0
    console.print(
        f"Sum of cells [bold]{result.cells.sum_of_cells:,}[/bold]: a youth in two cells counts "
        f"twice. Unique clients behind the table: [bold]{totals.unique_clients:,}[/bold]."
    )
    distribution = ", ".join(
        f"{number} provider{'s' if number > 1 else ''}: {clients:,}"
        for number, clients in sorted(totals.clients_by_provider_count.items())
    )
    console.print(
        f"Clients in care at several providers at once: [bold]{totals.clients_multi_provider:,}"
        f"[/bold] ({share:.1%} of unique clients; {distribution})."
    )
    console.print(_estimate_table(result))
    report = result.protection.report
    published = escape(str(out / "trusted" / "cells-protected.csv"))
    console.print(
        f"Published table after disclosure control: {published} "
        f"({report.primary} primary and {report.secondary} secondary suppression(s), "
        f"counts rounded to multiples of {report.rules.rounding_base})."
    )
    info(
        f"All figures match the published 2014 round. Every file is in {out}/: raw exports, "
        "keys, pseudonymised and sealed deliveries, and the trusted party's outputs."
    )
    info(f"The report of the round (Dutch): {' and '.join(str(path) for path in result.reports)}")
