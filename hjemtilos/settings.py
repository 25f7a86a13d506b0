"""All configuration in one pydantic-settings object (env prefix ``HJEMTILOS_``, optional ``.env``)."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path

from pydantic import EmailStr, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casework.profiles import Profile
from hjemtilos import PROJECT_ROOT

PROFILE_DIR = PROJECT_ROOT / "config" / "profiles"
INBOX_SPAN_SECONDS = 120 * 2_625_840  # "Past 120 months" in the Prefect UI's date filter (its month: 2,625,840 s)


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


class EmbeddedDatabase(StrEnum):
    POSTGRESQL = "postgresql"  # the PostgreSQL server `hjemtilos up` runs from its wheel (hjemtilos/host/embedded_pg.py)
    SQLITE = "sqlite"  # files under data_dir, no server


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HJEMTILOS_", env_file=".env", extra="ignore")

    profile: str = Field(default="production", description="Timing profile in config/profiles: production or fast")
    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="Where the embedded database and mail live")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: the embedded database")
    embedded_database: EmbeddedDatabase = Field(
        default=EmbeddedDatabase.POSTGRESQL, description="What backs the case database and Prefect when no URL is "
                                                          "given: postgresql (run by 'hjemtilos up') or sqlite")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: SmtpSecurity | None = Field(
        default=None, description="none, starttls or ssl; default: none on loopback (the local catcher), starttls "
                                  "for any other host")
    smtp_ca_file: Path | None = Field(default=None, description="CA certificates (PEM) that vouch for the SMTP "
                                                                "server under starttls/ssl; default: the system's")
    smtp_timeout: float = Field(default=10.0, gt=0, description="Seconds an SMTP command may take")
    mail_claim_seconds: float = Field(
        default=60.0, gt=0, description="How long a mail being sent is held for its sender: a sender that dies "
                                        "mid-conversation holds back that one mail this long; at least three "
                                        "SMTP timeouts")
    mail_from: EmailStr = "hjemtilos@redbarnet.dk"
    mail_from_name: str = "Red Barnet – Hjem til Os"
    coordinator_email: EmailStr = "koordinator@redbarnet.dk"
    coordinator_name: str = "Koordinator, Hjem til Os"
    admin_email: EmailStr = "admin@redbarnet.dk"
    programme_phone: str = "+45 35 36 55 55"
    programme_email: EmailStr = "hjemtilos@redbarnet.dk"

    prefect_host: str = Field(default="127.0.0.1", description="Where 'hjemtilos up' binds the Prefect server")
    prefect_port: int = 4200
    prefect_database_url: str | None = Field(
        default=None, description="Database of the Prefect server 'hjemtilos up' starts (postgresql://...); "
                                  "default: SQLite under data_dir")
    prefect_db_pool_size: int = Field(default=5, ge=1, description="Prefect server's connection pool (PostgreSQL)")
    prefect_db_max_overflow: int = Field(default=10, ge=0)
    prefect_ui_url: str | None = Field(default=None, description="Base of links to the Prefect UI in mails")

    privacy_url: str | None = Field(default=None, description="The privacy notice linked from every mail and the "
                                                              "form; default: the form's own /privatliv page")
    elearning_url: str = "https://redbarnet.dk/hjemtilos/e-laering"
    supervision_url: str = "https://redbarnet.dk/hjemtilos/supervision"
    certificate_renewal_years: int = Field(default=2, ge=1, le=5, description="Renew each member's børneattest "
                                           "and straffeattest and the family's e-learning every so many years (Red "
                                           "Barnet recommends 1-3)")
    certificate_notice_days: int = Field(default=90, ge=1, le=365, description="How long before a renewal falls "
                                         "due the coordinator is reminded and the reports count it as due")

    form_port: int = Field(default=8040, description="Loopback port of the referral form and the workspace behind "
                                                     "the front door (hjemtilos up)")
    form_limit_per_client: str = Field(default="30/hour", description="Submissions of the referral form one client "
                                                                      "(IP address) may make, in limits' notation")
    form_limit_per_referrer: str = Field(default="10/hour", description="Submissions naming one referrer's e-mail "
                                                                        "address")

    @field_validator("form_limit_per_client", "form_limit_per_referrer", "referrer_link_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"not a rate such as '30/hour': {value!r}") from exc
        return value

    front_host: str = Field(default="127.0.0.1", description="Where the front door (Caddy) listens: the workspace, "
                                                             "the referral form and the Prefect UI on one address")
    front_port: int = Field(default=8080, description="The front door's port")
    front_url: str | None = Field(default=None, description="The front door's address as people reach it (links in "
                                                            "mails); default: http(s)://front_host:front_port")
    front_tls_cert: Path | None = Field(default=None, description="TLS certificate (PEM) of the front door; "
                                                                  "required off loopback unless front_tls_internal")
    front_tls_key: Path | None = Field(default=None, description="Its private key (PEM)")
    front_door_record: Path | None = Field(default=None, description="Append every Prefect call the front door "
                                           "decides (role, method, path, admitted) to this file as JSON lines: for "
                                           "recording a tour of the UI (tests/data/coordinator-tour.json)")
    front_tls_internal: bool = Field(default=False, description="Let Caddy issue the front door's certificate from "
                                                                "its own local CA (browsers must trust that CA)")
    workspace_idle_minutes: int = Field(default=30, ge=1, description="A workspace session ends after this many "
                                                                      "minutes without a request")

    retention_file: Path = Field(default=PROJECT_ROOT / "config" / "retention.toml",
                                 description="How long each kind of record is kept (periods for the DPO to confirm)")
    retention_daily: bool = Field(default=True, description="The timekeeper applies the retention file once a day")

    referrer_verification: bool = Field(default=True, description="The referral form opens only through a one-time "
                                                                  "link sent to an address in referrer_domains")
    referrer_domains: list[str] = Field(default=["kk.dk"], description="Mail domains whose caseworkers may refer "
                                                                       "(subdomains included), as a JSON list")
    referrer_link_hours: int = Field(default=24, ge=1, description="How long a link to the referral form works")
    referrer_link_limit: str = Field(default="5/hour", description="Links one address may ask for, in limits' "
                                                                   "notation")

    mail_catcher_host: str = "127.0.0.1"
    mail_catcher_port: int = 8025

    @model_validator(mode="after")
    def _claim_outlasts_a_conversation(self) -> Settings:
        if self.mail_claim_seconds < 3 * self.smtp_timeout:
            raise ValueError("HJEMTILOS_MAIL_CLAIM_SECONDS must be at least three times HJEMTILOS_SMTP_TIMEOUT, "
                             "or a slow SMTP conversation could be taken over and its mail sent twice")
        return self

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_privacy_url(self) -> str:
        return self.privacy_url or f"{self.front_origin}/henvisning/privatliv"

    @property
    def effective_smtp_security(self) -> SmtpSecurity:
        """What mail delivery uses: the setting, or STARTTLS for every host but loopback (mail and the SMTP password
        never cross a network in the clear unless someone says so)."""
        if self.smtp_security is not None:
            return self.smtp_security
        loopback = self.smtp_host in ("127.0.0.1", "localhost", "::1")
        return SmtpSecurity.NONE if loopback else SmtpSecurity.STARTTLS

    @property
    def embedded_pg_folder(self) -> Path:
        return self.data_dir / "pg"

    @property
    def embedded_sqlite_path(self) -> Path:
        """The case database on the embedded SQLite: in a folder of its own, which the flow runs' system user may
        share when `up` runs as root (hjemtilos/host/run_user.py)."""
        return self.data_dir / "cases" / "hjemtilos.db"

    def move_legacy_sqlite(self) -> bool:
        """Move the embedded SQLite case database from where versions before its folder kept it
        (``<data>/hjemtilos.db``, with its -wal and -shm) to ``embedded_sqlite_path``, unless that holds one
        already. Returns whether it moved."""
        legacy = self.data_dir / "hjemtilos.db"
        target = self.embedded_sqlite_path
        if self.database_url or self.embedded_database is not EmbeddedDatabase.SQLITE or target.exists() or \
                not legacy.exists():
            return False
        target.parent.mkdir(mode=0o700, exist_ok=True)
        for suffix in ("-wal", "-shm", ""):  # the database file last: a crash in between leaves it to move again
            old = legacy.with_name(legacy.name + suffix)
            if old.exists():
                old.rename(target.with_name(target.name + suffix))
        return True

    @property
    def uses_embedded_postgres(self) -> bool:
        """Whether either database is the embedded PostgreSQL server (``hjemtilos up`` starts it)."""
        return self.embedded_database is EmbeddedDatabase.POSTGRESQL and not (
            self.database_url and self.prefect_database_url)

    def _embedded_url(self, database: str, driver: str) -> str:
        from hjemtilos.host.embedded_pg import url

        return url(self.embedded_pg_folder, database, driver)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        if self.embedded_database is EmbeddedDatabase.POSTGRESQL:
            return self._embedded_url("hjemtilos", "psycopg")
        return f"sqlite:///{self.embedded_sqlite_path}"

    @property
    def prefect_server_database_url(self) -> str | None:
        """The Prefect server's database URL with the async driver it needs (asyncpg), or None for SQLite."""
        url = self.prefect_database_url
        if not url:
            if self.embedded_database is EmbeddedDatabase.POSTGRESQL:
                return self._embedded_url("prefect", "asyncpg")
            return None
        for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix):]
        return url

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self.prefect_host}:{self.prefect_port}/api"

    @property
    def front_tls(self) -> bool:
        return self.front_tls_internal or self.front_tls_cert is not None

    @property
    def front_origin(self) -> str:
        if self.front_url:
            return self.front_url.rstrip("/")
        return f"{'https' if self.front_tls else 'http'}://{self.front_host}:{self.front_port}"

    @property
    def ui_base(self) -> str:
        """Where people open the Prefect UI: through the front door."""
        return (self.prefect_ui_url or self.front_origin).rstrip("/")

    def workspace_url(self, path: str = "/") -> str:
        """A page of the workspace behind the front door, e.g. ``/sager/HTO-2026-0001``."""
        return f"{self.front_origin}/arbejde{path}"

    @property
    def referral_form_url(self) -> str:
        return f"{self.front_origin}/henvisning/"

    def inbox_url(self, tag: str | None = "waits:coordinator") -> str:
        """The Prefect UI's list of waiting runs over the last ten years (the UI's default window is the past 7
        days of start times, which hides every case referred earlier), by default those waiting for a
        coordinator (case and volunteer-family runs alike)."""
        from urllib.parse import quote

        url = f"{self.ui_base}/runs?state=Suspended&state=Paused&type=span&seconds=-{INBOX_SPAN_SECONDS}"
        return url + (f"&tag={quote(tag)}" if tag else "")

    @property
    def maildir(self) -> Path:
        return self.data_dir / "mailcatcher"

    def load_profile(self) -> Profile:
        return load_profile(self.profile)


def load_profile(name: str, directory: Path = PROFILE_DIR) -> Profile:
    path = directory / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.toml")))
        raise ValueError(f"unknown profile {name!r} (known: {known})")
    with path.open("rb") as handle:
        return Profile.model_validate(tomllib.load(handle))
