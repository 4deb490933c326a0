"""How the reporter learned of it (`channel`): who may say which, what a wrong one is told,
and how it counts in telling a retry from another report under the same Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError
from shouwang_contracts.i18n import validation_message
from shouwang_contracts.vocabulary import ReportChannel, Role
from shouwang_intake.entrypoints.http import REPORTERS
from shouwang_intake.service_layer.commands import ReportIn
from shouwang_intake.service_layer.submissions import (
    _fingerprint,
    channel_not_for_role,
)

REPORT: dict[str, Any] = {
    "campus_id": "demo",
    "student_no": "2024020001",
    "signals": ["persistent_low_mood"],
    "observed_at": "2026-11-28T21:00:00+08:00",
    "note": None,
    "location": None,
}


def test_a_report_without_a_channel_was_observed() -> None:
    assert ReportIn.model_validate(REPORT).channel is ReportChannel.OBSERVED
    said = ReportIn.model_validate({**REPORT, "channel": "self_referral"})
    assert said.channel is ReportChannel.SELF_REFERRAL


def test_an_unknown_channel_is_named_and_its_choices_listed_in_chinese() -> None:
    with pytest.raises(ValidationError) as caught:
        ReportIn.model_validate({**REPORT, "channel": "rumour"})
    [error] = caught.value.errors()
    assert error["loc"] == ("channel",)
    assert error["type"] == "enum"
    message = validation_message(error)
    assert message.startswith("应为以下取值之一：")
    assert " or " not in message  # the choices are joined the Chinese way
    assert all(channel.value in message for channel in ReportChannel)


@pytest.mark.parametrize(
    ("role", "refused"),
    [
        (Role.DORM_LEADER, {ReportChannel.FAMILY_CALL, ReportChannel.COUNSELING_SESSION}),
        (Role.FLOOR_LEADER, {ReportChannel.FAMILY_CALL, ReportChannel.COUNSELING_SESSION}),
        (
            Role.CLASS_WELLBEING_OFFICER,
            {ReportChannel.FAMILY_CALL, ReportChannel.COUNSELING_SESSION},
        ),
        (Role.RESIDENCE_COUNSELOR, {ReportChannel.COUNSELING_SESSION}),
        (Role.COLLEGE_LEADER, {ReportChannel.COUNSELING_SESSION}),
        (Role.COMMUNITY_PSYCH_TEACHER, set()),
        (Role.COUNSELING_CENTER, set()),
    ],
)
def test_each_reporter_may_say_only_the_channels_their_role_can_learn_by(
    role: Role, refused: set[ReportChannel]
) -> None:
    """The table intake enforces, written out: every reporter may have seen it or been asked
    for help; families call staff; counseling sessions are held by tiers 5 and 6."""
    assert {c for c in ReportChannel if not c.reportable_by(role)} == refused


def test_every_reporting_role_is_in_the_table_above() -> None:
    assert set(REPORTERS) == {
        Role.DORM_LEADER,
        Role.FLOOR_LEADER,
        Role.CLASS_WELLBEING_OFFICER,
        Role.RESIDENCE_COUNSELOR,
        Role.COLLEGE_LEADER,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
    }


def test_a_wrong_channel_is_refused_by_name_in_either_language() -> None:
    refusal = channel_not_for_role(ReportChannel.FAMILY_CALL, Role.DORM_LEADER)
    assert (refusal.status, refusal.code, refusal.field) == (422, "channel_not_for_role", "channel")
    assert refusal.detail.startswith("寝室长不能以“家长来电反映”（family_call）为获知途径上报")
    assert refusal.detail_en is not None
    assert refusal.detail_en.isascii()
    assert "dorm-room leader" in refusal.detail_en
    assert "'family_call'" in refusal.detail_en


def _before_channels(body: dict[str, Any]) -> bytes:
    """The fingerprint as intake computed it before reports had a channel (keys claimed then
    live for days)."""
    canonical = json.dumps({"kind": "report", "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).digest()


def test_an_observed_report_keeps_the_fingerprint_it_had_before_channels() -> None:
    legacy = _before_channels(REPORT)
    assert _fingerprint("report", ReportIn.model_validate(REPORT)) == legacy
    said = ReportIn.model_validate({**REPORT, "channel": "observed"})
    assert _fingerprint("report", said) == legacy


def test_another_channel_is_another_body_under_the_same_key() -> None:
    fingerprints = {
        _fingerprint("report", ReportIn.model_validate({**REPORT, "channel": channel.value}))
        for channel in ReportChannel
    }
    assert len(fingerprints) == len(ReportChannel)
