"""Acknowledgement links: signed, expiring, single-use, bound to one alert and one person.

Every alert message to a staff member carries a link (and, for SMS, a short code that stands
for it). The link's claims are signed by the adapter; this module holds the rules a link must
pass before its confirmation is published, and the refusals a person reads when it does not.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from shouwang_contracts.events.notify import NotificationChannel as Channel

# Crockford-style alphabet: no 0/O, 1/I/L, U, so a code read aloud or retyped survives.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_CODE_LENGTH = 10  # ~49 bits: unguessable within a link's life at any sane request rate


#: Channels a group reads: a WeCom or DingTalk robot posts in a group chat, @-mentioning the
#: person, and everyone in the group sees the message. A link there would let any of them
#: confirm the alert in the person's name (the link is the credential, no sign-in), and the
#: escalation it stops would never reach the person who should act. Messages on these channels
#: carry no link: they send the person to the platform, where signing in is the credential.
GROUP_CHANNELS = frozenset({Channel.WECOM, Channel.DINGTALK})


def carries_link(channel: Channel) -> bool:
    """Whether a message on `channel` may carry an acknowledgement link (a private channel)."""
    return channel not in GROUP_CHANNELS


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def normalise_short_code(text: str) -> str:
    """Upper-case, drop separators; a code typed from an SMS may carry spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a link asserts: which link, which alert, whose, until when."""

    link_id: str
    alert_id: str
    person_ref: str
    campus_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A link as notify stored it when the message was queued."""

    link_id: str
    campus_id: str
    alert_id: str
    student_ref: str
    person_ref: str
    role: str
    expires_at: datetime
    used_at: datetime | None
    alert_closed_at: datetime | None = None  # someone acknowledged the alert meanwhile
    severity: str = ""
    ack_deadline: datetime | None = None


class LinkRefusal(StrEnum):
    """Why a link is refused; each has a page in both languages."""

    FORGED = "forged"  # the signature does not hold, or no such link was issued
    EXPIRED = "expired"
    USED = "used"  # single use: it was confirmed already
    OTHER_PERSON = "other_person"  # the link is someone else's
    ALREADY_ACKNOWLEDGED = "already_acknowledged"  # someone acknowledged the alert meanwhile


def app_page(app_base_url: str, case_id: str | None) -> str:
    """Where the confirmation page sends the person on: the web app's page of the alert's
    case (only the case id the app itself uses, no student data), or, while notify has not
    heard of the case yet, the app's desk (which opens on what awaits the person)."""
    base = app_base_url.rstrip("/")
    if case_id:
        return f"{base}/desk/cases/{quote(case_id, safe='')}"
    return f"{base}/desk"


def link_lifetime(ack_deadline: datetime, issued_at: datetime, floor: timedelta) -> datetime:
    """A link lives until the alert's deadline, and at least `floor` (a re-alert past the
    deadline must still be answerable)."""
    return max(ack_deadline, issued_at + floor)


def check_link(
    claims: LinkClaims | None,
    issued: IssuedLink | None,
    now: datetime,
    *,
    viewer_ref: str | None = None,
) -> LinkRefusal | None:
    """None when the link may be shown and confirmed; otherwise the reason to refuse it.

    `viewer_ref` is the person_ref of a signed-in viewer, if the request carries a token:
    someone signed in as another person is refused the link of a colleague.
    """
    if claims is None or issued is None:
        return LinkRefusal.FORGED
    if (
        claims.link_id != issued.link_id
        or claims.alert_id != issued.alert_id
        or claims.person_ref != issued.person_ref
        or claims.campus_id != issued.campus_id
    ):
        return LinkRefusal.FORGED
    if viewer_ref is not None and viewer_ref != issued.person_ref:
        return LinkRefusal.OTHER_PERSON
    if issued.used_at is not None:
        return LinkRefusal.USED
    if now >= min(claims.expires_at, issued.expires_at):
        return LinkRefusal.EXPIRED
    if issued.alert_closed_at is not None:
        return LinkRefusal.ALREADY_ACKNOWLEDGED
    return None
