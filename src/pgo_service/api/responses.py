"""Turning engine responses into HTTP responses."""

from __future__ import annotations

from email.utils import format_datetime

from starlette.responses import Response

from ..fhir.exchange import FhirResponse

FHIR_JSON = "application/fhir+json; charset=utf-8"


def to_http(response: FhirResponse, *, head: bool = False) -> Response:
    headers = dict(response.headers)
    if response.etag:
        headers["ETag"] = response.etag
    if response.last_modified:
        headers["Last-Modified"] = format_datetime(response.last_modified, usegmt=True)
    if response.location:
        headers["Location"] = response.location
    body = b"" if head or response.body is None or response.status == 304 else response.body
    media_type = FHIR_JSON if response.body is not None and response.status != 304 else None
    return Response(body, status_code=response.status, headers=headers, media_type=media_type)
