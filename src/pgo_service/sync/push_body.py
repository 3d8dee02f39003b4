"""What a pushed resource looks like at the provider.

Our references point at our own ids, which the provider cannot resolve. Before a
resource leaves, every relative reference ``Type/id`` is replaced by what the provider
knows the resource by, when we know that: the provider's own ``Type/id`` (the resource
came from it, or an earlier push told us its id there), or a logical reference by a
public identifier (``{"identifier": {...}, "type": ...}``, e.g. a professional's AGB or
UZI number). Anything else is sent as its type and display text only, never as our
id (a ``Patient`` so named is the client: the token the provider issued names them).
Contained references (``#…``) and absolute URLs stay as they are; ``urn:`` references
only mean something inside one Bundle and become display text too.

Pure: the caller looks up what is known (``sync.sharing.outbound_references``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_RELATIVE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$")
BSN_SYSTEMS = frozenset(
    {"http://fhir.nl/fhir/NamingSystem/bsn", "urn:oid:2.16.840.1.113883.2.4.6.3"}
)
# What a reference to something only this service holds says at the provider.
LOCAL_ONLY = {
    "Patient": "De cliënt",
    "CarePlan": "Zorgleefplan of afspraak in de PGO van de cliënt",
    "Goal": "Doel in de PGO van de cliënt",
}
_DEFAULT_LABEL = "{type} in de PGO van de cliënt"


@dataclass(frozen=True)
class RemoteReference:
    """How the provider knows one of our resources: its own ``Type/id``, or an
    identifier it can resolve, or neither (then only the display goes)."""

    reference: str | None = None
    identifier: Mapping[str, str] | None = None


def local_reference(value: str) -> str | None:
    """``Type/id`` of a reference to a resource of ours, or None (contained, absolute,
    ``urn:``, or not a reference at all)."""
    match = _RELATIVE.match(value)
    return f"{match.group('type')}/{match.group('id')}" if match else None


def local_references(value: Any) -> Iterator[str]:
    """Every ``Type/id`` the resource refers to."""
    if isinstance(value, list):
        for item in value:
            yield from local_references(item)
    elif isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str):
            local = local_reference(reference)
            if local is not None:
                yield local
        for item in value.values():
            yield from local_references(item)


def _label(local: str) -> str:
    kind = local.split("/", 1)[0]
    return LOCAL_ONLY.get(kind, _DEFAULT_LABEL.format(type=kind))


def _translate_reference(
    element: dict[str, Any], known: Mapping[str, RemoteReference]
) -> dict[str, Any]:
    reference = element["reference"]
    if reference.startswith("#") or "://" in reference:
        return element
    local = local_reference(reference)
    result = {k: v for k, v in element.items() if k != "reference"}
    remote = known.get(local) if local is not None else None
    if remote is not None and remote.reference is not None:
        return {**result, "reference": remote.reference}
    if remote is not None and remote.identifier is not None:
        result["identifier"] = dict(remote.identifier)
    if local is not None:
        result.setdefault("type", local.split("/", 1)[0])
    if not result.get("display"):
        result["display"] = _label(local) if local is not None else "Verwijzing in de PGO"
    return result


def _translate(value: Any, known: Mapping[str, RemoteReference]) -> Any:
    if isinstance(value, list):
        return [_translate(item, known) for item in value]
    if not isinstance(value, dict):
        return value
    translated = {k: _translate(v, known) for k, v in value.items()}
    if isinstance(value.get("reference"), str):
        translated = _translate_reference(translated, known)
    return translated


def outbound_body(
    resource: Mapping[str, Any],
    known: Mapping[str, RemoteReference],
    own_identifier: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body of the conditional update: without ``id`` and ``meta`` (the provider's
    to assign), references translated, BSN identifiers left out, and
    ``own_identifier`` (the identifier the push addresses it by) added when missing."""
    body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    translated: dict[str, Any] = _translate(body, known)
    identifiers = [
        i
        for i in translated.get("identifier") or []
        if not (isinstance(i, dict) and i.get("system") in BSN_SYSTEMS)
    ]
    if own_identifier is not None and not any(
        isinstance(i, dict)
        and i.get("system") == own_identifier["system"]
        and i.get("value") == own_identifier["value"]
        for i in identifiers
    ):
        identifiers.append(dict(own_identifier))
    if identifiers:
        translated["identifier"] = identifiers
    else:
        translated.pop("identifier", None)
    return translated
