"""401 and 403 on /fhir, scopes per interaction and Bundle entry, the patient's compartment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pgo_service.auth.admin import mint_token
from pgo_service.db.engine import transaction

from .builders import PUBLIC_APP


def _token(engine: Engine, subject: str, scope: str, patient: str | None = None) -> str:
    with transaction(engine) as conn:
        return mint_token(
            conn,
            subject=subject,
            client_id=PUBLIC_APP,
            scope=scope,
            patient_id=patient,
            now=datetime.now(UTC),
        )


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


def _goal(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Zelfstandig boodschappen doen"},
        "subject": {"reference": f"Patient/{patient}"},
    }


def _seed(http: TestClient, system_bearer: str) -> dict[str, str]:
    ids = {}
    for patient in ("anna", "bert"):
        put = http.put(
            f"/fhir/Patient/{patient}",
            json={"resourceType": "Patient", "id": patient},
            headers=_as(system_bearer),
        )
        assert put.status_code in (200, 201), put.text
        created = http.post("/fhir/Goal", json=_goal(patient), headers=_as(system_bearer))
        ids[patient] = created.json()["id"]
    return ids


def test_metadata_and_discovery_need_no_token(http: TestClient) -> None:
    statement = http.get("/fhir/metadata").json()
    security = statement["rest"][0]["security"]
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"] == "http://testserver/oauth/token"
    smart = http.get("/fhir/.well-known/smart-configuration").json()
    assert smart["code_challenge_methods_supported"] == ["S256"]
    metadata = http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == "http://testserver"


def test_no_token_is_401_with_a_challenge(http: TestClient) -> None:
    for method, path in (("GET", "/fhir/Patient"), ("POST", "/fhir"), ("GET", "/fhir/$x")):
        response = http.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["resourceType"] == "OperationOutcome"


def test_access_is_checked_before_the_body(
    http: TestClient, db_engine: Engine, system_bearer: str, apps: None
) -> None:
    # Creates and updates check the body ahead of their transaction; an invalid body
    # still tells nothing to a caller without a valid token or the needed scope.
    invalid = {"resourceType": "Goal", "lifecycleStatus": "not-a-status"}
    reader = _token(db_engine, "Patient/anna", "patient/Goal.rs")
    cases = (
        ("POST", "/fhir/Goal", {"Content-Type": "application/fhir+json"}, 401),
        ("PUT", "/fhir/Goal/g1", {**_as("not-a-token")}, 401),
        ("POST", "/fhir/Goal", _as(reader), 403),
        ("PUT", "/fhir/Goal/g1", _as(reader), 403),
        ("POST", "/fhir/Goal", _as(system_bearer), 400),
    )
    for method, path, headers, status in cases:
        body = invalid if method == "POST" else {**invalid, "id": "g1"}
        response = http.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (method, path, response.text)
        assert ("Goal.description" in response.text) == (status == 400)


def test_scope_is_checked_per_interaction(
    http: TestClient, db_engine: Engine, system_bearer: str, apps: None
) -> None:
    _seed(http, system_bearer)
    reader = _token(db_engine, "Patient/anna", "patient/Goal.rs")
    assert http.get("/fhir/Goal", headers=_as(reader)).status_code == 200
    denied = http.post("/fhir/Goal", json=_goal("anna"), headers=_as(reader))
    assert denied.status_code == 403
    assert denied.json()["issue"][0]["code"] == "forbidden"
    assert http.get("/fhir/CarePlan", headers=_as(reader)).status_code == 403
    assert http.get("/fhir/_history", headers=_as(reader)).status_code == 403


def test_bundle_entries_are_checked(
    http: TestClient, db_engine: Engine, system_bearer: str, apps: None
) -> None:
    _seed(http, system_bearer)
    reader = _token(db_engine, "Patient/anna", "patient/Goal.rs")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "POST", "url": "Goal"}, "resource": _goal("anna")}],
    }
    assert http.post("/fhir", json=bundle, headers=_as(reader)).status_code == 403
    search = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": "Goal"}}],
    }
    result = http.post("/fhir", json=search, headers=_as(reader)).json()
    found = result["entry"][0]["resource"]
    subjects = {e["resource"]["subject"]["reference"] for e in found.get("entry", [])}
    assert subjects == {"Patient/anna"}


def _make_representative(http: TestClient, system_bearer: str) -> None:
    """Rob holds anna's power of attorney: a gevolmachtigde in her network."""
    rob = {
        "resourceType": "RelatedPerson",
        "id": "rob",
        "patient": {"reference": "Patient/anna"},
        "name": [{"text": "Rob"}],
    }
    assert http.put("/fhir/RelatedPerson/rob", json=rob, headers=_as(system_bearer)).is_success
    role = {"system": "https://pgo-service.nl/fhir/CodeSystem/netwerkrol", "code": "gevolmachtigde"}
    team = {
        "resourceType": "CareTeam",
        "id": "anna-netwerk",
        "status": "active",
        "subject": {"reference": "Patient/anna"},
        "participant": [
            {"role": [{"coding": [role]}], "member": {"reference": "RelatedPerson/rob"}}
        ],
    }
    put = http.put("/fhir/CareTeam/anna-netwerk", json=team, headers=_as(system_bearer))
    assert put.is_success, put.text


