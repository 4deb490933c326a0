"""What `shouwang-dlq` says to an operator, in zh-CN and English: its own sentences, and
argparse's mistakes as a zh-CN reader is told them."""

from __future__ import annotations

import re

from shouwang_contracts.vocabulary import Language, in_language

# Every sentence a person reads: (zh-CN, English).
_TEXT: dict[str, tuple[str, str]] = {
    "description": (
        "查看并重放死信（消费者无法处理、已转入 <主题>.dlq 的记录）。使用与服务相同的 Kafka 设置"
        "（KAFKA_BOOTSTRAP_SERVERS、KAFKA_SECURITY_PROTOCOL、KAFKA_SASL_*、KAFKA_SSL_CAFILE）。"
        "从不显示记录内容或任何个人信息。退出码：0 完成；2 用法错误；3 主题不存在；4 Kafka 不可达或拒绝。",
        "Read and replay dead letters (records a consumer could not process, copied to "
        "<topic>.dlq). Uses the services' Kafka settings (KAFKA_BOOTSTRAP_SERVERS, "
        "KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE). Never shows a record's value "
        "or any personal data. Exit status: 0 done; 2 usage mistake; 3 no such topic; 4 Kafka "
        "unreachable or refusing.",
    ),
    "usage": ("用法：", "usage: "),
    "arguments": ("参数与选项", "arguments and options"),
    "commands": ("命令", "commands"),
    "help": ("显示本帮助并退出", "show this help and exit"),
    "kafka_user_help": (
        "以该 Kafka 用户身份连接（如 shouwang-admin），密码从标准输入读取一行；仅用于 SASL。"
        "服务自己的用户只能写入死信主题，不能读取死信或写回其消费的主题。",
        "speak to Kafka as this user (e.g. shouwang-admin), its password read as one line from "
        "stdin; SASL only. A service's own user may only write dead letters, not read them or "
        "write the topics it consumes.",
    ),
    "kafka_user": (
        "--kafka-user 需要 SASL（KAFKA_SECURITY_PROTOCOL 为 SASL_SSL 或 SASL_PLAINTEXT），"
        "且标准输入的第一行是该用户的密码",
        "--kafka-user needs SASL (KAFKA_SECURITY_PROTOCOL SASL_SSL or SASL_PLAINTEXT) and the "
        "user's password as the first line of stdin",
    ),
    "lang": ("提示语言：zh-CN（默认）或 en", "language of messages: zh-CN (default) or en"),
    "list": (
        "列出死信（不含记录内容）及按主题、消费者、原因的汇总",
        "list dead letters (never their values) and a summary by topic, consumer and reason",
    ),
    "list_topics": ("死信主题（默认：全部）", "dead-letter topics (default: all of them)"),
    "json": ("输出 JSON（供程序读取）", "machine-readable JSON"),
    "replay": (
        "把死信按原键、原内容和原消息头（去掉 x-dlq-*，加上 x-replayed-from）重放回来源主题，"
        "等待所有副本确认（acks=all）。消费者按事件 ID 幂等，同一条重放两次不会重复处理。",
        "put dead letters back on their source topic with their key, value and headers "
        "(minus x-dlq-*, plus x-replayed-from), waiting for all replicas (acks=all). Consumers "
        "are idempotent by event id: a record replayed twice is processed once.",
    ),
    "replay_topic": (
        "死信主题，如 shouwang.reports.v1.dlq",
        "the dead-letter topic, e.g. shouwang.reports.v1.dlq",
    ),
    "offsets": (
        "按位置选择：分区:偏移[,分区:偏移…]（见 list 的输出）",
        "pick by position: partition:offset[,...] (as list shows them)",
    ),
    "consumer": (
        "按消费者选择：完整名称，与 list 输出的“消费者”一致（x-dlq-consumer）",
        "pick by consumer: its whole name, as list shows it (x-dlq-consumer)",
    ),
    "reason": (
        "按原因选择（包含该文字，不区分大小写）",
        "pick by reason (contains the text, any case)",
    ),
    "all": ("选择该主题的全部死信", "pick every dead letter of the topic"),
    "dry_run": ("只显示将重放哪些记录，不发送", "only show what would be replayed; send nothing"),
    "usage_error": ("用法错误：{message}", "usage error: {message}"),
    "bad_offsets": (
        "偏移格式有误：“{spec}”，应为 分区:偏移[,分区:偏移…]，如 0:12,0:15",
        "bad offset spec “{spec}”: expected partition:offset[,...], e.g. 0:12,0:15",
    ),
    "not_dlq": (
        "“{topic}” 不是死信主题（应以 .dlq 结尾）",
        "“{topic}” is not a dead-letter topic (its name ends in .dlq)",
    ),
    "no_such_topic": (
        "主题不存在（或当前 Kafka 用户无权查看）：{topic}",
        "no such topic (or this Kafka user may not see it): {topic}",
    ),
    "no_such_offsets": (
        "该死信主题中没有这些位置的记录：{offsets}",
        "the dead-letter topic holds no record at: {offsets}",
    ),
    "no_source": (
        "位置 {offsets} 的死信没有 x-dlq-source-topic 消息头，无法确定来源主题",
        "the dead letter at {offsets} has no x-dlq-source-topic header: its source topic is unknown",
    ),
    "settings": ("Kafka 设置有误：{message}", "Kafka settings are wrong: {message}"),
    "kafka": (
        "无法完成 Kafka 操作（不可达、拒绝或超时）：{message}",
        "Kafka could not be used (unreachable, refusing or timing out): {message}",
    ),
    "kafka_replay": (
        "重放中断：部分记录可能已发送，可安全地再次重放（消费者按事件 ID 幂等）。",
        "the replay stopped: some records may have been sent; replaying again is safe (consumers are idempotent by event id).",
    ),
    "topic_count": ("{topic}：{count} 条死信", "{topic}: {count} dead letters"),
    "record": (
        "  {position}  {time}  来源 {source}  消费者 {consumer}  事件 {event_type} {event_id}  校区 {campus}",
        "  {position}  {time}  from {source}  consumer {consumer}  event {event_type} {event_id}  campus {campus}",
    ),
    "record_reason": ("      原因：{explained}", "      reason: {explained}"),
    "record_technical": ("      技术原因：{reason}", "      technical reason: {reason}"),
    "summary": ("汇总（主题 / 消费者 / 原因：条数）", "Summary (topic / consumer / reason: count)"),
    "summary_line": (
        "  {topic} / {consumer} / {explained}（{reason}）：{count}",
        "  {topic} / {consumer} / {explained} ({reason}): {count}",
    ),
    "none_chosen": (
        "没有符合条件的死信，未重放任何记录。",
        "no dead letter matches: nothing replayed.",
    ),
    "would_replay": (
        "  将重放 {position} → {source}  事件 {event_type} {event_id}",
        "  would replay {position} → {source}  event {event_type} {event_id}",
    ),
    "dry_run_done": (
        "演练：将重放 {count} 条，未发送任何记录。",
        "dry run: {count} would be replayed; nothing sent.",
    ),
    "replayed": (
        "已重放 {count} 条，所有副本均已确认。",
        "replayed {count}; every replica acknowledged.",
    ),
}


