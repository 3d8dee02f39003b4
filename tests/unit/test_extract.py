from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import pytest

from pgo_service.fhir.compartment import patient_compartment
from pgo_service.fhir.search.extract import extract
from pgo_service.fhir.search.index import (
    DateEntry,
    IndexEntry,
    QuantityEntry,
    ReferenceEntry,
    StringEntry,
    TokenEntry,
    UriEntry,
)
from pgo_service.fhir.search.normalize import MAX_TIME, MIN_TIME, date_range

SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


def of(entries: list[IndexEntry], param: str) -> list[IndexEntry]:
    return [e for e in entries if e.param == param]


def ref(param: str, type_: str | None, id_: str | None, url: str | None = None) -> ReferenceEntry:
    return ReferenceEntry(param, type_, id_, url, None, None)


def day(value: str, param: str) -> DateEntry:
    return DateEntry(param, *date_range(value))


def care_plan(activities: int = 2) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "cp1",
        "meta": {
            "lastUpdated": "2024-03-01T10:00:00Z",
            "profile": ["http://example.org/StructureDefinition/zorgleefplan"],
            "tag": [{"system": "http://example.org/tags", "code": "pilot"}],
        },
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-01-01"},
        "category": [
            {
                "coding": [{"system": SNOMED, "code": "734163000", "display": "Care Plan"}],
                "text": "Zorgleefplan",
            }
        ],
        "careTeam": [{"reference": "CareTeam/ct1"}],
        "instantiatesCanonical": ["http://example.org/PlanDefinition/zlp|1.0"],
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "code": {"text": f"Wandelen {i}"},
                    "performer": [
                        {"reference": f"Practitioner/pr{i}"},
                        {"reference": "Patient/p1"},
                    ],
                    "scheduledPeriod": {"start": "2024-02-01", "end": "2024-02-29"},
                }
            }
            for i in range(activities)
        ],
    }


def test_care_plan_entries() -> None:
    entries = extract("CarePlan", care_plan())
    assert of(entries, "_id") == [TokenEntry("_id", None, "cp1", None)]
    assert of(entries, "_lastUpdated") == [day("2024-03-01T10:00:00Z", "_lastUpdated")]
    assert of(entries, "_profile") == [
        UriEntry("_profile", "http://example.org/StructureDefinition/zorgleefplan")
    ]
    assert of(entries, "_tag") == [TokenEntry("_tag", "http://example.org/tags", "pilot", None)]
    assert of(entries, "status") == [TokenEntry("status", None, "active", None)]
    assert of(entries, "subject") == [ref("subject", "Patient", "p1")]
    assert of(entries, "patient") == [ref("patient", "Patient", "p1")]
    assert of(entries, "care-team") == [ref("care-team", "CareTeam", "ct1")]
    assert of(entries, "category") == [
        TokenEntry("category", SNOMED, "734163000", "care plan"),
        TokenEntry("category", None, None, "zorgleefplan"),
    ]
    start = date_range("2024-01-01")[0]
    assert of(entries, "date") == [DateEntry("date", start, MAX_TIME)]
    period = (date_range("2024-02-01")[0], date_range("2024-02-29")[1])
    assert of(entries, "activity-date") == [DateEntry("activity-date", *period)]
    assert of(entries, "performer") == [
        ref("performer", "Practitioner", "pr0"),
        ref("performer", "Patient", "p1"),
        ref("performer", "Practitioner", "pr1"),
    ]
    assert of(entries, "activity-code") == [
        TokenEntry("activity-code", None, None, "wandelen 0"),
        TokenEntry("activity-code", None, None, "wandelen 1"),
    ]
    assert of(entries, "instantiates-canonical") == [
        ref("instantiates-canonical", None, None, "http://example.org/PlanDefinition/zlp|1.0")
    ]


def test_entries_are_deduplicated() -> None:
    entries = extract("CarePlan", care_plan(activities=20))
    assert len(entries) == len(set(entries))
    assert of(entries, "activity-date") == [
        DateEntry("activity-date", date_range("2024-02-01")[0], date_range("2024-02-29")[1])
    ]


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "active": True,
    "identifier": [
        {
            "system": "http://fhir.nl/fhir/NamingSystem/bsn",
            "value": "999911120",
            "type": {"text": "BSN"},
        }
    ],
    "name": [
        {"family": "Jänssen", "given": ["Anna", "Maria"], "prefix": ["Dr."], "text": "Anna Jänssen"}
    ],
    "telecom": [
        {"system": "email", "value": "anna@example.org", "use": "home"},
        {"system": "phone", "value": "+31 6 12345678"},
    ],
    "gender": "female",
    "birthDate": "1980-05-17",
    "deceasedBoolean": False,
    "address": [{"line": ["Hoofdstraat 1"], "city": "Utrecht", "country": "NL"}],
    "generalPractitioner": [{"reference": "Practitioner/gp1"}],
}


