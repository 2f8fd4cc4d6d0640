"""Round keys, provider keys, link keys, subkey derivation and key files.

A round key is a 256-bit secret from the operating system's CSPRNG, made by the key custodian of
the trusted party for one counting round. Every purpose gets its own subkey through HKDF-SHA-256
with a context label, so one secret never serves two purposes::

    round secret R                       (key custodian; kept offline, destroyed after the round)
      ├─ stage-1 key P = HKDF(R, "factlab|<scheme>|round=<round>|purpose=stage1-key")
      │    ├─ BSN pseudonym key       HKDF(P, "...|purpose=pseudonym|id=bsn")
      │    ├─ fallback pseudonym key  HKDF(P, "...|purpose=pseudonym|id=fallback")
      │    └─ fingerprint             HKDF(P, "...|purpose=fingerprint")
      └─ stage-2 key S = HKDF(R, "...|purpose=stage2-key")
           ├─ BSN stage-2 key         HKDF(S, "...|purpose=stage2|id=bsn")
           └─ fallback stage-2 key    HKDF(S, "...|purpose=stage2|id=fallback")

Three kinds of key file follow from this:

- ``round``: holds R; can do everything. Only the key custodian holds it.
- ``provider``: holds P (``factlab key export-provider``). Stewards pseudonymise with it; it makes
  the same first-stage pseudonyms as R but cannot make second-stage ones.
- ``link``: holds S (``factlab key export-link``). The linking party applies the second stage with
  it; it cannot make first-stage pseudonyms, so it cannot enumerate BSNs against the files it
  receives.

The fingerprint identifies the stage-1 key: files made with R or with a provider key derived from
it carry the same fingerprint, and a link key carries it too so linking can check every file.

Key files are JSON. Their secret is either stored as is (the file must then be guarded like the key
itself; it is written with mode 0600) or sealed with a passphrase: Argon2id (memory-hard) derives a
key-encryption key, AES-256-GCM encrypts the secret, and the file's header is the associated
data, so the header cannot be altered without the passphrase check failing (see
:mod:`factlab.keys._keyfile`).

Every key file also stores a **check value**, derived from its secret over the kind, round, key
id and fingerprint of the header (:func:`check_value`). Loading recomputes it, so a provider key
file edited to say ``"kind": "link"`` (which would make stage 2 run under the stewards' secret)
is refused even when it is not passphrase-protected. The check value is public, like the
fingerprint: it also lets the linking party compare its link key with the key custodian's out of
band (``factlab key show``).

A provider key file may also carry the round's **contract** (``factlab key export-provider
--contract``): non-secret JSON saying which fields a steward's file must hold
(:mod:`factlab.steward.contract` gives it meaning; here it is a JSON object). Its SHA-256
(:func:`contract_digest`) is part of the check value's label, so a contract edited in the file
makes the key file refuse to load, like an edited kind.

(The module is somewhat over 600 lines: the key, its derivations and its files stay together,
because the check value binds what a file says to the secret that only a :class:`Key` holds.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, get_args

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from factlab import schema
from factlab._checks import require_path, type_name
from factlab.errors import KeyFileError
from factlab.keys._keyfile import (
    check_access,
    is_locked,
    lock,
    read_document,
    unlock,
    write_document,
)
from factlab.manifest import now_iso

__all__ = [
    "Key",
    "KeyKind",
    "check_value",
    "contract_digest",
    "key_file_contract",
    "load_key",
    "new_round_key",
    "require_key",
    "write_key",
]

KeyKind = Literal["round", "provider", "link"]

SECRET_BYTES: Final = 32
KEY_FILE_VERSION: Final = 1
# Where the secret is stored, as is or passphrase-protected.
_PLAIN_FIELD: Final = "secret"
_SEALED_FIELD: Final = "ciphertext"
#: Field of the check value that binds the header to the secret.
_CHECK_FIELD: Final = "check"
#: Field of the round's contract (non-secret JSON, bound by the check value).
_CONTRACT_FIELD: Final = "contract"
_CHECK_BYTES: Final = 16
# What a header's round, key id and fingerprint may look like: no '|', so the check value's label
# reads one way only.
_ROUND = re.compile(r"[^|]{1,100}")
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FINGERPRINT = re.compile(r"[0-9a-f]{4}(-[0-9a-f]{4}){4}")


def hkdf(secret: bytes, label: str, length: int = SECRET_BYTES) -> bytes:
    """HKDF-SHA-256 without salt, with ``label`` (UTF-8) as the info string."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label.encode()).derive(
        secret
    )


