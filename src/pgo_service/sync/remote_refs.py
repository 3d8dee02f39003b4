"""What our resources are known by at a provider: the identifier a push addresses a
resource by, and the provider's own reference for what it sent us or we pushed to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from ..db.sync_tables import sync_pulled, sync_remote_version
from ..fhir.jsonio import parse_json
from ..fhir.store import ResourceStore
from .merge import BASE, source_system
from .push_body import BSN_SYSTEMS, RemoteReference, local_references

# What a resource that did not come from a provider is pushed under: our id as the
# value, a stable identifier that never changes and is never a BSN.
OWN_SYSTEM = f"{BASE}/NamingSystem/pgo-resource"
# Registers every Dutch EHR can resolve a professional or organisation by.
PUBLIC_SYSTEMS = (
    "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers",
    "http://fhir.nl/fhir/NamingSystem/big",
    "http://fhir.nl/fhir/NamingSystem/agb-z",
    "http://fhir.nl/fhir/NamingSystem/ura",
    "http://fhir.nl/fhir/NamingSystem/uzi-nr-sys",
)
_DIRECTORY_TYPES = ("Practitioner", "PractitionerRole", "RelatedPerson", "Organization")


def _identifiers(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [i for i in resource.get("identifier") or [] if isinstance(i, dict)]


def provider_identifier_system(resource: Mapping[str, Any]) -> str | None:
    """The system of the provider's own identifier of a pulled resource: the first
    one that is not ours and not a BSN (the merge keeps the provider's in its order)."""
    for identifier in _identifiers(resource):
        system = identifier.get("system")
        if (
            isinstance(system, str)
            and identifier.get("value")
            and not system.startswith(BASE)
            and system not in BSN_SYSTEMS
        ):
            return system
    return None


def _from_provider(resource: Mapping[str, Any], kind: str, provider_name: str) -> str | None:
    """The provider's ``Type/id`` of what the merge took from it."""
    system = source_system(provider_name)
    for identifier in _identifiers(resource):
        value = identifier.get("value")
        if identifier.get("system") != system or not isinstance(value, str):
            continue
        if kind in _DIRECTORY_TYPES:
            return value if value.startswith(f"{kind}/") else None
        return f"{kind}/{value.split('#', 1)[0]}"
    return None


def _public_identifier(resource: Mapping[str, Any]) -> dict[str, str] | None:
    for system in PUBLIC_SYSTEMS:
        for identifier in _identifiers(resource):
            value = identifier.get("value")
            if identifier.get("system") == system and isinstance(value, str) and value:
                return {"system": system, "value": value}
    return None


def outbound_references(
    conn: Connection, resource: Mapping[str, Any], provider_name: str, service_id: str
) -> dict[str, RemoteReference]:
    """What each resource this one refers to is known by at the provider."""
    keys = {tuple(r.split("/", 1)) for r in local_references(resource)}
    wanted = sorted((kind, rid) for kind, rid in keys)
    stored = ResourceStore(conn).read_many(wanted)
    pushed = _pushed_ids(conn, provider_name, service_id, wanted)
    pushed.update(_provider_patients(conn, provider_name, service_id, wanted))
    known: dict[str, RemoteReference] = {}
    for kind, rid in wanted:
        local = f"{kind}/{rid}"
        found = stored.get((kind, rid))
        body = parse_json(found.content) if found is not None and found.content else {}
        remote = _from_provider(body, kind, provider_name) if body else None
        if remote is None and (kind, rid) in pushed:
            remote = f"{kind}/{pushed[(kind, rid)]}"
        if remote is not None:
            known[local] = RemoteReference(reference=remote)
        elif body and (public := _public_identifier(body)) is not None:
            known[local] = RemoteReference(identifier=public)
    return known


def _pushed_ids(
    conn: Connection, provider_name: str, service_id: str, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    if not keys:
        return {}
    v = sync_remote_version.c
    rows = conn.execute(
        select(v.resource_type, v.resource_id, v.remote_id).where(
            v.provider_name == provider_name,
            v.service_id == service_id,
            v.resource_id.in_(sorted({rid for _, rid in keys})),
            v.remote_id.is_not(None),
        )
    )
    wanted = set(keys)
    return {
        (r.resource_type, r.resource_id): r.remote_id
        for r in rows
        if (r.resource_type, r.resource_id) in wanted
    }


def _provider_patients(
    conn: Connection, provider_name: str, service_id: str, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The provider's Patient id of the client, as its resources named them (the merge
    records it); the newest when it named several."""
    patients = sorted({rid for kind, rid in keys if kind == "Patient"})
    if not patients:
        return {}
    p = sync_pulled.c
    rows = conn.execute(
        select(p.patient_id, p.source_value)
        .where(
            p.patient_id.in_(patients),
            p.provider_name == provider_name,
            p.service_id == service_id,
            p.resource_type == "Patient",
        )
        .order_by(p.updated_at)
    )
    return {("Patient", r.patient_id): r.source_value for r in rows}
