"""Writing resources from an operation through the same checks as the REST interactions."""

from __future__ import annotations

from typing import Any

from ..fhir.interactions.context import Change, Context
from ..fhir.store import StoredVersion


def store_resource(
    ctx: Context, resource_type: str, body: dict[str, Any], current: StoredVersion | None = None
) -> StoredVersion:
    resource_id = current.id if current is not None else ctx.store.new_id()
    ctx.store.lock(f"{resource_type}/{resource_id}")
    method = "PUT" if current is not None else "POST"
    ctx.check(Change(resource_type, resource_id, method, body, current))
    return ctx.store.write(resource_type, resource_id, body, current, method=method)
