"""`make up`'s map and `make demo`'s narration: zh-CN by default, English with SHOUWANG_LANG=en."""

from __future__ import annotations

import string
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from shouwang_contracts.vocabulary import Severity
from shouwang_devstack import welcome
from shouwang_devstack._proc import DevstackError
from shouwang_devstack.stack import GATEWAY, Stack
from shouwang_devstack.term import main
from shouwang_devstack.welcome import where_everything_is
from shouwang_devstack.words import catalogue, in_sentence, language, text, value_label


def _fields(template: str) -> list[tuple[str, str]]:
    """The placeholders of a template, with their format specs (`{name:<9}` aligns a column)."""
    return sorted(
        (name, spec or "") for _, name, spec, _ in string.Formatter().parse(template) if name
    )


def test_english_has_every_line_zh_cn_has_with_the_same_placeholders() -> None:
    for key, (zh, en) in catalogue().items():
        assert zh.strip(), key
        assert en.strip(), key
        assert _fields(zh) == _fields(en), key


def test_zh_cn_is_the_default_and_en_is_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOUWANG_LANG", raising=False)
    assert language() == "zh-CN"
    assert text("term", term=2, campus="demo") == "第 2 学期：校区 `demo`"
    assert value_label("state", "closed") == "结案"
    monkeypatch.setenv("SHOUWANG_LANG", "en")
    assert text("term", term=2, campus="demo") == "term 2: campus `demo`"
    assert value_label("state", "closed") == "closed"
    assert text("loop_closed", state="closed", outcome="relieved") == (
        "loop: follow-up done, case closed (relieved)"
    )
    severe = in_sentence(Severity.SEVERE.label("en"), "en")
    assert text("escalated", severity=severe, level=2, owner="College leader") == (
        "escalation: the unacknowledged severe alert climbed to level 2 (College leader)"
    )
    assert in_sentence(Severity.SEVERE.label("zh-CN"), "zh-CN") == "重度"


def test_the_census_line_says_its_counts_in_words_not_a_python_dict() -> None:
    # The operator's first `make demo` printed `completed {'rows_total': 44, ...}`.
    counts = {"rows_total": 44, "rows_accepted": 43, "rows_incomplete": 3, "rows_rejected": 1}
    status = value_label("batch", "completed", "zh-CN")
    zh = text("census", "zh-CN", batch="8c299a46", status=status, **counts)
    assert zh == (
        "心理普查：批次 8c299a46 已完成：共 44 行，受理 43 行"
        "（其中 3 行不完整，按已填部分评级并标记），拒收 1 行"
    )
    en = text("census", "en", batch="8c299a46", status="completed", **counts)
    assert en == (
        "census: batch 8c299a46 completed: 44 rows, 43 accepted"
        " (3 of them incomplete, graded on what they say and flagged), 1 refused"
    )


def test_an_import_s_counts_are_named_in_zh_cn() -> None:
    # `make up`'s zh-CN map said `rows 40, created 40, ... directory_entries 40`.
    assert value_label("import_count", "directory_entries", "zh-CN") == "目录条目"
    assert value_label("import_count", "directory_entries", "en") == "directory_entries"
    assert value_label("import_count", "a_count_added_later", "zh-CN") == "a_count_added_later"


def test_a_language_that_is_not_one_stops_the_demo_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A typo (`SHOUWANG_LANG=english`) silently falling back to Chinese reads as a bug; say so.
    monkeypatch.setenv("SHOUWANG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHOUWANG_LANG", "english")
    with pytest.raises(DevstackError, match="zh-CN 或 en"):
        language()
    assert main([]) == 2
    assert "SHOUWANG_LANG=english" in capsys.readouterr().out
    assert not (tmp_path / "demo-terms.json").exists()


def _stack(data: Path) -> Stack:
    service = SimpleNamespace(name="intake", base_url="http://127.0.0.1:8001")
    sinks = SimpleNamespace(mail_dir=data / "mail", smtp_port=2525, webhooks_dir=data / "webhooks")
    return cast(Stack, SimpleNamespace(services=[service], sinks=sinks, data=data))


@pytest.mark.parametrize(
    ("lang", "heading", "docs"),
    [
        ("", "[devstack] 各处地址：", "（接口文档 http://127.0.0.1:8001/docs）"),
        ("en", "[devstack] where everything is:", "(docs http://127.0.0.1:8001/docs)"),
    ],
)
def test_the_map_speaks_the_language_and_keeps_urls_paths_and_commands(
    lang: str,
    heading: str,
    docs: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHOUWANG_LANG", lang)
    where_everything_is(_stack(tmp_path))
    shown = capsys.readouterr().out
    assert heading in shown.splitlines()
    assert f"  intake    http://127.0.0.1:8001  {docs}" in shown
    assert f"{tmp_path / 'mail'}/*.eml" in shown
    assert f"{tmp_path / 'webhooks'}/<channel>.jsonl" in shown
    command = "uv run shouwang-token --role counseling_center --campus demo --sub T3001"
    label = "心理健康教育与咨询中心" if lang == "" else "Counseling center"
    assert f"counseling_center        {command}  # {label}" in shown
    assert "`make demo`" in shown


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_demo_sign_ins_are_the_gateways_own_lines_in_the_language_up_speaks(
    lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway's accounts CLI words each sign-in (its tests hold both languages); `up`
    passes it its language and prints what it printed, not a second rendering of its file."""
    monkeypatch.setenv("SHOUWANG_LANG", lang)
    asked: dict[str, str] = {}

    def run(command: list[str], *, env: dict[str, str], **_: object) -> SimpleNamespace:
        asked.update(env)
        return SimpleNamespace(returncode=0, stdout="line one\nline two\n", stderr="")

    monkeypatch.setattr(welcome.subprocess, "run", run)
    gateway = SimpleNamespace(
        name=GATEWAY, full_env=lambda: {"SHOUWANG_LANG": "fr"}, base_url="http://127.0.0.1:1"
    )
    welcome.seed_demo_accounts(cast(Stack, SimpleNamespace(services=[gateway], data=tmp_path)))
    assert asked["SHOUWANG_LANG"] == lang
    shown = capsys.readouterr().out.splitlines()
    assert shown[-2:] == ["[devstack] line one", "[devstack] line two"]
