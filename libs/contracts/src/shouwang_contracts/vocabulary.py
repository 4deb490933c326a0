"""The domain's fixed words: tiers, roles, severities and the signal vocabulary.

Ids here are a public contract: add new ones freely, never rename or reuse one.
Every member carries its zh-CN label (the default) and its English one.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal

Language = Literal["zh-CN", "en"]
DEFAULT_LANGUAGE: Language = "zh-CN"


#: The environment variable a command-line tool reads its people's language from.
LANGUAGE_ENV = "SHOUWANG_LANG"


def language_named(value: str) -> Language | None:
    """The language `value` names (`zh-CN` or `en`, any case; empty is the default), or None
    when it names neither: how the command-line tools read `SHOUWANG_LANG`."""
    value = value.strip()
    if not value:
        return DEFAULT_LANGUAGE
    if value.lower() == "en":
        return "en"
    return "zh-CN" if value.lower() == "zh-cn" else None


def in_language(label: tuple[str, str], language: Language = DEFAULT_LANGUAGE) -> str:
    """One of a (zh-CN, English) pair: what every enum's `label()` answers."""
    zh, en = label
    return zh if language == "zh-CN" else en


class Tier(IntEnum):
    """The six-tier warning network (六级预警体系), lowest first."""

    DORM_LEADER = 1
    FLOOR_LEADER = 2
    CLASS_WELLBEING_OFFICER = 3
    RESIDENCE_COUNSELOR = 4
    COMMUNITY_PSYCH_TEACHER = 5
    COUNSELING_CENTER = 6

    @property
    def role(self) -> Role:
        return Role(self.name.lower())

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return self.role.label(language)


class Role(StrEnum):
    """Who a user is: one of the six tiers or a staff role outside the ladder."""

    DORM_LEADER = "dorm_leader"
    FLOOR_LEADER = "floor_leader"
    CLASS_WELLBEING_OFFICER = "class_wellbeing_officer"
    RESIDENCE_COUNSELOR = "residence_counselor"
    COMMUNITY_PSYCH_TEACHER = "community_psych_teacher"
    COUNSELING_CENTER = "counseling_center"
    COLLEGE_LEADER = "college_leader"
    CAMPUS_ADMIN = "campus_admin"
    PLATFORM_ADMIN = "platform_admin"
    AUDITOR = "auditor"

    @property
    def tier(self) -> Tier | None:
        """The ladder tier of this role, or None for roles outside the ladder."""
        try:
            return Tier[self.name]
        except KeyError:
            return None

    @property
    def acknowledged_from(self) -> Tier:
        """The lowest tier that may acknowledge an alert this role owns (and so stop its
        escalation): the owner's own tier; for an owner off the ladder, the counseling
        center's. A college leader is the last rung, past the counseling center (the bundled
        policy's escalation path): escalating to them must never let a lower tier stop what
        only the center could stop one level before. Casework enforces it and notify offers
        acknowledgement links by it, so both read it here."""
        return self.tier if self.tier is not None else Tier.COUNSELING_CENTER

    @property
    def is_student(self) -> bool:
        """Tiers 1-3 are students: they report and see their own receipts, never case data."""
        tier = self.tier
        return tier is not None and tier <= Tier.CLASS_WELLBEING_OFFICER

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(_ROLE_LABELS[self], language)


_ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.DORM_LEADER: ("寝室长", "Dorm-room leader"),
    Role.FLOOR_LEADER: ("楼层长", "Floor leader"),
    Role.CLASS_WELLBEING_OFFICER: ("班级心理委员", "Class wellbeing officer"),
    Role.RESIDENCE_COUNSELOR: ("公寓辅导员", "Residence counselor"),
    Role.COMMUNITY_PSYCH_TEACHER: ("社区心理教师", "Community psychology teacher"),
    Role.COUNSELING_CENTER: ("心理健康教育与咨询中心", "Counseling center"),
    Role.COLLEGE_LEADER: ("二级学院领导", "College leader"),
    Role.CAMPUS_ADMIN: ("校区管理员", "Campus administrator"),
    Role.PLATFORM_ADMIN: ("平台管理员", "Platform administrator"),
    Role.AUDITOR: ("审计员", "Auditor"),
}


