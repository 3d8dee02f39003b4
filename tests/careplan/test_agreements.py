"""Agreements (afspraken): who does what, how often, with progress, from every carer."""

from __future__ import annotations

from typing import Any

from pgo_service.careplan import codes
from tests.support.fhirclient import FhirClient

from .demo import Demo, load_demo

OPEN = "draft,active,on-hold"


def agreement(demo: Demo, performer: str, **extra: Any) -> dict[str, Any]:
    detail = {"status": "not-started", "performer": [{"reference": performer}]}
    detail.update(extra.pop("detail", {}))
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [codes.category(codes.AGREEMENT), codes.life_domain("participatie")],
        "description": "Wekelijks samen wandelen",
        "subject": {"reference": demo.patient},
        "partOf": [{"reference": demo.refs["plan"]}],
        "activity": [{"detail": detail}],
        **extra,
    }


def _diagnostics(response: Any) -> str:
    assert response.status_code == 422, response.text
    return str(response.json()["issue"][0]["diagnostics"])


def test_performer_types(client: FhirClient) -> None:
    demo = load_demo(client)
    nurse = demo.refs["role:Wijkverpleegkundige"]
    assert client.post("CarePlan", agreement(demo, nurse)).status_code == 201
    assert client.post("CarePlan", agreement(demo, demo.patient)).status_code == 201
    organization = demo.of_type("Organization")[0]
    assert "kan dat niet" in _diagnostics(client.post("CarePlan", agreement(demo, organization)))
    other = client.create(
        {
            "resourceType": "Patient",
            "identifier": [{"system": codes.BSN_SYSTEMS[0], "value": "123456782"}],
        }
    )
    wrong_client = client.post("CarePlan", agreement(demo, f"Patient/{other['id']}"))
    assert wrong_client.status_code == 422


def test_informal_care_needs_instructions_and_supervisor(client: FhirClient) -> None:
    demo = load_demo(client)
    neighbour = demo.refs["related:Els"]
    bare = agreement(demo, neighbour)
    assert "instructies" in _diagnostics(client.post("CarePlan", bare))
    instructed = agreement(demo, neighbour, detail={"description": "Rustig tempo, rollator mee."})
    assert "begeleidt" in _diagnostics(client.post("CarePlan", instructed))
    supervised = {**instructed, "author": {"reference": demo.refs["role:Fysiotherapeut"]}}
    assert client.post("CarePlan", supervised).status_code == 201


def test_agreement_belongs_to_a_plan_of_the_same_client(client: FhirClient) -> None:
    demo = load_demo(client)
    nurse = demo.refs["role:Wijkverpleegkundige"]
    orphan = agreement(demo, nurse)
    orphan.pop("partOf")
    assert "partOf" in _diagnostics(client.post("CarePlan", orphan))
    nested = agreement(demo, nurse, partOf=[{"reference": demo.of_type("CarePlan")[-1]}])
    assert "geen zorgleefplan" in _diagnostics(client.post("CarePlan", nested))
    missing = agreement(demo, nurse, partOf=[{"reference": "CarePlan/does-not-exist"}])
    assert "bestaat niet" in _diagnostics(client.post("CarePlan", missing))


def test_domain_activity_and_progress_rules(client: FhirClient) -> None:
    demo = load_demo(client)
    nurse = demo.refs["role:Wijkverpleegkundige"]
    two_domains = agreement(demo, nurse)
    two_domains["category"].append(codes.life_domain("wonen"))
    assert "levensdomein" in _diagnostics(client.post("CarePlan", two_domains))
    no_activity = {**agreement(demo, nurse), "activity": []}
    assert "activiteit" in _diagnostics(client.post("CarePlan", no_activity))
    created = client.create(agreement(demo, nurse))
    anonymous = [
        {
            "op": "add",
            "path": "/activity/0/progress",
            "value": [{"text": "Ging goed", "time": "2026-01-01T10:00:00Z"}],
        }
    ]
    assert "wie" in _diagnostics(client.patch(f"CarePlan/{created['id']}", anonymous))
    signed = [
        {
            "op": "add",
            "path": "/activity/0/progress",
            "value": [
                {
                    "text": "Ging goed",
                    "time": "2026-01-01T10:00:00Z",
                    "authorReference": {"reference": nurse},
                }
            ],
        }
    ]
    assert client.patch(f"CarePlan/{created['id']}", signed).status_code == 200
    backwards = agreement(demo, nurse, period={"start": "2026-05-01", "end": "2026-04-01"})
    assert "einddatum" in _diagnostics(client.post("CarePlan", backwards))


def test_a_failing_agreement_rolls_back_the_whole_transaction(client: FhirClient) -> None:
    demo = load_demo(client)
    before = client.get("CarePlan", params={"part-of": demo.refs["plan"]}).json()["total"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": agreement(demo, demo.refs["role:Wijkverpleegkundige"]),
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "resource": agreement(demo, demo.of_type("Organization")[0]),
                "request": {"method": "POST", "url": "CarePlan"},
            },
        ],
    }
    response = client.post("", bundle)
    assert response.status_code == 422
    assert client.get("CarePlan", params={"part-of": demo.refs["plan"]}).json()["total"] == before


def test_everyday_questions_by_plain_search(client: FhirClient) -> None:
    demo = load_demo(client)
    neighbour = demo.refs["related:Els"]
    found = client.get(
        "CarePlan",
        params={
            "category": f"{codes.CATEGORY_SYSTEM}|{codes.AGREEMENT}",
            "performer": neighbour,
            "status": OPEN,
        },
    ).json()
    assert [e["resource"]["title"] for e in found["entry"]] == [
        "Boodschappen doen voor Truus en Henk"
    ]
    gp = demo.refs["role:Huisarts"]
    plans = client.get("CarePlan", params={"care-team.regiebehandelaar": gp}).json()
    assert [e["resource"]["id"] for e in plans["entry"]] == [demo.refs["plan"].split("/")[1]]
    surgeon = demo.refs["role:Orthopedisch chirurg"]
    ended = client.get("CarePlan", params={"care-team.regiebehandelaar": surgeon}).json()
    assert ended["total"] == 0


def test_agreements_from_two_ehrs_side_by_side(client: FhirClient) -> None:
    demo = load_demo(client)
    nurse = demo.refs["role:Wijkverpleegkundige"]
    for system in ("https://ehr-a.example/afspraak", "https://ehr-b.example/afspraak"):
        body = agreement(demo, nurse, identifier=[{"system": system, "value": "42"}])
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:a",
                    "resource": body,
                    "request": {"method": "POST", "url": "CarePlan"},
                },
                {
                    "resource": {
                        "resourceType": "Provenance",
                        "target": [{"reference": "urn:uuid:a"}],
                        "recorded": "2026-11-01T10:00:00Z",
                        "agent": [{"who": {"reference": nurse}}],
                        "entity": [
                            {
                                "role": "source",
                                "what": {"identifier": {"system": system, "value": "42"}},
                            }
                        ],
                    },
                    "request": {"method": "POST", "url": "Provenance"},
                },
            ],
        }
        assert client.post("", bundle).status_code == 200
    same_value = client.get("CarePlan", params={"identifier": "42"}).json()
    assert same_value["total"] == 2
    only_a = client.get("CarePlan", params={"identifier": "https://ehr-a.example/afspraak|42"})
    assert only_a.json()["total"] == 1
    agreement_id = only_a.json()["entry"][0]["resource"]["id"]
    provenance = client.get("Provenance", params={"target": f"CarePlan/{agreement_id}"}).json()
    assert provenance["total"] == 1
