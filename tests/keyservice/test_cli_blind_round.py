"""A whole blind round through the command line: shares, tokens, quotas, services, pseudonymise,
the trusted party's round key, link (and its refusal to mix schemes)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from keyservice_helpers import Running, start

from factlab import schema
from factlab.analysis.link import link
from factlab.cli import main
from factlab.errors import LinkError, ServiceError
from factlab.keys.round_keys import load_key, new_round_key, write_key
from factlab.keys.shares import load_share
from factlab.keyservice.store import Store
from factlab.manifest import read_manifest
from factlab.report.text import warnings
from factlab.steward.pseudonymise import pseudonymise_file


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def setup_round(folder: Path, services: int = 2) -> tuple[Path, list[Running]]:
    """Two (or one) services with tokens and quotas for P01 and P02; the steward's configs."""
    running = []
    shares = []
    for name in "AB"[:services]:
        out = run(
            "keyserver", "init", str(folder / f"{name}.share"), "--round", "r26", "--service", name
        )
        shares.append(re.search(r'public_share = "([0-9a-f]{64})"', out).group(1))  # type: ignore[union-attr]
        db = folder / f"{name}.sqlite"
        for provider in ("P01", "P02"):
            made = run(  # the steward makes its token; the operator registers its SHA-256
                "keyserver",
                "token",
                "--new-for-steward",
                "--out",
                str(folder / f"{provider}-{name}.token"),
            )
            digest = re.search(r"sha256 = ([0-9a-f]{64})", made).group(1)  # type: ignore[union-attr]
            run("keyserver", "token", "--db", str(db), "--provider", provider, "--sha256", digest)
            run(
                "keyserver",
                "quota",
                "--db",
                str(db),
                "--provider",
                provider,
                "--round",
                "r26",
                "--expected",
                "4",
            )
        running.append(start(load_share(folder / f"{name}.share"), db))
    from factlab.keys.blind import BlindRound

    public = BlindRound("r26", tuple(bytes.fromhex(s) for s in shares)).public_key.hex()
    for provider in ("P01", "P02"):
        tables = "".join(
            f'[[services]]\nname = "{name}"\nurl = "{service.url}"\n'
            f'public_share = "{share}"\ntoken_file = "{provider}-{name}.token"\n\n'
            for name, service, share in zip("AB", running, shares, strict=False)
        )
        (folder / f"{provider}.toml").write_text(
            f'version = 1\nround = "r26"\npublic_key = "{public}"\n\n{tables}'
            "[client]\nretries = 1\n"
        )
    return folder, running


