"""Bad input gets a clear 4xx with an OperationOutcome and stores nothing."""

from __future__ import annotations

from tests.support.fhirclient import FhirClient

from .builders import patient, stored_versions


def _outcome(response_json: dict[str, object]) -> None:
    assert response_json["resourceType"] == "OperationOutcome"


def _nothing_stored(client: FhirClient) -> None:
    assert stored_versions(client) == 0


def test_malformed_json(client: FhirClient) -> None:
    response = client.post(
        "Patient",
        content=b'{"resourceType": "Patient",',
        headers={"Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 400
    _outcome(response.json())
    _nothing_stored(client)


def test_wrong_resource_type(client: FhirClient) -> None:
    response = client.post("Patient", {"resourceType": "Practitioner"})
    assert response.status_code == 400
    assert "resourceType" in response.json()["issue"][0]["diagnostics"]
    _nothing_stored(client)


def test_invalid_resource_names_path(client: FhirClient) -> None:
    response = client.post("Patient", {**patient(), "name": [{"family": 12, "given": "x"}]})
    assert response.status_code == 400
    expressions = [e for issue in response.json()["issue"] for e in issue.get("expression", [])]
    assert any(e.startswith("Patient.name[0]") for e in expressions)
    unknown = client.post("Patient", {**patient(), "nickname": "Ans"})
    assert unknown.status_code == 400
    assert "Patient.nickname" in unknown.json()["issue"][0]["expression"]
    _nothing_stored(client)


def test_body_too_large(client: FhirClient) -> None:
    big = {**patient(), "text": {"status": "generated", "div": "<div>" + "x" * 300_000 + "</div>"}}
    response = client.post("Patient", big)
    assert response.status_code == 413
    _outcome(response.json())
    _nothing_stored(client)


def test_unsupported_content_type(client: FhirClient) -> None:
    response = client.post(
        "Patient", content=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert response.status_code == 415
    _outcome(response.json())


def test_xml_not_acceptable(client: FhirClient) -> None:
    response = client.get("Patient", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 406


def test_non_object_body_and_empty_body(client: FhirClient) -> None:
    assert (
        client.post(
            "Patient", content=b"[1,2]", headers={"Content-Type": "application/fhir+json"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "Patient", content=b"", headers={"Content-Type": "application/fhir+json"}
        ).status_code
        == 400
    )
    _nothing_stored(client)


def test_invalid_id_in_url(client: FhirClient) -> None:
    response = client.put("Patient/bad$id", {**patient(), "id": "bad$id"})
    assert response.status_code == 400
