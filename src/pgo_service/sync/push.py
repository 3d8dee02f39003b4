"""Push: send the current state of a resource to a provider's FHIR endpoint.

The job names the resource, the provider's data service and the identifier system
both sides know the resource by; the handler reads the resource when it runs (so a
job sends the latest version, however many changes were queued behind it) and sends
it as a conditional update by identifier, ``PUT [base]/[type]?identifier=system|value``
with a bearer token. Running it twice changes nothing more at the provider than
running it once. A resource of ours is addressed by ``remote_refs.OWN_SYSTEM|<our id>``,
which the body then carries; one pulled from the provider by the provider's own
identifier. The references in the body are translated for the provider
(``push_body``): never one of our ids the provider cannot resolve.

Once the provider's version is known (from the answer to the previous push, or from
the pull that last merged the resource, whichever is later), the push says
``If-Match`` with it, so a change made at the provider meanwhile is not
overwritten: the answer 412 makes the job dead for an operator to resolve, except
when the provider already holds exactly what we send (our own earlier push whose
answer was lost), which counts as done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import httpx
from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from ..db.engine import transaction
from ..db.sync_tables import sync_pulled, sync_remote_version
from ..fhir.store import ResourceStore, StoredVersion
from .jobs import ClaimedJob, enqueue
from .outbound import JobFailed, raise_for_outcome
from .push_body import outbound_body
from .registry import data_service
from .remote_refs import OWN_SYSTEM, outbound_references
from .worker import Handler, JobContext

PUSH = "push"
_BSN_SYSTEMS = frozenset(
    {"http://fhir.nl/fhir/NamingSystem/bsn", "urn:oid:2.16.840.1.113883.2.4.6.3"}
)
_FHIR_JSON = "application/fhir+json"
_ETAG_LENGTH = 160  # the columns of sync_remote_version
_IDENTIFIER_LENGTH = 600


class TokenSource(Protocol):
    """The access token the service holds for this patient at this provider's data
    service, or None when it holds none."""

    def __call__(
        self, conn: Connection, provider_name: str, service_id: str, patient_id: str | None
    ) -> str | None: ...


def enqueue_push(
    conn: Connection,
    *,
    resource_type: str,
    resource_id: str,
    patient_id: str | None,
    provider_name: str,
    service_id: str,
    identifier_system: str,
    now: datetime,
    max_attempts: int,
) -> int:
    """Queue a push of this resource in the caller's transaction; a push of the same
    resource to the same data service that is still queued covers it."""
    if identifier_system in _BSN_SYSTEMS:
        raise ValueError("a BSN never identifies a pushed resource (it would be in the URL)")
    return enqueue(
        conn,
        PUSH,
        {
            "resource_type": resource_type,
            "resource_id": resource_id,
            "service": service_id,
            "identifier_system": identifier_system,
        },
        now=now,
        max_attempts=max_attempts,
        provider_name=provider_name,
        patient_id=patient_id,
        dedupe_key=f"{PUSH}:{provider_name}:{service_id}:{resource_type}/{resource_id}",
    )


def _if_match(conn: Connection, job: ClaimedJob, service_id: str, identifier: str) -> str | None:
    """The provider's newest version we know of: from the answer to our last push
    under this identifier, or from the last pull that merged it, whichever is later."""
    provider = job.provider_name
    resource_type, resource_id = job.payload["resource_type"], job.payload["resource_id"]
    known: list[tuple[datetime, str]] = []
    v = sync_remote_version.c
    pushed = conn.execute(
        select(v.identifier, v.etag, v.updated_at).where(
            v.provider_name == provider,
            v.service_id == service_id,
            v.resource_type == resource_type,
            v.resource_id == resource_id,
        )
    ).first()
    if pushed is not None and pushed.identifier == identifier:
        known.append((pushed.updated_at, pushed.etag))
    p = sync_pulled.c
    pulled = conn.execute(
        select(p.source_version, p.updated_at).where(
            p.patient_id == job.patient_id,
            p.provider_name == provider,
            p.service_id == service_id,
            p.resource_type == resource_type,
            p.resource_id == resource_id,
            p.ended.is_(False),
        )
    ).first()
    version = pulled.source_version if pulled is not None else None
    if pulled is not None and version and not version.startswith("at "):
        known.append((pulled.updated_at, f'W/"{version}"'))  # a versionId, not a lastUpdated
    return max(known)[1] if known else None


def _remember_version(conn: Connection, values: dict[str, Any]) -> None:
    key = ("provider_name", "service_id", "resource_type", "resource_id")
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(sync_remote_version)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[sync_remote_version.c[k] for k in key],
            set_={k: v for k, v in values.items() if k not in key},
        )
    )


def _identifier(resource: Mapping[str, Any], resource_id: str, system: str) -> str | None:
    """``system|value`` the push addresses the resource by: our id under our own system,
    else the resource's one identifier of that system."""
    if system == OWN_SYSTEM:
        return f"{system}|{resource_id}"
    values = [
        i.get("value")
        for i in resource.get("identifier") or []
        if isinstance(i, dict) and i.get("system") == system and i.get("value")
    ]
    return f"{system}|{values[0]}" if len(values) == 1 else None


