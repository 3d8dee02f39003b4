"""The audit writer process: nothing recorded is lost, whether requests come from many
threads, the child is killed, or the server closes it."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from pgo_service.api.app import create_app
from pgo_service.config import Settings
from pgo_service.consent.audit import AccessRecord
from pgo_service.consent.audit_process import AuditProcess
from pgo_service.db.engine import transaction
from pgo_service.db.models import resource
from tests.conftest import TEST_SECRET_KEY


def _stored(engine: Engine) -> int:
    with transaction(engine, write=False) as conn:
        count = select(func.count()).where(resource.c.resource_type == "AuditEvent")
        return int(conn.execute(count).scalar_one())


def _record(n: int, patients: int = 1) -> AccessRecord:
    shown = tuple((f"Goal/g{n}-{p}", f"p{p}") for p in range(patients))
    return AccessRecord("GET", f"/Goal/g{n}", True, None, "app", shown)


def test_records_from_many_threads_are_all_written(db_engine: Engine) -> None:
    writer = AuditProcess(db_engine)
    before = _stored(db_engine)
    try:

        def requests(seed: int) -> None:
            for n in range(40):
                writer.record(_record(seed * 100 + n, patients=3), datetime.now(UTC))

        workers = [threading.Thread(target=requests, args=(seed,)) for seed in range(5)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        writer.flush()  # returns once the child stored everything sent before it
        assert _stored(db_engine) == before + 5 * 40 * 3
    finally:
        writer.close()


def test_a_killed_child_is_replaced_and_close_writes_what_it_holds(db_engine: Engine) -> None:
    writer = AuditProcess(db_engine)
    before = _stored(db_engine)
    try:
        writer.record(_record(1), datetime.now(UTC))
        writer.flush()
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(first):
            time.sleep(0.01)
        for n in range(2, 12):
            writer.record(_record(n), datetime.now(UTC))
        writer.flush()
        assert writer.pid not in (None, first)
        for n in range(12, 17):
            writer.record(_record(n), datetime.now(UTC))
    finally:
        writer.close()  # no flush: closing the pipe makes the child write and end
    assert _stored(db_engine) == before + 16


def test_a_signal_to_the_process_group_loses_nothing(db_engine: Engine) -> None:
    writer = AuditProcess(db_engine)
    before = _stored(db_engine)
    try:
        writer.record(_record(1), datetime.now(UTC))
        writer.flush()  # the child is up
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGTERM)  # as Ctrl-C or a stop signal reaches the whole group
        os.kill(pid, signal.SIGINT)
        writer.record(_record(2), datetime.now(UTC))
        assert writer.pid == pid
    finally:
        writer.close()
    assert _stored(db_engine) == before + 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_client_reading_its_trail_sees_the_read_it_just_made(
    db_engine: Engine, system_bearer: str
) -> None:
    settings = Settings(database_url="unused://", secret_key=TEST_SECRET_KEY, dev_mode=True)
    assert settings.audit_writer == "process"
    app: FastAPI = create_app(settings, db_engine)
    headers = {"Authorization": f"Bearer {system_bearer}"}
    with TestClient(app, headers=headers) as http:
        http.put(
            "/fhir/Patient/trail",
            json={"resourceType": "Patient", "id": "trail"},
            headers={"Content-Type": "application/fhir+json"},
        ).raise_for_status()
        http.get("/fhir/Patient/trail").raise_for_status()
        found = http.get("/fhir/AuditEvent", params={"entity": "Patient/trail", "action": "R"})
        assert found.json()["total"] >= 1


def test_a_record_that_cannot_be_sent_is_written_by_the_server(db_engine: Engine) -> None:
    writer = AuditProcess(db_engine)
    before = _stored(db_engine)
    try:
        unpicklable = AccessRecord(
            "GET", "/Goal/g", True, None, "app", (("Goal/g", "p1"),), detail=_Unpicklable()
        )
        writer.record(unpicklable, datetime.now(UTC))
        writer.record(_record(2), datetime.now(UTC))
        writer.flush()
        assert _stored(db_engine) == before + 2
    finally:
        writer.close()


class _Unpicklable(str):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("not to be pickled")
