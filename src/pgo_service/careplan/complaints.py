"""$klacht: the client (or representative) files a complaint.

The complaint (Communication) is addressed to the active regiebehandelaar, with a Task
to track its handling; the regiebehandelaar forwards it by updating the Task (owner,
businessStatus, notes) and the client follows the Task's status. Without a
regiebehandelaar the complaint is still recorded, and the answer says so.
"""

from __future__ import annotations

from typing import Any

from ..fhir.exchange import FhirRequest, FhirResponse
from ..fhir.interactions.context import Context, OperationCall
from ..fhir.interactions.read import require_current
from ..fhir.jsonio import dump_json
from ..fhir.store import format_instant, utc_now
from . import codes
from .classify import has_role
from .lookup import active_network, content_of
from .parameters import output, parameters, single, values
from .periods import is_active
from .writes import store_resource

DEFINITION = f"{codes.BASE}/OperationDefinition/klacht"


def file_complaint(ctx: Context, request: FhirRequest, call: OperationCall) -> FhirResponse:
    assert call.resource_id is not None
    patient = call.resource_id
    require_current(ctx, "Patient", patient)
    params = parameters(request.body)
    text = single(params, "text", "String", required=True)
    sender = single(params, "sender", "Reference", required=False) or {
        "reference": f"Patient/{patient}"
    }
    about = values(params, "about", "Reference")
    regie = _current_regiebehandelaar(ctx, patient)
    now = format_instant(utc_now())
    complaint: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [codes.category(codes.COMPLAINT)],
        "subject": {"reference": f"Patient/{patient}"},
        "sender": sender,
        "sent": now,
        "payload": [{"contentString": text}],
        **({"about": about} if about else {}),
        **({"recipient": [regie]} if regie else {}),
    }
    stored_complaint = store_resource(ctx, "Communication", complaint)
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": codes.category(codes.COMPLAINT_HANDLING),
        "focus": {"reference": f"Communication/{stored_complaint.id}"},
        "for": {"reference": f"Patient/{patient}"},
        "authoredOn": now,
        "requester": sender,
        "businessStatus": {"text": "ontvangen" if regie else "wacht op een regiebehandelaar"},
        **({"owner": regie} if regie else {}),
    }
    stored_task = store_resource(ctx, "Task", task)
    message = (
        "Uw klacht is ontvangen en ligt bij uw regiebehandelaar."
        if regie
        else "Uw klacht is vastgelegd. U heeft nog geen regiebehandelaar; zodra die er is, "
        "krijgt die uw klacht. U kunt de status volgen."
    )
    result = output(
        ("complaint", "Reference", {"reference": f"Communication/{stored_complaint.id}"}),
        ("handling", "Reference", {"reference": f"Task/{stored_task.id}"}),
        ("regiebehandelaar", "Reference", regie),
        ("message", "String", message),
    )
    return FhirResponse(201, dump_json(result))


def _current_regiebehandelaar(ctx: Context, patient: str) -> dict[str, Any] | None:
    found = active_network(ctx, patient)
    if found is None:
        return None
    now = utc_now()
    for participant in content_of(found).get("participant") or []:
        if has_role(participant, codes.ROLE_SYSTEM, codes.REGIEBEHANDELAAR) and is_active(
            participant.get("period"), now
        ):
            member = participant.get("member")
            return member if isinstance(member, dict) else None
    return None
