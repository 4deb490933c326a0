"""The local servers' ports come from SHOUWANG_*_PORT, and `shouwang-dev` uses them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from shouwang_devstack._proc import DevstackError, free_port, repo_root
from shouwang_devstack.cli import build_parser, main, requested_ports
from shouwang_devstack.local_ports import (
    LocalPorts,
    local_ports,
    ports_record,
    record_ports,
    running_ports,
)
from shouwang_devstack.stack import Stack


def test_unset_or_empty_means_the_usual_ports() -> None:
    assert local_ports({}) == LocalPorts(kafka=9092, kafka_controller=9093, postgres=5432)
    blank = {"SHOUWANG_KAFKA_PORT": "", "SHOUWANG_POSTGRES_PORT": "  "}
    assert local_ports(blank) == LocalPorts(9092, 9093, 5432)


def test_each_port_is_read_from_its_variable() -> None:
    ports = local_ports(
        {
            "SHOUWANG_KAFKA_PORT": "19092",
            "SHOUWANG_KAFKA_CONTROLLER_PORT": " 19093 ",
            "SHOUWANG_POSTGRES_PORT": "15432",
        }
    )
    assert ports == LocalPorts(kafka=19092, kafka_controller=19093, postgres=15432)
    assert ports.kafka_bootstrap == "127.0.0.1:19092"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SHOUWANG_KAFKA_PORT", "kafka"),
        ("SHOUWANG_KAFKA_CONTROLLER_PORT", "0"),
        ("SHOUWANG_POSTGRES_PORT", "65536"),
        ("SHOUWANG_POSTGRES_PORT", "54.32"),
    ],
)
def test_a_value_that_is_no_port_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(DevstackError, match=name):
        local_ports({name: value})


def test_two_servers_on_one_port_are_refused() -> None:
    with pytest.raises(DevstackError, match="SHOUWANG_KAFKA_CONTROLLER_PORT"):
        local_ports({"SHOUWANG_KAFKA_CONTROLLER_PORT": "9092"})
    with pytest.raises(DevstackError, match="SHOUWANG_POSTGRES_PORT"):
        local_ports({"SHOUWANG_KAFKA_PORT": "5432"})


@contextmanager
def _listening(*ports: int) -> Iterator[None]:
    with ExitStack() as stack:
        for port in ports:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", port))
            sock.listen()
        yield


def test_up_checks_the_configured_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    kafka, controller, postgres = free_port(), free_port(), free_port()
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SHOUWANG_KAFKA_PORT", str(kafka))
    monkeypatch.setenv("SHOUWANG_KAFKA_CONTROLLER_PORT", str(controller))
    monkeypatch.setenv("SHOUWANG_POSTGRES_PORT", str(postgres))
    stack = Stack(repo_root())
    assert stack.ports == LocalPorts(kafka, controller, postgres)

    with _listening(kafka, controller, postgres), pytest.raises(DevstackError) as busy:
        stack.preflight([])
    message = str(busy.value)
    assert f"port {kafka} busy on 127.0.0.1 (needed by Kafka)" in message
    assert f"port {controller} busy on 127.0.0.1 (needed by Kafka's controller)" in message
    assert f"port {postgres} busy on 127.0.0.1 (needed by PostgreSQL)" in message
    assert "SHOUWANG_KAFKA_PORT" in message


def test_single_server_commands_default_to_the_configured_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOUWANG_KAFKA_PORT", "29092")
    monkeypatch.setenv("SHOUWANG_KAFKA_CONTROLLER_PORT", "29093")
    monkeypatch.setenv("SHOUWANG_POSTGRES_PORT", "25432")
    parser = build_parser()
    kafka = requested_ports(parser.parse_args(["kafka"]))
    assert (kafka.kafka, kafka.kafka_controller) == (29092, 29093)
    assert requested_ports(parser.parse_args(["postgres"])).postgres == 25432
    flagged = requested_ports(parser.parse_args(["kafka", "--port", "39092"]))
    assert (flagged.kafka, flagged.kafka_controller) == (39092, 29093)


def test_a_bad_port_variable_stops_a_command_before_it_starts_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A root without deploy/local: should the variable be ignored, no broker could start here.
    monkeypatch.setenv("SHOUWANG_REPO_ROOT", str(tmp_path))
    monkeypatch.setenv("SHOUWANG_KAFKA_PORT", "kafka")
    assert main(["kafka"]) == 1
    assert "SHOUWANG_KAFKA_PORT='kafka' is not a port number" in capsys.readouterr().out


def test_commands_beside_a_running_up_find_the_ports_it_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`env`, `migrate` and `topics` from another terminal need not repeat up's variables."""
    monkeypatch.delenv("SHOUWANG_DATA_DIR", raising=False)  # never a real `up`'s record
    record = ports_record(tmp_path)
    assert running_ports(record, {}) == LocalPorts()  # nothing recorded: the usual ports
    record_ports(record, LocalPorts(kafka=19092, kafka_controller=19093, postgres=15432))
    assert running_ports(record, {}) == LocalPorts(19092, 19093, 15432)
    # A variable that is set still wins, one by one.
    assert running_ports(record, {"SHOUWANG_POSTGRES_PORT": "25432"}) == LocalPorts(
        19092, 19093, 25432
    )


def test_up_forgets_its_ports_when_it_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOUWANG_DATA_DIR", raising=False)  # never a real `up`'s record
    stack = Stack(tmp_path, LocalPorts(19092, 19093, 15432))
    record_ports(stack.ports_path, stack.ports)
    stack.stop()
    assert not stack.ports_path.exists()
    assert running_ports(ports_record(tmp_path), {}) == LocalPorts()
