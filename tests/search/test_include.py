"""_include and _revinclude, with :iterate."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from pgo_service.fhir.errors import FhirError
from pgo_service.fhir.search.execute import SearchResult

from .builders import observation, patient, search, store_all, store_deleted


@pytest.fixture
def graph(db_engine: Engine) -> Engine:
    store_all(
        db_engine,
        {"resourceType": "Organization", "id": "org", "name": "Huisartsenpraktijk"},
        {
            "resourceType": "Practitioner",
            "id": "d1",
            "name": [{"family": "Bakker"}],
        },
        {
            "resourceType": "PractitionerRole",
            "id": "role1",
            "practitioner": {"reference": "Practitioner/d1"},
            "organization": {"reference": "Organization/org"},
        },
        patient("p1", generalPractitioner=[{"reference": "Practitioner/d1"}]),
        patient("p2", managingOrganization={"reference": "Organization/org"}),
        patient("p3", generalPractitioner=[{"reference": "Practitioner/gone"}]),
        observation("o1", "Patient/p1"),
        observation("o2", "Patient/p1"),
        observation("o3", "Patient/p2"),
        {
            "resourceType": "Provenance",
            "id": "prov",
            "target": [{"reference": "Observation/o1"}, {"reference": "Patient/p2"}],
            "recorded": "2024-01-01T00:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/d1"}}],
        },
    )
    with db_engine.begin() as conn:
        store_deleted(conn, "Practitioner", "gone")
    return db_engine


def keys(result: SearchResult) -> set[str]:
    return {f"{f.resource_type}/{f.id}" for f in result.includes}


def test_include_follows_the_named_reference(graph: Engine) -> None:
    result = search(graph, "Observation", "_include=Observation:subject")
    assert keys(result) == {"Patient/p1", "Patient/p2"}
    assert len(result.includes) == 2


def test_include_of_a_page_only(graph: Engine) -> None:
    result = search(graph, "Observation", "_id=o3&_include=Observation:subject")
    assert keys(result) == {"Patient/p2"}


def test_include_target_type_and_deleted_targets(graph: Engine) -> None:
    assert keys(search(graph, "Patient", "_include=Patient:general-practitioner")) == {
        "Practitioner/d1"
    }
    only_orgs = "_include=Patient:general-practitioner:Organization"
    assert keys(search(graph, "Patient", only_orgs)) == set()


def test_wildcard_include(graph: Engine) -> None:
    result = search(graph, "Patient", "_include=Patient:*")
    assert keys(result) == {"Practitioner/d1", "Organization/org"}


def test_revinclude(graph: Engine) -> None:
    result = search(graph, "Patient", "_id=p1,p2&_revinclude=Observation:subject")
    assert keys(result) == {"Observation/o1", "Observation/o2", "Observation/o3"}
    result = search(graph, "Patient", "_id=p2&_revinclude=Provenance:target")
    assert keys(result) == {"Provenance/prov"}
    result = search(graph, "Patient", "_id=p3&_revinclude=Provenance:target")
    assert keys(result) == set()


def test_included_resources_are_not_repeated_among_matches(graph: Engine) -> None:
    result = search(graph, "Patient", "_revinclude=Patient:link&_include=Patient:link")
    assert keys(result) == set()
    result = search(graph, "Practitioner", "_revinclude=PractitionerRole:practitioner")
    assert [f.id for f in result.matches] == ["d1"]
    assert keys(result) == {"PractitionerRole/role1"}


def test_iterate(graph: Engine) -> None:
    plain = "_id=o1&_include=Observation:subject&_include=Patient:general-practitioner"
    with pytest.raises(FhirError):
        search(graph, "Observation", plain)
    iterated = "_id=o1&_include=Observation:subject&_include:iterate=Patient:general-practitioner"
    assert keys(search(graph, "Observation", iterated)) == {"Patient/p1", "Practitioner/d1"}
    deeper = iterated + "&_revinclude:iterate=PractitionerRole:practitioner"
    deeper += "&_include:iterate=PractitionerRole:organization"
    assert keys(search(graph, "Observation", deeper)) == {
        "Patient/p1",
        "Practitioner/d1",
        "PractitionerRole/role1",
        "Organization/org",
    }


def test_iterate_does_not_loop_or_duplicate(graph: Engine) -> None:
    query = "_include:iterate=Observation:subject&_revinclude:iterate=Observation:subject&_id=o1"
    result = search(graph, "Observation", query)
    assert keys(result) == {"Patient/p1", "Observation/o2"}
    assert len(result.includes) == 2
