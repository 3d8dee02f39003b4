"""Where a request's work runs: on SQLite a request on one resource runs on the
event loop, everything else (and everything on PostgreSQL) in the thread pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pgo_service.api import fhir_routes
from pgo_service.careplan import codes
from pgo_service.db.engine import writer_lock, writer_lock_path
from pgo_service.fhir.engine import is_single_resource
from pgo_service.fhir.exchange import FhirRequest
from tests.support.fhirclient import FhirClient
from tests.support.lock_holder import write_lock_held_elsewhere

from ..conftest import make_app
from .builders import careplan, patient

SINGLE = ["create", "read", "head", "vread", "update", "patch", "delete"]
OTHERS = [
    "search",
    "post search",
    "history",
    "type history",
    "transaction",
    "operation",
    "audit event read",
]


@pytest.fixture
def bundles_held() -> Iterator[threading.Event]:
    """While clear, a Bundle in the pool takes the write lock and waits with it."""
    release = threading.Event()
    release.set()
    yield release
    release.set()


@pytest.fixture
def pooled(
    monkeypatch: pytest.MonkeyPatch, db_engine: Engine, bundles_held: threading.Event
) -> list[str]:
    """The requests handed to the thread pool, as "METHOD path"."""
    handed: list[str] = []
    real = fhir_routes.run_in_threadpool

    async def recording(fn: Callable[..., Any], *args: Any) -> Any:
        request: FhirRequest = args[0]
        handed.append(f"{request.method} {request.path}")
        if request.path.strip("/") == "" and not bundles_held.is_set():

            def held(*args: Any) -> Any:
                with writer_lock(db_engine):
                    handed.append("write lock held")
                    assert bundles_held.wait(30)
                    return fn(*args)

            return await real(held, *args)
        return await real(fn, *args)

    monkeypatch.setattr(fhir_routes, "run_in_threadpool", recording)
    return handed


def _run_each(app: FastAPI, client: FhirClient, pooled: list[str]) -> dict[str, bool]:
    """Every kind of request once; for each, whether it went to the pool."""
    went: dict[str, bool] = {}

    def step(name: str, request: Callable[[], httpx.Response]) -> httpx.Response:
        # A write meeting the audit writer at the write lock goes to the pool: let it
        # write what earlier requests recorded first.
        app.state.gateway.consent.audit.flush()
        before = len(pooled)
        response = request()
        assert response.status_code < 400, (name, response.text)
        went[name] = len(pooled) > before
        return response

    created = step("create", lambda: client.post("Patient", patient())).json()
    pid = created["id"]
    category = [codes.category(codes.ZORGLEEFPLAN)]
    plan = client.post("CarePlan", careplan(f"Patient/{pid}", status="draft", category=category))
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    event_id = _an_audit_event(client)
    steps: dict[str, Callable[[], httpx.Response]] = {
        "read": lambda: client.get(f"Patient/{pid}"),
        "head": lambda: client.http.head(f"/fhir/Patient/{pid}"),
        "vread": lambda: client.get(f"Patient/{pid}/_history/1"),
        "update": lambda: client.put(f"Patient/{pid}", {**created, "gender": "female"}),
        "patch": lambda: client.patch(
            f"Patient/{pid}", [{"op": "replace", "path": "/gender", "value": "male"}]
        ),
        "search": lambda: client.get("Patient?gender=male"),
        "post search": lambda: client.http.post(
            "/fhir/Patient/_search",
            content="gender=male",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        "history": lambda: client.get(f"Patient/{pid}/_history"),
        "type history": lambda: client.get("Patient/_history"),
        "transaction": lambda: client.post(
            "",
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"resource": patient(), "request": {"method": "POST", "url": "Patient"}}],
            },
        ),
        "operation": lambda: client.get(f"CarePlan/{plan_id}/$zorgleefplan"),
        "delete": lambda: client.delete(f"CarePlan/{plan_id}"),
        "audit event read": lambda: client.get(f"AuditEvent/{event_id}"),
    }
    for name, request in steps.items():
        step(name, request)
    return went


def _an_audit_event(client: FhirClient) -> str:
    found = client.get("AuditEvent", params={"_count": "1"}).json()
    event_id: str = found["entry"][0]["resource"]["id"]
    return event_id


@pytest.fixture
def client_of(system_bearer: str) -> Iterator[Callable[[FastAPI], FhirClient]]:
    opened: list[TestClient] = []

    def open_client(app: FastAPI) -> FhirClient:
        headers = {"Authorization": f"Bearer {system_bearer}"}
        http = TestClient(app, base_url="http://testserver", headers=headers).__enter__()
        opened.append(http)
        return FhirClient(http)

    yield open_client
    for http in opened:
        http.__exit__(None, None, None)


def test_single_resource_requests_run_on_the_loop_on_sqlite_only(
    db_engine: Engine, pooled: list[str], client_of: Callable[[FastAPI], FhirClient]
) -> None:
    app = make_app(db_engine)
    went = _run_each(app, client_of(app), pooled)
    on_sqlite = db_engine.dialect.name == "sqlite"
    assert {name: went[name] for name in SINGLE} == {name: not on_sqlite for name in SINGLE}
    assert {name: went[name] for name in OTHERS} == {name: True for name in OTHERS}


def test_every_request_runs_in_the_pool_when_told(
    db_engine: Engine, pooled: list[str], client_of: Callable[[FastAPI], FhirClient]
) -> None:
    app = make_app(db_engine, single_resource_on_loop=False)
    went = _run_each(app, client_of(app), pooled)
    assert set(went) == {*SINGLE, *OTHERS}
    assert all(went.values())


def test_a_write_waits_off_the_loop_while_a_bundle_holds_the_write_lock(
    app: FastAPI,
    live_server: str,
    db_engine: Engine,
    pooled: list[str],
    bundles_held: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A create does not wait on the loop for the write lock a transaction holds: reads
    are answered meanwhile, and past its patience the create waits in the pool."""
    monkeypatch.setattr(fhir_routes, "_LOOP_WRITE_PATIENCE_SECONDS", 0.3)
    on_sqlite = db_engine.dialect.name == "sqlite"
    with httpx.Client(base_url=live_server, timeout=30, headers=_JSON) as http:
        pid = http.post("/fhir/Patient", json=patient()).json()["id"]
        bundles_held.clear()
        with ThreadPoolExecutor(max_workers=2) as background:
            transaction = background.submit(http.post, "/fhir", json=_transaction())
            _wait_for(lambda: "write lock held" in pooled)
            create = background.submit(http.post, "/fhir/Patient", json=patient())
            before = len(pooled)
            assert http.get(f"/fhir/Patient/{pid}").status_code == 200
            read_pooled = len(pooled) > before
            _wait_for(lambda: "POST Patient" in pooled)  # on SQLite after its patience
            if on_sqlite:
                assert not create.done()  # it waits for the lock, in the pool
            bundles_held.set()
            assert transaction.result().status_code == 200
            assert create.result().status_code == 201
        app.state.gateway.consent.audit.flush()  # the audit writer takes the lock too
        went_after = _where_they_go(http, pid, pooled)
    assert read_pooled is not on_sqlite
    assert went_after == {"create": not on_sqlite, "read": not on_sqlite}


