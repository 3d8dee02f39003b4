"""Which parameters are parts of another, and that a part never holds a value its whole
does not: the search on a whole reads the union of their rows."""

from __future__ import annotations

from typing import Any

import pytest

from pgo_service.fhir.search.extract import extract
from pgo_service.fhir.search.index import IndexEntry
from pgo_service.fhir.search.params import supported_types
from pgo_service.fhir.search.parts import parts, searched_params, without_parts

ADDRESS = ("address-city", "address-country", "address-postalcode", "address-state")
PERSON = {
    "address": ADDRESS,
    "name": ("family", "given"),
    "phonetic": ("family", "given", "name"),
    "telecom": ("email", "phone"),
}
SUBJECT = {"subject": ("patient",)}

EXPECTED = {
    "CarePlan": SUBJECT,
    "CareTeam": SUBJECT,
    "CodeSystem": {"url": ("system",)},
    "Communication": SUBJECT,
    "Condition": SUBJECT,
    "DocumentReference": SUBJECT,
    "Goal": SUBJECT,
    "Observation": SUBJECT,
    "Organization": {"address": ADDRESS},
    "Patient": PERSON,
    "Practitioner": PERSON,
    "PractitionerRole": {"telecom": ("email", "phone")},
    "Provenance": {"target": ("patient",)},
    "RelatedPerson": {
        "address": ADDRESS,
        "phonetic": ("name",),
        "telecom": ("email", "phone"),
    },
    "Task": SUBJECT,
}

# Every element the wholes above look at, with more in each than its parts select.
_PATIENT_REF = {"reference": "Patient/p1"}
SAMPLE: dict[str, Any] = {
    "name": [
        {
            "family": "Smit",
            "given": ["Maria", "Johanna"],
            "prefix": ["Mw."],
            "suffix": ["MSc"],
            "text": "Maria Smit",
        }
    ],
    "address": [
        {
            "line": ["Dorpsstraat 1"],
            "city": "Zwolle",
            "district": "Salland",
            "state": "Overijssel",
            "postalCode": "8889 AB",
            "country": "NL",
            "text": "Dorpsstraat 1, Zwolle",
        }
    ],
    "telecom": [
        {"system": "phone", "value": "0612"},
        {"system": "email", "value": "m@example.nl"},
        {"system": "fax", "value": "0300"},
    ],
    "subject": _PATIENT_REF,
    "for": _PATIENT_REF,
    "target": [_PATIENT_REF, {"reference": "Group/g1"}],
    "url": "http://example.org/CodeSystem/x",
}


def _keys(entries: list[IndexEntry], param: str) -> set[tuple[object, ...]]:
    return {
        tuple(getattr(e, name) for name in e.__slots__[1:]) for e in entries if e.param == param
    }


def test_the_registry_yields_these_parts() -> None:
    found = {t: parts(t) for t in supported_types() if parts(t)}
    assert found == EXPECTED


@pytest.mark.parametrize("resource_type", sorted(EXPECTED))
def test_a_part_holds_nothing_its_whole_does_not(resource_type: str) -> None:
    entries = extract(resource_type, {"resourceType": resource_type, "id": "x", **SAMPLE})
    for whole, own_parts in parts(resource_type).items():
        for part in own_parts:
            found = _keys(entries, part)
            assert found, (resource_type, part)  # the sample exercises every part
            assert found <= _keys(entries, whole), (resource_type, whole, part)


@pytest.mark.parametrize("resource_type", sorted(EXPECTED))
def test_the_stored_rows_of_a_whole_and_its_parts_are_all_its_entries(
    resource_type: str,
) -> None:
    entries = extract(resource_type, {"resourceType": resource_type, "id": "x", **SAMPLE})
    kept = without_parts(resource_type, entries)
    assert len(kept) < len(entries)
    for whole in parts(resource_type):
        union = set().union(*(_keys(kept, p) for p in searched_params(resource_type, whole)))
        assert union == _keys(entries, whole), (resource_type, whole)
    others = [e for e in entries if e.param not in parts(resource_type)]
    assert [e for e in kept if e.param not in parts(resource_type)] == others


def test_types_without_parts_keep_every_entry() -> None:
    body = {"resourceType": "Consent", "id": "c", "status": "active", "patient": _PATIENT_REF}
    entries = extract("Consent", body)
    assert without_parts("Consent", entries) == entries
