"""Turning an authenticated submission into an acknowledged Kafka event and a receipt.

The promise intake makes: a `202` means Kafka acknowledged the event (acks=all). With an
`Idempotency-Key`, the event id derives from the key, so a retry after any failure publishes
the same id again and consumers drop the repeat.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shouwang_contracts.auth import Principal
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.events.intake import ReportSubmitted, ScreeningSubmitted
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.trace import current_traceparent
from shouwang_contracts.vocabulary import ReportChannel, Role

from .. import metrics
from ..adapters.publisher import EventPublisher, KafkaUnavailable
from ..adapters.store import IntakeStore
from .commands import ReportIn, ScreeningIn

logger = logging.getLogger(__name__)

SOURCE = "/shouwang/intake"
_ID_NAMESPACE = uuid.UUID("5b0c2b1e-2f0e-4d8a-9a51-8f6f1c1e7a11")
# Reports may describe something seen a little "later" than our clock: phones drift.
CLOCK_SKEW = timedelta(minutes=5)


class SubmissionRefused(Exception):
    """A submission the client must change: becomes a 4xx problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        field: str | None = None,
        *,
        detail_en: str | None = None,
    ) -> None:
        super().__init__(detail_en or detail)
        self.status = status
        self.code = code
        self.detail = detail  # zh-CN
        self.detail_en = detail_en
        self.field = field


def channel_not_for_role(channel: ReportChannel, role: Role) -> SubmissionRefused:
    """A report saying it was learned of in a way its reporter's role cannot have learned of
    it (`ReportChannel.reportable_by`: a family calls staff, not a dorm-room leader; only
    counselors hold counseling sessions). Refused, not taken as `observed`: a wrong channel
    would tell triage and the case worker a wrong story about where the warning came from."""
    return SubmissionRefused(
        422,
        "channel_not_for_role",
        f"{role.label('zh-CN')}不能以“{channel.label('zh-CN')}”（{channel.value}）为获知途径上报，"
        "请选择实际获知情况的途径",
        "channel",
        detail_en=f"A {role.label('en').lower()} cannot report by the channel"
        f" '{channel.value}' ({channel.label('en')}); choose how you actually learned of it",
    )


@dataclass(frozen=True, slots=True)
class Submitted:
    """The answer for an accepted submission (also what a key replays)."""

    id: str
    received_at: datetime
    replayed: bool = False

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "status": "received", "received_at": self.received_at.isoformat()}


