"""Writing Bundles around stored bytes without re-serialising the resources."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from .jsonio import dump_json, raw
from .store import format_instant, utc_now


def page_links(
    url: str,
    params: list[tuple[str, str]],
    *,
    offset: int,
    count: int,
    total: int | None,
    has_more: bool,
) -> list[dict[str, str]]:
    """self/first/previous/next links that keep the base URL the client used."""

    def link(relation: str, at: int) -> dict[str, str]:
        query = urlencode([*params, ("_count", str(count)), ("_offset", str(at))])
        return {"relation": relation, "url": f"{url}?{query}"}

    links = [link("self", offset), link("first", 0)]
    if offset > 0 and count > 0:
        links.append(link("previous", max(0, offset - count)))
    if has_more and count > 0:
        links.append(link("next", offset + count))
    if total is not None and count > 0 and total > 0:
        links.append(link("last", ((total - 1) // count) * count))
    return links


def bundle(
    bundle_type: str,
    entries: list[dict[str, Any]],
    *,
    total: int | None = None,
    links: list[dict[str, str]] | None = None,
) -> bytes:
    document: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(utc_now())},
        "type": bundle_type,
    }
    if total is not None:
        document["total"] = total
    if links:
        document["link"] = links
    document["entry"] = entries
    return dump_json(document)


def resource_entry(full_url: str, content: bytes, **extra: Any) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": raw(content), **extra}