def test_a_write_on_the_loop_takes_the_lock_another_process_gives_up(
    app: FastAPI, live_server: str, db_engine: Engine, pooled: list[str]
) -> None:
    """The audit writer and a second server process take the same lock, on a file:
    a create waits for it without holding up the loop, and runs there once it is free."""
    if db_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no write lock: every request runs in the pool")
    path = writer_lock_path(db_engine)
    assert path is not None
    with httpx.Client(base_url=live_server, timeout=30, headers=_JSON) as http:
        pid = http.post("/fhir/Patient", json=patient()).json()["id"]
        app.state.gateway.consent.audit.flush()
        with write_lock_held_elsewhere(path) as let_go, ThreadPoolExecutor(1) as background:
            create = background.submit(http.post, "/fhir/Patient", json=patient())
            time.sleep(0.1)
            read = http.get(f"/fhir/Patient/{pid}")  # answered while the create waits
            assert read.status_code == 200
            assert not create.done()
            let_go()
            assert create.result().status_code == 201
    assert pooled == []


_JSON = {"Content-Type": "application/fhir+json"}


def _transaction() -> dict[str, Any]:
    entry = {"resource": patient(), "request": {"method": "POST", "url": "Patient"}}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def _where_they_go(http: httpx.Client, pid: str, pooled: list[str]) -> dict[str, bool]:
    went: dict[str, bool] = {}
    before = len(pooled)
    assert http.post("/fhir/Patient", json=patient()).status_code == 201
    went["create"] = len(pooled) > before
    before = len(pooled)
    assert http.get(f"/fhir/Patient/{pid}").status_code == 200
    went["read"] = len(pooled) > before
    return went


def test_a_large_body_is_checked_in_the_pool(
    db_engine: Engine, pooled: list[str], client_of: Callable[[FastAPI], FhirClient]
) -> None:
    """Validating a large resource holds the interpreter long: not on the loop."""
    client = client_of(make_app(db_engine))
    names = [{"family": f"Naam {i}", "given": ["Jan", "Piet"]} for i in range(600)]
    large = client.post("Patient", patient(name=names))
    assert large.status_code == 201, large.text
    assert int(large.request.headers["content-length"]) > 16 * 1024
    assert pooled == ["POST Patient"]
    read = client.get(f"Patient/{large.json()['id']}")
    assert read.status_code == 200
    small = client.post("Patient", patient())
    assert small.status_code == 201
    on_sqlite = db_engine.dialect.name == "sqlite"
    others = [] if on_sqlite else ["GET Patient", "POST Patient"]  # PostgreSQL: all pooled
    assert [p.split("/")[0] for p in pooled] == ["POST Patient", *others]


@pytest.mark.parametrize(
    ("method", "path", "single"),
    [
        ("POST", "Patient", True),
        ("GET", "Patient/1", True),
        ("HEAD", "Patient/1", True),
        ("PUT", "Patient/1", True),
        ("PATCH", "Patient/1", True),
        ("DELETE", "Patient/1", True),
        ("GET", "Patient/1/_history/2", True),
        ("GET", "Patient", False),
        ("PUT", "Patient", False),  # conditional update: a search first
        ("PATCH", "Patient", False),
        ("DELETE", "Patient", False),
        ("POST", "Patient/_search", False),
        ("GET", "Patient/_history", False),
        ("GET", "Patient/1/_history", False),
        ("GET", "_history", False),
        ("POST", "", False),
        ("GET", "Patient/1/$zorgleefplan", False),
        ("POST", "Patient/$validate", False),
        ("GET", "$export", False),
        ("DELETE", "Patient/1/_history/2", False),
    ],
)
def test_which_requests_are_on_one_resource(method: str, path: str, single: bool) -> None:
    assert is_single_resource(FhirRequest(method, path)) is single
