"""Issuing access and refresh tokens, and the lifetimes the issue prescribes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .grants import Grant, GrantRepository, StoredToken
from .tokens import new_secret, secret_hash

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
# MedMij: long-term consent lapses after six months without use.
REFRESH_TOKEN_IDLE_LIFETIME = timedelta(days=183)


def issue_access_token(
    conn: Connection,
    *,
    client_id: str,
    actor_reference: str,
    patient_id: str | None,
    scope: str,
    now: datetime,
    grant_id: str | None = None,
    lifetime: timedelta = ACCESS_TOKEN_LIFETIME,
) -> dict[str, Any]:
    raw = new_secret()
    GrantRepository(conn).save_access_token(
        StoredToken(
            token_hash=secret_hash(raw),
            grant_id=grant_id,
            client_id=client_id,
            scope=scope,
            issued_at=now,
            expires_at=now + lifetime,
            revoked_at=None,
            actor_reference=actor_reference,
            patient_id=patient_id,
        )
    )
    response: dict[str, Any] = {
        "access_token": raw,
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()),
        "scope": scope,
    }
    if patient_id:
        response["patient"] = patient_id  # SMART App Launch launch context
    return response


def issue_for_grant(
    conn: Connection, grant: Grant, scope: str, now: datetime, *, with_refresh: bool
) -> dict[str, Any]:
    """RFC 6749 §5.1 token response for a grant; a refresh token only for long-term consent."""
    response = issue_access_token(
        conn,
        client_id=grant.client_id,
        actor_reference=grant.actor_reference,
        patient_id=grant.patient_id,
        scope=scope,
        now=now,
        grant_id=grant.id,
    )
    if with_refresh and grant.long_term:
        raw = new_secret()
        GrantRepository(conn).save_refresh_token(
            StoredToken(
                token_hash=secret_hash(raw),
                grant_id=grant.id,
                client_id=grant.client_id,
                scope=scope,
                issued_at=now,
                expires_at=now + REFRESH_TOKEN_IDLE_LIFETIME,
                revoked_at=None,
            )
        )
        response["refresh_token"] = raw
    return response
