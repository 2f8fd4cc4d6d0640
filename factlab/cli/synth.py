"""``factlab synth``: synthetic provider exports (or the 2014 round) and their ground truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from factlab.cli import main
from factlab.cli._common import guarded, info, progress
from factlab.errors import ConfigError
from factlab.result_files import write_json
from factlab.synth.config import Messiness, SynthConfig
from factlab.synth.draw import synthesise
from factlab.synth.round2014 import (
    REFERENCE_DATE_2014,
    UNIQUE_CLIENTS_2014,
    expected_2014,
    round_2014,
)
from factlab.synth.write import ProviderExport, SynthResult

__all__ = ["synth_command"]

_RATES = tuple(
    field.name for field in dataclasses.fields(Messiness) if isinstance(field.default, float)
)
_GENERATOR_OPTIONS = {
    "providers": "--providers",
    "clients": "--clients",
    "period": "--period",
    "overlap": "--overlap",
    "messy": "--messy/--clean",
    "formats": "--formats",
    "rates": "--rate",
}


def _shares(text: str, problems: list[str]) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        problems.append("--overlap: expected shares like 0.25,0.08,0.02")
        return ()


def _messiness(
    messy: bool, formats: str | None, rates: tuple[str, ...], problems: list[str]
) -> Messiness:
    mess = Messiness.realistic() if messy else Messiness()
    changes: dict[str, Any] = {}
    if formats is not None:
        changes["file_formats"] = tuple(part.strip() for part in formats.split(",") if part)
    for item in rates:
        name, _, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in _RATES:
            problems.append(f"--rate {name}: unknown; choose from {', '.join(_RATES)}")
            continue
        try:
            changes[name] = float(value)
        except ValueError:
            problems.append(f"--rate {name}: expected a number")
    return dataclasses.replace(mess, **changes)


def _summary(result: SynthResult) -> list[str]:
    truth = result.truth
    spread = ", ".join(f"{k}: {n}" for k, n in truth.persons_by_provider_count.items())
    invalid = {status: n for status, n in truth.rows_by_status.items() if status != "valid" and n}
    return [
        f"rows: {truth.rows}; persons: {truth.unique_persons}; "
        f"with a valid BSN somewhere: {truth.linkable_persons}",
        f"persons by number of providers: {spread}",
        f"rows without a valid BSN: {invalid or 'none'}",
    ]


@main.command("synth")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, help="Random seed (default 0; 2014 with --round-2014).")
@click.option("--providers", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--clients", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--period", default="2024", show_default=True, help="Counting period, e.g. 2024H1.")
@click.option(
    "--overlap",
    default="0.25,0.08,0.02",
    show_default=True,
    help="Shares of clients at exactly 2, 3, ... providers.",
)
@click.option(
    "--messy/--clean",
    default=True,
    show_default=True,
    help="Every kind of mess at realistic rates, or none.",
)
@click.option("--formats", help="File formats dealt over providers, e.g. csv,parquet.")
@click.option(
    "--rate",
    "rates",
    multiple=True,
    metavar="NAME=VALUE",
    help=f"Set one rate of the mess ({', '.join(_RATES)}); repeatable.",
)
@click.option(
    "--round-2014", "round2014", is_flag=True, help="Write the February 2014 round instead."
)
@click.option("--force", is_flag=True, help="Write into a folder that already holds files.")
@guarded
def synth_command(
    outdir: Path,
    seed: int | None,
    providers: int,
    clients: int,
    period: str,
    overlap: str,
    messy: bool,
    formats: str | None,
    rates: tuple[str, ...],
    round2014: bool,
    force: bool,
) -> None:
    """Write synthetic provider exports into OUTDIR, with their ground truth in truth.json.

    Prints the paths of the exports on stdout, one per line. BSNs are synthetic (test range
    999900000-999999999, or random proef-valid numbers for more than 9,091 clients).
    """
    problems: list[str] = []
    context = click.get_current_context()
    if round2014:
        given = [
            flag
            for name, flag in _GENERATOR_OPTIONS.items()
            if context.get_parameter_source(name) == ParameterSource.COMMANDLINE
        ]
        problems.extend(f"{flag}: not used with --round-2014" for flag in given)
    if outdir.exists() and not outdir.is_dir():
        problems.append(f"{outdir}: not a folder")
    elif outdir.exists() and any(outdir.iterdir()) and not force:
        problems.append(f"{outdir}: the folder is not empty (use --force to write into it)")
    shares = _shares(overlap, problems)
    if context.get_parameter_source("overlap") == ParameterSource.DEFAULT:
        shares = shares[: providers - 1]  # the default asks for no more providers than there are
    config = SynthConfig(
        providers=providers,
        clients=clients,
        period=period,
        overlap=shares,
        messiness=_messiness(messy, formats, rates, problems),
    )
    if problems:
        raise ConfigError("factlab synth", problems)

    with progress("writing exports", total=11 if round2014 else providers) as advance:

        def written(export: ProviderExport) -> None:
            advance(1)
            info(f"{export.path.name}: {export.rows} rows, {export.persons} persons")

        if round2014:
            result = round_2014(outdir, seed=2014 if seed is None else seed, on_file=written)
        else:
            result = synthesise(outdir, config, seed=seed or 0, on_file=written)

    truth: dict[str, Any] = result.to_dict()
    if round2014:
        truth["round_2014"] = {
            "reference_date": REFERENCE_DATE_2014.isoformat(),
            "unique_clients": UNIQUE_CLIENTS_2014,
            "cells": expected_2014().to_dicts(),
        }
    write_json(outdir / "truth.json", truth)
    for line in _summary(result):
        info(line)
    for export in result.exports:
        click.echo(str(export.path))
