"""An alert event becomes queued messages: routed, scheduled, linked, deduplicated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope, Payload
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.events.triage import AlertEscalated, AlertRaised
from shouwang_contracts.vocabulary import Role, Tier

from ..adapters import bundle_items, contacts_repo, links, queue, state, unreached
from ..domain.contacts import staff_chain
from ..domain.links import link_lifetime
from ..domain.routing import (
    AlertNotice,
    AlertRouting,
    CaseNoticeKind,
    FollowUpAsk,
    Intent,
    Timing,
    route_alert,
)
from ..domain.schedule import next_digest_at, send_at
from .bursts import hold_bursts
from .family import queue_family_messages
from .informed import hold_back
from .policy import PRIORITY, NotifyPolicy

ALERT_EVENTS: dict[str, type[Payload]] = {
    AlertRaised.EVENT_TYPE: AlertRaised,
    AlertEscalated.EVENT_TYPE: AlertEscalated,
}


def alert_notice(envelope: Envelope[Any]) -> AlertNotice:
    """The alert as routing needs it: who, how grave, by when, and what else is asked."""
    data = envelope.data
    occurred = (
        getattr(data, "raised_at", None) or getattr(data, "escalated_at", None) or envelope.time
    )
    return AlertNotice(
        event_id=envelope.id,
        event_type=envelope.type,
        campus_id=envelope.campus_id,
        alert_id=data.alert_id,
        student_ref=data.student_ref,
        severity=data.severity,
        owner_role=data.owner_role,
        inform_roles=tuple(data.inform_roles),
        ack_deadline=data.ack_deadline,
        occurred_at=occurred,
        escalation_level=data.escalation_level,
        inform_external=tuple(data.inform_external),
        attempt=data.realert_attempt,
        on_duty=data.notify_on_duty,
        follow_ups=tuple(
            FollowUpAsk(f.task.value, f.assigned_role, f.due_at) for f in data.follow_up_tasks
        ),
        incomplete=data.incomplete_sheet,
    )


def alert_context(notice: AlertNotice, role: Role | None) -> dict[str, Any]:
    """What an alert's messages say: grade, roles, deadline, reminder number; no personal data."""
    return {
        "severity": notice.severity.value,
        "role": role.value if role else None,
        "owner_role": notice.owner_role.value,
        "deadline": notice.ack_deadline.isoformat(),
        "escalated": notice.escalated,
        "re_alert": notice.is_re_alert,
        "attempt": notice.attempt or notice.escalation_level,
        "incomplete": notice.incomplete,
        "follow_ups": [
            {"task": f.task, "due": f.due_at.isoformat()}
            for f in notice.follow_ups
            if role is not None and f.role is role
        ],
        "external": list(notice.inform_external),
        "link_id": None,
        "on_duty_phone": None,
        # Nobody holds the owner role: who has it instead (None: the on-duty line).
        "owner_vacant": notice.owner_vacant,
        "stand_in": notice.stand_in.value if notice.stand_in else None,
    }


def _may_acknowledge(role: Role | None, owner: Role) -> bool:
    """Casework lets tier 4+ at or above the owner's tier acknowledge (the counseling center
    for an owner off the ladder): only they get a link."""
    tier = role.tier if role else None
    return tier is not None and tier >= Tier.RESIDENCE_COUNSELOR and tier >= owner.acknowledged_from


async def plan_alert(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    notice: AlertNotice,
    now: datetime,
) -> int:
    """Queue the alert's messages; returns how many were queued (0 for a redelivery)."""
    return await plan_alerts(conn, cipher, policy, [notice], now)


