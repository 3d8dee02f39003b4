"""batch and transaction Bundles posted to the base (R4 http.html#transaction).

A transaction is all-or-nothing: the caller's database transaction rolls back on
any failed entry. Entries run in the order the spec prescribes (DELETE, POST,
PUT/PATCH, GET/HEAD), after every ``fullUrl`` of a created or updated resource has
been given its final ``Type/id`` and the references to it rewritten. A batch runs
each entry in a savepoint of its own, so one failure does not undo the others.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..bundles import bundle
from ..errors import Category, FhirError
from ..exchange import FhirRequest, FhirResponse
from ..jsonio import parse_json, raw
from ..store import format_instant
from ..validation import check_id, require_type
from .context import Context
from .write import single_match

Dispatch = Callable[[Context, FhirRequest], FhirResponse]

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_HEADERS = {
    "ifMatch": "if-match",
    "ifNoneMatch": "if-none-match",
    "ifNoneExist": "if-none-exist",
    "ifModifiedSince": "if-modified-since",
}


@dataclass
class _Entry:
    index: int
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    full_url: str | None
    resource: Any
    assigned_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def process_bundle(ctx: Context, request: FhirRequest, dispatch: Dispatch) -> FhirResponse:
    body = request.body
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise FhirError(Category.INVALID, "POST to the base takes a Bundle", expression=["Bundle"])
    kind = body.get("type")
    if kind not in ("batch", "transaction"):
        raise FhirError(
            Category.INVALID, "Bundle.type must be batch or transaction", expression=["Bundle.type"]
        )
    entries = [_parse_entry(request, i, e) for i, e in enumerate(body.get("entry") or [])]
    if kind == "transaction":
        responses = _transaction(ctx, request, entries, dispatch)
    else:
        responses = _batch(ctx, request, entries, dispatch)
    rendered = [_render(request, responses[e.index]) for e in entries]
    return FhirResponse(200, bundle(f"{kind}-response", rendered))


def _parse_entry(request: FhirRequest, index: int, entry: Any) -> _Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        raise FhirError(
            Category.INVALID, f"{where} has no request", expression=[f"{where}.request"]
        )
    req = entry["request"]
    method = str(req.get("method", "")).upper()
    url = req.get("url")
    if method not in _ORDER or not isinstance(url, str) or not url:
        raise FhirError(
            Category.INVALID, f"{where}.request needs a method and url", expression=[where]
        )
    if url.startswith(request.base_url + "/"):
        url = url[len(request.base_url) + 1 :]
    split = urlsplit(url)
    headers = {_HEADERS[k]: str(v) for k, v in req.items() if k in _HEADERS}
    if request.header("prefer"):
        headers["prefer"] = request.headers["prefer"]
    resource = entry.get("resource")
    if method == "PATCH":
        resource = _patch_body(where, resource)
    return _Entry(
        index=index,
        method=method,
        path=split.path.strip("/"),
        query=parse_qsl(split.query, keep_blank_values=True),
        headers=headers,
        full_url=entry.get("fullUrl"),
        resource=resource,
    )


def _patch_body(where: str, resource: Any) -> Any:
    if isinstance(resource, dict) and resource.get("resourceType") == "Binary":
        try:
            return parse_json(base64.b64decode(resource.get("data", "")))
        except (ValueError, TypeError) as exc:
            raise FhirError(Category.INVALID, f"{where}: Binary patch is not JSON") from exc
    raise FhirError(
        Category.INVALID, f"{where}: PATCH entries take a Binary holding a JSON Patch document"
    )


def _sub_request(request: FhirRequest, entry: _Entry) -> FhirRequest:
    return FhirRequest(
        method=entry.method,
        path=entry.path,
        query=entry.query,
        headers=entry.headers,
        body=entry.resource,
        base_url=request.base_url,
        assigned_id=entry.assigned_id,
    )


def _batch(
    ctx: Context, request: FhirRequest, entries: list[_Entry], dispatch: Dispatch
) -> dict[int, FhirResponse]:
    responses: dict[int, FhirResponse] = {}
    for entry in entries:
        savepoint = ctx.store.conn.begin_nested()
        try:
            responses[entry.index] = dispatch(ctx, _sub_request(request, entry))
            ctx.run_deferred()
            savepoint.commit()
        except FhirError as error:
            ctx.deferred.clear()
            savepoint.rollback()
            responses[entry.index] = FhirResponse.of_error(error)
    return responses


def _transaction(
    ctx: Context, request: FhirRequest, entries: list[_Entry], dispatch: Dispatch
) -> dict[int, FhirResponse]:
    mapping = _assign_identities(ctx, entries)
    for entry in entries:
        if entry.resource is not None and entry.method in ("POST", "PUT"):
            entry.resource = _rewrite(ctx, entry.resource, mapping)
    responses: dict[int, FhirResponse] = {}
    for entry in sorted(entries, key=lambda e: (_ORDER[e.method], e.index)):
        try:
            responses[entry.index] = dispatch(ctx, _sub_request(request, entry))
        except FhirError as error:
            if entry.method in ("GET", "HEAD"):  # a failed read changes nothing
                responses[entry.index] = FhirResponse.of_error(error)
                continue
            raise FhirError(
                error.category,
                f"Bundle.entry[{entry.index}] ({entry.method} {entry.path}): {error.message}",
                expression=[f"Bundle.entry[{entry.index}]", *error.expression],
            ) from error
    return responses


def _assign_identities(ctx: Context, entries: list[_Entry]) -> dict[str, str]:
    """Give every created or updated entry its final Type/id; map fullUrls to them."""
    mapping: dict[str, str] = {}
    targets: set[str] = set()
    for entry in entries:
        parts = entry.path.split("/")
        resource_type = require_type(parts[0]) if parts[0] else ""
        target: str | None = None
        if entry.method == "POST" and len(parts) == 1 and resource_type:
            existing = None
            if entry.headers.get("if-none-exist"):
                criteria = parse_qsl(entry.headers["if-none-exist"].lstrip("?"))
                existing = single_match(ctx, resource_type, criteria) if criteria else None
            entry.assigned_id = existing or ctx.store.new_id()
            target = f"{resource_type}/{entry.assigned_id}"
        elif entry.method in ("PUT", "PATCH", "DELETE") and len(parts) == 2:
            target = f"{resource_type}/{check_id(parts[1])}"
        elif entry.method in ("PUT", "PATCH", "DELETE") and len(parts) == 1 and entry.query:
            found = single_match(ctx, resource_type, entry.query)
            if entry.method == "PUT" and found is None:
                body_id = entry.resource.get("id") if isinstance(entry.resource, dict) else None
                found = body_id or ctx.store.new_id()
                if isinstance(entry.resource, dict):
                    entry.resource = {**entry.resource, "id": found}
            target = f"{resource_type}/{found}" if found else None
        if target is None:
            continue
        if target in targets and entry.method != "POST":
            raise FhirError(
                Category.INVALID,
                f"Bundle.entry[{entry.index}]: {target} is the target of more than one entry",
            )
        targets.add(target)
        if entry.full_url:
            mapping[entry.full_url] = target
    return mapping


def _rewrite(ctx: Context, value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        result = {k: _rewrite(ctx, v, mapping) for k, v in value.items()}
        ref = result.get("reference")
        if isinstance(ref, str):
            result["reference"] = _resolve(ctx, ref, mapping)
        return result
    if isinstance(value, list):
        return [_rewrite(ctx, v, mapping) for v in value]
    return value


def _resolve(ctx: Context, reference: str, mapping: dict[str, str]) -> str:
    if reference in mapping:
        return mapping[reference]
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        raise FhirError(
            Category.INVALID, f"Reference {reference} does not resolve to an entry of the Bundle"
        )
    head, sep, query = reference.partition("?")
    if sep and "/" not in head and head:
        resource_type = require_type(head)
        found = single_match(ctx, resource_type, parse_qsl(query))
        if found is None:
            raise FhirError(
                Category.INVALID, f"Conditional reference {reference} matches no resource"
            )
        return f"{resource_type}/{found}"
    return reference


def _render(request: FhirRequest, response: FhirResponse) -> dict[str, Any]:
    status = f"{response.status} {HTTPStatus(response.status).phrase}"
    entry_response: dict[str, Any] = {"status": status}
    if response.location:
        entry_response["location"] = response.location.removeprefix(request.base_url + "/")
    if response.etag:
        entry_response["etag"] = response.etag
    if response.last_modified:
        entry_response["lastModified"] = format_instant(response.last_modified)
    entry: dict[str, Any] = {}
    if response.body is not None:
        if response.status >= 400:
            entry_response["outcome"] = raw(response.body)
        else:
            entry["resource"] = raw(response.body)
    if response.location:
        entry["fullUrl"] = response.location.split("/_history/")[0]
    entry["response"] = entry_response
    return entry
