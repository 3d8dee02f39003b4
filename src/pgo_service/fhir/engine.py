"""The FHIR engine's entry point: one request against one open transaction."""

from __future__ import annotations

from .exchange import FhirRequest, FhirResponse
from .interactions.bundle import process_bundle
from .interactions.context import Context
from .router import dispatch


def handle(ctx: Context, request: FhirRequest) -> FhirResponse:
    if request.path.strip("/") == "" and request.method == "POST":
        response = process_bundle(ctx, request, dispatch)
    else:
        response = dispatch(ctx, request)
    ctx.run_deferred()
    return response


def is_read_only(request: FhirRequest) -> bool:
    path = request.path.strip("/")
    if request.method in ("GET", "HEAD"):
        return True
    return request.method == "POST" and path.endswith("/_search")


def is_single_resource(request: FhirRequest) -> bool:
    """Read, vread, create, update, patch or delete of one resource by its id.

    What these cost is bounded by one resource; a search, a history, a Bundle or an
    operation may touch any number of them (a conditional update, patch or delete
    searches first, so it is not one of these)."""
    parts = [p for p in request.path.split("/") if p]
    if not parts or parts[-1].startswith("$"):
        return False
    if len(parts) == 1:
        return request.method == "POST"
    if len(parts) == 2:
        return not parts[1].startswith("_")
    return len(parts) == 4 and parts[2] == "_history" and request.method in ("GET", "HEAD")
