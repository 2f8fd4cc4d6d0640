"""Pinned test vectors: docs/scheme.md's tables recomputed with the standard library only.

The tables are parsed from the document itself, so the doc and this test cannot drift apart. The
recomputation below uses nothing but ``hmac`` and ``hashlib`` (with an HKDF written here from
RFC 5869); factlab's own key derivation and pseudonymiser are then checked against the same values.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import re
from pathlib import Path

import polars as pl
import pytest

from factlab import schema
from factlab.keys.pseudonym import second_stage
from factlab.keys.round_keys import Key, load_key, write_key
from factlab.steward.pseudonymise import pseudonymise

SCHEME_DOC = Path(__file__).resolve().parents[2] / "docs" / "scheme.md"
_HEX = re.compile(r"^[0-9a-f]+$")


# --- an independent implementation, from the RFC and the document's prose only --------------


def rfc5869_hkdf(ikm: bytes, info: bytes, length: int = 32, salt: bytes = b"") -> bytes:
    """HKDF-SHA-256 (RFC 5869): extract, then expand; an empty salt means HashLen zero bytes."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, previous, counter = b"", b"", 1
    while len(okm) < length:
        previous = hmac.new(prk, previous + info + bytes([counter]), hashlib.sha256).digest()
        okm += previous
        counter += 1
    return okm[:length]


def label(round_name: str, purpose: str, identifier: str | None = None) -> bytes:
    text = f"factlab|factlab-hmac-sha256-v1|round={round_name}|purpose={purpose}"
    if identifier is not None:
        text += f"|id={identifier}"
    return text.encode("utf-8")


def stdlib_values(secret: bytes, round_name: str) -> dict[str, str]:
    stage1 = rfc5869_hkdf(secret, label(round_name, "stage1-key"))
    stage2 = rfc5869_hkdf(secret, label(round_name, "stage2-key"))
    fingerprint = rfc5869_hkdf(stage1, label(round_name, "fingerprint"), length=10).hex()
    return {
        "P": stage1.hex(),
        "K_bsn": rfc5869_hkdf(stage1, label(round_name, "pseudonym", "bsn")).hex(),
        "K_fb": rfc5869_hkdf(stage1, label(round_name, "pseudonym", "fallback")).hex(),
        "S": stage2.hex(),
        "K_2": rfc5869_hkdf(stage2, label(round_name, "stage2", "bsn")).hex(),
        "K_2fb": rfc5869_hkdf(stage2, label(round_name, "stage2", "fallback")).hex(),
        "fingerprint": "-".join(fingerprint[i : i + 4] for i in range(0, 20, 4)),
    }


def stdlib_pseudonym(hex_key: str, message: str) -> str:
    digest = hmac.new(hex_key.encode("ascii"), message.encode("ascii"), hashlib.sha256)
    return digest.hexdigest()[:32]


# --- the document --------------------------------------------------------------------------------


