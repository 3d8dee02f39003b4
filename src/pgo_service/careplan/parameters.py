"""Reading the Parameters body of an operation."""

from __future__ import annotations

from typing import Any

from ..fhir.errors import Category, FhirError


def parameters(body: Any) -> list[dict[str, Any]]:
    if body is None:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError(Category.INVALID, "The operation takes a Parameters resource")
    return [p for p in body.get("parameter") or [] if isinstance(p, dict)]


def values(params: list[dict[str, Any]], name: str, kind: str) -> list[Any]:
    found = []
    for param in params:
        if param.get("name") == name:
            if f"value{kind}" not in param:
                raise FhirError(
                    Category.INVALID, f"Parameter {name!r} takes value{kind}", expression=[name]
                )
            found.append(param[f"value{kind}"])
    return found


def single(params: list[dict[str, Any]], name: str, kind: str, *, required: bool) -> Any:
    found = values(params, name, kind)
    if len(found) > 1:
        raise FhirError(Category.INVALID, f"Parameter {name!r} may occur once", expression=[name])
    if required and not found:
        raise FhirError(Category.INVALID, f"Parameter {name!r} is required", expression=[name])
    return found[0] if found else None


def output(*items: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name, f"value{kind}": value}
            for name, kind, value in items
            if value is not None
        ],
    }
