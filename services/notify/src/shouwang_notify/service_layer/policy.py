"""The knobs of notify's behaviour, set once from the settings by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from shouwang_contracts.events.notify import NotificationChannel as Channel
from shouwang_contracts.vocabulary import Severity

from ..domain.schedule import RetryPolicy


@dataclass(frozen=True)
class NotifyPolicy:
    """How notify routes, schedules and retries."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    channels: frozenset[Channel] = frozenset(Channel)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    default_digest_hour: int = 8
    # Case notices for one person arriving within this window go out as one message.
    case_batch_window: timedelta = timedelta(minutes=2)
    # Oversight notices after a person's first within this window go together when it ends
    # (`service_layer/informed.py`); zero sends each alone.
    informed_window: timedelta = timedelta(minutes=5)
    # Severe and critical alerts to one person on one human channel after their first within
    # this window go together when it ends (`service_layer/bursts.py`); zero sends each alone.
    burst_window: timedelta = timedelta(seconds=20)
    # A follow-up reminder goes out this long before the follow-up is due.
    follow_up_lead: timedelta = timedelta(hours=1)
    # A link lives until the alert's deadline and at least this long.
    link_floor: timedelta = timedelta(hours=24)
    # The campus duty system's webhook, tried first for the on-duty line when set.
    on_duty_webhook: str | None = None


PRIORITY = {
    Severity.CRITICAL: 0,
    Severity.SEVERE: 1,
    Severity.MODERATE: 2,
    Severity.MILD: 3,
    Severity.NONE: 3,
}
CASE_PRIORITY = 3
#: Critical messages: the urgent lanes (planning and sending) take only these.
CRITICAL_PRIORITY = PRIORITY[Severity.CRITICAL]
LOWEST_PRIORITY = max(*PRIORITY.values(), CASE_PRIORITY)
