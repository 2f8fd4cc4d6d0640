"""``factlab unseen``: how many clients no source saw, by capture-recapture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from factlab._version import __version__
from factlab.audit import audited
from factlab.cli import main
from factlab.cli._common import (
    audit_log_option,
    force_option,
    guarded,
    info,
    progress,
    refuse_existing,
)
from factlab.errors import ConfigError
from factlab.estimation.histories import histories_from_linked, read_histories
from factlab.estimation.unlinked import estimate_unlinked
from factlab.manifest import now_iso
from factlab.periods import parse_date, parse_period
from factlab.result_files import write_json

_NOTE = (
    "exact estimate, internal to the trusted party: publish it only rounded, with its interval "
    "and its assumptions"
)


def _groups(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    """``NAME=P01,P02`` options as {name: [providers]}."""
    if not values:
        return None
    groups: dict[str, list[str]] = {}
    problems = []
    for value in values:
        name, equals, members = value.partition("=")
        providers = [m.strip() for m in members.split(",") if m.strip()]
        if not equals or not name.strip() or not providers:
            problems.append(f"--sources: {value!r} is not NAME=PROVIDER,PROVIDER,...")
            continue
        if name.strip() in groups:
            problems.append(f"--sources: source {name.strip()!r} is given twice")
        groups[name.strip()] = providers
    if problems:
        raise ConfigError("arguments", problems)
    return groups


@main.command("unseen")
@click.argument("linked", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--histories",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Capture histories instead of a linked file: a 0/1 column per source and 'count'.",
)
@click.option(
    "--sources",
    "source_groups",
    multiple=True,
    metavar="NAME=P01,P02",
    help="A source made of providers (repeat for each); default: every provider is a source.",
)
@click.option("--by", default=None, help="Estimate per stratum of this column, and add them up.")
@click.option("--period", help="Clients in care in this period, e.g. 2025 or 2025H1.")
@click.option("--on", "on", help="Clients in care on this reference date (YYYY-MM-DD).")
@click.option(
    "--model",
    default="auto",
    show_default=True,
    help="auto (search), independence, or interactions such as A:B,B:C.",
)
@click.option(
    "--criterion",
    type=click.Choice(["bic", "aic"]),
    default="bic",
    show_default=True,
    help="Criterion of the model search.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file (.json).",
)
@force_option
@audit_log_option
@guarded
def unseen_command(
    linked: Path | None,
    histories: Path | None,
    source_groups: tuple[str, ...],
    by: str | None,
    period: str | None,
    on: str | None,
    model: str,
    criterion: str,
    out: Path,
    force: bool,
    audit_log: Path | None,
) -> None:
    """Estimate the clients no provider saw, from how the providers' client lists overlap.

    Reads a LINKED file (each provider, or each group given with --sources, is a list) or a table
    of capture histories (--histories), fits Poisson log-linear models (--model auto searches
    them) and writes the estimate with its 95 % profile-likelihood interval, the model and the
    assumptions to --out.
    """
    if (linked is None) == (histories is None):
        raise ConfigError("arguments", ["give a LINKED file or --histories FILE, not both"])
    if out.suffix.lower() != ".json":
        raise ConfigError("arguments", [f"--out: {out.name}: the extension must be .json"])
    if histories is not None and (source_groups or by or period or on):
        raise ConfigError(
            "arguments", ["--sources, --by, --period and --on apply to a LINKED file only"]
        )
    from factlab.estimation.unseen import Criterion, estimate_unseen, estimate_unseen_strata

    source = linked if linked is not None else histories
    assert source is not None
    refuse_existing(out, force, inputs=[source], audit_log=audit_log)
    arguments: dict[str, Any] = {
        "sources": list(source_groups),
        "by": by,
        "period": period,
        "on": on,
        "model": model,
        "criterion": criterion,
    }
    with audited(
        "unseen", inputs=[source], output=out, arguments=arguments, log=audit_log, overwrite=force
    ):
        with progress("Estimating the unseen"):
            unlinked = None
            if histories is not None:
                tables = [read_histories(histories)]
            else:
                in_period = None if period is None else parse_period(period)
                on_day = None if on is None else parse_date(on, what="--on")
                tables = histories_from_linked(
                    source, groups=_groups(source_groups), by=by, period=in_period, on=on_day
                )
                unlinked = estimate_unlinked(source, period=in_period, on=on_day)
            chosen: Criterion = "bic" if criterion == "bic" else "aic"
            result: Any
            if by is None:
                result = estimate_unseen(tables[0], model=model, criterion=chosen)
            else:
                result = estimate_unseen_strata(tables, by=by, model=model, criterion=chosen)
        metadata = {
            "format": "factlab-unseen",
            "factlab_version": __version__,
            "created": now_iso(),
            "source": source.name,
            "internal": True,
            "note": _NOTE,
        }
        document = {"metadata": metadata, **result.to_dict()}
        if unlinked is not None:
            document["rows_without_valid_bsn"] = unlinked.to_dict()
        write_json(out, document, inputs=[source], overwrite=force)
    info(
        f"unseen: {result.observed:,} clients seen; estimate {result.estimate:,.0f} "
        f"(95 % interval {result.lower:,.0f}–{result.upper:,.0f}); wrote {out}"
    )
    for note in getattr(result, "notes", ()):
        info(f"unseen: {note}")
    if unlinked is not None and unlinked.upper > unlinked.lower:
        info(
            f"unseen: rows without a valid BSN: unique clients between {unlinked.lower:,} and "
            f"{unlinked.upper:,}, estimated {unlinked.estimate:,.0f} "
            f"(95 % interval {unlinked.low:,.0f}–{unlinked.high:,.0f})"
        )
