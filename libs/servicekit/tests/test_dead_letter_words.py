"""`shouwang-dlq`'s words to an operator who reads zh-CN, from argparse's own mistakes to the
help's section titles: no Kafka needed, the parser alone.

Walk of 2026-12-07: a usage mistake read "用法错误：one of the arguments --offsets --consumer
--reason --all is required", a mistyped command "用法错误：argument command: invalid choice",
and `--lang fr` answered with argparse's English "usage: … error:" in full.
"""

from __future__ import annotations

import unicodedata

import pytest
from shouwang_contracts.vocabulary import Language
from shouwang_servicekit.deadletter_cli import build_parser, chosen_language
from shouwang_servicekit.deadletter_text import explained_reason, reason_kind

ENGLISH = ("argument", "required", "invalid choice", "not allowed", "expected", "unrecognized")


def mistake(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser(chosen_language(argv)).parse_args(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["replay", "x.dlq"], "用法错误：请在 --offsets --consumer --reason --all 中选择一项"),
        (
            ["replay", "x.dlq", "--offsets", "0:1", "--all"],
            "用法错误：--all 不能与 --offsets 同时使用",
        ),
        (["replay", "x.dlq", "--offsets"], "用法错误：--offsets 后面需要一个值"),
        (["lst"], "用法错误：命令不能是 'lst'（可选：'list', 'replay'）"),
        ([], "用法错误：缺少命令（list 或 replay）"),
        (["list", "--bogus"], "用法错误：无法识别的参数：--bogus"),
        (["replay"], "用法错误：缺少必需的参数：TOPIC.dlq"),
        (["--lang", "fr", "list"], "用法错误：--lang 不能是 'fr'（可选：'zh-CN', 'en'）"),
    ],
)
def test_a_usage_mistake_is_told_in_zh_cn(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    told = mistake(argv, capsys)
    assert told == said
    assert not any(word in told for word in ENGLISH)


def test_a_usage_mistake_in_english_keeps_argparse_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    told = mistake(["--lang", "en", "replay", "x.dlq"], capsys)
    assert (
        told == "usage error: one of the arguments --offsets --consumer --reason --all is required"
    )


@pytest.mark.parametrize(
    ("language", "titles"),
    [
        ("zh-CN", ["参数与选项：\n", "命令：\n"]),
        ("en", ["arguments and options:\n", "commands:\n"]),
    ],
)
def test_help_titles_end_in_the_language_s_colon(
    language: Language, titles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser(language).parse_args(["--help"])
    shown = capsys.readouterr().out
    for title in titles:
        assert title in shown


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("command", [[], ["list"], ["replay"]])
def test_help_fits_an_80_column_terminal_without_breaking_a_word(
    language: Language,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Walk of 2026-12-07: argparse counts a Chinese character as one column, so zh-CN help
    lines ran to ~150 columns, and it broke "KAFKA_SECURITY_PROTOCOL" as "KA|FKA…"."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        build_parser(language).parse_args([*command, "--help"])
    shown = capsys.readouterr().out
    described = shown.split("\n\n", 1)[1]  # after the usage, which argparse lays out itself
    assert all(columns(line) <= 80 for line in described.splitlines()), shown
    if not command:
        joined = " ".join(line.strip() for line in described.splitlines())
        for word in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_BOOTSTRAP_SERVERS", "x-replayed-from"):
            assert word in joined, shown


def test_a_record_two_consumers_dead_lettered_is_replayed_once() -> None:
    """Triage and casework both dead-lettered one malformed report (found walking the demo):
    `replay --all` put it back twice, so every consumer of the topic read it twice, and a
    record with no event id is not deduplicated downstream. A source record is chosen once."""
    from shouwang_servicekit.kafka.deadletter_log import DeadLetter, select

    def letter(offset: int, consumer: str, source_offset: int | None) -> DeadLetter:
        return DeadLetter(
            topic="shouwang.reports.v1.dlq",
            partition=0,
            offset=offset,
            time=None,
            source_topic="shouwang.reports.v1",
            source_partition=2,
            source_offset=source_offset,
            consumer=consumer,
            reason="not a valid shouwang.report.submitted",
            event_type=None,
            event_id=None,
            campus_id=None,
            key=b"k",
            value=b"{",
            headers=(),
        )

    letters = [
        letter(0, "triage-reports", 41),
        letter(1, "casework-file-reports", 41),
        letter(2, "casework-file-reports", 42),
        letter(3, "triage-reports", None),  # no source offset said: never merged
    ]
    assert [x.offset for x in select(letters)] == [0, 2, 3]
    # Chosen by consumer, each consumer's copy is its own choice.
    assert [x.offset for x in select(letters, consumer="casework-file-reports")] == [1, 2]


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        (["list", "a.dlq", "--lang", "en"], {"lang": "en", "topics": ["a.dlq"]}),
        (["list", "--lang", "en"], {"lang": "en", "topics": []}),
        (["--lang", "en", "list", "a.dlq"], {"lang": "en", "topics": ["a.dlq"]}),
        (["list", "--json", "a.dlq", "--lang", "en", "b.dlq"], {"topics": ["a.dlq", "b.dlq"]}),
        (["list", "a.dlq", "--kafka-user", "admin"], {"kafka_user": "admin", "lang": "zh-CN"}),
        (["--kafka-user", "admin", "list"], {"kafka_user": "admin", "topics": []}),
        (["replay", "a.dlq", "--all", "--lang", "en"], {"lang": "en", "topic": "a.dlq"}),
        (["replay", "--dry-run", "a.dlq", "--all"], {"dry_run": True, "topic": "a.dlq"}),
    ],
)
def test_options_work_before_or_after_the_command_and_its_topics(
    argv: list[str], parsed: dict[str, object]
) -> None:
    """Walk of 2026-12-07: `list TOPIC.dlq --lang en` was refused and `list --lang en` took
    "en" for a topic; the options of the whole command now work after it too."""
    args = vars(build_parser(chosen_language(argv)).parse_args(argv))
    assert {name: args[name] for name in parsed} == parsed


def test_a_word_after_a_replay_s_topic_is_still_a_mistake(
    capsys: pytest.CaptureFixture[str],
) -> None:
    told = mistake(["replay", "a.dlq", "--all", "b.dlq"], capsys)
    assert told == "用法错误：无法识别的参数：b.dlq"


# Reasons as the kit's runtime and the services write them (x-dlq-reason).
@pytest.mark.parametrize(
    ("reason", "kind", "zh", "en"),
    [
        (
            "not a valid shouwang.report.submitted: data.signals: Field required",
            "invalid_event",
            "事件不符合其数据契约（模式校验失败",
            "the event breaks its contract (schema validation failed",
        ),
        ("not a JSON event: JSONDecodeError", "not_json", "不是可解析的 JSON", "not a JSON event"),
        (
            "not a JSON object: Expecting value: line 1 column 1 (char 0)",
            "not_json",
            "不是可解析的 JSON",
            "not a JSON event",
        ),
        ("empty record value", "empty_value", "记录内容为空", "has no value"),
        ("a tombstone (no value) on the assessments topic", "empty_value", "为空", "no value"),
        (
            "unexpected event type on the alerts topic: 'shouwang.x'",
            "unknown_type",
            "事件类型未知或缺失",
            "event type is unknown or missing",
        ),
        ("the event has no type", "unknown_type", "事件类型未知", "unknown or missing"),
        (
            "processing failed (5x): UndefinedTableError",
            "failed_after_attempts",
            "处理 5 次均失败（依赖故障或程序缺陷",
            "processing failed 5 times (a dependency failure or a bug",
        ),
        (
            "refused by the file tables: CheckViolationError",
            "refused_by_database",
            "数据库拒绝写入",
            "the database refused to store it",
        ),
        ("no case opens for severity none", "other", "消费者拒绝处理该记录", "see the technical"),
        (None, "none", "未记录原因", "no reason recorded"),
    ],
)
def test_a_dead_letter_s_reason_is_explained_in_zh_cn_and_in_english_on_request(
    reason: str | None, kind: str, zh: str, en: str
) -> None:
    """The reason recorded is an exception's English; an operator reads what it means in
    zh-CN (English with `--lang en`), by kind, and no kind quotes the reason's own words."""
    assert reason_kind(reason) == kind
    assert zh in explained_reason(reason, "zh-CN")
    assert en in explained_reason(reason, "en")
    if reason:
        assert reason not in explained_reason(reason, "zh-CN")
