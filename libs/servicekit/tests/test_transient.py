"""The one rule for failures worth retrying: the infrastructure's, never the work's."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, NotEnoughReplicasError
from shouwang_contracts.kafka import PoisonEvent
from shouwang_servicekit.transient import is_transient


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.DeadlockDetectedError("deadlock"),
        asyncpg.SerializationError("could not serialize access"),
        asyncpg.TooManyConnectionsError("too many"),
        asyncpg.InterfaceError("the pool is closing"),
        # Two replicas creating one student's first row at once: the loser tries again.
        asyncpg.UniqueViolationError("duplicate key"),
        KafkaConnectionError(),
        NotEnoughReplicasError(),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
    ids=type,
)
def test_dependency_failures_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.DataError("bad"),
        asyncpg.CheckViolationError("no"),
        asyncpg.UndefinedColumnError("a bug"),
        PoisonEvent("not a valid shouwang.report.submitted"),
        ValueError("x"),
        KeyError("y"),
    ],
    ids=type,
)
def test_what_the_work_itself_gets_wrong_is_not(exc: BaseException) -> None:
    assert not is_transient(exc)
