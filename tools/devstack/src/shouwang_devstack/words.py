"""What `make up` and `make demo` say to a person, in zh-CN (the default) and English.

The pattern of `shouwang-dlq`'s words (servicekit's deadletter_text): key -> (zh-CN, English),
named `str.format` placeholders, no library. The language is `SHOUWANG_LANG` (`zh-CN` or `en`,
the values of `shouwang-dlq --lang`), zh-CN when unset. Identifiers, URLs, paths, commands and
numbers stay as they are in both; the domain's words are the web app's (web/src/i18n).

Where the line is drawn: the map `make up` prints once the platform is ready, the demo campus
it loads and everything `make demo` narrates are for a person and come from here;
`shouwang-dev`'s own progress and diagnostics (starting Kafka, ports, a service that exited)
are for developers and stay English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from shouwang_contracts.events.casework import CaseState, ReferralStatus
from shouwang_contracts.vocabulary import (
    DEFAULT_LANGUAGE,
    LANGUAGE_ENV,
    Language,
    in_language,
    language_named,
)

from ._proc import DevstackError

# Every sentence a person reads: (zh-CN, English).
_TEXT: dict[str, tuple[str, str]] = {
    # `make up`: the demo campus and the map
    "campus_not_loaded": (
        "演示校区：未导入（需要 casework 和 notify）",
        "demo campus: not loaded (needs casework and notify)",
    ),
    "campus_line": ("演示校区 `{campus}`：{line}", "demo campus `{campus}`: {line}"),
    "campus_import": (
        "{name} -> {service} {path}：{counts}",
        "{name} -> {service} {path}: {counts}",
    ),
    "campus_refused": (
        "演示校区：{service} 拒绝导入 {name}（{status}）：{body}",
        "demo campus: {service} refused {name} ({status}): {body}",
    ),
    "count_separator": ("，", ", "),
    "map": ("各处地址：", "where everything is:"),
    "map_service": ("  {name:<9} {url}{docs}", "  {name:<9} {url}{docs}"),
    "map_docs": ("  （接口文档 {url}/docs）", "  (docs {url}/docs)"),
    "map_mail": (
        "  邮件      {mail_dir}/*.eml  （SMTP 接收端 127.0.0.1:{port}）",
        "  mail      {mail_dir}/*.eml  (SMTP sink 127.0.0.1:{port})",
    ),
    "map_webhooks": (
        "  机器人、短信、Webhook  {webhooks_dir}/<channel>.jsonl",
        "  robots, SMS, webhooks  {webhooks_dir}/<channel>.jsonl",
    ),
    "map_logs": ("  日志      {logs_dir}/<service>.log", "  logs      {logs_dir}/<service>.log"),
    "map_secrets": ("  本地密钥  {path}", "  secrets   {path}"),
    "map_tokens": (
        "每个演示角色的令牌（用作 `Authorization: Bearer $TOKEN`）：",
        "a token per demo role (as `Authorization: Bearer $TOKEN`):",
    ),
    "map_token": ("  {role:<24} {command}  # {label}", "  {role:<24} {command}  # {label}"),
    "map_demo": (
        "在另一个终端运行 `make demo`，在平台上演练一个学期",
        "play a term against it: `make demo` (in another terminal)",
    ),
    "web_app": (
        "网页端：{url}（演示校区 `demo`；本地密码，切勿用于生产环境）",
        "web app: {url}  (demo campus `demo`; local passwords, never for production)",
    ),
    "accounts_failed": ("演示账号：未创建（{detail}）", "demo accounts: not created ({detail})"),
    # `make demo`: the term
    "demo_description": (
        "在 `make up` 运行的平台上，用演示校区演练一个学期。",
        "Play a term on the demo campus of a running `make up`.",
    ),
    "term": ("第 {term} 学期：校区 `{campus}`", "term {term}: campus `{campus}`"),
    "census": (
        "心理普查：批次 {batch} {status}：共 {rows_total} 行，受理 {rows_accepted} 行"
        "（其中 {rows_incomplete} 行不完整，按已填部分评级并标记），拒收 {rows_rejected} 行",
        "census: batch {batch} {status}: {rows_total} rows, {rows_accepted} accepted"
        " ({rows_incomplete} of them incomplete, graded on what they say and flagged),"
        " {rows_rejected} refused",
    ),
    "report": (
        "{role}上报，{channel}（{signals}）：202，报告 {report}",
        "report by the {role}, {channel} ({signals}): 202, report {report}",
    ),
    "case": (
        "个案 {case}：{severity}，负责人 {owner}（状态：{state}）",
        "case {case}: {severity}, owner {owner} (state {state})",
    ),
    "confirmed": (
        "消息：{severity}预警的负责人通过{channel}收到，打开链接（{page}）并确认接手（{done}）",
        "message: a {severity} alert's owner got it by {channel}, opened its link ({page})"
        " and confirmed ({done})",
    ),
    "acknowledged": (
        "个案：预警已确认接手，不再逐级上报",
        "case: the alert is acknowledged; triage stops escalating it",
    ),
    "escalated": (
        "逐级上报：无人确认接手的{severity}预警已上报 {level} 级（{owner}）",
        "escalation: the unacknowledged {severity} alert climbed to level {level} ({owner})",
    ),
    "loop": ("闭环：{state}", "loop: {state}"),
    "loop_referred": ("闭环：{state}（{status}）", "loop: {state} (referral {status})"),
    "loop_returned": ("闭环：转介后{status}，{state}", "loop: referral {status}, {state}"),
    "family": (
        "家校沟通：已获知情同意，已通过{channel}联系家庭",
        "family: consent given, the family was contacted by {channel}",
    ),
    "loop_closed": (
        "闭环：回访完成，个案{state}（{outcome}）",
        "loop: follow-up done, case {state} ({outcome})",
    ),
    "settled": (
        "闭环：已上报的个案已确认接手、完成回访并{state}",
        "loop: the escalated case acknowledged, followed up and {state}",
    ),
    "stats_down": ("stats 未运行：没有结果表", "stats is not running: no outcome table"),
    "stats_refused": ("stats 返回 {status}：{body}", "stats answered {status}: {body}"),
    "outcomes": (
        "本年度结果（stats；人数过少的单元格不显示）：",
        "outcomes this year (stats, small cells suppressed):",
    ),
    "done": ("完成；再次运行即演练下一个学期", "done; run it again for another term"),
    "error": ("错误：{error}", "error: {error}"),
    # `make demo`: what went wrong
    "no_env_file": (
        "没有 {path}：请先用 `make up` 启动平台",
        "no {path}: start the platform with `make up` first",
    ),
    "not_running": (
        "平台没有应答（{silent}）：请在另一个终端运行 `make up`，等它打印出各处地址",
        "the platform does not answer ({silent}): start it with `make up` in another terminal"
        " and wait for its map of addresses",
    ),
    "gave_up": (
        "等待{what}超过 {seconds} 秒，已放弃",
        "gave up after {seconds}s waiting for {what}",
    ),
    "http_refused": (
        "{method} {service}{path} 返回 {status}：{body}",
        "{method} {service}{path} answered {status}: {body}",
    ),
    "not_on_roster": (
        "学号 {student} 不在演示名册中",
        "student {student} is not on the demo roster",
    ),
    "wait_crisis_case": ("危机上报的个案", "the crisis report's case"),
    "wait_lesser_case": ("另一份上报的个案", "the lesser report's case"),
    "wait_census": ("普查批次处理完", "the census batch"),
    "wait_acknowledged": (
        "{severity}预警从消息中确认接手",
        "the {severity} alert acknowledged from its message",
    ),
    "wait_escalation": ("无人确认的预警上报", "the unacknowledged alert to escalate"),
    "wait_family": ("发给家庭的消息", "a message to the family"),
    "bad_language": (
        "SHOUWANG_LANG={value} 无效：请用 zh-CN 或 en",
        "SHOUWANG_LANG={value} is not a language: use zh-CN or en",
    ),
}

# Values the APIs answer with, in zh-CN as the web app names them (web/src/i18n/zh-CN.ts);
# in English the value itself, as the demo always printed it. Case states and referral
# statuses carry their labels in the contracts (`CaseState.label`, `ReferralStatus.label`);
# outcomes and channels have none there.
_LABELLED: dict[str, type[CaseState] | type[ReferralStatus]] = {
    "state": CaseState,
    "referral": ReferralStatus,
}
_VALUES: dict[str, dict[str, str]] = {
    "outcome": {"relieved": "缓解", "stable": "稳定", "transferred": "转出", "left_school": "离校"},
    "batch": {"completed": "已完成", "failed": "失败", "processing": "处理中"},
    # The counts a roster or contacts import answers with (`make up` loading the demo campus).
    "import_count": {
        "rows": "行数",
        "created": "新增",
        "added": "新增",
        "updated": "更新",
        "unchanged": "未变",
        "removed": "移除",
        "deactivated": "停用",
        "reactivated": "恢复",
        "people": "人数",
        "people_listed": "列入名单",
        "people_unlisted": "移出名单",
        "cases_unowned": "无人接手的个案",
        "cases_handed_over": "移交的个案",
        "follow_ups_handed_over": "改派的随访",
        "scopes_without_students": "无学生的负责范围",
        "directory_entries": "目录条目",
    },
    "channel": {
        "email": "邮件",
        "sms": "短信",
        "wecom": "企业微信",
        "dingtalk": "钉钉",
        "webhook": "Webhook",
    },
}


def language(environ: Mapping[str, str] | None = None) -> Language:
    """`SHOUWANG_LANG` (zh-CN when unset or empty); DevstackError, in zh-CN, for anything else."""
    value = (os.environ if environ is None else environ).get(LANGUAGE_ENV, "")
    named = language_named(value)
    if named is None:
        raise DevstackError(text("bad_language", DEFAULT_LANGUAGE, value=value.strip()))
    return named


def text(key: str, lang: Language | None = None, **values: object) -> str:
    """The line `key` in `lang` (`SHOUWANG_LANG`'s when None), its placeholders filled."""
    return in_language(_TEXT[key], lang or language()).format(**values)


def value_label(kind: str, value: str, lang: Language | None = None) -> str:
    """An API value (a case's state, an outcome, a referral status, a census batch's status, a
    channel) as the web app names it in zh-CN; the value itself in English, and for a value
    this table lacks."""
    if (lang or language()) == "en":
        return value
    if kind in _LABELLED:
        try:
            return _LABELLED[kind](value).label("zh-CN")
        except ValueError:
            return value
    return _VALUES[kind].get(value, value)


def in_sentence(label: str, lang: Language) -> str:
    """A label (a severity, a role) inside a sentence: lower case in English ("a critical
    alert", "by the floor leader"); Chinese has no case."""
    return label.lower() if lang == "en" else label


def catalogue() -> dict[str, tuple[str, str]]:
    """Every line, for the test that English has what zh-CN has."""
    return dict(_TEXT)
