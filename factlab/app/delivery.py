"""Making the delivery in a worker thread: pseudonymise, seal, and say how far it is.

:class:`Delivery` runs ``factlab pseudonymise`` and ``factlab seal`` as the commands run them
(the same library calls, :func:`~factlab.steward.pseudonymise.pseudonymise_file` and
:func:`~factlab.keys.seal.seal`, each under the same audit line), then writes the sealed file's
readable manifest beside it and saves the mapping for next year. The page polls
:meth:`Delivery.status` while it runs; Polars and the cipher release the interpreter while they
work, so the server keeps answering.

In a blind round (the keys are a :class:`~factlab.steward.blind.BlindService`) the first phase
asks the round's key services, as ``factlab pseudonymise --blind`` does: their health first
(:meth:`~factlab.steward.blind.BlindService.check_services`, before the export is read), then
the pseudonyms, with a progress callback that counts the distinct BSNs the services answered.
A service that is down, refuses or fails its proof stops the delivery before anything is
written.

Nothing is left when a step fails: every output is checked before any work (a name that exists
is refused, never replaced), each file is written atomically, and the pseudonymised file is
removed again when sealing fails, so a failed delivery leaves no file behind (its audit lines
say what happened).
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from factlab.app.flow import ExportChoice, KeyChoice, mapping_toml
from factlab.app.settings import (
    read_settings,
    remember_key,
    remember_service_config,
    write_settings,
)
from factlab.audit import audited
from factlab.errors import FactlabError
from factlab.io import atomic_path, inputs_and_sidecars
from factlab.keys.seal import SealedHeader, seal
from factlab.outputs import check_output
from factlab.result_files import write_json
from factlab.steward.audit_lines import (
    key_details,
    pseudonymised_details,
    recipient_details,
    sealed_details,
)
from factlab.steward.mapping import ColumnMapping
from factlab.steward.pseudonymise import pseudonymise_file
from factlab.steward.quality import Quality

__all__ = ["Delivered", "Delivery", "delivery_paths", "mapping_path"]

#: The phases of a delivery, in order.
PHASES: Final = ("pseudonymise", "seal", "finish", "done")
#: The first phase in a blind round: the key services are asked (its step is pseudonymise's).
SERVICES: Final = "services"


def delivery_paths(folder: Path, provider: str) -> tuple[Path, Path, Path]:
    """The pseudonymised file, the sealed file and its readable manifest, in ``folder``.

    Example:
        >>> [path.name for path in delivery_paths(Path("out"), "P01")]
        ['P01.parquet', 'P01.sealed', 'P01.sealed.manifest.json']
    """
    return (
        folder / f"{provider}.parquet",
        folder / f"{provider}.sealed",
        folder / (f"{provider}.sealed.manifest.json"),
    )


def mapping_path(keys: KeyChoice) -> Path:
    """Where the mapping is saved for next year: remembered beside the key, else there."""
    remembered = read_settings(keys.key_path).mapping
    if remembered:
        return Path(remembered)
    return keys.key_path.parent / f"mapping-{keys.provider}.toml"


def sealed_document(header: SealedHeader) -> dict[str, Any]:
    """The sealed file's clear header as a readable document (as ``factlab inspect --json``)."""
    return {
        "format": "factlab-sealed",
        "verified": False,
        "recipient": {"name": header.recipient_name, "key_id": header.recipient_key_id},
        "payload": {"size": header.payload_size, "source_name": header.source_name},
        "sealed_at": header.sealed_at,
        "factlab_version": header.factlab_version,
        "manifest": json.loads(header.manifest.to_json()),
    }


@dataclass(frozen=True)
class Delivered:
    """What a finished delivery wrote.

    Attributes:
        parquet: the pseudonymised file (keep it; never send it unsealed).
        sealed: the sealed file, the one to send.
        manifest: the sealed file's readable manifest (JSON), for the phone check.
        mapping: where the mapping was saved for next year (None: it could not be saved).
        header: the sealed file's header (provider, round, rows, recipient key id).
        quality: the quality summary of the pseudonymised rows.
    """

    parquet: Path
    sealed: Path
    manifest: Path
    mapping: Path | None
    header: SealedHeader
    quality: Quality


