"""References within one client's data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..fhir.compartment import patient_compartment
from ..fhir.errors import Category, FhirError
from ..fhir.interactions.context import Context
from ..fhir.search.fhirpath import parse_reference
from .classify import reference_of

# Types whose references must stay within the client's own data.
_CLIENT_TYPES = frozenset(
    {
        "CarePlan",
        "CareTeam",
        "Goal",
        "Condition",
        "Task",
        "Communication",
        "Observation",
        "DocumentReference",
    }
)


def patient_id_of(body: dict[str, Any], path: str, *, key: str = "subject") -> str:
    reference = reference_of(body.get(key))
    parsed = parse_reference(reference) if reference else None
    if parsed is None or parsed[0] != "Patient" or reference is None or "://" in reference:
        raise FhirError(
            Category.UNPROCESSABLE,
            f"{path} verwijst naar de cliënt (Patient/<id>).",
            expression=[path],
        )
    return parsed[1]


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield ref
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def check_same_client(ctx: Context, resource_type: str, body: dict[str, Any]) -> None:
    """Every stored resource this one refers to belongs to the same client (or to none)."""
    if resource_type not in _CLIENT_TYPES:
        return
    patient = patient_compartment(resource_type, body)
    if patient is None:
        return
    keys: dict[tuple[str, str], str] = {}
    for reference in _references(body):
        parsed = parse_reference(reference) if "://" not in reference else None
        if parsed is not None:
            keys[parsed] = reference
    for key, owner in ctx.store.compartments(keys).items():
        if owner is not None and owner != patient:
            raise FhirError(
                Category.UNPROCESSABLE,
                f"{keys[key]} hoort bij een andere cliënt; een {resource_type} verwijst alleen "
                "naar gegevens van dezelfde cliënt.",
                expression=[resource_type],
            )