def test_patient_entries() -> None:
    entries = extract("Patient", PATIENT)
    assert of(entries, "family") == [StringEntry("family", "janssen", "Jänssen")]
    assert of(entries, "given") == [
        StringEntry("given", "anna", "Anna"),
        StringEntry("given", "maria", "Maria"),
    ]
    assert of(entries, "name") == [
        StringEntry("name", "janssen", "Jänssen"),
        StringEntry("name", "anna", "Anna"),
        StringEntry("name", "maria", "Maria"),
        StringEntry("name", "dr.", "Dr."),
        StringEntry("name", "anna janssen", "Anna Jänssen"),
    ]
    assert of(entries, "identifier") == [
        TokenEntry("identifier", "http://fhir.nl/fhir/NamingSystem/bsn", "999911120", "bsn")
    ]
    assert of(entries, "telecom") == [
        TokenEntry("telecom", None, "anna@example.org", None),
        TokenEntry("telecom", None, "+31 6 12345678", None),
    ]
    assert of(entries, "email") == [TokenEntry("email", None, "anna@example.org", None)]
    assert of(entries, "phone") == [TokenEntry("phone", None, "+31 6 12345678", None)]
    assert of(entries, "birthdate") == [day("1980-05-17", "birthdate")]
    assert of(entries, "deceased") == [TokenEntry("deceased", None, "false", None)]
    assert of(entries, "death-date") == []
    assert of(entries, "active") == [TokenEntry("active", None, "true", None)]
    assert of(entries, "gender") == [TokenEntry("gender", None, "female", None)]
    assert of(entries, "address") == [
        StringEntry("address", "hoofdstraat 1", "Hoofdstraat 1"),
        StringEntry("address", "utrecht", "Utrecht"),
        StringEntry("address", "nl", "NL"),
    ]
    assert of(entries, "address-city") == [StringEntry("address-city", "utrecht", "Utrecht")]
    assert of(entries, "general-practitioner") == [
        ref("general-practitioner", "Practitioner", "gp1")
    ]


def test_deceased_date_time() -> None:
    patient = {"resourceType": "Patient", "id": "p2", "deceasedDateTime": "2023-07"}
    entries = extract("Patient", patient)
    assert of(entries, "deceased") == [TokenEntry("deceased", None, "true", None)]
    assert of(entries, "death-date") == [day("2023-07", "death-date")]


def test_strings_are_truncated_to_the_column_size() -> None:
    long = "x" * 600
    entries = extract("Patient", {"resourceType": "Patient", "name": [{"family": long}]})
    assert of(entries, "family") == [StringEntry("family", "x" * 512, "x" * 512)]


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        (Decimal("72.50"), 72.495, 72.505),
        (Decimal("100"), 99.5, 100.5),
        (Decimal("1E+2"), 50.0, 150.0),
        (72, 71.5, 72.5),
        (0.5, 0.45, 0.55),
    ],
)
def test_observation_value_quantity_precision(value: Any, low: float, high: float) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "valueQuantity": {"value": value, "unit": "kg", "system": UCUM, "code": "kg"},
    }
    entries = of(extract("Observation", observation), "value-quantity")
    assert len(entries) == 1
    entry = entries[0]
    assert isinstance(entry, QuantityEntry)
    assert (entry.system, entry.code) == (UCUM, "kg")
    assert entry.low == pytest.approx(low)
    assert entry.high == pytest.approx(high)


def test_observation_entries() -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "BP"}]},
        "subject": {"reference": "Patient/p1/_history/3"},
        "effectivePeriod": {"end": "2024-03-01"},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": Decimal("120"), "unit": "mmHg"},
            }
        ],
        "valueString": "normaal",
    }
    entries = extract("Observation", observation)
    assert of(entries, "subject") == [ref("subject", "Patient", "p1")]
    assert of(entries, "date") == [DateEntry("date", MIN_TIME, date_range("2024-03-01")[1])]
    assert of(entries, "component-value-quantity") == [
        QuantityEntry("component-value-quantity", 119.5, 120.5, None, "mmHg")
    ]
    assert of(entries, "value-quantity") == []
    assert of(entries, "value-string") == [StringEntry("value-string", "normaal", "normaal")]
    assert of(entries, "combo-code") == [
        TokenEntry("combo-code", "http://loinc.org", "85354-9", "bp"),
        TokenEntry("combo-code", "http://loinc.org", "8480-6", None),
    ]


