"""Programme timings as a named profile (``production`` or ``fast``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from casework.durations import Duration


class Timings(BaseModel):
    """Every delay of the programme. Values are read from ``config/profiles/<name>.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    child_visit_after: Duration
    future_agreement_after: Duration
    farewell_after: Duration
    visits_start_after_first_meeting: Duration
    first_visit_followup_after: Duration
    consent_reminder_after: Duration
    consent_escalation_after: Duration
    approval_reminder_after: Duration
    approval_escalation_after: Duration
    reminder_repeat_every: Duration
    supervision_every: Duration
    screening_reminder_after: Duration
    timekeeper_every: Duration
    stuck_after: Duration
    # recovery: a Running run whose process sent no heartbeat this long is Crashed (Prefect beats every 30 s at
    # the least, so never under a minute); a dead run is continued at once, then after this, then after 4× this
    silent_run_after: Duration
    restart_backoff: Duration

    @field_validator("silent_run_after")
    @classmethod
    def _two_heartbeats(cls, value: Duration) -> Duration:
        if value.months == 0 and value.seconds < 60:
            raise ValueError("silent_run_after must be at least 60 seconds (two of Prefect's heartbeats)")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            return Duration.parse(value)
        return value


class Profile(BaseModel):
    """A named set of timings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    timings: Timings
