"""`up` points the gateway at the services wherever it runs them, and hands it no secret it
does not need to mint tokens."""

from __future__ import annotations

import pytest
from shouwang_devstack.localenv import generate_local_secrets
from shouwang_devstack.services import REGISTRY
from shouwang_devstack.stack import Stack


def test_the_gateway_follows_the_services_ports(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("SHOUWANG_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.setenv("INTAKE_PORT", "18001")
    monkeypatch.setenv("CASEWORK_HOST", "0.0.0.0")  # noqa: S104 - an address, not a bind
    monkeypatch.delenv("GATEWAY_INTAKE_URL", raising=False)
    stack = Stack(tmp_path_factory.mktemp("root"))
    stack.secrets = generate_local_secrets()
    stack.bootstrap = "127.0.0.1:9092"
    env = stack.service_env(REGISTRY["gateway"], {"gateway": "postgresql://g@x/db"})
    assert env["GATEWAY_INTAKE_URL"] == "http://127.0.0.1:18001"
    assert env["GATEWAY_CASEWORK_URL"] == "http://127.0.0.1:8003"  # a wildcard bind: loopback
    assert env["GATEWAY_STATS_URL"] == "http://127.0.0.1:8005"
    assert env["GATEWAY_DATABASE_URL"] == "postgresql://g@x/db"
    assert env["SHOUWANG_JWT_SECRET"] == stack.secrets["SHOUWANG_JWT_SECRET"]
    for unused in ("SHOUWANG_DB_ROLE_SECRET", "SHOUWANG_PSEUDONYM_KEY", "SHOUWANG_NOTE_KEYS"):
        assert unused not in env
    # Other services are not told where the others are.
    assert not any(k.startswith("GATEWAY_") for k in stack.service_env(REGISTRY["intake"], {}))


def test_only_the_demos_casework_lifts_the_per_person_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make demo` reads every case as one person at machine speed: casework under the demo
    lets it; every other service keeps the limits that stop a stolen token doing so."""
    monkeypatch.setenv("SHOUWANG_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    stack = Stack(tmp_path_factory.mktemp("root"))
    stack.secrets = generate_local_secrets()
    stack.bootstrap = "127.0.0.1:9092"
    casework = stack.service_env(REGISTRY["casework"], {})
    assert casework["SHOUWANG_AUDITED_READS_PER_HOUR"] == "0"
    assert casework["SHOUWANG_PER_PERSON_PER_MINUTE"] == "0"
    for name in ("intake", "triage", "stats"):
        env = stack.service_env(REGISTRY[name], {})
        assert not any(k.startswith(("SHOUWANG_PER_PERSON", "SHOUWANG_AUDITED")) for k in env)