def _table_rows(text: str, first_header: str) -> list[list[str]]:
    """Cells of the Markdown table whose header row starts with ``| first_header |``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows: list[list[str]] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _code(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def _name(cell: str) -> str:
    """``P`` from ```P` (stage-1 key)``; a cell without code is its own name."""
    codes = _code(cell)
    return codes[0] if codes else cell


DOC = SCHEME_DOC.read_text(encoding="utf-8")
KEY_ROWS = _table_rows(DOC, "quantity")
BSN_ROWS = _table_rows(DOC, "BSN (any written form)")
DOC_KEYS = {_name(name): _code(value)[0] for name, value in KEY_ROWS}
DOC_BSNS = [(_code(forms), _code(s1)[0], _code(s2)[0]) for forms, s1, s2 in BSN_ROWS]
VECTOR_ROUND = re.search(r"round name `([^`]+)`", DOC).group(1)  # type: ignore[union-attr]
VECTOR_SECRET_TEXT = re.search(r"Round secret `R` = bytes `([^`]+)`", DOC).group(1)  # type: ignore[union-attr]


def test_rfc5869_hkdf_matches_the_rfc_test_cases() -> None:
    ikm = bytes([0x0B] * 22)
    case_1 = rfc5869_hkdf(ikm, bytes(range(0xF0, 0xFA)), 42, salt=bytes(range(13)))
    assert case_1.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    case_3 = rfc5869_hkdf(ikm, b"", 42)  # empty salt and info
    assert case_3.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_the_document_holds_every_table_value() -> None:
    assert set(DOC_KEYS) == {"P", "K_bsn", "K_fb", "S", "K_2", "K_2fb", "fingerprint"}
    for name, value in DOC_KEYS.items():
        if name == "fingerprint":
            assert re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){4}", value)
        else:
            assert len(value) == 64, name
            assert _HEX.match(value), name
    assert len(DOC_BSNS) == 3
    for forms, stage1, stage2 in DOC_BSNS:
        assert forms, "every vector row names at least one written form"
        assert len(stage1) == len(stage2) == 32
        assert _HEX.match(stage1)
        assert _HEX.match(stage2)
    assert f"(`{schema.SCHEME}`)" in DOC.splitlines()[0]
    assert VECTOR_ROUND == "vector-2026"
    assert VECTOR_SECRET_TEXT.startswith("00 01 02")
    assert VECTOR_SECRET_TEXT.endswith("1f")


def test_stdlib_recomputes_every_key_table_value() -> None:
    assert stdlib_values(bytes(range(32)), VECTOR_ROUND) == DOC_KEYS


@pytest.mark.parametrize(("forms", "stage1", "stage2"), DOC_BSNS)
def test_stdlib_recomputes_every_pseudonym(forms: list[str], stage1: str, stage2: str) -> None:
    for form in forms:
        canonical = re.sub(r"[\s.\-]", "", form)
        assert len(canonical) == 9
        assert stdlib_pseudonym(DOC_KEYS["K_bsn"], canonical) == stage1
    assert stdlib_pseudonym(DOC_KEYS["K_2"], stage1) == stage2


def test_factlab_key_derives_the_documented_keys(vector_key: Key) -> None:
    assert vector_key.scheme == schema.SCHEME
    assert vector_key.provider_key()._secret.hex() == DOC_KEYS["P"]
    assert vector_key.pseudonym_key("bsn").hex() == DOC_KEYS["K_bsn"]
    assert vector_key.pseudonym_key("fallback").hex() == DOC_KEYS["K_fb"]
    assert vector_key.link_key()._secret.hex() == DOC_KEYS["S"]
    assert vector_key.stage2_key("bsn").hex() == DOC_KEYS["K_2"]
    assert vector_key.stage2_key("fallback").hex() == DOC_KEYS["K_2fb"]
    assert vector_key.fingerprint == DOC_KEYS["fingerprint"]
    # the provider and link keys a steward and the linking party receive agree as documented
    assert vector_key.provider_key().pseudonym_key("bsn").hex() == DOC_KEYS["K_bsn"]
    assert vector_key.provider_key().fingerprint == DOC_KEYS["fingerprint"]
    assert vector_key.link_key().stage2_key("fallback").hex() == DOC_KEYS["K_2fb"]
    assert vector_key.link_key().fingerprint == DOC_KEYS["fingerprint"]


def test_factlab_pseudonymiser_gives_the_documented_pseudonyms(vector_key: Key) -> None:
    forms = [form for row_forms, _, _ in DOC_BSNS for form in row_forms]
    expected = [(s1, s2) for row_forms, s1, s2 in DOC_BSNS for _ in row_forms]
    first = pseudonymise(pl.DataFrame({"bsn": forms}), vector_key, provider="V01")
    second = second_stage(first.lazy(), vector_key).collect()
    assert first["bsn_status"].to_list() == ["valid"] * len(forms)
    assert first["pseudonym"].to_list() == [s1 for s1, _ in expected]
    assert second["pseudonym"].to_list() == [s2 for _, s2 in expected]


def test_key_files_reproduce_the_vectors(vector_key: Key, tmp_path: Path) -> None:
    write_key(vector_key.provider_key(), tmp_path / "provider.key")
    write_key(vector_key.link_key(), tmp_path / "link.key")
    provider, link = load_key(tmp_path / "provider.key"), load_key(tmp_path / "link.key")
    bsns = pl.DataFrame({"bsn": [forms[0] for forms, _, _ in DOC_BSNS]})
    first = pseudonymise(bsns, provider, provider="V01")
    second = second_stage(first.lazy(), link).collect()
    assert first["pseudonym"].to_list() == [s1 for _, s1, _ in DOC_BSNS]
    assert second["pseudonym"].to_list() == [s2 for _, _, s2 in DOC_BSNS]
    assert provider.fingerprint == link.fingerprint == DOC_KEYS["fingerprint"]


def test_the_documents_check_by_hand_prints_the_first_vector() -> None:
    block = re.search(r"Check by hand \(Python\):\s*```python\n(.*?)```", DOC, re.DOTALL)
    assert block is not None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(block.group(1), {})
    assert printed.getvalue().strip() == DOC_BSNS[0][1]
