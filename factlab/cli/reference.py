"""Commands on reference data: ``reference check``, ``prevalence`` and ``concentration``.

``factlab count --reference`` (in :mod:`factlab.cli.trusted`) adds the reference's dimensions
to a count; these commands check reference files and compute what rests on them.
"""

from __future__ import annotations

from pathlib import Path

import click
import polars as pl

from factlab.analysis.provider_ranking import provider_concentration
from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import audit_log_option, force_option, guarded, info, progress
from factlab.cli.analysis import METADATA_KEY, _check_out, _time
from factlab.disclosure.prevalence import prevalence, write_prevalence
from factlab.disclosure.rules import load_rules, preset
from factlab.errors import ConfigError, FactlabError, InputError
from factlab.io import read_toml
from factlab.reference.config import load_reference
from factlab.reference.municipalities import load_municipalities
from factlab.reference.providers import load_providers
from factlab.result_files import write_table

_LINKED = click.argument("linked", type=click.Path(path_type=Path, dir_okay=False))
_OUT = click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file: .csv, .parquet or .json.",
)


@main.group("reference")
def reference_group() -> None:
    """Check reference data: municipalities, hierarchies, providers, population."""


def _check_one(path: Path) -> str:
    """Load one reference file by its kind; what it holds, in a few words."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        document = read_toml(path, what="reference file")
        if "provider" in document:
            registry = load_providers(path)
            return f"provider registry, {len(registry.providers)} provider(s)"
        reference = load_reference(path)
        parts = [f"reference year {reference.year}"]
        parts += [
            f"hierarchy {name} ({', '.join(h.levels)})" for name, h in reference.hierarchies.items()
        ]
        if reference.providers is not None:
            parts.append(f"{len(reference.providers.providers)} provider(s)")
        if reference.population is not None:
            parts.append(
                f"population {reference.population.year} of "
                f"{reference.population.frame.height} municipality(ies)"
            )
        return "reference file: " + ", ".join(parts)
    if suffix == ".csv":
        header = path.open("rb").readline().decode("utf-8", "replace").lower()
        names = {name.strip().strip('"') for name in header.replace(";", ",").split(",")}
        if {"code", "name", "group"} <= names:
            registry = load_providers(path)
            return f"provider registry, {len(registry.providers)} provider(s)"
        if {"code", "name", "province"} <= names:
            table = load_municipalities(path)
            return f"municipality table, {table.periods.height} name period(s)"
        raise InputError(
            f"{path}: not a file reference check knows by its header (a municipality table or "
            "a provider registry; changes, aliases and population are checked through the "
            "reference file that names them)"
        )
    raise InputError(f"{path}: reference check reads .toml and .csv files")


@reference_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@guarded
def check_command(files: tuple[Path, ...]) -> None:
    """Check reference FILES: reference.toml, provider registries, municipality tables.

    Every problem of every file is reported; the exit code is non-zero if any file fails.
    """
    failures: list[str] = []
    for path in files:
        try:
            info(f"ok: {path}: {_check_one(path)}")
        except FactlabError as error:
            failures.append(str(error))
    if failures:
        raise ConfigError("reference check", failures)


@main.command("prevalence")
@_LINKED
@click.option(
    "--reference",
    "reference_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The reference file (with a [population] section).",
)
@click.option("--hierarchy", help="The municipality hierarchy whose groups to add.")
@click.option("--period", help="Clients in care in this period, e.g. 2024.")
@click.option("--on", "on", help="Clients in care on this date (YYYY-MM-DD).")
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="TOML disclosure rules (default: the cbs preset).",
)
@click.option(
    "--confidence", type=float, default=0.95, show_default=True, help="Interval confidence."
)
@_OUT
@force_option
@audit_log_option
@guarded
def prevalence_command(
    linked: Path,
    reference_path: Path,
    hierarchy: str | None,
    period: str | None,
    on: str | None,
    rules_path: Path | None,
    confidence: float,
    out: Path,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Youths in care per municipality and region as a share of the population, protected.

    The counts are protected under the disclosure rules before anything is divided; suppressed
    counts have no prevalence. The interval is exact (Clopper-Pearson) and covers every count
    that rounds to the published value.
    """
    _check_out(out, linked, force, audit_log)
    in_period, on_day = _time(period, on)
    reference = load_reference(reference_path)
    rules = load_rules(rules_path) if rules_path else preset("cbs")
    arguments = {"period": period, "on": on, "hierarchy": hierarchy, "confidence": confidence}
    inputs = [linked, reference_path, *([rules_path] if rules_path else [])]
    with audited(
        "prevalence", inputs=inputs, output=out, arguments=arguments, log=audit_log, overwrite=force
    ):
        with progress("counting and protecting"):
            result = prevalence(
                linked,
                reference,
                hierarchy=hierarchy,
                period=in_period,
                on=on_day,
                rules=rules,
                confidence=confidence,
            )
        written = write_prevalence(result, out, inputs=inputs, overwrite=force)
    suppressed = result.frame.filter(pl.col("clients_status") == "suppressed").height
    info(
        f"prevalence of {result.frame.height} row(s), {suppressed} suppressed; "
        f"written: {', '.join(str(path) for path in written)}"
    )


@main.command("concentration")
@_LINKED
@click.option(
    "--by",
    "measure",
    type=click.Choice(["clients", "cost"]),
    default="clients",
    show_default=True,
    help="Rank providers by unique clients or by total cost.",
)
@click.option("--period", help="Only rows in care in this period, e.g. 2024.")
@click.option("--on", "on", help="Only rows in care on this date (YYYY-MM-DD).")
@click.option(
    "--threshold", type=float, help="Count the providers below this value (a turnover threshold)."
)
@click.option(
    "--reference",
    "reference_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Reference file with a provider registry: adds each provider's name and group.",
)
@click.option(
    "--shares",
    default="0.8,0.9,0.99",
    show_default=True,
    help="Cumulative shares to report the number of providers for.",
)
@_OUT
@force_option
@audit_log_option
@guarded
def concentration_command(
    linked: Path,
    measure: str,
    period: str | None,
    on: str | None,
    threshold: float | None,
    reference_path: Path | None,
    shares: str,
    out: Path,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Providers ranked by clients or cost, cumulative shares, how many reach 80/90/99 %.

    Exact and internal to the trusted party, as counts are.
    """
    _check_out(out, linked, force, audit_log)
    try:
        wanted = tuple(float(part) for part in shares.split(","))
    except ValueError:
        raise ConfigError("arguments", ["--shares: a comma-separated list of numbers"]) from None
    in_period, on_day = _time(period, on)
    reference = load_reference(reference_path) if reference_path else None
    if reference is not None and reference.providers is None:
        raise ConfigError(str(reference_path), ["providers: --reference needs a provider registry"])
    arguments = {"by": measure, "period": period, "on": on, "threshold": threshold}
    with audited(
        "concentration",
        inputs=[linked, *([reference_path] if reference_path else [])],
        output=out,
        arguments=arguments,
        log=audit_log,
        overwrite=force,
    ):
        with progress("ranking providers"):
            result = provider_concentration(
                linked,
                measure=measure,
                period=in_period,
                on=on_day,
                shares=wanted,
                threshold=threshold,
                registry=reference.providers if reference is not None else None,
            )
        write_table(
            result.ranking, out, result.metadata(), METADATA_KEY, inputs=[linked], overwrite=force
        )
    reach = ", ".join(f"{share:.0%} by {number}" for share, number in result.reach.items())
    info(f"{result.ranking.height} provider(s); {reach}; written: {out}")
