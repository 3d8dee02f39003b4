"""Another process that holds a SQLite database's write lock until told to let go."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_HOLDER = """
import sys
from pgo_service.db.engine import WriterLock
with WriterLock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def write_lock_held_elsewhere(path: str) -> Iterator[Callable[[], None]]:
    """Holds the lock on ``path`` from another process for the block; yields the
    function that makes it let go sooner."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    stdin = holder.stdin

    def let_go() -> None:
        if not stdin.closed:
            stdin.write("done\n")
            stdin.close()

    try:
        assert holder.stdout.readline().strip() == "held"
        yield let_go
    finally:
        let_go()
        holder.wait(timeout=30)
