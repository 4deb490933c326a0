"""Cases in PostgreSQL: the case row, its immutable history, attached assessments (the
alerts on a case are `alerts`).

Every function runs inside `campus_transaction`: row-level security limits it to one campus,
so no query filters by campus itself. Writers lock the student first (`lock_student`), so two
warnings about one student never race to open two cases.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.crypto import EncryptedText, NoteCipher
from shouwang_contracts.events.casework import CaseOutcome, CaseState
from shouwang_contracts.vocabulary import Role, Severity

from ..domain.cases import Case
from .roster import responsible_sql


class StaleCase(Exception):
    """The case changed since it was read (optimistic version check failed)."""


async def lock_student(conn: asyncpg.Connection, campus_id: str, student_ref: str) -> None:
    """Serialise every case write about one student until the transaction ends.

    The key, hashtextextended('<campus_id>:<student_ref>', 0), is computed by
    `lock_students` too and by the file-text erasures in SQL (migrations/0014), which take
    it against reports being filed (`files.store_report`): change one, change all."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{campus_id}:{student_ref}"
    )


async def lock_students(conn: asyncpg.Connection, keys: Iterable[tuple[str, str]]) -> None:
    """`lock_student` for every (campus_id, student_ref) of a batch, in one global order (of
    the lock ids), so two batches locking the same students can never deadlock."""
    names = sorted({f"{campus_id}:{student_ref}" for campus_id, student_ref in keys})
    if names:
        # PostgreSQL evaluates a volatile function of the select list after the ORDER BY.
        await conn.execute(
            """
            SELECT pg_advisory_xact_lock(lock_id)
            FROM (SELECT DISTINCT hashtextextended(name, 0) AS lock_id
                  FROM unnest($1::text[]) AS name) AS ids
            ORDER BY lock_id
            """,
            names,
        )


