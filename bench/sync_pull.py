"""Pull benchmark: 10 000 agreements pulled from the Medplum peer (tests/peers/medplum)
into one client's zorgleefplan, and the delay from a provider notification until the
new agreement shows in ``$zorgleefplan`` with a worker running.

    .venv/bin/python bench/sync_pull.py [--agreements 10000] [--notifications 40]

SQLite in a temporary directory, the service in-process (TestClient), the peer on a
loopback port; writes bench/results/sync-pull-latest.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from run import RESULTS_DIR, machine_info, percentile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fhirclient import FhirClient  # noqa: E402
from tests.support.tokens import system_token  # noqa: E402
from tests.sync.medplum import MedplumPeer  # noqa: E402
from tests.sync.pulling import (  # noqa: E402
    PROVIDER,
    client_with_plan,
    provider_agreement,
    register,
    tokens_for,
)
from tests.sync.test_notifications import _token as confidential_token  # noqa: E402

from pgo_service.api.app import create_app, sync_contexts  # noqa: E402
from pgo_service.config import Settings  # noqa: E402
from pgo_service.db.engine import make_engine, transaction  # noqa: E402
from pgo_service.db.migrate import upgrade  # noqa: E402
from pgo_service.sync.pull import PULL, enqueue_pull, pull_handler  # noqa: E402
from pgo_service.sync.subscriptions import create_subscription  # noqa: E402
from pgo_service.sync.worker import Worker, WorkerConfig, WorkerThreads, utc_now  # noqa: E402

POLL_SECONDS = 0.25


def _config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        lease=timedelta(seconds=settings.sync_lease_seconds),
        backoff_base=0.1,
        backoff_cap=1.0,
        retry_after_cap=5.0,
        http_timeout=30.0,
        poll_seconds=POLL_SECONDS,
        extra_hosts=frozenset({"127.0.0.1"}),
        dev_mode=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--notifications", type=int, default=40)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="pgo-bench-pull-"))
    url = f"sqlite:///{data / 'pgo.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(database_url=url, dev_mode=True, secret_key="bench")
    app = create_app(settings, engine)
    bearer = system_token(engine)
    result: dict[str, Any] = {"machine": machine_info(), "database": "sqlite"}
    with (
        MedplumPeer() as peer,
        TestClient(app, headers={"Authorization": f"Bearer {bearer}"}) as http,
    ):
        client = FhirClient(http)
        register(engine, peer)
        anna, _plan = client_with_plan(client)
        bulk = f"tenant-{uuid.uuid4()}"
        for start in range(0, args.agreements, 1000):
            batch = [
                provider_agreement(f"Afspraak {n}")
                for n in range(start, min(start + 1000, args.agreements))
            ]
            peer.seed(bulk, batch)
        handler = pull_handler(tokens_for({anna: bulk}), sync_contexts(settings), page_size=100)
        worker = Worker(engine, {PULL: handler}, _config(settings))
        with transaction(engine) as conn:
            enqueue_pull(
                conn,
                patient_id=anna,
                provider_name=PROVIDER,
                service_id="48",
                now=utc_now(),
                max_attempts=3,
            )
        began = time.perf_counter()
        jobs = 0
        while worker.run_once():
            jobs += 1
        wall = time.perf_counter() - began
        worker.close()
        merged = client.get(
            f"CarePlan?identifier=https://pgo-service.nl/fhir/NamingSystem/bron/{PROVIDER}|&_summary=count"
        ).json()["total"]
        result["pull"] = {
            "agreements": args.agreements,
            "merged": merged,
            "jobs": jobs,
            "page_size": 100,
            "wall_seconds": round(wall, 2),
            "agreements_per_second": round(args.agreements / wall, 1),
        }
        print(json.dumps(result["pull"]), flush=True)

        # Notification → visible in $zorgleefplan, worker threads running.
        bert, _ = client_with_plan(client)
        tenant = f"tenant-{uuid.uuid4()}"
        notifier = confidential_token(engine, "ehr.thuiszorg.example")
        with transaction(engine) as conn:
            subscription = create_subscription(
                conn,
                patient_id=bert,
                provider_name=PROVIDER,
                service_id="48",
                notifier_client_id="ehr.thuiszorg.example",
                now=utc_now(),
            )
        threads = WorkerThreads(
            engine,
            {PULL: pull_handler(tokens_for({bert: tenant}), sync_contexts(settings))},
            _config(settings),
        ).start()
        delays: list[float] = []
        try:
            for n in range(args.notifications):
                title = f"Nieuwe afspraak {n}"
                peer.seed(tenant, [provider_agreement(title)])
                sent = time.perf_counter()
                answer = http.post(
                    "/sync/notifications",
                    json={"subscription_id": subscription, "notification_type": "PHR"},
                    headers={"Authorization": f"Bearer {notifier}"},
                )
                assert answer.status_code == 202, answer.text
                while True:
                    view = http.get(f"/fhir/Patient/{bert}/$zorgleefplan").json()
                    if any(e["resource"].get("title") == title for e in view.get("entry") or []):
                        break
                    if time.perf_counter() - sent > 30:
                        raise RuntimeError(f"{title} did not arrive within 30 s")
                    time.sleep(0.01)
                delays.append(time.perf_counter() - sent)
        finally:
            threads.stop(timeout=30)
        result["notification_to_visible"] = {
            "notifications": len(delays),
            "worker_poll_seconds": POLL_SECONDS,
            "p50_ms": round(percentile(sorted(delays), 0.5) * 1000, 1),
            "p95_ms": round(percentile(sorted(delays), 0.95) * 1000, 1),
            "max_ms": round(max(delays) * 1000, 1),
        }
        print(json.dumps(result["notification_to_visible"]), flush=True)
    engine.dispose()
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "sync-pull-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
