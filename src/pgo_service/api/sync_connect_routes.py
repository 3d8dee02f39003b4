"""Connecting a client's plan to a provider (the service as OAuth client of the
provider's authorization server): a pgo app asks for the authorization URL with the
client's bearer token, the provider sends the browser back to the callback, and the
client lists and ends their connections.

Only a token acting as the client (``Patient/P`` for P) or as a current
representative of the client may connect, list or disconnect, and only for that
client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from ..consent.identities import identities_of
from ..db.engine import transaction
from ..fhir.errors import FhirError
from ..fhir.search.normalize import to_micros
from ..fhir.store import ResourceStore
from ..sync.connect import (
    ClientConfig,
    ConnectError,
    ConnectionInfo,
    complete_connection,
    disconnect,
    list_connections,
    start_connection,
)
from .oauth_web import OAuthRuntime
from .security import BearerAccess, Principal


class ConnectRequest(BaseModel):
    provider: str = Field(min_length=1, max_length=255, description="Zorgaanbiedernaam")
    service: str = Field(min_length=1, max_length=16, description="GegevensdienstId")


class ConnectAnswer(BaseModel):
    authorization_url: str
    expires_at: datetime


class Connection(BaseModel):
    id: int
    provider: str
    service: str
    status: str = Field(description="active | expired | broken")
    scope: str
    connected_by: str
    app: str
    access_expires_at: datetime | None
    refreshable: bool
    connected_at: datetime
    updated_at: datetime
    problem: str | None
    subscription_id: str | None = Field(
        default=None,
        description="the id the provider's system names in its notifications "
        "(POST /sync/notifications); null when the provider has no registered system",
    )
    notifier: str | None = Field(
        default=None, description="the client id of the provider's system that may notify"
    )


class ConnectionList(BaseModel):
    connections: list[Connection]


def _error(status: int, error: str, description: str, headers: Any = None) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _shown(info: ConnectionInfo) -> Connection:
    return Connection(
        id=info.id,
        provider=info.provider_name,
        service=info.service_id,
        status=info.status,
        scope=info.scope,
        connected_by=info.connected_by,
        app=info.app_client_id,
        access_expires_at=info.access_expires_at,
        refreshable=info.has_refresh_token,
        connected_at=info.created_at,
        updated_at=info.updated_at,
        problem=info.last_error,
        subscription_id=info.subscription_id,
        notifier=info.notifier,
    )


class _Refused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def build_sync_connect_router(engine: Engine, oauth: OAuthRuntime) -> APIRouter:
    router = APIRouter(prefix="/sync", tags=["sync"])
    access = BearerAccess(oauth)

    def now() -> datetime:
        """The sync tables hold naive UTC."""
        moment = oauth.clock()
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment

    def config() -> ClientConfig:
        settings = oauth.settings
        configured = ClientConfig.from_settings(settings)
        if configured is None:
            raise _Refused(
                _error(
                    503,
                    "not_configured",
                    "connecting to providers needs PGO_SYNC_CLIENT_ID and PGO_SYNC_REDIRECT_URI",
                )
            )
        return configured

    def client_of(conn: Any, request: Request) -> tuple[str, Principal]:
        """The patient the bearer token acts for, when it is theirs or their
        representative's."""
        try:
            principal = access.resolve(conn, access.bearer_token(request))
        except FhirError as error:
            raise _Refused(
                _error(error.status, "invalid_token", error.message, error.headers)
            ) from error
        patient, actor = principal.patient_id, principal.actor_reference
        system = "system" in principal.scopes.contexts
        if patient is not None and actor is not None and not system:
            if actor == f"Patient/{patient}":
                return patient, principal
            if actor.startswith("RelatedPerson/"):
                moment = to_micros(oauth.clock())
                if patient in identities_of(ResourceStore(conn), actor, moment).represented:
                    return patient, principal
        raise _Refused(
            _error(
                403,
                "forbidden",
                "only the client, or their representative acting for them, manages "
                "the client's connections to providers",
            )
        )

    def connect(request: Request, body: ConnectRequest) -> Response:
        settings_config = config()
        with transaction(engine) as conn:
            patient, principal = client_of(conn, request)
            start = start_connection(
                conn,
                oauth.box,
                settings_config,
                patient_id=patient,
                provider_name=body.provider,
                service_id=body.service,
                connected_by=principal.actor_reference or "",
                app_client_id=principal.client_id,
                now=now(),
            )
        answer = ConnectAnswer(authorization_url=start.url, expires_at=start.expires_at)
        return JSONResponse(answer.model_dump(mode="json"), headers={"Cache-Control": "no-store"})

    def callback(state: str, code: str | None, error: str | None) -> Response:
        info = complete_connection(
            engine,
            oauth.box,
            config(),
            state=state,
            code=code,
            error=error,
            now=now(),
        )
        return JSONResponse(
            {"connection": _shown(info).model_dump(mode="json")},
            headers={"Cache-Control": "no-store"},
        )

    def listing(request: Request) -> Response:
        with transaction(engine, write=False) as conn:
            patient, _principal = client_of(conn, request)
            shown = [_shown(i) for i in list_connections(conn, patient, now())]
        return JSONResponse(
            ConnectionList(connections=shown).model_dump(mode="json"),
            headers={"Cache-Control": "no-store"},
        )

    def remove(request: Request, connection_id: int) -> Response:
        with transaction(engine) as conn:
            patient, _principal = client_of(conn, request)
            found = disconnect(conn, connection_id, patient, now())
        if not found:
            return _error(404, "not_found", "the client holds no such connection")
        return Response(status_code=204)

    async def guarded(run: Any, *args: Any) -> Response:
        try:
            result: Response = await run_in_threadpool(run, *args)
        except _Refused as refused:
            return refused.response
        except ConnectError as exc:
            return _error(exc.status, exc.error, exc.message)
        return result

    @router.post(
        "/connections",
        summary="start connecting the client's plan to a provider's data service",
        response_model=ConnectAnswer,
    )
    async def post_connection(request: Request, body: ConnectRequest) -> Response:
        return await guarded(connect, request, body)

    @router.get(
        "/callback",
        summary="the provider's authorization server sends the browser back here",
    )
    async def get_callback(
        state: str = "", code: str | None = None, error: str | None = None
    ) -> Response:
        return await guarded(callback, state, code, error)

    @router.get(
        "/connections",
        summary="the client's connections to providers",
        response_model=ConnectionList,
    )
    async def get_connections(request: Request) -> Response:
        return await guarded(listing, request)

    @router.delete(
        "/connections/{connection_id}",
        summary="end a connection: its tokens are deleted (and revoked at the provider)",
        status_code=204,
    )
    async def delete_connection(request: Request, connection_id: int) -> Response:
        return await guarded(remove, request, connection_id)

    return router
