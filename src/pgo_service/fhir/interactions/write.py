"""create, update, patch and delete, plain and conditional (R4 http.html)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import jsonpatch

from ..errors import Category, FhirError
from ..exchange import FhirRequest, FhirResponse, parse_etag, version_response
from ..jsonio import parse_json
from ..prepare import checked_body
from ..search.execute import find_matches
from ..search.index import IndexEntry
from ..store import StoredVersion
from ..validation import check_id, check_resource
from .context import Change, Context
from .read import gone


def _criteria_key(resource_type: str, criteria: list[tuple[str, str]]) -> str:
    return resource_type + "?" + "&".join(f"{k}={v}" for k, v in sorted(criteria))


def _search_criteria(request: FhirRequest) -> list[tuple[str, str]]:
    criteria = [(k, v) for k, v in request.query if not k.startswith("_format")]
    if not criteria:
        raise FhirError(Category.INVALID, "A conditional interaction needs search criteria")
    return criteria


def single_match(ctx: Context, resource_type: str, criteria: list[tuple[str, str]]) -> str | None:
    ctx.store.lock(_criteria_key(resource_type, criteria))
    found = find_matches(ctx.store.conn, resource_type, criteria, limit=2, visible=ctx.visible)
    if len(found) > 1:
        raise FhirError(
            Category.MULTIPLE_MATCHES,
            f"The criteria {_criteria_key(resource_type, criteria)} match more than one resource",
        )
    return found[0].id if found else None


def _check_if_match(request: FhirRequest, current: StoredVersion | None) -> None:
    header = request.header("if-match")
    if header is None:
        return
    expected = parse_etag(header)
    actual = current.version_id if current and not current.deleted else None
    if actual != expected:
        raise FhirError(
            Category.PRECONDITION_FAILED,
            f"If-Match {header} does not match the current version "
            f"{'(none)' if actual is None else actual}",
        )


def create(ctx: Context, request: FhirRequest, resource_type: str) -> FhirResponse:
    body, entries = checked_body(request, resource_type)
    criteria = _create_criteria(request)
    if criteria:
        existing = single_match(ctx, resource_type, criteria)
        if existing is not None:
            stored = ctx.store.read(resource_type, existing)
            assert stored is not None
            return version_response(request, stored, 200, with_location=True)
    new_id = request.assigned_id or ctx.store.new_id()
    ctx.check(Change(resource_type, new_id, "POST", body, None))
    stored = ctx.store.write(resource_type, new_id, body, None, method="POST", entries=entries)
    ctx.show(stored.reference, stored.patient_id)
    return version_response(request, stored, 201, with_location=True)


def _create_criteria(request: FhirRequest) -> list[tuple[str, str]]:
    """If-None-Exist, or search parameters on the POST URL (a form some clients use)."""
    if_none_exist = request.header("if-none-exist")
    if if_none_exist is not None:
        criteria = parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True)
        if not criteria:
            raise FhirError(Category.INVALID, "If-None-Exist has no search criteria")
        return criteria
    return list(request.query)


def update(
    ctx: Context, request: FhirRequest, resource_type: str, resource_id: str
) -> FhirResponse:
    check_id(resource_id)
    body, entries = checked_body(request, resource_type)
    if body.get("id") is None:
        raise FhirError(Category.INVALID, "The resource must carry an id", expression=["id"])
    if body["id"] != resource_id:
        raise FhirError(
            Category.INVALID,
            f"The id {body['id']!r} in the body does not match {resource_id!r} in the URL",
            expression=[f"{resource_type}.id"],
        )
    return _store_update(ctx, request, resource_type, resource_id, body, entries)


def _store_update(
    ctx: Context,
    request: FhirRequest,
    resource_type: str,
    resource_id: str,
    body: dict[str, Any],
    entries: list[IndexEntry] | None = None,
) -> FhirResponse:
    ctx.store.lock(f"{resource_type}/{resource_id}")
    current = ctx.store.read(resource_type, resource_id)
    _check_if_match(request, current)
    ctx.check(Change(resource_type, resource_id, "PUT", body, current))
    if current is not None and _unchanged(current, body):
        ctx.show(current.reference, current.patient_id)
        return version_response(request, current, 200, with_location=False)
    stored = ctx.store.write(
        resource_type, resource_id, body, current, method="PUT", entries=entries
    )
    ctx.show(stored.reference, stored.patient_id)
    created = current is None or current.deleted
    return version_response(request, stored, 201 if created else 200, with_location=created)


def _unchanged(current: StoredVersion, body: dict[str, Any]) -> bool:
    """An update that would store the same content again is a no-op: no new version,
    so a sender that repeats itself (a retried sync push) changes nothing."""
    if current.deleted or current.content is None:
        return False
    stored = parse_json(current.content)
    return _without_version_meta(stored) == _without_version_meta(
        {**body, "resourceType": stored.get("resourceType"), "id": stored.get("id")}
    )


def _without_version_meta(document: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (document.get("meta") or {}).items() if k not in _SERVER_META}
    stripped = {k: v for k, v in document.items() if k != "meta"}
    return {**stripped, "meta": meta} if meta else stripped


_SERVER_META = ("versionId", "lastUpdated")


def conditional_update(ctx: Context, request: FhirRequest, resource_type: str) -> FhirResponse:
    body = check_resource(request.body, resource_type)
    match = single_match(ctx, resource_type, _search_criteria(request))
    body_id = body.get("id")
    if match is None:
        if body_id:
            check_id(body_id)
            existing = ctx.store.read(resource_type, body_id)
            if existing is not None and not existing.deleted:
                raise FhirError(
                    Category.CONFLICT,
                    f"{resource_type}/{body_id} exists but does not match the criteria",
                )
        target = body_id or ctx.store.new_id()
        return _store_update(ctx, request, resource_type, target, body)
    if body_id is not None and body_id != match:
        raise FhirError(
            Category.INVALID,
            f"The id {body_id!r} in the body differs from the matched resource {match!r}",
        )
    return _store_update(ctx, request, resource_type, match, body)


def patch(ctx: Context, request: FhirRequest, resource_type: str, resource_id: str) -> FhirResponse:
    check_id(resource_id)
    ctx.store.lock(f"{resource_type}/{resource_id}")
    current = ctx.store.read(resource_type, resource_id)
    if current is None:
        raise FhirError(Category.NOT_FOUND, f"{resource_type}/{resource_id} is not known")
    if current.deleted:
        raise gone(current)
    _check_if_match(request, current)
    assert current.content is not None
    document = _apply_patch(parse_json(current.content), request.body)
    body = check_resource(document, resource_type)
    if body.get("id") != resource_id:
        raise FhirError(Category.UNPROCESSABLE, "A patch may not change the resource id")
    ctx.check(Change(resource_type, resource_id, "PATCH", body, current))
    stored = ctx.store.write(resource_type, resource_id, body, current, method="PATCH")
    ctx.show(stored.reference, stored.patient_id)
    return version_response(request, stored, 200)


def conditional_patch(ctx: Context, request: FhirRequest, resource_type: str) -> FhirResponse:
    match = single_match(ctx, resource_type, _search_criteria(request))
    if match is None:
        raise FhirError(Category.NOT_FOUND, "No resource matches the criteria")
    return patch(ctx, request, resource_type, match)


def _apply_patch(document: dict[str, Any], operations: Any) -> Any:
    if not isinstance(operations, list):
        raise FhirError(Category.INVALID, "A JSON Patch body must be an array of operations")
    try:
        return jsonpatch.JsonPatch(operations).apply(document)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise FhirError(Category.UNPROCESSABLE, f"JSON Patch test failed: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise FhirError(Category.UNPROCESSABLE, f"JSON Patch could not be applied: {exc}") from exc
    except (TypeError, KeyError, AttributeError) as exc:
        raise FhirError(Category.INVALID, f"Malformed JSON Patch: {exc}") from exc


def delete(
    ctx: Context, request: FhirRequest, resource_type: str, resource_id: str
) -> FhirResponse:
    check_id(resource_id)
    ctx.store.lock(f"{resource_type}/{resource_id}")
    current = ctx.store.read(resource_type, resource_id)
    _check_if_match(request, current)
    if current is None:
        raise FhirError(Category.NOT_FOUND, f"{resource_type}/{resource_id} is not known")
    if current.deleted:
        return FhirResponse(204, etag=current.etag)
    ctx.check(Change(resource_type, resource_id, "DELETE", None, current))
    stored = ctx.store.delete(current)
    ctx.show(stored.reference, stored.patient_id)
    return FhirResponse(204, etag=stored.etag, last_modified=stored.last_updated)


def conditional_delete(ctx: Context, request: FhirRequest, resource_type: str) -> FhirResponse:
    match = single_match(ctx, resource_type, _search_criteria(request))
    if match is None:
        return FhirResponse(204)
    return delete(ctx, request, resource_type, match)
