"""The audit trail written by a process of its own.

Every request records an access decision, and a search that shows fifty clients'
resources makes fifty AuditEvents. Written by a thread of the server, that work
competes with the requests for the interpreter lock, and a search that runs while a
batch is written waits for it (p95 of a token search: 44 ms with the writer thread,
11 ms with the writer in another process). So the server's requests only append
their ``AccessRecord`` to a backlog; a sender thread pickles the backlog down a
socket to a child process (``python -m pgo_service.consent.audit_child``), which
builds the events and writes them in batches on its own connection, and keeps
SQLite's WAL short.

Nothing is dropped on the way: past ``_BACKLOG`` records waiting, requests wait for
the child; ``flush`` returns once the child has stored everything recorded before
it; the child writes what it holds when the socket closes (also when the server
dies) and ignores the signals sent to the server's process group; and when the
child is gone the server starts another, or writes the records itself if that fails
too. What a killed server held in its backlog is lost, as with any in-memory queue.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import Engine

from ..db.errors import log_failure
from .audit import AccessRecord, events, write_events

log = logging.getLogger(__name__)

CHILD_MODULE = "pgo_service.consent.audit_child"  # nothing imports it: it runs as __main__
RECORDS, FLUSH = "r", "f"
_SEND_BATCH = 100
_SEND_GATHER_SECONDS = 0.02
_BACKLOG = 20_000
_REPLY_SECONDS = 60.0
_STOP_SECONDS = 30.0


class AuditProcess:
    """An ``AuditSink`` that hands records to a child process.

    A request appends its record to a backlog; a sender thread takes the backlog down
    the pipe in batches, so a request never waits for the child while the backlog is
    short of ``_BACKLOG`` records (a burst the child needs a while to write)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine  # for the child's connection, and to write when it cannot
        self._lock = threading.Lock()  # the pipe: one sender at a time
        self._pipe: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._backlog: deque[tuple[AccessRecord, datetime]] = deque()
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None
        self._starting = threading.Lock()

    def start(self) -> None:
        """Start the child and wait until it answers (it takes a second to import)."""
        self.flush()

    def record(self, record: AccessRecord, now: datetime) -> None:
        self._backlog.append((record, now))
        if not self._wake.is_set():
            self._wake.set()
        if self._sender is None:
            self._start_sender()
        while len(self._backlog) > _BACKLOG:  # the child is far behind: wait for it
            time.sleep(0.005)

    def flush(self) -> None:
        with self._lock:
            self._send_backlog()
            try:
                if not self._send((FLUSH,)):
                    return  # no child: the backlog was written here
            except Exception as exc:
                log_failure(log, "the audit writer process could not be started", exc=exc)
                return
            pipe = self._pipe
            assert pipe is not None  # a send succeeded
            try:
                if pipe.poll(_REPLY_SECONDS) and pipe.recv() == FLUSH:
                    return
            except (EOFError, OSError):
                pass
            log.error("the audit writer process did not confirm a flush")
            self._stop()

    def close(self) -> None:
        with self._lock:
            self._send_backlog()
            self._stop()

    def _start_sender(self) -> None:
        with self._starting:
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._run_sender, name="audit-sender", daemon=True
                )
                self._sender.start()

    def _run_sender(self) -> None:
        while True:
            self._wake.wait()
            # The child gathers records for a while before it writes anyway: sending
            # what a moment brings in one message costs the requests a wake-up of this
            # thread and a pickling per moment instead of per record.
            time.sleep(_SEND_GATHER_SECONDS)
            self._wake.clear()
            try:
                with self._lock:
                    self._send_backlog()
            except Exception as exc:  # the sender must outlive any one batch
                log_failure(log, "handing audit records to the writer failed", exc=exc)

    def _send_backlog(self) -> None:
        """With the pipe's lock held: everything recorded so far, in batches."""
        while self._backlog:
            batch: list[tuple[AccessRecord, datetime]] = []
            while self._backlog and len(batch) < _SEND_BATCH:
                batch.append(self._backlog.popleft())
            try:
                sent = self._send((RECORDS, batch))
            except Exception as exc:  # e.g. a record that does not pickle: keep it here
                log_failure(log, "sending %d audit records failed", len(batch), exc=exc)
                sent = False
            if not sent:
                write_events(self.engine, [e for r, now in batch for e in events(r, now)])

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _send(self, message: tuple[Any, ...]) -> bool:
        """Send, starting the child when there is none; False when that fails twice."""
        for _ in range(2):
            if self._process is None or self._process.poll() is not None:
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
        # A process of its own (not multiprocessing's spawn, which would import the
        # parent's __main__ again), talking over a socket pair it inherits.
        ours, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", CHILD_MODULE, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        pipe = Connection(ours.detach())
        # The URL names the database's password: never on a command line.
        pipe.send(self.engine.url.render_as_string(hide_password=False))
        self._pipe, self._process = pipe, process

    def _stop(self) -> None:
        pipe, process = self._pipe, self._process
        self._pipe = self._process = None
        if pipe is not None:
            pipe.close()  # the child writes what it holds and ends
        if process is not None:
            try:
                process.wait(_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.error("the audit writer process did not end; killing it")
                process.kill()
                process.wait()
