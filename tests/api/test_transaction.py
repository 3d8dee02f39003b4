"""batch and transaction Bundles."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.support.fhirclient import FhirClient

from .builders import BSN, careplan, patient, stored_versions


def _bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _post(full_url: str, resource: dict[str, Any], **request: Any) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


def test_transaction_resolves_urn_uuid_references(client: FhirClient) -> None:
    bundle = _bundle(
        "transaction",
        _post(
            "urn:uuid:11111111-1111-1111-1111-111111111111",
            careplan("urn:uuid:22222222-2222-2222-2222-222222222222"),
        ),
        _post("urn:uuid:22222222-2222-2222-2222-222222222222", patient()),
    )
    response = client.post("", bundle)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    plan_location = result["entry"][0]["response"]["location"]
    patient_location = result["entry"][1]["response"]["location"]
    patient_ref = patient_location.split("/_history")[0]
    plan = client.get(plan_location.split("/_history")[0]).json()
    assert plan["subject"]["reference"] == patient_ref


def test_transaction_is_all_or_nothing(client: FhirClient) -> None:
    bundle = _bundle(
        "transaction",
        _post("urn:uuid:a", patient()),
        _post("urn:uuid:b", {"resourceType": "Patient", "gender": 5}),
    )
    response = client.post("", bundle)
    assert response.status_code == 400
    assert "Bundle.entry[1]" in response.json()["issue"][0]["diagnostics"]
    assert stored_versions(client) == 0


def test_transaction_unresolved_urn_fails(client: FhirClient) -> None:
    bundle = _bundle("transaction", _post("urn:uuid:a", careplan("urn:uuid:missing")))
    assert client.post("", bundle).status_code == 400
    assert stored_versions(client) == 0


def test_transaction_order_and_conditional_create(client: FhirClient) -> None:
    existing = client.create(patient())
    doomed = client.create(patient(bsn="123456782", family="Weg"))
    bundle = _bundle(
        "transaction",
        {"request": {"method": "GET", "url": f"Patient/{doomed['id']}"}},
        _post("urn:uuid:p", patient(), ifNoneExist=f"identifier={BSN}|999911120"),
        _post("urn:uuid:c", careplan("urn:uuid:p")),
        {"request": {"method": "DELETE", "url": f"Patient/{doomed['id']}"}},
    )
    result = client.post("", bundle).json()
    statuses = [e["response"]["status"] for e in result["entry"]]
    # GET runs after DELETE (spec order), so it sees the deletion.
    assert statuses[0].startswith("410")
    assert statuses[1] == "200 OK"
    assert statuses[2] == "201 Created"
    assert statuses[3].startswith("204")
    plan_ref = result["entry"][2]["response"]["location"].split("/_history")[0]
    assert client.get(plan_ref).json()["subject"]["reference"] == f"Patient/{existing['id']}"


def test_transaction_rejects_two_entries_on_one_resource(client: FhirClient) -> None:
    bundle = _bundle(
        "transaction",
        {"resource": {**patient(), "id": "x"}, "request": {"method": "PUT", "url": "Patient/x"}},
        {"request": {"method": "DELETE", "url": "Patient/x"}},
    )
    assert client.post("", bundle).status_code == 400


def test_transaction_patch_entry(client: FhirClient) -> None:
    pid = client.create(patient())["id"]
    patch = [{"op": "add", "path": "/gender", "value": "female"}]
    binary = {
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64.b64encode(json.dumps(patch).encode()).decode(),
    }
    bundle = _bundle(
        "transaction", {"resource": binary, "request": {"method": "PATCH", "url": f"Patient/{pid}"}}
    )
    assert client.post("", bundle).status_code == 200
    assert client.get(f"Patient/{pid}").json()["gender"] == "female"


def test_batch_entries_fail_independently(client: FhirClient) -> None:
    bundle = _bundle(
        "batch",
        _post("urn:uuid:a", patient()),
        _post("urn:uuid:b", {"resourceType": "Patient", "gender": 5}),
        {"request": {"method": "GET", "url": "Patient/nope"}},
    )
    result = client.post("", bundle).json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses[0] == "201 Created"
    assert statuses[1].startswith("400")
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert statuses[2].startswith("404")
    assert stored_versions(client) == 1


def test_bundle_shape_errors(client: FhirClient) -> None:
    assert client.post("", patient()).status_code == 400
    assert client.post("", {"resourceType": "Bundle", "type": "collection"}).status_code == 400
    bad_entry = _bundle("transaction", {"resource": patient()})
    assert client.post("", bad_entry).status_code == 400
