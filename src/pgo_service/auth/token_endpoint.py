"""The token endpoint (RFC 6749 §3.2): authorization_code, refresh_token, client_credentials.

Replays are answered by revoking what the replayed credential produced: a code
used twice revokes the tokens issued for it (RFC 6749 §4.1.2, RFC 9700 §4.5), and a
refresh token used after rotation revokes its whole family (RFC 9700 §4.14.2).
Those revocations must survive the error response, so this module returns
errors instead of raising them and its caller always commits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Connection

from .audit import FAILURE, AuditRecord, write_audit
from .client_auth import authenticate_client
from .clients import PRIVATE_KEY_JWT, OAuthClient
from .errors import OAuthError, invalid_grant, invalid_request, invalid_scope, unauthorized_client
from .grants import GrantRepository
from .issuing import issue_access_token, issue_for_grant
from .provider_systems import organization_of
from .scopes import ScopeSet
from .tokens import secret_hash


@dataclass(frozen=True)
class TokenRequest:
    form: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    audience: tuple[str, ...]  # what a client assertion's aud may be
    now: datetime
    provider_name: str  # the name MedMij-style scopes must carry
    correlation_id: str | None = None


def token_response(conn: Connection, request: TokenRequest) -> tuple[int, dict[str, Any]]:
    try:
        client = authenticate_client(
            conn, request.form, request.headers, audience=request.audience, now=request.now
        )
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            return 200, _authorization_code(conn, client, request)
        if grant_type == "refresh_token":
            return 200, _refresh_token(conn, client, request)
        if grant_type == "client_credentials":
            return 200, _client_credentials(conn, client, request)
        if not grant_type:
            raise invalid_request("Missing grant_type")
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    except OAuthError as error:
        return error.status, error.body()


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _pkce_ok(verifier: str | None, challenge: str) -> bool:
    return bool(verifier) and hmac.compare_digest(s256(verifier or ""), challenge)


def _required(request: TokenRequest, name: str) -> str:
    value = request.form.get(name)
    if not value:
        raise invalid_request(f"Missing {name}")
    return value


def _authorization_code(
    conn: Connection, client: OAuthClient, request: TokenRequest
) -> dict[str, Any]:
    repo = GrantRepository(conn)
    code_hash = secret_hash(_required(request, "code"))
    redirect_uri = _required(request, "redirect_uri")
    stored = repo.find_code(code_hash)
    if stored is None or stored.client_id != client.client_id:
        raise invalid_grant("Unknown authorization code")
    if not repo.claim_code(code_hash, request.now):
        repo.revoke(stored.grant_id, request.now)
        _audit(conn, request, "code-replay", client, FAILURE, stored.grant_id)
        raise invalid_grant("Authorization code already used; its tokens are revoked")
    try:
        if request.now > stored.expires_at:
            raise invalid_grant("Authorization code expired")
        if redirect_uri != stored.redirect_uri:
            raise invalid_grant("redirect_uri does not match the authorization request")
        if stored.code_challenge is not None and not _pkce_ok(
            request.form.get("code_verifier"), stored.code_challenge
        ):
            raise invalid_grant("PKCE verification failed")
        grant = repo.get(stored.grant_id)
        if grant is None or grant.revoked_at is not None:
            raise invalid_grant("The authorization was revoked")
    except OAuthError:
        repo.revoke(stored.grant_id, request.now)  # the code is spent; nothing stays half-granted
        raise
    _audit(conn, request, "token", client, grant_id=grant.id)
    return issue_for_grant(conn, grant, grant.scope, request.now, with_refresh=True)


def _refresh_token(conn: Connection, client: OAuthClient, request: TokenRequest) -> dict[str, Any]:
    repo = GrantRepository(conn)
    token_hash = secret_hash(_required(request, "refresh_token"))
    stored = repo.find_refresh_token(token_hash)
    if stored is None or stored.client_id != client.client_id or stored.grant_id is None:
        raise invalid_grant("Unknown refresh token")
    if stored.revoked_at is not None:
        raise invalid_grant("Refresh token revoked")
    if stored.rotated_at is not None:
        _reused(conn, request, client, stored.grant_id)
    if request.now > stored.expires_at:
        raise invalid_grant("Refresh token expired after six months without use")
    grant = repo.get(stored.grant_id)
    if grant is None or grant.revoked_at is not None:
        raise invalid_grant("The authorization was revoked")
    scope = stored.scope
    if request.form.get("scope"):
        narrower = ScopeSet.parse(request.form["scope"], request.provider_name)
        if not narrower.within(ScopeSet.stored(stored.scope)):
            raise invalid_scope("A refresh may only narrow the granted scope (RFC 6749 §6)")
        scope = str(narrower)
    # Only a request that will succeed spends the token: a refused one (a scope too
    # wide, say) leaves it usable, or the client's corrected retry would look like
    # reuse and cost the user the whole consent.
    if not repo.claim_refresh_token(token_hash, request.now):
        _reused(conn, request, client, stored.grant_id)  # a concurrent use won the race
    _audit(conn, request, "refresh", client, grant_id=grant.id)
    return issue_for_grant(conn, grant, scope, request.now, with_refresh=True)


def _reused(
    conn: Connection, request: TokenRequest, client: OAuthClient, grant_id: str
) -> NoReturn:
    """A rotated refresh token came back: the family may be stolen (RFC 9700 §4.14.2)."""
    GrantRepository(conn).revoke(grant_id, request.now)
    _audit(conn, request, "refresh-reuse", client, FAILURE, grant_id)
    raise invalid_grant("Refresh token already used; the authorization is revoked")


def _client_credentials(
    conn: Connection, client: OAuthClient, request: TokenRequest
) -> dict[str, Any]:
    """For the operator's own back ends (SMART Backend Services style, ``system/``
    scopes), and for provider systems that sign their assertion and act as the
    Organization that names them (``user/`` scopes, within the client's consent)."""
    if client.is_public:
        raise unauthorized_client("client_credentials is not for public clients")
    if client.is_system:
        actor, context = "", "system"
    else:
        signed = client.kind == PRIVATE_KEY_JWT
        organization = organization_of(conn, client.client_id) if signed else None
        if organization is None:
            raise unauthorized_client(
                "client_credentials is for system clients and for provider systems that "
                "sign their assertion and that one Organization names by client id"
            )
        actor, context = organization, "user"
    allowed = ScopeSet.stored(client.allowed_scopes)
    asked = request.form.get("scope")
    requested = ScopeSet.parse(asked, request.provider_name) if asked else allowed
    if not requested.within(allowed) or requested.contexts - {context}:
        raise invalid_scope(f"This client gets {context}/ scopes within its registration")
    _audit(conn, request, "token", client)
    return issue_access_token(
        conn,
        client_id=client.client_id,
        actor_reference=actor,
        patient_id=None,
        scope=str(requested),
        now=request.now,
    )


def _audit(
    conn: Connection,
    request: TokenRequest,
    event: str,
    client: OAuthClient,
    outcome: str = "0",
    grant_id: str | None = None,
) -> None:
    grant = GrantRepository(conn).get(grant_id) if grant_id else None
    write_audit(
        conn,
        AuditRecord(
            event=event,
            outcome=outcome,
            client_id=client.client_id,
            actor_reference=grant.actor_reference if grant else None,
            patient_id=grant.patient_id if grant else None,
            correlation_id=request.correlation_id,
        ),
        request.now,
    )
