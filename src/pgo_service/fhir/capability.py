"""The CapabilityStatement: generated from what is registered, so it never claims more."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .. import __version__
from .registry import RESOURCE_TYPES
from .search.params import search_params

_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)

# Parameters that shape results rather than filter them (search.html §3.1.1.5).
RESULT_PARAMETERS = (
    "_count",
    "_offset",
    "_sort",
    "_include",
    "_revinclude",
    "_summary",
    "_elements",
    "_total",
)


def _resource(resource_type: str) -> dict[str, Any]:
    params = search_params(resource_type)
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in _INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "not-supported",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "referencePolicy": ["literal", "logical"],
        "searchInclude": [
            f"{resource_type}:{c}" for c, p in sorted(params.items()) if p.type == "reference"
        ],
        "searchRevInclude": [],
        "searchParam": [
            {
                "name": code,
                "definition": param.url,
                "type": param.type,
                **({"documentation": param.description} if param.description else {}),
            }
            for code, param in sorted(params.items())
        ],
    }


_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def _security(oauth_uris: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """rest.security for a server behind OAuth (SMART App Launch §conformance)."""
    return {
        "security": {
            "cors": True,
            "service": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                            "code": "SMART-on-FHIR",
                        }
                    ]
                }
            ],
            "description": "OAuth 2.0 bearer tokens (RFC 6750); scopes as in SMART App Launch v2",
            "extension": [
                {
                    "url": _OAUTH_URIS,
                    "extension": [{"url": name, "valueUri": uri} for name, uri in oauth_uris],
                }
            ],
        }
    }


@lru_cache(maxsize=4)
def capability_statement(
    base_url: str,
    extra_operations: tuple[tuple[str, str], ...] = (),
    oauth_uris: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """The statement; ``oauth_uris`` (name, URI) pairs add the security section."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-24",
        "publisher": "pgo-service",
        "kind": "instance",
        "software": {"name": "pgo-service", "version": __version__},
        "implementation": {"description": "pgo-service FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "resource": [_resource(t) for t in RESOURCE_TYPES],
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                ],
                "searchParam": [
                    {"name": p, "type": "special"} for p in RESULT_PARAMETERS if p != "_offset"
                ],
                "operation": [
                    {"name": name, "definition": definition}
                    for name, definition in extra_operations
                ],
                **(_security(oauth_uris) if oauth_uris else {}),
            }
        ],
    }
