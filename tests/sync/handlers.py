"""Job handlers the worker tests run: one pushes to the peer the way the real push
does (conditional update by identifier, so running it twice changes nothing more),
one only notes that it ran."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pgo_service.db.engine import transaction
from pgo_service.sync.jobs import ClaimedJob
from pgo_service.sync.outbound import JobFailed, raise_for_outcome
from pgo_service.sync.registry import data_service
from pgo_service.sync.worker import Handler, JobContext

PUSH = "test-push"
RECORD = "test-record"


def push_to_peer(job: ClaimedJob, context: JobContext) -> None:
    assert job.provider_name is not None
    with transaction(context.engine, write=False) as conn:
        service = data_service(conn, job.provider_name, job.payload["service"])
    if service is None:
        raise JobFailed(f"{job.provider_name} has no data service {job.payload['service']}")
    endpoint = next(iter(service.resource_endpoints.values())).rstrip("/")
    identifier = f"{job.payload['system']}|{job.payload['value']}"
    resource = {
        "resourceType": job.payload["type"],
        "identifier": [{"system": job.payload["system"], "value": job.payload["value"]}],
        "status": "active",
        "intent": "plan",
    }
    response = context.http.request(
        "PUT",
        f"{endpoint}/{job.payload['type']}",
        params={"identifier": identifier},
        json=resource,
        headers={"Authorization": "Bearer peer-token"},
    )
    raise_for_outcome(response, context.clock())


def recorder(run_log: Path) -> Handler:
    def record(job: ClaimedJob, _context: JobContext) -> None:
        time.sleep(0.002)
        # One short append per run: whole lines even with several processes.
        with open(run_log, "a") as log:
            log.write(f"{job.id} {os.getpid()}\n")

    return record


def handlers(run_log: Path | None = None) -> dict[str, Handler]:
    found: dict[str, Handler] = {PUSH: push_to_peer}
    if run_log is not None:
        found[RECORD] = recorder(run_log)
    return found
