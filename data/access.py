"""The SQL of access control: dashboard users and API tokens (hashes only, never secrets).

Hashing and checking live in subtext/access.py; this module only stores and reads rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from collectors.post import utcnow
from data.store import Store


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scope: str
    user_name: str | None
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def state(self, now: datetime) -> str:
        return "revoked" if self.revoked_at else "active" if self.active(now) else "expired"


def add_user(store: Store, name: str, role: str, password_hash: str) -> bool:
    """False when a user of that name exists already."""
    with store._transaction() as cur:
        row = cur.execute("INSERT INTO users VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING "
                          "RETURNING name", [name, role, password_hash, utcnow()]).fetchone()
    return row is not None


def set_password(store: Store, name: str, password_hash: str) -> bool:
    with store._transaction() as cur:
        row = cur.execute("UPDATE users SET password_hash = ? WHERE name = ? RETURNING name",
                          [password_hash, name]).fetchone()
    return row is not None


def remove_user(store: Store, name: str) -> bool:
    """Remove a user and revoke the tokens made for them."""
    with store._transaction() as cur:
        row = cur.execute("DELETE FROM users WHERE name = ? RETURNING name", [name]).fetchone()
        cur.execute("UPDATE tokens SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL",
                    [utcnow(), name])
    return row is not None


def get_user(store: Store, name: str) -> User | None:
    row = store.reader().execute("SELECT name, role, password_hash, created_at FROM users "
                                 "WHERE name = ?", [name]).fetchone()
    return User(*row) if row else None


def list_users(store: Store) -> list[User]:
    rows = store.reader().execute("SELECT name, role, password_hash, created_at FROM users "
                                  "ORDER BY name").fetchall()
    return [User(*r) for r in rows]


TOKEN_COLUMNS = ("id, name, scope, user_name, secret_hash, created_at, expires_at, revoked_at, "
                 "last_used_at")


def add_token(store: Store, token_id: str, name: str, scope: str, user_name: str | None,
              secret_hash: str, expires_at: datetime | None) -> Token:
    with store._transaction() as cur:
        row = cur.execute(f"INSERT INTO tokens ({TOKEN_COLUMNS}) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL) "
                          f"RETURNING {TOKEN_COLUMNS}",
                          [token_id, name, scope, user_name, secret_hash, utcnow(),
                           expires_at]).fetchone()
    return Token(*row)


def note_use(store: Store, token_id: str, at: datetime) -> bool:
    """Record a token's last use. Skipped (False) while another write holds the lock: a
    request must not wait behind an ingest for bookkeeping; the next request records it."""
    if not store._write_lock.acquire(blocking=False):
        return False
    try:
        with store._transaction() as cur:
            cur.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", [at, token_id])
    finally:
        store._write_lock.release()
    return True


def get_token(store: Store, token_id: str) -> Token | None:
    row = store.reader().execute(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?",
                                 [token_id]).fetchone()
    return Token(*row) if row else None


def list_tokens(store: Store) -> list[Token]:
    rows = store.reader().execute(f"SELECT {TOKEN_COLUMNS} FROM tokens "
                                  "ORDER BY created_at, id").fetchall()
    return [Token(*r) for r in rows]


def revoke_token(store: Store, token_id: str) -> bool:
    """False when there is no such token or it was revoked already."""
    with store._transaction() as cur:
        row = cur.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL "
                          "RETURNING id", [utcnow(), token_id]).fetchone()
    return row is not None


def credentials_configured(store: Store) -> tuple[int, int]:
    """(active tokens, users): what makes listening beyond loopback allowed."""
    now = utcnow()
    tokens = store.reader().execute(
        "SELECT count(*) FROM tokens WHERE revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > ?)", [now]).fetchone()[0]
    users = store.reader().execute("SELECT count(*) FROM users").fetchone()[0]
    return tokens, users
