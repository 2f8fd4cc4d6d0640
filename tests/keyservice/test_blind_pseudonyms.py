"""Blind pseudonyms end to end against real key services on 127.0.0.1 (split and single custody)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from keyservice_helpers import Running, client_for, enrol, start, two_shares

from factlab import schema
from factlab.errors import ServiceError
from factlab.keys import oprf
from factlab.keys.blind import BlindRound, oprf_input
from factlab.keys.shares import new_share
from factlab.steward import blind as blind_client
from factlab.steward.pseudonymise import pseudonymise_with_quality

BSNS = ["999993653", "999991723", "999995078"]


def direct(secret: bytes, round_name: str, bsn: str) -> str:
    """The pseudonym computed with the whole key, no services: the oracle."""
    return oprf.evaluate(secret, oprf_input(round_name, "bsn", bsn), mode=oprf.MODE_VOPRF)[
        :16
    ].hex()


def test_split_custody_equals_the_whole_key_and_no_share_alone(
    services: Callable[..., Running],
) -> None:
    a, b = two_shares()
    running = [services(a, "a"), services(b, "b")]
    for service in running:
        enrol(service, "P01", "r2026", 100)
    got = client_for("r2026", running, "P01").pseudonyms(BSNS)
    whole = oprf.scalar_add(a._secret, b._secret)
    assert got == [direct(whole, "r2026", bsn) for bsn in BSNS]
    # one share alone gives other values: neither service can compute a pseudonym
    for alone in (a._secret, b._secret):
        assert all(direct(alone, "r2026", bsn) not in got for bsn in BSNS)
    assert all(len(p) == 32 and int(p, 16) >= 0 for p in got)


def test_worker_processes_give_the_same_pseudonyms(services: Callable[..., Running]) -> None:
    a, b = two_shares()
    running = [services(a, "a"), services(b, "b")]
    for service in running:
        enrol(service, "P01", "r2026", 100)
    bsns = [*BSNS, "999990007", "999990019"]
    got = client_for("r2026", running, "P01", batch_size=2, workers=2).pseudonyms(bsns)
    whole = oprf.scalar_add(a._secret, b._secret)
    assert got == [direct(whole, "r2026", bsn) for bsn in bsns]
    assert running[0].store.usage("P01", "r2026") == (5, 100)


def test_equal_across_providers_different_across_rounds(
    services: Callable[..., Running],
) -> None:
    a, b = two_shares("r2026")
    running = [services(a, "a"), services(b, "b")]
    for service in running:
        enrol(service, "P01", "r2026", 100)
        enrol(service, "P02", "r2026", 100)
    first = client_for("r2026", running, "P01").pseudonyms(BSNS)
    second = client_for("r2026", running, "P02").pseudonyms(list(reversed(BSNS)))
    assert first == list(reversed(second))
    a2, b2 = two_shares("r2027")
    later = [services(a2, "a2"), services(b2, "b2")]
    for service in later:
        enrol(service, "P01", "r2027", 100)
    other_round = client_for("r2027", later, "P01").pseudonyms(BSNS)
    assert not set(first) & set(other_round)


def test_single_custody(services: Callable[..., Running]) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 10)
    client = client_for("r2026", [service], "P01")
    assert client.custody == "single"
    assert client.pseudonyms(BSNS) == [direct(share._secret, "r2026", bsn) for bsn in BSNS]


def test_wrong_token_is_refused_and_audited(services: Callable[..., Running]) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 10)
    service.tokens["P01"] = "not-the-token-" + "x" * 30
    with pytest.raises(ServiceError, match="refused the token"):
        client_for("r2026", [service], "P01").pseudonyms(BSNS)
    assert [line[2] for line in service.store.audit_lines()][-1] == "refused-token"


def test_quota_is_exact_and_exhaustion_refused(services: Callable[..., Running]) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 4)
    client = client_for("r2026", [service], "P01", batch_size=2)
    client.pseudonyms(BSNS[:2])
    client.pseudonyms(BSNS[1:3])
    assert service.store.usage("P01", "r2026") == (4, 4)
    before = service.store.audit_lines()
    with pytest.raises(ServiceError, match=r"0 evaluations left .*this run needs 1"):
        client.pseudonyms(BSNS[:1])
    assert service.store.usage("P01", "r2026") == (4, 4)
    # refused by the client's pre-flight: the service was asked for nothing
    assert service.store.audit_lines() == before


def test_one_service_of_two_down(services: Callable[..., Running]) -> None:
    a, b = two_shares()
    running = [services(a, "a"), services(b, "b")]
    for service in running:
        enrol(service, "P01", "r2026", 100)
    client = client_for("r2026", running, "P01", retries=2)
    running[1].stop()
    with pytest.raises(
        ServiceError, match=r"service B .*cannot be reached .*after 3 tries; nothing was written"
    ):
        client.pseudonyms(BSNS)
    with pytest.raises(ServiceError):
        client.check_services()


def test_restart_between_batches_keeps_usage(tmp_path: Path) -> None:
    share = new_share("r2026", "A")
    first = start(share, tmp_path / "a.sqlite")
    enrol(first, "P01", "r2026", 5)
    token = first.tokens["P01"]
    client = client_for("r2026", [first], "P01")
    before = client.pseudonyms(BSNS)
    port = int(first.url.rsplit(":", 1)[1])
    first.stop()
    second = start(share, tmp_path / "a.sqlite", port=port)  # the same database, restarted
    second.tokens["P01"] = token
    try:
        assert second.store.usage("P01", "r2026") == (3, 5)
        again = client_for("r2026", [second], "P01")
        assert again.pseudonyms(BSNS[:2]) == before[:2]
        assert second.store.usage("P01", "r2026") == (5, 5)
        with pytest.raises(ServiceError, match="quota"):
            again.pseudonyms(BSNS[2:])
    finally:
        second.stop()


class Capture(httpx.BaseTransport):
    """Records what the client sends; optionally changes what comes back."""

    def __init__(self, tamper: bool = False, top_bit: bool = False) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[bytes] = []
        self.tamper = tamper
        self.top_bit = top_bit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.read() + str(request.url).encode())
        response = self.inner.handle_request(request)
        if not (self.tamper or self.top_bit) or request.url.path != "/v1/evaluate":
            return response
        body = json.loads(response.read())
        first = base64.b64decode(body["evaluated"][0])
        if self.top_bit:  # the same element to libsodium, which ignores the top bit
            changed = first[:31] + bytes([first[31] | 0x80])
        else:  # another valid element in its place: twice the evaluated element
            changed = oprf.add_elements(first, first)
        body["evaluated"][0] = base64.b64encode(changed).decode()
        return httpx.Response(200, json=body)


def _capturing(monkeypatch: pytest.MonkeyPatch, capture: Capture) -> None:
    original = blind_client._client

    def client(endpoint: blind_client.ServiceEndpoint, timeout: float) -> httpx.Client:
        made = original(endpoint, timeout)
        return httpx.Client(
            base_url=endpoint.url, headers=made.headers, timeout=timeout, transport=capture
        )

    monkeypatch.setattr(blind_client, "_client", client)


def test_tampered_answer_fails_its_proof(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 10)
    _capturing(monkeypatch, Capture(tamper=True))
    with pytest.raises(ServiceError, match="proof does not verify"):
        client_for("r2026", [service], "P01").pseudonyms(BSNS)


def test_an_answer_with_the_top_bit_set_is_refused_naming_the_service(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 10)
    _capturing(monkeypatch, Capture(top_bit=True))
    with pytest.raises(ServiceError, match="key service A sent an invalid element"):
        client_for("r2026", [service], "P01").pseudonyms(BSNS)


def test_canary_nothing_of_a_bsn_on_the_wire(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch, test_bsns: tuple[str, ...]
) -> None:
    a, b = two_shares()
    running = [services(a, "a"), services(b, "b")]
    for service in running:
        enrol(service, "P01", "r2026", 1000)
    capture = Capture()
    _capturing(monkeypatch, capture)
    bsns = list(test_bsns[:300])
    client_for("r2026", running, "P01", batch_size=100).pseudonyms(bsns)
    wire = b"\n".join(capture.sent)
    assert len(capture.sent) == 10  # per service: health, usage, three batches
    for bsn in bsns:
        forms = [bsn.encode(), bsn[1:].encode()]
        for digest in (hashlib.sha256, hashlib.sha512, hashlib.sha1, hashlib.md5):
            raw = digest(bsn.encode()).digest()
            forms += [raw.hex().encode(), base64.b64encode(raw)]
        element = oprf.hash_to_group(oprf_input("r2026", "bsn", bsn), mode=oprf.MODE_VOPRF)
        forms += [element.hex().encode(), base64.b64encode(element)]  # unblinded: never sent
        assert not any(form in wire for form in forms)


def test_a_steward_file_with_fallback_pseudonyms(services: Callable[..., Running]) -> None:
    a, b = two_shares()
    running = [services(a, "a"), services(b, "b")]
    for service in running:
        enrol(service, "P01", "r2026", 100)
    export = pl.DataFrame(
        {
            "bsn": ["999993653", "9999.93.653", None, None, "12"],
            "geboortedatum": ["2010-02-01", "2010-02-01", "2010-02-01", "2011-03-04", None],
            "geslacht": ["V", "V", "V", "M", "M"],
            "postcode": ["9401 AB", "9401AB", "9401AB", "9402CD", "9402CD"],
        }
    )
    client = client_for("r2026", running, "P01")
    result = pseudonymise_with_quality(
        export, client, provider="P01", fallback=("birth_date", "sex", "postcode")
    )
    frame = result.frame
    whole = oprf.scalar_add(a._secret, b._secret)
    assert frame["pseudonym"].to_list()[:3] == [direct(whole, "r2026", "999993653")] * 2 + [None]
    fallback = frame[schema.FALLBACK_PSEUDONYM].to_list()
    expected = oprf.evaluate(
        whole,
        oprf_input("r2026", "fallback", "birth_date=2010-02-01|sex=V|postcode=9401AB"),
        mode=oprf.MODE_VOPRF,
    )[:16].hex()
    assert fallback[:3] == [expected] * 3
    assert fallback[3] is not None
    assert fallback[3] != expected
    assert fallback[4] is None
    assert not any("9401" in str(value) for value in fallback)
    # one evaluation per distinct BSN and per distinct fallback message
    assert running[0].store.usage("P01", "r2026") == (3, 100)


def test_a_failure_partway_is_told_and_stops_the_sending(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch, test_bsns: tuple[str, ...]
) -> None:
    # B's quota runs out after two batches; the pre-flight is skipped so the run starts at all
    a, b = two_shares()
    running = [services(a, "a"), services(b, "b")]
    enrol(running[0], "P01", "r2026", 1000)
    enrol(running[1], "P01", "r2026", 4)
    monkeypatch.setattr(blind_client.BlindService, "check_services", lambda *_: None)
    bsns = list(test_bsns[:200])
    client = client_for("r2026", running, "P01", batch_size=2)
    with pytest.raises(ServiceError, match="service B refused: the provider's quota"):
        client.pseudonyms(bsns)
    # batches in flight when B refused may have been evaluated by A; no later one was sent
    used, _ = running[0].store.usage("P01", "r2026")
    assert used < 60


def test_after_a_later_batch_fails_nothing_more_is_blinded_or_sent(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch, test_bsns: tuple[str, ...]
) -> None:
    """Batch 0 waits on a slow service while batch 1 fails: the error is batch 1's own, and no
    batch that was not in flight is blinded or sent (the reviewer's D2 and D3)."""
    a, b = two_shares()
    running = [services(a, "a"), services(b, "b")]
    for service in running:
        enrol(service, "P01", "r2026", 1000)
    monkeypatch.setattr(blind_client.BlindService, "check_services", lambda *_: None)
    bsns = list(test_bsns[:400])
    size = 2
    lock = threading.Lock()
    batch_of: dict[int, int] = {}  # id of a batch's blinded elements -> the batch's index
    blinded_batches: list[int] = []
    requests: list[tuple[int, str]] = []
    real_blind, real_evaluate = blind_client.blind_messages, blind_client._Session._evaluate

    def counting_blind(
        round_: BlindRound, chunk: list[str], identifier: str
    ) -> tuple[list[bytes], list[bytes]]:
        blinds, blinded = real_blind(round_, chunk, identifier)
        with lock:
            batch_of[id(blinded)] = bsns.index(chunk[0]) // size
            blinded_batches.append(batch_of[id(blinded)])
        return blinds, blinded

    def evaluate(
        session: Any, endpoint: Any, client: Any, batch: str, blinded: list[bytes]
    ) -> tuple[list[bytes], bytes]:
        with lock:
            index = batch_of[id(blinded)]
            requests.append((index, endpoint.name))
        if index == 0:
            time.sleep(1.0)  # a slow service: batch 0 is answered late
        elif index == 1 and endpoint.name == "B":
            raise ServiceError("key service B failed batch one of its own; nothing was written")
        elif index > 1:  # the other batches in flight answer only after batch 1's failure
            assert session.failed.wait(10)
        return real_evaluate(session, endpoint, client, batch, blinded)  # type: ignore[no-any-return]

    monkeypatch.setattr(blind_client, "blind_messages", counting_blind)
    monkeypatch.setattr(blind_client._Session, "_evaluate", evaluate)
    client = client_for("r2026", running, "P01", batch_size=size, workers=1)
    with pytest.raises(ServiceError, match="failed batch one of its own") as caught:
        client.pseudonyms(bsns)
    assert not isinstance(caught.value, blind_client._Skipped)
    window = 2 * 1 + 2  # batches in flight with one worker (steward/blind.py, _Session.run)
    assert sorted(blinded_batches) == list(range(window))  # not one of the 196 others
    assert len(requests) <= window * len(running)
    assert {index for index, _ in requests} <= set(range(window))


def test_a_steward_file_asks_for_the_quota_once(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    """BSNs and fallback messages are checked against the quota together, once: the columns'
    runs do not ask every service again."""
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 100)
    capture = Capture()
    _capturing(monkeypatch, capture)
    export = pl.DataFrame(
        {
            "bsn": ["999993653", None],
            "geboortedatum": ["2010-02-01", "2011-03-04"],
            "geslacht": ["V", "M"],
            "postcode": ["9401 AB", "9402CD"],
        }
    )
    pseudonymise_with_quality(
        export,
        client_for("r2026", [service], "P01"),
        provider="P01",
        fallback=("birth_date", "sex", "postcode"),
    )
    paths = [sent.rsplit(b"127.0.0.1", 1)[1].split(b"/", 1)[1] for sent in capture.sent]
    assert paths.count(b"v1/usage") == 1
    assert paths.count(b"health") == 1
    assert paths.count(b"v1/evaluate") == 2  # the BSNs, then the fallback messages


class Oversized(httpx.BaseTransport):
    """A service whose evaluation answers are far longer than any batch can need."""

    def __init__(self, declared: bool) -> None:
        self.inner = httpx.HTTPTransport()
        self.declared = declared
        self.streamed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != "/v1/evaluate":
            return response
        response.read()
        padding = b"x" * 65_536

        def endless() -> Iterator[bytes]:
            for _ in range(1_000):  # 64 MB if the client read it all
                self.streamed += 1
                yield padding

        if self.declared:
            return httpx.Response(200, content=b'{"pad": "' + padding * 4 + b'"}')
        return httpx.Response(200, content=endless())


@pytest.mark.parametrize("declared", [True, False])
def test_an_answer_longer_than_a_batch_needs_is_refused(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 10)
    transport = Oversized(declared)
    original = blind_client._client

    def client(endpoint: blind_client.ServiceEndpoint, timeout: float) -> httpx.Client:
        made = original(endpoint, timeout)
        return httpx.Client(
            base_url=endpoint.url, headers=made.headers, timeout=timeout, transport=transport
        )

    monkeypatch.setattr(blind_client, "_client", client)
    with pytest.raises(ServiceError, match="service A sent an answer larger than the request"):
        client_for("r2026", [service], "P01").pseudonyms(BSNS)
    assert transport.streamed < 3  # read no further than the limit
