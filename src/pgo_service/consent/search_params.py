"""Consent search parameters the policy decision point finds Consents by.

R4's ``Consent?actor`` covers the root provision only; ``provision-actor`` covers the
actors of every nested provision, and ``open-permit`` marks Consents with a permit
that names no actor (it applies to everyone).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..fhir.search.custom import CustomParam, register
from ..fhir.search.fhirpath import parse_reference
from ..fhir.search.index import IndexEntry, ReferenceEntry, TokenEntry
from ..fhir.search.params import SearchParam
from .provisions import flatten

BASE = "https://pgo-service.nl/fhir"


def _actors(consent: dict[str, Any]) -> Iterator[IndexEntry]:
    seen: set[str] = set()
    for provision in flatten(consent):
        for reference in provision.named_actors() - seen:
            seen.add(reference)
            parsed = parse_reference(reference)
            if parsed is not None:
                yield ReferenceEntry("provision-actor", *parsed, None, None, None)


def _open_permit(consent: dict[str, Any]) -> Iterator[IndexEntry]:
    if any(p.permit and not p.actors for p in flatten(consent)):
        yield TokenEntry("open-permit", None, "true", None)


def register_search_params() -> None:
    register(
        CustomParam(
            "Consent",
            SearchParam(
                code="provision-actor",
                type="reference",
                expression="",
                targets=(
                    "Practitioner",
                    "PractitionerRole",
                    "Organization",
                    "RelatedPerson",
                    "CareTeam",
                ),
                url=f"{BASE}/SearchParameter/provision-actor",
                description="An actor named by any provision, nested ones included",
            ),
            _actors,
        )
    )
    register(
        CustomParam(
            "Consent",
            SearchParam(
                code="open-permit",
                type="token",
                expression="",
                targets=(),
                url=f"{BASE}/SearchParameter/open-permit",
                description="true when a permit provision names no actor (applies to everyone)",
            ),
            _open_permit,
        )
    )
