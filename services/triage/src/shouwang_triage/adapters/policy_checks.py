"""What the loader refuses whatever a policy file or campus override says.

A campus may tune its ladder, but never so that a student (tiers 1-3) owns or hears of an
alert, a graver grade waits longer than a milder one, a severe or critical alert goes quiet
at the top of the ladder (a critical one re-alerts at least every 15 minutes), a critical
alert waits more than 15 minutes for anyone, stops naming campus security and emergency
services or reaching the on-duty contact at once, a severe or critical alert is kept from
any of tiers 4-6 or the college leader, a recently closed case or corroboration stops raising new grades, or its window forgets a
peer's report sooner than the screening answer it equals. Each refusal names the file, where in it, and the rule it breaks.
"""

from __future__ import annotations

from datetime import timedelta

from shouwang_contracts.vocabulary import ExternalParty, Role

from ..domain.levels import Level
from ..domain.policy import CampusSettings, GradingPolicy, RuleEffects

# Roles that may own or hear of an alert: staff of tiers 4-6 and the college leader. Students
# report and see their own receipts; admins and auditors read no case content (DESIGN §1).
CARE_ROLES = frozenset(
    {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    }
)
_GRAVEST_FIRST = (Level.CRITICAL, Level.SEVERE, Level.MODERATE, Level.MILD)
# DESIGN: past the top rung a critical alert re-alerts every 15 minutes; a campus may shorten
# it, never lengthen it. The closed-case memory lasts at least the 3 highest-risk months.
CRITICAL_REALERT = timedelta(minutes=15)
# DESIGN: critical -> "at once, within 15 min"; the policy prices it as a call within 15 minutes.
CRITICAL_DEADLINE = timedelta(minutes=15)
HISTORY_FLOOR = timedelta(days=90)
# Who hears of a critical alert at once besides staff (DESIGN: "critical → ... campus security
# at once"; the policy names emergency services, 110/120, from the first alert).
CRITICAL_EXTERNAL = frozenset({ExternalParty.CAMPUS_SECURITY, ExternalParty.EMERGENCY_SERVICES})
# A peer's report counts for the window. The policy grades self_harm_talk "as PHQ-9 item 9 = 1
# and C-SSRS Q1/Q2", answers it holds for 2 weeks and for the past month (their look-backs):
# the report must count at least as long as the longer of them (tests/unit/test_policy_file.py
# checks this against the bundled look-backs).
WINDOW_FLOOR = timedelta(days=30)


class PolicyRefused(ValueError):
    """A policy or campus override triage will not run: which file, where, which rule."""

    def __init__(self, source: str, where: str, rule: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem} [rule {rule}]")
        self.source = source
        self.where = where
        self.rule = rule


def shown(duration: timedelta) -> str:
    """A duration as the policy file writes it: `15m`, `2h`, `3d`, `1h30m`, `5s`."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def check_policy(policy: GradingPolicy, source: str) -> None:
    """Follow-up tasks go to staff; the defaults hold every campus rule."""
    for effects in _effects(policy):
        task = effects.task
        if task is not None and Role(task.role) not in CARE_ROLES:
            raise PolicyRefused(
                source,
                f"tasks.{task.task}.role",
                "alerts.staff_only",
                f"{task.role} ({Role(task.role).label('en')}) may not be given a follow-up task: "
                "only staff of tiers 4-6 or the college leader act on alerts",
            )
    _critical_is_news(policy, source)
    check_campus(policy, policy.defaults, source, "defaults")


def _critical_is_news(policy: GradingPolicy, source: str) -> None:
    """A critical rule can only fire on a red flag that raises an alert when it arrives, even
    while an acknowledged alert covers the student: a new attempt is never held back."""
    flags = policy.realerts
    for rule in policy.signal_rules:
        if rule.severity is Level.CRITICAL and flags.red_flag_signals.isdisjoint(rule.all_of):
            raise PolicyRefused(
                source,
                f"signal_rules.{rule.id}",
                "realerts.critical_is_news",
                f"a critical rule must need one of realerts.red_flags.signals in all_of, so that "
                f"the report completing it always raises an alert; it needs {list(rule.all_of)}",
            )
    for screening in policy.screening_rules:
        if screening.severity is Level.CRITICAL and screening.id not in flags.red_flag_rules:
            raise PolicyRefused(
                source,
                f"screening_rules.{screening.id}",
                "realerts.critical_is_news",
                "a critical screening rule must be listed in realerts.red_flags.screening_rules, "
                "so that a sheet answering it always raises an alert",
            )


def check_campus(policy: GradingPolicy, campus: CampusSettings, source: str, where: str) -> None:
    """Refuse a campus's settings that break a safety rule."""
    _staff_only(campus, source, where)
    _ordered(campus, source, where)
    _never_quiet(campus, source, where)
    _critical_reaches_out(campus, source, where)
    _everyone_hears(campus, source, where)
    _window_parity(campus, source, where)
    _history_kept(campus, source, where)
    _history_reads_suicidality(policy, campus, source, where)
    _corroboration_kept(campus, source, where)
    rules: list[tuple[str, Level, RuleEffects]] = [
        (r.id, r.severity, r.effects) for r in policy.signal_rules
    ]
    rules += [(r.id, r.severity, r.effects) for r in policy.screening_rules]
    _rule_deadlines(campus, rules, source, where)


