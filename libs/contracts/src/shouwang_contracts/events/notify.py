"""Events notify publishes: what became of each notification, and acknowledgements from links.

No contact detail, name, student number or message text ever appears here: a recipient is
named by kind and role (and, for staff, by pseudonym in acknowledgements only).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from ..envelope import Payload
from ..topics import NOTIFICATIONS
from ..vocabulary import Role


class RecipientKind(StrEnum):
    """Who a notification was for: a staff member, a student's family, the campus on-duty line."""

    STAFF = "staff"
    FAMILY = "family"
    ON_DUTY = "on_duty"


class NotificationChannel(StrEnum):
    """The ways notify reaches people. `phone_call` is a call task for the counselling center."""

    EMAIL = "email"
    SMS = "sms"
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    WEBHOOK = "webhook"
    PHONE_CALL = "phone_call"


class _Outcome(Payload):
    notification_id: str = Field(
        description="Id of this notification (one recipient, one channel)."
    )
    source_event_id: str = Field(description="Id of the event that caused it.")
    source_event_type: str = Field(description="Type of that event, e.g. `shouwang.alert.raised`.")
    alert_id: str | None = Field(default=None, description="The alert it is about, if any.")
    case_id: str | None = Field(default=None, description="The case it is about, if any.")
    student_ref: str = Field(description="Pseudonymous reference of the student concerned.")
    recipient_kind: RecipientKind = Field(description="staff, family or on_duty.")
    recipient_role: Role | None = Field(
        default=None, description="The staff recipient's role; none for families."
    )
    channel: NotificationChannel = Field(description="The channel this notification used.")
    attempts: int = Field(ge=1, description="Send attempts made on this channel.")
    created_at: AwareDatetime = Field(description="When the notification was queued.")


class NotificationDelivered(_Outcome):
    """A notification reached its channel (the gateway or server accepted it)."""

    EVENT_TYPE: ClassVar[str] = "shouwang.notification.delivered"
    TOPIC: ClassVar[str] = NOTIFICATIONS

    delivered_at: AwareDatetime = Field(description="When the channel accepted it.")


class NotificationFailed(_Outcome):
    """A notification could not be delivered on its channel after every retry (permanent).

    A fallback channel may still reach the recipient; `fallback_channel` names it.
    """

    EVENT_TYPE: ClassVar[str] = "shouwang.notification.failed"
    TOPIC: ClassVar[str] = NOTIFICATIONS

    reason: str = Field(
        description="Why, as a stable code (e.g. `channel_error`, `no_address`, `consent_withdrawn`)."
    )
    fallback_channel: NotificationChannel | None = Field(
        default=None, description="The channel tried next for the same recipient, if any."
    )
    failed_at: AwareDatetime = Field(description="When it was given up.")


class NotificationAcknowledged(Payload):
    """A recipient confirmed an alert through the signed link in its message.

    Casework checks that the person holds that role for the student, records the
    acknowledgement and publishes `alert.acknowledged`, as its HTTP acknowledgement does.
    """

    EVENT_TYPE: ClassVar[str] = "shouwang.notification.acknowledged"
    TOPIC: ClassVar[str] = NOTIFICATIONS

    alert_id: str = Field(description="The alert confirmed.")
    student_ref: str = Field(description="Pseudonymous reference of the student.")
    person_ref: str = Field(description="Pseudonymous reference of who confirmed.")
    role: Role = Field(description="The role the message was sent to them in.")
    link_id: str = Field(description="Id of the single-use link that was used.")
    confirmed_at: AwareDatetime = Field(description="When they confirmed.")
