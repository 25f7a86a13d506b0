"""Case notes: a coordinator writes down a call with a parent, a family's worry, a meeting — with the day it
happened, its kind and the text. In the case database only (never in Prefect); the case page shows them in its
timeline (every view access-logged), the person export includes them, retention anonymises them with the case."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.vocabulary import NOTE_KINDS
from hjemtilos.db.models import AuditEvent, CaseNote, ReferralCase

__all__ = ["MAX_NOTE", "NoteError", "notes_of", "write_note"]

MAX_NOTE = 4000


class NoteError(ValueError):
    """A note that cannot be saved: ``field`` and a message in Danish / English words."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def write_note(session: Session, case: ReferralCase, *, kind: str, occurred_on: date | None, text: str,
               actor: str, now: datetime) -> CaseNote:
    """Check and store a note; audited without its text. Raises NoteError (nothing stored)."""
    if kind not in NOTE_KINDS.words:
        raise NoteError("kind", "Vælg hvad notatet handler om. / Choose what the note is about.")
    if occurred_on is None:
        raise NoteError("occurred_on", "Skriv datoen (dd-mm-åååå). / Give the date.")
    if occurred_on > local_date(now):
        raise NoteError("occurred_on", "Datoen ligger i fremtiden. / The date is in the future.")
    if occurred_on < local_date(case.created_at):
        raise NoteError("occurred_on", "Datoen ligger før henvisningen. / The date is before the referral.")
    cleaned = text.strip()
    if not cleaned:
        raise NoteError("text", "Skriv notatet. / Write the note.")
    if len(cleaned) > MAX_NOTE:
        raise NoteError("text", f"Notatet er for langt (højst {MAX_NOTE} tegn). / The note is too long "
                                f"(at most {MAX_NOTE} characters).")
    note = CaseNote(case_id=case.id, kind=kind, occurred_on=occurred_on, text=cleaned, written_at=now,
                    written_by=actor)
    session.add(note)
    session.flush()
    session.add(AuditEvent(case_id=case.id, at=now, actor=actor, action="note-written", step=None,
                           detail={"note_id": note.id, "kind": kind}))
    return note


def notes_of(session: Session, case_id: int) -> list[CaseNote]:
    return list(session.scalars(select(CaseNote).where(CaseNote.case_id == case_id)
                                .order_by(CaseNote.occurred_on.desc(), CaseNote.id.desc())))