def context_label(scheme: str, round_name: str, purpose: str, identifier: str | None = None) -> str:
    """The HKDF info string for one purpose (see the module docstring and docs/scheme.md).

    Example:
        >>> context_label("factlab-hmac-sha256-v1", "2026", "pseudonym", "bsn")
        'factlab|factlab-hmac-sha256-v1|round=2026|purpose=pseudonym|id=bsn'
    """
    label = f"factlab|{scheme}|round={round_name}|purpose={purpose}"
    return label if identifier is None else f"{label}|id={identifier}"


class Key:
    """A round, provider or link key, with its non-secret description.

    The secret never leaves the object by accident: it is not in ``repr`` or ``str`` (use
    :attr:`fingerprint` to tell keys apart), a key cannot be pickled (``TypeError``), and a key is
    no dataclass, so ``dataclasses.asdict`` and ``vars`` do not apply to it. ``copy.copy`` and
    ``copy.deepcopy`` return the key itself: it is immutable.

    Attributes:
        kind: ``round`` (the round secret), ``provider`` (stage-1 key only) or ``link`` (stage-2
            key only).
        round: name of the counting round.
        key_id: random identifier of the round key (shared by the keys derived from it).
        created: creation time of the round key, ISO 8601 UTC.
        scheme: pseudonymisation scheme version.

    Example:
        >>> key = new_round_key("demo-2026")
        >>> key.kind, key.round
        ('round', 'demo-2026')
        >>> "secret" in repr(key)
        False
        >>> import pickle
        >>> pickle.dumps(key)
        Traceback (most recent call last):
        TypeError: a Key cannot be pickled: it holds a secret
    """

    # Slots, not dataclass fields: the secret must not be reachable through the generic tools
    # that walk an object's fields (dataclasses.asdict, vars, pickle's default state).
    __slots__ = ("_fingerprint", "_secret", "created", "key_id", "kind", "round", "scheme")

    kind: KeyKind
    round: str
    key_id: str
    created: str
    scheme: str
    _secret: bytes
    #: a link key cannot recompute the stage-1 fingerprint, so it carries it
    _fingerprint: str | None

    def __init__(
        self,
        kind: KeyKind,
        round: str,
        key_id: str,
        created: str,
        scheme: str = schema.SCHEME,
        *,
        _secret: bytes,
        _fingerprint: str | None = None,
    ) -> None:
        if kind not in get_args(KeyKind):
            raise KeyFileError(f"unknown key kind (one of {', '.join(get_args(KeyKind))})")
        if not isinstance(_secret, bytes):
            raise TypeError(f"a Key's secret must be bytes; got {type(_secret).__name__}")
        for name, value in (
            ("kind", kind),
            ("round", round),
            ("key_id", key_id),
            ("created", created),
            ("scheme", scheme),
            ("_secret", _secret),
            ("_fingerprint", _fingerprint),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a Key is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"cannot delete field {name!r}: a Key is immutable")

    def _identity(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.round, self.key_id, self.created, self.scheme)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        return self._identity() == other._identity() and hmac.compare_digest(
            self._secret, other._secret
        )

    def __hash__(self) -> int:
        return hash(self._identity())

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Key cannot be pickled: it holds a secret")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a Key cannot be pickled: it holds a secret")

    def __copy__(self) -> Key:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Key:
        return self

    def __repr__(self) -> str:
        return (
            f"Key(kind={self.kind!r}, round={self.round!r}, key_id={self.key_id!r}, "
            f"fingerprint={self.fingerprint!r})"
        )

    __str__ = __repr__

    def _label(self, purpose: str, identifier: str | None = None) -> str:
        return context_label(self.scheme, self.round, purpose, identifier)

    @property
    def _stage1(self) -> bytes:
        if self.scheme == schema.BLIND_SCHEME:
            raise KeyFileError(
                "in a blind round no key makes first-stage pseudonyms: the key services do "
                "(factlab pseudonymise --blind SERVICE_CONFIG)"
            )
        if self.kind == "provider":
            return self._secret
        if self.kind == "link":
            raise KeyFileError(
                "a link key cannot make first-stage pseudonyms: stewards use a provider key"
            )
        return hkdf(self._secret, self._label("stage1-key"))

    @property
    def _stage2(self) -> bytes:
        if self.kind == "link":
            return self._secret
        if self.kind == "provider":
            raise KeyFileError(
                "a provider key cannot make second-stage pseudonyms: linking needs the trusted "
                "party's round key or link key"
            )
        return hkdf(self._secret, self._label("stage2-key"))

    @property
    def fingerprint(self) -> str:
        """Public fingerprint of the stage-1 key, e.g. ``3f2a-91c0-5be4-0d17-a8e2``."""
        if self.kind == "link" or self.scheme == schema.BLIND_SCHEME:
            # a link key cannot recompute it; a blind round's comes from its OPRF public key
            return self._fingerprint or ""
        digest = hkdf(self._stage1, self._label("fingerprint"), length=10).hex()
        return "-".join(digest[i : i + 4] for i in range(0, 20, 4))

    @property
    def can_pseudonymise(self) -> bool:
        """Whether this key makes first-stage pseudonyms (round and provider keys)."""
        return self.kind in ("round", "provider") and self.scheme != schema.BLIND_SCHEME

    @property
    def can_link(self) -> bool:
        """Whether this key makes second-stage pseudonyms (round and link keys)."""
        return self.kind in ("round", "link")

    def provider_key(self) -> Key:
        """The provider (stage-1) key a steward receives; a provider key returns itself."""
        if self.kind == "provider":
            return self
        return Key(
            "provider", self.round, self.key_id, self.created, self.scheme, _secret=self._stage1
        )

    def link_key(self) -> Key:
        """The link (stage-2) key the linking party receives; a link key returns itself."""
        if self.kind == "link":
            return self
        return Key(
            "link",
            self.round,
            self.key_id,
            self.created,
            self.scheme,
            _secret=self._stage2,
            _fingerprint=self.fingerprint,
        )

    def pseudonym_key(self, identifier: str = "bsn") -> bytes:
        """The stage-1 HMAC key for one identifier type (``bsn`` or ``fallback``).

        Raises:
            KeyFileError: this is a link key.
        """
        return hkdf(self._stage1, self._label("pseudonym", identifier))

    def stage2_key(self, identifier: str = "bsn") -> bytes:
        """The trusted party's second-stage HMAC key for one identifier type.

        Raises:
            KeyFileError: this is a provider key.
        """
        return hkdf(self._stage2, self._label("stage2", identifier))


