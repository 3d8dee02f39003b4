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
from pgo_service.fhir.engine import is_single_resource
from pgo_service.fhir.exchange import FhirRequest
from tests.support.fhirclient import FhirClient

from ..conftest import make_app
from .builders import careplan, patient

SINGLE = ["create", "read", "head", "vread", "update", "patch", "delete"]
OTHERS = ["search", "post search", "history", "type history", "transaction", "operation"]


@pytest.fixture
def bundles_held() -> Iterator[threading.Event]:
    """Bundles wait in their pool thread until this is set."""
    release = threading.Event()
    release.set()
    yield release
    release.set()


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch, bundles_held: threading.Event) -> list[str]:
    """The requests handed to the thread pool, as "METHOD path"."""
    handed: list[str] = []
    real = fhir_routes.run_in_threadpool

    async def recording(fn: Callable[..., Any], *args: Any) -> Any:
        request: FhirRequest = args[0]
        handed.append(f"{request.method} {request.path}")
        if request.path.strip("/") == "":

            def held(*args: Any) -> Any:
                assert bundles_held.wait(30)
                return fn(*args)

            return await real(held, *args)
        return await real(fn, *args)

    monkeypatch.setattr(fhir_routes, "run_in_threadpool", recording)
    return handed


def _run_each(client: FhirClient, pooled: list[str]) -> dict[str, bool]:
    """Every kind of request once; for each, whether it went to the pool."""
    created = client.post("Patient", patient()).json()
    pid = created["id"]
    category = [codes.category(codes.ZORGLEEFPLAN)]
    plan = client.post("CarePlan", careplan(f"Patient/{pid}", status="draft", category=category))
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    steps: dict[str, Callable[[], Any]] = {
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
    }
    went = {"create": bool(pooled)}
    for name, step in steps.items():
        before = len(pooled)
        response = step()
        assert response.status_code < 400, (name, response.text)
        went[name] = len(pooled) > before
    return went


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
    went = _run_each(client_of(make_app(db_engine)), pooled)
    on_sqlite = db_engine.dialect.name == "sqlite"
    assert {name: went[name] for name in SINGLE} == {name: not on_sqlite for name in SINGLE}
    assert {name: went[name] for name in OTHERS} == {name: True for name in OTHERS}


def test_every_request_runs_in_the_pool_when_told(
    db_engine: Engine, pooled: list[str], client_of: Callable[[FastAPI], FhirClient]
) -> None:
    app = make_app(db_engine, single_resource_on_loop=False)
    went = _run_each(client_of(app), pooled)
    assert set(went) == {*SINGLE, *OTHERS}
    assert all(went.values())


def test_writes_go_to_the_pool_while_a_write_there_runs(
    live_server: str, db_engine: Engine, pooled: list[str], bundles_held: threading.Event
) -> None:
    """A create on the loop would wait there for the write lock the transaction holds,
    and hold up every other request meanwhile; a read does not wait for it."""
    on_sqlite = db_engine.dialect.name == "sqlite"
    headers = {"Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=live_server, timeout=30, headers=headers) as http:
        pid = http.post("/fhir/Patient", json=patient()).json()["id"]
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"resource": patient(), "request": {"method": "POST", "url": "Patient"}}],
        }
        bundles_held.clear()
        with ThreadPoolExecutor(max_workers=1) as background:
            transaction = background.submit(http.post, "/fhir", json=bundle)
            deadline = time.monotonic() + 10
            while "POST " not in pooled and time.monotonic() < deadline:
                time.sleep(0.01)
            assert "POST " in pooled  # the transaction is in the pool, held
            before = len(pooled)
            assert http.post("/fhir/Patient", json=patient()).status_code == 201
            create_pooled = len(pooled) > before
            before = len(pooled)
            assert http.get(f"/fhir/Patient/{pid}").status_code == 200
            read_pooled = len(pooled) > before
            bundles_held.set()
            assert transaction.result().status_code == 200
        before = len(pooled)
        assert http.post("/fhir/Patient", json=patient()).status_code == 201
        create_after_pooled = len(pooled) > before
    assert create_pooled
    assert (read_pooled, create_after_pooled) == (not on_sqlite, not on_sqlite)


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
