"""TLS from an operator's certificate (a test CA the client trusts), and the service's database."""

from __future__ import annotations

import datetime
import ipaddress
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from keyservice_helpers import Running, client_for, enrol

from factlab.errors import ConfigError, ServiceError
from factlab.keys.shares import new_share
from factlab.keyservice.serve import ServiceConfig
from factlab.keyservice.store import Store


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca_and_server(folder: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("factlab test CA"))
        .issuer_name(_name("factlab test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


def test_tls_with_the_operators_certificate(
    services: Callable[..., Running], tmp_path: Path
) -> None:
    ca_file, cert_file, key_file = make_ca_and_server(tmp_path)
    service = services(new_share("r2026", "A"), certfile=cert_file, keyfile=key_file)
    assert service.url.startswith("https://127.0.0.1:")
    enrol(service, "P01", "r2026", 10)
    trusted = client_for("r2026", [service], "P01", ca_file=ca_file)
    trusted.check_services()
    assert len(trusted.pseudonyms(["999993653"])) == 1
    # a client that does not trust the operator's CA refuses the connection
    untrusted = client_for("r2026", [service], "P01")
    with pytest.raises(ServiceError, match="cannot be reached"):
        untrusted.pseudonyms(["999993653"])
    assert service.store.usage("P01", "r2026") == (1, 10)


def _handshake(ca_file: Path, port: int, **settings: object) -> str | None:
    """The TLS version a client with ``settings`` agrees on, or None when refused."""
    import socket
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca_file)
    for name, value in settings.items():
        if name == "ciphers":
            context.set_ciphers(str(value))
        else:
            setattr(context, name, value)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            return tls.version()
    except (ssl.SSLError, ConnectionError):
        return None


def test_tls_offers_aead_suites_only(services: Callable[..., Running], tmp_path: Path) -> None:
    import ssl

    from factlab.keyservice.serve import bound_port

    ca_file, cert_file, key_file = make_ca_and_server(tmp_path)
    service = services(new_share("r2026", "A"), certfile=cert_file, keyfile=key_file)
    port = bound_port(service.server)
    assert _handshake(ca_file, port) == "TLSv1.3"
    tls12 = {"maximum_version": ssl.TLSVersion.TLSv1_2}
    assert _handshake(ca_file, port, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256", **tls12)
    for cbc in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"):
        assert _handshake(ca_file, port, ciphers=cbc, **tls12) is None, cbc


def test_plain_http_only_on_the_loopback() -> None:
    ServiceConfig("127.0.0.1", 8443).check()
    with pytest.raises(ConfigError, match="in the clear"):
        ServiceConfig("0.0.0.0", 8443).check()
    ServiceConfig("0.0.0.0", 8443, allow_plain_http=True).check()
    with pytest.raises(ConfigError, match="both a certificate"):
        ServiceConfig("127.0.0.1", 8443, certfile=Path("x.pem")).check()


def test_tokens_are_stored_hashed_and_usage_survives(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    token = store.add_provider("P01")
    store.set_quota("P01", "r", 5)
    assert store.charge("P01", "r", "batch-0001", "d1", 3).allowed
    # a retry of the same batch (same elements) is not charged again; other elements are refused
    assert store.charge("P01", "r", "batch-0001", "d1", 3).reason == "retry"
    assert store.charge("P01", "r", "batch-0001", "d2", 3).reason == "batch-reused"
    assert store.charge("P01", "r", "batch-0002", "d3", 3).reason == "quota"
    store.close()
    raw = (tmp_path / "s.sqlite").read_bytes()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        dumped = "\n".join(db.iterdump())
    assert token not in dumped
    assert token.encode() not in raw
    again = Store(tmp_path / "s.sqlite")
    assert again.usage("P01", "r") == (3, 5)
    assert again.provider_for(token) == "P01"
    assert again.provider_for(token + "x") is None
    events = [line[2] for line in again.audit_lines()]
    assert events == [
        "token-registered",
        "quota-set",
        "evaluated",
        "retry",
        "refused-batch-reused",
        "refused-quota",
    ]
    with pytest.raises(ConfigError):
        again.add_provider("P01")
    again.close()


def test_concurrent_charges_never_overrun_a_quota(tmp_path: Path) -> None:
    import threading

    store = Store(tmp_path / "s.sqlite")
    store.add_provider("P01")
    store.set_quota("P01", "r", 50)
    allowed: list[bool] = []

    def steward(index: int) -> None:
        for batch in range(20):
            charge = store.charge("P01", "r", f"batch-{index:02d}-{batch:03d}", "d", 1)
            allowed.append(charge.allowed)

    threads = [threading.Thread(target=steward, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 50
    assert store.usage("P01", "r") == (50, 50)
    assert sum(line[2] == "refused-quota" for line in store.audit_lines()) == 110
    store.close()


def test_service_configuration_problems_are_told_at_once(tmp_path: Path) -> None:
    from factlab.steward.blind import load_service_config

    (tmp_path / "a.token").write_text("")
    (tmp_path / "a.token").chmod(0o600)
    (tmp_path / "services.toml").write_text(
        'version = 2\nround = "r"\npublic_key = "zz"\n'
        '[[services]]\nname = "A"\nurl = "http://ks.example.org"\npublic_share = "00"\n'
        'token_file = "a.token"\nextra = 1\n'
        "[client]\nbatch_size = 20000\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_service_config(tmp_path / "services.toml")
    problems = caught.value.problems
    assert [problem.split(":")[0] for problem in problems] == [
        "version",
        "public_key",
        "services[0]",
        "services[0].url",
        "services[0].public_share",
        "services[0].token_file",
        "client.batch_size",
    ]