def test_sampled_data_and_unparsable_dates_are_skipped() -> None:
    observation = {
        "resourceType": "Observation",
        "effectiveDateTime": "yesterday",
        "valueSampledData": {"origin": {"value": 1}, "data": "1 2 3"},
    }
    entries = extract("Observation", observation)
    assert of(entries, "date") == []
    assert of(entries, "value-quantity") == []


def test_goal_start_date_and_target() -> None:
    goal = {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "startDate": "2024-04-01",
        "target": [{"dueDate": "2024-12-31"}, {"dueDuration": {"value": 3}}],
        "subject": {"reference": "Patient/p1"},
    }
    entries = extract("Goal", goal)
    assert of(entries, "start-date") == [day("2024-04-01", "start-date")]
    assert of(entries, "target-date") == [day("2024-12-31", "target-date")]
    assert of(entries, "patient") == [ref("patient", "Patient", "p1")]
    assert of(entries, "lifecycle-status") == [TokenEntry("lifecycle-status", None, "active", None)]


def test_goal_with_coded_start_has_no_start_date() -> None:
    goal = {"resourceType": "Goal", "startCodeableConcept": {"text": "na opname"}}
    assert of(extract("Goal", goal), "start-date") == []


def test_consent_provisions() -> None:
    consent = {
        "resourceType": "Consent",
        "status": "active",
        "patient": {"reference": "Patient/p1"},
        "dateTime": "2024-01-15T09:30:00+01:00",
        "provision": {
            "type": "permit",
            "period": {"start": "2024-01-15", "end": "2025-01-14"},
            "actor": [
                {
                    "role": {"text": "huisarts"},
                    "reference": {
                        "identifier": {
                            "system": "http://fhir.nl/fhir/NamingSystem/uzi",
                            "value": "1",
                        }
                    },
                },
                {"role": {"text": "mantelzorger"}, "reference": {"reference": "RelatedPerson/rp1"}},
            ],
            "action": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentaction",
                            "code": "access",
                        }
                    ]
                }
            ],
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}
            ],
            "data": [{"meaning": "related", "reference": {"reference": "CarePlan/cp1"}}],
        },
    }
    entries = extract("Consent", consent)
    assert of(entries, "patient") == [ref("patient", "Patient", "p1")]
    assert of(entries, "actor") == [
        ReferenceEntry("actor", None, None, None, "http://fhir.nl/fhir/NamingSystem/uzi", "1"),
        ref("actor", "RelatedPerson", "rp1"),
    ]
    assert of(entries, "action") == [
        TokenEntry("action", "http://terminology.hl7.org/CodeSystem/consentaction", "access", None)
    ]
    assert of(entries, "purpose") == [
        TokenEntry("purpose", "http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT", None)
    ]
    assert of(entries, "data") == [ref("data", "CarePlan", "cp1")]
    period = (date_range("2024-01-15")[0], date_range("2025-01-14")[1])
    assert of(entries, "period") == [DateEntry("period", *period)]
    assert of(entries, "date") == [day("2024-01-15T09:30:00+01:00", "date")]


def test_audit_event_entries() -> None:
    audit = {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "action": "R",
        "recorded": "2024-05-01T12:00:00.123Z",
        "outcome": "0",
        "agent": [
            {"who": {"reference": "Practitioner/pr1"}, "requestor": True, "altId": "uzi-1"},
            {"who": {"reference": "Patient/p1"}, "requestor": False},
        ],
        "source": {"observer": {"reference": "Device/d1"}},
        "entity": [{"what": {"reference": "CarePlan/cp1"}}, {"what": {"reference": "Patient/p1"}}],
    }
    entries = extract("AuditEvent", audit)
    assert of(entries, "date") == [day("2024-05-01T12:00:00.123Z", "date")]
    assert of(entries, "type") == [
        TokenEntry("type", "http://dicom.nema.org/resources/ontology/DCM", "110110", None)
    ]
    assert of(entries, "action") == [TokenEntry("action", None, "R", None)]
    assert of(entries, "altid") == [TokenEntry("altid", None, "uzi-1", None)]
    assert of(entries, "agent") == [
        ref("agent", "Practitioner", "pr1"),
        ref("agent", "Patient", "p1"),
    ]
    assert of(entries, "patient") == [ref("patient", "Patient", "p1")]
    assert of(entries, "entity") == [
        ref("entity", "CarePlan", "cp1"),
        ref("entity", "Patient", "p1"),
    ]
    assert of(entries, "source") == [ref("source", "Device", "d1")]
    assert patient_compartment("AuditEvent", audit) == "p1"


