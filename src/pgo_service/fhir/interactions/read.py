"""read and vread (R4 http.html#read, #vread)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from ..errors import Category, FhirError
from ..exchange import FhirRequest, FhirResponse, parse_etag
from ..store import StoredVersion
from .context import Context


def gone(stored: StoredVersion) -> FhirError:
    return FhirError(
        Category.GONE,
        f"{stored.reference} was deleted",
        headers={"ETag": stored.etag},
    )


def require_current(ctx: Context, resource_type: str, resource_id: str) -> StoredVersion:
    stored = ctx.store.read(resource_type, resource_id)
    if stored is None:
        raise FhirError(Category.NOT_FOUND, f"{resource_type}/{resource_id} is not known")
    ctx.require_visible(stored)
    if stored.deleted:
        raise gone(stored)
    return stored


def read(ctx: Context, request: FhirRequest, resource_type: str, resource_id: str) -> FhirResponse:
    stored = require_current(ctx, resource_type, resource_id)
    ctx.show(stored.reference, stored.patient_id)
    if _not_modified(request, stored):
        return FhirResponse(304, etag=stored.etag, last_modified=stored.last_updated)
    return FhirResponse(200, stored.content, etag=stored.etag, last_modified=stored.last_updated)


def vread(
    ctx: Context, request: FhirRequest, resource_type: str, resource_id: str, version: str
) -> FhirResponse:
    if not version.isdigit():
        raise FhirError(Category.NOT_FOUND, f"Version {version!r} of {resource_type}/{resource_id}")
    stored = ctx.store.vread(resource_type, resource_id, int(version))
    if stored is None:
        raise FhirError(
            Category.NOT_FOUND, f"Version {version} of {resource_type}/{resource_id} is not known"
        )
    ctx.require_visible(stored)
    if stored.deleted:
        raise gone(stored)
    ctx.show(stored.reference, stored.patient_id)
    return FhirResponse(200, stored.content, etag=stored.etag, last_modified=stored.last_updated)


def _not_modified(request: FhirRequest, stored: StoredVersion) -> bool:
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        if "*" in tags:
            return True
        return any(_etag_version(t) == stored.version_id for t in tags)
    since = request.header("if-modified-since")
    if since:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return stored.last_updated.replace(microsecond=0) <= moment
    return False


def _etag_version(tag: str) -> int | None:
    try:
        return parse_etag(tag)
    except FhirError:
        return None
