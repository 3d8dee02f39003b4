"""Audit events of the authorization server, written as FHIR AuditEvent resources.

They are stored through the FHIR store on the caller's connection, so an event and
what it records commit or roll back together. They name the actor by FHIR
reference and the client by its id; never a secret, token, password or BSN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ..fhir.store import ResourceStore, format_instant
from .tokens import new_id

SUBTYPE_SYSTEM = "https://pgo-service.nl/fhir/CodeSystem/oauth-event"
_EVENT_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
_LOGIN_TYPE = {
    "system": "http://dicom.nema.org/resources/ontology/DCM",
    "code": "110114",
    "display": "User Authentication",
}
SUCCESS, FAILURE = "0", "4"


@dataclass(frozen=True)
class AuditRecord:
    event: str  # authorize | deny | token | refresh | revoke | login | login-failed | ...
    outcome: str = SUCCESS
    client_id: str | None = None
    actor_reference: str | None = None
    patient_id: str | None = None
    detail: str | None = None
    correlation_id: str | None = None


def agents(actor_reference: str | None, client_id: str | None) -> list[dict[str, Any]]:
    """AuditEvent.agent: who acted (the requestor) and through which app."""
    found: list[dict[str, Any]] = []
    if actor_reference:
        found.append({"who": {"reference": actor_reference}, "requestor": True})
    if client_id:
        app = {"identifier": {"system": "urn:ietf:params:oauth:client-id", "value": client_id}}
        found.append({"who": app, "requestor": not actor_reference})
    return found or [{"who": {"display": "unknown user"}, "requestor": True}]


def _event(record: AuditRecord, now: datetime) -> dict[str, Any]:
    is_login = record.event.startswith("login")
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _LOGIN_TYPE if is_login else _EVENT_TYPE,
        "subtype": [{"system": SUBTYPE_SYSTEM, "code": record.event}],
        "action": "E",
        "recorded": format_instant(now),
        "outcome": record.outcome,
        "agent": agents(record.actor_reference, record.client_id),
        "source": {"observer": {"display": "pgo-service authorization server"}},
    }
    if record.detail:
        event["outcomeDesc"] = record.detail
    entity: dict[str, Any] = {}
    if record.patient_id:
        entity["what"] = {"reference": f"Patient/{record.patient_id}"}
    if record.correlation_id:
        entity["detail"] = [{"type": "X-Correlation-ID", "valueString": record.correlation_id}]
    if entity:
        event["entity"] = [entity]
    return event


def write_audit(conn: Connection, record: AuditRecord, now: datetime) -> None:
    ResourceStore(conn, clock=lambda: now).write(
        "AuditEvent", new_id(), _event(record, now), None, method="POST"
    )
