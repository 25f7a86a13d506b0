"""Who works on a step: a coordinator claims an open step on the task list (Opgaver) and releases it again; a
colleague sees the claim there, on the case page and in the Resume dialog's description, so they are warned before
answering it too. A claim never blocks an answer: it says who is on it (Camunda Tasklist's claim, not a lock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from casework.clock import format_local, local_date
from casework.keys import round_key
from hjemtilos.db.models import AuditEvent, HumanTask, ReferralCase, UserAccount, VolunteerFamily

__all__ = ["BANNER_MARK", "ClaimError", "DialogClaim", "banner_of", "claim", "claim_banner", "claims_to_show",
           "dialog_claim", "follow_up", "mark_shown", "release", "with_claim_banner"]

BANNER_MARK = "> **Taget af "  # the first words of the banner: how an older banner is found and replaced


class ClaimError(ValueError):
    """A claim or release that cannot be done, in Danish / English words."""


def claim_banner(name: str, since: datetime) -> str:
    return (f"{BANNER_MARK}{name}** siden {format_local(since)}. Svar kun på trinnet, hvis I har aftalt det. / "
            f"Claimed by {name}; answer it only if you have agreed so.")


def with_claim_banner(description: str, banner: str | None) -> str:
    """The dialog's description with ``banner`` (or none) after its heading, an older banner removed."""
    lines = description.split("\n")
    for index, line in enumerate(lines):
        if line.startswith(BANNER_MARK):
            blank_after = index + 1 < len(lines) and lines[index + 1] == ""
            del lines[index:index + (2 if blank_after else 1)]
            break
    if banner is None:
        return "\n".join(lines)
    at = 2 if len(lines) >= 2 and lines[0].startswith("## ") and lines[1] == "" else 0
    return "\n".join([*lines[:at], banner, "", *lines[at:]])


def banner_of(session: Session, task: HumanTask) -> str | None:
    """The banner of a claimed task (reads only the holder's name: the flow runs' database role sees no more)."""
    if task.claimed_by_id is None or task.claimed_at is None:
        return None
    name = session.scalar(select(UserAccount.display_name).where(UserAccount.id == task.claimed_by_id))
    return claim_banner(name or "en kollega", task.claimed_at)


@dataclass(frozen=True)
class DialogClaim:
    """A claim (or a release) the Resume dialog in Prefect does not say yet."""

    task_id: int
    flow_run_id: str
    pause_key: str
    banner: str | None
    round: int
    claimed_at: datetime | None


def claims_to_show(session: Session, limit: int = 200) -> list[DialogClaim]:
    """Open tasks whose claim changed (or whose round moved on) since the dialog was last told."""
    rows = session.execute(
        select(HumanTask, ReferralCase.flow_run_id, VolunteerFamily.flow_run_id)
        .outerjoin(ReferralCase, ReferralCase.id == HumanTask.case_id)
        .outerjoin(VolunteerFamily, VolunteerFamily.id == HumanTask.family_id)
        .where(HumanTask.completed_at.is_(None), HumanTask.round > 0,
               or_(HumanTask.claimed_at.is_not(None), HumanTask.claim_shown_at.is_not(None)),
               or_(HumanTask.claim_shown_round.is_(None), HumanTask.claim_shown_round != HumanTask.round,
                   HumanTask.claim_shown_at.is_(None) != HumanTask.claimed_at.is_(None),
                   HumanTask.claim_shown_at != HumanTask.claimed_at))
        .order_by(HumanTask.id).limit(limit)).all()
    return [DialogClaim(task.id, str(case_run or family_run), round_key(task.key, task.round),
                        banner_of(session, task), task.round, task.claimed_at)
            for task, case_run, family_run in rows if case_run or family_run]


def dialog_claim(session: Session, task: HumanTask) -> DialogClaim | None:
    """What the Resume dialog of ``task``'s current round should say now; None before the run has asked."""
    owner = ReferralCase if task.case_id is not None else VolunteerFamily
    run = session.scalar(select(owner.flow_run_id).where(owner.id == (task.case_id or task.family_id)))
    if run is None or task.round == 0:
        return None
    return DialogClaim(task.id, run, round_key(task.key, task.round), banner_of(session, task), task.round,
                       task.claimed_at)


def mark_shown(session: Session, claim: DialogClaim) -> None:
    """The dialog says ``claim`` now (unless the task changed meanwhile: then it is looked at again)."""
    session.execute(update(HumanTask).where(HumanTask.id == claim.task_id, HumanTask.round == claim.round)
                    .values(claim_shown_round=claim.round, claim_shown_at=claim.claimed_at))


def _open_task(session: Session, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None or task.completed_at is not None:
        raise ClaimError("Trinnet er ikke åbent længere (det er afgjort). / The step is no longer open (it was "
                         "decided).")
    return task


def claim(session: Session, task_id: int, user: UserAccount, now: datetime, *, take_over: bool = False) -> HumanTask:
    """``user`` works on the step from ``now``. A step a colleague has claimed is taken over only when asked."""
    task = _open_task(session, task_id)
    if task.claimed_by_id == user.id:
        return task
    if task.claimed_by_id is not None and not take_over:
        holder = session.get(UserAccount, task.claimed_by_id)
        raise ClaimError(f"{holder.display_name if holder else 'En kollega'} har allerede taget trinnet. Tag det "
                         "kun over efter aftale. / A colleague has already claimed the step.")
    previous = task.claimed_by_id
    task.claimed_by_id, task.claimed_at = user.id, now
    session.add(AuditEvent(case_id=task.case_id, family_id=task.family_id, at=now, actor=user.username,
                           action="task-claimed", step=task.step,
                           detail={"key": task.key, **({"took_over_from": previous} if previous else {})}))
    return task


def follow_up(session: Session, task_id: int, user: UserAccount, day: date | None, now: datetime) -> HumanTask:
    """When the step is looked at again (Camunda's follow-up date): today or later, or none."""
    task = _open_task(session, task_id)
    if day is not None and day < local_date(now):
        raise ClaimError("Opfølgningsdatoen ligger i fortiden. / The follow-up date is in the past.")
    if task.follow_up_on != day:
        task.follow_up_on = day
        session.add(AuditEvent(case_id=task.case_id, family_id=task.family_id, at=now, actor=user.username,
                               action="task-follow-up", step=task.step,
                               detail={"key": task.key, "on": day.isoformat() if day else None}))
    return task


def release(session: Session, task_id: int, user: UserAccount, now: datetime) -> HumanTask:
    """The step is nobody's again (its holder lets it go, or an administrator frees it)."""
    task = _open_task(session, task_id)
    if task.claimed_by_id is None:
        return task
    if task.claimed_by_id != user.id and user.role != "administrator":
        raise ClaimError("Kun den, der har taget trinnet, eller en administrator kan slippe det. / Only whoever "
                         "claimed the step, or an administrator, can release it.")
    task.claimed_by_id, task.claimed_at = None, None
    session.add(AuditEvent(case_id=task.case_id, family_id=task.family_id, at=now, actor=user.username,
                           action="task-released", step=task.step, detail={"key": task.key}))
    return task
