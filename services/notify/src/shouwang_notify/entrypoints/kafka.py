"""Notify's consumers on the kit's runtime: one group per input topic.

Offsets are committed only after a handler's transaction committed; a record that cannot be
read goes to `<topic>.dlq` with the reason and the consumer goes on; a dependency that is
away (database, broker) is waited out, never skipped.
"""

from __future__ import annotations

from shouwang_contracts.topics import ALERTS, CASES, DIRECTORY
from shouwang_servicekit.kafka.consumers import (
    DEAD_LETTERED,
    ConsumerObserver,
    Record,
    Retry,
    subscribe,
    subscribe_batch,
)

from .. import metrics
from ..adapters.inbox import Landing
from ..container import Notify
from .consumers import (
    decode_alert,
    decode_case_event,
    on_alerts,
    on_case_batch,
    on_directory_entry,
)


class _Observer(ConsumerObserver):
    def handled(self, record: Record, outcome: str) -> None:
        if outcome == DEAD_LETTERED:
            metrics.DEAD_LETTERS.labels(record.topic).inc()


def register_consumers(notify: Notify) -> None:
    """Subscribe the alerts, cases and directory consumers on notify's broker."""
    assert notify.broker is not None
    observer = _Observer()

    # Alerts come in bursts (a census raises hundreds): whatever queued up lands in the inbox
    # in one transaction and one offset commit; the planners take the gravest first.
    async def alerts(landing: list[Landing | None]) -> None:
        await on_alerts(notify, landing)
        if len(landing) >= notify.settings.alert_batch:
            notify.planner.precedence.catching_up()
        else:
            notify.planner.precedence.caught_up()

    subscribe_batch(
        notify.broker,
        ALERTS,
        group_id=f"{notify.settings.group_prefix}.{ALERTS}",
        decode=decode_alert,
        handle=alerts,
        max_records=notify.settings.alert_batch,
        poll_ms=50,
        retry=Retry(),
        observer=observer,
        progress=metrics.PROGRESS,
    )

    # Case events in batches of what queued up (one offset commit each): a census brings one
    # or more per alert. A batch of routine ones steps aside while critical alerts are landed
    # and planned; its events are applied a few per transaction (`on_case_events`).
    subscribe_batch(
        notify.broker,
        CASES,
        group_id=f"{notify.settings.group_prefix}.{CASES}",
        decode=decode_case_event,
        handle=lambda events: on_case_batch(notify, events),
        max_records=notify.settings.case_event_batch,
        poll_ms=50,
        retry=Retry(),
        observer=observer,
        progress=metrics.PROGRESS,
    )

    # The directory changes rarely: one record at a time.
    async def directory(record: Record) -> str:
        return await on_directory_entry(notify, record)

    subscribe(
        notify.broker,
        DIRECTORY,
        group_id=f"{notify.settings.group_prefix}.{DIRECTORY}",
        handle=directory,
        retry=Retry(),
        observer=observer,
        progress=metrics.PROGRESS,
    )
