"""factlab's command-line tool: a thin layer of click commands over the library.

Each command parses its options, makes one library call, writes, and reports on stderr.
Errors print one line and exit non-zero (the code comes from the error class).
"""

from __future__ import annotations

import importlib

import click

from factlab._version import __version__

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="factlab")
def main() -> None:
    """Privacy-preserving record linkage and counting of youth-care client data."""


# Command modules register their commands on `main` when imported.
_COMMAND_MODULES: tuple[str, ...] = (
    "keys",
    "seal",
    "steward",
    "trusted",
    "protect",
    "estimate",
    "analysis",
    "synth",
    "demo",
    "report",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"factlab.cli.{_name}")
