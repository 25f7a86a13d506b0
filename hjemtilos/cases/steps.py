"""The dispatch table: one handler per approval kind."""

from __future__ import annotations

from typing import Any

from casework.steps import ApprovalKind
from hjemtilos.cases.consent import ConsentHandler
from hjemtilos.cases.ending import ExtraChildVisitHandler
from hjemtilos.cases.handler import Handler
from hjemtilos.cases.matching import FamilyAnswerHandler, MatchAnswersHandler, MatchProposalHandler
from hjemtilos.cases.meeting import FirstMeetingHandler, FirstMeetingPlanHandler
from hjemtilos.cases.screening import ScreeningHandler, StartupMeetingHandler
from hjemtilos.cases.year import (
    ChildVisitHandler,
    ConcernFollowupHandler,
    FirstVisitFollowupHandler,
    FutureAgreementHandler,
)

__all__ = ["HANDLERS", "handler_for"]

HANDLERS: dict[ApprovalKind, Handler[Any]] = {handler.kind: handler for handler in (
    ScreeningHandler(), StartupMeetingHandler(), ConsentHandler(), MatchProposalHandler(), FamilyAnswerHandler(),
    MatchAnswersHandler(),
    FirstMeetingPlanHandler(), FirstMeetingHandler(), FirstVisitFollowupHandler(), ChildVisitHandler(),
    ConcernFollowupHandler(), FutureAgreementHandler(), ExtraChildVisitHandler(),
)}


def handler_for(kind: ApprovalKind) -> Handler[Any]:
    return HANDLERS[kind]
