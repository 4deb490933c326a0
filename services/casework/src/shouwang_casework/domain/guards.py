"""Who may do what to a case, and the refusals the loop's rules give.

Pure domain code. Scope is resolved outside (roster and token) and arrives as `Actor.in_scope`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shouwang_contracts.vocabulary import Role, Tier


class CaseRuleViolation(Exception):
    """A rule of the loop refused a change. `code` is stable; `field` names what is missing.

    `detail` is English. The zh-CN wording is looked up by `code` at the HTTP edge
    (entrypoints.http_messages); `detail_zh` replaces it when the refusal names something
    the fixed wording cannot, such as a role or a version. A refusal naming a field says
    what is wrong with that field in `field_message` (English; zh-CN by code at the edge, or
    `field_message_zh`), not the detail again.
    """

    status = 409

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        detail_zh: str | None = None,
        field_message: str | None = None,
        field_message_zh: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
        self.detail_zh = detail_zh
        self.field_message = field_message
        self.field_message_zh = field_message_zh


#: The field message of a refusal whose field is empty or left out.
MISSING = "missing"
#: The field message of a finding given to a follow-up not closed as completed.
FINDING_NEEDS_COMPLETION = "only with close_as completed"


class NotPermitted(CaseRuleViolation):
    """The actor's role, tier or scope does not allow this."""

    status = 403


class MissingRecord(CaseRuleViolation):
    """The change needs something recorded first (an outcome, a reason, a consent...)."""

    status = 422


class InvalidTransition(CaseRuleViolation):
    """The loop has no such step from the case's current state."""

    status = 409


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a pseudonymous person, their role, and whether the student is in their scope."""

    ref: str
    role: Role
    in_scope: bool

    @property
    def tier(self) -> int:
        """The ladder tier, 0 for roles off the ladder."""
        tier = self.role.tier
        return int(tier) if tier is not None else 0


#: Roles that read no case content at all, whatever their scope: students (tiers 1-3),
#: campus admins (rosters and contacts), auditors (the audit log), platform admins (figures).
NO_CASE_ACCESS = frozenset({Role.CAMPUS_ADMIN, Role.AUDITOR, Role.PLATFORM_ADMIN})


class Reading(StrEnum):
    """How much of a case a reader sees (the need-to-know line, casework's README).

    `full`: structured facts and free text (notes, history text, plan texts, reasons,
    referral destinations, report notes and locations); `facts`: structured facts only.
    """

    FULL = "full"
    FACTS = "facts"


def may_read_cases(actor: Actor) -> bool:
    """Staff of tier 4+ and college leaders read cases in their scope.

    Students (tiers 1-3) never see case data; campus admins manage rosters and contacts,
    auditors read the audit log and platform admins aggregated figures, none of them cases.
    """
    if actor.role.is_student or actor.role in NO_CASE_ACCESS:
        return False
    return actor.in_scope


def reading_of(actor: Actor, *, owner: bool, break_glass: bool) -> Reading | None:
    """What `actor` may read of a case: free text is need-to-know (tier 4+ in scope, the
    case's owner, tier 6); college leaders see structured facts of their college; None for
    nothing at all."""
    if actor.role.is_student or actor.role in NO_CASE_ACCESS:
        return None
    if owner or actor.role is Role.COUNSELING_CENTER:
        return Reading.FULL
    if actor.tier >= Tier.RESIDENCE_COUNSELOR and (actor.in_scope or break_glass):
        return Reading.FULL
    if actor.role is Role.COLLEGE_LEADER and actor.in_scope:
        return Reading.FACTS
    return None


def may_work_cases(actor: Actor) -> bool:
    """Tier 4+ in scope may move a case, write notes, set follow-ups and the plan."""
    return actor.tier >= Tier.RESIDENCE_COUNSELOR and actor.in_scope


def may_acknowledge(actor: Actor, owner_role: Role) -> bool:
    """Tier 4+ in scope, at or above the tier that may stop what `owner_role` owns
    (`Role.acknowledged_from`: the counseling center for an alert past the ladder), may
    acknowledge an alert: the acknowledgement route and the "awaiting me" list both ask this."""
    return may_work_cases(actor) and actor.tier >= owner_role.acknowledged_from


def roles_acknowledged_by(role: Role) -> list[Role]:
    """The owner roles whose alerts `role` may acknowledge for a student in scope:
    `may_acknowledge` asked of every role, so the list cannot drift from the route."""
    actor = Actor("", role, in_scope=True)
    return [owner for owner in Role if may_acknowledge(actor, owner)]


def roles_awaiting(role: Role) -> list[Role]:
    """The owner roles whose alerts wait for `role`: those it may acknowledge and no lower
    tier may (`Role.acknowledged_from` is its own tier). A counselor's alert is the
    counselor's to confirm until it climbs; the teacher and the center could stop it too, but
    it is not waiting for them, and listing it would bury what is (every mild alert of the
    campus on the center's list). Past the center, the college leader's alerts wait for it."""
    tier = role.tier
    return [owner for owner in roles_acknowledged_by(role) if owner.acknowledged_from == tier]


def roles_stood_in_for(role: Role) -> list[Role]:
    """The ladder roles below `role`, lowest tier first, whose alerts wait for `role` when
    their rung is empty for the student: nobody holds the owner role nor any tier between,
    and someone holds `role` (notify's `stand_in_for`: the next tier up that someone holds is
    alerted in the empty rung's place, so the alert waits for that tier). Drawn from
    `may_acknowledge` like `roles_awaiting`, so the stand-in can always confirm what it lists;
    none for a role off the ladder (above the last tier the on-duty line stands in)."""
    tier = role.tier
    if tier is None:
        return []
    below = [o for o in roles_acknowledged_by(role) if o.tier is not None and o.tier < tier]
    return sorted(below, key=lambda o: o.tier or 0)


def may_assign(actor: Actor) -> bool:
    """Tier 5+ in scope hand a case to someone else (campus admins read no case content, so
    they do not pick owners for cases they cannot see)."""
    return actor.tier >= Tier.COMMUNITY_PSYCH_TEACHER and actor.in_scope


def require(permitted: bool, code: str, detail: str) -> None:
    """Raise `NotPermitted` unless `permitted`."""
    if not permitted:
        raise NotPermitted(code, detail)


class ConsentDecision(StrEnum):
    """A recorded consent: given, declined, or overridden by an authorised role with a reason."""

    GIVEN = "given"
    DECLINED = "declined"
    OVERRIDDEN = "overridden"
