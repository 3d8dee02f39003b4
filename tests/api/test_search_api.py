"""Search through HTTP: the searchset Bundle, links, strictness, includes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.support.bsn import make_bsn
from tests.support.fhirclient import FhirClient

from .builders import BSN, careplan, patient


def _links(bundle: dict[str, object]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}  # type: ignore[index,union-attr]


def test_searchset_bundle_and_links_keep_the_clients_base(client: FhirClient) -> None:
    ids = sorted(client.create(patient(bsn=make_bsn(i)))["id"] for i in range(5))
    response = client.get("Patient", params={"family": "jansen", "_count": 2})
    bundle = response.json()
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 5
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match", "match"]
    assert bundle["entry"][0]["fullUrl"] == f"http://testserver/fhir/Patient/{ids[0]}"
    links = _links(bundle)
    assert links["next"].startswith("http://testserver/fhir/Patient?")
    query = parse_qs(urlsplit(links["next"]).query)
    assert query["family"] == ["jansen"]
    assert query["_offset"] == ["2"]
    seen = [e["resource"]["id"] for e in bundle["entry"]]
    while "next" in _links(bundle):
        next_url = _links(bundle)["next"].removeprefix("http://testserver/fhir/")
        bundle = client.get(next_url).json()
        seen += [e["resource"]["id"] for e in bundle["entry"]]
    assert seen == ids
    assert "previous" in _links(bundle)


def test_post_search_with_form_body(client: FhirClient) -> None:
    pid = client.create(patient())["id"]
    response = client.request(
        "POST",
        "Patient/_search",
        content=f"identifier={BSN}|999911120".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert [e["resource"]["id"] for e in response.json()["entry"]] == [pid]


def test_unknown_parameter_lenient_warns_strict_rejects(client: FhirClient) -> None:
    client.create(patient())
    lenient = client.get("Patient", params={"shoe-size": "42"}).json()
    outcomes = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcomes) == 1
    assert "shoe-size" in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    assert lenient["total"] == 1
    strict = client.get(
        "Patient", params={"shoe-size": "42"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400
    assert strict.json()["resourceType"] == "OperationOutcome"


def test_malformed_value_is_a_400(client: FhirClient) -> None:
    response = client.get("Patient", params={"birthdate": "gt-last-tuesday"})
    assert response.status_code == 400
    assert "birthdate" in response.json()["issue"][0]["diagnostics"]


def test_summary_count_and_include(client: FhirClient) -> None:
    pid = client.create(patient())["id"]
    client.create(careplan(f"Patient/{pid}"))
    client.create(careplan(f"Patient/{pid}"))
    count = client.get("CarePlan", params={"_summary": "count"}).json()
    assert count["total"] == 2
    assert "entry" not in count or count["entry"] == []
    included = client.get(
        "CarePlan", params={"subject": f"Patient/{pid}", "_include": "CarePlan:subject"}
    ).json()
    modes = sorted(e["search"]["mode"] for e in included["entry"])
    assert modes == ["include", "match", "match"]
    rev = client.get("Patient", params={"_id": pid, "_revinclude": "CarePlan:subject"}).json()
    assert sorted(e["resource"]["resourceType"] for e in rev["entry"]) == [
        "CarePlan",
        "CarePlan",
        "Patient",
    ]


def test_search_never_sees_deleted_or_stale_versions(client: FhirClient) -> None:
    created = client.create(patient(family="Oud"))
    client.put(f"Patient/{created['id']}", {**created, "name": [{"family": "Nieuw"}]})
    assert client.get("Patient", params={"family": "oud"}).json()["total"] == 0
    assert client.get("Patient", params={"family": "nieuw"}).json()["total"] == 1
    client.delete(f"Patient/{created['id']}")
    assert client.get("Patient", params={"family": "nieuw"}).json()["total"] == 0
