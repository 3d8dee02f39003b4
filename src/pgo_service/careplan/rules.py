"""The invariants of the zorgleefplan, checked on every write (create, update, PATCH,
and inside transactions) before anything is stored.

Each failure is a 422 OperationOutcome whose text names the rule in plain language.
Rules that must hold across resources under concurrency ("one active plan per
client", "one active network") first take a lock keyed on the client, so two
concurrent writers cannot both pass the check.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..fhir.errors import Category, FhirError
from ..fhir.interactions.context import Change, Context
from ..fhir.jsonio import parse_json
from ..fhir.search.execute import find_matches
from ..fhir.search.normalize import date_range, from_micros
from ..fhir.store import utc_now
from . import codes
from .bsn import contains_bsn, is_valid_bsn
from .classify import (
    extension_value,
    has_role,
    is_agreement,
    is_complaint,
    is_complaint_handling,
    is_network,
    is_zorgleefplan,
    reference_of,
)
from .periods import bounds, is_active, overlaps
from .references import check_same_client, patient_id_of

_PROFESSIONALS = ("Practitioner", "PractitionerRole")
_AGREEMENT_PERFORMERS = ("Practitioner", "PractitionerRole", "RelatedPerson", "Patient")
_OPEN_STATUSES = ("draft", "active", "on-hold")
_MAX_EVALUATION_MONTHS = 6


def rule_violation(message: str, *expression: str) -> FhirError:
    return FhirError(Category.UNPROCESSABLE, message, expression=expression)


def careplan_rules(ctx: Context, change: Change) -> None:
    body = change.body
    if body is None:
        return
    kind = change.resource_type
    if change.current is None and contains_bsn(change.resource_id):
        # A client chooses the id of what it creates with PUT; the id is in every URL
        # of the resource, in logs and in references, where a BSN must never be.
        raise FhirError(
            Category.INVALID,
            "A resource id must not be or hold a BSN (nine digits that pass the 11-test)",
            expression=[f"{kind}.id"],
        )
    _check_bsn(kind, body)
    check_same_client(ctx, kind, body)
    if is_zorgleefplan(kind, body):
        _check_zorgleefplan(ctx, body)
    elif is_agreement(kind, body):
        _check_agreement(ctx, body)
    elif is_network(kind, body):
        _check_network(ctx, body)
    elif is_complaint(kind, body):
        _check_complaint(body)
    elif is_complaint_handling(kind, body):
        _check_complaint_handling(body)
    if kind == "Goal" and codes.domains_of(body.get("category")):
        _check_goal(body)


def _check_bsn(kind: str, body: dict[str, Any]) -> None:
    if kind not in ("Patient", "RelatedPerson", "Practitioner"):
        return
    for index, identifier in enumerate(body.get("identifier") or []):
        if (
            isinstance(identifier, dict)
            and identifier.get("system") in codes.BSN_SYSTEMS
            and not is_valid_bsn(str(identifier.get("value", "")))
        ):
            raise rule_violation(
                "Het BSN is ongeldig: het moet uit 9 cijfers bestaan en de 11-proef doorstaan.",
                f"{kind}.identifier[{index}].value",
            )


# -- the plan -----------------------------------------------------------------


def _check_zorgleefplan(ctx: Context, body: dict[str, Any]) -> None:
    patient = patient_id_of(body, "CarePlan.subject")
    if body.get("intent") != "plan":
        raise rule_violation("Een zorgleefplan heeft intent 'plan'.", "CarePlan.intent")
    if body.get("status") != "active":
        return
    ctx.store.lock(f"zorgleefplan:{patient}")
    ctx.defer(f"zorgleefplan:{patient}", lambda: _one_active(ctx, patient, codes.ZORGLEEFPLAN))
    _check_evaluation(body)
    _check_power_of_attorney(ctx, body)


def _date_of(value: Any, path: str) -> date:
    try:
        return from_micros(date_range(str(value))[0]).date()
    except ValueError as error:
        raise rule_violation(f"{path} is geen geldige datum.", path) from error


def _add_months(moment: date, months: int) -> date:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _check_evaluation(body: dict[str, Any]) -> None:
    next_value = extension_value(body, codes.NEXT_EVALUATION_URL)
    if next_value is None:
        raise rule_violation(
            "Een actief zorgleefplan vermeldt wanneer het volgende evaluatiemoment is "
            f"(extensie {codes.NEXT_EVALUATION_URL}).",
            "CarePlan.extension",
        )
    next_date = _date_of(next_value, "CarePlan.extension(next-evaluation)")
    last_value = extension_value(body, codes.LAST_EVALUATION_URL)
    if last_value is not None:
        reference = _date_of(last_value, "CarePlan.extension(last-evaluation)")
        if next_date < reference:
            raise rule_violation(
                "De volgende evaluatie kan niet vóór de laatste evaluatie liggen.",
                "CarePlan.extension",
            )
    else:
        start = (body.get("period") or {}).get("start") or body.get("created")
        reference = _date_of(start, "CarePlan.period.start") if start else utc_now().date()
    if next_date > _add_months(reference, _MAX_EVALUATION_MONTHS):
        raise rule_violation(
            "Het zorgleefplan wordt minstens twee keer per jaar geëvalueerd: de volgende "
            "evaluatie ligt uiterlijk zes maanden na de laatste (of na de start van het plan).",
            "CarePlan.extension",
        )


def _check_power_of_attorney(ctx: Context, body: dict[str, Any]) -> None:
    stated = extension_value(body, codes.POWER_OF_ATTORNEY_URL)
    if stated is None:
        return
    teams = [reference_of(t) for t in body.get("careTeam") or []]
    keys = [tuple(t.split("/", 1)) for t in teams if t and t.startswith("CareTeam/")]
    stored = ctx.store.read_many([(k[0], k[1]) for k in keys if len(k) == 2])
    now = utc_now()
    holders = [
        p
        for version in stored.values()
        if version.content
        for p in _participants(version.content)
        if has_role(p, codes.ROLE_SYSTEM, codes.GEVOLMACHTIGDE) and is_active(p.get("period"), now)
    ]
    if stated is True and not holders:
        raise rule_violation(
            "Het plan vermeldt een volmacht, maar het persoonlijk netwerk heeft geen actieve "
            "gevolmachtigde. Voeg de gevolmachtigde toe aan het netwerk.",
            "CarePlan.extension",
        )
    if stated is False and holders:
        raise rule_violation(
            "Het plan vermeldt dat er geen volmacht is, maar het netwerk heeft een actieve "
            "gevolmachtigde.",
            "CarePlan.extension",
        )


def _participants(content: bytes) -> list[dict[str, Any]]:
    team = parse_json(content)
    return [p for p in team.get("participant") or [] if isinstance(p, dict)]


# -- agreements -----------------------------------------------------------------


def _check_agreement(ctx: Context, body: dict[str, Any]) -> None:
    patient = patient_id_of(body, "CarePlan.subject")
    _check_agreement_plan(ctx, patient, body)
    domains = codes.domains_of(body.get("category"))
    if len(domains) != 1:
        raise rule_violation(
            "Een afspraak hoort bij precies één levensdomein (category uit "
            f"{codes.DOMAIN_SYSTEM}).",
            "CarePlan.category",
        )
    activities = body.get("activity") or []
    if len(activities) != 1 or not isinstance(activities[0].get("detail"), dict):
        raise rule_violation(
            "Een afspraak beschrijft precies één activiteit (activity.detail).", "CarePlan.activity"
        )
    activity = activities[0]
    detail = activity["detail"]
    if not (detail.get("description") or detail.get("code") or body.get("description")):
        raise rule_violation(
            "Een afspraak zegt wat er gebeurt (description of activity.detail.code).",
            "CarePlan.description",
        )
    _check_performers(patient, body, detail)
    _check_progress(activity)
    _check_period(body.get("period"), "CarePlan.period")


def _check_agreement_plan(ctx: Context, patient: str, body: dict[str, Any]) -> None:
    parts = [reference_of(p) for p in body.get("partOf") or []]
    plans = [p for p in parts if p and p.startswith("CarePlan/")]
    if len(plans) != 1:
        raise rule_violation(
            "Een afspraak hoort bij één zorgleefplan (partOf verwijst naar het CarePlan).",
            "CarePlan.partOf",
        )
    plan_id = plans[0].split("/", 1)[1]
    stored = ctx.store.read_many([("CarePlan", plan_id)]).get(("CarePlan", plan_id))
    if stored is None or stored.content is None:
        raise rule_violation(f"Het zorgleefplan {plans[0]} bestaat niet.", "CarePlan.partOf")
    plan = parse_json(stored.content)
    if not is_zorgleefplan("CarePlan", plan):
        raise rule_violation(f"{plans[0]} is geen zorgleefplan.", "CarePlan.partOf")
    if reference_of(plan.get("subject")) != f"Patient/{patient}":
        raise rule_violation(
            "De afspraak en het zorgleefplan horen bij dezelfde cliënt.", "CarePlan.partOf"
        )


def _check_performers(patient: str, body: dict[str, Any], detail: dict[str, Any]) -> None:
    performers = [reference_of(p) for p in detail.get("performer") or []]
    if not performers or any(p is None for p in performers):
        raise rule_violation(
            "Een afspraak zegt wie haar uitvoert (activity.detail.performer).",
            "CarePlan.activity[0].detail.performer",
        )
    for performer in performers:
        assert performer is not None
        kind = performer.split("/", 1)[0]
        if kind not in _AGREEMENT_PERFORMERS:
            raise rule_violation(
                "Een afspraak wordt uitgevoerd door een zorgverlener (Practitioner of "
                "PractitionerRole), een naaste (RelatedPerson) of de cliënt zelf; "
                f"{kind} kan dat niet.",
                "CarePlan.activity[0].detail.performer",
            )
        if kind == "Patient" and performer != f"Patient/{patient}":
            raise rule_violation(
                "Zelfmanagement: de cliënt die de afspraak uitvoert is de cliënt van het plan.",
                "CarePlan.activity[0].detail.performer",
            )
        if kind == "RelatedPerson":
            _check_informal_care(body, detail)


def _check_informal_care(body: dict[str, Any], detail: dict[str, Any]) -> None:
    if not detail.get("description"):
        raise rule_violation(
            "Een afspraak met een mantelzorger of andere naaste bevat de instructies "
            "(activity.detail.description).",
            "CarePlan.activity[0].detail.description",
        )
    supervisor = reference_of(body.get("author"))
    if supervisor is None or supervisor.split("/", 1)[0] not in _PROFESSIONALS:
        raise rule_violation(
            "Een afspraak met een mantelzorger of andere naaste noemt de zorgverlener die "
            "instrueert en begeleidt (author: Practitioner of PractitionerRole).",
            "CarePlan.author",
        )


def _check_progress(activity: dict[str, Any]) -> None:
    for index, note in enumerate(activity.get("progress") or []):
        if not note.get("time") or not (note.get("authorReference") or note.get("authorString")):
            raise rule_violation(
                "Een voortgangsnotitie vermeldt wie haar schreef en wanneer.",
                f"CarePlan.activity[0].progress[{index}]",
            )


def _check_period(period: Any, path: str) -> None:
    if not isinstance(period, dict):
        return
    try:
        start, end = bounds(period)
    except ValueError as error:
        raise rule_violation(f"{path} bevat een ongeldige datum.", path) from error
    if period.get("start") and period.get("end") and start > end:
        raise rule_violation(f"{path}: de einddatum ligt vóór de begindatum.", path)


# -- goals ---------------------------------------------------------------------


def _check_goal(body: dict[str, Any]) -> None:
    patient_id_of(body, "Goal.subject")
    if len(codes.domains_of(body.get("category"))) != 1:
        raise rule_violation("Een doel hoort bij precies één levensdomein.", "Goal.category")


# -- the personal network ------------------------------------------------------


def _check_network(ctx: Context, body: dict[str, Any]) -> None:
    patient = patient_id_of(body, "CareTeam.subject")
    participants = [p for p in body.get("participant") or [] if isinstance(p, dict)]
    for index, participant in enumerate(participants):
        path = f"CareTeam.participant[{index}]"
        _check_period(participant.get("period"), f"{path}.period")
        if not participant.get("role"):
            raise rule_violation("Elke deelnemer aan het netwerk heeft een rol.", f"{path}.role")
        _check_member_kind(participant, path)
    _check_one_regiebehandelaar(participants)
    if body.get("status") in ("active", None):
        _check_one_network(ctx, patient)


def _check_member_kind(participant: dict[str, Any], path: str) -> None:
    member = reference_of(participant.get("member"))
    kind = member.split("/", 1)[0] if member else None
    if (
        has_role(participant, codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR)
        and kind not in _PROFESSIONALS
    ):
        raise rule_violation(
            "De regiebehandelaar is een zorgverlener (Practitioner of PractitionerRole).",
            f"{path}.member",
        )
    roles = set(codes.codings(participant.get("role")))
    if roles & codes.REPRESENTATIVE_ROLES and kind != "RelatedPerson":
        raise rule_violation(
            "Een gevolmachtigde of wettelijk vertegenwoordiger is een naaste van de cliënt "
            "(RelatedPerson).",
            f"{path}.member",
        )


def _check_one_regiebehandelaar(participants: list[dict[str, Any]]) -> None:
    periods = [
        p.get("period")
        for p in participants
        if has_role(p, codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR)
    ]
    for i, first in enumerate(periods):
        for second in periods[i + 1 :]:
            if overlaps(first, second):
                raise rule_violation(
                    "Er is op elk moment hoogstens één regiebehandelaar: de perioden van de "
                    "regiebehandelaars in het netwerk overlappen. Beëindig de vorige eerst "
                    "(of gebruik $regiebehandelaar voor een overdracht).",
                    "CareTeam.participant",
                )


def _check_one_network(ctx: Context, patient: str) -> None:
    ctx.store.lock(f"network:{patient}")
    ctx.defer(f"network:{patient}", lambda: _one_active(ctx, patient, codes.NETWORK))


_ONE_ACTIVE = {
    codes.ZORGLEEFPLAN: (
        "CarePlan",
        "CarePlan.status",
        "Deze cliënt heeft al een actief zorgleefplan; er kan er maar één actief zijn. "
        "Sluit het huidige plan af of werk het bij.",
    ),
    codes.NETWORK: (
        "CareTeam",
        "CareTeam.status",
        "Deze cliënt heeft al een actief persoonlijk netwerk; werk dat netwerk bij.",
    ),
}


def _one_active(ctx: Context, patient: str, category: str) -> None:
    """Checked after all writes of the request, under the client's lock."""
    resource_type, path, message = _ONE_ACTIVE[category]
    active = find_matches(
        ctx.store.conn,
        resource_type,
        [
            ("subject", f"Patient/{patient}"),
            ("category", f"{codes.CATEGORY_SYSTEM}|{category}"),
            ("status", "active"),
        ],
        limit=2,
    )
    if len(active) > 1:
        raise rule_violation(message, path)


# -- complaints ----------------------------------------------------------------


def _check_complaint(body: dict[str, Any]) -> None:
    patient = patient_id_of(body, "Communication.subject")
    sender = reference_of(body.get("sender"))
    if sender is None or not (
        sender == f"Patient/{patient}" or sender.startswith("RelatedPerson/")
    ):
        raise rule_violation(
            "Een klacht wordt ingediend door de cliënt of diens vertegenwoordiger "
            "(sender: de Patient of een RelatedPerson).",
            "Communication.sender",
        )
    if not body.get("payload"):
        raise rule_violation("Een klacht bevat de klacht zelf (payload).", "Communication.payload")


def _check_complaint_handling(body: dict[str, Any]) -> None:
    patient_id_of(body, "Task.for", key="for")
    focus = reference_of(body.get("focus"))
    if focus is None or not focus.startswith("Communication/"):
        raise rule_violation(
            "Klachtafhandeling verwijst naar de klacht (focus: Communication).", "Task.focus"
        )
