"""The access log: who read or acted on which case, when, from where and why (C-579/21: a person may learn the
dates and purposes of the reads of their data). Rows are only ever added; retention removes old ones.

Prefect requests are seen by the front door (Caddy's forward_auth asks the workspace about each one): a request
that names a flow run is mapped to the run's case or family. The UI polls a run's page every few seconds, so a
view in Prefect is recorded once per user, run and ``VIEW_EVERY``; a resume is recorded every time, and it is
what names the approver of the step (``resumer_of``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from hjemtilos.db.models import AccessLogEntry, ReferralCase, VolunteerFamily


class Actor(Protocol):
    """Someone signed in (the workspace's signed-in user): the log keeps their id and user name."""

    @property
    def actor_id(self) -> int | None: ...

    @property
    def actor_name(self) -> str: ...


__all__ = [
    "CHANGES",
    "EXPORTED",
    "REFUSED",
    "RESUMED",
    "RESUME_REFUSED",
    "STARTED_RUN",
    "START_REFUSED",
    "UNATTRIBUTED",
    "VIEWED",
    "VIEWED_IN_PREFECT",
    "VIEW_EVERY",
    "Actor",
    "CaseAccess",
    "case_log",
    "mark_refused",
    "prefect_changes",
    "prefect_request",
    "record",
    "refused",
    "resumed",
    "resumer_of",
    "run_owner",
    "started_run",
    "starter_of",
]

VIEWED = "viewed"
VIEWED_IN_PREFECT = "viewed-in-prefect"
RESUMED = "resumed"
RESUME_REFUSED = "resume-refused"  # pressed Resume, but Prefect did not take the answer (the step was decided)
REFUSED = "refused"  # a Prefect call the front door's allow-list refused (purpose: method and path)
START_REFUSED = "start-refused"  # a deployment run Prefect would not create
EXPORTED = "exported"
VIEW_EVERY = timedelta(minutes=10)
# the actor of an answer given with Prefect's own credentials, not through the front door (a script, the CLI, a test)
UNATTRIBUTED = "prefect-api"
PURPOSES = {VIEWED: "sagsbehandling / casework", VIEWED_IN_PREFECT: "sagsbehandling / casework",
            RESUMED: "afgørelse af et trin / deciding a step", EXPORTED: "udlevering / export",
            RESUME_REFUSED: "afgørelse af et trin / deciding a step"}
FLOW_RUN = re.compile(r"^/api/flow_runs/([0-9a-fA-F-]{36})(/[^?]*)?")
STARTED_RUN = "started-run"  # a deployment run created through the front door (end-case, record-change)
ACTIONS_DA = {VIEWED: "åbnede sagen", VIEWED_IN_PREFECT: "åbnede sagens kørsel i Prefect",
              RESUMED: "afgjorde et trin (Resume)", EXPORTED: "eksporterede",
              RESUME_REFUSED: "forsøgte at afgøre et trin (allerede afgjort)", STARTED_RUN: "startede en kørsel",
              START_REFUSED: "forsøgte at starte en kørsel (afvist af Prefect)",
              REFUSED: "kald til Prefect afvist af hoveddøren"}
# what the administrator's list of Prefect changes and refusals shows
CHANGES = (RESUMED, RESUME_REFUSED, STARTED_RUN, START_REFUSED, REFUSED)


@dataclass(frozen=True)
class CaseAccess:
    at: datetime
    username: str
    action: str
    purpose: str | None
    client: str | None
    case_reference: str | None

    @property
    def action_da(self) -> str:
        return ACTIONS_DA.get(self.action, self.action)


def record(session: Session, who: Actor | str, action: str, now: datetime, *, case: ReferralCase | None = None,
           family_id: int | None = None, flow_run_id: str | None = None, client: str | None = None,
           purpose: str | None = None) -> AccessLogEntry:
    user_id, username = (None, who) if isinstance(who, str) else (who.actor_id, who.actor_name)
    entry = AccessLogEntry(at=now, user_id=user_id, username=username, case_id=case.id if case else None,
                           case_reference=case.reference if case else None, family_id=family_id,
                           flow_run_id=flow_run_id, action=action, purpose=purpose or PURPOSES.get(action),
                           client=(client or "")[:64] or None)
    session.add(entry)
    return entry


def run_owner(session: Session, run_id: str) -> tuple[ReferralCase | None, int | None]:
    """The case whose run this is, else the family's id (None, None: none of ours)."""
    case = session.scalar(select(ReferralCase).where(ReferralCase.flow_run_id == run_id))
    family_id = None if case else session.scalar(select(VolunteerFamily.id)
                                                 .where(VolunteerFamily.flow_run_id == run_id))
    return case, family_id


def resumed(session: Session, who: Actor, run_id: str, now: datetime, client: str | None) -> AccessLogEntry:
    """A Resume about to be passed on to Prefect (the gate marks it refused if Prefect does not take it)."""
    case, family_id = run_owner(session, run_id)
    entry = record(session, who, RESUMED, now, case=case, family_id=family_id, flow_run_id=run_id, client=client)
    session.flush()
    return entry


def started_run(session: Session, who: Actor, deployment_id: str, now: datetime,
                client: str | None) -> AccessLogEntry:
    entry = record(session, who, STARTED_RUN, now, client=client, purpose=f"deployment:{deployment_id.lower()}")
    session.flush()
    return entry


def mark_refused(session: Session, entry_id: int) -> None:
    """The outcome of a change, written on its own row once Prefect answered: not taken."""
    entry = session.get(AccessLogEntry, entry_id)
    if entry is not None:
        entry.action = RESUME_REFUSED if entry.action == RESUMED else START_REFUSED


def refused(session: Session, who: Actor | str, method: str, uri: str, now: datetime, client: str | None,
            why: str = "") -> AccessLogEntry:
    """A Prefect call the front door did not let through (who, what, when, from where)."""
    path = uri.split("?", 1)[0]
    run = FLOW_RUN.match(path)
    case, family_id = run_owner(session, run.group(1).lower()) if run else (None, None)
    return record(session, who, REFUSED, now, case=case, family_id=family_id, client=client,
                  flow_run_id=run.group(1).lower() if run else None,
                  purpose=f"{method.upper()} {path}"[:150] + (f" ({why})" if why else "")[:48])


def prefect_changes(session: Session, limit: int = 200) -> list[CaseAccess]:
    """The latest changes made in Prefect through the front door, and the calls it refused."""
    rows = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action.in_(CHANGES))
                           .order_by(AccessLogEntry.id.desc()).limit(limit))
    return [CaseAccess(r.at, r.username, r.action, r.purpose, r.client, r.case_reference) for r in rows]


