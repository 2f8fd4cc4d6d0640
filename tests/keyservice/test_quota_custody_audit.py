"""Review fixes of the blind round: the quota pre-flight, steward-made tokens, the audit of
charges and replays, token refusals counted per client, quota rounds, TLS ciphers, key checks."""

from __future__ import annotations

import base64
import logging
import sqlite3
import ssl
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import rbcl
from click.testing import CliRunner
from keyservice_helpers import Running, client_for, enrol, proef_bsns, two_shares

from factlab.cli import main
from factlab.errors import ConfigError, FactlabWarning, ServiceError
from factlab.keys import oprf
from factlab.keys.blind import BlindRound, blind_messages
from factlab.keys.shares import new_share
from factlab.keyservice.store import MAX_REPLAYS, Store, token_digest
from factlab.steward import blind as blind_client
from factlab.steward.blind import load_service_config

BSNS = proef_bsns(40)


def test_a_service_without_quota_costs_nothing_on_the_other(
    services: Callable[..., Running],
) -> None:
    """The reviewer's R1: B has the token but no quota; A must not be charged, the rerun works."""
    a, b = two_shares()
    service_a, service_b = services(a, "a"), services(b, "b")
    enrol(service_a, "P01", "r2026", 60)
    service_b.tokens["P01"] = service_b.store.add_provider("P01")  # B's operator forgot the quota
    client = client_for("r2026", [service_a, service_b], "P01", batch_size=10, workers=1)
    with pytest.raises(ServiceError, match=r"service B: .*0 evaluations left \(used 0 of 0\)"):
        client.check_services()
    with pytest.raises(ServiceError, match=r"service B: .*this run needs 40"):
        client.pseudonyms(BSNS)
    assert service_a.store.usage("P01", "r2026") == (0, 60)
    assert "evaluated" not in [line[2] for line in service_a.store.audit_lines()]
    service_b.store.set_quota("P01", "r2026", 60)
    assert len(client.pseudonyms(BSNS)) == len(BSNS)
    assert service_a.store.usage("P01", "r2026") == (40, 60)
    assert service_b.store.usage("P01", "r2026") == (40, 60)
    # a rerun of the same 40 would leave 20: refused before anything is charged
    with pytest.raises(ServiceError, match=r"20 evaluations left .*needs 40"):
        client.pseudonyms(BSNS)
    assert service_a.store.usage("P01", "r2026") == (40, 60)


def test_a_wrong_token_is_found_by_the_pre_flight(services: Callable[..., Running]) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 10)
    service.tokens["P01"] = "not-the-token-" + "x" * 30
    with pytest.raises(ServiceError, match="refused the token"):
        client_for("r2026", [service], "P01").check_services()


def test_usage_needs_a_token_and_says_provider_round_used_quota(
    services: Callable[..., Running],
) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 9)
    assert httpx.get(f"{service.url}/v1/usage").status_code == 401
    answer = httpx.get(
        f"{service.url}/v1/usage", headers={"Authorization": f"Bearer {service.tokens['P01']}"}
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "provider": "P01",
        "round": "r2026",
        "service": "A",
        "used": 0,
        "quota": 9,
    }


class Headers(httpx.BaseTransport):
    """Records each request's path and whether it carried a token."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[tuple[str, bool]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, "authorization" in request.headers))
        return self.inner.handle_request(request)


def test_the_token_goes_only_to_usage_and_evaluate(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 10)
    transport = Headers()
    original = blind_client._client

    def client(endpoint: blind_client.ServiceEndpoint, timeout: float) -> httpx.Client:
        made = original(endpoint, timeout)
        return httpx.Client(
            base_url=endpoint.url, headers=made.headers, timeout=timeout, transport=transport
        )

    monkeypatch.setattr(blind_client, "_client", client)
    client_for("r2026", [service], "P01").pseudonyms(BSNS[:3])
    assert set(transport.seen) == {
        ("/health", False),
        ("/v1/usage", True),
        ("/v1/evaluate", True),
    }


def _body(share_public: bytes, batch: str) -> dict[str, object]:
    _, blinded = blind_messages(BlindRound("r2026", (share_public,)), BSNS[:5], "bsn")
    return {
        "round": "r2026",
        "batch": batch,
        "elements": [base64.b64encode(element).decode() for element in blinded],
    }


def test_charges_and_replays_are_audited_and_replays_capped(
    services: Callable[..., Running],
) -> None:
    """The reviewer's R3: a replayed batch was evaluated again without limit and unaudited."""
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 100)
    body = _body(share.public_share, "batch-0001")
    with httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {service.tokens['P01']}"}
    ) as client:
        codes = [client.post("/v1/evaluate", json=body).status_code for _ in range(MAX_REPLAYS + 3)]
    assert codes == [200] * (MAX_REPLAYS + 1) + [429, 429]
    assert service.store.usage("P01", "r2026") == (5, 100)
    lines = service.store.audit_lines()
    events = [line[2] for line in lines]
    assert events[2:] == ["evaluated"] + ["retry"] * MAX_REPLAYS + ["refused-replays"] * 2
    evaluated = lines[2]
    assert evaluated[1:4] == ("P01", "evaluated", 5)
    assert "batch=batch-0001" in evaluated[4]
    assert evaluated[0].startswith("20")
    with sqlite3.connect(service.db) as db:
        ((time, replays),) = db.execute("SELECT time, replays FROM batches").fetchall()
    assert time.startswith("20")
    assert replays == MAX_REPLAYS


