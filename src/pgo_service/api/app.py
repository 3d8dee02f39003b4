"""The ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine, text
from starlette.responses import JSONResponse

from .. import __version__
from ..config import Settings, get_settings
from ..db.engine import make_engine, transaction
from .errors import register_error_handlers
from .fhir_routes import FhirGateway, build_router


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.resolved_database_url())
    app = FastAPI(
        title="pgo-service",
        version=__version__,
        description="FHIR R4 back end for a client's zorgleefplan (personal care-and-life plan).",
    )
    app.state.engine = engine
    app.state.settings = settings
    register_error_handlers(app)

    @app.get("/healthz", tags=["operations"], summary="the process is alive")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", tags=["operations"], summary="the database answers")
    def readyz() -> JSONResponse:
        try:
            with transaction(engine, write=False) as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.include_router(build_router(FhirGateway(engine, settings)))
    return app
