"""The steward's client of the key services: stage-1 pseudonyms without a key.

``factlab pseudonymise … --blind SERVICE_CONFIG`` reads a service configuration
(:func:`load_service_config`, TOML, docs/keyservice.md) and pseudonymises through the round's key
services instead of a provider key: the distinct canonical BSNs of the export are blinded in
batches, every batch goes to each service (two in split custody, one in single custody), each
answer's proof is checked against that service's public share, the answers are added and
finalised (:mod:`factlab.keys.blind`). The services see only blinded elements.

Before any evaluation the client asks every service for the provider's usage
(``GET /v1/usage``, with the token) and refuses locally when a service's remaining quota is
below the number of distinct values, so a run that cannot finish costs no quota anywhere.

Any failure stops the step before anything is written: a service that cannot be reached (after
retries with backoff), a refusal (a wrong token, an exhausted quota), an answer whose proof
fails. Retries reuse the batch's id, so a service does not charge a batch twice. A failure
partway through (a service lost after the pre-flight) still costs quota on the services that
had answered: the batches they evaluated are charged, and a new run uses new batch ids and
fresh blinds (reusing them would let a service link the runs' elements).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import ssl
import stat
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import polars as pl

from factlab._checks import require_path, type_name
from factlab._export_checks import read_regular
from factlab.errors import ConfigError, FactlabWarning, InputError, ServiceError
from factlab.io import read_toml
from factlab.keys import oprf
from factlab.keys.blind import BlindRound, Custody, blind_messages, combine, finalise_pseudonyms

if TYPE_CHECKING:  # httpx is imported when a service is asked, not with the steward's modules
    import httpx

__all__ = [
    "BlindService",
    "ServiceEndpoint",
    "blind_column",
    "load_service_config",
]

CONFIG_VERSION: Final = 1
#: Elements a request carries by default; a service accepts at most 10,000. Small enough that
#: the pipeline fills and drains fast (the first service waits for one batch's blinding, the last
#: answer's checking runs alone), large enough that a request's own cost is negligible.
DEFAULT_BATCH: Final = 1_000
_RETRY_STATUSES: Final = frozenset({502, 503, 504})
#: The longest answer read: a health, usage or refusal answer, and an evaluation's proof and
#: names, fit in the first; each evaluated element (44 characters of base64 in quotes, escaped
#: at worst) in the second.
_ANSWER_BYTES: Final = 16_384
_ANSWER_BYTES_PER_ELEMENT: Final = 128
#: Worker processes by default: the client's work is CPU-bound (6 scalar multiplications a BSN).
DEFAULT_WORKERS: Final = max(1, min(4, os.cpu_count() or 1))
_T = TypeVar("_T")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ServiceEndpoint:
    """One key service as the steward's client sees it.

    Attributes:
        name: the service's name (as its operator named it).
        url: its base URL (``https://…``; ``http://`` only on the loopback).
        public_share: its public share, 32 bytes.
        ca_file: a CA certificate file (PEM) to trust for it, or None for the system's trust
            store (``ssl.create_default_context()``, not a bundle shipped with a library).
        token: the provider's bearer token for this service (never shown in a repr).
    """

    name: str
    url: str
    public_share: bytes
    ca_file: Path | None = None
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class BlindService:
    """A blind round's key services, ready to pseudonymise: what ``--blind`` loads.

    It stands where a provider key stands in :func:`factlab.steward.pseudonymise.pseudonymise_file`
    and gives the manifest its scheme, round, key id and fingerprint. Load one with
    :func:`load_service_config`.

    Example:
        >>> from factlab.keys.shares import new_share
        >>> shares = [new_share("doc", name).public_share for name in "AB"]
        >>> service = BlindService(
        ...     BlindRound("doc", tuple(shares)),
        ...     tuple(
        ...         ServiceEndpoint(name, f"http://127.0.0.1:{port}", share, token="t")
        ...         for name, port, share in zip("AB", (8443, 8444), shares)
        ...     ),
        ... )
        >>> service.custody, service.scheme, len(service.key_id)
        ('split', 'factlab-voprf-ristretto255-v1', 16)
    """

    blind_round: BlindRound
    services: tuple[ServiceEndpoint, ...]
    batch_size: int = DEFAULT_BATCH
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 0.5
    workers: int = 1
    source: str = "service configuration"
    progress: Progress | None = field(default=None, repr=False, compare=False)

    @property
    def scheme(self) -> str:
        """The blind scheme's version, for the manifest."""
        return self.blind_round.scheme

    @property
    def round(self) -> str:
        """The round's name."""
        return self.blind_round.round

    @property
    def key_id(self) -> str:
        """The round's key id (from its public key)."""
        return self.blind_round.key_id

    @property
    def fingerprint(self) -> str:
        """The round's key fingerprint (from its public key)."""
        return self.blind_round.fingerprint

    @property
    def custody(self) -> Custody:
        """``split`` (two services) or ``single`` (one)."""
        return self.blind_round.custody

    def with_progress(self, progress: Progress | None) -> BlindService:
        """This service with a progress callback ``progress(done, total)``."""
        return replace(self, progress=progress)

    def pseudonyms(
        self, messages: Sequence[str], identifier: str = "bsn", *, checked: bool = False
    ) -> list[str]:
        """Stage-1 pseudonyms of ``messages`` (distinct canonical BSNs), in their order.

        Every service's remaining quota is checked first (:meth:`check_services`): a run that
        would exhaust one is refused before anything is evaluated. ``checked``: the caller has
        just done that for a need that covers these messages (as a steward's file does for its
        BSNs and fallback messages together), so it is not asked again.

        Raises:
            ServiceError: a service is unreachable or refuses, has too little quota left, or an
                answer fails its proof.
        """
        messages = list(messages)
        workers = self.workers if len(messages) > self.batch_size else 1
        # the worker processes start (and import) while the services are asked for the quota
        pool = _start_workers(workers) if workers > 1 else None
        try:
            if not checked:
                self.check_services(len(messages))
            return _Session(self).run(messages, identifier, pool)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def check_services(self, needed: int | None = None) -> None:
        """Ask every service: up, serving this round under its share, the token accepted, and
        quota left; nothing is charged.

        Asks ``GET /health`` (no token) and then ``GET /v1/usage`` (the provider's token) of
        each service. With ``needed`` (the number of distinct values a run will send) a service
        whose remaining quota is below it is refused; without, one with none left.

        Raises:
            ServiceError: a service is down, serves another round or share, refuses the token,
                or has too little of the provider's quota left.
        """
        if needed is not None and (type(needed) is not int or needed < 0):
            raise TypeError("check_services: needed must be a whole number of at least 0")
        _Session(self).check(needed)


class _Session:
    """One run against the services: an HTTP client per service, batches in flight."""

    def __init__(self, service: BlindService) -> None:
        self.service = service
        self.clients = [_client(endpoint, service.timeout) for endpoint in service.services]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def check(self, needed: int | None) -> None:
        try:
            for endpoint, client in zip(self.service.services, self.clients, strict=True):
                answer = self._send(endpoint, client, "GET", "/health", None, token=False)
                if answer.get("round") != self.service.round:
                    raise ServiceError(
                        f"key service {endpoint.name} serves another round, not "
                        f"{self.service.round!r}"
                    )
                if answer.get("public_share") != endpoint.public_share.hex():
                    raise ServiceError(
                        f"key service {endpoint.name} serves under another public share than "
                        f"the service configuration ({self.service.source}) names"
                    )
            for endpoint, client in zip(self.service.services, self.clients, strict=True):
                self._check_quota(
                    endpoint, self._send(endpoint, client, "GET", "/v1/usage", None), needed
                )
        finally:
            self.close()

    def _check_quota(
        self, endpoint: ServiceEndpoint, answer: dict[str, Any], needed: int | None
    ) -> None:
        used, quota = answer.get("used"), answer.get("quota")
        if (
            type(used) is not int
            or type(quota) is not int
            or answer.get("round") != self.service.round
        ):
            raise ServiceError(
                f"key service {endpoint.name} gave a malformed usage answer; nothing was written"
            )
        left = max(0, quota - used)
        if left < (1 if needed is None else needed):
            wanted = "any" if needed is None else f"{needed}"
            raise ServiceError(
                f"key service {endpoint.name}: the provider's quota in round "
                f"{self.service.round!r} has {left} evaluations left (used {used} of {quota}), "
                f"this run needs {wanted} (nothing was evaluated on any service); ask the "
                f"operator of {endpoint.name} to raise the quota; nothing was written"
            )

    def run(
        self, messages: list[str], identifier: str, pool: ProcessPoolExecutor | None = None
    ) -> list[str]:
        total = len(messages)
        size = self.service.batch_size
        chunks = [messages[start : start + size] for start in range(0, total, size)]
        # CPU work (blinding, checking proofs, finalising) goes to worker processes when there
        # are several cores; requests to the services to threads (they wait on the network).
        self.cpu = pool
        workers = 1 if pool is None else self.service.workers
        # Batches in flight: enough that every stage (blinding, each service, checking) has work
        # queued, so no core waits while another stage works; the services share the machine.
        window = 2 * workers + 2
        self.failed = threading.Event()
        self.network = ThreadPoolExecutor(max_workers=window * len(self.clients))
        batches = ThreadPoolExecutor(max_workers=window)
        out: list[str] = []
        try:
            futures = [batches.submit(self._batch, chunk, identifier) for chunk in chunks]
            for future in futures:
                try:
                    out += future.result()
                except BaseException as exc:
                    self.failed.set()
                    batches.shutdown(wait=True, cancel_futures=True)
                    raise _first_failure(futures, exc) from None
                if self.service.progress is not None:
                    self.service.progress(len(out), total)
        finally:
            batches.shutdown(wait=True, cancel_futures=True)
            self.network.shutdown(wait=True, cancel_futures=True)
            self.close()
        return out

    def _cpu(self, function: Callable[..., _T], *args: Any) -> _T:
        if self.cpu is None:
            return function(*args)
        return self.cpu.submit(function, *args).result()

    def _batch(self, chunk: list[str], identifier: str) -> list[str]:
        try:
            return self._one_batch(chunk, identifier)
        except BaseException:
            self.failed.set()  # batches not yet sent are not sent (nor charged)
            raise

    def _one_batch(self, chunk: list[str], identifier: str) -> list[str]:
        """One batch: blind, ask every service, check and combine, finalise."""
        # after another batch's failure, nothing more is blinded, sent (nor charged) or checked
        if self.failed.is_set():
            raise _Skipped
        blind_round = self.service.blind_round
        blinds, blinded = self._cpu(blind_messages, blind_round, chunk, identifier)
        if self.failed.is_set():
            raise _Skipped
        batch = secrets.token_urlsafe(12)
        asked = [
            self.network.submit(self._evaluate, endpoint, client, batch, blinded)
            for endpoint, client in zip(self.service.services, self.clients, strict=True)
        ]
        answers = [future.result() for future in asked]
        if self.failed.is_set():
            raise _Skipped
        try:
            names = [endpoint.name for endpoint in self.service.services]
            return self._cpu(
                _finish, blind_round, chunk, identifier, blinds, blinded, answers, names
            )
        except oprf.OprfError as exc:
            raise ServiceError(f"{exc}; nothing was written") from None

    def _evaluate(
        self, endpoint: ServiceEndpoint, client: httpx.Client, batch: str, blinded: list[bytes]
    ) -> tuple[list[bytes], bytes]:
        body = {
            "round": self.service.round,
            "batch": batch,
            "elements": [base64.b64encode(element).decode() for element in blinded],
        }
        answer = self._send(endpoint, client, "POST", "/v1/evaluate", body)
        try:
            evaluated = [base64.b64decode(item, validate=True) for item in answer["evaluated"]]
            proof = base64.b64decode(answer["proof"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise ServiceError(
                f"key service {endpoint.name} gave a malformed answer; nothing was written"
            ) from None
        return evaluated, proof

    def _send(
        self,
        endpoint: ServiceEndpoint,
        client: httpx.Client,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        token: bool = True,
    ) -> dict[str, Any]:
        import httpx

        # the token goes only where it is needed: not to the health endpoint
        headers = {"Authorization": f"Bearer {endpoint.token}"} if token else None
        # an answer is read only as far as the request can need: a hostile or broken service
        # cannot make the client hold an answer of any size
        limit = _ANSWER_BYTES + _ANSWER_BYTES_PER_ELEMENT * len((body or {}).get("elements", ()))
        delay = self.service.backoff
        for attempt in range(self.service.retries + 1):
            last = attempt == self.service.retries
            try:
                with client.stream(method, path, json=body, headers=headers) as response:
                    status = response.status_code
                    retry = status in _RETRY_STATUSES and not last
                    content = b"" if retry else _read_limited(endpoint, response, limit)
            except httpx.TransportError as exc:
                if last:
                    raise ServiceError(
                        f"key service {endpoint.name} ({endpoint.url}) cannot be reached "
                        f"({type(exc).__name__}) after {attempt + 1} tries; nothing was written"
                    ) from None
            else:
                if retry:
                    pass
                elif status != 200:
                    raise ServiceError(_refusal(endpoint, status, content))
                else:
                    try:
                        answer = json.loads(content)
                    except ValueError:
                        answer = None
                    if not isinstance(answer, dict):
                        raise ServiceError(
                            f"key service {endpoint.name} gave a malformed answer; nothing was "
                            "written"
                        )
                    return answer
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


class _Skipped(Exception):
    """A batch not sent because another failed: the other's error is the one to report."""


def _first_failure(futures: Sequence[Future[list[str]]], default: BaseException) -> BaseException:
    """The error of the first batch that failed of itself (not skipped after another's)."""
    for future in futures:
        if future.done() and not future.cancelled():
            error = future.exception()
            if error is not None and not isinstance(error, _Skipped):
                return error
    return default


def _ready() -> None:
    """Nothing: a worker process that ran it has started and imported this module."""


def _start_workers(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes (spawned: the client has threads), started now."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    for _ in range(workers):  # each submit starts one more process until there are `workers`
        pool.submit(_ready)
    return pool


def _finish(
    blind_round: BlindRound,
    chunk: list[str],
    identifier: str,
    blinds: list[bytes],
    blinded: list[bytes],
    answers: list[tuple[list[bytes], bytes]],
    names: list[str],
) -> list[str]:
    """Check every service's proof, add the answers, finalise (in a worker process)."""
    combined = combine(blind_round, blinded, answers, names)
    return finalise_pseudonyms(blind_round, chunk, identifier, blinds, combined)


def _read_limited(endpoint: ServiceEndpoint, response: httpx.Response, limit: int) -> bytes:
    """The body of ``response``, refused (unread beyond) when it is longer than ``limit``."""
    declared = response.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = int(declared) if declared.isdigit() else 0
    if size <= limit:
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
    if size > limit:
        raise ServiceError(
            f"key service {endpoint.name} sent an answer larger than the request can need "
            f"(more than {limit} bytes); nothing was written"
        )
    return b"".join(chunks)


def _refusal(endpoint: ServiceEndpoint, status: int, content: bytes) -> str:
    """A refusal in words: the service's reason, never the request."""
    try:
        reason = str(json.loads(content).get("error", ""))
    except (ValueError, AttributeError):
        reason = ""
    what = {
        "token": "refused the token (wrong or revoked token file?)",
        "quota": "refused: the provider's quota for this round is exhausted (or not set); ask "
        "the service's operator",
        "replays": "refused a batch replayed too often",
        "round": "serves another round",
        "batch-reused": "refused a reused batch id",
        "too-large": "refused a batch as too large (lower batch_size)",
        "element": "refused an element as not a valid ristretto255 element",
    }.get(reason, f"answered HTTP {status}")
    return f"key service {endpoint.name} {what}; nothing was written"


def _client(endpoint: ServiceEndpoint, timeout: float) -> httpx.Client:
    import httpx

    # the system's trust store (not certifi's bundle), or the configured CA only
    verify = ssl.create_default_context(
        cafile=None if endpoint.ca_file is None else str(endpoint.ca_file)
    )
    return httpx.Client(
        base_url=endpoint.url,
        timeout=timeout,
        verify=verify,
        trust_env=False,  # no proxy from the environment: the services are named in the config
    )


def _loopback_url(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname
    return host in ("127.0.0.1", "localhost", "::1")


def load_service_config(path: str | Path, *, tokens: bool = True) -> BlindService:
    """Read a steward's service configuration (TOML, docs/keyservice.md); all problems at once.

    Paths in it (token files, CA files) are relative to the configuration's folder. Tokens are
    read from their files, never from the configuration itself. Without ``tokens`` (the
    trusted party reading the round's public description) token files are not read.

    Raises:
        ConfigError: the configuration is invalid (every problem, with its field).
        InputError: the file cannot be read.
        TypeError: ``path`` is not a path, or ``tokens`` not True or False.

    Example:
        >>> import pathlib, tempfile
        >>> from factlab.keys.shares import new_share
        >>> public = new_share("doc", "A").public_share.hex()
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "A.token").write_text("token-the-steward-made\\n")
        >>> (folder / "A.token").chmod(0o600)
        >>> _ = (folder / "services.toml").write_text(
        ...     f'version = 1\\nround = "doc"\\npublic_key = "{public}"\\n\\n[[services]]\\n'
        ...     f'name = "A"\\nurl = "http://127.0.0.1:8443"\\npublic_share = "{public}"\\n'
        ...     'token_file = "A.token"\\n'
        ... )
        >>> service = load_service_config(folder / "services.toml")
        >>> service.round, service.custody, [endpoint.name for endpoint in service.services]
        ('doc', 'single', ['A'])
        >>> "token-the-steward-made" in repr(service)
        False
    """
    path = require_path(path, where="load_service_config", name="path")
    if not isinstance(tokens, bool):
        raise TypeError(
            f"load_service_config: tokens must be True or False; got {type_name(tokens)}"
        )
    document = read_toml(path, what="service configuration")
    base = path.parent
    problems: list[str] = []
    if document.get("version") != CONFIG_VERSION:
        problems.append(f"version: must be {CONFIG_VERSION}")
    round_name = document.get("round")
    if not isinstance(round_name, str) or not round_name.strip():
        problems.append("round: the round's name is required")
        round_name = ""
    public_key = _hex32(document.get("public_key"), "public_key", problems)
    entries = document.get("services")
    if not isinstance(entries, list) or len(entries) not in (1, 2):
        problems.append("services: one [[services]] table (single custody) or two (split)")
        entries = []
    services: list[ServiceEndpoint] = []
    for index, entry in enumerate(entries):
        where = f"services[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table")
            continue
        unknown = sorted(set(entry) - {"name", "url", "public_share", "token_file", "ca_file"})
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name: required")
            name = str(index + 1)
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            problems.append(f"{where}.url: an https:// URL is required")
            url = ""
        elif url.startswith("http://") and not _loopback_url(url):
            problems.append(f"{where}.url: plain http:// only to 127.0.0.1 (tokens travel in it)")
        share = _hex32(entry.get("public_share"), f"{where}.public_share", problems)
        token = ""
        token_file = entry.get("token_file")
        if not tokens:
            pass
        elif not isinstance(token_file, str):
            problems.append(f"{where}.token_file: required (the file holding this service's token)")
        else:
            try:
                token = read_regular(base / token_file, what="token file").decode().strip()
                _warn_if_open(base / token_file)
                if not token or any(character.isspace() for character in token):
                    problems.append(f"{where}.token_file: not one token (empty, or several words)")
            except (InputError, UnicodeDecodeError):
                problems.append(f"{where}.token_file: cannot be read (missing, or not text)")
        ca_file = entry.get("ca_file")
        ca_path = None
        if ca_file is not None:
            if not isinstance(ca_file, str) or not (base / ca_file).is_file():
                problems.append(f"{where}.ca_file: file not found")
            else:
                ca_path = base / ca_file
        services.append(ServiceEndpoint(name, url, share or b"", ca_path, token))
    client = document.get("client", {})
    batch_size, timeout, retries, workers = DEFAULT_BATCH, 60.0, 4, DEFAULT_WORKERS
    if not isinstance(client, dict):
        problems.append("client: must be a table")
    else:
        batch_size = _number(client, "batch_size", DEFAULT_BATCH, 1, 10_000, problems)
        timeout = float(_number(client, "timeout", 60, 1, 3600, problems))
        retries = _number(client, "retries", 4, 0, 10, problems)
        workers = _number(client, "workers", DEFAULT_WORKERS, 1, 64, problems)
    blind_round = None
    if not problems:
        try:
            blind_round = BlindRound(round_name.strip(), tuple(s.public_share for s in services))
        except ConfigError as exc:
            problems += exc.problems
    if blind_round is not None and public_key is not None and blind_round.public_key != public_key:
        problems.append(
            "public_key: the services' public shares do not add up to the round's public key "
            "(a share was changed, or the configuration is of another round)"
        )
    if problems:
        raise ConfigError(str(path), problems)
    assert blind_round is not None
    return BlindService(
        blind_round,
        tuple(services),
        batch_size=batch_size,
        timeout=timeout,
        retries=retries,
        workers=workers,
        source=str(path),
    )


def _warn_if_open(path: Path) -> None:
    """Warn when a token file is open to other users (a token is a key to the quota)."""
    if os.name != "posix":
        return  # Windows has no permission bits
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        warnings.warn(
            f"{path}: token file is open to other users (mode {mode:04o}): run `chmod 600 "
            f"{path}`; whoever could read it can spend the provider's quota",
            FactlabWarning,
            stacklevel=3,
        )


def _hex32(value: object, where: str, problems: list[str]) -> bytes | None:
    try:
        data = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        data = b""
    if len(data) != 32:
        problems.append(f"{where}: 64 hex characters required")
        return None
    return data


def _number(
    table: dict[str, Any], name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    value = table.get(name, default)
    if type(value) is not int or not low <= value <= high:
        problems.append(f"client.{name}: a whole number from {low} to {high}")
        return default
    return value


def blind_column(
    values: pl.Series, service: BlindService, identifier: str, *, checked: bool = False
) -> pl.Series:
    """Stage-1 pseudonyms of a text column through the key services, computed on its distinct
    values (each sent once) and spread back to the rows; nulls stay null. ``checked`` as in
    :meth:`BlindService.pseudonyms`.

    Example:
        >>> blind_column(pl.Series([None], dtype=pl.String), None, "bsn").to_list()
        [None]
    """
    distinct = values.drop_nulls().unique()
    if distinct.len() == 0:
        return pl.Series(values.name, [None] * values.len(), dtype=pl.String)
    pseudonyms = service.pseudonyms(distinct.to_list(), identifier, checked=checked)
    return values.replace_strict(
        distinct, pl.Series(pseudonyms, dtype=pl.String), default=None, return_dtype=pl.String
    )
