"""$zorgleefplan: the whole plan in one request, with a bounded number of queries."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import Engine, event

from pgo_service.careplan import codes
from tests.support.fhirclient import FhirClient

from .demo import load_demo
from .test_agreements import agreement


def _summary(view: dict[str, Any]) -> dict[str, list[Any]]:
    result: dict[str, list[Any]] = {}
    for p in view["entry"][0]["resource"]["parameter"]:
        value = next(v for k, v in p.items() if k.startswith("value"))
        result.setdefault(p["name"], []).append(value)
    return result


def test_plan_view_contains_everything(client: FhirClient) -> None:
    demo = load_demo(client)
    response = client.get(f"{demo.patient}/$zorgleefplan")
    assert response.status_code == 200
    view = response.json()
    assert view["type"] == "collection"
    kinds = Counter(e["resource"]["resourceType"] for e in view["entry"][1:])
    assert kinds["CarePlan"] == 9  # the plan and its eight agreements
    assert kinds["Goal"] == 4
    assert kinds["Condition"] == 3
    assert kinds["CareTeam"] == 1
    assert kinds["PractitionerRole"] == 6
    assert kinds["Practitioner"] == 6
    assert kinds["Organization"] == 6
    assert kinds["RelatedPerson"] == 2  # daughter and neighbour; Henk is not in the network
    summary = _summary(view)
    assert summary["regiebehandelaar"] == [{"reference": demo.refs["role:Huisarts"]}]
    assert summary["gevolmachtigde"] == [{"reference": demo.refs["related:Marieke"]}]
    assert summary["evaluation-status"] == ["on-schedule"]
    assert summary["power-of-attorney"] == [True]
    by_plan = client.get(f"{demo.refs['plan']}/$zorgleefplan").json()
    assert len(by_plan["entry"]) == len(view["entry"])


def test_plan_view_errors(client: FhirClient) -> None:
    assert client.get("Patient/nobody/$zorgleefplan").status_code == 404
    patient = client.create(
        {
            "resourceType": "Patient",
            "identifier": [{"system": codes.BSN_SYSTEMS[0], "value": "123456782"}],
        }
    )
    response = client.get(f"Patient/{patient['id']}/$zorgleefplan")
    assert response.status_code == 404
    assert "no active zorgleefplan" in response.json()["issue"][0]["diagnostics"]
    assert client.get("Goal/x/$zorgleefplan").status_code == 404


def test_query_count_does_not_grow_with_the_plan(client: FhirClient, db_engine: Engine) -> None:
    demo = load_demo(client, today=date.today())
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def measure() -> int:
        statements.clear()
        event.listen(db_engine, "before_cursor_execute", count)
        try:
            assert client.get(f"{demo.patient}/$zorgleefplan").status_code == 200
        finally:
            event.remove(db_engine, "before_cursor_execute", count)
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    small = measure()
    nurse = demo.refs["role:Wijkverpleegkundige"]
    for _ in range(40):
        client.create(agreement(demo, nurse))
    assert measure() == small
    assert small <= 16