def _effects(policy: GradingPolicy) -> list[RuleEffects]:
    return [r.effects for r in policy.signal_rules] + [r.effects for r in policy.screening_rules]


def _staff_only(campus: CampusSettings, source: str, where: str) -> None:
    ladder = campus.ladder
    places = [(f"ladder.escalation_path[{i}]", r) for i, r in enumerate(ladder.escalation_path)]
    for level in _GRAVEST_FIRST:
        rung = ladder.rungs[level]
        places.append((f"ladder.rungs.{level.id}.owner", rung.owner))
        places += [(f"ladder.rungs.{level.id}.inform", r) for r in rung.inform]
    for place, name in places:
        role = Role(name)
        if role in CARE_ROLES:
            continue
        why = (
            "a student tier: students report and see their own receipts, they never own or "
            "hear of an alert"
            if role.is_student
            else "a role that reads no case content"
        )
        raise PolicyRefused(
            source,
            f"{where}.{place}",
            "alerts.staff_only",
            f"{name} ({role.label('en')}) is {why}; alerts go to staff of tiers 4-6 or the "
            "college leader",
        )


def _ordered(campus: CampusSettings, source: str, where: str) -> None:
    rungs = campus.ladder.rungs
    for field in ("ack_within", "escalate_within"):
        values = [getattr(rungs[level], field) for level in _GRAVEST_FIRST]
        if values != sorted(values):
            listed = ", ".join(
                f"{lv.id} {shown(v)}" for lv, v in zip(_GRAVEST_FIRST, values, strict=True)
            )
            raise PolicyRefused(
                source,
                f"{where}.ladder.rungs.*.{field}",
                "deadlines.ordered",
                f"{field} must be ordered critical ≤ severe ≤ moderate ≤ mild, so that a graver "
                f"grade never waits longer; got {listed}",
            )


