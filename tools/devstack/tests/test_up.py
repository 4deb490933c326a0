"""The Quick start's `make up`: the real `shouwang-dev up` starts its own Kafka and PostgreSQL,
migrates, runs intake, triage and casework in the foreground, takes a report and shows its
receipt, and on Ctrl-C stops everything and frees every port it used.

It runs as a subprocess on free ports and a data dir of its own, with the session's
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL removed: `up` must start its servers, as on a fresh
machine, and must not disturb a developer's `make up` (or the session's servers).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from shouwang_contracts.auth import mint_token
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import port_busy
from shouwang_devstack.localenv import read_env_file
from shouwang_devstack.running_up import STOP_WITHIN, alive, clean_up, descendants, start_up

pytestmark = pytest.mark.integration


def _report_and_read_the_receipt(data: Path, intake_port: int) -> None:
    """README's "Try it": a dorm-room leader reports a student and reads the receipt back."""
    secret = read_env_file(data / "local.env")["SHOUWANG_JWT_SECRET"]
    token = mint_token(secret, sub="2024020002", role=Role.DORM_LEADER, campus_id="demo")
    observed_at = datetime.now(UTC) - timedelta(minutes=10)
    with httpx.Client(
        base_url=f"http://127.0.0.1:{intake_port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as intake:
        accepted = intake.post(
            "/v1/reports",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "campus_id": "demo",
                "student_no": "2024020001",
                "signals": ["persistent_low_mood"],
                "observed_at": observed_at.isoformat(),
            },
        )
        assert accepted.status_code == 202, accepted.text
        report_id = accepted.json()["report_id"]
        assert accepted.headers["Location"] == f"/v1/reports/{report_id}"

        receipt = intake.get(accepted.headers["Location"])
        assert receipt.status_code == 200, receipt.text
        assert receipt.json()["id"] == report_id
        assert receipt.json()["status_label"] in ("已收到，等待处理", "正在处理", "已处理完毕")


def test_make_up_takes_a_report_and_ctrl_c_stops_everything() -> None:
    # Not under pytest's temp root, like the fixtures' PostgreSQL: as root, the server runs as an
    # unprivileged user that must reach its files, and a new pytest session chmods that root 0700.
    data = Path(tempfile.mkdtemp(prefix="shouwang-test-up-"))
    up, output, ports, env = start_up(data)
    assert up.stdout is not None
    started: list[psutil.Process] = []
    try:
        started = descendants(up.pid)

        _report_and_read_the_receipt(data, ports["INTAKE_PORT"])
        for name in ("TRIAGE_PORT", "CASEWORK_PORT"):
            assert httpx.get(f"http://127.0.0.1:{ports[name]}/healthz").status_code == 200

        up.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            code = up.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`up` still running {STOP_WITHIN:.0f}s after SIGINT:\n{output.text()}")
        output.finish()
        assert code == 0, output.text()
        assert "[devstack] stopped" in output.lines, output.text()
        assert [name for name, port in ports.items() if port_busy(port)] == [], output.text()
        assert alive(started) == [], output.text()
    finally:
        clean_up(up, started, env)
        up.stdout.close()
        shutil.rmtree(data, ignore_errors=True)
