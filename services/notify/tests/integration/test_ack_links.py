"""Acknowledgement links: a valid one is spent once and published; the rest are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from notify_delivery import SIGNER, rows
from shouwang_notify.adapters import links
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.adapters.links import LinkSigner
from shouwang_notify.domain.links import LinkClaims, LinkRefusal
from shouwang_notify.service_layer.acks import confirm_link, open_link

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


async def issue(
    pool: asyncpg.Pool, person_ref: str = "per_center", hours: float = 2
) -> tuple[str, str]:
    async with worker_transaction(pool) as conn:
        link = await links.issue_link(
            conn,
            campus_id="demo",
            alert_id="alert-1",
            student_ref="stu_x",
            person_ref=person_ref,
            role="counseling_center",
            severity="severe",
            ack_deadline=NOW + timedelta(hours=2),
            expires_at=NOW + timedelta(hours=hours),
        )
        (claims, code) = (await links.signable(conn, [link.link_id]))[link.link_id]
    assert claims == LinkClaims(
        link.link_id, link.alert_id, link.person_ref, link.campus_id, link.expires_at
    )
    return SIGNER.sign(claims), code


async def confirm(
    pool: asyncpg.Pool,
    *,
    token: str | None = None,
    code: str | None = None,
    at: datetime = NOW,
    viewer: str | None = None,
) -> LinkRefusal | None:
    async with worker_transaction(pool) as conn:
        view = await confirm_link(
            conn, SIGNER, token=token, short_code=code, now=at, viewer_ref=viewer
        )
    return view.refusal


async def test_a_valid_link_is_confirmed_once_and_published(notify_pool: asyncpg.Pool) -> None:
    token, _ = await issue(notify_pool)
    assert await confirm(notify_pool, token=token) is None
    (event,) = await rows(notify_pool, "SELECT payload FROM outbox")
    payload = json.loads(event["payload"])
    assert payload["type"] == "shouwang.notification.acknowledged"
    assert payload["data"]["person_ref"] == "per_center"
    assert payload["data"]["role"] == "counseling_center"
    # A replayed link is refused and publishes nothing more.
    assert await confirm(notify_pool, token=token) is LinkRefusal.USED
    assert len(await rows(notify_pool, "SELECT id FROM outbox")) == 1


async def test_replayed_expired_forged_and_other_person_links_are_refused(
    notify_pool: asyncpg.Pool,
) -> None:
    token, code = await issue(notify_pool, hours=1)
    later = NOW + timedelta(hours=2)
    assert await confirm(notify_pool, token=token, at=later) is LinkRefusal.EXPIRED
    forged = LinkSigner(["another-key-that-is-long-enough-0123456789"]).sign(SIGNER.verify(token))  # type: ignore[arg-type]
    assert await confirm(notify_pool, token=forged) is LinkRefusal.FORGED
    assert await confirm(notify_pool, token=token[:-3] + "abc") is LinkRefusal.FORGED
    assert (
        await confirm(notify_pool, token=token, viewer="per_someone_else")
        is LinkRefusal.OTHER_PERSON
    )
    assert await confirm(notify_pool, code="NOSUCHCODE") is LinkRefusal.FORGED
    assert await confirm(notify_pool, code=code.lower()) is None  # the SMS code, typed loosely
    assert await confirm(notify_pool, token=token) is LinkRefusal.USED
    assert await rows(notify_pool, "SELECT id FROM outbox") != []


async def test_a_link_of_an_alert_someone_acknowledged_says_so(notify_pool: asyncpg.Pool) -> None:
    token, _ = await issue(notify_pool)
    async with worker_transaction(notify_pool) as conn:
        await conn.execute("INSERT INTO alerts_acknowledged VALUES ('alert-1', 'demo', now())")
        view = await open_link(conn, SIGNER, token=token, short_code=None, now=NOW)
    assert view.refusal is LinkRefusal.ALREADY_ACKNOWLEDGED


async def test_a_confirmed_link_names_its_students_open_case_once_notify_knows_it(
    notify_pool: asyncpg.Pool,
) -> None:
    """The confirmation page links on to the case in the web app: the student's open case
    as the case events told notify, or none (the app's desk) before they have."""

    async def confirmed_case(person_ref: str) -> str | None:
        token, _ = await issue(notify_pool, person_ref=person_ref)
        async with worker_transaction(notify_pool) as conn:
            view = await confirm_link(conn, SIGNER, token=token, short_code=None, now=NOW)
        assert view.refusal is None
        return view.case_id

    assert await confirmed_case("per_before_case") is None
    async with worker_transaction(notify_pool) as conn:
        await conn.execute(
            "INSERT INTO cases (campus_id, case_id, student_ref, closed_at)"
            " VALUES ('demo', 'case-closed', 'stu_x', now()), ('demo', 'case-open', 'stu_x', NULL)"
        )
    try:
        assert await confirmed_case("per_after_case") == "case-open"
    finally:
        async with worker_transaction(notify_pool) as conn:
            await conn.execute("DELETE FROM cases WHERE case_id IN ('case-closed', 'case-open')")
