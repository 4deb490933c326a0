"""Contacts at rest: addresses sealed with the note cipher, bound to campus and person.

The cipher's associated data binds each sealed row to its campus and its `person_ref` (staff)
or `student_ref` (family), so a ciphertext copied onto another row does not open.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from typing import Any

import asyncpg
from shouwang_contracts.crypto import EncryptedText, NoteCipher
from shouwang_contracts.events.notify import NotificationChannel as Channel

from ..domain.contacts import FamilyContact, QuietHours, StaffContact


def _seal(cipher: NoteCipher, fields: dict[str, Any], campus_id: str, ref: str) -> str:
    sealed = cipher.seal(
        json.dumps(fields, ensure_ascii=False), campus_id=campus_id, student_ref=ref
    )
    return sealed.model_dump_json()


def _open(cipher: NoteCipher, sealed: str, campus_id: str, ref: str) -> dict[str, Any]:
    note = EncryptedText.model_validate_json(sealed)
    opened: dict[str, Any] = json.loads(cipher.open(note, campus_id=campus_id, student_ref=ref))
    return opened


def _staff_channels(contact: StaffContact) -> list[str]:
    return [c.value for c in Channel if contact.address(c) and c is not Channel.PHONE_CALL]


async def upsert_staff(
    conn: asyncpg.Connection, cipher: NoteCipher, campus_id: str, contacts: Iterable[StaffContact]
) -> int:
    """Insert or replace staff contacts by person_ref; returns how many were written."""
    rows = [
        (
            campus_id,
            c.person_ref,
            _seal(
                cipher,
                {
                    "mobile": c.mobile,
                    "email": c.email,
                    "wecom_user": c.wecom_user,
                    "dingtalk_user": c.dingtalk_user,
                },
                campus_id,
                c.person_ref,
            ),
            _staff_channels(c),
            c.preferred.value if c.preferred else None,
            c.quiet_hours.start if c.quiet_hours else None,
            c.quiet_hours.end if c.quiet_hours else None,
            c.language,
        )
        for c in contacts
    ]
    await conn.executemany(
        """
        INSERT INTO staff_contacts
            (campus_id, person_ref, sealed, channels, preferred, quiet_start, quiet_end, language)
        VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)
        ON CONFLICT (campus_id, person_ref) DO UPDATE SET
            sealed = EXCLUDED.sealed, channels = EXCLUDED.channels,
            preferred = EXCLUDED.preferred, quiet_start = EXCLUDED.quiet_start,
            quiet_end = EXCLUDED.quiet_end, language = EXCLUDED.language, updated_at = now()
        """,
        rows,
    )
    return len(rows)


async def replace_family(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    campus_id: str,
    contacts: list[FamilyContact],
) -> int:
    """Each student named in `contacts` gets exactly these contacts (others of theirs go)."""
    students = sorted({c.student_ref for c in contacts})
    await conn.execute(
        "DELETE FROM family_contacts WHERE campus_id = $1 AND student_ref = ANY($2::text[])",
        campus_id,
        students,
    )
    await conn.executemany(
        """
        INSERT INTO family_contacts
            (campus_id, student_ref, rank, relation, sealed, channels, language)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
        """,
        [
            (
                campus_id,
                c.student_ref,
                c.rank,
                c.relation,
                _seal(
                    cipher,
                    {"name": c.name, "mobile": c.mobile, "email": c.email},
                    campus_id,
                    c.student_ref,
                ),
                [ch.value for ch in (Channel.SMS, Channel.EMAIL) if c.address(ch)],
                c.language,
            )
            for c in contacts
        ],
    )
    return len(contacts)


def _staff(cipher: NoteCipher, row: asyncpg.Record) -> StaffContact:
    fields = _open(cipher, row["sealed"], row["campus_id"], row["person_ref"])
    quiet = None
    if row["quiet_start"] is not None and row["quiet_end"] is not None:
        quiet = QuietHours(row["quiet_start"], row["quiet_end"])
    return StaffContact(
        person_ref=row["person_ref"],
        mobile=fields.get("mobile"),
        email=fields.get("email"),
        wecom_user=fields.get("wecom_user"),
        dingtalk_user=fields.get("dingtalk_user"),
        preferred=Channel(row["preferred"]) if row["preferred"] else None,
        quiet_hours=quiet,
        language=row["language"],
    )


async def staff_contacts(
    conn: asyncpg.Connection, cipher: NoteCipher, campus_id: str, person_refs: list[str]
) -> dict[str, StaffContact]:
    """The contacts of these people (and the on-duty line if asked), opened."""
    rows = await conn.fetch(
        "SELECT * FROM staff_contacts WHERE campus_id = $1 AND person_ref = ANY($2::text[])",
        campus_id,
        person_refs,
    )
    return {row["person_ref"]: _staff(cipher, row) for row in rows}


async def staff_contacts_of(
    conn: asyncpg.Connection, cipher: NoteCipher, people: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], StaffContact]:
    """The contacts of these (campus, person_ref) pairs, across campuses, in one statement."""
    pairs = sorted(set(people))
    if not pairs:
        return {}
    rows = await conn.fetch(
        "SELECT s.* FROM staff_contacts s JOIN unnest($1::text[], $2::text[]) AS p(c, r)"
        " ON s.campus_id = p.c AND s.person_ref = p.r",
        [c for c, _ in pairs],
        [r for _, r in pairs],
    )
    return {(row["campus_id"], row["person_ref"]): _staff(cipher, row) for row in rows}


@dataclass(frozen=True, slots=True)
class StaffSummary:
    """A staff contact as an admin lists it: which channels, never the addresses."""

    person_ref: str
    channels: list[str]
    preferred: str | None
    quiet_start: time | None
    quiet_end: time | None
    language: str


async def list_staff(
    conn: asyncpg.Connection, campus_id: str, limit: int, after: str | None
) -> list[StaffSummary]:
    rows = await conn.fetch(
        """
        SELECT person_ref, channels, preferred, quiet_start, quiet_end, language
        FROM staff_contacts WHERE campus_id = $1 AND ($2::text IS NULL OR person_ref > $2)
        ORDER BY person_ref LIMIT $3
        """,
        campus_id,
        after,
        limit,
    )
    return [StaffSummary(**dict(row)) for row in rows]


async def get_staff(
    conn: asyncpg.Connection, cipher: NoteCipher, campus_id: str, person_ref: str
) -> StaffContact | None:
    found = await staff_contacts(conn, cipher, campus_id, [person_ref])
    return found.get(person_ref)


async def delete_staff(conn: asyncpg.Connection, campus_id: str, person_ref: str) -> bool:
    status = await conn.execute(
        "DELETE FROM staff_contacts WHERE campus_id = $1 AND person_ref = $2", campus_id, person_ref
    )
    return bool(status.endswith(" 1"))


async def family_contacts(
    conn: asyncpg.Connection, cipher: NoteCipher, campus_id: str, student_ref: str
) -> list[FamilyContact]:
    rows = await conn.fetch(
        "SELECT * FROM family_contacts WHERE campus_id = $1 AND student_ref = $2 ORDER BY rank",
        campus_id,
        student_ref,
    )
    contacts = []
    for row in rows:
        fields = _open(cipher, row["sealed"], campus_id, student_ref)
        contacts.append(
            FamilyContact(
                student_ref=student_ref,
                relation=row["relation"],
                name=fields["name"],
                mobile=fields.get("mobile"),
                email=fields.get("email"),
                language=row["language"],
                rank=row["rank"],
            )
        )
    return contacts


async def delete_family(conn: asyncpg.Connection, campus_id: str, student_ref: str) -> int:
    status = await conn.execute(
        "DELETE FROM family_contacts WHERE campus_id = $1 AND student_ref = $2",
        campus_id,
        student_ref,
    )
    return int(status.split()[-1])


async def students_without_family(
    conn: asyncpg.Connection, campus_id: str, student_refs: set[str]
) -> int:
    """How many of these students have no family contact on record."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM unnest($2::text[]) AS s(ref)"
        " WHERE NOT EXISTS (SELECT 1 FROM family_contacts f"
        "                   WHERE f.campus_id = $1 AND f.student_ref = s.ref)",
        campus_id,
        sorted(student_refs),
    )
    return found
