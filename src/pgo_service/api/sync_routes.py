"""Operations endpoints of the sync: the outbox's metrics for a Prometheus scraper.

Only counts per job kind and status are exposed: no patient, provider or payload.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy import Engine
from starlette.responses import PlainTextResponse

from ..db.engine import transaction
from ..sync.jobs import outbox_status
from ..sync.metrics import render_metrics


def build_sync_router(engine: Engine) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/metrics",
        tags=["operations"],
        summary="sync outbox metrics (Prometheus text format)",
        response_class=PlainTextResponse,
    )
    def metrics() -> PlainTextResponse:
        with transaction(engine, write=False) as conn:
            status = outbox_status(conn)
        now = datetime.now(UTC).replace(tzinfo=None)
        return PlainTextResponse(
            render_metrics(status, now), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return router
