"""Whether a client's data may go to a provider's system (action ``disclose``).

A provider is the Organization that names it by its provider-list name; the sync
worker asks at the moment a job runs, so a consent that lapsed by its period alone
stops the flow as surely as one that was revoked.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from ..db.models import resource, search_token
from ..fhir.store import StoredVersion, utc_now
from ..sync.registry import PROVIDER_NAME_SYSTEM
from .policy import PolicyDecisionPoint, Requester
from .provisions import DISCLOSE


def provider_organizations(conn: Connection, provider_name: str) -> list[str]:
    tok = search_token.c
    rows = conn.execute(
        select(tok.resource_id)
        .where(
            tok.resource_type == "Organization",
            tok.param == "identifier",
            tok.system == PROVIDER_NAME_SYSTEM,
            tok.code == provider_name,
        )
        .distinct()
    )
    ids = [r.resource_id for r in rows]
    res = resource.c
    live = conn.execute(
        select(res.id).where(
            res.resource_type == "Organization", res.id.in_(ids), res.deleted.is_(False)
        )
    )
    return sorted(f"Organization/{r.id}" for r in live)


class DisclosureGate:
    """``may_disclose`` for the sync worker, with its own decision cache."""

    def __init__(self) -> None:
        self.pdp = PolicyDecisionPoint()

    def __call__(self, conn: Connection, stored: StoredVersion, provider_name: str) -> bool:
        for actor in provider_organizations(conn, provider_name):
            decisions = self.pdp.decisions(conn, Requester(actor, None), utc_now())
            if decisions.visibility(DISCLOSE).permits(conn, stored):
                return True
        return False
