"""CapabilityStatement and health endpoints."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pgo_service.fhir.registry import RESOURCE_TYPES
from pgo_service.fhir.search.params import search_params
from tests.support.fhirclient import FhirClient


def test_capability_statement_lists_what_is_implemented(client: FhirClient) -> None:
    statement = client.get("metadata").json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    types = [r["type"] for r in rest["resource"]]
    assert types == list(RESOURCE_TYPES)
    careplan = next(r for r in rest["resource"] if r["type"] == "CarePlan")
    names = {p["name"] for p in careplan["searchParam"]}
    assert names == set(search_params("CarePlan"))
    assert {"subject", "status", "category", "_lastUpdated"} <= names
    assert {i["code"] for i in careplan["interaction"]} >= {
        "read",
        "vread",
        "create",
        "search-type",
    }
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch", "history-system"}


def test_health(client: FhirClient) -> None:
    http: TestClient = client.http  # type: ignore[assignment]
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}


def test_unknown_operation_is_404(client: FhirClient) -> None:
    for path in ("$nope", "Patient/$nope", "Patient/1/$nope"):
        response = client.get(path)
        assert response.status_code == 404
        assert "$nope" in response.json()["issue"][0]["diagnostics"]
