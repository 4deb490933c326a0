"""Topic names, settings and message keys, loaded from the declarative `topics.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

import yaml

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One Kafka topic as declared: name, partitions and the configs it is created with."""

    key: str
    name: str
    description: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]

    @property
    def dlq(self) -> str:
        """Name of the dead-letter topic that receives this topic's poison records."""
        return self.name + DLQ_SUFFIX


def _raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        resources.files(__package__).joinpath("topics.yaml").read_text(encoding="utf-8")
    )
    return loaded


def _load() -> tuple[dict[str, TopicSpec], dict[str, TopicSpec]]:
    raw = _raw()
    defaults = raw["defaults"]
    dlq = raw["dlq"]
    topics: dict[str, TopicSpec] = {}
    dead_letters: dict[str, TopicSpec] = {}
    for key, entry in raw["topics"].items():
        configs = {"min.insync.replicas": str(defaults["min_insync_replicas"])}
        if "retention_ms" in entry:
            configs["retention.ms"] = str(entry["retention_ms"])
        if "cleanup_policy" in entry:
            configs["cleanup.policy"] = entry["cleanup_policy"]
        spec = TopicSpec(
            key=key,
            name=entry["name"],
            description=entry["description"],
            partitions=int(entry.get("partitions", defaults["partitions"])),
            replication_factor=int(defaults["replication_factor"]),
            configs=configs,
        )
        topics[key] = spec
        dead_letters[key] = TopicSpec(
            key=f"{key}_dlq",
            name=spec.dlq,
            description=f"Dead letters of {spec.name}, with the reason in headers.",
            partitions=int(dlq["partitions"]),
            replication_factor=spec.replication_factor,
            configs={
                "retention.ms": str(dlq["retention_ms"]),
                "min.insync.replicas": configs["min.insync.replicas"],
            },
        )
    return topics, dead_letters


TOPICS, DEAD_LETTER_TOPICS = _load()
#: Topics no longer written or read, and their dead letters: provisioning deletes them.
RETIRED_TOPICS: tuple[str, ...] = tuple(
    name for topic in _raw().get("retired", []) for name in (topic, topic + DLQ_SUFFIX)
)

# A consumed record can come again only while its topic still holds it (three years at most:
# the topics stats rebuilds from; the compacted directory's entries are upserts, harmless to
# apply twice). Consumers remember the event ids they processed a little longer than any
# retention, then forget them.
PROCESSED_EVENT_MEMORY = timedelta(days=1111)


def all_topics() -> list[TopicSpec]:
    """Every topic to create, dead-letter topics included."""
    return [*TOPICS.values(), *DEAD_LETTER_TOPICS.values()]


REPORTS = TOPICS["reports"].name
SCREENINGS = TOPICS["screenings"].name
CENSUS = TOPICS["census"].name
ASSESSMENTS = TOPICS["assessments"].name
ALERTS = TOPICS["alerts"].name
CASES = TOPICS["cases"].name
DIRECTORY = TOPICS["directory"].name
#: The first directory topic (placements in the clear), retired: `DirectoryEntry`'s.
DIRECTORY_V1 = "shouwang.directory.v1"
NOTIFICATIONS = TOPICS["notifications"].name


@dataclass(frozen=True, slots=True)
class ServiceAcl:
    """What one service may do on Kafka (acls.yaml): write `produce`, read `consume` and the
    consumer groups whose ids start with a `groups` prefix (topic names, dead letters of what
    it reads among what it writes)."""

    service: str
    principal: str
    produce: tuple[str, ...]
    consume: tuple[str, ...]
    groups: tuple[str, ...]


def sasl_user(service: str) -> str:
    """The SASL user a service speaks to Kafka as."""
    return f"shouwang-{service}"


def service_acls() -> list[ServiceAcl]:
    """Every service's ACLs as acls.yaml declares them, topic keys turned into names."""
    raw: dict[str, Any] = yaml.safe_load(
        resources.files(__package__).joinpath("acls.yaml").read_text(encoding="utf-8")
    )
    acls = []
    for service, entry in raw["services"].items():
        consume = tuple(TOPICS[key].name for key in entry.get("consume") or ())
        produce = tuple(TOPICS[key].name for key in entry.get("produce") or ())
        acls.append(
            ServiceAcl(
                service=service,
                principal=f"User:{sasl_user(service)}",
                produce=produce + tuple(dead_letter_topic(name) for name in consume),
                consume=consume,
                groups=tuple(entry.get("groups") or ()),
            )
        )
    return acls


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def student_key(campus_id: str, student_ref: str) -> bytes:
    """The message key that keeps one student's events in order on one partition."""
    return f"{campus_id}:{student_ref}".encode()
