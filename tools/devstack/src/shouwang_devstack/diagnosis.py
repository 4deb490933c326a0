"""Why a run of `up` went wrong, in one text an assertion message can carry.

Three things an engineer asks first: what each service warned about (the tail of its
warnings and errors in `up`'s output), what was dead-lettered (records per `<topic>.dlq`),
and which consumer is behind (each group's lag per topic). The last is the one that names a
lane that stopped without a word: a handler waiting for ever logs nothing and dead-letters
nothing, but its group's lag never drains. The end-to-end tests add this text to a failed
demo term's message, so a CI failure says why by itself; tests that run each service as a
`ServiceProcess` of their own (the fault tests) read its log file instead of `up`'s output
(`diagnose_processes`).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .console import render_line, service_label
from .lifecycle import ManagedProcess
from .topics import client_from_env

#: A service's log line as `up` prints it: `triage   | 09:19:17,511 WARNING message  (logger)`.
_SERVICE_LINE = re.compile(r"^(?P<service>[a-z]+)\s*\| \S+ (?P<level>[A-Z]+)\s")
_WORTH_SEEING = {"WARNING", "ERROR", "CRITICAL"}
READ_WITHIN = 30.0


def warnings_by_service(
    output: str, per_service: int = 8, width: int = 300
) -> dict[str, list[str]]:
    """Each service's last `per_service` errors and last `per_service` warnings in `up`'s
    output, in their order (each cut to `width` characters): errors are kept apart so a
    chatty warning (an escalating demo alert) never pushes them out. `up`'s own last lines
    come under `devstack` (a service that went down says so there)."""
    kept: dict[tuple[str, str], deque[tuple[int, str]]] = {}
    for number, line in enumerate(output.splitlines()):
        found = _SERVICE_LINE.match(line)
        if found is not None and found["level"] in _WORTH_SEEING:
            service = found["service"]
            kind = "warning" if found["level"] == "WARNING" else "error"
        elif line.startswith("[devstack]"):
            service, kind = "devstack", "said"
        else:
            continue
        kept.setdefault((service, kind), deque(maxlen=per_service)).append((number, line[:width]))
    tails: dict[str, list[tuple[int, str]]] = {}
    for (service, _), lines in kept.items():
        tails.setdefault(service, []).extend(lines)
    return {service: [line for _, line in sorted(tails[service])] for service in sorted(tails)}


@dataclass
class KafkaState:
    """Records waiting in each dead-letter topic, and each group's lag by topic (lagging only)."""

    dead_letters: dict[str, int] = field(default_factory=dict)
    lag: dict[str, dict[str, int]] = field(default_factory=dict)


async def kafka_state(bootstrap: str, env: Mapping[str, str] | None = None) -> KafkaState:
    """Read the dead-letter counts and the consumer groups' lag from the broker."""
    client = client_from_env(env or {})
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client)
    try:
        await consumer.start()
        await admin.start()
        partitions = sorted(
            TopicPartition(topic["topic"], partition["partition"])
            for topic in await admin.describe_topics()
            for partition in topic["partitions"]
        )
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        dead = [tp for tp in partitions if tp.topic.endswith(".dlq")]
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(dead)
        state = KafkaState()
        for tp in dead:
            waiting = ends[tp] - starts[tp]
            state.dead_letters[tp.topic] = state.dead_letters.get(tp.topic, 0) + waiting
        for group, _ in sorted(await admin.list_consumer_groups()):
            committed = await admin.list_consumer_group_offsets(group)
            behind: dict[str, int] = {}
            for tp, meta in committed.items():
                if tp in ends and meta.offset >= 0 and ends[tp] > meta.offset:
                    behind[tp.topic] = behind.get(tp.topic, 0) + ends[tp] - meta.offset
            if behind:
                state.lag[group] = behind
        return state
    finally:
        await admin.close()
        await consumer.stop()


def _kafka_lines(bootstrap: str, env: Mapping[str, str] | None) -> list[str]:
    # In a thread of its own: an async test's assertion message is built while its event
    # loop runs, where `asyncio.run` would refuse.
    read = asyncio.wait_for(kafka_state(bootstrap, env), READ_WITHIN)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            state = pool.submit(asyncio.run, read).result()
    except Exception as exc:  # the diagnosis must never hide the failure it explains
        return [f"Kafka at {bootstrap} could not be read: {exc!r}"]
    waiting = {topic: n for topic, n in state.dead_letters.items() if n}
    lines = [
        "dead letters: "
        + (", ".join(f"{t} {n}" for t, n in waiting.items()) if waiting else "none")
        + f" (of {len(state.dead_letters)} dead-letter topics)"
    ]
    if not state.lag:
        lines.append("consumer lag: every group is at the end of its topics")
    for group, topics in state.lag.items():
        lines.append(f"consumer lag: {group}: " + ", ".join(f"{t} {n}" for t, n in topics.items()))
    return lines


def diagnose(output: str, bootstrap: str, env: Mapping[str, str] | None = None) -> str:
    """Warnings and errors per service, dead letters and consumer lag, as text."""
    lines = ["--- diagnosis: warnings and errors per service (last lines of `up`'s output)"]
    for service, tail in warnings_by_service(output).items():
        lines.append(f"{service}:")
        lines.extend(f"  {line}" for line in tail)
    lines.append(f"--- diagnosis: Kafka at {bootstrap}")
    lines.extend(_kafka_lines(bootstrap, env))
    return "\n".join(lines)


def log_lines(name: str, text: str) -> str:
    """A service's own log (JSON lines) as `up` prints it, `name | HH:MM:SS LEVEL message`."""
    return "\n".join(f"{service_label(name)} {render_line(line)}" for line in text.splitlines())


def last_lines(process: ManagedProcess, lines: int = 25, width: int = 300) -> str:
    """The last lines a process logged since its last start, rendered and cut for a message:
    what it was doing when it failed to stop or to answer."""
    rendered = log_lines(process.what, process.log_text()).splitlines()[-lines:]
    return "\n".join(line[:width] for line in rendered) or f"({process.what} logged nothing)"


def diagnose_processes(
    processes: Mapping[str, ManagedProcess], bootstrap: str, env: Mapping[str, str] | None = None
) -> str:
    """`diagnose` for services run as processes of their own: each one's log file since its
    last start stands for `up`'s output."""
    output = "\n".join(log_lines(name, p.log_text()) for name, p in processes.items())
    return diagnose(output, bootstrap, env)
