"""Create every topic declared in `shouwang_contracts.topics` (dead-letter twins included), and
give each service the Kafka ACLs `acls.yaml` declares when the cluster checks who speaks.

The admin client connects as the environment says (`client_from_env`: KAFKA_SECURITY_PROTOCOL,
KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CAFILE), the same
names the services read; over SASL it also applies the ACLs.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.admin import CreateAclsRequest
from shouwang_contracts.topics import (
    RETIRED_TOPICS,
    ServiceAcl,
    TopicSpec,
    all_topics,
    service_acls,
)

from ._proc import DevstackError

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class TopicResult:
    """What happened to one topic: `created`, `exists` or `retired` (deleted)."""

    name: str
    outcome: str
    replication_factor: int


def fit_to_cluster(spec: TopicSpec, brokers: int) -> NewTopic:
    """The NewTopic for `spec`, replication (and min.insync.replicas) capped to the broker count."""
    replication = max(1, min(spec.replication_factor, brokers))
    configs = dict(spec.configs)
    if "min.insync.replicas" in configs:
        configs["min.insync.replicas"] = str(
            max(1, min(int(configs["min.insync.replicas"]), replication))
        )
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=replication,
        topic_configs=configs,
    )


def client_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """aiokafka keyword arguments for how the environment says to connect (empty: PLAINTEXT)."""
    env = os.environ if env is None else env
    protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    settings: dict[str, Any] = {}
    if protocol == "PLAINTEXT":
        return settings
    settings["security_protocol"] = protocol
    if protocol in ("SSL", "SASL_SSL"):
        settings["ssl_context"] = ssl.create_default_context(cafile=env.get("KAFKA_SSL_CAFILE"))
    if protocol.startswith("SASL_"):
        settings |= {
            "sasl_mechanism": env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            "sasl_plain_username": env.get("KAFKA_SASL_USERNAME"),
            "sasl_plain_password": env.get("KAFKA_SASL_PASSWORD"),
        }
    return settings


# Kafka's protocol codes (org.apache.kafka.common.acl / resource).
_TOPIC, _GROUP = 2, 3
_LITERAL, _PREFIXED = 3, 4
_READ, _WRITE = 3, 4
_ALLOW = 3


@dataclass(frozen=True, slots=True)
class AclBinding:
    """One ALLOW rule: `principal` may `operation` on a topic or group (prefix)."""

    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    operation: int


def acl_bindings(acls: Iterable[ServiceAcl] | None = None) -> list[AclBinding]:
    """The rules acls.yaml declares: write what a service produces (and the dead letters of
    what it reads), read what it consumes, use the consumer groups of its prefixes."""
    bindings = []
    for acl in acls if acls is not None else service_acls():
        for topic in acl.produce:
            bindings.append(AclBinding(_TOPIC, topic, _LITERAL, acl.principal, _WRITE))
        for topic in acl.consume:
            bindings.append(AclBinding(_TOPIC, topic, _LITERAL, acl.principal, _READ))
        for group in acl.groups:
            bindings.append(AclBinding(_GROUP, group, _PREFIXED, acl.principal, _READ))
    return bindings


async def apply_acls(admin: AIOKafkaAdminClient, bindings: list[AclBinding]) -> int:
    """Create each rule (creating one that exists changes nothing); returns how many."""
    for binding in bindings:
        # aiokafka's admin client has no create_acls; its protocol layer has the request.
        response = await admin._send_request(
            CreateAclsRequest(
                binding.resource_type,
                binding.resource_name,
                binding.pattern_type,
                binding.principal,
                "*",
                binding.operation,
                _ALLOW,
            )
        )
        for error_code, message in response.creation_responses:
            if error_code:
                raise DevstackError(
                    f"creating the ACL {binding} failed: error {error_code} {message or ''}"
                )
    return len(bindings)


async def _admin(
    bootstrap: str, within: float, client: Mapping[str, Any] | None = None
) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=15000, **(client or {})
        )
        try:
            await admin.start()
            return admin
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            last = exc
            await admin.close()
            await asyncio.sleep(0.5)
    raise DevstackError(f"cannot reach Kafka at {bootstrap} within {within:.0f}s: {last!r}")


async def create_topics(
    bootstrap: str,
    specs: list[TopicSpec] | None = None,
    *,
    within: float = 60.0,
    client: Mapping[str, Any] | None = None,
) -> list[TopicResult]:
    """Create the topics (all declared ones by default); topics that already exist are fine.

    `client` says how to connect (`client_from_env()`, or a local SASL_SSL broker's admin);
    over SASL, every service's ACLs are applied too (`acl_bindings`).
    """
    specs = list(specs if specs is not None else all_topics())
    admin = await _admin(bootstrap, within, client)
    try:
        if client and str(client.get("security_protocol", "")).startswith("SASL_"):
            await apply_acls(admin, acl_bindings())
        cluster = await admin.describe_cluster()
        brokers = max(1, len(cluster.get("brokers", [])))
        wanted = [fit_to_cluster(spec, brokers) for spec in specs]
        response = await admin.create_topics(wanted, timeout_ms=int(within * 1000))
        results: list[TopicResult] = []
        failures: list[str] = []
        by_name = {t.name: t for t in wanted}
        for error in response.topic_errors:
            name, code = error[0], error[1]
            message = error[2] if len(error) > 2 else ""
            rf = by_name[name].replication_factor
            if code == 0:
                results.append(TopicResult(name, "created", rf))
            elif code == _TOPIC_ALREADY_EXISTS:
                results.append(TopicResult(name, "exists", rf))
            else:
                failures.append(f"{name}: error {code} {message or ''}".strip())
        if failures:
            raise DevstackError("creating topics failed:\n" + "\n".join(failures))
        # Retired topics go, with what they held (the directory's v1 kept placements forever).
        existing = set(await admin.list_topics())
        retired = [name for name in RETIRED_TOPICS if name in existing]
        if retired:
            await admin.delete_topics(retired, timeout_ms=int(within * 1000))
            results += [TopicResult(name, "retired", 0) for name in retired]
        return results
    finally:
        await admin.close()


def create_topics_sync(
    bootstrap: str,
    specs: list[TopicSpec] | None = None,
    *,
    client: Mapping[str, Any] | None = None,
) -> list[TopicResult]:
    """`create_topics` for synchronous callers (the CLI), connecting as `client` says, else
    as the environment says (`client_from_env`)."""
    return asyncio.run(create_topics(bootstrap, specs, client=client or client_from_env()))


def declared_partitions(topic: str) -> list[TopicPartition]:
    """Every partition of `topic` as topics.yaml declares it: a client's metadata is still
    empty right after it starts."""
    spec = next((t for t in all_topics() if t.name == topic), None)
    if spec is None:
        raise DevstackError(f"{topic} is not declared in topics.yaml")
    return [TopicPartition(topic, number) for number in range(spec.partitions)]


async def assign_at_end(consumer: AIOKafkaConsumer, *topics: str) -> dict[TopicPartition, int]:
    """Assign every partition of `topics` to a started consumer and place it at their current
    end, resolved now: nothing published afterwards can fall before it. Returns those ends."""
    partitions = [tp for topic in topics for tp in declared_partitions(topic)]
    consumer.assign(partitions)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    for tp, offset in ends.items():
        consumer.seek(tp, offset)
    return ends


async def start_groups_at_end(bootstrap: str, groups: Mapping[str, str | tuple[str, ...]]) -> None:
    """Commit the current end of each group's topic, or topics, for it (`{group: topic}`); the
    groups must have no member now.

    Shouwang's consumer groups start from the earliest offset, rightly for a first deployment.
    On a test session's shared broker a test's group would first work through everything
    earlier modules published; a test that cares only about its own records starts here.
    """
    for group, topics in groups.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            named = (topics,) if isinstance(topics, str) else topics
            await consumer.commit(await assign_at_end(consumer, *named))
        finally:
            await consumer.stop()


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """The offsets `group` has committed, per partition (none for a group never seen)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}
