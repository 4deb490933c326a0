"""Cases in PostgreSQL for a batch of warnings at once: what the batch needs to know in three
reads and its writes in a statement per table, whatever the batch's size (`cases` does the
same one warning at a time; a census made that hundreds of round trips per batch).

Every function runs inside the batch's transaction, entered into one campus (row-level
security), with the batch's students locked (`cases.lock_students`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..domain.cases import Case
from .alerts import AlertRecord
from .cases import StaleCase, case_of_row, case_values
from .roster import responsible_sql


@dataclass(slots=True)
class WarningSetContext:
    """What applying a batch of warnings needs to know, read for the whole batch."""

    #: Alert ids and assessment ids on file already (their warnings were handled before).
    known_alerts: set[str]
    known_assessments: set[str]
    #: Each student's one active case, locked for update.
    active: dict[str, Case]
    #: The active cases with an alert on them, and each one's last history seq.
    with_alerts: set[str]
    last_seq: dict[str, int]
    #: Who holds each (student_ref, role) asked about, narrowest scope first.
    owners: dict[tuple[str, str], list[str]] = field(default_factory=dict)


_ACTIVE = """
    SELECT c.*, EXISTS (SELECT 1 FROM alerts a WHERE a.case_id = c.case_id) AS has_alerts,
           (SELECT coalesce(max(h.seq), 0) FROM case_history h WHERE h.case_id = c.case_id)
               AS last_seq
    FROM cases c
    WHERE c.student_ref = ANY($1::text[]) AND c.state <> 'closed'
    FOR UPDATE OF c
"""
_KNOWN = """
    SELECT true AS alert, alert_id AS id FROM alerts WHERE alert_id = ANY($1::text[])
    UNION ALL
    SELECT false, assessment_id FROM case_assessments WHERE assessment_id = ANY($2::text[])
"""
_OWNERS = f"""
    SELECT k.student_ref, k.role, {responsible_sql("k.student_ref", "k.role")} AS owners
    FROM unnest($1::text[], $2::text[]) AS k(student_ref, role)
