"""The blind scheme's pinned vectors (docs/scheme.md, section 6) through the whole protocol."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factlab import schema
from factlab.errors import ConfigError, KeyFileError
from factlab.keys import oprf
from factlab.keys.blind import (
    BlindRound,
    blind_messages,
    combine,
    finalise_pseudonyms,
    new_blind_round_key,
    oprf_input,
)
from factlab.keys.round_keys import load_key, write_key
from factlab.keys.shares import KeyShare, load_share, new_share, write_share

K1, PK1 = (
    "a8982c6a08d3eafcbaaea4e8abeead0ff010ac9e4a6d896aa176c8e2644b7202",
    "8cf02c89c758e295de7c4261b7f98dde1b8ee17e4ff3be4a4fdad9db56985d5c",
)
K2, PK2 = (
    "09e7a60910479f8acf8fa4de8f78547e35f9ca6e9034f844adfb65d15e26240e",
    "9683e154f2cf2f7d39a4d06fc53dfb48522469b10af79ac9b2ab2c3251035740",
)
PK = "509a3548a9679c67900ce32712b476697d907641711567dadf65cc7f87343372"
VECTORS = {
    "999993653": "bf8b6be6ad74608b723c569fae951e49",
    "999991723": "21148658033f3e4079cf4da02c774b52",
    "999995078": "d0cc8560cc51b2b1ca6b63dad84eb7c0",
}
FALLBACK = ("birth_date=2010-02-01|sex=V|postcode=9401AB", "a6eec02d524a2320323590aea88096fd")


def vector_shares() -> tuple[KeyShare, KeyShare]:
    k1, _ = oprf.derive_key_pair(bytes(range(32)), b"factlab vector share A", mode=1)
    k2, _ = oprf.derive_key_pair(bytes(range(32, 64)), b"factlab vector share B", mode=1)
    created = "2026-01-01T00:00:00+00:00"
    return KeyShare("vector-2026", "A", created, _secret=k1), KeyShare(
        "vector-2026", "B", created, _secret=k2
    )


def test_vector_keys_and_identity() -> None:
    a, b = vector_shares()
    assert (a._secret.hex(), a.public_share.hex()) == (K1, PK1)
    assert (b._secret.hex(), b.public_share.hex()) == (K2, PK2)
    round_ = BlindRound("vector-2026", (a.public_share, b.public_share))
    assert round_.public_key.hex() == PK
    assert oprf.public_key(oprf.scalar_add(a._secret, b._secret)).hex() == PK
    assert (round_.key_id, round_.fingerprint) == ("a6a57bd426085faf", "9cef-8417-883f-3c88-db4b")


@pytest.mark.parametrize("identifier", ["bsn", "fallback"])
def test_vector_pseudonyms_through_the_protocol(identifier: str) -> None:
    a, b = vector_shares()
    round_ = BlindRound("vector-2026", (a.public_share, b.public_share))
    vectors = VECTORS if identifier == "bsn" else dict([FALLBACK])
    messages = list(vectors)
    blinds, blinded = blind_messages(round_, messages, identifier)
    combined = combine(round_, blinded, [a.evaluate(blinded), b.evaluate(blinded)])
    assert finalise_pseudonyms(round_, messages, identifier, blinds, combined) == list(
        vectors.values()
    )
    # one share alone (answers that verify under its own public share) gives other values
    alone = BlindRound("vector-2026", (a.public_share,))
    single = combine(alone, blinded, [a.evaluate(blinded)])
    assert not set(finalise_pseudonyms(alone, messages, identifier, blinds, single)) & set(
        vectors.values()
    )


def test_answers_of_a_service_under_another_share_are_refused() -> None:
    a, b = vector_shares()
    round_ = BlindRound("vector-2026", (a.public_share, b.public_share))
    _, blinded = blind_messages(round_, ["999993653"], "bsn")
    impostor = new_share("vector-2026", "B")
    with pytest.raises(oprf.OprfError, match="service 2's proof does not verify"):
        combine(round_, blinded, [a.evaluate(blinded), impostor.evaluate(blinded)])


@settings(max_examples=10, deadline=None)
@given(indexes=st.lists(st.integers(0, 9090), min_size=1, max_size=4, unique=True))
def test_blinding_is_fresh_and_output_deterministic(
    indexes: list[int], test_bsns: tuple[str, ...]
) -> None:
    a, b = vector_shares()
    round_ = BlindRound("vector-2026", (a.public_share, b.public_share))
    messages = [test_bsns[i] for i in indexes]  # proef-valid numbers of the test range
    runs = []
    for _ in range(2):
        blinds, blinded = blind_messages(round_, messages, "bsn")
        combined = combine(round_, blinded, [a.evaluate(blinded), b.evaluate(blinded)])
        runs.append((blinded, finalise_pseudonyms(round_, messages, "bsn", blinds, combined)))
    assert runs[0][1] == runs[1][1]  # the same pseudonyms
    assert not set(runs[0][0]) & set(runs[1][0])  # from unrelated blinded elements
    whole = oprf.scalar_add(a._secret, b._secret)
    assert runs[0][1] == [
        oprf.evaluate(whole, oprf_input("vector-2026", "bsn", m), mode=1)[:16].hex()
        for m in messages
    ]


def test_round_description_is_checked() -> None:
    share = new_share("r", "A")
    with pytest.raises(ConfigError, match="equal"):
        BlindRound("r", (share.public_share, share.public_share))
    with pytest.raises(ConfigError, match="not a ristretto255 element"):
        BlindRound("r", (b"\xff" * 32,))
    with pytest.raises(ConfigError, match="one key service"):
        BlindRound("r", ())


def test_share_files(tmp_path, fast_argon2) -> None:  # type: ignore[no-untyped-def]
    share = new_share("r", "A")
    write_share(share, tmp_path / "a.share", passphrase="correct horse battery")
    text = (tmp_path / "a.share").read_text()
    assert share._secret.hex() not in text
    assert "secret" not in repr(share)
    with pytest.raises(KeyFileError):
        load_share(tmp_path / "a.share", passphrase="wrong passphrase here")
    loaded = load_share(tmp_path / "a.share", passphrase="correct horse battery")
    assert loaded.public_share == share.public_share
    write_share(share, tmp_path / "b.share")
    edited = (
        (tmp_path / "b.share")
        .read_text()
        .replace(share.public_share.hex(), new_share("r", "B").public_share.hex())
    )
    (tmp_path / "b.share").write_text(edited)
    (tmp_path / "b.share").chmod(0o600)
    with pytest.raises(KeyFileError, match="altered"):
        load_share(tmp_path / "b.share")


def test_blind_round_key_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = vector_shares()
    key = new_blind_round_key(BlindRound("vector-2026", (a.public_share, b.public_share)))
    write_key(key, tmp_path / "round.key")
    loaded = load_key(tmp_path / "round.key")
    assert loaded.scheme == schema.BLIND_SCHEME
    assert (loaded.key_id, loaded.fingerprint) == ("a6a57bd426085faf", "9cef-8417-883f-3c88-db4b")
    assert not loaded.can_pseudonymise
    assert loaded.can_link
    with pytest.raises(KeyFileError, match="blind round"):
        loaded.pseudonym_key("bsn")
    # the fingerprint is bound to the secret by the check value
    text = (tmp_path / "round.key").read_text().replace("9cef-8417", "0000-8417")
    (tmp_path / "round.key").write_text(text)
    with pytest.raises(KeyFileError, match="altered"):
        load_key(tmp_path / "round.key")


@pytest.mark.parametrize(
    "bad",
    [
        b"\xff" * 32,  # not a field element
        (2**255 - 19 + 2).to_bytes(32, "little"),  # a non-canonical encoding of 2
        b"\x01" + bytes(31),  # a negative field element
        bytes(32),  # the identity
        b"\x00" * 31,  # too short
    ],
)
def test_an_answer_with_an_invalid_element_is_refused(bad: bytes) -> None:
    # the answers' encodings are checked by the proof's own decoding, once (test_blind_cost)
    a, b = vector_shares()
    round_ = BlindRound("vector-2026", (a.public_share, b.public_share))
    _, blinded = blind_messages(round_, ["999993653", "999991723"], "bsn")
    answer_b = b.evaluate(blinded)
    tampered = ([answer_b[0][0], bad], answer_b[1])
    with pytest.raises(oprf.OprfError):
        combine(round_, blinded, [a.evaluate(blinded), tampered])
