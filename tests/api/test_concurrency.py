"""Real concurrent HTTP requests against a live server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .builders import BSN, patient

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
