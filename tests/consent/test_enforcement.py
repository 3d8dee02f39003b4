"""Consent enforced on every path: the explicit cases of docs/consent.md."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pgo_service.api.app import create_app
from pgo_service.auth.crypto import SecretBox
from pgo_service.config import Settings
from pgo_service.consent import DisclosureGate
from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_connection, sync_job, sync_token_revocation
from pgo_service.fhir.store import ResourceStore
from pgo_service.sync.connect import (
    REVOKE,
    TokenAnswer,
    record_connection,
    set_revocation_endpoint,
)
from pgo_service.sync.jobs import enqueue
from pgo_service.sync.registry import PROVIDER_NAME_SYSTEM

from ..careplan.demo import load_demo
from ..conftest import TEST_SECRET_KEY
from ..support.fhirclient import FhirClient
from ..support.tokens import actor_token, system_token

ROLE = "https://pgo-service.nl/fhir/CodeSystem/netwerkrol"
NURSE = "Practitioner/wijk"


def _consent(patient: str, *permits: dict[str, Any], cid: str = "c1") -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": cid,
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
        "patient": {"reference": f"Patient/{patient}"},
        "provision": {"type": "deny", "provision": list(permits)},
    }


def _actor(reference: str) -> list[dict[str, Any]]:
    role = {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "PRCP"}
    return [{"role": {"coding": [role]}, "reference": {"reference": reference}}]


def _permit(actor: str, **extra: Any) -> dict[str, Any]:
    return {"type": "permit", "actor": _actor(actor), **extra}


def _action(code: str) -> list[dict[str, Any]]:
    return [
        {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": code}
            ]
        }
    ]


def _classes(*types: str) -> list[dict[str, str]]:
    return [{"system": "http://hl7.org/fhir/resource-types", "code": t} for t in types]


class Http:
    def __init__(self, http: TestClient, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: str) -> Any:
        return self.http.get(f"/fhir/{path}", params=params, headers=self.headers)

    def put(self, resource: dict[str, Any]) -> Any:
        path = f"/fhir/{resource['resourceType']}/{resource['id']}"
        return self.http.put(path, json=resource, headers=self.headers)

    def ids(self, path: str, **params: str) -> list[str]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return sorted(
            f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in response.json().get("entry", [])
            if e.get("search", {}).get("mode") != "outcome"
        )


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def admin(http: TestClient, db_engine: Engine) -> Http:
    return Http(http, system_token(db_engine))


@pytest.fixture
def world(admin: Http) -> None:
    """Two clients, each with a plan, a goal, a condition and an observation."""
    for pid in ("anna", "bert"):
        for resource in (
            {"resourceType": "Patient", "id": pid},
            {
                "resourceType": "Goal",
                "id": f"{pid}-goal",
                "lifecycleStatus": "active",
                "description": {"text": "Zelf boodschappen doen"},
                "subject": {"reference": f"Patient/{pid}"},
            },
            {
                "resourceType": "CarePlan",
                "id": f"{pid}-plan",
                "status": "active",
                "intent": "plan",
                "subject": {"reference": f"Patient/{pid}"},
                "goal": [{"reference": f"Goal/{pid}-goal"}],
            },
            {
                "resourceType": "Condition",
                "id": f"{pid}-cond",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"text": "artrose"},
            },
            {
                "resourceType": "Observation",
                "id": f"{pid}-obs",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "secret-code"}]},
                "subject": {"reference": f"Patient/{pid}"},
            },
        ):
            assert admin.put(resource).is_success
    practitioner = {"resourceType": "Practitioner", "id": "wijk"}
    assert admin.put(practitioner).is_success


def test_no_consent_means_nothing_but_the_directory(
    http: TestClient, db_engine: Engine, world: None
) -> None:
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.get("CarePlan/anna-plan").status_code == 403
    assert nurse.ids("CarePlan") == []
    assert nurse.get("CarePlan", _summary="count").json()["total"] == 0
    assert nurse.ids("Practitioner") == ["Practitioner/wijk"]
    own = Http(http, actor_token(db_engine, "Patient/anna", patient_id="anna"))
    assert own.ids("CarePlan") == ["CarePlan/anna-plan"]


def test_plan_and_related_goals_for_a_period(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    grant = _permit(
        NURSE,
        action=_action("access"),
        data=[{"meaning": "related", "reference": {"reference": "CarePlan/anna-plan"}}],
        period={"start": "2020-01-01", "end": "2999-12-31"},
    )
    assert admin.put(_consent("anna", grant)).is_success
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.get("CarePlan/anna-plan").status_code == 200
    assert nurse.get("Goal/anna-goal").status_code == 200
    assert nurse.get("Condition/anna-cond").status_code == 403
    assert nurse.get("CarePlan/bert-plan").status_code == 403
    assert nurse.ids("CarePlan") == ["CarePlan/anna-plan"]
    assert nurse.ids("Goal") == ["Goal/anna-goal"]
    assert nurse.ids("Condition") == []
    # access only: no writes
    plan = admin.get("CarePlan/anna-plan").json()
    assert nurse.put({**plan, "description": "x"}).status_code == 403
    # includes and reverse includes are filtered too
    included = nurse.ids("Goal", _revinclude="CarePlan:goal", _include="Goal:subject")
    # "related" takes in what the plan references: its goals and its subject
    assert included == ["CarePlan/anna-plan", "Goal/anna-goal", "Patient/anna"]


def test_expired_and_future_periods_deny(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    now = datetime.now(UTC)
    past = {"start": "2001-01-01", "end": (now - timedelta(seconds=5)).isoformat()}
    future = {"start": (now + timedelta(hours=1)).isoformat()}
    consent = _consent(
        "anna",
        _permit(NURSE, period=past, **{"class": _classes("Goal")}),
        _permit(NURSE, period=future, **{"class": _classes("CarePlan")}),
    )
    assert admin.put(consent).is_success
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.get("Goal/anna-goal").status_code == 403
    assert nurse.get("CarePlan/anna-plan").status_code == 403


def test_consent_expiring_mid_session(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    end = datetime.now(UTC) + timedelta(seconds=2)
    consent = _consent(
        "anna",
        _permit(NURSE, period={"end": end.isoformat(timespec="seconds")}),
    )
    assert admin.put(consent).is_success
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.get("Goal/anna-goal").status_code == 200  # decision cached now
    while datetime.now(UTC) < end.replace(microsecond=0) + timedelta(seconds=1, milliseconds=50):
        pass
    assert nurse.get("Goal/anna-goal").status_code == 403


def test_more_specific_wins_and_deny_wins_ties(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    consent = _consent(
        "anna",
        _permit(NURSE),  # everything
        {  # but not Observations (class beats open)
            "type": "deny",
            "actor": _actor(NURSE),
            "class": _classes("Observation"),
        },
        _permit(NURSE, **{"class": _classes("Condition")}),
        {  # equal specificity to the permit above: deny wins
            "type": "deny",
            "actor": _actor(NURSE),
            "class": _classes("Condition"),
        },
    )
    assert admin.put(consent).is_success
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.ids("Observation") == []
    assert nurse.ids("Condition") == []
    assert nurse.ids("Goal") == ["Goal/anna-goal"]
    # _has and chains must not reveal what is hidden
    assert nurse.ids("Patient", **{"_has:Observation:subject:code": "secret-code"}) == []
    assert nurse.ids("Patient", _id="anna") == ["Patient/anna"]


def test_network_membership_and_removal(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    team = {
        "resourceType": "CareTeam",
        "id": "anna-net",
        "status": "active",
        "subject": {"reference": "Patient/anna"},
        "participant": [{"member": {"reference": NURSE}}],
    }
    assert admin.put(team).is_success
    consent = _consent("anna", _permit("CareTeam/anna-net", **{"class": _classes("CarePlan")}))
    assert admin.put(consent).is_success
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.ids("CarePlan") == ["CarePlan/anna-plan"]
    team["participant"] = []
    assert admin.put(team).is_success
    assert nurse.ids("CarePlan") == []


def test_revocation_is_immediate_across_processes_and_revokes_tokens(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    assert admin.put(_consent("anna", _permit(NURSE))).is_success
    scoped = actor_token(db_engine, NURSE, patient_id="anna")
    other = create_app(
        Settings(database_url="unused://", secret_key=TEST_SECRET_KEY, dev_mode=True), db_engine
    )
    with TestClient(other, base_url="http://testserver") as second:
        nurse_here = Http(http, actor_token(db_engine, NURSE))
        nurse_there = Http(second, actor_token(db_engine, NURSE))
        assert nurse_here.get("Goal/anna-goal").status_code == 200
        assert nurse_there.get("Goal/anna-goal").status_code == 200  # cached there too
        own = Http(http, actor_token(db_engine, "Patient/anna", patient_id="anna"))
        consent = own.get("Consent/c1").json()
        assert own.put({**consent, "status": "inactive"}).status_code == 200
        assert nurse_there.get("Goal/anna-goal").status_code == 403
        assert nurse_here.get("Goal/anna-goal").status_code == 403
        revoked = Http(http, scoped).get("Goal/anna-goal")
        assert revoked.status_code == 401


def test_only_owners_or_the_chosen_regiebehandelaar_write_consent(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.put(_consent("anna", _permit(NURSE))).status_code == 403
    team = {
        "resourceType": "CareTeam",
        "id": "anna-net",
        "status": "active",
        "subject": {"reference": "Patient/anna"},
        "participant": [
            {
                "role": [{"coding": [{"system": ROLE, "code": "regiebehandelaar"}]}],
                "member": {"reference": NURSE},
            }
        ],
    }
    assert admin.put(team).is_success
    own = Http(http, actor_token(db_engine, "Patient/anna", patient_id="anna"))
    allow = _permit(NURSE, action=_action("correct"), **{"class": _classes("Consent")})
    assert own.put(_consent("anna", allow, cid="regie")).status_code == 201
    gp = _permit("Practitioner/huisarts", **{"class": _classes("CarePlan")})
    assert nurse.put(_consent("anna", gp, cid="c2")).status_code == 201
    assert nurse.put(_consent("anna", _permit(NURSE), cid="c3")).status_code == 403


def test_audit_trail_records_permits_and_denials(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.get("CarePlan/anna-plan").status_code == 403
    assert admin.put(_consent("anna", _permit(NURSE))).is_success
    assert nurse.get("CarePlan/anna-plan").status_code == 200
    own = Http(http, actor_token(db_engine, "Patient/anna", patient_id="anna"))
    trail = own.get("AuditEvent", entity="CarePlan/anna-plan").json()
    mine = [
        e["resource"]
        for e in trail.get("entry", [])
        if e["resource"]["agent"][0]["who"].get("reference") == NURSE
    ]
    assert sorted(e["outcome"] for e in mine) == ["0", "4"]  # refused, then shown
    denied = own.get("AuditEvent", outcome="4").json()
    assert any(e["resource"]["agent"][0]["who"].get("reference") == NURSE for e in denied["entry"])
    # nobody else's trail, and no changes through the API
    for entry in own.get("AuditEvent", _count="1000").json()["entry"]:
        whats = [x.get("what", {}).get("reference") for x in entry["resource"].get("entity", [])]
        agents = [a["who"].get("reference") for a in entry["resource"]["agent"]]
        assert "Patient/anna" in whats + agents, entry
    event = next(e for e in mine if e["outcome"] == "0")
    assert own.put({**event, "outcome": "0"}).status_code in (403, 405)
    assert admin.put({**event, "outcome": "0"}).status_code == 405
    assert (
        admin.http.delete(f"/fhir/AuditEvent/{event['id']}", headers=admin.headers).status_code
        == 405
    )


def test_grant_and_revoke_operations(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    own = Http(http, actor_token(db_engine, "Patient/anna", patient_id="anna"))
    nurse_token = actor_token(db_engine, NURSE)
    nurse = Http(http, nurse_token)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "actor", "valueReference": {"reference": NURSE}},
            {"name": "action", "valueCode": "access"},
            {"name": "data", "valueReference": {"reference": "CarePlan/anna-plan"}},
            {"name": "end", "valueDateTime": "2999-01-01"},
        ],
    }
    granted = http.post("/fhir/Patient/anna/$grant", json=parameters, headers=own.headers)
    assert granted.status_code == 201, granted.text
    assert granted.json()["resourceType"] == "Consent"
    assert nurse.ids("Goal") == ["Goal/anna-goal"]
    assert nurse.ids("Condition") == []
    # a professional cannot grant themselves anything
    denied = http.post("/fhir/Patient/anna/$grant", json=parameters, headers=nurse.headers)
    assert denied.status_code == 403
    revoke = {
        "resourceType": "Parameters",
        "parameter": [{"name": "actor", "valueReference": {"reference": NURSE}}],
    }
    revoked = http.post("/fhir/Patient/anna/$revoke", json=revoke, headers=own.headers)
    assert revoked.status_code == 200, revoked.text
    changed = revoked.json()["entry"]
    assert [e["resource"]["status"] for e in changed] == ["inactive"]
    assert nurse.ids("Goal") == []
    assert nurse.get("CarePlan/anna-plan").status_code == 403


def test_every_interaction_is_filtered(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    read_only = _permit(
        NURSE, action=_action("access"), **{"class": _classes("Goal", "Observation")}
    )
    assert admin.put(_consent("anna", read_only)).is_success
    nurse = Http(http, actor_token(db_engine, NURSE))
    headers = {**nurse.headers, "Content-Type": "application/fhir+json"}
    # vread and history
    assert nurse.get("Goal/anna-goal/_history/1").status_code == 200
    assert nurse.get("Condition/anna-cond/_history/1").status_code == 403
    assert nurse.ids("Condition/anna-cond/_history") == []
    assert nurse.ids("Goal/_history") == ["Goal/anna-goal"]
    # conditional create does not reveal a hidden match: it creates as if none existed
    hidden = {"resourceType": "Condition", "subject": {"reference": "Patient/anna"}}
    created = http.post(
        "/fhir/Condition",
        json=hidden,
        headers={**headers, "If-None-Exist": "_id=anna-cond"},
    )
    assert created.status_code == 403  # and writing a Condition is not allowed either
    visible = http.post(
        "/fhir/Goal",
        json=admin.get("Goal/anna-goal").json(),
        headers={**headers, "If-None-Exist": "_id=anna-goal"},
    )
    assert visible.status_code == 200  # the visible match is reported, nothing created
    # PATCH needs correct, which this consent does not give
    patch = http.patch(
        "/fhir/Goal/anna-goal",
        content=b'[{"op": "replace", "path": "/lifecycleStatus", "value": "cancelled"}]',
        headers={**nurse.headers, "Content-Type": "application/json-patch+json"},
    )
    assert patch.status_code == 403
    # batch entries are judged one by one
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Goal/anna-goal"}},
            {"request": {"method": "GET", "url": "Condition/anna-cond"}},
            {"request": {"method": "GET", "url": "Condition?subject=Patient/anna"}},
        ],
    }
    result = http.post("/fhir", json=batch, headers=headers).json()
    statuses = [e["response"]["status"].split()[0] for e in result["entry"]]
    assert statuses == ["200", "403", "200"]
    assert result["entry"][2]["resource"].get("total") == 0
    # $zorgleefplan of a client who shared nothing of the plan
    assert http.get("/fhir/Patient/anna/$zorgleefplan", headers=headers).status_code in (403, 404)


def test_a_goal_moved_between_plans(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    plan_b = {
        "resourceType": "CarePlan",
        "id": "anna-plan-b",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/anna"},
    }
    assert admin.put(plan_b).is_success
    only_plan_a = _permit(
        NURSE, data=[{"meaning": "related", "reference": {"reference": "CarePlan/anna-plan"}}]
    )
    assert admin.put(_consent("anna", only_plan_a)).is_success
    nurse = Http(http, actor_token(db_engine, NURSE))
    assert nurse.get("Goal/anna-goal").status_code == 200
    plan_a = admin.get("CarePlan/anna-plan").json()
    plan_a.pop("goal")
    assert admin.put(plan_a).is_success
    assert admin.put({**plan_b, "goal": [{"reference": "Goal/anna-goal"}]}).is_success
    assert nurse.get("Goal/anna-goal").status_code == 403
    assert nurse.ids("Goal") == []


def test_revocation_cancels_queued_sync_jobs_to_that_provider(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    hospital = {
        "resourceType": "Organization",
        "id": "ziekenhuis",
        "identifier": [{"system": PROVIDER_NAME_SYSTEM, "value": "ziekenhuis-noord"}],
    }
    assert admin.put(hospital).is_success
    assert admin.put(_consent("anna", _permit("Organization/ziekenhuis"))).is_success
    now = datetime.now(UTC)
    with transaction(db_engine) as conn:
        for patient in ("anna", "bert"):
            enqueue(
                conn,
                "push",
                {"resource": f"CarePlan/{patient}-plan"},
                now=now,
                max_attempts=3,
                provider_name="ziekenhuis-noord",
                patient_id=patient,
            )
    own = Http(http, actor_token(db_engine, "Patient/anna", patient_id="anna"))
    consent = own.get("Consent/c1").json()
    assert own.put({**consent, "status": "inactive"}).status_code == 200
    with transaction(db_engine) as conn:
        statuses = dict(conn.execute(select(sync_job.c.patient_id, sync_job.c.status)).all())
    assert statuses == {"anna": "cancelled", "bert": "queued"}


def test_disclosure_to_a_provider_follows_consent_when_the_job_runs(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    hospital = {
        "resourceType": "Organization",
        "id": "ziekenhuis",
        "identifier": [{"system": PROVIDER_NAME_SYSTEM, "value": "ziekenhuis-noord"}],
    }
    assert admin.put(hospital).is_success
    gate = DisclosureGate()

    def may_send(reference: str) -> bool:
        with transaction(db_engine, write=False) as conn:
            stored = ResourceStore(conn).read(*reference.split("/"))
            assert stored is not None
            return gate(conn, stored, "ziekenhuis-noord")

    assert not may_send("CarePlan/anna-plan")  # no consent
    reading = _permit("Organization/ziekenhuis", action=_action("access"))
    assert admin.put(_consent("anna", reading)).is_success
    assert not may_send("CarePlan/anna-plan")  # reading is not receiving
    sharing = _permit(
        "Organization/ziekenhuis", action=_action("disclose"), **{"class": _classes("CarePlan")}
    )
    assert admin.put(_consent("anna", sharing)).is_success
    assert may_send("CarePlan/anna-plan")
    assert not may_send("Condition/anna-cond")
    assert not may_send("CarePlan/bert-plan")
    ended = {**sharing, "period": {"end": "2020-01-01"}}
    assert admin.put(_consent("anna", ended)).is_success
    assert not may_send("CarePlan/anna-plan")


def test_revocation_forgets_the_clients_tokens_at_that_provider(
    http: TestClient, db_engine: Engine, admin: Http, world: None
) -> None:
    hospital = {
        "resourceType": "Organization",
        "id": "ziekenhuis",
        "identifier": [{"system": PROVIDER_NAME_SYSTEM, "value": "ziekenhuis-noord"}],
    }
    assert admin.put(hospital).is_success
    assert admin.put(_consent("anna", _permit("Organization/ziekenhuis"))).is_success
    now = datetime.now(UTC).replace(tzinfo=None)
    box = SecretBox(TEST_SECRET_KEY)
    answer = TokenAnswer("access", now + timedelta(minutes=15), "refresh", None)
    with transaction(db_engine) as conn:
        set_revocation_endpoint(
            conn, "ziekenhuis-noord", "48", "https://auth.ziekenhuis.example/revoke", dev_mode=False
        )
        for patient, provider in (
            ("anna", "ziekenhuis-noord"),
            ("anna", "huisarts"),
            ("bert", "ziekenhuis-noord"),
        ):
            record_connection(
                conn,
                box,
                patient_id=patient,
                provider_name=provider,
                service_id="48",
                connected_by=f"Patient/{patient}",
                app_client_id="app.pgo.example",
                answer=answer,
                now=now,
            )
    own = Http(http, actor_token(db_engine, "Patient/anna", patient_id="anna"))
    consent = own.get("Consent/c1").json()
    assert own.put({**consent, "status": "inactive"}).status_code == 200
    with transaction(db_engine) as conn:
        left = conn.execute(
            select(sync_connection.c.patient_id, sync_connection.c.provider_name)
        ).all()
        jobs = conn.execute(select(sync_job.c.kind, sync_job.c.status)).all()
        waiting = conn.execute(select(sync_token_revocation.c.provider_name)).scalars().all()
    assert sorted(left) == [("anna", "huisarts"), ("bert", "ziekenhuis-noord")]
    # the provider is still told, after the client's own jobs there were cancelled
    assert [tuple(j) for j in jobs] == [(REVOKE, "queued")]
    assert waiting == ["ziekenhuis-noord"]


def test_the_plan_view_shows_only_what_the_consent_shares(
    http: TestClient, db_engine: Engine, admin: Http, client: FhirClient
) -> None:
    demo = load_demo(client)
    patient_id, plan = demo.patient_id, demo.refs["plan"]
    nurse = Http(http, actor_token(db_engine, NURSE))
    view = f"/fhir/{demo.patient}/$zorgleefplan"
    assert http.get(view, headers=nurse.headers).status_code == 403

    def shown(requester: Http) -> set[str]:
        response = http.get(view, headers=requester.headers)
        assert response.status_code == 200, response.text
        return {
            f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in response.json()["entry"]
            if "resource" in e and e["resource"]["resourceType"] != "Parameters"
        }

    everything = shown(admin)
    plan_only = _permit(
        NURSE,
        action=_action("access"),
        data=[{"meaning": "related", "reference": {"reference": plan}}],
    )
    assert admin.put(_consent(patient_id, plan_only)).is_success
    seen = shown(nurse)
    agreements = {r for r in everything if r.startswith("CarePlan/") and r != plan}
    assert plan in seen and agreements and not agreements & seen
    assert seen < everything
    with_agreements = _permit(NURSE, action=_action("access"), **{"class": _classes("CarePlan")})
    assert admin.put(_consent(patient_id, plan_only, with_agreements)).is_success
    assert agreements <= shown(nurse)
