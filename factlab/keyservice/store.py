"""What a key service remembers, in SQLite: providers' tokens (hashed), quotas, usage, audit.

One database file per service (mode 0600). Tokens are 256-bit random strings that each
provider's steward makes itself (:func:`issue_token`, ``factlab keyserver token
--new-for-steward``); the operator registers only their SHA-256 (:meth:`Store.register_token`),
so neither the operator's database nor anyone who handled the digest can authenticate. Each
provider has a quota per round, set by the service's operator: the number of blinded elements
the service will evaluate for it (e.g. 1.5 × its expected distinct clients); every evaluation is
charged before it is made, in one transaction, so concurrent batches cannot overrun it, and usage
survives a restart. A retried batch (same batch id, same elements) is not charged twice, but is
audited (``retry``) and allowed at most :data:`MAX_REPLAYS` times.

The audit table holds a line for every charge (``evaluated``: time, provider, count, batch),
every replay (``retry``), every refund of a batch whose evaluation refused an element
(``refunded``), every refusal (provider, reason, number of elements), tokens
registered and quotas set, never an element, a token or the share. Requests without a valid
token are counted per client address and minute in one line (``refused-token``), so a flood of
them cannot grow the database by a row a request.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from factlab.errors import ConfigError
from factlab.manifest import now_iso

__all__ = ["MAX_REPLAYS", "Charge", "Store", "issue_token", "token_digest"]

#: How often one batch may be replayed (a retry after a lost answer) before it is refused.
MAX_REPLAYS: Final = 5
_PROVIDER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: A round's name: the rule of a key share's round (factlab.keys.shares).
_ROUND: Final = re.compile(r"[^|]{1,100}")
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
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
    elements_sha256 TEXT NOT NULL, count INTEGER NOT NULL, time TEXT NOT NULL DEFAULT '',
    replays INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (provider, round, batch)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, provider TEXT,
    event TEXT NOT NULL, elements INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_event_time ON audit (event, time);
"""
#: Columns added after the first release, for databases made before them.
_ADDED: Final = {"batches": ("time TEXT NOT NULL DEFAULT ''", "replays INTEGER NOT NULL DEFAULT 0")}


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
        # made 0600 before SQLite opens it (its -wal and -shm files take the same mode)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        for table, columns in _ADDED.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def add_provider(self, provider: str, *, replace: bool = False) -> str:
        """Make a provider's token here and register it (tests, benchmarks, one-organisation use).

        The operator then knows the token. In a round the steward makes its own token and the
        operator registers only its digest (:meth:`register_token`).
        """
        token = issue_token()
        self.register_token(provider, token_digest(token), replace=replace)
        return token

    def register_token(self, provider: str, sha256: str, *, replace: bool = False) -> None:
        """Register the SHA-256 (hex) of a token the provider's steward made; ``replace``
        revokes the provider's old token."""
        if not isinstance(provider, str) or not _PROVIDER.fullmatch(provider):
            raise ConfigError("--provider", ["1-64 letters, digits, '_', '.' or '-'"])
        digest = sha256.strip().lower() if isinstance(sha256, str) else ""
        if not _DIGEST.fullmatch(digest):
            raise ConfigError("--sha256", ["64 hex characters: the SHA-256 the steward printed"])
        with self._lock:
            known = self._db.execute(
                "SELECT 1 FROM tokens WHERE provider = ?", (provider,)
            ).fetchone()
            if known and not replace:
                raise ConfigError(
                    "--provider", [f"{provider} has a token already (a new one: --replace)"]
                )
            taken = self._db.execute(
                "SELECT provider FROM tokens WHERE token_sha256 = ?", (digest,)
            ).fetchone()
            if taken is not None and taken[0] != provider:
                raise ConfigError("--sha256", ["this token is registered for another provider"])
            self._db.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?)", (provider, digest, now_iso())
            )
            self._audit(provider, "token-registered", 0, "replaced" if known else "")

    def provider_for(self, token: str) -> str | None:
        """The provider a token was issued to, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT provider FROM tokens WHERE token_sha256 = ?", (token_digest(token),)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_quota(self, provider: str, round_name: str, quota: int) -> None:
        """Set a provider's quota for a round (usage so far is kept).

        The round's name is stripped, as a share's is (``keyserver init``), and must follow the
        same rule, so a quota set for ``" 2026"`` counts in round ``2026``.
        """
        problems = []
        if not isinstance(provider, str) or not _PROVIDER.fullmatch(provider):
            problems.append("--provider: 1-64 letters, digits, '_', '.' or '-'")
        round_name = round_name.strip() if isinstance(round_name, str) else ""
        if not _ROUND.fullmatch(round_name):
            problems.append("--round: 1-100 characters without '|'")
        if type(quota) is not int or quota < 0:
            problems.append("--quota: a whole number of at least 0")
        if problems:
            raise ConfigError("quota", problems)
        with self._lock:
            self._db.execute(
                "INSERT INTO quotas (provider, round, quota) VALUES (?, ?, ?) "
                "ON CONFLICT (provider, round) DO UPDATE SET quota = excluded.quota",
                (provider, round_name, quota),
            )
            self._audit(provider, "quota-set", quota, f"round={round_name}")

    def rounds(self) -> set[str]:
        """The rounds this database has quotas or charged batches for."""
        with self._lock:
            rows = self._db.execute(
                "SELECT round FROM quotas UNION SELECT round FROM batches"
            ).fetchall()
        return {str(row[0]) for row in rows}

    def usage_table(self) -> list[tuple[str, str, int, int, int, int]]:
        """Every provider's quota and usage, for the reconciliation after a round: (provider,
        round, used, quota, batches charged, replays), by round and provider.

        Example:
            >>> import tempfile, pathlib
            >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "service.sqlite")
            >>> store.set_quota("P01", "2026", 10)
            >>> store.charge("P01", "2026", "batch-01", "d1", 4).allowed
            True
            >>> store.usage_table()
            [('P01', '2026', 4, 10, 1, 0)]
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT q.provider, q.round, q.used, q.quota, COUNT(b.batch), "
                "COALESCE(SUM(b.replays), 0) FROM quotas q LEFT JOIN batches b "
                "ON b.provider = q.provider AND b.round = q.round "
                "GROUP BY q.provider, q.round ORDER BY q.round, q.provider"
            ).fetchall()
        return [(str(p), str(r), int(u), int(q), int(n), int(x)) for p, r, u, q, n, x in rows]

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
            "SELECT elements_sha256, replays FROM batches "
            "WHERE provider = ? AND round = ? AND batch = ?",
            (provider, round_name, batch),
        ).fetchone()
        if seen is not None:
            if seen[0] != digest:
                return Charge(False, "batch-reused", used, quota)
            replays = int(seen[1])
            if replays >= MAX_REPLAYS:
                return Charge(False, "replays", used, quota)
            self._db.execute(
                "UPDATE batches SET replays = replays + 1 WHERE provider = ? AND round = ? "
                "AND batch = ?",
                (provider, round_name, batch),
            )
            self._audit(provider, "retry", count, f"batch={batch} replay={replays + 1}")
            return Charge(True, "retry", used, quota)
        if used + count > quota:
            return Charge(False, "quota", used, quota)
        self._db.execute(
            "UPDATE quotas SET used = used + ? WHERE provider = ? AND round = ?",
            (count, provider, round_name),
        )
        self._db.execute(
            "INSERT INTO batches (provider, round, batch, elements_sha256, count, time) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (provider, round_name, batch, digest, count, now_iso()),
        )
        self._audit(provider, "evaluated", count, f"batch={batch} used={used + count}/{quota}")
        return Charge(True, "", used + count, quota)

    def refund(self, provider: str, round_name: str, batch: str, digest: str) -> bool:
        """Give back the charge of a batch that was not evaluated after all (the evaluation
        refused an element), in one transaction; False when no such charge is recorded (a
        concurrent retry of it was refunded already).

        Example:
            >>> import tempfile, pathlib
            >>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "service.sqlite")
            >>> _ = store.add_provider("P01")
            >>> store.set_quota("P01", "2026", 3)
            >>> store.charge("P01", "2026", "b1", "d1", 2).used
            2
            >>> store.refund("P01", "2026", "b1", "d1"), store.usage("P01", "2026")
            (True, (0, 3))
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT count FROM batches WHERE provider = ? AND round = ? AND batch = ? "
                    "AND elements_sha256 = ?",
                    (provider, round_name, batch, digest),
                ).fetchone()
                if row is not None:
                    self._db.execute(
                        "DELETE FROM batches WHERE provider = ? AND round = ? AND batch = ?",
                        (provider, round_name, batch),
                    )
                    self._db.execute(
                        "UPDATE quotas SET used = MAX(0, used - ?) "
                        "WHERE provider = ? AND round = ?",
                        (int(row[0]), provider, round_name),
                    )
                    self._audit(provider, "refunded", int(row[0]), f"batch={batch}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return row is not None

    def audit(self, provider: str | None, event: str, elements: int = 0, detail: str = "") -> None:
        """Write one audit line (never an element, token or share)."""
        with self._lock:
            self._audit(provider, event, elements, detail)

    def _audit(self, provider: str | None, event: str, elements: int, detail: str) -> None:
        self._db.execute(
            "INSERT INTO audit (time, provider, event, elements, detail) VALUES (?, ?, ?, ?, ?)",
            (now_iso(), provider, event, elements, detail),
        )

    def refused_token(self, client: str) -> bool:
        """Count a request without a valid token from ``client`` (its address): one audit line
        per client address and minute, whatever the number of requests. True when this request
        began the line (the first of its client in this minute)."""
        minute = now_iso()[:16] + ":00+00:00"  # the minute's start
        detail = f"client={client[:64]}"
        with self._lock:
            updated = self._db.execute(
                "UPDATE audit SET elements = elements + 1 WHERE event = 'refused-token' "
                "AND time = ? AND detail = ?",
                (minute, detail),
            ).rowcount
            if not updated:
                self._db.execute(
                    "INSERT INTO audit (time, provider, event, elements, detail) "
                    "VALUES (?, NULL, 'refused-token', 1, ?)",
                    (minute, detail),
                )
        return not updated

    def audit_lines(self) -> list[tuple[str, str | None, str, int, str]]:
        """Every audit line, oldest first: (time, provider, event, elements, detail)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time, provider, event, elements, detail FROM audit ORDER BY id"
            ).fetchall()
        return [(str(t), p, str(e), int(n), str(d)) for t, p, e, n, d in rows]
