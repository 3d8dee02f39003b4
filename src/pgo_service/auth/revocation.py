"""Token revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from .audit import AuditRecord, write_audit
from .client_auth import authenticate_client
from .errors import OAuthError, invalid_client, invalid_request
from .grants import GrantRepository
from .token_endpoint import TokenRequest
from .tokens import secret_hash

LEEWAY = timedelta(seconds=2)


def revocation_response(conn: Connection, request: TokenRequest) -> tuple[int, dict[str, Any]]:
    """RFC 7009 §2.2: 200 whether or not the token was valid, so nothing can be probed.

    Revoking a refresh token revokes its grant with every token issued under it
    (§2.1 allows, and RFC 9700 recommends, taking the access tokens along).
    """
    try:
        client = authenticate_client(
            conn, request.form, request.headers, audience=request.audience, now=request.now
        )
        token = request.form.get("token")
        if not token:
            raise invalid_request("Missing token")
    except OAuthError as error:
        return error.status, error.body()
    repo = GrantRepository(conn)
    token_hash = secret_hash(token)
    refresh = repo.find_refresh_token(token_hash)
    access = None if refresh else repo.find_access_token(token_hash)
    found = refresh or access
    if found is None or found.client_id != client.client_id:
        return 200, {}
    if found.grant_id is not None and refresh is not None:
        repo.revoke(found.grant_id, request.now)
    else:
        repo.revoke_access_token(token_hash, request.now)
    grant = repo.get(found.grant_id) if found.grant_id else None
    write_audit(
        conn,
        AuditRecord(
            event="revoke",
            client_id=client.client_id,
            actor_reference=grant.actor_reference if grant else None,
            patient_id=grant.patient_id if grant else None,
            correlation_id=request.correlation_id,
        ),
        request.now,
    )
    return 200, {}


def introspection_response(conn: Connection, request: TokenRequest) -> tuple[int, dict[str, Any]]:
    """RFC 7662 §2: for resource servers, which authenticate as confidential clients."""
    try:
        client = authenticate_client(
            conn, request.form, request.headers, audience=request.audience, now=request.now
        )
        if client.is_public:
            raise invalid_client("Introspection needs an authenticated client")
        token = request.form.get("token")
        if not token:
            raise invalid_request("Missing token")
    except OAuthError as error:
        return error.status, error.body()
    stored = GrantRepository(conn).find_access_token(secret_hash(token))
    if stored is None or stored.revoked_at is not None or request.now > stored.expires_at + LEEWAY:
        return 200, {"active": False}
    body: dict[str, Any] = {
        "active": True,
        "scope": stored.scope,
        "client_id": stored.client_id,
        "token_type": "Bearer",
        "exp": int(stored.expires_at.timestamp()),
        "iat": int(stored.issued_at.timestamp()),
    }
    if stored.actor_reference:
        body["sub"] = stored.actor_reference
    if stored.patient_id:
        body["patient"] = stored.patient_id
    return 200, body
