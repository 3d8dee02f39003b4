"""The audit writer process (see ``audit_process``): gathers the server's access
records for a moment, writes their events, answers flushes, keeps SQLite's WAL short
(``Checkpointer``: its copying competes with nobody's request here), and ends when the
socket to the server closes. Run as ``python -m pgo_service.consent.audit_child FD``."""

from __future__ import annotations

import signal
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from ..db.checkpoint import Checkpointer
from ..db.engine import make_engine
from .audit import events, write_events
from .audit_process import FLUSH, RECORDS

_GATHER_SECONDS = 0.25
_BATCH = 200


def _serve(database_url: str, pipe: Connection) -> None:
    engine = make_engine(database_url, pool_size=2, max_overflow=0)  # writes, checkpoints
    checkpointer = Checkpointer(engine)
    pending: list[dict[str, Any]] = []
    deadline = 0.0
    try:
        while True:
            timeout = checkpointer.seconds_until_due()
            if pending:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            if pipe.poll(timeout):
                try:
                    message = pipe.recv()
                except EOFError:
                    write_events(engine, pending)
                    return
                if message[0] == RECORDS:
                    if not pending:
                        deadline = time.monotonic() + _GATHER_SECONDS
                    for record, now in message[1]:
                        pending.extend(events(record, now))
                elif message[0] == FLUSH:
                    write_events(engine, pending)
                    pending = []
                    pipe.send(FLUSH)
            if pending and (len(pending) >= _BATCH or time.monotonic() >= deadline):
                write_events(engine, pending)
                pending = []
            checkpointer.run_if_due()
    finally:
        checkpointer.close()


def main() -> None:
    # The server's shutdown closes the socket; a signal to the whole process group
    # (Ctrl-C, SIGTERM) must not make this process drop what it holds first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pipe = Connection(int(sys.argv[1]))
    _serve(pipe.recv(), pipe)


if __name__ == "__main__":
    main()
