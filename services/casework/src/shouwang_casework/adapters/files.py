"""The student file (档案): what it keeps of other services' events, and reading it in one go.

Reports, screenings and assessments arrive as events (entrypoints/record_consumers.py) and are
stored here, once per event id; report notes stay sealed exactly as intake sealed them. Cases,
their history, alerts, referrals, consents, follow-ups, notes and plans live in the case
tables (migrations/0002_cases.sql, owned by the cases side); this module reads them as JSON
rows (`to_jsonb`), so a column added there shows up in the file without a change here.

Sealed text (EncryptedText JSON) is opened only by `read_student_file`, which the HTTP layer
calls after the scope check; a note that no configured key opens comes back as null with an
`*_unreadable` flag rather than failing the whole file.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from shouwang_contracts.crypto import EncryptedText, NoteCipher, NoteKeyError
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.events.triage import AssessmentGraded
from shouwang_contracts.vocabulary import ReportChannel

_SEALED_KEYS = {"alg", "key_id", "nonce", "ciphertext"}


async def store_report(conn: asyncpg.Connection, event: Envelope[ReportSubmitted]) -> bool:
    """Keep a report in the file (note still sealed); False when this event was kept before.

    A report received before an erasure of the student's file text (`retention_erasures`:
    on request, or by retention) but filed after it, its consumer behind or the record
    redelivered, is filed as the erasure would have left it: its structured facts (signals,
    channel, times, reporter: the file is the record of what was reported), no note, no location,
    `text_erased_at` set. An erasure from before migration 0014 recorded no cutoff: on
    request it was `through` (= `erased_at`); by retention `erased_at` - the period, which
    was at least 180 days (the floor `erase_closed_file_text` enforces), so it is taken as
    `erased_at - 180 days`, the latest it can have been: such a late report may lose text the
    erasure would have kept, never keep text it blanked (`through`, the last closure, stood in
    before and kept it). The caller holds the student's lock (`cases.lock_students`), which
    the erasures take too (migrations/0014), so an erasure is either committed and seen here
    or waits until this report is in the table for it to blank.
    """
    r = event.data
    status = await conn.execute(
        """
        INSERT INTO file_reports (campus_id, report_id, event_id, student_ref, reporter_ref,
                                  reporter_role, signals, observed_at, received_at, location,
                                  note_sealed, text_erased_at, channel)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9,
               CASE WHEN erased THEN NULL ELSE $10::text END,
               CASE WHEN erased THEN NULL ELSE $11::jsonb END,
               CASE WHEN erased THEN now() END,
               $12
        FROM (SELECT EXISTS (SELECT 1 FROM retention_erasures
                             WHERE student_ref = $4
                               -- erase_file_text_before blanks `received_at < cutoff`;
                               -- a row from before migration 0014 has no cutoff: the
                               -- latest it can have been (see `store_report`)
                               AND coalesce(text_cutoff,
                                            greatest(through, erased_at - interval '180 days'))
                                   > $9::timestamptz)
              AS erased) AS e
        ON CONFLICT DO NOTHING
        """,
        event.campus_id,
        r.report_id,
        event.id,
        r.student_ref,
        r.reporter_ref,
        r.reporter_role.value,
        [s.value for s in r.signals],
        r.observed_at,
        r.received_at,
        # Kept sealed as it came (opened only on a read of free text); a report from an older
        # intake may still carry it in the clear.
        r.location_sealed.model_dump_json() if r.location_sealed else r.location,
        r.note.model_dump_json() if r.note else None,
        r.channel.value,
    )
    return status.endswith(" 1")


async def report_channels(
    conn: asyncpg.Connection, report_ids: list[str]
) -> tuple[ReportChannel, ...]:
    """How the file's reports among `report_ids` were learned of, each channel once, in the
    vocabulary's order (a report not filed yet, its consumer behind, counts once it is)."""
    found = {
        r["channel"]
        for r in await conn.fetch(
            "SELECT DISTINCT channel FROM file_reports WHERE report_id = ANY($1::text[])",
            report_ids,
        )
    }
    return tuple(c for c in ReportChannel if c.value in found)


async def store_screening(conn: asyncpg.Connection, event: Envelope[ScreeningSubmitted]) -> bool:
    """Keep a screening result (raw item total; banding is triage's); False when seen before."""
    s = event.data
    status = await conn.execute(
        """
        INSERT INTO file_screenings (campus_id, screening_id, event_id, student_ref,
                                     submitted_by_ref, instrument, items, total_score,
                                     behavior_recency, counseling_requested, administered_at,
                                     batch_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT DO NOTHING
        """,
        event.campus_id,
        s.screening_id,
        event.id,
        s.student_ref,
        s.submitted_by_ref,
        s.instrument.value,
        s.items,
        sum(s.items),
        s.behavior_recency.value if s.behavior_recency else None,
        s.counseling_requested,
        s.administered_at,
        s.batch_id,
    )
    return status.endswith(" 1")


async def store_assessment(conn: asyncpg.Connection, event: Envelope[AssessmentGraded]) -> bool:
    """Keep an assessment with its reasons and the reports it rests on; False when seen before."""
    a = event.data
    status = await conn.execute(
        """
        INSERT INTO file_assessments (campus_id, assessment_id, event_id, student_ref, severity,
                                      previous_severity, reasons, policy_version, trigger,
                                      report_ids, screening_ids, graded_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)
        ON CONFLICT DO NOTHING
        """,
        event.campus_id,
        a.assessment_id,
        event.id,
        a.student_ref,
        a.severity.value,
        a.previous_severity.value,
        json.dumps([r.model_dump(mode="json") for r in a.reasons], ensure_ascii=False),
        a.policy_version,
        a.trigger,
        a.report_ids,
        a.screening_ids,
        a.graded_at,
    )
    return status.endswith(" 1")


