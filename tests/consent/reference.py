"""The rules of docs/consent.md, written out plainly over FHIR JSON dicts.

This module is the yardstick the server is measured against, so it is deliberately
naive: a world is a list of resources, every question loops over it, nothing is
cached or indexed, and nothing is imported from the service. Each function mirrors
one paragraph of docs/consent.md.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

Resource = dict[str, Any]
World = list[Resource]

ROLE_SYSTEM = "https://pgo-service.nl/fhir/CodeSystem/netwerkrol"
GEVOLMACHTIGDE = "gevolmachtigde"
ZIB_ROLE_SYSTEM = "urn:oid:2.16.840.1.113883.2.4.3.11.22.472"
LEGAL_REPRESENTATIVE_CODES = ("03", "11", "14", "15")
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"

ACCESS = "access"
CORRECT = "correct"

# Where each type of resource names the client whose compartment it is in.
COMPARTMENT_ELEMENT = {
    "CarePlan": "subject",
    "CareTeam": "subject",
    "Goal": "subject",
    "Condition": "subject",
    "Observation": "subject",
    "Task": "for",
    "RelatedPerson": "patient",
    "Consent": "patient",
}

# Outside every patient compartment: visible to every authenticated caller.
SHARED_TYPES = ("Practitioner", "Organization", "PractitionerRole", "CodeSystem", "ValueSet")


@dataclass(frozen=True)
class Requester:
    """Who asks: ``actor`` is ``Type/id`` (None for a system token); ``patient`` is the
    id of the patient the token acts for, if any."""

    actor: str | None
    patient: str | None = None
    system: bool = False


# -- time ------------------------------------------------------------------------

_DATE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def first_and_last_instant(value: str) -> tuple[datetime, datetime]:
    """The first and the last instant a FHIR date, dateTime or instant stands for.

    ``2027-01-01`` runs from 00:00:00 up to and including 23:59:59.999999 of that day,
    ``2027-01-01T12:00:00Z`` from 12:00:00 up to and including 12:00:00.999999. A value
    without a zone is read as UTC.
    """
    match = _DATE.match(value)
    if match is None:
        raise ValueError(f"not a FHIR date: {value!r}")
    year = int(match["y"])
    if match["m"] is None:
        start = datetime(year, 1, 1, tzinfo=UTC)
        after = datetime(year + 1, 1, 1, tzinfo=UTC)
    elif match["d"] is None:
        month = int(match["m"])
        start = datetime(year, month, 1, tzinfo=UTC)
        after = start + timedelta(days=calendar.monthrange(year, month)[1])
    elif match["H"] is None:
        start = datetime(year, int(match["m"]), int(match["d"]), tzinfo=UTC)
        after = start + timedelta(days=1)
    else:
        zone: timezone = UTC
        if match["tz"] and match["tz"] != "Z":
            sign = -1 if match["tz"][0] == "-" else 1
            hours, minutes = match["tz"][1:].split(":")
            zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
        start = datetime(
            year,
            int(match["m"]),
            int(match["d"]),
            int(match["H"]),
            int(match["M"]),
            tzinfo=zone,
        )
        if match["S"] is None:
            after = start + timedelta(minutes=1)
        else:
            start = start.replace(second=int(match["S"]))
            after = start + timedelta(seconds=1)
            if match["f"]:
                digits = match["f"][1:]
                start = start.replace(microsecond=int((digits + "000000")[:6]))
                after = start + timedelta(microseconds=10 ** max(0, 6 - len(digits)))
    return start, after - timedelta(microseconds=1)


def period_contains(period: Any, moment: datetime) -> bool:
    """An absent period always holds; otherwise from the first instant of ``start`` to
    the last instant of ``end``, both included."""
    if not isinstance(period, dict):
        return True
    if period.get("start"):
        first, _ = first_and_last_instant(period["start"])
        if moment < first:
            return False
    if period.get("end"):
        _, last = first_and_last_instant(period["end"])
        if moment > last:
            return False
    return True


# -- looking things up -------------------------------------------------------------


def reference_of(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def normalize(reference: Any) -> str | None:
    """``Type/id`` of a relative literal reference (a ``_history`` suffix dropped)."""
    if not isinstance(reference, str) or "://" in reference or reference.startswith("urn:"):
        return None
    parts = reference.split("/")
    if len(parts) not in (2, 4) or not parts[0] or not parts[1]:
        return None
    return f"{parts[0]}/{parts[1]}"


def find(world: World, reference: str) -> Resource | None:
    for resource in world:
        if reference_of(resource) == reference:
            return resource
    return None


def of_type(world: World, resource_type: str) -> list[Resource]:
    return [r for r in world if r.get("resourceType") == resource_type]


def references_in(value: Any) -> list[str]:
    """Every relative reference anywhere in a piece of JSON, as ``Type/id``."""
    found: list[str] = []
    if isinstance(value, dict):
        if "reference" in value:
            ref = normalize(value["reference"])
            if ref is not None:
                found.append(ref)
        for item in value.values():
            found.extend(references_in(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(references_in(item))
    return found


def codings(concepts: Any) -> list[tuple[Any, Any]]:
    """(system, code) of every coding in a CodeableConcept or a list of them."""
    items = concepts if isinstance(concepts, list) else [concepts]
    pairs = []
    for item in items:
        if isinstance(item, dict):
            for coding in item.get("coding") or []:
                if isinstance(coding, dict):
                    pairs.append((coding.get("system"), coding.get("code")))
    return pairs


def compartment_of(resource: Resource) -> str | None:
    """The id of the client whose compartment the resource is in, if any."""
    kind = resource.get("resourceType")
    if kind == "Patient":
        return str(resource["id"])
    element = COMPARTMENT_ELEMENT.get(str(kind))
    if element is None:
        return None
    ref = normalize((resource.get(element) or {}).get("reference"))
    if ref is None or not ref.startswith("Patient/"):
        return None
    return ref.split("/", 1)[1]


# -- who is who -------------------------------------------------------------------


def role_is_active(role: Resource, moment: datetime) -> bool:
    return role.get("active") is not False and period_contains(role.get("period"), moment)


def care_team_is_active(team: Resource, moment: datetime) -> bool:
    return team.get("status") == "active" and period_contains(team.get("period"), moment)


def current_participants(team: Resource, moment: datetime) -> list[Resource]:
    return [
        p
        for p in team.get("participant") or []
        if isinstance(p, dict) and period_contains(p.get("period"), moment)
    ]


def identities(world: World, actor: str, moment: datetime) -> set[str]:
    """Every reference the requester answers to (the table in "Who is who")."""
    found = {actor}
    kind = actor.split("/", 1)[0]
    if kind == "Practitioner":
        for role in of_type(world, "PractitionerRole"):
            if not role_is_active(role, moment):
                continue
            if normalize((role.get("practitioner") or {}).get("reference")) == actor:
                found.add(reference_of(role))
                organization = normalize((role.get("organization") or {}).get("reference"))
                if organization is not None:
                    found.add(organization)
    elif kind == "PractitionerRole":
        requesting_role = find(world, actor)
        if requesting_role is not None:
            for element in ("practitioner", "organization"):
                ref = normalize((requesting_role.get(element) or {}).get("reference"))
                if ref is not None:
                    found.add(ref)
    teams = set()
    for team in of_type(world, "CareTeam"):
        if not care_team_is_active(team, moment):
            continue
        for participant in current_participants(team, moment):
            member = normalize((participant.get("member") or {}).get("reference"))
            if member in found:
                teams.add(reference_of(team))
    return found | teams


def is_representative(world: World, actor: str, patient_id: str, moment: datetime) -> bool:
    """A RelatedPerson that is a current participant of an active CareTeam of the
    client with the role gevolmachtigde or a legal representative role."""
    if not actor.startswith("RelatedPerson/"):
        return False
    for team in of_type(world, "CareTeam"):
        if not care_team_is_active(team, moment):
            continue
        if normalize((team.get("subject") or {}).get("reference")) != f"Patient/{patient_id}":
            continue
        for participant in current_participants(team, moment):
            if normalize((participant.get("member") or {}).get("reference")) != actor:
                continue
            roles = codings(participant.get("role"))
            if (ROLE_SYSTEM, GEVOLMACHTIGDE) in roles:
                return True
            for code in LEGAL_REPRESENTATIVE_CODES:
                if (ZIB_ROLE_SYSTEM, code) in roles:
                    return True
    return False


def is_owner(world: World, actor: str, patient_id: str, moment: datetime) -> bool:
    return actor == f"Patient/{patient_id}" or is_representative(world, actor, patient_id, moment)


# -- which Consents count ------------------------------------------------------------


def counting_consents(world: World, patient_id: str) -> list[Resource]:
    found = []
    for consent in of_type(world, "Consent"):
        if consent.get("status") != "active":
            continue
        if (CONSENT_SCOPE_SYSTEM, "patient-privacy") not in codings(consent.get("scope")):
            continue
        if normalize((consent.get("patient") or {}).get("reference")) != f"Patient/{patient_id}":
            continue
        if not isinstance(consent.get("provision"), dict):
            continue
        found.append(consent)
    return found


# -- provisions -------------------------------------------------------------------


def actor_holds(provision: Resource, ids: set[str]) -> bool:
    actors = provision.get("actor")
    if not actors:
        return True
    for actor in actors:
        if normalize((actor.get("reference") or {}).get("reference")) in ids:
            return True
    return False


def action_holds(provision: Resource, action: str) -> bool:
    actions = provision.get("action")
    if not actions:
        return True
    return any((CONSENT_ACTION_SYSTEM, action) in codings(concept) for concept in actions)


def class_holds(provision: Resource, resource_type: str) -> bool:
    classes = provision.get("class")
    if not classes:
        return True
    return any(isinstance(c, dict) and c.get("code") == resource_type for c in classes)


def data_entry_matches(world: World, entry: Resource, target: str) -> bool:
    named = normalize((entry.get("reference") or {}).get("reference"))
    if named is None:
        return False
    meaning = entry.get("meaning", "instance")
    if meaning not in ("instance", "related", "dependents"):
        return False  # authoredby is refused when written
    if target == named:
        return True
    if meaning == "related":
        resource = find(world, named)
        return resource is not None and target in references_in(resource)
    if meaning == "dependents":
        resource = find(world, target)
        return resource is not None and named in references_in(resource)
    return False


def data_holds(world: World, provision: Resource, target: str) -> bool:
    entries = provision.get("data")
    if not entries:
        return True
    return any(data_entry_matches(world, entry, target) for entry in entries)


def own_restrictions_hold(
    world: World,
    provision: Resource,
    ids: set[str],
    action: str,
    target: str,
    moment: datetime,
) -> bool:
    return (
        actor_holds(provision, ids)
        and action_holds(provision, action)
        and class_holds(provision, target.split("/", 1)[0])
        and data_holds(world, provision, target)
        and period_contains(provision.get("period"), moment)
    )


@dataclass(frozen=True)
class Applying:
    """A provision that applies, with what makes it specific."""

    decision: str  # permit | deny
    data_or_class: int  # 2: data somewhere on its path, 1: class, 0: neither
    named_actor: bool
    depth: int
    consent: str
    path: str  # e.g. "provision.provision[1]"

    def specificity(self) -> tuple[int, int, int]:
        return (self.data_or_class, 1 if self.named_actor else 0, self.depth)


def applying_provisions(
    world: World,
    consent: Resource,
    ids: set[str],
    action: str,
    target: str,
    moment: datetime,
) -> list[Applying]:
    found: list[Applying] = []

    def visit(provision: Resource, chain: list[Resource], path: str) -> None:
        chain = [*chain, provision]
        if not own_restrictions_hold(world, provision, ids, action, target, moment):
            return  # neither this provision nor any of its descendants applies
        has_data = any(p.get("data") for p in chain)
        has_class = any(p.get("class") for p in chain)
        if provision.get("type") in ("permit", "deny"):
            found.append(
                Applying(
                    decision=provision["type"],
                    data_or_class=2 if has_data else 1 if has_class else 0,
                    named_actor=any(p.get("actor") for p in chain),
                    depth=len(chain) - 1,
                    consent=str(consent.get("id")),
                    path=path,
                )
            )
        for index, child in enumerate(provision.get("provision") or []):
            visit(child, chain, f"{path}.provision[{index}]")

    visit(consent["provision"], [], "provision")
    return found


def decide_by_consents(
    world: World,
    patient_id: str,
    ids: set[str],
    action: str,
    target: str,
    moment: datetime,
) -> tuple[bool, list[Applying]]:
    """The most specific applying provision decides; deny wins ties; none: deny."""
    applying: list[Applying] = []
    for consent in counting_consents(world, patient_id):
        applying.extend(applying_provisions(world, consent, ids, action, target, moment))
    if not applying:
        return False, applying
    best = max(a.specificity() for a in applying)
    winners = [a for a in applying if a.specificity() == best]
    return all(a.decision == "permit" for a in winners), applying


# -- the decision -------------------------------------------------------------------


def decide(
    world: World,
    requester: Requester,
    action: str,
    target: str,
    moment: datetime,
) -> bool:
    """May ``requester`` perform ``action`` (access or correct) on ``target`` now?"""
    return explain(world, requester, action, target, moment)[0]


def explain(
    world: World,
    requester: Requester,
    action: str,
    target: str,
    moment: datetime,
) -> tuple[bool, str]:
    """The decision and a line saying why, for assertion messages."""
    if requester.system:
        return True, "system token"
    resource = find(world, target)
    if resource is None:
        return False, "no such resource"
    kind = target.split("/", 1)[0]
    patient_id = compartment_of(resource)
    if patient_id is None:
        if kind in SHARED_TYPES:
            return True, "outside every patient compartment"
        return False, "in no compartment"
    if requester.patient is not None and requester.patient != patient_id:
        return False, f"token acts for Patient/{requester.patient}, not Patient/{patient_id}"
    if requester.actor is None:
        return False, "no actor"
    if is_owner(world, requester.actor, patient_id, moment):
        return True, f"owner of Patient/{patient_id}"
    if requester.actor.startswith("PractitionerRole/"):
        role = find(world, requester.actor)
        if role is None or not role_is_active(role, moment):
            return False, "a role that is not active answers to nobody"
    ids = identities(world, requester.actor, moment)
    permitted, applying = decide_by_consents(world, patient_id, ids, action, target, moment)
    if not applying:
        return False, f"no provision applies (identities {sorted(ids)})"
    listed = ", ".join(
        f"{a.decision} {a.consent}:{a.path} spec={a.specificity()}" for a in applying
    )
    verdict = "permit" if permitted else "deny"
    return permitted, f"{verdict}: applying [{listed}] (identities {sorted(ids)})"