def test_an_element_with_the_top_bit_set_is_refused_uncharged(
    services: Callable[..., Running],
) -> None:
    """The reviewer's D1: ``bytes(31) + b"\\x80"`` (the identity, to libsodium) was charged and
    then answered with HTTP 500; it is refused as an invalid element before any charge."""
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 100)
    valid = _body(share.public_share, "batch-0002")
    elements = [str(element) for element in valid["elements"]]  # type: ignore[attr-defined]
    alias = base64.b64decode(elements[1])
    for bad in (bytes(31) + b"\x80", alias[:31] + bytes([alias[31] | 0x80])):
        body = {**valid, "elements": [*elements[:1], base64.b64encode(bad).decode()]}
        answer = httpx.post(
            f"{service.url}/v1/evaluate",
            json=body,
            headers={"Authorization": f"Bearer {service.tokens['P01']}"},
        )
        assert (answer.status_code, answer.json()["error"]) == (400, "element")
    assert service.store.usage("P01", "r2026") == (0, 100)
    assert [line[2] for line in service.store.audit_lines()][-2:] == ["refused-element"] * 2


def test_an_element_the_evaluation_refuses_is_refunded_and_told(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any element that passes the check before the charge but that the evaluation refuses
    gives 400 and costs nothing (the charge is given back), and the steward is told why."""
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 100)

    def refuse(*_: object, **__: object) -> None:
        raise oprf.OprfError("a scalar multiplication refused its input")

    monkeypatch.setattr(type(share), "evaluate", refuse)
    body = _body(share.public_share, "batch-0003")
    with httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {service.tokens['P01']}"}
    ) as client:
        codes = [client.post("/v1/evaluate", json=body).status_code for _ in range(2)]
    assert codes == [400, 400]
    assert service.store.usage("P01", "r2026") == (0, 100)
    events = [line[2] for line in service.store.audit_lines()]
    assert events[-6:] == ["evaluated", "refunded", "refused-element"] * 2
    with pytest.raises(ServiceError, match="service A refused an element as not a valid"):
        client_for("r2026", [service], "P01").pseudonyms(BSNS[:3])
    assert service.store.usage("P01", "r2026") == (0, 100)


def test_an_element_libsodium_cannot_decode_costs_nothing(
    services: Callable[..., Running],
) -> None:
    """The service checks only the bytes before charging (length, top bit, identity) and lets
    the evaluation decode: an encoding of s >= p (all ones below the top bit) or a non-square is
    refused with 400 by the evaluation itself, and its charge is given back."""
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 100)
    valid = _body(share.public_share, "batch-0004")
    elements = [str(element) for element in valid["elements"]]  # type: ignore[attr-defined]
    too_large = b"\xff" * 31 + b"\x7f"  # s = 2^255 - 1 >= p
    assert not rbcl.crypto_core_ristretto255_is_valid_point(too_large)
    body = {**valid, "elements": [*elements[:1], base64.b64encode(too_large).decode()]}
    answer = httpx.post(
        f"{service.url}/v1/evaluate",
        json=body,
        headers={"Authorization": f"Bearer {service.tokens['P01']}"},
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "element")
    assert service.store.usage("P01", "r2026") == (0, 100)
    events = [line[2] for line in service.store.audit_lines()]
    assert events[-3:] == ["evaluated", "refunded", "refused-element"]


def test_token_refusals_are_one_line_per_client_and_minute(
    services: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    """The reviewer's R4: a row (and a log line) for every request without a valid token."""
    caplog.set_level(logging.INFO, logger="factlab.keyservice")
    share = new_share("r2026", "A")
    service = services(share)
    before = len(service.store.audit_lines())
    with httpx.Client(base_url=service.url, headers={"Authorization": "Bearer x"}) as bad:
        for _ in range(30):
            bad.post("/v1/evaluate", content=b"{}")
        for _ in range(10):
            bad.get("/v1/usage")
    lines = service.store.audit_lines()[before:]
    assert len(lines) in (1, 2)  # two when the minute turned during the test
    assert {line[2] for line in lines} == {"refused-token"}
    assert {line[4] for line in lines} == {"client=127.0.0.1"}
    assert sum(line[3] for line in lines) == 40
    logged = [record for record in caplog.records if "no valid token" in record.getMessage()]
    assert len(logged) == len(lines)


def test_the_database_is_used_off_the_event_loop(
    services: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    share = new_share("r2026", "A")
    service = services(share)
    enrol(service, "P01", "r2026", 100)
    threads: list[threading.Thread] = []
    for name in ("refused_token", "audit", "provider_for", "usage", "charge"):
        method = getattr(service.store, name)

        def recorded(*args: object, _method: Callable[..., object] = method) -> object:
            threads.append(threading.current_thread())
            return _method(*args)

        monkeypatch.setattr(service.store, name, recorded)
    httpx.post(f"{service.url}/v1/evaluate", content=b"{}")
    headers = {"Authorization": f"Bearer {service.tokens['P01']}"}
    httpx.post(f"{service.url}/v1/evaluate", content=b"[]", headers=headers)
    httpx.get(f"{service.url}/v1/usage", headers=headers)
    httpx.post(
        f"{service.url}/v1/evaluate", json=_body(share.public_share, "b-000001"), headers=headers
    )
    assert len(threads) >= 7
    assert service.thread not in threads  # the event loop runs in the server's thread


def test_a_quota_round_is_stripped_and_checked(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.set_quota("P01", " r2026 ", 5)
    assert store.usage("P01", "r2026") == (0, 5)
    with pytest.raises(ConfigError) as raised:
        store.set_quota("P01", "a|b", 5)
    assert "--round" in str(raised.value)
    with pytest.raises(ConfigError):
        store.set_quota("P01", "  ", 5)
    store.close()
    db = str(tmp_path / "s.sqlite")
    base = ["keyserver", "quota", "--db", db, "--provider", "P02", "--quota", "3", "--round"]
    same = CliRunner().invoke(main, [*base, "r2026"])
    assert same.exit_code == 0, same.output
    assert "new to this service" not in same.output
    typo = CliRunner().invoke(main, [*base, "r2O26"])
    assert typo.exit_code == 0, typo.output
    assert "round 'r2O26' is new to this service" in typo.output
    assert "'r2026'" in typo.output


def test_a_registered_digest_authenticates_and_the_database_is_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    token = "made-by-the-steward-" + "z" * 30
    store.register_token("P01", token_digest(token).upper())
    assert store.provider_for(token) == "P01"
    with pytest.raises(ConfigError):
        store.register_token("P02", token_digest(token))  # one token, one provider
    with pytest.raises(ConfigError):
        store.register_token("P03", "not-a-digest")
    store.close()
    assert (tmp_path / "s.sqlite").stat().st_mode & 0o777 == 0o600


def test_a_database_of_the_first_release_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE batches (provider TEXT NOT NULL, round TEXT NOT NULL, batch TEXT NOT "
            "NULL, elements_sha256 TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY "
            "(provider, round, batch))"
        )
        db.execute("INSERT INTO batches VALUES ('P01', 'r', 'old-batch', 'd', 2)")
    store = Store(path)
    store.set_quota("P01", "r", 10)
    assert store.charge("P01", "r", "old-batch", "d", 2).reason == "retry"
    assert store.charge("P01", "r", "new-batch", "e", 2).allowed
    store.close()


def test_shares_adding_up_to_the_identity_are_refused() -> None:
    """The reviewer's R2: pk and -pk made a round key of zero."""
    k1 = oprf.random_scalar()
    k2 = bytes(rbcl.crypto_core_ristretto255_scalar_negate(k1))
    with pytest.raises(ConfigError, match="add up to the identity"):
        BlindRound("r", (oprf.public_key(k1), oprf.public_key(k2)))


def test_a_token_file_open_to_others_is_warned(tmp_path: Path) -> None:
    share = new_share("r", "A").public_share.hex()
    (tmp_path / "A.token").write_text("a-token-the-steward-made\n")
    (tmp_path / "services.toml").write_text(
        f'version = 1\nround = "r"\npublic_key = "{share}"\n\n[[services]]\nname = "A"\n'
        f'url = "http://127.0.0.1:8443"\npublic_share = "{share}"\ntoken_file = "A.token"\n'
    )
    (tmp_path / "A.token").chmod(0o644)
    with pytest.warns(FactlabWarning, match="token file is open to other users"):
        load_service_config(tmp_path / "services.toml")
    (tmp_path / "A.token").chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_service_config(tmp_path / "services.toml")


def test_without_a_ca_file_the_client_trusts_the_system_store() -> None:
    endpoint = blind_client.ServiceEndpoint("A", "https://127.0.0.1:1", b"\x00" * 32)
    client = blind_client._client(endpoint, 1.0)
    try:
        pool = client._transport._pool  # type: ignore[attr-defined]
        context = pool._ssl_context
        assert isinstance(context, ssl.SSLContext)
        system = ssl.create_default_context()
        assert context.cert_store_stats() == system.cert_store_stats()
    finally:
        client.close()


def test_a_steward_makes_its_token_without_the_server_stack(tmp_path: Path) -> None:
    """`keyserver token --new-for-steward` runs where only the steward's install is."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from factlab.cli import main\n"
        "import factlab.cli.keyserver\n"
        f"result = CliRunner().invoke(main, ['keyserver', 'token', '--new-for-steward', "
        f"'--out', {str(tmp_path / 'P01-A.token')!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('uvicorn', 'starlette') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "P01-A.token").stat().st_mode & 0o777 == 0o600
