"""Patient compartment membership (R4 CompartmentDefinition ``patient``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pgo_service.fhir.search.fhirpath import CompiledPath, parse_reference
from pgo_service.fhir.search.params import fhirpath_compiler, load_data, search_param

PATIENT = "Patient"


def patient_compartment(resource_type: str, resource: dict[str, Any]) -> str | None:
    """The id of the Patient whose compartment the resource belongs to, if any.

    A Patient is its own compartment. Other resources belong to the first Patient
    they reference, by a relative reference, through the compartment's parameters
    (in the definition's order, so ``subject``/``patient`` win over e.g. ``performer``).
    """
    if resource_type == PATIENT:
        own_id = resource.get("id")
        return own_id if isinstance(own_id, str) and own_id else None
    for path in _paths(resource_type):
        for value, _type in path.evaluate(resource):
            patient_id = relative_patient_id(value)
            if patient_id is not None:
                return patient_id
    return None


def compartment_params(resource_type: str) -> tuple[str, ...]:
    """Codes of the parameters that put a resource type in the Patient compartment."""
    codes: list[str] = _definition().get(resource_type, [])
    return tuple(codes)


@cache
def _definition() -> dict[str, list[str]]:
    data: dict[str, list[str]] = load_data("compartment-patient.json")
    return data


@cache
def _paths(resource_type: str) -> tuple[CompiledPath, ...]:
    paths: list[CompiledPath] = []
    for code in compartment_params(resource_type):
        param = search_param(resource_type, code)
        if param is not None and param.type == "reference":
            paths.append(fhirpath_compiler().compile(param.expression, resource_type))
    return tuple(paths)


def relative_patient_id(value: Any) -> str | None:
    """The id of the Patient a Reference names by a relative literal, else None."""
    if not isinstance(value, dict):
        return None
    literal = value.get("reference")
    if not isinstance(literal, str) or "://" in literal or literal.startswith("urn:"):
        return None
    target = parse_reference(literal)
    if target is None or target[0] != PATIENT or literal.count("/") not in (1, 3):
        return None
    return target[1]
