"""Shared fixtures of the steward's-flow tests (keys, BSNs from the test range, exports on disk).

Every BSN here lies in 999900000–999999999 and passes the elfproef: numbers set aside for tests,
never a real person's.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from factlab.keys.round_keys import Key, new_round_key, write_key

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: ``--doctest-modules`` would collect every conftest.py as a module named ``conftest``; the
#: folders' own conftest files (tests/app, tests/keyservice) then clash with this one. Their
#: fixtures still load: ignoring a file for collection does not stop it from being a conftest.
collect_ignore_glob = ["conftest.py", "*/conftest.py"]

#: Proef-valid numbers of the test range named in DOMAIN.md, used as fixed examples.
KNOWN_TEST_BSNS = ("999993653", "999991723", "999995078")


def plain_elfproef(digits: str) -> bool:
    """The BSN elfproef in plain Python: 9·d1 + … + 2·d8 − 1·d9 ≡ 0 (mod 11)."""
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def _test_range_bsns() -> tuple[str, ...]:
    # 999999999 (the "unborn child" sentinel) fails the proef, so it is not among them
    numbers = (str(n) for n in range(999_900_000, 1_000_000_000))
    return tuple(n for n in numbers if plain_elfproef(n))


TEST_RANGE_BSNS = _test_range_bsns()


@pytest.fixture(scope="session")
def test_bsns() -> tuple[str, ...]:
    """Every proef-valid, non-sentinel number of the test range (9,091 of them)."""
    return TEST_RANGE_BSNS


@pytest.fixture(scope="session")
def vector_key() -> Key:
    """The round key of docs/scheme.md's test vectors (secret 00 01 … 1f)."""
    return Key(
        kind="round",
        round="vector-2026",
        key_id="0" * 16,
        created="2026-01-01T00:00:00+00:00",
        _secret=bytes(range(32)),
    )


@pytest.fixture
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id parameters for new passphrase-protected files (they are stored in the file,
    so loading still reads them from there)."""
    monkeypatch.setattr("factlab.keys._keyfile.MEMORY_KIB", 1024)
    monkeypatch.setattr("factlab.keys._keyfile.ITERATIONS", 1)


@pytest.fixture(scope="session")
def round_key() -> Key:
    """A random round key shared by the tests of one session."""
    return new_round_key("test-2026")


@dataclass(frozen=True)
class KeyFiles:
    """A round key with its provider and link keys on disk (none passphrase-protected)."""

    key: Key
    round: Path
    provider: Path
    link: Path


@pytest.fixture
def key_files(tmp_path: Path, round_key: Key) -> KeyFiles:
    folder = tmp_path / "keys"
    folder.mkdir()
    files = KeyFiles(
        key=round_key,
        round=folder / "round.key",
        provider=folder / "provider.key",
        link=folder / "link.key",
    )
    write_key(round_key, files.round)
    write_key(round_key.provider_key(), files.provider)
    write_key(round_key.link_key(), files.link)
    return files


def secret_forms(key: Key) -> list[str]:
    """Every text form in which a secret of ``key`` (or one of its subkeys) could leak."""
    secrets = [
        key._secret,
        key.provider_key()._secret,
        key.link_key()._secret,
        key.pseudonym_key("bsn"),
        key.pseudonym_key("fallback"),
        key.stage2_key("bsn"),
        key.stage2_key("fallback"),
    ]
    forms: list[str] = []
    for secret in secrets:
        forms += [
            secret.hex(),
            secret.hex().upper(),
            base64.b64encode(secret).decode(),
            base64.urlsafe_b64encode(secret).decode().rstrip("="),
        ]
    return forms


@pytest.fixture(scope="session")
def key_secret_forms() -> Callable[[Key], list[str]]:
    """``forms(key)``: hex and base64 of the key's secret and of all its subkeys."""
    return secret_forms


@pytest.fixture
def write_export(tmp_path: Path) -> Callable[..., Path]:
    """``write_export(name, lines, encoding="utf-8", newline="\\n")`` writes a text export."""

    def write(name: str, lines: list[str], *, encoding: str = "utf-8", newline: str = "\n") -> Path:
        path = tmp_path / name
        path.write_bytes((newline.join(lines) + newline).encode(encoding))
        return path

    return write


@pytest.fixture(autouse=True)
def audit_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's audit lines go to a log of its own, outside the folders it inspects.

    Commands otherwise write ``factlab-audit.jsonl`` beside their output; tests that check "no
    file is left behind" would then see the log. Tests of the default placement unset the variable.
    """
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    monkeypatch.setenv("FACTLAB_AUDIT_LOG", str(path))
    return path


@pytest.fixture
def full_disk_log(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """An audit log on a full disk: it opens for appending, then writing a line fails (ENOSPC).

    ``/dev/full`` did this until the log had to be a regular file (a device would swallow lines).
    """
    import errno
    import os

    path = tmp_path_factory.mktemp("full") / "audit.jsonl"
    path.touch()
    write = os.write

    def full(descriptor: int, data: bytes) -> int:
        if os.fstat(descriptor).st_ino == path.stat().st_ino:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(descriptor, data)

    monkeypatch.setattr(os, "write", full)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Debian Chromium under Playwright, shared by the session's browser tests
    (skipped, with the reason, where Chromium or Playwright is missing)."""
    from browser_helpers import launch

    try:
        with launch() as launched:
            yield launched
    except LookupError as missing:
        pytest.skip(str(missing))