def case_of_row(row: asyncpg.Record) -> Case:
    return Case(
        case_id=str(row["case_id"]),
        campus_id=row["campus_id"],
        student_ref=row["student_ref"],
        state=CaseState(row["state"]),
        severity=Severity(row["severity"]),
        owner_role=Role(row["owner_role"]),
        owner_ref=row["owner_ref"],
        opened_at=row["opened_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
        outcome=CaseOutcome(row["outcome"]) if row["outcome"] else None,
        report_ids=list(row["report_ids"]),
        version=row["version"],
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def get_case(conn: asyncpg.Connection, case_id: str, *, lock: bool = False) -> Case | None:
    """One case by id (locked for update when `lock`), or None."""
    key = _uuid(case_id)
    if key is None:
        return None
    query = (
        "SELECT * FROM cases WHERE case_id = $1 FOR UPDATE"
        if lock
        else "SELECT * FROM cases WHERE case_id = $1"
    )
    row = await conn.fetchrow(query, key)
    return case_of_row(row) if row else None


async def active_case_of(conn: asyncpg.Connection, student_ref: str) -> Case | None:
    """The student's one active case, if any."""
    row = await conn.fetchrow(
        "SELECT * FROM cases WHERE student_ref = $1 AND state <> 'closed' FOR UPDATE", student_ref
    )
    return case_of_row(row) if row else None


@dataclass(frozen=True, slots=True)
class WarningContext:
    """What handling a warning about a student needs to know, read in one round trip."""

    #: The alert (or assessment) is on file already: the warning was handled before.
    known: bool
    #: The student's one active case, locked for update, if any.
    active: Case | None
    #: Who holds the owner role for the student, narrowest scope first.
    owners: list[str]


def _context_sql(known: str) -> str:
    # The active case is locked inside the lateral subquery (FOR UPDATE cannot reach the
    # nullable side of an outer join from outside it).
    return f"""
        SELECT k.known, {responsible_sql("$1", "$2")} AS owners, c.*
        FROM (SELECT EXISTS ({known}) AS known) AS k
        LEFT JOIN LATERAL (
            SELECT * FROM cases WHERE student_ref = $1 AND state <> 'closed' FOR UPDATE
        ) AS c ON true
    """  # noqa: S608 - built from constants


_ALERT_CONTEXT = _context_sql("SELECT 1 FROM alerts WHERE alert_id = $3")
_ASSESSMENT_CONTEXT = _context_sql("SELECT 1 FROM case_assessments WHERE assessment_id = $3")


async def warning_context(
    conn: asyncpg.Connection,
    student_ref: str,
    owner_role: Role,
    *,
    alert_id: str | None = None,
    assessment_id: str | None = None,
) -> WarningContext:
    """Whether the alert (or else the assessment) is known, the student's active case (locked) and
    who would own a case for `owner_role`: what `get_alert` (or whether the assessment is
    attached), `active_case_of` and `responsible_for` answer, in one statement instead of
    three."""
    if (alert_id is None) == (assessment_id is None):
        raise ValueError("name exactly one of alert_id and assessment_id")
    row = await conn.fetchrow(
        _ALERT_CONTEXT if alert_id is not None else _ASSESSMENT_CONTEXT,
        student_ref,
        owner_role.value,
        alert_id if alert_id is not None else assessment_id,
    )
    assert row is not None  # the outer query always has its one row
    active = case_of_row(row) if row["case_id"] is not None else None
    return WarningContext(known=row["known"], active=active, owners=list(row["owners"]))


# A case's row and its history rows are written in one statement (two round trips were one
# per case change, on the path of every warning). The history's rows come as arrays, one per
# column, numbered in order after the case's last seq; foreign keys are checked at the end of
# the statement, so a new case's first history rows may name it.
_HISTORY_COLUMNS = """
    h.kind, h.from_state, h.to_state, h.actor_ref, h.actor_role, h.detail::jsonb,
    h.sealed_text::jsonb, h.at
"""
_HISTORY_ARRAYS = """
    unnest({0}::text[], {1}::text[], {2}::text[], {3}::text[], {4}::text[], {5}::text[],
           {6}::text[], {7}::timestamptz[])
        WITH ORDINALITY AS h(kind, from_state, to_state, actor_ref, actor_role, detail,
                             sealed_text, at, n)
"""
_INSERT_HISTORY = """
    INSERT INTO case_history (campus_id, case_id, seq, kind, from_state, to_state, actor_ref,
                              actor_role, detail, sealed_text, at)
"""
_INSERT_CASE = f"""
    WITH saved AS (
        INSERT INTO cases (state, severity, severity_rank, owner_ref, owner_role, outcome,
                           report_ids, updated_at, closed_at, case_id, campus_id,
                           student_ref, opened_at, version)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1)
        RETURNING case_id
    ), history AS (
        {_INSERT_HISTORY}
        SELECT $11, saved.case_id, h.n, {_HISTORY_COLUMNS}
        FROM saved, {_HISTORY_ARRAYS.format(*(f"${n}" for n in range(14, 22)))}
        ORDER BY h.n
    )
    SELECT count(*) FROM saved
"""  # noqa: S608 - built from constants
# The update checks the version it was read at; the history is written only if it matched.
_UPDATE_CASE = f"""
    WITH saved AS (
        UPDATE cases SET state = $1, severity = $2, severity_rank = $3, owner_ref = $4,
            owner_role = $5, outcome = $6, report_ids = $7, updated_at = $8, closed_at = $9,
            version = version + 1
        WHERE case_id = $10 AND version = $11
        RETURNING case_id
    ), history AS (
        {_INSERT_HISTORY}
        SELECT $12, saved.case_id, last.seq + h.n, {_HISTORY_COLUMNS}
        FROM saved,
             (SELECT coalesce(max(seq), 0) AS seq FROM case_history WHERE case_id = $10) AS last,
             {_HISTORY_ARRAYS.format(*(f"${n}" for n in range(13, 21)))}
        ORDER BY h.n
    )
    SELECT count(*) FROM saved
"""  # noqa: S608 - built from constants


def case_values(case: Case) -> tuple[Any, ...]:
    """The case's columns a save writes: state, severity, severity_rank, owner_ref,
    owner_role, outcome, report_ids, updated_at, closed_at."""
    return (
        case.state.value,
        case.severity.value,
        case.severity.rank,
        case.owner_ref,
        case.owner_role.value,
        case.outcome.value if case.outcome else None,
        case.report_ids,
        case.updated_at,
        case.closed_at,
    )


async def save_case(
    conn: asyncpg.Connection, case: Case, cipher: NoteCipher, *, new: bool = False
) -> None:
    """Insert or update the case and append its pending changes to the history, in one
    statement.

    The update checks the version it was read at, so a concurrent change is never overwritten.
    The caller holds the student's lock; UNIQUE (case_id, seq) refuses a racing history.
    """
    values = case_values(case)
    history = _history_columns(case, cipher)
    if new:
        await conn.fetchval(
            _INSERT_CASE,
            *values,
            uuid.UUID(case.case_id),
            case.campus_id,
            case.student_ref,
            case.opened_at,
            *history,
        )
        return
    saved = await conn.fetchval(
        _UPDATE_CASE, *values, uuid.UUID(case.case_id), case.version, case.campus_id, *history
    )
    if saved != 1:
        raise StaleCase(case.case_id)
    case.version += 1


def history_rows(case: Case, cipher: NoteCipher) -> list[tuple[Any, ...]]:
    """The case's pending changes as history rows (kind, from_state, to_state, actor_ref,
    actor_role, detail as JSON, sealed text as JSON, at), free text sealed."""
    rows = []
    for change in case.changes:
        sealed = None
        if change.text:
            sealed = cipher.seal(
                change.text, campus_id=case.campus_id, student_ref=case.student_ref
            ).model_dump_json()
        rows.append(
            (
                change.kind,
                change.from_state.value if change.from_state else None,
                change.to_state.value if change.to_state else None,
                change.actor_ref,
                change.actor_role,
                json.dumps(change.detail, ensure_ascii=False, default=str),
                sealed,
                change.at,
            )
        )
    return rows


def _history_columns(case: Case, cipher: NoteCipher) -> list[list[Any]]:
    """The case's pending changes as history columns (one array each), free text sealed."""
    rows = history_rows(case, cipher)
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(8)]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A stored history row, free text opened for a reader in scope."""

    seq: int
    kind: str
    from_state: str | None
    to_state: str | None
    actor_ref: str
    actor_role: str
    detail: dict[str, Any]
    text: str | None
    at: datetime


async def history_of(
    conn: asyncpg.Connection, case: Case, cipher: NoteCipher | None
) -> list[HistoryEntry]:
    """The whole history of a case, oldest first, sealed text opened (left shut, as None,
    without a `cipher`: for readers of structured facts only)."""
    rows = await conn.fetch(
        "SELECT * FROM case_history WHERE case_id = $1 ORDER BY seq", uuid.UUID(case.case_id)
    )
    return [
        HistoryEntry(
            seq=r["seq"],
            kind=r["kind"],
            from_state=r["from_state"],
            to_state=r["to_state"],
            actor_ref=r["actor_ref"],
            actor_role=r["actor_role"],
            detail=json.loads(r["detail"]),
            text=open_sealed(cipher, r["sealed_text"], case) if cipher is not None else None,
            at=r["at"],
        )
        for r in rows
    ]


def open_sealed(cipher: NoteCipher, sealed: str | None, case: Case) -> str | None:
    """Open a sealed JSON text stored for `case`'s student."""
    if sealed is None:
        return None
    return cipher.open(
        EncryptedText.model_validate_json(sealed),
        campus_id=case.campus_id,
        student_ref=case.student_ref,
    )


async def attach_assessment(
    conn: asyncpg.Connection,
    *,
    campus_id: str,
    case_id: str,
    assessment_id: str,
    severity: Severity,
    report_ids: list[str],
    graded_at: datetime,
    at: datetime,
) -> bool:
    """Remember an assessment attached to a case; False when it was attached before."""
    return bool(
        await conn.fetchval(
            """
            INSERT INTO case_assessments (assessment_id, campus_id, case_id, severity,
                                          report_ids, graded_at, attached_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (assessment_id) DO NOTHING
            RETURNING true
            """,
            assessment_id,
            campus_id,
            uuid.UUID(case_id),
            severity.value,
            report_ids,
            graded_at,
            at,
        )
    )
