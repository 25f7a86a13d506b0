"""Wiring at the entry points: settings → engine, session factory, profile, mail settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from casework.profiles import Profile
from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.mail.render import Programme
from hjemtilos.mail.sender import SmtpConfig
from hjemtilos.settings import Settings


@dataclass(frozen=True)
class App:
    settings: Settings
    profile: Profile
    engine: Engine
    session_factory: sessionmaker[Session]

    @property
    def programme(self) -> Programme:
        return Programme(phone=self.settings.programme_phone, email=str(self.settings.programme_email),
                         privacy_url=self.settings.effective_privacy_url,
                         coordinator=self.settings.coordinator_name)

    @property
    def smtp(self) -> SmtpConfig:
        s = self.settings
        return SmtpConfig(
            host=s.smtp_host,
            port=s.smtp_port,
            security=s.effective_smtp_security.value,
            user=s.smtp_user or None,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout,
            claim=timedelta(seconds=s.mail_claim_seconds),
            ca_file=str(s.smtp_ca_file) if s.smtp_ca_file else None,
            mail_from=str(s.mail_from),
            mail_from_name=s.mail_from_name,
        )


def build_app(settings: Settings | None = None) -> App:
    settings = settings or Settings()
    settings.move_legacy_sqlite()
    engine = make_engine(settings.effective_database_url)
    return App(settings=settings, profile=settings.load_profile(), engine=engine,
               session_factory=make_session_factory(engine))
