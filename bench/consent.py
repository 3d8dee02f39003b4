"""What consent costs: a consent-checked read against the same read by the client, and
a search over a client's 1 000 resources filtered by consent.

    .venv/bin/python bench/consent.py [--requests 1500]

One server on SQLite; the client Patient/anna has 1 000 resources (500 Observations,
300 Goals, 200 Conditions). Her Consent lets the district nurse read Observations and
Goals, not Conditions, and hides 50 Observations by a data-level deny. Reads of the
same Observation by anna and by the nurse are interleaved one request at a time, so
both see the same machine; the ratio of their medians is the consent overhead
(target at most 1.10). The nurse's searches report p50/p95 (target p95 < 20 ms), next
to the same Goal search by anna herself.
Writes bench/results/consent-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from run import (
    RESULTS_DIR,
    _service_command,
    _service_env,
    machine_info,
    ours_server,
    percentile,
)
from servers import install_cleanup, stop_all

APP = "bench-app"
NURSE = "Practitioner/wijk"
CONSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"


def _cli(database: Path, *args: str) -> str:
    env = {**os.environ, **_service_env(database)}
    done = subprocess.run(
        [*_service_command(), *args], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgo-service {' '.join(args[:2])} failed: {done.stderr[-500:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _tokens(database: Path) -> tuple[str, str]:
    _cli(
        database,
        "clients",
        "add",
        "--client-id",
        APP,
        "--name",
        "Benchmark app",
        "--scopes",
        "user/*.cruds patient/*.cruds",
        "--secret",
        "bench-app-secret-not-used-0123456789",
        "--hostname",
        "app.bench.invalid",
    )
    tokens = []
    for subject, scope in (("Patient/anna", "patient/*.rs"), (NURSE, "user/*.rs")):
        output = database.with_name(f"{database.name}.{len(tokens)}.token")
        _cli(
            database, "token", "--subject", subject, "--client", APP,
            "--scope", scope, "--ttl", "86400", "--output", str(output),
        )  # fmt: skip
        tokens.append(output.read_text("utf-8").strip())
    return tokens[0], tokens[1]


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url}}


def _load(http: httpx.Client) -> None:
    subject = {"reference": "Patient/anna"}
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": "anna"},
        {"resourceType": "Practitioner", "id": "wijk"},
    ]
    for n in range(500):
        resources.append(
            {
                "resourceType": "Observation",
                "id": f"obs-{n}",
                "status": "final",
                "code": {"text": f"meting {n}"},
                "subject": subject,
            }
        )
    for n in range(300):
        resources.append(
            {
                "resourceType": "Goal",
                "id": f"goal-{n}",
                "lifecycleStatus": "active",
                "description": {"text": f"doel {n}"},
                "subject": subject,
            }
        )
    for n in range(200):
        resources.append(
            {
                "resourceType": "Condition",
                "id": f"cond-{n}",
                "code": {"text": f"aandoening {n}"},
                "subject": subject,
            }
        )
    for start in range(0, len(resources), 200):
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [_entry(r) for r in resources[start : start + 200]],
        }
        http.post("/fhir", json=bundle).raise_for_status()
    actor = [{"role": {"text": "ontvanger"}, "reference": {"reference": NURSE}}]
    consent = {
        "resourceType": "Consent",
        "id": "anna-wijk",
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SYSTEM, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": subject,
        "provision": {
            "type": "deny",
            "provision": [
                {
                    "type": "permit",
                    "actor": actor,
                    "class": [{"code": "Observation"}, {"code": "Goal"}, {"code": "Patient"}],
                },
                {
                    "type": "deny",
                    "actor": actor,
                    "data": [
                        {"meaning": "instance", "reference": {"reference": f"Observation/obs-{n}"}}
                        for n in range(0, 500, 10)
                    ],
                },
            ],
        },
    }
    http.put("/fhir/Consent/anna-wijk", json=consent).raise_for_status()


def _timed(http: httpx.Client, path: str, token: str, expect: int = 200) -> float:
    started = time.perf_counter()
    response = http.get(path, headers={"Authorization": f"Bearer {token}"})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != expect:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return elapsed


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p95_ms": round(percentile(ordered, 0.95), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args(argv)
    install_cleanup()
    with tempfile.TemporaryDirectory(prefix="pgo-consent-") as tmp:
        database = Path(tmp) / "consent.sqlite3"
        server = ours_server("consent", database)
        try:
            anna, nurse = _tokens(database)
            headers = {"Content-Type": "application/fhir+json"}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
                admin = {"Authorization": f"Bearer {server.token}"}
                _load(httpx.Client(base_url=server.base_url, headers=admin, timeout=120))
                read = "/fhir/Observation/obs-1"
                own_reads: list[float] = []
                nurse_reads: list[float] = []
                for _ in range(50):
                    _timed(http, read, anna)
                    _timed(http, read, nurse)
                for n in range(args.requests):
                    pair = [(own_reads, anna), (nurse_reads, nurse)]
                    for bucket, token in pair if n % 2 else reversed(pair):
                        bucket.append(_timed(http, read, token))
                search = "/fhir/Observation?_count=20&_total=accurate"
                counted = http.get(search, headers={"Authorization": f"Bearer {nurse}"}).json()
                searches = [_timed(http, search, nurse) for _ in range(args.requests // 3)]
                by_client = "/fhir/Goal?subject=Patient/anna&_count=50"
                client_searches = [
                    _timed(http, by_client, nurse) for _ in range(args.requests // 3)
                ]
                own_searches = [_timed(http, by_client, anna) for _ in range(args.requests // 3)]
        finally:
            stop_all()
    own, checked = _summary(own_reads), _summary(nurse_reads)
    ratio = round(checked["p50_ms"] / own["p50_ms"], 3)
    result = {
        "scenario": "consent overhead; client with 1000 resources on SQLite",
        "read_by_client": own,
        "read_by_nurse_consent_checked": checked,
        "read_overhead_ratio_p50": ratio,
        "target_read_overhead_ratio": 1.10,
        "search_visible_total": counted.get("total"),
        "search_observations_filtered": _summary(searches),
        "search_goals_of_client_filtered": _summary(client_searches),
        "search_goals_by_the_client": _summary(own_searches),
        "target_search_p95_ms": 20,
        "requests": args.requests,
        "machine": machine_info(),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "consent-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
