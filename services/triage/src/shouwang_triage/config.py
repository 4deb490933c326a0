"""Triage's settings, from the environment only (prefix TRIAGE_, plus the shared names)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from shouwang_contracts.topics import TOPICS
from shouwang_servicekit.settings import SharedSettings

# The longest a report or screening can wait on its topic: what an erasure's mark outlasts.
INPUT_RETENTION = max(
    timedelta(milliseconds=int(TOPICS[key].configs["retention.ms"]))
    for key in ("reports", "screenings", "census")
)


class TriageSettings(SharedSettings):
    """Everything triage can be told; secrets refuse their local defaults in production."""

    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore")

    # Triage never derives pseudonyms nor opens notes: production need not give it those keys.
    # It checks a grade reader's scope against the directory's placement hashes.
    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset({"SHOUWANG_PLACEMENT_KEY"})

    host: str = "127.0.0.1"
    port: int = 8002
    database_url: SecretStr = SecretStr("postgresql://triage:triage@127.0.0.1:5432/shouwang")
    db_pool_min: int = 2
    db_pool_max: int = 10

    # The grading policy (default: the one bundled with the package) and per-campus overrides
    # (a YAML mapping campus_id -> overrides deep-merged onto the policy's defaults).
    policy_file: Path | None = None
    campus_file: Path | None = None

    # Which consumers this process runs: `all`, or a comma list of reports, screenings,
    # census, cases, directory. Running the census in its own replicas (`census`) beside
    # replicas for the rest (`reports,screenings,cases,directory`) gives the census its own
    # CPU; each process relays the outbox lane(s) of what it consumes.
    consumers: str = "all"

    # Kafka consumer groups share this prefix; each input topic has its own group.
    group_prefix: str = "triage"
    # A grading transaction holds one advisory lock per student of its batch (census and
    # urgent lanes, per replica): PostgreSQL's shared lock table has room for
    # max_locks_per_transaction (64) x max_connections locks in all, ample at these sizes.
    census_batch_size: int = 200
    # The share of wall time the census lane may spend grading; it rests the remainder after
    # each batch. The census is background work: on a shared box (or one shared database) it
    # must not take the CPU that tier reports need. 1.0 grades flat out.
    census_duty_cycle: float = Field(default=0.33, gt=0.0, le=1.0)
    # Reports or individual screenings that queued up are graded together, up to this many.
    urgent_batch_size: int = 100
    # How long an idle urgent consumer waits per poll (and then sleeps, in FastStream 0.7).
    urgent_poll_ms: int = 20
    linger_ms: int = 1
    # Back-off before a message whose effect failed (database down, ...) is retried.
    retry_backoff_seconds: float = 1.0

    # How often the escalation scheduler looks for overdue alerts, and how many per pass.
    escalation_interval_seconds: float = 1.0
    escalation_batch: int = 100
    # Commits wake the relay at once (LISTEN/NOTIFY); this poll is only its safety net, and
    # how soon a replica takes a lane over from one that died.
    relay_poll_seconds: float = 1.0
    relay_batch: int = 500
    # Housekeeping deletes at most this many grades past every policy window per turn (again
    # at once while a batch was full): docs/retention.md.
    retention_batch: int = Field(default=1000, ge=1)
    # How long triage remembers when a student was erased on request (`erasure_marks`): as
    # long as a record received before it can still arrive on an input topic (their
    # retention, 14 days) and a day's margin for a consumer far behind; then housekeeping
    # deletes the mark. docs/retention.md.
    erasure_mark_days: int = 15

    @field_validator("erasure_mark_days")
    @classmethod
    def _marks_outlast_the_inputs(cls, days: int) -> int:
        least = math.ceil(INPUT_RETENTION / timedelta(days=1))
        if days < least:
            raise ValueError(
                f"TRIAGE_ERASURE_MARK_DAYS={days}: an erasure's mark must outlast the input"
                f" topics' retention ({least} days), or a record received before the erasure"
                " could be graded after its mark is gone and kept"
            )
        return days

    @property
    def consumer_set(self) -> frozenset[str]:
        """The consumers to run."""
        known = {"reports", "screenings", "census", "cases", "directory"}
        if self.consumers.strip() == "all":
            return frozenset(known)
        chosen = frozenset(c.strip() for c in self.consumers.split(",") if c.strip())
        unknown = chosen - known
        if unknown or not chosen:
            raise ValueError(f"TRIAGE_CONSUMERS: unknown {sorted(unknown)}; known {sorted(known)}")
        return chosen

    @property
    def relay_lanes(self) -> tuple[str, ...]:
        """Outbox lanes this process publishes: urgent unless census-only, bulk with the census."""
        chosen = self.consumer_set
        lanes = [] if chosen == {"census"} else ["urgent"]
        if "census" in chosen:
            lanes.append("bulk")
        return tuple(lanes)
