"""What the app holds while the steward works, and the helpers its routes share.

:class:`AppState` is the steward's choices so far, in memory only; the key's secret stays in its
object and is never written anywhere by the app. Uploaded exports live in the run's private
folder (mode 0700, removed when the app stops, and each upload once it is delivered or replaced).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factlab.app.delivery import Delivery, mapping_path
from factlab.app.flow import ExportChoice, KeyChoice, MappingChoice
from factlab.app.settings import (
    read_settings,
    remember_key,
    remember_service_config,
    write_settings,
)
from factlab.errors import FactlabError
from factlab.steward.mapping import ColumnMapping, load_mapping
from factlab.steward.preview import Preview

__all__ = [
    "AppState",
    "choice_from_form",
    "default_folder",
    "fields_twice",
    "is_private",
    "remember_choice",
    "saved_mapping",
    "uploads_folder",
]


@dataclass
class AppState:
    """What the steward chose so far, in memory only (the key's secret stays in its object)."""

    private: Path
    key_default: str | None = None
    keys: KeyChoice | None = None
    export: ExportChoice | None = None
    choice: MappingChoice | None = None
    mapping: ColumnMapping | None = None
    document: dict[str, Any] | None = None
    preview: Preview | None = None
    folder: str = ""
    delivery: Delivery | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reached(self) -> list[str]:
        """The steps the steward may go back to."""
        steps = ["/keys"]
        if self.keys is not None:
            steps.append("/export")
        if self.export is not None:
            steps.append("/mapping")
        if self.preview is not None:
            steps.append("/preview")
        if self.delivery is not None:
            steps.append("/delivery")
        return steps

    def drop_upload(self) -> None:
        """Remove an uploaded export from the private folder."""
        uploads = self.private / "uploads"
        if uploads.exists():
            shutil.rmtree(uploads, ignore_errors=True)

    def forget_export(self) -> None:
        """Forget the export and all that came from it (a new export starts afresh)."""
        self.drop_upload()
        self.export = self.choice = self.mapping = self.document = self.preview = None
        self.delivery = None


def remember_choice(keys: KeyChoice) -> None:
    """Remember the chosen files beside the key or the service configuration (and that file
    for the next start); a settings file that cannot be written does not stop the steward."""
    try:
        settings = read_settings(keys.key_path).with_(
            recipient=str(keys.recipient_path.resolve()), provider=keys.provider
        )
        write_settings(keys.key_path, settings)
    except (OSError, FactlabError):
        pass
    if keys.blind is not None:
        remember_service_config(keys.key_path)
    else:
        remember_key(keys.key_path)


def saved_mapping(keys: KeyChoice) -> ColumnMapping | None:
    """Last year's mapping, when it was saved and can still be read."""
    path = mapping_path(keys)
    if not path.is_file():
        return None
    try:
        return load_mapping(path)
    except FactlabError:
        return None


def default_folder(state: AppState) -> str:
    if state.keys is not None:
        remembered = read_settings(state.keys.key_path).output_folder
        if remembered and Path(remembered).is_dir():
            return remembered
    if state.export is not None and not is_private(state, state.export.path):
        return str(state.export.path.parent)
    return str(state.keys.key_path.parent) if state.keys is not None else ""


def uploads_folder(state: AppState) -> Path:
    folder = state.private / "uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def is_private(state: AppState, path: Path) -> bool:
    return state.private in path.parents


def choice_from_form(
    form: dict[str, Any], export: ExportChoice, before: MappingChoice
) -> MappingChoice:
    """The steward's choices from the mapping form (fields refer to columns and codes by their
    position in the proposal)."""
    columns = {
        column: str(form.get(f"col-{index}", "")) for index, column in enumerate(export.columns)
    }
    columns = {column: name for column, name in columns.items() if name}
    dates = dict(before.date_formats)
    for name in ("birth_date", "start_date", "end_date"):
        if f"date-{name}" in form:
            dates[name] = str(form[f"date-{name}"])
    values = {name: dict(table) for name, table in before.values.items()}
    for codes in export.proposal.codes:
        table = values.setdefault(codes.field, {})
        for index, code in enumerate(codes.codes):
            key = f"code-{codes.field}-{index}"
            if key in form:
                table[code.value] = str(form[key])
    constants = dict(before.constants)
    if "const-financing" in form:
        constants["financing"] = str(form["const-financing"]).strip()
    return MappingChoice(columns=columns, date_formats=dates, values=values, constants=constants)


def fields_twice(choice: MappingChoice) -> list[str]:
    seen: dict[str, int] = {}
    for name in choice.columns.values():
        seen[name] = seen.get(name, 0) + 1
    return [name for name, count in seen.items() if count > 1]
