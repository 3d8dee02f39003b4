"""MedMij's published lists that the sync needs: the provider list (ZAL) and the
whitelist of node hostnames.

Both are read strictly, after the release 2 schemas: every element in the list's
namespace, in the schema's order, nothing unknown, every value checked. A list that
fails anywhere is refused as a whole, so an import never applies half a list.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from .hosts import HOSTNAME, EndpointError, check_endpoint

ZAL_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release2/"
WHITELIST_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/whitelist/release2/"

_PROVIDER_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,200}[a-z0-9])?@medmij$")
_SERVICE_ID = re.compile(r"^[1-9][0-9]{0,7}$")
_SYSTEM_ROLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_BYTES = 32 * 1024 * 1024


class ListError(ValueError):
    """The document is not a valid list; nothing of it may be applied."""


@dataclass(frozen=True)
class ResourceEndpoint:
    system_role: str  # Systeemrolcode
    uri: str


@dataclass(frozen=True)
class DataService:
    service_id: str  # GegevensdienstId
    authorization_endpoint: str
    token_endpoint: str
    resource_endpoints: tuple[ResourceEndpoint, ...]


@dataclass(frozen=True)
class Provider:
    name: str  # Zorgaanbiedernaam
    data_services: tuple[DataService, ...]


@dataclass(frozen=True)
class ProviderList:
    published_at: datetime  # naive UTC
    sequence_number: int
    providers: tuple[Provider, ...]


@dataclass(frozen=True)
class Whitelist:
    published_at: datetime
    sequence_number: int
    hostnames: tuple[str, ...]


class _Reader:
    """Walks an element's children in schema order, in one namespace."""

    def __init__(self, namespace: str, element: ET.Element, path: str) -> None:
        self.namespace = namespace
        self.path = path
        self.children = list(element)
        self.position = 0
        for child in self.children:
            if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{namespace}}}"):
                raise ListError(f"{path}: unexpected element {child.tag!r}")
        if (element.text or "").strip() and self.children:
            raise ListError(f"{path}: unexpected text")

    def _name(self, child: ET.Element) -> str:
        return child.tag.rsplit("}", 1)[-1]

    def one(self, name: str) -> ET.Element:
        found = self.many(name, minimum=1)
        if len(found) > 1:
            raise ListError(f"{self.path}/{name} occurs more than once")
        return found[0]

    def many(self, name: str, *, minimum: int = 0) -> list[ET.Element]:
        found: list[ET.Element] = []
        while self.position < len(self.children):
            child = self.children[self.position]
            if self._name(child) != name:
                break
            found.append(child)
            self.position += 1
        if len(found) < minimum:
            if self.position < len(self.children):
                extra = self._name(self.children[self.position])
                raise ListError(f"{self.path}: unexpected element {extra} where {name} belongs")
            raise ListError(f"{self.path}: {name} expected")
        return found

    def text(self, name: str) -> str:
        element = self.one(name)
        if len(element):
            raise ListError(f"{self.path}/{name} must hold text only")
        return (element.text or "").strip()

    def end(self) -> None:
        if self.position < len(self.children):
            extra = self._name(self.children[self.position])
            raise ListError(f"{self.path}: unexpected element {extra}")


def _root(document: bytes, namespace: str, name: str) -> ET.Element:
    if len(document) > _MAX_BYTES:
        raise ListError("the document is too large")
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise ListError("DTDs and entities are not accepted")
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise ListError(f"not well-formed XML: {exc}") from exc
    if root.tag != f"{{{namespace}}}{name}":
        raise ListError(f"the root element must be {name} in namespace {namespace}")
    return root


def _header(reader: _Reader) -> tuple[datetime, int]:
    stamp = reader.text("Tijdstempel")
    try:
        published = datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise ListError(f"Tijdstempel {stamp!r} is not a dateTime") from exc
    if published.tzinfo is not None:
        published = published.astimezone(UTC).replace(tzinfo=None)
    number = reader.text("Volgnummer")
    if not number.isdigit() or int(number) < 1 or len(number) > 9:
        raise ListError(f"Volgnummer {number!r} must be a positive integer")
    return published, int(number)


def _endpoint(reader: _Reader, wrapper: str, name: str, *, allow_loopback_http: bool) -> str:
    inner = _Reader(reader.namespace, reader.one(wrapper), f"{reader.path}/{wrapper}")
    uri = inner.text(name)
    inner.end()
    try:
        return check_endpoint(uri, allow_loopback_http=allow_loopback_http)
    except EndpointError as exc:
        raise ListError(f"{reader.path}/{wrapper}/{name}: {exc}") from exc


