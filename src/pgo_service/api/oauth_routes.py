"""OAuth endpoints answered in JSON: token, revocation, introspection and discovery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import JSONResponse, Response

from ..auth.revocation import introspection_response, revocation_response
from ..auth.token_endpoint import TokenRequest, token_response
from .oauth_web import correlation_id, runtime

router = APIRouter(tags=["OAuth 2.0"])

# RFC 6749 §5.1: token responses must not be cached.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Handler = Callable[[Connection, TokenRequest], tuple[int, dict[str, Any]]]


async def _answer(request: Request, handler: Handler) -> Response:
    rt = runtime(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    root = rt.root_url(request)
    token_request = TokenRequest(
        form=fields,
        headers={k.lower(): v for k, v in request.headers.items()},
        audience=(f"{root}/oauth/token", root, str(request.url)),
        now=rt.clock(),
        provider_name=rt.settings.provider_name,
        correlation_id=correlation_id(request),
    )
    status, body = await rt.run(lambda conn: handler(conn, token_request))
    headers = dict(_NO_STORE)
    if status == 401 and "authorization" in token_request.headers:
        headers["WWW-Authenticate"] = 'Basic realm="pgo-service"'
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("/oauth/token", summary="token endpoint (RFC 6749 §3.2)")
async def token(request: Request) -> Response:
    return await _answer(request, token_response)


@router.post("/oauth/revoke", summary="token revocation (RFC 7009)")
async def revoke(request: Request) -> Response:
    return await _answer(request, revocation_response)


@router.post("/oauth/introspect", summary="token introspection (RFC 7662)")
async def introspect(request: Request) -> Response:
    return await _answer(request, introspection_response)


def server_metadata(root: str) -> dict[str, Any]:
    """RFC 8414 §2."""
    return {
        "issuer": root,
        "authorization_endpoint": f"{root}/oauth/authorize",
        "token_endpoint": f"{root}/oauth/token",
        "revocation_endpoint": f"{root}/oauth/revoke",
        "introspection_endpoint": f"{root}/oauth/introspect",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": [
            "RS256",
            "RS384",
            "PS256",
            "ES256",
            "ES384",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "scopes_supported": ["patient/*.cruds", "user/*.cruds", "system/*.cruds"],
        "service_documentation": f"{root}/docs",
    }


@router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
async def authorization_server_metadata(request: Request) -> Response:
    return JSONResponse(server_metadata(runtime(request).root_url(request)))


@router.get("/fhir/.well-known/smart-configuration", summary="SMART App Launch discovery")
async def smart_configuration(request: Request) -> Response:
    root = runtime(request).root_url(request)
    document = server_metadata(root)
    document["capabilities"] = [
        "launch-standalone",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "context-standalone-patient",
        "permission-patient",
        "permission-user",
        "permission-v2",
    ]
    return JSONResponse(document)
