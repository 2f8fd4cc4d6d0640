"""The key service's HTTP interface (Starlette): a health endpoint and batch evaluation.

``GET /health`` (no token) says the service is up and which round and public share it serves.
``GET /v1/usage`` (a provider's bearer token) says the provider's quota and usage in the round,
so a steward's client can refuse a run that would exhaust the quota before anything is charged.
``POST /v1/evaluate`` takes a provider's bearer token and a batch of blinded elements, charges
them to the provider's quota (:mod:`factlab.keyservice.store`) and answers with the evaluated
elements and one batched DLEQ proof (RFC 9497 VOPRF) under the service's public share. The
service never sees a BSN, only blinded elements, which are uniformly random group elements to
it; responses and logs hold no element of a request, no token and never the share.

Request and response bodies are JSON; elements and proofs are base64 of their 32- and 64-byte
encodings::

    POST /v1/evaluate   Authorization: Bearer <token>
    {"round": "2026", "batch": "<random id>", "elements": ["<b64>", ...]}
    → {"round": "2026", "service": "A", "evaluated": ["<b64>", ...], "proof": "<b64>"}

    GET /v1/usage       Authorization: Bearer <token>
    → {"provider": "P01", "round": "2026", "service": "A", "used": 1200, "quota": 1500}

Refusals: 400 (malformed request or element; never charged: an element the evaluation
refuses after the charge has its batch's charge given back), 401 (no or unknown token), 409 (a
batch id reused with other elements), 413 (batch or body too large), 422 (another round), 429
(quota exhausted, no quota in this round, or a batch replayed too often). Each is written to
the audit table; requests without a valid token are counted per client address and minute.
Every database call runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from factlab.keys import oprf
from factlab.keys.shares import KeyShare
from factlab.keyservice.store import Store

__all__ = ["MAX_BATCH", "make_app"]

#: The most elements one request may carry (about 0.5 MB of JSON).
MAX_BATCH: Final = 10_000
_MAX_BODY: Final = 64 * (MAX_BATCH + 100)
_BATCH_ID: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
_log = logging.getLogger("factlab.keyservice")


def _refuse(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"error": reason, "message": message}, status_code=status)


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _decode_elements(values: Any) -> list[bytes] | None:
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        return None
    try:
        return [base64.b64decode(value, validate=True) for value in values]
    except (binascii.Error, ValueError):
        return None


def make_app(share: KeyShare, store: Store) -> Starlette:
    """The Starlette application of a key service holding ``share``, recording in ``store``.

    Example:
        >>> import tempfile, pathlib
        >>> from factlab.keys.shares import new_share
        >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite")
        >>> [route.path for route in make_app(new_share("doc", "A"), store).routes]
        ['/health', '/v1/usage', '/v1/evaluate']
    """

    async def audit(provider: str | None, event: str, elements: int = 0) -> None:
        await run_in_threadpool(store.audit, provider, event, elements)

    async def authenticated(request: Request) -> str | None:
        """The request's provider, or None (the refusal counted for the client's address)."""
        token = _token(request)
        provider = None if token is None else await run_in_threadpool(store.provider_for, token)
        if provider is None:
            client = request.client.host if request.client is not None else "unknown"
            if await run_in_threadpool(store.refused_token, client):  # once a client and minute
                _log.warning(
                    "refused a request from %s: no valid token (counted in the audit)", client
                )
        return provider

    async def usage(request: Request) -> JSONResponse:
        provider = await authenticated(request)
        if provider is None:
            return _refuse(401, "token", "no valid bearer token for this service")
        known = await run_in_threadpool(store.usage, provider, share.round)
        used, quota = known if known is not None else (0, 0)
        return JSONResponse(
            {
                "provider": provider,
                "round": share.round,
                "service": share.service,
                "used": used,
                "quota": quota,
            }
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "round": share.round,
                "service": share.service,
                "public_share": share.public_share.hex(),
            }
        )

    async def evaluate(request: Request) -> JSONResponse:
        provider = await authenticated(request)
        if provider is None:
            return _refuse(401, "token", "no valid bearer token for this service")
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > _MAX_BODY:
            await audit(provider, "refused-too-large")
            return _refuse(413, "too-large", f"at most {MAX_BATCH} elements a request")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            await audit(provider, "refused-malformed")
            return _refuse(400, "malformed", "the request is not a JSON object")
        elements = _decode_elements(body.get("elements"))
        batch = body.get("batch")
        if elements is None or not isinstance(batch, str) or not _BATCH_ID.fullmatch(batch):
            await audit(provider, "refused-malformed")
            return _refuse(400, "malformed", "a request needs a batch id and base64 elements")
        if len(elements) > MAX_BATCH:
            await audit(provider, "refused-too-large", len(elements))
            return _refuse(413, "too-large", f"at most {MAX_BATCH} elements a request")
        if body.get("round") != share.round:
            await audit(provider, "refused-round", len(elements))
            return _refuse(422, "round", "this service serves another round")
        try:
            # the byte checks only (length, top bit, identity): the evaluation below decodes
            # every element and refuses an invalid one, and is given back its charge then;
            # decoding here as well would cost a tenth of the service's work an element
            checked = oprf.encodings_to_verify(elements)
        except oprf.OprfError:
            await audit(provider, "refused-element", len(elements))
            return _refuse(400, "element", "an element is not a valid ristretto255 element")
        digest = hashlib.sha256(b"".join(checked)).hexdigest()
        charge = await run_in_threadpool(
            store.charge, provider, share.round, batch, digest, len(checked)
        )
        if not charge.allowed:
            _log.warning("refused %s: %s (%d elements)", provider, charge.reason, len(checked))
            if charge.reason == "batch-reused":
                return _refuse(409, "batch-reused", "this batch id was used for other elements")
            if charge.reason == "replays":
                return _refuse(429, "replays", "this batch was replayed too often")
            return _refuse(
                429,
                "quota",
                "quota exhausted for this round"
                if charge.reason == "quota"
                else "no quota for this provider in this round",
            )
        try:
            evaluated, proof = await run_in_threadpool(share.evaluate, checked, checked=True)
        except oprf.OprfError:  # an element libsodium cannot decode: not charged after all
            await run_in_threadpool(store.refund, provider, share.round, batch, digest)
            await audit(provider, "refused-element", len(checked))
            return _refuse(400, "element", "an element is not a valid ristretto255 element")
        _log.info(
            "evaluated %d elements for %s (%d of %d used)",
            len(checked),
            provider,
            charge.used,
            charge.quota,
        )
        return JSONResponse(
            {
                "round": share.round,
                "service": share.service,
                "evaluated": [base64.b64encode(item).decode() for item in evaluated],
                "proof": base64.b64encode(proof).decode(),
            }
        )

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/usage", usage, methods=["GET"]),
            Route("/v1/evaluate", evaluate, methods=["POST"]),
        ]
    )
