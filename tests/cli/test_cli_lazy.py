"""The command table of ``factlab``'s lazy command group against the commands themselves.

``factlab --help`` lists the commands from a table, without importing their modules; these tests
fail when a command is added, renamed or re-documented without updating that table.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from factlab.cli import _COMMAND_MODULES, _COMMANDS, _import_modules, main


@pytest.fixture(scope="module")
def commands() -> dict[str, click.Command]:
    _import_modules(_COMMAND_MODULES)
    return dict(main.commands)


def test_every_command_is_in_the_table(commands: dict[str, click.Command]) -> None:
    assert set(commands) == set(_COMMANDS)
    for modules, _ in _COMMANDS.values():
        assert set(modules) <= set(_COMMAND_MODULES)


def defining_modules(command: click.Command) -> set[str]:
    """The modules whose code makes up a command (for a group: its subcommands too)."""
    found = {command.callback.__module__} if command.callback else set()
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found |= defining_modules(sub)
    return found


def test_the_table_names_the_modules_that_define_each_command(
    commands: dict[str, click.Command],
) -> None:
    for name, command in commands.items():
        modules = {f"factlab.cli.{module}" for module in _COMMANDS[name][0]}
        assert defining_modules(command) == modules, name


@pytest.mark.parametrize("limit", [20, 45, 80, 300])
def test_the_table_shortens_help_as_the_command_does(
    commands: dict[str, click.Command], limit: int
) -> None:
    for name, command in commands.items():
        stand_in = click.Command(name, help=_COMMANDS[name][1])
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_help_lists_every_command_and_a_group_its_subcommands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:", 1)[1]
    for name in _COMMANDS:
        assert f"\n  {name} " in listed
    result = CliRunner().invoke(main, ["key", "--help"])
    assert result.exit_code == 0
    assert "new-recipient" in result.stdout  # a subcommand defined in factlab.cli.seal


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.stderr
