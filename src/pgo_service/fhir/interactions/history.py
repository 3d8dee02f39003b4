"""instance, type and system _history (R4 http.html#history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..bundles import bundle, page_links, resource_entry
from ..errors import Category, FhirError
from ..exchange import FhirRequest, FhirResponse
from ..search.normalize import date_range, from_micros
from ..store import StoredVersion, format_instant
from .context import Context

_STATUS = {"POST": "201 Created", "PUT": "200 OK", "PATCH": "200 OK", "DELETE": "204 No Content"}


def history(
    ctx: Context,
    request: FhirRequest,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> FhirResponse:
    count = _int_param(request, "_count", ctx.default_page_size)
    count = min(count, ctx.max_page_size)
    offset = _int_param(request, "_offset", 0)
    since = _instant_param(request, "_since")
    at = _instant_param(request, "_at")
    if resource_type and resource_id:
        current = ctx.store.read(resource_type, resource_id)
        if current is None:
            raise FhirError(Category.NOT_FOUND, f"{resource_type}/{resource_id} is not known")
    versions, total = ctx.store.history(
        resource_type,
        resource_id,
        since=since,
        at=at,
        count=count,
        offset=offset,
        visible=ctx.visible,
    )
    entries = [_entry(request.base_url, v) for v in versions]
    for version in versions:
        ctx.show(version.reference, version.patient_id)
    path = "/".join(p for p in (resource_type, resource_id) if p)
    url = f"{request.base_url}/{path}/_history" if path else f"{request.base_url}/_history"
    params = [(k, v) for k, v in request.query if k in ("_since", "_at")]
    links = page_links(
        url, params, offset=offset, count=count, total=total, has_more=offset + count < total
    )
    return FhirResponse(200, bundle("history", entries, total=total, links=links))


def _entry(base_url: str, version: StoredVersion) -> dict[str, Any]:
    full_url = f"{base_url}/{version.reference}"
    response = {
        "status": _STATUS.get(version.method, "200 OK"),
        "etag": version.etag,
        "lastModified": format_instant(version.last_updated),
    }
    method = version.method or "PUT"
    request_url = version.resource_type if method == "POST" else version.reference
    entry_request = {"method": "PUT" if method == "PATCH" else method, "url": request_url}
    if version.content is None:
        return {"fullUrl": full_url, "request": entry_request, "response": response}
    return resource_entry(full_url, version.content, request=entry_request, response=response)


def _int_param(request: FhirRequest, name: str, default: int) -> int:
    value = request.query_value(name)
    if value is None:
        return default
    if not value.isdigit():
        raise FhirError(Category.INVALID, f"{name} must be a non-negative integer")
    return int(value)


def _instant_param(request: FhirRequest, name: str) -> datetime | None:
    value = request.query_value(name)
    if value is None:
        return None
    try:
        low, _ = date_range(value)
    except ValueError as exc:
        raise FhirError(Category.INVALID, f"{name}: {exc}") from exc
    return from_micros(low)
