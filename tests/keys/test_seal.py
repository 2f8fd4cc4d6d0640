"""Sealed files and recipient keys: round trips, refusals, key files, and the CLI commands."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import re
import stat
import struct
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

import factlab.cli.seal  # registers the commands on `main`
from factlab import schema
from factlab.audit import read_audit_log
from factlab.cli import main
from factlab.errors import InputError, KeyFileError
from factlab.io import file_sha256, write_parquet
from factlab.keys.recipients import (
    RecipientPrivateKey,
    RecipientPublicKey,
    load_recipient_private,
    load_recipient_public,
    new_recipient,
    recipient_is_protected,
    write_recipient,
)
from factlab.keys.seal import (
    MAGIC,
    open_sealed,
    read_sealed_header,
    read_sealed_manifest,
    seal,
    unseal,
    unseal_to_temporary,
)
from factlab.manifest import Manifest, read_manifest

assert factlab.cli.seal  # imported for its side effect

_TEST_KEY = b"factlab-test-key-not-a-real-one-"
PASSPHRASE = "correct horse battery staple"

# `factlab.seal` is also the name of the function the package exports, so the module is
# looked up by name rather than by attribute.
seal_module = importlib.import_module("factlab.keys.seal")


def _elfproef(number: int) -> bool:
    digits = [int(c) for c in f"{number:09d}"]
    total = sum(w * d for w, d in zip((9, 8, 7, 6, 5, 4, 3, 2, -1), digits, strict=True))
    return total % 11 == 0


TEST_BSNS = [n for n in range(999_900_000, 1_000_000_000) if _elfproef(n) and n != 999_999_999]


def _pseudonym(bsn: int) -> str:
    return hmac.new(_TEST_KEY, str(bsn).encode(), hashlib.sha256).hexdigest()[:32]


PSEUDONYMS = np.array([_pseudonym(bsn) for bsn in TEST_BSNS])


def _provider_file(path: Path, *, rows: int = 400, seed: int = 1, provider: str = "A") -> Path:
    """A synthetic pseudonymised provider file; random costs make it incompressible."""
    rng = np.random.default_rng(seed)
    pseudonyms = PSEUDONYMS[rng.choice(len(PSEUDONYMS), size=rows)]
    frame = pl.DataFrame(
        {
            schema.PSEUDONYM: pseudonyms,
            schema.STATUS: pl.Series(["valid"] * rows, dtype=schema.STATUS_DTYPE),
            schema.PROVIDER: [provider] * rows,
            "cost": rng.random(rows) * 1000,
        }
    )
    manifest = Manifest(
        format=schema.FORMAT_PSEUDONYMISED,
        scheme=schema.SCHEME,
        round="test-2026",
        key_id="0011223344556677",
        key_fingerprint="aaaa-bbbb-cccc-dddd-eeee",
        rows=rows,
        rows_by_status={status: (rows if status == "valid" else 0) for status in schema.STATUSES},
        provider=provider,
    )
    write_parquet(frame, path, manifest)
    return path


@pytest.fixture(autouse=True)
def _no_audit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACTLAB_AUDIT_LOG", raising=False)


@pytest.fixture(scope="module")
def recipient() -> tuple[RecipientPrivateKey, RecipientPublicKey]:
    return new_recipient("ttp")


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(seal_module, "CHUNK_SIZE", 1024)
    return 1024


@pytest.fixture
def sealed(
    tmp_path: Path,
    small_chunks: int,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> tuple[Path, Path]:
    """A provider file of a few KiB sealed in 1 KiB chunks: (plain, sealed)."""
    plain = _provider_file(tmp_path / "a.parquet", rows=600)
    out = tmp_path / "a.sealed"
    seal(plain, recipient[1], out)
    return plain, out


def _layout(path: Path) -> tuple[int, int, int, int]:
    """(header start, header end, chunks start, chunk count) of a sealed file."""
    data = path.read_bytes()
    start = len(MAGIC) + 4
    (header_length,) = struct.unpack(">I", data[len(MAGIC) : start])
    end = start + header_length
    (wrapped_length,) = struct.unpack(">I", data[end : end + 4])
    header = read_sealed_header(path)
    return start, end, end + 4 + wrapped_length, header.chunks


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _only(folder: Path, *names: str) -> None:
    """Nothing but ``names`` in ``folder``: no output and no temporary left behind."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


# --------------------------------------------------------------------------- recipient keys


