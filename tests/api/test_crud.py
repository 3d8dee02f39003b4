"""read, vread, create, update, delete and versioning headers through HTTP."""

from __future__ import annotations

from tests.support.fhirclient import FhirClient

from .builders import careplan, patient


def test_create_sets_id_meta_and_headers(client: FhirClient) -> None:
    response = client.post("Patient", patient())
    assert response.status_code == 201
    body = response.json()
    assert body["meta"]["versionId"] == "1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert "last-modified" in response.headers
    read = client.get(f"Patient/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body


def test_create_ignores_client_id(client: FhirClient) -> None:
    body = client.create(patient(id="chosen-by-client"))
    assert body["id"] != "chosen-by-client"


def test_decimals_are_preserved_exactly(client: FhirClient) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "valueQuantity": {"value": 71.50, "unit": "kg"},
    }
    raw = (
        b'{"resourceType":"Observation","status":"final","code":{"text":"weight"},'
        b'"valueQuantity":{"value":71.50,"unit":"kg"}}'
    )
    response = client.post(
        "Observation", content=raw, headers={"Content-Type": "application/fhir+json"}
    )
    assert response.status_code == 201, response.text
    assert b'"value":71.50' in client.get(f"Observation/{response.json()['id']}").content
    assert observation["valueQuantity"]["value"] == 71.5


def test_update_creates_versions_and_vread(client: FhirClient) -> None:
    created = client.create(patient())
    pid = created["id"]
    changed = {**created, "gender": "female"}
    response = client.put(f"Patient/{pid}", changed)
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"2"'
    assert client.get(f"Patient/{pid}/_history/1").json().get("gender") is None
    assert client.get(f"Patient/{pid}/_history/2").json()["gender"] == "female"
    assert client.get(f"Patient/{pid}/_history/3").status_code == 404


def test_update_with_client_id_creates(client: FhirClient) -> None:
    response = client.put("Patient/anna", {**patient(), "id": "anna"})
    assert response.status_code == 201
    assert response.headers["location"].endswith("/fhir/Patient/anna/_history/1")
    assert client.get("Patient/anna").status_code == 200


def test_update_id_mismatch_and_missing_id(client: FhirClient) -> None:
    assert client.put("Patient/a", {**patient(), "id": "b"}).status_code == 400
    assert client.put("Patient/a", patient()).status_code == 400
    assert client.get("Patient/a").status_code == 404


def test_if_match(client: FhirClient) -> None:
    created = client.create(patient())
    pid = created["id"]
    stale = client.put(f"Patient/{pid}", created, headers={"If-Match": 'W/"9"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    changed = {**created, "gender": "other"}
    ok = client.put(f"Patient/{pid}", changed, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200
    assert client.put(f"Patient/{pid}", changed, headers={"If-Match": 'W/"1"'}).status_code == 412


def test_an_unchanged_update_stores_no_new_version(client: FhirClient) -> None:
    created = client.create(patient())
    pid = created["id"]
    again = client.put(f"Patient/{pid}", created)
    assert again.status_code == 200
    assert again.headers["etag"] == 'W/"1"'
    assert client.put(f"Patient/{pid}", {**created, "meta": {}}).headers["etag"] == 'W/"1"'
    assert client.get(f"Patient/{pid}/_history").json()["total"] == 1
    changed = client.put(f"Patient/{pid}", {**created, "gender": "other"})
    assert changed.headers["etag"] == 'W/"2"'


def test_conditional_read_headers(client: FhirClient) -> None:
    created = client.create(patient())
    pid = created["id"]
    assert client.get(f"Patient/{pid}", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert client.get(f"Patient/{pid}", headers={"If-None-Match": 'W/"0"'}).status_code == 200
    modified = client.get(f"Patient/{pid}").headers["last-modified"]
    assert client.get(f"Patient/{pid}", headers={"If-Modified-Since": modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(f"Patient/{pid}", headers={"If-Modified-Since": old}).status_code == 200


def test_delete_then_gone_and_history(client: FhirClient) -> None:
    pid = client.create(patient())["id"]
    deleted = client.delete(f"Patient/{pid}")
    assert deleted.status_code == 204
    gone = client.get(f"Patient/{pid}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    history = client.get(f"Patient/{pid}/_history").json()
    assert history["type"] == "history"
    assert history["total"] == 2
    assert history["entry"][0]["request"]["method"] == "DELETE"
    assert "resource" not in history["entry"][0]
    assert client.get(f"Patient/{pid}/_history/2").status_code == 410
    assert client.get(f"Patient/{pid}/_history/1").status_code == 200
    assert client.delete("Patient/never-was").status_code == 404
    recreated = client.put(f"Patient/{pid}", {**patient(), "id": pid})
    assert recreated.status_code == 201
    assert recreated.json()["meta"]["versionId"] == "3"


def test_type_and_system_history(client: FhirClient) -> None:
    first = client.create(patient())
    client.create(careplan(f"Patient/{first['id']}"))
    client.put(f"Patient/{first['id']}", {**first, "gender": "other"})
    assert client.get("Patient/_history").json()["total"] == 2
    since = first["meta"]["lastUpdated"]
    system = client.get("_history", params={"_since": since}).json()
    assert system["total"] == 3
    paged = client.get("_history", params={"_count": 1, "_since": since}).json()
    assert len(paged["entry"]) == 1
    assert any(link["relation"] == "next" for link in paged["link"])


def test_prefer_return(client: FhirClient) -> None:
    minimal = client.post("Patient", patient(), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal.headers["location"]
    outcome = client.post("Patient", patient(), headers={"Prefer": "return=OperationOutcome"})
    assert outcome.json()["resourceType"] == "OperationOutcome"


def test_unknown_type_and_paths(client: FhirClient) -> None:
    assert client.get("Medication/1").status_code == 404
    assert client.get("Medication/1").json()["resourceType"] == "OperationOutcome"
    assert client.post("Medication", {"resourceType": "Medication"}).status_code == 404
    assert client.request("POST", "Patient/1").status_code == 405
