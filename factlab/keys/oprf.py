"""RFC 9497 (V)OPRF with the ciphersuite ristretto255-SHA512, on libsodium's group operations.

The group arithmetic (scalar multiplication, point addition, the ristretto255 map from 64
uniform bytes, scalar reduction and inversion) is libsodium's, through the ``rbcl`` binding;
nothing here does curve arithmetic. What is written here is the protocol of RFC 9497 around
those operations, step by step as the RFC names them: ``expand_message_xmd`` with SHA-512
(RFC 9380, section 5.3.1), ``HashToGroup`` and ``HashToScalar``, ``DeriveKeyPair``, ``Blind``,
``BlindEvaluate``, ``Finalize`` and the batched DLEQ proof (``GenerateProof`` /
``VerifyProof`` with ``ComputeComposites``). ``tests/keys/test_oprf_vectors.py`` checks every
step against the RFC's test vectors for the OPRF and VOPRF modes (appendix A.1.1, A.1.2).

Elements and scalars travel as their 32-byte encodings (scalars little-endian, reduced). Any
element received from another party goes through :func:`deserialize_element` (or, when it goes
straight into a proof, :func:`encodings_to_verify`), which refuses non-canonical encodings and
the identity (RFC 9497, section 4.1.1 and 7.2). libsodium refuses most non-canonical encodings
itself, but the one bundled in rbcl ignores the top bit (bit 255) of an encoding, which RFC 9496
(section 4.3.1) says must make the decoding fail: a set top bit is refused here, before
libsodium sees the bytes.

Example:
    >>> sk, pk = derive_key_pair(b"\\xa3" * 32, b"test key", mode=MODE_VOPRF)
    >>> blind, blinded = blind_input(b"999993653", mode=MODE_VOPRF)
    >>> evaluated, proof = blind_evaluate_batch(sk, pk, [blinded])
    >>> verify_proof(pk, [blinded], evaluated, proof, mode=MODE_VOPRF)
    True
    >>> out = finalize(b"999993653", blind, evaluated[0])
    >>> out == evaluate(sk, b"999993653", mode=MODE_VOPRF)
    True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

import rbcl  # type: ignore[import-untyped]

from factlab.errors import KeyFileError

__all__ = [
    "ELEMENT_BYTES",
    "MODE_OPRF",
    "MODE_VOPRF",
    "PROOF_BYTES",
    "SCALAR_BYTES",
    "OprfError",
    "add_elements",
    "blind_evaluate",
    "blind_evaluate_batch",
    "blind_input",
    "context_string",
    "derive_key_pair",
    "deserialize_element",
    "encodings_to_verify",
    "evaluate",
    "expand_message_xmd",
    "finalize",
    "finalize_inverted",
    "generate_proof",
    "hash_to_group",
    "hash_to_scalar",
    "invert_scalars",
    "public_key",
    "random_scalar",
    "scalar_add",
    "verify_proof",
]

MODE_OPRF: Final = 0x00
MODE_VOPRF: Final = 0x01
#: The ciphersuite's identifier (RFC 9497, section 4.1).
SUITE: Final = b"ristretto255-SHA512"
ELEMENT_BYTES: Final = 32
SCALAR_BYTES: Final = 32
PROOF_BYTES: Final = 2 * SCALAR_BYTES
#: SHA-512: 64-byte output, 128-byte input block (RFC 9380's b_in_bytes and s_in_bytes).
_HASH_BYTES: Final = 64
_BLOCK_BYTES: Final = 128
_IDENTITY: Final = bytes(ELEMENT_BYTES)


class OprfError(KeyFileError):
    """A step of the protocol failed: an invalid element, a proof that does not verify.

    A :class:`~factlab.errors.KeyFileError`: it says the key material (a service's answer, a
    public key) is not what it claims to be.
    """


def context_string(mode: int) -> bytes:
    """``"OPRFV1-" || I2OSP(mode, 1) || "-" || identifier`` (RFC 9497, section 3.1)."""
    return b"OPRFV1-" + bytes([mode]) + b"-" + SUITE


def _i2osp2(value: int) -> bytes:
    return value.to_bytes(2, "big")


def expand_message_xmd(message: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380's ``expand_message_xmd`` with SHA-512.

    Example:
        >>> len(expand_message_xmd(b"abc", b"QUUX-V01-CS02-with-expander-SHA512-256", 32))
        32
    """
    if len(dst) > 255:
        raise ValueError("expand_message_xmd: DST longer than 255 bytes")
    blocks = -(-length // _HASH_BYTES)
    if blocks > 255 or length > 65535:
        raise ValueError("expand_message_xmd: requested length too large")
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha512(
        bytes(_BLOCK_BYTES) + message + _i2osp2(length) + b"\x00" + dst_prime
    ).digest()
    previous = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    uniform = [previous]
    for index in range(2, blocks + 1):
        mixed = bytes(a ^ b for a, b in zip(b0, previous, strict=True))
        previous = hashlib.sha512(mixed + bytes([index]) + dst_prime).digest()
        uniform.append(previous)
    return b"".join(uniform)[:length]


def hash_to_group(message: bytes, *, mode: int) -> bytes:
    """``HashToGroup``: hash_to_ristretto255 (RFC 9380) with DST ``"HashToGroup-" || ctx``."""
    uniform = expand_message_xmd(message, b"HashToGroup-" + context_string(mode), 64)
    return bytes(rbcl.crypto_core_ristretto255_from_hash(uniform))


def hash_to_scalar(message: bytes, *, mode: int, dst: bytes | None = None) -> bytes:
    """``HashToScalar``: 64 uniform bytes, little-endian, reduced modulo the group order.

    The default DST is ``"HashToScalar-" || contextString``.
    """
    dst = b"HashToScalar-" + context_string(mode) if dst is None else dst
    uniform = expand_message_xmd(message, dst, 64)
    return bytes(rbcl.crypto_core_ristretto255_scalar_reduce(uniform))


def random_scalar() -> bytes:
    """A uniformly random non-zero scalar (libsodium's CSPRNG)."""
    while True:
        scalar = bytes(rbcl.crypto_core_ristretto255_scalar_random())
        if scalar != bytes(SCALAR_BYTES):
            return scalar


def scalar_add(a: bytes, b: bytes) -> bytes:
    """``a + b`` modulo the group order."""
    return bytes(rbcl.crypto_core_ristretto255_scalar_add(a, b))


def public_key(secret: bytes) -> bytes:
    """``ScalarMultGen(secret)``, the public key of a secret scalar."""
    if len(secret) != SCALAR_BYTES or secret == bytes(SCALAR_BYTES):
        raise OprfError("a secret scalar must be 32 bytes and not zero")
    return bytes(rbcl.crypto_scalarmult_ristretto255_base(secret))


def derive_key_pair(seed: bytes, info: bytes, *, mode: int) -> tuple[bytes, bytes]:
    """``DeriveKeyPair`` (RFC 9497, section 3.2.1): a key pair from a 32-byte seed and info."""
    if len(seed) != 32:
        raise ValueError("derive_key_pair: the seed must be 32 bytes")
    derive_input = seed + _i2osp2(len(info)) + info
    dst = b"DeriveKeyPair" + context_string(mode)
    for counter in range(256):
        secret = hash_to_scalar(derive_input + bytes([counter]), mode=mode, dst=dst)
        if secret != bytes(SCALAR_BYTES):
            return secret, public_key(secret)
    raise OprfError("derive_key_pair: no valid key from this seed")  # pragma: no cover


def deserialize_element(data: bytes) -> bytes:
    """``DeserializeElement``: a canonical ristretto255 encoding that is not the identity.

    libsodium's decoding refuses an encoding of ``s >= p``, a negative ``s`` and a non-square,
    but ignores the top bit: ``bytes(31) + b"\\x80"`` would decode as the identity, and any
    element's encoding with the top bit set as that element. RFC 9496 (section 4.3.1) says such
    an encoding must fail, so the top bit is checked first.

    Raises:
        OprfError: the bytes are no valid element, or the identity.

    Example:
        >>> deserialize_element(bytes(31) + b"\\x80")
        Traceback (most recent call last):
        ...
        factlab.keys.oprf.OprfError: not a valid ristretto255 element
    """
    if (
        not isinstance(data, bytes)
        or len(data) != ELEMENT_BYTES
        or data[31] & 0x80  # RFC 9496 4.3.1: must fail; libsodium would mask the bit away
        or data == _IDENTITY
        or not rbcl.crypto_core_ristretto255_is_valid_point(data)
    ):
        raise OprfError("not a valid ristretto255 element")
    return data


def encodings_to_verify(data: Sequence[object]) -> list[bytes]:
    """Received elements that go straight into :func:`verify_proof`: 32 bytes, the top bit
    clear, not the identity.

    The rest of ``DeserializeElement`` (the decoding's refusal of ``s >= p``, a negative ``s``
    and a non-square) is done by libsodium inside :func:`verify_proof`: its composite sum
    multiplies every element, and libsodium's multiplication decodes the element and refuses an
    invalid one, which makes the proof fail. libsodium ignores the top bit, though, so that is
    refused here (as in :func:`deserialize_element`): otherwise a service could send another
    encoding of a correct answer, or of the identity. Decoding the elements here as well would
    decode every element twice (about a tenth of a steward's work a BSN); use
    :func:`deserialize_element` for elements used any other way.

    Raises:
        OprfError: an item is not 32 bytes, has the top bit set, or is the identity.

    Example:
        >>> encodings_to_verify([bytes(32)])
        Traceback (most recent call last):
        ...
        factlab.keys.oprf.OprfError: not a valid ristretto255 element
    """
    out: list[bytes] = []
    for item in data:
        if (
            not isinstance(item, bytes)
            or len(item) != ELEMENT_BYTES
            or item[31] & 0x80  # libsodium ignores this bit: see deserialize_element
            or item == _IDENTITY
        ):
            raise OprfError("not a valid ristretto255 element")
        out.append(item)
    return out


def _mult(scalar: bytes, element: bytes) -> bytes:
    try:
        return bytes(rbcl.crypto_scalarmult_ristretto255(scalar, element))
    except RuntimeError:  # an invalid encoding, or the product is the identity (a zero scalar)
        raise OprfError(
            "a scalar multiplication refused its input: not a valid ristretto255 element, or "
            "the product is the identity"
        ) from None


def add_elements(a: bytes, b: bytes) -> bytes:
    """``a + b`` in the group."""
    return bytes(rbcl.crypto_core_ristretto255_add(a, b))


def blind_input(message: bytes, *, mode: int, blind: bytes | None = None) -> tuple[bytes, bytes]:
    """``Blind``: (blind, blindedElement) for ``message``; ``blind`` only for test vectors."""
    element = hash_to_group(message, mode=mode)
    if element == _IDENTITY:  # pragma: no cover - probability 2^-252
        raise OprfError("the input hashes to the identity")
    blind = random_scalar() if blind is None else blind
    return blind, _mult(blind, element)


def blind_evaluate(secret: bytes, blinded: bytes) -> bytes:
    """``BlindEvaluate`` of the OPRF mode: ``secret * blindedElement``."""
    return _mult(secret, deserialize_element(blinded))


def _composite_seed(public: bytes, mode: int) -> bytes:
    seed_dst = b"Seed-" + context_string(mode)
    return hashlib.sha512(
        _i2osp2(len(public)) + public + _i2osp2(len(seed_dst)) + seed_dst
    ).digest()


def _composite_scalars(
    public: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], mode: int
) -> list[bytes]:
    seed = _composite_seed(public, mode)
    prefix = _i2osp2(len(seed)) + seed
    return [
        hash_to_scalar(
            prefix
            + _i2osp2(index)
            + _i2osp2(ELEMENT_BYTES)
            + c
            + _i2osp2(ELEMENT_BYTES)
            + d
            + b"Composite",
            mode=mode,
        )
        for index, (c, d) in enumerate(zip(blinded, evaluated, strict=True))
    ]


