"""The search-parameter registry, built from the generated ``search-parameters.json``.

A parameter is only offered when the server can index it: composite and special
parameters, parameters without an expression (``_text``, ``_content``, ``_query``) and
expressions the FHIRPath subset cannot compile are left out (see ``skipped_params``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pgo_service.fhir.search.fhirpath import FhirPathCompiler, FhirPathError

RESOURCE_BASE = "Resource"
INDEXED_TYPES = frozenset({"string", "token", "reference", "date", "quantity", "uri", "number"})


@dataclass(frozen=True, slots=True)
class SearchParam:
    code: str  # e.g. "subject", "_lastUpdated"
    type: str  # "string"|"token"|"reference"|"date"|"quantity"|"uri"|"number"|...
    expression: str  # FHIRPath for this resource type ("" if none)
    targets: tuple[str, ...]  # reference target types (empty if not a reference)
    url: str
    description: str
    components: tuple[tuple[str, str], ...] = ()  # composite: (component code, sub-expression)


def load_data(name: str) -> Any:
    """A generated JSON file from ``pgo_service/fhir/data``."""
    text = resources.files("pgo_service.fhir").joinpath("data", name).read_text("utf-8")
    return json.loads(text)


@cache
def _definitions() -> dict[str, Any]:
    data: dict[str, Any] = load_data("search-parameters.json")
    return data


@cache
def fhirpath_compiler() -> FhirPathCompiler:
    """A compiler over the element model of the supported resource types."""
    return FhirPathCompiler(_definitions()["elements"])


@cache
def supported_types() -> tuple[str, ...]:
    bases = {base for param in _definitions()["params"] for base in param["bases"]}
    return tuple(sorted(bases - {RESOURCE_BASE}))


@cache
def search_params(resource_type: str) -> dict[str, SearchParam]:
    """All indexable search parameters of a resource type, by code (empty if unsupported),
    including the computed ones registered through ``custom.register``."""
    from .custom import custom_params

    offered = dict(_registry(resource_type)[0])
    for custom in custom_params(resource_type):
        offered[custom.param.code] = custom.param
    return dict(sorted(offered.items()))


def search_param(resource_type: str, code: str) -> SearchParam | None:
    return search_params(resource_type).get(code)


def skipped_params(resource_type: str) -> dict[str, str]:
    """Parameters defined for the type but not offered, by code, with the reason."""
    return _registry(resource_type)[1]


@cache
def _registry(resource_type: str) -> tuple[dict[str, SearchParam], dict[str, str]]:
    offered: dict[str, SearchParam] = {}
    skipped: dict[str, str] = {}
    if resource_type not in supported_types():
        return offered, skipped
    for definition in _definitions()["params"]:
        bases = definition["bases"]
        base = resource_type if resource_type in bases else RESOURCE_BASE
        if base not in bases:
            continue
        param = _param(definition, bases[base], resource_type)
        reason = _unsupported(param, resource_type)
        if reason is None:
            offered[param.code] = param
        else:
            skipped[param.code] = reason
    return dict(sorted(offered.items())), dict(sorted(skipped.items()))


def _param(definition: dict[str, Any], base: dict[str, str], resource_type: str) -> SearchParam:
    expression = base["expression"]
    if expression.startswith(f"{RESOURCE_BASE}."):
        expression = f"{resource_type}{expression[len(RESOURCE_BASE) :]}"
    components = tuple((c["code"], c["expression"]) for c in definition.get("components", ()))
    return SearchParam(
        code=definition["code"],
        type=definition["type"],
        expression=expression,
        targets=tuple(definition.get("targets", ())),
        url=definition["url"],
        description=base["description"],
        components=components,
    )


def _unsupported(param: SearchParam, resource_type: str) -> str | None:
    if param.type not in INDEXED_TYPES:
        return f"{param.type} parameters are not indexed"
    if not param.expression:
        return "no expression"
    try:
        fhirpath_compiler().compile(param.expression, resource_type)
    except FhirPathError as error:
        return str(error)
    return None
