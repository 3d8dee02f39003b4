"""Provider notifications: a registered confidential client names a client by an opaque
subscription id, and a pull of that client's data is queued (once, however many come)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pgo_service.auth.admin import ClientRegistration, register_client
from pgo_service.auth.issuing import issue_access_token
from pgo_service.auth.tokens import utc_now
from pgo_service.db.engine import transaction
from pgo_service.sync.jobs import QUEUED
from pgo_service.sync.pull import PULL
from pgo_service.sync.subscriptions import create_subscription

from .pulling import PROVIDER, jobs

EHR = "ehr.thuiszorg.example"


def _token(engine: Engine, client_id: str, *, public: bool = False, actor: str = "") -> str:
    now = utc_now()
    with transaction(engine) as conn:
        register_client(
            conn,
            ClientRegistration(
                client_id=client_id,
                name=client_id,
                redirect_uris=(),
                scopes="user/*.rs",
                secret=None if public else "a-secret-of-the-provider",
                public=public,
                hostname=client_id,
            ),
            now,
        )
        answer = issue_access_token(
            conn,
            client_id=client_id,
            actor_reference=actor,
            patient_id=None,
            scope="user/*.rs",
            now=now,
            lifetime=timedelta(hours=1),
        )
    token: str = answer["access_token"]
    return token


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def _subscribe(engine: Engine, notifier: str = EHR, end: datetime | None = None) -> str:
    with transaction(engine) as conn:
        return create_subscription(
            conn,
            patient_id="anna",
            provider_name=PROVIDER,
            service_id="48",
            notifier_client_id=notifier,
            now=utc_now(),
            end_date=end,
        )


def _notify(http: TestClient, token: str | None, subscription: str) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"subscription_id": subscription, "notification_type": "PHR"}
    return http.post("/sync/notifications", json=body, headers=headers).status_code


def test_a_burst_of_notifications_queues_one_pull(db_engine: Engine, http: TestClient) -> None:
    subscription = _subscribe(db_engine)
    token = _token(db_engine, EHR)
    assert [_notify(http, token, subscription) for _ in range(5)] == [202] * 5
    [job] = jobs(db_engine)
    assert (job.kind, job.status, job.patient_id, job.provider_name) == (
        PULL,
        QUEUED,
        "anna",
        PROVIDER,
    )
    assert "anna" not in job.payload and subscription not in job.payload


def test_who_may_notify(db_engine: Engine, http: TestClient) -> None:
    subscription = _subscribe(db_engine)
    assert _notify(http, None, subscription) == 401
    assert _notify(http, "not-a-token", subscription) == 401
    other = _token(db_engine, "ehr.ander.example")
    assert _notify(http, other, subscription) == 404  # someone else's id: as if unknown
    own = _token(db_engine, EHR)
    assert _notify(http, own, "no-such-subscription") == 404
    app_token = _token(db_engine, "app.pgo.example", public=True)
    assert _notify(http, app_token, subscription) == 403
    person = _token(db_engine, "ehr.persoon.example", actor="Practitioner/p1")
    assert _notify(http, person, subscription) == 403
    ended = _subscribe(db_engine, end=utc_now() - timedelta(days=1))
    assert _notify(http, own, ended) == 404
    assert jobs(db_engine) == []
    answer = http.post(
        "/sync/notifications", content=b"{", headers={"Authorization": f"Bearer {own}"}
    )
    assert answer.status_code == 400
