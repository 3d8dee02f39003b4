"""Finding the active plan and network of a client."""

from __future__ import annotations

from typing import Any

from ..fhir.interactions.context import Context
from ..fhir.jsonio import parse_json
from ..fhir.search.execute import Found, find_matches
from ..fhir.store import StoredVersion
from . import codes


def active_of(ctx: Context, resource_type: str, patient: str, category: str) -> Found | None:
    found = find_matches(
        ctx.store.conn,
        resource_type,
        [
            ("subject", f"Patient/{patient}"),
            ("category", f"{codes.CATEGORY_SYSTEM}|{category}"),
            ("status", "active"),
        ],
        limit=1,
    )
    return found[0] if found else None


def active_plan(ctx: Context, patient: str) -> Found | None:
    return active_of(ctx, "CarePlan", patient, codes.ZORGLEEFPLAN)


def active_network(ctx: Context, patient: str) -> Found | None:
    return active_of(ctx, "CareTeam", patient, codes.NETWORK)


def content_of(found: Found | StoredVersion) -> dict[str, Any]:
    assert found.content is not None
    document: dict[str, Any] = parse_json(found.content)
    return document
