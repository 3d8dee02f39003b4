"""The admin subcommands of ``pgo-service``: clients, users and tokens.

They work on the database directly (``PGO_DATABASE_URL``, or the SQLite file in
``PGO_DATA_DIR``) and are never HTTP endpoints.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection

from .config import get_settings

_T = TypeVar("_T")


def _in_transaction(work: Callable[[Connection], _T]) -> _T:
    from .db.engine import make_engine, transaction

    engine = make_engine(get_settings().resolved_database_url())
    try:
        with transaction(engine) as conn:
            return work(conn)
    finally:
        engine.dispose()


def _fail(message: str) -> int:
    print(f"pgo-service: {message}", file=sys.stderr)
    return 2


def _clients_add(args: argparse.Namespace) -> int:
    from .auth.admin import AdminError, ClientRegistration, register_client
    from .auth.tokens import utc_now

    jwks: dict[str, Any] | None = None
    if args.jwks:
        jwks = json.loads(Path(args.jwks).read_text())
    registration = ClientRegistration(
        client_id=args.client_id,
        name=args.name,
        redirect_uris=tuple(args.redirect_uri or ()),
        scopes=args.scopes,
        secret=args.secret,
        jwks=jwks,
        public=args.public,
        system=args.system,
        hostname=args.hostname,
    )
    settings = get_settings()
    try:
        client = _in_transaction(
            lambda conn: register_client(
                conn,
                registration,
                utc_now(),
                dev_mode=settings.dev_mode,
                provider_name=settings.provider_name,
            )
        )
    except AdminError as error:
        return _fail(str(error))
    print(f"client {client.client_id} ({client.kind}) registered")
    if client.disabled:
        print("note: this client is disabled until an OAuth client list names it again")
    return 0


def _clients_import_ocl(args: argparse.Namespace) -> int:
    from .auth.admin import AdminError, import_ocl
    from .auth.tokens import utc_now

    document = Path(args.file).read_bytes()
    try:
        result = _in_transaction(lambda conn: import_ocl(conn, document, utc_now()))
    except AdminError as error:
        return _fail(str(error))
    print(f"{result.imported} clients imported")
    if result.disabled:
        print(f"disabled (no longer on the list): {', '.join(result.disabled)}")
    return 0


def _users_add(args: argparse.Namespace) -> int:
    from .auth.admin import AdminError, add_user
    from .auth.crypto import SecretBox
    from .auth.tokens import utc_now

    password = os.environ.get("PGO_NEW_USER_PASSWORD") or getpass.getpass("Password: ")
    actor = f"Patient/{args.patient}" if args.patient else f"RelatedPerson/{args.related_person}"
    box = SecretBox(get_settings().resolved_secret_key())
    try:
        uri = _in_transaction(
            lambda conn: add_user(
                conn,
                box,
                login_name=args.login,
                password=password,
                actor_reference=actor,
                represents=tuple(args.represents or ()),
                now=utc_now(),
            )
        )
    except AdminError as error:
        return _fail(str(error))
    _write_private(args.totp_uri_file, uri)
    print(
        f"account {args.login} created; its TOTP enrolment URI is in {args.totp_uri_file} "
        "(readable by you only): enrol it in the user's authenticator app, then delete the file"
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    from .auth.admin import AdminError, mint_token
    from .auth.tokens import utc_now

    try:
        token = _in_transaction(
            lambda conn: mint_token(
                conn,
                subject=args.subject,
                client_id=args.client,
                scope=args.scope,
                patient_id=args.patient,
                now=utc_now(),
                ttl=timedelta(seconds=args.ttl),
                provider_name=get_settings().provider_name,
            )
        )
    except AdminError as error:
        return _fail(str(error))
    _write_private(args.output, token)
    print(f"access token for {args.subject} written to {args.output} (readable by you only)")
    return 0


def _write_private(path: str, secret: str) -> None:
    """A secret goes to a file only its owner may read, never to the terminal or a log."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")


def register_auth_commands(commands: Any) -> None:
    """Add ``clients``, ``users`` and ``token`` to the command's subparsers."""
    clients = commands.add_parser("clients", help="OAuth clients").add_subparsers(
        dest="clients_command", required=True
    )
    ocl = clients.add_parser("import-ocl", help="import MedMij's OAuth client list (XML)")
    ocl.add_argument("file")
    ocl.set_defaults(func=_clients_import_ocl)
    add = clients.add_parser("add", help="register or update a client")
    add.add_argument("--client-id", required=True)
    add.add_argument("--name", required=True, help="organisation name shown on the consent page")
    add.add_argument("--redirect-uri", action="append", help="repeat for several")
    add.add_argument("--scopes", required=True, help="space-separated scopes it may ask for")
    add.add_argument("--hostname", help="default: the client id or the redirect URIs' host")
    kind = add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--public", action="store_true", help="no secret; PKCE required")
    kind.add_argument("--secret", help="client_secret_basic / client_secret_post")
    kind.add_argument("--jwks", help="file with the JWKS for private_key_jwt")
    add.add_argument("--system", action="store_true", help="may use system/ scopes")
    add.set_defaults(func=_clients_add)

    users = commands.add_parser("users", help="accounts with TOTP").add_subparsers(
        dest="users_command", required=True
    )
    user_add = users.add_parser(
        "add", help="create an account (password from PGO_NEW_USER_PASSWORD or a prompt)"
    )
    user_add.add_argument("--login", required=True)
    actor = user_add.add_mutually_exclusive_group(required=True)
    actor.add_argument("--patient", help="the account is this Patient's own")
    actor.add_argument("--related-person", help="the account is this RelatedPerson's")
    user_add.add_argument(
        "--represents", action="append", help="a Patient id this person may act for; repeatable"
    )
    user_add.add_argument(
        "--totp-uri-file", required=True, help="where to write the TOTP enrolment URI (mode 600)"
    )
    user_add.set_defaults(func=_users_add)

    token = commands.add_parser("token", help="mint an access token into a file (mode 600)")
    token.add_argument("--output", required=True, help="the file the token is written to")
    token.add_argument("--subject", required=True, help="Patient/ID, RelatedPerson/ID, ...")
    token.add_argument("--client", required=True)
    token.add_argument("--scope", required=True)
    token.add_argument("--patient", help="the patient acted for (default: a Patient subject)")
    token.add_argument("--ttl", type=int, default=900, help="seconds (default 900)")
    token.set_defaults(func=_token)