def test_a_blind_round_end_to_end(tmp_path: Path) -> None:
    folder, running = setup_round(tmp_path)
    try:
        (tmp_path / "p01.csv").write_text("BSN;Gemeente\n999993653;Assen\n999991723;Emmen\n")
        (tmp_path / "p02.csv").write_text("BSN;Gemeente\n9999.93.653;Assen\n999995078;Assen\n")
        for provider in ("P01", "P02"):
            run(
                "pseudonymise",
                str(tmp_path / f"{provider.lower()}.csv"),
                "--blind",
                str(folder / f"{provider}.toml"),
                "--provider",
                provider,
                "--out",
                str(tmp_path / f"{provider}.parquet"),
            )
        manifest = read_manifest(tmp_path / "P01.parquet")
        assert manifest.scheme == schema.BLIND_SCHEME
        assert manifest.extra["custody"] == "split"
        assert manifest.extra["key_services"] == ["A", "B"]
        shown = run("inspect", str(tmp_path / "P01.parquet"))
        assert "custody:         split, key services A, B" in shown
        assert schema.BLIND_SCHEME in shown
        p01 = pl.read_parquet(tmp_path / "P01.parquet")["pseudonym"].to_list()
        p02 = pl.read_parquet(tmp_path / "P02.parquet")["pseudonym"].to_list()
        assert p01[0] == p02[0]
        assert len(set(p01 + p02)) == 3
        # the trusted party: a round key from the round's public description, then link
        run(
            "key",
            "new",
            str(tmp_path / "round.key"),
            "--round",
            "r26",
            "--blind",
            str(folder / "P01.toml"),
        )
        key = load_key(tmp_path / "round.key")
        assert key.fingerprint == manifest.key_fingerprint
        assert not key.can_pseudonymise
        linked = link(
            [tmp_path / "P01.parquet", tmp_path / "P02.parquet"],
            tmp_path / "linked.parquet",
            key=key,
        )
        assert linked.scheme == schema.BLIND_SCHEME
        # each input's custody, from its steward manifest, in the linked file's manifest
        inputs = read_manifest(tmp_path / "linked.parquet").inputs
        assert [(e["provider"], e["custody"], e["key_services"]) for e in inputs] == [
            ("P01", "split", ["A", "B"]),
            ("P02", "split", ["A", "B"]),
        ]
        assert warnings(read_manifest(tmp_path / "linked.parquet"), "nl") == ()
        frame = pl.read_parquet(tmp_path / "linked.parquet")
        assert frame["pseudonym"].n_unique() == 3
        assert not set(frame["pseudonym"]) & set(p01 + p02)  # second stage applied
        assert usage(running[0], "P01") == (2, 6)
        # a file of the HMAC scheme does not link with them
        hmac_key = new_round_key("r26")
        pseudonymise_file(
            tmp_path / "p01.csv", hmac_key, provider="P03", out=tmp_path / "P03.parquet"
        )
        with pytest.raises(LinkError, match="differ in scheme"):
            link(
                [tmp_path / "P01.parquet", tmp_path / "P03.parquet"],
                tmp_path / "mixed.parquet",
                key=key,
            )
    finally:
        for service in running:
            stop(service)


def usage(service: Running, provider: str) -> tuple[int, int] | None:
    return service.store.usage(provider, "r26")


def stop(service: Running) -> None:
    if service.running:
        service.stop()


def test_no_output_when_a_service_is_down(tmp_path: Path) -> None:
    folder, running = setup_round(tmp_path)
    stop(running[1])
    stop(running[0])
    (tmp_path / "p01.csv").write_text("BSN\n999993653\n")
    result = CliRunner().invoke(
        main,
        [
            "pseudonymise",
            str(tmp_path / "p01.csv"),
            "--blind",
            str(folder / "P01.toml"),
            "--provider",
            "P01",
            "--out",
            str(tmp_path / "out.parquet"),
        ],
    )
    assert result.exit_code == ServiceError.exit_code
    assert "cannot be reached" in result.output
    assert not (tmp_path / "out.parquet").exists()
    assert "999993653" not in result.output


def test_quota_exhausted_no_output(tmp_path: Path) -> None:
    folder, running = setup_round(tmp_path, services=1)
    try:
        rows = "\n".join(
            [
                "BSN",
                "999993653",
                "999991723",
                "999995078",
                "999990007",
                "999990019",
                "999990032",
                "999990044",
            ]
        )
        (tmp_path / "p01.csv").write_text(rows + "\n")
        (tmp_path / "small.csv").write_text("BSN\n999993653\n999991723\n")
        small = CliRunner().invoke(
            main,
            [
                "pseudonymise",
                str(tmp_path / "small.csv"),
                "--blind",
                str(folder / "P01.toml"),
                "--provider",
                "P01",
                "--out",
                str(tmp_path / "small.parquet"),
            ],
        )
        assert small.exit_code == 0, small.output
        assert "custody single (one service could compute every pseudonym)" in small.output
        assert read_manifest(tmp_path / "small.parquet").extra["custody"] == "single"
        result = CliRunner().invoke(
            main,
            [
                "pseudonymise",
                str(tmp_path / "p01.csv"),
                "--blind",
                str(folder / "P01.toml"),
                "--provider",
                "P01",
                "--out",
                str(tmp_path / "out.parquet"),
            ],
        )
        assert result.exit_code == ServiceError.exit_code, result.output
        assert "4 evaluations left (used 2 of 6), this run needs 7" in result.output
        assert not (tmp_path / "out.parquet").exists()
        # refused by the client before any evaluation: nothing charged, nothing asked
        assert running[0].store.usage("P01", "r26") == (2, 6)
        events = [line[2] for line in running[0].store.audit_lines()]
        assert "refused-quota" not in events
    finally:
        stop(running[0])


