"""SQLite persistence for the emulator: orgs, roles and keys (token digests only, never tokens).

One connection serves every thread behind a lock. The emulator's writes are tiny, so serialising them
costs little and rules out "database is locked" errors under concurrent requests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roles (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    rank INTEGER NOT NULL,
    permissions TEXT NOT NULL,
    UNIQUE (org_id, key)
);
CREATE TABLE IF NOT EXISTS api_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    role_key TEXT NOT NULL,
    scopes TEXT NOT NULL,
    token_digest TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_by_digest ON api_keys (token_digest);
CREATE INDEX IF NOT EXISTS api_keys_by_org ON api_keys (org_id, revoked_at);
CREATE TABLE IF NOT EXISTS emulator_settings (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_CLOCK_OFFSET = "clock_offset_micros"


@dataclass(frozen=True)
class OrgRow:
    """An organization."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class RoleRow:
    """One of an org's roles."""

    id: str
    org_id: str
    key: str
    name: str
    rank: int
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class KeyRow:
    """An API key as stored: the digest of its token, never the token."""

    id: str
    org_id: str
    name: str
    role_key: str
    scopes: tuple[str, ...]
    token_digest: str
    key_prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _to_micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return round(moment.timestamp() * 1_000_000)


def _from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _required_time(value: int) -> datetime:
    moment = _from_micros(value)
    assert moment is not None
    return moment


class Store:
    """Thread-safe SQLite storage; ``path`` may be ``":memory:"``."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._connection.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA synchronous = NORMAL")
        self._connection.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._connection.close()

    # -- orgs and roles -------------------------------------------------------------------------

    def insert_org(self, org: OrgRow, roles: list[RoleRow]) -> None:
        """Add an org together with its roles."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)",
                (org.id, org.name, _to_micros(org.created_at)),
            )
            db.executemany(
                "INSERT INTO roles (id, org_id, key, name, rank, permissions) VALUES (?, ?, ?, ?, ?, ?)",
                [(r.id, r.org_id, r.key, r.name, r.rank, json.dumps(list(r.permissions))) for r in roles],
            )

    def first_org(self) -> OrgRow | None:
        """The org created first, if any."""
        rows = self._query("SELECT id, name, created_at FROM orgs ORDER BY rowid LIMIT 1")
        return self._org(rows[0]) if rows else None

    def org(self, org_id: str) -> OrgRow:
        """An org by id; the caller has already proved it exists."""
        rows = self._query("SELECT id, name, created_at FROM orgs WHERE id = ?", (org_id,))
        return self._org(rows[0])

    @staticmethod
    def _org(row: Any) -> OrgRow:
        org_id, name, created_at = row
        return OrgRow(org_id, name, _required_time(created_at))

    def roles(self, org_id: str) -> list[RoleRow]:
        """An org's roles, lowest rank first."""
        rows = self._query(
            "SELECT id, org_id, key, name, rank, permissions FROM roles WHERE org_id = ? ORDER BY rank",
            (org_id,),
        )
        return [self._role(row) for row in rows]

    def role_by_key(self, org_id: str, key: str) -> RoleRow:
        """One role of an org by its stable key."""
        rows = self._query(
            "SELECT id, org_id, key, name, rank, permissions FROM roles WHERE org_id = ? AND key = ?",
            (org_id, key),
        )
        return self._role(rows[0])

    @staticmethod
    def _role(row: Any) -> RoleRow:
        role_id, org_id, key, name, rank, permissions = row
        return RoleRow(role_id, org_id, key, name, rank, tuple(json.loads(permissions)))

    # -- keys -----------------------------------------------------------------------------------

    _KEY_COLUMNS = (
        "id, org_id, name, role_key, scopes, token_digest, key_prefix, created_at, expires_at, revoked_at, last_used_at"
    )

    def insert_key(self, key: KeyRow) -> None:
        """Add a key."""
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO api_keys ({self._KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - values are bound
                (
                    key.id,
                    key.org_id,
                    key.name,
                    key.role_key,
                    json.dumps(list(key.scopes)),
                    key.token_digest,
                    key.key_prefix,
                    _to_micros(key.created_at),
                    _to_micros(key.expires_at),
                    _to_micros(key.revoked_at),
                    _to_micros(key.last_used_at),
                ),
            )

    def keys_by_digest(self, token_digest: str) -> list[KeyRow]:
        """Every key stored under a token digest, newest first."""
        rows = self._query(
            f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE token_digest = ? ORDER BY seq DESC",  # noqa: S608 - values are bound
            (token_digest,),
        )
        return [self._key(row) for row in rows]

    def active_keys(self, org_id: str) -> list[KeyRow]:
        """An org's unrevoked keys, newest first (ties broken by creation order)."""
        rows = self._query(
            f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE org_id = ? AND revoked_at IS NULL "  # noqa: S608 - values are bound
            "ORDER BY created_at DESC, seq DESC",
            (org_id,),
        )
        return [self._key(row) for row in rows]

    def touch_key(self, key_id: str, moment: datetime) -> None:
        """Record that a key authenticated a request."""
        with self._transaction() as db:
            db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (_to_micros(moment), key_id))

    def revoke_key(self, org_id: str, key_id: str, moment: datetime) -> bool:
        """Revoke an active key of an org; False when there is none to revoke."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
                (_to_micros(moment), key_id, org_id),
            )
            return cursor.rowcount == 1

    @staticmethod
    def _key(row: Any) -> KeyRow:
        (key_id, org_id, name, role_key, scopes, digest, prefix, created, expires, revoked, used) = row
        return KeyRow(
            id=key_id,
            org_id=org_id,
            name=name,
            role_key=role_key,
            scopes=tuple(json.loads(scopes)),
            token_digest=digest,
            key_prefix=prefix,
            created_at=_required_time(created),
            expires_at=_from_micros(expires),
            revoked_at=_from_micros(revoked),
            last_used_at=_from_micros(used),
        )

    # -- the emulator's own settings ------------------------------------------------------------

    def clock_offset(self) -> timedelta:
        """How far the emulated clock was advanced, as last saved (zero for a new database)."""
        rows = self._query("SELECT value FROM emulator_settings WHERE name = ?", (_CLOCK_OFFSET,))
        return timedelta(microseconds=rows[0][0]) if rows else timedelta()

    def save_clock_offset(self, offset: timedelta) -> None:
        """Remember the clock's offset, so that a restart on this database keeps the emulated time."""
        micros = offset // timedelta(microseconds=1)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO emulator_settings (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (_CLOCK_OFFSET, micros),
            )

    def clear(self) -> None:
        """Delete everything."""
        with self._transaction() as db:
            db.execute("DELETE FROM api_keys")
            db.execute("DELETE FROM roles")
            db.execute("DELETE FROM orgs")
