"""Single worlds, each pinning one rule of docs/consent.md that random worlds reach
only rarely; the expected answers come from the reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from tests.support.fhirclient import FhirClient
from tests.support.tokens import actor_token

from .reference import (
    ACCESS,
    CONSENT_ACTION_SYSTEM,
    CONSENT_SCOPE_SYSTEM,
    ROLE_SYSTEM,
    Requester,
    decide,
)
from .worlds import NETWORK_CATEGORY_SYSTEM

NOW = datetime.now(UTC)
PAST = (NOW - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
RECENT = (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ref(reference: str) -> dict[str, str]:
    return {"reference": reference}


def world(team: dict[str, Any], role: dict[str, Any], provision: dict[str, Any]) -> list[Any]:
    return [
        {"resourceType": "Organization", "id": "case-org"},
        {"resourceType": "Practitioner", "id": "case-pr"},
        {
            "resourceType": "PractitionerRole",
            "id": "case-role",
            "practitioner": ref("Practitioner/case-pr"),
            "organization": ref("Organization/case-org"),
            **role,
        },
        {"resourceType": "Patient", "id": "case-p"},
        {
            "resourceType": "CareTeam",
            "id": "case-net",
            "status": "active",
            "category": [
                {"coding": [{"system": NETWORK_CATEGORY_SYSTEM, "code": "persoonlijk-netwerk"}]}
            ],
            "subject": ref("Patient/case-p"),
            "participant": [
                {
                    "role": [{"coding": [{"system": ROLE_SYSTEM, "code": "zorgprofessional"}]}],
                    "member": ref("Practitioner/case-pr"),
                }
            ],
            **team,
        },
        {
            "resourceType": "CarePlan",
            "id": "case-plan",
            "status": "active",
            "intent": "plan",
            "subject": ref("Patient/case-p"),
        },
        {
            "resourceType": "Consent",
            "id": "case-consent",
            "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": ref("Patient/case-p"),
            "policyRule": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
                ]
            },
            "provision": provision,
        },
    ]


def actor(reference: str) -> list[dict[str, Any]]:
    return [{"role": {"text": "PRCP"}, "reference": ref(reference)}]


def read_as(client: FhirClient, engine: Engine, resources: list[Any], who: str) -> int:
    for resource in resources:
        response = client.put(f"{resource['resourceType']}/{resource['id']}", resource)
        assert response.status_code in (200, 201), response.text
    token = actor_token(engine, who)
    response = client.get("CarePlan/case-plan", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def test_care_team_whose_period_ended_is_no_identity(client: FhirClient, db_engine: Engine) -> None:
    resources = world(
        {"period": {"start": PAST, "end": RECENT}},
        {},
        {"type": "permit", "actor": actor("CareTeam/case-net")},
    )
    expected = decide(
        resources, Requester("Practitioner/case-pr"), ACCESS, "CarePlan/case-plan", NOW
    )
    assert expected is False
    status = read_as(client, db_engine, resources, "Practitioner/case-pr")
    assert status in (403, 404), f"the team's period ended at {RECENT}, yet the read gave {status}"


def test_a_role_that_is_not_active_gets_nothing(client: FhirClient, db_engine: Engine) -> None:
    resources = world(
        {},
        {"active": False},
        {
            "type": "permit",
            "provision": [
                {
                    "type": "deny",
                    "actor": actor("Organization/case-org"),
                    "action": [{"coding": [{"system": CONSENT_ACTION_SYSTEM, "code": "access"}]}],
                }
            ],
        },
    )
    requester = Requester("PractitionerRole/case-role")
    assert not decide(resources, requester, ACCESS, "CarePlan/case-plan", NOW)
    status = read_as(client, db_engine, resources, "PractitionerRole/case-role")
    assert status in (403, 404), (
        f"the deny names the role's organization, yet the read gave {status}"
    )


def test_an_instance_deny_holds_for_a_type_no_class_names(
    client: FhirClient, db_engine: Engine
) -> None:
    # Open permit, one plan denied to this professional by instance: the rule for the
    # types no provision names in ``class`` must keep the instance exception.
    resources = world(
        {},
        {},
        {
            "type": "permit",
            "provision": [
                {
                    "type": "deny",
                    "actor": actor("Practitioner/case-pr"),
                    "data": [{"meaning": "instance", "reference": ref("CarePlan/case-plan")}],
                }
            ],
        },
    )
    requester = Requester("Practitioner/case-pr")
    assert not decide(resources, requester, ACCESS, "CarePlan/case-plan", NOW)
    status = read_as(client, db_engine, resources, "Practitioner/case-pr")
    assert status in (403, 404), f"the plan is denied by instance, yet the read gave {status}"
