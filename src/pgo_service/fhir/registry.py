"""The resource types this server stores. Adding a type is one line here."""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

RESOURCE_TYPES: tuple[str, ...] = (
    "Patient",
    "RelatedPerson",
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "CarePlan",
    "CareTeam",
    "Goal",
    "Consent",
    "Task",
    "Communication",
    "Condition",
    "Observation",
    "DocumentReference",
    "Provenance",
    "AuditEvent",
    "CodeSystem",
    "ValueSet",
)

_SUPPORTED = frozenset(RESOURCE_TYPES)


def is_supported(resource_type: str) -> bool:
    return resource_type in _SUPPORTED


@cache
def model_class(resource_type: str) -> Any:
    return get_fhir_model_class(resource_type)
