"""The ``pgo-service`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .config import Settings, get_settings


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "database_url", None):
        os.environ["PGO_DATABASE_URL"] = args.database_url
        get_settings.cache_clear()
    return get_settings()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api.app import create_app
    from .db.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.resolved_database_url())
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        workers=1,
        log_level=args.log_level,
        access_log=False,
    )
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pgo-service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="bring the schema up to date, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--database-url", help="default: PGO_DATABASE_URL or SQLite in PGO_DATA_DIR")
    serve.add_argument("--log-level", default="info")
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

    spec = commands.add_parser("openapi", help="print the OpenAPI document")
    spec.set_defaults(func=_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
