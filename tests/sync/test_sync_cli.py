"""``pgo-service sync`` and ``pgo-service worker``, as an operator runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from pgo_service.db.engine import transaction
from pgo_service.sync.jobs import claim, enqueue, record_failure

T0 = datetime(2026, 12, 1, 12, 0)


def _cli(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgo_service.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PGO_DATABASE_URL": database_url},
        cwd=cwd,
        timeout=120,
    )


def test_status_requeue_and_cancel(db_engine: Engine, database_url: str, tmp_path: Path) -> None:
    with transaction(db_engine) as conn:
        for patient in ("anna", "anna", "bert"):
            enqueue(
                conn,
                "push",
                {"resource": "CarePlan/p1"},
                now=T0,
                max_attempts=1,
                provider_name="thuiszorg@medmij",
                patient_id=patient,
            )
    [job] = claim(db_engine, "w", ["push"], now=T0, lease=timedelta(seconds=60))
    record_failure(
        db_engine, job, "PUT https://x.example/fhir/CarePlan: HTTP 422", now=T0, retry_at=None
    )

    status = _cli(database_url, tmp_path, "sync", "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == "jobs: queued 2, running 0, done 0, dead 1, cancelled 0"
    assert "counters push: dead 1" in status.stdout
    assert (
        f"  #{job.id} push provider thuiszorg@medmij patient anna attempts 1"
        f" at 2026-12-01T12:00:00Z: attempt 1: PUT https://x.example/fhir/CarePlan: HTTP 422"
    ) in lines

    cancelled = _cli(
        database_url,
        tmp_path,
        "sync",
        "cancel",
        "--patient",
        "anna",
        "--provider",
        "thuiszorg@medmij",
    )
    assert cancelled.stdout.strip() == "1 jobs cancelled"
    assert _cli(database_url, tmp_path, "sync", "requeue", str(job.id)).returncode == 0
    assert _cli(database_url, tmp_path, "sync", "requeue", str(job.id)).returncode == 2
    status = _cli(database_url, tmp_path, "sync", "status")
    assert status.stdout.splitlines()[0] == "jobs: queued 2, running 0, done 0, dead 0, cancelled 1"


def test_worker_runs_until_sigterm(database_url: str, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pgo_service.cli", "worker", "--threads", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PGO_DATABASE_URL": database_url},
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "pgo-service worker: 2 thread(s) running"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
