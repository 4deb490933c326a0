"""What a claimed message says and where it goes: the address opened, the link signed, the
text rendered in the recipient's language.

A batch of claimed messages reads what it needs in a few statements, in the claim's
transaction: the contacts of every staff recipient at once, every link at once. A family
message checks the case's consent there too, right before it goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import asyncpg
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Language

from ..adapters import contacts_repo, links, state
from ..adapters.channels import Outgoing
from ..adapters.links import LinkSigner
from ..adapters.queue import Delivery
from ..adapters.templates import Templates
from ..domain.contacts import StaffContact
from ..domain.links import LinkClaims, carries_link
from ..domain.routing import Template


class Unsendable(StrEnum):
    """Why a claimed message does not go out as it is."""

    CONSENT_MISSING = "consent_missing"  # a family message whose consent is gone: cancel
    NO_ADDRESS = "no_address"  # the recipient has no address on this channel: fall back
    CALL_TASK = "call_task"  # the on-duty line's last resort: a person phones


@dataclass
class Addresses:
    """What a batch of claimed messages needs from the database."""

    staff: dict[tuple[str, str], StaffContact] = field(default_factory=dict)
    family: dict[int, str | None] = field(default_factory=dict)  # by delivery id
    cancelled: set[int] = field(default_factory=set)  # family messages without consent
    links: dict[str, tuple[LinkClaims, str]] = field(default_factory=dict)


async def read_addresses(
    conn: asyncpg.Connection, cipher: NoteCipher, claimed: Sequence[Delivery]
) -> Addresses:
    """Addresses, consent and links for `claimed`, opened (within the claim's transaction)."""
    found = Addresses()
    found.staff = await contacts_repo.staff_contacts_of(
        conn,
        cipher,
        (
            (d.campus_id, d.recipient_ref)
            for d in claimed
            if d.recipient_kind is not RecipientKind.FAMILY
        ),
    )
    found.links = await links.signable(
        conn,
        (
            str(context["link_id"])
            for d in claimed
            for context in (d.context, *d.context.get("items", ()))
            if isinstance(context, dict) and context.get("link_id")
        ),
    )
    for d in claimed:
        if d.recipient_kind is RecipientKind.FAMILY:
            case = await state.get_case(conn, d.case_id) if d.case_id else None
            if case is None or case.closed or not (case.consent and case.consent.allows_contact):
                found.cancelled.add(d.id)
                continue
            student_ref, _, rank = d.recipient_ref.partition("#")
            members = await contacts_repo.family_contacts(conn, cipher, d.campus_id, student_ref)
            member = next((m for m in members if str(m.rank) == rank), None)
            found.family[d.id] = member.address(d.channel) if member else None
    return found


@dataclass(frozen=True)
class Composer:
    """Turns a claimed message into what a channel sends."""

    templates: Templates
    signer: LinkSigner
    public_base_url: str
    on_duty_webhook: str | None = None
    #: A short host of the same gateway for SMS links (one segment); None: the public base.
    sms_base_url: str | None = None

    def compose(self, d: Delivery, found: Addresses) -> Outgoing | Unsendable:
        """The message to send, or why there is none."""
        if d.recipient_kind is RecipientKind.FAMILY:
            if d.id in found.cancelled:
                return Unsendable.CONSENT_MISSING
            address = found.family.get(d.id)
        else:
            contact = found.staff.get((d.campus_id, d.recipient_ref))
            if d.channel is Channel.WEBHOOK:
                address = self.on_duty_webhook
            else:
                address = contact.address(d.channel) if contact else None
        if address is None:
            return Unsendable.NO_ADDRESS
        if d.channel is Channel.PHONE_CALL:
            return Unsendable.CALL_TASK
        private = carries_link(d.channel)
        language: Language = "en" if d.language == "en" else "zh-CN"
        context = self._linked(d.context, found, language, private=private)
        if "items" in context:
            # A bundle of alerts: each line has its own confirmation link.
            context["items"] = [
                self._linked(item, found, language, private=private) for item in context["items"]
            ]
        rendered = self.templates.message(Template(d.template), language, context)
        return Outgoing(d.channel, address, rendered.subject, rendered.body, rendered.short)

    def _linked(
        self, values: dict[str, Any], found: Addresses, language: Language, *, private: bool = True
    ) -> dict[str, Any]:
        """`values` with its link id turned into the signed link and the SMS short link; on a
        channel a group reads (`private` false), none: `confirm_in_app` says the person may
        confirm, after signing in. An English reader's link opens its pages in English (a
        phone set to Chinese asked for them in Chinese); zh-CN, the default, needs nothing.
        The SMS's short link has no room for it (an English SMS is then two segments): its
        page follows the phone's language."""
        context = dict(values)
        link_id = context.pop("link_id", None)
        context["link"] = context["short_link"] = None
        signable = found.links.get(str(link_id)) if link_id else None
        context["confirm_in_app"] = signable is not None and not private
        if signable is not None and private:
            claims, code = signable
            base = self.public_base_url.rstrip("/")
            asked = "?lang=en" if language == "en" else ""
            context["link"] = f"{base}/ack/{self.signer.sign(claims)}{asked}"
            short_base = (self.sms_base_url or base).rstrip("/")
            context["short_link"] = f"{short_base}/ack/s/{code}"
        return context
