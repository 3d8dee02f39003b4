"""What the pull tests share: a client with a zorgleefplan, the provider registered on
the Medplum peer, a worker running pull jobs, and provider-side resources."""

from __future__ import annotations

import json
import random
import time
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from pgo_service.api.app import sync_contexts
from pgo_service.config import Settings
from pgo_service.db.engine import transaction
from pgo_service.db.models import resource_version
from pgo_service.db.sync_tables import sync_job
from pgo_service.sync.pull import PULL, enqueue_pull, pull_handler
from pgo_service.sync.registry import import_zal
from pgo_service.sync.worker import Worker, WorkerConfig

from ..api.builders import patient
from ..support.fhirclient import FhirClient
from .lists import zal
from .medplum import MedplumPeer

PROVIDER = "thuiszorg@medmij"
BSN = "999911120"  # the builders' client: it must never reach the provider
T0 = datetime(2026, 12, 1, 12, 0)
CATEGORIES = "https://pgo-service.nl/fhir/CodeSystem/zorgleefplan-categorie"
DOMAINS = "https://pgo-service.nl/fhir/CodeSystem/levensdomein"


def register(engine: Engine, peer: MedplumPeer) -> None:
    base = peer.url.removesuffix("/fhir")
    listing = zal(
        1,
        {
            PROVIDER: [
                ("48", f"{base}/oauth/authorize", f"{base}/oauth/token", {"ZLP-FHIR": peer.url}),
                ("61", f"{base}/oauth/authorize", f"{base}/oauth/token", {"BGLZ": peer.url}),
            ]
        },
    )
    with transaction(engine) as conn:
        import_zal(conn, listing, T0, dev_mode=True)


def client_with_plan(client: FhirClient) -> tuple[str, str]:
    """A client (with a BSN) and their active zorgleefplan: (patient id, plan id)."""
    anna = client.post("Patient", patient()).json()["id"]
    today = date.today()
    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "title": "Zorgleefplan van Anna",
        "subject": {"reference": f"Patient/{anna}"},
        "period": {"start": today.isoformat()},
        "category": [{"coding": [{"system": CATEGORIES, "code": "zorgleefplan"}]}],
        "extension": [
            {
                "url": "https://pgo-service.nl/fhir/StructureDefinition/next-evaluation",
                "valueDate": (today + timedelta(days=90)).isoformat(),
            }
        ],
    }
    created = client.post("CarePlan", plan)
    assert created.status_code == 201, created.text
    return anna, created.json()["id"]


def tokens_for(mapping: dict[str, str]) -> Any:
    """Our token for each client at the provider (the peer's tenant token)."""

    def source(_conn: Connection, _provider: str, _service: str, patient: str | None) -> str | None:
        return mapping.get(patient or "")

    return source


def worker(
    engine: Engine, mapping: dict[str, str], *, page_size: int = 3, max_pages: int = 50
) -> Worker:
    config = WorkerConfig(
        lease=timedelta(seconds=120),
        backoff_base=0.001,
        backoff_cap=0.002,
        retry_after_cap=1.0,
        http_timeout=10.0,
        poll_seconds=0.05,
        extra_hosts=frozenset({"127.0.0.1"}),
        dev_mode=True,
    )
    settings = Settings(database_url="unused://", dev_mode=True)
    handler = pull_handler(
        tokens_for(mapping), sync_contexts(settings), page_size=page_size, max_pages=max_pages
    )
    return Worker(engine, {PULL: handler}, config, rng=random.Random(1))


def pull(engine: Engine, anna: str, service: str = "48") -> int:
    with transaction(engine) as conn:
        return enqueue_pull(
            conn,
            patient_id=anna,
            provider_name=PROVIDER,
            service_id=service,
            now=datetime(2020, 1, 1),
            max_attempts=3,
        )


def run_all(w: Worker, limit: int = 50, settle: float = 5.0) -> int:
    """Run jobs until none is queued (waiting out a retry's short backoff, at most
    ``settle`` seconds); how many ran."""
    ran = 0
    deadline = time.monotonic() + settle
    while ran < limit:
        if w.run_once():
            ran += 1
            continue
        if not any(j.status == "queued" for j in jobs(w.engine)) or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    return ran


def jobs(engine: Engine) -> list[Any]:
    with transaction(engine, write=False) as conn:
        return list(conn.execute(select(sync_job).order_by(sync_job.c.id)).all())


def versions(engine: Engine) -> int:
    """Stored versions of everything but the audit trail (written behind the requests)."""
    with transaction(engine, write=False) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(resource_version)
                .where(resource_version.c.resource_type != "AuditEvent")
            ).scalar_one()
        )


def search(client: FhirClient, query: str) -> list[dict[str, Any]]:
    answer = client.get(query)
    assert answer.status_code == 200, answer.text
    return [e["resource"] for e in answer.json().get("entry") or []]


def source_system() -> str:
    return f"https://pgo-service.nl/fhir/NamingSystem/bron/{PROVIDER}"


def pulled(client: FhirClient, resource_type: str, remote_id: str) -> dict[str, Any]:
    [found] = search(client, f"{resource_type}?identifier={source_system()}|{remote_id}")
    return found


# -- the provider's side -----------------------------------------------------------------


def provider_agreement(title: str, **extra: Any) -> dict[str, Any]:
    """An agreement as a provider's EHR holds it (its own patient and practitioner ids)."""
    body: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "title": title,
        "subject": {"reference": "Patient/ehr-patient-1"},
        "period": {"start": "2026-11-01"},
        "author": {"reference": "Practitioner/ehr-nurse-7", "display": "M. de Wit"},
        "activity": [
            {
                "detail": {
                    "status": "in-progress",
                    "description": title,
                    "performer": [
                        {"reference": "Practitioner/ehr-nurse-7", "display": "M. de Wit"}
                    ],
                }
            }
        ],
    }
    body.update(extra)
    return body


def dump(value: Any) -> str:
    return json.dumps(value)