def _meta_version(resource: Mapping[str, Any]) -> str | None:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    return f'W/"{version}"' if isinstance(version, str) and version else None


def _current(
    context: JobContext, url: str, params: dict[str, str], headers: dict[str, str]
) -> dict[str, Any] | None:
    """The provider's resource with this identifier, when there is exactly one."""
    response = context.http.request(
        "GET", url, params=params, headers={k: headers[k] for k in ("Authorization", "Accept")}
    )
    raise_for_outcome(response, context.clock())
    entries = (_json(response) or {}).get("entry") or []
    found = (
        entries[0].get("resource") if len(entries) == 1 and isinstance(entries[0], dict) else None
    )
    return found if isinstance(found, dict) else None


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _without_server_fields(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


def _outgoing(
    conn: Connection, job: ClaimedJob, stored: StoredVersion | None
) -> tuple[str, dict[str, Any], str | None] | None:
    """What goes to the provider: the identifier it is addressed by, the body with our
    references translated for the provider, and the version for If-Match."""
    if stored is None or stored.deleted or stored.content is None:
        return None
    provider, service_id = job.provider_name or "", job.payload["service"]
    system = job.payload["identifier_system"]
    resource = json.loads(stored.content)
    identifier = _identifier(resource, stored.id, system)
    if identifier is None:
        return None
    own = {"system": OWN_SYSTEM, "value": stored.id} if system == OWN_SYSTEM else None
    references = outbound_references(conn, resource, provider, service_id)
    if_match = _if_match(conn, job, service_id, identifier)
    return identifier, outbound_body(resource, references, own), if_match


# Whether the client's consent lets this stored resource go to this provider now
# (action ``disclose``); the consent package supplies it, checked when the job runs.
DisclosureCheck = Callable[[Connection, StoredVersion, str], bool]


def push_handler(tokens: TokenSource, may_disclose: DisclosureCheck | None = None) -> Handler:
    def push(job: ClaimedJob, context: JobContext) -> None:
        provider = job.provider_name
        payload = job.payload
        resource_type, resource_id = payload["resource_type"], payload["resource_id"]
        service_id = payload["service"]
        if provider is None:
            raise JobFailed("a push names its provider")
        with transaction(context.engine, write=False) as conn:
            service = data_service(conn, provider, service_id)
            stored = ResourceStore(conn).read(resource_type, resource_id)
            token = tokens(conn, provider, service_id, job.patient_id)
            disclosed = (
                may_disclose is not None
                and stored is not None
                and may_disclose(conn, stored, provider)
            )
            outgoing = _outgoing(conn, job, stored)
        if service is None:
            raise JobFailed(f"{provider} is not listed with data service {service_id}")
        if service.fhir_version != "R4":
            raise JobFailed(
                f"{provider} data service {service_id} speaks FHIR "
                f"{service.fhir_version}; push sends R4 only"
            )
        if not service.resource_endpoints:
            raise JobFailed(f"{provider} data service {service_id} has no resource endpoint")
        if stored is None or stored.deleted or stored.content is None:
            raise JobFailed(f"{resource_type}/{resource_id} is gone; nothing to push")
        if may_disclose is not None and not disclosed:
            raise JobFailed(f"the client's consent does not let {provider} receive this")
        if token is None:
            raise JobFailed(f"no access token for this client at {provider}")
        if outgoing is None:
            raise JobFailed(
                f"{resource_type}/{resource_id} needs exactly one identifier of the shared system"
            )
        identifier, body, if_match = outgoing
        endpoint = service.resource_endpoints[sorted(service.resource_endpoints)[0]].rstrip("/")
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": _FHIR_JSON,
            "Accept": _FHIR_JSON,
        }
        if if_match is not None:
            headers["If-Match"] = if_match
        url = f"{endpoint}/{resource_type}"
        params = {"identifier": identifier}
        response = context.http.request(
            "PUT", url, params=params, content=json.dumps(body).encode(), headers=headers
        )
        if response.status_code == 412 and "If-Match" in headers:
            # Our previous push may have been applied with its answer lost: then the
            # provider holds exactly this, under a version we never heard of.
            found = _current(context, url, params, headers)
            if found is None or _without_server_fields(found) != body:
                raise JobFailed(
                    f"conflict: {provider} changed the {resource_type} since we last sent or "
                    "read it (412)"
                )
            version, remote_id = _meta_version(found), found.get("id")
        else:
            raise_for_outcome(response, context.clock())
            answer = _json(response) or {}
            version = response.headers.get("ETag") or _meta_version(answer)
            remote_id = answer.get("id")
        if version is None or len(version) > _ETAG_LENGTH or len(identifier) > _IDENTIFIER_LENGTH:
            return  # unknown or unstorable: the next push goes without If-Match
        with transaction(context.engine) as conn:
            _remember_version(
                conn,
                {
                    "provider_name": provider,
                    "service_id": service_id,
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "identifier": identifier,
                    "remote_id": remote_id if isinstance(remote_id, str) else None,
                    "etag": version,
                    "updated_at": context.clock(),
                },
            )

    return push
