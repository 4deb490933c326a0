"""A student reporter who reports about themself is asking for help: the report is published
as `self_referral` whatever channel its body named (triage grades a self-referral at least
moderate), and an Idempotency-Key still tells a retry of it from another body."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from shouwang_contracts.auth import Principal
from shouwang_contracts.crypto import NoteCipher
from shouwang_contracts.envelope import Envelope
from shouwang_contracts.pseudonym import Pseudonymizer
from shouwang_contracts.vocabulary import ReportChannel, Role
from shouwang_intake.adapters.publisher import EventPublisher
from shouwang_intake.adapters.store import IdempotencyRecord, IntakeStore
from shouwang_intake.service_layer.commands import ReportIn
from shouwang_intake.service_layer.submissions import SubmissionRefused, Submissions

OWN_NO = "2024020001"


class _Store:
    """Idempotency keys and receipts in memory: what `Submissions` asks of `IntakeStore`."""

    def __init__(self) -> None:
        self.keys: dict[str, IdempotencyRecord] = {}

    async def claim_key(
        self, campus_id: str, principal_ref: str, key: str, fingerprint: bytes, rid: uuid.UUID
    ) -> IdempotencyRecord | None:
        held = self.keys.get(key)
        if held is None:
            self.keys[key] = IdempotencyRecord(fingerprint, rid, "pending", None)
        return held

    async def record_receipt(self, **receipt: Any) -> None:
        key_and_answer = receipt["idempotency"]
        if key_and_answer is not None:
            key, answer = key_and_answer
            held = self.keys[key]
            self.keys[key] = IdempotencyRecord(
                held.fingerprint, held.resource_id, "completed", answer
            )

    async def release_key(self, *args: Any) -> None:
        raise AssertionError("nothing fails to publish here")


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[Envelope[Any]] = []

    async def publish(self, envelope: Envelope[Any]) -> None:
        self.sent.append(envelope)


@pytest.fixture
def publisher() -> _Publisher:
    return _Publisher()


@pytest.fixture
def submissions(publisher: _Publisher) -> Submissions:
    return Submissions(
        store=cast(IntakeStore, _Store()),
        publisher=cast(EventPublisher, publisher),
        pseudonymizer=Pseudonymizer(b"k" * 32),
        cipher=NoteCipher({"k1": b"n" * 32}, "k1"),
        zone=ZoneInfo("Asia/Shanghai"),
    )


def _report(**changes: object) -> ReportIn:
    body: dict[str, object] = {
        "campus_id": "demo",
        "student_no": OWN_NO,
        "signals": ["persistent_low_mood"],
        "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "note": "这几周每天都睡不着，不想见人",
    }
    body.update(changes)
    return ReportIn.model_validate(body)


def _student(role: Role = Role.DORM_LEADER, sub: str = OWN_NO) -> Principal:
    return Principal(sub=sub, role=role, campus_id="demo")


@pytest.mark.parametrize("role", [r for r in Role if r.is_student])
@pytest.mark.parametrize("said", [None, *ReportChannel])
async def test_a_student_reporting_about_themself_is_published_as_a_self_referral(
    submissions: Submissions, publisher: _Publisher, role: Role, said: ReportChannel | None
) -> None:
    """Whatever the body named (nothing, observed, or even a channel their role could not
    have used, such as family_call): it is their own request for help, not refused."""
    body = _report() if said is None else _report(channel=said.value)
    await submissions.submit_report(_student(role), body, None)
    [envelope] = publisher.sent
    assert envelope.data.channel is ReportChannel.SELF_REFERRAL
    assert envelope.data.reporter_role is role


@pytest.mark.parametrize(
    ("typed", "sub"), [(f" {OWN_NO} ", OWN_NO), (OWN_NO, "２０２４０２０００１")]
)
async def test_their_number_is_recognised_as_the_roster_keys_it(
    submissions: Submissions, publisher: _Publisher, typed: str, sub: str
) -> None:
    """Compared as the roster keys students (by pseudonym: NFKC, stray spaces dropped), so
    a token's full-width 学号 or a padded one typed on a phone still name the same student."""
    await submissions.submit_report(_student(sub=sub), _report(student_no=typed), None)
    assert publisher.sent[0].data.channel is ReportChannel.SELF_REFERRAL


async def test_a_report_about_another_student_keeps_its_channel_and_its_checks(
    submissions: Submissions, publisher: _Publisher
) -> None:
    await submissions.submit_report(_student(), _report(student_no="2024020002"), None)
    assert publisher.sent[0].data.channel is ReportChannel.OBSERVED
    with pytest.raises(SubmissionRefused) as refused:
        await submissions.submit_report(
            _student(), _report(student_no="2024020002", channel="family_call"), None
        )
    assert refused.value.code == "channel_not_for_role"


async def test_staff_whose_id_matches_a_student_number_keep_their_channel(
    submissions: Submissions, publisher: _Publisher
) -> None:
    """A staff token's `sub` is a staff id, not a 学号: equal text means nothing there."""
    staff = _student(Role.RESIDENCE_COUNSELOR)
    await submissions.submit_report(staff, _report(channel="family_call"), None)
    assert publisher.sent[0].data.channel is ReportChannel.FAMILY_CALL


async def test_a_retried_self_referral_replays_under_its_key(
    submissions: Submissions, publisher: _Publisher
) -> None:
    """The fingerprint is of the body sent, so its retry replays the first answer, and
    another body under the same key is still 409."""
    body = _report()
    first = await submissions.submit_report(_student(), body, "self-help-key-1")
    again = await submissions.submit_report(_student(), body, "self-help-key-1")
    assert (again.id, again.replayed) == (first.id, True)
    assert len(publisher.sent) == 1
    assert publisher.sent[0].data.channel is ReportChannel.SELF_REFERRAL
    with pytest.raises(SubmissionRefused) as refused:
        await submissions.submit_report(
            _student(), _report(signals=["social_withdrawal"]), "self-help-key-1"
        )
    assert refused.value.status == 409
