"""A real multi-node Kafka cluster (KRaft) on loopback, from the same Maven jars as `LocalKafka`.

Each node is a combined broker and controller with its own data dir and ports; the controllers
form a static quorum, so with three nodes one may die (kill -9) and the cluster carries on, and
topics are created with replication 3 and `min.insync.replicas` 2, as in production: a write is
acknowledged only once two brokers hold it, and with two brokers down no write is acknowledged.
`shouwang-dev up --brokers 3` runs one; the three-broker end-to-end test starts its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shouwang_contracts.topics import TopicSpec, all_topics

from ._proc import free_port
from .kafka import LocalKafka, new_cluster_id

MIN_INSYNC = 2


def replicated_specs(replication: int, min_insync: int) -> list[TopicSpec]:
    """Every declared topic with this replication factor and `min.insync.replicas`."""
    return [
        dataclasses.replace(
            spec,
            replication_factor=replication,
            configs={**spec.configs, "min.insync.replicas": str(min_insync)},
        )
        for spec in all_topics()
    ]


@dataclass
class LocalKafkaCluster:
    """`size` KRaft nodes (broker + controller each) under `data_dir/node-<id>`.

    Ports: `ports[i]` / `controller_ports[i]` for node i+1; free ones when not given.
    """

    data_dir: Path
    size: int = 3
    ports: list[int] = field(default_factory=list)
    controller_ports: list[int] = field(default_factory=list)
    heap: str = "384m"
    die_with_parent: bool = False
    root: Path | None = None
    nodes: list[LocalKafka] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        taken: set[int] = set()

        def fresh() -> int:
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            return port

        self.ports = self.ports or [fresh() for _ in range(self.size)]
        self.controller_ports = self.controller_ports or [fresh() for _ in range(self.size)]
        voters = ",".join(
            f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(self.controller_ports)
        )
        replication = str(min(3, self.size))
        min_isr = str(min(MIN_INSYNC, self.size))
        cluster_id = self._cluster_id()
        for i in range(self.size):
            node_dir = self.data_dir / f"node-{i + 1}"
            node_dir.mkdir(parents=True, exist_ok=True)
            (node_dir / "cluster.id").write_text(cluster_id + "\n", encoding="utf-8")
            self.nodes.append(
                LocalKafka(
                    node_dir,
                    port=self.ports[i],
                    controller_port=self.controller_ports[i],
                    heap=self.heap,
                    die_with_parent=self.die_with_parent,
                    root=self.root,
                    extra_properties={
                        "node.id": str(i + 1),
                        "controller.quorum.voters": voters,
                        "default.replication.factor": replication,
                        "min.insync.replicas": min_isr,
                        "offsets.topic.replication.factor": replication,
                        "transaction.state.log.replication.factor": replication,
                        "transaction.state.log.min.isr": min_isr,
                        "share.coordinator.state.topic.replication.factor": replication,
                        "share.coordinator.state.topic.min.isr": min_isr,
                        "unclean.leader.election.enable": "false",
                    },
                )
            )

    def _cluster_id(self) -> str:
        """One id for every node, kept in `data_dir/cluster.id` so restarts find it."""
        path = self.data_dir / "cluster.id"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cid = new_cluster_id()
        path.write_text(cid + "\n", encoding="utf-8")
        return cid

    @property
    def bootstrap(self) -> str:
        """Every broker, as clients list them."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def specs(self) -> list[TopicSpec]:
        """The declared topics as this cluster holds them (replication 3, min ISR 2)."""
        return replicated_specs(min(3, self.size), min(MIN_INSYNC, self.size))

    def _launch_all(self) -> None:
        """Launch every node not running; the first launch of each formats its storage (a JVM
        of Kafka's StorageTool, seconds on a loaded machine), so those run side by side."""
        with ThreadPoolExecutor(max_workers=self.size) as pool:
            list(pool.map(LocalKafka.launch, self.nodes))

    def start(self, timeout: float = 120.0) -> LocalKafkaCluster:
        """Launch every node, then wait for each (a quorum needs them up together)."""
        self._launch_all()
        for node in self.nodes:
            node.wait_ready(timeout)
        return self

    async def start_async(self, within: float = 120.0) -> LocalKafkaCluster:
        await asyncio.to_thread(self._launch_all)
        await asyncio.gather(*(node.wait_ready_async(within) for node in self.nodes))
        return self

    def stop(self) -> None:
        """Stop every node still running (never raises for one already gone)."""
        for node in reversed(self.nodes):
            if node.is_running():
                node.stop()

    def discard(self) -> None:
        """Stop a cluster whose data is thrown away right after (a test's): every node at
        once, each `LocalKafka.discard` (seconds, then SIGKILL). `stop()` shuts them down
        gracefully one by one, and the last, with no quorum left to hand its partitions to,
        waits out its whole controlled shutdown: half a minute for nothing kept."""
        running = [node for node in self.nodes if node.is_running()]
        if running:
            with ThreadPoolExecutor(max_workers=len(running)) as pool:
                list(pool.map(LocalKafka.discard, running))

    def is_running(self) -> bool:
        return any(node.is_running() for node in self.nodes)
