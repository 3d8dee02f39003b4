"""Provider systems (EHRs) as OAuth clients that act as their organization.

An EHR registered with a JWKS (``private_key_jwt``) gets tokens with
``client_credentials`` when an Organization resource names it by client id
(identifier system ``urn:ietf:params:oauth:client-id``). Its token acts as that
Organization: what it may read or write of a client's plan is what that client's
Consents allow the organization, nothing more.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from ..db.models import resource, search_token

CLIENT_ID_SYSTEM = "urn:ietf:params:oauth:client-id"


def organization_of(conn: Connection, client_id: str) -> str | None:
    """The one live Organization that names this client; None if none or several."""
    tok = search_token.c
    res = resource.c
    named = select(tok.resource_id).where(
        tok.resource_type == "Organization",
        tok.param == "identifier",
        tok.system == CLIENT_ID_SYSTEM,
        tok.code == client_id,
    )
    rows = conn.execute(
        select(res.id)
        .where(res.resource_type == "Organization", res.deleted.is_(False), res.id.in_(named))
        .limit(2)
    ).all()
    return f"Organization/{rows[0].id}" if len(rows) == 1 else None
