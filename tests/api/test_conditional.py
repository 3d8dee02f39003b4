"""Conditional create, update, delete and JSON Patch."""

from __future__ import annotations

from tests.support.fhirclient import FhirClient

from .builders import BSN, patient

BY_BSN = f"identifier={BSN}|999911120"


def test_conditional_create(client: FhirClient) -> None:
    first = client.post("Patient", patient(), headers={"If-None-Exist": BY_BSN})
    assert first.status_code == 201
    second = client.post("Patient", patient(), headers={"If-None-Exist": BY_BSN})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    client.create(patient())  # a second match, created unconditionally
    third = client.post("Patient", patient(), headers={"If-None-Exist": BY_BSN})
    assert third.status_code == 412


def test_conditional_update(client: FhirClient) -> None:
    created = client.put(f"Patient?{BY_BSN}", patient())
    assert created.status_code == 201
    pid = created.json()["id"]
    updated = client.put(f"Patient?{BY_BSN}", {**patient(), "gender": "female"})
    assert updated.status_code == 200
    assert updated.json()["id"] == pid
    assert updated.json()["meta"]["versionId"] == "2"
    mismatch = client.put(f"Patient?{BY_BSN}", {**patient(), "id": "other"})
    assert mismatch.status_code == 400


def test_conditional_delete(client: FhirClient) -> None:
    pid = client.create(patient())["id"]
    assert client.delete(f"Patient?{BY_BSN}").status_code == 204
    assert client.get(f"Patient/{pid}").status_code == 410
    assert client.delete(f"Patient?{BY_BSN}").status_code == 204
    client.create(patient())
    client.create(patient())
    assert client.delete(f"Patient?{BY_BSN}").status_code == 412


def test_conditional_needs_criteria(client: FhirClient) -> None:
    assert client.delete("Patient").status_code == 400


def test_json_patch(client: FhirClient) -> None:
    pid = client.create(patient())["id"]
    response = client.patch(
        f"Patient/{pid}",
        [
            {"op": "replace", "path": "/name/0/family", "value": "de Vries"},
            {"op": "add", "path": "/gender", "value": "female"},
        ],
        headers={"If-Match": 'W/"1"'},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"][0]["family"] == "de Vries"
    assert body["meta"]["versionId"] == "2"
    history = client.get(f"Patient/{pid}/_history").json()
    assert history["total"] == 2


def test_json_patch_failures_store_nothing(client: FhirClient) -> None:
    pid = client.create(patient())["id"]
    invalid = client.patch(f"Patient/{pid}", [{"op": "add", "path": "/gender", "value": 12}])
    assert invalid.status_code == 400
    failed_test = client.patch(f"Patient/{pid}", [{"op": "test", "path": "/gender", "value": "x"}])
    assert failed_test.status_code == 422
    stale = client.patch(
        f"Patient/{pid}",
        [{"op": "add", "path": "/gender", "value": "male"}],
        headers={"If-Match": 'W/"5"'},
    )
    assert stale.status_code == 412
    change_id = client.patch(f"Patient/{pid}", [{"op": "replace", "path": "/id", "value": "x"}])
    assert change_id.status_code == 422
    malformed = client.patch(f"Patient/{pid}", {"op": "add"})
    assert malformed.status_code == 400
    assert client.get(f"Patient/{pid}").json()["meta"]["versionId"] == "1"
    wrong_type = client.request(
        "PATCH", f"Patient/{pid}", content=b"{}", headers={"Content-Type": "application/fhir+json"}
    )
    assert wrong_type.status_code == 415
