"""type search, GET and POST _search (R4 search.html)."""

from __future__ import annotations

from typing import Any

from ..bundles import bundle, page_links, resource_entry
from ..errors import outcome
from ..exchange import FhirRequest, FhirResponse
from ..jsonio import dump_json, raw
from ..search.execute import Found, run_search
from ..search.query import parse_search
from ..search.shaping import shape
from .context import Context


def search(ctx: Context, request: FhirRequest, resource_type: str) -> FhirResponse:
    query = parse_search(
        resource_type,
        request.query,
        strict=request.strict,
        default_count=ctx.default_page_size,
        max_count=ctx.max_page_size,
    )
    result = run_search(ctx.store.conn, query, ctx.visible)
    for found in (*result.matches, *result.includes):
        ctx.show(f"{found.resource_type}/{found.id}", found.patient_id)
    entries = [_entry(request, query.summary, query.elements, f, "match") for f in result.matches]
    entries += [
        _entry(request, query.summary, query.elements, f, "include") for f in result.includes
    ]
    if query.warnings:
        warning = outcome("warning", "not-supported", "; ".join(query.warnings))
        entries.append({"resource": raw(dump_json(warning)), "search": {"mode": "outcome"}})
    has_more = query.summary != "count" and result.has_more
    links = page_links(
        f"{request.base_url}/{resource_type}",
        query.canonical_params(),
        offset=query.offset,
        count=query.count,
        total=result.total,
        has_more=has_more,
    )
    return FhirResponse(200, bundle("searchset", entries, total=result.total, links=links))


def _entry(
    request: FhirRequest,
    summary: str | None,
    elements: tuple[str, ...],
    found: Found,
    mode: str,
) -> dict[str, Any]:
    content = found.content
    if summary or elements:
        content = shape(found.resource_type, content, summary, elements)
    return resource_entry(
        f"{request.base_url}/{found.resource_type}/{found.id}", content, search={"mode": mode}
    )