def _weighted_sum(weights: Sequence[bytes], elements: Sequence[bytes]) -> bytes:
    """``Σ weights[i]·elements[i]``: one multiplication and one addition a term.

    libsodium has no multi-scalar multiplication; each addition decodes both points and encodes
    the sum (about a third of a multiplication's time), which is why the loop binds the two
    functions locally: the Python around them is the only part left to trim.
    """
    mult = rbcl.crypto_scalarmult_ristretto255
    add = rbcl.crypto_core_ristretto255_add
    try:
        total = mult(weights[0], elements[0])
        for index in range(1, len(elements)):
            total = add(total, mult(weights[index], elements[index]))
    except RuntimeError:  # an invalid encoding, or a zero weight gave the identity
        raise OprfError(
            "a scalar multiplication refused its input: not a valid ristretto255 element, or "
            "the product is the identity"
        ) from None
    return bytes(total)


def _challenge(public: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes, mode: int) -> bytes:
    transcript = b"".join(_i2osp2(len(part)) + part for part in (public, m, z, t2, t3))
    return hash_to_scalar(transcript + b"Challenge", mode=mode)


def generate_proof(
    secret: bytes,
    public: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    *,
    mode: int = MODE_VOPRF,
    nonce: bytes | None = None,
) -> bytes:
    """``GenerateProof`` with ``ComputeCompositesFast``: a batched DLEQ proof ``c || s``.

    ``nonce`` (the RFC's ``r``) only for test vectors; otherwise a fresh random scalar.
    """
    if not blinded:
        raise OprfError("a proof needs at least one element")
    weights = _composite_scalars(public, blinded, evaluated, mode)
    m = _weighted_sum(weights, blinded)
    z = _mult(secret, m)
    r = random_scalar() if nonce is None else nonce
    t2 = bytes(rbcl.crypto_scalarmult_ristretto255_base(r))
    t3 = _mult(r, m)
    c = _challenge(public, m, z, t2, t3, mode)
    s = bytes(
        rbcl.crypto_core_ristretto255_scalar_sub(
            r, rbcl.crypto_core_ristretto255_scalar_mul(c, secret)
        )
    )
    return c + s