class Severity(StrEnum):
    """Grades of a warning, ordered: none < mild < moderate < severe < critical."""

    NONE = "none"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(_SEVERITY_LABELS[self], language)


_SEVERITY_ORDER: tuple[Severity, ...] = (
    Severity.NONE,
    Severity.MILD,
    Severity.MODERATE,
    Severity.SEVERE,
    Severity.CRITICAL,
)

_SEVERITY_LABELS: dict[Severity, tuple[str, str]] = {
    Severity.NONE: ("无", "None"),
    Severity.MILD: ("轻度", "Mild"),
    Severity.MODERATE: ("中度", "Moderate"),
    Severity.SEVERE: ("重度", "Severe"),
    Severity.CRITICAL: ("危急", "Critical"),
}


class Signal(StrEnum):
    """Observed warning signals, version 1 of the vocabulary."""

    SUICIDE_ATTEMPT = "suicide_attempt"
    SUICIDE_PLAN = "suicide_plan"
    SELF_HARM_BEHAVIOR = "self_harm_behavior"
    SELF_HARM_TALK = "self_harm_talk"
    HOPELESSNESS = "hopelessness"
    GIVING_AWAY_POSSESSIONS = "giving_away_possessions"
    PERSISTENT_LOW_MOOD = "persistent_low_mood"
    ANXIETY_PANIC = "anxiety_panic"
    SLEEP_DISTURBANCE = "sleep_disturbance"
    APPETITE_CHANGE = "appetite_change"
    SOCIAL_WITHDRAWAL = "social_withdrawal"
    DORM_CONFLICT = "dorm_conflict"
    ACADEMIC_DECLINE = "academic_decline"
    EMPLOYMENT_PRESSURE = "employment_pressure"
    FAMILY_CONFLICT = "family_conflict"
    BEREAVEMENT_OR_FAMILY_CRISIS = "bereavement_or_family_crisis"
    DISASTER_EXPOSURE = "disaster_exposure"
    SUBSTANCE_USE = "substance_use"
    MISSING_CONTACT = "missing_contact"
    UNUSUAL_BEHAVIOR = "unusual_behavior"

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(SIGNAL_LABELS[self], language)


SIGNAL_VOCABULARY_VERSION = 1

SIGNAL_LABELS: dict[Signal, tuple[str, str]] = {
    Signal.SUICIDE_ATTEMPT: (
        "自杀行为（正在进行或刚刚发生）",
        "Suicide attempt (in progress or just happened)",
    ),
    Signal.SUICIDE_PLAN: ("有自杀计划", "Suicide plan"),
    Signal.SELF_HARM_BEHAVIOR: ("自伤行为", "Self-harm behaviour"),
    Signal.SELF_HARM_TALK: ("流露自伤或轻生念头", "Talk of self-harm or suicide"),
    Signal.HOPELESSNESS: ("绝望感", "Hopelessness"),
    Signal.GIVING_AWAY_POSSESSIONS: ("赠送个人物品、交代后事", "Giving away possessions"),
    Signal.PERSISTENT_LOW_MOOD: ("持续情绪低落", "Persistent low mood"),
    Signal.ANXIETY_PANIC: ("焦虑、惊恐发作", "Anxiety or panic"),
    Signal.SLEEP_DISTURBANCE: ("睡眠紊乱", "Sleep disturbance"),
    Signal.APPETITE_CHANGE: ("食欲明显变化", "Marked appetite change"),
    Signal.SOCIAL_WITHDRAWAL: ("回避社交、独来独往", "Social withdrawal"),
    Signal.DORM_CONFLICT: ("寝室人际冲突", "Dormitory conflict"),
    Signal.ACADEMIC_DECLINE: ("学业明显下滑", "Academic decline"),
    Signal.EMPLOYMENT_PRESSURE: ("就业压力", "Employment pressure"),
    Signal.FAMILY_CONFLICT: ("家庭矛盾", "Family conflict"),
    Signal.BEREAVEMENT_OR_FAMILY_CRISIS: ("亲人离世或家庭变故", "Bereavement or family crisis"),
    Signal.DISASTER_EXPOSURE: ("经历灾害或突发事件", "Exposure to a disaster or sudden event"),
    Signal.SUBSTANCE_USE: ("酗酒或药物滥用", "Alcohol or substance misuse"),
    Signal.MISSING_CONTACT: ("失联", "Cannot be reached"),
    Signal.UNUSUAL_BEHAVIOR: ("言行异常", "Unusual behaviour"),
}


