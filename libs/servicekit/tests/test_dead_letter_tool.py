"""`shouwang-dlq` against a real Kafka broker and a real consumer of the kit's runtime.

A poison record is dead-lettered by the consumer; `list` shows why and never what it held;
once the cause is fixed, `replay --offsets` puts it back with its key and headers and the
consumer applies it; a second replay is a duplicate the consumer skips by event id. Operator
mistakes get a message and an exit status, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaProducer
from shouwang_contracts.kafka import PoisonEvent
from shouwang_contracts.topics import DEAD_LETTER_TOPICS
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.deadletter_cli import build_parser, run
from shouwang_servicekit.kafka.clients import KafkaClients
from shouwang_servicekit.kafka.consumers import Record, Retry, subscribe
from shouwang_servicekit.kafka.deadletter_log import DeadLetterLog

from .kafka_scenes import topic_with_dead_letters, until

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Asia/Shanghai")
# What the poison record holds that no operator's terminal may show.
NAME_MARKER = "王小明-DO-NOT-PRINT"
PHONE_MARKER = "13800138000"
STUDENT_REF = "stu-ref-do-not-print"
KEY = f"campus-a:{STUDENT_REF}".encode()
POISON_ID = "evt-poison-1"
REASON = "not a valid shouwang.test.event: data.score: Field required"
# As a record published through FastStream carries them (content type, correlation id), and
# the envelope's CloudEvents id and trace.
ORIGINAL_HEADERS = [
    ("content-type", b"application/cloudevents+json"),
    ("correlation_id", b"corr-1"),
    ("ce_id", POISON_ID.encode()),
    ("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"),
]


def envelope(event_id: str, data: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": "shouwang.test.event",
            "campus_id": "campus-a",
            "subject": STUDENT_REF,
            "data": data,
        },
        ensure_ascii=False,
    ).encode()


@dataclass
class Downstream:
    """A consumer idempotent by event id, refusing records without a score until `fixed`."""

    fixed: bool = False
    applied: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    seen: list[Record] = field(default_factory=list)

    async def handle(self, record: Record) -> str:
        event = json.loads(record.value)
        if "score" not in event["data"] and not self.fixed:
            raise PoisonEvent(REASON)
        if event["id"] in self.applied:
            self.duplicates.append(event["id"])
            return "duplicate"
        self.applied.append(event["id"])
        self.seen.append(record)
        return "applied"


@dataclass
class Scene:
    clients: KafkaClients
    topic: str
    group: str
    downstream: Downstream

    @property
    def dlq(self) -> str:
        return self.topic + ".dlq"


@pytest.fixture(scope="module")
async def scene(kafka_bootstrap: str) -> AsyncIterator[Scene]:
    """A topic of three partitions and its dead-letter twin, a consumer on it, one good record
    applied and one poison record dead-lettered."""
    topic = await topic_with_dead_letters(kafka_bootstrap, "dlqtool", partitions=3)
    clients = KafkaClients(kafka_bootstrap, client_id="shouwang-kit-test")
    broker = clients.broker(linger_ms=1)
    group = f"dlqtool-{uuid.uuid4().hex[:8]}"
    downstream = Downstream()
    retry = Retry(first_pause=0.05, longest_pause=0.2, attempts=2)
    subscribe(broker, topic, group_id=group, handle=downstream.handle, retry=retry)
    await broker.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, envelope("evt-good-1", {"score": 3}), key=KEY)
        poison = {"name": NAME_MARKER, "phone": PHONE_MARKER}
        await producer.send_and_wait(
            topic, envelope(POISON_ID, poison), key=KEY, headers=ORIGINAL_HEADERS
        )
    finally:
        await producer.stop()
    await until(lambda: downstream.applied == ["evt-good-1"])
    scene = Scene(clients, topic, group, downstream)
    await until_listed(scene, 1)
    try:
        yield scene
    finally:
        await broker.stop()


async def until_listed(scene: Scene, count: int) -> None:
    async with asyncio.timeout(60):
        while True:
            records = await listed(scene)
            if len(records) >= count:
                return
            await asyncio.sleep(0.1)


async def listed(scene: Scene) -> list[dict[str, object]]:
    """The records `list --json` shows, read without capturing output."""
    async with DeadLetterLog(scene.clients) as log:
        return [x.describe(ZONE) for x in await log.read(scene.dlq)]


async def test_listing_dead_letters_never_prints_personal_data(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = []
    for argv in (
        ["list", scene.dlq],
        ["--lang", "en", "list", scene.dlq],
        ["list", scene.dlq, "--json"],
        ["list", scene.dlq, "--lang", "en"],
    ):
        assert await run(argv, scene.clients, ZONE) == 0
        out, err = capsys.readouterr()
        printed.append(out + err)
    for output in printed:
        # Why it failed and where it came from are shown ...
        assert REASON in output
        assert scene.group in output
        assert POISON_ID in output
        # ... never what it held, nor the key (campus and student reference).
        for secret in (NAME_MARKER, PHONE_MARKER, STUDENT_REF):
            assert secret not in output
    # What the reason means, in the operator's language, the technical reason beside it.
    assert "原因：事件不符合其数据契约（模式校验失败：字段缺失或取值不合法）" in printed[0]
    assert f"技术原因：{REASON}" in printed[0]
    assert (
        f"事件不符合其数据契约（模式校验失败：字段缺失或取值不合法）（{REASON}）：1" in printed[0]
    )
    for english in (printed[1], printed[3]):
        assert "reason: the event breaks its contract (schema validation failed" in english
        assert f"technical reason: {REASON}" in english
        assert "原因" not in english

    listing = json.loads(printed[2])
    assert listing["topics"] == {scene.dlq: 1}
    (record,) = listing["records"]
    assert record["partition"] == 0
    assert record["offset"] == 0
    assert record["source_topic"] == scene.topic
    assert record["consumer"] == scene.group
    assert record["reason"] == REASON
    assert record["reason_kind"] == "invalid_event"
    assert (record["event_type"], record["event_id"], record["campus_id"]) == (
        "shouwang.test.event",
        POISON_ID,
        "campus-a",
    )
    assert record["time"].endswith("+08:00")
    assert listing["summary"] == [
        {
            "topic": scene.dlq,
            "consumer": scene.group,
            "reason": REASON,
            "reason_kind": "invalid_event",
            "count": 1,
        }
    ]


async def test_listing_without_topics_reads_every_declared_dead_letter_topic(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run(["list", "--json"], scene.clients, ZONE) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(listing["topics"]) == {spec.name for spec in DEAD_LETTER_TOPICS.values()}
    assert scene.dlq not in listing["topics"]


async def test_replay_puts_the_record_back_with_its_key_and_headers_and_twice_is_harmless(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    (letter,) = await listed(scene)
    downstream = scene.downstream
    downstream.fixed = True  # the cause is fixed (a new release of the consumer)

    argv = ["replay", scene.dlq, "--offsets", "0:0"]
    assert await run([*argv, "--dry-run"], scene.clients, ZONE) == 0
    out, _ = capsys.readouterr()
    assert "演练" in out
    assert scene.topic in out
    assert NAME_MARKER not in out

    assert await run(argv, scene.clients, ZONE) == 0
    out, _ = capsys.readouterr()
    assert "已重放 1 条" in out
    await until(lambda: POISON_ID in downstream.applied)
    # The dry run sent nothing: the replay is the only copy the consumer saw.
    assert downstream.applied == ["evt-good-1", POISON_ID]
    replayed = downstream.seen[-1]
    assert replayed.key == KEY
    assert replayed.partition == letter["source_partition"]
    assert json.loads(replayed.value)["data"]["name"] == NAME_MARKER
    # The original headers, none of the dead letter's, and where the replay came from.
    assert dict(replayed.headers) == dict(ORIGINAL_HEADERS) | {
        "x-replayed-from": f"{scene.dlq}/0/0".encode()
    }
    assert len(replayed.headers) == len(ORIGINAL_HEADERS) + 1

    # A second replay (by consumer this time) is a duplicate, skipped by event id.
    assert await run(["replay", scene.dlq, "--consumer", scene.group], scene.clients, ZONE) == 0
    capsys.readouterr()
    await until(lambda: downstream.duplicates == [POISON_ID])
    assert downstream.applied == ["evt-good-1", POISON_ID]
    assert len(await listed(scene)) == 1  # nothing dead-lettered again


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["replay", "shouwang.reports.v1", "--all"], 2, "不是死信主题"),
        (["replay", "{dlq}", "--offsets", "0-1"], 2, "偏移格式有误"),
        (["--lang", "en", "replay", "{dlq}", "--offsets", "0:99,2:0"], 2, "no record at: 0:99,2:0"),
        (["list", "shouwang.nothing-here.v1.dlq"], 3, "主题不存在"),
        (["replay", "{dlq}", "--reason", "nothing like this"], 0, "没有符合条件的死信"),
    ],
)
async def test_operator_mistakes_get_a_clear_message_and_status(
    scene: Scene, capsys: pytest.CaptureFixture[str], argv: list[str], status: int, message: str
) -> None:
    argv = [arg.format(dlq=scene.dlq) for arg in argv]
    assert await run(argv, scene.clients, ZONE) == status
    out, err = capsys.readouterr()
    assert message in err
    assert "Traceback" not in out + err


async def test_a_replay_without_a_choice_is_a_usage_error(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        await run(["replay", scene.dlq], scene.clients, ZONE)
    assert exited.value.code == 2
    assert "用法错误" in capsys.readouterr().err


UNREACHABLE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
SASL = UNREACHABLE | {
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_USERNAME": "shouwang-casework",
    "KAFKA_SASL_PASSWORD": "casework-password",
}


@pytest.mark.parametrize(
    ("environment", "argv", "stdin", "status", "message"),
    [
        (UNREACHABLE, ["list"], "", 4, "无法完成 Kafka 操作"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, ["list"], "", 2, "Kafka 设置有误"),
        (SASL, ["--kafka-user", "shouwang-admin", "list"], "admin-password\n", 4, "无法完成"),
        (SASL, ["--kafka-user", "shouwang-admin", "list"], "", 2, "标准输入的第一行"),
        (UNREACHABLE, ["--kafka-user", "shouwang-admin", "list"], "pw\n", 2, "需要 SASL"),
        (UNREACHABLE, ["replay", "x.dlq", "--offsets", "1:2", "--all"], "", 2, "用法错误"),
    ],
)
def test_the_command_exits_with_a_status_not_a_traceback(
    environment: dict[str, str], argv: list[str], stdin: str, status: int, message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SHOUWANG_"))}
    done = subprocess.run(
        [sys.executable, "-m", "shouwang_servicekit.deadletter_cli", *argv],
        env=env | environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == status
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    # Walk of 2026-12-07: Kafka unreachable, the one zh-CN line came with aiokafka's English
    # "Unclosed AIOKafkaConsumer" and an object's repr (a consumer made and never started).
    assert "Unclosed" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("zh-CN", ["用法：", "参数与选项", "显示本帮助", "幂等"], "usage:"),
        ("en", ["usage:", "arguments and options", "idempotent"], "用法"),
    ],
)
def test_help_speaks_the_chosen_language_and_says_a_replay_twice_is_harmless(
    language: Language, expected: list[str], absent: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser(language).parse_args(["replay", "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for words in expected:
        assert words in shown
    assert absent not in shown


async def test_a_listing_piped_to_a_reader_that_stops_is_not_a_kafka_failure(
    scene: Scene, kafka_bootstrap: str
) -> None:
    """Walk of 2026-12-07: `shouwang-dlq list | head -3` ended with "无法完成 Kafka 操作（不可达、
    拒绝或超时）：[Errno 32] Broken pipe" and status 4, as if Kafka had failed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SHOUWANG_"))}
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line is written
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shouwang_servicekit.deadletter_cli", "list", scene.dlq],
            env=env | {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 0
