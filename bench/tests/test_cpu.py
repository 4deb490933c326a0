"""The pipeline bench's CPU accounting names who spent the CPU."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
from cpu import CLIENT, CpuMeter, label  # bench/ is on sys.path (conftest.py)

SPIN = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\n"


def test_a_child_is_charged_for_its_own_cpu_and_the_bench_for_its_loop() -> None:
    meter = CpuMeter()
    meter.start()
    child = subprocess.Popen([sys.executable, "-c", SPIN + "input()"], stdin=subprocess.PIPE)
    try:
        name = label(psutil.Process(child.pid))
        # Each spins 0.1 s past what is asserted: psutil reads CPU time in clock ticks and
        # sums user and system time, so 0.3 s spun has read as 0.29999999999999716.
        spin = time.process_time() + 0.4
        while time.process_time() < spin:
            pass
        # Measured while the child still runs (it waits on its stdin once it has spun):
        # a reaped process is no longer a child.
        deadline = time.monotonic() + 60
        while (share := meter.stop()).seconds.get(name, 0.0) < 0.4:
            assert time.monotonic() < deadline, share
            time.sleep(0.05)
    finally:
        child.communicate(b"\n")
    assert share.seconds[CLIENT] >= 0.3
    assert share.machine >= share.seconds[CLIENT] + share.seconds[name] - 0.05
