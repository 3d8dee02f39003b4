"""Clients and tokens for tests, written straight to the database (no audit events)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from pgo_service.auth.admin import ClientRegistration, register_client
from pgo_service.auth.issuing import issue_access_token
from pgo_service.auth.tokens import utc_now
from pgo_service.db.engine import transaction

SYSTEM_CLIENT = "pgo-tests-system"


def system_token(engine: Engine, *, lifetime: timedelta = timedelta(hours=2)) -> str:
    """A ``system/*.cruds`` token of an operator client registered with --system."""
    now = utc_now()
    with transaction(engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id=SYSTEM_CLIENT,
                name="pgo-service test suite",
                redirect_uris=(),
                scopes="system/*.cruds",
                secret="not-used-by-the-suite",
                system=True,
                hostname="tests.pgo.invalid",
            ),
            now,
        )
        response = issue_access_token(
            conn,
            client_id=SYSTEM_CLIENT,
            actor_reference="",
            patient_id=None,
            scope="system/*.cruds",
            now=now,
            lifetime=lifetime,
        )
    token: str = response["access_token"]
    return token


ACTOR_CLIENT = "pgo-tests-app"


def actor_token(
    engine: Engine,
    actor_reference: str,
    *,
    patient_id: str | None = None,
    scope: str = "user/*.cruds",
    lifetime: timedelta = timedelta(hours=2),
) -> str:
    """A token of a registered (non-system) app acting as ``actor_reference``.

    ``patient_id`` is whom the token acts for (a client's own or their representative's
    token); professionals' tokens usually have none and see what Consents allow.
    """
    now = utc_now()
    with transaction(engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id=ACTOR_CLIENT,
                name="pgo-service test app",
                redirect_uris=(),
                scopes="user/*.cruds patient/*.cruds",
                secret="not-used-by-the-suite",
                system=False,
                hostname="app.pgo.invalid",
            ),
            now,
        )
        response = issue_access_token(
            conn,
            client_id=ACTOR_CLIENT,
            actor_reference=actor_reference,
            patient_id=patient_id,
            scope=scope,
            now=now,
            lifetime=lifetime,
        )
    token: str = response["access_token"]
    return token
