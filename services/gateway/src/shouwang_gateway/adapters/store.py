"""The gateway's tables in PostgreSQL: accounts, sessions, sign-in failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
from shouwang_contracts.vocabulary import Role

from ..domain.accounts import Account
from ..domain.sessions import Identity, Session, SignInMethod


def _account(row: asyncpg.Record) -> Account:
    return Account(
        campus_id=row["campus_id"],
        username=row["username"],
        password_hash=row["password_hash"],
        sub=row["sub"],
        role=Role(row["role"]),
        scope=tuple(row["scope"]),
        display_name=row["display_name"],
        disabled=row["disabled"],
    )


def _session(row: asyncpg.Record) -> Session:
    return Session(
        id_hash=bytes(row["id_hash"]),
        identity=Identity(
            sub=row["sub"],
            role=Role(row["role"]),
            campus_id=row["campus_id"],
            scope=tuple(row["scope"]),
            display_name=row["display_name"],
        ),
        method=row["method"],
        csrf_token=row["csrf_token"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        expires_at=row["expires_at"],
    )


class GatewayStore:
    """Every query the gateway makes, on one pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def ping(self) -> bool:
        return bool(await self._pool.fetchval("SELECT true"))

    # --- accounts ----------------------------------------------------------------------

    async def account(self, campus_id: str, username: str) -> Account | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM accounts WHERE campus_id = $1 AND lower(username) = lower($2)",
            campus_id,
            username,
        )
        return _account(row) if row else None

    async def save_account(self, account: Account) -> None:
        """Create or replace the account (its password hash included)."""
        await self._pool.execute(
            """
            INSERT INTO accounts (campus_id, username, password_hash, sub, role, scope,
                                  display_name, disabled)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (campus_id, username) DO UPDATE SET
                password_hash = EXCLUDED.password_hash, sub = EXCLUDED.sub,
                role = EXCLUDED.role, scope = EXCLUDED.scope,
                display_name = EXCLUDED.display_name, disabled = EXCLUDED.disabled,
                updated_at = now()
            """,
            account.campus_id,
            account.username,
            account.password_hash,
            account.sub,
            account.role.value,
            list(account.scope),
            account.display_name,
            account.disabled,
        )

    async def update_password_hash(self, campus_id: str, username: str, password_hash: str) -> None:
        await self._pool.execute(
            "UPDATE accounts SET password_hash = $3, updated_at = now()"
            " WHERE campus_id = $1 AND username = $2",
            campus_id,
            username,
            password_hash,
        )

    # --- sessions ----------------------------------------------------------------------

    async def create_session(
        self,
        id_hash: bytes,
        identity: Identity,
        method: SignInMethod,
        csrf_token: str,
        expires_at: datetime,
    ) -> Session:
        row = await self._pool.fetchrow(
            """
            INSERT INTO sessions (id_hash, campus_id, sub, role, scope, display_name, method,
                                  csrf_token, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING *
            """,
            id_hash,
            identity.campus_id,
            identity.sub,
            identity.role.value,
            list(identity.scope),
            identity.display_name,
            method,
            csrf_token,
            expires_at,
        )
        assert row is not None
        return _session(row)

    async def session(self, id_hash: bytes) -> Session | None:
        row = await self._pool.fetchrow("SELECT * FROM sessions WHERE id_hash = $1", id_hash)
        return _session(row) if row else None

    async def touch_session(self, id_hash: bytes, at: datetime) -> None:
        await self._pool.execute(
            "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1", id_hash, at
        )

    async def delete_session(self, id_hash: bytes) -> None:
        await self._pool.execute("DELETE FROM sessions WHERE id_hash = $1", id_hash)

    async def delete_sessions_of(self, campus_id: str, sub: str) -> int:
        status = await self._pool.execute(
            "DELETE FROM sessions WHERE campus_id = $1 AND sub = $2", campus_id, sub
        )
        return int(status.split()[-1])

    async def forget_expired(self, now: datetime, idle: timedelta, window: timedelta) -> None:
        """Drop sessions past their life or idle limit, and failures past the window."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM sessions WHERE expires_at < $1 OR last_seen_at < $2", now, now - idle
            )
            await conn.execute("DELETE FROM signin_failures WHERE at < $1", now - window)

    # --- sign-in failures --------------------------------------------------------------

    async def failures(self, keys: Sequence[str], since: datetime) -> dict[str, list[datetime]]:
        rows = await self._pool.fetch(
            "SELECT key, at FROM signin_failures WHERE key = ANY($1) AND at > $2",
            list(keys),
            since,
        )
        found: dict[str, list[datetime]] = {key: [] for key in keys}
        for row in rows:
            found[row["key"]].append(row["at"])
        return found

    async def record_failure(self, keys: Sequence[str], at: datetime) -> None:
        await self._pool.executemany(
            "INSERT INTO signin_failures (key, at) VALUES ($1, $2)", [(k, at) for k in keys]
        )

    async def clear_failures(self, key: str) -> None:
        await self._pool.execute("DELETE FROM signin_failures WHERE key = $1", key)
