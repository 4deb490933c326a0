"""What `make up` prints and `make demo` narrates, without a running platform."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shouwang_contracts.vocabulary import Role
from shouwang_devstack._proc import free_port
from shouwang_devstack.demo import DEMO_PEOPLE, DEMO_SCOPES, samples_dir, token_command
from shouwang_devstack.services import REGISTRY
from shouwang_devstack.term import main
from shouwang_devstack.term_io import census_for_today, render_csv

SAMPLES = Path(__file__).resolve().parents[3] / "samples"

# stats' annual table as CSV (BOM, CRLF, a title line and a note line of one cell each).
ANNUAL = (
    "\ufeff2026 心理危机预警及干预成效 · demo\r\n"
    "范围,重度,中度,轻度,发现合计,缓解人次\r\n"
    "全部,14,12,14,40,<5\r\n"
    "“<5”：少于5名学生，不予显示；“*”：为防止由合计推算出少于5的数字而一并隐去，"
    "本年内隐去过的数字全年保持隐去。\r\n"
)


def test_the_outcome_table_is_as_wide_as_its_cells_not_its_note() -> None:
    """The note's 34 characters set the first column's width: "范围" stood 60 spaces from
    its figures."""
    lines = render_csv(ANNUAL).splitlines()
    assert lines[1].split() == ["范围", "重度", "中度", "轻度", "发现合计", "缓解人次"]
    assert lines[1].startswith("  范围  重度")
    assert lines[2].startswith("  全部  14  ")
    assert lines[3].strip().startswith("“<5”")


def test_the_college_leaders_token_command_carries_the_college_the_roster_gives_them() -> None:
    """Stats reads a college leader's colleges from the token: the printed command minted a
    token every outcome figure refused (403)."""
    rows = list(csv.DictReader(io.StringIO((SAMPLES / "roster_staff.csv").read_text("utf-8-sig"))))
    held = next(r for r in rows if r["工号/学号"] == DEMO_PEOPLE[Role.COLLEGE_LEADER])
    assert DEMO_SCOPES[Role.COLLEGE_LEADER] == (f"college:{held['范围']}",)
    assert token_command(Role.COLLEGE_LEADER).endswith(f"--scope college:{held['范围']}")
    assert "--scope" not in token_command(Role.COUNSELING_CENTER)


def test_the_demo_without_a_running_platform_says_so_and_counts_no_term(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `make demo` after `make up` had stopped announced "term 4", then said only
    # "error: [Errno 111] Connection refused", and the next real term was numbered 5.
    monkeypatch.setenv("SHOUWANG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SHOUWANG_LANG", raising=False)  # zh-CN, the default
    (tmp_path / "local.env").write_text("SHOUWANG_JWT_SECRET=" + "s" * 32 + "\n")
    for info in REGISTRY.values():
        monkeypatch.setenv(f"{info.env_prefix}PORT", str(free_port()))

    assert main([]) == 1

    said = capsys.readouterr().out
    assert "平台没有应答（intake http://127.0.0.1:" in said
    assert "请在另一个终端运行 `make up`" in said
    assert "第 1 学期" not in said  # no term announced
    assert not (tmp_path / "demo-terms.json").exists()


def test_two_terms_in_one_minute_upload_two_census_files() -> None:
    # Stamped to the minute, two `make demo` runs within a minute sent the same bytes: intake
    # answered with the first batch and the second term's census was never graded.
    first = census_for_today(samples_dir(), datetime(2026, 12, 8, 0, 34, 5, tzinfo=UTC))
    second = census_for_today(samples_dir(), datetime(2026, 12, 8, 0, 34, 59, tzinfo=UTC))
    assert first != second
    rows = list(csv.reader(io.StringIO(first.decode())))
    assert rows[1][2].endswith(":05"), rows[1]
