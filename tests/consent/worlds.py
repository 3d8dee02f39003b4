"""Random worlds of clients, their networks, Consents and clinical data.

A world is drawn with ids relative to itself ("p0", "pr1", ...) and moments relative
to now (``{"@": minutes, "form": ...}``); ``materialize`` turns it into FHIR JSON
with ids unique to one example and moments around the real current time. Every
boundary lies at least ten minutes from now, so a check made within that margin
cannot flip a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from .reference import (
    CONSENT_ACTION_SYSTEM,
    CONSENT_SCOPE_SYSTEM,
    GEVOLMACHTIGDE,
    ROLE_SYSTEM,
    Resource,
    World,
)

NETWORK_CATEGORY_SYSTEM = "https://pgo-service.nl/fhir/CodeSystem/zorgleefplan-categorie"
ZIB_CAREGIVER_SYSTEM = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.23.1"
ZIB_ROLE_SYSTEM = "urn:oid:2.16.840.1.113883.2.4.3.11.22.472"
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
OBSERVATION_CODE_SYSTEM = "https://example.org/fhir/CodeSystem/test-observation"

CLINICAL_TYPES = ("CarePlan", "Goal", "Condition", "Observation", "Task")
CLASS_CHOICES = (*CLINICAL_TYPES, "Patient")

DAY = 24 * 60

# (minutes from now, written as a date or as a dateTime)
PAST = [(-3 * DAY, "date"), (-2 * DAY, "offset"), (-120, "z"), (-15, "z")]
FUTURE = [(15, "z"), (120, "offset"), (2 * DAY, "z"), (3 * DAY, "date")]


def moment(minutes: int, form: str) -> dict[str, Any]:
    return {"@": minutes, "form": form}


@st.composite
def periods(draw: st.DrawFn) -> dict[str, Any] | None:
    """None, or a period that is current, has ended or has not yet begun."""
    kind = draw(st.sampled_from(["none", "current", "ended", "future"]))
    if kind == "none":
        return None
    if kind == "current":
        start = draw(st.sampled_from([None, *PAST]))
        end = draw(st.sampled_from([None, *FUTURE]))
    elif kind == "ended":
        start = draw(st.sampled_from([None, PAST[0], PAST[1]]))
        end = draw(st.sampled_from(PAST[2:]))
    else:
        start = draw(st.sampled_from(FUTURE[:2]))
        end = draw(st.sampled_from([None, FUTURE[2], FUTURE[3]]))
    period: dict[str, Any] = {}
    if start is not None:
        period["start"] = moment(*start)
    if end is not None:
        period["end"] = moment(*end)
    return period or None


def ref(reference: str) -> dict[str, str]:
    return {"reference": reference}


def concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


@dataclass
class Draft:
    """A world before its ids and moments are fixed."""

    resources: World
    clients: list[str]  # Patient ids

    def by_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources if r["resourceType"] == resource_type]

    def of_client(self, client: str) -> list[Resource]:
        subject = f"Patient/{client}"
        found = []
        for resource in self.resources:
            for element in ("subject", "for", "patient"):
                if (resource.get(element) or {}).get("reference") == subject:
                    found.append(resource)
                    break
        return found


def _participant_role(member: str, draw: st.DrawFn) -> dict[str, Any]:
    kind = member.split("/")[0]
    if kind == "RelatedPerson":
        choice = draw(st.sampled_from(["gevolmachtigde", "mantelzorger", "buur"]))
        if choice == "gevolmachtigde":
            return concept(ROLE_SYSTEM, GEVOLMACHTIGDE)
        if choice == "mantelzorger":
            return concept(ZIB_CAREGIVER_SYSTEM, "100001")
        return concept(ZIB_ROLE_SYSTEM, "19")
    if kind == "Organization":
        return concept(ROLE_SYSTEM, "gemeente")
    return concept(ROLE_SYSTEM, "zorgprofessional")


@st.composite
def provisions(
    draw: st.DrawFn, actors: list[str], data: list[str], depth: int, root: bool
) -> dict[str, Any]:
    provision: dict[str, Any] = {"type": draw(st.sampled_from(["deny", "permit"]))}
    restricted = not root or draw(st.integers(0, 3)) == 0
    if restricted:
        if draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(actors), min_size=1, max_size=2, unique=True))
            provision["actor"] = [
                {
                    "role": concept(
                        "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PRCP"
                    ),
                    "reference": ref(a),
                }
                for a in chosen
            ]
        action = draw(st.sampled_from([None, "access", "correct"]))
        if action is not None:
            provision["action"] = [concept(CONSENT_ACTION_SYSTEM, action)]
        if draw(st.integers(0, 2)) == 0:
            chosen = draw(
                st.lists(st.sampled_from(CLASS_CHOICES), min_size=1, max_size=2, unique=True)
            )
            provision["class"] = [{"system": RESOURCE_TYPES_SYSTEM, "code": c} for c in chosen]
        if data and draw(st.integers(0, 2)) == 0:
            provision["data"] = [
                {
                    "meaning": draw(st.sampled_from(["instance", "related", "dependents"])),
                    "reference": ref(draw(st.sampled_from(data))),
                }
            ]
        period = draw(periods())
        if period is not None:
            provision["period"] = period
    if depth < 2:
        count = draw(st.integers(0, 3 if root else 1))
        children = [draw(provisions(actors, data, depth + 1, False)) for _ in range(count)]
        if children:
            provision["provision"] = children
    return provision


@st.composite
def drafts(draw: st.DrawFn) -> Draft:
    resources: World = []
    organizations = [f"o{i}" for i in range(2)]
    for org in organizations:
        resources.append({"resourceType": "Organization", "id": org, "name": org})
    practitioners = [f"pr{i}" for i in range(draw(st.integers(1, 3)))]
    for practitioner in practitioners:
        resources.append(
            {"resourceType": "Practitioner", "id": practitioner, "name": [{"text": practitioner}]}
        )
    roles = []
    for index in range(draw(st.integers(1, 3))):
        role: Resource = {
            "resourceType": "PractitionerRole",
            "id": f"r{index}",
            "practitioner": ref(f"Practitioner/{draw(st.sampled_from(practitioners))}"),
            "organization": ref(f"Organization/{draw(st.sampled_from(organizations))}"),
        }
        active = draw(st.sampled_from([None, True, False]))
        if active is not None:
            role["active"] = active
        period = draw(periods())
        if period is not None:
            role["period"] = period
        resources.append(role)
        roles.append(role["id"])
    clients = [f"p{i}" for i in range(draw(st.integers(1, 2)))]
    code_count = draw(st.integers(1, 2))
    for client in clients:
        resources.extend(draw(client_data(client, practitioners, roles, organizations, code_count)))
    draft = Draft(resources, clients)
    for client in clients:
        resources.extend(draw(consents(draft, client, practitioners, roles, organizations)))
    return draft


@st.composite
def care_team(draw: st.DrawFn, team: Resource, members: list[str]) -> Resource:
    """The team with participants drawn from ``members`` and maybe a period of its own."""
    participants = []
    for member in draw(st.lists(st.sampled_from(members), max_size=5)):
        participant: dict[str, Any] = {
            "role": [_participant_role(member, draw)],
            "member": ref(member),
        }
        period = draw(periods())
        if period is not None:
            participant["period"] = period
        participants.append(participant)
    if participants:
        team["participant"] = participants
    if draw(st.booleans()):
        period = draw(periods())
        if period is not None:
            team["period"] = period
    return team


@st.composite
def client_data(
    draw: st.DrawFn,
    client: str,
    practitioners: list[str],
    roles: list[str],
    organizations: list[str],
    code_count: int,
) -> World:
    subject = ref(f"Patient/{client}")
    world: World = [{"resourceType": "Patient", "id": client, "name": [{"text": client}]}]
    related = [f"{client}-rp{i}" for i in range(draw(st.integers(0, 2)))]
    for person in related:
        world.append({"resourceType": "RelatedPerson", "id": person, "patient": subject})
    members = (
        [f"Practitioner/{p}" for p in practitioners]
        + [f"PractitionerRole/{r}" for r in roles]
        + [f"RelatedPerson/{p}" for p in related]
        + [f"Organization/{o}" for o in organizations]
    )
    network: Resource = {
        "resourceType": "CareTeam",
        "id": f"{client}-net",
        "status": "active",
        "category": [concept(NETWORK_CATEGORY_SYSTEM, "persoonlijk-netwerk")],
        "subject": subject,
    }
    world.append(draw(care_team(network, members)))
    if draw(st.integers(0, 2)) == 0:
        # another team of the client, outside the zorgleefplan's network rules
        other: Resource = {
            "resourceType": "CareTeam",
            "id": f"{client}-team",
            "status": draw(st.sampled_from(["active", "inactive", "suspended"])),
            "subject": subject,
        }
        world.append(draw(care_team(other, members)))
    goals = [f"{client}-g{i}" for i in range(draw(st.integers(1, 2)))]
    for goal in goals:
        world.append(
            {
                "resourceType": "Goal",
                "id": goal,
                "lifecycleStatus": "active",
                "description": {"text": f"doel {goal}"},
                "subject": subject,
            }
        )
    condition = f"{client}-c0"
    world.append(
        {
            "resourceType": "Condition",
            "id": condition,
            "code": {"text": f"probleem {condition}"},
            "subject": subject,
        }
    )
    plan: Resource = {
        "resourceType": "CarePlan",
        "id": f"{client}-plan",
        "status": draw(st.sampled_from(["active", "draft"])),
        "intent": "plan",
        "subject": subject,
        "goal": [ref(f"Goal/{g}") for g in goals if draw(st.booleans())],
    }
    if draw(st.booleans()):
        plan["addresses"] = [ref(f"Condition/{condition}")]
    if not plan["goal"]:
        del plan["goal"]
    world.append(plan)
    observation: Resource = {
        "resourceType": "Observation",
        "id": f"{client}-obs",
        "status": "final",
        "code": concept(OBSERVATION_CODE_SYSTEM, f"code{draw(st.integers(0, code_count - 1))}"),
        "subject": subject,
    }
    if draw(st.booleans()):
        observation["basedOn"] = [ref(f"CarePlan/{plan['id']}")]
    world.append(observation)
    world.append(
        {
            "resourceType": "Task",
            "id": f"{client}-task",
            "status": "requested",
            "intent": "plan",
            "for": subject,
            "basedOn": [ref(f"CarePlan/{plan['id']}")],
        }
    )
    return world


@st.composite
def consents(
    draw: st.DrawFn,
    draft: Draft,
    client: str,
    practitioners: list[str],
    roles: list[str],
    organizations: list[str],
) -> World:
    own = draft.of_client(client)
    actors = (
        [f"Practitioner/{p}" for p in practitioners]
        + [f"PractitionerRole/{r}" for r in roles]
        + [f"Organization/{o}" for o in organizations]
        + [
            f"{r['resourceType']}/{r['id']}"
            for r in draft.resources
            if r["resourceType"] in ("RelatedPerson", "CareTeam")
        ]
    )
    data = [f"Patient/{client}"] + [
        f"{r['resourceType']}/{r['id']}" for r in own if r["resourceType"] in CLINICAL_TYPES
    ]
    world: World = []
    for index in range(draw(st.integers(0, 3))):
        world.append(
            {
                "resourceType": "Consent",
                "id": f"{client}-consent{index}",
                "status": draw(st.sampled_from(["active", "active", "active", "inactive"])),
                "scope": concept(CONSENT_SCOPE_SYSTEM, "patient-privacy"),
                "category": [concept("http://loinc.org", "59284-0")],
                "patient": ref(f"Patient/{client}"),
                "policyRule": concept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"),
                "provision": draw(provisions(actors, data, 0, True)),
            }
        )
    return world


# -- fixing ids and moments ---------------------------------------------------------


def _render(minutes: int, form: str, now: datetime) -> str:
    when = now + timedelta(minutes=minutes)
    if form == "date":
        return when.date().isoformat()
    if form == "offset":
        return when.astimezone(timezone(timedelta(hours=1))).isoformat(timespec="seconds")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def materialize(draft: Draft, prefix: str, now: datetime) -> World:
    """The draft's resources with every id and reference prefixed and every moment fixed."""

    def walk(value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            if set(value) == {"@", "form"}:
                return _render(value["@"], value["form"], now)
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(item, key) for item in value]
        if key == "reference" and isinstance(value, str):
            kind, ident = value.split("/", 1)
            return f"{kind}/{prefix}{ident}"
        if key == "id" and isinstance(value, str):
            return f"{prefix}{value}"
        return value

    materialized: World = walk(draft.resources, None)
    return materialized
