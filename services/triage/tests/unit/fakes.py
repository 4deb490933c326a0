"""In-memory stand-ins for the stores, so the service layer is tested in milliseconds."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from shouwang_triage.adapters.batch import GradingWrites, Situations, StudentKey
from shouwang_triage.adapters.repository import DueAlert
from shouwang_triage.adapters.rows import NewAlert
from shouwang_triage.domain.evidence import ClosedCase, ReportEvidence, ScreeningEvidence
from shouwang_triage.domain.ladder import Assignment, OpenAlert
from shouwang_triage.domain.levels import Level
from shouwang_triage.domain.realerts import HeldAlert


class FakeBatchStore:
    """Keeps what the batch store would write; reads see earlier writes. Also takes
    acknowledgements and closed cases as `TriageStore` does (`service_layer.casework`)."""

    def __init__(self) -> None:
        self.processed: set[str] = set()
        self.evidence: dict[StudentKey, list[ReportEvidence | ScreeningEvidence]] = defaultdict(
            list
        )
        self.closed: dict[StudentKey, tuple[ClosedCase, ...]] = {}
        self.levels: dict[StudentKey, Level] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.lowered: list[tuple[Any, ...]] = []
        self.outbox: list[dict[str, Any]] = []
        self.erased: dict[StudentKey, datetime] = {}  # erasure marks, as `adapters.erasure`

    async def begin(
        self,
        events: Sequence[tuple[str, str]],
        keys: Iterable[StudentKey],
        evidence_ids: Sequence[str],
        since: datetime,
    ) -> Situations:
        fresh = {e for e, _ in events if e not in self.processed}
        self.processed |= fresh
        keys = set(keys)
        stored = {_evidence_id(e) for found in self.evidence.values() for e in found} & set(
            evidence_ids
        )
        open_alerts = {}
        held: dict[StudentKey, HeldAlert] = {}
        for a in self.alerts.values():
            key = (a["campus_id"], a["student_ref"])
            if key in keys and a["status"] == "open":
                open_alerts[key] = OpenAlert(
                    a["alert_id"], a["level"], a["owner"], a["escalation_level"], a["ack_deadline"]
                )
        acknowledged = [
            a
            for a in self.alerts.values()
            if (a["campus_id"], a["student_ref"]) in keys and a["held"]
        ]
        for a in sorted(acknowledged, key=lambda a: a["acknowledged_at"]):  # the latest wins
            held[(a["campus_id"], a["student_ref"])] = HeldAlert(
                a["alert_id"],
                a["level"],
                a["acknowledged_at"],
                a["case_id"],
                a["covers"],
                frozenset(a["covered_evidence"]),
            )
        return Situations(
            fresh=fresh,
            stored_evidence=stored,
            windows={k: [e for e in self.evidence[k] if e.received_at >= since] for k in keys},
            closed={k: self.closed[k] for k in keys if k in self.closed},
            levels={k: self.levels[k] for k in keys if k in self.levels},
            open_alerts=open_alerts,
            held=held,
            erased={k: self.erased[k] for k in keys if k in self.erased},
        )

    async def save(self, writes: GradingWrites) -> None:
        for campus, student, e in writes.evidence:
            self.evidence[(campus, student)].append(e)
        for campus, student, severity, *_ in writes.grades.values():
            self.levels[(campus, student)] = Level.from_id(severity)
        for old, new in writes.superseded:
            self.alerts[old]["status"] = "superseded"
            self.alerts[old]["superseded_by"] = new
        for campus, student, by in writes.released:
            for x in self.alerts.values():
                if (x["campus_id"], x["student_ref"]) == (campus, student) and x["held"]:
                    x.update(held=False, superseded_by=by)
        for a in writes.alerts.values():
            self._insert_alert(a)
        self.lowered.extend(writes.lowered)
        for lane, event_id, topic, key, value, headers in writes.outbox:
            self.outbox.append(
                {
                    "lane": lane,
                    "id": event_id,
                    "topic": topic,
                    "key": key,
                    "event": json.loads(value),
                    "headers": json.loads(headers),
                }
            )

    def _insert_alert(self, a: NewAlert) -> None:
        open_now = [
            x
            for x in self.alerts.values()
            if (x["campus_id"], x["student_ref"]) == (a.campus_id, a.student_ref)
            and x["status"] == "open"
        ]
        assert not (open_now and not a.superseded_by), "one open alert per student"
        self.alerts[a.alert_id] = {
            "alert_id": a.alert_id,
            "campus_id": a.campus_id,
            "student_ref": a.student_ref,
            "level": a.level,
            "owner": a.assignment.owner,
            "escalation_level": 0,
            "ack_deadline": a.assignment.ack_deadline,
            "status": "superseded" if a.superseded_by else "open",
            "superseded_by": a.superseded_by,
            "covers": dict(a.covers),
            "covered_evidence": set(a.covered_evidence),
            "acknowledged_at": None,
            "case_id": None,
            "held": False,
        }

    # --- what `service_layer.casework` asks of a TriageStore ------------------------------

    async def claim_event(self, event_id: str, topic: str) -> bool:
        if event_id in self.processed:
            return False
        self.processed.add(event_id)
        return True

    async def acknowledge(
        self, alert_id: str, acknowledged_at: datetime, by_role: str, case_id: str | None = None
    ) -> str | None:
        alert = self.alerts.get(alert_id)
        if alert is None or alert["status"] != "open":
            return None
        alert.update(
            status="acknowledged", acknowledged_at=acknowledged_at, case_id=case_id, held=True
        )
        return str(alert["level"].id)

    async def record_closed_case(
        self, case_id: str, campus_id: str, student_ref: str, severity: str, closed_at: datetime
    ) -> None:
        key = (campus_id, student_ref)
        others = tuple(c for c in self.closed.get(key, ()) if c.case_id != case_id)
        self.closed[key] = (*others, ClosedCase(case_id, Level.from_id(severity), closed_at))

    async def release_held(
        self, campus_id: str, student_ref: str, case_id: str, closed_at: datetime
    ) -> None:
        for a in self.alerts.values():
            ours = (a["campus_id"], a["student_ref"]) == (campus_id, student_ref)
            if (
                ours
                and a["held"]
                and (a["case_id"] == case_id or a["acknowledged_at"] <= closed_at)
            ):
                a["held"] = False

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [row["event"] for row in self.outbox if row["event"]["type"] == event_type]


class FakeEscalationStore:
    """The part of TriageStore the escalation pass uses."""

    def __init__(self, due: list[DueAlert]) -> None:
        self.due = due
        self.moved: list[tuple[str, Assignment, int]] = []
        self.stopped: list[str] = []
        self.outbox: list[Any] = []

    async def lock_due_alerts(self, now: datetime, limit: int) -> list[DueAlert]:
        return [d for d in self.due if d.ack_deadline <= now][:limit]

    async def move_alert(self, alert_id: str, assignment: Assignment, level: int) -> None:
        self.moved.append((alert_id, assignment, level))

    async def stop_climbing(self, alert_id: str) -> None:
        self.stopped.append(alert_id)

    async def enqueue(self, envelope: Any, lane: str) -> None:
        self.outbox.append((envelope, lane))


def _evidence_id(e: ReportEvidence | ScreeningEvidence) -> str:
    return e.report_id if isinstance(e, ReportEvidence) else e.screening_id