# --- reading the file -------------------------------------------------------------------------

# Case-side tables read per case, in the order the file lists them, with their sort column.
_CASE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("case_history", "id"),
    ("case_assessments", "attached_at"),
    ("alerts", "raised_at"),
    ("referrals", "created_at"),
    ("consents", "recorded_at"),
    ("follow_ups", "due_at"),
    ("notes", "created_at, version"),
    ("plans", "version"),
)


async def _rows(conn: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in await conn.fetch(sql, *args)]


async def _table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def read_student_file(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    campus_id: str,
    student_ref: str,
    *,
    free_text: bool = True,
) -> dict[str, Any]:
    """Everything on file for one student, oldest first in each section, sealed text opened
    (without `free_text`: every free text withheld, sealed or not; see `withhold_free_text`).

    Sections: `student` (roster row, or null), `reports`, `screenings`, `assessments`, and
    `cases`, each case carrying its history, assessments, alerts, referrals, consents,
    follow-ups, notes (every version) and plans (every version).
    """
    student = await _rows(
        conn,
        """
        SELECT to_jsonb(s) - 'campus_id' FROM students s WHERE student_ref = $1
        """,
        student_ref,
    )
    reports = await _rows(
        conn,
        "SELECT to_jsonb(r) - 'campus_id' - 'event_id' FROM file_reports r "
        "WHERE student_ref = $1 ORDER BY observed_at, report_id",
        student_ref,
    )
    screenings = await _rows(
        conn,
        "SELECT to_jsonb(s) - 'campus_id' - 'event_id' FROM file_screenings s "
        "WHERE student_ref = $1 ORDER BY administered_at, screening_id",
        student_ref,
    )
    assessments = await _rows(
        conn,
        "SELECT to_jsonb(a) - 'campus_id' - 'event_id' FROM file_assessments a "
        "WHERE student_ref = $1 ORDER BY graded_at, assessment_id",
        student_ref,
    )
    cases: list[dict[str, Any]] = []
    if await _table_exists(conn, "cases"):
        cases = await _rows(
            conn,
            "SELECT to_jsonb(c) - 'campus_id' FROM cases c "
            "WHERE student_ref = $1 ORDER BY opened_at",
            student_ref,
        )
        for case in cases:
            for table, order in _CASE_SECTIONS:
                case[table] = await _rows(
                    conn,
                    f"SELECT to_jsonb(t) - 'campus_id' FROM {table} t "  # noqa: S608 - constants
                    f"WHERE case_id = $1::uuid ORDER BY {order}",
                    case["case_id"],
                )
    file = {
        "student_ref": student_ref,
        "student": student[0] if student else None,
        "reports": reports,
        "screenings": screenings,
        "assessments": assessments,
        "cases": cases,
    }
    if not free_text:
        return withhold_free_text(file)
    return open_sealed_values(file, cipher, campus_id=campus_id, student_ref=student_ref)


#: Free text stored in the clear (where something was observed, where a student was referred
#: to): withheld like the sealed texts from readers of structured facts only.
PLAIN_FREE_TEXT = frozenset({"location", "destination"})


def withhold_free_text(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of `record` with every free text left out, at any depth: a sealed
    `sealed_reason` becomes `reason_withheld: true`, a `location` becomes
    `location_withheld: true`; structured facts stay."""
    result: dict[str, Any] = {}
    for key, item in record.items():
        if _looks_sealed(item) is not None:
            result[f"{_opened_name(key)}_withheld"] = True
        elif key in PLAIN_FREE_TEXT:
            if item is not None:
                result[f"{key}_withheld"] = True
        else:
            result[key] = _withhold_within(item)
    return result


def _withhold_within(value: object) -> object:
    if isinstance(value, list):
        return [_withhold_within(v) for v in value]
    if isinstance(value, dict):
        return withhold_free_text(value)
    return value


def _looks_sealed(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str) and value.startswith("{") and '"ciphertext"' in value:
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and value.keys() >= _SEALED_KEYS:
        return value
    return None


def _opened_name(key: str) -> str:
    name = key.removeprefix("sealed_").removesuffix("_sealed")
    return "text" if name == "sealed" else name


def open_sealed_values(
    record: dict[str, Any], cipher: NoteCipher, *, campus_id: str, student_ref: str
) -> dict[str, Any]:
    """A copy of `record` with every sealed text opened, at any depth: `sealed_reason` →
    `reason`, etc.

    The associated data binds each note to campus and student, so a note of another student
    copied here would not open; it comes back null with `<name>_unreadable: true`.
    """
    result: dict[str, Any] = {}
    for key, item in record.items():
        sealed = _looks_sealed(item)
        if sealed is None:
            result[key] = _open_within(item, cipher, campus_id=campus_id, student_ref=student_ref)
            continue
        name = _opened_name(key)
        try:
            result[name] = cipher.open(
                EncryptedText.model_validate(sealed), campus_id=campus_id, student_ref=student_ref
            )
        except (NoteKeyError, ValueError):
            result[name] = None
            result[f"{name}_unreadable"] = True
    return result


def _open_within(value: object, cipher: NoteCipher, *, campus_id: str, student_ref: str) -> object:
    if isinstance(value, list):
        return [
            _open_within(v, cipher, campus_id=campus_id, student_ref=student_ref) for v in value
        ]
    if isinstance(value, dict):
        return open_sealed_values(value, cipher, campus_id=campus_id, student_ref=student_ref)
    return value
