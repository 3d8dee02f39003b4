"""The audit writer loses no event when requests record them from many threads at
once, across the writer thread's idle ends and restarts."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from pgo_service.consent.audit import AccessRecord, AuditWriter
from pgo_service.db.engine import transaction
from pgo_service.db.models import resource


def _stored(engine: Engine) -> int:
    with transaction(engine, write=False) as conn:
        count = select(func.count()).where(resource.c.resource_type == "AuditEvent")
        return int(conn.execute(count).scalar_one())


def test_every_event_is_written_without_a_flush(db_engine: Engine) -> None:
    writer = AuditWriter(db_engine, idle_seconds=0.05)
    before = _stored(db_engine)
    per_thread, threads = 60, 6

    def requests(seed: int) -> None:
        pace = random.Random(seed)
        for n in range(per_thread):
            shown = ((f"Goal/g{seed}-{n}", f"p{seed}"),)
            record = AccessRecord("GET", f"/Goal/g{seed}-{n}", True, None, "app", shown)
            writer.record(record, datetime.now(UTC))
            if pace.random() < 0.1:
                time.sleep(pace.choice((0.0, 0.03, 0.08)))  # some longer than the idle end

    workers = [threading.Thread(target=requests, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    deadline = time.monotonic() + 20
    while _stored(db_engine) < before + per_thread * threads and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _stored(db_engine) == before + per_thread * threads
    writer.flush()
    assert _stored(db_engine) == before + per_thread * threads