def require_key(value: object, *, where: str, name: str = "key") -> Key:
    """``value`` if it is a :class:`Key`; a TypeError that says how to get one otherwise.

    For the public functions that take a key: a path or ``None`` passed for a key gets one clear
    message instead of an AttributeError deep inside. The message names the type, never the value.

    Example:
        >>> require_key("round.key", where="pseudonymise")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: pseudonymise: key must be a factlab Key (load one with ...); got str
    """
    if not isinstance(value, Key):
        raise TypeError(
            f"{where}: {name} must be a factlab Key (load one with factlab.load_key(path)); "
            f"got {type_name(value)}"
        )
    return value


def new_round_key(round_name: str) -> Key:
    """Make a new round key: 256 bits from the operating system's CSPRNG.

    Raises:
        TypeError: the round name is not a string.
        KeyFileError: the round name is empty or contains ``|`` (it is part of every label).
    """
    if not isinstance(round_name, str):
        raise TypeError(f"new_round_key: round_name must be a str; got {type_name(round_name)}")
    name = round_name.strip()
    if not name or "|" in name or len(name) > 100:
        raise KeyFileError("round name must be 1-100 characters without '|'")
    return Key(
        kind="round",
        round=name,
        key_id=secrets.token_hex(8),
        created=now_iso(),
        _secret=secrets.token_bytes(SECRET_BYTES),
    )


