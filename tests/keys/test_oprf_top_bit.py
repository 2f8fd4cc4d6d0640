"""Encodings with the top bit set (RFC 9496, section 4.3.1: decoding must fail).

The libsodium bundled in rbcl ignores bit 255 when it decodes a ristretto255 element, so
``valid[:31] + (valid[31] | 0x80)`` decodes as ``valid`` and ``bytes(31) + b"\\x80"`` as the
identity. factlab refuses such encodings itself, before libsodium sees them.
"""

from __future__ import annotations

import pytest
import rbcl  # type: ignore[import-untyped]

from factlab.errors import ConfigError
from factlab.keys import oprf
from factlab.keys.blind import BlindRound, blind_messages, combine
from factlab.keys.shares import new_share

IDENTITY_ALIAS = bytes(31) + b"\x80"
MESSAGES = ["999993653", "999991723"]


def _top_bit(element: bytes) -> bytes:
    return element[:31] + bytes([element[31] | 0x80])


def test_libsodium_alone_would_accept_the_top_bit() -> None:
    """Why the check is factlab's: if this starts failing, libsodium refuses it itself."""
    valid = new_share("r", "A").public_share
    assert rbcl.crypto_core_ristretto255_is_valid_point(_top_bit(valid))


def test_the_identity_alias_is_refused_by_deserialize_element() -> None:
    with pytest.raises(oprf.OprfError, match="not a valid ristretto255 element"):
        oprf.deserialize_element(IDENTITY_ALIAS)


def test_a_top_bit_alias_of_a_valid_element_is_refused_by_both_checks() -> None:
    valid = new_share("r", "A").public_share
    assert oprf.deserialize_element(valid) == valid
    for check in (oprf.deserialize_element, lambda e: oprf.encodings_to_verify([valid, e])):
        for alias in (_top_bit(valid), IDENTITY_ALIAS):
            with pytest.raises(oprf.OprfError, match="not a valid ristretto255 element"):
                check(alias)


def test_a_public_share_that_is_the_identity_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"services\[1\].public_share"):
        BlindRound("r", (new_share("r", "A").public_share, IDENTITY_ALIAS))


def test_a_top_bit_answer_is_refused_even_with_a_valid_proof() -> None:
    """A service re-encodes an answer and makes its proof over the altered bytes: refused, and
    the error names the service."""
    a, b = new_share("r", "A"), new_share("r", "B")
    round_ = BlindRound("r", (a.public_share, b.public_share))
    _, blinded = blind_messages(round_, MESSAGES, "bsn")
    evaluated, _ = b.evaluate(blinded)
    evaluated[1] = _top_bit(evaluated[1])
    proof = oprf.generate_proof(b._secret, b.public_share, blinded, evaluated)
    with pytest.raises(oprf.OprfError, match="key service 2 sent an invalid element"):
        combine(round_, blinded, [a.evaluate(blinded), (evaluated, proof)])


def test_an_identity_answer_names_the_service() -> None:
    a, b = new_share("r", "A"), new_share("r", "B")
    round_ = BlindRound("r", (a.public_share, b.public_share))
    _, blinded = blind_messages(round_, MESSAGES, "bsn")
    evaluated, proof = a.evaluate(blinded)
    with pytest.raises(oprf.OprfError, match="key service 1 sent an invalid element"):
        combine(round_, blinded, [([bytes(32), evaluated[1]], proof), b.evaluate(blinded)])


def test_a_refused_multiplication_does_not_claim_the_identity_for_a_bad_encoding() -> None:
    """An invalid encoding that reaches a multiplication (a misuse of ``checked=True``) is not
    told as 'gave the identity'."""
    share = new_share("r", "A")
    not_on_the_curve = bytes([1]) + bytes(31)  # s = 1 is not a valid encoding
    assert not rbcl.crypto_core_ristretto255_is_valid_point(not_on_the_curve)
    with pytest.raises(
        oprf.OprfError, match="not a valid ristretto255 element, or the product is the identity"
    ):
        share.evaluate([not_on_the_curve], checked=True)