def verify_proof(
    public: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    proof: bytes,
    *,
    mode: int = MODE_VOPRF,
) -> bool:
    """``VerifyProof`` with ``ComputeComposites``: whether ``evaluated[i] = k * blinded[i]``
    for every ``i``, where ``public = k * G``.

    ``blinded`` must be deserialised already (:func:`deserialize_element`); ``evaluated`` at least
    passed :func:`encodings_to_verify`: an invalid encoding among them fails the proof here."""
    if len(proof) != PROOF_BYTES or not blinded or len(blinded) != len(evaluated):
        return False
    c, s = proof[:SCALAR_BYTES], proof[SCALAR_BYTES:]
    # a scalar that is not reduced is no valid proof (DeserializeScalar)
    if bytes(rbcl.crypto_core_ristretto255_scalar_reduce(c + bytes(32))) != c:
        return False
    if bytes(rbcl.crypto_core_ristretto255_scalar_reduce(s + bytes(32))) != s:
        return False
    try:
        weights = _composite_scalars(public, blinded, evaluated, mode)
        m = _weighted_sum(weights, blinded)
        z = _weighted_sum(weights, evaluated)
        t2 = add_elements(
            bytes(rbcl.crypto_scalarmult_ristretto255_base_allow_scalar_zero(s)), _mult(c, public)
        )
        t3 = add_elements(_mult(s, m), _mult(c, z))
    except (OprfError, RuntimeError):
        return False
    return hmac.compare_digest(_challenge(public, m, z, t2, t3, mode), c)


