"""The provider registry: providers, their data services and endpoints, the FHIR
version each data service speaks, and the hosts the service may call.

Lists are imported whole in the caller's transaction: a list whose sequence number
(Volgnummer) is not higher than the last imported one is refused, so a replayed or
stale list cannot bring back a removed provider or an old endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from ..db.sync_tables import (
    sync_allowed_host,
    sync_data_service,
    sync_list,
    sync_provider,
    sync_resource_endpoint,
)
from .hosts import HOSTNAME, LOOPBACK, HostPolicy
from .lists import ListError, parse_whitelist, parse_zal

FHIR_VERSIONS = ("R4", "STU3")
# MedMij's long-term care data service (BgLZ) is specified on FHIR STU3 with zib2017.
_STU3_SERVICES = frozenset({"61"})

ZAL = "zal"
WHITELIST = "whitelist"
OPERATOR = "operator"


# An Organization resource stands for a registered provider when it carries this
# identifier with the provider's name from the provider list (ZAL).
PROVIDER_NAME_SYSTEM = "https://pgo-service.nl/fhir/NamingSystem/medmij-zorgaanbiedernaam"


class RegistryError(ValueError):
    pass


def default_fhir_version(service_id: str) -> str:
    return "STU3" if service_id in _STU3_SERVICES else "R4"


@dataclass(frozen=True)
class DataServiceEntry:
    provider_name: str
    service_id: str
    authorization_endpoint: str
    token_endpoint: str
    resource_endpoints: dict[str, str]  # system role code -> URI
    fhir_version: str
    fhir_version_stated: bool  # by the operator, not by the default for the id


@dataclass(frozen=True)
class ProviderEntry:
    name: str
    listed: bool
    data_services: tuple[DataServiceEntry, ...]


@dataclass(frozen=True)
class ImportResult:
    sequence_number: int
    providers: int
    data_services: int
    delisted: int


def _previous_sequence(conn: Connection, name: str) -> int | None:
    statement = select(sync_list.c.sequence_number).where(sync_list.c.name == name)
    if conn.dialect.name == "postgresql":
        statement = statement.with_for_update()
    value = conn.execute(statement).scalar_one_or_none()
    return None if value is None else int(value)


def _record_sequence(
    conn: Connection, name: str, number: int, published: datetime, now: datetime
) -> None:
    values = {"sequence_number": number, "published_at": published, "imported_at": now}
    done = conn.execute(update(sync_list).where(sync_list.c.name == name).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(sync_list).values(name=name, **values))


def _refuse_stale(conn: Connection, name: str, label: str, number: int) -> None:
    previous = _previous_sequence(conn, name)
    if previous is not None and number <= previous:
        raise RegistryError(
            f"this {label} (Volgnummer {number}) is not newer than the imported one ({previous})"
        )


def import_zal(
    conn: Connection, document: bytes, now: datetime, *, dev_mode: bool = False
) -> ImportResult:
    """Replace the registry's providers with the list's; providers no longer listed are
    kept as delisted (their endpoints removed) so nothing calls them again."""
    try:
        listing = parse_zal(document, allow_loopback_http=dev_mode)
    except ListError as exc:
        raise RegistryError(str(exc)) from exc
    _refuse_stale(conn, ZAL, "provider list", listing.sequence_number)

    stated = {
        (row.provider_name, row.service_id): row.fhir_version
        for row in conn.execute(
            select(
                sync_data_service.c.provider_name,
                sync_data_service.c.service_id,
                sync_data_service.c.fhir_version,
            ).where(sync_data_service.c.fhir_version.is_not(None))
        )
    }
    conn.execute(delete(sync_resource_endpoint))
    conn.execute(delete(sync_data_service))
    known = set(conn.execute(select(sync_provider.c.name)).scalars())
    listed = {p.name for p in listing.providers}
    delisted = conn.execute(
        update(sync_provider)
        .where(sync_provider.c.listed.is_(True), sync_provider.c.name.not_in(listed))
        .values(listed=False, updated_at=now)
    ).rowcount
    services = 0
    for provider in listing.providers:
        if provider.name in known:
            conn.execute(
                update(sync_provider)
                .where(sync_provider.c.name == provider.name)
                .values(listed=True, updated_at=now)
            )
        else:
            conn.execute(
                insert(sync_provider).values(name=provider.name, listed=True, updated_at=now)
            )
        for service in provider.data_services:
            services += 1
            conn.execute(
                insert(sync_data_service).values(
                    provider_name=provider.name,
                    service_id=service.service_id,
                    authorization_endpoint=service.authorization_endpoint,
                    token_endpoint=service.token_endpoint,
                    fhir_version=stated.get((provider.name, service.service_id)),
                )
            )
            for endpoint in service.resource_endpoints:
                conn.execute(
                    insert(sync_resource_endpoint).values(
                        provider_name=provider.name,
                        service_id=service.service_id,
                        system_role=endpoint.system_role,
                        uri=endpoint.uri,
                    )
                )
    _record_sequence(conn, ZAL, listing.sequence_number, listing.published_at, now)
    return ImportResult(listing.sequence_number, len(listing.providers), services, delisted)


def import_whitelist(conn: Connection, document: bytes, now: datetime) -> int:
    """Replace the hosts that came from MedMij's whitelist; hosts an operator added stay."""
    try:
        whitelist = parse_whitelist(document)
    except ListError as exc:
        raise RegistryError(str(exc)) from exc
    _refuse_stale(conn, WHITELIST, "whitelist", whitelist.sequence_number)
    conn.execute(delete(sync_allowed_host).where(sync_allowed_host.c.source == WHITELIST))
    operator_hosts = set(conn.execute(select(sync_allowed_host.c.hostname)).scalars())
    for hostname in whitelist.hostnames:
        if hostname not in operator_hosts:
            conn.execute(
                insert(sync_allowed_host).values(hostname=hostname, source=WHITELIST, added_at=now)
            )
    _record_sequence(conn, WHITELIST, whitelist.sequence_number, whitelist.published_at, now)
    return len(whitelist.hostnames)


