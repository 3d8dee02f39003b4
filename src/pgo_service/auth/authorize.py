"""The authorization endpoint's decisions (RFC 6749 §4.1.1-§4.1.2, RFC 7636).

Validation happens in two phases, as §4.1.2.1 requires: until the client and its
redirect URI are verified, errors are shown to the user and never redirected (no
open redirector); after that, errors go back to the client with its ``state``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import Connection

from .audit import FAILURE, AuditRecord, write_audit
from .clients import ClientRepository, OAuthClient
from .errors import OAuthError, UnverifiedRedirect, invalid_request, invalid_scope
from .grants import GrantRepository
from .issuing import CODE_LIFETIME
from .redirects import redirect_uri_problem
from .scopes import ScopeSet
from .tokens import new_secret, secret_hash
from .users import User


class RedirectableError(OAuthError):
    """An error to send to the verified redirect URI of the client."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.error, error.description, status=error.status)
        self.redirect_uri = redirect_uri
        self.state = state

    def location(self) -> str:
        params = {"error": self.error, "error_description": self.description}
        if self.state:
            params["state"] = self.state
        return f"{self.redirect_uri}?{urlencode(params)}"


@dataclass(frozen=True)
class AuthorizationRequest:
    client: OAuthClient
    redirect_uri: str
    state: str
    scopes: ScopeSet
    code_challenge: str | None
    query: str  # the validated request, re-encoded, to carry through the login pages


def validate_authorization_request(
    conn: Connection, pairs: Sequence[tuple[str, str]], *, dev_mode: bool, provider_name: str
) -> AuthorizationRequest:
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise UnverifiedRedirect("invalid_request", f"Parameter {name} is repeated")
        params[name] = value
    client = ClientRepository(conn).get(params.get("client_id", ""))
    if client is None:
        raise UnverifiedRedirect("invalid_request", "Unknown client_id")
    if client.disabled:  # shown, not redirected: the app is no longer trusted
        raise UnverifiedRedirect(
            "unauthorized_client", "This app is no longer on the OAuth client list"
        )
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise UnverifiedRedirect(
            "invalid_request", "redirect_uri is not registered for this client"
        )
    problem = redirect_uri_problem(redirect_uri, client.hostname, dev_mode=dev_mode)
    if problem:
        raise UnverifiedRedirect("invalid_request", f"redirect_uri rejected: {problem}")
    state = params.get("state")
    try:
        return _validate_verified(client, redirect_uri, state, params, provider_name)
    except OAuthError as error:
        raise RedirectableError(error, redirect_uri, state) from error


def _validate_verified(
    client: OAuthClient,
    redirect_uri: str,
    state: str | None,
    params: dict[str, str],
    provider_name: str,
) -> AuthorizationRequest:
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "Only response_type=code is supported")
    if not state:
        raise invalid_request("state is required")
    scopes = ScopeSet.parse(params.get("scope"), provider_name)
    if not scopes.tokens:
        raise invalid_scope("scope is required")
    if "system" in scopes.contexts or not scopes.within(ScopeSet.stored(client.allowed_scopes)):
        raise invalid_scope("The requested scope is not allowed for this client")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None and client.is_public:
        raise invalid_request("PKCE (code_challenge, S256) is required for public clients")
    if challenge is not None and method != "S256":
        raise invalid_request("code_challenge_method must be S256")
    if challenge is not None and not 43 <= len(challenge) <= 128:
        raise invalid_request("Malformed code_challenge")
    return AuthorizationRequest(
        client, redirect_uri, state, scopes, challenge, urlencode(sorted(params.items()))
    )


def approve(
    conn: Connection,
    request: AuthorizationRequest,
    user: User,
    patient_id: str | None,
    *,
    long_term: bool,
    now: datetime,
    correlation_id: str | None = None,
) -> str:
    """Record the consent as a grant, issue a single-use code, and return the redirect."""
    if "patient" in request.scopes.contexts and patient_id is None:
        raise RedirectableError(
            invalid_scope("No patient chosen for patient scopes"),
            request.redirect_uri,
            request.state,
        )
    repo = GrantRepository(conn)
    grant = repo.create(
        client_id=request.client.client_id,
        user_id=user.id,
        actor_reference=user.actor_reference,
        patient_id=patient_id,
        scope=str(request.scopes),
        long_term=long_term,
        now=now,
    )
    code = new_secret()
    repo.save_code(
        secret_hash(code), grant, request.redirect_uri, request.code_challenge, now + CODE_LIFETIME
    )
    _audit(conn, "authorize", request, user, patient_id, now, correlation_id)
    return f"{request.redirect_uri}?{urlencode({'code': code, 'state': request.state})}"


def deny(
    conn: Connection,
    request: AuthorizationRequest,
    user: User,
    *,
    now: datetime,
    correlation_id: str | None = None,
) -> str:
    _audit(conn, "deny", request, user, None, now, correlation_id, FAILURE)
    error = OAuthError("access_denied", "The user did not give consent")
    return RedirectableError(error, request.redirect_uri, request.state).location()


def _audit(
    conn: Connection,
    event: str,
    request: AuthorizationRequest,
    user: User,
    patient_id: str | None,
    now: datetime,
    correlation_id: str | None,
    outcome: str = "0",
) -> None:
    record = AuditRecord(
        event=event,
        outcome=outcome,
        client_id=request.client.client_id,
        actor_reference=user.actor_reference,
        patient_id=patient_id,
        detail=f"scope: {request.scopes}",
        correlation_id=correlation_id,
    )
    write_audit(conn, record, now)
