"""`shouwang-token` mints tokens intake accepts, with the secrets `make up` generated."""

from __future__ import annotations

from pathlib import Path

import pytest
from shouwang_contracts.auth import TokenVerifier
from shouwang_contracts.vocabulary import Role
from shouwang_intake.entrypoints import token_cli

# What `make up`'s local.env holds, and `shouwang-token` adopts into the environment.
LOCAL_SECRETS = (
    "SHOUWANG_JWT_SECRET",
    "SHOUWANG_PSEUDONYM_KEY",
    "SHOUWANG_NOTE_KEYS",
    "SHOUWANG_DB_ROLE_SECRET",
)


@pytest.fixture(autouse=True)
def _environment_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """`shouwang-token` writes local.env's values into os.environ. monkeypatch restores only
    what it touched, so touch each such variable first: afterwards each is as it was, set or
    not, and later tests do not inherit a secret from here."""
    for name in LOCAL_SECRETS:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_token_uses_the_local_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "x" * 48
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "local.env").write_text(f"# generated\nSHOUWANG_JWT_SECRET={secret}\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    monkeypatch.delenv("SHOUWANG_JWT_SECRET", raising=False)
    monkeypatch.delenv("SHOUWANG_ENV", raising=False)
    monkeypatch.delenv("SHOUWANG_DATA_DIR", raising=False)
    assert (
        token_cli.main(
            [
                "--role",
                "dorm_leader",
                "--campus",
                "demo",
                "--sub",
                "s1",
                "--scope",
                "room:8号楼/202",
            ]
        )
        == 0
    )
    principal = TokenVerifier(secret=secret).verify(capsys.readouterr().out.strip())
    assert (principal.role, principal.campus_id, principal.sub) == (Role.DORM_LEADER, "demo", "s1")
    assert [str(g) for g in principal.scope] == ["room:8号楼/202"]


def test_token_uses_the_local_env_file_in_a_moved_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make up` with SHOUWANG_DATA_DIR keeps local.env there; a stale `.data` is not used."""
    secret, stale = "m" * 48, "s" * 48
    (tmp_path / "moved").mkdir()
    (tmp_path / "moved" / "local.env").write_text(f"SHOUWANG_JWT_SECRET={secret}\n")
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "local.env").write_text(f"SHOUWANG_JWT_SECRET={stale}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHOUWANG_JWT_SECRET", raising=False)
    monkeypatch.delenv("SHOUWANG_ENV", raising=False)
    monkeypatch.setenv("SHOUWANG_DATA_DIR", "moved")  # relative to the working directory
    assert token_cli.main(["--role", "dorm_leader", "--campus", "demo", "--sub", "s1"]) == 0
    principal = TokenVerifier(secret=secret).verify(capsys.readouterr().out.strip())
    assert principal.sub == "s1"


def test_no_tokens_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOUWANG_ENV", "production")
    monkeypatch.setenv("SHOUWANG_JWT_SECRET", "p" * 48)
    monkeypatch.setenv("SHOUWANG_PSEUDONYM_KEY", "q" * 48)
    monkeypatch.setenv("SHOUWANG_NOTE_KEYS", "k:" + "A" * 43)
    monkeypatch.setenv("SHOUWANG_JWKS_URL", "https://sso.example.edu.cn/jwks")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    assert token_cli.main(["--role", "auditor", "--campus", "demo", "--sub", "a"]) == 2
