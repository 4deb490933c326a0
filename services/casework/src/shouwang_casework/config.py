"""Casework's settings, from the environment only (prefix CASEWORK_, plus the shared names)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from shouwang_servicekit.settings import SharedSettings

#: A Kafka consumer group name (or the prefix of several): Kafka's topic alphabet, so a
#: typo (a space, a slash, an empty value) is refused at start rather than joining a group
#: nobody meant.
GroupName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]


class CaseworkSettings(SharedSettings):
    """Everything casework can be told; secrets refuse their local defaults in production.

    Notes are sealed with `SHOUWANG_NOTE_KEYS` (casework's keyring: the first key seals).
    """

    model_config = SettingsConfigDict(env_prefix="CASEWORK_", extra="ignore")

    # Pseudonyms (roster imports), notes, and the directory's placement hashes.
    SECRETS_IN_USE: ClassVar[frozenset[str]] = frozenset(
        {"SHOUWANG_PSEUDONYM_KEY", "SHOUWANG_NOTE_KEYS", "SHOUWANG_PLACEMENT_KEY"}
    )

    host: str = "127.0.0.1"
    port: int = 8003
    database_url: SecretStr = SecretStr("postgresql://casework:casework@127.0.0.1:5432/shouwang")
    db_pool_min: int = 2
    db_pool_max: int = 10

    consumer_group: GroupName = "casework"
    # The student file's consumers' groups, one per topic: `<this>-reports`, `-screenings`,
    # `-census`, `-assessments`. The default keeps the names deployments committed offsets
    # under; a new prefix starts its groups at the topics' beginning.
    file_consumer_group: GroupName = "casework-file"
    # Run the Kafka consumers and the outbox relay in this process (off for HTTP-only tests).
    consumers_enabled: bool = True
    relay_enabled: bool = True
    # A consumer applies whatever queued up, up to this many records, in one transaction and
    # one offset commit; with nothing queued a batch is the one record, handled at once.
    consumer_batch_size: int = Field(default=100, ge=1, le=5000)
    # How long an idle consumer waits per poll (and then sleeps, in FastStream 0.7): what a
    # lone warning waits at most before casework picks it up.
    consumer_poll_ms: int = Field(default=20, ge=1, le=1000)
    # A batch of warnings is applied in up to this many transactions at once, its students
    # shared among them: a transaction mostly waits on round trips, so several overlap their
    # waits (each holds a pooled connection: keep it well under `db_pool_max`). 1 by default:
    # where casework shares its cores with notify (one machine), 4 lanes opened a burst's
    # cases sooner but delayed the critical first message by 3-4 s (bench/README.md); raise
    # it where casework has cores of its own.
    consumer_lanes: int = Field(default=1, ge=1, le=8)
    relay_batch: int = Field(default=200, ge=1, le=5000)
    # Commits wake the relay at once (LISTEN/NOTIFY); this poll is only its safety net, and
    # how soon a replica takes the relay over from one that died.
    relay_idle_seconds: float = Field(default=1.0, gt=0)
    # Published events stay this long in the outbox (for inspection), then Kafka alone has them.
    outbox_keep_days: int = Field(default=7, ge=1)
    # Campuses this deployment serves: the missed-follow-up reminder walks them one by one,
    # because row-level security shows it one campus at a time.
    campuses: list[str] = Field(default_factory=list)
    reminder_interval_seconds: float = Field(default=60.0, gt=0)
    # Attempts at one record before a non-transient failure sends it to the dead-letter topic.
    max_attempts: int = Field(default=5, ge=1)
    # The largest roster file a campus admin may upload (the request as a whole is capped
    # at 21 MiB, so this may lower the limit, not raise it).
    roster_max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1, le=20 * 1024 * 1024)
    # A listing read (the queue, the awaiting list, the name cards: pages refreshed every
    # 15 s) records each student shown at most once per reader, role and page in this many
    # seconds (service_layer/access.py); 0 records every showing. Single reads (a case, a
    # file, its history, its notes) and break-the-glass are one audit row each, always.
    audit_list_window_seconds: int = Field(default=900, ge=0, le=3600)
    # How long a break-the-glass grant opens a student's file, at most.
    break_glass_minutes: int = Field(default=120, ge=5, le=24 * 60)
    # How often one person may break the glass in 24 hours (429 past it).
    break_glass_per_day: int = Field(default=3, ge=1, le=50)
    # A file's free text ends this long after the student's last case closed (PIPL Art. 19,
    # 47; the choice of three years is argued in docs/retention.md). Never under 180 days:
    # the database function refuses a shorter period whatever this says.
    closed_file_retention_days: int = Field(default=1096, ge=180)
    # Files erased per campus per turn (each in its own small transaction), and the turn.
    retention_batch: int = Field(default=50, ge=1, le=1000)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    # A leaver's roster row (name, 学号, placement in the clear) ends this long after the
    # roster said they left, once no case is open and every file text is erased (docs/
    # retention.md). At least 180 days: a term, for a roster mistake or a 休学 that ends.
    leaver_roster_days: int = Field(default=365, ge=180)
    # A roster import's row errors (they quote 学号 and cells) are blanked this long after the
    # import, its record (file name, hash, counts) deleted this long after; the record never
    # before its errors (docs/retention.md).
    roster_import_error_days: int = Field(default=90, ge=7)
    roster_import_days: int = Field(default=365, ge=30)

    @model_validator(mode="after")
    def _import_record_outlives_its_errors(self) -> CaseworkSettings:
        if self.roster_import_days < self.roster_import_error_days:
            raise ValueError(
                "roster_import_days must be at least roster_import_error_days: the import's"
                " record outlives its row errors"
            )
        return self

    @property
    def audit_list_window(self) -> timedelta:
        """`audit_list_window_seconds` as the interval the audit log takes."""
        return timedelta(seconds=self.audit_list_window_seconds)
