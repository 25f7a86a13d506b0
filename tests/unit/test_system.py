"""What `hjemtilos up` decides before it starts anything: binding, the worker's command line, the SMTP options."""

from __future__ import annotations

from pathlib import Path

import pytest

from hjemtilos.host.prefect_processes import Endpoints, check_binding, prefect_env, worker_command
from hjemtilos.mail.sender import SmtpConfig
from hjemtilos.settings import Settings


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_auth_string(host: str) -> None:
    check_binding(host, {})


def test_any_other_address_is_refused_without_an_auth_string() -> None:
    with pytest.raises(SystemExit, match=r"Refusing to bind Prefect to 0\.0\.0\.0"):
        check_binding("0.0.0.0", {})
    check_binding("0.0.0.0", {"PREFECT_SERVER_API_AUTH_STRING": "admin:secret"})


def test_worker_command_is_the_process_worker_on_the_pool_with_its_limit_beside_a_zygote() -> None:
    cold = worker_command(7, warm=False)
    assert Path(cold[0]).name == "prefect"
    assert cold[1:] == ["worker", "start", "--pool", "hjemtilos", "--type", "process", "--limit", "7",
                        "--prefetch-seconds", "1"]
    warm = worker_command(7)  # the default: the same worker, its runs forked by a zygote of at most 7 children
    assert warm[1:6] == ["-m", "hjemtilos.warm.supervisor", "--limit", "7", "--"] and warm[6:] == cold


def test_prefect_env_points_every_process_at_one_server(tmp_path: Path) -> None:
    env = prefect_env(Settings(data_dir=tmp_path, profile="fast"), Endpoints("127.0.0.1", 4321))
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4321/api"  # the worker, flow runs and timekeeper: directly
    assert env["PREFECT_UI_API_URL"] == "http://127.0.0.1:8080/api"  # the browser: through the front door
    assert env["PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"] == "http://127.0.0.1:8080"
    auth = env["PREFECT_SERVER_API_AUTH_STRING"]
    assert len(auth) >= 40 and env["PREFECT_API_AUTH_STRING"] == auth
    assert (tmp_path / "prefect-auth").read_text() == auth and (tmp_path / "prefect-auth").stat().st_mode & 0o777 == 0o600
    again = prefect_env(Settings(data_dir=tmp_path, profile="fast"), Endpoints("127.0.0.1", 4321))
    assert again["PREFECT_SERVER_API_AUTH_STRING"] == auth  # made once, kept
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
    assert env["HJEMTILOS_DATABASE_URL"] == f"sqlite:///{tmp_path / 'cases' / 'hjemtilos.db'}"


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


def test_prefect_status_tells_slow_from_down() -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from hjemtilos.host.prefect_processes import prefect_status
    from tests.support import free_port

    assert prefect_status(f"http://127.0.0.1:{free_port()}/api", timeout=1) == "down"  # nothing listens
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers: a server busy with something else
    try:
        assert prefect_status(f"http://127.0.0.1:{silent.getsockname()[1]}/api", timeout=0.5) == "slow"
    finally:
        silent.close()

    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/api/health" else 404)
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert prefect_status(f"http://127.0.0.1:{server.server_port}/api") == "up"
    finally:
        server.shutdown()


def test_the_banner_says_where_mail_really_goes_and_times_in_copenhagen(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from hjemtilos.app import build_app
    from hjemtilos.host.system import System

    def banner(**settings: object) -> str:
        app = build_app(Settings(data_dir=tmp_path, embedded_database="sqlite", **settings))  # type: ignore[arg-type]
        try:
            return "\n".join(System(app).banner(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)))
        finally:
            app.engine.dispose()

    local = banner()
    assert "to the local mail catcher smtp://127.0.0.1:8025, nobody receives it" in local
    assert "Started:               2026-07-01 12:00 CEST (Copenhagen time)" in local
    assert "type=span&seconds=-315100800&tag=waits%3Acoordinator" in local  # the inbox covers every open case
    real = banner(smtp_host="smtp.redbarnet.dk", smtp_port=587, smtp_security="starttls")
    assert "to smtp://smtp.redbarnet.dk:587 (starttls): REAL recipients" in real


def test_smtp_is_starttls_by_default_off_loopback(tmp_path: Path) -> None:
    from hjemtilos.settings import SmtpSecurity

    assert Settings(data_dir=tmp_path).effective_smtp_security is SmtpSecurity.NONE  # the local catcher
    assert Settings(data_dir=tmp_path, smtp_host="smtp.redbarnet.dk").effective_smtp_security is SmtpSecurity.STARTTLS
    explicit = Settings(data_dir=tmp_path, smtp_host="smtp.redbarnet.dk", smtp_security="ssl")
    assert explicit.effective_smtp_security is SmtpSecurity.SSL


def test_the_front_door_needs_tls_off_loopback(tmp_path: Path) -> None:
    from hjemtilos.host.front_door import caddyfile, check_front_tls

    check_front_tls(Settings(data_dir=tmp_path))  # loopback: plain HTTP is fine
    with pytest.raises(SystemExit, match="without TLS"):
        check_front_tls(Settings(data_dir=tmp_path, front_host="0.0.0.0"))
    with pytest.raises(SystemExit, match="go together"):
        check_front_tls(Settings(data_dir=tmp_path, front_host="0.0.0.0", front_tls_cert=tmp_path / "c.pem"))
    served = Settings(data_dir=tmp_path, front_host="0.0.0.0", front_tls_cert=tmp_path / "c.pem",
                      front_tls_key=tmp_path / "k.pem")
    check_front_tls(served)
    config = caddyfile(served, "secret", 4200, 8040)
    assert served.front_origin == "https://0.0.0.0:8080" and "https://0.0.0.0:8080 {" in config
    assert f'tls "{tmp_path / "c.pem"}" "{tmp_path / "k.pem"}"' in config
    plain = caddyfile(Settings(data_dir=tmp_path), "secret", 4200, 8040)
    assert "http://127.0.0.1:8080 {" in plain and "auto_https off" in plain
    assert 'header_up Authorization "Basic c2VjcmV0"' in plain  # Prefect's auth string, added upstream only


def test_the_embedded_sqlite_case_database_moves_once_into_its_folder_with_its_wal(tmp_path: Path) -> None:
    from hjemtilos.app import build_app

    for name, text in (("hjemtilos.db", "cases"), ("hjemtilos.db-wal", "wal")):
        (tmp_path / name).write_text(text)
    settings = Settings(data_dir=tmp_path, embedded_database="sqlite")
    build_app(settings).engine.dispose()  # every entry point builds the app first
    assert not (tmp_path / "hjemtilos.db").exists() and not (tmp_path / "hjemtilos.db-wal").exists()
    assert (tmp_path / "cases" / "hjemtilos.db").read_text() == "cases"
    assert (tmp_path / "cases" / "hjemtilos.db-wal").read_text() == "wal"
    (tmp_path / "hjemtilos.db").write_text("older")  # one there already: the folder's is kept, nothing overwritten
    assert not settings.move_legacy_sqlite()
    assert (tmp_path / "cases" / "hjemtilos.db").read_text() == "cases"
