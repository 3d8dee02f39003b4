"""The ASGI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Connection, Engine, text
from starlette.responses import JSONResponse

from .. import __version__, careplan, consent
from ..config import Settings, get_settings
from ..db.engine import make_engine, transaction
from ..fhir.interactions.context import Context
from ..fhir.store import ResourceStore
from ..sync.merge import ContextFactory
from ..sync.pull import PULL, pull_handler
from ..sync.push import PUSH, TokenSource, push_handler
from ..sync.worker import Handler
from .errors import register_error_handlers
from .fhir_dispatch import FhirDispatch
from .fhir_routes import FhirGateway, build_router
from .oauth_account import router as account_router
from .oauth_pages import router as oauth_pages_router
from .oauth_routes import router as oauth_router
from .oauth_web import OAuthRuntime
from .security import BearerAccess, CorrelationIdMiddleware
from .sync_connect_routes import build_sync_connect_router
from .sync_notifications import build_notification_router
from .sync_routes import build_sync_router


def build_gateway(
    engine: Engine, settings: Settings, access: BearerAccess | None = None
) -> FhirGateway:
    """The FHIR engine with the domain packages plugged in."""
    careplan.register_search_params()
    consent.register_search_params()
    return FhirGateway(
        engine,
        settings,
        rules=(*careplan.rules(), *consent.rules()),
        operations=(*careplan.operations(), *consent.operations()),
        access=access,
    )


def sync_contexts(settings: Settings) -> ContextFactory:
    """Write contexts for what the sync merges into a plan: the zorgleefplan's rules
    and the global consent rules apply, as to any write (the provider acts under the
    client's authorization at that provider, so no requester's consent is asked)."""
    careplan.register_search_params()
    consent.register_search_params()
    rules = (*careplan.rules(), *consent.rules())

    def context(conn: Connection) -> Context:
        return Context(
            ResourceStore(conn),
            default_page_size=settings.default_page_size,
            max_page_size=settings.max_page_size,
            rules=rules,
        )

    return context


def sync_handlers(settings: Settings, tokens: TokenSource | None) -> dict[str, Handler]:
    """The sync's job kinds, given where the client's tokens at providers come from
    (none yet: then no job kind runs)."""
    if tokens is None:
        return {}
    return {
        PUSH: push_handler(tokens, consent.DisclosureGate()),
        PULL: pull_handler(
            tokens, sync_contexts(settings), max_attempts=settings.sync_max_attempts
        ),
    }


def _lifespan(
    gateway: FhirGateway, terminology: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if terminology:
            gateway.publish_terminology()
        gateway.consent.audit.start()
        yield
        gateway.consent.audit.close()

    return lifespan


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, *, terminology: bool = True
) -> FastAPI:
    """The whole API. ``terminology``: publish the service's CodeSystems and ValueSets
    at start-up (the parent of several server processes does that once for all)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.resolved_database_url())
    oauth = OAuthRuntime(engine, settings)
    access = BearerAccess(oauth)
    gateway = build_gateway(engine, settings, access)
    app = FastAPI(
        title="pgo-service",
        version=__version__,
        description="FHIR R4 back end for a client's zorgleefplan (personal care-and-life plan).",
        lifespan=_lifespan(gateway, terminology),
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.oauth = oauth
    app.state.gateway = gateway
    fhir_router = build_router(gateway)
    app.add_middleware(FhirDispatch, routes=fhir_router.routes)  # inside the correlation id
    app.add_middleware(CorrelationIdMiddleware)
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

    # The FHIR routes first: they carry nearly all traffic. Their type segment only
    # matches a resource-type name, so /fhir/.well-known/... reaches the OAuth router.
    app.include_router(fhir_router)
    app.include_router(oauth_router)
    app.include_router(oauth_pages_router)
    app.include_router(account_router)
    app.include_router(build_sync_router(engine))
    app.include_router(build_notification_router(engine, access, settings))
    app.include_router(build_sync_connect_router(engine, oauth))
    return app


def create_worker_app() -> FastAPI:
    """The application of one of several server processes (``serve --workers N``).
    Settings come from the environment the parent passed on; the parent has brought
    the schema up to date and published the terminology already."""
    app = create_app(get_settings(), terminology=False)
    # What exists by now lives as long as the process: out of the cyclic collector's
    # way (see ``serve``).
    gc.freeze()
    return app
