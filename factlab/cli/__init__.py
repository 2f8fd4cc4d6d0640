"""factlab's command-line tool: a thin layer of click commands over the library.

Each command parses its options, makes one library call, writes, and reports on stderr.
Errors print one line and exit non-zero (the code comes from the error class).

Command modules are imported only when one of their commands runs: ``factlab pseudonymise``
loads the steward's module and what it needs, not the disclosure or report modules (SciPy,
matplotlib). ``factlab --help`` lists the commands from :data:`_COMMANDS` without importing any.
"""

from __future__ import annotations

import importlib
import sys
from typing import Final

import click

from factlab._version import __version__

__all__ = ["TRUSTED_EXTRA", "main"]

#: Packages of the extra ``factlab[trusted]`` (disclosure control, estimates, reports, synthetic
#: rounds): a steward's install has none of them, and the commands that need them say so.
TRUSTED_EXTRA: Final = frozenset({"numpy", "scipy", "matplotlib", "xlsxwriter", "statsmodels"})

# Command modules register their commands on `main` when imported.
_COMMAND_MODULES: tuple[str, ...] = (
    "keys",
    "seal",
    "steward",
    "mapping",
    "trusted",
    "protect",
    "estimate",
    "analysis",
    "synth",
    "demo",
    "report",
    "unseen",
    "app",
    "keyserver",
    "reference",
    "monitor",
)

#: Every command: the modules that define it (a group may get subcommands from several), and the
#: first paragraph of its help, which ``factlab --help`` shows. tests/test_cli_lazy.py checks this
#: table against the commands themselves.
_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "app": (
        ("app",),
        "Open the steward's app in the browser: check the export, preview, pseudonymise and seal.",
    ),
    "costs": (
        ("analysis",),
        "Total cost and cost per unique client, overall and per provider and municipality.",
    ),
    "count": (
        ("trusted",),
        "Count unique clients, registrations and trajectories in a LINKED file.",
    ),
    "demo": (
        ("demo",),
        "Run the February 2014 round of the Drenthe factlab end to end on built-in data.",
    ),
    "estimate": (
        ("estimate",),
        "Apply a corrections model to a COUNTS table (from `factlab count --by ROW,COLUMN`).",
    ),
    "flows": (
        ("analysis",),
        "Clients continuing, new and ended between two periods, and repeat use, in LINKED.",
    ),
    "inspect": (("steward",), "Print a factlab file's manifest and quality summary."),
    "key": (("keys", "seal"), "Make, show and derive key files."),
    "keyserver": (
        ("keyserver",),
        "Run a key service of a blind round: its share, provider tokens, quotas, serving.",
    ),
    "link": (
        ("trusted",),
        "Link pseudonymised provider FILES (plain or sealed) into one linked file.",
    ),
    "mapping": (("mapping",), "Propose a mapping file for a provider export."),
    "monitor": (
        ("monitor",),
        "A monitoring programme over years: its store, series, transitions, durations, costs,"
        " report.",
    ),
    "concentration": (
        ("reference",),
        "Providers ranked by clients or cost, cumulative shares, how many reach 80/90/99 %.",
    ),
    "prevalence": (
        ("reference",),
        "Youths in care per municipality and region as a share of the population, protected.",
    ),
    "reference": (
        ("reference",),
        "Check reference data: municipalities, hierarchies, providers, population.",
    ),
    "overlap": (
        ("analysis",),
        "Unique clients shared by each pair of providers (or values of --by) in LINKED.",
    ),
    "protect": (("protect",), "Suppress, round and audit the count table COUNTS for publication."),
    "pseudonymise": (
        ("steward",),
        "Pseudonymise a provider export (CSV, Excel or Parquet) into a minimised Parquet file.",
    ),
    "report": (("report",), "Count, protect and report the round in the LINKED file."),
    "seal": (
        ("seal",),
        "Encrypt the factlab Parquet FILE so that only the recipient can open it.",
    ),
    "synth": (
        ("synth",),
        "Write synthetic provider exports into OUTDIR, with their ground truth in truth.json.",
    ),
    "unseal": (("seal",), "Decrypt the sealed FILE with the recipient's private key."),
    "unseen": (
        ("unseen",),
        "Estimate the clients no provider saw, from how the providers' client lists overlap.",
    ),
}


def _import_modules(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            importlib.import_module(f"factlab.cli.{name}")
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if missing not in TRUSTED_EXTRA:
                raise
            # The steward's install leaves out the trusted party's publication stack.
            click.echo(
                f"factlab: error: this command needs the trusted party's tools ({missing} is not "
                "installed): pip install 'factlab[trusted]'",
                err=True,
            )
            sys.exit(1)


class _LazyGroup(click.Group):
    """A click group that imports a command's module when the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        # A command missing from the table (newly added) is found by importing every module.
        _import_modules(entry[0] if entry else _COMMAND_MODULES)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if not loaded.hidden:
                    rows.append((name, loaded.get_short_help_str(limit)))
            elif name in _COMMANDS:
                # shortened exactly as click shortens the help of a loaded command
                stand_in = click.Command(name, help=_COMMANDS[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="factlab")
def main() -> None:
    """Privacy-preserving record linkage and counting of youth-care client data."""
