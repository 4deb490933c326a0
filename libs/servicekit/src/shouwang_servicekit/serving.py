"""How every Shouwang process serves its app: one uvicorn process, tuned the same way."""

from __future__ import annotations

import gc

import uvicorn
from starlette.types import ASGIApp

#: Net allocations of tracked objects between collections of the young generation in a served
#: process (see `serve`).
YOUNG_GC_THRESHOLD = 10_000


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Run `app` as every Shouwang service runs: uvicorn in one process, logging left to
    `configure_logging`, no access log (requests are counted in metrics, and paths carry ids),
    X-Forwarded-* trusted only from the proxies uvicorn trusts (`FORWARDED_ALLOW_IPS`).

    The young generation of the garbage collector is collected after `YOUNG_GC_THRESHOLD` net
    allocations instead of CPython's 700. A busy server keeps a few thousand young objects
    alive at any moment (requests in flight, their futures, records and coroutines), so at
    700 every collection rescans them and promotes them to the older generations merely for
    being alive, and those fill and are collected in turn: 5 % of intake's CPU at 4,000
    reports/s, saved for half a megabyte more memory (figures: bench/README.md, 2026-12-05). A
    service's lifespan may also `gc.freeze()` what it built (`service_app(freeze_gc=True)`).

    The throughput bench serves its baseline and floor with it too, so all its rows run on the
    same server settings.
    """
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True)