def contract_digest(contract: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a contract document as canonical JSON (keys sorted, no spaces, UTF-8).

    Example:
        >>> contract_digest({"version": 1, "required": ["bsn"]})[:16]
        '829b8b8453eff9c2'
    """
    text = json.dumps(contract, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_value(key: Key, contract: Mapping[str, Any] | None = None) -> str:
    """The key file's check value: HKDF of the key's own secret over its header, 128 bits, hex.

    The label is ``factlab|<scheme>|round=<round>|purpose=key-file-check|id=<kind>`` followed by
    ``|key_id=<key id>|fingerprint=<fingerprint>``, and ``|contract=<sha256>`` when the file
    carries a contract (:func:`contract_digest`); none of these may contain ``|``. It binds the
    kind (and round, key id, fingerprint, contract) to the secret: changing any of them in a
    file, or putting another kind's secret under them, makes the loader's recomputation differ.
    It is not a pseudonym subkey and changes no pseudonym.

    Example:
        >>> key = new_round_key("demo")
        >>> check_value(key) == check_value(key.provider_key())
        False
        >>> check_value(key) == check_value(key, {"version": 1})
        False
    """
    label = context_label(key.scheme, key.round, "key-file-check", key.kind)
    label += f"|key_id={key.key_id}|fingerprint={key.fingerprint}"
    if contract is not None:
        label += f"|contract={contract_digest(contract)}"
    return hkdf(key._secret, label, length=_CHECK_BYTES).hex()


def _header(key: Key, contract: Mapping[str, Any] | None = None) -> dict[str, Any]:
    header: dict[str, Any] = {
        "factlab_key_file": KEY_FILE_VERSION,
        "kind": key.kind,
        "scheme": key.scheme,
        "round": key.round,
        "key_id": key.key_id,
        "created": key.created,
        "fingerprint": key.fingerprint,
        _CHECK_FIELD: check_value(key, contract),
    }
    if contract is not None:
        header[_CONTRACT_FIELD] = dict(contract)
    return header


def _associated_data(document: Mapping[str, Any]) -> bytes:
    header = {name: document[name] for name in _HEADER_FIELDS}
    # Files written before the check value existed have none; their header stays as it was
    # authenticated. In a newer file the check value is authenticated too, so removing it
    # breaks the passphrase check. A contract is authenticated when there is one (it is bound
    # by the check value as well, which also covers files without a passphrase).
    if _CHECK_FIELD in document:
        header[_CHECK_FIELD] = document[_CHECK_FIELD]
    if _CONTRACT_FIELD in document:
        header[_CONTRACT_FIELD] = document[_CONTRACT_FIELD]
    return json.dumps(
        {"header": header, "protection": document["protection"]}, sort_keys=True
    ).encode()


def _protect(document: Mapping[str, Any], secret: bytes, passphrase: str | None) -> dict[str, Any]:
    # Key files hash the passphrase as typed (no Unicode normalisation), as they always have:
    # normalising now would lock out a file whose passphrase has decomposed accents.
    return lock(
        document,
        secret,
        passphrase,
        plain_field=_PLAIN_FIELD,
        sealed_field=_SEALED_FIELD,
        associated_data=_associated_data,
        normalise=False,
    )


def write_key(
    key: Key,
    path: str | Path,
    *,
    passphrase: str | None = None,
    force: bool = False,
    contract: Mapping[str, Any] | None = None,
) -> None:
    """Write ``key`` to a new key file with mode 0600.

    Args:
        key: the key to store.
        path: where to write; an existing file is refused unless ``force``.
        passphrase: when given, the secret is sealed with Argon2id + AES-256-GCM.
        force: overwrite an existing file.
        contract: the round's contract as plain data
            (:meth:`factlab.steward.contract.Contract.to_document`), for a provider key only;
            stored in the clear and bound by the check value.

    Raises:
        TypeError: ``key`` is not a :class:`Key`, or ``contract`` is no JSON object.
        KeyFileError: the file exists (without ``force``), the passphrase is too short, or a
            contract is given for a key that is not a provider key.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "round.key"
        >>> write_key(new_round_key("demo"), path)
        >>> oct(path.stat().st_mode & 0o777)
        '0o600'
    """
    require_key(key, where="write_key")
    path = require_path(path, where="write_key", name="path")
    if passphrase is not None and not isinstance(passphrase, str):
        raise TypeError(f"write_key: passphrase must be a str; got {type_name(passphrase)}")
    if contract is not None:
        if not isinstance(contract, Mapping):
            raise TypeError(f"write_key: contract must be a mapping; got {type_name(contract)}")
        if key.kind != "provider":
            raise KeyFileError("a contract goes with a provider key only (the steward's key)")
        contract = json.loads(json.dumps(dict(contract)))  # plain JSON, as it will be read back
    if path.exists() and not force:
        raise KeyFileError(f"{path}: file exists (use --force to overwrite)")
    document = _protect(_header(key, contract), key._secret, passphrase)
    write_document(path, document, mode=0o600, force=force)


def read_key_header(path: str | Path) -> dict[str, Any]:
    """Read a key file's non-secret header (kind, round, key id, fingerprint, check value,
    protection, contract); ``check`` is None in a file written before check values existed,
    ``contract`` None in a file without one. Nothing is verified: that needs the secret
    (:func:`load_key`)."""
    document = _read_document(require_path(path, where="read_key_header", name="path"))
    header = {name: document[name] for name in _HEADER_FIELDS}
    header[_CHECK_FIELD] = document.get(_CHECK_FIELD)
    header[_CONTRACT_FIELD] = document.get(_CONTRACT_FIELD)
    header["protected"] = is_locked(document)
    return header


def key_file_contract(path: str | Path, key: Key) -> dict[str, Any] | None:
    """The contract a key file carries, checked against ``key`` (loaded from that file).

    The file's check value is recomputed with ``key``'s secret over the header and contract now
    in the file, so the contract returned is the one bound to this key, even if the file was
    changed after :func:`load_key` read it.

    Raises:
        KeyFileError: the file is damaged, or its contract or header does not match ``key``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "provider.key"
        >>> provider = new_round_key("demo").provider_key()
        >>> write_key(provider, path, contract={"version": 1, "required": ["bsn"]})
        >>> key_file_contract(path, load_key(path))
        {'required': ['bsn'], 'version': 1}
    """
    path = require_path(path, where="key_file_contract", name="path")
    require_key(key, where="key_file_contract")
    document = _read_document(path)
    for name in ("kind", "round", "key_id", "scheme", "created"):
        if document[name] != getattr(key, name):
            raise KeyFileError(f"{path}: not the key file this key was loaded from ({name})")
    _verify_check(path, document, key)
    contract = document.get(_CONTRACT_FIELD)
    return None if contract is None else dict(contract)


_HEADER_FIELDS: Final = (
    "factlab_key_file",
    "kind",
    "scheme",
    "round",
    "key_id",
    "created",
    "fingerprint",
)


def _read_document(path: Path) -> dict[str, Any]:
    document = read_document(path, "key file")
    if "factlab_key_file" not in document:
        raise KeyFileError(f"{path}: not a factlab key file")
    if document["factlab_key_file"] != KEY_FILE_VERSION:
        raise KeyFileError(f"{path}: unsupported key file version")
    missing = [name for name in (*_HEADER_FIELDS, "protection") if name not in document]
    if missing:
        raise KeyFileError(f"{path}: damaged key file (missing {', '.join(missing)})")
    if document["kind"] not in ("round", "provider", "link"):
        raise KeyFileError(f"{path}: unknown key kind")
    if not isinstance(document["protection"], dict):
        raise KeyFileError(f"{path}: damaged key file (field 'protection')")
    for name, pattern in (("round", _ROUND), ("key_id", _KEY_ID), ("fingerprint", _FINGERPRINT)):
        if not isinstance(document[name], str) or not pattern.fullmatch(document[name]):
            raise KeyFileError(f"{path}: damaged key file (field {name!r})")
    if not all(isinstance(document[name], str) for name in ("scheme", "created")):
        raise KeyFileError(f"{path}: damaged key file (field 'scheme' or 'created')")
    if _CHECK_FIELD in document and not isinstance(document[_CHECK_FIELD], str):
        raise KeyFileError(f"{path}: damaged key file (field {_CHECK_FIELD!r})")
    if _CONTRACT_FIELD in document:
        if not isinstance(document[_CONTRACT_FIELD], dict):
            raise KeyFileError(f"{path}: damaged key file (field {_CONTRACT_FIELD!r})")
        if _CHECK_FIELD not in document:  # a contract is only ever written with its check value
            raise KeyFileError(f"{path}: damaged key file (a contract without a check value)")
    return document


def is_protected(path: str | Path) -> bool:
    """Whether a key file's secret is sealed with a passphrase."""
    return bool(read_key_header(path)["protected"])


