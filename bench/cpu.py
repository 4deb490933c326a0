"""Where a benchmark's CPU goes, process by process: the bench itself and what it started.

On a 2-core machine the loop's throughput is bounded by the CPU every process spends per
report, so a benchmark says who spent it: each service, the Kafka broker, PostgreSQL (all its
backends), the bench's own client (its event loop: the sender and the Kafka watcher) and the
local sinks it serves from threads, and the rest of the machine (teammates, the OS) beside them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

SERVICES = ("intake", "triage", "casework", "notify", "stats", "gateway")
CLIENT = "bench client (sender, watcher)"
SINKS = "bench sinks (threads)"


def label(process: psutil.Process) -> str:
    """What a descendant of the bench is: a service by its console script, the broker, the
    database, or its command's name."""
    try:
        name = process.name()
        command = " ".join(process.cmdline())
    except psutil.Error:
        return "gone"
    for service in SERVICES:
        if f"shouwang-{service}" in command:
            return service
    if "java" in name:
        return "kafka"
    if name.startswith("postgres"):
        return "postgres"
    return name


def _snapshot(root: psutil.Process) -> dict[tuple[int, str], float]:
    """CPU seconds so far of every process under `root` (and of `root`'s own threads, its
    event loop apart from the rest), keyed by (pid or thread id, label)."""
    seconds: dict[tuple[int, str], float] = {}
    for thread in root.threads():
        kind = CLIENT if thread.id == root.pid else SINKS
        seconds[(thread.id, kind)] = thread.user_time + thread.system_time
    for child in root.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        seconds[(child.pid, label(child))] = times.user + times.system
    return seconds


@dataclass
class CpuShare:
    """CPU seconds per label over a window of `wall` seconds; `machine` is every core's busy
    time in it (the bench's processes and everything else on the machine)."""

    seconds: dict[str, float]
    wall: float
    machine: float

    def percent(self, what: str) -> float:
        """Percent of one core."""
        return 100 * self.seconds.get(what, 0.0) / self.wall if self.wall else 0.0

    @property
    def ours(self) -> float:
        return sum(self.seconds.values())

    @property
    def elsewhere(self) -> float:
        """Busy CPU seconds of processes outside the bench (never below zero: the two
        readings are taken a moment apart)."""
        return max(0.0, self.machine - self.ours)


class CpuMeter:
    """`start()`, then `stop()` returns the `CpuShare` of the window between them."""

    def __init__(self, pid: int | None = None) -> None:
        self.root = psutil.Process(pid or os.getpid())
        self._before: dict[tuple[int, str], float] = {}
        self._machine = 0.0
        self._began = 0.0

    @staticmethod
    def _busy() -> float:
        times: dict[str, float] = psutil.cpu_times()._asdict()
        # Guest time is already in user time on Linux; waiting for I/O is idle.
        idle = ("idle", "iowait", "guest", "guest_nice")
        return sum(v for k, v in times.items() if k not in idle)

    def start(self) -> None:
        self._before = _snapshot(self.root)
        self._machine = self._busy()
        self._began = time.monotonic()

    def stop(self) -> CpuShare:
        after = _snapshot(self.root)
        wall = time.monotonic() - self._began
        spent: dict[str, float] = {}
        for key, seconds in after.items():
            # A process started inside the window counts from zero.
            spent[key[1]] = spent.get(key[1], 0.0) + seconds - self._before.get(key, 0.0)
        return CpuShare(spent, wall, self._busy() - self._machine)
