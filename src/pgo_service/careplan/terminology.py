"""The CodeSystems and ValueSets of the model, published as FHIR resources."""

from __future__ import annotations

from typing import Any

from ..fhir.jsonio import parse_json
from ..fhir.store import ResourceStore
from . import codes

_VERSION = "1.0.0"


def _code_system(
    resource_id: str, name: str, title: str, concepts: dict[str, str]
) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "id": resource_id,
        "url": f"{codes.BASE}/CodeSystem/{resource_id.removeprefix('pgo-')}",
        "version": _VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "count": len(concepts),
        "concept": [{"code": c, "display": d} for c, d in concepts.items()],
    }


def _value_set(
    resource_id: str, name: str, title: str, includes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "id": resource_id,
        "url": f"{codes.BASE}/ValueSet/{resource_id.removeprefix('pgo-')}",
        "version": _VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "compose": {"include": includes},
    }


def _include(system: str, concepts: dict[str, str]) -> dict[str, Any]:
    return {"system": system, "concept": [{"code": c, "display": d} for c, d in concepts.items()]}


def published_resources() -> list[dict[str, Any]]:
    return [
        _code_system(
            "pgo-zorgleefplan-categorie",
            "ZorgleefplanCategorie",
            "Categorieën van het zorgleefplan",
            codes.CATEGORIES,
        ),
        _code_system(
            "pgo-levensdomein", "Levensdomein", "Levensdomeinen (Wlz)", codes.LIFE_DOMAINS
        ),
        _code_system(
            "pgo-netwerkrol", "Netwerkrol", "Rollen in het persoonlijk netwerk", codes.OWN_ROLES
        ),
        _value_set(
            "pgo-levensdomein",
            "Levensdomeinen",
            "De vier levensdomeinen",
            [{"system": codes.DOMAIN_SYSTEM}],
        ),
        _value_set(
            "pgo-netwerkrol",
            "Netwerkrollen",
            "Rollen in het persoonlijk netwerk",
            [
                {"system": codes.ROLE_SYSTEM},
                _include(codes.ZIB_ROLE_SYSTEM, codes.ZIB_ROLES),
                _include(codes.ZIB_CAREGIVER_SYSTEM, dict([codes.CAREGIVER])),
            ],
        ),
    ]


def publish(store: ResourceStore) -> None:
    """Store each published resource unless the stored copy already says the same."""
    for resource in published_resources():
        current = store.read(resource["resourceType"], resource["id"])
        if current is not None and not current.deleted and current.content is not None:
            stored = parse_json(current.content)
            stored.pop("meta", None)
            if stored == resource:
                continue
        store.write(resource["resourceType"], resource["id"], resource, current, method="PUT")
