"""The steward's side of a blind round, without the network: blind, combine, verify, finalise.

A blind round (docs/scheme.md, "The blind scheme") has a public description, :class:`BlindRound`:
its name, custody (``split``: two key services, ``single``: one) and each service's public
share. Its public key is the sum of the shares; its key id and fingerprint are derived from that
key, so a file's manifest names the OPRF key it was made under and link can check it.

For a batch of messages (canonical BSNs), the steward's client:

1. blinds each message (:func:`blind_messages`: ``HashToGroup`` of the message in the round's
   domain, times a fresh random scalar); only blinded elements leave the steward;
2. sends the same blinded elements to every service, each answering with ``k_i·B`` and a
   batched DLEQ proof under its public share;
3. verifies every service's proof against that service's public share and adds the answers:
   ``k1·B + k2·B = (k1 + k2)·B = k·B`` (:func:`combine`);
4. finalises (RFC 9497 ``Finalize``): unblinds and hashes; the first 16 bytes, as 32 lowercase
   hex characters, are the stage-1 pseudonym (:func:`finalise_pseudonyms`), the same width as
   the HMAC scheme's, so the second stage, counts and reports are unchanged.

Example:
    >>> from factlab.keys.shares import new_share
    >>> a, b = new_share("doc", "A"), new_share("doc", "B")
    >>> round_ = BlindRound("doc", (a.public_share, b.public_share))
    >>> messages = ["999993653", "999991723"]
    >>> blinds, blinded = blind_messages(round_, messages, "bsn")
    >>> combined = combine(round_, blinded, [a.evaluate(blinded), b.evaluate(blinded)])
    >>> pseudonyms = finalise_pseudonyms(round_, messages, "bsn", blinds, combined)
    >>> [len(p) for p in pseudonyms]
    [32, 32]
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from factlab import schema
from factlab.errors import ConfigError
from factlab.keys import oprf
from factlab.keys.round_keys import SECRET_BYTES, Key, context_label, hkdf
from factlab.manifest import now_iso

__all__ = [
    "BlindRound",
    "Custody",
    "blind_messages",
    "combine",
    "finalise_pseudonyms",
    "new_blind_round_key",
    "oprf_input",
]

Custody = Literal["split", "single"]
_ROUND: Final = re.compile(r"[^|]{1,100}")
#: Identifier types with a domain of their own (as the HMAC scheme's subkeys).
_IDENTIFIERS: Final = ("bsn", "fallback")
#: Bytes of the PRF output kept: 128 bits, 32 hex characters, as the HMAC scheme's pseudonym.
_PSEUDONYM_BYTES: Final = 16


@dataclass(frozen=True)
class BlindRound:
    """The public description of a blind round: what a steward's client needs to check answers.

    Attributes:
        round: name of the counting round.
        public_shares: each key service's public share (32 bytes each): two in split custody,
            one in single custody; in the order of the services.

    Example:
        >>> from factlab.keys.shares import new_share
        >>> share = new_share("doc", "A")
        >>> BlindRound("doc", (share.public_share,)).custody
        'single'
    """

    round: str
    public_shares: tuple[bytes, ...]

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.round, str) or not _ROUND.fullmatch(self.round):
            problems.append("round: 1-100 characters without '|'")
        if len(self.public_shares) not in (1, 2):
            problems.append("services: one key service (single custody) or two (split)")
        for index, share in enumerate(self.public_shares):
            try:
                oprf.deserialize_element(share)
            except oprf.OprfError:
                problems.append(f"services[{index}].public_share: not a ristretto255 element")
        if len(set(self.public_shares)) != len(self.public_shares):
            problems.append("services: the public shares are equal; each service makes its own")
        if not problems and len(self.public_shares) == 2:
            try:  # pk1 + pk2 = identity: k2 = -k1, a round key of zero that maps every BSN alike
                oprf.deserialize_element(self.public_key)
            except (oprf.OprfError, RuntimeError):
                problems.append(
                    "services: the public shares add up to the identity (one is the other's "
                    "negative), so the round's key would be zero"
                )
        if problems:
            raise ConfigError("blind round", problems)

    @property
    def custody(self) -> Custody:
        """``split`` (two services, neither can evaluate alone) or ``single`` (one service)."""
        return "split" if len(self.public_shares) == 2 else "single"

    @property
    def public_key(self) -> bytes:
        """The round's public key: the sum of the public shares (``pk1 + pk2 = (k1 + k2)·G``)."""
        total = self.public_shares[0]
        for share in self.public_shares[1:]:
            total = oprf.add_elements(total, share)
        return total

    def _derived(self, purpose: str, length: int) -> bytes:
        label = context_label(schema.BLIND_SCHEME, self.round, purpose)
        return hkdf(self.public_key, label, length=length)

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint, 20 hex characters in groups of four (as a key's)."""
        digest = self._derived("fingerprint", 10).hex()
        return "-".join(digest[i : i + 4] for i in range(0, 20, 4))

    @property
    def key_id(self) -> str:
        """Identifier of the round's OPRF key: 16 hex characters derived from the public key."""
        return self._derived("key-id", 8).hex()

    @property
    def scheme(self) -> str:
        """The scheme version written into manifests."""
        return schema.BLIND_SCHEME


def oprf_input(round_name: str, identifier: str, message: str) -> bytes:
    """The OPRF input for one message: the round and identifier type, then the message.

    ``factlab|factlab-voprf-ristretto255-v1|round=<round>|id=<identifier>|<message>`` in UTF-8.
    The round keeps rounds apart even under a reused key; the identifier keeps a fallback
    message from ever meeting a BSN's pseudonym.

    Example:
        >>> oprf_input("2026", "bsn", "999993653")
        b'factlab|factlab-voprf-ristretto255-v1|round=2026|id=bsn|999993653'
    """
    if identifier not in _IDENTIFIERS:
        raise ValueError(f"unknown identifier type (one of {', '.join(_IDENTIFIERS)})")
    return f"factlab|{schema.BLIND_SCHEME}|round={round_name}|id={identifier}|{message}".encode()


def blind_messages(
    round_: BlindRound, messages: Sequence[str], identifier: str
) -> tuple[list[bytes], list[bytes]]:
    """``Blind`` every message (fresh random blinds): the blinds (kept) and blinded elements
    (sent)."""
    blinds: list[bytes] = []
    blinded: list[bytes] = []
    for message in messages:
        blind, element = oprf.blind_input(
            oprf_input(round_.round, identifier, message), mode=oprf.MODE_VOPRF
        )
        blinds.append(blind)
        blinded.append(element)
    return blinds, blinded


def combine(
    round_: BlindRound,
    blinded: Sequence[bytes],
    answers: Sequence[tuple[Sequence[bytes], bytes]],
    names: Sequence[str] | None = None,
) -> list[bytes]:
    """Verify each service's answer against its public share and add them up.

    ``answers[i]`` is service ``i``'s (evaluated elements, proof), in the order of
    :attr:`BlindRound.public_shares`; ``names[i]`` its name in errors (by default its number,
    from 1).

    Raises:
        OprfError: a service's answer has the wrong number of elements, an invalid element, or
            a proof that does not verify (it did not use the share it published); the error
            names the service.
    """
    if len(answers) != len(round_.public_shares):
        raise oprf.OprfError("one answer per key service is needed")
    if names is None:
        names = [str(number) for number in range(1, len(answers) + 1)]
    checked: list[list[bytes]] = []
    for (evaluated, proof), public, name in zip(answers, round_.public_shares, names, strict=True):
        if len(evaluated) != len(blinded):
            raise oprf.OprfError(f"key service {name} answered for another number of inputs")
        # verify_proof decodes every element (refusing invalid ones): checked once, not twice
        try:
            elements = oprf.encodings_to_verify(evaluated)
        except oprf.OprfError:
            raise oprf.OprfError(
                f"key service {name} sent an invalid element (not a ristretto255 element, or "
                "the identity)"
            ) from None
        if not oprf.verify_proof(public, blinded, elements, proof, mode=oprf.MODE_VOPRF):
            raise oprf.OprfError(
                f"key service {name}'s proof does not verify: its answers were not made "
                "with the public share of the round's service configuration"
            )
        checked.append(elements)
    combined = checked[0]
    for elements in checked[1:]:
        combined = [oprf.add_elements(a, b) for a, b in zip(combined, elements, strict=True)]
    return combined


def finalise_pseudonyms(
    round_: BlindRound,
    messages: Sequence[str],
    identifier: str,
    blinds: Sequence[bytes],
    combined: Sequence[bytes],
) -> list[str]:
    """``Finalize`` each message: the first 16 bytes of the PRF output as 32 hex characters."""
    # ``combined`` comes from combine(): valid elements, checked there
    inverses = oprf.invert_scalars(blinds)
    return [
        oprf.finalize_inverted(oprf_input(round_.round, identifier, message), inverse, element)[
            :_PSEUDONYM_BYTES
        ].hex()
        for message, inverse, element in zip(messages, inverses, combined, strict=True)
    ]


def new_blind_round_key(round_: BlindRound) -> Key:
    """The trusted party's round key of a blind round: it makes the stage-2 (link) key only.

    Its key id and fingerprint are the round's (derived from the OPRF public key), so the
    stewards' files, made through the key services, carry the same ones and link accepts them
    with this key (or its link key). It cannot make a stage-1 pseudonym: no key can, in a blind
    round.

    Example:
        >>> from factlab.keys.shares import new_share
        >>> round_ = BlindRound("doc", (new_share("doc", "A").public_share,))
        >>> key = new_blind_round_key(round_)
        >>> (key.fingerprint == round_.fingerprint, key.can_pseudonymise, key.can_link)
        (True, False, True)
    """
    if not isinstance(round_, BlindRound):
        raise TypeError("new_blind_round_key: round_ must be a BlindRound")
    return Key(
        kind="round",
        round=round_.round,
        key_id=round_.key_id,
        created=now_iso(),
        scheme=schema.BLIND_SCHEME,
        _secret=secrets.token_bytes(SECRET_BYTES),
        _fingerprint=round_.fingerprint,
    )
