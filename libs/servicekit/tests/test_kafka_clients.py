"""A cluster's bootstrap list (`KAFKA_BOOTSTRAP_SERVERS=host:port,host:port`) reaches every
client as a list of brokers: handed over as one string, FastStream's broker gave aiokafka a
single host named after the whole list, and a service pointed at a cluster could not start."""

from __future__ import annotations

import pytest
from shouwang_devstack._proc import free_port
from shouwang_servicekit.kafka.clients import KafkaClients

pytestmark = pytest.mark.integration


def test_a_comma_separated_bootstrap_is_every_broker() -> None:
    clients = KafkaClients(" 10.0.0.1:9093, 10.0.0.2:9093 ,10.0.0.3:9093", client_id="x")
    assert clients.hosts == ["10.0.0.1:9093", "10.0.0.2:9093", "10.0.0.3:9093"]


async def test_a_broker_and_a_producer_start_from_a_list_whose_first_broker_is_down(
    kafka_bootstrap: str,
) -> None:
    listing = f"127.0.0.1:{free_port()},{kafka_bootstrap}"
    clients = KafkaClients(listing, client_id="shouwang-kit-test")
    broker = clients.broker(linger_ms=1)
    await broker.start()
    try:
        assert await broker.ping(timeout=10)
    finally:
        await broker.stop()
    producer = clients.producer(linger_ms=1)
    await producer.start()
    await producer.stop()
