"""Acknowledgement links at rest and on the wire.

A link's claims are signed with itsdangerous (HMAC-SHA512 under `NOTIFY_LINK_KEYS`; the first
key signs, every key verifies, so keys can be rotated while links in flight keep working).
The row in `ack_links` makes a link single-use and binds it to its alert and person; an SMS
carries the row's short code instead of the long token.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from itsdangerous import BadSignature, URLSafeSerializer

from ..domain.links import IssuedLink, LinkClaims, new_short_code

_SALT = "shouwang.notify.ack-link.v1"


class LinkSigner:
    """Signs and verifies link claims."""

    def __init__(self, keys: list[str]) -> None:
        if not keys or any(len(key) < 32 for key in keys):
            raise ValueError("link keys must be at least 32 characters")
        # itsdangerous signs with the last key and verifies with any: the first configured
        # key is the one that signs.
        self._serializer = URLSafeSerializer(list(reversed(keys)), salt=_SALT)

    def sign(self, claims: LinkClaims) -> str:
        return str(
            self._serializer.dumps(
                {
                    "l": claims.link_id,
                    "a": claims.alert_id,
                    "p": claims.person_ref,
                    "c": claims.campus_id,
                    "x": int(claims.expires_at.timestamp()),
                }
            )
        )

    def verify(self, token: str) -> LinkClaims | None:
        """The claims of a genuine token, or None for anything forged or malformed."""
        try:
            data = self._serializer.loads(token)
            return LinkClaims(
                link_id=str(data["l"]),
                alert_id=str(data["a"]),
                person_ref=str(data["p"]),
                campus_id=str(data["c"]),
                expires_at=datetime.fromtimestamp(int(data["x"]), UTC),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None


def _issued(row: asyncpg.Record) -> IssuedLink:
    return IssuedLink(
        link_id=str(row["link_id"]),
        campus_id=row["campus_id"],
        alert_id=row["alert_id"],
        student_ref=row["student_ref"],
        person_ref=row["person_ref"],
        role=row["role"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
        alert_closed_at=row["acknowledged_at"],
        severity=row["severity"],
        ack_deadline=row["ack_deadline"],
    )


async def issue_link(
    conn: asyncpg.Connection,
    *,
    campus_id: str,
    alert_id: str,
    student_ref: str,
    person_ref: str,
    role: str,
    severity: str,
    ack_deadline: datetime,
    expires_at: datetime,
) -> IssuedLink:
    """The person's link for the alert: one per alert and person; a re-alert extends it."""
    row = await conn.fetchrow(
        """
        INSERT INTO ack_links (link_id, campus_id, alert_id, student_ref, person_ref, role,
            severity, ack_deadline, short_code, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (alert_id, person_ref) DO UPDATE
            SET expires_at = GREATEST(ack_links.expires_at, EXCLUDED.expires_at),
                severity = EXCLUDED.severity, ack_deadline = EXCLUDED.ack_deadline,
                role = EXCLUDED.role
        RETURNING *, NULL::timestamptz AS acknowledged_at
        """,
        uuid.uuid4(),
        campus_id,
        alert_id,
        student_ref,
        person_ref,
        role,
        severity,
        ack_deadline,
        new_short_code(),
        expires_at,
    )
    assert row is not None
    return _issued(row)


_SELECT = (
    "SELECT l.*, a.acknowledged_at FROM ack_links l"
    " LEFT JOIN alerts_acknowledged a ON a.alert_id = l.alert_id"
)
_BY_ID = _SELECT + " WHERE l.link_id = $1"
_BY_CODE = _SELECT + " WHERE l.short_code = $1"
_LOCKED = " FOR UPDATE OF l"


async def find_link(
    conn: asyncpg.Connection, link_id: str, *, lock: bool = False
) -> IssuedLink | None:
    try:
        key = uuid.UUID(link_id)
    except ValueError:
        return None
    row = await conn.fetchrow(_BY_ID + _LOCKED if lock else _BY_ID, key)
    return _issued(row) if row else None


async def find_short_code(
    conn: asyncpg.Connection, code: str, *, lock: bool = False
) -> IssuedLink | None:
    row = await conn.fetchrow(_BY_CODE + _LOCKED if lock else _BY_CODE, code)
    return _issued(row) if row else None


async def short_code_of(conn: asyncpg.Connection, link_id: str) -> str | None:
    code = await conn.fetchval(
        "SELECT short_code FROM ack_links WHERE link_id = $1", uuid.UUID(link_id)
    )
    return str(code) if code else None


async def use_link(conn: asyncpg.Connection, link_id: str, at: datetime) -> bool:
    """Spend the link; False if it was spent already (a replay racing the first use)."""
    status = await conn.execute(
        "UPDATE ack_links SET used_at = $2 WHERE link_id = $1 AND used_at IS NULL",
        uuid.UUID(link_id),
        at,
    )
    return bool(status.endswith(" 1"))
