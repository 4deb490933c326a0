"""The pipeline bench with notify's alert burst window on: what coalescing costs in seconds.

By default `pipeline.py` runs with the window at 0: its reports are about students on no
roster, so the on-duty line is each one's only recipient, and the aim it checks (critical
report -> first message p99 < 2 s) is about the platform's path, not the window. With
`--burst-window S` notify holds a person's alerts after the first of a window of S seconds
and sends them as one message when it ends (services/notify/.../service_layer/bursts.py).
The duty system's webhook is never coalesced, so in that mode the on-duty line is reached on
its phone (SMS, as the sample contacts list it), as on a campus without a duty system.

Which reports were held is read from notify's database afterwards (a held alert's delivery
row is carried by its bundle's message); each report's first message is then either its own
(sent alone) or the bundle that carried it.
"""

from __future__ import annotations

import asyncpg
from stack import all_campuses


def notify_env(window_seconds: float) -> dict[str, str]:
    """Notify's settings for the run: the window off (each report's message alone), or on,
    with the on-duty line on its phone rather than the (never coalesced) webhook."""
    if window_seconds <= 0:
        return {"NOTIFY_ALERT_BURST_WINDOW_SECONDS": "0"}
    return {
        "NOTIFY_ALERT_BURST_WINDOW_SECONDS": f"{window_seconds:g}",
        "NOTIFY_ON_DUTY_WEBHOOK_URL": "",
    }


async def held_students(notify_dsn: str) -> set[str]:
    """The students whose alert went in a bundle's message rather than alone."""
    conn = await asyncpg.connect(notify_dsn)
    try:
        async with all_campuses(conn):
            rows = await conn.fetch(
                "SELECT DISTINCT student_ref FROM deliveries WHERE carried_by IS NOT NULL"
            )
    finally:
        await conn.close()
    return {row["student_ref"] for row in rows}
