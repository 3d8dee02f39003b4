"""find_matches, as used by conditional create, update and delete."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from pgo_service.fhir.errors import FhirError
from pgo_service.fhir.search.execute import find_matches

from .builders import patient, store_all


@pytest.fixture
def people(db_engine: Engine) -> Engine:
    store_all(
        db_engine,
        patient("a", identifier=[{"system": "urn:bsn", "value": "1"}]),
        patient("b", identifier=[{"system": "urn:bsn", "value": "2"}]),
        patient("c", identifier=[{"system": "urn:bsn", "value": "2"}]),
        patient("d", identifier=[{"system": "urn:bsn", "value": "2"}]),
    )
    return db_engine


def test_limit_and_ignored_controls(people: Engine) -> None:
    with people.connect() as conn:
        one = find_matches(conn, "Patient", [("identifier", "urn:bsn|1"), ("_count", "50")])
        many = find_matches(conn, "Patient", [("identifier", "urn:bsn|2")])
        none = find_matches(conn, "Patient", [("identifier", "urn:bsn|3")])
    assert [f.id for f in one] == ["a"]
    assert one[0].content.startswith(b"{") and one[0].version_id == 1
    assert len(many) == 2
    assert none == []


def test_unknown_parameters_are_rejected(people: Engine) -> None:
    with people.connect() as conn, pytest.raises(FhirError):
        find_matches(conn, "Patient", [("shoe", "1")])
