"""Connecting a client's plan to a provider, against real authorization servers on
loopback: oidc-provider (certified; code + PKCE, rotating refresh tokens, RFC 7009)
for the flow, and oauth2-mock-server behind a fault queue for what goes wrong."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from pgo_service.api.app import create_app
from pgo_service.auth.crypto import SecretBox
from pgo_service.config import Settings
from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import (
    sync_authorization_request,
    sync_connection,
    sync_job,
    sync_token_revocation,
)
from pgo_service.sync.connect import (
    BROKEN,
    REVOKE,
    ClientConfig,
    ConnectionTokens,
    _open_tokens,
    connection_handlers,
    set_revocation_endpoint,
)
from pgo_service.sync.jobs import DONE
from pgo_service.sync.outbound import RetryLater
from pgo_service.sync.registry import import_zal
from pgo_service.sync.worker import Worker, WorkerConfig, utc_now

from ..conftest import TEST_SECRET_KEY
from ..support.tokens import actor_token, system_token
from .lists import zal
from .oauth_peers import FaultyAuthorizationServer, OidcProviderPeer

CLIENT_ID = "pgo.test.example"
REDIRECT_URI = "http://127.0.0.1/sync/callback"
PROVIDER = "thuiszorg@medmij"  # at oidc-provider
FAULTY = "huisarts@medmij"  # at oauth2-mock-server
SERVICE = "48"
BOX = SecretBox(TEST_SECRET_KEY)


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProviderPeer]:
    with OidcProviderPeer(
        client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, scopes=f"{PROVIDER}~{SERVICE}"
    ) as peer:
        yield peer


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultyAuthorizationServer]:
    with FaultyAuthorizationServer() as peer:
        yield peer


def _settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "unused://",
        "secret_key": TEST_SECRET_KEY,
        "dev_mode": True,
        "sync_client_id": CLIENT_ID,
        "sync_redirect_uri": REDIRECT_URI,
        "sync_allowed_hosts": "127.0.0.1",
        "sync_http_timeout_seconds": 1.0,
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def registered(
    db_engine: Engine, oidc: OidcProviderPeer, faulty: FaultyAuthorizationServer
) -> Engine:
    resource = "http://127.0.0.1:9/fhir"  # not called here
    listing = zal(
        1,
        {
            PROVIDER: [
                (SERVICE, oidc.authorization_endpoint, oidc.token_endpoint, {"ZLP": resource})
            ],
            FAULTY: [
                (SERVICE, faulty.authorization_endpoint, faulty.token_endpoint, {"ZLP": resource})
            ],
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


def _bearer(engine: Engine, actor: str, patient: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {actor_token(engine, actor, patient_id=patient)}"}


@pytest.fixture
def anna(registered: Engine) -> dict[str, str]:
    return _bearer(registered, "Patient/anna", "anna")


def _start(http: TestClient, headers: dict[str, str], provider: str = PROVIDER) -> Any:
    response = http.post(
        "/sync/connections", json={"provider": provider, "service": SERVICE}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def _callback(http: TestClient, query: dict[str, str]) -> Any:
    return http.get("/sync/callback", params=query)


def _connect_at_oidc(http: TestClient, headers: dict[str, str], oidc: OidcProviderPeer) -> Any:
    started = _start(http, headers)
    answer = _callback(http, oidc.authorize(started["authorization_url"]))
    assert answer.status_code == 200, answer.text
    return answer.json()["connection"]


def _connect_at_faulty(
    http: TestClient, headers: dict[str, str], faulty: FaultyAuthorizationServer
) -> Any:
    started = _start(http, headers, FAULTY)
    answer = _callback(http, faulty.authorize(started["authorization_url"]))
    assert answer.status_code == 200, answer.text
    return answer.json()["connection"]


def _stored(engine: Engine, connection_id: int) -> Any:
    with transaction(engine, write=False) as conn:
        return conn.execute(
            select(sync_connection).where(sync_connection.c.id == connection_id)
        ).first()


def _tokens(engine: Engine, connection_id: int) -> tuple[str | None, str | None]:
    row = _stored(engine, connection_id)
    return _open_tokens(BOX, row.tokens, row.provider_name, row.service_id)


def _count(engine: Engine, table: Any) -> int:
    with transaction(engine, write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _source(engine: Engine, clock: Any = utc_now) -> ConnectionTokens:
    config = ClientConfig.from_settings(_settings())
    assert config is not None
    return ConnectionTokens(engine, BOX, config, clock=clock)


def _token_for(source: ConnectionTokens, provider: str, patient: str = "anna") -> str | None:
    with transaction(source.engine, write=False) as conn:
        return source(conn, provider, SERVICE, patient)


def test_a_client_connects_their_plan_at_a_provider(
    http: TestClient, registered: Engine, anna: dict[str, str], oidc: OidcProviderPeer
) -> None:
    started = _start(http, anna)
    url = started["authorization_url"]
    assert url.startswith(oidc.authorization_endpoint + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["scope"] == f"{PROVIDER}~{SERVICE}"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert "anna" not in url  # the state is sealed

    back = oidc.authorize(url)
    assert back["state"] == query["state"]
    answer = _callback(http, back)
    assert answer.status_code == 200, answer.text
    shown = answer.json()["connection"]
    assert shown["provider"] == PROVIDER and shown["service"] == SERVICE
    assert shown["status"] == "active" and shown["refreshable"] is True
    assert shown["connected_by"] == "Patient/anna"

    # the tokens are stored sealed, and only there
    access, refresh = _tokens(registered, shown["id"])
    assert access and refresh
    raw = bytes(_stored(registered, shown["id"]).tokens)
    assert access.encode() not in raw and refresh.encode() not in raw
    assert access not in answer.text and refresh not in answer.text

    listed = http.get("/sync/connections", headers=anna).json()["connections"]
    assert [c["id"] for c in listed] == [shown["id"]]
    assert access not in str(listed)
    assert _token_for(_source(registered), PROVIDER) == access

    # the same answer again (replay) stores nothing new
    again = _callback(http, back)
    assert again.status_code == 400
    assert again.json()["error"] == "used_state"
    assert _tokens(registered, shown["id"]) == (access, refresh)


def test_a_wrong_altered_or_expired_state_stores_nothing(
    http: TestClient, app: FastAPI, registered: Engine, anna: dict[str, str], oidc: OidcProviderPeer
) -> None:
    started = _start(http, anna)
    back = oidc.authorize(started["authorization_url"])
    state = back["state"]
    altered = state[:-6] + ("AAAAAA" if not state.endswith("AAAAAA") else "BBBBBB")
    foreign = SecretBox("another-key").seal(b'{"p":"pgo-service/sync-connect-state"}')
    for bad in (altered, "", "not-a-state", foreign.hex()):
        answer = _callback(http, {**back, "state": bad})
        assert answer.status_code == 400, bad
        assert answer.json()["error"] == "invalid_state"
    # expired: the clock moves past the request's lifetime
    app.state.oauth.clock = lambda: datetime.now(UTC) + timedelta(minutes=11)
    expired = _callback(http, back)
    assert expired.status_code == 400 and expired.json()["error"] == "expired_state"
    assert _count(registered, sync_connection) == 0

    # the person declines at the provider: nothing is stored, and the state is used up
    app.state.oauth.clock = lambda: datetime.now(UTC)
    declined = oidc.authorize(_start(http, anna)["authorization_url"], deny=True)
    assert declined["error"] == "access_denied"
    answer = _callback(http, declined)
    assert answer.status_code == 400 and answer.json()["error"] == "authorization_failed"
    assert _count(registered, sync_connection) == 0


def test_who_may_connect(
    http: TestClient, app: FastAPI, registered: Engine, anna: dict[str, str]
) -> None:
    body = {"provider": PROVIDER, "service": SERVICE}
    assert http.post("/sync/connections", json=body).status_code == 401
    system = {"Authorization": f"Bearer {system_token(registered)}"}
    assert http.post("/sync/connections", json=body, headers=system).status_code == 403
    nurse = _bearer(registered, "Practitioner/wijk", None)
    assert http.post("/sync/connections", json=body, headers=nurse).status_code == 403
    someone_else = _bearer(registered, "Patient/bert", "anna")
    assert http.post("/sync/connections", json=body, headers=someone_else).status_code == 403

    # a representative acts for the client while they are one in the client's network
    rob = _bearer(registered, "RelatedPerson/rob", "anna")
    assert http.post("/sync/connections", json=body, headers=rob).status_code == 403
    admin = system
    role = {"system": "https://pgo-service.nl/fhir/CodeSystem/netwerkrol", "code": "gevolmachtigde"}
    for resource in (
        {"resourceType": "Patient", "id": "anna"},
        {"resourceType": "RelatedPerson", "id": "rob", "patient": {"reference": "Patient/anna"}},
        {
            "resourceType": "CareTeam",
            "id": "anna-netwerk",
            "status": "active",
            "subject": {"reference": "Patient/anna"},
            "participant": [
                {"role": [{"coding": [role]}], "member": {"reference": "RelatedPerson/rob"}}
            ],
        },
    ):
        path = f"/fhir/{resource['resourceType']}/{resource['id']}"
        assert http.put(path, json=resource, headers=admin).is_success
    assert http.post("/sync/connections", json=body, headers=rob).status_code == 200

    unknown = http.post(
        "/sync/connections", json={"provider": "nobody@medmij", "service": "48"}, headers=anna
    )
    assert unknown.status_code == 404
    bert = _bearer(registered, "Patient/bert", "bert")
    assert http.get("/sync/connections", headers=bert).json() == {"connections": []}


def test_connecting_needs_configuration_and_an_allowed_host(registered: Engine) -> None:
    body = {"provider": PROVIDER, "service": SERVICE}
    anna = _bearer(registered, "Patient/anna", "anna")
    unconfigured = create_app(_settings(sync_client_id=None), registered)
    with TestClient(unconfigured) as http:
        answer = http.post("/sync/connections", json=body, headers=anna)
        assert answer.status_code == 503 and answer.json()["error"] == "not_configured"
    not_allowed = create_app(_settings(sync_allowed_hosts=""), registered)
    with TestClient(not_allowed) as http:
        answer = http.post("/sync/connections", json=body, headers=anna)
        assert answer.status_code == 409 and answer.json()["error"] == "host_not_allowed"
    assert _count(registered, sync_authorization_request) == 0


def test_refresh_rotates_and_the_old_refresh_token_is_spent(
    http: TestClient, registered: Engine, anna: dict[str, str], oidc: OidcProviderPeer
) -> None:
    shown = _connect_at_oidc(http, anna, oidc)
    access, refresh = _tokens(registered, shown["id"])
    assert refresh is not None
    later = _source(registered, clock=lambda: utc_now() + timedelta(hours=1))
    fresh = _token_for(later, PROVIDER)
    assert fresh is not None and fresh != access
    new_access, new_refresh = _tokens(registered, shown["id"])
    assert new_access == fresh and new_refresh not in (None, refresh)
    assert _stored(registered, shown["id"]).access_expires_at > utc_now() + timedelta(minutes=10)
    # rotation: the provider no longer honours the old refresh token
    spent = oidc.refresh(CLIENT_ID, refresh)
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"


def test_a_refresh_token_the_provider_revoked_breaks_the_connection(
    http: TestClient, registered: Engine, anna: dict[str, str], oidc: OidcProviderPeer
) -> None:
    shown = _connect_at_oidc(http, anna, oidc)
    _access, refresh = _tokens(registered, shown["id"])
    assert refresh is not None
    oidc.revoke(CLIENT_ID, refresh)  # as the provider's own user interface would
    later = _source(registered, clock=lambda: utc_now() + timedelta(hours=1))
    assert _token_for(later, PROVIDER) is None
    row = _stored(registered, shown["id"])
    assert row.status == BROKEN and row.tokens is None
    listed = http.get("/sync/connections", headers=anna).json()["connections"]
    assert listed[0]["status"] == "broken"
    assert "invalid_grant" in listed[0]["problem"] and "connect again" in listed[0]["problem"]
    # connecting again repairs it
    again = _connect_at_oidc(http, anna, oidc)
    assert again["id"] == shown["id"] and again["status"] == "active"


def _worker(engine: Engine) -> Worker:
    config = WorkerConfig(
        lease=timedelta(seconds=60),
        backoff_base=0.01,
        backoff_cap=0.01,
        retry_after_cap=1.0,
        http_timeout=2.0,
        poll_seconds=0.05,
        extra_hosts=frozenset({"127.0.0.1"}),
        dev_mode=True,
    )
    return Worker(engine, connection_handlers(_settings(), BOX), config, rng=random.Random(1))


def test_disconnecting_revokes_at_the_provider_and_deletes_the_tokens(
    http: TestClient, registered: Engine, anna: dict[str, str], oidc: OidcProviderPeer
) -> None:
    with transaction(registered) as conn:
        set_revocation_endpoint(conn, PROVIDER, SERVICE, oidc.revocation_endpoint, dev_mode=True)
    shown = _connect_at_oidc(http, anna, oidc)
    _access, refresh = _tokens(registered, shown["id"])
    assert refresh is not None
    bert = _bearer(registered, "Patient/bert", "bert")
    assert http.delete(f"/sync/connections/{shown['id']}", headers=bert).status_code == 404
    assert http.delete(f"/sync/connections/{shown['id']}", headers=anna).status_code == 204
    assert http.get("/sync/connections", headers=anna).json() == {"connections": []}
    assert _stored(registered, shown["id"]) is None
    assert _count(registered, sync_token_revocation) == 1

    worker = _worker(registered)
    try:
        assert worker.run_once()
    finally:
        worker.close()
    with transaction(registered, write=False) as conn:
        jobs = {tuple(j) for j in conn.execute(select(sync_job.c.kind, sync_job.c.status))}
    assert jobs == {(REVOKE, DONE), ("pull", "cancelled")}  # the first pull never ran
    assert _count(registered, sync_token_revocation) == 0
    refused = oidc.refresh(CLIENT_ID, refresh)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_without_a_revocation_endpoint_disconnecting_just_forgets(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    shown = _connect_at_faulty(http, anna, faulty)
    assert http.delete(f"/sync/connections/{shown['id']}", headers=anna).status_code == 204
    assert _count(registered, sync_connection) == 0
    assert _count(registered, sync_token_revocation) == 0
    with transaction(registered, write=False) as conn:  # the first pull, cancelled
        statuses = conn.execute(select(sync_job.c.kind, sync_job.c.status)).all()
    assert [tuple(s) for s in statuses] == [("pull", "cancelled")]


def test_an_expired_access_token_is_refreshed_with_the_rotated_refresh_token(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    faulty.fault({"kind": "expires_in", "value": 0})  # issued already expired
    shown = _connect_at_faulty(http, anna, faulty)
    _first_access, first_refresh = _tokens(registered, shown["id"])

    def refreshes() -> list[dict[str, Any]]:
        return [e for e in faulty.log() if e.get("grant_type") == "refresh_token"]

    before = len(refreshes())
    source = _source(registered)
    second = _token_for(source, FAULTY)
    assert second is not None and len(refreshes()) == before + 1
    assert _token_for(source, FAULTY) == second  # still valid: no new refresh
    assert len(refreshes()) == before + 1
    with transaction(registered) as conn:  # expire it again
        conn.execute(update(sync_connection).values(access_expires_at=utc_now()))
    assert _token_for(source, FAULTY) is not None
    used = refreshes()[before:]
    assert len(used) == 2
    # the second refresh presented the refresh token the first one was given
    assert used[0]["refresh_token"] == first_refresh
    assert used[1]["refresh_token"] == used[0]["refresh_token_issued"] != first_refresh
    assert all(e["client_id"] == CLIENT_ID for e in used)
    assert _tokens(registered, shown["id"])[1] == used[1]["refresh_token_issued"]


def test_a_slow_or_failing_token_endpoint_is_retried_later(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    shown = _connect_at_faulty(http, anna, faulty)
    later = _source(registered, clock=lambda: utc_now() + timedelta(hours=2))
    faulty.fault({"kind": "slow", "seconds": 3}, {"kind": "status", "status": 500})
    began = time.monotonic()
    with pytest.raises(RetryLater):
        _token_for(later, FAULTY)  # times out after 1 s
    assert time.monotonic() - began < 2.5
    with pytest.raises(RetryLater):
        _token_for(later, FAULTY)  # 500
    row = _stored(registered, shown["id"])
    assert row.status == "active" and row.refreshing_until is None
    assert _token_for(later, FAULTY) is not None  # the provider is back


def test_invalid_grant_on_refresh_breaks_the_connection(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    shown = _connect_at_faulty(http, anna, faulty)
    faulty.fault({"kind": "invalid_grant"})
    later = _source(registered, clock=lambda: utc_now() + timedelta(hours=2))
    assert _token_for(later, FAULTY) is None
    row = _stored(registered, shown["id"])
    assert row.status == BROKEN and row.tokens is None and not row.has_refresh_token
    assert _token_for(later, FAULTY) is None  # and stays so, without calling the provider


def test_a_token_endpoint_failing_at_the_callback_stores_nothing(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    for fault, status in (
        ({"kind": "slow", "seconds": 8}, 502),
        ({"kind": "status", "status": 500}, 502),
        ({"kind": "invalid_grant"}, 400),
    ):
        back = faulty.authorize(_start(http, anna, FAULTY)["authorization_url"])
        faulty.fault(fault)
        began = time.monotonic()
        answer = _callback(http, back)
        # the 1 s timeout ends the wait, well before the slow answer (room for a busy machine)
        assert time.monotonic() - began < 5
        assert answer.status_code == status, answer.text
        assert _count(registered, sync_connection) == 0
        assert _callback(http, back).json()["error"] == "used_state"


def test_another_process_refreshing_means_try_again(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    shown = _connect_at_faulty(http, anna, faulty)
    now = utc_now()
    with transaction(registered) as conn:
        conn.execute(
            update(sync_connection).values(
                access_expires_at=now, refreshing_until=now + timedelta(seconds=30)
            )
        )
    before = len(faulty.log())
    with pytest.raises(RetryLater):
        _token_for(_source(registered), FAULTY)
    assert len(faulty.log()) == before  # no second use of the refresh token
    # a lease that ran out (its process died) is taken over
    later = _source(registered, clock=lambda: now + timedelta(minutes=1))
    assert _token_for(later, FAULTY) is not None
    assert _stored(registered, shown["id"]).refreshing_until is None


def test_pending_requests_are_forgotten_with_the_connection(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    from pgo_service.sync.connect import forget_connection

    shown = _connect_at_faulty(http, anna, faulty)
    back = faulty.authorize(_start(http, anna, FAULTY)["authorization_url"])
    with transaction(registered) as conn:
        assert forget_connection(conn, "anna", FAULTY, datetime.now()) == 1
    assert _stored(registered, shown["id"]) is None
    answer = _callback(http, back)  # an answer still under way is refused
    assert answer.status_code == 400 and answer.json()["error"] == "used_state"
    assert _count(registered, sync_connection) == 0


def test_workers_run_revocations_push_and_pull_when_connecting_is_configured(
    registered: Engine,
) -> None:
    from pgo_service.sync.pull import PULL
    from pgo_service.sync.push import PUSH
    from pgo_service.sync_cli import sync_handlers

    assert {REVOKE, PUSH, PULL} <= set(sync_handlers(_settings(), registered))
    assert not {REVOKE, PUSH, PULL} & set(
        sync_handlers(_settings(sync_redirect_uri=None), registered)
    )
    with pytest.raises(ValueError):
        ClientConfig.from_settings(_settings(sync_redirect_uri="http://pgo.example/cb?x=1"))


def test_a_connection_forgotten_while_its_code_is_exchanged_stores_nothing(
    http: TestClient, registered: Engine, anna: dict[str, str], faulty: FaultyAuthorizationServer
) -> None:
    from threading import Thread

    from pgo_service.sync.connect import forget_connection

    back = faulty.authorize(_start(http, anna, FAULTY)["authorization_url"])
    faulty.fault({"kind": "slow", "seconds": 0.6})
    answers: list[Any] = []
    callback = Thread(target=lambda: answers.append(_callback(http, back)))
    callback.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the callback has taken the request
        with transaction(registered, write=False) as conn:
            answered = conn.execute(select(sync_authorization_request.c.answered)).scalar()
        if answered:
            break
        time.sleep(0.02)
    with transaction(registered) as conn:  # the client's consent is revoked meanwhile
        forget_connection(conn, "anna", FAULTY, utc_now())
    callback.join(timeout=10)
    assert answers and answers[0].status_code == 409, answers
    assert answers[0].json()["error"] == "withdrawn"
    assert _count(registered, sync_connection) == 0
