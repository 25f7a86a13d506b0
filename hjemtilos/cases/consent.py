"""Consent: each custody holder signs two forms (BBU and Red Barnet) that reach the BBU contact person; the
coordinator records each as it arrives, and the case waits until all are in."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import create_model

from casework.durations import Duration
from casework.profiles import Timings
from casework.steps import ApprovalKind, ConsentForm, Role, Step, StepOutcome
from hjemtilos.approvals import InvalidRequest
from hjemtilos.cases.context import CaseContext
from hjemtilos.cases.handler import Answer, FormSpec, Handler, OptionalDate, optional_date
from hjemtilos.cases.records import FORM_LABEL, consent_label, consent_slots, receipts_of
from hjemtilos.db.models import ConsentReceipt
from hjemtilos.mail import contexts as mc

__all__ = ["ConsentAnswer", "ConsentHandler", "consent_field"]


def consent_field(number: int, form: ConsentForm) -> str:
    return f"parent_{number}_{form.value}"


class ConsentAnswer(Answer):
    """The dates received, one optional field per holder and form (``parent_<n>_<form>``); built per case."""

    def received(self) -> dict[tuple[int, ConsentForm], date]:
        out: dict[tuple[int, ConsentForm], date] = {}
        for name, value in self:
            if name.startswith("parent_") and isinstance(value, date):
                _, number, form = name.split("_", 2)
                out[int(number), ConsentForm(form)] = value
        return out


class ConsentHandler(Handler[ConsentAnswer]):
    kind = ApprovalKind.CONSENT
    outcomes = frozenset({StepOutcome.RECEIVED})
    step = Step.CONSENT
    title = "Registrér modtagne samtykkeerklæringer"
    answer = ConsentAnswer
    scoped = False
    reminder_role = Role.REFERRER

    def reminder_after(self, timings: Timings) -> Duration:
        return timings.consent_reminder_after

    def escalation_after(self, timings: Timings) -> Duration:
        return timings.consent_escalation_after

    def spec(self, ctx: CaseContext) -> FormSpec:
        missing = tuple(consent_field(slot.number, slot.form) for slot in consent_slots(ctx.case, receipts_of(ctx))
                        if slot.received_on is None)
        return FormSpec(self.kind, slots=len(ctx.parties(Role.CUSTODY_HOLDER)), choices=missing)

    def answer_model(self, spec: FormSpec) -> type[Answer]:
        fields: dict[str, Any] = {
            consent_field(number, form): (OptionalDate, optional_date(
                f"Forælder {number}: {FORM_LABEL[form]}-samtykke modtaget (dato)",
                "Tom, hvis erklæringen ikke er kommet endnu."))
            for number in range(1, spec.slots + 1) for form in ConsentForm
            if not spec.choices or consent_field(number, form) in spec.choices  # only what is still missing
        }
        model: type[Answer] = create_model("ConsentAnswer", __base__=ConsentAnswer, **fields)
        return model

    def open(self, ctx: CaseContext) -> dict[str, Any] | None:
        bbu = ctx.parties(Role.BBU_CONTACT)[0]
        for holder in ctx.parties(Role.CUSTODY_HOLDER):
            ctx.mail(self.step, ctx.party_recipient(holder),
                     mc.ConsentRequest(recipient_name=holder.name, case_reference=ctx.case.reference,
                                       child_first_name=ctx.child_name, bbu_contact_name=bbu.name,
                                       bbu_contact_email=bbu.email), "request")
        return None

    def describe(self, ctx: CaseContext) -> list[str]:
        lines = ["Hver forældremyndighedsindehaver skal underskrive to samtykkeerklæringer (BBU og Red Barnet), "
                 "som sendes til BBU-kontaktpersonen. Registrér datoen for hver modtaget erklæring. "
                 "Du kan registrere dem efterhånden: sagen venter, til alle er modtaget."]
        received = [f"{consent_label(slot)} {slot.received_on:%d.%m.%Y}"
                    for slot in consent_slots(ctx.case, receipts_of(ctx)) if slot.received_on is not None]
        if received:
            lines += ["", "Allerede registreret: " + ", ".join(received)]
        return lines

    def apply(self, ctx: CaseContext, answer: ConsentAnswer) -> StepOutcome | None:
        given = answer.received()
        if any(day > ctx.today for day in given.values()):
            future = sorted(consent_label(slot) for slot in consent_slots(ctx.case, [])
                            if (slot.number, slot.form) in given and given[slot.number, slot.form] > ctx.today)
            raise InvalidRequest(f"Datoen for {', '.join(future)} ligger i fremtiden.")
        slots = consent_slots(ctx.case, receipts_of(ctx))
        new = [slot for slot in slots if slot.received_on is None and (slot.number, slot.form) in given]
        for slot in new:
            ctx.session.add(ConsentReceipt(case_id=ctx.case.id, party_id=slot.party_id, form=slot.form,
                                           received_on=given[slot.number, slot.form], recorded_at=ctx.now,
                                           recorded_by=ctx.actor))
        ctx.audit("consent-recorded", self.step, {"received": [f"{s.number}-{s.form.value}" for s in new]})
        missing = [slot for slot in slots if slot.received_on is None and (slot.number, slot.form) not in given]
        if missing:
            registered = [f"{consent_label(s)} {given[s.number, s.form]:%d.%m.%Y}" for s in new]
            ctx.ask_again(("Registreret: " + ", ".join(registered) + " – mangler" if registered else "Mangler")
                          + " stadig: " + ", ".join(consent_label(s) for s in missing) + ".")
            return None
        return StepOutcome.RECEIVED
