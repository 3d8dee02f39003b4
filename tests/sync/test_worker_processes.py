"""Real worker processes on one database: concurrent claims never run a job twice,
and a worker killed with SIGKILL mid-call leaves a job that is retried after its
lease and done once in effect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from pgo_service.db.engine import transaction
from pgo_service.db.sync_tables import sync_job
from pgo_service.sync.jobs import DONE, enqueue, outbox_status
from pgo_service.sync.registry import import_zal

from .handlers import PUSH, RECORD
from .lists import service, zal
from .peer import Fault, Peer

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1)  # in the past: every job is due at once


def _start(database_url: str, idle_exit: float, threads: int, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PGO_DATABASE_URL": database_url,
        "PGO_DEV_MODE": "true",
        "PGO_SYNC_ALLOWED_HOSTS": "127.0.0.1",
        "PGO_SYNC_LEASE_SECONDS": "2",
        "PGO_SYNC_POLL_SECONDS": "0.05",
        "PGO_SYNC_BACKOFF_BASE_SECONDS": "0.05",
        "PGO_SYNC_HTTP_TIMEOUT_SECONDS": "60",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.worker_process", str(idle_exit), str(threads), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _statuses(engine: Engine) -> Counter[str]:
    with transaction(engine, write=False) as conn:
        return Counter(conn.execute(select(sync_job.c.status)).scalars())


@pytest.mark.slow
def test_concurrent_workers_never_run_a_job_twice(
    db_engine: Engine, database_url: str, tmp_path: Path
) -> None:
    jobs = 200
    run_log = tmp_path / "runs.log"
    run_log.touch()
    workers = [_start(database_url, 3, 2, str(run_log)) for _ in range(3)]
    try:
        # All six workers are polling; the jobs appear at once, in one commit.
        with transaction(db_engine) as conn:
            for n in range(jobs):
                enqueue(conn, RECORD, {"n": n}, now=T0, max_attempts=3)
        for process in workers:
            assert process.wait(timeout=120) == 0
    finally:
        for process in workers:
            process.kill()
    runs = [line.split() for line in run_log.read_text().splitlines()]
    per_job = Counter(job_id for job_id, _pid in runs)
    assert len(per_job) == jobs
    assert set(per_job.values()) == {1}, "a job ran more than once"
    assert _statuses(db_engine) == {DONE: jobs}
    # The work was really shared between the processes.
    assert len({pid for _job, pid in runs}) > 1


@pytest.mark.slow
def test_sigkill_mid_call_is_retried_after_the_lease_and_done_once(
    db_engine: Engine, database_url: str
) -> None:
    with Peer() as peer:
        with transaction(db_engine) as conn:
            import_zal(conn, zal(1, {"peer@medmij": [service("48", peer.url)]}), T0, dev_mode=True)
            job_id = enqueue(
                conn,
                PUSH,
                {"service": "48", "type": "CarePlan", "system": "urn:test", "value": "a1"},
                now=T0,
                max_attempts=5,
                provider_name="peer@medmij",
                patient_id="anna",
            )
        # The peer applies the first write, then never answers: the worker dies with the
        # change made at the peer but not recorded here.
        peer.faults = [Fault(apply_first=True, delay=60)]
        first = _start(database_url, 60, 1)
        try:
            assert peer.received.wait(30)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            first.kill()
        assert _statuses(db_engine) == {"running": 1}
        second = _start(database_url, 4, 1)
        try:
            assert second.wait(timeout=60) == 0
        finally:
            second.kill()
        assert len(peer.seen) == 2
        assert list(peer.resources) == ["urn:test|a1"]
        assert peer.versions["urn:test|a1"] == 2
    with transaction(db_engine, write=False) as conn:
        row = conn.execute(select(sync_job).where(sync_job.c.id == job_id)).one()
        counters = outbox_status(conn).counters[PUSH]
    assert (row.status, row.attempts) == (DONE, 2)
    assert counters["lease_expired"] == 1
    assert counters["done"] == 1
