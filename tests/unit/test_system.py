"""What `hjemtilos up` decides before it starts anything: binding, the worker's command line, the SMTP options."""

from __future__ import annotations

from pathlib import Path

import pytest

from hjemtilos.mail.sender import SmtpConfig
from hjemtilos.settings import Settings
from hjemtilos.system import Endpoints, check_binding, prefect_env, worker_command


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_auth_string(host: str) -> None:
    check_binding(host, {})


def test_any_other_address_is_refused_without_an_auth_string() -> None:
    with pytest.raises(SystemExit, match=r"Refusing to bind Prefect to 0\.0\.0\.0"):
        check_binding("0.0.0.0", {})
    check_binding("0.0.0.0", {"PREFECT_SERVER_API_AUTH_STRING": "admin:secret"})


def test_worker_command_is_the_process_worker_on_the_pool_with_its_limit() -> None:
    command = worker_command(7)
    assert Path(command[0]).name == "prefect"
    assert command[1:] == ["worker", "start", "--pool", "hjemtilos", "--type", "process", "--limit", "7",
                           "--prefetch-seconds", "1"]


def test_prefect_env_points_every_process_at_one_server(tmp_path: Path) -> None:
    env = prefect_env(Settings(data_dir=tmp_path, profile="fast"), Endpoints("127.0.0.1", 4321))
    assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect") and (tmp_path / "prefect").is_dir()
    assert env["PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS"] == "3600"
    assert env["HJEMTILOS_PROFILE"] == "fast"
    # the embedded PostgreSQL by default, on its socket in the data folder, for Prefect and the case database
    assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://postgres@/prefect?")
    assert env["HJEMTILOS_DATABASE_URL"].startswith("postgresql+psycopg://postgres@/hjemtilos?")
    assert all(f"host={tmp_path}/pg&port=5432" in env[key] for key in ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "HJEMTILOS_DATABASE_URL"))


def test_sqlite_stays_a_setting(tmp_path: Path) -> None:
    env = prefect_env(Settings(data_dir=tmp_path, embedded_database="sqlite"), Endpoints("127.0.0.1", 4321))
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in env  # Prefect on its own SQLite file
    assert env["HJEMTILOS_DATABASE_URL"] == f"sqlite:///{tmp_path / 'hjemtilos.db'}"


@pytest.mark.parametrize(("security", "ssl", "tls"), [("none", False, False), ("starttls", False, True),
                                                      ("ssl", True, False)])
def test_smtp_security_modes(security: str, ssl: bool, tls: bool) -> None:
    backend = SmtpConfig(host="smtp.example.dk", port=587, security=security, user="hjem", password="pw").backend()
    assert (backend.ssl, bool(backend.tls)) == (ssl, tls)
    assert backend.smtp_cls is (backend.connection_ssl_cls if ssl else backend.connection_cls)
    assert backend.smtp_cls_kwargs["user"] == "hjem" and backend.smtp_cls_kwargs["host"] == "smtp.example.dk"


def test_smtp_without_a_user_logs_in_as_nobody() -> None:
    backend = SmtpConfig(host="127.0.0.1", port=8025).backend()
    assert "user" not in backend.smtp_cls_kwargs


def test_a_mail_claim_must_outlast_three_smtp_timeouts(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at least three times HJEMTILOS_SMTP_TIMEOUT"):
        Settings(data_dir=tmp_path, smtp_timeout=10, mail_claim_seconds=20)
    settings = Settings(data_dir=tmp_path, smtp_timeout=5, mail_claim_seconds=15)
    assert settings.mail_claim_seconds == 15
