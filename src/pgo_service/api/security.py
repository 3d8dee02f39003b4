"""Bearer tokens on /fhir (RFC 6750) and the ``X-Correlation-ID`` of every request."""

from __future__ import annotations

import os
import re
from datetime import datetime

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth.fhir_access import FhirAccess
from ..auth.principal import Principal, resolve_bearer
from ..fhir.errors import Category, FhirError
from ..fhir.exchange import FhirRequest
from .oauth_web import OAuthRuntime

__all__ = ["BearerAccess", "CorrelationIdMiddleware", "Principal"]

_REALM = 'Bearer realm="pgo-service"'


def _unauthorized(message: str, error: str | None = None) -> FhirError:
    """RFC 6750 §3: a missing token gets no error code, a bad one ``invalid_token``."""
    challenge = f'{_REALM}, error="{error}"' if error else _REALM
    return FhirError(Category.UNAUTHORIZED, message, headers={"WWW-Authenticate": challenge})


class BearerAccess:
    """Authenticates /fhir requests and holds each to what its token allows."""

    def __init__(self, oauth: OAuthRuntime) -> None:
        self.oauth = oauth

    def bearer_token(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("This request needs a bearer token")
        return token.strip()

    def resolve(self, conn: Connection, token: str) -> Principal:
        """The token's principal, looked up in the request's own transaction."""
        principal = resolve_bearer(conn, token, self.oauth.clock())
        if principal is None:
            raise _unauthorized("The bearer token is invalid, expired or revoked", "invalid_token")
        return principal

    def authorize(self, request: FhirRequest, principal: Principal) -> None:
        """Refuse what the token's scopes do not allow (whose data: see consent)."""
        FhirAccess(principal).check(request)

    def now(self) -> datetime:
        return self.oauth.clock()

    def oauth_uris(self, request: Request) -> tuple[tuple[str, str], ...]:
        root = self.oauth.root_url(request)
        return (
            ("authorize", f"{root}/oauth/authorize"),
            ("token", f"{root}/oauth/token"),
            ("revoke", f"{root}/oauth/revoke"),
            ("introspect", f"{root}/oauth/introspect"),
            ("manage", f"{root}/account"),
        )


_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class CorrelationIdMiddleware:
    """Takes a well-formed ``X-Correlation-ID`` (or makes one: 128 random bits, in hex,
    which costs a sixth of a UUID's making) and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-correlation-id", b"").decode("latin-1")
        value = given if _ACCEPTABLE_ID.match(given) else os.urandom(16).hex()
        scope.setdefault("state", {})["correlation_id"] = value

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-correlation-id", value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
