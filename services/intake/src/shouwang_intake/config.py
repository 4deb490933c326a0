"""Intake's settings, from the environment only (prefix INTAKE_, plus the shared names)."""

from __future__ import annotations

from functools import cached_property
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from shouwang_servicekit.ratelimits import RateLimiter, RouteLimit
from shouwang_servicekit.settings import SharedSettings


class IntakeSettings(SharedSettings):
    """Everything intake can be told; secrets refuse their local defaults in production."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    database_url: SecretStr = SecretStr("postgresql://intake:intake@127.0.0.1:5432/shouwang")
    db_pool_min: int = 2
    db_pool_max: int = 10

    # How long a request waits for Kafka's acknowledgement before answering 503.
    publish_timeout_seconds: float = 5.0
    linger_ms: int = 2
    retry_after_seconds: int = 5

    # The consumer group that follows case events to move receipts along. Give each
    # environment sharing a Kafka cluster its own, or they take each other's records.
    consumer_group: str = "shouwang-intake-receipts"

    # Reports one reporter may send per hour (a dorm-room leader can name any student of the
    # campus); bursts of up to a third of it at once. Past it: 429 with Retry-After.
    reports_per_reporter_per_hour: int = Field(default=60, ge=1)

    # The report POST is intake's hottest path: a statement per request on the shared
    # per-person limits (counted across replicas) cost it half its rate, so a replica claims
    # this many of a person's requests per statement (bench/person_limits_intake.py).
    person_limits_block: int = Field(
        default=10, ge=1, validation_alias=AliasChoices("SHOUWANG_PERSON_LIMITS_BLOCK")
    )

    max_json_bytes: int = 64 * 1024
    max_census_bytes: int = 50 * 1024 * 1024
    max_census_rows: int = 100_000
    # Census rows awaiting Kafka's acknowledgement at once; bounds memory and broker pressure.
    census_in_flight: int = 1000
    # A census upload refreshes its batch's heartbeat this often; a batch still 'processing'
    # with no heartbeat for census_stale_seconds was cut off and reads `failed`.
    census_heartbeat_seconds: float = 5.0
    census_stale_seconds: float = 60.0

    # Retention (docs/retention.md, `service_layer.retention`): a receipt whose case closed (or
    # never opened) ends this long after it last moved; an idempotency key this long after it
    # was made. The hourly chore deletes at most `retention_batch` rows per table per turn.
    receipt_retention_days: int = Field(default=365, ge=30)
    idempotency_key_days: int = Field(default=7, ge=1)
    # A census upload's row errors end this long after the upload ended, its record (counts,
    # hash) this long after; the record never before its errors.
    census_error_days: int = Field(default=90, ge=7)
    census_batch_days: int = Field(default=365, ge=30)
    retention_batch: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _census_record_outlives_its_errors(self) -> IntakeSettings:
        if self.census_batch_days < self.census_error_days:
            raise ValueError(
                "census_batch_days must be at least census_error_days: the upload's record"
                " outlives its row errors"
            )
        return self

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def report_limit(self) -> RouteLimit:
        """A reporter's reports, limited at the edge with their other per-person limits (in
        the same statement, so across replicas with them): anyone of the network may name
        any student of the campus, and a reporter sending report after report (a prank, a
        grudge, a stolen phone) is slowed, never silently dropped. A report refused for
        what it says (400, 422: a mistyped student number, an unknown signal, a note too
        long) is given back: a dorm leader on a phone who mistypes three times can still
        report the student in crisis. So is one intake could not take (503: Kafka or the
        database away): the app keeps the report and sends it again after `Retry-After`, and
        a floor leader retrying through a ten-minute outage must not find the allowance spent
        when it ends. Every request still counts against the person's request limit, which
        holds a token sending refused reports flat out."""
        per_hour = self.reports_per_reporter_per_hour
        return RouteLimit(
            "reports",
            ("POST /v1/reports",),
            RateLimiter(per_hour, 3600, burst=max(1, per_hour // 3)),
            ("上报", "reports"),
            given_back=frozenset({400, 422, 503}),
        )
