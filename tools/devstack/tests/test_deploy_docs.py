"""deploy/README.md's commands, followed literally, give the manifests what they read.

An operator creates the Secrets by copying the README's commands; a key a pod needs that the
command leaves out is a pod that never starts (notify and the gateway did not: their database
URLs, the link keys and the signing key were missing from it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
README = (DEPLOY / "README.md").read_text(encoding="utf-8")


def _documents() -> Iterator[dict[str, Any]]:
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield from (d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)


def _secret_refs(node: object, parent: str = "") -> Iterator[tuple[str, str | None, bool]]:
    """(secret name, key or None for the whole Secret, optional) of every reference."""
    if isinstance(node, dict):
        if parent != "configMapKeyRef" and {"name", "key"} <= node.keys():
            yield node["name"], node["key"], bool(node.get("optional"))
        if parent == "secret" and "secretName" in node:  # a volume of the whole Secret
            yield node["secretName"], None, bool(node.get("optional"))
        if parent == "superuserSecret":  # CloudNativePG's: username and password
            yield node["name"], None, False
        for key, value in node.items():
            yield from _secret_refs(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_refs(item, parent)


def _created_by_readme() -> dict[str, set[str]]:
    """Each `kubectl ... create secret generic <name>` of the README, with the keys it sets."""
    created: dict[str, set[str]] = {}
    commands = re.findall(r"create secret generic ([\w-]+)((?:[^\n]*\\\n)*[^\n]*)", README)
    for name, body in commands:
        keys = set(re.findall(r"--from-(?:literal|file)=([A-Za-z_.]+)=", body))
        created.setdefault(name, set()).update(keys)
    return created


def test_every_secret_and_key_the_manifests_read_is_created_by_the_readmes_commands() -> None:
    created = _created_by_readme()
    missing = set()
    for doc in _documents():
        for name, key, optional in _secret_refs(doc):
            if optional:
                continue
            if name not in created or (key is not None and key not in created[name]):
                missing.add(f"{name}/{key or '*'} ({doc['kind']} {doc['metadata']['name']})")
    assert not missing, f"deploy/README.md's commands never create {sorted(missing)}"


def test_the_readmes_commands_are_checked_against_something() -> None:
    # The parser must see the commands it checks, or the test above passes vacuously.
    created = _created_by_readme()
    assert {"shouwang-secrets", "shouwang-kafka-ca", "shouwang-db-superuser"} <= created.keys()
    assert {"NOTIFY_LINK_KEYS", "GATEWAY_SIGNING_KEY"} <= created["shouwang-secrets"]


def test_the_upgrade_deletes_the_kafkatopic_of_every_retired_topic() -> None:
    # `kubectl apply` never deletes a KafkaTopic the new release no longer renders, so a retired
    # topic (shouwang.directory.v1 held placements in the clear) would outlive its purpose.
    declared = yaml.safe_load(
        (ROOT / "libs/contracts/src/shouwang_contracts/topics.yaml").read_text("utf-8")
    )
    upgrading = README.split("## Upgrading", 1)[1].split("\n## ", 1)[0]
    deletes = re.findall(r"delete kafkatopic([^`]*)`", upgrading)
    assert deletes, "the upgrade names no `kubectl delete kafkatopic`"
    named = set(" ".join(deletes).split())
    for topic in declared.get("retired", []):
        resource = topic.replace(".", "-").replace("_", "-")
        assert {resource, f"{resource}-dlq"} <= named, topic
