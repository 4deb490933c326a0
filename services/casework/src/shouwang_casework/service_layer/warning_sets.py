"""A batch's warnings applied set-wise: what the batch needs to know read in three statements,
the same decisions as one warning at a time (`warnings.assessment_case`, `alert_case`) made in
memory, event by event in the batch's order, and what they wrote stored in a statement per
table (`adapters.case_sets`). A census made casework's batches hundreds of round trips each
(about ten per warning, one after another); now they are a dozen whatever the batch's size.

The same guarantees as one at a time: the consumer claimed each event once and locked the
batch's students; a student's events are decided in their order against the case as the
previous one left it (a case opened by an assessment is the one its alert lands on); one
active case per student (a warning opens one only where the student has none, and the
unique index refuses a second); a case updated is written only if it still has the version
it was read at (`StaleCase` otherwise, rolling the batch back). A student with an escalation
in the batch (rare: an alert nobody acknowledged) is applied one event at a time, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised, AssessmentGraded

from ..adapters import case_sets
from ..adapters.alerts import AlertRecord
from ..adapters.cases import history_rows
from ..adapters.outbox import enqueue_many
from ..domain.cases import Case
from .events import change_events, wrap
from .warnings import (
    WarningOutcome,
    alert_case,
    alert_record,
    assessment_case,
    assessment_owner_role,
    on_warning,
    reports_attached,
    writes_case,
)

_NOTHING = WarningOutcome(None, opened=False)


@dataclass(slots=True)
class _Written:
    """A case the batch writes: opened by it (inserted) or read at `read_version` (updated)."""

    case: Case
    new: bool
    read_version: int
    last_seq: int


@dataclass(slots=True)
class _Batch:
    """One campus's warnings being decided: the cases as the events so far left them, and
    what is to be written."""

    campus_id: str
    cipher: NoteCipher
    context: case_sets.WarningSetContext
    written: dict[str, _Written] = field(default_factory=dict)
    history: list[tuple[str, int, tuple[Any, ...]]] = field(default_factory=list)
    events: list[Envelope[Any]] = field(default_factory=list)
    attachments: list[case_sets.Attachment] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)

    def _store(self, case: Case, new: bool) -> None:
        # As `warnings._store` and `cases.save_case` do one at a time: the case's changes
        # become history rows numbered after its last, and events; an update bumps the version.
        if not new and not case.changes:
            return
        written = self.written.get(case.case_id)
        if written is None:
            last = 0 if new else self.context.last_seq[case.case_id]
            written = _Written(case, new, case.version, last)
            self.written[case.case_id] = written
        if not new:
            case.version += 1
        for row in history_rows(case, self.cipher):
            written.last_seq += 1
            self.history.append((case.case_id, written.last_seq, row))
        self.events.extend(change_events(case))

    def _owners(self, student_ref: str, role: str) -> list[str]:
        return self.context.owners.get((student_ref, role), [])

    def assessment(self, envelope: Envelope[AssessmentGraded]) -> WarningOutcome:
        graded = envelope.data
        if graded.assessment_id in self.context.known_assessments:
            return _NOTHING
        student = graded.student_ref
        owners = self._owners(student, assessment_owner_role(graded).value)
        case, opened, now = assessment_case(self.context.active.get(student), envelope, owners)
        self._store(case, opened)
        self.context.active[student] = case
        self.context.known_assessments.add(graded.assessment_id)
        self.attachments.append(
            case_sets.Attachment(
                assessment_id=graded.assessment_id,
                case_id=case.case_id,
                severity=graded.severity.value,
                report_ids=graded.report_ids,
                graded_at=graded.graded_at,
                attached_at=now,
            )
        )
        attached = reports_attached(envelope, case, opened, now)
        if attached is not None:
            self.events.append(wrap(self.campus_id, attached, envelope.traceparent))
        return WarningOutcome(case.case_id, opened)

    def alert(self, envelope: Envelope[AlertRaised]) -> WarningOutcome:
        alert = envelope.data
        if alert.alert_id in self.context.known_alerts:
            return _NOTHING
        student = alert.student_ref
        active = self.context.active.get(student)
        first_alert = active is not None and active.case_id not in self.context.with_alerts
        owners = self._owners(student, alert.owner_role.value)
        case, opened = alert_case(active, envelope, owners, first_alert=first_alert)
        self._store(case, opened)
        self.context.active[student] = case
        self.context.with_alerts.add(case.case_id)
        self.context.known_alerts.add(alert.alert_id)
        self.alerts.append(alert_record(alert, case.case_id))
        return WarningOutcome(case.case_id, opened)

    async def write(self, conn: asyncpg.Connection) -> None:
        await case_sets.write_warning_set(
            conn,
            self.campus_id,
            opened=[w.case for w in self.written.values() if w.new],
            updated=[(w.case, w.read_version) for w in self.written.values() if not w.new],
            history=self.history,
            attachments=self.attachments,
            alerts=self.alerts,
        )
        await enqueue_many(conn, self.events)


async def apply_warning_set(
    conn: asyncpg.Connection, envelopes: Sequence[Envelope[Any]], cipher: NoteCipher
) -> list[WarningOutcome]:
    """Apply one campus's claimed warnings (assessments, raised and escalated alerts), their
    students locked, as one set: what each did, in the order given."""
    if len({e.campus_id for e in envelopes}) > 1:
        raise ValueError("a warning set is one campus's")
    outcomes = [_NOTHING] * len(envelopes)
    escalating = {e.data.student_ref for e in envelopes if isinstance(e.data, AlertEscalated)}
    together: list[int] = []
    for n, envelope in enumerate(envelopes):
        if envelope.data.student_ref in escalating:
            outcomes[n] = await on_warning(conn, envelope, cipher, student_locked=True)
        elif writes_case(envelope.data):
            together.append(n)
    if not together:
        return outcomes
    chosen = [envelopes[n] for n in together]
    context = await case_sets.read_warning_set(
        conn,
        students=(e.data.student_ref for e in chosen),
        owner_roles=(
            (
                e.data.student_ref,
                (
                    assessment_owner_role(e.data)
                    if isinstance(e.data, AssessmentGraded)
                    else e.data.owner_role
                ).value,
            )
            for e in chosen
        ),
        alert_ids=(e.data.alert_id for e in chosen if isinstance(e.data, AlertRaised)),
        assessment_ids=(
            e.data.assessment_id for e in chosen if isinstance(e.data, AssessmentGraded)
        ),
    )
    batch = _Batch(chosen[0].campus_id, cipher, context)
    for n, envelope in zip(together, chosen, strict=True):
        if isinstance(envelope.data, AssessmentGraded):
            outcomes[n] = batch.assessment(envelope)
        else:
            outcomes[n] = batch.alert(envelope)
    await batch.write(conn)
    return outcomes
