"""An independent FHIR client library (fhirpy) against the live server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fhirpy import SyncFHIRClient

from tests.support.bsn import make_bsn

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
SMIT_BSN = make_bsn(300)


def _patient(client: SyncFHIRClient, family: str, bsn: str) -> object:
    return client.resource(
        "Patient",
        identifier=[{"system": BSN, "value": bsn}],
        name=[{"family": family, "given": ["Els"]}],
        birthDate="1950-01-01",
    )


def test_crud(live_server: str) -> None:
    client = SyncFHIRClient(f"{live_server}/fhir")
    patient = _patient(client, "Bakker", make_bsn(1))
    patient.save()
    assert patient.id
    assert patient["meta"]["versionId"] == "1"
    patient["gender"] = "female"
    patient.save()
    fetched = client.reference("Patient", patient.id).to_resource()
    assert fetched["gender"] == "female"
    assert fetched["meta"]["versionId"] == "2"
    plan = client.resource(
        "CarePlan", status="active", intent="plan", subject=patient.to_reference()
    )
    plan.save()
    found = client.resources("CarePlan").search(subject=f"Patient/{patient.id}").fetch()
    assert [p.id for p in found] == [plan.id]
    plan.delete()
    assert client.resources("CarePlan").search(subject=f"Patient/{patient.id}").fetch() == []


def test_search_paging_visits_every_resource_once(live_server: str) -> None:
    client = SyncFHIRClient(f"{live_server}/fhir")
    created = set()
    for i in range(23):
        patient = _patient(client, "Visser", make_bsn(100 + i))
        patient.save()
        created.add(patient.id)
    _patient(client, "Anders", make_bsn(200)).save()
    search = client.resources("Patient").search(family="Visser").sort("birthdate").limit(5)
    seen = [p.id for p in search.fetch_all()]
    assert len(seen) == 23
    assert set(seen) == created
    assert search.count() == 23


def test_conditional_create_through_fhirpy(live_server: str) -> None:
    client = SyncFHIRClient(f"{live_server}/fhir")
    searchset = client.resources("Patient").search(identifier=f"{BSN}|{SMIT_BSN}")

    def create(_: int) -> tuple[str, bool]:
        resource, created = searchset.get_or_create(_patient(client, "Smit", SMIT_BSN))
        return resource["id"], created

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(create, range(8)))
    assert len({rid for rid, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 7 + [True]
