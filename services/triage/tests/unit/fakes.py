"""In-memory stand-ins for the stores, so the service layer is tested in milliseconds."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from shouwang_triage.adapters.batch import NewAlert, StudentKey
from shouwang_triage.adapters.repository import DueAlert
from shouwang_triage.domain.evidence import ClosedCase, ReportEvidence, ScreeningEvidence
from shouwang_triage.domain.ladder import Assignment, OpenAlert
from shouwang_triage.domain.levels import Level


class FakeBatchStore:
    """Keeps what the batch store would write; reads see earlier writes."""

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

    async def claim_events(self, events: Sequence[tuple[str, str]]) -> set[str]:
        fresh = {e for e, _ in events if e not in self.processed}
        self.processed |= fresh
        return fresh

    async def add_evidence(self, rows: Sequence[tuple[str, str, Any]]) -> None:
        for campus, student, e in rows:
            self.evidence[(campus, student)].append(e)

    async def windows(
        self, keys: Iterable[StudentKey], since: datetime
    ) -> dict[StudentKey, list[Any]]:
        return {k: [e for e in self.evidence[k] if e.received_at >= since] for k in keys}

    async def closed_cases(
        self, keys: Iterable[StudentKey]
    ) -> dict[StudentKey, tuple[ClosedCase, ...]]:
        return {k: self.closed[k] for k in keys if k in self.closed}

    async def grades(self, keys: Iterable[StudentKey]) -> dict[StudentKey, Level]:
        return {k: self.levels[k] for k in keys if k in self.levels}

    async def open_alerts(self, keys: Iterable[StudentKey]) -> dict[StudentKey, OpenAlert]:
        found = {}
        for a in self.alerts.values():
            key = (a["campus_id"], a["student_ref"])
            if key in set(keys) and a["status"] == "open":
                found[key] = OpenAlert(
                    a["alert_id"], a["level"], a["owner"], a["escalation_level"], a["ack_deadline"]
                )
        return found

    async def save_grades(self, rows: Sequence[tuple[Any, ...]]) -> None:
        for campus, student, severity, *_ in rows:
            self.levels[(campus, student)] = Level.from_id(severity)

    async def record_lowered(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.lowered.extend(rows)

    async def supersede(self, pairs: Sequence[tuple[str, str]]) -> None:
        for old, new in pairs:
            self.alerts[old]["status"] = "superseded"
            self.alerts[old]["superseded_by"] = new

    async def insert_alerts(self, alerts: Sequence[NewAlert]) -> None:
        for a in alerts:
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
            }

    async def enqueue(self, rows: Sequence[tuple[Any, ...]]) -> None:
        for lane, event_id, topic, key, value, headers in rows:
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
