"""The codes R4 requires (required bindings) in the elements of the pulled resources
that the plan acts on. The models check structure and types, not these value sets, so
a provider's resource with a status outside them is set aside rather than merged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_REQUEST_STATUS = {
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
}
_ACTIVITY_STATUS = {
    "not-started",
    "scheduled",
    "in-progress",
    "on-hold",
    "completed",
    "cancelled",
    "stopped",
    "unknown",
    "entered-in-error",
}
_TASK_INTENT = {
    "unknown",
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
}
REQUIRED: dict[str, dict[str, set[str]]] = {
    "CarePlan": {
        "status": _REQUEST_STATUS,
        "intent": {"proposal", "plan", "order", "option"},
        "activity.detail.status": _ACTIVITY_STATUS,
    },
    "Goal": {
        "lifecycleStatus": {
            "proposed",
            "planned",
            "accepted",
            "active",
            "on-hold",
            "completed",
            "cancelled",
            "entered-in-error",
            "rejected",
        },
    },
    "CareTeam": {"status": {"proposed", "active", "suspended", "inactive", "entered-in-error"}},
    "Task": {
        "status": {
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        },
        "intent": _TASK_INTENT,
    },
}


def _values(node: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _values(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from _values(node[path[0]], path[1:])


def code_problem(resource_type: str, resource: dict[str, Any]) -> str | None:
    """The first element whose code is outside its required value set (the element's
    path and the allowed codes, not the value given), or None."""
    for path, allowed in REQUIRED.get(resource_type, {}).items():
        for value in _values(resource, path.split(".")):
            if value not in allowed:
                return f"{resource_type}.{path}: not one of {', '.join(sorted(allowed))}"
    return None
