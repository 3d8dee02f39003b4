"""From connecting a plan to a provider's notification showing in the plan: the client
connects at oidc-provider, the provider's system notifies with the subscription id the
connection answered with, a worker pulls from the Medplum peer, and the agreement is in
``$zorgleefplan``. Disconnecting, or the client's consent ending, ends the subscription."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select

from pgo_service.api.app import create_app, sync_contexts
from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_subscription
from pgo_service.sync.connect import ClientConfig, ConnectionTokens, forget_connection
from pgo_service.sync.pull import PULL, pull_handler
from pgo_service.sync.registry import PROVIDER_NAME_SYSTEM, import_zal
from pgo_service.sync.worker import Worker, WorkerConfig, utc_now

from ..support.fhirclient import FhirClient
from ..support.tokens import actor_token
from .lists import zal
from .medplum import MedplumPeer
from .oauth_peers import OidcProviderPeer
from .pulling import client_with_plan, jobs, provider_agreement, run_all
from .test_connect import BOX, CLIENT_ID, PROVIDER, REDIRECT_URI, SERVICE, _settings
from .test_notifications import _token as confidential_token

EHR = "ehr.thuiszorg.example"


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProviderPeer]:
    with OidcProviderPeer(
        client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, scopes=f"{PROVIDER}~{SERVICE}"
    ) as peer:
        yield peer


@pytest.fixture
def registered(db_engine: Engine, oidc: OidcProviderPeer, medplum: MedplumPeer) -> Engine:
    """The provider: authorization at oidc-provider, its EHR the Medplum peer."""
    listing = zal(
        1,
        {
            PROVIDER: [
                (SERVICE, oidc.authorization_endpoint, oidc.token_endpoint, {"ZLP": medplum.url})
            ]
        },
    )
    with transaction(db_engine) as conn:
        import_zal(conn, listing, utc_now(), dev_mode=True)
    return db_engine


@pytest.fixture
def app(registered: Engine) -> FastAPI:
    return create_app(_settings(), registered)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def _provider_system(client: FhirClient) -> None:
    """The provider's Organization, naming its EHR's registered client."""
    organization = {
        "resourceType": "Organization",
        "name": "Thuiszorg Noord",
        "identifier": [
            {"system": PROVIDER_NAME_SYSTEM, "value": PROVIDER},
            {"system": "urn:ietf:params:oauth:client-id", "value": EHR},
        ],
    }
    assert client.post("Organization", organization).status_code == 201


def _as(engine: Engine, patient: str) -> dict[str, str]:
    token = actor_token(engine, f"Patient/{patient}", patient_id=patient)
    return {"Authorization": f"Bearer {token}"}


def _connect(http: TestClient, oidc: OidcProviderPeer, headers: dict[str, str]) -> Any:
    started = http.post(
        "/sync/connections", json={"provider": PROVIDER, "service": SERVICE}, headers=headers
    )
    assert started.status_code == 200, started.text
    answer = http.get("/sync/callback", params=oidc.authorize(started.json()["authorization_url"]))
    assert answer.status_code == 200, answer.text
    return answer.json()["connection"]


def _notify(http: TestClient, token: str, subscription: str) -> int:
    body = {"subscription_id": subscription, "notification_type": "PHR"}
    answer = http.post(
        "/sync/notifications", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


def _worker(engine: Engine, tenant: str) -> Worker:
    """Pull jobs with the connection's tokens: a job runs only while the client's
    connection gives an access token; the Medplum peer, a server of its own, is then
    read with the tenant token that stands for the same client there."""
    config = ClientConfig.from_settings(_settings())
    assert config is not None
    connections = ConnectionTokens(engine, BOX, config)

    def tokens(conn: Connection, provider: str, service: str, patient: str | None) -> str | None:
        return tenant if connections(conn, provider, service, patient) else None

    handler = pull_handler(tokens, sync_contexts(_settings()), page_size=10)
    settings = WorkerConfig(
        lease=timedelta(seconds=120),
        backoff_base=0.001,
        backoff_cap=0.002,
        retry_after_cap=1.0,
        http_timeout=10.0,
        poll_seconds=0.05,
        extra_hosts=frozenset({"127.0.0.1"}),
        dev_mode=True,
    )
    return Worker(engine, {PULL: handler}, settings, rng=random.Random(1))


def _plan_titles(http: TestClient, anna: str, headers: dict[str, str]) -> set[str]:
    view = http.get(f"/fhir/Patient/{anna}/$zorgleefplan", headers=headers)
    assert view.status_code == 200, view.text
    return {e["resource"].get("title") for e in view.json().get("entry") or []}


def test_a_notification_after_connecting_pulls_the_agreement_into_the_plan(
    client: FhirClient,
    http: TestClient,
    registered: Engine,
    oidc: OidcProviderPeer,
    medplum: MedplumPeer,
) -> None:
    anna, _plan = client_with_plan(client)
    _provider_system(client)
    as_anna = _as(registered, anna)
    connection = _connect(http, oidc, as_anna)
    subscription = connection["subscription_id"]
    assert subscription and connection["notifier"] == EHR
    listed = http.get("/sync/connections", headers=as_anna).json()["connections"]
    assert [c["subscription_id"] for c in listed] == [subscription]

    tenant = f"tenant-{uuid.uuid4()}"
    worker = _worker(registered, tenant)
    run_all(worker)  # the first pull the connection queued: nothing there yet
    medplum.seed(tenant, [provider_agreement("Insuline spuiten voor het ontbijt")])
    ehr = confidential_token(registered, EHR)
    assert _notify(http, ehr, subscription) == 202
    assert run_all(worker) == 1
    assert all(j.status == "done" for j in jobs(registered)), jobs(registered)
    assert "Insuline spuiten voor het ontbijt" in _plan_titles(http, anna, as_anna)

    # Connecting again replaces the subscription; disconnecting ends it.
    again = _connect(http, oidc, as_anna)
    assert again["subscription_id"] not in (None, subscription)
    assert _notify(http, ehr, subscription) == 404
    assert http.delete(f"/sync/connections/{again['id']}", headers=as_anna).status_code == 204
    assert _notify(http, ehr, again["subscription_id"]) == 404
    worker.close()


def test_the_subscription_ends_with_the_clients_consent_for_the_provider(
    client: FhirClient, http: TestClient, registered: Engine, oidc: OidcProviderPeer
) -> None:
    anna, _plan = client_with_plan(client)
    _provider_system(client)
    as_anna = _as(registered, anna)
    subscription = _connect(http, oidc, as_anna)["subscription_id"]
    with transaction(registered) as conn:
        forget_connection(conn, anna, PROVIDER, utc_now())  # what consent revocation does
        assert conn.execute(select(sync_subscription)).all() == []
    assert _notify(http, confidential_token(registered, EHR), subscription) == 404


def test_without_a_provider_system_there_is_no_subscription(
    client: FhirClient, http: TestClient, registered: Engine, oidc: OidcProviderPeer
) -> None:
    anna, _plan = client_with_plan(client)
    as_anna = _as(registered, anna)
    connection = _connect(http, oidc, as_anna)
    assert connection["status"] == "active"
    assert connection["subscription_id"] is None and connection["notifier"] is None