def allow_host(conn: Connection, hostname: str, now: datetime) -> None:
    host = hostname.strip().lower()
    if host not in LOOPBACK and not HOSTNAME.match(host):
        raise RegistryError(f"{hostname!r} is not a hostname")
    exists = conn.execute(
        select(sync_allowed_host.c.source).where(sync_allowed_host.c.hostname == host)
    ).scalar_one_or_none()
    if exists is None:
        conn.execute(insert(sync_allowed_host).values(hostname=host, source=OPERATOR, added_at=now))
    elif exists != OPERATOR:
        conn.execute(
            update(sync_allowed_host)
            .where(sync_allowed_host.c.hostname == host)
            .values(source=OPERATOR)
        )


def disallow_host(conn: Connection, hostname: str) -> bool:
    done = conn.execute(
        delete(sync_allowed_host).where(sync_allowed_host.c.hostname == hostname.strip().lower())
    )
    return done.rowcount > 0


def allowed_hosts(conn: Connection) -> dict[str, str]:
    """Hostname -> where it came from (``operator`` or ``whitelist``)."""
    rows = conn.execute(
        select(sync_allowed_host.c.hostname, sync_allowed_host.c.source).order_by(
            sync_allowed_host.c.hostname
        )
    )
    return {row.hostname: row.source for row in rows}


def host_policy(conn: Connection, extra_hosts: frozenset[str], *, dev_mode: bool) -> HostPolicy:
    """The allow list from the table and the settings."""
    return HostPolicy(set(allowed_hosts(conn)) | extra_hosts, dev_mode=dev_mode)


def set_fhir_version(
    conn: Connection, provider_name: str, service_id: str, version: str | None
) -> None:
    """State the FHIR version a data service speaks (``None``: back to the default)."""
    if version is not None and version not in FHIR_VERSIONS:
        raise RegistryError(f"FHIR version must be one of {', '.join(FHIR_VERSIONS)}")
    done = conn.execute(
        update(sync_data_service)
        .where(
            sync_data_service.c.provider_name == provider_name,
            sync_data_service.c.service_id == service_id,
        )
        .values(fhir_version=version)
    )
    if done.rowcount == 0:
        raise RegistryError(f"{provider_name} has no data service {service_id}")


def providers(conn: Connection, name: str | None = None) -> list[ProviderEntry]:
    """The registry, ordered by provider name (one provider when ``name`` is given)."""
    provider_query = select(sync_provider).order_by(sync_provider.c.name)
    service_query = select(sync_data_service).order_by(
        sync_data_service.c.provider_name, sync_data_service.c.service_id
    )
    endpoint_query = select(sync_resource_endpoint).order_by(sync_resource_endpoint.c.system_role)
    if name is not None:
        provider_query = provider_query.where(sync_provider.c.name == name)
        service_query = service_query.where(sync_data_service.c.provider_name == name)
        endpoint_query = endpoint_query.where(sync_resource_endpoint.c.provider_name == name)
    endpoints: dict[tuple[str, str], dict[str, str]] = {}
    for row in conn.execute(endpoint_query):
        endpoints.setdefault((row.provider_name, row.service_id), {})[row.system_role] = row.uri
    services: dict[str, list[DataServiceEntry]] = {}
    for row in conn.execute(service_query):
        services.setdefault(row.provider_name, []).append(
            DataServiceEntry(
                provider_name=row.provider_name,
                service_id=row.service_id,
                authorization_endpoint=row.authorization_endpoint,
                token_endpoint=row.token_endpoint,
                resource_endpoints=endpoints.get((row.provider_name, row.service_id), {}),
                fhir_version=row.fhir_version or default_fhir_version(row.service_id),
                fhir_version_stated=row.fhir_version is not None,
            )
        )
    return [
        ProviderEntry(row.name, bool(row.listed), tuple(services.get(row.name, ())))
        for row in conn.execute(provider_query)
    ]


def data_service(conn: Connection, provider_name: str, service_id: str) -> DataServiceEntry | None:
    """A listed provider's data service, or ``None``."""
    for provider in providers(conn, provider_name):
        if not provider.listed:
            return None
        for service in provider.data_services:
            if service.service_id == service_id:
                return service
    return None
