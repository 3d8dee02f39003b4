"""$grant and $revoke: the common consent changes without building provision trees.

Both write plain Consent resources through the same rules as a PUT, so only the
client, their representative or a regiebehandelaar the client allowed may use them.
"""

from __future__ import annotations

import copy
from typing import Any

from ..careplan.parameters import parameters, single, values
from ..careplan.writes import store_resource
from ..fhir.bundles import bundle, resource_entry
from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest, FhirResponse
from ..fhir.interactions.context import Context, OperationCall
from ..fhir.interactions.read import require_current
from ..fhir.jsonio import parse_json
from ..fhir.search.execute import find_matches
from ..fhir.store import StoredVersion, format_instant, utc_now
from .provisions import ACTION_SYSTEM, SCOPE_SYSTEM

BASE = "https://pgo-service.nl/fhir"
GRANT_DEFINITION = f"{BASE}/OperationDefinition/grant"
REVOKE_DEFINITION = f"{BASE}/OperationDefinition/revoke"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_ACTOR_ROLE = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
    "code": "PRCP",
    "display": "primary information recipient",
}


def grant(ctx: Context, request: FhirRequest, call: OperationCall) -> FhirResponse:
    assert call.resource_id is not None
    patient = call.resource_id
    require_current(ctx, "Patient", patient)
    params = parameters(request.body)
    actor = single(params, "actor", "Reference", required=True)
    actions = values(params, "action", "Code") or ["access"]
    classes = values(params, "class", "Code")
    data = values(params, "data", "Reference")
    end = single(params, "end", "DateTime", required=False)
    if any(a not in ("access", "correct", "disclose") for a in actions):
        raise FhirError(Category.INVALID, "action is one of access, correct, disclose")
    permit: dict[str, Any] = {
        "type": "permit",
        "period": {"start": format_instant(utc_now()), **({"end": end} if end else {})},
        "actor": [{"role": {"coding": [_ACTOR_ROLE]}, "reference": actor}],
        "action": [{"coding": [{"system": ACTION_SYSTEM, "code": a}]} for a in actions],
    }
    if classes:
        permit["class"] = [
            {"system": "http://hl7.org/fhir/resource-types", "code": c} for c in classes
        ]
    if data:
        permit["data"] = [{"meaning": "related", "reference": d} for d in data]
    consent = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": SCOPE_SYSTEM, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": format_instant(utc_now()),
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {"type": "deny", "provision": [permit]},
    }
    stored = store_resource(ctx, "Consent", consent)
    ctx.show(stored.reference, stored.patient_id)
    return FhirResponse(201, stored.content, etag=stored.etag, last_modified=stored.last_updated)


def revoke(ctx: Context, request: FhirRequest, call: OperationCall) -> FhirResponse:
    assert call.resource_id is not None
    patient = call.resource_id
    require_current(ctx, "Patient", patient)
    actor = single(parameters(request.body), "actor", "Reference", required=True)
    target = actor.get("reference") if isinstance(actor, dict) else None
    if not isinstance(target, str):
        raise FhirError(Category.INVALID, "actor is a reference such as Organization/x")
    found = find_matches(
        ctx.store.conn,
        "Consent",
        [("patient", f"Patient/{patient}"), ("status", "active"), ("provision-actor", target)],
        limit=1000,
        visible=ctx.visible,
    )
    changed: list[StoredVersion] = []
    for match in found:
        current = ctx.store.read("Consent", match.id)
        if current is None or current.content is None:
            continue
        consent = parse_json(current.content)
        remaining = _without_actor(copy.deepcopy(consent["provision"]), target)
        if remaining is None or not _has_permit(remaining):
            consent["status"] = "inactive"
        else:
            consent["provision"] = remaining
        changed.append(store_resource(ctx, "Consent", consent, current))
    entries = [
        resource_entry(f"{request.base_url}/{s.reference}", s.content) for s in changed if s.content
    ]
    for stored in changed:
        ctx.show(stored.reference, stored.patient_id)
    return FhirResponse(200, bundle("collection", entries))


def _without_actor(node: dict[str, Any], actor: str) -> dict[str, Any] | None:
    """The provision without every provision that names ``actor`` (None if itself does)."""
    named = {((a.get("reference") or {}).get("reference")) for a in node.get("actor") or []}
    if actor in named:
        return None
    children = [c for c in (_without_actor(c, actor) for c in node.get("provision") or []) if c]
    if node.get("provision"):
        node["provision"] = children
        if not children:
            del node["provision"]
    return node


def _has_permit(node: dict[str, Any]) -> bool:
    return node.get("type") == "permit" or any(_has_permit(c) for c in node.get("provision") or [])
