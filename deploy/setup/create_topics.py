"""Create every declared topic with production durability (the Kubernetes setup Job runs this).

`topics.yaml` declares replication 1 and min.insync.replicas 1 so a laptop's single broker can
hold the topics; in production each topic (dead-letter twins included) wants replication 3 and
min.insync.replicas 2, so an acks=all write survives the loss of one broker. The devstack's
creator still caps both by the number of brokers it finds, so a smaller cluster gets what it can
hold instead of an error. Topics that already exist are left as they are.

Environment: KAFKA_BOOTSTRAP_SERVERS (required), TOPIC_REPLICATION_FACTOR (3),
TOPIC_MIN_INSYNC_REPLICAS (2).
"""

from __future__ import annotations

import dataclasses
import os
import sys

from shouwang_contracts.topics import TopicSpec, all_topics


def production_specs(replication: int, min_insync: int) -> list[TopicSpec]:
    """Every declared topic with the given replication factor and min.insync.replicas."""
    if replication < 1 or not 1 <= min_insync <= replication:
        raise ValueError(
            f"need 1 <= min.insync.replicas ({min_insync}) <= replication ({replication})"
        )
    return [
        dataclasses.replace(
            spec,
            replication_factor=replication,
            configs={**spec.configs, "min.insync.replicas": str(min_insync)},
        )
        for spec in all_topics()
    ]


def main() -> int:
    """Create the topics on KAFKA_BOOTSTRAP_SERVERS and print one line per topic."""
    from shouwang_devstack.topics import create_topics_sync

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        print("KAFKA_BOOTSTRAP_SERVERS is required", file=sys.stderr)
        return 2
    specs = production_specs(
        int(os.environ.get("TOPIC_REPLICATION_FACTOR", "3")),
        int(os.environ.get("TOPIC_MIN_INSYNC_REPLICAS", "2")),
    )
    for result in create_topics_sync(bootstrap, specs):
        print(f"{result.name}: {result.outcome} (replication {result.replication_factor})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