def blind_evaluate_batch(
    secret: bytes, public: bytes, blinded: Sequence[bytes], *, nonce: bytes | None = None
) -> tuple[list[bytes], bytes]:
    """``BlindEvaluate`` of the VOPRF mode for a batch: evaluated elements and one proof.

    The elements must be deserialised already (:func:`deserialize_element`; a key service checks
    them once, before it charges the quota): they are not checked again here.
    """
    evaluated = [_mult(secret, element) for element in blinded]
    return evaluated, generate_proof(secret, public, blinded, evaluated, nonce=nonce)


def finalize(message: bytes, blind: bytes, evaluated: bytes) -> bytes:
    """``Finalize``: unblind and hash, the 64-byte PRF output (same in OPRF and VOPRF mode)."""
    inverse = bytes(rbcl.crypto_core_ristretto255_scalar_invert(blind))
    return finalize_inverted(message, inverse, deserialize_element(evaluated))


def finalize_inverted(message: bytes, inverse: bytes, evaluated: bytes) -> bytes:
    """``Finalize`` given the blind's inverse (:func:`invert_scalars`) and a valid element."""
    unblinded = _mult(inverse, evaluated)
    return hashlib.sha512(
        _i2osp2(len(message)) + message + _i2osp2(len(unblinded)) + unblinded + b"Finalize"
    ).digest()


def invert_scalars(scalars: Sequence[bytes]) -> list[bytes]:
    """The inverses of non-zero scalars with one inversion (Montgomery's batch trick).

    An inversion costs about 40 scalar multiplications; this needs one and ``3(n - 1)``
    multiplications modulo the group order.

    Example:
        >>> scalars = [random_scalar() for _ in range(3)]
        >>> invert_scalars(scalars) == [
        ...     bytes(rbcl.crypto_core_ristretto255_scalar_invert(s)) for s in scalars
        ... ]
        True
    """
    mul = rbcl.crypto_core_ristretto255_scalar_mul
    prefix: list[bytes] = []
    running = b""
    for scalar in scalars:
        running = scalar if not prefix else bytes(mul(running, scalar))
        prefix.append(running)
    if not prefix:
        return []
    inverse = bytes(rbcl.crypto_core_ristretto255_scalar_invert(prefix[-1]))
    out: list[bytes] = [b""] * len(scalars)
    for index in range(len(scalars) - 1, 0, -1):
        out[index] = bytes(mul(inverse, prefix[index - 1]))
        inverse = bytes(mul(inverse, scalars[index]))
    out[0] = inverse
    return out


def evaluate(secret: bytes, message: bytes, *, mode: int) -> bytes:
    """``Evaluate``: the PRF output computed directly with the secret key (no blinding)."""
    element = hash_to_group(message, mode=mode)
    issued = _mult(secret, element)
    return hashlib.sha512(
        _i2osp2(len(message)) + message + _i2osp2(len(issued)) + issued + b"Finalize"
    ).digest()
