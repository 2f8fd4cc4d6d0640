"""factlab's RFC 9497 implementation against the RFC's own test vectors (ristretto255-SHA512).

The values below are copied from RFC 9497, appendix A.1.1 (OPRF mode) and A.1.2 (VOPRF mode).
They are data: every step (DeriveKeyPair, Blind, BlindEvaluate, GenerateProof with a fixed
nonce, VerifyProof, Finalize) must reproduce them byte for byte.
"""

from __future__ import annotations

import pytest

from factlab.keys import oprf

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")
INPUT_1 = bytes.fromhex("00")
INPUT_2 = bytes.fromhex("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a")
BLIND_1 = bytes.fromhex("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706")
BLIND_2 = bytes.fromhex("222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e")

# A.1.1, OPRF mode
OPRF_SKSM = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"
OPRF_VECTORS = [
    (
        INPUT_1,
        BLIND_1,
        "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
        "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
        "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
        "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    ),
    (
        INPUT_2,
        BLIND_1,
        "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
        "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
        "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
        "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    ),
]

# A.1.2, VOPRF mode
VOPRF_SKSM = "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909"
VOPRF_PKSM = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
PROOF_NONCE = "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e"
VOPRF_OUTPUT_1 = (
    "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d"
    "a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"
)
VOPRF_OUTPUT_2 = (
    "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60"
    "356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6"
)
VOPRF_VECTORS = [
    (
        [INPUT_1],
        [BLIND_1],
        ["863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"],
        ["aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"],
        "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd06"
        "6d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
        PROOF_NONCE,
        [VOPRF_OUTPUT_1],
    ),
    (
        [INPUT_2],
        [BLIND_1],
        ["cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"],
        ["60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"],
        "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a"
        "67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
        PROOF_NONCE,
        [VOPRF_OUTPUT_2],
    ),
    (
        [INPUT_1, INPUT_2],
        [BLIND_1, BLIND_2],
        [
            "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
            "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
        ],
        [
            "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
            "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
        ],
        "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a"
        "5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
        "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c",
        [VOPRF_OUTPUT_1, VOPRF_OUTPUT_2],
    ),
]


def test_expand_message_xmd_rfc9380_vectors() -> None:
    # RFC 9380, appendix K.3 (expand_message_xmd, SHA-512)
    dst = b"QUUX-V01-CS02-with-expander-SHA512-256"
    empty_32 = "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"
    abc_32 = "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"
    abc_128 = (
        "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11"
        "bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb134"
        "7ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b48843"
        "1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1"
    )
    assert oprf.expand_message_xmd(b"", dst, 32).hex() == empty_32
    assert oprf.expand_message_xmd(b"abc", dst, 32).hex() == abc_32
    assert oprf.expand_message_xmd(b"abc", dst, 128).hex() == abc_128


def test_derive_key_pair_oprf_mode() -> None:
    secret, _ = oprf.derive_key_pair(SEED, KEY_INFO, mode=oprf.MODE_OPRF)
    assert secret.hex() == OPRF_SKSM


def test_derive_key_pair_voprf_mode() -> None:
    secret, public = oprf.derive_key_pair(SEED, KEY_INFO, mode=oprf.MODE_VOPRF)
    assert (secret.hex(), public.hex()) == (VOPRF_SKSM, VOPRF_PKSM)


@pytest.mark.parametrize(("message", "blind", "blinded", "evaluated", "output"), OPRF_VECTORS)
def test_oprf_mode_vectors(
    message: bytes, blind: bytes, blinded: str, evaluated: str, output: str
) -> None:
    secret = bytes.fromhex(OPRF_SKSM)
    got_blind, got_blinded = oprf.blind_input(message, mode=oprf.MODE_OPRF, blind=blind)
    assert got_blinded.hex() == blinded
    got_evaluated = oprf.blind_evaluate(secret, got_blinded)
    assert got_evaluated.hex() == evaluated
    assert oprf.finalize(message, got_blind, got_evaluated).hex() == output
    assert oprf.evaluate(secret, message, mode=oprf.MODE_OPRF).hex() == output


@pytest.mark.parametrize(
    ("messages", "blinds", "blinded", "evaluated", "proof", "nonce", "outputs"), VOPRF_VECTORS
)
def test_voprf_mode_vectors(
    messages: list[bytes],
    blinds: list[bytes],
    blinded: list[str],
    evaluated: list[str],
    proof: str,
    nonce: str,
    outputs: list[str],
) -> None:
    secret, public = bytes.fromhex(VOPRF_SKSM), bytes.fromhex(VOPRF_PKSM)
    got_blinded = [
        oprf.blind_input(m, mode=oprf.MODE_VOPRF, blind=b)[1]
        for m, b in zip(messages, blinds, strict=True)
    ]
    assert [b.hex() for b in got_blinded] == blinded
    got_evaluated, got_proof = oprf.blind_evaluate_batch(
        secret, public, got_blinded, nonce=bytes.fromhex(nonce)
    )
    assert [e.hex() for e in got_evaluated] == evaluated
    assert got_proof.hex() == proof
    assert oprf.verify_proof(public, got_blinded, got_evaluated, got_proof, mode=oprf.MODE_VOPRF)
    finals = [
        oprf.finalize(m, b, e).hex()
        for m, b, e in zip(messages, blinds, got_evaluated, strict=True)
    ]
    assert finals == outputs


def test_a_changed_proof_or_element_fails() -> None:
    secret, public = bytes.fromhex(VOPRF_SKSM), bytes.fromhex(VOPRF_PKSM)
    blinded = [oprf.blind_input(m, mode=oprf.MODE_VOPRF)[1] for m in (INPUT_1, INPUT_2)]
    evaluated, proof = oprf.blind_evaluate_batch(secret, public, blinded)
    assert oprf.verify_proof(public, blinded, evaluated, proof)
    flipped = bytes([proof[0] ^ 1]) + proof[1:]
    assert not oprf.verify_proof(public, blinded, evaluated, flipped)
    swapped = [evaluated[1], evaluated[0]]
    assert not oprf.verify_proof(public, blinded, swapped, proof)
    other_secret, other_public = oprf.derive_key_pair(bytes(32), b"x", mode=oprf.MODE_VOPRF)
    wrong = [oprf.blind_evaluate(other_secret, b) for b in blinded]
    assert not oprf.verify_proof(public, blinded, wrong, proof)
    assert not oprf.verify_proof(other_public, blinded, evaluated, proof)


def test_invalid_elements_are_refused() -> None:
    with pytest.raises(oprf.OprfError):
        oprf.deserialize_element(bytes(32))  # the identity
    with pytest.raises(oprf.OprfError):
        oprf.deserialize_element(b"\xff" * 32)  # not canonical
    with pytest.raises(oprf.OprfError):
        oprf.deserialize_element(b"\x01" * 31)
