"""Stats' settings, from the environment only (prefix STATS_, plus the shared names)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from shouwang_servicekit.settings import SharedSettings


class StatsSettings(SharedSettings):
    """Everything stats can be told; secrets refuse their local defaults in production."""

    model_config = SettingsConfigDict(env_prefix="STATS_", extra="ignore")

    # Stats reads pseudonymous events only: it neither derives pseudonyms nor opens notes.
    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset()

    host: str = "127.0.0.1"
    port: int = 8005
    database_url: SecretStr = SecretStr("postgresql://stats:stats@127.0.0.1:5432/shouwang")
    db_pool_min: int = 1
    db_pool_max: int = 8

    # The live consumers' group. A new group starts at the topics' beginning.
    consumer_group: str = "shouwang-stats"
    # Records folded per transaction at most (whatever queued up, up to this many).
    batch_size: int = Field(default=2000, ge=1)
    # Rebuild on start when the active projection was built by older rules (or none exists).
    rebuild_on_start: bool = True
    # Processes a rebuild replays the topics with (each takes a share of the partitions).
    rebuild_workers: int = Field(default=2, ge=1)
    # Fewer students than this in a cell and the cell is hidden.
    suppress_below: int = Field(default=5, ge=2)