def prefect_request(session: Session, who: Actor, method: str, uri: str, now: datetime,
                    client: str | None) -> AccessLogEntry | None:
    """Record a Prefect read the front door admitted, if it concerns one of our runs (changes go through the
    gate, hjemtilos/workspace/prefect_gate.py, which logs them with their outcome)."""
    match = FLOW_RUN.match(uri)
    if match is None:
        return None
    run_id = match.group(1).lower()
    case, family_id = run_owner(session, run_id)
    if case is None and family_id is None:
        return None
    recent = session.scalar(select(AccessLogEntry.id).where(
        AccessLogEntry.flow_run_id == run_id, AccessLogEntry.user_id == who.actor_id,
        AccessLogEntry.action == VIEWED_IN_PREFECT, AccessLogEntry.at > now - VIEW_EVERY).limit(1))
    if recent is not None:
        return None
    return record(session, who, VIEWED_IN_PREFECT, now, case=case, family_id=family_id, flow_run_id=run_id,
                  client=client)


def resumer_of(session: Session, flow_run_id: str | None, since: datetime | None = None) -> str | None:
    """Who last pressed Resume on this run through the front door (since ``since``): the approver of the step."""
    if not flow_run_id:
        return None
    query = select(AccessLogEntry.username).where(AccessLogEntry.flow_run_id == flow_run_id.lower(),
                                                  AccessLogEntry.action == RESUMED)
    if since is not None:
        query = query.where(AccessLogEntry.at >= since)
    return session.scalar(query.order_by(AccessLogEntry.id.desc()).limit(1))


def starter_of(session: Session, deployment_id: str, created: datetime, within: timedelta = timedelta(minutes=2)) \
        -> str | None:
    """Who created a run of this deployment through the front door just before ``created`` (the run's own creation
    time): the coordinator who ran end-case or record-change from the Prefect UI."""
    return session.scalar(select(AccessLogEntry.username).where(
        AccessLogEntry.action == STARTED_RUN, AccessLogEntry.purpose == f"deployment:{deployment_id.lower()}",
        AccessLogEntry.at <= created + timedelta(seconds=5), AccessLogEntry.at >= created - within)
        .order_by(AccessLogEntry.id.desc()).limit(1))


def case_log(session: Session, reference: str) -> list[CaseAccess]:
    rows = session.scalars(select(AccessLogEntry).where(AccessLogEntry.case_reference == reference)
                           .order_by(AccessLogEntry.at, AccessLogEntry.id))
    return [CaseAccess(r.at, r.username, r.action, r.purpose, r.client, r.case_reference) for r in rows]
