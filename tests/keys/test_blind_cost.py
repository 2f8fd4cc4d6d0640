"""The blind path does the protocol's minimum of group operations, and no more.

Per distinct BSN, with libsodium (no multi-scalar multiplication): the steward's client does one
scalar multiplication to blind, two per service to verify its proof (the composites ``Σ dᵢ·Cᵢ``
and ``Σ dᵢ·Dᵢ``, which the verifier must compute itself) and one to unblind; each service one to
evaluate and one for its proof's ``Σ dᵢ·Cᵢ`` (``Z = k·M``). Additions cost a third of a
multiplication in libsodium (they decode and re-encode), so they are counted too. A change that
computes something twice fails here (benchmarks/README.md, "Blind pseudonymisation").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import rbcl  # type: ignore[import-untyped]

from factlab.keys.blind import BlindRound, blind_messages, combine, finalise_pseudonyms
from factlab.keys.shares import new_share

COUNTED = (
    "crypto_scalarmult_ristretto255",
    "crypto_scalarmult_ristretto255_base",
    "crypto_scalarmult_ristretto255_base_allow_scalar_zero",
    "crypto_core_ristretto255_add",
    "crypto_core_ristretto255_is_valid_point",
)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counted: Counter[str] = Counter()
    for name in COUNTED:
        original = getattr(rbcl, name)

        def wrapper(
            *args: object, _name: str = name, _original: Callable[..., bytes] = original
        ) -> bytes:
            counted[_name] += 1
            return _original(*args)

        monkeypatch.setattr(rbcl, name, wrapper)
    return counted


@pytest.mark.parametrize("count", [1, 7, 40])
def test_group_operations_per_bsn_are_the_minimum(
    calls: Counter[str], count: int, test_bsns: tuple[str, ...]
) -> None:
    shares = [new_share("cost", name) for name in "AB"]
    round_ = BlindRound("cost", tuple(share.public_share for share in shares))
    messages = list(test_bsns[:count])

    calls.clear()
    blinds, blinded = blind_messages(round_, messages, "bsn")
    assert calls == Counter({"crypto_scalarmult_ristretto255": count})

    calls.clear()
    answer = shares[0].evaluate(blinded)
    # evaluate n, Σ dᵢ·Cᵢ n, Z = k·M and t3 = r·M; t2 = r·G with the fixed-base table
    assert calls["crypto_scalarmult_ristretto255"] == 2 * count + 2
    assert calls["crypto_scalarmult_ristretto255_base"] == 1
    assert calls["crypto_core_ristretto255_add"] == count - 1
    # checked once here; a key service passes checked=True (it checks only the bytes before the
    # charge and lets the multiplication's decoding refuse an invalid element)
    assert calls["crypto_core_ristretto255_is_valid_point"] == count
    calls.clear()
    shares[0].evaluate(blinded, checked=True)
    assert calls["crypto_core_ristretto255_is_valid_point"] == 0
    answers = [answer, shares[1].evaluate(blinded)]

    calls.clear()
    combined = combine(round_, blinded, answers)
    finalise_pseudonyms(round_, messages, "bsn", blinds, combined)
    # per service: Σ dᵢ·Cᵢ and Σ dᵢ·Dᵢ (n each), c·pk, s·M, c·Z; then unblinding n
    assert calls["crypto_scalarmult_ristretto255"] == 2 * (2 * count + 3) + count
    assert calls["crypto_scalarmult_ristretto255_base_allow_scalar_zero"] == 2  # s·G
    # per service 2(n - 1) in the sums, one for t2 and one for t3; adding the answers n
    assert calls["crypto_core_ristretto255_add"] == 2 * 2 * count + count
    # the answers' encodings are decoded (and checked) by the multiplications of the proof's
    # composite sum, not once more beforehand
    assert calls["crypto_core_ristretto255_is_valid_point"] == 0
