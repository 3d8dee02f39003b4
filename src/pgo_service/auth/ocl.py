"""MedMij's OAuth client list (OCL): the pgo apps of the network, by hostname.

The list carries a sequence number that rises by one on every change; an import
older than what was imported before is refused, so a replayed old list cannot
bring back a removed or renamed client.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class OclError(ValueError):
    pass


@dataclass(frozen=True)
class OclEntry:
    hostname: str
    organisation_name: str


@dataclass(frozen=True)
class ClientList:
    sequence_number: int
    entries: tuple[OclEntry, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def parse_ocl(document: bytes) -> ClientList:
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise OclError("DTDs and entities are not accepted")
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise OclError(f"not well-formed XML: {exc}") from exc
    if _local(root.tag) != "OAuthclientlist":
        raise OclError("the root element must be OAuthclientlist")
    number = _child_text(root, "Volgnummer")
    if not number.isdigit() or int(number) < 1:
        raise OclError("Volgnummer must be a positive integer")
    entries: list[OclEntry] = []
    for element in root.iter():
        if _local(element.tag) != "OAuthclient":
            continue
        hostname = _child_text(element, "Hostname").lower()
        name = _child_text(element, "OAuthclientOrganisatienaam")
        if not _HOSTNAME.match(hostname):
            raise OclError(f"invalid Hostname {hostname!r}")
        if not name:
            raise OclError(f"OAuthclient {hostname} has no OAuthclientOrganisatienaam")
        entries.append(OclEntry(hostname, name))
    if len({e.hostname for e in entries}) != len(entries):
        raise OclError("a Hostname occurs more than once")
    return ClientList(int(number), tuple(entries))