def test_new_recipient_hides_secret_and_derives_key_id() -> None:
    private, public = new_recipient("ttp-2026")
    raw = private.secret.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    assert raw.hex() not in repr(private)
    assert raw.hex() not in str(private)
    assert private.key_id == public.key_id == private.public.key_id
    assert len(public.key_id.replace("-", "")) == 32
    assert new_recipient("ttp-2026")[1].key_id != public.key_id


@pytest.mark.parametrize("name", ["", "../evil", "a b", ".hidden", "x" * 65])
def test_new_recipient_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(KeyFileError, match="recipient name"):
        new_recipient(name)


def test_write_and_load_recipient(tmp_path: Path) -> None:
    private, public = new_recipient("ttp")
    private_path, public_path = write_recipient(private, tmp_path)
    assert (private_path.name, public_path.name) == ("ttp.recipient.key", "ttp.pub")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert load_recipient_public(public_path) == public
    assert load_recipient_private(private_path).key_id == public.key_id
    document = json.loads(public_path.read_text())
    assert document["key_id"] == public.key_id
    assert "private_key" not in document


def test_refuses_overwrite_without_force(tmp_path: Path) -> None:
    first, _ = new_recipient("ttp")
    private_path, public_path = write_recipient(first, tmp_path)
    before = (private_path.read_bytes(), public_path.read_bytes())
    second, second_public = new_recipient("ttp")
    with pytest.raises(KeyFileError, match="file exists"):
        write_recipient(second, tmp_path)
    assert (private_path.read_bytes(), public_path.read_bytes()) == before
    _only(tmp_path, "ttp.recipient.key", "ttp.pub")
    write_recipient(second, tmp_path, force=True)
    assert load_recipient_public(public_path) == second_public
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600


def test_refuses_overwrite_of_either_file(tmp_path: Path) -> None:
    (tmp_path / "ttp.pub").write_text("someone else's")
    with pytest.raises(KeyFileError, match="file exists"):
        write_recipient(new_recipient("ttp")[0], tmp_path)
    _only(tmp_path, "ttp.pub")


def test_passphrase_protected_private_key(tmp_path: Path) -> None:
    private, _ = new_recipient("ttp")
    path, _ = write_recipient(private, tmp_path, passphrase=PASSPHRASE)
    raw = private.secret.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    text = path.read_text()
    assert PASSPHRASE not in text
    assert base64.b64encode(raw).decode() not in text
    assert raw.hex() not in text
    assert recipient_is_protected(path)
    assert load_recipient_private(path, PASSPHRASE).key_id == private.key_id
    with pytest.raises(KeyFileError, match="wrong passphrase or damaged key file") as caught:
        load_recipient_private(path, PASSPHRASE + "!")
    assert PASSPHRASE not in str(caught.value)
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        load_recipient_private(path)


def test_protected_key_header_is_bound(tmp_path: Path) -> None:
    path, _ = write_recipient(new_recipient("ttp")[0], tmp_path, passphrase=PASSPHRASE)
    document = json.loads(path.read_text())
    document["created"] = "2000-01-01T00:00:00+00:00"
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="wrong passphrase or damaged key file"):
        load_recipient_private(path, PASSPHRASE)


def test_short_passphrase_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="too short"):
        write_recipient(new_recipient("ttp")[0], tmp_path, passphrase="short")
    _only(tmp_path)


def test_damaged_or_wrong_kind_of_key_file(tmp_path: Path) -> None:
    private_path, public_path = write_recipient(new_recipient("ttp")[0], tmp_path)
    with pytest.raises(KeyFileError, match="not a factlab recipient public key file"):
        load_recipient_public(private_path)
    with pytest.raises(KeyFileError, match="not a factlab recipient private key file"):
        load_recipient_private(public_path)
    other = new_recipient("other")[1]
    document = json.loads(public_path.read_text())
    document["public_key"] = base64.b64encode(other.public_bytes).decode()
    public_path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="key id does not match"):
        load_recipient_public(public_path)
    document = json.loads(private_path.read_text())
    document["key_id"] = other.key_id
    private_path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="key id does not match"):
        load_recipient_private(private_path)


# --------------------------------------------------------------------------- sealing


def test_round_trip_multi_mebibyte_file(
    tmp_path: Path, recipient: tuple[RecipientPrivateKey, RecipientPublicKey]
) -> None:
    private, public = recipient
    plain = _provider_file(tmp_path / "big.parquet", rows=250_000)
    assert plain.stat().st_size > 2 * seal_module.CHUNK_SIZE
    header = seal(plain, public, tmp_path / "big.sealed")
    assert header.chunks >= 3
    assert open_sealed(tmp_path / "big.sealed", private) == plain.read_bytes()
    unseal(tmp_path / "big.sealed", private, tmp_path / "back.parquet")
    assert (tmp_path / "back.parquet").read_bytes() == plain.read_bytes()


