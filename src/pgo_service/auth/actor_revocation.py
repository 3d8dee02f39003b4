"""Revoking what an actor holds for one client, when the client's consent for that
actor is withdrawn: grants (with their refresh tokens) and access tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from ..db.auth_tables import access_token, oauth_grant
from .grants import GrantRepository
from .tokens import naive


def revoke_for_client(
    conn: Connection, actor_reference: str, patient_id: str, now: datetime
) -> int:
    """Revoke the actor's grants and tokens for ``patient_id``; returns how many grants."""
    g = oauth_grant.c
    grants = (
        conn.execute(
            select(g.id).where(
                g.actor_reference == actor_reference,
                g.patient_id == patient_id,
                g.revoked_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    repo = GrantRepository(conn)
    for grant_id in grants:
        repo.revoke(grant_id, now)
    a = access_token.c
    conn.execute(
        update(access_token)
        .where(
            a.actor_reference == actor_reference,
            a.patient_id == patient_id,
            a.revoked_at.is_(None),
        )
        .values(revoked_at=naive(now))
    )
    return len(grants)
