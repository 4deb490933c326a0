"""Notify's settings, from the environment only (prefix NOTIFY_, plus the shared names)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from shouwang_servicekit.settings import SharedSettings

LOCAL_LINK_KEY = "local-only-notify-link-key-change-me-0123456789"


class NotifySettings(SharedSettings):
    """Everything notify can be told; secrets refuse their local defaults in production.

    Notify uses both shared keys: the pseudonym key (contacts files name people by 工号 and
    学号) and the note keys (contacts are sealed at rest).
    """

    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8004
    database_url: SecretStr = SecretStr("postgresql://notify:notify@127.0.0.1:5432/shouwang")
    db_pool_min: int = 2
    db_pool_max: int = 10
    group_prefix: str = "notify"
    # Alerts that queued up on Kafka land in the inbox together, up to this many at once;
    # planners then take them the gravest first, this many per transaction.
    alert_batch: int = 500
    plan_batch: int = 50
    # Critical alerts an urgent planner takes per transaction when they queue up (a census):
    # planning is set-wise (a few statements whatever the batch).
    urgent_plan_batch: int = 25
    # Case events that queued up on Kafka, handled as one batch (one offset commit).
    case_event_batch: int = 200

    # Links in messages point here (a gateway may serve notify's /ack pages on the app's origin).
    public_base_url: str = "http://127.0.0.1:8004"
    # SMS links (`/ack/s/<code>`) point here when set: a short host name of the same gateway
    # (https://xl.example.edu.cn), so an alert's SMS fits one 70-character segment; with a
    # host as long as most colleges' (https://xinli.example-university.edu.cn) it takes two.
    sms_link_base_url: str | None = None
    # The web app's origin (the gateway serves it): a confirmed link's page links on to the
    # app's page of the case; messages and pages that ask their reader to sign in name it.
    app_base_url: str = "http://127.0.0.1:8080"
    # Keys signing acknowledgement links: `key1,key2`; the first signs, every one verifies.
    link_keys: SecretStr = SecretStr(LOCAL_LINK_KEY)
    link_floor_hours: float = 24.0

    # Channels. Each is on when configured; `make up` and the tests point them at local sinks.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: str = Field(default="starttls", pattern="^(starttls|ssl|insecure)$")
    smtp_sender: str = "noreply@shouwang.local"
    sms_url: str | None = None
    sms_token: SecretStr | None = None
    wecom_robot_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    dingtalk_robot_token: SecretStr | None = None
    dingtalk_robot_secret: SecretStr | None = None
    dingtalk_api_base: str = "https://oapi.dingtalk.com"
    on_duty_webhook_url: str | None = None
    # Messages per second each channel may send (gateways and robots throttle: WeCom and
    # DingTalk robots allow about 20 a minute per robot).
    rate_email: float = 20.0
    rate_sms: float = 20.0
    rate_wecom: float = 0.33
    rate_dingtalk: float = 0.33
    rate_webhook: float = 20.0
    channel_timeout_seconds: float = 10.0

    # The delivery queue: messages in flight at once, and the slots only critical ones use.
    dispatch_concurrency: int = 20
    urgent_concurrency: int = 8
    # SMTP connections kept open for the bulk lane and for the urgent lane.
    smtp_connections: int = 4
    urgent_smtp_connections: int = 2
    dispatch_db_pool_max: int = 8
    dispatch_poll_seconds: float = 0.2
    lease_seconds: float = 60.0
    retry_base_seconds: float = 2.0
    retry_cap_seconds: float = 300.0
    retry_attempts: int = 5

    default_digest_hour: int = Field(default=8, ge=0, le=23)
    case_batch_seconds: float = 120.0
    # An oversight role (the college leader) hears of the first alert at once and of those
    # after it within this window in one message (service_layer/informed.py); 0: each alone.
    informed_window_seconds: float = Field(default=300.0, ge=0, le=3600)
    # Severe and critical alerts to one person on one human channel (SMS, e-mail, WeCom): the
    # first goes at once, those after it within this window go as one message when it ends
    # (service_layer/bursts.py; alarm fatigue); 0: each alone. At most 30 s.
    alert_burst_window_seconds: float = Field(default=20.0, ge=0, le=30)
    follow_up_lead_minutes: float = 60.0
    bundle_poll_seconds: float = 5.0
    # What only served a delivery (finished deliveries, bundled items, the unreached, expired
    # links, closed cases) ends this long after it finished (PIPL Art. 19; docs/retention.md:
    # one academic year, for complaints and incident reviews). Deleted this many rows per
    # table per statement, hourly.
    delivery_retention_days: int = Field(default=365, ge=30)
    # A student's family contacts end this long after the directory said the student left
    # (docs/retention.md: a term's grace for a roster mistake or a suspension of study).
    family_contacts_after_leaving_days: int = Field(default=180, ge=30)
    # Family contacts imported under a 学号 casework's directory never names (a mistyped
    # number) end this long after their import, once the campus's directory has been heard
    # (the import's warning says so; never while the student has a case here).
    family_contacts_unnamed_days: int = Field(default=30, ge=7)
    # A staff member's contact addresses end this long after casework's staff roster stopped
    # listing them (docs/retention.md: the grace for a roster mistake corrected by the next
    # import; listed again before, they keep them). People never on the roster are untouched.
    staff_contacts_after_leaving_days: int = Field(default=30, ge=7)
    retention_batch: int = Field(default=500, ge=1, le=10_000)

    max_upload_bytes: int = 10 * 1024 * 1024

    @model_validator(mode="after")
    def _no_local_link_key_outside_local(self) -> NotifySettings:
        if self.env not in ("local", "test") and LOCAL_LINK_KEY in self.link_key_list:
            raise ValueError("set real secrets outside local mode: NOTIFY_LINK_KEYS")
        return self

    @model_validator(mode="after")
    def _links_over_https_outside_local(self) -> NotifySettings:
        # A message's link confirms its alert without a sign-in: over plain http, anyone on
        # the way reads its code and confirms in the recipient's name. The app's origin is
        # where the reader signs in next.
        if self.env in ("local", "test"):
            return self
        for name, url in (
            ("NOTIFY_PUBLIC_BASE_URL", self.public_base_url),
            ("NOTIFY_SMS_LINK_BASE_URL", self.sms_link_base_url),
            ("NOTIFY_APP_BASE_URL", self.app_base_url),
        ):
            if url and not url.lower().startswith("https://"):
                raise ValueError(f"{name} must be https outside local mode")
        return self

    @property
    def link_key_list(self) -> list[str]:
        return [k.strip() for k in self.link_keys.get_secret_value().split(",") if k.strip()]