@dataclass(frozen=True, slots=True)
class Submissions:
    """The use cases behind POST /v1/reports and POST /v1/screenings."""

    store: IntakeStore
    publisher: EventPublisher
    pseudonymizer: Pseudonymizer
    cipher: NoteCipher
    zone: Any  # ZoneInfo of the campus, for times given without an offset

    async def submit_report(
        self, principal: Principal, report: ReportIn, idempotency_key: str | None
    ) -> Submitted:
        observed_at = self._aware(report.observed_at)
        now = datetime.now(UTC)
        if observed_at > now + CLOCK_SKEW:
            raise SubmissionRefused(
                422,
                "observed_in_future",
                "observed_at 不能晚于当前时间",
                "observed_at",
                detail_en="observed_at must not be in the future",
            )
        student_ref = self.pseudonymizer.student_ref(report.campus_id, report.student_no)
        channel = self.channel_of(principal, report, student_ref)
        if not channel.reportable_by(principal.role):
            raise channel_not_for_role(channel, principal.role)

        def build(event_id: str, received_at: datetime, principal_ref: str) -> Envelope[Any]:
            note, location = (
                self.cipher.seal(text, campus_id=report.campus_id, student_ref=student_ref)
                if text
                else None
                for text in (report.note, report.location)
            )
            payload = ReportSubmitted(
                report_id=event_id,
                student_ref=student_ref,
                reporter_ref=principal_ref,
                reporter_role=principal.role,
                signals=report.signals,
                observed_at=observed_at,
                received_at=received_at,
                note=note,
                location_sealed=location,
                channel=channel,
            )
            return _wrap(payload, report.campus_id, student_ref, event_id, received_at)

        return await self._submit(principal, "report", report, idempotency_key, build)

    def channel_of(self, principal: Principal, report: ReportIn, student_ref: str) -> ReportChannel:
        """How the reporter learned of it: what the body says, unless a student reporter
        (tiers 1-3, whose token's `sub` is their own 学号) reports about themself. That is a
        request for help, whatever channel the body named: `self_referral`, which triage
        grades at least moderate, never an observation. Numbers are compared as the roster
        keys them, by pseudonym (full-width digits and stray spaces alike). The body is not
        changed, so an Idempotency-Key's fingerprint stays that of what was sent."""
        if principal.role.is_student and student_ref == self.pseudonymizer.student_ref(
            principal.campus_id, principal.sub
        ):
            return ReportChannel.SELF_REFERRAL
        return report.channel

    async def submit_screening(
        self, principal: Principal, screening: ScreeningIn, idempotency_key: str | None
    ) -> Submitted:
        administered_at = self._aware(screening.administered_at)
        if administered_at > datetime.now(UTC) + CLOCK_SKEW:
            raise SubmissionRefused(
                422,
                "administered_in_future",
                "administered_at 不能晚于当前时间",
                "administered_at",
                detail_en="administered_at must not be in the future",
            )

        def build(event_id: str, received_at: datetime, principal_ref: str) -> Envelope[Any]:
            student_ref = self.pseudonymizer.student_ref(screening.campus_id, screening.student_no)
            payload = ScreeningSubmitted(
                screening_id=event_id,
                student_ref=student_ref,
                submitted_by_ref=principal_ref,
                instrument=screening.instrument,
                items=screening.items,
                behavior_recency=screening.behavior_recency,
                counseling_requested=screening.counseling_requested,
                administered_at=administered_at,
            )
            return _wrap(payload, screening.campus_id, student_ref, event_id, received_at)

        return await self._submit(principal, "screening", screening, idempotency_key, build)

    async def _submit(
        self,
        principal: Principal,
        kind: str,
        body: ReportIn | ScreeningIn,
        idempotency_key: str | None,
        build: Any,
    ) -> Submitted:
        principal_ref = self.pseudonymizer.person_ref(principal.campus_id, principal.sub)
        received_at = datetime.now(UTC)
        if idempotency_key is None:
            event_id = uuid.uuid4()
        else:
            event_id = uuid.uuid5(
                _ID_NAMESPACE, f"{principal.campus_id}:{principal_ref}:{kind}:{idempotency_key}"
            )
            fingerprint = _fingerprint(kind, body)
            held = await self.store.claim_key(
                principal.campus_id, principal_ref, idempotency_key, fingerprint, event_id
            )
            if held is not None:
                if held.fingerprint != fingerprint:
                    raise SubmissionRefused(
                        409,
                        "idempotency_key_reused",
                        "该 Idempotency-Key 已用于内容不同的请求",
                        detail_en="This Idempotency-Key was already used with another body",
                    )
                if held.state == "completed" and held.response is not None:
                    return Submitted(
                        held.response["id"],
                        datetime.fromisoformat(held.response["received_at"]),
                        replayed=True,
                    )
                # Pending: an earlier attempt may or may not have reached Kafka. Publishing
                # the same event id again is safe; consumers deduplicate by it.

        event_id_text = str(event_id)
        envelope = build(event_id_text, received_at, principal_ref)
        submitted = Submitted(event_id_text, received_at)

        def receipt() -> asyncio.Future[None]:
            return self.store.record_receipt(
                report_id=event_id,
                campus_id=principal.campus_id,
                reporter_ref=principal_ref,
                kind=kind,
                received_at=received_at,
                idempotency=(idempotency_key, submitted.body()) if idempotency_key else None,
                student_ref=envelope.subject,
            )

        # Without a key, the receipt is written while Kafka acknowledges: one wait, not two.
        # A key is completed only after the ack, or a retry could replay an unsent 202.
        early_receipt = receipt() if idempotency_key is None else None
        started = time.perf_counter()
        try:
            await self.publisher.publish(envelope)
        except KafkaUnavailable:
            if idempotency_key is not None:
                await self.store.release_key(principal.campus_id, principal_ref, idempotency_key)
            if early_receipt is not None:
                await self._forget(early_receipt, event_id)
            raise
        metrics.PUBLISH_LATENCY.observe(time.perf_counter() - started)
        metrics.published(envelope.topic).inc()
        try:
            await (early_receipt if early_receipt is not None else receipt())
        except Exception:
            # Kafka has the event, which is the promise; the receipt is a convenience.
            logger.exception("receipt not stored for an acknowledged %s", kind)
        return submitted

    async def _forget(self, receipt: asyncio.Future[None], event_id: uuid.UUID) -> None:
        """The client hears 503 and never learns this id: drop its receipt (best effort)."""
        try:
            await receipt
            await self.store.forget_receipt(event_id)
        except Exception:
            logger.warning("receipt of an unacknowledged submission left behind", exc_info=True)

    def _aware(self, moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)


def _wrap(
    payload: Any, campus_id: str, student_ref: str, event_id: str, at: datetime
) -> Envelope[Any]:
    return Envelope.wrap(
        payload,
        source=SOURCE,
        campus_id=campus_id,
        subject=student_ref,
        event_id=event_id,
        time=at,
        traceparent=current_traceparent(),
    )


def _fingerprint(kind: str, body: ReportIn | ScreeningIn) -> bytes:
    """What tells a retry (same fingerprint) from another body under the same key (409).

    A report's `channel` is part of it, except `observed`, its default, which is left out: a
    key claimed before reports had a channel still matches its retry after an upgrade, and a
    body saying `observed` is the same report as one saying nothing (the same event)."""
    said = body.model_dump(mode="json")
    if said.get("channel") == ReportChannel.OBSERVED:
        del said["channel"]
    canonical = json.dumps({"kind": kind, "body": said}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).digest()
