"""Chained parameters and reverse chaining with _has."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from .builders import id_set, observation, patient, store_all


@pytest.fixture
def graph(db_engine: Engine) -> Engine:
    store_all(
        db_engine,
        {"resourceType": "Practitioner", "id": "d1", "name": [{"family": "Bakker"}]},
        {"resourceType": "Practitioner", "id": "d2", "name": [{"family": "Visser"}]},
        patient(
            "p1",
            "Jansen",
            identifier=[{"system": "urn:bsn", "value": "111"}],
            generalPractitioner=[{"reference": "Practitioner/d1"}],
        ),
        patient("p2", "Smit", generalPractitioner=[{"reference": "Practitioner/d2"}]),
        patient("p3", "Jansen"),
        observation("o1", "Patient/p1", status="final"),
        observation("o2", "Patient/p2", status="amended"),
        observation("o3", "Patient/p1", status="preliminary"),
        {
            "resourceType": "Provenance",
            "id": "prov1",
            "target": [{"reference": "Observation/o1"}],
            "recorded": "2024-01-01T00:00:00Z",
            "agent": [{"who": {"reference": "Practitioner/d1"}}],
        },
    )
    return db_engine


def test_chain_on_string(graph: Engine) -> None:
    assert id_set(graph, "Observation", "subject.name=jansen") == {"o1", "o3"}
    assert id_set(graph, "Observation", "subject:Patient.name=smit") == {"o2"}
    assert id_set(graph, "Observation", "patient.family=nobody") == set()


def test_chain_on_token_and_combined_with_local_filter(graph: Engine) -> None:
    assert id_set(graph, "Observation", "subject:Patient.identifier=urn:bsn|111") == {"o1", "o3"}
    assert id_set(graph, "Observation", "subject.identifier=urn:bsn|111&status=final") == {"o1"}
    assert id_set(graph, "Observation", "subject:Patient.identifier=urn:bsn|222") == set()


def test_chain_through_a_reference_list(graph: Engine) -> None:
    assert id_set(graph, "Patient", "general-practitioner.family=bakker") == {"p1"}
    assert id_set(graph, "Patient", "general-practitioner:Practitioner.family=visser") == {"p2"}


def test_two_level_chain(graph: Engine) -> None:
    query = "subject:Patient.general-practitioner:Practitioner.family=visser"
    assert id_set(graph, "Observation", query) == {"o2"}


def test_has_hit_and_miss(graph: Engine) -> None:
    assert id_set(graph, "Patient", "_has:Observation:patient:status=final") == {"p1"}
    assert id_set(graph, "Patient", "_has:Observation:patient:status=amended,final") == {"p1", "p2"}
    assert id_set(graph, "Patient", "_has:Observation:patient:status=cancelled") == set()
    assert id_set(graph, "Patient", "_has:Observation:subject:_id=o3") == {"p1"}


def test_has_nested_once(graph: Engine) -> None:
    query = "_has:Observation:patient:_has:Provenance:target:agent=Practitioner/d1"
    assert id_set(graph, "Patient", query) == {"p1"}
    query = "_has:Observation:patient:_has:Provenance:target:agent=Practitioner/d2"
    assert id_set(graph, "Patient", query) == set()


def test_has_with_a_chain_inside(graph: Engine) -> None:
    query = "_has:Observation:patient:subject:Patient.name=smit"
    assert id_set(graph, "Patient", query) == {"p2"}
