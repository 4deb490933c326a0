"""Background chores: missed follow-up reminders, the case gauges and retention, campus by
campus.

Each is a chore the kit runs periodically (`BackgroundTasks.every`). Row-level security shows
a transaction one campus at a time, so they walk the campuses this deployment serves
(`CASEWORK_CAMPUSES`); a campus that fails is logged and the others go on.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from shouwang_servicekit.tasks import Chore

from .. import metrics
from ..adapters.db import campus_transaction
from ..adapters.queue import counts_by_state_and_severity
from ..container import Casework
from ..service_layer.care import remind_missed_follow_ups
from ..service_layer.retention import erase_due_files

logger = logging.getLogger(__name__)

#: How often the open-cases gauge is refreshed.
GAUGES_INTERVAL_SECONDS = 30.0


def follow_up_reminders(casework: Casework) -> Chore:
    """Flag missed follow-ups once per follow-up, campus by campus."""

    async def remind() -> bool:
        for campus_id in casework.settings.campuses:
            try:
                async with campus_transaction(casework.pool, campus_id) as conn:
                    missed = await remind_missed_follow_ups(conn, casework.cipher)
                metrics.FOLLOW_UPS_MISSED.inc(missed)
            except Exception:
                logger.exception("follow-up reminders failed for a campus")
        return False

    return remind


def case_gauges(casework: Casework) -> Chore:
    """Keep the open-cases gauge current for the campuses this deployment serves."""

    async def refresh() -> bool:
        counts: list[tuple[str, str, str, int]] = []
        for campus_id in casework.settings.campuses:
            try:
                async with campus_transaction(casework.pool, campus_id) as conn:
                    rows = await counts_by_state_and_severity(conn)
                counts.extend((campus_id, state, severity, n) for state, severity, n in rows)
            except Exception:
                logger.exception("case gauges failed for a campus")
        # Start from empty so a state that emptied out drops to nothing, not its last count.
        metrics.OPEN_CASES.clear()
        for campus_id, state, severity, n in counts:
            metrics.OPEN_CASES.labels(campus_id, state, severity).set(n)
        return False

    return refresh


def closed_file_retention(casework: Casework) -> Chore:
    """Erase the free text of files closed longer than the retention period, in small
    batches; again at once while a batch came back full."""
    settings = casework.settings
    retention = timedelta(days=settings.closed_file_retention_days)

    async def erase() -> bool:
        erased, more = await erase_due_files(
            casework.pool, settings.campuses, retention, settings.retention_batch
        )
        metrics.FILES_TEXT_ERASED.inc(erased)
        return more

    return erase
