"""Retention of what only served a delivery, of leavers' family contacts and of the contacts
of staff who left the roster: the rows the chore deletes once they are old.

Each statement deletes at most `batch` rows, the oldest first, so one turn holds locks on a
few rows only and never stalls the dispatcher; the chore runs again at once while a table
still had a full batch to give. Nothing waiting or in flight is touched: a delivery still
pending or sending, a bundle item not yet bundled, a link not yet expired, a case not
closed. (Row-level security: the caller's transaction says which campuses it serves.)
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

#: Table → the key columns to delete by, and its rows past `$1` (the cutoff), oldest first.
_PURGES: dict[str, tuple[tuple[str, ...], str]] = {
    "deliveries": (
        ("id",),
        "SELECT id FROM deliveries WHERE finished_at < $1"
        " AND status IN ('sent', 'failed', 'cancelled', 'call_task') ORDER BY finished_at",
    ),
    "bundle_items": (
        ("id",),
        "SELECT id FROM bundle_items WHERE bundled_at < $1 ORDER BY bundled_at",
    ),
    "unreached": (("id",), "SELECT id FROM unreached WHERE created_at < $1 ORDER BY created_at"),
    "ack_links": (
        ("link_id",),
        "SELECT link_id FROM ack_links WHERE expires_at < $1 ORDER BY expires_at",
    ),
    "cases": (("case_id",), "SELECT case_id FROM cases WHERE closed_at < $1 ORDER BY closed_at"),
    "informed_windows": (
        ("campus_id", "person_ref", "kind"),
        "SELECT campus_id, person_ref, kind FROM informed_windows WHERE opened_at < $1"
        " ORDER BY opened_at",
    ),
}


async def purge_delivery_records(
    conn: asyncpg.Connection, before: datetime, batch: int
) -> dict[str, int]:
    """Delete up to `batch` rows of each table that ended before `before`; how many each."""
    gone: dict[str, int] = {}
    for table, (keys, old) in _PURGES.items():
        # The batch is picked once, in a materialised CTE: a `key IN (SELECT … LIMIT n)`
        # subquery may be run again by the planner and delete more than `n` rows.
        joined = " AND ".join(f"t.{key} = d.{key}" for key in keys)
        status = await conn.execute(
            f"WITH d AS MATERIALIZED ({old} LIMIT $2 FOR UPDATE SKIP LOCKED)"  # noqa: S608 - constant identifiers
            f" DELETE FROM {table} t USING d WHERE {joined}",
            before,
            batch,
        )
        gone[table] = int(status.split()[-1])
    return gone


async def record_leaving(
    conn: asyncpg.Connection, campus_id: str, student_ref: str, *, active: bool, at: datetime
) -> None:
    """The directory's word on whether the student is still here: a leaver is remembered
    from the earliest time the directory said so (a compacted topic replayed says it again,
    later); a student back on the roster is forgotten."""
    await conn.execute(
        "INSERT INTO students_named (campus_id, student_ref) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        campus_id,
        student_ref,
    )
    if active:
        await conn.execute(
            "DELETE FROM students_left WHERE campus_id = $1 AND student_ref = $2",
            campus_id,
            student_ref,
        )
        return
    await conn.execute(
        """
        INSERT INTO students_left (campus_id, student_ref, left_at) VALUES ($1, $2, $3)
        ON CONFLICT (campus_id, student_ref)
            DO UPDATE SET left_at = LEAST(students_left.left_at, EXCLUDED.left_at)
        """,
        campus_id,
        student_ref,
        at,
    )


async def purge_family_contacts_of_leavers(
    conn: asyncpg.Connection, left_before: datetime, batch: int
) -> int:
    """Delete the family contacts of up to `batch` students who left before `left_before`
    (the longest gone first); how many students' contacts were erased. Never those of a
    student with a case open: a student who left in crisis may still need their family
    called."""
    rows = await conn.fetch(
        """
        UPDATE students_left SET contacts_erased_at = now()
        WHERE (campus_id, student_ref) IN (
            SELECT l.campus_id, l.student_ref FROM students_left l
            WHERE l.left_at < $1 AND l.contacts_erased_at IS NULL
              AND NOT EXISTS (
                  SELECT 1 FROM cases c WHERE c.campus_id = l.campus_id
                  AND c.student_ref = l.student_ref AND c.closed_at IS NULL)
            ORDER BY l.left_at LIMIT $2 FOR UPDATE OF l SKIP LOCKED)
        RETURNING campus_id, student_ref
        """,
        left_before,
        batch,
    )
    if rows:
        await conn.execute(
            "DELETE FROM family_contacts f USING unnest($1::text[], $2::text[]) AS l(c, s)"
            " WHERE f.campus_id = l.c AND f.student_ref = l.s",
            [r["campus_id"] for r in rows],
            [r["student_ref"] for r in rows],
        )
    return len(rows)


async def purge_family_contacts_never_named(
    conn: asyncpg.Connection, imported_before: datetime, batch: int
) -> int:
    """Delete the family contacts of up to `batch` students casework's directory has never
    named (a mistyped 学号), imported before `imported_before`, at campuses whose directory
    notify first heard before it too (no student is named before that, and contacts imported
    then got no warning: they get the same time after the directory's first word); how many
    students' contacts were deleted. Never those of a student with a case here: the case
    proves the student exists."""
    rows = await conn.fetch(
        """
        DELETE FROM family_contacts f
        WHERE (f.campus_id, f.student_ref) IN (
            SELECT c.campus_id, c.student_ref FROM family_contacts c
            WHERE c.updated_at < $1
              AND (SELECT min(n.named_at) FROM students_named n
                   WHERE n.campus_id = c.campus_id) < $1
              AND NOT EXISTS (
                  SELECT 1 FROM students_named n
                  WHERE n.campus_id = c.campus_id AND n.student_ref = c.student_ref)
              AND NOT EXISTS (
                  SELECT 1 FROM cases k
                  WHERE k.campus_id = c.campus_id AND k.student_ref = c.student_ref)
            GROUP BY c.campus_id, c.student_ref
            ORDER BY min(c.updated_at) LIMIT $2)
        RETURNING f.campus_id, f.student_ref
        """,
        imported_before,
        batch,
    )
    return len({(r["campus_id"], r["student_ref"]) for r in rows})


async def record_staff_listing(
    conn: asyncpg.Connection, campus_id: str, person_ref: str, *, listed: bool, at: datetime
) -> datetime | None:
    """Casework's word on whether a person is on the staff roster. A leaver is remembered
    from the earliest leaving not undone; a person listed at `at` or later than their leaving
    is forgotten as a leaver (an older listing, delivered late, undoes nothing). For a
    listing: when their contacts were erased, if they were (None otherwise)."""
    if listed:
        row = await conn.fetchrow(
            "DELETE FROM staff_left WHERE campus_id = $1 AND person_ref = $2 AND left_at <= $3"
            " RETURNING contacts_erased_at",
            campus_id,
            person_ref,
            at,
        )
        return row["contacts_erased_at"] if row else None
    await conn.execute(
        """
        INSERT INTO staff_left (campus_id, person_ref, left_at) VALUES ($1, $2, $3)
        ON CONFLICT (campus_id, person_ref)
            DO UPDATE SET left_at = LEAST(staff_left.left_at, EXCLUDED.left_at)
        """,
        campus_id,
        person_ref,
        at,
    )
    return None


async def purge_staff_contacts_of_leavers(
    conn: asyncpg.Connection, left_before: datetime, batch: int
) -> int:
    """Delete the contacts of up to `batch` staff who left the roster before `left_before`
    (the longest gone first); how many were deleted. Contacts of a leaver written again later
    (a contacts file that still lists them) go on the next turn: they serve no one, as the
    directory names nobody off the roster. People never on the roster are never touched."""
    return int(
        await conn.fetchval(
            """
            WITH due AS MATERIALIZED (
                SELECT c.campus_id, c.person_ref FROM staff_contacts c
                JOIN staff_left l ON l.campus_id = c.campus_id AND l.person_ref = c.person_ref
                WHERE l.left_at < $1
                ORDER BY l.left_at LIMIT $2 FOR UPDATE OF c SKIP LOCKED),
            gone AS (
                DELETE FROM staff_contacts c USING due
                WHERE c.campus_id = due.campus_id AND c.person_ref = due.person_ref
                RETURNING c.campus_id, c.person_ref),
            marked AS (
                UPDATE staff_left l SET contacts_erased_at = now() FROM gone
                WHERE l.campus_id = gone.campus_id AND l.person_ref = gone.person_ref)
            SELECT count(*) FROM gone
            """,
            left_before,
            batch,
        )
    )
