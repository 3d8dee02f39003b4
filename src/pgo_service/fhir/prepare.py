"""What a write does with its body before its transaction.

SQLite admits one writer at a time, and every write waits for whatever another does
while it holds that lock. Checking a resource against the models and finding its
index entries need no database, so a create or update does them first; inside the
transaction the interaction takes the outcome from the request. An invalid body's
error waits there too, so it is reported where it was before: after the caller's
access has been checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import FhirError
from .exchange import FhirRequest
from .registry import is_supported
from .search.extract import content_entries
from .search.index import IndexEntry
from .validation import check_resource


@dataclass(frozen=True, slots=True)
class CheckedBody:
    resource_type: str
    body: Any  # the very object that was checked
    error: FhirError | None
    entries: list[IndexEntry]  # its content entries (search.extract.content_entries)


def prepare(request: FhirRequest) -> None:
    """Check the body of a create or update ahead of its transaction."""
    resource_type = _written_type(request)
    if resource_type is None or not isinstance(request.body, dict):
        return
    try:
        check_resource(request.body, resource_type)
    except FhirError as error:
        request.checked = CheckedBody(resource_type, request.body, error, [])
        return
    entries = content_entries(resource_type, request.body)
    request.checked = CheckedBody(resource_type, request.body, None, entries)


def checked_body(
    request: FhirRequest, resource_type: str
) -> tuple[dict[str, Any], list[IndexEntry] | None]:
    """The request's body as a valid ``resource_type`` (or the error why not), with
    its content entries when ``prepare`` found them."""
    found: CheckedBody | None = request.checked
    if found is None or found.resource_type != resource_type or found.body is not request.body:
        return check_resource(request.body, resource_type), None
    if found.error is not None:
        raise found.error
    return request.body, found.entries


def _written_type(request: FhirRequest) -> str | None:
    parts = [p for p in request.path.split("/") if p]
    written = (request.method, len(parts)) in (("POST", 1), ("PUT", 2))
    if written:
        return parts[0] if is_supported(parts[0]) else None
    return None
