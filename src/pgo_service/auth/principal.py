"""Who is calling /fhir, for whom, with what: resolved from a bearer token (RFC 6750)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from .grants import GrantRepository
from .scopes import ScopeSet
from .tokens import secret_hash

# The issue allows at most a couple of seconds of clock leeway on expiry.
EXPIRY_LEEWAY = timedelta(seconds=2)


@dataclass(frozen=True)
class Principal:
    client_id: str
    actor_reference: str | None  # Patient/x, RelatedPerson/x, Practitioner/x; None for a system
    patient_id: str | None  # the patient acted for; limits access to their compartment
    scopes: ScopeSet
    expires_at: datetime


def resolve_bearer(conn: Connection, token: str, now: datetime) -> Principal | None:
    stored = GrantRepository(conn).find_access_token(secret_hash(token))
    if stored is None or stored.revoked_at is not None:
        return None
    if now > stored.expires_at + EXPIRY_LEEWAY:
        return None
    return Principal(
        client_id=stored.client_id,
        actor_reference=stored.actor_reference or None,
        patient_id=stored.patient_id,
        scopes=ScopeSet.stored(stored.scope),
        expires_at=stored.expires_at,
    )