def test_task_for() -> None:
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "for": {"reference": "Patient/p9"},
        "owner": {"reference": "https://zorg.example/fhir/Practitioner/pr2"},
        "executionPeriod": {"start": "2024-06-01T08:00:00Z"},
    }
    entries = extract("Task", task)
    assert of(entries, "subject") == [ref("subject", "Patient", "p9")]
    assert of(entries, "patient") == [ref("patient", "Patient", "p9")]
    assert of(entries, "owner") == [
        ref("owner", "Practitioner", "pr2", "https://zorg.example/fhir/Practitioner/pr2")
    ]
    start = date_range("2024-06-01T08:00:00Z")[0]
    assert of(entries, "period") == [DateEntry("period", start, MAX_TIME)]
    assert patient_compartment("Task", task) == "p9"


def test_task_for_a_group_is_not_a_patient_reference() -> None:
    task = {"resourceType": "Task", "for": {"reference": "Group/g1"}}
    entries = extract("Task", task)
    assert of(entries, "subject") == [ref("subject", "Group", "g1")]
    assert of(entries, "patient") == []
    assert patient_compartment("Task", task) is None


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"reference": "Group/g1/_history/2"}, ref("subject", "Group", "g1")),
        (
            {"reference": "https://elders.example/fhir/Patient/p1"},
            ref("subject", "Patient", "p1", "https://elders.example/fhir/Patient/p1"),
        ),
        (
            {"reference": "https://elders.example/fhir/Encounter/e1"},
            ref("subject", None, None, "https://elders.example/fhir/Encounter/e1"),
        ),
        ({"reference": "urn:uuid:1b2c"}, ref("subject", None, None, "urn:uuid:1b2c")),
        (
            {"reference": "Patient/p1", "identifier": {"system": "s", "value": "v"}},
            ReferenceEntry("subject", "Patient", "p1", None, "s", "v"),
        ),
        (
            {"type": "Patient", "identifier": {"system": "s", "value": "v"}},
            ReferenceEntry("subject", None, None, None, "s", "v"),
        ),
        ({"reference": "#contained"}, None),
        ({"display": "Jan"}, None),
    ],
)
def test_reference_forms(reference: dict[str, Any], expected: ReferenceEntry | None) -> None:
    goal = {"resourceType": "Goal", "subject": reference}
    assert of(extract("Goal", goal), "subject") == ([expected] if expected else [])


def test_long_urls_are_truncated() -> None:
    url = "https://example.org/" + "a" * 2000
    goal = {"resourceType": "Goal", "subject": {"reference": url}}
    assert of(extract("Goal", goal), "subject") == [ref("subject", None, None, url[:1024])]


def test_condition_onset_age_and_range() -> None:
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "onsetAge": {"value": 65, "system": UCUM, "code": "a", "unit": "years"},
        "abatementRange": {"low": {"value": 70, "unit": "years"}},
    }
    entries = extract("Condition", condition)
    assert of(entries, "onset-age") == [QuantityEntry("onset-age", 64.5, 65.5, UCUM, "a")]
    assert of(entries, "abatement-age") == [
        QuantityEntry("abatement-age", 70.0, sys.float_info.max, None, "years")
    ]


def test_timing_events_and_bounds() -> None:
    care_plan_ = {
        "resourceType": "CarePlan",
        "activity": [
            {
                "detail": {
                    "scheduledTiming": {
                        "event": ["2024-02-01", "not a date"],
                        "repeat": {"boundsPeriod": {"start": "2024-03-01", "end": "2024-03-31"}},
                    }
                }
            },
            {"detail": {"scheduledString": "elke ochtend"}},
        ],
    }
    entries = extract("CarePlan", care_plan_)
    assert of(entries, "activity-date") == [
        day("2024-02-01", "activity-date"),
        DateEntry("activity-date", date_range("2024-03-01")[0], date_range("2024-03-31")[1]),
    ]


