"""Write `topics.yaml` (Strimzi KafkaTopic resources) and `users.yaml` (KafkaUser resources with
their ACLs) from the contracts' `topics.yaml` and `acls.yaml`, the one declaration of Shouwang's
topics and of who may touch them.

    uv run python deploy/k8s/components/kafka-strimzi/build_topics.py

The tests fail when the committed files differ from what this writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
DECLARED = ROOT / "libs/contracts/src/shouwang_contracts/topics.yaml"
CLUSTER = "shouwang"
REPLICAS = 3
MIN_INSYNC = 2

ACLS = ROOT / "libs/contracts/src/shouwang_contracts/acls.yaml"
# The Secret whose keys the services read their Kafka passwords from (deploy/README.md): each
# KafkaUser takes its password from it, so the operator creates one Secret, before applying,
# rather than copying passwords out of the Strimzi-made Secrets afterwards.
PASSWORDS_FROM = "shouwang-secrets"
# The operators' user for dead letters (`shouwang-dlq --kafka-user shouwang-admin`): it reads
# every topic (the `.dlq` twins) and writes every topic (a replay puts a record back on its source).
ADMIN = "admin"


def _resource_name(topic: str) -> str:
    return topic.replace(".", "-").replace("_", "-")


def _topic(name: str, partitions: int, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": _resource_name(name), "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {
            "topicName": name,
            "partitions": partitions,
            "replicas": REPLICAS,
            "config": {"min.insync.replicas": MIN_INSYNC, **config},
        },
    }


def topics() -> list[dict[str, Any]]:
    declared = yaml.safe_load(DECLARED.read_text(encoding="utf-8"))
    defaults, dlq = declared["defaults"], declared["dlq"]
    out = []
    for spec in declared["topics"].values():
        config: dict[str, Any] = {}
        if "retention_ms" in spec:
            config["retention.ms"] = spec["retention_ms"]
        if "cleanup_policy" in spec:
            config["cleanup.policy"] = spec["cleanup_policy"]
        out.append(_topic(spec["name"], spec.get("partitions", defaults["partitions"]), config))
        out.append(
            _topic(f"{spec['name']}.dlq", dlq["partitions"], {"retention.ms": dlq["retention_ms"]})
        )
    return out


def _acl(kind: str, name: str, operations: list[str], pattern: str = "literal") -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": operations,
    }


def _user(who: str, acls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {"name": f"shouwang-{who}", "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {
            "authentication": {
                "type": "scram-sha-512",
                "password": {
                    "valueFrom": {
                        "secretKeyRef": {
                            "name": PASSWORDS_FROM,
                            "key": f"KAFKA_SASL_PASSWORD_{who.upper()}",
                        }
                    }
                },
            },
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def users() -> list[dict[str, Any]]:
    """A KafkaUser per service of the contracts' `acls.yaml`, named as the service speaks
    (`shouwang-<service>`): write what it produces, read what it consumes and write those
    topics' dead letters, read its consumer groups. Then the operators' `shouwang-admin`, which
    reads the dead letters and replays them (no consumer group: it reads from given offsets)."""
    declared = yaml.safe_load(DECLARED.read_text(encoding="utf-8"))["topics"]
    services = yaml.safe_load(ACLS.read_text(encoding="utf-8"))["services"]
    out = []
    for service, access in services.items():
        acls = [
            _acl("topic", declared[t]["name"], ["Write", "Describe"]) for t in access["produce"]
        ]
        for t in access["consume"]:
            acls.append(_acl("topic", declared[t]["name"], ["Read", "Describe"]))
            acls.append(_acl("topic", f"{declared[t]['name']}.dlq", ["Write", "Describe"]))
        for prefix in access["groups"]:
            acls.append(_acl("group", prefix, ["Read", "Describe"], "prefix"))
        if access["produce"]:
            acls.append(_acl("cluster", "kafka-cluster", ["IdempotentWrite"]))
        out.append(_user(service, acls))
    admin = [
        _acl("topic", "shouwang.", ["Read", "Write", "Describe"], "prefix"),
        _acl("cluster", "kafka-cluster", ["IdempotentWrite"]),
    ]
    out.append(_user(ADMIN, admin))
    return out


HEADER = "# Written by build_topics.py from libs/contracts/src/shouwang_contracts/topics.yaml: do not edit.\n"
OUTPUTS = {"topics.yaml": topics, "users.yaml": users}


def render(name: str) -> str:
    docs = OUTPUTS[name]()
    return HEADER + "---\n".join(
        yaml.safe_dump(d, sort_keys=False, allow_unicode=True) for d in docs
    )


if __name__ == "__main__":
    for filename in OUTPUTS:
        (HERE / filename).write_text(render(filename), encoding="utf-8")