def test_single_service_mode_reaches_the_linked_manifest_and_the_report(tmp_path: Path) -> None:
    folder, running = setup_round(tmp_path, services=1)
    try:
        (tmp_path / "p01.csv").write_text("BSN\n999993653\n999991723\n")
        (tmp_path / "p02.csv").write_text("BSN\n999993653\n999995078\n")
        for provider in ("P01", "P02"):
            run(
                "pseudonymise",
                str(tmp_path / f"{provider.lower()}.csv"),
                "--blind",
                str(folder / f"{provider}.toml"),
                "--provider",
                provider,
                "--out",
                str(tmp_path / f"{provider}.parquet"),
            )
        run(
            "key",
            "new",
            str(tmp_path / "round.key"),
            "--round",
            "r26",
            "--blind",
            str(folder / "P01.toml"),
        )
        link(
            [tmp_path / "P01.parquet", tmp_path / "P02.parquet"],
            tmp_path / "linked.parquet",
            key=load_key(tmp_path / "round.key"),
        )
        manifest = read_manifest(tmp_path / "linked.parquet")
        assert [(e["custody"], e["key_services"]) for e in manifest.inputs] == [
            ("single", ["A"]),
            ("single", ["A"]),
        ]
        (dutch,) = warnings(manifest, "nl")
        assert dutch.startswith("Eén sleuteldienst: de pseudoniemen van 2 van de 2 invoerbestanden")
        (english,) = warnings(manifest, "en")
        assert english.startswith("Single-service mode:")
    finally:
        stop(running[0])


def test_a_blind_round_key_makes_no_provider_key(tmp_path: Path) -> None:
    folder, running = setup_round(tmp_path, services=1)
    stop(running[0])
    run(
        "key",
        "new",
        str(tmp_path / "round.key"),
        "--round",
        "r26",
        "--blind",
        str(folder / "P01.toml"),
    )
    key = load_key(tmp_path / "round.key")
    result = CliRunner().invoke(
        main,
        ["key", "export-provider", str(tmp_path / "round.key"), "--out", str(tmp_path / "p.key")],
    )
    assert result.exit_code != 0
    assert "blind round" in result.output
    write_key(key.link_key(), tmp_path / "link.key")
    assert load_key(tmp_path / "link.key").fingerprint == key.fingerprint