def _never_quiet(campus: CampusSettings, source: str, where: str) -> None:
    rungs = campus.ladder.rungs
    for level in (Level.SEVERE, Level.CRITICAL):
        if rungs[level].realert_every is None:
            raise PolicyRefused(
                source,
                f"{where}.ladder.rungs.{level.id}.realert_every",
                "alerts.never_quiet",
                f"a {level.id} alert must keep re-alerting past the top of the ladder until "
                "someone acknowledges it; set realert_every",
            )
    critical, severe = rungs[Level.CRITICAL].realert_every, rungs[Level.SEVERE].realert_every
    if critical is not None and severe is not None and critical > severe:
        raise PolicyRefused(
            source,
            f"{where}.ladder.rungs.*.realert_every",
            "deadlines.ordered",
            f"critical re-alerts every {shown(critical)}, less often than severe "
            f"({shown(severe)}); a graver grade never waits longer",
        )
    for field in ("ack_within", "escalate_within"):
        waits = getattr(rungs[Level.CRITICAL], field)
        if waits > CRITICAL_DEADLINE:
            raise PolicyRefused(
                source,
                f"{where}.ladder.rungs.critical.{field}",
                "alerts.never_quiet",
                f"critical {field} is {shown(waits)}: a student in imminent danger is answered "
                f"within {shown(CRITICAL_DEADLINE)} or the alert climbs (DESIGN: critical at once, "
                "within 15 min); a campus may make it sooner, never later",
            )
    if critical is not None and critical > CRITICAL_REALERT:
        raise PolicyRefused(
            source,
            f"{where}.ladder.rungs.critical.realert_every",
            "alerts.never_quiet",
            f"critical re-alerts every {shown(critical)}: past the top of the ladder a critical "
            f"alert nobody acknowledged comes back at least every {shown(CRITICAL_REALERT)}, "
            "with the campus's on-duty contact (DESIGN, escalation ladder)",
        )


def _critical_reaches_out(campus: CampusSettings, source: str, where: str) -> None:
    """A critical alert names campus security and emergency services (110/120) and reaches the
    on-duty contact (值班) from the first alert: a student in imminent danger at 3 a.m. cannot
    wait for office hours or for the owner to think of calling them. A campus may add parties,
    never drop one or switch the on-duty call off."""
    rung = campus.ladder.rungs[Level.CRITICAL]
    missing = sorted(CRITICAL_EXTERNAL - {ExternalParty(e) for e in rung.inform_external})
    if missing:
        named = ", ".join(f"{e.value} ({e.label('en')})" for e in missing)
        raise PolicyRefused(
            source,
            f"{where}.ladder.rungs.critical.inform_external",
            "critical.reaches_out",
            f"a critical alert must name {named} from the first alert: a student in imminent "
            "danger needs campus security and emergency services (110/120) at once (DESIGN, "
            "escalation ladder)",
        )
    if not rung.on_duty_at_raise:
        raise PolicyRefused(
            source,
            f"{where}.ladder.rungs.critical.on_duty_at_raise",
            "critical.reaches_out",
            "a critical alert must reach the campus's on-duty contact (值班) when it is raised, "
            "not only past the top of the ladder: a crisis at night cannot wait for office hours",
        )


def _everyone_hears(campus: CampusSettings, source: str, where: str) -> None:
    """A severe or critical alert is heard at once by tiers 4-6 and the college leader (DESIGN:
    severe -> tier 6 with tiers 4-5 and the college leader informed; critical -> tiers 4-6 and
    the college leader): the owner or `inform` of the rung must name each. A campus may choose
    the owner, not leave one of them unaware."""
    for level in (Level.SEVERE, Level.CRITICAL):
        rung = campus.ladder.rungs[level]
        missing = sorted(CARE_ROLES - {Role(rung.owner), *(Role(r) for r in rung.inform)})
        if missing:
            named = ", ".join(f"{r.value} ({r.label('en')})" for r in missing)
            raise PolicyRefused(
                source,
                f"{where}.ladder.rungs.{level.id}.inform",
                "alerts.everyone_hears",
                f"a {level.id} alert must reach {named} at once: tiers 4-6 and the college "
                "leader hear of every severe or critical alert (DESIGN, escalation ladder)",
            )


def _window_parity(campus: CampusSettings, source: str, where: str) -> None:
    """A peer's report and the screening answer it is graded as grade the same (DESIGN §1): a
    report of self_harm_talk (as PHQ-9 item 9 = 1, two weeks, and C-SSRS Q1/Q2, the past
    month) must count at least as long as those answers hold. A shorter window would forget
    the report first."""
    if campus.window < WINDOW_FLOOR:
        raise PolicyRefused(
            source,
            f"{where}.window",
            "window.parity",
            f"the window is {shown(campus.window)}, shorter than {shown(WINDOW_FLOOR)}: a peer's "
            "report of talk of suicide would be forgotten before the answers it is graded as "
            "(PHQ-9 item 9, held 2 weeks; C-SSRS Q1/Q2, held a month), so the same concern "
            "would grade lower when a peer reported it; a campus may lengthen the window",
        )