def text(code: str, language: Language, **values: object) -> str:
    """The message `code` in `language`, filled in."""
    return in_language(_TEXT[code], language).format(**values)


#: The kinds of dead-letter reason (`x-dlq-reason`) the kit's consumer runtime and the
#: services write, by how the reason begins: (kind, pattern). The reason itself is technical
#: English (an exception's type, a field's path), kept beside the explanation for engineers.
REASON_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        # `decode_event`: the envelope or its data broke the event's schema.
        ("invalid_event", r"not a valid "),
        # A handler's own look at the value before decoding it.
        ("not_json", r"not a JSON (event|object)\b"),
        ("empty_value", r"(empty record value|a tombstone \(no value\))"),
        ("unknown_type", r"(unexpected event type\b|the event has no type)"),
        # The kit's runtime, once a failure not known to be transient used up its attempts.
        ("failed_after_attempts", r"processing failed \((?P<attempts>\d+)x\)"),
        # Casework's file tables refused a row (a constraint, a value out of range).
        ("refused_by_database", r"refused by the file tables\b"),
    )
)
_REASON_WORDS: dict[str, tuple[str, str]] = {
    "invalid_event": (
        "事件不符合其数据契约（模式校验失败：字段缺失或取值不合法）",
        "the event breaks its contract (schema validation failed: a field missing or invalid)",
    ),
    "not_json": (
        "记录内容不是可解析的 JSON 事件（生产方缺陷，或写入了错误的主题）",
        "the record is not a JSON event (a producer bug, or written to the wrong topic)",
    ),
    "empty_value": (
        "记录内容为空（空消息或墓碑记录）",
        "the record has no value (an empty message or a tombstone)",
    ),
    "unknown_type": (
        "事件类型未知或缺失（该消费者不处理这种事件）",
        "the event type is unknown or missing (this consumer does not handle it)",
    ),
    "failed_after_attempts": (
        "处理 {attempts} 次均失败（依赖故障或程序缺陷；技术原因中是异常类型）",
        "processing failed {attempts} times (a dependency failure or a bug; the technical "
        "reason names the exception type)",
    ),
    "refused_by_database": (
        "数据库拒绝写入（违反表的约束或取值超出范围）",
        "the database refused to store it (a table constraint or a value out of range)",
    ),
    "other": (
        "消费者拒绝处理该记录（具体见技术原因）",
        "the consumer refused the record (see the technical reason)",
    ),
    "none": ("未记录原因", "no reason recorded"),
}


