"""Confirming an alert from its message: the link is checked, spent, and published.

The confirmation becomes `notification.acknowledged` in the outbox, in the transaction that
spends the link; casework consumes it, checks the person holds the role for the student,
records the acknowledgement and publishes `alert.acknowledged`, so triage stops escalating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from shouwang_contracts.events.notify import NotificationAcknowledged
from shouwang_contracts.vocabulary import Role

from ..adapters import links, outbox, state
from ..adapters.links import LinkSigner
from ..domain.links import IssuedLink, LinkClaims, LinkRefusal, check_link, normalise_short_code


@dataclass(frozen=True, slots=True)
class LinkView:
    """A link that passed its checks, or the reason it did not."""

    link: IssuedLink | None
    refusal: LinkRefusal | None
    case_id: str | None = None  # a confirmed link's case, if notify has heard of it


async def open_link(
    conn: asyncpg.Connection,
    signer: LinkSigner,
    *,
    token: str | None,
    short_code: str | None,
    now: datetime,
    viewer_ref: str | None = None,
    lock: bool = False,
) -> LinkView:
    """Find and check a link from its token or its SMS short code."""
    claims: LinkClaims | None
    if token is not None:
        claims = signer.verify(token)
        issued = await links.find_link(conn, claims.link_id, lock=lock) if claims else None
    else:
        issued = await links.find_short_code(
            conn, normalise_short_code(short_code or ""), lock=lock
        )
        # A short code is a random handle to a stored link, not a signed token: its claims
        # are the stored ones.
        claims = (
            LinkClaims(
                issued.link_id,
                issued.alert_id,
                issued.person_ref,
                issued.campus_id,
                issued.expires_at,
            )
            if issued
            else None
        )
    refusal = check_link(claims, issued, now, viewer_ref=viewer_ref)
    return LinkView(issued, refusal)


async def confirm_link(
    conn: asyncpg.Connection,
    signer: LinkSigner,
    *,
    token: str | None,
    short_code: str | None,
    now: datetime,
    viewer_ref: str | None = None,
) -> LinkView:
    """Spend a valid link and queue `notification.acknowledged`; refuse anything else."""
    view = await open_link(
        conn, signer, token=token, short_code=short_code, now=now, viewer_ref=viewer_ref, lock=True
    )
    if view.refusal is not None or view.link is None:
        return view
    link = view.link
    if not await links.use_link(conn, link.link_id, now):
        return LinkView(link, LinkRefusal.USED)
    await outbox.enqueue_event(
        conn,
        NotificationAcknowledged(
            alert_id=link.alert_id,
            student_ref=link.student_ref,
            person_ref=link.person_ref,
            role=Role(link.role),
            link_id=link.link_id,
            confirmed_at=now,
        ),
        campus_id=link.campus_id,
        student_ref=link.student_ref,
        time=now,
    )
    case = await state.open_case_of(conn, link.campus_id, link.student_ref)
    return LinkView(link, None, case.case_id if case else None)
