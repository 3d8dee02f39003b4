"""The ceiling for read-by-id: the least an HTTP server can do to answer
``GET /fhir/{type}/{id}`` from the service's database.

A bare Starlette app with one route. It opens its connection exactly as the service
does (``make_engine`` and a read ``transaction``), runs the database work where the
service runs a read (on the event loop on SQLite, in the thread pool on PostgreSQL;
``PGO_SINGLE_RESOURCE_ON_LOOP``), selects the stored ``content`` bytes of the current
version and returns them unchanged. Served by uvicorn with the settings of
``pgo-service serve``: as many server processes as it is given, no access log.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pgo_service.db.engine import make_engine, transaction
from pgo_service.db.models import resource

FHIR_JSON = "application/fhir+json; charset=utf-8"


def create_app(engine: Engine) -> Starlette:
    statement = select(resource.c.content)
    on_loop = engine.dialect.name == "sqlite"

    def fetch(resource_type: str, resource_id: str) -> bytes | None:
        with transaction(engine, write=False) as conn:
            content: bytes | None = conn.execute(
                statement.where(
                    resource.c.resource_type == resource_type, resource.c.id == resource_id
                )
            ).scalar_one_or_none()
            return content

    async def read(request: Request) -> Response:
        params = request.path_params
        resource_type, resource_id = params["resource_type"], params["resource_id"]
        if on_loop:
            content = fetch(resource_type, resource_id)
        else:
            content = await run_in_threadpool(fetch, resource_type, resource_id)
        if content is None:
            return Response(status_code=404)
        return Response(content, media_type=FHIR_JSON)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/fhir/{resource_type}/{resource_id}", read),
        ]
    )


def app_from_environment() -> Starlette:
    """The app of one of several server processes (uvicorn imports it by name)."""
    return create_app(make_engine(os.environ["CEILING_DATABASE_URL"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": False,
    }
    if args.workers > 1:
        os.environ["CEILING_DATABASE_URL"] = args.database_url
        uvicorn.run(
            "ceiling_app:app_from_environment",
            factory=True,
            workers=args.workers,
            app_dir=str(Path(__file__).parent),
            **options,
        )
    else:
        uvicorn.run(create_app(make_engine(args.database_url)), workers=1, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