def _corroboration_kept(campus: CampusSettings, source: str, where: str) -> None:
    """A campus may ask for more reporters, never switch corroboration off: independent
    reporters of one concern raise the level (DESIGN), up to severe (the model refuses more)."""
    rule = campus.corroboration
    for field, kept, problem in (
        ("raise_by", rule.raise_by >= 1, "must raise the grade by one level"),
        ("ceiling", rule.ceiling >= Level.SEVERE, "must let corroboration reach severe"),
    ):
        if not kept:
            raise PolicyRefused(
                source,
                f"{where}.corroboration.{field}",
                "corroboration.kept",
                f"{problem}: independent reporters of one concern raise the level (never to "
                "critical by accumulation alone)",
            )


def _history_kept(campus: CampusSettings, source: str, where: str) -> None:
    """A campus may lengthen the memory of closed cases, never switch it off or shorten it
    below the 3 months after a crisis that carry the highest risk (Chung et al. 2017)."""
    rule = campus.history
    problems = [
        ("raise_by", rule.raise_by >= 1, "must raise a new grade by one level"),
        ("within", rule.within >= HISTORY_FLOOR, f"must be at least {shown(HISTORY_FLOOR)}"),
        (
            "min_closed_severity",
            rule.min_closed_severity <= Level.SEVERE,
            "must count severe cases (and critical ones)",
        ),
        ("from_level", rule.from_level <= Level.MILD, "must raise grades from mild up"),
        ("ceiling", rule.ceiling is Level.CRITICAL, "must let a raised grade reach critical"),
        (
            "suicidality.within",
            rule.suicidality_within >= HISTORY_FLOOR,
            f"must be at least {shown(HISTORY_FLOOR)}",
        ),
        ("suicidality.level", rule.suicidality_level is Level.CRITICAL, "must be critical"),
    ]
    for field, kept, problem in problems:
        if not kept:
            raise PolicyRefused(
                source,
                f"{where}.history.{field}",
                "history.kept",
                f"{problem}: a recently closed severe or critical case raises new grades, and "
                "the 3 months after a crisis carry the highest risk (Chung et al. JAMA "
                "Psychiatry 2017;74(7):694-702)",
            )


def _history_reads_suicidality(
    policy: GradingPolicy, campus: CampusSettings, source: str, where: str
) -> None:
    """The closed-crisis rule reads self-harm and suicide signals (a family that includes the
    screenings' suicide items): pointed at another family it would make sleep trouble after a
    crisis critical and a new suicide signal not."""
    name = campus.history.suicidality_family
    family = policy.families.get(name)
    if family is None or not family.includes_suicide_items:
        raise PolicyRefused(
            source,
            f"{where}.history.suicidality.family",
            "history.kept",
            f"{name} is not a family of self-harm and suicide signals (one that includes the "
            "screenings' suicide items): a recently closed critical case with any suicidality "
            "now is critical (Chung et al. JAMA Psychiatry 2017;74(7):694-702)",
        )


def _rule_deadlines(
    campus: CampusSettings,
    rules: list[tuple[str, Level, RuleEffects]],
    source: str,
    where: str,
) -> None:
    """A rule may shorten its rung's deadline, never below the next graver rung's: a missing
    student's moderate alert must not be answered before a severe one. (A rule asking more
    than its rung gives changes nothing: the shorter of the two applies.)"""
    rungs = campus.ladder.rungs
    for rule_id, level, effects in rules:
        asked = effects.ack_within
        if asked is None or level >= Level.CRITICAL or level not in rungs:
            continue
        graver = Level(level + 1)
        floor = rungs[graver].ack_within
        if asked < floor and asked < rungs[level].ack_within:
            raise PolicyRefused(
                source,
                f"{where}.ladder vs rule {rule_id}",
                "deadlines.ordered",
                f"asks {shown(asked)} for a {level.id} alert, sooner than the {graver.id} "
                f"rung's {shown(floor)}: a graver grade would wait longer",
            )
