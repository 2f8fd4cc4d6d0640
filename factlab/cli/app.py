"""``factlab app``: the steward's step in the browser (:mod:`factlab.app`)."""

from __future__ import annotations

import click

from factlab.cli import main
from factlab.cli._common import guarded

__all__ = ["app_command"]


@main.command("app")
@click.option(
    "--no-browser",
    is_flag=True,
    help="Do not open the browser; only print the address (for tests, or to open it yourself).",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    help="The provider key file to start with (default: the one chosen last time).",
)
@guarded
def app_command(no_browser: bool, key_path: str | None) -> None:
    """Open the steward's app in the browser: check the export, preview, pseudonymise and seal.

    The app listens on 127.0.0.1 only, at a free port. The address it prints holds a one-time
    token: open it in the browser on this computer (done for you unless --no-browser). Stop the
    app with Ctrl+C.
    """
    # here, not at the top: `factlab --help` and the other commands do not load the web stack
    from factlab.app.server import serve

    def announce(url: str) -> None:
        click.echo(f"factlab app: open {url}", err=False)
        click.echo(
            "factlab app: the address works once, on this computer only; stop with Ctrl+C",
            err=True,
        )

    try:
        serve(open_browser=not no_browser, key=key_path, announce=announce)
    except KeyboardInterrupt:  # Ctrl+C is how the steward stops the app: no error
        click.echo("factlab app: stopped", err=True)
