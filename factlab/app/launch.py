"""The page the browser is started with: it forwards to the app's one-time address.

The browser is given this file's path, not the address, so the token never appears on a command
line (where other users of the computer could read it in the process list). The page is written
0600 in the user's own data folder (:func:`launch_folder`) — not the system's temporary folder,
which browsers installed as a snap or a flatpak do not see — and removed as soon as the token is
spent (:attr:`factlab.app.security.Secrets.on_spent`) and when the app stops.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["launch_folder", "write_launch_page"]


def launch_folder() -> Path:
    """The user's own data folder for factlab, where the launch page is written.

    ``%LOCALAPPDATA%\\factlab`` on Windows, ``~/Library/Application Support/factlab`` on macOS,
    ``$XDG_DATA_HOME/factlab`` (``~/.local/share/factlab``) elsewhere: never the system's
    temporary folder, which browsers installed as a snap or a flatpak do not see.
    """
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "factlab"


def write_launch_page(url: str, port: int) -> Path:
    """A page (mode 0600, in :func:`launch_folder`) that sends the browser on to ``url``: the
    browser is started with this file's path, so the token never appears on a command line. It
    is removed as soon as the token is spent, and when the app stops.

    Raises:
        OSError: the folder cannot be made or written (the printed address still works).
    """
    folder = launch_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"open-{port}.html"
    path.unlink(missing_ok=True)  # a page left by an app that was killed
    text = (
        "<!doctype html><html lang='nl'><head><meta charset='utf-8'><title>factlab</title>"
        f"<meta http-equiv='refresh' content='0; url={url}'></head><body></body></html>"
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
