"""Turning engine responses into HTTP responses."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from ..fhir.exchange import FhirResponse

FHIR_JSON = "application/fhir+json; charset=utf-8"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(moment: datetime) -> str:
    """RFC 9110 IMF-fixdate, as ``email.utils.format_datetime(usegmt=True)`` writes
    it at a third of the cost (every read sends one)."""
    t = moment.astimezone(UTC)
    return (
        f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


def to_http(response: FhirResponse, *, head: bool = False) -> Response:
    headers = dict(response.headers)
    if response.etag:
        headers["ETag"] = response.etag
    if response.last_modified:
        headers["Last-Modified"] = http_date(response.last_modified)
    if response.location:
        headers["Location"] = response.location
    body = b"" if head or response.body is None or response.status == 304 else response.body
    media_type = FHIR_JSON if response.body is not None and response.status != 304 else None
    return Response(body, status_code=response.status, headers=headers, media_type=media_type)
