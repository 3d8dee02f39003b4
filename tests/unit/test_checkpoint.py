"""The background checkpointer keeps SQLite's WAL short while writers keep writing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, text

from pgo_service.db.checkpoint import Checkpointer
from pgo_service.db.engine import make_engine, transaction

_PAGE = 4096


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    with transaction(engine) as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        conn.execute(text("CREATE INDEX t_v ON t (v)"))
    return engine


def _write(engine: Engine, first: int, count: int) -> None:
    rows = [{"id": i, "v": f"{(i * 7919) % 100_003:06d}" * 40} for i in range(first, first + count)]
    with transaction(engine) as conn:
        conn.execute(text("INSERT INTO t (id, v) VALUES (:id, :v)"), rows)


def _wal_pages(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return (wal.stat().st_size - 32) // (_PAGE + 24) if wal.exists() else 0


def test_a_passive_round_copies_the_log_without_restarting_it(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _write(engine, 0, 200)
    result = Checkpointer(engine, restart_pages=1_000_000).run_once()
    assert result.log_pages > 0
    assert result.copied_pages == result.log_pages
    assert not result.busy
    engine.dispose()


def test_the_log_restarts_once_it_is_past_the_limit(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    checkpointer = Checkpointer(engine, restart_pages=50)
    _write(engine, 0, 500)
    grown = checkpointer.run_once()
    assert grown.log_pages >= 50
    assert grown.copied_pages == grown.log_pages
    # The next commit writes the log from its beginning again.
    _write(engine, 10_000, 1)
    assert checkpointer.run_once().log_pages < 10
    engine.dispose()


def test_under_steady_writes_the_log_stays_near_the_limit(tmp_path: Path) -> None:
    # Without the checkpointer this log grows to SQLite's own limit (32 000 pages):
    # a passive checkpoint under steady writes never catches up with the last commit.
    engine = _engine(tmp_path)
    database = tmp_path / "c.sqlite3"
    checkpointer = Checkpointer(engine, interval=0.01, restart_pages=200)
    checkpointer.start()
    stop = threading.Event()
    written: list[int] = []

    def writer(offset: int) -> None:
        first = offset
        while not stop.is_set() and first < offset + 40_000:
            _write(engine, first, 20)
            first += 20
        written.append(first - offset)

    writers = [threading.Thread(target=writer, args=(n * 1_000_000,)) for n in range(2)]
    for thread in writers:
        thread.start()
    largest = 0
    for _ in range(100):
        stop.wait(0.02)
        largest = max(largest, _wal_pages(database))
    stop.set()
    for thread in writers:
        thread.join()
    checkpointer.stop()
    with transaction(engine, write=False) as conn:
        stored = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
    assert stored == sum(written) > 2_000
    assert largest < 8_000, largest
    engine.dispose()


def test_start_and_stop_leave_no_thread_behind(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    checkpointer = Checkpointer(engine, interval=0.01)
    checkpointer.start()
    checkpointer.start()
    names = [t.name for t in threading.enumerate()]
    assert names.count("wal-checkpoint") == 1
    checkpointer.stop()
    checkpointer.stop()
    assert "wal-checkpoint" not in [t.name for t in threading.enumerate()]
    engine.dispose()


def test_nothing_runs_for_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url)
    checkpointer = Checkpointer(engine, interval=0.01)
    checkpointer.start()
    assert "wal-checkpoint" not in [t.name for t in threading.enumerate()]
    checkpointer.stop()
    engine.dispose()


def test_its_short_busy_timeout_stays_out_of_the_pool(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}", pool_size=1, max_overflow=0)
    checkpointer = Checkpointer(engine)
    checkpointer.run_once()
    checkpointer.close()
    with transaction(engine, write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30_000
    engine.dispose()


def test_a_loop_that_waits_for_it_is_not_woken_at_once_for_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url)
    checkpointer = Checkpointer(engine, interval=0.05)
    time.sleep(0.06)
    checkpointer.run_if_due()
    assert checkpointer.seconds_until_due() > 0.02
    engine.dispose()