def test_round_trip_and_no_plaintext_in_sealed_file(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    plain, out = sealed
    assert read_sealed_header(out).chunks > 3
    assert open_sealed(out, recipient[0]) == plain.read_bytes()
    pseudonyms = pl.read_parquet(plain)[schema.PSEUDONYM].unique().to_list()
    data = out.read_bytes()
    assert not any(p.encode() in data for p in pseudonyms)
    assert plain.read_bytes()[-64:] not in data


@pytest.mark.parametrize("shift", [-1, 0, 1, "half"])
def test_round_trip_at_chunk_boundaries(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
    shift: int | str,
) -> None:
    plain = _provider_file(tmp_path / "a.parquet", rows=300)
    size = plain.stat().st_size
    chunk = size // 2 if shift == "half" else size + int(shift)
    if shift == "half" and size % 2:
        chunk = (size + 1) // 2  # the last chunk is one byte short
    monkeypatch.setattr(seal_module, "CHUNK_SIZE", chunk)
    header = seal(plain, recipient[1], tmp_path / "a.sealed")
    assert header.chunks == -(-size // chunk)
    assert open_sealed(tmp_path / "a.sealed", recipient[0]) == plain.read_bytes()


def test_manifest_readable_before_decryption(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    plain, out = sealed
    header = read_sealed_header(out)
    assert read_sealed_manifest(out) == read_manifest(plain)
    assert read_sealed_manifest(out, recipient[0]) == read_manifest(plain)
    assert header.recipient_key_id == recipient[1].key_id
    assert header.recipient_name == "ttp"
    assert header.payload_size == plain.stat().st_size


def test_the_clear_header_holds_no_digest_of_the_content(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    """Every steward holds the provider key: a digest of a small sealed file in the clear header
    could be matched by rebuilding the file for one candidate BSN after another."""
    plain, out = sealed
    start, end, _, _ = _layout(out)
    raw = out.read_bytes()[:end]
    document = json.loads(raw[start:])
    assert document["version"] == 2
    assert "sha256" not in document["payload"]
    content = plain.read_bytes()
    for digest in (hashlib.sha256(content), hashlib.sha512(content), hashlib.blake2b(content)):
        assert digest.hexdigest().encode() not in raw
        assert digest.digest() not in raw
    assert not re.search(
        rb"[0-9a-f]{64}", raw.replace(document["manifest"]["key_fingerprint"].encode(), b"")
    )
    assert not hasattr(read_sealed_header(out), "payload_sha256")
    # the content is still authenticated: a flipped byte in the last chunk is refused
    _flip(out, out.stat().st_size - 1)
    with pytest.raises(InputError, match="authentication failed"):
        open_sealed(out, recipient[0])


def _seal_version_1(plain: Path, recipient: RecipientPublicKey, out: Path) -> None:
    """A sealed file as factlab wrote it with header version 1, ``payload.sha256`` and all."""
    content = plain.read_bytes()
    document = seal_module.SealedHeader(
        manifest=read_manifest(plain),
        recipient_name=recipient.name,
        recipient_key_id=recipient.key_id,
        payload_size=len(content),
        chunk_size=seal_module.CHUNK_SIZE,
        source_name=plain.name,
        sealed_at="2025-01-01T00:00:00Z",
        factlab_version="0.9",
    )._document()
    document["version"] = 1
    document["payload"]["sha256"] = hashlib.sha256(content).hexdigest()
    header_raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    file_key = os.urandom(32)
    wrapped = seal_module._SUITE.encrypt(
        file_key, recipient.x25519(), info=seal_module._wrap_info(header_raw)
    )
    cipher = seal_module.AESGCM(file_key)
    header_digest = hashlib.sha256(header_raw).digest()
    size = seal_module.CHUNK_SIZE
    blocks = [content[i : i + size] for i in range(0, len(content), size)] or [b""]
    chunks = [
        cipher.encrypt(
            seal_module._nonce(counter),
            block,
            seal_module._chunk_aad(header_digest, counter, counter == len(blocks) - 1),
        )
        for counter, block in enumerate(blocks)
    ]
    out.write_bytes(
        MAGIC
        + struct.pack(">I", len(header_raw))
        + header_raw
        + struct.pack(">I", len(wrapped))
        + wrapped
        + b"".join(chunks)
    )


def test_a_version_1_sealed_file_is_still_read(
    tmp_path: Path,
    small_chunks: int,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    plain = _provider_file(tmp_path / "a.parquet", rows=600)
    old = tmp_path / "old.sealed"
    _seal_version_1(plain, recipient[1], old)
    assert read_sealed_manifest(old, recipient[0]) == read_manifest(plain)
    assert open_sealed(old, recipient[0]) == plain.read_bytes()
    unseal(old, recipient[0], tmp_path / "back.parquet")
    assert (tmp_path / "back.parquet").read_bytes() == plain.read_bytes()


def _rewrite_header(path: Path, change: dict[str, object]) -> None:
    """Replace manifest fields in the clear header, keeping the file otherwise intact."""
    data = path.read_bytes()
    start, end, _, _ = _layout(path)
    document = json.loads(data[start:end])
    document["manifest"].update(change)
    raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(MAGIC + struct.pack(">I", len(raw)) + raw + data[end:])


def test_altered_manifest_is_caught(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    _, out = sealed
    _rewrite_header(out, {"rows": 1, "provider": "B"})
    # Unauthenticated reading shows what the header says; with the key the change is caught.
    assert read_sealed_manifest(out).provider == "B"
    with pytest.raises(InputError, match="authentication failed"):
        read_sealed_manifest(out, recipient[0])
    with pytest.raises(InputError, match="authentication failed"):
        unseal(out, recipient[0], out.parent / "back.parquet")
    _only(out.parent, "a.parquet", "a.sealed")


def test_header_manifest_must_match_the_content(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    plain = _provider_file(tmp_path / "a.parquet")
    real = read_manifest(plain)
    # A sealer that puts a manifest in the header that is not the file's own.
    monkeypatch.setattr(seal_module, "read_manifest", lambda _: replace(real, provider="Z"))
    seal(plain, recipient[1], tmp_path / "a.sealed")
    with pytest.raises(InputError, match="does not match the file's own manifest"):
        unseal(tmp_path / "a.sealed", recipient[0], tmp_path / "back.parquet")
    with pytest.raises(InputError, match="does not match the file's own manifest"):
        open_sealed(tmp_path / "a.sealed", recipient[0])
    _only(tmp_path, "a.parquet", "a.sealed")


def _offset(path: Path, where: str) -> int:
    start, end, chunks, count = _layout(path)
    size = path.stat().st_size
    return {
        "magic": 3,
        "header": start + (end - start) // 2,
        "header-length": len(MAGIC) + 3,
        "wrapped-key": end + 4 + 10,
        "first-chunk": chunks + 5,
        "middle-chunk": chunks + (count // 2) * (1024 + 16) + 100,
        "last-tag": size - 1,
    }[where]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("magic", "not a factlab sealed file"),
        ("header", "damaged header|authentication failed|another recipient"),
        ("header-length", "damaged header|truncated"),
        ("wrapped-key", "authentication failed"),
        ("first-chunk", r"authentication failed in chunk 0\b"),
        ("middle-chunk", "authentication failed in chunk"),
        ("last-tag", "authentication failed in chunk"),
    ],
)
def test_tampered_file_refused_and_nothing_written(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
    where: str,
    message: str,
) -> None:
    _, out = sealed
    _flip(out, _offset(out, where))
    with pytest.raises((InputError, KeyFileError), match=message):
        unseal(out, recipient[0], out.parent / "back.parquet")
    _only(out.parent, "a.parquet", "a.sealed")


def test_tampered_header_value_refused(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    _, out = sealed
    data = out.read_bytes()
    # Same length, still valid JSON: only the cryptographic binding can notice.
    changed = data.replace(b'"round":"test-2026"', b'"round":"test-2027"', 1)
    assert changed != data
    out.write_bytes(changed)
    with pytest.raises(InputError, match="authentication failed"):
        unseal(out, recipient[0], out.parent / "back.parquet")
    _only(out.parent, "a.parquet", "a.sealed")


@pytest.mark.parametrize("cut", ["last-chunk", "mid-chunk", "one-byte", "in-header"])
def test_truncated_file_refused(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
    cut: str,
) -> None:
    _, out = sealed
    data = out.read_bytes()
    header = read_sealed_header(out)
    last_chunk = header.payload_size - (header.chunks - 1) * header.chunk_size + 16
    keep = {
        "last-chunk": len(data) - last_chunk,
        "mid-chunk": len(data) - last_chunk - 500,
        "one-byte": len(data) - 1,
        "in-header": len(MAGIC) + 40,
    }[cut]
    out.write_bytes(data[:keep])
    with pytest.raises(InputError, match="truncated"):
        unseal(out, recipient[0], out.parent / "back.parquet")
    with pytest.raises(InputError, match="truncated"):
        open_sealed(out, recipient[0])
    _only(out.parent, "a.parquet", "a.sealed")


def test_reordered_or_extended_file_refused(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    _, out = sealed
    data = out.read_bytes()
    _, _, chunks, _ = _layout(out)
    size = 1024 + 16
    first, second = data[chunks : chunks + size], data[chunks + size : chunks + 2 * size]
    out.write_bytes(data[:chunks] + second + first + data[chunks + 2 * size :])
    with pytest.raises(InputError, match="authentication failed in chunk 0"):
        open_sealed(out, recipient[0])
    out.write_bytes(data + b"\x00" * 16)
    with pytest.raises(InputError, match="data after the last chunk"):
        open_sealed(out, recipient[0])


def test_wrong_recipient_refused(
    sealed: tuple[Path, Path],
) -> None:
    _, out = sealed
    stranger, _ = new_recipient("stranger")
    with pytest.raises(KeyFileError, match="sealed for another recipient"):
        unseal(out, stranger, out.parent / "back.parquet")
    with pytest.raises(KeyFileError, match="sealed for another recipient"):
        read_sealed_manifest(out, stranger)
    # Even a key that claims the right key id cannot open it.
    impostor = RecipientPrivateKey(
        name="ttp", key_id=read_sealed_header(out).recipient_key_id, secret=stranger.secret
    )
    with pytest.raises(InputError, match="authentication failed"):
        unseal(out, impostor, out.parent / "back.parquet")
    _only(out.parent, "a.parquet", "a.sealed")


def test_refuses_non_factlab_input(
    tmp_path: Path, recipient: tuple[RecipientPrivateKey, RecipientPublicKey]
) -> None:
    (tmp_path / "plain.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="not a Parquet file"):
        seal(tmp_path / "plain.parquet", recipient[1], tmp_path / "x.sealed")
    plain = _provider_file(tmp_path / "a.parquet")
    with pytest.raises(InputError, match="not a factlab sealed file"):
        unseal(plain, recipient[0], tmp_path / "back.parquet")
    with pytest.raises(InputError, match="file not found"):
        unseal(tmp_path / "missing.sealed", recipient[0], tmp_path / "back.parquet")
    _only(tmp_path, "plain.parquet", "a.parquet")


def test_unseal_to_temporary_leaves_the_decrypted_file_no_name(
    sealed: tuple[Path, Path],
    tmp_path: Path,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    """On Linux the decrypted file is anonymous: nothing in any folder has its content."""
    if seal_module._anonymous_file(tmp_path) is None:
        pytest.skip("no anonymous files (O_TMPFILE) here")
    plain, out = sealed
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with unseal_to_temporary(out, recipient[0], folder=scratch) as parquet:
        _only(scratch)
        assert pl.read_parquet(parquet).equals(pl.read_parquet(plain))
        assert read_manifest(parquet) == read_manifest(plain)
        assert file_sha256(parquet) == file_sha256(plain)
    assert not parquet.exists()
    _check_refusals_leave_nothing(out, scratch, recipient[0])


@pytest.fixture
def no_anonymous_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a system without O_TMPFILE: the private folder with its sweep is used."""
    monkeypatch.setattr(seal_module, "_anonymous_file", lambda folder: None)


@pytest.mark.usefixtures("no_anonymous_files")
def test_unseal_to_temporary_without_anonymous_files_uses_a_private_folder(
    sealed: tuple[Path, Path],
    tmp_path: Path,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    plain, out = sealed
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with unseal_to_temporary(out, recipient[0], folder=scratch) as parquet:
        assert stat.S_IMODE(parquet.parent.stat().st_mode) == 0o700
        assert parquet.parent.parent == scratch
        assert parquet.parent.name.startswith(f".factlab-unsealed-{os.getpid()}-")
        assert pl.read_parquet(parquet).equals(pl.read_parquet(plain))
    assert not parquet.exists()
    _only(scratch)
    _check_refusals_leave_nothing(out, scratch, recipient[0])


def _check_refusals_leave_nothing(out: Path, scratch: Path, private: RecipientPrivateKey) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        unseal_to_temporary(out, private, folder=scratch),
    ):
        raise RuntimeError("boom")
    _only(scratch)
    stranger, _ = new_recipient("stranger")
    with (
        pytest.raises(KeyFileError, match="another recipient"),
        unseal_to_temporary(out, stranger, folder=scratch),
    ):
        pass
    _only(scratch)
    with (
        pytest.raises(InputError, match="folder to decrypt into does not exist"),
        unseal_to_temporary(out, private, folder=scratch / "missing"),
    ):
        pass


_HOLD_OPEN = """
import sys, time
from factlab.keys import seal
from factlab.keys.recipients import load_recipient_private
if sys.argv[4] == "fallback":
    seal._anonymous_file = lambda folder: None
private = load_recipient_private(sys.argv[2])
with seal.unseal_to_temporary(sys.argv[1], private, folder=sys.argv[3]) as parquet:
    print("ready", flush=True)
    time.sleep(120)
"""


def _killed_while_open(
    sealed: Path, private_file: Path, folder: Path, mode: str, tmpdir: Path
) -> None:
    """Run unseal_to_temporary in another process and kill it (SIGKILL) with the file open."""
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    command = [sys.executable, "-c", _HOLD_OPEN, str(sealed), str(private_file), str(folder), mode]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        finally:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process ids as on POSIX")
@pytest.mark.parametrize("mode", ["anonymous", "fallback"])
def test_a_killed_process_leaves_no_decrypted_file_behind(
    sealed: tuple[Path, Path],
    tmp_path: Path,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """kill -9 while a sealed file is open: no decrypted copy stays (issue 14, defect 8).

    With an anonymous file the kernel frees it at once. Without one, the private folder of the
    dead process is removed by the next decryption into the same folder.
    """
    _, out = sealed
    keys, scratch, tmpdir = tmp_path / "keys", tmp_path / "scratch", tmp_path / "tmpdir"
    for folder in (keys, scratch, tmpdir):
        folder.mkdir()
    private_file, _ = write_recipient(recipient[0], keys)
    if mode == "anonymous" and seal_module._anonymous_file(scratch) is None:
        pytest.skip("no anonymous files (O_TMPFILE) here")
    _killed_while_open(out, private_file, scratch, mode, tmpdir)
    _only(tmpdir)
    if mode == "anonymous":
        _only(scratch)
        return
    (left,) = scratch.iterdir()  # the dead process's private folder, until the next run
    assert left.name.startswith(".factlab-unsealed-")
    monkeypatch.setattr(seal_module, "_anonymous_file", lambda folder: None)
    with unseal_to_temporary(out, recipient[0], folder=scratch) as parquet:
        assert [path.name for path in scratch.iterdir()] == [parquet.parent.name]
    _only(scratch)


@pytest.mark.usefixtures("no_anonymous_files")
def test_the_sweep_keeps_private_folders_of_running_processes(
    sealed: tuple[Path, Path],
    tmp_path: Path,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    _, out = sealed
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    running = scratch / f".factlab-unsealed-{os.getppid()}-abc"  # the parent process runs
    unrelated = scratch / ".factlab-unsealed-notapid"
    for folder in (running, unrelated):
        folder.mkdir()
    with unseal_to_temporary(out, recipient[0], folder=scratch):
        pass
    _only(scratch, running.name, unrelated.name)


# --------------------------------------------------------------------------- CLI


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_new_recipient_seal_unseal(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    env = {"FACTLAB_TEST_PASS": PASSPHRASE}
    code, stdout, _ = _cli(
        [
            "key",
            "new-recipient",
            "ttp",
            "--out-dir",
            str(keys),
            "--passphrase-env",
            "FACTLAB_TEST_PASS",
        ],
        env,
    )
    assert code == 0
    public = load_recipient_public(keys / "ttp.pub")
    assert public.key_id in stdout
    assert stat.S_IMODE((keys / "ttp.recipient.key").stat().st_mode) == 0o600
    assert recipient_is_protected(keys / "ttp.recipient.key")

    plain = _provider_file(tmp_path / "a.parquet")
    out = tmp_path / "a.sealed"
    code, _, stderr = _cli(["seal", str(plain), "--to", str(keys / "ttp.pub"), "--out", str(out)])
    assert code == 0, stderr
    assert read_sealed_header(out).recipient_key_id == public.key_id

    back = tmp_path / "back.parquet"
    args = ["unseal", str(out), "--recipient", str(keys / "ttp.recipient.key"), "--out", str(back)]
    code, _, stderr = _cli([*args, "--passphrase-env", "FACTLAB_TEST_PASS"], env)
    assert code == 0, stderr
    assert back.read_bytes() == plain.read_bytes()

    events = read_audit_log(tmp_path / "factlab-audit.jsonl")
    assert [e["command"] for e in events] == ["seal", "unseal"]
    assert events[0]["inputs"] == [{"path": str(plain), "sha256": file_sha256(plain)}]
    assert events[0]["outputs"] == [{"path": str(out), "sha256": file_sha256(out)}]
    assert events[1]["outputs"] == [{"path": str(back), "sha256": file_sha256(plain)}]
    assert all(e["key_fingerprint"] == "aaaa-bbbb-cccc-dddd-eeee" for e in events)
    assert events[1]["details"]["recipient_key_id"] == public.key_id
    key_events = read_audit_log(keys / "factlab-audit.jsonl")
    assert key_events[0]["command"] == "key new-recipient"
    assert key_events[0]["outputs"][0] == {"path": str(keys / "ttp.recipient.key"), "sha256": None}


def test_cli_refusals_exit_non_zero_and_write_nothing(tmp_path: Path) -> None:
    env = {"FACTLAB_TEST_PASS": PASSPHRASE, "WRONG_PASS": "not the passphrase"}
    code, _, _ = _cli(
        [
            "key",
            "new-recipient",
            "ttp",
            "--out-dir",
            str(tmp_path),
            "--passphrase-env",
            "FACTLAB_TEST_PASS",
        ],
        env,
    )
    assert code == 0
    code, _, stderr = _cli(["key", "new-recipient", "ttp", "--out-dir", str(tmp_path)])
    assert code == KeyFileError.exit_code
    assert "file exists" in stderr
    code, _, _ = _cli(["key", "new-recipient", "ttp", "--out-dir", str(tmp_path), "--force"])
    assert code == 0
    assert not recipient_is_protected(tmp_path / "ttp.recipient.key")

    plain = _provider_file(tmp_path / "a.parquet")
    out = tmp_path / "a.sealed"
    assert _cli(["seal", str(plain), "--to", str(tmp_path / "ttp.pub"), "--out", str(out)])[0] == 0
    _flip(out, out.stat().st_size - 1)
    back = tmp_path / "back.parquet"
    key = str(tmp_path / "ttp.recipient.key")
    code, _, stderr = _cli(["unseal", str(out), "--recipient", key, "--out", str(back)])
    assert code == InputError.exit_code
    assert "damaged or tampered (authentication failed" in stderr
    assert not back.exists()

    path, _ = write_recipient(new_recipient("locked")[0], tmp_path, passphrase=PASSPHRASE)
    code, _, stderr = _cli(
        [
            "unseal",
            str(out),
            "--recipient",
            str(path),
            "--out",
            str(back),
            "--passphrase-env",
            "WRONG_PASS",
        ],
        env,
    )
    assert code == KeyFileError.exit_code
    assert "wrong passphrase or damaged key file" in stderr
    assert not back.exists()

    events = read_audit_log(tmp_path / "factlab-audit.jsonl")
    outcomes = [(e["command"], e["outcome"], (e["error"] or {}).get("class")) for e in events]
    assert outcomes == [
        ("key new-recipient", "ok", None),
        ("key new-recipient", "error", "KeyFileError"),
        ("key new-recipient", "ok", None),
        ("seal", "ok", None),
        ("unseal", "error", "InputError"),
        ("unseal", "error", "KeyFileError"),
    ]
    assert all(e["outputs"] == [] for e in events if e["outcome"] == "error")


def test_cli_audit_log_holds_no_secret(tmp_path: Path) -> None:
    env = {"FACTLAB_TEST_PASS": PASSPHRASE}
    log = tmp_path / "audit.jsonl"
    base = ["--audit-log", str(log)]
    _cli(
        [
            "key",
            "new-recipient",
            "ttp",
            "--out-dir",
            str(tmp_path),
            "--passphrase-env",
            "FACTLAB_TEST_PASS",
            *base,
        ],
        env,
    )
    plain = _provider_file(tmp_path / "a.parquet")
    out = tmp_path / "a.sealed"
    _cli(["seal", str(plain), "--to", str(tmp_path / "ttp.pub"), "--out", str(out), *base])
    key = str(tmp_path / "ttp.recipient.key")
    for passphrase_var in ("FACTLAB_TEST_PASS", "UNSET_VARIABLE"):
        _cli(
            [
                "unseal",
                str(out),
                "--recipient",
                key,
                "--out",
                str(tmp_path / f"b{len(passphrase_var)}.parquet"),
                "--passphrase-env",
                passphrase_var,
                *base,
            ],
            env,
        )
    private = load_recipient_private(key, PASSPHRASE)
    raw = private.secret.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    text = log.read_bytes()
    assert len(read_audit_log(log)) == 4
    for secret in (PASSPHRASE.encode(), raw, raw.hex().encode(), base64.b64encode(raw)):
        assert secret not in text
    pseudonyms = pl.read_parquet(plain)[schema.PSEUDONYM].unique().to_list()
    assert not any(p.encode() in text for p in pseudonyms)
    # neither the variable's value nor its name (which may be a mistyped passphrase) is recorded
    assert b"FACTLAB_TEST_PASS" not in text
    given = [
        e["arguments"]["passphrase_env"] for e in read_audit_log(log) if e["command"] != "seal"
    ]
    assert given == [True, True, True]  # recorded as given, nothing more


def test_cli_passphrase_is_never_a_command_line_value(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["key", "new-recipient", "ttp", "--out-dir", str(tmp_path), "--passphrase", "x"]
    )
    assert result.exit_code != 0
    assert not (tmp_path / "ttp.recipient.key").exists()


# --------------------------------------------------------------------------- damaged inputs


@pytest.mark.parametrize(
    ("field", "value"),
    [("rows", "1500"), ("rows_by_status", "x"), ("field_issues", [1]), ("provider", 5)],
)
def test_seal_refuses_a_forged_manifest(
    tmp_path: Path,
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
    field: str,
    value: object,
) -> None:
    """One InputError naming the file and the field (issue 14, defect 18)."""
    import pyarrow.parquet as pq

    plain = _provider_file(tmp_path / "a.parquet")
    document = json.loads(pq.ParquetFile(plain).metadata.metadata[schema.MANIFEST_KEY.encode()])
    document[field] = value
    metadata = {schema.MANIFEST_KEY.encode(): json.dumps(document).encode()}
    pq.write_table(pq.read_table(plain).replace_schema_metadata(metadata), plain)
    with pytest.raises(InputError, match=rf"a\.parquet: damaged factlab manifest: {field} must"):
        seal(plain, recipient[1], tmp_path / "a.sealed")
    _only(tmp_path, "a.parquet")


def test_a_forged_manifest_in_a_clear_header_is_refused(
    sealed: tuple[Path, Path],
    recipient: tuple[RecipientPrivateKey, RecipientPublicKey],
) -> None:
    _, out = sealed
    data = out.read_bytes()
    assert data.count(b'"rows":600') == 1
    out.write_bytes(data.replace(b'"rows":600', b'"rows":"6"'))  # same length
    for private in (None, recipient[0]):
        with pytest.raises(InputError, match="damaged factlab manifest: rows must be"):
            read_sealed_manifest(out, private)


def test_seal_refuses_a_file_corrupted_in_the_middle(
    tmp_path: Path, recipient: tuple[RecipientPrivateKey, RecipientPublicKey]
) -> None:
    """A damaged data page is found before the delivery, not by the trusted party."""
    plain = _provider_file(tmp_path / "a.parquet", rows=2000)
    data = bytearray(plain.read_bytes())
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    middle = footer_start // 2
    data[middle - 128 : middle + 128] = bytes(b ^ 0xFF for b in data[middle - 128 : middle + 128])
    plain.write_bytes(bytes(data))
    with pytest.raises(
        InputError, match=r"a\.parquet: cannot be read: the Parquet file is damaged"
    ):
        seal(plain, recipient[1], tmp_path / "a.sealed")
    _only(tmp_path, "a.parquet")


def test_seal_and_unseal_never_write_over_their_input(tmp_path: Path) -> None:
    # issue 14.6: `unseal A.sealed --out A.sealed` replaced a sealed delivery by plaintext
    private, public = new_recipient("ttp")
    plain = _provider_file(tmp_path / "a.parquet")
    sealed = tmp_path / "a.sealed"
    seal(plain, public, sealed)
    before = {path: path.read_bytes() for path in (plain, sealed)}
    with pytest.raises(InputError, match="is also an input"):
        seal(plain, public, plain)
    with pytest.raises(InputError, match="is also an input"):
        unseal(sealed, private, sealed)
    assert {path: path.read_bytes() for path in (plain, sealed)} == before
