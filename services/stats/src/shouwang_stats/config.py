"""Stats' settings, from the environment only (prefix STATS_, plus the shared names)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from shouwang_servicekit.settings import SharedSettings

LOCAL_PERSON_LIMITS_KEY = (
    "local-only-stats-person-limits-key-change-me-0123"  # refused outside local
)


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
    # Holds none of the shared keys, so the shared person limits (person_limits, counted
    # once across the replicas) key people by one of its own: under a public default, a
    # reader of the table could test guessed staff numbers against it.
    person_limits_key: SecretStr = Field(
        default=SecretStr(LOCAL_PERSON_LIMITS_KEY),
        description="HMAC key of the people in stats' person_limits table, at least 32 bytes.",
    )

    @model_validator(mode="after")
    def _no_default_person_limits_key_outside_local(self) -> StatsSettings:
        if self.env not in ("local", "test") and (
            self.person_limits_key.get_secret_value() == LOCAL_PERSON_LIMITS_KEY
        ):
            raise ValueError("set real secrets outside local mode: STATS_PERSON_LIMITS_KEY")
        return self

    def _person_limits_key(self) -> bytes:
        return self.person_limits_key.get_secret_value().encode()
