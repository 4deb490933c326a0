"""Contact points: how to reach a staff member, a family member, the campus on-duty line.

Contacts are notify's own data and never travel on Kafka. Staff are keyed by the same
pseudonym the directory stream uses (`person_ref` from 工号); families by `student_ref`
(from 学号). The campus on-duty contact (值班) is a staff contact with a reserved key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.vocabulary import Language

#: The key of a campus's on-duty contact among its staff contacts (the `值班` row).
ON_DUTY_REF = "on_duty"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily span (campus time) in which only severe and critical alerts are pushed.

    `start` > `end` spans midnight (23:00-07:00); `start` == `end` is never quiet.
    """

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def ends_after(self, local: datetime) -> datetime:
        """The first moment at or after `local` (aware, campus time) that is not quiet."""
        if not self.contains(local.timetz().replace(tzinfo=None)):
            return local
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class StaffContact:
    """How to reach one staff member (or the on-duty line): addresses by channel."""

    person_ref: str
    mobile: str | None = None
    email: str | None = None
    wecom_user: str | None = None
    dingtalk_user: str | None = None
    preferred: Channel | None = None
    quiet_hours: QuietHours | None = None
    language: Language = "zh-CN"

    @property
    def is_on_duty(self) -> bool:
        return self.person_ref == ON_DUTY_REF

    def address(self, channel: Channel) -> str | None:
        """The address this contact has on `channel`, if any (the phone for a call task)."""
        match channel:
            case Channel.EMAIL:
                return self.email
            case Channel.SMS | Channel.PHONE_CALL:
                return self.mobile
            case Channel.WECOM:
                return self.wecom_user
            case Channel.DINGTALK:
                # A DingTalk group robot reaches a person by @-mentioning their mobile.
                return self.mobile if self.dingtalk_user else None
            case Channel.WEBHOOK:
                return None
        return None


@dataclass(frozen=True, slots=True)
class FamilyContact:
    """One family member or guardian of a student: relation, name and how to reach them."""

    student_ref: str
    relation: str
    name: str
    mobile: str | None = None
    email: str | None = None
    language: Language = "zh-CN"
    # Position in the student's list (the import's row order): the first is tried first.
    rank: int = 0

    @property
    def key(self) -> str:
        """Stable key of this contact among the student's (relation and rank)."""
        return f"{self.student_ref}#{self.rank}"

    def address(self, channel: Channel) -> str | None:
        match channel:
            case Channel.SMS:
                return self.mobile
            case Channel.EMAIL:
                return self.email
        return None


@dataclass(frozen=True, slots=True)
class ChannelChain:
    """The channels to try for one recipient, in order: a failing channel falls back to the next."""

    channels: tuple[Channel, ...] = field(default_factory=tuple)

    def first(self) -> Channel | None:
        return self.channels[0] if self.channels else None

    def after(self, channel: Channel) -> Channel | None:
        """The fallback after `channel`, or None when the chain is exhausted."""
        try:
            index = self.channels.index(channel)
        except ValueError:
            return None
        return self.channels[index + 1] if index + 1 < len(self.channels) else None


# Fallback order after the preferred channel: chat first (seen soonest on duty), then SMS,
# then email. The on-duty line ends with a call task for the counselling center: a critical
# alert that no message reached must still reach a person by phone.
_STAFF_ORDER = (Channel.WECOM, Channel.DINGTALK, Channel.SMS, Channel.EMAIL)
_ON_DUTY_ORDER = (Channel.WECOM, Channel.DINGTALK, Channel.SMS, Channel.EMAIL, Channel.PHONE_CALL)
_FAMILY_ORDER = (Channel.SMS, Channel.EMAIL)


def staff_chain(contact: StaffContact, enabled: frozenset[Channel]) -> ChannelChain:
    """The preferred channel first, then the others this contact has an address on."""
    order = _ON_DUTY_ORDER if contact.is_on_duty else _STAFF_ORDER
    ordered = [contact.preferred] if contact.preferred else []
    ordered += [c for c in order if c != contact.preferred]
    return ChannelChain(
        tuple(c for c in ordered if c in enabled and contact.address(c) is not None)
    )


def family_chain(contact: FamilyContact, enabled: frozenset[Channel]) -> ChannelChain:
    """SMS first (families read texts), then email."""
    return ChannelChain(
        tuple(c for c in _FAMILY_ORDER if c in enabled and contact.address(c) is not None)
    )
