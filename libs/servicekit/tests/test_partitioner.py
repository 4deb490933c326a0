"""Every producer's partitioner: Kafka's default partitions, with the key's hash remembered."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner
from shouwang_contracts.topics import student_key
from shouwang_servicekit.kafka.clients import DURABLE_PRODUCER, KeyPartitioner


@pytest.mark.parametrize(
    ("key", "java_murmur2"),
    [
        # org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed Java ints)
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_partition_is_the_java_clients(key: bytes, java_murmur2: int) -> None:
    # Java's default partitioner: toPositive(murmur2(key)) % numPartitions.
    partitions = list(range(12))
    expected = (java_murmur2 & 0x7FFFFFFF) % len(partitions)
    assert KeyPartitioner()(key, partitions, partitions) == expected


def test_same_partition_as_aiokafkas_default_for_student_keys() -> None:
    ours, default = KeyPartitioner(maxsize=64), DefaultPartitioner()
    rng = random.Random(7)
    for n in range(2_000):
        key = student_key(f"campus{n % 3}", f"stu_{rng.getrandbits(160):040x}")
        partitions = list(range(rng.choice((1, 3, 6, 12, 50))))
        # Twice: once computed, once (for most keys) from the remembered hash.
        assert ours(key, partitions, partitions) == default(key, partitions, partitions)
        assert ours(key, partitions, partitions) == default(key, partitions, partitions)


def test_hash_is_remembered_per_key_and_bounded() -> None:
    partitioner = KeyPartitioner(maxsize=2)
    partitions = list(range(6))
    for key in (b"demo:stu_a", b"demo:stu_a", b"demo:stu_b", b"demo:stu_a", b"demo:stu_c"):
        partitioner(key, partitions, partitions)
    info = partitioner._hash.cache_info()
    assert (info.hits, info.misses, info.currsize) == (2, 3, 2)


def test_a_growing_topic_moves_keys_as_kafka_does() -> None:
    # The remembered value is the hash, not the partition: more partitions, new modulus.
    partitioner, default = KeyPartitioner(), DefaultPartitioner()
    keys = [f"demo:stu_{n}".encode() for n in range(200)]
    for count in (6, 12):
        partitions = list(range(count))
        assert [partitioner(k, partitions, partitions) for k in keys] == [
            default(k, partitions, partitions) for k in keys
        ]


def test_bytearray_keys_and_unkeyed_records() -> None:
    partitioner = KeyPartitioner()
    partitions = list(range(6))
    assert partitioner(bytearray(b"foobar"), partitions, partitions) == partitioner(
        b"foobar", partitions, partitions
    )
    # Without a key: any available partition, as aiokafka's default does.
    assert {partitioner(None, partitions, [2, 4]) for _ in range(100)} <= {2, 4}
    assert partitioner(None, partitions, []) in partitions


def test_every_producer_uses_it() -> None:
    assert isinstance(DURABLE_PRODUCER["partitioner"], KeyPartitioner)
