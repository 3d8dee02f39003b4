"""Keeps SQLite's write-ahead log short from the background.

A commit appends the pages it changed to the WAL; a checkpoint copies them back into
the database file and syncs both files, and an fsync here takes 10-50 ms. SQLite's
default checkpoints inside the commit that takes the WAL past its limit, so one
request in a few hundred held the write lock for 50-120 ms while every other writer
waited (0.6 ms a create on average). Here a thread copies what is new once a second
without waiting for anyone (``PASSIVE``; every tenth of a second cost reads and
creates a tenth of their throughput in fsyncs). Under steady writes such a copy never
catches up with the last commit, and only a WAL copied completely can be reused from
its beginning; so once the WAL has grown past ``RESTART_PAGES`` the thread holds the
writers back for the moment it takes to copy the rest (``RESTART``), most of which the
passive copies did already.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from .engine import is_sqlite, writer_lock, writer_lock_path
from .errors import log_failure

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
RESTART_PAGES = 16_000  # 64 MB of WAL at 4 KiB pages
# A restart waits this long for readers still on the old log (writers wait with it),
# and after a failed one the next waits until the WAL has grown by a quarter more.
_READER_WAIT_MS = 100


@dataclass(frozen=True)
class CheckpointResult:
    busy: bool  # another checkpoint was running, or readers kept a restart from finishing
    log_pages: int  # pages in the WAL
    copied_pages: int  # of which now in the database file


class Checkpointer:
    """Run by a process that writes in the background: from its own loop
    (``run_if_due``) or as a thread of its own (``start``). SQLite files only."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = INTERVAL_SECONDS,
        restart_pages: int = RESTART_PAGES,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.restart_pages = restart_pages
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        self._next_restart = restart_pages
        self._due = time.monotonic() + interval

    @property
    def applies(self) -> bool:
        return is_sqlite(self.engine) and writer_lock_path(self.engine) is not None

    def seconds_until_due(self) -> float:
        return max(0.0, self._due - time.monotonic())

    def run_if_due(self) -> None:
        """A round when ``interval`` has passed since the last; failures are logged."""
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.interval  # also when there is nothing to do
        if not self.applies:
            return
        try:
            self.run_once()
        except Exception as exc:  # the next round tries again; commits still work
            log_failure(log, "WAL checkpoint failed", exc=exc)
            self._close()

    def close(self) -> None:
        self._close()

    def start(self) -> None:
        if self._thread is not None or not self.applies:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()

    def run_once(self) -> CheckpointResult:
        """Copy what is new; restart the log when it has grown past ``restart_pages``."""
        result = self._checkpoint("PASSIVE")
        if result.log_pages < self.restart_pages:
            self._next_restart = self.restart_pages
        elif result.log_pages >= self._next_restart:
            with writer_lock(self.engine):
                result = self._checkpoint("RESTART")
            if result.busy:  # readers on the old log: not again for a while
                self._next_restart = result.log_pages + self.restart_pages // 4
        return result

    def _checkpoint(self, mode: str) -> CheckpointResult:
        if self._connection is None:
            connection = self.engine.raw_connection()
            connection.detach()  # closed when done: its short busy timeout stays out of the pool
            self._connection = connection
            self._driver().execute(f"PRAGMA busy_timeout={_READER_WAIT_MS}")
        row = self._driver().execute(f"PRAGMA wal_checkpoint({mode})")
        busy, log_pages, copied = row.fetchone()
        return CheckpointResult(bool(busy), max(0, log_pages), max(0, copied))

    def _driver(self) -> Any:
        # A detached connection no longer names its driver connection; the DBAPI one
        # is the same object for sqlite3.
        return self._connection.dbapi_connection

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.seconds_until_due()):
                self.run_if_due()
        finally:
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
