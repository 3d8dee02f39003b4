"""The body a push sends: our references become the provider's, or a logical
identifier reference, or display text; never one of our ids."""

from __future__ import annotations

from typing import Any

from pgo_service.sync.push_body import (
    RemoteReference,
    local_reference,
    local_references,
    outbound_body,
)

AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"
OWN = {"system": "https://pgo-service.nl/fhir/NamingSystem/pgo-resource", "value": "afspraak-1"}


def _agreement() -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "afspraak-1",
        "meta": {"versionId": "3", "lastUpdated": "2026-12-01T12:00:00Z"},
        "identifier": [
            {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999911120"},
            {"system": "urn:oid:2.16.528.1.1007.3.3.1234567.1.42", "value": "A-7"},
        ],
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/anna"},
        "partOf": [{"reference": "CarePlan/plan-1"}],
        "goal": [{"reference": "Goal/goal-1", "display": "Zelfstandig wonen"}],
        "contained": [{"resourceType": "Goal", "id": "g"}],
        "addresses": [{"reference": "#g"}],
        "activity": [
            {
                "detail": {
                    "status": "in-progress",
                    "performer": [
                        {"reference": "Practitioner/nurse-1"},
                        {"reference": "RelatedPerson/sister", "display": "Els"},
                        {"reference": "https://ehr.example/fhir/Practitioner/9"},
                        {"reference": "urn:uuid:0b8f2a57-3d37-4c1e-9bb9-5f1e1f4a8d00"},
                    ],
                }
            }
        ],
    }


def test_references_become_the_providers_an_identifier_or_a_display() -> None:
    known = {
        "Goal/goal-1": RemoteReference(reference="Goal/ehr-goal-9"),
        "Practitioner/nurse-1": RemoteReference(identifier={"system": AGB, "value": "01234567"}),
    }
    body = outbound_body(_agreement(), known, OWN)
    assert "id" not in body and "meta" not in body
    assert body["goal"] == [{"reference": "Goal/ehr-goal-9", "display": "Zelfstandig wonen"}]
    assert body["subject"] == {"type": "Patient", "display": "De cliënt"}
    assert body["partOf"] == [
        {"type": "CarePlan", "display": "Zorgleefplan of afspraak in de PGO van de cliënt"}
    ]
    assert body["addresses"] == [{"reference": "#g"}]  # contained: ours to send along
    performers = body["activity"][0]["detail"]["performer"]
    assert performers[0] == {
        "identifier": {"system": AGB, "value": "01234567"},
        "type": "Practitioner",
        "display": "Practitioner in de PGO van de cliënt",
    }
    assert performers[1] == {"type": "RelatedPerson", "display": "Els"}
    assert performers[2] == {"reference": "https://ehr.example/fhir/Practitioner/9"}
    assert performers[3] == {"display": "Verwijzing in de PGO"}


def test_no_local_id_and_no_bsn_leaves() -> None:
    body = outbound_body(_agreement(), {})
    assert list(local_references(body)) == []
    text = str(body)
    for ours in ("anna", "plan-1", "goal-1", "nurse-1", "sister", "999911120"):
        assert ours not in text
    assert body["identifier"] == [
        {"system": "urn:oid:2.16.528.1.1007.3.3.1234567.1.42", "value": "A-7"}
    ]


def test_the_identifier_the_push_addresses_it_by_is_added_once() -> None:
    body = outbound_body(_agreement(), {}, OWN)
    assert body["identifier"][-1] == OWN
    again = outbound_body({**_agreement(), "identifier": body["identifier"]}, {}, OWN)
    assert again["identifier"].count(OWN) == 1
    bare = outbound_body({"resourceType": "Goal", "id": "g"}, {})
    assert "identifier" not in bare


def test_the_original_is_not_changed() -> None:
    original = _agreement()
    outbound_body(original, {"Goal/goal-1": RemoteReference(reference="Goal/x")}, OWN)
    assert original == _agreement()


def test_local_reference() -> None:
    assert local_reference("Goal/g-1") == "Goal/g-1"
    assert local_reference("Goal/g-1/_history/2") == "Goal/g-1"
    assert local_reference("#g") is None
    assert local_reference("https://ehr.example/fhir/Goal/1") is None
    assert local_reference("urn:uuid:0b8f2a57-3d37-4c1e-9bb9-5f1e1f4a8d00") is None
