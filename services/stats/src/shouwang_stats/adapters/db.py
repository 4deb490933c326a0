"""The database connection stats works with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

#: A connection of its own or one borrowed from the pool: stats' adapters take either.
Conn: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[Any]"
