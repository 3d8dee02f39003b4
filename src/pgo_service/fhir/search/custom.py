"""Search parameters computed in Python, registered by domain packages.

Some questions a domain needs answered by plain FHIR search are not expressible in
the FHIRPath subset the index understands (for example "the participant whose role
is X and whose period has not ended"). A domain package registers such a parameter
once, at import, with a function that computes its index entries from a resource;
the registry, the extractor and the CapabilityStatement then treat it like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .index import IndexEntry
from .params import SearchParam

Extractor = Callable[[dict[str, Any]], Iterable[IndexEntry]]


@dataclass(frozen=True)
class CustomParam:
    resource_type: str
    param: SearchParam
    extract: Extractor


_CUSTOM: dict[tuple[str, str], CustomParam] = {}


def register(custom: CustomParam) -> None:
    """Add (or replace) a computed parameter; idempotent for the same definition."""
    key = (custom.resource_type, custom.param.code)
    if _CUSTOM.get(key) == custom:
        return
    _CUSTOM[key] = custom
    from . import extract, params, parts

    params.search_params.cache_clear()
    extract.clear_plans()
    parts.clear()


def custom_params(resource_type: str) -> list[CustomParam]:
    return [c for (t, _), c in sorted(_CUSTOM.items()) if t == resource_type]