class Delivery:
    """One delivery run in a worker thread; :meth:`status` says how far it is."""

    def __init__(
        self,
        export: ExportChoice,
        keys: KeyChoice,
        mapping: ColumnMapping,
        document: dict[str, Any],
        folder: Path,
    ) -> None:
        self._export, self._keys, self._mapping = export, keys, mapping
        self._document, self._folder = document, folder
        self._lock = threading.Lock()
        self._phase = PHASES[0]
        self._sealed_bytes = 0
        self._total_bytes: int | None = None
        self._answered = 0
        self._to_answer: int | None = None
        self.result: Delivered | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="factlab-delivery", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the worker (tests; the page polls instead)."""
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the worker is still at work."""
        return self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """How far the delivery is: phase, the fraction of the current phase done (None when it
        cannot be told: Polars works in one call), and whether it ended. In a blind round also
        ``answered`` of ``to_answer``: the distinct BSNs the key services have answered."""
        with self._lock:
            fraction = None
            if self._phase == "seal" and self._total_bytes:
                fraction = min(1.0, self._sealed_bytes / self._total_bytes)
            if self._phase == SERVICES and self._to_answer:
                fraction = min(1.0, self._answered / self._to_answer)
            state = "failed" if self.error is not None else "running"
            if self.result is not None:
                state = "done"
            step = PHASES.index("pseudonymise" if self._phase == SERVICES else self._phase)
            status: dict[str, Any] = {
                "state": state,
                "phase": self._phase,
                "step": step + 1,
                "steps": len(PHASES) - 1,
                "fraction": fraction,
            }
            if self._keys.blind is not None:
                status["answered"], status["to_answer"] = self._answered, self._to_answer
            return status

    def _set_phase(self, phase: str, total: int | None = None) -> None:
        with self._lock:
            self._phase, self._total_bytes, self._sealed_bytes = phase, total, 0

    def _advance(self, steps: float) -> None:
        with self._lock:
            self._sealed_bytes += int(steps)

    def _answer(self, done: int, total: int) -> None:
        """The key services' progress: ``done`` of ``total`` distinct BSNs answered."""
        with self._lock:
            self._answered, self._to_answer = done, total

    def _run(self) -> None:
        try:
            result = self._deliver()
        except BaseException as error:  # shown in the page, never re-raised in a thread
            with self._lock:
                self.error = error
            return
        with self._lock:
            self.result, self._phase = result, "done"

    def _deliver(self) -> Delivered:
        export, keys, _mapping = self._export, self._keys, self._mapping
        parquet, sealed, manifest_file = delivery_paths(self._folder, keys.provider)
        read = inputs_and_sidecars([export.path, keys.key_path, keys.recipient_path])
        for target in (parquet, sealed, manifest_file):  # every output refused before any work
            check_output(target, inputs=read, overwrite=False)
        quality = self._pseudonymise(parquet)
        try:
            header = self._seal(parquet, sealed, manifest_file)
        except BaseException:
            with contextlib.suppress(OSError):  # ours: checked absent, written just now
                parquet.unlink()
            raise
        self._set_phase("finish")
        saved = self._save_mapping()
        return Delivered(parquet, sealed, manifest_file, saved, header, quality)

    def _pseudonymise(self, out: Path) -> Quality:
        """``factlab pseudonymise``: the same call under the same audit line."""
        export, keys, mapping = self._export, self._keys, self._mapping
        service = keys.blind
        if service is not None:
            self._set_phase(SERVICES)
        arguments = {
            "input": export.path,
            "provider": keys.provider,
            "out": out,
            "mapping": mapping.source,
            "mapping_saved_to": mapping_path(keys),
            "fallback": False,
            "allow_no_valid_bsn": False,
            "preview": False,
        }
        with audited(
            "pseudonymise",
            inputs=[export.path],
            output=out,
            arguments=arguments,
            hash_inputs=False,
            overwrite=False,
        ) as trail:
            key_details(trail, keys.key, keys.contract)
            trail.add_detail("face", "app")
            if service is not None:
                service.check_services()  # a service down or misconfigured: stop before reading
            result = pseudonymise_file(
                export.path,
                keys.key if service is None else service.with_progress(self._answer),
                provider=keys.provider,
                out=out,
                mapping=mapping,
                contract=keys.contract,
                inputs=[keys.key_path],
            )
            pseudonymised_details(
                trail, result.quality, input_path=export.path, input_sha256=result.input_sha256
            )
        return result.quality

    def _seal(self, parquet: Path, out: Path, manifest_file: Path) -> SealedHeader:
        """``factlab seal``: the same call under the same audit line; then the readable
        manifest beside it (in the same line's outputs)."""
        keys = self._keys
        self._set_phase("seal", parquet.stat().st_size)
        arguments = {"file": parquet, "to": keys.recipient_path, "out": out}
        with audited(
            "seal", inputs=[parquet], output=out, arguments=arguments, overwrite=False
        ) as trail:
            recipient_details(trail, keys.recipient)
            trail.add_detail("face", "app")
            header = seal(
                parquet,
                keys.recipient,
                out,
                progress=self._advance,
                inputs=[keys.recipient_path],
            )
            sealed_details(trail, header)
            write_json(manifest_file, sealed_document(header), overwrite=False)
            trail.add_output(manifest_file)
        return header

    def _save_mapping(self) -> Path | None:
        """The mapping for next year and the settings beside the key; a failure here does not
        undo the delivery (the page says the mapping was not saved)."""
        keys = self._keys
        target = mapping_path(keys)
        try:
            text = mapping_toml(self._document, export=self._export.name)
            with atomic_path(target, overwrite=True) as temporary:
                temporary.write_text(text, encoding="utf-8")
            settings = read_settings(keys.key_path).with_(
                recipient=str(keys.recipient_path.resolve()),
                provider=keys.provider,
                output_folder=str(self._folder.resolve()),
                mapping=str(target.resolve()),
            )
            write_settings(keys.key_path, settings)
            if keys.blind is not None:
                remember_service_config(keys.key_path)
            else:
                remember_key(keys.key_path)
        except (OSError, FactlabError):
            return None
        return target
