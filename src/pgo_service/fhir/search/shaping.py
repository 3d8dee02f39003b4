"""``_summary`` and ``_elements``: cutting a stored resource down to top-level elements.

``_elements`` applies when ``_summary`` is absent or ``false``. Mandatory elements
are always kept, as are ``resourceType``, ``id`` and ``meta``. A choice element is
named either by its JSON key (``valueQuantity``) or as ``value[x]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, frozenset[str]]]:
    text = resources.files("pgo_service.fhir").joinpath("data/summary-elements.json").read_text()
    raw: dict[str, dict[str, list[str]]] = json.loads(text)
    return {name: {k: frozenset(v) for k, v in entry.items()} for name, entry in raw.items()}


def _flags(resource_type: str, kind: str) -> frozenset[str]:
    return _table().get(resource_type, {}).get(kind, frozenset())


def shape(
    resource_type: str, content: bytes, summary: str | None, elements: tuple[str, ...]
) -> bytes:
    keep = _selector(resource_type, summary, elements)
    if keep is None:
        return content
    resource: dict[str, Any] = orjson.loads(content)
    shaped = {key: value for key, value in resource.items() if keep(key.removeprefix("_"))}
    if len(shaped) == len(resource):
        return content
    shaped["meta"] = _mark_subsetted(shaped.get("meta"))
    return orjson.dumps(shaped)


def _selector(
    resource_type: str, summary: str | None, elements: tuple[str, ...]
) -> Callable[[str], bool] | None:
    base = _ALWAYS | _flags(resource_type, "mandatory")
    if summary == "true":
        listed = base | _flags(resource_type, "summary")
        return listed.__contains__
    if summary == "text":
        listed = base | {"text"}
        return listed.__contains__
    if summary == "data":
        return lambda key: key != "text"
    if not elements:
        return None
    return lambda key: key in base or any(_names(key, element) for element in elements)


def _names(key: str, element: str) -> bool:
    if key == element:
        return True
    if not element.endswith("[x]"):
        return False
    stem = element[:-3]
    return key.startswith(stem) and key[len(stem) : len(stem) + 1].isupper()


def _mark_subsetted(meta: Any) -> dict[str, Any]:
    shaped: dict[str, Any] = dict(meta) if isinstance(meta, dict) else {}
    tags = list(shaped.get("tag") or [])
    if not any(t.get("code") == "SUBSETTED" for t in tags if isinstance(t, dict)):
        tags.append(dict(SUBSETTED))
    shaped["tag"] = tags
    return shaped
