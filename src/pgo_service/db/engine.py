"""Engine construction and the unit of work.

SQLite runs in WAL mode with autocommit off at the driver level so that we issue
``BEGIN`` ourselves: write transactions start with ``BEGIN IMMEDIATE`` and so take
the write lock up front, which turns SQLite's lock upgrade deadlocks into a plain
wait (bounded by ``busy_timeout``).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    # A failing statement's error names its SQL, never its values: those are resource
    # content (a BSN), sealed tokens and hashes, and errors end up in logs.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.database and parsed.database != ":memory:":
            # As many connections as the server runs request threads, so none is
            # opened (and set up) per request.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


# A commit that takes the WAL past this many pages copies it back into the database
# file itself, holding the write lock meanwhile. The server's ``Checkpointer`` keeps
# the WAL well below this; it is a bound for processes without one.
WAL_AUTOCHECKPOINT_PAGES = 32_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        write = conn.info.get("write", True)
        # Straight on the driver: through exec_driver_sql this costs as much as a query.
        driver: Any = conn.connection.driver_connection
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")


class WriterLock:
    """SQLite admits one writer at a time. Waiting for it on a thread lock, and across
    processes (the audit writer, a second server) on an ``flock`` of a file beside
    the database, hands the database over the moment it is free: SQLite's own busy
    wait sleeps up to 100 ms at a time and leaves the database idle meanwhile, which
    cost a fifth of the server's write capacity. Re-entrant within a thread."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> None:
        self._acquire(wait=True)

    def acquire_now(self) -> bool:
        """Take the lock if it is free this instant; False, without waiting, if not."""
        return self._acquire(wait=False)

    def _acquire(self, *, wait: bool) -> bool:
        if not self._threads.acquire(blocking=wait):
            return False
        if self._depth == 0 and self.path is not None:
            try:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:  # held by another process, and told not to wait
                self._threads.release()
                return False
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _descriptor(self) -> int:
        assert self.path is not None
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


def writer_lock_path(engine: Engine) -> str | None:
    """The file the writers of a SQLite database file lock (none for memory, URIs or
    other databases)."""
    if not is_sqlite(engine):
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-writer"


_WRITERS: WeakKeyDictionary[Engine, WriterLock] = WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def writer_lock(engine: Engine) -> AbstractContextManager[Any]:
    """The lock every writer of the engine's database takes first (SQLite only)."""
    if not is_sqlite(engine):
        return nullcontext()
    return _writer_of(engine)


def _writer_of(engine: Engine) -> WriterLock:
    with _WRITERS_GUARD:
        found = _WRITERS.get(engine)
        if found is None:
            found = _WRITERS[engine] = WriterLock(writer_lock_path(engine))
        return found


@contextmanager
def writer_lock_if_free(engine: Engine) -> Iterator[bool]:
    """Hold the write lock for the block if no one holds it now, without waiting;
    yields whether it is held (always true where there is none: PostgreSQL)."""
    if not is_sqlite(engine):
        yield True
        return
    lock = _writer_of(engine)
    if not lock.acquire_now():
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One database transaction: commits when the block ends, rolls back on error.
    A writer takes the write lock after it has a connection and gives it up before
    handing the connection back: the pool's work is no part of anyone's wait."""
    with engine.connect() as conn:
        conn.info["write"] = write
        with writer_lock(engine) if write else nullcontext(), conn.begin():
            yield conn
