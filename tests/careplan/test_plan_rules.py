"""The zorgleefplan's invariants, on create, update, PATCH and inside transactions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pgo_service.careplan import codes
from tests.support.fhirclient import FhirClient

from .demo import Demo, load_demo


def _plan(demo: Demo, **extra: Any) -> dict[str, Any]:
    today = date.today()
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [codes.category(codes.ZORGLEEFPLAN)],
        "subject": {"reference": demo.patient},
        "period": {"start": today.isoformat()},
        "extension": [
            {
                "url": codes.NEXT_EVALUATION_URL,
                "valueDate": (today + timedelta(days=90)).isoformat(),
            }
        ],
        **extra,
    }


def _issue(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


def test_second_active_plan_is_rejected(client: FhirClient) -> None:
    demo = load_demo(client)
    response = client.post("CarePlan", _plan(demo))
    assert response.status_code == 422
    assert "al een actief zorgleefplan" in _issue(response)
    draft = client.post("CarePlan", _plan(demo, status="draft"))
    assert draft.status_code == 201
    activate = client.put(f"CarePlan/{draft.json()['id']}", {**draft.json(), "status": "active"})
    assert activate.status_code == 422
    patch = client.patch(
        f"CarePlan/{draft.json()['id']}", [{"op": "replace", "path": "/status", "value": "active"}]
    )
    assert patch.status_code == 422
    assert client.get(f"CarePlan/{draft.json()['id']}").json()["status"] == "draft"


def test_plan_can_be_replaced_within_one_transaction(client: FhirClient) -> None:
    demo = load_demo(client)
    old = demo.resources[demo.refs["plan"]]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {**old, "status": "completed"},
                "request": {"method": "PUT", "url": demo.refs["plan"]},
            },
            {
                "resource": _plan(demo, careTeam=old["careTeam"]),
                "request": {"method": "POST", "url": "CarePlan"},
            },
        ],
    }
    response = client.post("", bundle)
    assert response.status_code == 200, response.text


def test_evaluation_rules(client: FhirClient) -> None:
    demo = load_demo(client)
    client.put(demo.refs["plan"], {**demo.resources[demo.refs["plan"]], "status": "completed"})
    missing = client.post("CarePlan", _plan(demo, extension=[]))
    assert missing.status_code == 422
    assert "evaluatie" in _issue(missing)
    today = date.today()
    too_late = _plan(
        demo,
        extension=[
            {"url": codes.LAST_EVALUATION_URL, "valueDate": today.isoformat()},
            {
                "url": codes.NEXT_EVALUATION_URL,
                "valueDate": (today + timedelta(days=200)).isoformat(),
            },
        ],
    )
    response = client.post("CarePlan", too_late)
    assert response.status_code == 422
    assert "zes maanden" in _issue(response)
    before_last = _plan(
        demo,
        extension=[
            {"url": codes.LAST_EVALUATION_URL, "valueDate": today.isoformat()},
            {
                "url": codes.NEXT_EVALUATION_URL,
                "valueDate": (today - timedelta(days=1)).isoformat(),
            },
        ],
    )
    assert client.post("CarePlan", before_last).status_code == 422
    assert client.post("CarePlan", _plan(demo, intent="proposal")).status_code == 422
    assert client.post("CarePlan", _plan(demo)).status_code == 201


def test_overdue_plans_are_found_by_search(client: FhirClient) -> None:
    overdue = load_demo(client, today=date.today() - timedelta(days=200))
    load_demo_second_client = _second_client(client)
    today = date.today().isoformat()
    found = client.get(
        "CarePlan",
        params={
            "category": f"{codes.CATEGORY_SYSTEM}|{codes.ZORGLEEFPLAN}",
            "status": "active",
            "next-evaluation": f"lt{today}",
        },
    ).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [overdue.refs["plan"].split("/")[1]]
    assert load_demo_second_client
    view = client.get(f"{overdue.patient}/$zorgleefplan").json()
    summary = {p["name"]: p for p in view["entry"][0]["resource"]["parameter"]}
    assert summary["evaluation-status"]["valueCode"] == "overdue"


def _second_client(client: FhirClient) -> Demo:
    from tests.support.bsn import make_bsn

    from .demo import demo_bundle

    bundle = demo_bundle(date.today())
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = make_bsn(7)
    response = client.post("", bundle)
    assert response.status_code == 200, response.text
    return Demo()


def test_power_of_attorney_must_match_the_network(client: FhirClient) -> None:
    demo = load_demo(client)
    plan = demo.resources[demo.refs["plan"]]
    denied = [e for e in plan["extension"] if e["url"] != codes.POWER_OF_ATTORNEY_URL]
    denied.append({"url": codes.POWER_OF_ATTORNEY_URL, "valueBoolean": False})
    response = client.put(demo.refs["plan"], {**plan, "extension": denied})
    assert response.status_code == 422
    assert "gevolmachtigde" in _issue(response)


def test_invalid_bsn_is_rejected(client: FhirClient) -> None:
    response = client.post(
        "Patient",
        {
            "resourceType": "Patient",
            "identifier": [
                {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "123456789"}
            ],
        },
    )
    assert response.status_code == 422
    assert "11-proef" in _issue(response)
    assert response.json()["issue"][0]["expression"] == ["Patient.identifier[0].value"]


def test_references_stay_within_one_client(client: FhirClient) -> None:
    demo = load_demo(client)
    other = client.create(
        {
            "resourceType": "Patient",
            "identifier": [
                {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "123456782"}
            ],
        }
    )
    goal = {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "category": [codes.life_domain("wonen")],
        "description": {"text": "Veilig wonen"},
        "subject": {"reference": f"Patient/{other['id']}"},
        "addresses": [{"reference": next(iter(demo.of_type("Condition")))}],
    }
    response = client.post("Goal", goal)
    assert response.status_code == 422
    assert "andere cliënt" in _issue(response)


def test_goal_needs_one_life_domain(client: FhirClient) -> None:
    demo = load_demo(client)
    goal = {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "category": [codes.life_domain("wonen"), codes.life_domain("participatie")],
        "description": {"text": "Alles tegelijk"},
        "subject": {"reference": demo.patient},
    }
    assert client.post("Goal", goal).status_code == 422
    goal["category"] = [codes.life_domain("wonen")]
    assert client.post("Goal", goal).status_code == 201


def test_concurrent_plans_for_one_client_make_exactly_one(live_server: str) -> None:
    import httpx

    from tests.support.bsn import make_bsn

    headers = {"Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=f"{live_server}/fhir", headers=headers, timeout=60) as http:
        patient = http.post(
            "/Patient",
            json={
                "resourceType": "Patient",
                "identifier": [{"system": codes.BSN_SYSTEMS[0], "value": make_bsn(11)}],
            },
        ).json()
    demo = Demo(refs={"patient": f"Patient/{patient['id']}"})

    def create(_: int) -> int:
        with httpx.Client(base_url=f"{live_server}/fhir", headers=headers, timeout=60) as http:
            return http.post("/CarePlan", json=_plan(demo)).status_code

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] + [422] * 7


def test_an_id_that_holds_a_bsn_is_refused(client: FhirClient) -> None:
    from tests.support.bsn import make_bsn

    bsn = make_bsn(7)
    for resource_id in (bsn, f"client-{bsn}", f"{bsn}.a"):
        body = {"resourceType": "Patient", "id": resource_id, "gender": "other"}
        response = client.put(f"Patient/{resource_id}", body)
        assert response.status_code == 400, resource_id
        assert bsn not in response.text  # the refusal does not repeat it
        assert response.json()["issue"][0]["expression"] == ["Patient.id"]
        assert client.get(f"Patient/{resource_id}").status_code == 404
    observation = {
        "resourceType": "Observation",
        "id": bsn,
        "status": "final",
        "code": {"text": "x"},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"resource": observation, "request": {"method": "PUT", "url": f"Observation/{bsn}"}},
        ],
    }
    assert client.post("", bundle).status_code == 400
    assert client.get("Patient", params={"_summary": "count"}).json()["total"] == 0
    # nine digits that fail the 11-test, or digits within a longer number, are no BSN
    not_bsn = bsn[:8] + str((int(bsn[8]) + 1) % 10)
    for resource_id in (not_bsn, f"1{bsn}"):
        body = {"resourceType": "Patient", "id": resource_id}
        assert client.put(f"Patient/{resource_id}", body).status_code == 201, resource_id
