"""Which providers share an agreement or goal, and by which identifier each one knows it.

A resource is shared with a provider's data service when the client has an active
connection there that speaks R4 (push sends R4), and:

- it came from that data service (``sync_pulled``): it is pushed back under the
  provider's own identifier of it (the first identifier the provider gave it, which
  the merge keeps). A provider resource without an identifier is not pushed: a
  conditional update by one the provider does not hold would create a copy next to
  it. Neither is an agreement the merge split off a provider CarePlan with several
  activities (sending one would replace the provider's whole CarePlan), nor one the
  provider deleted (the merge ended it here);
- or it did not come from there: it is pushed under this service's own identifier,
  ``OWN_SYSTEM|<our id>``, which the pushed body carries, so the next push finds it.

Whether the client's consent lets it go there is the caller's question (consent,
action ``disclose``), asked again when the job runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from ..db.sync_tables import sync_job, sync_pulled, sync_remote_version
from ..fhir.jsonio import parse_json
from ..fhir.store import StoredVersion
from .connect import ACTIVE, list_connections
from .jobs import CANCELLED, QUEUED, PayloadError
from .push import PUSH, enqueue_push
from .registry import data_service
from .remote_refs import OWN_SYSTEM, provider_identifier_system

SHARED_TYPES = ("CarePlan", "Goal")


@dataclass(frozen=True)
class PushTarget:
    provider_name: str
    service_id: str
    identifier_system: str


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _r4_connections(conn: Connection, patient_id: str, now: datetime) -> list[tuple[str, str]]:
    found = []
    for connection in list_connections(conn, patient_id, now):
        if connection.status != ACTIVE:
            continue
        service = data_service(conn, connection.provider_name, connection.service_id)
        if service is not None and service.fhir_version == "R4" and service.resource_endpoints:
            found.append((connection.provider_name, connection.service_id))
    return found


def _pulled_here(conn: Connection, stored: StoredVersion) -> dict[tuple[str, str], Any]:
    """Per (provider, data service), the ``sync_pulled`` row of where this came from."""
    rows = conn.execute(
        select(sync_pulled).where(
            sync_pulled.c.patient_id == stored.patient_id,
            sync_pulled.c.resource_type == stored.resource_type,
            sync_pulled.c.resource_id == stored.id,
        )
    ).all()
    return {(row.provider_name, row.service_id): row for row in rows}


def _split(conn: Connection, row: Any) -> bool:
    """Whether the provider's CarePlan became several agreements here."""
    if "#" in row.source_value:
        return True
    sibling = conn.execute(
        select(sync_pulled.c.source_value).where(
            sync_pulled.c.patient_id == row.patient_id,
            sync_pulled.c.provider_name == row.provider_name,
            sync_pulled.c.resource_type == row.resource_type,
            sync_pulled.c.source_value.startswith(f"{row.source_value}#", autoescape=True),
        )
    ).first()
    return sibling is not None


def _pushed_under(
    conn: Connection, stored: StoredVersion, provider_name: str, service_id: str
) -> str | None:
    """The identifier system an earlier push sent this resource under (ours, for one
    the provider then sent back)."""
    v = sync_remote_version.c
    identifier = conn.execute(
        select(v.identifier).where(
            v.provider_name == provider_name,
            v.service_id == service_id,
            v.resource_type == stored.resource_type,
            v.resource_id == stored.id,
        )
    ).scalar_one_or_none()
    return identifier.split("|", 1)[0] if identifier else None


def push_targets(conn: Connection, stored: StoredVersion, now: datetime) -> list[PushTarget]:
    """The data services this version of a client's agreement or goal goes to (before
    consent is asked)."""
    if (
        stored.resource_type not in SHARED_TYPES
        or stored.patient_id is None
        or stored.deleted
        or stored.content is None
    ):
        return []
    resource = parse_json(stored.content)
    pulled = _pulled_here(conn, stored)
    pulled_from = {provider for provider, _ in pulled}
    targets = []
    for provider, service in _r4_connections(conn, stored.patient_id, _naive(now)):
        row = pulled.get((provider, service))
        if row is not None:
            system = _pushed_under(conn, stored, provider, service) or provider_identifier_system(
                resource
            )
            if system is not None and not row.ended and not _split(conn, row):
                targets.append(PushTarget(provider, service, system))
        elif provider not in pulled_from:
            targets.append(PushTarget(provider, service, OWN_SYSTEM))
    return targets


def queue_pushes(
    conn: Connection,
    stored: StoredVersion,
    targets: Iterable[PushTarget],
    *,
    now: datetime,
    max_attempts: int,
) -> int:
    """Queue a push to each target in the caller's transaction (a push still queued
    covers a later change); how many targets got one."""
    queued = 0
    for target in targets:
        try:
            enqueue_push(
                conn,
                resource_type=stored.resource_type,
                resource_id=stored.id,
                patient_id=stored.patient_id,
                provider_name=target.provider_name,
                service_id=target.service_id,
                identifier_system=target.identifier_system,
                now=_naive(now),
                max_attempts=max_attempts,
            )
        except PayloadError:
            return queued  # an id that looks like a BSN never leaves in a URL
        queued += 1
    return queued


def cancel_pushes(
    conn: Connection, resource_type: str, resource_id: str, now: datetime, reason: str
) -> int:
    """Cancel the queued pushes of a resource (it was deleted: nothing left to send)."""
    result = conn.execute(
        update(sync_job)
        .where(
            sync_job.c.kind == PUSH,
            sync_job.c.status == QUEUED,
            sync_job.c.dedupe_key.endswith(f":{resource_type}/{resource_id}", autoescape=True),
        )
        .values(status=CANCELLED, last_error=f"cancelled: {reason}", updated_at=_naive(now))
    )
    return int(result.rowcount)
