"""Pulling a client's agreements from a real FHIR server (Medplum's router, in memory)
as a provider EHR, and merging them into the client's zorgleefplan: paging,
deduplication, updates at the source, deletions, idempotency, faults."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_pull_cursor
from pgo_service.sync.jobs import DEAD, DONE

from ..support.fhirclient import FhirClient
from . import stu3_examples as stu3
from .medplum import MedplumPeer
from .pulling import (
    BSN,
    DOMAINS,
    PROVIDER,
    client_with_plan,
    dump,
    jobs,
    provider_agreement,
    pull,
    pulled,
    register,
    run_all,
    search,
    source_system,
    versions,
    worker,
)


@pytest.fixture
def registered(db_engine: Engine, medplum: MedplumPeer) -> Engine:
    register(db_engine, medplum)
    return db_engine


def _tenant() -> str:
    return f"tenant-{uuid.uuid4()}"


def test_incremental_pull_over_pages_is_deduplicated_and_idempotent(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    anna, plan = client_with_plan(client)
    token = _tenant()
    [goal] = medplum.seed(
        token,
        [
            {
                "resourceType": "Goal",
                "lifecycleStatus": "active",
                "description": {"text": "Zelfstandig blijven wonen"},
                "subject": {"reference": "Patient/ehr-patient-1"},
            }
        ],
    )
    agreements = medplum.seed(
        token,
        [
            provider_agreement(f"Wondverzorging {n}", goal=[{"reference": f"Goal/{goal['id']}"}])
            for n in range(7)
        ],
    )
    medplum.seed(
        token,
        [
            {
                "resourceType": "CareTeam",
                "status": "active",
                "name": "Wijkteam Noord",
                "subject": {"reference": "Patient/ehr-patient-1"},
                "participant": [
                    {
                        "role": [{"text": "wijkverpleegkundige"}],
                        "member": {"reference": "Practitioner/ehr-nurse-7", "display": "M. de Wit"},
                    }
                ],
            },
            {
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "description": "Verband bestellen",
                "for": {"reference": "Patient/ehr-patient-1"},
                "basedOn": [{"reference": f"CarePlan/{agreements[0]['id']}"}],
            },
        ],
    )
    medplum.clear_log()
    w = worker(registered, {anna: token}, page_size=3)
    pull(registered, anna)
    assert run_all(w) == 1
    assert [j.status for j in jobs(registered)] == [DONE]

    ours = search(client, f"CarePlan?part-of=CarePlan/{plan}&_count=100")
    assert len(ours) == 7
    first = pulled(client, "CarePlan", agreements[0]["id"])
    assert first["subject"] == {"reference": f"Patient/{anna}"}
    assert first["partOf"] == [{"reference": f"CarePlan/{plan}"}]
    assert {"system": DOMAINS, "code": "lichamelijk-welbevinden"} in [
        {k: c[k] for k in ("system", "code")} for cat in first["category"] for c in cat["coding"]
    ]
    performer = first["activity"][0]["detail"]["performer"][0]["reference"]
    assert performer.startswith("Practitioner/") and performer != "Practitioner/ehr-nurse-7"
    nurse = client.get(performer).json()
    assert nurse["name"] == [{"text": "M. de Wit"}]
    our_goal = pulled(client, "Goal", goal["id"])
    assert first["goal"] == [{"reference": f"Goal/{our_goal['id']}"}]
    task = pulled(client, "Task", search_id := _remote_task(medplum, token))
    assert task["basedOn"] == [{"reference": f"CarePlan/{first['id']}"}], search_id
    team = search(client, f"CareTeam?identifier={source_system()}|")
    assert team and team[0]["participant"][0]["member"]["reference"] == performer

    [source] = _provenance(client, f"CarePlan/{first['id']}/_history/1")
    assert PROVIDER in source["activity"]["text"] and "48" in source["activity"]["text"]
    assert source["entity"][0]["what"]["identifier"]["value"] == agreements[0]["id"]

    received = medplum.requests()
    pages = [r for r in received if r.startswith("GET /fhir/CarePlan?")]
    assert len(pages) >= 3  # 7 agreements, 3 a page
    assert all(BSN not in r and "bsn" not in r.lower() for r in received)
    assert all("patient" not in r.lower().split("?", 1)[-1] for r in received)

    before = versions(registered)
    pull(registered, anna)
    assert run_all(w) == 1
    w.close()
    assert versions(registered) == before
    assert len(search(client, f"CarePlan?part-of=CarePlan/{plan}&_count=100")) == 7
    again = [r for r in medplum.requests() if "_lastUpdated=ge" in r]
    assert again, "the second pull reads from the cursor"


def _provenance(client: FhirClient, versioned: str) -> list[dict[str, Any]]:
    """The Provenance of exactly this version (a search by target matches every version)."""
    found = search(client, f"Provenance?target={versioned.split('/_history')[0]}&_count=100")
    return [p for p in found if p["target"][0]["reference"] == versioned]


def _remote_task(medplum: MedplumPeer, token: str) -> str:
    import httpx

    found = httpx.get(
        f"{medplum.url}/Task", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    remote: str = found["entry"][0]["resource"]["id"]
    return remote


def test_a_change_at_the_source_updates_and_keeps_the_clients_own_notes(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    anna, plan = client_with_plan(client)
    token = _tenant()
    [remote] = medplum.seed(token, [provider_agreement("Steunkousen aantrekken")])
    w = worker(registered, {anna: token})
    pull(registered, anna)
    run_all(w)
    ours = pulled(client, "CarePlan", remote["id"])
    # The client files it under another life domain and writes down how it goes.
    ours["category"][1] = {"coding": [{"system": DOMAINS, "code": "wonen"}]}
    ours["activity"][0]["progress"] = [
        {"time": "2026-12-02T10:00:00Z", "authorString": "Anna", "text": "Gaat goed 's ochtends"}
    ]
    ours["note"] = [{"text": "Liever na het ontbijt"}]
    assert client.put(f"CarePlan/{ours['id']}", ours).status_code == 200

    changed = {**remote, "title": "Steunkousen aantrekken en uittrekken"}
    changed["activity"][0]["progress"] = [
        {"time": "2026-12-03T09:00:00Z", "authorString": "M. de Wit", "text": "Huid gecontroleerd"}
    ]
    medplum.seed(token, [changed])
    pull(registered, anna)
    run_all(w)
    w.close()
    after = pulled(client, "CarePlan", remote["id"])
    assert after["id"] == ours["id"]
    assert after["meta"]["versionId"] == "3"
    assert after["title"] == "Steunkousen aantrekken en uittrekken"
    texts = [p["text"] for p in after["activity"][0]["progress"]]
    assert texts == ["Huid gecontroleerd", "Gaat goed 's ochtends"]
    assert [n["text"] for n in after["note"]] == ["Liever na het ontbijt"]
    assert after["category"][1]["coding"][0]["code"] == "wonen"
    updates = _provenance(client, f"CarePlan/{ours['id']}/_history/3")
    assert len(updates) == 1 and updates[0]["activity"]["coding"][0]["code"] == "UPDATE"
    assert len(search(client, f"CarePlan?part-of=CarePlan/{plan}")) == 1


def test_an_agreement_deleted_at_the_source_is_ended_not_dropped(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    anna, plan = client_with_plan(client)
    token = _tenant()
    kept, gone = medplum.seed(
        token, [provider_agreement("Douchen met hulp"), provider_agreement("Medicatie uitzetten")]
    )
    w = worker(registered, {anna: token})
    pull(registered, anna)
    run_all(w)
    medplum.delete(token, [f"CarePlan/{gone['id']}"])
    pull(registered, anna)
    run_all(w)
    ended = pulled(client, "CarePlan", gone["id"])
    assert ended["status"] == "revoked"
    assert ended["activity"][0]["detail"]["status"] == "cancelled"
    assert "Verwijderd in het EPD van" in ended["note"][-1]["text"]
    assert pulled(client, "CarePlan", kept["id"])["status"] == "active"
    [provenance] = _provenance(
        client, f"CarePlan/{ended['id']}/_history/{ended['meta']['versionId']}"
    )
    assert provenance["activity"]["coding"][0]["code"] == "DELETE"
    before = versions(registered)
    pull(registered, anna)
    run_all(w)
    w.close()
    assert versions(registered) == before
    assert len(search(client, f"CarePlan?part-of=CarePlan/{plan}")) == 2


def test_a_provider_failing_with_500_is_retried_until_it_recovers(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    anna, _plan = client_with_plan(client)
    token = _tenant()
    [remote] = medplum.seed(token, [provider_agreement("Boodschappen")])
    w = worker(registered, {anna: token})
    job = pull(registered, anna)
    medplum.fault(count=2, status=500)
    assert w.run_once()
    assert jobs(registered)[0].status == "queued"
    assert "HTTP 500" in jobs(registered)[0].last_error
    import time

    time.sleep(0.05)
    run_all(w)
    w.close()
    [row] = [j for j in jobs(registered) if j.id == job]
    assert row.status == DONE
    assert pulled(client, "CarePlan", remote["id"])["title"] == "Boodschappen"


@pytest.mark.parametrize(
    "body",
    [
        "this is not json",
        dump({"resourceType": "OperationOutcome"}),
        dump(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [
                    {"resource": provider_agreement("Goed", id="a1")},
                    {"resource": {**provider_agreement("Zonder id"), "status": "misschien"}},
                ],
            }
        ),
    ],
)
def test_a_page_that_is_not_a_searchset_of_resources_fails_the_job_and_merges_nothing(
    client: FhirClient, registered: Engine, medplum: MedplumPeer, body: str
) -> None:
    anna, plan = client_with_plan(client)
    token = _tenant()
    medplum.seed(token, [provider_agreement("Echt")])
    w = worker(registered, {anna: token})
    pull(registered, anna)
    before = versions(registered)
    medplum.fault(count=1, body=body)
    assert w.run_once()
    w.close()
    [job] = jobs(registered)
    assert job.status == DEAD
    assert "invalid FHIR" in job.last_error
    assert versions(registered) == before
    assert search(client, f"CarePlan?part-of=CarePlan/{plan}") == []
    with transaction(registered, write=False) as conn:
        assert conn.execute(select(sync_pull_cursor)).all() == []


def test_a_next_link_to_another_host_is_refused(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    anna, _plan = client_with_plan(client)
    w = worker(registered, {anna: _tenant()})
    pull(registered, anna)
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": "http://localhost:9/fhir/Goal?_offset=3"}],
    }
    medplum.fault(count=1, body=dump(bundle))
    assert w.run_once()
    w.close()
    [job] = jobs(registered)
    assert job.status == DEAD
    assert "refused" in job.last_error


def test_without_an_active_plan_the_pull_fails_clearly(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    from ..api.builders import patient

    bert = client.post("Patient", patient(bsn="999911132", family="Bakker")).json()["id"]
    token = _tenant()
    medplum.seed(token, [provider_agreement("Zonder plan")])
    w = worker(registered, {bert: token})
    pull(registered, bert)
    w.run_once()
    w.close()
    [job] = jobs(registered)
    assert job.status == DEAD
    assert "zorgleefplan" in job.last_error
    assert PROVIDER not in (job.payload or "")


def test_stu3_data_service_is_converted_without_losing_the_agreement(
    client: FhirClient, registered: Engine, medplum: MedplumPeer
) -> None:
    """Data service 61 (BgLZ) speaks STU3 + zib2017. Medplum's router only knows R4, so
    the STU3 endpoint is simulated by the peer's Node wrapper: it serves the STU3 JSON it
    was loaded with, with the same search, _lastUpdated and paging."""
    anna, plan = client_with_plan(client)
    token = f"stu3-{uuid.uuid4()}"
    medplum.seed(
        token,
        [
            stu3.treatment_objective(),
            stu3.care_team(),
            stu3.nursing_intervention(goal=[{"reference": "Goal/zib-to-1"}]),
            stu3.nursing_intervention(id="zib-ni-2", title="Steunkousen", status="active"),
            stu3.task(basedOn=[{"reference": "CarePlan/zib-ni-1"}]),
        ],
    )
    w = worker(registered, {anna: token}, page_size=1)
    pull(registered, anna, service="61")
    run_all(w)
    [job] = jobs(registered)
    assert job.status == DONE, job.last_error
    ours = pulled(client, "CarePlan", "zib-ni-1")
    assert ours["status"] == "on-hold"
    assert ours["period"] == {"start": "2026-11-01", "end": "2027-02-01"}
    assert ours["description"] == "Decubituswond op de stuit twee keer per dag verzorgen"
    assert ours["text"]["div"].endswith("Decubituswond verzorgen</div>")
    detail = ours["activity"][0]["detail"]
    assert detail["description"] == "Wond reinigen, nieuw verband aanbrengen"
    nurse = client.get(detail["performer"][0]["reference"]).json()
    assert nurse["name"] == [{"text": "J. Bakker"}]
    goal = pulled(client, "Goal", "zib-to-1")
    assert goal["lifecycleStatus"] == "active"
    assert ours["goal"] == [{"reference": f"Goal/{goal['id']}"}]
    assert pulled(client, "Task", "bglz-task")["basedOn"] == [
        {"reference": f"CarePlan/{ours['id']}"}
    ]
    assert pulled(client, "CareTeam", "bglz-team")["participant"][0]["role"] == [
        {"text": "eerstverantwoordelijk verpleegkundige"}
    ]
    assert len(search(client, f"CarePlan?part-of=CarePlan/{plan}")) == 2
    before = versions(registered)
    pull(registered, anna, service="61")
    run_all(w)
    w.close()
    assert versions(registered) == before
