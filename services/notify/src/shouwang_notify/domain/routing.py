"""Who hears what, and when: the routing rules for alerts, case events and families.

- `alert.raised` / `alert.escalated` go to the owner tier's person(s) responsible for the
  student and to the informed tiers; critical alerts and re-alerts also to the campus on-duty
  contact (with the external parties to call, when the alert names any).
- Severe and critical go out at once, quiet hours or not; moderate waits for the end of the
  recipient's quiet hours; mild is never pushed: it joins each owner's daily digest.
- Families only for severe and critical, only after a recorded consent or override for the
  case, never with free text; one family message per case and severity.
- Case events staff care about go to the person concerned, batched with others that arrive
  within a short window.
- An owner rung nobody holds for the student (no college leader on a college's roster) does
  not keep the alert waiting there: it goes at once to the next tier up that someone holds
  for the student, or, above the last tier, to the campus on-duty line (always staffed), and
  every message of the event says the rung is empty and who has the alert (`stand_in`).
  Triage's ladder keeps the deadlines; this only decides who is reached meanwhile.
- A role informed for oversight only (off the ladder: the college leader) hears of the first
  alert at once and of the alerts after it within a few minutes in one message (`grouped`):
  a census burst must not bury a leader under one identical notice per student.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shouwang_contracts.events.notify import RecipientKind
from shouwang_contracts.vocabulary import Role, Severity

from .contacts import ON_DUTY_REF


class Timing(StrEnum):
    """When an intent may be sent."""

    NOW = "now"  # at once, quiet hours or not
    AFTER_QUIET_HOURS = "after_quiet_hours"  # at once unless the recipient is in quiet hours
    DIGEST = "digest"  # in the owner's next daily digest, never pushed alone
    BATCH = "batch"  # with the recipient's other case notices of the next few minutes


class Template(StrEnum):
    """Message templates (files per template and language under `templates/`)."""

    ALERT = "alert"
    ALERT_INFORMED = "alert_informed"
    ON_DUTY = "on_duty"
    FAMILY = "family"
    DIGEST = "digest"
    CASE_NOTICES = "case_notices"
    ALERTS_INFORMED = "alerts_informed"  # the grouped oversight notices of a window
    ALERTS_BURST = "alerts_burst"  # a person's severe alerts after the first of a window


class ConsentState(StrEnum):
    """The latest family-contact decision recorded for a case."""

    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    DECLINED = "declined"
    OVERRIDDEN = "overridden"

    @property
    def allows_contact(self) -> bool:
        return self in (ConsentState.GIVEN, ConsentState.OVERRIDDEN)


@dataclass(frozen=True, slots=True)
class FollowUpAsk:
    """A task an alert asks of a role besides acknowledging it (e.g. a C-SSRS screen)."""

    task: str
    role: Role
    due_at: datetime


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """What notify needs of an alert event (raised or escalated)."""

    event_id: str
    event_type: str
    campus_id: str
    alert_id: str
    student_ref: str
    severity: Severity
    owner_role: Role
    inform_roles: tuple[Role, ...]
    ack_deadline: datetime
    occurred_at: datetime
    escalation_level: int = 0
    inform_external: tuple[str, ...] = ()
    attempt: int = 0  # re-alert number past the last rung (0 while climbing)
    on_duty: bool = False  # triage asks for the campus on-duty contact
    follow_ups: tuple[FollowUpAsk, ...] = ()  # what is asked besides acknowledging
    incomplete: bool = False  # graded on a partial screening sheet
    # Set by routing: nobody holds the owner role for the student, and who has the alert
    # instead (a tier's role; None with `owner_vacant`: the on-duty line).
    owner_vacant: bool = False
    stand_in: Role | None = None

    @property
    def escalated(self) -> bool:
        return self.event_type.endswith("escalated")

    @property
    def is_re_alert(self) -> bool:
        """Past the last rung the same owner is alerted again: triage numbers the attempts."""
        return self.attempt > 0


@dataclass(frozen=True, slots=True)
class Responsible:
    """A person who holds a role for the student (from the directory stream)."""

    role: Role
    person_ref: str


@dataclass(frozen=True, slots=True)
class Intent:
    """One recipient to reach about one event, before channels and contacts are resolved."""

    kind: RecipientKind
    recipient_ref: str  # person_ref, ON_DUTY_REF, or a student_ref for the family
    role: Role | None
    template: Template
    timing: Timing
    # An oversight notice: the first of a window goes at once, those after it in the window
    # together when it ends (`service_layer/informed.py`).
    grouped: bool = False


@dataclass(frozen=True, slots=True)
class FamilyGate:
    """What decides whether a student's family may hear about a case now."""

    case_id: str | None
    consent: ConsentState | None
    already_told_at: Severity | None = None  # the highest severity the family was told of

    def allows(self, severity: Severity) -> bool:
        if self.case_id is None or self.consent is None or not self.consent.allows_contact:
            return False
        if severity < Severity.SEVERE:
            return False
        return self.already_told_at is None or severity > self.already_told_at


@dataclass
class AlertRouting:
    """The intents of one alert event."""

    intents: list[Intent] = field(default_factory=list)
    family: bool = False
    unreached_roles: list[Role] = field(default_factory=list)
    owner_vacant: bool = False  # nobody holds the owner role for the student
    stand_in: Role | None = None  # the tier reached in its place (None: the on-duty line)


