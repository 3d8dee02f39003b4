"""Push: send the current state of a resource to a provider's FHIR endpoint.

The job names the resource, the provider's data service and the identifier system
both sides know the resource by; the handler reads the resource when it runs (so a
job sends the latest version, however many changes were queued behind it) and sends
it as a conditional update by identifier, ``PUT [base]/[type]?identifier=system|value``
with a bearer token. Running it twice changes nothing more at the provider than
running it once.

Once the provider's version is known (from the answer to the previous push), the
push says ``If-Match`` with it, so a change made at the provider meanwhile is not
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
from ..db.sync_tables import sync_remote_version
from ..fhir.store import ResourceStore, StoredVersion
from .jobs import ClaimedJob, enqueue
from .outbound import JobFailed, raise_for_outcome
from .registry import data_service
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


def _known_version(
    conn: Connection, provider: str, service: str, resource_type: str, resource_id: str
) -> tuple[str, str] | None:
    row = conn.execute(
        select(sync_remote_version.c.identifier, sync_remote_version.c.etag).where(
            sync_remote_version.c.provider_name == provider,
            sync_remote_version.c.service_id == service,
            sync_remote_version.c.resource_type == resource_type,
            sync_remote_version.c.resource_id == resource_id,
        )
    ).first()
    return None if row is None else (row.identifier, row.etag)


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


# Whether the client's consent lets this stored resource go to this provider now
# (action ``disclose``); the consent package supplies it, checked when the job runs.
DisclosureCheck = Callable[[Connection, StoredVersion, str], bool]


def push_handler(tokens: TokenSource, may_disclose: DisclosureCheck | None = None) -> Handler:
    def push(job: ClaimedJob, context: JobContext) -> None:
        provider = job.provider_name
        payload = job.payload
        resource_type, resource_id = payload["resource_type"], payload["resource_id"]
        service_id, system = payload["service"], payload["identifier_system"]
        if provider is None:
            raise JobFailed("a push names its provider")
        with transaction(context.engine, write=False) as conn:
            service = data_service(conn, provider, service_id)
            stored = ResourceStore(conn).read(resource_type, resource_id)
            token = tokens(conn, provider, service_id, job.patient_id)
            known = _known_version(conn, provider, service_id, resource_type, resource_id)
            disclosed = (
                may_disclose is not None
                and stored is not None
                and may_disclose(conn, stored, provider)
            )
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
        resource = json.loads(stored.content)
        values = [
            i.get("value")
            for i in resource.get("identifier") or []
            if isinstance(i, dict) and i.get("system") == system and i.get("value")
        ]
        if len(values) != 1:
            raise JobFailed(
                f"{resource_type}/{resource_id} needs exactly one identifier of the shared system"
            )
        identifier = f"{system}|{values[0]}"
        body = _without_server_fields(resource)
        endpoint = service.resource_endpoints[sorted(service.resource_endpoints)[0]].rstrip("/")
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": _FHIR_JSON,
            "Accept": _FHIR_JSON,
        }
        if known is not None and known[0] == identifier:
            headers["If-Match"] = known[1]
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
                    f"conflict: {provider} changed the {resource_type} since the last push (412)"
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
