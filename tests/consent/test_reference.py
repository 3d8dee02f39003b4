"""The reference rules against the worked examples of docs/consent.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .reference import (
    ACCESS,
    CONSENT_ACTION_SYSTEM,
    CONSENT_SCOPE_SYSTEM,
    CORRECT,
    GEVOLMACHTIGDE,
    ROLE_SYSTEM,
    Requester,
    World,
    decide,
    first_and_last_instant,
    identities,
)

IN_THE_YEAR = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ref(reference: str) -> dict[str, str]:
    return {"reference": reference}


def consent(patient: str, provision: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": extra.pop("id", "c1"),
        "status": extra.pop("status", "active"),
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": ref(patient),
        "provision": provision,
        **extra,
    }


def actor(reference: str) -> list[dict[str, Any]]:
    return [
        {
            "role": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "PRCP",
                    }
                ]
            },
            "reference": ref(reference),
        }
    ]


def action(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CONSENT_ACTION_SYSTEM, "code": code}]}]


def classes(*types: str) -> list[dict[str, str]]:
    return [{"system": "http://hl7.org/fhir/resource-types", "code": t} for t in types]


def anna_world() -> World:
    return [
        {"resourceType": "Patient", "id": "anna"},
        {"resourceType": "Practitioner", "id": "wijk"},
        {
            "resourceType": "CarePlan",
            "id": "plan",
            "status": "active",
            "intent": "plan",
            "subject": ref("Patient/anna"),
            "goal": [ref("Goal/g1")],
        },
        {"resourceType": "Goal", "id": "g1", "subject": ref("Patient/anna")},
        {"resourceType": "Goal", "id": "g2", "subject": ref("Patient/anna")},
        {"resourceType": "Condition", "id": "c", "subject": ref("Patient/anna")},
        {
            "resourceType": "Task",
            "id": "t",
            "status": "requested",
            "intent": "plan",
            "for": ref("Patient/anna"),
            "basedOn": [ref("CarePlan/plan")],
        },
        consent(
            "Patient/anna",
            {
                "type": "deny",
                "provision": [
                    {
                        "type": "permit",
                        "period": {"start": "2026-12-01", "end": "2027-11-30"},
                        "actor": actor("Practitioner/wijk"),
                        "action": action("access"),
                        "data": [{"meaning": "related", "reference": ref("CarePlan/plan")}],
                    }
                ],
            },
        ),
    ]


WIJK = Requester("Practitioner/wijk")


def test_district_nurse_reads_plan_and_its_goals() -> None:
    world = anna_world()
    assert decide(world, WIJK, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    assert decide(world, WIJK, ACCESS, "Goal/g1", IN_THE_YEAR)
    assert not decide(world, WIJK, ACCESS, "Goal/g2", IN_THE_YEAR)
    assert not decide(world, WIJK, ACCESS, "Condition/c", IN_THE_YEAR)
    # related: what the plan references, not what references the plan
    assert not decide(world, WIJK, ACCESS, "Task/t", IN_THE_YEAR)
    # the plan references its subject directly
    assert decide(world, WIJK, ACCESS, "Patient/anna", IN_THE_YEAR)


def test_district_nurse_may_not_update() -> None:
    assert not decide(anna_world(), WIJK, CORRECT, "CarePlan/plan", IN_THE_YEAR)


def test_period_to_the_second() -> None:
    world = anna_world()
    assert not decide(world, WIJK, ACCESS, "CarePlan/plan", at("2026-11-30T23:59:59Z"))
    assert decide(world, WIJK, ACCESS, "CarePlan/plan", at("2026-12-01T00:00:00Z"))
    assert decide(world, WIJK, ACCESS, "CarePlan/plan", at("2027-11-30T23:59:59Z"))
    assert not decide(world, WIJK, ACCESS, "CarePlan/plan", at("2027-12-01T00:00:00Z"))
    assert not decide(world, WIJK, ACCESS, "CarePlan/plan", at("2027-12-01T12:00:00Z"))


def test_end_with_a_time_ends_at_that_second() -> None:
    start, last = first_and_last_instant("2027-01-01T12:00:00Z")
    assert start == at("2027-01-01T12:00:00Z")
    assert last == at("2027-01-01T12:00:00.999999Z")
    world = anna_world()
    world[-1]["provision"]["provision"][0]["period"] = {
        "start": "2027-01-01T10:00:00+01:00",
        "end": "2027-01-01T12:00:00Z",
    }
    assert not decide(world, WIJK, ACCESS, "CarePlan/plan", at("2027-01-01T08:59:59Z"))
    assert decide(world, WIJK, ACCESS, "CarePlan/plan", at("2027-01-01T09:00:00Z"))
    assert decide(world, WIJK, ACCESS, "CarePlan/plan", at("2027-01-01T12:00:00Z"))
    assert not decide(world, WIJK, ACCESS, "CarePlan/plan", at("2027-01-01T12:00:01Z"))


def test_dependents_reach_what_references_the_plan() -> None:
    world = anna_world()
    world[-1]["provision"]["provision"][0]["data"][0]["meaning"] = "dependents"
    assert decide(world, WIJK, ACCESS, "Task/t", IN_THE_YEAR)
    assert decide(world, WIJK, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    assert not decide(world, WIJK, ACCESS, "Goal/g1", IN_THE_YEAR)


def test_instance_is_only_the_resource() -> None:
    world = anna_world()
    world[-1]["provision"]["provision"][0]["data"][0]["meaning"] = "instance"
    assert decide(world, WIJK, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    assert not decide(world, WIJK, ACCESS, "Goal/g1", IN_THE_YEAR)
    assert not decide(world, WIJK, ACCESS, "Patient/anna", IN_THE_YEAR)


def test_no_consent_or_inactive_consent_denies() -> None:
    world = [r for r in anna_world() if r["resourceType"] != "Consent"]
    assert not decide(world, WIJK, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    inactive = anna_world()
    inactive[-1]["status"] = "inactive"
    assert not decide(inactive, WIJK, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    other_scope = anna_world()
    other_scope[-1]["scope"]["coding"][0]["code"] = "treatment"
    assert not decide(other_scope, WIJK, ACCESS, "CarePlan/plan", IN_THE_YEAR)


def test_owner_and_system() -> None:
    world = [r for r in anna_world() if r["resourceType"] != "Consent"]
    anna = Requester("Patient/anna", patient="anna")
    assert decide(world, anna, ACCESS, "Condition/c", IN_THE_YEAR)
    assert decide(world, anna, CORRECT, "CarePlan/plan", IN_THE_YEAR)
    assert decide(world, Requester(None, system=True), CORRECT, "Condition/c", IN_THE_YEAR)
    # shared resources are visible to every authenticated caller
    assert decide(world, WIJK, ACCESS, "Practitioner/wijk", IN_THE_YEAR)


def network_world(gevolmachtigde_end: str | None = None) -> World:
    daughter_period = {"start": "2026-01-01"}
    if gevolmachtigde_end:
        daughter_period["end"] = gevolmachtigde_end
    return [
        {"resourceType": "Patient", "id": "anna"},
        {"resourceType": "Organization", "id": "gemeente"},
        {"resourceType": "Organization", "id": "thuiszorg"},
        {"resourceType": "Practitioner", "id": "sw"},
        {"resourceType": "Practitioner", "id": "nurse"},
        {"resourceType": "Practitioner", "id": "outsider"},
        {
            "resourceType": "PractitionerRole",
            "id": "sw-gemeente",
            "practitioner": ref("Practitioner/sw"),
            "organization": ref("Organization/gemeente"),
        },
        {
            "resourceType": "PractitionerRole",
            "id": "nurse-thuiszorg",
            "practitioner": ref("Practitioner/nurse"),
            "organization": ref("Organization/thuiszorg"),
        },
        {
            "resourceType": "PractitionerRole",
            "id": "outsider-gemeente-old",
            "active": False,
            "practitioner": ref("Practitioner/outsider"),
            "organization": ref("Organization/gemeente"),
        },
        {
            "resourceType": "RelatedPerson",
            "id": "dochter",
            "patient": ref("Patient/anna"),
        },
        {
            "resourceType": "CareTeam",
            "id": "netwerk",
            "status": "active",
            "subject": ref("Patient/anna"),
            "participant": [
                {"member": ref("Practitioner/sw")},
                {"member": ref("PractitionerRole/nurse-thuiszorg")},
                {
                    "role": [{"coding": [{"system": ROLE_SYSTEM, "code": GEVOLMACHTIGDE}]}],
                    "member": ref("RelatedPerson/dochter"),
                    "period": daughter_period,
                },
                {"member": ref("Practitioner/outsider"), "period": {"end": "2026-06-01"}},
            ],
        },
        {"resourceType": "CarePlan", "id": "plan", "subject": ref("Patient/anna")},
        {"resourceType": "Observation", "id": "obs", "subject": ref("Patient/anna")},
        {"resourceType": "Condition", "id": "c", "subject": ref("Patient/anna")},
        consent(
            "Patient/anna",
            {
                "type": "deny",
                "provision": [
                    {
                        "type": "permit",
                        "actor": actor("CareTeam/netwerk"),
                        "class": classes("CarePlan", "Goal", "Observation"),
                    },
                    {
                        "type": "deny",
                        "actor": actor("Organization/gemeente"),
                        "class": classes("Observation"),
                    },
                ],
            },
        ),
    ]


def test_identities_table() -> None:
    world = network_world()
    assert identities(world, "Practitioner/sw", IN_THE_YEAR) == {
        "Practitioner/sw",
        "PractitionerRole/sw-gemeente",
        "Organization/gemeente",
        "CareTeam/netwerk",
    }
    assert identities(world, "PractitionerRole/nurse-thuiszorg", IN_THE_YEAR) == {
        "PractitionerRole/nurse-thuiszorg",
        "Practitioner/nurse",
        "Organization/thuiszorg",
        "CareTeam/netwerk",
    }
    # a practitioner is in the team through a role of theirs
    assert "CareTeam/netwerk" in identities(world, "Practitioner/nurse", IN_THE_YEAR)
    # an inactive role and an ended participation count for nothing
    assert identities(world, "Practitioner/outsider", IN_THE_YEAR) == {"Practitioner/outsider"}


def test_municipality_social_worker_reads_plan_not_observations() -> None:
    world = network_world()
    for requester in ("Practitioner/sw", "PractitionerRole/sw-gemeente"):
        sw = Requester(requester)
        assert decide(world, sw, ACCESS, "CarePlan/plan", IN_THE_YEAR)
        assert not decide(world, sw, ACCESS, "Observation/obs", IN_THE_YEAR)
        assert not decide(world, sw, ACCESS, "Condition/c", IN_THE_YEAR)
    nurse = Requester("Practitioner/nurse")
    assert decide(world, nurse, ACCESS, "Observation/obs", IN_THE_YEAR)
    assert decide(world, nurse, CORRECT, "CarePlan/plan", IN_THE_YEAR)
    assert not decide(
        world, Requester("Practitioner/outsider"), ACCESS, "CarePlan/plan", IN_THE_YEAR
    )


def test_more_specific_beats_deny_and_data_beats_class() -> None:
    world = network_world()
    provisions = world[-1]["provision"]["provision"]
    # a permit on the one Observation (data) beats the deny on the class
    provisions.append(
        {
            "type": "permit",
            "actor": actor("Organization/gemeente"),
            "data": [{"meaning": "instance", "reference": ref("Observation/obs")}],
        }
    )
    sw = Requester("Practitioner/sw")
    assert decide(world, sw, ACCESS, "Observation/obs", IN_THE_YEAR)
    # a deeper provision beats a shallower one of equal kind
    provisions.append(
        {
            "type": "permit",
            "actor": actor("Organization/gemeente"),
            "data": [{"meaning": "instance", "reference": ref("Observation/obs")}],
            "provision": [{"type": "deny", "action": action("correct")}],
        }
    )
    assert decide(world, sw, ACCESS, "Observation/obs", IN_THE_YEAR)
    assert not decide(world, sw, CORRECT, "Observation/obs", IN_THE_YEAR)


def test_named_actor_beats_none() -> None:
    world = network_world()
    world[-1]["provision"]["provision"] = [
        {"type": "deny", "class": classes("CarePlan")},
        {"type": "permit", "actor": actor("Practitioner/nurse"), "class": classes("CarePlan")},
    ]
    assert decide(world, Requester("Practitioner/nurse"), ACCESS, "CarePlan/plan", IN_THE_YEAR)
    assert not decide(world, Requester("Practitioner/sw"), ACCESS, "CarePlan/plan", IN_THE_YEAR)


def test_deny_wins_across_consents() -> None:
    world = network_world()
    world.append(
        consent(
            "Patient/anna",
            {"type": "deny", "actor": actor("CareTeam/netwerk"), "class": classes("CarePlan")},
            id="c2",
        )
    )
    nurse = Requester("Practitioner/nurse")
    # permit at depth 1 beats the root deny of c2 (depth 0) of equal kind
    assert decide(world, nurse, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    world[-1]["provision"] = {
        "type": "permit",
        "provision": [
            {"type": "deny", "actor": actor("CareTeam/netwerk"), "class": classes("CarePlan")}
        ],
    }
    assert not decide(world, nurse, ACCESS, "CarePlan/plan", IN_THE_YEAR)


def test_ancestor_restrictions_count() -> None:
    world = network_world()
    world[-1]["provision"] = {
        "type": "deny",
        "actor": actor("Organization/thuiszorg"),
        "provision": [{"type": "permit", "class": classes("Condition")}],
    }
    assert decide(world, Requester("Practitioner/nurse"), ACCESS, "Condition/c", IN_THE_YEAR)
    assert not decide(world, Requester("Practitioner/sw"), ACCESS, "Condition/c", IN_THE_YEAR)


def test_representative_is_owner_while_participating() -> None:
    world = network_world()
    daughter = Requester("RelatedPerson/dochter", patient="anna")
    assert decide(world, daughter, CORRECT, "Condition/c", IN_THE_YEAR)
    ended = network_world(gevolmachtigde_end="2027-02-28")
    assert not decide(ended, daughter, ACCESS, "Condition/c", IN_THE_YEAR)
    # no longer owner, but still a member of the network until the participation ends
    assert not decide(ended, daughter, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    still = network_world(gevolmachtigde_end="2027-03-01")
    assert decide(still, daughter, ACCESS, "Condition/c", IN_THE_YEAR)


def test_token_of_another_patient() -> None:
    world = network_world()
    world.append({"resourceType": "Patient", "id": "bob"})
    bob = Requester("Patient/bob", patient="bob")
    assert not decide(world, bob, ACCESS, "CarePlan/plan", IN_THE_YEAR)
    assert decide(world, bob, ACCESS, "Patient/bob", IN_THE_YEAR)
