"""Dispatch of a FhirRequest to its interaction. Knows nothing of HTTP frameworks."""

from __future__ import annotations

from collections.abc import Callable

from .errors import Category, FhirError
from .exchange import FhirRequest, FhirResponse
from .interactions import history, read, search, write
from .interactions.context import Context, OperationCall
from .validation import require_type

_TYPE_LEVEL: dict[str, Callable[[Context, FhirRequest, str], FhirResponse]] = {
    "GET": search.search,
    "HEAD": search.search,
    "POST": write.create,
    "PUT": write.conditional_update,
    "PATCH": write.conditional_patch,
    "DELETE": write.conditional_delete,
}

_INSTANCE_LEVEL: dict[str, Callable[[Context, FhirRequest, str, str], FhirResponse]] = {
    "GET": read.read,
    "HEAD": read.read,
    "PUT": write.update,
    "PATCH": write.patch,
    "DELETE": write.delete,
}


def _not_allowed(request: FhirRequest) -> FhirError:
    return FhirError(Category.NOT_ALLOWED, f"{request.method} is not supported on /{request.path}")


def dispatch(ctx: Context, request: FhirRequest) -> FhirResponse:
    """Route one request; system-level paths (metadata, Bundles) are handled by the caller."""
    parts = [p for p in request.path.split("/") if p]
    method = request.method
    if parts and parts[-1].startswith("$"):
        return _operation(ctx, request, parts)
    if parts == ["_history"] and method in ("GET", "HEAD"):
        return history.history(ctx, request)
    if not parts:
        raise _not_allowed(request)
    resource_type = require_type(parts[0])
    if len(parts) == 1:
        handler = _TYPE_LEVEL.get(method)
        if handler is None:
            raise _not_allowed(request)
        return handler(ctx, request, resource_type)
    if len(parts) == 2 and parts[1] == "_search":
        if method != "POST":
            raise _not_allowed(request)
        return search.search(ctx, request, resource_type)
    if len(parts) == 2 and parts[1] == "_history" and method in ("GET", "HEAD"):
        return history.history(ctx, request, resource_type)
    if len(parts) == 2:
        instance = _INSTANCE_LEVEL.get(method)
        if instance is None:
            raise _not_allowed(request)
        return instance(ctx, request, resource_type, parts[1])
    if len(parts) == 3 and parts[2] == "_history" and method in ("GET", "HEAD"):
        return history.history(ctx, request, resource_type, parts[1])
    if len(parts) == 4 and parts[2] == "_history" and method in ("GET", "HEAD"):
        return read.vread(ctx, request, resource_type, parts[1], parts[3])
    raise FhirError(Category.NOT_FOUND, f"No FHIR endpoint at /{request.path}")


def _operation(ctx: Context, request: FhirRequest, parts: list[str]) -> FhirResponse:
    name = parts[-1][1:]
    level = ("system", "type", "instance")[len(parts) - 1] if len(parts) <= 3 else None
    operation = ctx.operations.get(name)
    resource_type = require_type(parts[0]) if len(parts) > 1 else None
    if (
        operation is None
        or level not in operation.levels
        or (resource_type is not None and resource_type not in operation.resource_types)
    ):
        raise FhirError(Category.NOT_FOUND, f"Operation ${name} is not defined on /{request.path}")
    if request.method not in ("GET", "POST") or (
        request.method == "GET" and operation.affects_state
    ):
        raise _not_allowed(request)
    call = OperationCall(name, resource_type, parts[1] if len(parts) == 3 else None)
    return operation.handler(ctx, request, call)