def load_key(path: str | Path, *, passphrase: str | None = None) -> Key:
    """Load a key file; a protected one needs its passphrase.

    On POSIX, a key file other users may open gets a :class:`~factlab.errors.FactlabWarning`;
    one whose secret is stored as is and that every user may read is refused
    (docs/threat-model.md, "Key custody").

    Raises:
        TypeError: ``path`` is not a path.
        KeyFileError: not found, not a key file, damaged, altered (its check value does not match
            the secret), readable by every user, passphrase missing or wrong.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "round.key"
        >>> key = new_round_key("demo")
        >>> write_key(key, path)
        >>> load_key(path).fingerprint == key.fingerprint
        True
    """
    path = require_path(path, where="load_key", name="path")
    if passphrase is not None and not isinstance(passphrase, str):
        raise TypeError(f"load_key: passphrase must be a str; got {type_name(passphrase)}")
    document = _read_document(path)
    check_access(path, document)
    secret = unlock(
        document,
        passphrase,
        source=str(path),
        plain_field=_PLAIN_FIELD,
        sealed_field=_SEALED_FIELD,
        associated_data=_associated_data,
        normalise=False,
    )
    if len(secret) != SECRET_BYTES:
        raise KeyFileError(f"{path}: damaged key file (secret has the wrong length)")
    key = Key(
        kind=document["kind"],
        round=str(document["round"]),
        key_id=str(document["key_id"]),
        created=str(document["created"]),
        scheme=str(document["scheme"]),
        _secret=secret,
        _fingerprint=str(document["fingerprint"])
        if document["kind"] == "link" or document["scheme"] == schema.BLIND_SCHEME
        else None,
    )
    if key.scheme not in schema.SCHEMES:
        raise KeyFileError(
            f"{path}: key is for scheme {key.scheme}, this factlab uses "
            f"{' or '.join(schema.SCHEMES)}"
        )
    if key.fingerprint != document["fingerprint"]:
        raise KeyFileError(f"{path}: damaged key file (fingerprint does not match the secret)")
    _verify_check(path, document, key)
    return key


def _verify_check(path: Path, document: Mapping[str, Any], key: Key) -> None:
    """Refuse a key whose header does not belong to its secret (see :func:`check_value`)."""
    stored = document.get(_CHECK_FIELD)
    if stored is None:
        # Written before check values existed. A round or provider key's fingerprint is
        # recomputed from its secret and already binds kind and round; a passphrase-protected
        # header is authenticated. Only a plain link key (whose fingerprint is copied, not
        # computed) could be a provider key with its kind edited, so it must be made again.
        if key.kind == "link" and not is_locked(document):
            raise KeyFileError(
                f"{path}: link key file without a check value (written by an older factlab); "
                "export it again from the round key (factlab key export-link)"
            )
        return
    # bytes, not str: compare_digest refuses text that is not ASCII (a crafted file may hold it)
    contract = document.get(_CONTRACT_FIELD)
    if not hmac.compare_digest(str(stored).encode(), check_value(key, contract).encode()):
        what = (
            "kind, round, key id, fingerprint or contract"
            if contract
            else ("kind, round, key id or fingerprint")
        )
        raise KeyFileError(f"{path}: key file altered: {what} does not match its secret")
