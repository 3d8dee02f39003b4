"""STU3 resources as a BgLZ (long-term care, zib2017) data service sends them."""

from __future__ import annotations

from typing import Any

ZIB_NURSING = "http://nictiz.nl/fhir/StructureDefinition/zib-NursingIntervention"
ZIB_GOAL = "http://nictiz.nl/fhir/StructureDefinition/zib-TreatmentObjective"


def nursing_intervention(**extra: Any) -> dict[str, Any]:
    """zib NursingIntervention (2017) as a CarePlan: one activity, a nurse performs it."""
    body: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": "zib-ni-1",
        "meta": {"profile": [ZIB_NURSING]},
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Decubituswond verzorgen</div>',
        },
        "status": "suspended",
        "intent": "plan",
        "title": "Wondverzorging",
        "description": "Decubituswond op de stuit twee keer per dag verzorgen",
        "subject": {"reference": "Patient/bglz-patient", "display": "A. Jansen"},
        "period": {"start": "2026-11-01", "end": "2027-02-01"},
        "definition": [{"reference": "PlanDefinition/wondzorg-protocol"}],
        "context": {"reference": "EpisodeOfCare/traject-12", "display": "Wijkverpleging 2026"},
        "author": [
            {"reference": "Practitioner/bglz-nurse", "display": "J. Bakker"},
            {"reference": "Organization/bglz-org", "display": "Thuiszorg De Brug"},
        ],
        "activity": [
            {
                "progress": [
                    {
                        "authorString": "J. Bakker",
                        "time": "2026-11-15T09:30:00+01:00",
                        "text": "Wond kleiner, rand rustig",
                    }
                ],
                "detail": {
                    "category": {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/care-plan-activity-category",
                                "code": "procedure",
                            }
                        ]
                    },
                    "code": {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "225358003",
                                "display": "wondverzorging",
                            }
                        ]
                    },
                    "definition": {"reference": "ActivityDefinition/wond"},
                    "status": "in-progress",
                    "statusReason": "volgens plan",
                    "prohibited": False,
                    "scheduledTiming": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                    "performer": [{"reference": "Practitioner/bglz-nurse", "display": "J. Bakker"}],
                    "description": "Wond reinigen, nieuw verband aanbrengen",
                },
            }
        ],
    }
    body.update(extra)
    return body


def treatment_objective(status: str = "in-progress", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Goal",
        "id": "zib-to-1",
        "meta": {"profile": [ZIB_GOAL]},
        "status": status,
        "description": {"text": "Wond binnen drie maanden genezen"},
        "subject": {"reference": "Patient/bglz-patient"},
        "startDate": "2026-11-01",
        "target": {
            "measure": {"text": "wondoppervlak"},
            "detailQuantity": {"value": 0, "unit": "cm2"},
            "dueDate": "2027-02-01",
        },
        "expressedBy": {"reference": "Practitioner/bglz-nurse"},
    }
    body.update(extra)
    return body


def care_team(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": "bglz-team",
        "status": "active",
        "name": "Wijkteam De Brug",
        "subject": {"reference": "Patient/bglz-patient"},
        "context": {"reference": "EpisodeOfCare/traject-12"},
        "period": {"start": "2026-11-01"},
        "participant": [
            {
                "role": {"text": "eerstverantwoordelijk verpleegkundige"},
                "member": {"reference": "Practitioner/bglz-nurse", "display": "J. Bakker"},
                "onBehalfOf": {"reference": "Organization/bglz-org"},
                "period": {"start": "2026-11-01"},
            }
        ],
    }
    body.update(extra)
    return body


def task(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Task",
        "id": "bglz-task",
        "status": "requested",
        "intent": "order",
        "description": "Verbandmiddelen bestellen",
        "for": {"reference": "Patient/bglz-patient"},
        "definitionUri": "http://example.org/protocols/verband",
        "context": {"reference": "Encounter/bezoek-3"},
        "requester": {
            "agent": {"reference": "Practitioner/bglz-nurse"},
            "onBehalfOf": {"reference": "Organization/bglz-org"},
        },
        "reason": {"text": "voorraad op"},
    }
    body.update(extra)
    return body
