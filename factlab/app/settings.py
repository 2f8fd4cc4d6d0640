"""What the app remembers between runs: file paths and the provider code, never a key's content.

Two small TOML files, both written atomically with mode 0600:

- **beside the provider key** (in a blind round: beside the service configuration),
  ``factlab-app.toml``: the trusted party's public key (``.pub``), the provider code, the folder
  the delivery went to and the mapping saved with the last delivery. Beside the key because they
  belong to it: a new round brings a new key, in a new folder, and starts afresh;
- **in the user's configuration folder** (``$XDG_CONFIG_HOME/factlab/app.toml``, else
  ``~/.config/factlab/app.toml``): the path of the last key file, the path of the last service
  configuration of a blind round (never a token: those stay in their own files), and which of
  the two was used last, so the next start finds them.

A settings file that cannot be read is ignored (the steward chooses the files again); one is
never a reason to stop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from factlab.errors import FactlabError
from factlab.io import atomic_path, read_toml
from factlab.steward.proposal import toml_string

__all__ = [
    "SETTINGS_NAME",
    "Settings",
    "last_choice",
    "last_key",
    "last_service_config",
    "read_settings",
    "remember_key",
    "remember_service_config",
    "write_settings",
]

#: The settings file beside the provider key.
SETTINGS_NAME: Final = "factlab-app.toml"
SETTINGS_VERSION: Final = 1
_FIELDS: Final = ("recipient", "provider", "output_folder", "mapping")


@dataclass(frozen=True)
class Settings:
    """What is remembered beside a key file (each None: not yet chosen)."""

    recipient: str | None = None
    provider: str | None = None
    output_folder: str | None = None
    mapping: str | None = None

    def with_(self, **changes: str | None) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)


def _text(document: dict[str, object], name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) and value else None


def settings_path(key_path: str | Path) -> Path:
    """The settings file beside ``key_path``."""
    return Path(key_path).parent / SETTINGS_NAME


def read_settings(key_path: str | Path) -> Settings:
    """The settings beside a key file; empty when there are none or they cannot be read.

    Example:
        >>> import tempfile, pathlib
        >>> key = pathlib.Path(tempfile.mkdtemp()) / "provider.key"
        >>> read_settings(key)
        Settings(recipient=None, provider=None, output_folder=None, mapping=None)
    """
    path = settings_path(key_path)
    if not path.is_file():
        return Settings()
    try:
        document = read_toml(path, what="settings file")
    except FactlabError:
        return Settings()
    return Settings(**{name: _text(document, name) for name in _FIELDS})


def _write(path: Path, values: dict[str, str | None]) -> None:
    lines = [
        "# factlab app: what it remembers (paths and codes only, never a key's content)",
        f"version = {SETTINGS_VERSION}",
        *(f"{name} = {toml_string(value)}" for name, value in values.items() if value),
    ]
    with atomic_path(path, overwrite=True) as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_settings(key_path: str | Path, settings: Settings) -> Path:
    """Write the settings beside a key file (atomically, mode 0600); return the file's path.

    Example:
        >>> import tempfile, pathlib
        >>> key = pathlib.Path(tempfile.mkdtemp()) / "provider.key"
        >>> path = write_settings(key, Settings(recipient="/keys/ttp.pub", provider="P01"))
        >>> read_settings(key).provider, oct(path.stat().st_mode & 0o777)
        ('P01', '0o600')
    """
    path = settings_path(key_path)
    _write(path, {name: getattr(settings, name) for name in _FIELDS})
    return path


def _config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    folder = Path(base) if base else Path.home() / ".config"
    return folder / "factlab" / "app.toml"


_REMEMBERED: Final = ("key", "service_config", "last")


def _remembered() -> dict[str, str | None]:
    path = _config_file()
    if not path.is_file():
        return {}
    try:
        document = read_toml(path, what="settings file")
    except FactlabError:
        return {}
    return {name: _text(document, name) for name in _REMEMBERED}


def last_key() -> str | None:
    """The key file chosen last time, or None."""
    return _remembered().get("key")


def last_service_config() -> str | None:
    """The service configuration of a blind round chosen last time, or None."""
    return _remembered().get("service_config")


def last_choice() -> str:
    """What was used last time: ``"blind"`` (a service configuration) or ``"key"``."""
    return "blind" if _remembered().get("last") == "blind" else "key"


def _remember(name: str, file: str | Path) -> None:
    path = _config_file()
    try:
        values = {**_remembered(), name: str(Path(file).resolve())}
        values["last"] = "blind" if name == "service_config" else "key"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write(path, {item: values.get(item) for item in _REMEMBERED})
    except (OSError, FactlabError):
        return


def remember_key(key_path: str | Path) -> None:
    """Remember the key file's path for the next start (a failure to write is ignored: the
    steward then chooses the key again)."""
    _remember("key", key_path)


def remember_service_config(config_path: str | Path) -> None:
    """Remember a blind round's service configuration (its path only; the tokens stay in their
    own files) for the next start; a failure to write is ignored.

    Example:
        >>> import os, tempfile, pathlib
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"XDG_CONFIG_HOME": tempfile.mkdtemp()}):
        ...     remember_service_config(pathlib.Path(tempfile.mkdtemp()) / "services.toml")
        ...     last_service_config().endswith("services.toml"), last_choice(), last_key()
        (True, 'blind', None)
    """
    _remember("service_config", config_path)
