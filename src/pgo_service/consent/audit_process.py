"""The audit trail written by a process of its own.

Every request records an access decision, and a search that shows fifty clients'
resources makes fifty AuditEvents. Written by a thread of the server, that work
competes with the requests for the interpreter lock, and a search that runs while a
batch is written waits for it (p95 of a token search: 44 ms with the writer thread,
11 ms with the writer in another process). So the server sends each access record
down a pipe (a pickled ``AccessRecord``, some microseconds) to a child process that
builds the events and writes them in batches on its own connection.

Nothing is dropped on the way: a full pipe makes the sender wait, ``flush`` returns
once the child has stored everything sent before it, the child writes what it holds
when the pipe closes (also when the server dies), and when the child is gone the
server starts another, or writes the record itself if that fails too.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import Engine

from .audit import AccessRecord, events, write_events

log = logging.getLogger(__name__)

_RECORD, _FLUSH = "r", "f"
_GATHER_SECONDS = 0.02
_BATCH = 200
_REPLY_SECONDS = 60.0
_STOP_SECONDS = 30.0


def _serve(database_url: str, pipe: Connection) -> None:
    """The child: gather records for a moment, write them, answer flushes."""
    # The server's shutdown closes the pipe; a signal to the whole process group
    # (Ctrl-C, SIGTERM) must not make this process drop what it holds first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from ..db.engine import Checkpoints, make_engine

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    checkpoints = Checkpoints(engine)
    pending: list[dict[str, Any]] = []
    deadline = 0.0
    while True:
        timeout = max(0.0, deadline - time.monotonic()) if pending else None
        if not pipe.poll(timeout):
            write_events(engine, pending)
            pending = []
            checkpoints.run_if_due()
            continue
        try:
            message = pipe.recv()
        except EOFError:
            write_events(engine, pending)
            return
        if message[0] == _RECORD:
            if not pending:
                deadline = time.monotonic() + _GATHER_SECONDS
            pending.extend(events(message[1], message[2]))
            if len(pending) >= _BATCH:
                write_events(engine, pending)
                pending = []
        elif message[0] == _FLUSH:
            write_events(engine, pending)
            pending = []
            pipe.send(_FLUSH)


class AuditProcess:
    """An ``AuditSink`` that hands records to a child process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # for the child's connection, and to write when it cannot
        self._lock = threading.Lock()  # one message at a time on the pipe
        self._pipe: Connection | None = None
        self._process: BaseProcess | None = None

    def start(self) -> None:
        """Start the child and wait until it answers: it takes a second to import,
        and records sent meanwhile would fill the pipe and hold up requests."""
        self.flush()

    def record(self, record: AccessRecord, now: datetime) -> None:
        with self._lock:
            if self._send((_RECORD, record, now)):
                return
        write_events(self.engine, events(record, now))

    def flush(self) -> None:
        with self._lock:
            if not self._send((_FLUSH,)):
                return
            pipe = self._pipe
            assert pipe is not None  # a send succeeded
            try:
                if pipe.poll(_REPLY_SECONDS) and pipe.recv() == _FLUSH:
                    return
            except (EOFError, OSError):
                pass
            log.error("the audit writer process did not confirm a flush")
            self._stop()

    def close(self) -> None:
        with self._lock:
            self._stop()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _send(self, message: tuple[Any, ...]) -> bool:
        """Send, starting the child when there is none; False when that fails twice."""
        for _ in range(2):
            if self._process is None or not self._process.is_alive():
                if self._process is not None:
                    log.error("the audit writer process ended; starting another")
                self._start()
            assert self._pipe is not None
            try:
                self._pipe.send(message)
                return True
            except (OSError, ValueError):
                self._stop()
        log.error("no audit writer process; writing in the server")
        return False

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        url = self.engine.url.render_as_string(hide_password=False)
        process = context.Process(
            target=_serve, args=(url, theirs), name="pgo-audit-writer", daemon=True
        )
        process.start()
        theirs.close()
        self._pipe, self._process = ours, process

    def _stop(self) -> None:
        pipe, process = self._pipe, self._process
        self._pipe = self._process = None
        if pipe is not None:
            pipe.close()  # the child writes what it holds and ends
        if process is not None:
            process.join(_STOP_SECONDS)
            if process.is_alive():
                log.error("the audit writer process did not end; killing it")
                process.kill()
                process.join()
