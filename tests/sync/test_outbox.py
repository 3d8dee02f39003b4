"""The outbox on both databases: written with the change, claimed under a lease,
recorded only by the current claim, cancelled, dead-lettered, counted."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from pgo_service.db.engine import transaction
from pgo_service.db.models import resource
from pgo_service.db.sync_tables import sync_job
from pgo_service.sync.jobs import (
    CANCELLED,
    DEAD,
    DONE,
    QUEUED,
    RUNNING,
    PayloadError,
    cancel_jobs,
    check_payload,
    claim,
    dead_jobs,
    enqueue,
    outbox_status,
    record_done,
    record_failure,
    requeue,
)

from ..support.fhirclient import FhirClient

T0 = datetime(2026, 12, 1, 12, 0)
LEASE = timedelta(seconds=60)


def _enqueue(engine: Engine, **kwargs: object) -> int:
    options: dict[str, object] = {
        "now": T0,
        "max_attempts": 3,
        "provider_name": "thuiszorg@medmij",
        "patient_id": "anna",
    }
    options.update(kwargs)
    with transaction(engine) as conn:
        return enqueue(conn, "push", {"resource": "CarePlan/p1"}, **options)  # type: ignore[arg-type]


def _status(engine: Engine, job_id: int) -> str:
    with transaction(engine, write=False) as conn:
        return str(conn.execute(select(sync_job.c.status).where(sync_job.c.id == job_id)).scalar())


def test_a_job_exists_only_if_its_change_commits(db_engine: Engine) -> None:
    with pytest.raises(RuntimeError), transaction(db_engine) as conn:
        conn.execute(
            insert(resource).values(
                resource_type="CarePlan", id="p1", version_id=1, last_updated=T0, deleted=False
            )
        )
        enqueue(conn, "push", {"resource": "CarePlan/p1"}, now=T0, max_attempts=3)
        raise RuntimeError("the change fails")
    with transaction(db_engine, write=False) as conn:
        assert conn.execute(select(sync_job)).first() is None
        assert conn.execute(select(resource)).first() is None


@pytest.mark.parametrize(
    "payload",
    [
        {"access_token": "x"},
        {"nested": [{"Authorization": "Bearer x"}]},
        {"identifier": "http://fhir.nl/fhir/NamingSystem/bsn|123456782"},
        {"note": "patient 123456782"},
        {"when": datetime(2026, 1, 1)},
    ],
)
def test_payloads_carry_no_bsn_or_credentials(payload: dict[str, object]) -> None:
    with pytest.raises(PayloadError):
        check_payload(payload)


def test_payload_references_are_fine() -> None:
    check_payload({"resource": "CarePlan/123456789", "version": 3, "ids": ["a", None, True]})
    # a uuid whose hex happens to hold nine digits that pass the eleven-test is no BSN
    check_payload({"resource": "CarePlan/9f1c2d3e-aa4b-4c5d-8e6f-a123456782b0"})
    with pytest.raises(PayloadError):
        check_payload({"resource": "CarePlan/123456782"})


def test_claim_run_record(db_engine: Engine) -> None:
    job_id = _enqueue(db_engine)
    later = _enqueue(db_engine, run_after=T0 + timedelta(minutes=5))
    assert claim(db_engine, "w1", ["other"], now=T0, lease=LEASE) == []
    [job] = claim(db_engine, "w1", ["push"], now=T0, lease=LEASE, limit=5)
    assert (job.id, job.attempt, job.payload) == (job_id, 1, {"resource": "CarePlan/p1"})
    assert _status(db_engine, job_id) == RUNNING
    assert claim(db_engine, "w2", ["push"], now=T0 + timedelta(seconds=59), lease=LEASE) == []
    assert record_done(db_engine, job, now=T0 + timedelta(seconds=1))
    assert _status(db_engine, job_id) == DONE
    assert _status(db_engine, later) == QUEUED


def test_an_expired_lease_is_claimed_again_and_the_late_worker_records_nothing(
    db_engine: Engine,
) -> None:
    job_id = _enqueue(db_engine)
    [first] = claim(db_engine, "w1", ["push"], now=T0, lease=LEASE)
    [second] = claim(db_engine, "w2", ["push"], now=T0 + LEASE, lease=LEASE)
    assert (second.id, second.attempt, second.locked_by) == (job_id, 2, "w2")
    assert not record_done(db_engine, first, now=T0 + LEASE)
    assert record_failure(db_engine, first, "late", now=T0 + LEASE, retry_at=T0) is None
    assert _status(db_engine, job_id) == RUNNING
    assert record_done(db_engine, second, now=T0 + LEASE)
    with transaction(db_engine, write=False) as conn:
        counters = outbox_status(conn).counters["push"]
    assert counters == {"lease_expired": 1, "stale_result": 2, "done": 1}


def test_retries_then_dead_after_the_last_attempt(db_engine: Engine) -> None:
    job_id = _enqueue(db_engine)
    now = T0
    for attempt in (1, 2):
        [job] = claim(db_engine, "w", ["push"], now=now, lease=LEASE)
        assert job.attempt == attempt
        retry_at = now + timedelta(seconds=30)
        assert record_failure(db_engine, job, "HTTP 503", now=now, retry_at=retry_at) == QUEUED
        assert (
            claim(db_engine, "w", ["push"], now=retry_at - timedelta(seconds=1), lease=LEASE) == []
        )
        now = retry_at
    [job] = claim(db_engine, "w", ["push"], now=now, lease=LEASE)
    assert record_failure(db_engine, job, "HTTP 503", now=now, retry_at=now) == DEAD
    with transaction(db_engine, write=False) as conn:
        [dead] = dead_jobs(conn)
        status = outbox_status(conn)
    assert (dead.id, dead.attempts, dead.last_error) == (job_id, 3, "attempt 3: HTTP 503")
    assert status.counts["push"][DEAD] == 1
    assert status.counters["push"] == {"retried": 2, "dead": 1}
    with transaction(db_engine) as conn:
        assert requeue(conn, job_id, now)
        assert not requeue(conn, job_id, now)
    [job] = claim(db_engine, "w", ["push"], now=now, lease=LEASE)
    assert job.attempt == 1


def test_a_worker_lost_on_the_last_attempt_makes_the_job_dead(db_engine: Engine) -> None:
    job_id = _enqueue(db_engine, max_attempts=1)
    claim(db_engine, "w1", ["push"], now=T0, lease=LEASE)
    assert claim(db_engine, "w2", ["push"], now=T0 + LEASE, lease=LEASE) == []
    assert _status(db_engine, job_id) == DEAD
    with transaction(db_engine, write=False) as conn:
        [dead] = dead_jobs(conn)
    assert dead.last_error is not None and "w1 lost" in dead.last_error


def test_permanent_failure_is_dead_at_once(db_engine: Engine) -> None:
    job_id = _enqueue(db_engine)
    [job] = claim(db_engine, "w", ["push"], now=T0, lease=LEASE)
    assert record_failure(db_engine, job, "HTTP 400", now=T0, retry_at=None) == DEAD
    assert _status(db_engine, job_id) == DEAD


def test_cancel_for_a_patient_at_a_provider(db_engine: Engine) -> None:
    queued = _enqueue(db_engine)
    running = _enqueue(db_engine)
    other_provider = _enqueue(db_engine, provider_name="huisarts@medmij")
    other_patient = _enqueue(db_engine, patient_id="bert")
    [job] = claim(db_engine, "w", ["push"], now=T0, lease=LEASE)
    assert job.id == queued
    with transaction(db_engine) as conn:
        count = cancel_jobs(
            conn, patient_id="anna", provider_name="thuiszorg@medmij", now=T0, reason="consent"
        )
    assert count == 2
    # The job in hand finishes, but its outcome is not recorded and it never runs again.
    assert not record_done(db_engine, job, now=T0)
    assert [_status(db_engine, j) for j in (queued, running)] == [CANCELLED, CANCELLED]
    assert [_status(db_engine, j) for j in (other_provider, other_patient)] == [QUEUED, QUEUED]
    assert claim(db_engine, "w", ["push"], now=T0 + LEASE, lease=LEASE, limit=9) != []
    assert _status(db_engine, running) == CANCELLED


def test_a_queued_job_with_the_same_key_is_reused(db_engine: Engine) -> None:
    first = _enqueue(db_engine, dedupe_key="push:CarePlan/p1:thuiszorg@medmij")
    assert _enqueue(db_engine, dedupe_key="push:CarePlan/p1:thuiszorg@medmij") == first
    claim(db_engine, "w", ["push"], now=T0, lease=LEASE)
    # Running: its handler may have read the old state, so a new change needs a new job.
    assert _enqueue(db_engine, dedupe_key="push:CarePlan/p1:thuiszorg@medmij") != first


def test_metrics_endpoint(client: FhirClient, db_engine: Engine) -> None:
    _enqueue(db_engine)
    _enqueue(db_engine)
    [job] = claim(db_engine, "w", ["push"], now=T0, lease=LEASE)
    record_failure(db_engine, job, "HTTP 400", now=T0, retry_at=None)
    response = client.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'pgo_sync_jobs{kind="push",status="queued"} 1' in text
    assert 'pgo_sync_jobs{kind="push",status="dead"} 1' in text
    assert 'pgo_sync_dead_total{kind="push"} 1' in text
    assert "# TYPE pgo_sync_retried_total counter" in text
    assert "anna" not in text and "thuiszorg" not in text