class ReportChannel(StrEnum):
    """How the reporter came to know what they report (DESIGN.md's sources of warning
    information: tier reports, self-referral, family calls, counseling-session outcomes).

    A report without one (every report before this field) was observed by the reporter.
    """

    OBSERVED = "observed"
    SELF_REFERRAL = "self_referral"
    FAMILY_CALL = "family_call"
    COUNSELING_SESSION = "counseling_session"

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(_CHANNEL_LABELS[self], language)

    def reportable_by(self, role: Role) -> bool:
        """Whether a reporter of this role can have learned of it this way: anyone may see
        signs or be asked for help by the student; a family calls staff, not a fellow
        student; only those who hold counseling sessions learn of it in one."""
        reporters = _CHANNEL_REPORTERS.get(self)
        return reporters is None or role in reporters


_CHANNEL_LABELS: dict[ReportChannel, tuple[str, str]] = {
    ReportChannel.OBSERVED: ("亲眼所见", "Observed by the reporter"),
    ReportChannel.SELF_REFERRAL: ("学生本人求助", "The student asked for help"),
    ReportChannel.FAMILY_CALL: ("家长来电反映", "A family member called"),
    ReportChannel.COUNSELING_SESSION: ("心理咨询中发现", "Found in a counseling session"),
}
_STAFF_REPORTERS = frozenset(
    {
        Role.RESIDENCE_COUNSELOR,
        Role.COMMUNITY_PSYCH_TEACHER,
        Role.COUNSELING_CENTER,
        Role.COLLEGE_LEADER,
    }
)
_CHANNEL_REPORTERS: dict[ReportChannel, frozenset[Role]] = {
    ReportChannel.FAMILY_CALL: _STAFF_REPORTERS,
    ReportChannel.COUNSELING_SESSION: frozenset(
        {Role.COMMUNITY_PSYCH_TEACHER, Role.COUNSELING_CENTER}
    ),
}


class FollowUp(StrEnum):
    """What an alert asks of someone beyond acknowledging it: a stable id a template renders."""

    CSSRS_SCREEN = "cssrs_screen"
    SAME_DAY_RISK_ASSESSMENT = "same_day_risk_assessment"
    LOCATE_STUDENT = "locate_student"

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(_FOLLOW_UP_LABELS[self], language)


_FOLLOW_UP_LABELS: dict[FollowUp, tuple[str, str]] = {
    FollowUp.CSSRS_SCREEN: (
        "由专业人员与学生面谈，完成哥伦比亚自杀严重程度评定（C-SSRS）筛查",
        "Meet the student and complete a C-SSRS suicide-risk screen",
    ),
    FollowUp.SAME_DAY_RISK_ASSESSMENT: (
        "心理健康教育与咨询中心当日完成自杀风险评估",
        "The counseling center assesses the student's suicide risk the same day",
    ),
    FollowUp.LOCATE_STUDENT: (
        "查找学生下落，当面或电话确认其安全",
        "Find the student and confirm, in person or by phone, that they are safe",
    ),
}


class ExternalParty(StrEnum):
    """Parties outside the role model an alert may ask to inform (`inform_external`)."""

    CAMPUS_SECURITY = "campus_security"
    EMERGENCY_SERVICES = "emergency_services"

    def label(self, language: Language = DEFAULT_LANGUAGE) -> str:
        return in_language(_EXTERNAL_LABELS[self], language)


_EXTERNAL_LABELS: dict[ExternalParty, tuple[str, str]] = {
    ExternalParty.CAMPUS_SECURITY: ("校园保卫处", "Campus security"),
    ExternalParty.EMERGENCY_SERVICES: (
        "紧急救援（报警110、急救120）",
        "Emergency services (police 110, ambulance 120)",
    ),
}
