"""``factlab protect``: disclosure control of a count table before publication."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import polars as pl

from factlab.cli import main
from factlab.cli._common import force_option, guarded, info, progress, refuse_existing, warn
from factlab.disclosure.lattice import KNOWN_MEASURES
from factlab.disclosure.protect import FORMAT_PROTECTED, protect, write_protected
from factlab.disclosure.rules import COSTS, METHODS, PRESETS, DisclosureRules, load_rules, preset
from factlab.errors import ConfigError, DataError, InputError
from factlab.outputs import held_outputs
from factlab.reference.config import load_reference
from factlab.reference.dimensions import declared_for
from factlab.result_files import TABLE_FORMATS, read_table, table_files, write_json


def _read_counts(path: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A count table written by ``factlab count`` (CSV + sidecar, Parquet or JSON)."""
    frame, metadata = read_table(path, what="count table")
    if metadata.get("format") == FORMAT_PROTECTED or any(
        column.endswith("_status") for column in frame.columns
    ):
        raise InputError(f"{path}: already a protected table")
    problems = []
    for name in sorted(KNOWN_MEASURES & set(frame.columns)):
        converted = frame.get_column(name).cast(pl.Int64, strict=False)
        bad = (converted.is_null() & frame.get_column(name).is_not_null()).arg_true()
        if bad.len():
            problems.append(f"row {bad[0] + 1}, column {name}: not a whole number")
        frame = frame.with_columns(converted.alias(name))
    if problems:
        raise DataError(f"{path}: " + "; ".join(problems))
    return frame, metadata


def _label(path: Path, metadata: dict[str, Any]) -> str:
    for key in ("period", "reference_date"):
        if isinstance(metadata.get(key), str) and metadata[key]:
            return str(metadata[key])
    return path.stem


def _rules(rules_path: Path | None, preset_name: str | None) -> DisclosureRules:
    if rules_path is not None and preset_name is not None:
        raise click.UsageError("give --rules or --preset, not both")
    if rules_path is not None:
        return load_rules(rules_path)
    return preset(preset_name or "cbs")


@main.command("protect")
@click.argument("counts", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Protected table to write: .csv, .parquet or .json.",
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    help="TOML rules file (see docs/disclosure.md).",
)
@click.option(
    "--preset",
    "preset_name",
    type=click.Choice(sorted(PRESETS)),
    help="Built-in rules (default: cbs).",
)
@click.option(
    "--part",
    "part_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Count table of a part of the same period (e.g. a half-year); repeatable.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    help="Write the internal protection report (JSON) here.",
)
@click.option(
    "--percent-of", "percent_of", help="Add percentages of the margin over this dimension."
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    help="How secondary suppressions are found (default: the rules', optimal).",
)
@click.option(
    "--cost", type=click.Choice(COSTS), help="What the search minimises (default: value)."
)
@click.option(
    "--reference",
    "reference_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Reference file: its hierarchies of the table's dimensions are protected as one "
    "table (for counts made with --by <hierarchy>; docs/reference.md).",
)
@force_option
@guarded
def protect_command(
    counts: Path,
    out: Path,
    rules_path: Path | None,
    preset_name: str | None,
    part_paths: tuple[Path, ...],
    report_path: Path | None,
    percent_of: str | None,
    method: str | None,
    cost: str | None,
    reference_path: Path | None,
    force: bool,
) -> None:
    """Suppress, round and audit the count table COUNTS for publication.

    Secret counts are suppressed, then enough other cells that no secret count can be
    derived from what is published (checked by linear programming), and every published
    count is rounded. Cells the rules declare empty by definition ([[structural_empty]]) are
    published as known zeros. The protection report is internal to the trusted party.
    """
    rules = _rules(rules_path, preset_name)
    rules = replace(rules, method=method or rules.method, cost=cost or rules.cost)
    if out.suffix.lower() not in TABLE_FORMATS:
        raise ConfigError("out", [f"out: {out.name}: expected a .csv, .parquet or .json file"])
    if report_path is not None and report_path.suffix.lower() != ".json":
        raise ConfigError("report", [f"report: {report_path.name}: expected a .json file"])
    inputs = [counts, *part_paths, rules_path, reference_path]
    outputs = [*table_files(out), *([report_path] if report_path is not None else [])]
    refuse_existing(outputs, force, inputs=inputs)
    table, metadata = _read_counts(counts)
    by = metadata.get("by")
    if rules.dimensions is None and isinstance(by, list) and by:
        rules = replace(rules, dimensions=tuple(str(name) for name in by))
    parts = {}
    for path in part_paths:
        frame, part_metadata = _read_counts(path)
        name = _label(path, part_metadata)
        if name in parts:
            raise ConfigError("part", [f"part: two parts are labelled {name}"])
        parts[name] = frame
    if reference_path is not None:
        # `unknown` may stand in a part only (a client without a municipality in one half).
        declared = declared_for(table, load_reference(reference_path), parts=list(parts.values()))
        twice = sorted(set(declared) & set(rules.hierarchy))
        if twice:
            raise ConfigError(
                "rules",
                [f"hierarchy.{name}: declared by both the rules and --reference" for name in twice],
            )
        rules = replace(rules, hierarchy={**rules.hierarchy, **declared})
    with progress("protecting"):
        result = protect(table, rules, parts=parts or None, label=_label(counts, metadata))
    protected = result.table.with_percentages(percent_of) if percent_of else result.table
    report = result.report
    read = [path for path in inputs if path is not None]
    # The table and its report appear together or not at all.
    with held_outputs(overwrite=force, inputs=read) as held:
        write_protected(protected, out, inputs=read, overwrite=force)
        if report_path is not None:
            write_json(report_path, report.to_dict(), inputs=read, overwrite=force)
        held.publish()
    for measure, lost in report.information_lost.items():
        info(
            f"{measure}: {lost['suppressed']:.0f} of {lost['total']:.0f} in the most detailed "
            f"cells suppressed ({lost['share']:.1%})"
        )
    for index in report.structural_unmatched:
        warn(
            f"structural_empty[{index}] matches no cell of this table (it names a dimension "
            "the table lacks or a value that does not occur); ignored"
        )
    if report.structural:
        info(f"{report.structural} cell(s) published as structural empties (0 by definition)")
    verdict = "passed" if report.audit.passed else "FAILED"
    info(
        f"rules {rules.name}: {report.cells} cells, {report.primary} primary and "
        f"{report.secondary} secondary suppressions; audit {verdict} "
        f"({report.audit.cells.height} suppressed values checked) -> {out}"
    )