def test_patient_token_stays_in_the_compartment(
    http: TestClient, db_engine: Engine, system_bearer: str, apps: None
) -> None:
    goals = _seed(http, system_bearer)
    _make_representative(http, system_bearer)
    anna = _as(_token(db_engine, "RelatedPerson/rob", "user/Goal.cruds user/Patient.rs", "anna"))
    assert http.get(f"/fhir/Goal/{goals['anna']}", headers=anna).status_code == 200
    assert http.get(f"/fhir/Goal/{goals['bert']}", headers=anna).status_code == 403
    assert http.get("/fhir/Patient/bert", headers=anna).status_code == 403
    assert http.post("/fhir/Goal", json=_goal("bert"), headers=anna).status_code == 403
    moved = http.put(
        f"/fhir/Goal/{goals['anna']}", json={**_goal("bert"), "id": goals["anna"]}, headers=anna
    )
    assert moved.status_code == 403
    patch = http.patch(
        f"/fhir/Goal/{goals['bert']}",
        content=b'[{"op": "replace", "path": "/lifecycleStatus", "value": "cancelled"}]',
        headers={**anna, "Content-Type": "application/json-patch+json"},
    )
    assert patch.status_code == 403
    assert http.delete(f"/fhir/Goal/{goals['bert']}", headers=anna).status_code == 403
    listed = http.get("/fhir/Goal", headers=anna).json()
    assert [e["resource"]["id"] for e in listed["entry"]] == [goals["anna"]]
    patients = http.get("/fhir/Patient", headers=anna).json()
    assert [e["resource"]["id"] for e in patients["entry"]] == ["anna"]
    include = http.get("/fhir/Goal", params={"_include": "Goal:subject"}, headers=anna).json()
    shown = sorted(e["resource"]["id"] for e in include["entry"])
    assert shown == sorted([goals["anna"], "anna"])


def test_representation_ends_with_the_network_role(
    http: TestClient, db_engine: Engine, system_bearer: str, apps: None
) -> None:
    goals = _seed(http, system_bearer)
    _make_representative(http, system_bearer)
    rob = _as(_token(db_engine, "RelatedPerson/rob", "user/Goal.cruds user/Patient.rs", "anna"))
    assert http.get(f"/fhir/Goal/{goals['anna']}", headers=rob).status_code == 200
    team = http.get("/fhir/CareTeam/anna-netwerk", headers=_as(system_bearer)).json()
    team["participant"][0]["period"] = {"start": "2020-01-01", "end": "2021-01-01"}
    assert http.put("/fhir/CareTeam/anna-netwerk", json=team, headers=_as(system_bearer)).is_success
    assert http.get(f"/fhir/Goal/{goals['anna']}", headers=rob).status_code == 403
    assert http.get("/fhir/Goal", headers=rob).json().get("entry", []) == []


def test_correlation_id_is_echoed(http: TestClient, db_engine: Engine, apps: None) -> None:
    token = _token(db_engine, "Patient/anna", "patient/Goal.rs")
    response = http.get("/fhir/Goal", headers={**_as(token), "X-Correlation-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == "abc-123"


def test_a_request_without_correlation_id_gets_a_new_one(
    http: TestClient, db_engine: Engine, apps: None
) -> None:
    token = _token(db_engine, "Patient/anna", "patient/Goal.rs")
    malformed = {**_as(token), "X-Correlation-ID": "not one; of ours"}
    made = [
        http.get("/fhir/Goal", headers=h).headers["x-correlation-id"]
        for h in (_as(token), malformed)
    ]
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in made)
    assert made[0] != made[1]
