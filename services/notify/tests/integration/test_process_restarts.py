"""Notify as a real process, killed with -9 and started again on the same database and
groups: a message claimed but not sent, alerts held for a burst and an erasure deferred by an
open case all complete after the restart, nothing lost and nothing doubled."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from notify_kafka import (
    alert,
    publish,
    until_notify_holds,
    wrap,
)
from notify_processes import Campus, import_samples, with_contacts_and_staff
from notify_receivers import SmtpSink, until
from shouwang_contracts.events.casework import CaseClosed, CaseOpened, CaseOutcome, StudentErased
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_devstack.services import ServiceProcess

pytestmark = pytest.mark.integration
LEADER = {Role.COLLEGE_LEADER: "T4001"}  # email: what the SMTP server holds or receives


async def until_settled(dsn: str, campus_id: str) -> None:
    """Until none of the campus's messages is waiting, leased or held for a bundle."""
    await until_notify_holds(
        dsn,
        "SELECT count(*) = 0 FROM deliveries WHERE campus_id = $1"
        " AND status IN ('pending', 'sending', 'bundled')",
        campus_id,
        what="every message settled",
    )


async def test_kill_9_between_claim_and_send_loses_nothing_and_doubles_nothing(
    notify_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    campus: Campus,
    smtp_sink: SmtpSink,
) -> None:
    first = await notify_process(NOTIFY_LEASE_SECONDS="3").start_async()
    student = await with_contacts_and_staff(first, kafka_bootstrap, campus, LEADER)
    # The SMTP server holds its greeting: the message is claimed and connecting, not sent.
    smtp_sink.hold_greeting = 30.0
    await publish(
        kafka_bootstrap, alert(campus.id, student, Severity.SEVERE, owner=Role.COLLEGE_LEADER)
    )
    await until(lambda: smtp_sink.greetings, what="notify to connect to the SMTP server")
    first.kill()
    assert smtp_sink.messages == []
    # A new process on the same database and groups takes the message over once the lease ends.
    second = notify_process(
        NOTIFY_LEASE_SECONDS="3", NOTIFY_DATABASE_URL=first.env["NOTIFY_DATABASE_URL"]
    )
    await second.start_async()
    await until(lambda: smtp_sink.messages, seconds=60, what="the message after the restart")
    # Once no row is left pending or leased, no lease can run out and send it again.
    await until_settled(first.env["NOTIFY_DATABASE_URL"], campus.id)
    assert len(smtp_sink.to("t4001@example.com")) == 1


async def test_alerts_held_for_a_burst_survive_a_kill_9_and_go_as_one_message(
    notify_process: Callable[..., ServiceProcess],
    kafka_bootstrap: str,
    campus: Campus,
    smtp_sink: SmtpSink,
) -> None:
    """The held alerts are in PostgreSQL, not in the process: a notify killed while they wait
    for their window leaves them to the next, which sends them as one message."""
    burst = {"NOTIFY_ALERT_BURST_WINDOW_SECONDS": "8", "NOTIFY_BUNDLE_POLL_SECONDS": "0.5"}
    first = await notify_process(**burst).start_async()
    student = await with_contacts_and_staff(first, kafka_bootstrap, campus, LEADER)
    dsn = first.env["NOTIFY_DATABASE_URL"]
    await publish(
        kafka_bootstrap,
        *(alert(campus.id, student, Severity.SEVERE, owner=Role.COLLEGE_LEADER) for _ in range(3)),
    )
    await until(lambda: smtp_sink.to("t4001@example.com"), what="the first alert at once")
    # Its outcome committed (else it is sent again), the rest held.
    await until_notify_holds(
        dsn,
        "SELECT count(*) FROM deliveries WHERE campus_id = $1 AND status = 'sent'",
        campus.id,
        what="the first alert's outcome",
    )
    # Both later alerts held in PostgreSQL before the kill: else the third is still on Kafka,
    # read by the next process after its window, and the test settles before it is sent.
    await until_notify_holds(
        dsn,
        "SELECT count(*) >= 2 FROM bundle_items WHERE campus_id = $1 AND kind = 'alerts'",
        campus.id,
        what="the two alerts after it, held",
    )
    first.kill()
    second = notify_process(**burst, NOTIFY_DATABASE_URL=dsn)
    await second.start_async()
    await until(
        lambda: smtp_sink.to("t4001@example.com")[1:], seconds=60, what="the held two, together"
    )
    await until_settled(dsn, campus.id)  # nothing left to send: nothing else arrives
    mails = smtp_sink.to("t4001@example.com")
    assert len(mails) == 2, [m.subject for m in mails]
    assert "又有 2 条预警" in mails[1].subject
    # A college leader confirms nothing (no links): each line names its alert's number.
    assert len(re.findall(r"编号 [0-9a-f]{8}", mails[1].text)) == 2


async def test_an_erasure_deferred_by_an_open_case_completes_after_a_restart(
    notify_process: Callable[..., ServiceProcess], kafka_bootstrap: str, campus: Campus
) -> None:
    """On Kafka: `student.erased` while the student's case is open keeps the family contacts
    and leaves a pending erasure; notify is killed; the process after it completes the
    erasure when the case-closed event comes, and says so in counts."""
    first = await notify_process().start_async()
    async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
        await import_samples(client, campus)
    dsn = first.env["NOTIFY_DATABASE_URL"]
    student, case_id = campus.student(), str(uuid.uuid4())

    async def held() -> tuple[int, int]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SELECT set_config('shouwang.all_campuses', 'on', false)")
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM family_contacts WHERE campus_id = $1"
                " AND student_ref = $2) AS contacts, (SELECT count(*) FROM pending_erasures"
                " WHERE campus_id = $1 AND student_ref = $2) AS pending",
                campus.id,
                student,
            )
        finally:
            await conn.close()
        assert row is not None
        return row["contacts"], row["pending"]

    async def until_held(expected: tuple[int, int], what: str) -> None:
        deadline = asyncio.get_running_loop().time() + 60
        while await held() != expected:
            assert asyncio.get_running_loop().time() < deadline, what
            await asyncio.sleep(0.2)

    opened_at = datetime.now(UTC)
    await publish(
        kafka_bootstrap,
        wrap(
            CaseOpened(
                case_id=case_id,
                student_ref=student,
                severity=Severity.SEVERE,
                owner_ref=None,
                owner_role=Role.COUNSELING_CENTER,
                opened_at=opened_at,
            ),
            campus.id,
            student,
        ),
        wrap(
            StudentErased(student_ref=student, erased_at=datetime.now(UTC), cases=0),
            campus.id,
            student,
        ),
    )
    await until_held((2, 1), "the erasure deferred, the two family contacts kept")
    first.kill()

    second = await notify_process(NOTIFY_DATABASE_URL=dsn).start_async()
    await publish(
        kafka_bootstrap,
        wrap(
            CaseClosed(
                case_id=case_id,
                student_ref=student,
                outcome=CaseOutcome.STABLE,
                severity=Severity.SEVERE,
                opened_at=opened_at,
                closed_at=datetime.now(UTC),
            ),
            campus.id,
            student,
        ),
    )
    await until_held((0, 0), "the deferred erasure completed after the restart")
    log = second.log_text()
    assert "completed" in log
    assert "2 family contacts" in log
    assert student not in log
