"""The programme's words: every code the system stores (steps, roles, outcomes, audit actions, …) as people say it,
in Danish and English. Pages, the CLI, reports and Resume dialogs take their labels from here, never from a table
of their own; a code with no entry is shown as it is (and a test says which vocabularies must be complete)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from casework.steps import (
    ApprovalKind,
    CaseStatus,
    ChangeKind,
    Continuation,
    EndedBy,
    FamilyStatus,
    MailStatus,
    MatchStatus,
    PlacementKind,
    Role,
    Step,
    StepOutcome,
    TimerKind,
    Track,
    VisitKind,
)

__all__ = ["ACTIONS", "APPROVALS", "CASE_STATUS", "CHANGES", "CONCERNS", "CONSENT_FORMS", "ENDED_BY", "FAMILY_STATUS",
           "MAIL_STATUS", "MATCH_STATUS", "NOTE_KINDS", "OUTCOMES", "PLACEMENTS", "ROLES", "STEPS", "TIMERS", "TRACKS",
           "VISITS", "VOCABULARIES", "WAITS", "Vocabulary"]


@dataclass(frozen=True)
class Vocabulary:
    """Codes of one kind and their words: ``words[code] = (Danish, English)``."""

    name: str
    words: Mapping[str, tuple[str, str]]

    def da(self, code: str | None) -> str:
        return self._say(code, 0)

    def en(self, code: str | None) -> str:
        return self._say(code, 1)

    def both(self, code: str | None) -> str:
        """"Danish / English", or one of them when they are the same word."""
        da, en = self.da(code), self.en(code)
        return da if da == en else f"{da} / {en}"

    def _say(self, code: str | None, index: int) -> str:
        if code is None or code == "":
            return "–"
        pair = self.words.get(str(code))
        return pair[index] if pair else str(code)


STEPS = Vocabulary("steps", {
    Step.SCREENING: ("Visitation", "Screening"),
    Step.STARTUP_MEETING: ("Opstartsmøde", "Start-up meeting"),
    Step.CONSENT: ("Samtykke", "Consent"),
    Step.PARENTS_INFORMED: ("Forældre orienteret", "Parents informed"),
    Step.AWAITING_FAMILY: ("Venter på familie", "Waiting for a family"),
    Step.MATCH_PROPOSAL: ("Matchforslag", "Match proposal"),
    Step.FIRST_MEETING: ("Første møde", "First meeting"),
    Step.FIRST_VISIT_FOLLOWUP: ("Opfølgning efter første besøg", "Follow-up after the first visit"),
    Step.CHILD_VISIT: ("Børnebesøg", "Child visit"),
    Step.CONCERN_FOLLOWUP: ("Opfølgning på bekymring", "Concern follow-up"),
    Step.FUTURE_AGREEMENT: ("Fremtidsaftale", "Future agreement"),
    Step.FAREWELL: ("Afsked", "Farewell"),
    Step.EARLY_ENDING: ("Tidlig afslutning", "Early ending"),
    Step.EXTRA_CHILD_VISIT: ("Ekstra børnebesøg", "Extra child visit"),
    Step.CLOSED: ("Afsluttet", "Closed"),
    "volunteer-home-visit": ("Hjemmebesøg og samtale", "Home visit and interview"),
    "volunteer-family-approval": ("Attester, e-læring og godkendelse", "Certificates, e-learning and approval"),
})

APPROVALS = Vocabulary("approvals", {
    ApprovalKind.SCREENING: ("Visitation", "Screening"),
    ApprovalKind.STARTUP_MEETING: ("Opstartsmøde", "Start-up meeting"),
    ApprovalKind.CONSENT: ("Samtykke", "Consent"),
    ApprovalKind.MATCH_PROPOSAL: ("Matchforslag", "Match proposal"),
    ApprovalKind.FAMILY_ANSWER: ("Familiens svar", "The family's answer"),
    ApprovalKind.MATCH_ANSWERS: ("Forældrenes svar", "The parents' answer"),
    ApprovalKind.FIRST_MEETING_PLAN: ("Planlæg første møde", "Plan the first meeting"),
    ApprovalKind.FIRST_MEETING: ("Første møde holdt", "First meeting held"),
    ApprovalKind.FIRST_VISIT_FOLLOWUP: ("Opfølgning efter første besøg", "Follow-up after the first visit"),
    ApprovalKind.CHILD_VISIT: ("Børnebesøg", "Child visit"),
    ApprovalKind.CONCERN_FOLLOWUP: ("Opfølgning på bekymring", "Concern follow-up"),
    ApprovalKind.FUTURE_AGREEMENT: ("Fremtidsaftale", "Future agreement"),
    ApprovalKind.EXTRA_CHILD_VISIT: ("Ekstra børnebesøg", "Extra child visit"),
})

TIMERS = Vocabulary("timers", {
    TimerKind.FIRST_VISIT_FOLLOWUP: ("Opfølgning efter første besøg", "Follow-up after the first visit"),
    TimerKind.CHILD_VISIT: ("Børnebesøget efter 4 måneder", "The 4-month child visit"),
    TimerKind.FUTURE_AGREEMENT: ("Fremtidsaftalen efter 10 måneder", "The 10-month future agreement"),
    TimerKind.FAREWELL: ("Afskeden efter et år", "The farewell after a year"),
    "awaiting-family": ("En godkendt familie med plads", "An approved family with room"),
})

CASE_STATUS = Vocabulary("case status", {
    CaseStatus.SCREENING: ("Til visitation", "In screening"),
    CaseStatus.ACTIVE: ("Aktiv", "Active"),
    CaseStatus.CLOSED: ("Afsluttet", "Closed"),
    CaseStatus.REJECTED: ("Afvist", "Rejected"),
})

ROLES = Vocabulary("roles", {
    Role.COORDINATOR: ("Koordinator", "Coordinator"),
    Role.ADMIN: ("Administrator", "Administrator"),
    "administrator": ("Administrator", "Administrator"),
    Role.REFERRER: ("Henviser", "Referrer"),
    Role.BBU_CONTACT: ("Kontakt i BBU", "BBU contact"),
    Role.CUSTODY_HOLDER: ("Forælder med forældremyndighed", "Parent with custody"),
    Role.PARENT: ("Forælder", "Parent"),
    Role.PLACEMENT_CONTACT: ("Kontaktperson på anbringelsesstedet", "Placement contact"),
    Role.VOLUNTEER_FAMILY: ("Venskabsfamilie", "Friendship family"),
})

PLACEMENTS = Vocabulary("placements", {
    PlacementKind.HOME: ("Bor hjemme", "Lives at home"),
    PlacementKind.FOSTER_FAMILY: ("Plejefamilie", "Foster family"),
    PlacementKind.RESIDENTIAL_HOME: ("Børne- eller ungehjem", "Residential home"),
})

TRACKS = Vocabulary("tracks", {
    Track.STANDARD: ("Børn 4–13 år", "Children 4–13"),
    Track.YOUTH: ("Unge 14–17 år", "Young people 14–17"),
})

WAITS = Vocabulary("waits", {
    "coordinator": ("Koordinator", "Coordinator"),
    "family": ("Familie", "Family"),
    "parents": ("Forældre", "Parents"),
    "timer": ("Et tidspunkt", "A date"),
    "new-family": ("En godkendt familie", "An approved family"),
})

OUTCOMES = Vocabulary("outcomes", {
    StepOutcome.APPROVED: ("godkendt", "approved"),
    StepOutcome.REJECTED: ("afvist", "rejected"),
    StepOutcome.RECEIVED: ("modtaget", "received"),
    StepOutcome.PROPOSED: ("foreslået", "proposed"),
    StepOutcome.NONE_FITS: ("ingen familie passer", "no family fits"),
    StepOutcome.NO_FAMILY: ("ingen familie med plads", "no family with room"),
    StepOutcome.DECLINED: ("sagde nej", "declined"),
    StepOutcome.ACCEPTED: ("sagde ja", "accepted"),
    StepOutcome.AGREED: ("match aftalt", "match agreed"),
    StepOutcome.PLANNED: ("planlagt", "planned"),
    StepOutcome.RECORDED: ("registreret", "recorded"),
    StepOutcome.HELD: ("holdt", "held"),
    StepOutcome.CONCERN: ("bekymring – følges op", "concern – followed up"),
    StepOutcome.REMATCH: ("ny familie søges", "a new family is sought"),
    StepOutcome.NO_REMATCH: ("ingen ny familie", "no new family"),
    StepOutcome.CLOSED: ("afsluttet", "closed"),
    StepOutcome.DONE: ("udført", "done"),
    StepOutcome.CANCELLED: ("annulleret (tidlig afslutning)", "cancelled (early ending)"),
    Continuation.WEEKLY: ("fortsætter ugentligt", "continues weekly"),
    Continuation.LESS_OFTEN: ("fortsætter sjældnere", "continues less often"),
    Continuation.STOPS: ("stopper efter året", "stops after the year"),
    Continuation.UNDECIDED: ("ikke afklaret", "undecided"),
})

MATCH_STATUS = Vocabulary("match status", {
    MatchStatus.PROPOSED: ("Foreslået", "Proposed"),
    MatchStatus.AGREED: ("Aftalt", "Agreed"),
    MatchStatus.DECLINED: ("Sagt nej", "Declined"),
    MatchStatus.ACTIVE: ("I gang", "Active"),
    MatchStatus.ENDED: ("Afsluttet før tid", "Ended early"),
    MatchStatus.COMPLETED: ("Året gennemført", "Year completed"),
})

FAMILY_STATUS = Vocabulary("family status", {
    FamilyStatus.SCREENING: ("Screenes", "In screening"),
    FamilyStatus.APPROVED: ("Godkendt", "Approved"),
    FamilyStatus.REJECTED: ("Afvist", "Rejected"),
})

MAIL_STATUS = Vocabulary("mail status", {
    MailStatus.PENDING: ("I kø", "Queued"),
    MailStatus.SENDING: ("Sendes", "Sending"),
    MailStatus.SENT: ("Sendt", "Sent"),
    MailStatus.FAILED: ("Fejlet", "Failed"),
    MailStatus.DROPPED: ("Ikke sendt (trinnet var afgjort)", "Not sent (the step was decided)"),
})

ENDED_BY = Vocabulary("ended by", {
    EndedBy.FAMILY: ("venskabsfamilien", "the friendship family"),
    EndedBy.PARENTS: ("forældrene", "the parents"),
    EndedBy.CHILD: ("barnet", "the child"),
    EndedBy.RED_BARNET: ("Red Barnet", "Save the Children Denmark"),
    EndedBy.BBU: ("BBU", "BBU"),
    EndedBy.ANNIVERSARY: ("året er gået", "the year is over"),
})

CHANGES = Vocabulary("changes", {
    ChangeKind.MOVING: ("flytning", "moving"),
    ChangeKind.ILLNESS: ("sygdom", "illness"),
    ChangeKind.DIVORCE: ("skilsmisse", "divorce"),
    ChangeKind.PLACEMENT: ("anbringelse", "placement"),
    ChangeKind.OTHER: ("andet", "other"),
})

VISITS = Vocabulary("visits", {
    VisitKind.CHILD_VISIT_AT_STARTUP: ("Børnebesøg før match", "Child visit before matching"),
    VisitKind.STARTUP_MEETING: ("Opstartsmøde", "Start-up meeting"),
    VisitKind.FIRST_VISIT_CALL: ("Opfølgende opkald efter første besøg", "Follow-up call after the first visit"),
    VisitKind.CHILD_VISIT: ("Børnebesøg", "Child visit"),
    VisitKind.CONCERN_FOLLOWUP: ("Opfølgning på bekymring", "Concern follow-up"),
    VisitKind.EXTRA_CHILD_VISIT: ("Ekstra børnebesøg", "Extra child visit"),
})

NOTE_KINDS = Vocabulary("note kinds", {
    "call": ("Telefonsamtale", "Phone call"),
    "meeting": ("Møde", "Meeting"),
    "concern": ("Bekymring", "Concern"),
    "mail": ("Mail eller brev", "Mail or letter"),
    "other": ("Andet", "Other"),
})

CONSENT_FORMS = Vocabulary("consent forms", {"bbu": ("BBU", "BBU"), "redbarnet": ("Red Barnet", "Red Barnet")})

CONCERNS = Vocabulary("concerns", {
    "concern_severe_acting_out": ("Svær udadreagerende adfærd", "Severe acting-out behaviour"),
    "concern_severe_psychiatric_diagnosis": ("Svær psykiatrisk diagnose", "Severe psychiatric diagnosis"),
    "concern_suicide_risk_or_self_harm": ("Selvmordsrisiko eller selvskade", "Risk of suicide or self-harm"),
})

ACTIONS = Vocabulary("audit actions", {
    "case-registered": ("Henvisning modtaget", "Referral received"),
    "referral-received": ("Henvisning modtaget", "Referral received"),
    "run-started": ("Forløbet startet", "Run started"),
    "run-attached": ("Forløbet tilknyttet", "Run attached"),
    "run-restarted": ("Forløbet genstartet", "Run restarted"),
    "task-opened": ("Trin åbnet", "Step opened"),
    "task-completed": ("Trin afgjort", "Step decided"),
    "task-claimed": ("Trin taget", "Step claimed"),
    "task-released": ("Trin sluppet", "Step released"),
    "task-follow-up": ("Opfølgningsdato sat", "Follow-up date set"),
    "timer-set": ("Tidspunkt sat", "Date set"),
    "form-returned": ("Formular sendt tilbage", "Form returned"),
    "form-partly-recorded": ("Svar delvist registreret", "Answer partly recorded"),
    "reminder-sent": ("Påmindelse sendt", "Reminder sent"),
    "escalated": ("Eskaleret", "Escalated"),
    "case-closed": ("Sagen afsluttet", "Case closed"),
    "coordinator-assigned": ("Koordinator tildelt", "Coordinator assigned"),
    "visits-start": ("Besøgene starter", "Visits start"),
    "note-written": ("Notat skrevet", "Note written"),
    "timer-passed": ("Tidspunktet er nået", "The date has come"),
    "form-missing": ("Formularen manglede i Prefect og vises igen", "The form was missing in Prefect, shown again"),
    "consent-recorded": ("Samtykke registreret", "Consent recorded"),
    "first-meeting-planned": ("Første møde planlagt", "First meeting planned"),
    "match-proposal-no-family": ("Ingen familie med plads", "No family with room"),
    "match-proposal-none-fits": ("Ingen af familierne passer", "None of the families fits"),
    "family-declined": ("Familien sagde nej", "The family declined"),
    "parents-declined": ("Forældrene sagde nej", "The parents declined"),
    "ending-requested": ("Tidlig afslutning besluttet", "Early ending decided"),
    "ending-begun": ("Tidlig afslutning påbegyndt", "Early ending begun"),
    "ending-finished": ("Tidlig afslutning gennemført", "Early ending carried out"),
    "circumstances-changed": ("Ændrede forhold registreret", "Change of circumstances recorded"),
    "person-erasure": ("Personoplysninger slettet", "Personal data erased"),
    "user-added": ("Bruger oprettet", "User added"),
    "user-disabled": ("Bruger lukket", "User closed"),
    "user-2fa-reset": ("Brugerens 2-faktor nulstillet", "User's second factor reset"),
})

VOCABULARIES = (STEPS, APPROVALS, TIMERS, CASE_STATUS, ROLES, PLACEMENTS, TRACKS, WAITS, OUTCOMES, MATCH_STATUS,
                FAMILY_STATUS, MAIL_STATUS, ENDED_BY, CHANGES, VISITS, NOTE_KINDS, CONSENT_FORMS, CONCERNS, ACTIONS)
