"""Engine construction and the unit of work.

SQLite runs in WAL mode with autocommit off at the driver level so that we issue
``BEGIN`` ourselves: write transactions start with ``BEGIN IMMEDIATE`` and so take
the write lock up front, which turns SQLite's lock upgrade deadlocks into a plain
wait (bounded by ``busy_timeout``).
"""

from __future__ import annotations

import threading
import time
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


WAL_AUTOCHECKPOINT_PAGES = 10_000
CHECKPOINT_SECONDS = 1.0


class Checkpoints:
    """Copies SQLite's write-ahead log back into the database file at most once a
    second, for whoever writes in the background (the audit writer).

    SQLite's default does it in the commit that takes the log past 1 000 pages, so a
    request paid for everyone's writes: a create cost 5.5 ms of CPU with that, 3.5 ms
    without. A passive checkpoint waits for no reader or writer; a page changed many
    times in between is copied once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last = 0.0

    def run_if_due(self) -> None:
        if not is_sqlite(self.engine) or time.monotonic() - self._last < CHECKPOINT_SECONDS:
            return
        self._last = time.monotonic()
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        finally:
            raw.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Commits leave checkpointing to the background (``checkpoint``); past this
        # many pages of WAL a commit still does it, as a safety net.
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


_WRITERS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def _writer_lock(engine: Engine, write: bool) -> AbstractContextManager[Any]:
    """SQLite admits one writer at a time. Waiting for it on a thread lock hands the
    database over the moment it is free; SQLite's own busy wait backs off up to 100 ms
    and leaves the lock idle meanwhile. (Other processes still meet busy_timeout.)"""
    if not write or not is_sqlite(engine):
        return nullcontext()
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(engine, threading.RLock())


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One database transaction: commits when the block ends, rolls back on error."""
    with _writer_lock(engine, write), engine.connect() as conn:
        conn.info["write"] = write
        with conn.begin():
            yield conn
