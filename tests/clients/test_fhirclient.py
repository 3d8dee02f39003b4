"""The SMART on FHIR Python client (fhirclient) against the live server."""

from __future__ import annotations

from fhirclient import client as smart_client
from fhirclient.models.careplan import CarePlan
from fhirclient.models.fhirreference import FHIRReference
from fhirclient.models.humanname import HumanName
from fhirclient.models.identifier import Identifier
from fhirclient.models.patient import Patient

from tests.support.bsn import make_bsn

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"


def _server(live_server: str) -> object:
    smart = smart_client.FHIRClient(
        settings={"app_id": "pgo-tests", "api_base": f"{live_server}/fhir/"}
    )
    return smart.server


def _patient(family: str, bsn: str) -> Patient:
    patient = Patient()
    name = HumanName()
    name.family = family
    name.given = ["Piet"]
    patient.name = [name]
    identifier = Identifier()
    identifier.system = BSN
    identifier.value = bsn
    patient.identifier = [identifier]
    return patient


def test_create_read_update_search(live_server: str) -> None:
    server = _server(live_server)
    created = _patient("de Boer", make_bsn(1)).create(server)
    assert created["resourceType"] == "Patient"
    patient = Patient.read(created["id"], server)
    assert patient.name[0].family == "de Boer"
    patient.gender = "male"
    patient.update(server)
    assert Patient.read(created["id"], server).gender == "male"

    plan = CarePlan()
    plan.status = "active"
    plan.intent = "plan"
    subject = FHIRReference()
    subject.reference = f"Patient/{created['id']}"
    plan.subject = subject
    plan.create(server)

    found = CarePlan.where(struct={"subject": f"Patient/{created['id']}"}).perform_resources(server)
    assert len(found) == 1
    by_name = Patient.where(struct={"family": "de boer"}).perform_resources(server)
    assert [p.id for p in by_name] == [created["id"]]


def test_paging_follows_next_links(live_server: str) -> None:
    server = _server(live_server)
    ids = {_patient("Mulder", make_bsn(100 + i)).create(server)["id"] for i in range(12)}
    search = Patient.where(struct={"family": "Mulder", "_count": "5"})
    bundle = search.perform(server)
    seen: list[str] = []
    pages = 0
    while bundle is not None:
        pages += 1
        seen += [entry.resource.id for entry in bundle.entry or []]
        next_link = next((link.url for link in bundle.link or [] if link.relation == "next"), None)
        if next_link is None:
            break
        assert next_link.startswith(live_server)
        from fhirclient.models.bundle import Bundle

        bundle = Bundle(server.request_json(next_link))
    assert pages == 3
    assert sorted(seen) == sorted(ids)
