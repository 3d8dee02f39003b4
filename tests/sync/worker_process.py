"""A worker process for the tests: ``python -m tests.sync.worker_process IDLE THREADS
[RUN_LOG]`` runs the product's workers with the test handlers until each thread has
been idle for IDLE seconds after its last job (at most 30 seconds before its first).
Settings come from the environment (``PGO_*``)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from pgo_service.config import get_settings
from pgo_service.db.engine import make_engine
from pgo_service.sync.worker import Worker, WorkerConfig

from .handlers import handlers


def main(argv: list[str]) -> int:
    idle_exit = float(argv[0])
    threads = int(argv[1])
    run_log = Path(argv[2]) if len(argv) > 2 else None
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    config = WorkerConfig.from_settings(settings)

    def work(worker: Worker) -> None:
        # Before the first job a worker waits longer: the others may still be starting.
        limit = max(idle_exit, 30.0)
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < limit:
            if worker.run_once():
                idle_since = time.monotonic()
                limit = idle_exit
            else:
                time.sleep(config.poll_seconds)
        worker.close()

    workers = [Worker(engine, handlers(run_log), config) for _ in range(threads)]
    running = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in running:
        thread.start()
    print("ready", flush=True)
    for thread in running:
        thread.join()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
