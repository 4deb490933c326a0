"""The ACLs (acls.yaml) grant every topic a service's code uses.

In production the broker refuses what acls.yaml does not list, and a refused consumer does
not crash: it just never sees the topic. So a topic a service starts using without its ACL
fails silently, on the live cluster only (casework reading notify's acknowledgements would
never hear of them, and the alerts they answer would go on escalating). This reads each
service's source for the topics it names (the constants of `shouwang_contracts.topics` and
the events of `shouwang_contracts.events`, whose `TOPIC` says where they travel) and checks
each is granted to it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import shouwang_contracts.events as events
import shouwang_contracts.topics as topics
from shouwang_contracts.topics import RETIRED_TOPICS, TOPICS, service_acls

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.parent.name for p in ROOT.glob("services/*/src"))
_NAMES = {spec.name for spec in TOPICS.values()}
TOPIC_OF = {
    **{n: v for n, v in vars(topics).items() if n.isupper() and isinstance(v, str) and v in _NAMES},
    **{
        n: v.TOPIC
        for n, v in vars(events).items()
        if isinstance(v, type) and isinstance(getattr(v, "TOPIC", None), str)
    },
}


def _topics_named_in(service: str) -> dict[str, set[str]]:
    """topic -> the files that name it, for every live topic the service's code names."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "services" / service / "src").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if not node.module.startswith(
                ("shouwang_contracts.topics", "shouwang_contracts.events")
            ):
                continue
            for alias in node.names:
                topic = TOPIC_OF.get(alias.name)
                if topic is not None and topic not in RETIRED_TOPICS:
                    found.setdefault(topic, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_uses_a_topic_the_broker_would_silently_refuse_it(service: str) -> None:
    named = _topics_named_in(service)
    acl = next((a for a in service_acls() if a.service == service), None)
    if acl is None:
        assert not named, f"{service} uses Kafka ({sorted(named)}) but has no entry in acls.yaml"
        return
    granted = set(acl.produce) | set(acl.consume)
    missing = {topic: sorted(files) for topic, files in named.items() if topic not in granted}
    assert not missing, f"acls.yaml grants {service} none of: {missing}"
