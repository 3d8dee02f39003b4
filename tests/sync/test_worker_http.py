"""The worker against a real HTTP peer on loopback that fails on purpose: retries
with backoff, Retry-After, timeouts, dead-letter, and refused hosts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import Engine, select

from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_job
from pgo_service.sync.jobs import DEAD, DONE, QUEUED, enqueue
from pgo_service.sync.registry import import_zal
from pgo_service.sync.worker import Worker, WorkerConfig

from .handlers import PUSH, handlers
from .lists import service, zal
from .peer import Fault, Peer

T0 = datetime(2026, 12, 1, 12, 0)
PROVIDER = "peer@medmij"
SYSTEM = "urn:uuid:7d0f3f1e-9d8e-4d55-8f0c-agreements"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _config(**changes: object) -> WorkerConfig:
    values: dict[str, object] = {
        "lease": timedelta(seconds=60),
        "backoff_base": 2.0,
        "backoff_cap": 60.0,
        "retry_after_cap": 3600.0,
        "http_timeout": 0.5,
        "poll_seconds": 0.05,
        "extra_hosts": frozenset({"127.0.0.1"}),
        "dev_mode": True,
    }
    values.update(changes)
    return WorkerConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as running:
        yield running


@pytest.fixture
def registered(db_engine: Engine, peer: Peer) -> Engine:
    with transaction(db_engine) as conn:
        import_zal(conn, zal(1, {PROVIDER: [service("48", peer.url)]}), T0, dev_mode=True)
    return db_engine


def _push(engine: Engine, value: str = "agreement-1", max_attempts: int = 4) -> int:
    payload = {"service": "48", "type": "CarePlan", "system": SYSTEM, "value": value}
    with transaction(engine) as conn:
        return enqueue(
            conn,
            PUSH,
            payload,
            now=T0,
            max_attempts=max_attempts,
            provider_name=PROVIDER,
            patient_id="anna",
        )


def _job(engine: Engine, job_id: int) -> dict[str, object]:
    with transaction(engine, write=False) as conn:
        row = conn.execute(select(sync_job).where(sync_job.c.id == job_id)).one()
    return dict(row._mapping)


def _worker(engine: Engine, clock: Clock, **changes: object) -> Worker:
    return Worker(engine, handlers(), _config(**changes), clock=clock, rng=random.Random(7))


def test_success_is_a_conditional_update_by_identifier(registered: Engine, peer: Peer) -> None:
    clock = Clock()
    worker = _worker(registered, clock)
    first = _push(registered)
    assert worker.run_once()
    assert not worker.run_once()
    again = _push(registered)
    assert worker.run_once()
    worker.close()
    assert _job(registered, first)["status"] == DONE
    assert _job(registered, again)["status"] == DONE
    # Two pushes of the same agreement: one resource, two versions.
    assert list(peer.resources) == [f"{SYSTEM}|agreement-1"]
    assert peer.versions[f"{SYSTEM}|agreement-1"] == 2
    assert peer.seen[0].method == "PUT"
    assert peer.seen[0].path.startswith("/fhir/CarePlan?identifier=")
    assert peer.seen[0].headers["Authorization"] == "Bearer peer-token"


def test_server_errors_back_off_with_full_jitter_then_succeed(
    registered: Engine, peer: Peer
) -> None:
    clock = Clock()
    worker = _worker(registered, clock)
    job_id = _push(registered)
    peer.faults = [Fault(status=500), Fault(status=502)]
    rng = random.Random(7)
    for attempt in (1, 2):
        assert worker.run_once()
        job = _job(registered, job_id)
        assert job["status"] == QUEUED
        assert job["last_error"] == f"attempt {attempt}: PUT {peer.url}/fhir/CarePlan: HTTP " + (
            "500" if attempt == 1 else "502"
        )
        delay = (job["run_after"] - clock.now).total_seconds()  # type: ignore[operator]
        expected = rng.uniform(0, 2.0 * 2 ** (attempt - 1))
        assert delay == pytest.approx(expected, abs=0.001)
        assert not worker.run_once()  # not due yet
        clock.now = job["run_after"]  # type: ignore[assignment]
    assert worker.run_once()
    worker.close()
    assert _job(registered, job_id)["status"] == DONE
    assert _job(registered, job_id)["attempts"] == 3


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured(registered: Engine, peer: Peer, form: str) -> None:
    clock = Clock()
    worker = _worker(registered, clock)
    job_id = _push(registered)
    wait = timedelta(seconds=90)

    def retry_after(attempt: int) -> dict[str, str]:
        if form == "seconds":
            return {"Retry-After": "90"}
        moment = (T0 + wait * attempt).replace(tzinfo=UTC)
        return {"Retry-After": format_datetime(moment, usegmt=True)}

    peer.faults = [Fault(status=429, headers=retry_after(1)), Fault(503, retry_after(2))]
    for _ in range(2):
        assert worker.run_once()
        assert _job(registered, job_id)["run_after"] == clock.now + wait
        clock.now += wait
    assert worker.run_once()
    worker.close()
    assert _job(registered, job_id)["status"] == DONE


def test_a_huge_retry_after_is_capped(registered: Engine, peer: Peer) -> None:
    clock = Clock()
    worker = _worker(registered, clock, retry_after_cap=600.0)
    job_id = _push(registered)
    peer.faults = [Fault(status=503, headers={"Retry-After": "99999999"})]
    assert worker.run_once()
    worker.close()
    assert _job(registered, job_id)["run_after"] == T0 + timedelta(seconds=600)


def test_a_slow_peer_times_out_and_is_tried_again(registered: Engine, peer: Peer) -> None:
    clock = Clock()
    worker = _worker(registered, clock, http_timeout=0.3)
    job_id = _push(registered)
    peer.faults = [Fault(delay=5.0)]
    assert worker.run_once()
    job = _job(registered, job_id)
    assert (job["status"], job["attempts"]) == (QUEUED, 1)
    assert "ReadTimeout" in str(job["last_error"])
    clock.now = job["run_after"]  # type: ignore[assignment]
    assert worker.run_once()
    worker.close()
    assert _job(registered, job_id)["status"] == DONE


def test_dead_after_the_last_attempt(registered: Engine, peer: Peer) -> None:
    clock = Clock()
    worker = _worker(registered, clock)
    job_id = _push(registered, max_attempts=3)
    peer.faults = [Fault(status=500)] * 3
    for _ in range(3):
        assert worker.run_once()
        clock.now += timedelta(hours=1)
    assert not worker.run_once()
    worker.close()
    job = _job(registered, job_id)
    assert (job["status"], job["attempts"]) == (DEAD, 3)
    assert len(peer.seen) == 3


def test_a_client_error_is_dead_at_once(registered: Engine, peer: Peer) -> None:
    worker = _worker(registered, Clock())
    job_id = _push(registered)
    peer.faults = [Fault(status=422)]
    assert worker.run_once()
    worker.close()
    job = _job(registered, job_id)
    assert (job["status"], job["attempts"]) == (DEAD, 1)
    assert str(job["last_error"]).endswith("HTTP 422")


def test_redirects_are_not_followed(registered: Engine, peer: Peer) -> None:
    worker = _worker(registered, Clock())
    job_id = _push(registered)
    peer.faults = [Fault(status=307, headers={"Location": "http://169.254.169.254/latest"})]
    assert worker.run_once()
    worker.close()
    assert _job(registered, job_id)["status"] == DEAD
    assert "redirects are not followed" in str(_job(registered, job_id)["last_error"])
    assert len(peer.seen) == 1


def test_a_host_off_the_allow_list_is_never_called(registered: Engine, peer: Peer) -> None:
    worker = _worker(registered, Clock(), extra_hosts=frozenset())
    job_id = _push(registered)
    assert worker.run_once()
    worker.close()
    job = _job(registered, job_id)
    assert job["status"] == DEAD
    assert "not on the allow list" in str(job["last_error"])
    assert peer.seen == []


def test_the_peer_down_is_retried(registered: Engine, peer: Peer) -> None:
    clock = Clock()
    worker = _worker(registered, clock)
    job_id = _push(registered)
    peer.__exit__(None, None, None)  # nothing listens on the port any more
    assert worker.run_once()
    worker.close()
    job = _job(registered, job_id)
    assert job["status"] == QUEUED
    assert "ConnectError" in str(job["last_error"])
