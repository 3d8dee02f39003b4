"""``POST /sync/notifications``: a provider's system says a client's data changed
(modelled on MedMij's subscription notifications), and the service pulls it.

The provider authenticates with a bearer token of a registered confidential client
(not a public app, and not a token acting for a person). The body names the client
only by the opaque subscription id the service gave that provider:
``{"subscription_id": "…", "notification_type": "…", "end_date": "…"}``. An id that is
unknown, belongs to another client or has ended gets the same 404, so nobody learns
which ids exist. The answer is 202 once the pull is queued; a burst of notifications
queues one pull.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from ..auth.clients import ClientRepository
from ..config import Settings
from ..db.engine import transaction
from ..fhir.errors import FhirError
from ..sync.subscriptions import notify
from .errors import error_response
from .security import BearerAccess

_MAX_BODY = 4096


def _problem(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def build_notification_router(
    engine: Engine, access: BearerAccess, settings: Settings
) -> APIRouter:
    router = APIRouter(tags=["sync"])

    def accept(token: str, subscription_id: str) -> Response:
        with transaction(engine) as conn:
            principal = access.resolve(conn, token)
            client = ClientRepository(conn).get(principal.client_id)
            if (
                client is None
                or client.is_public
                or principal.patient_id is not None
                or principal.actor_reference is not None
            ):
                return _problem(
                    403,
                    "insufficient_scope",
                    "notifications come from a provider's registered confidential client",
                )
            job = notify(
                conn,
                subscription_id=subscription_id,
                client_id=client.client_id,
                now=access.now(),
                max_attempts=settings.sync_max_attempts,
            )
        if job is None:
            return _problem(404, "unknown_subscription", "no such subscription for this client")
        return JSONResponse({"status": "accepted"}, status_code=202)

    @router.post(
        "/sync/notifications",
        summary="a provider notifies that a client's data changed; the service pulls it",
        status_code=202,
    )
    async def notification(request: Request) -> Response:
        try:
            token = access.bearer_token(request)
        except FhirError as error:
            return error_response(error)
        raw = await request.body()
        if len(raw) > _MAX_BODY:
            return _problem(413, "invalid_request", "the notification is too large")
        try:
            body: Any = await request.json()
        except ValueError:
            return _problem(400, "invalid_request", "the body is not JSON")
        subscription_id = body.get("subscription_id") if isinstance(body, dict) else None
        if not isinstance(subscription_id, str) or not 0 < len(subscription_id) <= 64:
            return _problem(400, "invalid_request", "subscription_id is required")
        try:
            return await run_in_threadpool(accept, token, subscription_id)
        except FhirError as error:
            return error_response(error)

    return router
