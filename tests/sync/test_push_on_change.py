"""A client's change to an agreement or goal a provider shares goes to that provider
(Medplum's router as the provider's EHR), if and only if the client's consent lets
it: queued with the change, deduplicated, with references the provider resolves;
never for a provider's own writes or what the pull merges."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pgo_service.api.app import sync_handlers
from pgo_service.auth.crypto import SecretBox
from pgo_service.config import Settings
from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_job
from pgo_service.sync.connect import TokenAnswer, record_connection
from pgo_service.sync.jobs import CANCELLED, DEAD, DONE, QUEUED
from pgo_service.sync.push import PUSH
from pgo_service.sync.registry import PROVIDER_NAME_SYSTEM
from pgo_service.sync.remote_refs import OWN_SYSTEM
from pgo_service.sync.worker import Worker, WorkerConfig

from ..conftest import TEST_SECRET_KEY
from ..support.fhirclient import FhirClient
from ..support.tokens import actor_token
from .medplum import MedplumPeer
from .pulling import (
    CATEGORIES,
    DOMAINS,
    PROVIDER,
    client_with_plan,
    provider_agreement,
    pull,
    pulled,
    register,
    run_all,
    tokens_for,
)

EHR_IDS = "urn:oid:2.16.528.1.1007.3.3.1234567.1.42"  # the provider's agreement numbers
ORGANIZATION = "Organization/thuiszorg"
ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"


@dataclass
class World:
    engine: Engine
    admin: FhirClient  # an operator's system token
    own: FhirClient  # the client's own token
    anna: str
    plan: str
    tenant: str  # the client's record at the provider (and our token there)
    worker: Worker
    peer_url: str
    token: str  # the client's

    def at_provider(self, query: str) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.peer_url}/{query}", headers={"Authorization": f"Bearer {self.tenant}"}
        )
        assert answer.status_code == 200, answer.text
        return [e["resource"] for e in answer.json().get("entry") or []]


def _consent(anna: str, *actions: str, classes: tuple[str, ...] = ("CarePlan", "Goal")) -> Any:
    return {
        "resourceType": "Consent",
        "id": f"{anna}-thuiszorg",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{anna}"},
        "provision": {
            "type": "deny",
            "provision": [
                {
                    "type": "permit",
                    "actor": [
                        {
                            "role": {"text": "zorgaanbieder"},
                            "reference": {"reference": ORGANIZATION},
                        }
                    ],
                    "action": [{"coding": [{"system": ACTION, "code": a}]} for a in actions],
                    "class": [{"code": c} for c in classes],
                }
            ],
        },
    }


def _worker(engine: Engine, anna: str, tenant: str) -> Worker:
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
    handlers = sync_handlers(settings, tokens_for({anna: tenant}))
    return Worker(engine, handlers, config, rng=random.Random(1))


def _connect(engine: Engine, anna: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    answer = TokenAnswer("sealed-and-unused", now + timedelta(minutes=15), "refresh", None)
    with transaction(engine) as conn:
        record_connection(
            conn,
            SecretBox(TEST_SECRET_KEY),
            patient_id=anna,
            provider_name=PROVIDER,
            service_id="48",
            connected_by=f"Patient/{anna}",
            app_client_id="app.pgo.example",
            answer=answer,
            now=now,
        )


@pytest.fixture
def world(
    app: FastAPI, client: FhirClient, db_engine: Engine, medplum: MedplumPeer
) -> Iterator[World]:
    register(db_engine, medplum)
    anna, plan = client_with_plan(client)
    organization = {
        "resourceType": "Organization",
        "id": ORGANIZATION.split("/")[1],
        "name": "Thuiszorg Noord",
        "identifier": [{"system": PROVIDER_NAME_SYSTEM, "value": PROVIDER}],
    }
    assert client.put(ORGANIZATION, organization).status_code in (200, 201)
    consent = _consent(anna, "access", "correct", "disclose")
    assert client.put(f"Consent/{consent['id']}", consent).status_code == 201
    _connect(db_engine, anna)
    tenant = f"tenant-{uuid.uuid4()}"
    token = actor_token(db_engine, f"Patient/{anna}", patient_id=anna)
    with TestClient(
        app, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        worker = _worker(db_engine, anna, tenant)
        own = FhirClient(http)
        w = World(db_engine, client, own, anna, plan, tenant, worker, medplum.url, token)
        yield w
        w.worker.close()


def _pushes(engine: Engine) -> list[Any]:
    with transaction(engine, write=False) as conn:
        return list(
            conn.execute(
                select(sync_job).where(sync_job.c.kind == PUSH).order_by(sync_job.c.id)
            ).all()
        )


def _pull_from_provider(w: World, medplum: MedplumPeer, title: str) -> tuple[Any, Any]:
    """The provider's goal and agreement (with its own agreement number), merged here."""
    [goal] = medplum.seed(
        w.tenant,
        [
            {
                "resourceType": "Goal",
                "identifier": [{"system": EHR_IDS, "value": f"D-{uuid.uuid4()}"}],
                "lifecycleStatus": "active",
                "description": {"text": "Zelfstandig blijven wonen"},
                "subject": {"reference": "Patient/ehr-patient-1"},
            }
        ],
    )
    [agreement] = medplum.seed(
        w.tenant,
        [
            provider_agreement(
                title,
                identifier=[{"system": EHR_IDS, "value": f"A-{uuid.uuid4()}"}],
                goal=[{"reference": f"Goal/{goal['id']}"}],
            )
        ],
    )
    pull(w.engine, w.anna)
    run_all(w.worker)
    return goal, agreement


