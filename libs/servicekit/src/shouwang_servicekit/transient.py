"""The one rule for failures that say nothing about the work: retry them, however long it takes.

A consumer retries a record whose handling failed this way (the database or the broker is
away) until it succeeds, never skipping it; an HTTP handler answers 503 with `Retry-After`.
Any other failure is the work's own: a consumer dead-letters the record (after its attempts),
so one record never wedges a partition.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError

#: PostgreSQL's SQLSTATE classes that are the infrastructure's: 08 connection, 40 rollback
#: (deadlock, serialization), 53 insufficient resources, 57 operator intervention (shutdown,
#: restart), 58 system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def is_transient(exc: BaseException) -> bool:
    """Whether a failure is the infrastructure's (retry it), not the work's."""
    if isinstance(exc, OSError | TimeoutError | KafkaError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.UniqueViolationError):
        # Two handlers (or replicas) creating the same student's first row at once: the loser
        # retries and then finds the winner's row.
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "")[:2] in TRANSIENT_SQLSTATE_CLASSES
    return False
