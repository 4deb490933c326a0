"""`shouwang-gateway-accounts` speaks zh-CN by default and English with SHOUWANG_LANG=en, as
the dev tools do (`make up`, `make demo`, `shouwang-dlq`)."""

from __future__ import annotations

import pytest
from shouwang_gateway.entrypoints import cli

ENTRY = {
    "campus_id": "demo",
    "username": "center",
    "role": "counseling_center",
    "role_label": "心理健康教育与咨询中心",
    "sub": "T3001",
    "password": "abcdEFGH2345jkmn",
}


def test_a_demo_account_line_is_chinese_by_default() -> None:
    line = cli.demo_account_line(ENTRY, cli.language({}))
    assert line.startswith("演示账号  校区 demo  用户名 center")
    assert "密码 abcdEFGH2345jkmn" in line
    assert "counseling_center" in line  # the role's id stays as it is
    assert "demo account" not in line


def test_a_demo_account_line_is_english_with_shouwang_lang_en() -> None:
    line = cli.demo_account_line(ENTRY, cli.language({"SHOUWANG_LANG": "en"}))
    assert line.startswith("demo account  campus=demo  username=center")
    assert "password=abcdEFGH2345jkmn" in line
    assert line.endswith("(Counseling center, counseling_center)")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in line)


def test_an_unknown_language_is_refused_in_chinese(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOUWANG_LANG", "fr")
    assert cli.main(["seed-demo"]) == 2
    assert "无法识别的 SHOUWANG_LANG：fr" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("lang", "said"),
    [("", "seed-demo 仅限 SHOUWANG_ENV=local"), ("en", "seed-demo is for SHOUWANG_ENV=local only")],
)
def test_seed_demo_outside_local_is_refused_in_the_chosen_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lang: str, said: str
) -> None:
    monkeypatch.setenv("SHOUWANG_LANG", lang)
    monkeypatch.setattr(cli, "GatewaySettings", _ProductionSettings)
    assert cli.main(["seed-demo"]) == 2
    assert said in capsys.readouterr().err


class _ProductionSettings:
    """The one setting seed-demo reads before it refuses (no database is touched)."""

    env = "production"