def _own_agreement(w: World, description: str) -> dict[str, Any]:
    body = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [
            {"coding": [{"system": CATEGORIES, "code": "afspraak"}]},
            {"coding": [{"system": DOMAINS, "code": "participatie"}]},
        ],
        "description": description,
        "subject": {"reference": f"Patient/{w.anna}"},
        "partOf": [{"reference": f"CarePlan/{w.plan}"}],
        "activity": [
            {
                "detail": {
                    "status": "not-started",
                    "performer": [{"reference": f"Patient/{w.anna}"}],
                }
            }
        ],
    }
    created = w.own.post("CarePlan", body)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


def test_a_change_to_a_pulled_agreement_reaches_the_provider(
    world: World, medplum: MedplumPeer
) -> None:
    w = world
    goal, remote = _pull_from_provider(w, medplum, "Wondverzorging")
    assert _pushes(w.engine) == []  # what the merge writes is not sent back
    ours = pulled(w.admin, "CarePlan", remote["id"])
    medplum.clear_log()
    changed = {**ours, "title": "Wondverzorging, ook op zondag"}
    assert w.own.put(f"CarePlan/{ours['id']}", changed).status_code == 200
    [job] = _pushes(w.engine)
    assert job.status == QUEUED
    assert run_all(w.worker) == 1
    assert _pushes(w.engine)[0].status == DONE
    [at_provider] = w.at_provider(f"CarePlan?identifier={remote['identifier'][0]['value']}")
    assert at_provider["id"] == remote["id"]  # the provider's own, updated in place
    assert at_provider["title"] == "Wondverzorging, ook op zondag"
    # the goal it came with is the provider's goal, and resolves there
    assert at_provider["goal"] == [{"reference": f"Goal/{goal['id']}"}]
    [found] = w.at_provider(f"Goal?_id={goal['id']}")
    assert found["description"]["text"] == "Zelfstandig blijven wonen"
    # the client is the provider's own Patient, as its resources named them
    assert at_provider["subject"] == {"reference": "Patient/ehr-patient-1"}
    # none of our ids went out: not the client, not the plan
    sent = str(at_provider)
    assert w.anna not in sent and w.plan not in sent and ours["id"] not in sent
    [put] = [line for line in medplum.requests() if line.startswith("PUT")]
    assert "identifier=" in put and "999911120" not in put


