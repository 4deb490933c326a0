"""A claimed delivery of an alert message, as the dispatcher hands one to the composer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Language, Role
from shouwang_notify.adapters.queue import Delivery
from shouwang_notify.domain.routing import Template

SENT_ON = datetime(2026, 12, 10, tzinfo=UTC)
DEADLINE = datetime(2026, 12, 10, 7, 0, tzinfo=UTC).isoformat()


def alert_context(role: str, owner_role: str, link_id: str | None) -> dict[str, Any]:
    """What routing puts in a critical alert message's context for `role`: owned by
    `owner_role`, due at DEADLINE, nothing escalated, vacant or asked besides."""
    return {
        "severity": "critical",
        "role": role,
        "owner_role": owner_role,
        "deadline": DEADLINE,
        "escalated": False,
        "re_alert": False,
        "attempt": 0,
        "incomplete": False,
        "follow_ups": [],
        "external": [],
        "on_duty_phone": None,
        "owner_vacant": False,
        "stand_in": None,
        "link_id": link_id,
    }


def alert_delivery(
    channel: Channel,
    template: Template,
    context: dict[str, Any],
    language: Language,
    role: Role,
) -> Delivery:
    """Delivery 1 of alert `alert-1` to staff member `person-1` (of `role`) on `channel`."""
    return Delivery(
        id=1,
        notification_id="n-1",
        campus_id="demo",
        source_event_id="e-1",
        source_event_type="shouwang.alert.raised",
        source_time=SENT_ON,
        alert_id="alert-1",
        case_id=None,
        student_ref="student-1",
        recipient_kind=RecipientKind.STAFF,
        recipient_ref="person-1",
        recipient_role=role,
        channel=channel,
        template=template.value,
        language=language,
        context=dict(context),
        priority=0,
        attempts=0,
        created_at=SENT_ON,
    )
