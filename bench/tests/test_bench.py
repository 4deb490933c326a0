"""The benchmarks under bench/ still run end to end, in miniature, on the session's servers.

Only that they work is asserted: every request answered as expected, every figure printed.
Their speed is for `make bench` on a quiet machine, never for a test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]


def _run(
    script: str, args: list[str], kafka_bootstrap: str, postgres_admin_dsn: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": postgres_admin_dsn,
    }
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.timeout(300)
def test_intake_throughput_prints_every_figure(
    kafka_bootstrap: str, postgres_admin_dsn: str
) -> None:
    done = _run(
        "intake_throughput.py",
        ["--seconds", "1", "--rounds", "2", "--warmup", "0.5", "--concurrency", "4"],
        kafka_bootstrap,
        postgres_admin_dsn,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    rows = {
        match["name"]: match
        for match in re.finditer(
            r"^(?P<name>baseline|floor|intake) \(.*?\)\s+(?P<rate>\d+)\s+(?P<low>\d+)-(?P<high>\d+)"
            r"\s+(?P<cpu>[\d.]+)\s+(?P<offered>\d+)\s+(?P<p50>[\d.]+)\s+(?P<p99>[\d.]+)"
            r"\s+(?P<errors>\d+)$",
            done.stdout,
            re.MULTILINE,
        )
    }
    assert set(rows) == {"baseline", "floor", "intake"}, done.stdout
    for name, row in rows.items():
        assert int(row["rate"]) > 0, name
        assert int(row["low"]) <= int(row["rate"]) <= int(row["high"]), name
        assert int(row["errors"]) == 0, name
    ratio = re.search(
        r"ratio intake/baseline \(accepted/s, paired rounds\): ([\d.]+) \(", done.stdout
    )
    assert ratio is not None, done.stdout
    assert 0 < float(ratio[1]) < 2
    assert "floor/baseline" in done.stdout
    assert "intake/floor" in done.stdout
    # Raw Kafka, with the records intake published: the broker's capacity and the client's.
    replayed = re.search(r"intake's own records \((\d+) bytes on average\)", done.stdout)
    assert replayed is not None, done.stdout
    # Intake's envelopes (refs, a sealed note: ~900 bytes), not the floor app's bare bodies
    # (~300 bytes) on the same topic.
    assert int(replayed[1]) > 600
    broker = re.search(
        r"^kafka-clients \(Java ProducerPerformance, open loop\)\s+(\d+)\s+-\s+(\d+)\s+(\d+)"
        r"\s+0$",
        done.stdout,
        re.MULTILINE,
    )
    assert broker is not None, done.stdout
    assert int(broker[1]) > 0
    client = re.search(
        r"^aiokafka \(4 senders, each awaits its ack\)\s+(\d+)\s+([\d.]+)\s+-\s+-\s+(\d+)$",
        done.stdout,
        re.MULTILINE,
    )
    assert client is not None, done.stdout
    assert int(client[1]) > 0
    assert int(client[3]) == 0
    assert re.search(
        r"ratio intake/raw Kafka: [\d.]+ of the broker's capacity, [\d.]+ of aiokafka's",
        done.stdout,
    ), done.stdout


@pytest.mark.timeout(300)
def test_critical_latency_loses_no_alert(kafka_bootstrap: str, postgres_admin_dsn: str) -> None:
    done = _run(
        "critical_latency.py",
        ["--census-rows", "300", "--rate", "5", "--idle-reports", "10"],
        kafka_bootstrap,
        postgres_admin_dsn,
    )
    # Exit 1 would mean a critical report whose alert never arrived.
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "topology: split" in done.stdout
    assert re.search(r"ratio loaded/idle: p50 [\d.]+x\s+p99 [\d.]+x", done.stdout), done.stdout


@pytest.mark.timeout(300)
def test_notify_throughput_prints_every_figure(
    kafka_bootstrap: str, postgres_admin_dsn: str
) -> None:
    done = _run(
        "notify_throughput.py",
        [
            "--alerts",
            "60",
            "--students",
            "6",
            "--critical-every",
            "10",
            "--baseline-messages",
            "60",
            "--timeout",
            "120",
        ],
        kafka_bootstrap,
        postgres_admin_dsn,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    notify = re.search(
        r"notify \(Kafka -> queue -> channels -> sinks\)\s+(\d+)\s+[\d.]+\s+(\d+)", done.stdout
    )
    assert notify is not None, done.stdout
    assert (
        int(notify[1]) == 3 * 60 + 6
    )  # three recipients each, and the on-duty line for 6 critical
    assert re.search(r"baseline \(bare client -> same sinks\)\s+60\s+(\d+)", done.stdout), (
        done.stdout
    )
    assert re.search(r"ratio notify/baseline \(msg/s\): [\d.]+", done.stdout), done.stdout
    assert re.search(
        r"critical alert.raised -> first message.*n=6 p50=\d+ ms p99=\d+ ms", done.stdout
    ), done.stdout


@pytest.mark.timeout(300)
def test_pipeline_completes_every_report_and_prints_every_figure(
    kafka_bootstrap: str, postgres_admin_dsn: str
) -> None:
    done = _run(
        "pipeline.py",
        [
            *("--rate", "4", "--seconds", "2", "--raw-records", "500", "--raw-seconds", "0.5"),
            *("--ceiling-seconds", "0.5"),
        ],
        kafka_bootstrap,
        postgres_admin_dsn,
    )
    # Exit 1 would mean an accepted report with no case or no message.
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert re.search(r"accepted 8, refused 0, completed 8", done.stdout), done.stdout
    for measure in (
        r"raw aiokafka produce \(acks=all\), records/s\s+\d+",
        r"raw aiokafka consume, records/s\s+\d+",
        r"end to end \(case \+ first message\), reports/s\s+[\d.]+",
        r"ratio end to end / raw consume\s+[\d.]+",
        r"report -> first message p99, s\s+[\d.]+",
        r"intake alone \(closed loop\), reports/s\s+[1-9]\d*",
        r"ratio end to end / intake alone\s+[\d.]+",
        r"case \+ message p50, first / last fifth, s\s+[\d.]+ / [\d.]+",
        r"stage alerted -> opened p50 / p99, s\s+[\d.]+ / [\d.]+",
    ):
        assert re.search(measure, done.stdout), (measure, done.stdout)


@pytest.mark.timeout(300)
def test_pipeline_with_the_burst_window_times_held_reports_to_their_bundle(
    kafka_bootstrap: str, postgres_admin_dsn: str
) -> None:
    done = _run(
        "pipeline.py",
        [
            *("--rate", "4", "--seconds", "2", "--raw-records", "500", "--raw-seconds", "0.5"),
            *("--ceiling-seconds", "0.5", "--burst-window", "5"),
        ],
        kafka_bootstrap,
        postgres_admin_dsn,
    )
    # Every report completes, the held ones when their bundle is delivered.
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert re.search(r"accepted 8, refused 0, completed 8", done.stdout), done.stdout
    figures = r"p50 / p99, s\s+[\d.]+ / [\d.]+"
    alone = re.search(rf"sent alone \(n=(\d+)\): report -> first message {figures}", done.stdout)
    held = re.search(rf"held \(n=(\d+)\): report -> bundle delivered {figures}", done.stdout)
    assert alone, done.stdout
    assert held, done.stdout
    # The first report's message opens the window; the next ones, within it, are held.
    assert int(alone[1]) >= 1, done.stdout
    assert int(held[1]) >= 1, done.stdout
    assert int(alone[1]) + int(held[1]) == 8, done.stdout
    assert re.search(r"held p50 - alone p50, s\s+-?[\d.]+", done.stdout), done.stdout


@pytest.mark.timeout(300)
def test_outbox_latency_prints_both_modes(kafka_bootstrap: str, postgres_admin_dsn: str) -> None:
    done = _run(
        "outbox_latency.py",
        ["--acks", "3", "--idle-seconds", "1", "--rounds", "1"],
        kafka_bootstrap,
        postgres_admin_dsn,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    for mode in ("poll", "notify"):
        assert re.search(
            rf"^{mode}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+|n/a)$", done.stdout, re.M
        ), done.stdout
    assert re.search(r"notify/poll: p50 x[\d.]+, p99 x[\d.]+, idle statements", done.stdout), (
        done.stdout
    )


@pytest.mark.timeout(300)
def test_intake_person_limits_prints_every_variant_under_both_loads(
    kafka_bootstrap: str, postgres_admin_dsn: str
) -> None:
    done = _run(
        "person_limits_intake.py",
        ["--seconds", "1", "--rounds", "1", "--warmup", "0.5", "--concurrency", "4"],
        kafka_bootstrap,
        postgres_admin_dsn,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    rows = re.findall(
        r"^(many people|one person), (per-process|shared, block \d+)\s+\d+\s+\d+-\d+"
        r"\s+[\d.]+\s+0$",
        done.stdout,
        re.MULTILINE,
    )
    assert len(set(rows)) == 6, done.stdout
    for load in ("many people", "one person"):
        for block in ("1", "10"):
            assert re.search(
                rf"ratio shared, block {block}/per-process, {load}: reports/s [\d.]+", done.stdout
            )
    # The shared variants did count in their tables.
    assert re.search(r"rows the shared counters wrote \(inserted or updated\): [1-9]", done.stdout)