def reason_kind(reason: str | None) -> str:
    """The kind of a dead letter's `reason` (`REASON_KINDS`), "other" when no kind's beginning
    fits, "none" when there is none."""
    if not reason:
        return "none"
    for kind, pattern in REASON_KINDS:
        if pattern.match(reason):
            return kind
    return "other"


def explained_reason(reason: str | None, language: Language) -> str:
    """What `reason` means, for an operator in `language` (never the reason's own words)."""
    for kind, pattern in REASON_KINDS:
        found = pattern.match(reason or "")
        if found:
            return in_language(_REASON_WORDS[kind], language).format(**found.groupdict())
    return in_language(_REASON_WORDS[reason_kind(reason)], language)


#: argparse's own mistakes (Python 3.11's wording) as an operator reading zh-CN is told them;
#: anything else argparse says is passed on as it is.
_ARGPARSE_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"the following arguments are required: command", "缺少命令（list 或 replay）"),
        (r"the following arguments are required: (.+)", "缺少必需的参数：{0}"),
        (r"one of the arguments (.+) is required", "请在 {0} 中选择一项"),
        (r"argument (\S+): not allowed with argument (\S+)", "{0} 不能与 {1} 同时使用"),
        (
            r"argument (\S+): invalid choice: (.+) \(choose from (.+)\)",
            "{0} 不能是 {1}（可选：{2}）",
        ),
        (r"argument (\S+): expected one argument", "{0} 后面需要一个值"),
        (r"unrecognized arguments: (.+)", "无法识别的参数：{0}"),
        (r"argument (\S+): (.+)", "{0}：{1}"),
    )
)


def argparse_mistake(message: str, language: Language) -> str:
    """argparse's English `message` in `language` (the subcommand's dest, "command", as 命令)."""
    if language != "zh-CN":
        return message
    for pattern, zh in _ARGPARSE_ZH:
        found = pattern.fullmatch(message)
        if found:
            parts = ["命令" if part == "command" else part for part in found.groups()]
            return zh.format(*parts).replace("命令 ", "命令")
    return message
