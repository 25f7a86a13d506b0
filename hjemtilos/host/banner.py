"""What ``hjemtilos up`` prints once everything runs: where each part is, where mail really goes, who runs the
flows, and when it started (Copenhagen time)."""

from __future__ import annotations

import os
from datetime import datetime

from casework.clock import format_local
from hjemtilos.settings import Settings

__all__ = ["banner"]


def _mail(settings: Settings) -> str:
    catcher = f"smtp://{settings.mail_catcher_host}:{settings.mail_catcher_port}"
    to_catcher = (settings.smtp_host, settings.smtp_port) in {
        (settings.mail_catcher_host, settings.mail_catcher_port), ("localhost", settings.mail_catcher_port)}
    if to_catcher:
        return f"to the local mail catcher {catcher}, nobody receives it (read it with 'hjemtilos mail list')"
    return (f"to smtp://{settings.smtp_host}:{settings.smtp_port} ({settings.effective_smtp_security.value}): "
            f"REAL recipients; the catcher at {catcher} receives nothing")


def banner(settings: Settings, *, embedded_postgres: bool, run_user: str | None, now: datetime) -> list[str]:
    ui = settings.ui_base
    database = (f"embedded PostgreSQL in {settings.embedded_pg_folder}" if embedded_postgres
                else "as configured (see above)")
    lines = [
        f"Workspace (sign in):   {settings.workspace_url()}",
        f"Coordinators' inbox:   {settings.inbox_url()}",
        f"All waiting runs:      {settings.inbox_url(tag=None)}",
        f"Prefect UI:            {ui}  (through the front door: sign in first)",
        f"Artifacts:             {ui}/artifacts  (stuck cases: stuck-cases)",
        f"Referral form:         {settings.referral_form_url}",
        f"Mail goes:             {_mail(settings)}",
        f"Databases:             {database}",
    ]
    if run_user is not None:
        lines.append(f"Flow runs run as:      the system user {run_user} (the worker and its zygote too)")
    return [*lines,
            f"Profile:               {settings.profile}",
            f"Started:               {format_local(now, '%Y-%m-%d %H:%M %Z')} (Copenhagen time)",
            "Stop:                  Ctrl-C, or SIGTERM to this process (pid " + str(os.getpid()) + ")"]
