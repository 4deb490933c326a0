"""Local state lives in SHOUWANG_DATA_DIR when set, else in the checkout's `.data`."""

from __future__ import annotations

from pathlib import Path

import pytest
from shouwang_devstack._proc import data_dir
from shouwang_devstack.cli import main
from shouwang_devstack.local_ports import LocalPorts, ports_record
from shouwang_devstack.localenv import read_env_file
from shouwang_devstack.stack import Stack


def test_local_state_is_kept_in_the_checkouts_data_dir_by_default(tmp_path: Path) -> None:
    assert data_dir(tmp_path, {}) == tmp_path / ".data"
    assert data_dir(tmp_path, {"SHOUWANG_DATA_DIR": "  "}) == tmp_path / ".data"


def test_shouwang_data_dir_moves_local_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path.resolve()
    monkeypatch.chdir(here)
    repo = here / "repo"
    assert data_dir(repo, {"SHOUWANG_DATA_DIR": "state"}) == here / "state"  # from the cwd
    assert data_dir(repo, {"SHOUWANG_DATA_DIR": str(here / "abs")}) == here / "abs"

    monkeypatch.setenv("SHOUWANG_DATA_DIR", "state")
    stack = Stack(repo, LocalPorts())
    assert stack.data == here / "state"
    assert stack.ports_path == ports_record(repo) == here / "state" / "ports.env"


def test_commands_keep_their_files_in_the_moved_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, state = tmp_path / "repo", tmp_path / "state"
    repo.mkdir()
    monkeypatch.setenv("SHOUWANG_REPO_ROOT", str(repo))  # no migrations: `env` needs no server
    monkeypatch.setenv("SHOUWANG_DATA_DIR", str(state))
    # An exported secret beats local.env's (as it should); this test is about local.env.
    monkeypatch.delenv("SHOUWANG_JWT_SECRET", raising=False)
    assert main(["env", "intake"]) == 0
    secret = read_env_file(state / "local.env")["SHOUWANG_JWT_SECRET"]
    assert f"export SHOUWANG_JWT_SECRET='{secret}'" in capsys.readouterr().out
    assert main(["down"]) == 0
    assert not (repo / ".data").exists()