def test_a_client_created_agreement_is_pushed_under_our_identifier(
    world: World, medplum: MedplumPeer
) -> None:
    w = world
    created = _own_agreement(w, "Zelf boodschappen doen")
    assert run_all(w.worker) == 1
    query = f"CarePlan?identifier={OWN_SYSTEM}|{created['id']}"
    [first] = w.at_provider(query)
    assert first["description"] == "Zelf boodschappen doen"
    ended = {**created, "status": "revoked"}
    ended["activity"] = [{"detail": {**created["activity"][0]["detail"], "status": "cancelled"}}]
    assert w.own.put(f"CarePlan/{created['id']}", ended).status_code == 200
    assert run_all(w.worker) == 1
    [second] = w.at_provider(query)
    assert second["id"] == first["id"] and second["status"] == "revoked"
    assert [j.status for j in _pushes(w.engine)] == [DONE, DONE]


def test_two_quick_changes_queue_one_push_of_the_latest(world: World, medplum: MedplumPeer) -> None:
    w = world
    created = _own_agreement(w, "Wandelen")
    for text in ("Wandelen op dinsdag", "Wandelen op woensdag", "Wandelen op woensdag"):
        assert w.own.put(f"CarePlan/{created['id']}", {**created, "description": text}).is_success
    [_job] = _pushes(w.engine)
    assert run_all(w.worker) == 1
    assert _pushes(w.engine)[0].status == DONE
    [remote] = w.at_provider(f"CarePlan?identifier={OWN_SYSTEM}|{created['id']}")
    assert remote["description"] == "Wandelen op woensdag"
    assert remote["meta"]["versionId"]  # one version there, from one push
    history = httpx.get(
        f"{w.peer_url}/CarePlan/{remote['id']}/_history",
        headers={"Authorization": f"Bearer {w.tenant}"},
    ).json()
    assert len(history["entry"]) == 1


