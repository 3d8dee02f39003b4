"""The audit writer indexes its events from their known shape; that must be exactly
what the generic extraction over every AuditEvent search parameter finds."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pgo_service import careplan, consent
from pgo_service.consent.audit import AccessRecord, compartment, events, index_entries
from pgo_service.fhir.compartment import patient_compartment
from pgo_service.fhir.search.extract import extract
from pgo_service.fhir.search.index import ON_RESOURCE_TABLE, ReferenceEntry
from pgo_service.fhir.store import format_instant

careplan.register_search_params()
consent.register_search_params()

_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=12)
_types = st.sampled_from(["Patient", "Goal", "CarePlan", "Consent", "Observation", "CareTeam"])
_references = st.builds(lambda t, i: f"{t}/{i}", _types, _ids)
_actors = st.one_of(
    st.none(),
    st.builds(
        lambda t, i: f"{t}/{i}",
        st.sampled_from(["Patient", "Practitioner", "PractitionerRole", "RelatedPerson"]),
        _ids,
    ),
)
_records = st.builds(
    AccessRecord,
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    path=st.sampled_from(["/Patient/p1", "/Goal", "/$zorgleefplan", "/"]),
    permitted=st.booleans(),
    actor=_actors,
    client_id=st.one_of(st.none(), _ids),
    shown=st.lists(st.tuples(_references, st.one_of(st.none(), _ids)), max_size=60).map(tuple),
    target_patient=st.one_of(st.none(), _ids),
    detail=st.one_of(st.none(), st.text(max_size=20)),
    correlation_id=st.one_of(st.none(), _ids),
    purpose=st.sampled_from(["TREAT", "PATADMIN"]),
)


@settings(max_examples=300, deadline=None)
@given(record=_records, offset=st.integers(min_value=0, max_value=10**9))
def test_the_audit_index_is_what_extraction_finds(record: AccessRecord, offset: int) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=offset)
    for event in events(record, now):
        meta = {"versionId": "1", "lastUpdated": format_instant(now + timedelta(seconds=1))}
        document = {**event, "id": "a1", "meta": meta}
        stored = [e for e in extract("AuditEvent", document) if e.param not in ON_RESOURCE_TABLE]
        assert Counter(index_entries(document)) == Counter(stored)
        assert compartment(document) == patient_compartment("AuditEvent", document)


def test_a_patient_actor_is_indexed_as_the_patient() -> None:
    record = AccessRecord("GET", "/Goal/g1", True, "Patient/p1", "app", (("Goal/g1", "p1"),))
    (event,) = events(record, datetime(2026, 1, 1, tzinfo=UTC))
    patients = [e for e in index_entries(event) if e.param == "patient"]
    assert patients == [ReferenceEntry("patient", "Patient", "p1", None, None, None)]
