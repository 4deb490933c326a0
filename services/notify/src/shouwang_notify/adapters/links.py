"""Acknowledgement links at rest and on the wire.

A link's claims are signed with itsdangerous (HMAC-SHA512 under `NOTIFY_LINK_KEYS`; the first
key signs, every key verifies, so keys can be rotated while links in flight keep working).
The row in `ack_links` makes a link single-use and binds it to its alert and person; an SMS
carries the row's short code instead of the long token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
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


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """A link to issue (or extend) for one alert and person."""

    campus_id: str
    alert_id: str
    student_ref: str
    person_ref: str
    role: str
    severity: str
    ack_deadline: datetime
    expires_at: datetime


async def issue_links(
    conn: asyncpg.Connection, requests: Sequence[LinkRequest]
) -> dict[tuple[str, str], str]:
    """`issue_link` for many in one statement: the link id of each (alert, person). A pair
    asked for twice is issued once, as two `issue_link` calls in a row would leave it: the
    later request's grade, deadline and role, the later expiry of the two."""
    merged: dict[tuple[str, str], LinkRequest] = {}
    for r in requests:
        earlier = merged.get((r.alert_id, r.person_ref))
        if earlier is not None and earlier.expires_at > r.expires_at:
            r = replace(r, expires_at=earlier.expires_at)
        merged[(r.alert_id, r.person_ref)] = r
    if not merged:
        return {}
    # In (alert, person) order, as every planner's other locks are taken in one order: two
    # transactions upserting the same pairs in opposite orders would wait for each other.
    ordered = [merged[key] for key in sorted(merged)]
    rows = await conn.fetch(
        """
        INSERT INTO ack_links (link_id, campus_id, alert_id, student_ref, person_ref, role,
            severity, ack_deadline, short_code, expires_at)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::timestamptz[])
        ON CONFLICT (alert_id, person_ref) DO UPDATE
            SET expires_at = GREATEST(ack_links.expires_at, EXCLUDED.expires_at),
                severity = EXCLUDED.severity, ack_deadline = EXCLUDED.ack_deadline,
                role = EXCLUDED.role
        RETURNING link_id, alert_id, person_ref
        """,
        [uuid.uuid4() for _ in ordered],
        *(
            [getattr(r, name) for r in ordered]
            for name in ("campus_id", "alert_id", "student_ref", "person_ref", "role")
        ),
        [r.severity for r in ordered],
        [r.ack_deadline for r in ordered],
        [new_short_code() for _ in ordered],
        [r.expires_at for r in ordered],
    )
    return {(row["alert_id"], row["person_ref"]): str(row["link_id"]) for row in rows}


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


async def signable(
    conn: asyncpg.Connection, link_ids: Iterable[str]
) -> dict[str, tuple[LinkClaims, str]]:
    """The claims and short code of each of these links, to put in their messages."""
    keys = sorted({uuid.UUID(link_id) for link_id in link_ids})
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT link_id, alert_id, person_ref, campus_id, expires_at, short_code FROM ack_links"
        " WHERE link_id = ANY($1::uuid[])",
        keys,
    )
    return {
        str(row["link_id"]): (
            LinkClaims(
                str(row["link_id"]),
                row["alert_id"],
                row["person_ref"],
                row["campus_id"],
                row["expires_at"],
            ),
            row["short_code"],
        )
        for row in rows
    }


async def end_links_of(
    conn: asyncpg.Connection, campus_id: str, person_ref: str, at: datetime
) -> int:
    """A person left the roster at `at`: their unused links expire then (a link is the
    credential, and they no longer hold the role it confirms in). A later alert, should they
    be listed again, extends the link as issuing always does. How many were ended."""
    status = await conn.execute(
        "UPDATE ack_links SET expires_at = $3"
        " WHERE campus_id = $1 AND person_ref = $2 AND used_at IS NULL AND expires_at > $3",
        campus_id,
        person_ref,
        at,
    )
    return int(status.rpartition(" ")[2] or 0)


async def use_link(conn: asyncpg.Connection, link_id: str, at: datetime) -> bool:
    """Spend the link; False if it was spent already (a replay racing the first use)."""
    status = await conn.execute(
        "UPDATE ack_links SET used_at = $2 WHERE link_id = $1 AND used_at IS NULL",
        uuid.UUID(link_id),
        at,
    )
    return bool(status.endswith(" 1"))
