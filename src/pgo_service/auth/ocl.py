"""MedMij's OAuth client list (OCL): the pgo apps of the network, by hostname.

The list is checked against the structure of MedMij's ``OAuthclientlist`` schema
(release 2) before anything is imported, and refused whole on the first problem:

- the root is ``OAuthclientlist`` in the namespace ``NAMESPACE``; every element is
  in that namespace, in the schema's order, and nothing else (no other elements,
  no text between them); attributes only from the XML Schema instance namespace
  (``xsi:schemaLocation``);
- ``Tijdstempel`` is an ``xs:dateTime``, ``Volgnummer`` a positive integer;
- ``OAuthclients`` holds at least one ``OAuthclient`` (an empty list would cut
  every app off at once, and is far likelier a broken download than intended),
  each with exactly a ``Hostname`` (a fully qualified DNS name, unique in the
  list) and a non-empty ``OAuthclientOrganisatienaam``;
- DTDs and entities are refused outright.

The sequence number rises on every change of the list; an import whose number is
not higher than the last one imported is refused (see ``admin.import_ocl``), so a
replayed old list cannot bring back a removed or renamed client.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/oauthclientlist/release2/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DATETIME = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_NUMBER = re.compile(r"^[0-9]+$")
MAX_NAME_LENGTH = 255  # oauth_client.organisation_name


class OclError(ValueError):
    pass


@dataclass(frozen=True)
class OclEntry:
    hostname: str
    organisation_name: str


@dataclass(frozen=True)
class ClientList:
    sequence_number: int
    timestamp: datetime
    entries: tuple[OclEntry, ...]


def _name(local: str) -> str:
    return f"{{{NAMESPACE}}}{local}"


def _describe(tag: str) -> str:
    namespace, _, local = tag.rpartition("}")
    return (
        f"{local} (namespace {namespace.lstrip('{')!r})" if namespace else f"{local} (no namespace)"
    )


def _children(element: ET.Element, expected: tuple[str, ...], where: str) -> list[ET.Element]:
    """The element's children, which must be exactly ``expected`` in this order."""
    if element.text and element.text.strip():
        raise OclError(f"{where} has text where only elements belong")
    children = list(element)
    for child in children:
        if child.tail and child.tail.strip():
            raise OclError(f"{where} has text where only elements belong")
    tags = tuple(child.tag for child in children)
    if tags != tuple(_name(e) for e in expected):
        found = ", ".join(_describe(t) for t in tags) or "nothing"
        raise OclError(f"{where} must contain {', '.join(expected)} in {NAMESPACE}; found {found}")
    return children


def _text(element: ET.Element, where: str) -> str:
    if len(element):
        raise OclError(f"{where} must hold text, not elements")
    return (element.text or "").strip()


def _no_foreign_attributes(element: ET.Element, where: str) -> None:
    for attribute in element.attrib:
        if not attribute.startswith(f"{{{_XSI}}}"):
            raise OclError(f"{where} has an unexpected attribute {attribute!r}")


def parse_ocl(document: bytes) -> ClientList:
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise OclError("DTDs and entities are not accepted")
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise OclError(f"not well-formed XML: {exc}") from exc
    if root.tag != _name("OAuthclientlist"):
        raise OclError(f"the root element must be OAuthclientlist in {NAMESPACE}")
    _no_foreign_attributes(root, "OAuthclientlist")
    stamp, number, clients = _children(
        root, ("Tijdstempel", "Volgnummer", "OAuthclients"), "OAuthclientlist"
    )
    timestamp = _timestamp(_text(stamp, "Tijdstempel"))
    sequence = _text(number, "Volgnummer")
    if not _NUMBER.match(sequence) or int(sequence) < 1:
        raise OclError(f"Volgnummer must be a positive integer, not {sequence!r}")
    if len(clients) == 0:
        raise OclError("OAuthclients is empty: a list without any client is not imported")
    entries = [_entry(element, index) for index, element in enumerate(clients, start=1)]
    _children(clients, ("OAuthclient",) * len(entries), "OAuthclients")  # no stray text
    seen: set[str] = set()
    for entry in entries:
        if entry.hostname in seen:
            raise OclError(f"Hostname {entry.hostname} occurs more than once")
        seen.add(entry.hostname)
    return ClientList(int(sequence), timestamp, tuple(entries))


def _timestamp(value: str) -> datetime:
    if not _DATETIME.match(value):
        raise OclError(f"Tijdstempel must be an xs:dateTime, not {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise OclError(f"Tijdstempel must be an xs:dateTime, not {value!r}") from exc


def _entry(element: ET.Element, index: int) -> OclEntry:
    where = f"OAuthclient {index}"
    if element.tag != _name("OAuthclient"):
        raise OclError(f"OAuthclients may only contain OAuthclient, found {_describe(element.tag)}")
    host, name = _children(element, ("Hostname", "OAuthclientOrganisatienaam"), where)
    hostname = _text(host, f"{where}: Hostname")
    if not _HOSTNAME.match(hostname.lower()):
        raise OclError(f"{where}: {hostname!r} is not a fully qualified hostname")
    organisation = _text(name, f"{where}: OAuthclientOrganisatienaam")
    if not organisation:
        raise OclError(f"{where} ({hostname}) has an empty OAuthclientOrganisatienaam")
    if len(organisation) > MAX_NAME_LENGTH:
        raise OclError(f"{where} ({hostname}): OAuthclientOrganisatienaam is too long")
    return OclEntry(hostname.lower(), organisation)