def test_keyserver_commands_keep_tokens_and_shares_out_of_sight(tmp_path: Path) -> None:
    out = run("keyserver", "init", str(tmp_path / "A.share"), "--round", "r26", "--service", "A")
    share = load_share(tmp_path / "A.share")
    assert share.public_share.hex() in out
    assert share._secret.hex() not in out
    assert oct((tmp_path / "A.share").stat().st_mode & 0o777) == "0o600"
    shown = run("keyserver", "token", "--new-for-steward", "--out", str(tmp_path / "P01.token"))
    token = (tmp_path / "P01.token").read_text().strip()
    assert len(token) >= 43
    assert token not in shown
    assert f"sha256 = {hashlib.sha256(token.encode()).hexdigest()}" in shown
    assert oct((tmp_path / "P01.token").stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(
        main, ["keyserver", "token", "--new-for-steward", "--out", str(tmp_path / "P01.token")]
    )
    assert again.exit_code == 4
    assert "file exists" in again.output
    digest = hashlib.sha256(token.encode()).hexdigest()
    db = str(tmp_path / "A.sqlite")
    run("keyserver", "token", "--db", db, "--provider", "P01", "--sha256", digest)
    assert oct((tmp_path / "A.sqlite").stat().st_mode & 0o777) == "0o600"
    # an operator cannot make a token (it would know it), nor register one twice by mistake
    issued = CliRunner().invoke(
        main,
        ["keyserver", "token", "--db", db, "--provider", "P02", "--out", str(tmp_path / "x")],
    )
    assert issued.exit_code != 0
    assert "--new-for-steward" in issued.output
    assert not (tmp_path / "x").exists()
    twice = CliRunner().invoke(
        main, ["keyserver", "token", "--db", db, "--provider", "P01", "--sha256", digest]
    )
    assert twice.exit_code == 4
    assert "--replace" in twice.output
    run(
        "keyserver",
        "quota",
        "--db",
        str(tmp_path / "A.sqlite"),
        "--provider",
        "P01",
        "--round",
        "r26",
        "--expected",
        "11",
    )
    audit = run("keyserver", "audit", "--db", str(tmp_path / "A.sqlite"))
    assert "token-registered" in audit
    usage = run("keyserver", "usage", "--db", str(tmp_path / "A.sqlite"))
    assert usage.splitlines() == [
        "round\tprovider\tused\tquota\tbatches\treplays",
        "r26\tP01\t0\t17\t0\t0",
    ]
    assert "quota-set\t17" in audit
    assert token not in audit
    plain = CliRunner().invoke(
        main,
        [
            "keyserver",
            "serve",
            "--share",
            str(tmp_path / "A.share"),
            "--db",
            str(tmp_path / "A.sqlite"),
            "--host",
            "0.0.0.0",
        ],
    )
    assert plain.exit_code == 4
    assert "in the clear" in plain.output


def test_service_logs_hold_no_token_share_or_element(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import base64
    import logging

    import httpx
    from keyservice_helpers import client_for, enrol

    from factlab.keys import oprf

    caplog.set_level(logging.DEBUG)
    share = load_share_made(tmp_path)
    service = start(share, tmp_path / "A.sqlite")
    try:
        enrol(service, "P01", "r26", 2)
        client = client_for("r26", [service], "P01")
        client.pseudonyms(["999993653", "999991723"])
        with pytest.raises(ServiceError):
            client.pseudonyms(["999995078"])
        # a client that does not check the quota first is refused by the service
        element = base64.b64encode(oprf.hash_to_group(b"x", mode=oprf.MODE_VOPRF)).decode()
        refused = httpx.post(
            f"{service.url}/v1/evaluate",
            headers={"Authorization": f"Bearer {service.tokens['P01']}"},
            json={"round": "r26", "batch": "batch-over-quota", "elements": [element]},
        )
        assert refused.status_code == 429
        service.tokens["P01"] = "wrong-token-" + "y" * 32
        with pytest.raises(ServiceError):
            client_for("r26", [service], "P01").pseudonyms(["999995078"])
    finally:
        stop(service)
    logged = caplog.text
    assert "evaluated 2 elements for P01" in logged
    assert "refused P01: quota" in logged
    for secret in (share._secret.hex(), "wrong-token", "999993653", "999995078"):
        assert secret not in logged


def load_share_made(folder: Path):  # type: ignore[no-untyped-def]
    from factlab.keys.shares import new_share, write_share

    write_share(new_share("r26", "A"), folder / "A.share")
    return load_share(folder / "A.share")


def test_preview_asks_no_service(tmp_path: Path) -> None:
    folder, running = setup_round(tmp_path, services=1)
    usage_before = usage(running[0], "P01")
    stop(running[0])  # the preview must not need it
    (tmp_path / "p01.csv").write_text("BSN;Gemeente\n999993653;Assen\n")
    result = CliRunner().invoke(
        main,
        [
            "pseudonymise",
            str(tmp_path / "p01.csv"),
            "--blind",
            str(folder / "P01.toml"),
            "--provider",
            "P01",
            "--preview",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "pseudonymise would write this file" in result.output
    assert "999993653" not in result.output
    reopened = Store(tmp_path / "A.sqlite")
    assert reopened.usage("P01", "r26") == usage_before
    reopened.close()