def test_concurrent_changes_queue_one_push(world: World, live_server: str) -> None:
    w = world
    created = _own_agreement(w, "Koken")
    run_all(w.worker)
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {w.token}", "Content-Type": "application/fhir+json"}

    def change(n: int) -> None:
        body = {**created, "description": f"Koken {n}"}
        answer = httpx.put(
            f"{live_server}/fhir/CarePlan/{created['id']}", json=body, headers=headers, timeout=60
        )
        if not answer.is_success:
            errors.append(answer.text)

    threads = [threading.Thread(target=change, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [j.status for j in _pushes(w.engine)] == [DONE, QUEUED]


def test_without_disclose_nothing_is_queued(world: World, medplum: MedplumPeer) -> None:
    w = world
    consent = _consent(w.anna, "access", "correct")
    assert w.admin.put(f"Consent/{consent['id']}", consent).status_code == 200
    created = _own_agreement(w, "Alleen voor mij")
    assert w.own.put(f"CarePlan/{created['id']}", {**created, "title": "Echt"}).is_success
    assert _pushes(w.engine) == []


def test_consent_narrowed_after_queueing_stops_the_push(world: World, medplum: MedplumPeer) -> None:
    w = world
    created = _own_agreement(w, "Fietsen")
    goals_only = _consent(w.anna, "access", "correct", "disclose", classes=("Goal",))
    assert w.admin.put(f"Consent/{goals_only['id']}", goals_only).status_code == 200
    [job] = _pushes(w.engine)
    assert job.status == QUEUED  # the organization is still permitted: nothing cancelled
    run_all(w.worker)
    [job] = _pushes(w.engine)
    assert job.status == DEAD and "consent" in job.last_error
    assert w.at_provider(f"CarePlan?identifier={OWN_SYSTEM}|{created['id']}") == []


def test_writes_by_others_are_not_pushed(world: World, medplum: MedplumPeer) -> None:
    w = world
    created = _own_agreement(w, "Douchen")
    run_all(w.worker)
    # an operator's system token
    assert w.admin.put(f"CarePlan/{created['id']}", {**created, "title": "Door beheer"}).is_success
    # the provider's own system, acting as its Organization within the client's consent
    ehr = actor_token(w.engine, ORGANIZATION)
    headers = {"Authorization": f"Bearer {ehr}"}
    current = w.admin.get(f"CarePlan/{created['id']}").json()
    answer = w.admin.put(
        f"CarePlan/{created['id']}", {**current, "title": "Door de thuiszorg"}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert [j.status for j in _pushes(w.engine)] == [DONE]


def test_a_delete_is_not_pushed_and_cancels_what_was_queued(world: World) -> None:
    w = world
    created = _own_agreement(w, "Tuinieren")
    [_job] = _pushes(w.engine)
    assert w.own.delete(f"CarePlan/{created['id']}").status_code == 204
    assert [j.status for j in _pushes(w.engine)] == [CANCELLED]


def test_a_goal_and_the_plan_itself(world: World, medplum: MedplumPeer) -> None:
    w = world
    goal = {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "category": [{"coding": [{"system": DOMAINS, "code": "participatie"}]}],
        "description": {"text": "Weer naar de koorrepetitie"},
        "subject": {"reference": f"Patient/{w.anna}"},
    }
    created = w.own.post("Goal", goal).json()
    plan = w.admin.get(f"CarePlan/{w.plan}").json()
    assert w.own.put(f"CarePlan/{w.plan}", {**plan, "title": "Mijn plan"}).is_success
    assert [json.loads(j.payload) for j in _pushes(w.engine)] == [
        {
            "identifier_system": OWN_SYSTEM,
            "resource_id": created["id"],
            "resource_type": "Goal",
            "service": "48",
        }
    ]
    run_all(w.worker)
    [remote] = w.at_provider(f"Goal?identifier={OWN_SYSTEM}|{created['id']}")
    assert remote["subject"] == {"type": "Patient", "display": "De cliënt"}


def _versions_of(w: World, resource_type: str) -> dict[str, str]:
    found = w.admin.get(resource_type, params={"subject": f"Patient/{w.anna}"}).json()
    return {e["resource"]["id"]: e["resource"]["meta"]["versionId"] for e in found["entry"]}


def test_our_push_read_back_by_the_pull_is_no_new_agreement(
    world: World, medplum: MedplumPeer
) -> None:
    w = world
    created = _own_agreement(w, "Naar de dagbesteding")
    run_all(w.worker)
    before = _versions_of(w, "CarePlan")
    pull(w.engine, w.anna)
    run_all(w.worker)
    assert _versions_of(w, "CarePlan") == before  # no copy, no new version
    # the provider changes it; the next pull merges that into the client's own agreement
    [remote] = w.at_provider(f"CarePlan?identifier={OWN_SYSTEM}|{created['id']}")
    medplum.seed(w.tenant, [{**remote, "title": "Dagbesteding, met vervoer"}])
    pull(w.engine, w.anna)
    run_all(w.worker)
    after = _versions_of(w, "CarePlan")
    assert after.keys() == before.keys()
    ours = w.own.get(f"CarePlan/{created['id']}").json()
    assert ours["title"] == "Dagbesteding, met vervoer"
    assert ours["subject"] == {"reference": f"Patient/{w.anna}"}
    # and the client's next change goes to the same resource there, on its newest version
    assert w.own.put(f"CarePlan/{created['id']}", {**ours, "title": "Dagbesteding"}).is_success
    run_all(w.worker)
    assert [j.status for j in _pushes(w.engine)] == [DONE, DONE]
    [remote_after] = w.at_provider(f"CarePlan?identifier={OWN_SYSTEM}|{created['id']}")
    assert remote_after["id"] == remote["id"] and remote_after["title"] == "Dagbesteding"


def test_a_pulled_goal_changed_here_and_read_back(world: World, medplum: MedplumPeer) -> None:
    w = world
    goal, _agreement = _pull_from_provider(w, medplum, "Douchen")
    ours = pulled(w.admin, "Goal", goal["id"])
    changed = {**ours, "description": {"text": "Zelfstandig blijven wonen, met hulp"}}
    assert w.own.put(f"Goal/{ours['id']}", changed).is_success
    run_all(w.worker)
    [remote] = w.at_provider(f"Goal?_id={goal['id']}")
    assert remote["description"]["text"] == "Zelfstandig blijven wonen, met hulp"
    assert remote["subject"] == {"reference": "Patient/ehr-patient-1"}
    before = _versions_of(w, "Goal")
    pull(w.engine, w.anna)
    run_all(w.worker)
    assert _versions_of(w, "Goal") == before
