"""The keyed pseudonym: the one place where the scheme's bytes are fixed.

The pseudonym of a message is ``HMAC-SHA-256(key, message)`` truncated to 128 bits, as 32
lowercase hex characters, where ``key`` is the ASCII hex form (64 characters) of a subkey of the
round key (:mod:`factlab.keys.round_keys`, docs/scheme.md). The steward's first stage and the
trusted party's second stage both use it, each under its own subkeys. The computation runs inside
Polars (the polars-hash plugin), never row by row in Python.
"""

from __future__ import annotations

from typing import Final

import polars as pl
import polars_hash as plh

from factlab import schema
from factlab._checks import require_frame
from factlab.keys.round_keys import Key, require_key

__all__ = ["PSEUDONYM_HEX_CHARS", "hmac_pseudonym", "second_stage"]

#: Hex characters kept of the HMAC-SHA-256 output: 32 hex = 128 bits.
PSEUDONYM_HEX_CHARS: Final = 32


def hmac_pseudonym(message: pl.Expr, subkey: bytes) -> pl.Expr:
    """Keyed pseudonym of a text expression: HMAC-SHA-256 under ``subkey.hex()``, 128 bits, hex.

    Nulls stay null. This is the one place where the scheme's bytes are fixed.

    Example:
        >>> import hmac, hashlib
        >>> subkey = bytes(range(32))
        >>> out = pl.select(hmac_pseudonym(pl.lit("999993653"), subkey)).item()
        >>> out == hmac.new(subkey.hex().encode(), b"999993653", hashlib.sha256).hexdigest()[:32]
        True
    """
    hashed: pl.Expr = plh.CryptographicHashingNameSpace(message).hmac_sha256(key=subkey.hex())
    return hashed.str.slice(0, PSEUDONYM_HEX_CHARS)


def second_stage(frame: pl.LazyFrame, key: Key) -> pl.LazyFrame:
    """Replace first-stage pseudonyms by the trusted party's second-stage pseudonyms.

    Applies to ``pseudonym`` and, when present, ``fallback_pseudonym`` (each under its own stage-2
    subkey). The first-stage values do not survive in the result.

    Raises:
        TypeError: ``frame`` is no Polars frame or ``key`` no :class:`Key`.
        KeyFileError: ``key`` is a provider key (it cannot make second-stage pseudonyms).

    Example:
        >>> from factlab.keys.round_keys import new_round_key
        >>> key = new_round_key("doc")
        >>> first = pl.LazyFrame({"pseudonym": ["0123456789abcdef0123456789abcdef", None]})
        >>> second = second_stage(first, key).collect()["pseudonym"].to_list()
        >>> len(second[0]), second[0] != "0123456789abcdef0123456789abcdef", second[1]
        (32, True, None)
    """
    require_frame(frame, where="second_stage", name="frame")
    require_key(key, where="second_stage")
    names = frame.collect_schema().names()
    replacements = [
        hmac_pseudonym(pl.col(schema.PSEUDONYM), key.stage2_key("bsn")).alias(schema.PSEUDONYM)
    ]
    if schema.FALLBACK_PSEUDONYM in names:
        replacements.append(
            hmac_pseudonym(pl.col(schema.FALLBACK_PSEUDONYM), key.stage2_key("fallback")).alias(
                schema.FALLBACK_PSEUDONYM
            )
        )
    return frame.with_columns(replacements)