async def plan_alerts(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    notices: Sequence[AlertNotice],
    now: datetime,
) -> int:
    """Queue the messages of a batch of alerts, as planning each in turn would, in a few
    statements for the whole batch (who is responsible, the open cases, the contacts, the
    links, the messages): a dozen round trips per alert kept a burst's critical alerts
    waiting on a busy event loop. Returns how many messages were queued."""
    # By student: each student's open case is locked in one order by every planner.
    ordered = sorted(notices, key=lambda n: (n.campus_id, n.student_ref))
    students = list(dict.fromkeys((n.campus_id, n.student_ref) for n in ordered))
    people = await state.responsible_for_many(conn, students)
    cases = await state.open_cases_of(conn, students)
    routed: list[tuple[AlertNotice, AlertRouting, state.CaseState | None]] = []
    for notice in ordered:
        key = (notice.campus_id, notice.student_ref)
        case = cases.get(key)
        gate = case.family_gate() if case else state.CaseState.closed_gate()
        routing = route_alert(notice, people.get(key, []), gate)
        if routing.owner_vacant:  # every message says who has it in the empty rung's place
            notice = replace(notice, owner_vacant=True, stand_in=routing.stand_in)
        if case is not None and any(i.kind is RecipientKind.FAMILY for i in routing.intents):
            # The family hears once per case and grade: a later alert of this batch sees it.
            cases[key] = replace(case, family_told=notice.severity)
        routed.append((notice, routing, case))
    contacts = await contacts_repo.staff_contacts_of(
        conn,
        cipher,
        (
            (notice.campus_id, i.recipient_ref)
            for notice, routing, _ in routed
            for i in routing.intents
            if i.kind is not RecipientKind.FAMILY and i.timing is not Timing.DIGEST
        ),
    )
    # Oversight notices after a person's first of a window wait to go together.
    held = await hold_back(
        conn,
        policy,
        [(n, i) for n, routing, _ in routed for i in routing.intents if i.grouped],
        now,
    )
    staff: list[tuple[queue.NewDelivery, links.LinkRequest | None]] = []
    queued = 0
    digest_hours: dict[str, int] = {}
    # Who cannot be reached is written once for the batch, in one statement.
    missed: list[unreached.Unreached] = []
    for notice, routing, case in routed:
        for role in routing.unreached_roles:
            missed.append(_unreached(notice, RecipientKind.STAFF, role, None, "nobody_holds_role"))
        for intent in routing.intents:
            if intent.timing is Timing.DIGEST:
                if notice.campus_id not in digest_hours:
                    digest_hours[notice.campus_id] = await state.digest_hour(
                        conn, notice.campus_id, policy.default_digest_hour
                    )
                await _add_to_digest(
                    conn, policy, notice, intent, digest_hours[notice.campus_id], now
                )
            elif (notice.event_id, intent.recipient_ref) in held:
                continue
            elif intent.kind is RecipientKind.FAMILY:
                assert case is not None
                queued += await _queue_family(conn, cipher, policy, notice, case.case_id, now)
                await state.set_family_told(conn, case.case_id, notice.severity)
            else:
                contact = contacts.get((notice.campus_id, intent.recipient_ref))
                message = _staff_message(policy, notice, intent, contact, now)
                if isinstance(message, unreached.Unreached):
                    missed.append(message)
                else:
                    staff.append(message)
        if notice.follow_ups:
            await _follow_up_reminders(
                conn, policy, notice, people.get((notice.campus_id, notice.student_ref), [])
            )
    await unreached.record_unreached_many(conn, missed)
    link_ids = await links.issue_links(conn, [r for _, r in staff if r is not None])
    for new, request in staff:
        if request is not None:
            new.context["link_id"] = link_ids[(request.alert_id, request.person_ref)]
    # A person's severe alerts after their first of a burst wait to go together.
    planned = [new for new, _ in staff]
    bundled = await hold_bursts(conn, policy, planned, now)
    return queued + await queue.enqueue_many(
        conn, [new for n, new in enumerate(planned) if n not in bundled]
    )


def _unreached(
    notice: AlertNotice,
    kind: RecipientKind,
    role: Role | None,
    recipient_ref: str | None,
    reason: str,
) -> unreached.Unreached:
    return unreached.Unreached(
        notice.campus_id,
        notice.event_id,
        notice.alert_id,
        notice.student_ref,
        kind,
        role,
        recipient_ref,
        reason,
    )