def stand_in_for(owner: Role, held: dict[Role, list[str]]) -> Role | None:
    """The next tier up from `owner` that someone holds for the student, if any.

    DESIGN §1 escalates "level by level until a qualified person owns" an alert, and the
    bundled policy's ladder (教思政厅函〔2021〕10号: counselors, the counseling center and
    college leadership act) climbs the tiers in order; an empty rung is skipped rather than
    waited at. An owner off the ladder (the college leader, the last rung) has no tier
    above it: the on-duty line stands in (None)."""
    tier = owner.tier
    if tier is None:
        return None
    above = sorted(
        (r for r in held if r.tier is not None and r.tier > tier and held[r]),
        key=lambda r: r.tier or 0,
    )
    return above[0] if above else None


def route_alert(
    notice: AlertNotice, responsible: list[Responsible], family: FamilyGate
) -> AlertRouting:
    """The recipients of an alert event and when each may be reached."""
    routing = AlertRouting()
    by_role: dict[Role, list[str]] = {}
    for person in responsible:
        by_role.setdefault(person.role, []).append(person.person_ref)
    seen: set[str] = set()

    def add(
        person_ref: str, role: Role, template: Template, timing: Timing, grouped: bool = False
    ) -> None:
        if person_ref in seen:
            return
        seen.add(person_ref)
        routing.intents.append(
            Intent(RecipientKind.STAFF, person_ref, role, template, timing, grouped)
        )

    def owners(template: Template, timing: Timing) -> None:
        """The owner role's holders, or in an empty rung's place the next tier's."""
        for person_ref in by_role.get(notice.owner_role, []):
            add(person_ref, notice.owner_role, template, timing)
        if by_role.get(notice.owner_role):
            return
        routing.unreached_roles.append(notice.owner_role)
        routing.owner_vacant = True
        stand_in = routing.stand_in = stand_in_for(notice.owner_role, by_role)
        if stand_in is None:
            return
        for person_ref in by_role[stand_in]:
            add(person_ref, stand_in, template, timing)

    if notice.severity <= Severity.NONE:
        return routing
    if notice.severity is Severity.MILD:
        # Mild is never pushed (不过度干涉): the owners read it in their daily digest; with
        # nobody on the owner's rung, the next tier's do (never the on-duty line).
        owners(Template.DIGEST, Timing.DIGEST)
        return routing
    timing = Timing.NOW if notice.severity >= Severity.SEVERE else Timing.AFTER_QUIET_HOURS
    owners(Template.ALERT, timing)
    for role in notice.inform_roles:
        if role is notice.owner_role:
            continue
        # Alert fatigue: repeated, non-actionable alerts are read less and acted on less
        # (Ancker et al. 2017, BMC Med Inform Decis Mak 17:36; The Joint Commission, Sentinel
        # Event Alert 50, 2013). A tier informed may still act (the residence counselor goes
        # to the dorm): each of its notices goes alone. A role off the ladder oversees.
        for person_ref in by_role.get(role, []):
            add(person_ref, role, Template.ALERT_INFORMED, timing, grouped=role.tier is None)
    if notice.severity is Severity.CRITICAL or notice.is_re_alert or notice.on_duty:
        routing.intents.append(
            Intent(RecipientKind.ON_DUTY, ON_DUTY_REF, None, Template.ON_DUTY, Timing.NOW)
        )
    elif routing.owner_vacant and routing.stand_in is None:
        # The on-duty line has the alert in the empty rung's place, as soon as its grade
        # allows (a moderate one waits out quiet hours as an owner's would).
        routing.intents.append(
            Intent(RecipientKind.ON_DUTY, ON_DUTY_REF, None, Template.ON_DUTY, timing)
        )
    if not notice.escalated and family.allows(notice.severity):
        routing.family = True
        routing.intents.append(
            Intent(RecipientKind.FAMILY, notice.student_ref, None, Template.FAMILY, Timing.NOW)
        )
    return routing


def family_intent_on_consent(
    student_ref: str, case_severity: Severity | None, family: FamilyGate
) -> Intent | None:
    """A consent or override recorded while the case is severe or critical reaches the family
    at once (the alert that made it severe may have come before the consent)."""
    if case_severity is None or not family.allows(case_severity):
        return None
    return Intent(RecipientKind.FAMILY, student_ref, None, Template.FAMILY, Timing.NOW)


class CaseNoticeKind(StrEnum):
    """Case events a staff member is told about."""

    ASSIGNED = "assigned"  # a case was assigned to you
    REFERRAL_ANSWERED = "referral_answered"  # the referral of your case was answered
    FOLLOW_UP_DUE = "follow_up_due"  # a follow-up task of yours falls due
    BREAK_GLASS = "break_glass"  # someone outside a student's scope opened the file: review it
    UNOWNED = "unowned"  # a case's owner left the roster and nobody took it over: take it up


@dataclass(frozen=True, slots=True)
class CaseNotice:
    """One case event for one person; notices of the same person are sent together."""

    kind: CaseNoticeKind
    person_ref: str
    role: Role
    case_id: str | None
    student_ref: str
    severity: Severity | None
    due_at: datetime | None = None
