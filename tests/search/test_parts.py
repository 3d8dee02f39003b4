"""A parameter that is part of another (``family`` of ``name``, ``patient`` of
``subject``): the whole's rows hold only what its parts do not, and every search on
the whole finds what it would with all of its values stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from pgo_service.db.engine import transaction
from pgo_service.db.models import INDEX_TABLES
from pgo_service.fhir.store import ResourceStore

from .builders import id_set, ids, search

PATIENTS: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "name": [
            {"family": "Smit", "given": ["Maria"], "text": "Maria Smit-Jansen", "prefix": ["Mw."]}
        ],
        "telecom": [
            {"system": "phone", "value": "0612"},
            {"system": "email", "value": "m@example.nl"},
            {"system": "fax", "value": "0300"},
        ],
        "address": [
            {
                "line": ["Dorpsstraat 1"],
                "city": "Zwolle",
                "district": "Salland",
                "postalCode": "8889 AB",
                "country": "NL",
            }
        ],
    },
    {
        "resourceType": "Patient",
        "name": [{"family": "Jansen", "given": ["Piet"]}],
        "telecom": [{"system": "phone", "value": "0699"}],
        "address": [{"city": "Utrecht"}],
    },
    {"resourceType": "Patient", "gender": "other"},
]


def _plan(subject: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": status,
        "intent": "plan",
        "subject": {"reference": subject},
    }


PLANS = {
    "cp1": _plan("Patient/p1", "active"),
    "cp2": _plan("Group/g1", "active"),
    "cp3": _plan("Patient/p2", "draft"),
}


@pytest.fixture
def stored(db_engine: Engine) -> Engine:
    with transaction(db_engine) as conn:
        store = ResourceStore(conn)
        for number, body in enumerate(PATIENTS, start=1):
            store.write("Patient", f"p{number}", body, None, method="PUT")
        for plan_id, body in PLANS.items():
            store.write("CarePlan", plan_id, body, None, method="PUT")
    return db_engine


def _rows(engine: Engine, kind: str, resource_type: str, resource_id: str) -> list[tuple[Any, ...]]:
    table = INDEX_TABLES[kind]
    with engine.connect() as conn:
        return sorted(
            tuple(row)
            for row in conn.execute(
                select(
                    table.c.param, *(c for c in table.c if c.name.startswith(("value", "target")))
                ).where(table.c.resource_type == resource_type, table.c.resource_id == resource_id)
            )
        )


def test_the_whole_stores_only_what_its_parts_do_not(stored: Engine) -> None:
    strings = _rows(stored, "string", "Patient", "p1")
    assert [r for r in strings if r[0] == "name"] == [
        ("name", "maria smit-jansen"),
        ("name", "mw."),
    ]
    assert [r for r in strings if r[0] == "phonetic"] == []
    assert [r for r in strings if r[0] == "family"] == [("family", "smit")]
    assert [r for r in strings if r[0] == "address"] == [
        ("address", "dorpsstraat 1"),
        ("address", "salland"),
    ]
    tokens = [r for r in _rows(stored, "token", "Patient", "p1") if r[0] in ("telecom", "phone")]
    assert [r[0] for r in tokens] == ["phone", "telecom"]  # the fax number is the whole's own
    assert _rows(stored, "reference", "CarePlan", "cp1") == [("patient", "Patient", "p1")]
    assert _rows(stored, "reference", "CarePlan", "cp2") == [("subject", "Group", "g1")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=maria", {"p1"}),
        ("name=smit", {"p1"}),
        ("name=mw", {"p1"}),
        ("name=jansen", {"p2"}),
        ("name:contains=jansen", {"p1", "p2"}),
        ("name:exact=Smit", {"p1"}),
        ("name:exact=smit", set()),
        ("name:missing=true", {"p3"}),
        ("name:missing=false", {"p1", "p2"}),
        ("phonetic=piet", {"p2"}),
        ("phonetic=maria smit", {"p1"}),
        ("phonetic:missing=true", {"p3"}),
        ("family=smit", {"p1"}),
        ("given=piet", {"p2"}),
        ("telecom=0612", {"p1"}),
        ("telecom=0300", {"p1"}),
        ("telecom=0699,m@example.nl", {"p1", "p2"}),
        ("telecom:missing=true", {"p3"}),
        ("telecom:not=0699", {"p1", "p3"}),
        ("phone=0300", set()),
        ("email=m@example.nl", {"p1"}),
        ("address=zwolle", {"p1"}),
        ("address=salland", {"p1"}),
        ("address=8889", {"p1"}),
        ("address=utrecht", {"p2"}),
        ("address:missing=true", {"p3"}),
        ("address-city=utrecht", {"p2"}),
        ("_has:CarePlan:subject:status=active", {"p1"}),
        ("_has:CarePlan:patient:status=draft", {"p2"}),
    ],
)
def test_patient_searches_on_a_whole(stored: Engine, query: str, expected: set[str]) -> None:
    assert id_set(stored, "Patient", query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("subject=Patient/p1", {"cp1"}),
        ("subject=p2", {"cp3"}),
        ("subject=Group/g1", {"cp2"}),
        ("subject:missing=true", set()),
        ("subject:Patient.name=maria", {"cp1"}),
        ("subject.name=piet", {"cp3"}),
        ("patient=p1", {"cp1"}),
        ("patient=g1", set()),
        ("patient:missing=true", {"cp2"}),
    ],
)
def test_care_plan_searches_on_a_whole(stored: Engine, query: str, expected: set[str]) -> None:
    assert id_set(stored, "CarePlan", query) == expected


def test_sorting_on_a_whole_uses_all_its_values(stored: Engine) -> None:
    # p1's names: maria, maria smit-jansen, mw., smit; p2's: jansen, piet
    assert ids(stored, "Patient", "_sort=name") == ["p2", "p1", "p3"]
    assert ids(stored, "Patient", "_sort=-name") == ["p1", "p2", "p3"]
    assert ids(stored, "Patient", "_sort=phonetic") == ["p2", "p1", "p3"]


def test_includes_follow_a_whole(stored: Engine) -> None:
    forward = search(stored, "CarePlan", "_id=cp1,cp2&_include=CarePlan:subject")
    assert {(f.resource_type, f.id) for f in forward.includes} == {("Patient", "p1")}
    reverse = search(stored, "Patient", "_id=p1,p2&_revinclude=CarePlan:subject")
    assert {(f.resource_type, f.id) for f in reverse.includes} == {
        ("CarePlan", "cp1"),
        ("CarePlan", "cp3"),
    }


def test_an_update_keeps_the_split(stored: Engine) -> None:
    with transaction(stored) as conn:
        store = ResourceStore(conn)
        current = store.read("CarePlan", "cp2")
        store.write("CarePlan", "cp2", _plan("Patient/p2", "active"), current, method="PUT")
    assert _rows(stored, "reference", "CarePlan", "cp2") == [("patient", "Patient", "p2")]
    assert id_set(stored, "CarePlan", "subject=Group/g1") == set()
    assert id_set(stored, "CarePlan", "subject=p2") == {"cp2", "cp3"}