def _data_service(element: ET.Element, path: str, *, allow_loopback_http: bool) -> DataService:
    reader = _Reader(ZAL_NAMESPACE, element, path)
    service_id = reader.text("GegevensdienstId")
    if not _SERVICE_ID.match(service_id):
        raise ListError(f"{path}: GegevensdienstId {service_id!r} is not a positive number")
    path = f"{path}[{service_id}]"
    reader.path = path
    authorization = _endpoint(
        reader,
        "AuthorizationEndpoint",
        "AuthorizationEndpointuri",
        allow_loopback_http=allow_loopback_http,
    )
    token = _endpoint(
        reader, "TokenEndpoint", "TokenEndpointuri", allow_loopback_http=allow_loopback_http
    )
    roles = _Reader(ZAL_NAMESPACE, reader.one("Systeemrollen"), f"{path}/Systeemrollen")
    endpoints: list[ResourceEndpoint] = []
    for role_element in roles.many("Systeemrol", minimum=1):
        role = _Reader(ZAL_NAMESPACE, role_element, f"{path}/Systeemrol")
        code = role.text("Systeemrolcode")
        if not _SYSTEM_ROLE.match(code):
            raise ListError(f"{path}: Systeemrolcode {code!r} is not valid")
        uri = _endpoint(
            role, "ResourceEndpoint", "ResourceEndpointuri", allow_loopback_http=allow_loopback_http
        )
        role.end()
        endpoints.append(ResourceEndpoint(code, uri))
    roles.end()
    reader.end()
    if len({e.system_role for e in endpoints}) != len(endpoints):
        raise ListError(f"{path}: a Systeemrolcode occurs more than once")
    return DataService(service_id, authorization, token, tuple(endpoints))


def parse_zal(document: bytes, *, allow_loopback_http: bool = False) -> ProviderList:
    """The provider list (Zorgaanbiederslijst), or ``ListError``.

    ``allow_loopback_http`` admits ``http://127.0.0.1`` and ``http://localhost``
    endpoints; only development mode sets it.
    """
    root = _root(document, ZAL_NAMESPACE, "Zorgaanbiederslijst")
    reader = _Reader(ZAL_NAMESPACE, root, "Zorgaanbiederslijst")
    published, number = _header(reader)
    listing = _Reader(ZAL_NAMESPACE, reader.one("Zorgaanbieders"), "Zorgaanbieders")
    providers: list[Provider] = []
    for element in listing.many("Zorgaanbieder"):
        provider = _Reader(ZAL_NAMESPACE, element, "Zorgaanbieder")
        name = provider.text("Zorgaanbiedernaam")
        if not _PROVIDER_NAME.match(name):
            raise ListError(f"Zorgaanbiedernaam {name!r} is not valid")
        services_reader = _Reader(
            ZAL_NAMESPACE, provider.one("Gegevensdiensten"), f"{name}/Gegevensdiensten"
        )
        services = tuple(
            _data_service(
                service, f"{name}/Gegevensdienst", allow_loopback_http=allow_loopback_http
            )
            for service in services_reader.many("Gegevensdienst", minimum=1)
        )
        services_reader.end()
        provider.end()
        if len({s.service_id for s in services}) != len(services):
            raise ListError(f"{name}: a GegevensdienstId occurs more than once")
        providers.append(Provider(name, services))
    listing.end()
    reader.end()
    if len({p.name for p in providers}) != len(providers):
        raise ListError("a Zorgaanbiedernaam occurs more than once")
    return ProviderList(published, number, tuple(providers))


def parse_whitelist(document: bytes) -> Whitelist:
    """MedMij's whitelist: the hostnames of all nodes that may talk to each other."""
    root = _root(document, WHITELIST_NAMESPACE, "Whitelist")
    reader = _Reader(WHITELIST_NAMESPACE, root, "Whitelist")
    published, number = _header(reader)
    nodes = _Reader(WHITELIST_NAMESPACE, reader.one("MedMijNodes"), "MedMijNodes")
    hostnames: list[str] = []
    for element in nodes.many("MedMijNode"):
        node = _Reader(WHITELIST_NAMESPACE, element, "MedMijNode")
        hostname = node.text("Hostname")
        node.end()
        if hostname != hostname.lower() or not HOSTNAME.match(hostname):
            raise ListError(f"Hostname {hostname!r} is not a lower-case DNS name")
        hostnames.append(hostname)
    nodes.end()
    reader.end()
    if len(set(hostnames)) != len(hostnames):
        raise ListError("a Hostname occurs more than once")
    return Whitelist(published, number, tuple(hostnames))
