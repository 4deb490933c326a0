"""The one place Kafka clients are made: every broker, producer and consumer of a service.

`KafkaClients` (from `SharedSettings.kafka_clients(service)`) builds FastStream brokers (whose
subscribers are the service's consumers) and bare aiokafka producers (intake's hot path) with
one set of settings: where the cluster is, who the client is and how it proves it
(`KafkaSecurity`: TLS against the cluster's CA, SASL SCRAM-SHA-512 credentials), how long a
request may take, and the durable producer (`DURABLE_PRODUCER`).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
_FASTSTREAM_SASL: dict[str, type[SASLScram512 | SASLScram256 | SASLPlaintext]] = {
    "SCRAM-SHA-512": SASLScram512,
    "SCRAM-SHA-256": SASLScram256,
    "PLAIN": SASLPlaintext,
}


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How a client proves who it is and keeps the wire private.

    `SASL_SSL` (TLS, then SCRAM-SHA-512 credentials) is what a cluster on a shared network
    should ask for; `ca_file` names the CA that signed the brokers' certificates (the system's
    trust store when unset). Host names are checked against the certificates.
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.uses_sasl and not (self.username and self.password):
            raise ValueError(f"Kafka {self.protocol} needs a SASL username and password")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (verifying the brokers against `ca_file`), or None without TLS."""
        return create_ssl_context(cafile=self.ca_file) if self.uses_tls else None

    def aiokafka(self) -> dict[str, Any]:
        """The keyword arguments of an aiokafka client (producer, consumer, admin)."""
        settings: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            settings["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            settings |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return settings

    def faststream(self) -> BaseSecurity | None:
        """The same, as FastStream's `security=` argument of a broker."""
        context = self.ssl_context()
        if self.uses_sasl:
            assert self.username is not None
            assert self.password is not None
            return _FASTSTREAM_SASL[self.sasl_mechanism](
                self.username, self.password, ssl_context=context, use_ssl=self.uses_tls
            )
        return BaseSecurity(ssl_context=context, use_ssl=True) if self.uses_tls else None


class KeyPartitioner:
    """Kafka's default partitioning of keyed records, with each key's hash remembered.

    The partition is the one the Java client and aiokafka's `DefaultPartitioner` choose
    (murmur2 of the key, made positive, modulo the partition count), so every producer of a
    student's events agrees on its partition. aiokafka computes murmur2 in pure Python, about
    a hundredth of a millisecond per key, for every record; a service keys its records by the
    same students' references all day (and a census by one campus's roster), so the hash of
    the last `maxsize` keys is looked up instead. Records without a key go to a random
    available partition, as with the default.
    """

    def __init__(self, maxsize: int = 65_536) -> None:
        self._hash = lru_cache(maxsize=maxsize)(_positive_murmur2)
        self._unkeyed = DefaultPartitioner()

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        if key is None:
            return self._unkeyed(key, all_partitions, available)  # type: ignore[no-any-return]
        return all_partitions[self._hash(bytes(key)) % len(all_partitions)]


def _positive_murmur2(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF  # type: ignore[no-any-return]


# Every producer: the broker acknowledges only once all in-sync replicas have the record,
# and retries cannot duplicate or reorder it; keyed records go where Kafka's default
# partitioner sends them (see `KeyPartitioner`).
DURABLE_PRODUCER: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "partitioner": KeyPartitioner(),
}
#: How long one request to the cluster may take before the client gives up on it.
REQUEST_TIMEOUT_MS = 10_000
#: Seconds a stopping consumer waits for the handler in progress to finish and commit; past it
#: the consumer closes and the handler's offsets stay uncommitted (the work is done again after
#: the restart, idempotently). Within the service's shutdown (`app.SHUTDOWN_SECONDS`).
HANDLER_GRACE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class KafkaClients:
    """Makes every Kafka client of one service, with the same settings.

    `client_id` names the service (`shouwang-intake`); a client made with `name` adds it
    (`shouwang-intake-census`), so the cluster's metrics tell the clients apart.
    """

    bootstrap_servers: str
    client_id: str
    request_timeout_ms: int = REQUEST_TIMEOUT_MS
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @property
    def hosts(self) -> list[str]:
        """Every broker of `KAFKA_BOOTSTRAP_SERVERS` (`host:port[,host:port…]`): FastStream
        hands a string to aiokafka as one host, so a cluster's list must be split here."""
        return [host.strip() for host in self.bootstrap_servers.split(",") if host.strip()]

    def _connection(self, name: str | None) -> dict[str, Any]:
        """Where the cluster is and who speaks: the settings every client shares."""
        return {
            "bootstrap_servers": self.hosts,
            "client_id": f"{self.client_id}-{name}" if name else self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
        }

    def aiokafka(self, name: str | None = None) -> dict[str, Any]:
        """Connection and security settings for any other aiokafka client (an admin client,
        a consumer a tool or test makes)."""
        return {**self._connection(name), **self.security.aiokafka()}

    def broker(self, *, linger_ms: int, name: str | None = None, **tuning: Any) -> KafkaBroker:
        """A FastStream broker whose producer waits for all in-sync replicas.

        Its subscribers are the service's consumers (see `shouwang_servicekit.kafka.consumers`).
        Topics are never created by a client (the devstack and the deployment declare them);
        FastStream's own logging is off (the consumer runtime logs what matters, and a census
        would log tens of thousands of records).
        """
        connection = self._connection(name)
        return KafkaBroker(
            connection.pop("bootstrap_servers"),
            linger_ms=linger_ms,
            allow_auto_create_topics=False,
            logger=None,
            security=self.security.faststream(),
            graceful_timeout=HANDLER_GRACE_SECONDS,
            **connection,
            **DURABLE_PRODUCER,
            **tuning,
        )

    def producer(
        self, *, linger_ms: int, name: str | None = None, **tuning: Any
    ) -> AIOKafkaProducer:
        """A bare aiokafka producer that waits for all in-sync replicas (for hot paths that
        skip FastStream's per-message work; start and stop it yourself)."""
        return AIOKafkaProducer(
            linger_ms=linger_ms, **self.aiokafka(name), **DURABLE_PRODUCER, **tuning
        )

    def consumer(self, *, name: str | None = None, **tuning: Any) -> AIOKafkaConsumer:
        """A bare aiokafka consumer, by default in no group (to read topics from given offsets,
        as a rebuild does); start and stop it yourself."""
        return AIOKafkaConsumer(**self.aiokafka(name), **tuning)

    def admin(self, *, name: str | None = None) -> AIOKafkaAdminClient:
        """An admin client (topic metadata, group offsets); start and close it yourself."""
        return AIOKafkaAdminClient(**self.aiokafka(name))

    def producer_factory(
        self, *, linger_ms: int, name: str | None = None, **tuning: Any
    ) -> Callable[[], AIOKafkaProducer]:
        """`producer(...)` as a factory, for owners that recreate their producer."""

        def make() -> AIOKafkaProducer:
            return self.producer(linger_ms=linger_ms, name=name, **tuning)

        return make
