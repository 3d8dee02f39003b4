"""Bulk creation (the audit trail's path) stores what a single write stores."""

from __future__ import annotations

from sqlalchemy import Engine

from pgo_service.db.engine import transaction
from pgo_service.fhir.search.execute import find_matches
from pgo_service.fhir.store import ResourceStore


def test_create_many_is_read_history_and_search_alike(db_engine: Engine) -> None:
    bodies = [
        (
            f"obs-{n}",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": f"c{n % 2}"}]},
                "subject": {"reference": "Patient/anna"},
            },
        )
        for n in range(5)
    ]
    with transaction(db_engine) as conn:
        assert ResourceStore(conn).create_many("Observation", bodies) == 5
        assert ResourceStore(conn).create_many("Observation", []) == 0
    with transaction(db_engine, write=False) as conn:
        store = ResourceStore(conn)
        stored = store.read("Observation", "obs-3")
        assert stored is not None and stored.version_id == 1
        assert stored.patient_id == "anna"
        assert store.vread("Observation", "obs-3", 1) is not None
        found = find_matches(conn, "Observation", [("code", "http://loinc.org|c1")], limit=10)
        assert sorted(f.id for f in found) == ["obs-1", "obs-3"]
        by_patient = find_matches(conn, "Observation", [("subject", "Patient/anna")], limit=10)
        assert len(by_patient) == 5
