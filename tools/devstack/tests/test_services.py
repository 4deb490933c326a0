"""Services run as real subprocesses: ready on /readyz, killable with SIGKILL, restartable."""

from __future__ import annotations

import http.server
import re
import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest
from shouwang_devstack._proc import DevstackError, free_port, read_live_pid, repo_root, wait_until
from shouwang_devstack.cli import build_parser, main
from shouwang_devstack.console import render_line, say
from shouwang_devstack.local_ports import LocalPorts
from shouwang_devstack.services import (
    REGISTRY,
    ServiceProcess,
    present_services,
    reachable_host,
    service_command,
    service_host,
    service_port,
)
from shouwang_devstack.stack import Stack


def test_registry_ports_follow_the_conventions() -> None:
    assert {name: info.port for name, info in REGISTRY.items()} == {
        "intake": 8001,
        "triage": 8002,
        "casework": 8003,
        "notify": 8004,
        "stats": 8005,
        "gateway": 8080,
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


def test_a_service_port_variable_moves_the_service() -> None:
    intake = REGISTRY["intake"]
    assert intake.port_env == "INTAKE_PORT"
    assert service_port(intake, {}) == 8001
    assert service_port(intake, {"INTAKE_PORT": "  "}) == 8001
    assert service_port(intake, {"TRIAGE_PORT": "18002"}) == 8001
    assert service_port(intake, {"INTAKE_PORT": " 18001 "}) == 18001


@pytest.mark.parametrize("value", ["intake", "0", "65536", "80.01"])
def test_a_service_port_variable_that_is_no_port_is_refused_by_name(value: str) -> None:
    with pytest.raises(DevstackError, match="INTAKE_PORT"):
        service_port(REGISTRY["intake"], {"INTAKE_PORT": value})


def _stack_on_free_ports() -> Stack:
    return Stack(repo_root(), LocalPorts(free_port(), free_port(), free_port()))


def test_up_starts_a_service_on_its_port_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("INTAKE_PORT", str(port))
    proc = _stack_on_free_ports().service_process(REGISTRY["intake"], {})
    assert proc.port == port
    assert proc.base_url == f"http://127.0.0.1:{port}"  # the banner and /readyz
    assert proc.full_env()["INTAKE_PORT"] == str(port)


def test_up_checks_the_moved_service_port(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("INTAKE_PORT", str(port))
    stack = _stack_on_free_ports()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        with pytest.raises(DevstackError) as busy:
            stack.preflight([REGISTRY["intake"]])
    assert f"port {port} busy on 127.0.0.1 (needed by intake)" in str(busy.value)
    assert "INTAKE_PORT" in str(busy.value)

    monkeypatch.setenv("INTAKE_PORT", "not-a-port")
    with pytest.raises(DevstackError, match="INTAKE_PORT='not-a-port'"):
        stack.preflight([REGISTRY["intake"]])


WILDCARD = "0.0.0.0"  # noqa: S104 - what an operator sets to listen on every interface


def test_a_service_host_variable_says_where_it_listens() -> None:
    intake = REGISTRY["intake"]
    assert service_host(intake, {}) == "127.0.0.1"
    assert service_host(intake, {"INTAKE_HOST": " "}) == "127.0.0.1"
    assert service_host(intake, {"TRIAGE_HOST": WILDCARD}) == "127.0.0.1"
    assert service_host(intake, {"INTAKE_HOST": f" {WILDCARD} "}) == WILDCARD
    # A wildcard bind is reached on loopback; any other address as it is.
    assert reachable_host(WILDCARD) == "127.0.0.1"
    assert reachable_host("::") == "::1"
    assert reachable_host("10.1.2.3") == "10.1.2.3"
    assert ServiceProcess("intake", Path("x.log"), port=8001, host=WILDCARD).base_url == (
        "http://127.0.0.1:8001"
    )
    assert ServiceProcess("intake", Path("x.log"), port=8001, host="::1").base_url == (
        "http://[::1]:8001"
    )


def test_a_service_binds_where_it_is_looked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """An inherited `<SVC>_HOST` used to win over `host`, so the service bound one address
    while `ready()` and `base_url` looked at another."""
    monkeypatch.setenv("INTAKE_HOST", "127.0.0.2")
    proc = ServiceProcess("intake", Path("x.log"), port=8001, env={"INTAKE_HOST": "127.0.0.3"})
    assert proc.full_env()["INTAKE_HOST"] == "127.0.0.1" == proc.host
    assert proc.base_url == "http://127.0.0.1:8001"


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("host", ["127.0.0.2", WILDCARD])
def test_up_waits_for_a_service_where_its_host_variable_put_it(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """`up` used to ask 127.0.0.1 for /readyz whatever INTAKE_HOST said, and so waited for a
    service on another address until it gave up."""
    server = http.server.ThreadingHTTPServer((host, 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        monkeypatch.setenv("INTAKE_HOST", host)
        monkeypatch.setenv("INTAKE_PORT", str(port))
        stack = _stack_on_free_ports()
        proc = stack.service_process(REGISTRY["intake"], {})
        assert proc.full_env()["INTAKE_HOST"] == host
        assert proc.ready()
        with pytest.raises(DevstackError) as busy:  # and checks that address before starting
            stack.preflight([REGISTRY["intake"]])
        assert f"port {port} busy on {host} (needed by intake)" in str(busy.value)
    finally:
        server.shutdown()
        server.server_close()


def test_up_refuses_two_services_on_one_port(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("INTAKE_PORT", str(port))
    monkeypatch.setenv("TRIAGE_PORT", str(port))
    with pytest.raises(DevstackError, match=f"INTAKE_PORT and TRIAGE_PORT share port {port}"):
        _stack_on_free_ports().preflight([REGISTRY["intake"], REGISTRY["triage"]])


def test_env_prints_the_port_up_would_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A root without the service's migrations: `env` provisions nothing, needs no server.
    monkeypatch.setenv("SHOUWANG_REPO_ROOT", str(tmp_path))
    monkeypatch.delenv("SHOUWANG_DATA_DIR", raising=False)
    monkeypatch.setenv("INTAKE_PORT", "18001")
    assert main(["env", "intake"]) == 0
    assert "export INTAKE_PORT='18001'" in capsys.readouterr().out


def test_json_log_lines_are_rendered_readably() -> None:
    line = (
        '{"time": "2026-11-29 08:40:27,019", "level": "WARNING", "logger": "x.y", '
        '"message": "slow", "trace_id": "abc", "service": "intake"}'
    )
    assert render_line(line) == "08:40:27,019 WARNING slow  (x.y)  trace_id=abc"
    assert render_line("not json") == "not json"


def test_lines_printed_from_several_threads_stay_whole(capsys: pytest.CaptureFixture[str]) -> None:
    """`up` prints its messages while one thread per service prints that service's log."""

    def shout(label: str) -> None:
        for n in range(3000):
            say(f"{label} {n}")

    threads = [threading.Thread(target=shout, args=(label,)) for label in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if not re.fullmatch(r"\[devstack\] [abc] \d+", line)] == []
    assert len(lines) == 9000


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


@pytest.mark.integration
async def test_down_stops_a_service_that_a_killed_up_left_running(  # type: ignore[no-untyped-def]
    service_process, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After `make up` was killed, `make down` stopped Kafka and PostgreSQL and left all six
    # services on their ports: their pid files' marker was not in their command lines.
    monkeypatch.setenv("SHOUWANG_DATA_DIR", str(tmp_path))
    intake = service_process("intake")
    intake.pid_path = tmp_path / "logs" / "intake.pid"  # where `up` records it
    await intake.start_async()
    assert read_live_pid(intake.pid_path) == intake.pid

    assert main(["down"]) == 0

    # `down` returns once the process has ended; a multi-threaded process whose main thread
    # shows as a zombie may take a moment more before its parent (this test) can reap it, so
    # `is_running` (Popen.poll) is given a bound to see it gone (a loaded CI saw that window).
    assert wait_until(lambda: not intake.is_running(), timeout=10)
    assert not intake.pid_path.exists()
