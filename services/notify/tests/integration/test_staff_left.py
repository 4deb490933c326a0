"""Staff who left the roster: their contacts end after the grace, through notify's cases
consumer (`staff.listing_changed`) and the retention chore's statement, on a real
PostgreSQL. Listed again within the grace, they keep them; people never on the roster (the
on-duty line, a leader's office) are never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import pytest
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events import StaffListingChanged
from shouwang_notify.adapters import links
from shouwang_notify.adapters.db import worker_transaction
from shouwang_notify.adapters.links import LinkSigner
from shouwang_notify.adapters.retention import purge_staff_contacts_of_leavers
from shouwang_notify.domain.contacts import ON_DUTY_REF
from shouwang_notify.domain.links import LinkRefusal
from shouwang_notify.entrypoints.consumers import decode_case_event, on_case_events
from shouwang_notify.service_layer.acks import confirm_link, open_link
from shouwang_notify.service_layer.policy import NotifyPolicy

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
GRACE = timedelta(days=30)
LONG_AGO = NOW - timedelta(days=40)
SIGNER = LinkSigner(["k" * 32])


def listing(person: str, *, listed: bool, at: datetime, campus: str = "c1") -> SimpleNamespace:
    envelope = Envelope.wrap(
        StaffListingChanged(person_ref=person, listed=listed, changed_at=at),
        source="/shouwang/casework",
        campus_id=campus,
        subject=person,
    )
    return SimpleNamespace(value=envelope.to_bytes(), headers=envelope.kafka_headers())


async def contacts(conn: asyncpg.Connection, *people: str, campus: str = "c1") -> None:
    for person in people:
        await conn.execute(
            "INSERT INTO staff_contacts (campus_id, person_ref, sealed, channels)"
            " VALUES ($1, $2, '{}', '{sms}')",
            campus,
            person,
        )


async def apply(pool: asyncpg.Pool, cipher: NoteCipher, *records: SimpleNamespace) -> list[str]:
    notify = SimpleNamespace(
        pool=pool, cipher=cipher, policy=NotifyPolicy(), wake_dispatcher=lambda: None
    )
    return await on_case_events(notify, [decode_case_event(r) for r in records])  # type: ignore[arg-type]


async def purge(pool: asyncpg.Pool, batch: int = 500) -> int:
    async with worker_transaction(pool) as conn:
        return await purge_staff_contacts_of_leavers(conn, NOW - GRACE, batch)


async def kept(pool: asyncpg.Pool) -> set[tuple[str, str]]:
    async with worker_transaction(pool) as conn:
        rows = await conn.fetch("SELECT campus_id, person_ref FROM staff_contacts")
    return {(r["campus_id"], r["person_ref"]) for r in rows}


async def test_contacts_of_staff_who_left_end_after_the_grace_period(
    notify_pool: asyncpg.Pool, cipher: NoteCipher
) -> None:
    async with worker_transaction(notify_pool) as conn:
        await contacts(conn, "per_gone_1", "per_gone_2", "per_just_left", "per_here")
        await contacts(conn, "per_gone_1", campus="c2")  # the same pseudonym elsewhere
    gone_1 = listing("per_gone_1", listed=False, at=LONG_AGO)
    assert (
        await apply(
            notify_pool,
            cipher,
            gone_1,
            listing("per_gone_2", listed=False, at=LONG_AGO - timedelta(days=1)),
            listing("per_just_left", listed=False, at=NOW - timedelta(days=5)),
            # A later leaving of someone already gone does not move their leaving on.
            listing("per_gone_1", listed=False, at=NOW),
        )
        == ["applied"] * 4
    )
    assert await apply(notify_pool, cipher, gone_1) == ["duplicate"]

    # In batches, the longest gone first.
    assert await purge(notify_pool, batch=1) == 1
    assert ("c1", "per_gone_2") not in await kept(notify_pool)
    assert await purge(notify_pool) == 1
    assert await purge(notify_pool) == 0
    assert await kept(notify_pool) == {
        ("c1", "per_just_left"),
        ("c1", "per_here"),
        ("c2", "per_gone_1"),
    }

    # A contacts file that still lists a leaver writes them again: they go on the next turn.
    async with worker_transaction(notify_pool) as conn:
        await contacts(conn, "per_gone_1")
        erased = await conn.fetchval(
            "SELECT contacts_erased_at FROM staff_left WHERE person_ref = 'per_gone_1'"
        )
    assert erased is not None
    assert await purge(notify_pool) == 1
    assert ("c1", "per_gone_1") not in await kept(notify_pool)


async def test_a_staff_member_relisted_within_grace_keeps_their_contacts(
    notify_pool: asyncpg.Pool, cipher: NoteCipher, caplog: pytest.LogCaptureFixture
) -> None:
    async with worker_transaction(notify_pool) as conn:
        await contacts(conn, "per_mistake", "per_late_word", "per_back_too_late")
    await apply(
        notify_pool,
        cipher,
        listing("per_mistake", listed=False, at=LONG_AGO),
        listing("per_mistake", listed=True, at=LONG_AGO + timedelta(days=1)),
        listing("per_late_word", listed=False, at=LONG_AGO),
        # A listing older than the leaving, delivered late, undoes nothing.
        listing("per_late_word", listed=True, at=LONG_AGO - timedelta(days=1)),
        listing("per_back_too_late", listed=False, at=LONG_AGO),
    )
    assert await purge(notify_pool) == 2
    assert await kept(notify_pool) == {("c1", "per_mistake")}

    # Listed again after their contacts ended: forgotten as a leaver, and the log says the
    # contacts must be imported again (no reference, name or address in it).
    caplog.set_level("WARNING", logger="shouwang.notify.staff_left")
    await apply(notify_pool, cipher, listing("per_back_too_late", listed=True, at=NOW))
    async with worker_transaction(notify_pool) as conn:
        await contacts(conn, "per_back_too_late")
        leavers = {r[0] for r in await conn.fetch("SELECT person_ref FROM staff_left")}
    assert leavers == {"per_late_word"}
    assert await purge(notify_pool) == 0
    assert ("c1", "per_back_too_late") in await kept(notify_pool)
    [warning] = [r for r in caplog.records if r.name == "shouwang.notify.staff_left"]
    assert "import their contacts again" in warning.getMessage()
    assert "per_back_too_late" not in warning.getMessage()


async def test_contacts_of_people_never_on_the_roster_are_untouched(
    notify_pool: asyncpg.Pool, cipher: NoteCipher
) -> None:
    """The on-duty line and a leader's office have contacts but no roster row: no leaving is
    ever said of them, however old their contacts, while a leaver beside them goes."""
    async with worker_transaction(notify_pool) as conn:
        await contacts(conn, ON_DUTY_REF, "per_leaders_office", "per_gone")
        await conn.execute("UPDATE staff_contacts SET updated_at = $1", NOW - timedelta(days=900))
    await apply(notify_pool, cipher, listing("per_gone", listed=False, at=LONG_AGO))
    assert await purge(notify_pool) == 1
    assert await kept(notify_pool) == {("c1", ON_DUTY_REF), ("c1", "per_leaders_office")}


async def test_a_link_of_someone_who_left_the_roster_no_longer_confirms(
    notify_pool: asyncpg.Pool, cipher: NoteCipher
) -> None:
    """The threat: a staff member taken off the roster kept their acknowledgement links until
    each expired (the alert's deadline, or a day), so they could still open an alert's page
    and confirm it: notify spent the link and told them "confirmed" (and published it),
    while casework, the person no longer holding the role, refused the acknowledgement.
    Their unused links end when they leave; listed again, a new alert gives them new ones."""
    later = NOW + timedelta(hours=6)
    async with worker_transaction(notify_pool) as conn:
        for alert, person in (("alert-a", "per_leaving"), ("alert-a", "per_staying")):
            await links.issue_link(
                conn,
                campus_id="c1",
                alert_id=alert,
                student_ref="stu_1",
                person_ref=person,
                role="residence_counselor",
                severity="severe",
                ack_deadline=later,
                expires_at=later,
            )
        codes = {
            r["person_ref"]: r["short_code"]
            for r in await conn.fetch("SELECT person_ref, short_code FROM ack_links")
        }
    assert await apply(
        notify_pool, cipher, listing("per_leaving", listed=False, at=NOW - timedelta(minutes=1))
    ) == ["applied"]

    async with worker_transaction(notify_pool) as conn:
        gone = await confirm_link(
            conn, SIGNER, token=None, short_code=codes["per_leaving"], now=NOW
        )
        staying = await open_link(
            conn, SIGNER, token=None, short_code=codes["per_staying"], now=NOW
        )
        published = await conn.fetchval("SELECT count(*) FROM outbox")
    assert gone.refusal is LinkRefusal.EXPIRED
    assert published == 0
    assert staying.refusal is None  # a colleague's link of the same alert is untouched

    # Listed again, a re-alert gives them a link that lives as long as the alert asks.
    await apply(notify_pool, cipher, listing("per_leaving", listed=True, at=NOW))
    async with worker_transaction(notify_pool) as conn:
        await links.issue_link(
            conn,
            campus_id="c1",
            alert_id="alert-a",
            student_ref="stu_1",
            person_ref="per_leaving",
            role="residence_counselor",
            severity="severe",
            ack_deadline=later,
            expires_at=later,
        )
        back = await open_link(conn, SIGNER, token=None, short_code=codes["per_leaving"], now=NOW)
    assert back.refusal is None
