"""SQLite writers wait for each other on a file lock, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from tests.support.lock_holder import write_lock_held_elsewhere

from pgo_service.db.engine import WriterLock, make_engine, transaction, writer_lock_path

_HOLDER = """
import sys, time
from pgo_service.db.engine import WriterLock
lock = WriterLock(sys.argv[1])
with lock:
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    with open(sys.argv[3], "a") as log:
        log.write("other process done\\n")
"""


def test_a_writer_waits_for_another_process_that_holds_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite3-writer")
    log = tmp_path / "order.log"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, path, "0.3", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with WriterLock(path), log.open("a") as out:
            out.write("this process\n")
    finally:
        holder.wait(timeout=30)
    assert log.read_text().splitlines() == ["other process done", "this process"]


def test_the_lock_is_reentrant_and_excludes_other_threads(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "lock"))
    order: list[str] = []

    def other() -> None:
        with lock:
            order.append("other")

    with lock:
        with lock:
            order.append("nested")
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.05)
        order.append("outer")
    thread.join(timeout=5)
    assert order == ["nested", "outer", "other"]


def test_only_database_files_get_a_lock_file(tmp_path: Path) -> None:
    database = tmp_path / "pgo.sqlite3"
    assert writer_lock_path(make_engine(f"sqlite:///{database}")) == f"{database}-writer"
    assert writer_lock_path(make_engine("sqlite://")) is None
    memory_uri = "sqlite:///file:shared?mode=memory&cache=shared&uri=true"
    assert writer_lock_path(create_engine(memory_uri, poolclass=NullPool)) is None
    assert writer_lock_path(create_engine("postgresql+psycopg://u@127.0.0.1/pgo")) is None


def test_write_transactions_of_two_engines_on_one_file_take_turns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pgo.sqlite3'}"
    first, second = make_engine(url), make_engine(url)
    with transaction(first) as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))

    def bump(engine: object) -> None:
        for _ in range(50):
            with transaction(engine) as conn:  # type: ignore[arg-type]
                n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump, args=(e,)) for e in (first, second, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with transaction(first, write=False) as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 200
    assert (tmp_path / "pgo.sqlite3-writer").exists()


def test_acquire_now_takes_only_a_free_lock_and_never_waits(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite3-writer")
    lock = WriterLock(path)
    with write_lock_held_elsewhere(path):
        assert lock.acquire_now() is False  # another process holds it
    assert lock.acquire_now() is True
    with lock:  # re-entrant in the thread that holds it
        pass
    taken_by_other_thread: list[bool] = []
    other = threading.Thread(target=lambda: taken_by_other_thread.append(lock.acquire_now()))
    other.start()
    other.join(timeout=5)
    assert taken_by_other_thread == [False]
    lock.release()
    assert WriterLock(path).acquire_now() is True  # released for other holders too
