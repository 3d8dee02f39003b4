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
