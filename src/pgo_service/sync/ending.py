"""How a merged resource is ended when the provider no longer has it (pure functions).

Nothing is dropped: an agreement becomes ``revoked`` (its activity ``cancelled``), a
Goal ``cancelled``, a CareTeam ``inactive``, a Task ``cancelled``, each with a note
saying where and when; what had already ended keeps its status.
"""

from __future__ import annotations

import copy
from typing import Any

DELETED = "deleted"  # the provider deleted the resource
DROPPED_ACTIVITY = "dropped-activity"  # the provider's CarePlan no longer has the activity

_DONE_DETAIL = ("completed", "cancelled", "stopped", "entered-in-error")
_DONE_TASK = ("completed", "cancelled", "failed", "entered-in-error")


def ending_text(why: str, provider_name: str, service_id: str, day: str) -> str:
    where = f"het EPD van {provider_name} (gegevensdienst {service_id})"
    if why == DROPPED_ACTIVITY:
        return (
            f"Deze activiteit staat niet meer in het zorgplan in {where}; "
            f"hier beëindigd op {day}, niet weggegooid."
        )
    return f"Verwijderd in {where}; hier beëindigd op {day}, niet weggegooid."


def ended_body(resource_type: str, body: dict[str, Any], note: dict[str, Any]) -> dict[str, Any]:
    """``body`` ended, with ``note`` added after its notes."""
    body = copy.deepcopy(body)
    body["note"] = [*(body.get("note") or []), note]
    if resource_type == "CarePlan":
        if body.get("status") not in ("completed", "revoked", "entered-in-error"):
            body["status"] = "revoked"
        for activity in body.get("activity") or []:
            detail = activity.get("detail")
            if isinstance(detail, dict) and detail.get("status") not in _DONE_DETAIL:
                detail["status"] = "cancelled"
    elif resource_type == "Goal":
        if body.get("lifecycleStatus") not in ("completed", "cancelled", "entered-in-error"):
            body["lifecycleStatus"] = "cancelled"
    elif resource_type == "CareTeam":
        body["status"] = "inactive"
    elif resource_type == "Task" and body.get("status") not in _DONE_TASK:
        body["status"] = "cancelled"
    return body
