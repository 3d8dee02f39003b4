"""Pushing agreements to a real FHIR server (Medplum's router) as a provider EHR:
conditional update by identifier, If-Match once the provider's version is known,
conflicts, a lost answer, and the refusals."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, Engine, select

from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_job, sync_remote_version
from pgo_service.sync.jobs import DEAD, DONE
from pgo_service.sync.push import PUSH, DisclosureCheck, enqueue_push, push_handler
from pgo_service.sync.registry import import_zal, set_fhir_version
from pgo_service.sync.worker import Worker, WorkerConfig

from ..api.builders import careplan, patient
from ..support.fhirclient import FhirClient
from .lists import zal
from .medplum import TOKEN, MedplumPeer

T0 = datetime(2026, 12, 1, 12, 0)
PROVIDER = "thuiszorg@medmij"
SYSTEM = "urn:oid:2.16.528.1.1007.3.3.1234567.1.42"  # the provider's agreement ids


@pytest.fixture
def registered(db_engine: Engine, medplum: MedplumPeer) -> Engine:
    base = medplum.url.removesuffix("/fhir")
    listing = zal(
        1,
        {
            PROVIDER: [
                ("48", f"{base}/oauth/authorize", f"{base}/oauth/token", {"ZLP-FHIR": medplum.url}),
                ("61", f"{base}/oauth/authorize", f"{base}/oauth/token", {"BGLZ": medplum.url}),
            ]
        },
    )
    with transaction(db_engine) as conn:
        import_zal(conn, listing, T0, dev_mode=True)
    return db_engine


def _tokens(token: str | None = TOKEN) -> Any:
    def source(
        _conn: Connection, _provider: str, _service: str, _patient: str | None
    ) -> str | None:
        return token

    return source


def _worker(
    engine: Engine, token: str | None = TOKEN, may_disclose: DisclosureCheck | None = None
) -> Worker:
    config = WorkerConfig(
        lease=timedelta(seconds=60),
        backoff_base=1.0,
        backoff_cap=10.0,
        retry_after_cap=60.0,
        http_timeout=10.0,
        poll_seconds=0.05,
        extra_hosts=frozenset({"127.0.0.1"}),
        dev_mode=True,
    )
    handler = push_handler(_tokens(token), may_disclose)
    return Worker(engine, {PUSH: handler}, config, rng=random.Random(1))


def _agreement(client: FhirClient, value: str, **extra: Any) -> tuple[str, str, dict[str, Any]]:
    anna = client.post("Patient", patient()).json()["id"]
    body = careplan(f"Patient/{anna}", identifier=[{"system": SYSTEM, "value": value}], **extra)
    created = client.post("CarePlan", body).json()
    return anna, created["id"], created


def _push(engine: Engine, anna: str, plan_id: str, service: str = "48") -> int:
    with transaction(engine) as conn:
        return enqueue_push(
            conn,
            resource_type="CarePlan",
            resource_id=plan_id,
            patient_id=anna,
            provider_name=PROVIDER,
            service_id=service,
            identifier_system=SYSTEM,
            now=datetime(2020, 1, 1),
            max_attempts=3,
        )


def _job(engine: Engine, job_id: int) -> Any:
    with transaction(engine, write=False) as conn:
        return conn.execute(select(sync_job).where(sync_job.c.id == job_id)).one()


def _at_provider(medplum: MedplumPeer, value: str) -> list[dict[str, Any]]:
    found = httpx.get(
        f"{medplum.url}/CarePlan",
        params={"identifier": f"{SYSTEM}|{value}"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()
    return [e["resource"] for e in found.get("entry") or []]


def test_push_then_update_with_if_match(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    value = str(uuid.uuid4())
    anna, plan_id, stored = _agreement(client, value, title="Boodschappen op dinsdag")
    worker = _worker(registered)
    first = _push(registered, anna, plan_id)
    assert worker.run_once()
    assert _job(registered, first).status == DONE
    [remote] = _at_provider(medplum, value)
    assert remote["title"] == "Boodschappen op dinsdag"
    assert remote["id"] != plan_id  # the provider's own id
    with transaction(registered, write=False) as conn:
        pushed = conn.execute(select(sync_remote_version)).one()
    assert pushed.etag == f'W/"{remote["meta"]["versionId"]}"'
    assert pushed.remote_id == remote["id"]

    changed = {**stored, "title": "Boodschappen op woensdag"}
    assert client.put(f"CarePlan/{plan_id}", changed).status_code == 200
    second = _push(registered, anna, plan_id)
    assert worker.run_once()
    worker.close()
    assert _job(registered, second).status == DONE
    [remote_after] = _at_provider(medplum, value)
    assert remote_after["id"] == remote["id"]
    assert remote_after["title"] == "Boodschappen op woensdag"
    assert remote_after["meta"]["versionId"] != remote["meta"]["versionId"]


def _change_at_provider(medplum: MedplumPeer, value: str, resource: dict[str, Any]) -> None:
    body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    answer = httpx.put(
        f"{medplum.url}/CarePlan",
        params={"identifier": f"{SYSTEM}|{value}"},
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 200, answer.text


def test_a_change_at_the_provider_is_not_overwritten(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    value = str(uuid.uuid4())
    anna, plan_id, stored = _agreement(client, value, title="Samen koken")
    worker = _worker(registered)
    _push(registered, anna, plan_id)
    assert worker.run_once()
    [remote] = _at_provider(medplum, value)
    _change_at_provider(medplum, value, {**remote, "title": "Samen koken (door de wijkverpleging)"})
    client.put(f"CarePlan/{plan_id}", {**stored, "title": "Samen koken op vrijdag"})
    job_id = _push(registered, anna, plan_id)
    assert worker.run_once()
    worker.close()
    job = _job(registered, job_id)
    assert job.status == DEAD
    assert "conflict" in job.last_error
    [kept] = _at_provider(medplum, value)
    assert kept["title"] == "Samen koken (door de wijkverpleging)"


def test_a_push_whose_answer_was_lost_counts_as_done(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    """The provider applied our push but we never heard: the next attempt's If-Match is
    stale, and the provider holds exactly what we send."""
    value = str(uuid.uuid4())
    anna, plan_id, stored = _agreement(client, value, title="Wandelen")
    worker = _worker(registered)
    _push(registered, anna, plan_id)
    assert worker.run_once()
    client.put(f"CarePlan/{plan_id}", {**stored, "title": "Wandelen in het park"})
    [sent] = _at_provider(medplum, value)
    # as if our push of the change went through unanswered
    _change_at_provider(medplum, value, {**sent, "title": "Wandelen in het park"})
    job_id = _push(registered, anna, plan_id)
    assert worker.run_once()
    worker.close()
    assert _job(registered, job_id).status == DONE
    [remote] = _at_provider(medplum, value)
    with transaction(registered, write=False) as conn:
        etag = conn.execute(select(sync_remote_version.c.etag)).scalar_one()
    assert etag == f'W/"{remote["meta"]["versionId"]}"'


@pytest.mark.parametrize(
    ("case", "complaint"),
    [
        ("stu3", "speaks FHIR STU3"),
        ("no token", "no access token"),
        ("wrong token", "HTTP 401"),
        ("no identifier", "exactly one identifier"),
    ],
)
def test_refusals(
    client: FhirClient, registered: Engine, medplum: MedplumPeer, case: str, complaint: str
) -> None:
    value = str(uuid.uuid4())
    anna, plan_id, _stored = _agreement(client, value)
    service = "61" if case == "stu3" else "48"
    token = {"no token": None, "wrong token": "not-the-token"}.get(case, TOKEN)
    if case == "no identifier":
        plan_id = client.post("CarePlan", careplan(f"Patient/{anna}")).json()["id"]
    worker = _worker(registered, token)
    job_id = _push(registered, anna, plan_id, service)
    assert worker.run_once()
    worker.close()
    job = _job(registered, job_id)
    assert job.status == DEAD
    assert complaint in job.last_error
    assert _at_provider(medplum, value) == []


def test_the_operator_can_state_r4_for_service_61(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    value = str(uuid.uuid4())
    anna, plan_id, _stored = _agreement(client, value)
    with transaction(registered) as conn:
        set_fhir_version(conn, PROVIDER, "61", "R4")
    worker = _worker(registered)
    job_id = _push(registered, anna, plan_id, "61")
    assert worker.run_once()
    worker.close()
    assert _job(registered, job_id).status == DONE
    assert len(_at_provider(medplum, value)) == 1


def test_a_bsn_never_identifies_a_push(registered: Engine) -> None:
    with pytest.raises(ValueError, match="BSN"), transaction(registered) as conn:
        enqueue_push(
            conn,
            resource_type="Patient",
            resource_id="anna",
            patient_id="anna",
            provider_name=PROVIDER,
            service_id="48",
            identifier_system="http://fhir.nl/fhir/NamingSystem/bsn",
            now=T0,
            max_attempts=3,
        )


def test_nothing_is_sent_without_the_clients_consent_when_the_job_runs(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    value = str(uuid.uuid4())
    anna, plan_id, _ = _agreement(client, value, title="Alleen met toestemming")
    asked: list[str] = []

    def refuse(conn: Any, stored: Any, provider: str) -> bool:
        asked.append(f"{stored.resource_type}/{stored.id} to {provider}")
        return False

    worker = _worker(registered, may_disclose=refuse)
    job = _push(registered, anna, plan_id)
    assert worker.run_once()
    worker.close()
    assert asked == [f"CarePlan/{plan_id} to {PROVIDER}"]
    assert _job(registered, job).status == DEAD
    assert "consent" in _job(registered, job).last_error
    assert _at_provider(medplum, value) == []
