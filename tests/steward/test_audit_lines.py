"""The audit details of the steward's steps, one helper for the commands and the app (review
17/20, defect 6: the app copied the command's lines and left out the custody of a blind round)."""

from __future__ import annotations

from pathlib import Path

from factlab.audit import audited, read_audit_log
from factlab.keys.blind import BlindRound
from factlab.keys.round_keys import new_round_key
from factlab.keys.shares import new_share
from factlab.steward.audit_lines import key_details
from factlab.steward.blind import BlindService, ServiceEndpoint
from factlab.steward.contract import Contract


def blind_service(services: int) -> BlindService:
    shares = [new_share("r2026", name) for name in "AB"[:services]]
    endpoints = tuple(
        ServiceEndpoint(share.service, "http://127.0.0.1:9", share.public_share, None, "token")
        for share in shares
    )
    return BlindService(BlindRound("r2026", tuple(s.public_share for s in shares)), endpoints)


def logged_details(key: object, contract: Contract | None, log: Path) -> dict[str, object]:
    with audited("pseudonymise", arguments={"preview": True}, log=log) as trail:
        key_details(trail, key, contract)  # type: ignore[arg-type]
    line = read_audit_log(log)[-1]
    assert line["key_fingerprint"] == key.fingerprint  # type: ignore[attr-defined]
    return dict(line["details"])


def test_a_blind_round_records_its_custody_and_the_contract(tmp_path: Path) -> None:
    contract = Contract(required=("bsn",))
    log = tmp_path / "audit.jsonl"
    assert logged_details(blind_service(2), contract, log) == {
        "custody": "split",
        "contract_sha256": contract.sha256,
    }
    assert logged_details(blind_service(1), None, log) == {"custody": "single"}


def test_a_provider_key_records_no_custody(tmp_path: Path) -> None:
    key = new_round_key("r2026").provider_key()
    assert logged_details(key, None, tmp_path / "audit.jsonl") == {}
