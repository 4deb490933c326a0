"""`shouwang-stats-rebuild`: rebuild the projection from the topics now, then exit.

For operators after a restore, and for the benchmark. The running service keeps answering
from the old generation until the new one is swapped in; a rebuild already under way in
another process makes this one exit with status 3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import asyncpg
from shouwang_servicekit.logs import configure_logging

from ..adapters.replay import TopicLog
from ..config import StatsSettings
from ..service_layer.events import TOPICS
from ..service_layer.rebuild import PROJECTION_VERSION, rebuild


async def _rebuild(settings: StatsSettings) -> int:
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(), min_size=1, max_size=3
    )
    try:
        done = await rebuild(
            pool,
            TopicLog(settings.kafka_clients("stats"), TOPICS),
            workers=settings.rebuild_workers,
            database_url=settings.database_url.get_secret_value(),
        )
    finally:
        await pool.close()
    if done is None:
        print("another process is rebuilding the projection", file=sys.stderr)
        return 3
    print(
        json.dumps(
            {
                "generation": done.generation,
                "retired": done.retired,
                "version": PROJECTION_VERSION,
                "records": done.records,
                "skipped": done.skipped,
                "rows": done.rows,
                "seconds": round(done.seconds, 3),
                "workers": done.workers,
                "phases": done.phases,
                "peak_rss_mib": round(done.peak_rss_kib / 1024, 1),
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    configure_logging("stats")
    return asyncio.run(_rebuild(StatsSettings()))


if __name__ == "__main__":
    sys.exit(main())
