"""Complaints go to the regiebehandelaar, who forwards them; the client follows them."""

from __future__ import annotations

from typing import Any

from pgo_service.careplan import codes
from tests.support.fhirclient import FhirClient

from .demo import load_demo


def _complaint(text: str, **extra: Any) -> dict[str, Any]:
    parameters = [{"name": "text", "valueString": text}]
    parameters += [{"name": k, "valueReference": {"reference": v}} for k, v in extra.items()]
    return {"resourceType": "Parameters", "parameter": parameters}


def _out(response: Any) -> dict[str, Any]:
    return {p["name"]: p for p in response.json()["parameter"]}


def test_complaint_reaches_the_regiebehandelaar_and_can_be_forwarded(client: FhirClient) -> None:
    demo = load_demo(client)
    nurse = demo.refs["role:Wijkverpleegkundige"]
    response = client.post(
        f"{demo.patient}/$klacht",
        _complaint("De wijkverpleging komt steeds later dan afgesproken.", about=nurse),
    )
    assert response.status_code == 201, response.text
    out = _out(response)
    gp = demo.refs["role:Huisarts"]
    assert out["regiebehandelaar"]["valueReference"]["reference"] == gp
    complaint = client.get(out["complaint"]["valueReference"]["reference"]).json()
    assert complaint["recipient"] == [{"reference": gp}]
    assert complaint["about"] == [{"reference": nurse}]
    task_ref = out["handling"]["valueReference"]["reference"]
    task = client.get(task_ref).json()
    assert task["owner"]["reference"] == gp
    assert task["status"] == "requested"

    homecare = demo.resources[nurse]["organization"]["reference"]
    forwarded = {
        **task,
        "status": "in-progress",
        "owner": {"reference": homecare},
        "businessStatus": {"text": "doorgestuurd naar Thuiszorg Rijnstad"},
        "note": [
            {
                "authorReference": {"reference": gp},
                "time": "2026-11-24T10:00:00Z",
                "text": "Doorgestuurd naar de teamleider wijkverpleging.",
            }
        ],
    }
    assert client.put(task_ref, forwarded).status_code == 200
    mine = client.get(
        "Task",
        params={
            "patient": demo.patient,
            "code": f"{codes.CATEGORY_SYSTEM}|{codes.COMPLAINT_HANDLING}",
        },
    ).json()
    assert [e["resource"]["businessStatus"]["text"] for e in mine["entry"]] == [
        "doorgestuurd naar Thuiszorg Rijnstad"
    ]
    view = client.get(f"{demo.patient}/$zorgleefplan").json()
    summary = {p["name"]: p for p in view["entry"][0]["resource"]["parameter"]}
    assert summary["open-complaints"]["valueInteger"] == 1
    assert client.put(task_ref, {**forwarded, "status": "completed"}).status_code == 200
    view = client.get(f"{demo.patient}/$zorgleefplan").json()
    summary = {p["name"]: p for p in view["entry"][0]["resource"]["parameter"]}
    assert summary["open-complaints"]["valueInteger"] == 0


def test_complaint_without_regiebehandelaar_still_lands(client: FhirClient) -> None:
    patient = client.create(
        {
            "resourceType": "Patient",
            "identifier": [{"system": codes.BSN_SYSTEMS[0], "value": "123456782"}],
        }
    )
    response = client.post(f"Patient/{patient['id']}/$klacht", _complaint("Niemand belt terug."))
    assert response.status_code == 201
    out = _out(response)
    assert "regiebehandelaar" not in out
    assert "nog geen regiebehandelaar" in out["message"]["valueString"]
    task = client.get(out["handling"]["valueReference"]["reference"]).json()
    assert "owner" not in task


def test_complaint_bad_input(client: FhirClient) -> None:
    demo = load_demo(client)
    assert client.post(f"{demo.patient}/$klacht", {"resourceType": "Parameters"}).status_code == 400
    practitioner_sender = _complaint("x", sender=demo.refs["role:Huisarts"])
    response = client.post(f"{demo.patient}/$klacht", practitioner_sender)
    assert response.status_code == 422
    found = client.get("Communication", params={"subject": demo.patient}).json()
    assert found["total"] == 0
    assert client.post("Patient/nobody/$klacht", _complaint("x")).status_code == 404
