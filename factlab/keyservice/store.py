"""What a key service remembers, in SQLite: providers' tokens (hashed), quotas, usage, audit.

One database file per service. Tokens are 256-bit random strings issued by the trusted party
(:func:`issue_token`); only their SHA-256 is stored, so the database does not let anyone
authenticate. Each provider has a quota per round, the number of blinded elements the service
will evaluate for it (e.g. 1.5 × its expected distinct clients); every evaluation is charged
before it is made, in one transaction, so concurrent batches cannot overrun it, and usage
survives a restart. A retried batch (same batch id, same elements) is not charged twice.
Refusals are written to the audit table with the provider (when known), the reason and the
number of elements, never an element, a token or the share.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from factlab.errors import ConfigError
from factlab.manifest import now_iso

__all__ = ["Charge", "Store", "issue_token", "token_digest"]

_PROVIDER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS tokens (
    provider TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, issued TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quotas (
    provider TEXT NOT NULL, round TEXT NOT NULL, quota INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (provider, round)
);
CREATE TABLE IF NOT EXISTS batches (
    provider TEXT NOT NULL, round TEXT NOT NULL, batch TEXT NOT NULL,
    elements_sha256 TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (provider, round, batch)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, provider TEXT,
    event TEXT NOT NULL, elements INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT ''
);
"""


def token_digest(token: str) -> str:
    """SHA-256 of a token (hex): a 256-bit random token needs no slow hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token() -> str:
    """A new bearer token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Charge:
    """The outcome of charging a batch: allowed or not, and why not."""

    allowed: bool
    reason: str = ""
    used: int = 0
    quota: int = 0


class Store:
    """A key service's SQLite database (tokens, quotas, usage, batches, audit).

    Safe to share between the threads of one server: every statement runs under one lock and
    every charge in one transaction.

    Example:
        >>> import tempfile, pathlib
        >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "service.sqlite")
        >>> token = store.add_provider("P01")
        >>> store.set_quota("P01", "2026", 3)
        >>> store.provider_for(token)
        'P01'
        >>> store.charge("P01", "2026", "b1", "d1", 2).allowed
        True
        >>> store.charge("P01", "2026", "b2", "d2", 2).reason
        'quota'
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def add_provider(self, provider: str, *, replace: bool = False) -> str:
        """Issue a provider's token (returned once, stored hashed); ``replace`` revokes the old."""
        if not _PROVIDER.fullmatch(provider):
            raise ConfigError("--provider", ["1-64 letters, digits, '_', '.' or '-'"])
        token = issue_token()
        with self._lock:
            known = self._db.execute(
                "SELECT 1 FROM tokens WHERE provider = ?", (provider,)
            ).fetchone()
            if known and not replace:
                raise ConfigError(
                    "--provider", [f"{provider} has a token already (a new one: --replace)"]
                )
            self._db.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)",
                (provider, token_digest(token), now_iso()),
            )
            self._audit(provider, "token-issued", 0, "replaced" if known else "")
        return token

    def provider_for(self, token: str) -> str | None:
        """The provider a token was issued to, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT provider FROM tokens WHERE token_sha256 = ?", (token_digest(token),)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_quota(self, provider: str, round_name: str, quota: int) -> None:
        """Set a provider's quota for a round (usage so far is kept)."""
        if not _PROVIDER.fullmatch(provider):
            raise ConfigError("--provider", ["1-64 letters, digits, '_', '.' or '-'"])
        if type(quota) is not int or quota < 0:
            raise ConfigError("--quota", ["a whole number of at least 0"])
        with self._lock:
            self._db.execute(
                "INSERT INTO quotas (provider, round, quota) VALUES (?, ?, ?) "
                "ON CONFLICT (provider, round) DO UPDATE SET quota = excluded.quota",
                (provider, round_name, quota),
            )
            self._audit(provider, "quota-set", quota, f"round={round_name}")

    def usage(self, provider: str, round_name: str) -> tuple[int, int] | None:
        """(used, quota) of a provider in a round, or None when it has no quota there."""
        with self._lock:
            row = self._db.execute(
                "SELECT used, quota FROM quotas WHERE provider = ? AND round = ?",
                (provider, round_name),
            ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def charge(self, provider: str, round_name: str, batch: str, digest: str, count: int) -> Charge:
        """Charge ``count`` evaluations to the provider's quota, in one transaction.

        A batch id seen before with the same elements (a retry after a lost answer) is not
        charged again; with other elements it is refused (``batch-reused``).
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                charge = self._charge(provider, round_name, batch, digest, count)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if not charge.allowed:
            self.audit(provider, f"refused-{charge.reason}", count)
        return charge

    def _charge(
        self, provider: str, round_name: str, batch: str, digest: str, count: int
    ) -> Charge:
        row = self._db.execute(
            "SELECT used, quota FROM quotas WHERE provider = ? AND round = ?",
            (provider, round_name),
        ).fetchone()
        if row is None:
            return Charge(False, "no-quota")
        used, quota = int(row[0]), int(row[1])
        seen = self._db.execute(
            "SELECT elements_sha256 FROM batches WHERE provider = ? AND round = ? AND batch = ?",
            (provider, round_name, batch),
        ).fetchone()
        if seen is not None:
            if seen[0] != digest:
                return Charge(False, "batch-reused", used, quota)
            return Charge(True, "retry", used, quota)
        if used + count > quota:
            return Charge(False, "quota", used, quota)
        self._db.execute(
            "UPDATE quotas SET used = used + ? WHERE provider = ? AND round = ?",
            (count, provider, round_name),
        )
        self._db.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
            (provider, round_name, batch, digest, count),
        )
        return Charge(True, "", used + count, quota)

    def audit(self, provider: str | None, event: str, elements: int = 0, detail: str = "") -> None:
        """Write one audit line (never an element, token or share)."""
        with self._lock:
            self._audit(provider, event, elements, detail)

    def _audit(self, provider: str | None, event: str, elements: int, detail: str) -> None:
        self._db.execute(
            "INSERT INTO audit (time, provider, event, elements, detail) VALUES (?, ?, ?, ?, ?)",
            (now_iso(), provider, event, elements, detail),
        )

    def audit_lines(self) -> list[tuple[str, str | None, str, int, str]]:
        """Every audit line, oldest first: (time, provider, event, elements, detail)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time, provider, event, elements, detail FROM audit ORDER BY id"
            ).fetchall()
        return [(str(t), p, str(e), int(n), str(d)) for t, p, e, n, d in rows]
