"""The ``pgo-service`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .auth_cli import register_auth_commands
from .config import Settings, get_settings
from .sync_cli import register_sync_commands, sync_handlers


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "database_url", None):
        os.environ["PGO_DATABASE_URL"] = args.database_url
        get_settings.cache_clear()
    return get_settings()


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _serve(args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    from .api.app import build_gateway, create_app
    from .db.engine import is_sqlite, make_engine
    from .db.migrate import upgrade
    from .sync.worker import WorkerConfig, WorkerThreads

    settings = _settings(args)
    processes = args.workers or settings.workers
    upgrade(settings.resolved_database_url())
    settings.resolved_secret_key()  # created here, before any server process reads it
    engine = make_engine(settings.resolved_database_url())
    # SQLite has one writer: the sync worker runs here, on the same engine, rather
    # than as a process of its own.
    workers = None
    if is_sqlite(engine) and settings.sync_in_process_worker:
        workers = WorkerThreads(
            engine, sync_handlers(settings, engine), WorkerConfig.from_settings(settings)
        )
        workers.start()
    options = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": False,
    }
    try:
        if processes > 1:
            build_gateway(engine, settings).publish_terminology()
            # Each server process builds the app from the same environment.
            uvicorn.run(
                "pgo_service.api.app:create_worker_app",
                factory=True,
                workers=processes,
                **options,
            )
        else:
            app = create_app(settings, engine)
            # What exists by now (modules, FHIR models, search plans) lives as long as
            # the process; out of the cyclic collector's way, a full collection takes
            # 20-40 ms instead of 150 ms, which the request that triggers it would wait
            # for.
            gc.freeze()
            uvicorn.run(app, workers=1, **options)
    finally:
        if workers is not None:
            workers.stop(timeout=30)
        engine.dispose()
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from .db.migrate import upgrade

    upgrade(_settings(args).resolved_database_url(), args.revision)
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from .db.migrate import current_revision, head_revision

    url = _settings(args).resolved_database_url()
    current = current_revision(url)
    head = head_revision(url)
    state = "up to date" if current == head else f"behind (head is {head})"
    print(f"{current or 'empty'} {state}")
    return 0


def _openapi(_args: argparse.Namespace) -> int:
    from .api.openapi import export_openapi

    print(json.dumps(export_openapi(), indent=2, sort_keys=True))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from datetime import date

    from .api.app import build_gateway
    from .careplan.demo import DEMO_IDENTIFIER, demo_bundle
    from .db.engine import make_engine
    from .db.migrate import upgrade
    from .fhir.exchange import FhirRequest

    settings = _settings(args)
    url = settings.resolved_database_url()
    upgrade(url)
    engine = make_engine(url)
    try:
        gateway = build_gateway(engine, settings)
        gateway.publish_terminology()
        base = args.base_url.rstrip("/")
        existing = gateway.run(
            FhirRequest("GET", "Patient", query=[("identifier", DEMO_IDENTIFIER)], base_url=base)
        )
        assert existing.body is not None
        found = json.loads(existing.body).get("entry") or []
        if found:
            patient = f"Patient/{found[0]['resource']['id']}"
            print(f"The demo client is already loaded as {patient}.")
            print(f"  GET {base}/{patient}/$zorgleefplan")
            return 0
        request = FhirRequest("POST", "", body=demo_bundle(date.today()), base_url=base)
        response = gateway.run(request)
    finally:
        engine.dispose()
    assert response.body is not None
    result = json.loads(response.body)
    if response.status != 200:
        # The issues' codes and paths, not their text: a diagnostic may quote a value
        # of the demo client (whose BSN is among them).
        issues = [
            f"{issue.get('code')} at {', '.join(issue.get('expression') or ['?'])}"
            for issue in result.get("issue") or []
        ]
        print(f"loading the demo failed ({response.status}): {'; '.join(issues)}", file=sys.stderr)
        return 1
    created = [e["response"]["location"].split("/_history")[0] for e in result["entry"]]
    for reference in created:
        print(reference)
    patient = next(r for r in created if r.startswith("Patient/"))
    print(f"\nThe plan of this demo client, in one request:\n  GET {base}/{patient}/$zorgleefplan")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pgo-service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="bring the schema up to date, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--database-url", help="default: PGO_DATABASE_URL or SQLite in PGO_DATA_DIR")
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=_positive,
        help="HTTP server processes, all on the one database (default: PGO_WORKERS or 1)",
    )
    serve.set_defaults(func=_serve)

    db = commands.add_parser("db", help="schema migrations").add_subparsers(
        dest="db_command", required=True
    )
    up = db.add_parser("upgrade", help="migrate the schema (to head by default)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--database-url")
    up.set_defaults(func=_db_upgrade)
    cur = db.add_parser("current", help="show the schema revision")
    cur.add_argument("--database-url")
    cur.set_defaults(func=_db_current)

    demo = commands.add_parser("demo", help="load a demo client with a complete zorgleefplan")
    demo.add_argument("--database-url")
    demo.add_argument("--base-url", default="http://127.0.0.1:8000/fhir")
    demo.set_defaults(func=_demo)

    spec = commands.add_parser("openapi", help="print the OpenAPI document")
    spec.set_defaults(func=_openapi)

    register_auth_commands(commands)
    register_sync_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
