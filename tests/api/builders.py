"""Small builders for test resources."""

from __future__ import annotations

from typing import Any

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"


def patient(bsn: str = "999911120", family: str = "Jansen", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": BSN, "value": bsn}],
        "name": [{"family": family, "given": ["Anna"]}],
        "birthDate": "1948-03-02",
        **extra,
    }


def careplan(patient_ref: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": patient_ref},
        **extra,
    }


CLINICAL_TYPES = ("Patient", "CarePlan", "Observation", "Practitioner", "Goal", "CareTeam")


def stored_versions(client: Any) -> int:
    """How many versions of clinical resources exist (the published terminology aside)."""
    return sum(client.get(f"{t}/_history").json()["total"] for t in CLINICAL_TYPES)
