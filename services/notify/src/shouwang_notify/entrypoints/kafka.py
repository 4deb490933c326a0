"""Notify's consumers on the kit's runtime: one group per input topic.

Offsets are committed only after a handler's transaction committed; a record that cannot be
read goes to `<topic>.dlq` with the reason and the consumer goes on; a dependency that is
away (database, broker) is waited out, never skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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
from .consumers import decode_alert, on_alerts, on_case_event, on_directory_entry

Handler = Callable[[Notify, Record], Awaitable[str]]


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

    # Case events one at a time: batched (one transaction for what queued up), the cases
    # consumer saved no measurable CPU in bench/pipeline.py, and a long transaction of case
    # notices beside the planner is not worth a risk to a critical alert's first message.
    # The directory changes rarely.
    for topic, apply in ((CASES, on_case_event), (DIRECTORY, on_directory_entry)):

        async def handle(record: Record, apply: Handler = apply) -> str:
            return await apply(notify, record)

        subscribe(
            notify.broker,
            topic,
            group_id=f"{notify.settings.group_prefix}.{topic}",
            handle=handle,
            retry=Retry(),
            observer=observer,
            progress=metrics.PROGRESS,
        )
