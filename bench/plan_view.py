"""$zorgleefplan latency for a plan with 50 agreements and 20 network members.

    .venv/bin/python bench/plan_view.py [--duration 15]

Loads the demo client (8 agreements, 10 network members) through the API, grows it to
50 agreements and 20 members, then requests the whole plan one request at a time for
a fixed duration and reports p50/p95/p99 (target p95 < 50 ms) and the number of SQL
SELECTs per request. Writes bench/results/plan-view-latest.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from run import RESULTS_DIR, machine_info, ours_server, percentile
from servers import install_cleanup, stop_all

from pgo_service.careplan import codes
from pgo_service.careplan.demo import demo_bundle

TARGET_AGREEMENTS = 50
TARGET_MEMBERS = 20


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _load(http: httpx.Client) -> str:
    bundle = demo_bundle(date.today())
    result = http.post("/fhir", json=bundle)
    result.raise_for_status()
    locations = [e["response"]["location"].split("/_history")[0] for e in result.json()["entry"]]
    by_type: dict[str, list[str]] = {}
    for location in locations:
        by_type.setdefault(location.split("/")[0], []).append(location)
    patient = by_type["Patient"][0]
    plan = next(
        ref
        for ref in by_type["CarePlan"]
        if codes.has_code(
            http.get(f"/fhir/{ref}").json()["category"], codes.CATEGORY_SYSTEM, codes.ZORGLEEFPLAN
        )
    )
    _grow_network(http, patient, by_type)
    _grow_agreements(http, patient, plan, by_type["PractitionerRole"])
    return patient


def _grow_network(http: httpx.Client, patient: str, by_type: dict[str, list[str]]) -> None:
    team_ref = by_type["CareTeam"][0]
    team = http.get(f"/fhir/{team_ref}").json()
    while len(team["participant"]) < TARGET_MEMBERS:
        number = len(team["participant"])
        friend = http.post(
            "/fhir/RelatedPerson",
            json={
                "resourceType": "RelatedPerson",
                "patient": {"reference": patient},
                "name": [{"family": f"Vriend {number}"}],
            },
        ).json()
        team["participant"].append(
            {
                "role": [codes.role("20")],
                "member": {"reference": f"RelatedPerson/{friend['id']}"},
                "period": {"start": "2025-01-01"},
            }
        )
    http.put(f"/fhir/{team_ref}", json=team).raise_for_status()


def _grow_agreements(http: httpx.Client, patient: str, plan: str, roles: list[str]) -> None:
    existing = http.get("/fhir/CarePlan", params={"part-of": plan, "_summary": "count"})
    count = int(existing.json()["total"])
    for number in range(count, TARGET_AGREEMENTS):
        body: dict[str, Any] = {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "category": [codes.category(codes.AGREEMENT), codes.life_domain("wonen")],
            "description": f"Afspraak {number}",
            "subject": {"reference": patient},
            "partOf": [{"reference": plan}],
            "activity": [
                {
                    "detail": {
                        "status": "scheduled",
                        "performer": [{"reference": roles[number % len(roles)]}],
                    }
                }
            ],
        }
        http.post("/fhir/CarePlan", json=body).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args(argv)
    install_cleanup()
    with tempfile.TemporaryDirectory(prefix="pgo-plan-view-") as tmp:
        database = Path(tmp) / "plan.sqlite3"
        server = ours_server("plan-view", database)
        try:
            with httpx.Client(
                base_url=server.base_url, headers=_headers(server.token), timeout=60
            ) as http:
                patient = _load(http)
                path = f"/fhir/{patient}/$zorgleefplan"
                view = http.get(path).json()
                entries = len(view["entry"])
                for _ in range(20):
                    http.get(path).raise_for_status()
                latencies: list[float] = []
                deadline = time.monotonic() + args.duration
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    http.get(path).raise_for_status()
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            stop_all()
    latencies.sort()  # percentile() takes them sorted
    result = {
        "scenario": "$zorgleefplan, 50 agreements, 20 network members",
        "entries_in_bundle": entries,
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "target_p95_ms": 50,
        "machine": machine_info(),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "plan-view-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["p95_ms"] < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
