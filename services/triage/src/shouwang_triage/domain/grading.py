"""The generic grading engine: apply one policy version to one student's situation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from .evidence import ReportEvidence, ScreeningEvidence, Situation
from .findings import (
    Finding,
    keep_deciding,
    screening_findings,
    signal_findings,
    tokens,
    weighted_findings,
)
from .levels import Level
from .measures import fill
from .policy import CHANNEL_TOKEN, FAMILY_TOKEN, CampusSettings, GradingPolicy, TaskSpec, Text


@dataclass(frozen=True, slots=True)
class ReasonLine:
    """One rule that contributed to a grade, with the level it alone asks for.

    `held_by` names the earlier screening sheet the reason rests on when a later sheet of
    the same instrument says less (a suicide-item answer holds for its look-back window).
    `kind` is what the reason is about (a rule's band, or the rule), `rests_on` the reports
    and sheets it rests on; None for a lift (corroboration, history) that rests on the
    situation as a whole.
    """

    rule_id: str
    level: Level
    text: Text
    held_by: str | None = None
    kind: str = ""
    rests_on: frozenset[str] | None = None

    @property
    def about(self) -> str:
        """`kind`, or the rule id when none was given."""
        return self.kind or self.rule_id


@dataclass(frozen=True, slots=True)
class Grade:
    """A graded situation: the level, the reasons (strongest first) and what it rests on.

    `ack_within` is the shortest deadline a deciding rule asks (e.g. missing contact), `tasks`
    the follow-ups the deciding rules attach, `incomplete` whether a deciding reason rests on
    a sheet with blanks or unreadable cells.
    """

    level: Level
    reasons: tuple[ReasonLine, ...]
    policy_version: str
    report_ids: tuple[str, ...]
    screening_ids: tuple[str, ...]
    ack_within: timedelta | None = None
    tasks: tuple[TaskSpec, ...] = ()
    incomplete: bool = False


def grade(
    policy: GradingPolicy, campus: CampusSettings, situation: Situation, zone: tzinfo = UTC
) -> Grade:
    """Grade a student's situation by `policy` with a campus's settings.

    Reports and screenings received within the campus window count; red flags about behaviour
    count for their own look-back, and suicide items of screenings for their instrument's
    (`policy.retention` covers both). Red flags, weighted signals and screening bands each ask
    for a level; of the rules sharing a band only the highest that fired is kept; the
    strongest wins; corroboration and history may then lift it. Deterministic: the same
    situation always gives the same grade and reasons. `zone` dates the earlier sheets that
    reasons cite.
    """
    now = situation.now
    since = now - campus.window
    kept_since = now - policy.retention
    reports = sorted(
        (r for r in situation.reports if r.received_at >= kept_since),
        key=lambda r: (r.received_at, r.report_id),
    )
    in_window = [r for r in reports if r.received_at >= since]
    sheets = [s for s in situation.screenings if s.received_at >= kept_since]

    from_sheets = screening_findings(policy, sheets, since, now, zone)
    suicidal_sheets = frozenset(
        f.screening_id for f in from_sheets if f.suicidality and f.screening_id
    )
    sheets_suicidal = bool(suicidal_sheets)
    findings = keep_deciding(
        [
            *from_sheets,
            *signal_findings(policy, reports, since, now, suicidal_sheets),
            *weighted_findings(policy, in_window),
        ]
    )
    level = max((f.level for f in findings), default=Level.NONE)
    reasons = [
        ReasonLine(f.rule_id, f.level, f.text, f.held_by, f.kind, f.rests_on) for f in findings
    ]

    lifted = _corroboration(policy, campus, in_window, level)
    if lifted is not None:
        level = lifted.level
        reasons.append(lifted)
    concerns = tokens(policy, _signals_in_play(reports, in_window, findings))
    for line in _history(policy, campus, situation, level, concerns, sheets_suicidal):
        level = line.level
        reasons.append(line)

    reasons.sort(key=lambda r: (-r.level, r.rule_id))
    rested_on = {r for f in findings for r in f.report_ids} | {r.report_id for r in in_window}
    latest = _latest_per_instrument(s for s in sheets if s.received_at >= since)
    screening_ids = {f.screening_id for f in findings if f.screening_id} | set(latest)
    deadlines = [f.effects.ack_within for f in findings if f.effects.ack_within]
    return Grade(
        level=level,
        reasons=tuple(reasons),
        policy_version=policy.version,
        report_ids=tuple(r.report_id for r in reports if r.report_id in rested_on),
        screening_ids=tuple(
            s.screening_id
            for s in sorted(sheets, key=lambda s: (s.instrument, s.administered_at, s.screening_id))
            if s.screening_id in screening_ids
        ),
        ack_within=min(deadlines, default=None),
        tasks=_tasks(findings),
        incomplete=any(f.incomplete for f in findings),
    )


def _latest_per_instrument(sheets: Iterable[ScreeningEvidence]) -> set[str]:
    latest: dict[str, tuple[datetime, str]] = {}
    for s in sheets:
        key = (s.administered_at, s.screening_id)
        if s.instrument not in latest or key > latest[s.instrument]:
            latest[s.instrument] = key
    return {screening_id for _, screening_id in latest.values()}


def _signals_in_play(
    reports: Sequence[ReportEvidence], in_window: Sequence[ReportEvidence], findings: list[Finding]
) -> frozenset[str]:
    """Signals of the window's reports and of the reports a deciding rule rests on."""
    used = {r for f in findings for r in f.report_ids}
    return frozenset().union(
        *(r.signals for r in in_window), *(r.signals for r in reports if r.report_id in used)
    )


def _tasks(findings: list[Finding]) -> tuple[TaskSpec, ...]:
    """One task per id, the soonest asked, in a stable order."""
    soonest: dict[str, TaskSpec] = {}
    for f in findings:
        task = f.effects.task
        if task is not None and (
            task.task not in soonest or task.within < soonest[task.task].within
        ):
            soonest[task.task] = task
    return tuple(soonest[k] for k in sorted(soonest))


def _corroboration(
    policy: GradingPolicy,
    campus: CampusSettings,
    reports: Sequence[ReportEvidence],
    level: Level,
) -> ReasonLine | None:
    """Independent reporters describing one concern (signals of one family) lift the grade.

    Independent sources, not reports: see `_observer`."""
    rule = campus.corroboration
    if level < Level.MILD:
        return None
    reporters: dict[str, set[str]] = {}
    for r in reports:
        observer = _observer(r)
        if observer is None:
            continue
        for family in {f for s in r.signals for f in policy.families_of(s)}:
            reporters.setdefault(family, set()).add(observer)
    best = sorted(
        ((len(refs), name) for name, refs in reporters.items()), key=lambda x: (-x[0], x[1])
    )
    if not best or best[0][0] < rule.min_reporters:
        return None
    lifted = level.raised_by(rule.raise_by, rule.ceiling)
    if lifted <= level:
        return None
    count, name = best[0]
    label = policy.families[name].label
    text = Text(
        fill(rule.reason.zh, {"reporters": str(count), "family": label.zh}),
        fill(rule.reason.en, {"reporters": str(count), "family": label.en}),
    )
    return ReasonLine("corroboration", lifted, text)


def _observer(report: ReportEvidence) -> str | None:
    """Whose observation a report carries, for corroboration: its reporter's for what they saw
    or found in a counseling session; the student's family's for a family call, however many
    staff relayed one (a family calling two of them is still one family); nobody's for a
    self-referral: the student is not an independent observer of themself, and their asking
    for help already grades by its own rule (`help_seeking.self_referral`)."""
    match report.channel:
        case "self_referral":
            return None
        case "family_call":
            return CHANNEL_TOKEN + report.channel
        case _:
            return report.reporter_ref


def _history(
    policy: GradingPolicy,
    campus: CampusSettings,
    situation: Situation,
    level: Level,
    concerns: set[str],
    sheets_suicidal: bool,
) -> list[ReasonLine]:
    """A recently closed severe or critical case raises the new grade; a recently closed
    critical case with any suicidality now makes it critical."""
    rule, now = campus.history, situation.now
    lines = []

    def closed(within: timedelta, at_least: Level) -> list[datetime]:
        return sorted(
            (
                c.closed_at
                for c in situation.closed_cases
                if c.severity >= at_least and now - within <= c.closed_at <= now
            ),
            reverse=True,
        )

    recent = closed(rule.within, rule.min_closed_severity)
    if level >= rule.from_level and recent:
        lifted = level.raised_by(rule.raise_by, rule.ceiling)
        if lifted > level:
            level = lifted
            days = str((now - recent[0]).days)
            text = Text(fill(rule.reason.zh, {"days": days}), fill(rule.reason.en, {"days": days}))
            lines.append(ReasonLine("history.recent_closed_case", level, text))
    family = policy.families.get(rule.suicidality_family)
    suicidal = family is not None and (
        FAMILY_TOKEN + family.name in concerns
        or (family.includes_suicide_items and sheets_suicidal)
    )
    critical_closed = closed(rule.suicidality_within, rule.suicidality_min_closed)
    if suicidal and critical_closed and level < rule.suicidality_level:
        days = str((now - critical_closed[0]).days)
        text = Text(
            fill(rule.suicidality_reason.zh, {"days": days}),
            fill(rule.suicidality_reason.en, {"days": days}),
        )
        lines.append(ReasonLine("history.critical_case_suicidality", rule.suicidality_level, text))
    return lines