async def _add_to_digest(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    notice: AlertNotice,
    intent: Intent,
    hour: int,
    now: datetime,
) -> None:
    assert intent.role is not None
    await bundle_items.add_bundle_item(
        conn,
        campus_id=notice.campus_id,
        person_ref=intent.recipient_ref,
        role=intent.role,
        kind="digest",
        item={"alert_id": notice.alert_id, "deadline": notice.ack_deadline.isoformat()},
        source_event_id=notice.event_id,
        student_ref=notice.student_ref,
        source_time=notice.occurred_at,
        due_at=next_digest_at(now, hour, policy.zone),
    )


def _staff_message(
    policy: NotifyPolicy,
    notice: AlertNotice,
    intent: Intent,
    contact: Any,
    now: datetime,
) -> tuple[queue.NewDelivery, links.LinkRequest | None] | unreached.Unreached:
    """The message for a staff member or the on-duty line, and the link it carries (issued
    with the batch's); for someone notify cannot reach, the unreached row to record."""
    if contact is None or not (chain := staff_chain(contact, policy.channels)).channels:
        return _unreached(
            notice,
            intent.kind,
            intent.role,
            intent.recipient_ref,
            "no_contact" if contact is None else "no_channel",
        )
    context = alert_context(notice, intent.role)
    channel = chain.first()
    if intent.kind is RecipientKind.ON_DUTY and policy.on_duty_webhook:
        channel = Channel.WEBHOOK
    assert channel is not None
    request = None
    if intent.kind is RecipientKind.STAFF and _may_acknowledge(intent.role, notice.owner_role):
        request = links.LinkRequest(
            campus_id=notice.campus_id,
            alert_id=notice.alert_id,
            student_ref=notice.student_ref,
            person_ref=intent.recipient_ref,
            role=intent.role.value if intent.role else "",
            severity=notice.severity.value,
            ack_deadline=notice.ack_deadline,
            expires_at=link_lifetime(notice.ack_deadline, now, policy.link_floor),
        )
    new = queue.NewDelivery(
        campus_id=notice.campus_id,
        source_event_id=notice.event_id,
        source_event_type=notice.event_type,
        source_time=notice.occurred_at,
        student_ref=notice.student_ref,
        recipient_kind=intent.kind,
        recipient_ref=intent.recipient_ref,
        recipient_role=intent.role,
        channel=channel,
        template=intent.template.value,
        language=contact.language,
        context=context,
        priority=PRIORITY[notice.severity],
        not_before=send_at(intent.timing, now, contact.quiet_hours, policy.zone),
        alert_id=notice.alert_id,
    )
    return new, request


async def _queue_family(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    notice: AlertNotice,
    case_id: str,
    now: datetime,
) -> int:
    return await queue_family_messages(
        conn,
        cipher,
        policy,
        campus_id=notice.campus_id,
        student_ref=notice.student_ref,
        case_id=case_id,
        severity=notice.severity,
        source_event_id=notice.event_id,
        source_event_type=notice.event_type,
        source_time=notice.occurred_at,
        alert_id=notice.alert_id,
        now=now,
    )


async def _follow_up_reminders(
    conn: asyncpg.Connection,
    policy: NotifyPolicy,
    notice: AlertNotice,
    people: list[Any],
) -> None:
    """Whoever holds a task's role hears of it again shortly before it falls due."""
    for ask in notice.follow_ups:
        for person in people:
            if person.role is not ask.role:
                continue
            await bundle_items.add_bundle_item(
                conn,
                campus_id=notice.campus_id,
                person_ref=person.person_ref,
                role=person.role,
                kind="case",
                item={
                    "kind": CaseNoticeKind.FOLLOW_UP_DUE.value,
                    "task": ask.task,
                    "due": ask.due_at.isoformat(),
                },
                source_event_id=notice.event_id,
                student_ref=notice.student_ref,
                source_time=notice.occurred_at,
                due_at=ask.due_at - policy.follow_up_lead,
            )
