"""Routing rules: who hears an alert, when, and whether a family may."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Role, Severity
from shouwang_notify.domain.contacts import ON_DUTY_REF, QuietHours
from shouwang_notify.domain.routing import (
    AlertNotice,
    ConsentState,
    FamilyGate,
    Responsible,
    Template,
    Timing,
    family_intent_on_consent,
    route_alert,
)
from shouwang_notify.domain.schedule import send_at

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
STAFF = [
    Responsible(Role.RESIDENCE_COUNSELOR, "per_counselor"),
    Responsible(Role.COMMUNITY_PSYCH_TEACHER, "per_teacher"),
    Responsible(Role.COUNSELING_CENTER, "per_center"),
    Responsible(Role.COLLEGE_LEADER, "per_leader"),
]
NO_FAMILY = FamilyGate(case_id=None, consent=None)
CONSENTED = FamilyGate(case_id="case-1", consent=ConsentState.GIVEN)


def notice(severity: Severity, **changes: object) -> AlertNotice:
    fields: dict[str, object] = {
        "event_id": "evt-1",
        "event_type": "shouwang.alert.raised",
        "campus_id": "demo",
        "alert_id": "alert-1",
        "student_ref": "stu_x",
        "severity": severity,
        "owner_role": Role.COUNSELING_CENTER,
        "inform_roles": (Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER),
        "ack_deadline": NOW + timedelta(hours=2),
        "occurred_at": NOW,
    }
    fields.update(changes)
    return AlertNotice(**fields)  # type: ignore[arg-type]


def test_severe_reaches_owner_informed_tiers_and_consenting_family_at_once() -> None:
    routing = route_alert(notice(Severity.SEVERE), STAFF, CONSENTED)
    by_ref = {i.recipient_ref: i for i in routing.intents}
    assert by_ref["per_center"].template is Template.ALERT
    assert by_ref["per_counselor"].template is Template.ALERT_INFORMED
    assert by_ref["per_teacher"].role is Role.COMMUNITY_PSYCH_TEACHER
    assert by_ref["stu_x"].kind is RecipientKind.FAMILY
    assert "per_leader" not in by_ref  # not among the informed roles of this alert
    assert ON_DUTY_REF not in by_ref  # severe, first alert: no on-duty line
    assert {i.timing for i in routing.intents} == {Timing.NOW}


def test_only_the_role_informed_for_oversight_is_grouped() -> None:
    # Graded example (policy `critical`: inform counselor, teacher, college leader): the
    # leader oversees and is told in groups; the counselor and teacher may act (the counselor
    # goes to the dorm) and hear of each alert alone, at once; the owner always alone.
    informed = (Role.RESIDENCE_COUNSELOR, Role.COMMUNITY_PSYCH_TEACHER, Role.COLLEGE_LEADER)
    routing = route_alert(notice(Severity.CRITICAL, inform_roles=informed), STAFF, NO_FAMILY)
    grouped = {i.recipient_ref for i in routing.intents if i.grouped}
    assert grouped == {"per_leader"}
    by_ref = {i.recipient_ref: i for i in routing.intents}
    assert by_ref["per_leader"].template is Template.ALERT_INFORMED
    assert by_ref["per_leader"].timing is Timing.NOW


def test_mild_is_never_pushed_only_digested_for_the_owner() -> None:
    routing = route_alert(
        notice(Severity.MILD, owner_role=Role.RESIDENCE_COUNSELOR, inform_roles=()),
        STAFF,
        CONSENTED,
    )
    assert [(i.recipient_ref, i.timing) for i in routing.intents] == [
        ("per_counselor", Timing.DIGEST)
    ]


def test_a_mild_alert_on_an_empty_rung_joins_the_next_tiers_digest_never_the_on_duty_line() -> None:
    escalated = notice(
        Severity.MILD,
        event_type="shouwang.alert.escalated",
        owner_role=Role.COMMUNITY_PSYCH_TEACHER,
        inform_roles=(Role.RESIDENCE_COUNSELOR,),
    )
    no_teacher = [p for p in STAFF if p.role is not Role.COMMUNITY_PSYCH_TEACHER]
    routing = route_alert(escalated, no_teacher, CONSENTED)
    assert [(i.recipient_ref, i.timing) for i in routing.intents] == [("per_center", Timing.DIGEST)]
    assert routing.unreached_roles == [Role.COMMUNITY_PSYCH_TEACHER]


@pytest.mark.parametrize(
    "consent",
    [None, ConsentState.DECLINED, ConsentState.WITHDRAWN],
)
def test_family_without_consent_is_never_contacted(consent: ConsentState | None) -> None:
    gate = FamilyGate(case_id="case-1", consent=consent)
    routing = route_alert(notice(Severity.CRITICAL), STAFF, gate)
    assert all(i.kind is not RecipientKind.FAMILY for i in routing.intents)


def test_override_allows_family_but_only_for_severe_and_up() -> None:
    gate = FamilyGate(case_id="case-1", consent=ConsentState.OVERRIDDEN)
    assert route_alert(notice(Severity.CRITICAL), STAFF, gate).family
    assert not route_alert(notice(Severity.MODERATE), STAFF, gate).family


def test_family_told_once_per_case_and_severity() -> None:
    told = FamilyGate(case_id="case-1", consent=ConsentState.GIVEN, already_told_at=Severity.SEVERE)
    assert not route_alert(notice(Severity.SEVERE), STAFF, told).family
    assert route_alert(notice(Severity.CRITICAL), STAFF, told).family


def test_critical_and_re_alerts_reach_the_on_duty_contact() -> None:
    assert any(
        i.recipient_ref == ON_DUTY_REF
        for i in route_alert(notice(Severity.CRITICAL), STAFF, NO_FAMILY).intents
    )
    re_alert = notice(
        Severity.SEVERE, event_type="shouwang.alert.escalated", escalation_level=3, attempt=2
    )
    intents = route_alert(re_alert, STAFF, CONSENTED).intents
    assert any(i.kind is RecipientKind.ON_DUTY for i in intents)
    assert all(i.kind is not RecipientKind.FAMILY for i in intents)  # escalations spare families


def test_moderate_waits_for_quiet_hours_to_end() -> None:
    routing = route_alert(
        notice(Severity.MODERATE, owner_role=Role.COMMUNITY_PSYCH_TEACHER, inform_roles=()),
        STAFF,
        NO_FAMILY,
    )
    (intent,) = routing.intents
    assert intent.timing is Timing.AFTER_QUIET_HOURS
    quiet = QuietHours(time(23, 0), time(7, 0))
    at = send_at(intent.timing, NOW, quiet, SHANGHAI)
    assert at.astimezone(SHANGHAI).hour == 7
    assert at - NOW == timedelta(hours=8)
    assert send_at(Timing.NOW, NOW, quiet, SHANGHAI) == NOW


def test_an_owner_nobody_holds_is_reported_unreached() -> None:
    routing = route_alert(notice(Severity.SEVERE), STAFF[:1], NO_FAMILY)
    assert routing.unreached_roles == [Role.COUNSELING_CENTER]


def test_an_empty_owner_rung_passes_the_alert_to_the_next_tier_someone_holds() -> None:
    # Graded example (bundled ladder: counselor -> teacher -> center -> college leader): a
    # moderate alert escalated to the psychology teacher of a student with no teacher on the
    # roster goes to the center in the same event, as the alert it now is (with a link).
    escalated = notice(
        Severity.MODERATE,
        event_type="shouwang.alert.escalated",
        owner_role=Role.COMMUNITY_PSYCH_TEACHER,
        inform_roles=(Role.RESIDENCE_COUNSELOR,),
    )
    no_teacher = [p for p in STAFF if p.role is not Role.COMMUNITY_PSYCH_TEACHER]
    routing = route_alert(escalated, no_teacher, NO_FAMILY)
    by_ref = {i.recipient_ref: i for i in routing.intents}
    assert (routing.owner_vacant, routing.stand_in) == (True, Role.COUNSELING_CENTER)
    assert by_ref["per_center"].template is Template.ALERT
    assert by_ref["per_center"].role is Role.COUNSELING_CENTER
    assert by_ref["per_counselor"].template is Template.ALERT_INFORMED
    assert ON_DUTY_REF not in by_ref  # someone holds a tier above: the line is not needed
    assert routing.unreached_roles == [Role.COMMUNITY_PSYCH_TEACHER]  # still on record


def test_above_the_last_rung_the_on_duty_line_stands_in_at_once() -> None:
    # Graded example (the demo's 医学院: no college leader on the roster): a severe alert the
    # center let pass climbs to the college leader, the last rung. Nobody holds it, so the
    # on-duty line has the alert at once, not after another rung's deadline.
    escalated = notice(
        Severity.SEVERE,
        event_type="shouwang.alert.escalated",
        owner_role=Role.COLLEGE_LEADER,
        inform_roles=(Role.COUNSELING_CENTER, Role.RESIDENCE_COUNSELOR),
        escalation_level=3,
    )
    routing = route_alert(escalated, STAFF[:3], NO_FAMILY)
    by_ref = {i.recipient_ref: i for i in routing.intents}
    assert (routing.owner_vacant, routing.stand_in) == (True, None)
    assert by_ref[ON_DUTY_REF].template is Template.ON_DUTY
    assert by_ref[ON_DUTY_REF].timing is Timing.NOW
    assert by_ref["per_center"].template is Template.ALERT_INFORMED
    # With a college leader on file, nothing stands in.
    staffed = route_alert(escalated, STAFF, NO_FAMILY)
    assert (staffed.owner_vacant, staffed.stand_in) == (False, None)
    assert ON_DUTY_REF not in {i.recipient_ref for i in staffed.intents}


def test_consent_recorded_on_a_severe_case_reaches_the_family() -> None:
    assert family_intent_on_consent("stu_x", Severity.SEVERE, CONSENTED) is not None
    assert family_intent_on_consent("stu_x", Severity.MODERATE, CONSENTED) is None


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_every_critical_re_alert_past_the_top_reaches_the_owner_and_the_on_duty_line_at_once(
    attempt: int,
) -> None:
    """DESIGN, escalation ladder: past the top rung a critical alert re-alerts every 15 min,
    with the campus on-duty contact, until someone acknowledges it. Each re-alert (a new
    event, triage numbering the attempt) reaches the owner and the on-duty line at once,
    quiet hours or not, whether or not triage asked for the on-duty line, and never the
    family (told once, when it was raised)."""
    re_alert = notice(
        Severity.CRITICAL,
        event_id=f"evt-re-{attempt}",
        event_type="shouwang.alert.escalated",
        owner_role=Role.COLLEGE_LEADER,
        escalation_level=3,
        attempt=attempt,
        on_duty=False,
        occurred_at=NOW + timedelta(minutes=15 * attempt),
    )
    routing = route_alert(re_alert, STAFF, CONSENTED)
    asked = {(i.kind, i.recipient_ref, i.timing) for i in routing.intents}
    assert (RecipientKind.STAFF, "per_leader", Timing.NOW) in asked
    assert (RecipientKind.ON_DUTY, ON_DUTY_REF, Timing.NOW) in asked
    assert not routing.family
    assert all(i.kind is not RecipientKind.FAMILY for i in routing.intents)


@pytest.mark.parametrize(
    "consent", [ConsentState.GIVEN, ConsentState.OVERRIDDEN], ids=["consent", "override"]
)
def test_a_mild_or_moderate_alert_never_reaches_the_family_even_with_consent(
    consent: ConsentState,
) -> None:
    """DESIGN: families hear of severe and critical cases only, never mild."""
    gate = FamilyGate(case_id="case-1", consent=consent)
    for grade in (Severity.MILD, Severity.MODERATE):
        routing = route_alert(notice(grade), STAFF, gate)
        assert not routing.family
        assert all(i.kind is not RecipientKind.FAMILY for i in routing.intents)
