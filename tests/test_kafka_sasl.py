"""The report → alert → case path over a broker that checks who speaks.

A private local broker serves only SASL_SSL (a self-signed CA generated for it, a SCRAM-SHA-512
user per service, StandardAuthorizer, nothing allowed that acls.yaml does not list); topic
provisioning creates the topics and applies the ACLs as the admin. Intake, triage and casework
run as real processes, each speaking as its own user over TLS. A dorm-room leader's report
becomes a case; a service's credentials cannot write another service's topic; a client without
credentials, or with a wrong password, gets nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from shouwang_contracts.auth import mint_token
from shouwang_contracts.kafka import dead_letter
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.topics import ALERTS, REPORTS, dead_letter_topic, sasl_user
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from shouwang_devstack.kafka import LocalKafka
from shouwang_devstack.kafka_security import ADMIN_USER, SaslSsl, ensure_tls
from shouwang_devstack.pytest_plugin import ServiceProcessFactory
from shouwang_devstack.topics import create_topics

CAMPUS = "sasl"
STUDENT_NO = "2024020001"


@pytest.fixture(scope="module")
async def secured_kafka(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[LocalKafka, SaslSsl]]:
    data = tmp_path_factory.mktemp("kafka-sasl")
    sasl = SaslSsl(ensure_tls(data / "tls"), secret=secrets.token_urlsafe(32))
    broker = LocalKafka(
        data,
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
        die_with_parent=True,
        sasl_ssl=sasl,
    )
    await broker.start_async()
    try:
        await create_topics(broker.bootstrap, client=sasl.client(ADMIN_USER))
        yield broker, sasl
    finally:
        await broker.stop_async()


def _report() -> dict[str, object]:
    return {
        "campus_id": CAMPUS,
        "student_no": STUDENT_NO,
        "signals": ["self_harm_talk", "hopelessness"],
        "observed_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
    }


async def _case_of(dsn: str, student_ref: str) -> str | None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT set_config('shouwang.campus_id', $1, false)", CAMPUS)
        found = await conn.fetchval(
            "SELECT severity FROM cases WHERE student_ref = $1", student_ref
        )
        return str(found) if found else None
    finally:
        await conn.close()


async def test_a_report_becomes_a_case_over_sasl_ssl_with_each_service_its_own_user(
    secured_kafka: tuple[LocalKafka, SaslSsl],
    module_service_process: ServiceProcessFactory,
    devstack_env: dict[str, str],
) -> None:
    broker, sasl = secured_kafka
    run = uuid.uuid4().hex[:8]
    groups = {
        "intake": {"INTAKE_CONSUMER_GROUP": f"shouwang-intake-{run}"},
        "triage": {"TRIAGE_GROUP_PREFIX": f"triage-{run}"},
        "casework": {"CASEWORK_CONSUMER_GROUP": f"casework-{run}"},
    }
    processes = {
        name: module_service_process(
            name,
            {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, **sasl.service_env(name), **groups[name]},
        )
        for name in ("intake", "triage", "casework")
    }
    await asyncio.gather(*(p.start_async() for p in processes.values()))

    token = mint_token(
        devstack_env["SHOUWANG_JWT_SECRET"],
        sub="2024020009",
        role=Role.DORM_LEADER,
        campus_id=CAMPUS,
    )
    async with httpx.AsyncClient(base_url=processes["intake"].base_url, timeout=30) as client:
        answer = await client.post(
            "/v1/reports", json=_report(), headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 202, answer.text

    student_ref = Pseudonymizer(devstack_env["SHOUWANG_PSEUDONYM_KEY"].encode()).student_ref(
        CAMPUS, STUDENT_NO
    )
    casework_dsn = processes["casework"].env["CASEWORK_DATABASE_URL"]
    severity = None
    for _ in range(600):  # a deadline of two minutes, polled
        severity = await _case_of(casework_dsn, student_ref)
        if severity:
            break
        await asyncio.sleep(0.2)
    assert severity == "severe"


async def test_a_services_credentials_reach_only_its_own_topics(
    secured_kafka: tuple[LocalKafka, SaslSsl],
) -> None:
    """A leaked intake password cannot raise an alert: alerts are triage's to write."""
    broker, sasl = secured_kafka
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", **sasl.client(sasl_user("intake"))
    )
    await producer.start()
    try:
        await producer.send_and_wait(REPORTS, b"{}", key=b"k")  # its own topic: allowed
        with pytest.raises(KafkaError):
            await producer.send_and_wait(ALERTS, b"{}", key=b"k")
    finally:
        await producer.stop()


@pytest.mark.parametrize("credentials", ["none", "wrong-password"])
async def test_a_client_without_valid_credentials_gets_nothing(
    secured_kafka: tuple[LocalKafka, SaslSsl], credentials: str
) -> None:
    broker, sasl = secured_kafka
    client = sasl.client(sasl_user("intake"))
    if credentials == "none":
        client = {"security_protocol": "SSL", "ssl_context": client["ssl_context"]}
    else:
        client["sasl_plain_password"] = "guessed"
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, request_timeout_ms=5000, **client
    )
    with pytest.raises(KafkaError):
        await asyncio.wait_for(producer.start(), 60)
    await producer.stop()


def test_the_broker_certificate_is_signed_by_the_local_ca(
    secured_kafka: tuple[LocalKafka, SaslSsl],
) -> None:
    _, sasl = secured_kafka
    assert Path(sasl.tls.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in Path(sasl.tls.ca_file).read_text()


def _dlq_command(
    broker: LocalKafka, sasl: SaslSsl, argv: list[str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`shouwang-dlq` as in casework's pod: its environment, its Kafka user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SHOUWANG_"))}
    env |= {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, **sasl.service_env("casework")}
    return subprocess.run(
        [sys.executable, "-m", "shouwang_servicekit.deadletter_cli", "--lang", "en", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_dead_letters_are_read_and_replayed_as_the_admin_not_a_services_user(
    secured_kafka: tuple[LocalKafka, SaslSsl],
) -> None:
    """A service's user may write dead letters but not read them (acls.yaml), so the runbook's
    `shouwang-dlq --kafka-user shouwang-admin` (password on stdin) is what works."""
    broker, sasl = secured_kafka
    dlq = dead_letter_topic(REPORTS)
    # The services of the tests above may have dead-lettered records of their own here.
    consumer = f"dlq-test-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", **sasl.client())
    await producer.start()
    try:
        headers = dead_letter(
            REPORTS, reason="not valid", partition=0, offset=7, consumer=consumer
        )[1]
        await producer.send_and_wait(
            dlq, b"{}", key=b"k", headers=[(k, v.encode()) for k, v in headers.items()]
        )
    finally:
        await producer.stop()

    refused = _dlq_command(broker, sasl, ["list", dlq])
    assert refused.returncode == 4, refused.stderr
    assert "Kafka could not be used" in refused.stderr
    assert "Traceback" not in refused.stderr

    admin = ["--kafka-user", ADMIN_USER]
    password = sasl.password(ADMIN_USER) + "\n"
    listed = _dlq_command(broker, sasl, [*admin, "list", dlq, "--json"], password)
    assert listed.returncode == 0, listed.stderr
    summary = json.loads(listed.stdout)["summary"]
    ours = [s for s in summary if s["consumer"] == consumer]
    assert [(s["topic"], s["reason"], s["count"]) for s in ours] == [(dlq, "not valid", 1)]
    replayed = _dlq_command(broker, sasl, [*admin, "replay", dlq, "--consumer", consumer], password)
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1" in replayed.stdout
