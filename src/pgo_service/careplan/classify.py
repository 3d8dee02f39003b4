"""Recognising the resources of the model by their codes."""

from __future__ import annotations

from typing import Any

from . import codes


def is_zorgleefplan(resource_type: str, body: dict[str, Any]) -> bool:
    return resource_type == "CarePlan" and codes.has_code(
        body.get("category"), codes.CATEGORY_SYSTEM, codes.ZORGLEEFPLAN
    )


def is_agreement(resource_type: str, body: dict[str, Any]) -> bool:
    return resource_type == "CarePlan" and codes.has_code(
        body.get("category"), codes.CATEGORY_SYSTEM, codes.AGREEMENT
    )


def is_network(resource_type: str, body: dict[str, Any]) -> bool:
    return resource_type == "CareTeam" and codes.has_code(
        body.get("category"), codes.CATEGORY_SYSTEM, codes.NETWORK
    )


def is_complaint(resource_type: str, body: dict[str, Any]) -> bool:
    return resource_type == "Communication" and codes.has_code(
        body.get("category"), codes.CATEGORY_SYSTEM, codes.COMPLAINT
    )


def is_complaint_handling(resource_type: str, body: dict[str, Any]) -> bool:
    return resource_type == "Task" and codes.has_code(
        body.get("code"), codes.CATEGORY_SYSTEM, codes.COMPLAINT_HANDLING
    )


def extension_value(body: dict[str, Any], url: str) -> Any:
    for extension in body.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == url:
            for key, value in extension.items():
                if key.startswith("value"):
                    return value
    return None


def has_role(participant: dict[str, Any], system: str, code: str) -> bool:
    return codes.has_code(participant.get("role"), system, code)


def reference_of(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        ref: str = value["reference"]
        return ref
    return None
