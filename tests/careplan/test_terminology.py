"""The model's own CodeSystems and ValueSets are published as FHIR resources."""

from __future__ import annotations

from sqlalchemy import Engine

from pgo_service.careplan import codes
from pgo_service.careplan.terminology import publish
from pgo_service.db.engine import transaction
from pgo_service.fhir.store import ResourceStore
from tests.support.fhirclient import FhirClient


def test_code_systems_are_published(client: FhirClient) -> None:
    domains = client.get("CodeSystem/pgo-levensdomein")
    assert domains.status_code == 200
    body = domains.json()
    assert body["url"] == codes.DOMAIN_SYSTEM
    assert {c["code"] for c in body["concept"]} == set(codes.LIFE_DOMAINS)
    by_url = client.get("CodeSystem", params={"url": codes.ROLE_SYSTEM}).json()
    assert by_url["total"] == 1
    assert codes.REGIEBEHANDELAAR in {c["code"] for c in by_url["entry"][0]["resource"]["concept"]}
    categories = client.get("CodeSystem/pgo-zorgleefplan-categorie").json()
    assert categories["url"] == codes.CATEGORY_SYSTEM
    roles = client.get("ValueSet/pgo-netwerkrol").json()
    systems = {i["system"] for i in roles["compose"]["include"]}
    assert systems == {codes.ROLE_SYSTEM, codes.ZIB_ROLE_SYSTEM, codes.ZIB_CAREGIVER_SYSTEM}


def test_publishing_is_idempotent(client: FhirClient, db_engine: Engine) -> None:
    for _ in range(2):
        with transaction(db_engine) as conn:
            publish(ResourceStore(conn))
    assert client.get("CodeSystem/pgo-levensdomein/_history").json()["total"] == 1
