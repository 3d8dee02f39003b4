"""Real concurrent HTTP requests against a live server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from ..conftest import make_app
from .builders import BSN, patient


@pytest.fixture(params=["on the loop", "in the thread pool"])
def app(request: pytest.FixtureRequest, db_engine: Engine) -> FastAPI:
    """On SQLite a request on one resource runs on the server's event loop, one at a
    time; in the thread pool the same requests meet in the database's locks."""
    return make_app(db_engine, single_resource_on_loop=request.param == "on the loop")


HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def test_conditional_create_is_atomic(live_server: str) -> None:
    headers = {**HEADERS, "If-None-Exist": f"identifier={BSN}|999911120"}

    def create(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server, timeout=30) as http:
            return http.post("/fhir/Patient", json=patient(), headers=headers)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(create, range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    with httpx.Client(base_url=live_server) as http:
        history = http.get("/fhir/Patient/_history").json()
    assert history["total"] == 1


def test_if_match_prevents_lost_updates(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        created = http.post("/fhir/Patient", json=patient(), headers=HEADERS).json()
    pid = created["id"]

    def update(i: int) -> httpx.Response:
        body = {**created, "gender": "female" if i % 2 else "male"}
        with httpx.Client(base_url=live_server, timeout=30) as http:
            return http.put(
                f"/fhir/Patient/{pid}", json=body, headers={**HEADERS, "If-Match": 'W/"1"'}
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(update, range(10)))
    assert sorted(r.status_code for r in responses) == [200] + [412] * 9
    with httpx.Client(base_url=live_server) as http:
        assert http.get(f"/fhir/Patient/{pid}").json()["meta"]["versionId"] == "2"


def test_concurrent_updates_without_if_match_keep_every_version(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        created = http.post("/fhir/Patient", json=patient(), headers=HEADERS).json()
    pid = created["id"]

    def update(n: int) -> int:
        body = {**created, "name": [{"family": f"Versie {n}"}]}  # each a real change
        with httpx.Client(base_url=live_server, timeout=30) as http:
            return http.put(f"/fhir/Patient/{pid}", json=body, headers=HEADERS).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(update, range(10))) == {200}
    with httpx.Client(base_url=live_server) as http:
        assert http.get(f"/fhir/Patient/{pid}").json()["meta"]["versionId"] == "11"
        assert http.get(f"/fhir/Patient/{pid}/_history").json()["total"] == 11


def test_single_resource_writes_and_transactions_interleave(live_server: str) -> None:
    """Creates and updates by id run where transaction Bundles do not (on SQLite, on
    the loop and in the pool): at once, every one of them lands, and a search made
    meanwhile sees each Bundle whole or not at all."""
    with httpx.Client(base_url=live_server, timeout=30) as http:
        shared = http.post("/fhir/Patient", json=patient(family="Gedeeld"), headers=HEADERS)
    shared_body = shared.json()

    def create(i: int) -> int:
        with httpx.Client(base_url=live_server, timeout=30) as http:
            body = patient(family=f"Los {i}")
            return http.post("/fhir/Patient", json=body, headers=HEADERS).status_code

    def update(i: int) -> int:
        body = {**shared_body, "name": [{"family": f"Gedeeld {i}"}]}
        with httpx.Client(base_url=live_server, timeout=30) as http:
            path = f"/fhir/Patient/{shared_body['id']}"
            return http.put(path, json=body, headers=HEADERS).status_code

    def transact(i: int) -> int:
        entries: list[dict[str, Any]] = [
            {
                "resource": patient(family=f"Bundel {i}"),
                "request": {"method": "POST", "url": "Patient"},
            }
            for _ in range(5)
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        with httpx.Client(base_url=live_server, timeout=30) as http:
            return http.post("/fhir", json=bundle, headers=HEADERS).status_code

    def count_bundle_members(_: int) -> set[int]:
        with httpx.Client(base_url=live_server, timeout=30) as http:
            found = http.get("/fhir/Patient", params={"family": "Bundel", "_count": "200"})
        names = [e["resource"]["name"][0]["family"] for e in found.json().get("entry", [])]
        return {names.count(name) for name in set(names)}

    with ThreadPoolExecutor(max_workers=16) as pool:
        creates = [pool.submit(create, i) for i in range(20)]
        updates = [pool.submit(update, i) for i in range(10)]
        bundles = [pool.submit(transact, i) for i in range(6)]
        searches = [pool.submit(count_bundle_members, i) for i in range(6)]
        assert {f.result() for f in creates} == {201}
        assert {f.result() for f in updates} == {200}
        assert {f.result() for f in bundles} == {200}
        for seen in searches:
            assert seen.result() <= {5}  # a Bundle's five Patients all seen, or none
    with httpx.Client(base_url=live_server) as http:
        total = http.get("/fhir/Patient", params={"_summary": "count"}).json()["total"]
        version = http.get(f"/fhir/Patient/{shared_body['id']}").json()["meta"]["versionId"]
    assert total == 1 + 20 + 6 * 5
    assert version == "11"
