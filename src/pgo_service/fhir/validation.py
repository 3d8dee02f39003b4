"""Validation of incoming resources against the R4B models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from .errors import Category, FhirError
from .registry import is_supported, model_class

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise FhirError(Category.INVALID, f"Invalid resource id {value!r}", expression=["id"])
    return value


def require_type(resource_type: str) -> str:
    if not is_supported(resource_type):
        raise FhirError(Category.NOT_FOUND, f"Resource type {resource_type!r} is not supported")
    return resource_type


def check_resource(data: Any, expected_type: str) -> dict[str, Any]:
    """Return ``data`` when it is a valid resource of ``expected_type``, else raise."""
    if not isinstance(data, dict):
        raise FhirError(Category.INVALID, "The body must be a JSON object (a FHIR resource)")
    actual = data.get("resourceType")
    if actual != expected_type:
        raise FhirError(
            Category.INVALID,
            f"resourceType {actual!r} does not match the type {expected_type!r} of the URL",
            expression=["resourceType"],
        )
    if "id" in data and not (isinstance(data["id"], str) and ID_RE.match(data["id"])):
        raise FhirError(Category.INVALID, "Invalid resource id", expression=[f"{actual}.id"])
    try:
        model_class(expected_type).model_validate(data)
    except ValidationError as exc:
        raise _validation_failure(expected_type, exc) from None
    return data


def _validation_failure(resource_type: str, exc: ValidationError) -> FhirError:
    issues: list[dict[str, Any]] = []
    for err in exc.errors()[:20]:
        path = _fhirpath(resource_type, err["loc"])
        issues.append(
            {
                "severity": "error",
                "code": "structure" if err["type"] == "extra_forbidden" else "value",
                "diagnostics": f"{path}: {err['msg']}",
                "expression": [path],
            }
        )
    first = issues[0]
    return FhirError(
        Category.INVALID,
        first["diagnostics"],
        expression=first["expression"],
        issues=issues[1:],
    )


def _fhirpath(resource_type: str, loc: tuple[int | str, ...]) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path
