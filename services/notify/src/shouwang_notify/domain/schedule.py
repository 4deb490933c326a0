"""Time rules: quiet hours, the daily digest hour, retries with back-off and jitter.

All pure functions of their inputs (the clock and the random draw are passed in), so the
rules are tested without waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .contacts import QuietHours
from .routing import Timing


def send_at(timing: Timing, now: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """When an intent of `timing` may go to a recipient with `quiet` hours (campus time)."""
    if timing is Timing.AFTER_QUIET_HOURS and quiet is not None:
        return quiet.ends_after(now.astimezone(zone))
    return now


def next_digest_at(now: datetime, digest_hour: int, zone: ZoneInfo) -> datetime:
    """The next daily digest time at `digest_hour` o'clock campus time, after `now`."""
    local = now.astimezone(zone)
    at = local.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
    return at if at > local else at + timedelta(days=1)


def digest_day(at: datetime, zone: ZoneInfo) -> str:
    """The campus date a digest belongs to, as text (one digest per owner per day)."""
    return at.astimezone(zone).date().isoformat()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with jitter: attempt n waits between half and all of
    `base * 2**(n-1)`, at most `cap`; after `max_attempts` the channel has failed."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int = 5

    def delay(self, attempt: int, draw: Callable[[], float]) -> timedelta:
        """Wait before attempt `attempt + 1`; `draw` returns a number in [0, 1)."""
        ceiling = min(self.cap, self.base * (1 << max(attempt - 1, 0)))
        return ceiling / 2 + ceiling / 2 * draw()

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


def parse_quiet_hours(text: str | None) -> QuietHours | None:
    """`23:00-07:00` (also with `~`, `－`, `至`, full-width colons) → QuietHours; None if blank.

    Raises ValueError for text that is not a span of two times.
    """
    if text is None or not text.strip():
        return None
    cleaned = text.strip().replace("：", ":")
    for separator in ("-", "~", "～", "－", "—", "至", "到"):
        if separator in cleaned:
            left, _, right = cleaned.partition(separator)
            return QuietHours(_clock(left), _clock(right))
    raise ValueError(f"not a span of two times: {text!r}")


def _clock(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    hour, minute = int(hours), int(minutes or 0)
    if hour == 24 and minute == 0:
        return time(0, 0)
    return time(hour, minute)
