"""A student's family told of an alert: one message to each family contact, with no grade, no
reason and no note, and a number to call back: the on-duty line's mobile, else the campus's
counseling line, else the national hotline (`domain/campus_messages.py`); an SMS signed with
the campus's registered signature."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Severity

from ..adapters import contacts_repo, queue, state, unreached
from ..domain.contacts import ON_DUTY_REF, family_chain
from ..domain.routing import Template
from .policy import PRIORITY, NotifyPolicy


async def queue_family_messages(
    conn: asyncpg.Connection,
    cipher: NoteCipher,
    policy: NotifyPolicy,
    *,
    campus_id: str,
    student_ref: str,
    case_id: str,
    severity: Severity,
    source_event_id: str,
    source_event_type: str,
    source_time: datetime,
    alert_id: str | None,
    now: datetime,
) -> int:
    """One message to each family contact of the student (no grade, no reason, no note)."""
    family = await contacts_repo.family_contacts(conn, cipher, campus_id, student_ref)
    duty = (await contacts_repo.staff_contacts(conn, cipher, campus_id, [ON_DUTY_REF])).get(
        ON_DUTY_REF
    )
    if not family:
        await unreached.record_unreached(
            conn,
            campus_id,
            source_event_id,
            alert_id,
            student_ref,
            RecipientKind.FAMILY,
            None,
            None,
            "no_contact",
        )
        return 0
    settings = await state.family_message_settings(conn, campus_id)
    context = {
        "on_duty_phone": duty.mobile if duty else None,
        "counseling_line": settings.counseling_line,
        "sms_signature": settings.sms_signature,
    }
    queued = 0
    for member in family:
        channel = family_chain(member, policy.channels).first()
        if channel is None:
            continue
        new = queue.NewDelivery(
            campus_id=campus_id,
            source_event_id=source_event_id,
            source_event_type=source_event_type,
            source_time=source_time,
            student_ref=student_ref,
            recipient_kind=RecipientKind.FAMILY,
            recipient_ref=member.key,
            recipient_role=None,
            channel=channel,
            template=Template.FAMILY.value,
            language=member.language,
            context=context,
            priority=PRIORITY[severity],
            not_before=now,
            alert_id=alert_id,
            case_id=case_id,
        )
        queued += int(await queue.enqueue(conn, new))
    return queued
