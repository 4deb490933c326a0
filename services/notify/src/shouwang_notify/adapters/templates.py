"""Messages and pages from the template files (Jinja2), in the recipient's language.

Message templates (`templates/messages/<lang>/<name>.txt`) each define three blocks:
`subject`, `body` and `sms`. Pages (`templates/pages/<lang>/<name>.html`) are autoescaped.
A template refers to an undefined value → an error at render time, never a blank.
The context holds no personal data: grades, roles, deadlines, counts and links only.
Every message and page may name the web app's address (`app_url`): a message that sends
its reader to sign in says where, since a phone at 2 a.m. has no bookmark.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from shouwang_contracts.vocabulary import ExternalParty, FollowUp, Language, Role, Severity

from ..domain.routing import Template


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    body: str
    short: str


class Templates:
    """Renders messages and pages; one instance per process (templates are compiled once)."""

    def __init__(self, zone: ZoneInfo, app_url: str | None = None) -> None:
        self._zone = zone
        self._app_url = app_url
        self._env = Environment(
            loader=PackageLoader("shouwang_notify", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        # An SMS is one segment or it costs double and arrives split: its short forms.
        self._env.filters["sms_role"] = lambda label: _SMS_ROLE_LABELS.get(label, label)

    def message(
        self, template: Template, language: Language, context: dict[str, Any]
    ) -> RenderedMessage:
        """The subject, body and SMS text of `template` in `language`."""
        compiled = self._env.get_template(f"messages/{language}/{template.value}.txt")
        values = self.localise(context, language)
        parts = {}
        for block in ("subject", "body", "sms"):
            render = compiled.blocks[block]
            parts[block] = "".join(render(compiled.new_context(values))).strip()
        return RenderedMessage(parts["subject"], parts["body"], parts["sms"])

    def page(self, name: str, language: Language, context: dict[str, Any]) -> str:
        """An HTML page (autoescaped) in `language`."""
        compiled = self._env.get_template(f"pages/{language}/{name}.html")
        return compiled.render(self.localise(context, language))

    def localise(self, context: dict[str, Any], language: Language) -> dict[str, Any]:
        """Ids to labels and times to campus time, in `language`."""
        values = dict(context)
        values.setdefault("app_url", self._app_url)
        # Alert messages queued before routing named an empty owner rung say nothing of one.
        values.setdefault("owner_vacant", False)
        values.setdefault("stand_in", None)
        # A message a group reads has no link: it says to confirm on the platform instead.
        values.setdefault("confirm_in_app", False)
        # Family messages queued before campuses set a counseling line or an SMS signature.
        values.setdefault("counseling_line", None)
        values.setdefault("sms_signature", None)
        if values.get("severity"):
            values["severity"] = Severity(values["severity"]).label(language)
        for key in ("role", "owner_role", "stand_in"):
            if values.get(key):
                values[key] = Role(values[key]).label(language)
        if values.get("deadline"):
            values["sms_deadline"] = self.when(values["deadline"], language, compact=True)
            values["deadline"] = self.when(values["deadline"], language)
        if "external" in values:
            values["external"] = _externals(values["external"] or [], language)
        if "follow_ups" in values:
            values["follow_ups"] = [self._task(f, language) for f in values["follow_ups"] or []]
        items = []
        # The parties a bundle's alerts ask the on-duty line to call, each named once.
        parties: dict[str, None] = {}
        for item in values.get("items") or []:
            item = dict(item)
            if "external" in item:
                parties.update(dict.fromkeys(item["external"] or []))
                item["external"] = _externals(item["external"] or [], language)
            if item.get("severity"):
                item["severity"] = Severity(item["severity"]).label(language)
            for key in ("owner_role", "stand_in"):
                if item.get(key):
                    item[key] = Role(item[key]).label(language)
            if item.get("task"):
                item = self._task(item, language)
            elif item.get("deadline"):
                item["deadline"] = self.when(item["deadline"], language)
            items.append(item)
        if "grades" in values:  # a burst's count by grade
            values["grades"] = [
                {**g, "severity": Severity(g["severity"]).label(language)} for g in values["grades"]
            ]
        if "items" in values:
            values["items"] = items
            values["items_external"] = _externals(list(parties), language)
            values.setdefault("count", len(items))
        return values

    def _task(self, ask: dict[str, Any], language: Language) -> dict[str, Any]:
        localised = dict(ask)
        # A task a newer triage names stays its id, rather than nothing.
        with contextlib.suppress(ValueError):
            localised["task"] = FollowUp(ask["task"]).label(language)
        if ask.get("due"):
            localised["due"] = self.when(ask["due"], language)
        return localised

    def when(self, moment: str | datetime, language: Language, *, compact: bool = False) -> str:
        """A time in campus time. `compact` (an SMS, in zh-CN) names the day of the month
        alone, as notices do ("10日15:00前"): an alert's deadline is hours away.

        A deadline at midnight is the end of the day before, as notices write it ("12月7日
        24:00", "07 Dec 24:00"): "12月8日 00:00前", read at 2 a.m. on the 7th, was taken for
        the night after, a day late. The month is spelled here, not by the process's locale
        (`%b` is "12月" under a zh_CN one)."""
        at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        local = at.astimezone(self._zone)
        clock = f"{local:%H:%M}"
        if (local.hour, local.minute) == (0, 0):
            local, clock = local - timedelta(days=1), "24:00"
        if language == "zh-CN" and compact:
            return f"{local.day}日{clock}"
        return day_and_time(local, language, clock=clock)


def day_and_time(
    local: datetime, language: Language, *, clock: str | None = None, year: bool = False
) -> str:
    """`local` as notify's text writes a moment: "12月8日 04:53", "08 Dec 04:53"; with
    `year`, "2025年12月8日 04:53", "08 Dec 2025 04:53" (a moment outside this year)."""
    clock = clock or f"{local:%H:%M}"
    if language == "zh-CN":
        return f"{f'{local.year}年' if year else ''}{local.month}月{local.day}日 {clock}"
    return f"{local.day:02d} {_MONTHS[local.month - 1]}{f' {local.year}' if year else ''} {clock}"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Role labels too long for a one-segment SMS, and the short form people use for them.
_SMS_ROLE_LABELS = {
    Role.COUNSELING_CENTER.label("zh-CN"): "心理中心",
    Role.COMMUNITY_PSYCH_TEACHER.label("en"): "Community psych teacher",
}

#: Ids older policies used for the parties the contract now names (`ExternalParty`).
_LEGACY_EXTERNAL_LABELS = {
    "emergency_110": ("110", "police (110)"),
    "emergency_120": ("120 急救", "ambulance (120)"),
    "police": ("110", "police (110)"),
    "ambulance": ("120 急救", "ambulance (120)"),
}


def _external_label(party: str, language: Language) -> str:
    """The contract's words for a party; an id nobody named stays the id, never nothing."""
    with contextlib.suppress(ValueError):
        label = ExternalParty(party).label(language)
        # The contract's English labels are capitalised; a message lists them mid-sentence.
        return label if language == "zh-CN" else label[:1].lower() + label[1:]
    zh, en = _LEGACY_EXTERNAL_LABELS.get(party, (party, party))
    return zh if language == "zh-CN" else en


def _externals(parties: list[str], language: Language) -> str:
    labels = [_external_label(party, language) for party in parties]
    return "、".join(labels) if language == "zh-CN" else ", ".join(labels)
