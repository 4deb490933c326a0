"""Services run as real subprocesses: ready on /readyz, killable with SIGKILL, restartable."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from shouwang_devstack.cli import build_parser, render_line
from shouwang_devstack.services import REGISTRY, present_services, service_command


def test_registry_ports_follow_the_conventions() -> None:
    assert {name: info.port for name, info in REGISTRY.items()} == {
        "intake": 8001,
        "triage": 8002,
        "casework": 8003,
        "notify": 8004,
        "stats": 8005,
    }
    assert REGISTRY["intake"].database_env == "INTAKE_DATABASE_URL"


def test_present_services_are_those_built_with_a_package() -> None:
    names = [info.name for info in present_services()]
    assert names[:3] == ["intake", "triage", "casework"]  # start order
    assert all(name in REGISTRY for name in names)
    assert service_command(REGISTRY["intake"])[0].endswith(("shouwang-intake", "python"))


def test_a_service_folder_without_a_package_is_not_started(tmp_path: Path) -> None:
    """notify and stats have a folder and a pyproject, but nothing `make up` could run."""
    (tmp_path / "services" / "notify").mkdir(parents=True)
    (tmp_path / "services" / "notify" / "pyproject.toml").write_text("[project]\n")
    package = tmp_path / "services" / "intake" / "src" / "shouwang_intake"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (tmp_path / "services" / "intake" / "pyproject.toml").write_text("[project]\n")
    assert [info.name for info in present_services(tmp_path)] == ["intake"]


def test_json_log_lines_are_rendered_readably() -> None:
    line = (
        '{"time": "2026-11-29 08:40:27,019", "level": "WARNING", "logger": "x.y", '
        '"message": "slow", "trace_id": "abc", "service": "intake"}'
    )
    assert render_line(line) == "08:40:27,019 WARNING slow  (x.y)  trace_id=abc"
    assert render_line("not json") == "not json"


def test_cli_knows_its_commands() -> None:
    parser = build_parser()
    for argv in (["up"], ["down"], ["kafka"], ["postgres"], ["topics"], ["jars"]):
        assert parser.parse_args(argv).command == argv[0]
    assert parser.parse_args(["migrate", "intake"]).service == "intake"


@pytest.mark.integration
async def test_intake_runs_as_a_subprocess_and_survives_kill_9(service_process) -> None:  # type: ignore[no-untyped-def]
    intake = service_process("intake")
    await intake.start_async()
    async with httpx.AsyncClient(base_url=intake.base_url) as client:
        assert (await client.get("/readyz")).status_code == 200

        intake.kill()
        assert intake.returncode == -signal.SIGKILL
        assert not intake.is_running()

        await intake.start_async()  # same env, same port, same database
        assert (await client.get("/readyz")).status_code == 200