def test_organization_and_practitioner_role() -> None:
    organization = {
        "resourceType": "Organization",
        "name": "Huisartsenpraktijk De Linde",
        "alias": ["De Linde"],
        "active": False,
    }
    entries = extract("Organization", organization)
    assert of(entries, "name") == [
        StringEntry("name", "huisartsenpraktijk de linde", "Huisartsenpraktijk De Linde"),
        StringEntry("name", "de linde", "De Linde"),
    ]
    assert of(entries, "active") == [TokenEntry("active", None, "false", None)]
    role = {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": "Practitioner/pr1"},
        "period": {"start": "2020", "end": "2021"},
    }
    role_entries = extract("PractitionerRole", role)
    assert of(role_entries, "practitioner") == [ref("practitioner", "Practitioner", "pr1")]
    period = (date_range("2020")[0], date_range("2021")[1])
    assert of(role_entries, "date") == [DateEntry("date", *period)]


def test_document_reference_location_uri() -> None:
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [
            {"attachment": {"url": "https://docs.example/1.pdf", "contentType": "application/pdf"}}
        ],
    }
    entries = extract("DocumentReference", document)
    assert of(entries, "location") == [UriEntry("location", "https://docs.example/1.pdf")]
    assert of(entries, "contenttype") == [TokenEntry("contenttype", None, "application/pdf", None)]


def test_unsupported_type_has_no_entries() -> None:
    assert extract("Encounter", {"resourceType": "Encounter", "id": "e1"}) == []


@pytest.mark.parametrize(
    ("resource_type", "resource", "expected"),
    [
        ("Patient", {"id": "p1"}, "p1"),
        ("Patient", {}, None),
        ("CarePlan", {"subject": {"reference": "Patient/p1"}}, "p1"),
        ("CarePlan", {"subject": {"reference": "Patient/p1/_history/2"}}, "p1"),
        ("CarePlan", {"subject": {"reference": "https://x.example/fhir/Patient/p1"}}, None),
        ("CarePlan", {"subject": {"reference": "urn:uuid:1b2c"}}, None),
        (
            "CarePlan",
            {
                "subject": {"reference": "Group/g1"},
                "activity": [{"detail": {"performer": [{"reference": "Patient/p3"}]}}],
            },
            "p3",
        ),
        (
            "Communication",
            {
                "recipient": [{"reference": "Patient/p2"}],
                "subject": {"reference": "Patient/p1"},
            },
            "p1",
        ),
        ("Observation", {"performer": [{"reference": "Patient/p4"}]}, "p4"),
        ("RelatedPerson", {"patient": {"reference": "Patient/p5"}}, "p5"),
        ("Practitioner", {"id": "pr1"}, None),
        ("Organization", {"id": "o1"}, None),
        ("Encounter", {"subject": {"reference": "Patient/p1"}}, None),
    ],
)
def test_patient_compartment(
    resource_type: str, resource: dict[str, Any], expected: str | None
) -> None:
    assert patient_compartment(resource_type, resource) == expected


def _stored_forms() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(body, stored document) pairs: every resource of the demo client and a few
    with client meta, as the store would give them id and meta."""
    from datetime import date

    from pgo_service.careplan.demo import demo_bundle

    bodies = [entry["resource"] for entry in demo_bundle(date(2026, 11, 24))["entry"]]
    tagged = {
        **care_plan(3),
        "meta": {"tag": [{"system": "urn:t", "code": "x"}], "profile": ["urn:p"]},
    }
    bodies += [tagged, {"resourceType": "Patient", "id": "given-by-client", "active": True}]
    pairs = []
    for number, body in enumerate(bodies):
        meta = {**body.get("meta", {}), "versionId": "3", "lastUpdated": "2026-11-24T10:00:00.5Z"}
        pairs.append((body, {**body, "id": f"r{number}", "meta": meta}))
    return pairs


def test_entries_found_before_the_write_add_up_to_those_of_the_stored_document() -> None:
    from pgo_service.fhir.search.extract import content_entries, entries_with

    pairs = _stored_forms()
    assert len({body["resourceType"] for body, _ in pairs}) >= 8
    for body, document in pairs:
        kind = body["resourceType"]
        combined = entries_with(kind, document, content_entries(kind, body))
        assert len(combined) == len(set(combined))
        assert set(combined) == set(extract(kind, document)), kind
        assert {e.param for e in combined} >= {"_id", "_lastUpdated"}