"""  # noqa: S608 - built from constants


async def read_warning_set(
    conn: asyncpg.Connection,
    *,
    students: Iterable[str],
    owner_roles: Iterable[tuple[str, str]],
    alert_ids: Iterable[str],
    assessment_ids: Iterable[str],
) -> WarningSetContext:
    """The batch's known alerts and assessments, its students' active cases (locked) and who
    would own a case for each (student_ref, role) in `owner_roles`."""
    known = await conn.fetch(_KNOWN, sorted(set(alert_ids)), sorted(set(assessment_ids)))
    rows = await conn.fetch(_ACTIVE, sorted(set(students)))
    pairs = sorted(set(owner_roles))
    owners = (
        await conn.fetch(_OWNERS, [s for s, _ in pairs], [r for _, r in pairs]) if pairs else []
    )
    return WarningSetContext(
        known_alerts={r["id"] for r in known if r["alert"]},
        known_assessments={r["id"] for r in known if not r["alert"]},
        active={r["student_ref"]: case_of_row(r) for r in rows},
        with_alerts={str(r["case_id"]) for r in rows if r["has_alerts"]},
        last_seq={str(r["case_id"]): r["last_seq"] for r in rows},
        owners={(r["student_ref"], r["role"]): list(r["owners"]) for r in owners},
    )


_CASE_VALUES = (
    "state, severity, severity_rank, owner_ref, owner_role, outcome, report_ids, updated_at,"
    " closed_at, version"
)
_INSERT_CASE = f"""
    INSERT INTO cases ({_CASE_VALUES}, case_id, campus_id, student_ref, opened_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""  # noqa: S608 - built from constants
# The versions the cases were read at are checked for all of them in one statement: a case
# changed since is not written, and the count returned says so.
_UPDATE_CASES = """
    WITH saved AS (
        UPDATE cases c SET state = u.state, severity = u.severity,
            severity_rank = u.severity_rank, owner_ref = u.owner_ref,
            owner_role = u.owner_role, outcome = u.outcome,
            report_ids = ARRAY(SELECT jsonb_array_elements_text(u.report_ids)),
            updated_at = u.updated_at, closed_at = u.closed_at, version = u.version
        FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[],
                    $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::integer[],
                    $11::uuid[], $12::integer[])
            AS u(state, severity, severity_rank, owner_ref, owner_role, outcome, report_ids,
                 updated_at, closed_at, version, case_id, read_version)
        WHERE c.case_id = u.case_id AND c.version = u.read_version
        RETURNING c.case_id
    )
    SELECT count(*) FROM saved
"""
_INSERT_HISTORY = """
    INSERT INTO case_history (campus_id, case_id, seq, kind, from_state, to_state, actor_ref,
                              actor_role, detail, sealed_text, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11)
"""
_ATTACH = """
    INSERT INTO case_assessments (assessment_id, campus_id, case_id, severity, report_ids,
                                  graded_at, attached_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (assessment_id) DO NOTHING
"""
_INSERT_ALERT = """
    INSERT INTO alerts (alert_id, campus_id, case_id, student_ref, assessment_id, severity,
                        owner_role, ack_deadline, escalation_level, raised_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (alert_id) DO NOTHING
"""


def _values(case: Case) -> tuple[Any, ...]:
    return (*case_values(case), case.version)


@dataclass(frozen=True, slots=True)
class Attachment:
    """An assessment attached to a case (a `case_assessments` row)."""

    assessment_id: str
    case_id: str
    severity: str
    report_ids: list[str]
    graded_at: Any
    attached_at: Any


async def write_warning_set(
    conn: asyncpg.Connection,
    campus_id: str,
    *,
    opened: Sequence[Case],
    updated: Sequence[tuple[Case, int]],
    history: Sequence[tuple[str, int, tuple[Any, ...]]],
    attachments: Sequence[Attachment],
    alerts: Sequence[AlertRecord],
) -> None:
    """Write what a batch did to one campus's cases: the cases it `opened`, the cases it
    `updated` (each with the version it was read at: `StaleCase` if any changed since), their
    `history` rows ((case_id, seq, row) as `cases.history_rows` gives them), the assessments
    attached and the alerts that landed. Each table is one pipelined statement; the cases
    come first, since the other rows name them."""
    if opened:
        await conn.executemany(
            _INSERT_CASE,
            [
                (
                    *_values(case),
                    uuid.UUID(case.case_id),
                    campus_id,
                    case.student_ref,
                    case.opened_at,
                )
                for case in opened
            ],
        )
    if updated:
        columns: list[list[Any]] = [[] for _ in range(12)]
        for case, read_version in updated:
            values = list(_values(case))
            values[6] = json.dumps(case.report_ids)
            for column, value in zip(
                columns, (*values, uuid.UUID(case.case_id), read_version), strict=True
            ):
                column.append(value)
        saved = await conn.fetchval(_UPDATE_CASES, *columns)
        if saved != len(updated):
            raise StaleCase(", ".join(case.case_id for case, _ in updated))
    if history:
        await conn.executemany(
            _INSERT_HISTORY,
            [(campus_id, uuid.UUID(case_id), seq, *row) for case_id, seq, row in history],
        )
    if attachments:
        await conn.executemany(
            _ATTACH,
            [
                (
                    a.assessment_id,
                    campus_id,
                    uuid.UUID(a.case_id),
                    a.severity,
                    a.report_ids,
                    a.graded_at,
                    a.attached_at,
                )
                for a in attachments
            ],
        )
    if alerts:
        await conn.executemany(
            _INSERT_ALERT,
            [
                (
                    a.alert_id,
                    campus_id,
                    uuid.UUID(a.case_id),
                    a.student_ref,
                    a.assessment_id,
                    a.severity.value,
                    a.owner_role.value,
                    a.ack_deadline,
                    a.escalation_level,
                    a.raised_at,
                )
                for a in alerts
            ],
        )
